"""wsbench.supernet."""
