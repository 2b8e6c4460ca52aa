"""Power analysis for the independent two-sample t-test (``statsmodels.stats.power.TTestIndPower``).

Sizes follow statsmodels: ``n`` is the number of runs of the first group and the second group has
``ratio * n`` runs. For example 25 weight-sharing runs compared with 100 baseline runs is ``n=25, ratio=4``.

*To Share or Not To Share* (section 4.3) asks for power 0.8 at significance level 0.05 for "any effect of at
least medium size" and settles on "around 25 runs" of the weight-sharing search (against 100 baseline runs).
With the textbook medium effect ``d = 0.5`` a two-sided test needs 64 runs per group, or 47 runs against 100
baseline runs (34 one-sided: :func:`runs_needed_against`). "Around 25" matches a large effect instead:
``runs_needed(0.8) == 26`` per group. Conversely, 25 runs against 100 reach power 0.8 only from ``d ~ 0.63`` on
(:func:`min_detectable_effect`) and have power ~0.60 at ``d = 0.5`` (:func:`power_of`). The tests pin these numbers.
"""

from __future__ import annotations

import math
import warnings

from statsmodels.stats.power import TTestIndPower

from ._checks import StatsInputError, check_probability, to_statsmodels_alternative


def _check_effect(effect_size: float, alternative: str) -> float:
    d = float(effect_size)
    if not math.isfinite(d) or d == 0.0:
        raise StatsInputError(f"effect_size must be a finite, non-zero Cohen's d, got {effect_size}")
    if alternative == "larger" and d < 0 or alternative == "smaller" and d > 0:
        raise StatsInputError(
            f"effect_size {d} points away from the one-sided alternative; flip its sign or use 'two-sided'"
        )
    return abs(d) if alternative == "two-sided" else d


def _check_ratio(ratio: float) -> float:
    r = float(ratio)
    if not (math.isfinite(r) and r > 0):
        raise StatsInputError(f"ratio (second group size / first group size) must be > 0, got {ratio}")
    return r


def runs_needed(
    effect_size: float,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> int:
    """Smallest number of runs of the first group that detects ``effect_size`` (Cohen's d) with ``power``.

    The second group has ``ratio`` times as many runs. Solves ``TTestIndPower.solve_power`` for ``nobs1`` and
    rounds up. ``alternative``: ``two-sided``, ``greater``/``larger`` or ``less``/``smaller``.
    """
    alt = to_statsmodels_alternative(alternative)
    d = _check_effect(effect_size, alt)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        n = TTestIndPower().solve_power(
            effect_size=d,
            nobs1=None,
            alpha=check_probability(alpha, "alpha"),
            power=check_probability(power, "power"),
            ratio=_check_ratio(ratio),
            alternative=alt,
        )
    n = float(n)
    if not math.isfinite(n):
        raise StatsInputError(f"the power equation has no solution for d={effect_size}, alpha={alpha}, power={power}")
    # Guard against a solver result like 26.0000000001 being pushed to 27.
    return max(2, math.ceil(round(n, 6)))


def power_of(
    effect_size: float,
    n: int,
    alpha: float = 0.05,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Power of the two-sample t-test with ``n`` and ``ratio * n`` runs to detect ``effect_size`` (Cohen's d)."""
    alt = to_statsmodels_alternative(alternative)
    d = _check_effect(effect_size, alt)
    if int(n) < 2:
        raise StatsInputError(f"n must be at least 2 runs, got {n}")
    return float(
        TTestIndPower().power(
            effect_size=d, nobs1=int(n), alpha=check_probability(alpha, "alpha"), ratio=_check_ratio(ratio),
            alternative=alt,
        )
    )


def min_detectable_effect(
    n: int,
    alpha: float = 0.05,
    power: float = 0.8,
    ratio: float = 1.0,
    alternative: str = "two-sided",
) -> float:
    """Smallest Cohen's d that ``n`` vs ``ratio * n`` runs detect with ``power``.

    Positive for ``two-sided`` and ``greater``; negative for ``less``.
    """
    alt = to_statsmodels_alternative(alternative)
    if int(n) < 2:
        raise StatsInputError(f"n must be at least 2 runs, got {n}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        d = TTestIndPower().solve_power(
            effect_size=None,
            nobs1=int(n),
            alpha=check_probability(alpha, "alpha"),
            power=check_probability(power, "power"),
            ratio=_check_ratio(ratio),
            alternative=alt,
        )
    return float(d)


def runs_needed_against(
    effect_size: float,
    other_runs: int,
    alpha: float = 0.05,
    power: float = 0.8,
    alternative: str = "two-sided",
) -> int:
    """Runs of a new group needed against a fixed group of ``other_runs`` runs (e.g. 100 baseline searches).

    Solves ``TTestIndPower`` for the size ratio with ``nobs1 = other_runs`` and rounds the new group's size up.
    Raises :class:`StatsInputError` when even an unlimited number of new runs cannot reach ``power``.
    """
    alt = to_statsmodels_alternative(alternative)
    d = _check_effect(effect_size, alt)
    m = int(other_runs)
    if m < 2:
        raise StatsInputError(f"other_runs must be at least 2, got {other_runs}")
    alpha = check_probability(alpha, "alpha")
    power = check_probability(power, "power")
    analysis = TTestIndPower()
    # With infinitely many new runs the power tends to that of a one-sample test on the fixed group: check it.
    if analysis.power(effect_size=d, nobs1=m, alpha=alpha, ratio=1e9, alternative=alt) < power:
        raise StatsInputError(
            f"{m} runs in the fixed group cannot reach power {power} for d={effect_size} with any number of new "
            "runs; add runs to the fixed group"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ratio = analysis.solve_power(
            effect_size=d, nobs1=m, alpha=alpha, power=power, ratio=None, alternative=alt
        )
    return max(2, math.ceil(round(float(ratio) * m, 6)))
