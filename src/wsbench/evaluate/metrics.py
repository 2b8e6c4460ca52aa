"""Ranking metrics that judge a super-net against a ground-truth table (numpy/scipy only).

Conventions: all accuracies are in percent; ``proxy[i]`` and ``truth[i]`` describe the same architecture;
``all_truth`` is the ground truth of every architecture of the table (the reference population for P>R).

Metrics (after *How to Train Your Super-Net*, section 3 and appendix B):

* ``kendall_tau``: Kendall's tau-b between proxy and ground truth (tau-b handles ties on either side).
* ``sparse_kendall_tau``: the same after rounding the ground truth to a grid of ``threshold`` percentage points
  (``np.round(truth / threshold) * threshold``, numpy's round-half-to-even), so architectures whose accuracies
  fall into the same grid cell share a rank and negligible differences no longer decide the ordering.
* ``spearman``: Spearman's rank correlation (ties get average ranks).
* ``p_beat_random``: the paper's ``p = 1 - (1 - r / r_max) ** n`` (see the function for what it measures).
* ``final_model_accuracy``: mean ground truth of the ``top_k`` architectures ranked best by the proxy.
* ``supernet_accuracy``: mean proxy accuracy.

Criteria of Ning et al. (*Evaluating Efficient Performance Estimators of Neural Architectures*, NeurIPS 2021),
for a fraction ``k`` of the ``N`` architectures (``K = ceil(k * N)``, at least 1):

* ``precision_at_top`` / ``precision_at_bottom`` (P@topK / P@bottomK): the share of the K architectures ranked
  best (worst) by the proxy that are among the K best (worst) by the ground truth.
* ``best_rank_at_top`` / ``worst_rank_at_top`` (BR@K / WR@K): the best and the worst true rank among the K
  architectures ranked best by the proxy, as a fraction of ``N`` (0 is the truly best architecture).

Ties: the proxy's top K is taken in list order among equal proxies (stable); on the ground-truth side an
architecture tied with the K-th best (worst) truth counts as inside the true top (bottom) K, and a true rank is
the number of architectures with strictly better truth.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

ArrayLike = Sequence[float] | np.ndarray


class MetricError(ValueError):
    """The inputs of a metric are malformed (length mismatch, empty, non-finite)."""


def _pair(proxy: ArrayLike, truth: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(proxy, dtype=np.float64).ravel()
    t = np.asarray(truth, dtype=np.float64).ravel()
    if p.shape != t.shape:
        raise MetricError(f"proxy has {p.size} values but truth has {t.size}; pass one value per architecture")
    if p.size < 2:
        raise MetricError(f"a rank correlation needs at least 2 architectures, got {p.size}")
    if not (np.isfinite(p).all() and np.isfinite(t).all()):
        raise MetricError("proxy and truth must be finite; drop architectures without ground truth first")
    return p, t


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def kendall_tau(proxy: ArrayLike, truth: ArrayLike) -> float:
    """Kendall's tau-b between ``proxy`` and ``truth``; NaN when either side is constant."""
    p, t = _pair(proxy, truth)
    if _constant(p) or _constant(t):
        return float("nan")
    return float(stats.kendalltau(p, t, variant="b").statistic)


def round_truth(truth: ArrayLike, threshold: float = 0.1) -> np.ndarray:
    """Ground truth rounded to multiples of ``threshold`` percentage points (``np.round(truth / threshold)``)."""
    if not threshold > 0:
        raise MetricError(f"threshold must be > 0 percentage points, got {threshold}")
    return np.round(np.asarray(truth, dtype=np.float64) / threshold) * threshold


def sparse_kendall_tau(proxy: ArrayLike, truth: ArrayLike, threshold: float = 0.1) -> float:
    """Sparse Kendall-Tau: tau-b between ``proxy`` and the ground truth rounded to ``threshold`` points.

    Rounding puts accuracies that differ by less than the threshold (up to grid alignment) into the same
    grid cell; architectures in one cell are tied and share a rank, which tau-b accounts for.
    """
    p, t = _pair(proxy, truth)
    return kendall_tau(p, round_truth(t, threshold))


