"""wsbench.sampling."""
