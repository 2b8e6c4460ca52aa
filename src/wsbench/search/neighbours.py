"""Neighbour lists of table rows for local search, cached per row.

A local search asks for the neighbours of the same rows again and again, so the lists are computed once per
row (from ``SearchSpace.neighbours`` -> ``SearchSpace.key`` -> ``GroundTruth.index``), restricted to the
candidate rows (the table's rows inside the searched (sub-)space) and cached as sorted ``int64`` arrays.
For NAS-Bench-201 the whole neighbour array (every row, every single-operation change) is built at once,
vectorised over the base-5 codes of the cells; for NAS-Bench-101 tables a neighbourhood is found with numpy
(``wsbench.search.nb101_fast``) instead of hashing every neighbour.
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
        self._fast: Callable[..., np.ndarray] | None = None
        name = getattr(space, "name", "")
        if name == "nb201" and hasattr(space, "to_int") and hasattr(space, "from_int"):
            self._fill_nb201()
        elif name == "nb101" and {"matrix", "ops", "n_vertices"} <= set(table.columns):
            from wsbench.search.nb101_fast import FastNB101Neighbours

            try:
                self._fast = FastNB101Neighbours(table, getattr(space, "max_vertices", 7),
                                                 getattr(space, "max_edges", 9))
            except ValueError:  # fingerprints not distinct on this table: hash every neighbour instead
                self._fast = None

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
            return self._fast(row, self.mask)
        archs = self.space.neighbours(self._decode(row))
        if not archs:
            return _EMPTY
        idx = self.table.index(self.space.keys(archs), missing="ignore")
        idx = idx[idx >= 0]
        idx = idx[self.mask[idx] & (idx != row)]
        return np.unique(idx)

    def _fill_nb201(self) -> None:
        """All NB201 neighbour lists at once: change one edge's operation (6 edges x 4 other operations)."""
        self._cache.update(zip(range(len(self.table)), nb201_neighbour_lists(self.space, self.table, self.mask),
                               strict=True))


def nb201_neighbour_array(space: Any, table: GroundTruth) -> np.ndarray:
    """``(rows, 24)`` array of neighbour rows (``-1`` where the neighbour is not in the table).

    The positional weight of each edge in ``space.to_int`` is measured rather than assumed, so the result
    does not depend on the digit order of the base-5 code.
    """
    n_ops = 5
    zero = space.from_int(0)
    n_edges = len(zero.ops)
    weights = np.array([space.to_int(type(zero)(tuple(1 if j == e else 0 for j in range(n_edges))))
                        for e in range(n_edges)], dtype=np.int64)
    total = n_ops ** n_edges
    codes = np.fromiter((space.to_int(space.parse(str(k))) for k in table.keys), dtype=np.int64,
                        count=len(table))
    code_to_row = np.full(total, -1, dtype=np.int64)
    code_to_row[codes] = np.arange(len(table), dtype=np.int64)
    digits = (codes[:, None] // weights[None, :]) % n_ops  # (rows, edges)
    shifts = np.arange(1, n_ops, dtype=np.int64)  # the 4 other operations as (d + s) mod 5
    new_digits = (digits[:, :, None] + shifts[None, None, :]) % n_ops  # (rows, edges, 4)
    new_codes = codes[:, None, None] + (new_digits - digits[:, :, None]) * weights[None, :, None]
    return code_to_row[new_codes.reshape(len(table), -1)]


def nb201_neighbour_lists(space: Any, table: GroundTruth, mask: np.ndarray) -> list[np.ndarray]:
    """Per row, the sorted candidate neighbour rows from ``nb201_neighbour_array``."""
    arr = nb201_neighbour_array(space, table)
    valid = arr >= 0
    valid[valid] = mask[arr[valid]]
    arr = np.sort(np.where(valid, arr, np.iinfo(np.int64).max), axis=1)
    counts = valid.sum(axis=1)
    return [arr[i, : counts[i]].copy() for i in range(len(arr))]
