"""wsbench: build, train and judge weight-sharing NAS super-nets fairly on real tabular benchmarks."""

__version__ = "0.1.0"
