"""The judge: score any estimator's ranking of architectures against a ground-truth table.

``judge(archs, scores, table=..., metric=...)`` takes architectures in any form the space accepts (a table key or
canonical id, NB201 ``|op~0|+...`` or official index, NB101 benchmark hash or ``<bits>|<ops>``, a DARTS genotype)
and one score each (higher is better unless ``higher_is_better=False``), optionally with a ``runs`` label per row
(several super-nets, e.g. seeds), and returns a ``JudgeResult``:

* the ranking metrics of the scores (Kendall-Tau, sparse Kendall-Tau, Spearman with bootstrap 95% intervals
  computed on that same ranking; P>R, found quantile and final model against the population of the (sub-)space;
  Ning et al.'s P@top/bottomK, BR@K, WR@K);
* the same correlations for the baselines the table or the space can give for the same cells (parameter count,
  FLOPs, the table's zero-cost proxies ``zc_*``), and which of them is strongest;
* with several runs: per-run metrics, their mean ± sd, and the metrics of the run-averaged score (Yu et al.,
  appendix B.2), each as its own named entry.

The ground truth is the mean over the table's repeats unless ``repeat`` names one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from wsbench.evaluate import metrics as M

_HASH = re.compile(r"^[0-9a-f]{32}$")
CORRELATIONS = tuple(m.key for m in M.correlations())


class JudgeError(ValueError):
    """The scores cannot be judged (unknown architectures, bad columns, too few cells)."""


@dataclass
class JudgeResult:
    """Every number of one judgement (``as_dict`` is the JSON contract of ``wsbench judge --format json``)."""

    table: str
    metric: str
    n_archs: int
    population: dict[str, Any]
    scores: dict[str, Any]  # metrics of the judged ranking (with ``*_ci`` intervals)
    baselines: dict[str, dict[str, Any]] = field(default_factory=dict)
    strongest_baseline: str | None = None
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)
    runs_mean_sd: dict[str, list[float]] = field(default_factory=dict)
    run_averaged: dict[str, Any] | None = None
    bias: dict[str, Any] | None = None  # mean rank error by structural property (``evaluate.bias``)

    def as_dict(self) -> dict[str, Any]:
        def clean(x: Any) -> Any:
            if isinstance(x, dict):
                return {k: clean(v) for k, v in x.items()}
            if isinstance(x, list | tuple):
                return [clean(v) for v in x]
            if isinstance(x, float | np.floating):
                return None if not math.isfinite(float(x)) else float(x)
            if isinstance(x, np.integer):
                return int(x)
            return x

        return clean({"table": self.table, "metric": self.metric, "n_archs": self.n_archs,
                      "population": self.population, **self.scores, "baselines": self.baselines,
                      "strongest_baseline": self.strongest_baseline, "runs": self.runs,
                      "runs_mean_sd": self.runs_mean_sd, "run_averaged": self.run_averaged, "bias": self.bias})


def resolve_rows(table: Any, archs: Sequence[Any]) -> np.ndarray:
    """Row of ``table`` for each architecture (any form its space accepts); a ``JudgeError`` names the first
    architecture the table does not hold."""
    from wsbench.registry import is_registered
    from wsbench.spaces import get_space

    texts = [str(a).strip() for a in archs]
    rows = table.index(np.asarray(texts, dtype=object), missing="ignore")
    if (rows >= 0).all():
        return rows
    space = get_space(table.space) if is_registered(table.space) else None
    index_col = np.asarray(table.column("index")) if "index" in table.columns else None
    for i in np.flatnonzero(rows < 0):
        text = texts[i]
        key = None
        if text.isdigit() and index_col is not None:
            hit = np.flatnonzero(index_col == int(text))
            rows[i] = int(hit[0]) if hit.size else -1
            if rows[i] >= 0:
                continue
        elif space is not None and not _HASH.match(text):
            try:
                arch = space.parse_encoding(text) if text.startswith("[[") and hasattr(space, "parse_encoding") \
                    else space.parse(text)
                key = space.key(arch)
            except (ValueError, TypeError):
                key = None
        if key is not None:
            rows[i] = int(table.index(np.asarray([key], dtype=object), missing="ignore")[0])
        if rows[i] < 0:
            raise JudgeError(f"architecture {text!r} is not in table {table.name!r} (give a table key, or the "
                             f"space's text form: NB201 |op~0|+... or an index, NB101 a hash or bits|ops, DARTS a "
                             f"genotype)")
    return rows


def _population(table: Any, subspace: str | None) -> tuple[np.ndarray, dict[str, Any]]:
    from wsbench.benchmarks.subspace import space_size, subspace_mask

    mask = subspace_mask(table, table.space, subspace)
    size = space_size(table.space, subspace)
    info = {"name": f"{table.name}{':' + subspace if subspace else ''}", "n_cells_in_table": int(mask.sum()),
            "n_cells_in_space": size,
            "note": ("the table is a sample of the (sub-)space: P>R and the found quantile use its cells"
                     if size is not None and mask.sum() < size else "the table holds the whole (sub-)space")}
    return mask, info


def _bootstrap(fn: Any, score: np.ndarray, truth: np.ndarray, seed: int, n: int) -> list[float]:
    from wsbench.stats.bootstrap import bootstrap_ci

    if score.size < 4 or n < 100 or np.all(score == score[0]):
        return [float("nan"), float("nan")]
    try:
        ci = bootstrap_ci(fn, score, truth, rng=seed, n_resamples=n)
    except Exception:  # noqa: BLE001 - a resample without spread: no interval
        return [float("nan"), float("nan")]
    return [float(ci.low), float(ci.high)]


def ranking(score: np.ndarray, truth: np.ndarray, all_truth: np.ndarray, threshold: float, top_k: int,
            seed: int = 0, n_boot: int = 1000) -> dict[str, Any]:
    """Metrics of one ranking, the correlation intervals computed on that same ranking."""
    top_k = min(top_k, score.size)
    out = dict(M.ranking_metrics(score, truth, all_truth, threshold, top_k))
    out.pop("supernet_accuracy", None)  # the scores need not be accuracies
    for metric in M.correlations():
        out[f"{metric.key}_ci"] = _bootstrap(lambda p, t, m=metric: m.compute(p, t, threshold), score, truth, seed,
                                             n_boot)
    if not out.get("constant_proxy"):
        ning = M.ning_criteria(score, truth)
        out["precision_at_top"] = {k.removeprefix("precision_at_top_"): v for k, v in ning.items()
                                   if k.startswith("precision_at_top_")}
        out["precision_at_bottom"] = {k.removeprefix("precision_at_bottom_"): v for k, v in ning.items()
                                      if k.startswith("precision_at_bottom_")}
        out["best_rank_at_top"] = {k.removeprefix("best_rank_at_top_"): v for k, v in ning.items()
                                   if k.startswith("best_rank_at_top_")}
        out["worst_rank_at_top"] = {k.removeprefix("worst_rank_at_top_"): v for k, v in ning.items()
                                    if k.startswith("worst_rank_at_top_")}
    return out


def _baselines(table: Any, rows: np.ndarray, archs: Sequence[Any], truth: np.ndarray,
               threshold: float, zero_cost: Sequence[str] = (), data_dir: Any = None) -> dict[str, dict[str, Any]]:
    from wsbench.evaluate.baselines import cost_baselines

    cols = {c.split("@")[0] for c in table.columns}
    sources: dict[str, np.ndarray] = cost_baselines(table, rows)
    for c in sorted(c for c in cols if c.startswith("zc_")):
        sources[c.removeprefix("zc_")] = np.asarray(table.values(c, rows), dtype=np.float64)
    wanted = [p for p in zero_cost if p not in sources]  # the table's published values take precedence
    if wanted:
        from wsbench.evaluate.zero_cost import cached_zero_cost

        sources.update(cached_zero_cost(table, rows, wanted, data_dir=data_dir))
    out = {}
    for name, values in sources.items():
        ok = np.isfinite(values)
        if ok.sum() < 2:
            continue
        v, t = values[ok], truth[ok]
        out[name] = {"n_archs": int(ok.sum()), **{m.key: m.compute(v, t, threshold) for m in M.correlations()}}
    return out


def _bias(table: Any, rows: np.ndarray, score: np.ndarray, truth: np.ndarray) -> dict[str, Any] | None:
    """The rank-error breakdown by structural property, when the table's space is known (else None)."""
    from wsbench.evaluate.baselines import cost_baselines
    from wsbench.evaluate.bias import bias_breakdown
    from wsbench.spaces import get_space

    try:
        space = get_space(table.space)
        archs = [space.parse(t) for t in table.arch_texts(rows)]
        return bias_breakdown(space, archs, score, truth, cost_baselines(table, rows).get("params"))
    except (ValueError, NotImplementedError):
        return None


