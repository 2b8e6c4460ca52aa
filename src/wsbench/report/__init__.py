"""wsbench.report."""
