"""Scatter plot of proxy accuracy against ground truth for one evaluation (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from wsbench.atomic import atomic_path
from wsbench.evaluate import metrics as M


def scatter_plot(frame: pd.DataFrame, path: str | Path, title: str = "", threshold: float = 0.1) -> Path:
    """Write a PNG of ``frame.proxy_acc`` (x) against ``frame.truth`` (y), metrics in the title.

    ``frame`` is an ``evals/<tag>.parquet`` table (columns ``proxy_acc`` and ``truth``). With a ``params`` column
    the points are coloured by stand-alone parameter count (the direction of the low-fidelity bias,
    docs/low-fidelity.md) and the title adds the s-KdT of the super-net + parameter-count ranking.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    missing = {"proxy_acc", "truth"} - set(frame.columns)
    if missing:
        raise ValueError(f"scatter_plot needs columns proxy_acc and truth; missing {sorted(missing)}")
    proxy, truth = frame["proxy_acc"].to_numpy(float), frame["truth"].to_numpy(float)
    line = ""
    params = frame["params"].to_numpy(float) if "params" in frame else None
    if len(frame) >= 2:
        line = (f"KdT {M.kendall_tau(proxy, truth):.3f}  s-KdT {M.sparse_kendall_tau(proxy, truth, threshold):.3f}"
                f"  Spearman {M.spearman(proxy, truth):.3f}  n={len(frame)}")
        if params is not None:
            from scipy.stats import rankdata

            hybrid = rankdata(proxy) + rankdata(params)
            line += f"\nsuper-net + parameter count: s-KdT {M.sparse_kendall_tau(hybrid, truth, threshold):.3f}"
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=120)
    try:
        if params is None:
            ax.scatter(proxy, truth, s=10, alpha=0.7)
        else:
            points = ax.scatter(proxy, truth, s=10, alpha=0.8, c=params / 1e6, cmap="viridis")
            fig.colorbar(points, ax=ax, label="stand-alone parameters (M)")
        ax.set_xlabel("super-net proxy accuracy (%)")
        ax.set_ylabel("ground-truth accuracy (%)")
        ax.set_title("\n".join(t for t in (title, line) if t), fontsize=9)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        path = Path(path)
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return path

