"""The bias of a ranking: where it puts groups of architectures that share a structural trait.

Ning et al. (*Evaluating Efficient Performance Estimators of Neural Architectures*, NeurIPS 2021) and
docs/low-fidelity.md find one-shot estimators biased by structure: skip-heavy cells ranked too high, convolution-
heavy cells too low. ``bias_breakdown`` measures it for any judged ranking: the rank error of a cell is its rank
by the score minus its rank by the ground truth, in percentile points of the judged population (positive = ranked
too high; ties share their mean rank), and the breakdown is its mean, with a 95% t-interval, over the cells of each
level of a structural property:

* ``n_<op>``: how many edges / vertices of the cell(s) carry operation ``<op>`` (each op of the space);
* ``depth``: the longest input -> output path of the cell (``space.depth``);
* ``params``: the stand-alone parameter count, by quintile.

An unbiased ranking has every group mean near zero; ``error_vs_params`` is the Spearman correlation of the error
with the parameter count over all cells.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def rank_error(score: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-cell rank error in percentile points: rank by ``score`` minus rank by ``truth`` (ties averaged)."""
    from scipy.stats import rankdata

    score, truth = np.asarray(score, dtype=np.float64), np.asarray(truth, dtype=np.float64)
    return (rankdata(score) - rankdata(truth)) / max(score.size, 1) * 100.0


def structural_properties(space: Any, archs: Sequence[Any], params: np.ndarray | None = None) -> pd.DataFrame:
    """One row per architecture: ``n_<op>`` counts for every operation the cells use, ``depth`` and the
    parameter-count quintile ``params`` (when ``params`` is given); ``depth`` only where the space defines one."""
    names = [space.op_names(a) for a in archs]
    ops = sorted({n for row in names for n in row})
    frame = pd.DataFrame({f"n_{op}": [row.count(op) for row in names] for op in ops})
    with contextlib.suppress(NotImplementedError):  # a space may define no depth (optional in SearchSpace)
        frame["depth"] = [space.depth(a) for a in archs]
    if params is not None and len(archs) >= 5:
        p = np.asarray(params, dtype=np.float64)
        edges = np.unique(np.quantile(p, [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]))
        if edges.size > 2:
            bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, edges.size - 2)
            frame["params"] = [f"q{b + 1}: {edges[b]:.3g}-{edges[b + 1]:.3g}" for b in bins]
    return frame


def bias_breakdown(space: Any, archs: Sequence[Any], score: np.ndarray, truth: np.ndarray,
                   params: np.ndarray | None = None, min_cells: int = 3) -> dict[str, Any]:
    """The mean rank error by structural property (levels with at least ``min_cells`` cells).

    Returns ``{"rows": [{property, level, n, mean_error, ci}], "error_vs_params": rho or None}``; the rows are
    the table of the report, ``ci`` the 95% t-interval of the group mean.
    """
    from scipy import stats

    err = rank_error(score, truth)
    props = structural_properties(space, archs, params)
    rows: list[dict[str, Any]] = []
    for prop in props.columns:
        for level, idx in props.groupby(prop).groups.items():
            e = err[np.asarray(list(idx), dtype=np.int64)]
            if e.size < min_cells:
                continue
            mean = float(e.mean())
            half = float(stats.t.ppf(0.975, e.size - 1) * e.std(ddof=1) / np.sqrt(e.size)) if e.size > 1 else np.nan
            rows.append({"property": prop, "level": level if isinstance(level, str) else int(level),
                         "n": int(e.size), "mean_error": mean, "ci": [mean - half, mean + half]})
    rho = None
    if params is not None and np.ptp(np.asarray(params, float)) > 0 and np.ptp(err) > 0:
        rho = float(stats.spearmanr(err, params).statistic)
    return {"rows": rows, "error_vs_params": rho}
