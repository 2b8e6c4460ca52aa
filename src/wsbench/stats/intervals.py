"""Student-t confidence intervals of a mean (e.g. the shaded bands around averaged regret curves)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._checks import ArrayLike, StatsInputError, as_sample, check_probability


@dataclass(frozen=True)
class Interval:
    """A point estimate with its confidence interval ``[low, high]`` at confidence ``level``."""

    estimate: float
    low: float
    high: float
    level: float

    @property
    def half_width(self) -> float:
        """Half the interval width (``estimate +/- half_width`` for symmetric intervals)."""
        return (self.high - self.low) / 2.0


def mean_ci(x: ArrayLike, level: float = 0.95) -> Interval:
    """Mean of ``x`` with its t-interval ``mean +/- t_{(1+level)/2, n-1} * s / sqrt(n)`` (s with ddof=1)."""
    arr = as_sample(x, "x")
    level = check_probability(level, "level")
    mean = float(arr.mean())
    sem = float(arr.std(ddof=1)) / np.sqrt(arr.size)
    half = float(stats.t.ppf((1.0 + level) / 2.0, arr.size - 1)) * sem
    return Interval(estimate=mean, low=mean - half, high=mean + half, level=level)


def mean_ci_along(x: ArrayLike, axis: int = 0, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Element-wise ``(mean, low, high)`` t-intervals over ``axis`` of a 2-D array (runs x time steps).

    With ``axis=0`` each column (e.g. the regret of every run at one time step) gets its own interval.
    Non-finite values are not allowed; align runs on a common time grid first.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise StatsInputError(f"mean_ci_along expects a 2-D array (runs x steps), got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise StatsInputError("x contains NaN or infinite values; align the runs on a common grid first")
    n = arr.shape[axis]
    if n < 2:
        raise StatsInputError(f"need at least 2 runs along axis {axis}, got {n}")
    level = check_probability(level, "level")
    mean = arr.mean(axis=axis)
    half = stats.t.ppf((1.0 + level) / 2.0, n - 1) * arr.std(axis=axis, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def nan_mean_ci(values: ArrayLike, axis: int = 0, level: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and ``level`` t-interval of the mean along ``axis``, ignoring NaNs (NaN interval for n < 2): the
    NaN-tolerant twin of ``mean_ci_along`` for regret curves whose runs end at different budgets."""
    values = np.asarray(values, dtype=np.float64)
    n = np.sum(np.isfinite(values), axis=axis)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(values, axis=axis) if values.size else np.full(np.shape(n), np.nan)
        sd = np.nanstd(values, axis=axis, ddof=1) if values.size else np.full(np.shape(n), np.nan)
        half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    half = np.where(n >= 2, half, np.nan)
    return mean, mean - half, mean + half
