"""wsbench.evaluate."""
