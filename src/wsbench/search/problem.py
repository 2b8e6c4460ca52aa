"""Search problems over the rows of a ground-truth table, and the scorer abstraction.

A search algorithm works on integer table rows. It needs the candidate rows (the table's rows inside the
searched (sub-)space), the neighbours of a row, a ``Scorer`` that returns validation scores (and their cost in
seconds) for a batch of rows, and the mean test accuracy of every row (to compute the regret).

In the baseline setting of "To Share or Not To Share" the scorer is the table itself (``TableScorer``): a query
answers one randomly drawn training repeat, as the NAS-Bench-101 API does, and costs that repeat's training
time. A super-net scorer implements the same ``Scorer`` protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from wsbench.benchmarks.subspace import SubspaceError, canonical_subspace, subspace_mask
from wsbench.benchmarks.table import GroundTruth
from wsbench.search.neighbours import NeighbourIndex
from wsbench.spaces.base import SearchSpace


#: NB101 sub-spaces of the paper (Sec. 4.1) and accepted spellings.
class SearchError(SubspaceError):
    """A search was asked for something the problem cannot provide (bad metric, sub-space, budget...)."""


@runtime_checkable
class Scorer(Protocol):
    """Scores table rows for a search: validation score (higher is better) and cost in seconds (NaN: unknown)."""

    def score(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Validation scores and per-query costs of ``rows`` (``int64``), both ``float64`` of the same shape."""
        ...


class TableScorer:
    """The benchmark as scorer: one randomly drawn repeat per query (or the repeat mean), costing its train time.

    Values are copied once into contiguous ``float64`` arrays so that a query is a single fancy-index; a noisy
    query is the same draw as ``GroundTruth.sample_repeat`` (uniform repeat per row).
    """

    def __init__(self, table: GroundTruth, valid_metric: str, time_metric: str | None = None, noisy: bool = True):
        for m in (valid_metric, time_metric):
            if m is not None and not table.has(m):
                raise SearchError(f"table {table.name!r} has no metric {m!r}; choose one of {table.metrics()}")
        self.valid_rep = np.ascontiguousarray(table.repeats(valid_metric), dtype=np.float64)
        self.valid_mean = np.ascontiguousarray(table.values(valid_metric), dtype=np.float64)
        self.noisy = noisy and self.valid_rep.shape[1] > 1
        if time_metric is None:
            self.time_rep = np.full((len(table), 1), np.nan)
        else:
            self.time_rep = np.ascontiguousarray(table.repeats(time_metric), dtype=np.float64)
        self.time_mean = np.nanmean(self.time_rep, axis=1) if time_metric else self.time_rep[:, 0]
        self._paired = self.time_rep.shape[1] == self.valid_rep.shape[1]

    def score(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Validation score and training time of each queried row."""
        rows = np.asarray(rows, dtype=np.int64)
        if not self.noisy:
            return self.valid_mean[rows], self.time_mean[rows]
        rep = rng.integers(0, self.valid_rep.shape[1], size=rows.shape)
        cost = self.time_rep[rows, rep] if self._paired else self.time_mean[rows]
        return self.valid_rep[rows, rep], cost


@dataclass(frozen=True)
class Coverage:
    """How much of the (sub-)space the table knows; a search is restricted to the known cells."""

    candidates: int
    space_size: int | None

    @property
    def fraction(self) -> float | None:
        return None if not self.space_size else self.candidates / self.space_size

    def note(self) -> str | None:
        """A sentence for the summary when the table is a sample of the space, else ``None``."""
        if self.space_size is None or self.candidates >= self.space_size:
            return None
        return (f"the table knows {self.candidates:,} of the {self.space_size:,} cells of this space "
                f"({100 * self.candidates / self.space_size:.1f}%): the search is restricted to the known cells")


class TabularProblem:
    """A search over the rows of ``table`` inside ``(sub)space``, scored by the table (or a given scorer).

    ``test`` is the mean over repeats of ``test_metric``; the regret's reference is its maximum over the
    candidate rows.
    """

    def __init__(self, space: SearchSpace[Any], table: GroundTruth, valid_metric: str, test_metric: str,
                 time_metric: str | None = None, subspace: str | None = None, noisy_valid: bool = True,
                 scorer: Scorer | None = None, space_size: int | None = None):
        if not table.has(test_metric):
            raise SearchError(f"table {table.name!r} has no metric {test_metric!r}; choose one of {table.metrics()}")
        self.space = space
        self.table = table
        self.valid_metric, self.test_metric, self.time_metric = valid_metric, test_metric, time_metric
        self.subspace = canonical_subspace(space.name, subspace)
        self.scorer: Scorer = scorer or TableScorer(table, valid_metric, time_metric, noisy_valid)
        self.test = np.ascontiguousarray(table.values(test_metric), dtype=np.float64)
        mask = subspace_mask(table, space.name, subspace) & np.isfinite(self.test)
        if isinstance(self.scorer, TableScorer):
            mask &= np.isfinite(self.scorer.valid_mean)
        self.mask = mask
        self.candidates = np.flatnonzero(mask).astype(np.int64)
        if len(self.candidates) == 0:
            raise SearchError(f"no architecture of table {table.name!r} lies in sub-space {subspace!r}")
        self.best_test = float(self.test[self.candidates].max())
        self.coverage = Coverage(len(self.candidates), space_size)
        self._neighbours: NeighbourIndex | None = None

    @property
    def n_rows(self) -> int:
        return len(self.table)

    @property
    def time_known(self) -> bool:
        return self.time_metric is not None

    def neighbours(self, row: int) -> np.ndarray:
        """Candidate rows adjacent to ``row`` in the space (cached; built lazily on first use)."""
        if self._neighbours is None:
            self._neighbours = NeighbourIndex(self.space, self.table, self.mask)
        return self._neighbours(row)

    def arch(self, row: int) -> Any:
        """The architecture of a table row (for scorers that need it)."""
        if self._neighbours is None:
            self._neighbours = NeighbourIndex(self.space, self.table, self.mask)
        return self._neighbours._decode(int(row))

    def describe(self) -> dict[str, Any]:
        """Plain description for summaries."""
        return {"space": self.space.name, "subspace": self.subspace, "table": self.table.name,
                "valid_metric": self.valid_metric, "test_metric": self.test_metric,
                "time_metric": self.time_metric, "candidates": int(len(self.candidates)),
                "space_size": self.coverage.space_size, "best_test": self.best_test}

