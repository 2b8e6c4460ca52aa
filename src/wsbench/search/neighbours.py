"""Neighbour lists of table rows for local search, cached per row.

A local search asks for the neighbours of the same rows again and again, so the lists are computed once per
row (from ``SearchSpace.neighbours`` -> ``SearchSpace.key`` -> ``GroundTruth.index``), restricted to the
candidate rows (the table's rows inside the searched (sub-)space) and cached as sorted ``int64`` arrays.
A space may answer faster on a table of its own (``SearchSpace.table_neighbours``): NAS-Bench-201 builds the
whole neighbour array at once, vectorised over the base-5 codes of its cells (``spaces/nb201/neighbours.py``),
NAS-Bench-101 finds a neighbourhood with numpy instead of hashing every neighbour (``spaces/nb101/neighbours.py``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from wsbench.benchmarks.table import GroundTruth
from wsbench.spaces.base import SearchSpace

_EMPTY = np.empty(0, dtype=np.int64)


def row_decoder(space: SearchSpace[Any], table: GroundTruth) -> Callable[[int], Any]:
    """A function mapping a table row to its architecture in ``space``.

    NB101 tables carry the pruned cell (``matrix``/``ops``), DARTS samples their encoding (``arch``); any
    other table is decoded by parsing its key.
    """
    cols = set(table.columns)
    from_matrix = getattr(space, "from_matrix", None) or getattr(sys.modules[type(space).__module__],
                                                                 "from_matrix", None)
    if {"matrix", "ops"} <= cols and from_matrix is not None:
        matrix, ops = table.column("matrix"), table.column("ops")
        return lambda row: from_matrix(str(matrix[row]), str(ops[row]))
    if "arch" in cols and hasattr(space, "parse_encoding"):
        enc = table.column("arch")
        return lambda row: space.parse_encoding(str(enc[row]))  # type: ignore[attr-defined]
    keys = table.keys
    return lambda row: space.parse(str(keys[row]))


class NeighbourIndex:
    """Cached neighbour lists (candidate rows only, without the row itself) of the rows of a table."""

    def __init__(self, space: SearchSpace[Any], table: GroundTruth, candidates: np.ndarray,
                 decode: Callable[[int], Any] | None = None):
        self.space = space
        self.table = table
        self.mask = np.asarray(candidates, dtype=bool)
        if self.mask.shape != (len(table),):
            raise ValueError(f"candidate mask has shape {self.mask.shape}, expected ({len(table)},)")
        self._decode = decode or row_decoder(space, table)
        self._cache: dict[int, np.ndarray] = {}
        #: the space's own vectorised lookup on this table (``SearchSpace.table_neighbours``), when it has one
        self._fast: Callable[[int], np.ndarray] | None = space.table_neighbours(table, self.mask)

    def __call__(self, row: int) -> np.ndarray:
        """Sorted candidate rows adjacent to ``row`` (computed on first use, then cached)."""
        got = self._cache.get(row)
        if got is None:
            got = self._compute(row)
            self._cache[row] = got
        return got

    def __len__(self) -> int:
        """Number of rows whose neighbour list is cached."""
        return len(self._cache)

    def _compute(self, row: int) -> np.ndarray:
        if self._fast is not None:
            return self._fast(row)
        archs = self.space.neighbours(self._decode(row))
        if not archs:
            return _EMPTY
        idx = self.table.index(self.space.keys(archs), missing="ignore")
        idx = idx[idx >= 0]
        idx = idx[self.mask[idx] & (idx != row)]
        return np.unique(idx)
