"""Step curves of many runs (regret against evaluations or time): their mean with a t-interval on log grids.

A curve is the long-format frame of ``CURVE_COLUMNS`` (one row per evaluation of every run); ``summarise`` gives
the mean and interval at each point of a log-spaced grid, a run keeping its last value after it stopped.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from wsbench.stats.intervals import nan_mean_ci as mean_ci

CURVE_COLUMNS = ("run", "evaluations", "time", "regret")


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
