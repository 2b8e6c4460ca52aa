"""Regret curves over many seeded search runs, and their mean with a 95% t-interval.

``run_many`` returns the long-format frame written as ``curves.csv``: one row per evaluation of every run, with
columns ``run, evaluations, time, regret``. ``summarise`` aggregates it on log-spaced grids of evaluations
and (where costs are known) of time.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from wsbench.search.algorithms import Trace, get_algorithm
from wsbench.search.problem import TabularProblem
from wsbench.stats.intervals import nan_mean_ci as mean_ci  # noqa: F401 - the search API names it mean_ci

CURVE_COLUMNS = ("run", "evaluations", "time", "regret")

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


def log_grid(lo: float, hi: float, points: int, integer: bool = False) -> np.ndarray:
    """Log-spaced grid from ``lo`` to ``hi`` (unique integers when ``integer``)."""
    grid = np.geomspace(lo, hi, points)
    return np.unique(np.round(grid).astype(np.int64)) if integer else grid


def _step_at(x: np.ndarray, y: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Value of the right-continuous step curve (x sorted, y) at ``grid`` (NaN before the first point)."""
    pos = np.searchsorted(x, grid, side="right") - 1
    return np.where(pos >= 0, y[np.maximum(pos, 0)], np.nan)


def summarise(curves: pd.DataFrame, points: int = 60, level: float = 0.95) -> pd.DataFrame:
    """Mean regret and ``level`` t-interval over runs on log grids.

    Returns a frame with columns ``axis`` (``"evaluations"`` or ``"time"``), ``x``, ``mean``, ``lo``, ``hi``,
    ``n`` (runs with a value at ``x``). A run that stopped early (space exhausted) keeps its last regret; at a
    time before a run's first evaluation it has no value.
    """
    missing = set(CURVE_COLUMNS) - set(curves.columns)
    if missing:
        raise ValueError(f"curves lack column(s) {sorted(missing)}; expected {list(CURVE_COLUMNS)}")
    if curves.empty:
        raise ValueError("no evaluations to summarise")
    groups = [g for _, g in curves.sort_values(["run", "evaluations"]).groupby("run", sort=True)]
    out = []
    evals_grid = log_grid(1, int(curves["evaluations"].max()), points, integer=True)
    mat = np.stack([_step_at(g["evaluations"].to_numpy(), g["regret"].to_numpy(), evals_grid) for g in groups])
    out.append(_frame("evaluations", evals_grid, mat, level))
    t = curves["time"].to_numpy(dtype=np.float64)
    pos = t[np.isfinite(t) & (t > 0)]
    if len(pos):
        time_grid = log_grid(float(pos.min()), float(pos.max()), points)
        mat = np.stack([_step_at(np.nan_to_num(g["time"].to_numpy(dtype=np.float64), nan=np.inf),
                                 g["regret"].to_numpy(), time_grid) for g in groups])
        out.append(_frame("time", time_grid, mat, level))
    return pd.concat(out, ignore_index=True)


def _frame(axis: str, grid: np.ndarray, mat: np.ndarray, level: float) -> pd.DataFrame:
    mean, lo, hi = mean_ci(mat, axis=0, level=level)
    return pd.DataFrame({"axis": axis, "x": grid.astype(np.float64), "mean": mean, "lo": lo, "hi": hi,
                         "n": np.isfinite(mat).sum(axis=0)})
