"""wsbench.train."""
