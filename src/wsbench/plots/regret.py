"""Regret plots: mean test regret with its 95% interval vs evaluations and (where known) vs time, log-log."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from wsbench.atomic import atomic_path
from wsbench.stats.curves import summarise


def plot_regret(frames_by_label: Mapping[str, pd.DataFrame], path: str | Path, title: str | None = None) -> Path:
    """Plot the regret curves (``run_many`` frames) of several algorithms into ``path`` (PNG, atomic write).

    One panel per axis: evaluations, and time when any of the frames has known costs. Each algorithm is a mean
    line with a shaded 95% t-interval over runs.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not frames_by_label:
        raise ValueError("nothing to plot: no regret curves given")
    summaries = {label: summarise(frame) for label, frame in frames_by_label.items()}
    axes_names = ["evaluations"]
    if any((s["axis"] == "time").any() for s in summaries.values()):
        axes_names.append("time")
    fig, axes = plt.subplots(1, len(axes_names), figsize=(5.5 * len(axes_names), 4.2), squeeze=False)
    for ax, axis in zip(axes[0], axes_names, strict=True):
        for label, summ in summaries.items():
            part = summ[summ["axis"] == axis]
            if part.empty:
                continue
            (line,) = ax.plot(part["x"], part["mean"], label=label)
            ax.fill_between(part["x"], part["lo"], part["hi"], color=line.get_color(), alpha=0.25, linewidth=0)
        ax.set_xscale("log")
        ax.set_yscale("log", nonpositive="mask")
        ax.set_xlabel("evaluations" if axis == "evaluations" else "time (s)")
        ax.set_ylabel("test regret (accuracy points)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path
