"""The report's figures (matplotlib, Agg backend). Every ``*_plot`` function writes one PNG and returns its path.

* ``bias_scatter_plot``: proxy vs ground truth with marginal histograms, coloured by a structural property
  (*To Share or Not To Share*, Fig. 3-4);
* ``rank_disorder_plot``: lines between ground-truth rank and proxy rank (*How to Train Your Super-Net*, Fig. 12);
* ``sampler_coverage_plot``: ground-truth rank and accuracy of the paths each sampler draws (its Fig. 6);
* ``metric_curves_plot``: ranking metrics per evaluation epoch next to the parameter-count baseline;
* ``training_curves_plot``: training loss and accuracy per step;
* ``regret_plot``: regret curves of a search output directory (``wsbench.plots.regret``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from wsbench.atomic import atomic_path
from wsbench.evaluate import metrics as M

#: (metric key in an eval record, label, parameter-count baseline key) of the correlation panel.
CORRELATIONS = tuple((m.key, m.name, m.baseline) for m in M.correlations())
ACCURACIES = tuple((k, M.REGISTRY[k].name) for k in ("supernet_accuracy", "final_model_accuracy"))
_DPI = 110


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> Path:
    """Write ``fig`` as PNG atomically to ``path`` and close it."""
    plt = pyplot()
    path = Path(path)
    try:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=_DPI, bbox_inches="tight", pad_inches=0.15)
    finally:
        plt.close(fig)
    return path


def _columns(frame: pd.DataFrame, *names: str) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ValueError(f"the evaluation table lacks column(s) {missing}; expected an evals/<tag>.parquet table")


# -- bias scatter ------------------------------------------------------------------------------------------------
def bias_scatter_figure(frame: pd.DataFrame, values: pd.Series | None = None, label: str = "",
                        categorical: bool | None = None, title: str = "") -> Any:
    """Figure of ``truth`` (x) against ``proxy_acc`` (y) with marginal histograms, coloured by ``values``.

    Categorical ``values`` draw one colour per group and per-group marginal histograms (the over/under-evaluation
    biases of Fig. 4); numeric ones a colour map with a colour bar.
    """

    plt = pyplot()
    _columns(frame, "proxy_acc", "truth")
    x, y = frame["truth"].to_numpy(float), frame["proxy_acc"].to_numpy(float)
    fig = plt.figure(figsize=(6.4, 6.0))
    grid = fig.add_gridspec(2, 2, width_ratios=(4, 1), height_ratios=(1, 4), wspace=0.05, hspace=0.05)
    ax = fig.add_subplot(grid[1, 0])
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    right = fig.add_subplot(grid[1, 1], sharey=ax)
    bins_x = np.histogram_bin_edges(x, bins=min(30, max(5, len(x) // 5)))
    bins_y = np.histogram_bin_edges(y, bins=min(30, max(5, len(y) // 5)))
    top.hist(x, bins=bins_x, color="0.75", label="all")
    right.hist(y, bins=bins_y, color="0.75", orientation="horizontal")
    if values is None:
        ax.scatter(x, y, s=12, alpha=0.7, color="C0", edgecolors="none")
    elif categorical if categorical is not None else is_categorical(values):
        cats = values.astype(object).where(values.notna(), "missing")
        groups = sorted(pd.unique(cats), key=str)
        for i, g in enumerate(groups):
            mask = (cats == g).to_numpy()
            color = f"C{i % 10}"
            ax.scatter(x[mask], y[mask], s=12, alpha=0.75, color=color, edgecolors="none",
                       label=f"{g} (n={int(mask.sum())})")
            top.hist(x[mask], bins=bins_x, histtype="step", color=color, linewidth=1.4)
            right.hist(y[mask], bins=bins_y, histtype="step", color=color, linewidth=1.4, orientation="horizontal")
        ax.legend(title=label or None, fontsize=7, title_fontsize=8, loc="best", markerscale=1.5)
    else:
        points = ax.scatter(x, y, s=12, alpha=0.8, c=values.to_numpy(float), cmap="viridis", edgecolors="none")
        fig.colorbar(points, ax=right, label=label, fraction=0.5, pad=0.1)
    ax.set_xlabel("ground-truth accuracy (%)")
    ax.set_ylabel("super-net proxy accuracy (%)")
    ax.grid(alpha=0.3)
    top.tick_params(labelbottom=False)
    right.tick_params(labelleft=False)
    top.set_ylabel("count", fontsize=8)
    right.set_xlabel("count", fontsize=8)
    if title:
        top.set_title(title, fontsize=9)
    return fig


def bias_scatter_plot(frame: pd.DataFrame, path: str | Path, values: pd.Series | None = None, label: str = "",
                      categorical: bool | None = None, title: str = "") -> Path:
    """Write ``bias_scatter_figure`` to ``path`` (PNG)."""
    return save_figure(bias_scatter_figure(frame, values, label, categorical, title), path)


# -- rank disorder -----------------------------------------------------------------------------------------------
def rank_error_plot(rows: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Mean rank error (percentile points, positive = ranked too high) of each level of each structural property
    with its 95% interval, one panel per property (``rows`` from ``wsbench.evaluate.bias.bias_breakdown``)."""
    plt = pyplot()
    props = list(dict.fromkeys(r["property"] for r in rows))
    fig, axes = plt.subplots(1, max(len(props), 1), figsize=(2.6 * max(len(props), 1), 3.2), squeeze=False,
                             sharey=True)
    for ax, prop in zip(axes[0], props, strict=False):
        sub = [r for r in rows if r["property"] == prop]
        x = np.arange(len(sub))
        mean = np.asarray([r["mean_error"] for r in sub], dtype=float)
        lo = np.asarray([r["ci"][0] for r in sub], dtype=float)
        hi = np.asarray([r["ci"][1] for r in sub], dtype=float)
        ax.bar(x, mean, color=["#c0392b" if m > 0 else "#2e86c1" for m in mean], alpha=0.8)
        ax.errorbar(x, mean, yerr=[np.nan_to_num(mean - lo), np.nan_to_num(hi - mean)], fmt="none", ecolor="k",
                    capsize=2, lw=0.8)
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_xticks(x, [str(r["level"]).split(":")[0] for r in sub], fontsize=7)
        ax.set_title(prop, fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    axes[0][0].set_ylabel("mean rank error (pct points)")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def rank_pairs(proxy: Sequence[float] | np.ndarray, truth: Sequence[float] | np.ndarray) -> np.ndarray:
    """``(n, 2)`` ranks (1 = best) of each architecture by ground truth (column 0) and by proxy (column 1).

    Ties are broken by list order, so both columns are permutations of ``1..n``.
    """
    p, t = np.asarray(proxy, dtype=float), np.asarray(truth, dtype=float)
    if p.shape != t.shape or p.ndim != 1:
        raise ValueError(f"proxy and truth must be 1-D of equal length, got {p.shape} and {t.shape}")
    return np.stack([stats.rankdata(-t, method="ordinal"), stats.rankdata(-p, method="ordinal")], axis=1)


def rank_disorder_figure(proxy: Sequence[float] | np.ndarray, truth: Sequence[float] | np.ndarray,
                         title: str = "") -> Any:
    """Bipartite figure: one line per architecture from its ground-truth rank (x=0) to its proxy rank (x=1)."""
    from matplotlib.collections import LineCollection

    plt = pyplot()
    ranks = rank_pairs(proxy, truth)
    n = len(ranks)
    segments = np.stack([np.stack([np.zeros(n), ranks[:, 0]], 1), np.stack([np.ones(n), ranks[:, 1]], 1)], axis=1)
    fig, ax = plt.subplots(figsize=(3.6, 5.2))
    lines = LineCollection(segments, cmap="viridis_r", linewidths=0.8, alpha=0.8)
    lines.set_array(ranks[:, 0].astype(float))
    ax.add_collection(lines)
    ax.set_xlim(-0.1, 1.1)
    ax.set_ylim(n + 1, 0)
    ax.set_xticks([0, 1], ["ground truth", "super-net"])
    ax.set_ylabel("rank (1 = best)")
    ax.set_title(title or f"ranking disorder, {n} architectures", fontsize=9)
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def rank_disorder_plot(proxy: Sequence[float] | np.ndarray, truth: Sequence[float] | np.ndarray, path: str | Path,
                       title: str = "") -> Path:
    """Write ``rank_disorder_figure`` to ``path`` (PNG)."""
    return save_figure(rank_disorder_figure(proxy, truth, title), path)


# -- sampler coverage --------------------------------------------------------------------------------------------
def sampler_coverage(space: Any, table: Any, metric: str, samplers: Sequence[str], n_paths: int = 10_000,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Table rows of ``n_paths`` paths drawn by each sampler (``make_sampler`` with ``default_rng(seed)``).

    Paths the table does not know are dropped, so a sampler's array may be shorter than ``n_paths``.
    """
    from wsbench.sampling import make_sampler

    if n_paths < 1:
        raise ValueError(f"n_paths must be >= 1, got {n_paths}")
    table.values(metric)  # fail early, naming the metric, when the table lacks it
    out: dict[str, np.ndarray] = {}
    for name in samplers:
        sampler = make_sampler(name, space, np.random.default_rng(seed), table=table)
        archs: list[Any] = []
        while len(archs) < n_paths:
            archs.extend(sampler.next())
        idx = table.index(space.keys(archs[:n_paths]), missing="ignore")
        out[name] = idx[idx >= 0]
    return out


def truth_ranks(table: Any, metric: str) -> np.ndarray:
    """Rank (0 = best) of every table row by ``metric`` (ties share the lowest rank; NaN rows rank last)."""
    vals = np.nan_to_num(table.values(metric), nan=-np.inf)
    return (stats.rankdata(-vals, method="min") - 1).astype(np.int64)


def sampler_coverage_plot(space: Any, table: Any, metric: str, samplers: Sequence[str], path: str | Path,
                          n_paths: int = 10_000, seed: int = 0) -> Path:
    """Histograms of the ground-truth rank and accuracy of the paths each sampler draws (Fig. 6)."""
    plt = pyplot()
    rows = sampler_coverage(space, table, metric, samplers, n_paths, seed)
    ranks, acc = truth_ranks(table, metric), table.values(metric)
    finite = acc[np.isfinite(acc)]
    rank_bins = np.linspace(0, len(table), 41)
    acc_bins = np.linspace(np.percentile(finite, 0.5), finite.max(), 41) if len(finite) else 40
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (name, idx) in enumerate(rows.items()):
        style = {"histtype": "step", "linewidth": 1.5, "color": f"C{i % 10}",
                 "label": f"{name} ({len(idx):,} of {n_paths:,} in table)"}
        axes[0].hist(ranks[idx], bins=rank_bins, **style)
        axes[1].hist(acc[idx][np.isfinite(acc[idx])], bins=acc_bins, **style)
    axes[0].set_xlabel(f"ground-truth rank by {metric} (0 = best)")
    axes[1].set_xlabel(f"{metric} (%)")
    for ax in axes:
        ax.set_ylabel("sampled paths")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"sampler coverage on {space.name} ({table.name}), seed {seed}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


# -- curves ------------------------------------------------------------------------------------------------------
def metric_curves_plot(evals: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Ranking metrics and accuracies per evaluation epoch; dashed lines: the parameter-count baseline.

    ``evals`` are the ``kind="eval"`` records of ``metrics.jsonl`` (keys ``epoch``, the metric names and
    ``params_*`` baselines). A baseline is drawn at its latest value (it does not depend on the weights).
    """
    plt = pyplot()
    if not evals:
        raise ValueError("no evaluation records to plot; the run has not been evaluated yet")
    frame = pd.DataFrame(list(evals)).sort_values("epoch", kind="stable")
    epochs = frame["epoch"].to_numpy(float)
    fig, (ax_c, ax_a) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (key, label, base) in enumerate(CORRELATIONS):
        if key not in frame:
            continue
        (line,) = ax_c.plot(epochs, frame[key].to_numpy(float), marker="o", ms=4, color=f"C{i}", label=label)
        if base in frame and frame[base].notna().any():
            value = float(frame[base].dropna().iloc[-1])
            ax_c.axhline(value, color=line.get_color(), linestyle="--", linewidth=1.1,
                         label=f"{label} of #params ({value:.3f})")
    ax_c.axhline(0.0, color="0.5", linewidth=0.6)
    ax_c.set_ylabel("rank correlation with ground truth")
    ax_c.legend(fontsize=7)
    for i, (key, label) in enumerate(ACCURACIES):
        if key in frame:
            ax_a.plot(epochs, frame[key].to_numpy(float), marker="o", ms=4, color=f"C{i + 3}", label=label)
    ax_a.set_ylabel("accuracy (%)")
    ax_a.legend(fontsize=7)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_c, ax_a):
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def training_curves_plot(records: Sequence[Mapping[str, Any]], path: str | Path, title: str = "") -> Path:
    """Training loss and accuracy (and the learning rate, dotted, on a second axis) per optimiser step."""
    plt = pyplot()
    if not records:
        raise ValueError("no training records to plot")
    frame = pd.DataFrame(list(records)).sort_values("step", kind="stable")
    steps = frame["step"].to_numpy(float)
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(10, 3.4))
    if "loss" in frame:
        ax_l.plot(steps, frame["loss"].to_numpy(float), color="C0", label="loss")
    ax_l.set_ylabel("training loss")
    if "lr" in frame:
        ax_lr = ax_l.twinx()
        ax_lr.plot(steps, frame["lr"].to_numpy(float), color="0.5", linestyle=":", label="learning rate")
        ax_lr.set_ylabel("learning rate", color="0.4")
    if "train_acc" in frame:
        ax_a.plot(steps, frame["train_acc"].to_numpy(float), color="C1")
    ax_a.set_ylabel("training accuracy of sampled paths (%)")
    for ax in (ax_l, ax_a):
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def regret_plot(curves_by_label: Mapping[str, pd.DataFrame], path: str | Path, title: str | None = None) -> Path:
    """Regret curves (``curves.csv`` frames) with 95% intervals, through ``wsbench.plots.regret.plot_regret``."""
    from wsbench.plots.regret import plot_regret

    return plot_regret(curves_by_label, path, title)


def is_categorical(values: pd.Series, max_levels: int = 12) -> bool:
    """Whether a property reads best as groups (text, booleans, few distinct integers) or as a colour map."""
    if values.dtype == bool or not pd.api.types.is_numeric_dtype(values):
        return True
    finite = values.dropna()
    integral = bool(np.all(np.mod(finite.to_numpy(dtype=float), 1.0) == 0)) if len(finite) else True
    return integral and finite.nunique() <= max_levels
