"""NAS-Bench-201 neighbours on a table, vectorised: every row's single-operation changes found at once from the
base-5 codes of the cells (``NB201Space.table_neighbours``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from wsbench.benchmarks.table import GroundTruth


def table_neighbour_lookup(space: Any, table: GroundTruth, mask: np.ndarray) -> Callable[[int], np.ndarray]:
    """``row -> sorted candidate neighbour rows`` for every row of ``table``, computed in one pass."""
    lists = nb201_neighbour_lists(space, table, mask)
    return lists.__getitem__


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
