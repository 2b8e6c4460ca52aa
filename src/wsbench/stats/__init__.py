"""wsbench.stats."""
