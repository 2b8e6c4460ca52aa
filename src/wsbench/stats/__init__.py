"""Statistics for comparing NAS runs: t-tests, effect sizes, power analysis, confidence intervals, regret tables.

Follows the statistical protocol of *To Share or Not To Share* (sections 4.3 and 5.2): independent two-sample
t-tests, Cohen's d with the pooled standard deviation, the probability of superiority ``Phi(d / sqrt(2))``, power
analysis with statsmodels, and per-method regret differences against a baseline (Tables 4-5).
"""

from ._checks import StatsInputError
from .bootstrap import BootstrapCI, bootstrap_ci
from .compare import compare_regrets, format_cell, format_cells, significance_marker, to_markdown
from .effect import (
    cohens_d,
    d_from_probability_of_superiority,
    empirical_superiority,
    interpret_d,
    pooled_std,
    probability_of_superiority,
)
from .hypothesis import TTestResult, t_test, t_test_from_stats, welch_df
from .intervals import Interval, mean_ci, mean_ci_along
from .power import min_detectable_effect, power_of, runs_needed, runs_needed_against

__all__ = [
    "BootstrapCI",
    "Interval",
    "StatsInputError",
    "TTestResult",
    "bootstrap_ci",
    "cohens_d",
    "compare_regrets",
    "d_from_probability_of_superiority",
    "empirical_superiority",
    "format_cell",
    "format_cells",
    "interpret_d",
    "mean_ci",
    "mean_ci_along",
    "min_detectable_effect",
    "pooled_std",
    "power_of",
    "probability_of_superiority",
    "runs_needed",
    "runs_needed_against",
    "significance_marker",
    "t_test",
    "t_test_from_stats",
    "to_markdown",
    "welch_df",
]
