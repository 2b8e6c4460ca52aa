"""wsbench.spaces."""
