"""wsbench.data."""
