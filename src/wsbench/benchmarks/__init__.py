"""Ground-truth tables of tabular NAS benchmarks (no torch here)."""

from wsbench.benchmarks.table import GroundTruth, TableError

__all__ = ["GroundTruth", "TableError"]
