"""wsbench.benchmarks.importers."""
