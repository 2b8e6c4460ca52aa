"""A minimal, self-contained HTML report of a study: factor table (ours next to the paper's), grid pivot,
divergences, and the metric-correlation heat map as an embedded PNG (base64)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.atomic import write_text
from wsbench.experiments.aggregate import (
    METRICS,
    SHORT,
    correlations,
    display_table,
    fmt_mean_std,
    per_run,
    study_info,
    summarize,
)

_CSS = ("body{font-family:sans-serif;margin:2em;max-width:80em}table{border-collapse:collapse;font-size:90%}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
        "td:nth-child(-n+3){text-align:left}.note{color:#555}")


def correlation_png(corr: pd.DataFrame) -> bytes:
    """PNG bytes of a Spearman-correlation heat map (annotated cells)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [SHORT.get(c, c) for c in corr.columns]
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * len(labels), 0.8 + 0.8 * len(labels)), dpi=100)
    im = ax.imshow(corr.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for i in range(len(labels)):
        for j in range(len(labels)):
            v = corr.iat[i, j]
            ax.text(j, i, "-" if not np.isfinite(v) else f"{v:.2f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8, label="Spearman")
    ax.set_title("Correlation between metrics across runs")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def grid_pivot(study_dir: str | Path, metric: str = "spearman") -> pd.DataFrame | None:
    """For a two-factor grid: rows = second factor, columns = first factor, cells = mean ± std of ``metric``."""
    info = study_info(study_dir)
    factors = info.get("factors", [])
    if info.get("mode") != "grid" or len(factors) != 2:
        return None
    runs = per_run(study_dir)
    runs = runs[runs["status"] == "finished"]
    if runs.empty:
        return None
    levels = list(runs["levels"])
    runs = runs.assign(_c=[lv.get(factors[0]) for lv in levels], _r=[lv.get(factors[1]) for lv in levels])
    stats = runs.groupby(["_r", "_c"], sort=False)[metric].agg(["mean", "std"])
    cells = {(r, c): fmt_mean_std(m, s) for (r, c), (m, s) in stats.iterrows()}
    rows = list(dict.fromkeys(runs["_r"]))
    cols = list(dict.fromkeys(runs["_c"]))
    return pd.DataFrame([[cells.get((r, c), "-") for c in cols] for r in rows], index=pd.Index(rows, name=factors[1]),
                        columns=pd.Index(cols, name=factors[0]))


def _html_table(frame: pd.DataFrame, index: bool = False) -> str:
    return frame.to_html(index=index, escape=True, border=0, na_rep="")


def write_report(study_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write ``report.html`` (default in ``study_dir``) and return its path."""
    study_dir = Path(study_dir)
    out = Path(out) if out is not None else study_dir / "report.html"
    info = study_info(study_dir)
    paper: dict[str, Any] = info.get("paper") or {}
    summary = summarize(study_dir)
    parts = [f"<h1>Study {html.escape(str(info.get('name', study_dir.name)))}</h1>"]
    meta = [f"mode: {info.get('mode', '?')}", f"fidelity: {info.get('fidelity') or 'as written'}",
            f"seeds: {info.get('seeds', '?')}", f"runs: {int(summary['n'].sum()) if not summary.empty else 0} labels"]
    parts.append(f"<p class='note'>{html.escape(' · '.join(meta))}</p>")
    if info.get("description"):
        parts.append(f"<p>{html.escape(str(info['description']))}</p>")
    if paper.get("source"):
        parts.append(f"<p class='note'>Paper numbers: {html.escape(str(paper['source']))}</p>")
    if paper.get("note"):
        parts.append(f"<p class='note'>{html.escape(str(paper['note']))}</p>")
    parts.append("<h2>Factors: mean ± std over seeds</h2>")
    parts.append(_html_table(display_table(summary, paper)) if not summary.empty else "<p>No runs yet.</p>")
    pivot = grid_pivot(study_dir, str(paper.get("metric", "spearman")))
    if pivot is not None:
        parts.append(f"<h2>Grid: {html.escape(str(paper.get('metric', 'spearman')))}</h2>")
        parts.append(_html_table(pivot, index=True))
    div = summary[(summary["diverged"] > 0) | (summary["failed"] > 0)] if not summary.empty else summary
    parts.append("<h2>Diverged or failed runs</h2>")
    parts.append(_html_table(div[["factor", "value", "n", "diverged", "failed"]]) if not div.empty
                 else "<p>None.</p>")
    corr = correlations(study_dir) if not summary.empty else pd.DataFrame()
    parts.append("<h2>Spearman correlation between metrics</h2>")
    if corr.shape[0] >= 2:
        png = base64.b64encode(correlation_png(corr)).decode("ascii")
        parts.append(f"<img alt='metric correlations' src='data:image/png;base64,{png}'>")
        parts.append(_html_table(corr.rename(index=SHORT, columns=SHORT).round(3), index=True))
    else:
        parts.append("<p>Too few finished runs with varying metrics.</p>")
    missing = [m for m in METRICS if summary.empty or summary[f"{m}_mean"].isna().all()]
    if missing:
        parts.append(f"<p class='note'>No data for: {html.escape(', '.join(missing))}</p>")
    doc = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(str(info.get('name', 'study')))}"
           f"</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>")
    write_text(out, doc)
    return out
