"""Seeded bootstrap confidence intervals (``scipy.stats.bootstrap``).

With several arrays the resampling is paired: one bootstrap sample draws the same indices from every array, so
``bootstrap_ci(spearman, proxy, truth, rng=...)`` resamples architectures, keeping each proxy score with its
ground truth. Any callable of the arrays that returns a float works (Spearman, Kendall tau, sparse Kendall tau,
a mean, ...).
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import stats

from ._checks import ArrayLike, StatsInputError, as_sample, check_probability

# scipy >= 1.15 names the generator argument ``rng``; older releases call it ``random_state``.
_RNG_KW = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"
_METHODS = ("percentile", "basic", "BCa")


@dataclass(frozen=True)
class BootstrapCI:
    """Bootstrap interval of ``statistic`` on the original data: ``[low, high]`` at confidence ``level``."""

    estimate: float
    low: float
    high: float
    level: float
    standard_error: float
    n_resamples: int
    method: str


def bootstrap_ci(
    statistic: Callable[..., float],
    *arrays: ArrayLike,
    rng: np.random.Generator | int,
    n_resamples: int = 2000,
    level: float = 0.95,
    method: str = "percentile",
) -> BootstrapCI:
    """Bootstrap confidence interval of ``statistic(*arrays)``, reproducible through ``rng``.

    ``arrays`` are 1-D of equal length and resampled jointly (paired). ``rng`` is a ``numpy.random.Generator``
    or an integer seed. ``method`` is ``percentile`` (default: robust for rank correlations, whose bootstrap
    distributions are discrete and bounded), ``basic`` or ``BCa``. A statistic that is NaN on some resamples
    (e.g. a correlation of a constant resample) makes the interval NaN; pass more varied data.
    """
    if not arrays:
        raise StatsInputError("bootstrap_ci needs at least one data array after the statistic")
    if not callable(statistic):
        raise StatsInputError(f"statistic must be a callable of the arrays, got {type(statistic).__name__}")
    data = tuple(as_sample(a, f"array {i}") for i, a in enumerate(arrays))
    if len({a.size for a in data}) != 1:
        raise StatsInputError(f"paired arrays must have equal length, got {[a.size for a in data]}")
    if method not in _METHODS:
        raise StatsInputError(f"method must be one of {_METHODS}, got {method!r}")
    if int(n_resamples) < 100:
        raise StatsInputError(f"n_resamples must be at least 100 for a usable interval, got {n_resamples}")
    level = check_probability(level, "level")
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(int(rng))

    def stat(*xs: np.ndarray) -> float:
        return float(statistic(*xs))

    with warnings.catch_warnings():
        # Degenerate resamples are reported through the NaN result instead of a warning.
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            data,
            stat,
            n_resamples=int(n_resamples),
            paired=len(data) > 1,
            vectorized=False,
            confidence_level=level,
            method=method,
            **{_RNG_KW: gen},
        )
    estimate = stat(*data)
    if not math.isfinite(estimate):
        raise StatsInputError("the statistic is not finite on the original data; check the inputs")
    return BootstrapCI(
        estimate=estimate,
        low=float(res.confidence_interval.low),
        high=float(res.confidence_interval.high),
        level=level,
        standard_error=float(res.standard_error),
        n_resamples=int(n_resamples),
        method=method,
    )