def spearman(proxy: ArrayLike, truth: ArrayLike) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    p, t = _pair(proxy, truth)
    if _constant(p) or _constant(t):
        return float("nan")
    return float(stats.spearmanr(p, t).statistic)


def quantile_rank(found_truth: float, all_truth: ArrayLike) -> float:
    """``r / r_max``: the fraction of ``all_truth`` that is ``<=`` ``found_truth`` (rank counted from the bottom)."""
    pop = np.asarray(all_truth, dtype=np.float64).ravel()
    pop = pop[np.isfinite(pop)]
    if pop.size == 0:
        raise MetricError("all_truth holds no finite ground-truth value")
    if not np.isfinite(found_truth):
        raise MetricError(f"found_truth must be finite, got {found_truth}")
    return float(np.count_nonzero(pop <= found_truth) / pop.size)


def p_beat_random(found_truth: float, all_truth: ArrayLike, k: int = 3) -> float:
    """The paper's "probability to surpass random search", ``p = 1 - (1 - r / r_max) ** k``.

    Definitions used here:

    * ``r`` = number of architectures in ``all_truth`` (the whole table) whose ground truth is ``<=``
      ``found_truth``: the rank counted from the bottom, so ``q = r / r_max`` is the found architecture's
      quantile and the best architecture of the table has ``q = 1``.
    * ``r_max`` = number of architectures in the table (``len(all_truth)`` after dropping NaN).
    * ``n = k``; in ``ranking_metrics`` the found architecture is the best-by-proxy one among the evaluated ones
      and ``k = top_k``.

    What the number measures: ``1 - q`` is the probability that one uniform random architecture is strictly
    better than the found one, so ``(1 - q) ** k`` is the probability that *all* ``k`` independent random
    draws are strictly better, and ``p`` is the probability that the found architecture is at least as good as
    the *worst* of ``k`` random draws. For ``k = 1`` this is the probability of beating (or tying) a single
    random architecture. It is not the probability of beating the best of ``k`` random draws (random search
    with budget ``k``); that stricter number is ``q ** k`` (see ``p_beat_random_search``).
    """
    if k < 1:
        raise MetricError(f"k must be >= 1, got {k}")
    q = quantile_rank(found_truth, all_truth)
    return float(1.0 - (1.0 - q) ** k)


def p_beat_random_search(found_truth: float, all_truth: ArrayLike, k: int = 3) -> float:
    """``q ** k``: probability that the found architecture is at least as good as the best of ``k`` random draws."""
    if k < 1:
        raise MetricError(f"k must be >= 1, got {k}")
    return float(quantile_rank(found_truth, all_truth) ** k)


def top_by_proxy(proxy: ArrayLike, k: int) -> np.ndarray:
    """Indices of the ``k`` largest proxy values, best first (ties broken by list order)."""
    p = np.asarray(proxy, dtype=np.float64).ravel()
    if not 1 <= k <= p.size:
        raise MetricError(f"top_k must be between 1 and the number of architectures ({p.size}), got {k}")
    return np.argsort(-p, kind="stable")[:k]


def final_model_accuracy(proxy: ArrayLike, truth: ArrayLike, top_k: int = 3) -> float:
    """Mean ground truth of the ``top_k`` architectures ranked best by the proxy ("final searched model")."""
    p, t = _pair(proxy, truth)
    return float(t[top_by_proxy(p, top_k)].mean())


def supernet_accuracy(proxy: ArrayLike) -> float:
    """Mean proxy accuracy of the evaluated architectures."""
    p = np.asarray(proxy, dtype=np.float64).ravel()
    if p.size == 0:
        raise MetricError("no proxy accuracies given")
    return float(p.mean())


def _k_of(n: int, frac: float) -> int:
    if not 0.0 < frac <= 1.0:
        raise MetricError(f"the fraction K must be in (0, 1], got {frac}")
    return max(1, int(np.ceil(frac * n - 1e-9)))


