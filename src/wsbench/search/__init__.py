"""wsbench.search."""
