"""Tests of wsbench.stats against hand arithmetic, scipy/statsmodels, textbook values and the paper's tables."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from wsbench.stats import (
    StatsInputError,
    bootstrap_ci,
    cohens_d,
    compare_regrets,
    d_from_probability_of_superiority,
    empirical_superiority,
    format_cell,
    format_cells,
    interpret_d,
    mean_ci,
    mean_ci_along,
    min_detectable_effect,
    pooled_std,
    power_of,
    probability_of_superiority,
    runs_needed,
    runs_needed_against,
    significance_marker,
    t_test,
    t_test_from_stats,
    to_markdown,
    welch_df,
)

# ---------------------------------------------------------------- t-tests by hand


def test_student_and_welch_by_hand_3_vs_3() -> None:
    a, b = [1.0, 2.0, 3.0], [4.0, 6.0, 8.0]
    # means 2 and 6; sample variances 1 and 4 (ddof=1)
    var_a = ((1 - 2) ** 2 + 0 + (3 - 2) ** 2) / 2
    var_b = ((4 - 6) ** 2 + 0 + (8 - 6) ** 2) / 2
    assert (var_a, var_b) == (1.0, 4.0)
    pooled_var = (2 * var_a + 2 * var_b) / 4  # 2.5
    se_student = math.sqrt(pooled_var * (1 / 3 + 1 / 3))
    t_student = (2 - 6) / se_student

    res = t_test(a, b, equal_var=True)
    assert res.mean_a == 2.0 and res.mean_b == 6.0 and res.diff == -4.0
    assert res.statistic == pytest.approx(t_student, rel=1e-12)
    assert res.df == 4.0
    assert res.pvalue == pytest.approx(2 * stats.t.sf(abs(t_student), 4), rel=1e-10)
    half = stats.t.ppf(0.975, 4) * se_student
    assert res.ci95 == pytest.approx((-4 - half, -4 + half), rel=1e-10)
    assert pooled_std(a, b) == pytest.approx(math.sqrt(2.5), rel=1e-12)
    assert cohens_d(a, b) == pytest.approx(-4 / math.sqrt(2.5), rel=1e-12)

    # Welch: with equal sizes the statistic is the same, the degrees of freedom are not.
    se_welch = math.sqrt(var_a / 3 + var_b / 3)
    df_welch = (var_a / 3 + var_b / 3) ** 2 / ((var_a / 3) ** 2 / 2 + (var_b / 3) ** 2 / 2)
    assert df_welch == pytest.approx(50 / 17, rel=1e-12)
    w = t_test(a, b)  # Welch is the default
    assert not w.equal_var
    assert w.statistic == pytest.approx(-4 / se_welch, rel=1e-12)
    assert w.df == pytest.approx(50 / 17, rel=1e-10)
    assert w.pvalue == pytest.approx(2 * stats.t.sf(4 / se_welch, 50 / 17), rel=1e-10)
    assert w.pvalue > res.pvalue  # fewer degrees of freedom -> heavier tails
    assert welch_df(var_a, 3, var_b, 3) == pytest.approx(50 / 17, rel=1e-12)


def test_pooled_std_unequal_sizes_by_hand() -> None:
    a, b = [1.0, 2.0, 3.0, 4.0], [2.0, 4.0]
    # s_a^2 = 5/3 (n=4), s_b^2 = 2 (n=2): ((3 * 5/3) + (1 * 2)) / (4 + 2 - 2) = 7/4
    assert pooled_std(a, b) == pytest.approx(math.sqrt(7 / 4), rel=1e-12)
    assert cohens_d(a, b) == pytest.approx((2.5 - 3.0) / math.sqrt(7 / 4), rel=1e-12)


@pytest.mark.parametrize("equal_var", [False, True])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_t_test_matches_scipy(equal_var: bool, alternative: str) -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.3, 1.0, 40), rng.normal(0.0, 2.0, 17)
    ref = stats.ttest_ind(a, b, equal_var=equal_var, alternative=alternative)
    res = t_test(a, b, equal_var=equal_var, alternative=alternative)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    expected_df = 55.0 if equal_var else welch_df(a.var(ddof=1), 40, b.var(ddof=1), 17)
    assert res.df == pytest.approx(expected_df, rel=1e-10)
    assert (res.n_a, res.n_b) == (40, 17)
    if alternative == "two-sided":
        assert res.ci95[0] < res.diff < res.ci95[1]
    s, p = t_test_from_stats(a.mean(), a.std(ddof=1), 40, b.mean(), b.std(ddof=1), 17, equal_var, alternative)
    assert (s, p) == (pytest.approx(ref.statistic, rel=1e-10), pytest.approx(ref.pvalue, rel=1e-10))


def test_statsmodels_alternative_spelling_is_accepted() -> None:
    a, b = [1.0, 2.0, 3.5], [0.0, 0.5, 1.0]
    assert t_test(a, b, alternative="larger").pvalue == t_test(a, b, alternative="greater").pvalue
    assert t_test(a, b, alternative="larger").pvalue < 0.5 < t_test(a, b, alternative="smaller").pvalue


def test_bad_input_raises_clear_value_errors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        t_test([1.0], [1.0, 2.0])
    with pytest.raises(StatsInputError, match="NaN"):
        t_test([1.0, float("nan")], [1.0, 2.0])
    with pytest.raises(StatsInputError, match="alternative"):
        t_test([1.0, 2.0], [1.0, 2.0], alternative="bigger")
    with pytest.raises(StatsInputError, match="one-dimensional"):
        cohens_d(np.ones((2, 2)), [1.0, 2.0])
    with pytest.raises(StatsInputError, match="effect_size"):
        runs_needed(0.0)
    with pytest.raises(StatsInputError, match="power"):
        runs_needed(0.5, power=1.0)


# ---------------------------------------------------------------- effect sizes


def test_cohens_d_of_constant_groups() -> None:
    assert math.isnan(cohens_d([1.0, 1.0], [1.0, 1.0]))
    assert cohens_d([2.0, 2.0], [1.0, 1.0]) == math.inf
    assert probability_of_superiority(math.inf) == 1.0
    assert math.isnan(probability_of_superiority(float("nan")))


def test_probability_of_superiority_formula() -> None:
    assert probability_of_superiority(0.0) == 0.5
    # d = sqrt(2) gives Phi(1) = 0.841344746... (standard normal table)
    assert probability_of_superiority(math.sqrt(2.0)) == pytest.approx(0.8413447460685429, rel=1e-12)
    assert probability_of_superiority(-0.7) == pytest.approx(1 - probability_of_superiority(0.7), rel=1e-12)
    for d in (-1.3, -0.2, 0.5, 2.0):
        assert d_from_probability_of_superiority(probability_of_superiority(d)) == pytest.approx(d, rel=1e-9)


def test_probability_of_superiority_matches_paper_section_5_2() -> None:
    # "with an effect size d = +0.44 ... the probability ... is only around 61%"; "d = +1.09, ... 78%".
    assert probability_of_superiority(0.44) == pytest.approx(0.61, abs=0.015)
    assert probability_of_superiority(1.09) == pytest.approx(0.78, abs=0.005)
    # The paper's "as low as 7%" for A4 (d = -0.85) does not follow from the same formula: it gives ~27%.
    assert probability_of_superiority(-0.85) == pytest.approx(0.27, abs=0.005)


def test_probability_of_superiority_agrees_with_simulation() -> None:
    rng = np.random.default_rng(11)
    d = 0.8
    a, b = rng.normal(d, 1.0, 4000), rng.normal(0.0, 1.0, 4000)
    assert empirical_superiority(a, b) == pytest.approx(probability_of_superiority(d), abs=0.015)


def test_empirical_superiority_counts_pairs_by_hand() -> None:
    # pairs (a_i > b_j): 1>0; 2>0, 2>1; 3>0, 3>1; tie (1, 1) counts 1/2 -> (1 + 2 + 2 + 0.5) / 9
    assert empirical_superiority([1.0, 2.0, 3.0], [0.0, 1.0, 5.0]) == pytest.approx(5.5 / 9, rel=1e-12)


@pytest.mark.parametrize(
    ("d", "label"),
    [(0.0, "negligible"), (-0.19, "negligible"), (0.2, "small"), (0.49, "small"), (-0.5, "medium"),
     (0.79, "medium"), (0.8, "large"), (-2.0, "large"), (float("nan"), "undefined")],
)
def test_interpret_d_thresholds(d: float, label: str) -> None:
    assert interpret_d(d) == label


# ---------------------------------------------------------------- power analysis


def _power_by_noncentral_t(d: float, n1: int, n2: int, alpha: float) -> float:
    df = n1 + n2 - 2
    nc = d * math.sqrt(n1 * n2 / (n1 + n2))
    crit = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(crit, df, nc) + stats.nct.cdf(-crit, df, nc))


def test_runs_needed_matches_cohens_tables_and_statsmodels() -> None:
    # Cohen (1988), table 2.4.1: two-sided alpha 0.05, power 0.80 -> 64 per group for d = 0.5, 26 for d = 0.8.
    assert runs_needed(0.5) == 64
    assert runs_needed(0.8) == 26
    assert runs_needed(-0.5) == 64  # two-sided: the sign does not matter
    cases = [(0.3, 1.0, "two-sided"), (0.5, 4.0, "two-sided"), (0.5, 1.0, "larger"), (1.2, 0.5, "greater")]
    for d, ratio, alt in cases:
        sm_alt = "larger" if alt in ("larger", "greater") else alt
        ref = TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8, ratio=ratio, alternative=sm_alt)
        assert runs_needed(d, ratio=ratio, alternative=alt) == math.ceil(ref)
    # the rounded-up size reaches the power, one run fewer does not
    n = runs_needed(0.5)
    assert _power_by_noncentral_t(0.5, n, n, 0.05) >= 0.8 > _power_by_noncentral_t(0.5, n - 1, n - 1, 0.05)


def test_power_of_matches_noncentral_t() -> None:
    for d, n, ratio in [(0.5, 25, 4.0), (0.8, 26, 1.0), (0.3, 50, 2.0)]:
        expected = _power_by_noncentral_t(d, n, int(n * ratio), 0.05)
        assert power_of(d, n, ratio=ratio) == pytest.approx(expected, abs=1e-6)


def test_paper_run_count() -> None:
    """Section 4.3: power 0.8, alpha 0.05, effects "of at least medium size" -> "around 25 runs" (vs 100 baseline).

    Equal groups, two-sided: 25-26 runs per group detect a *large* effect (d = 0.8); a medium one (d = 0.5)
    needs 64 per group, or 47 weight-sharing runs against the 100 baseline runs. The 25-vs-100 design detects
    d >= ~0.63 with power 0.8 and has power ~0.60 at d = 0.5.
    """
    assert abs(runs_needed(0.8) - 25) <= 1
    assert runs_needed_against(0.5, other_runs=100) == 47
    assert runs_needed_against(0.5, other_runs=100, alternative="larger") == 34
    assert power_of(0.5, 25, ratio=4.0) == pytest.approx(0.60, abs=0.01)
    assert power_of(0.5, 25, ratio=4.0) < 0.8
    assert min_detectable_effect(25, ratio=4.0) == pytest.approx(0.63, abs=0.01)
    assert power_of(min_detectable_effect(25, ratio=4.0), 25, ratio=4.0) == pytest.approx(0.8, abs=1e-6)
    # runs_needed_against agrees with the fixed-ratio solver at the ratio it finds
    m = runs_needed_against(0.5, other_runs=100)
    assert power_of(0.5, 100, ratio=m / 100) >= 0.8 > power_of(0.5, 100, ratio=(m - 1) / 100)
    with pytest.raises(StatsInputError, match="cannot reach power"):
        runs_needed_against(0.3, other_runs=10)


# ---------------------------------------------------------------- confidence intervals


def test_mean_ci_by_hand() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0]
    ci = mean_ci(x)
    half = 2.7764451051977987 * math.sqrt(2.5 / 5)  # t_{0.975, 4} from a t table; s^2 = 2.5
    assert ci.estimate == 3.0
    assert (ci.low, ci.high) == (pytest.approx(3 - half, rel=1e-9), pytest.approx(3 + half, rel=1e-9))
    assert ci.half_width == pytest.approx(half, rel=1e-9)
    lo, hi = stats.t.interval(0.9, 4, loc=3.0, scale=stats.sem(x))
    assert (mean_ci(x, level=0.9).low, mean_ci(x, level=0.9).high) == (pytest.approx(lo), pytest.approx(hi))


def test_mean_ci_along_matches_columnwise_mean_ci() -> None:
    runs = np.random.default_rng(5).normal(size=(7, 4))
    mean, low, high = mean_ci_along(runs, axis=0)
    for j in range(4):
        ci = mean_ci(runs[:, j])
        assert (mean[j], low[j], high[j]) == (pytest.approx(ci.estimate), pytest.approx(ci.low), pytest.approx(ci.high))
    with pytest.raises(StatsInputError, match="2-D"):
        mean_ci_along(np.ones(3))


def _bivariate(rho: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    return x, rho * x + math.sqrt(1 - rho * rho) * z


def _spearman(p: np.ndarray, t: np.ndarray) -> float:
    return float(stats.spearmanr(p, t).statistic)


def test_bootstrap_ci_covers_true_correlations_and_is_seeded() -> None:
    rho = 0.7
    proxy, truth = _bivariate(rho, 300, seed=1)
    true_spearman = 6 / math.pi * math.asin(rho / 2)  # population Spearman of a bivariate normal
    true_kendall = 2 / math.pi * math.asin(rho)  # population Kendall tau of a bivariate normal
    ci = bootstrap_ci(_spearman, proxy, truth, rng=np.random.default_rng(7), n_resamples=500)
    assert ci.low < true_spearman < ci.high
    assert ci.estimate == pytest.approx(_spearman(proxy, truth))
    assert 0.0 < ci.high - ci.low < 0.3 and ci.standard_error > 0
    kt = bootstrap_ci(lambda p, t: stats.kendalltau(p, t).statistic, proxy, truth, rng=3, n_resamples=500)
    assert kt.low < true_kendall < kt.high
    again = bootstrap_ci(_spearman, proxy, truth, rng=np.random.default_rng(7), n_resamples=500)
    assert (again.low, again.high) == (ci.low, ci.high)
    other = bootstrap_ci(_spearman, proxy, truth, rng=np.random.default_rng(8), n_resamples=500)
    assert (other.low, other.high) != (ci.low, ci.high)


def test_bootstrap_resampling_is_paired() -> None:
    proxy = np.arange(40, dtype=float)
    truth = 2.0 * proxy + 1.0  # perfectly monotone: every paired resample keeps Spearman at 1
    ci = bootstrap_ci(_spearman, proxy, truth, rng=0, n_resamples=200)
    assert ci.low == pytest.approx(1.0) and ci.high == pytest.approx(1.0)


def test_bootstrap_accepts_sparse_kendall_tau_from_metrics() -> None:
    import wsbench.evaluate.metrics as metrics
    proxy, truth = _bivariate(0.6, 120, seed=2)
    truth = 90 + truth  # accuracies in percent
    ci = bootstrap_ci(metrics.sparse_kendall_tau, proxy, truth, rng=4, n_resamples=200)
    assert ci.estimate == pytest.approx(metrics.sparse_kendall_tau(proxy, truth))
    assert ci.low <= ci.estimate <= ci.high


def test_bootstrap_mean_coverage_over_seeds() -> None:
    hits = 0
    for seed in range(40):
        x = np.random.default_rng(1000 + seed).exponential(1.0, 50)  # true mean 1
        ci = bootstrap_ci(np.mean, x, rng=seed, n_resamples=300)
        hits += ci.low < 1.0 < ci.high
    assert hits >= 33  # nominal 95 % -> expected ~38 of 40


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(StatsInputError, match="equal length"):
        bootstrap_ci(_spearman, [1.0, 2.0, 3.0], [1.0, 2.0], rng=0)
    with pytest.raises(StatsInputError, match="method"):
        bootstrap_ci(np.mean, [1.0, 2.0, 3.0], rng=0, method="studentized")


# ---------------------------------------------------------------- regret tables

# (diff, pooled sd, p, d) per search space for both columns of Tables 4 and 5 (regrets x 100).
PAPER_ROWS = [
    (-0.68, 0.80, 0.00, -0.85), (-0.82, 0.83, 0.00, -0.99), (-0.20, 0.77, 0.25, -0.26), (-0.62, 0.88, 0.00, -0.71),
    (0.36, 0.87, 0.07, 0.42), (0.54, 0.85, 0.01, 0.63), (1.18, 1.08, 0.00, 1.09), (1.30, 1.10, 0.00, 1.18),
    (0.53, 1.22, 0.06, 0.44), (0.76, 0.96, 0.00, 0.79), (0.63, 1.30, 0.03, 0.48), (0.32, 1.44, 0.32, 0.22),
    (0.33, 0.52, 0.01, 0.63), (-0.02, 0.58, 0.87, -0.04),
    (0.30, 1.21, 0.27, 0.25), (0.19, 1.25, 0.51, 0.15), (0.72, 1.45, 0.03, 0.50), (0.28, 1.50, 0.41, 0.18),
    (1.67, 2.92, 0.01, 0.57), (1.86, 2.92, 0.01, 0.64), (2.46, 1.85, 0.00, 1.33), (2.50, 1.84, 0.00, 1.36),
    (1.42, 3.03, 0.04, 0.47), (1.67, 2.95, 0.01, 0.57), (1.48, 1.76, 0.00, 0.84), (1.14, 1.85, 0.01, 0.62),
    (0.78, 0.87, 0.00, 0.90), (0.43, 0.93, 0.04, 0.47),
]


def _with_moments(n: int, mean: float, sd: float, seed: int) -> np.ndarray:
    z = np.random.default_rng(seed).normal(size=n)
    return mean + sd * (z - z.mean()) / z.std(ddof=1)


@pytest.mark.parametrize(("diff", "sd", "p_paper", "d_paper"), PAPER_ROWS)
def test_compare_regrets_reproduces_paper_tables(diff: float, sd: float, p_paper: float, d_paper: float) -> None:
    # 100 baseline runs and 25 weight-sharing runs with the published difference and standard deviation;
    # the paper's Student t-test then gives its p-value (to its two printed decimals) and d = diff / sd.
    base = _with_moments(100, 5.0, sd, seed=1)
    ws = _with_moments(25, 5.0 - diff, sd, seed=2)
    row = compare_regrets({"bs": base, "ws": ws}, baseline="bs", equal_var=True).loc["ws"]
    assert row["diff"] == pytest.approx(diff, abs=1e-9)
    assert row["pooled_std"] == pytest.approx(sd, rel=1e-9)
    assert row["d"] == pytest.approx(d_paper, abs=0.015)
    assert row["pvalue"] == pytest.approx(p_paper, abs=0.015)
    assert (row["n_baseline"], row["n"], row["df"]) == (100, 25, 123.0)


def test_compare_regrets_markers_large_effect_and_null() -> None:
    rng = np.random.default_rng(21)
    base = rng.normal(3.0, 1.0, 100)
    groups = {
        "RS-bs": base,
        "RS-ws": rng.normal(1.5, 1.0, 25),  # much lower regret: d ~ +1.5
        "GS-ws": rng.normal(4.5, 1.0, 25),  # much higher regret: d ~ -1.5
        "null": base[::4].copy() + (base.mean() - base[::4].mean()),  # same mean exactly -> t = 0
    }
    frame = compare_regrets(groups, baseline="RS-bs")
    assert list(frame.index) == ["RS-ws", "GS-ws", "null"]
    better, worse, null = frame.loc["RS-ws"], frame.loc["GS-ws"], frame.loc["null"]
    assert better["stars"] == "***" and better["verdict"] == "better" and better["effect"] == "large"
    assert better["diff"] > 0 and better["d"] > 1.0 and better["p_superiority"] > 0.8
    assert better["ci_low"] > 0
    assert worse["stars"] == "***" and worse["verdict"] == "worse" and worse["d"] < -1.0
    assert worse["p_superiority"] < 0.2
    assert null["stars"] == "" and null["verdict"] == "n.s." and null["pvalue"] == pytest.approx(1.0)
    assert null["d"] == pytest.approx(0.0, abs=1e-12) and null["p_superiority"] == pytest.approx(0.5)
    # Welch by default, and the columns agree with the single-purpose functions
    ref = t_test(base, groups["RS-ws"])
    assert better["pvalue"] == ref.pvalue and better["df"] == ref.df
    assert better["d"] == pytest.approx(cohens_d(base, groups["RS-ws"]))
    # higher-is-better metrics flip the sign so that positive still favours the method
    flipped = compare_regrets(groups, baseline="RS-bs", lower_is_better=False).loc["RS-ws"]
    assert flipped["diff"] == pytest.approx(-better["diff"]) and flipped["verdict"] == "worse"


def test_compare_regrets_errors() -> None:
    with pytest.raises(StatsInputError, match="baseline"):
        compare_regrets({"a": [1.0, 2.0], "b": [1.0, 3.0]}, baseline="c")
    with pytest.raises(StatsInputError, match="at least one other"):
        compare_regrets({"a": [1.0, 2.0]}, baseline="a")


@pytest.mark.parametrize(("p", "mark"), [(0.0004, "***"), (0.001, "**"), (0.009, "**"), (0.01, "*"), (0.049, "*"),
                                         (0.05, ""), (0.6, ""), (float("nan"), "")])
def test_significance_marker(p: float, mark: str) -> None:
    assert significance_marker(p) == mark


def test_format_cell_and_markdown() -> None:
    assert format_cell({"diff": 0.0053, "pooled_std": 0.0122, "pvalue": 0.06, "d": 0.44}, scale=100) == (
        "0.53 ± 1.22 (p=0.06, d=+0.44)"
    )
    rng = np.random.default_rng(2)
    frame = compare_regrets({"bs": rng.normal(2, 1, 30), "ws": rng.normal(0, 1, 10)}, baseline="bs")
    assert format_cells(frame).loc["ws"].endswith("***")
    text = to_markdown(frame[["n", "diff", "pvalue", "stars"]], digits=2)
    lines = text.splitlines()
    assert len(lines) == 3
    assert [c.strip() for c in lines[0].strip("|").split("|")] == ["method", "n", "diff", "pvalue", "stars"]
    assert [c.strip() for c in lines[1].strip("|").split("|")][1].endswith(":")  # numbers right-aligned
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells[0] == "ws" and cells[1] == "10" and cells[2] == f"{frame.loc['ws', 'diff']:.2f}"
    assert "e-" in cells[3] and cells[4] == "***"  # tiny p-values keep their magnitude
    assert len({len(line) for line in lines}) == 1  # columns padded to equal width