def precision_at_top(proxy: ArrayLike, truth: ArrayLike, frac: float) -> float:
    """P@topK: the share of the proxy's top ``ceil(frac * N)`` that are in the true top (ties inclusive)."""
    p, t = _pair(proxy, truth)
    k = _k_of(p.size, frac)
    kth = np.sort(t)[::-1][k - 1]
    return float(np.mean(t[top_by_proxy(p, k)] >= kth))


def precision_at_bottom(proxy: ArrayLike, truth: ArrayLike, frac: float) -> float:
    """P@bottomK: the share of the proxy's bottom ``ceil(frac * N)`` that are in the true bottom (ties inclusive)."""
    p, t = _pair(proxy, truth)
    k = _k_of(p.size, frac)
    kth = np.sort(t)[k - 1]
    bottom = np.argsort(p, kind="stable")[:k]
    return float(np.mean(t[bottom] <= kth))


def _true_ranks(t: np.ndarray) -> np.ndarray:
    """Per architecture the number of architectures with strictly better truth (0: the best; ties share)."""
    order = np.sort(t)
    return (t.size - np.searchsorted(order, t, side="right")).astype(np.float64)


def best_rank_at_top(proxy: ArrayLike, truth: ArrayLike, frac: float) -> float:
    """BR@K: the best true rank among the proxy's top ``ceil(frac * N)``, as a fraction of N (0 = the best)."""
    p, t = _pair(proxy, truth)
    return float(_true_ranks(t)[top_by_proxy(p, _k_of(p.size, frac))].min() / p.size)


def worst_rank_at_top(proxy: ArrayLike, truth: ArrayLike, frac: float) -> float:
    """WR@K: the worst true rank among the proxy's top ``ceil(frac * N)``, as a fraction of N."""
    p, t = _pair(proxy, truth)
    return float(_true_ranks(t)[top_by_proxy(p, _k_of(p.size, frac))].max() / p.size)


def ning_criteria(proxy: ArrayLike, truth: ArrayLike, fracs: Sequence[float] = (0.01, 0.05, 0.1, 0.2)
                  ) -> dict[str, float]:
    """P@topK, P@bottomK, BR@K and WR@K for each fraction (keys such as ``precision_at_top_5pct``)."""
    out = {}
    for f in fracs:
        tag = f"{f * 100:g}pct"
        out[f"precision_at_top_{tag}"] = precision_at_top(proxy, truth, f)
        out[f"precision_at_bottom_{tag}"] = precision_at_bottom(proxy, truth, f)
        out[f"best_rank_at_top_{tag}"] = best_rank_at_top(proxy, truth, f)
        out[f"worst_rank_at_top_{tag}"] = worst_rank_at_top(proxy, truth, f)
    return out


def ranking_metrics(proxy: ArrayLike, truth: ArrayLike, all_truth: ArrayLike, threshold: float = 0.1,
                    top_k: int = 3) -> dict[str, Any]:
    """All metrics of one evaluation.

    Keys: supernet_accuracy, kendall_tau, sparse_kendall_tau, spearman, p_beat_random (paper formula with
    ``k = top_k``, found = best-by-proxy architecture), p_beat_random_search (``q ** top_k``), found_quantile
    (``q``), final_model_accuracy (mean truth of the top ``top_k`` by proxy). A constant proxy ranks nothing:
    every metric but supernet_accuracy is NaN and ``constant_proxy`` is True.
    """
    p, t = _pair(proxy, truth)
    if _constant(p):  # a constant proxy (e.g. a diverged super-net) picks no architecture: nothing to report
        nan = float("nan")
        return {"supernet_accuracy": supernet_accuracy(p), "kendall_tau": nan, "sparse_kendall_tau": nan,
                "spearman": nan, "p_beat_random": nan, "p_beat_random_search": nan, "found_quantile": nan,
                "final_model_accuracy": nan, "constant_proxy": True}
    best = float(t[top_by_proxy(p, 1)[0]])
    return {
        "supernet_accuracy": supernet_accuracy(p),
        "kendall_tau": kendall_tau(p, t),
        "sparse_kendall_tau": sparse_kendall_tau(p, t, threshold),
        "spearman": spearman(p, t),
        "p_beat_random": p_beat_random(best, all_truth, top_k),
        "p_beat_random_search": p_beat_random_search(best, all_truth, top_k),
        "found_quantile": quantile_rank(best, all_truth),
        "final_model_accuracy": final_model_accuracy(p, t, top_k),
        "constant_proxy": False,
    }


