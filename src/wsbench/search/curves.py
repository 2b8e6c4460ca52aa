"""Regret curves over many seeded search runs, and their mean with a 95% t-interval.

``run_many`` returns the long-format frame written as ``curves.csv``: one row per evaluation of every run, with
columns ``run, evaluations, time, regret``. ``summarise`` (``wsbench.stats.curves``) aggregates it on log-spaced
grids of evaluations and (where costs are known) of time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from wsbench.search.algorithms import Trace, get_algorithm
from wsbench.search.problem import TabularProblem
from wsbench.stats.curves import CURVE_COLUMNS, log_grid, summarise  # noqa: F401 - part of the search API
from wsbench.stats.intervals import nan_mean_ci as mean_ci  # noqa: F401 - the search API names it mean_ci

Algorithm = Callable[[TabularProblem, int, np.random.Generator], Trace]


def run_generators(seed: int, runs: int) -> list[np.random.Generator]:
    """Independent generators for ``runs`` runs derived from one seed (run ``i`` does not depend on ``runs``)."""
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(runs)]


def run_many(problem: TabularProblem, algo: str | Algorithm, runs: int, budget: int, seed: int = 0) -> pd.DataFrame:
    """``runs`` independent searches of ``budget`` evaluations; long frame ``run, evaluations, time, regret``."""
    if runs < 1:
        raise ValueError(f"runs must be at least 1, got {runs}")
    fn = get_algorithm(algo) if isinstance(algo, str) else algo
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
    for i, rng in enumerate(run_generators(seed, runs)):
        tr = fn(problem, budget, rng)
        n = len(tr)
        parts.append((np.full(n, i, dtype=np.int64), np.arange(1, n + 1, dtype=np.int64), tr.time,
                      tr.regret(problem)))
    cols = [np.concatenate([p[j] for p in parts]) for j in range(4)]
    return pd.DataFrame(dict(zip(CURVE_COLUMNS, cols, strict=True)))


def final_regrets(curves: pd.DataFrame) -> np.ndarray:
    """The last regret of every run (run order)."""
    return curves.groupby("run", sort=True)["regret"].last().to_numpy()
