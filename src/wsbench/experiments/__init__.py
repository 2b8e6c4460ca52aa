"""wsbench.experiments."""