# -- the registry: one entry per reported metric -------------------------------------------------------------
@dataclass(frozen=True)
class Metric:
    """A reported metric: its key in every record, short and long labels, direction, and for rank correlations
    the statistic, whether it takes the s-KdT threshold and the key of its parameter-count baseline."""

    key: str
    short: str  # table column: "s-KdT"
    name: str  # figure axis / report row: "sparse Kendall-Tau"
    label: str  # full sentence for report tables
    higher_is_better: bool = True
    statistic: Callable[..., float] | None = None  # (proxy, truth[, threshold]) -> value, for rank correlations
    threshold: bool = False  # the statistic takes the s-KdT grid
    baseline: str | None = None  # key of the same statistic for the parameter count
    headline: bool = False  # one of Yu et al.'s three headline metrics (plotted pairwise in study reports)

    @property
    def correlation(self) -> bool:
        return self.statistic is not None

    def compute(self, proxy: ArrayLike, truth: ArrayLike, threshold: float = 0.1) -> float:
        """The statistic of a rank correlation (``threshold`` for those that take it)."""
        if self.statistic is None:
            raise ValueError(f"metric {self.key!r} is not a rank correlation of two rankings")
        return self.statistic(proxy, truth, threshold) if self.threshold else self.statistic(proxy, truth)


#: Every reported metric by key, in reporting order; tables, aggregates, plots and CLI prints loop over it.
REGISTRY: dict[str, Metric] = {}


def register(metric: Metric) -> Metric:
    """Add ``metric`` to the registry (a key registered twice is an error)."""
    if metric.key in REGISTRY:
        raise ValueError(f"metric {metric.key!r} is registered twice")
    REGISTRY[metric.key] = metric
    return metric


def correlations() -> list[Metric]:
    """The registered rank correlations, in reporting order."""
    return [m for m in REGISTRY.values() if m.correlation]


def short_label(key: str) -> str:
    """The table label of ``key``, including ``params_<metric>`` baselines (``#params s-KdT``)."""
    if key in REGISTRY:
        return REGISTRY[key].short
    base = next((m for m in REGISTRY.values() if m.baseline == key), None)
    return f"#params {base.short}" if base is not None else key


register(Metric("supernet_accuracy", "SN acc", "super-net accuracy", "super-net accuracy (mean proxy, %)",
                headline=True))
register(Metric("sparse_kendall_tau", "s-KdT", "s-KdT", "sparse Kendall-Tau (truth rounded to the threshold)",
                statistic=sparse_kendall_tau, threshold=True, baseline="params_sparse_kendall_tau", headline=True))
register(Metric("kendall_tau", "KdT", "KdT", "Kendall-Tau", statistic=kendall_tau, baseline="params_kendall_tau"))
register(Metric("spearman", "SpR", "Spearman", "Spearman rank correlation", statistic=spearman,
                baseline="params_spearman"))
register(Metric("p_beat_random", "P>R", "P>R", "P>R: probability to beat random (paper formula)"))
register(Metric("final_model_accuracy", "final", "final model (top-k truth)",
                "final model: mean ground truth of the top-k by proxy (%)", headline=True))
register(Metric("found_quantile", "quantile", "found quantile",
                "quantile of the best-by-proxy architecture in the table"))
register(Metric("n_archs", "n", "architectures", "evaluated architectures"))
