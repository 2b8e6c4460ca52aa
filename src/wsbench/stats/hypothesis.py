"""Independent two-sample t-tests (Welch by default, Student on request) on top of ``scipy.stats``.

*To Share or Not To Share* (section 4.3) compares 100 baseline runs with 25 weight-sharing runs using Student's
t-test (``equal_var=True``); Welch's test (the default here) drops the equal-variance assumption and is the safer
choice when the groups have different sizes and spreads, as regrets of different search methods usually do.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from scipy import stats

from ._checks import ArrayLike, StatsInputError, as_sample, check_alternative


@dataclass(frozen=True)
class TTestResult:
    """Outcome of a two-sample t-test of ``a`` against ``b``.

    ``diff = mean_a - mean_b``; ``ci95`` is the 95 % confidence interval of that difference (for a one-sided
    alternative it is the matching one-sided interval, with an infinite end). ``df`` is ``n_a + n_b - 2`` for
    Student's test and the Welch-Satterthwaite degrees of freedom for Welch's test.
    """

    statistic: float
    pvalue: float
    df: float
    mean_a: float
    mean_b: float
    diff: float
    ci95: tuple[float, float]
    n_a: int
    n_b: int
    equal_var: bool
    alternative: str

    @property
    def significant(self) -> bool:
        """True when ``pvalue < 0.05``."""
        return bool(self.pvalue < 0.05)


def welch_df(var_a: float, n_a: int, var_b: float, n_b: int) -> float:
    """Welch-Satterthwaite degrees of freedom from the sample variances (ddof=1) and sizes.

    ``(v_a/n_a + v_b/n_b)^2 / ((v_a/n_a)^2/(n_a-1) + (v_b/n_b)^2/(n_b-1))``; NaN when both variances are zero.
    """
    if n_a < 2 or n_b < 2:
        raise StatsInputError(f"Welch's degrees of freedom need at least 2 values per group, got {n_a} and {n_b}")
    qa, qb = var_a / n_a, var_b / n_b
    den = qa * qa / (n_a - 1) + qb * qb / (n_b - 1)
    return float("nan") if den == 0.0 else (qa + qb) ** 2 / den


def t_test(a: ArrayLike, b: ArrayLike, equal_var: bool = False, alternative: str = "two-sided") -> TTestResult:
    """Independent two-sample t-test of ``mean(a)`` against ``mean(b)`` (``scipy.stats.ttest_ind``).

    ``equal_var=False`` (default) is Welch's test, ``True`` Student's pooled-variance test. ``alternative`` is
    ``two-sided``, ``greater`` (mean of ``a`` larger) or ``less`` (statsmodels' ``larger``/``smaller`` also work).
    Each group needs at least 2 finite values. When both groups are constant the statistic is NaN (equal means)
    or +/-inf (different means), as in scipy.
    """
    x = as_sample(a, "a")
    y = as_sample(b, "b")
    alt = check_alternative(alternative)
    with warnings.catch_warnings():
        # scipy warns about precision loss for constant samples; the NaN/inf result already says it.
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(x, y, equal_var=equal_var, alternative=alt)
        ci = res.confidence_interval(0.95)
    mean_a, mean_b = float(x.mean()), float(y.mean())
    return TTestResult(
        statistic=float(res.statistic),
        pvalue=float(res.pvalue),
        df=float(res.df),
        mean_a=mean_a,
        mean_b=mean_b,
        diff=mean_a - mean_b,
        ci95=(float(ci.low), float(ci.high)),
        n_a=int(x.size),
        n_b=int(y.size),
        equal_var=bool(equal_var),
        alternative=alt,
    )


def t_test_from_stats(
    mean_a: float,
    std_a: float,
    n_a: int,
    mean_b: float,
    std_b: float,
    n_b: int,
    equal_var: bool = False,
    alternative: str = "two-sided",
) -> tuple[float, float]:
    """``(statistic, pvalue)`` of the t-test computed from summary statistics (sample std with ddof=1).

    Useful to re-check published tables that report only means, standard deviations and run counts.
    """
    if n_a < 2 or n_b < 2:
        raise StatsInputError(f"a t-test needs at least 2 runs per group, got {n_a} and {n_b}")
    if not (std_a >= 0 and std_b >= 0) or not all(math.isfinite(v) for v in (mean_a, mean_b, std_a, std_b)):
        raise StatsInputError("means must be finite and standard deviations finite and >= 0")
    res = stats.ttest_ind_from_stats(
        mean_a, std_a, n_a, mean_b, std_b, n_b, equal_var=equal_var, alternative=check_alternative(alternative)
    )
    return float(res.statistic), float(res.pvalue)
