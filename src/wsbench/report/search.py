"""The report of a search output directory (``wsbench search``: ``curves.csv`` and ``summary.json``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from wsbench.plots import figures as plots
from wsbench.report.document import Alert, Document, Figure, Section, rows_table
from wsbench.report.rundata import ReportError

SEARCH_MARKERS = ("curves.csv", "summary.json")
#: A column of ``curves.csv`` that, when present, separates several algorithms' curves.
LABEL_COLUMNS = ("label", "algo", "algorithm")


def is_search_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a search output (curves.csv and summary.json)."""
    return all((Path(path) / m).exists() for m in SEARCH_MARKERS)


def _flat(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [row for k, v in value.items() for row in _flat(f"{prefix}.{k}" if prefix else str(k), v)]
    if isinstance(value, float):
        return [(prefix, f"{value:.4g}")]
    if isinstance(value, list):
        return [(prefix, ", ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in value))]
    return [(prefix, str(value))]


def curves_by_label(curves: pd.DataFrame, default: str) -> dict[str, pd.DataFrame]:
    """Split ``curves.csv`` by its label column when it has one, else one curve set named ``default``."""
    for col in LABEL_COLUMNS:
        if col in curves.columns:
            return {str(k): g.drop(columns=col) for k, g in curves.groupby(col, sort=False)}
    return {default: curves}


def search_document(root: str | Path, assets: str | Path) -> Document:
    """Summary table, notes and the regret plot of a search output directory; figures go to ``assets``."""
    root, assets = Path(root), Path(assets).resolve()
    if not is_search_dir(root):
        raise ReportError(f"{root} is not a search output directory (needs {' and '.join(SEARCH_MARKERS)})")
    assets.mkdir(parents=True, exist_ok=True)
    summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    curves = pd.read_csv(root / "curves.csv")
    algo = str(summary.get("algo", "search")).upper()
    title = f"{summary.get('space', '?')} {summary.get('subspace') or ''} ({summary.get('table', '?')})".strip()
    doc = Document(f"wsbench search report: {algo} on {title}", f"directory {root.resolve()}")
    sec = Section("search", "Search summary")
    for note in summary.get("notes", []) or []:
        sec.blocks.append(Alert(str(note), "info"))
    rows = [r for r in _flat("", summary) if not r[0].startswith("notes")]
    sec.blocks.append(rows_table(("field", "value"), rows))
    doc.sections.append(sec)
    regret = Section("regret", "Regret curves")
    try:
        path = plots.regret_plot(curves_by_label(curves, algo), assets / "regret.png",
                                 title=f"{title}, {summary.get('runs', '?')} runs")
        regret.blocks.append(Figure(path, "Mean test regret over runs with its 95% t-interval, log-log "
                                          "(To Share or Not To Share, Fig. 2)."))
    except ValueError as exc:
        regret.blocks.append(Alert(f"no regret plot: {exc}", "warning"))
    doc.sections.append(regret)
    return doc