def judge(archs: Sequence[Any], scores: Sequence[float], table: str | Any, metric: str,
          subspace: str | None = None, higher_is_better: bool = True, runs: Sequence[Any] | None = None,
          repeat: int | None = None, threshold: float = 0.1, top_k: int = 3, seed: int = 0, n_boot: int = 1000,
          data_dir: Any = None, zero_cost: Sequence[str] = ()) -> JudgeResult:
    """Judge ``scores`` of ``archs`` against ``table`` (a name in the data directory, or a ``GroundTruth``).

    ``zero_cost`` names zero-cost proxies (``wsbench.evaluate.zero_cost.PROXIES``) to score the judged cells with
    as further baselines: computed once per cell on the stand-alone network at initialisation and cached in the
    data directory (a table that publishes a proxy, e.g. NB301's ``zc_*``, gives its own values instead).
    """
    if isinstance(table, str):
        from wsbench.benchmarks.store import load_table

        table = load_table(table, data_dir)
    known = list(table.metrics())
    if metric not in known:
        raise JudgeError(f"table {table.name!r} has no metric {metric!r}; choose one of {', '.join(known)}")
    score = np.asarray(scores, dtype=np.float64).ravel()
    if len(archs) != score.size:
        raise JudgeError(f"{len(archs)} architectures but {score.size} scores; give one score per row")
    if not np.isfinite(score).all():
        raise JudgeError("scores must be finite numbers; drop the rows without a score")
    if not higher_is_better:
        score = -score
    rows = resolve_rows(table, archs)
    rep: Any = "mean" if repeat is None else int(repeat)
    truth = np.asarray(table.values(metric, rows, repeat=rep), dtype=np.float64)
    mask, population = _population(table, subspace)
    if not mask[rows].all():
        bad = str(table.keys[rows[~mask[rows]][0]])
        raise JudgeError(f"architecture {bad!r} is outside sub-space {subspace!r}; judge it without --subspace "
                         f"or drop it")
    all_truth = np.asarray(table.values(metric, repeat=rep), dtype=np.float64)[mask]
    all_truth = all_truth[np.isfinite(all_truth)]
    labels = None if runs is None else np.asarray([str(r) for r in runs], dtype=object)
    result = JudgeResult(table.name, metric, 0, population, {})
    if labels is None:
        result.n_archs = int(score.size)
        result.scores = ranking(score, truth, all_truth, threshold, top_k, seed, n_boot)
        result.baselines = _baselines(table, rows, archs, truth, threshold, zero_cost, data_dir)
    else:
        if labels.size != score.size:
            raise JudgeError("give one run label per row")
        per: dict[str, dict[Any, float]] = {}
        for lab, r, s in zip(labels, rows, score, strict=True):
            per.setdefault(lab, {})[int(r)] = float(s)
        common = sorted(set.intersection(*(set(d) for d in per.values())))
        if len(common) < 2:
            raise JudgeError("the runs share fewer than 2 architectures: judge them one at a time")
        common_rows = np.asarray(common, dtype=np.int64)
        t_common = np.asarray(table.values(metric, common_rows, repeat=rep), dtype=np.float64)
        for lab, d in per.items():
            r = np.asarray(sorted(d), dtype=np.int64)
            t = np.asarray(table.values(metric, r, repeat=rep), dtype=np.float64)
            result.runs[lab] = ranking(np.asarray([d[i] for i in r]), t, all_truth, threshold, top_k, seed, 0)
        for key in (*CORRELATIONS, "p_beat_random", "final_model_accuracy"):
            vals = np.asarray([m[key] for m in result.runs.values()], dtype=np.float64)
            result.runs_mean_sd[key] = [float(np.nanmean(vals)),
                                        float(np.nanstd(vals, ddof=1)) if vals.size > 1 else 0.0]
        averaged = np.mean([[per[lab][i] for i in common] for lab in per], axis=0)
        result.run_averaged = ranking(averaged, t_common, all_truth, threshold, top_k, seed, n_boot)
        result.n_archs = len(common)
        result.scores = result.run_averaged
        result.baselines = _baselines(table, common_rows, common, t_common, threshold, zero_cost, data_dir)
    judged = rows if labels is None else common_rows
    result.bias = _bias(table, judged, score if labels is None else averaged,
                        truth if labels is None else t_common)
    if result.baselines:
        result.strongest_baseline = max(result.baselines,
                                        key=lambda b: np.nan_to_num(result.baselines[b]["sparse_kendall_tau"],
                                                                    nan=-2.0))
    return result
