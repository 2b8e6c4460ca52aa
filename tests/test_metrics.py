"""Ranking metrics on cases computed by hand (and tau-b against a brute-force pair count)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from wsbench.evaluate.metrics import (
    MetricError,
    final_model_accuracy,
    kendall_tau,
    p_beat_random,
    p_beat_random_search,
    quantile_rank,
    ranking_metrics,
    round_truth,
    sparse_kendall_tau,
    spearman,
    supernet_accuracy,
)


def brute_tau_b(x: np.ndarray, y: np.ndarray) -> float:
    """Kendall tau-b from its definition: (C - D) / sqrt((n0 - tx) (n0 - ty)) over all pairs."""
    c = d = tx = ty = 0
    for i, j in itertools.combinations(range(len(x)), 2):
        sx, sy = np.sign(x[j] - x[i]), np.sign(y[j] - y[i])
        tx += sx == 0
        ty += sy == 0
        if sx * sy > 0:
            c += 1
        elif sx * sy < 0:
            d += 1
    n0 = len(x) * (len(x) - 1) // 2
    return (c - d) / math.sqrt((n0 - tx) * (n0 - ty))


def test_kendall_tau_without_ties_by_hand() -> None:
    # pairs of (1,2,3,4) vs (2,1,4,3): discordant (1,2) and (3,4), the other 4 concordant -> (4-2)/6
    assert kendall_tau([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(1 / 3)
    assert kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def test_kendall_tau_b_with_a_tie_by_hand() -> None:
    # truth (1,3,2,2): C = 3 (pairs 12, 13, 14), D = 2 (23, 24), one tie in truth (34):
    # tau-b = (3 - 2) / sqrt(6 * (6 - 1)) = 1 / sqrt(30)
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 2]) == pytest.approx(1 / math.sqrt(30))


def test_kendall_tau_matches_pair_count_with_ties_on_both_sides() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(0, 5, size=25).astype(float)
    y = rng.integers(0, 4, size=25).astype(float)
    assert kendall_tau(x, y) == pytest.approx(brute_tau_b(x, y))


def test_sparse_kendall_tau_rounding_creates_ties() -> None:
    proxy = [1, 2, 3, 4]
    truth = [93.01, 92.98, 93.52, 93.49]  # raw order 2,1,4,3 -> tau = 1/3
    assert kendall_tau(proxy, truth) == pytest.approx(1 / 3)
    np.testing.assert_allclose(round_truth(truth, 0.1), [93.0, 93.0, 93.5, 93.5])
    # after rounding: the two swapped pairs become ties, 4 concordant pairs remain:
    # tau-b = 4 / sqrt(6 * (6 - 2))
    assert sparse_kendall_tau(proxy, truth, 0.1) == pytest.approx(4 / math.sqrt(24))


def test_sparse_kendall_tau_threshold_controls_grid() -> None:
    proxy = [1, 2, 3]
    truth = [90.2, 90.4, 91.3]
    assert sparse_kendall_tau(proxy, truth, 0.1) == pytest.approx(1.0)  # no ties: 902, 904, 913
    # threshold 1 point: 90.2 -> 90, 90.4 -> 90, 91.3 -> 91; one tie, two concordant: 2 / sqrt(3 * 2)
    assert sparse_kendall_tau(proxy, truth, 1.0) == pytest.approx(2 / math.sqrt(6))
    with pytest.raises(MetricError, match="threshold"):
        sparse_kendall_tau(proxy, truth, 0.0)


def test_spearman_by_hand() -> None:
    # d = (-1, 1, -1, 1): rho = 1 - 6 * 4 / (4 * 15) = 0.6
    assert spearman([1, 2, 3, 4], [2, 1, 4, 3]) == pytest.approx(0.6)
    # ties: truth ranks (1, 4, 2.5, 2.5); Pearson of ranks = 1.5 / sqrt(5 * 4.5) = 1 / sqrt(10)
    assert spearman([1, 2, 3, 4], [1, 3, 2, 2]) == pytest.approx(1 / math.sqrt(10))


def test_constant_input_gives_nan_and_bad_input_raises() -> None:
    assert math.isnan(kendall_tau([1, 1, 1], [1, 2, 3]))
    assert math.isnan(spearman([1, 2, 3], [5, 5, 5]))
    with pytest.raises(MetricError, match="one value per architecture"):
        kendall_tau([1, 2, 3], [1, 2])
    with pytest.raises(MetricError, match="finite"):
        spearman([1, 2, np.nan], [1, 2, 3])
    with pytest.raises(MetricError, match="at least 2"):
        kendall_tau([1], [1])


def test_p_beat_random_on_ten_element_table() -> None:
    table = np.arange(90.0, 100.0)  # 90, 91, ..., 99
    # found 97: r = 8 architectures <= 97 (90..97), r_max = 10 -> q = 0.8
    assert quantile_rank(97.0, table) == pytest.approx(0.8)
    assert p_beat_random(97.0, table, k=1) == pytest.approx(0.8)
    assert p_beat_random(97.0, table, k=3) == pytest.approx(1 - 0.2**3)  # 0.992
    assert p_beat_random_search(97.0, table, k=3) == pytest.approx(0.8**3)  # 0.512
    assert p_beat_random(99.0, table, k=3) == pytest.approx(1.0)  # the table's best
    assert p_beat_random(90.0, table, k=1) == pytest.approx(0.1)  # the table's worst: only itself
    # ties in the table count as "not better": 95 appears three times -> r = 8
    tied = np.array([90, 91, 92, 93, 94, 95, 95, 95, 98, 99], dtype=float)
    assert p_beat_random(95.0, tied, k=2) == pytest.approx(1 - 0.2**2)
    # NaN rows (architectures without a value) are not counted in r_max
    assert quantile_rank(97.0, np.append(table, np.nan)) == pytest.approx(0.8)
    with pytest.raises(MetricError):
        p_beat_random(97.0, table, k=0)


def test_p_beat_random_matches_its_stated_meaning_by_simulation() -> None:
    table = np.arange(90.0, 100.0)
    rng = np.random.default_rng(0)
    draws = rng.choice(table, size=(200_000, 3))
    found = 96.0
    # p = P(found >= worst of 3 random draws); q**3 = P(found >= best of 3 random draws)
    assert np.mean(found >= draws.min(axis=1)) == pytest.approx(p_beat_random(found, table, 3), abs=0.005)
    assert np.mean(found >= draws.max(axis=1)) == pytest.approx(p_beat_random_search(found, table, 3), abs=0.005)


def test_final_model_and_supernet_accuracy() -> None:
    proxy = [50.0, 70.0, 60.0, 40.0]
    truth = [93.0, 91.0, 95.0, 90.0]
    # top-3 by proxy: indices 1, 2, 0 -> truths 91, 95, 93
    assert final_model_accuracy(proxy, truth, top_k=3) == pytest.approx(93.0)
    assert final_model_accuracy(proxy, truth, top_k=1) == pytest.approx(91.0)
    assert supernet_accuracy(proxy) == pytest.approx(55.0)
    # proxy ties are broken by list order: the first of two equal proxies wins
    assert final_model_accuracy([60.0, 60.0, 50.0], [91.0, 95.0, 93.0], top_k=1) == pytest.approx(91.0)
    with pytest.raises(MetricError, match="top_k"):
        final_model_accuracy(proxy, truth, top_k=5)


def test_ranking_metrics_combines_all() -> None:
    proxy = [50.0, 70.0, 60.0, 40.0]
    truth = [93.0, 91.0, 95.0, 90.0]
    table = np.arange(90.0, 100.0)
    out = ranking_metrics(proxy, truth, table, threshold=0.1, top_k=3)
    # found = best by proxy = truth 91: r = 2 of 10 -> q = 0.2, p = 1 - 0.8**3 = 0.488
    assert out["found_quantile"] == pytest.approx(0.2)
    assert out["p_beat_random"] == pytest.approx(0.488)
    assert out["p_beat_random_search"] == pytest.approx(0.008)
    assert out["final_model_accuracy"] == pytest.approx(93.0)
    assert out["supernet_accuracy"] == pytest.approx(55.0)
    # pairs (0,1) and (1,2) discordant, the other 4 concordant -> (4 - 2) / 6
    assert out["kendall_tau"] == pytest.approx(1 / 3)
    assert out["sparse_kendall_tau"] == pytest.approx(out["kendall_tau"])  # integers: rounding changes nothing
    assert set(out) >= {"supernet_accuracy", "kendall_tau", "sparse_kendall_tau", "spearman", "p_beat_random",
                        "final_model_accuracy"}


def test_constant_proxy_reports_nan_and_a_flag() -> None:
    """A diverged super-net gives one proxy value for every cell: no correlation, no pick, no P>R."""
    from wsbench.evaluate.metrics import ranking_metrics

    truth = np.array([90.0, 85.0, 93.0, 70.0])
    out = ranking_metrics(np.full(4, 10.0), truth, truth)
    assert out["constant_proxy"] is True and out["supernet_accuracy"] == 10.0
    for key in ("kendall_tau", "sparse_kendall_tau", "spearman", "p_beat_random", "final_model_accuracy",
                "found_quantile"):
        assert np.isnan(out[key]), key
    assert ranking_metrics(np.array([1.0, 2.0, 3.0, 0.0]), truth, truth)["constant_proxy"] is False


def test_ning_criteria_on_hand_computed_cases() -> None:
    from wsbench.evaluate.metrics import (
        best_rank_at_top,
        ning_criteria,
        precision_at_bottom,
        precision_at_top,
        worst_rank_at_top,
    )

    truth = np.array([95.0, 90.0, 85.0, 80.0, 75.0, 70.0, 65.0, 60.0, 55.0, 50.0])  # true ranks 0..9
    proxy = np.array([1.0, 9.0, 8.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 0.0])
    # K = 20% of 10 = 2: proxy's top 2 are indices 1, 2 (true ranks 1, 2); true top 2 are 0, 1 -> P = 1/2
    assert precision_at_top(proxy, truth, 0.2) == 0.5
    assert best_rank_at_top(proxy, truth, 0.2) == 0.1 and worst_rank_at_top(proxy, truth, 0.2) == 0.2
    # proxy's bottom 2: indices 9, 0 (true ranks 9, 0); true bottom 2: 8, 9 -> P = 1/2
    assert precision_at_bottom(proxy, truth, 0.2) == 0.5
    # K = 30%: proxy's top 3 = 1, 2, 8 (true ranks 1, 2, 8) against true top {0, 1, 2}: 2/3; WR = 0.8
    assert precision_at_top(proxy, truth, 0.3) == pytest.approx(2 / 3)
    assert worst_rank_at_top(proxy, truth, 0.3) == 0.8
    # K rounds up: 5% of 10 -> 1 architecture, index 1, true rank 1
    assert precision_at_top(proxy, truth, 0.05) == 0.0 and best_rank_at_top(proxy, truth, 0.05) == 0.1
    # a perfect proxy
    assert precision_at_top(truth, truth, 0.2) == 1.0 and best_rank_at_top(truth, truth, 0.1) == 0.0
    # ties in the truth: an architecture tied with the K-th best counts as in the true top K
    tied = np.array([90.0, 90.0, 90.0, 50.0])
    assert precision_at_top(np.array([1.0, 2.0, 3.0, 4.0]), tied, 0.25) == 0.0  # picks the 50
    assert precision_at_top(np.array([4.0, 1.0, 2.0, 3.0]), tied, 0.25) == 1.0  # picks a tied best
    assert best_rank_at_top(np.array([4.0, 1.0, 2.0, 3.0]), tied, 0.25) == 0.0  # tied best share rank 0
    # ties in the proxy: list order decides (stable)
    assert precision_at_top(np.array([5.0, 5.0, 1.0, 0.0]), truth[:4], 0.25) == 1.0
    assert precision_at_top(np.array([5.0, 5.0, 1.0, 0.0]), truth[:4][::-1].copy(), 0.25) == 0.0
    keys = ning_criteria(proxy, truth)
    assert keys["precision_at_top_20pct"] == 0.5 and "worst_rank_at_top_1pct" in keys
    with pytest.raises(MetricError):
        precision_at_top(proxy, truth, 0.0)


def test_metric_registry_is_the_one_list():
    from wsbench.evaluate import metrics as M
    from wsbench.evaluate.judge import CORRELATIONS
    from wsbench.experiments.aggregate import SHORT
    from wsbench.plots.figures import CORRELATIONS as PLOTTED

    keys = [m.key for m in M.correlations()]
    assert keys == ["sparse_kendall_tau", "kendall_tau", "spearman"]
    assert list(CORRELATIONS) == keys and [c[0] for c in PLOTTED] == keys
    assert SHORT["params_sparse_kendall_tau"] == "#params s-KdT" and SHORT["p_beat_random"] == "P>R"
    p, t = np.array([1.0, 2.0, 3.0, 4.0]), np.array([10.0, 10.05, 12.0, 11.0])
    assert M.REGISTRY["sparse_kendall_tau"].compute(p, t, 0.1) == M.sparse_kendall_tau(p, t, 0.1)
    assert M.REGISTRY["sparse_kendall_tau"].compute(p, t, 1.0) != M.REGISTRY["sparse_kendall_tau"].compute(p, t, 0.01)
    with pytest.raises(ValueError, match="registered twice"):
        M.register(M.Metric("spearman", "x", "x", "x"))
    with pytest.raises(ValueError, match="not a rank correlation"):
        M.REGISTRY["n_archs"].compute(p, t)
