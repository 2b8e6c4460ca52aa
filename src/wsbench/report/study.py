"""The report of a study directory (``results.sqlite`` written by ``wsbench.experiments``).

Sections: ``study`` (what was run, status counts, divergences), ``factors`` (mean ± std over seeds per factor
value, and the influence of each factor on the final model, *How to Train Your Super-Net* Fig. 8) and
``correlations`` (Spearman correlations between the metrics across runs, and their pairwise plots, its Fig. 9).
The tables come from ``wsbench.experiments.aggregate``; without that module the report says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.evaluate import metrics as M
from wsbench.plots import figures as plots
from wsbench.report.document import Alert, Document, Figure, Section, Table, Text, rows_table

DB_NAME = "results.sqlite"
NEEDS_EXPERIMENTS = "study reports need wsbench.experiments (its aggregate module is not importable)"
PAIR_METRICS = tuple(k for k, m in M.REGISTRY.items() if m.headline)  # Yu et al.'s three headline metrics


def is_study_dir(path: str | Path) -> bool:
    """Whether ``path`` holds a study's results store."""
    return (Path(path) / DB_NAME).exists()


def factor_influence_plot(summary: pd.DataFrame, path: str | Path) -> Path | None:
    """Bar chart of ``delta_final`` (final-model accuracy minus the base setting's) per factor value; None when
    no value has a delta."""
    plt = plots.pyplot()
    rows = summary[np.isfinite(summary["delta_final"].astype(float)) & (summary["factor"] != "base")]
    if rows.empty:
        return None
    labels = [f"{s + ': ' if s else ''}{f}={v}" for s, f, v in zip(rows["space"], rows["factor"], rows["value"],
                                                                    strict=True)]
    deltas = rows["delta_final"].to_numpy(float)
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(rows) + 1.4))
    ax.barh(np.arange(len(rows)), deltas, color=["C2" if d >= 0 else "C3" for d in deltas])
    ax.set_yticks(np.arange(len(rows)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="0.3", linewidth=0.8)
    ax.set_xlabel("final-model accuracy minus the base setting (points)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return plots.save_figure(fig, path)


def metric_pairs_plot(runs: pd.DataFrame, path: str | Path, metrics: tuple[str, ...] = PAIR_METRICS) -> Path | None:
    """Pairwise scatter plots of ``metrics`` over finished runs (one point per run); None with < 2 such runs."""
    plt = plots.pyplot()
    cols = [m for m in metrics if m in runs and runs[m].notna().sum() >= 2]
    if len(cols) < 2:
        return None
    pairs = [(a, b) for i, a in enumerate(cols) for b in cols[i + 1:]]
    fig, axes = plt.subplots(1, len(pairs), figsize=(3.6 * len(pairs), 3.4), squeeze=False)
    for ax, (a, b) in zip(axes[0], pairs, strict=True):
        ok = runs[[a, b]].dropna()
        ax.scatter(ok[a], ok[b], s=16, alpha=0.8)
        ax.set_xlabel(a, fontsize=8)
        ax.set_ylabel(b, fontsize=8)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return plots.save_figure(fig, path)


def study_document(root: str | Path, assets: str | Path) -> Document:
    """The report ``Document`` of a study directory; figures are written into ``assets``."""
    root, assets = Path(root), Path(assets).resolve()
    try:
        from wsbench.experiments import aggregate as agg
    except ImportError:
        return Document(f"wsbench study report: {root.name}", f"directory {root.resolve()}",
                        [Section("study", "Study", [Alert(NEEDS_EXPERIMENTS, "warning")])])
    assets.mkdir(parents=True, exist_ok=True)
    info = agg.study_info(root)
    runs = agg.per_run(root)
    summary = agg.summarize(root)
    doc = Document(f"wsbench study report: {info.get('name', root.name)}", f"directory {root.resolve()}")
    findings = _findings_section(root)
    if findings is not None:
        doc.sections.append(findings)
    sec = Section("study", "Study")
    if info.get("description"):
        sec.blocks.append(Text(str(info["description"])))
    counts = runs["status"].value_counts().to_dict() if not runs.empty else {}
    sec.blocks.append(rows_table(("field", "value"), [
        ("mode", info.get("mode", "-")), ("fidelity", info.get("fidelity") or "-"),
        ("factors", ", ".join(info.get("factors", [])) or "-"), ("seeds", str(info.get("seeds", "-"))),
        ("runs", str(len(runs))), *((f"runs {k}", str(v)) for k, v in counts.items())]))
    div = agg.divergence(root)
    if not div.empty:
        sec.blocks.append(Alert(f"{int(div['diverged'].sum())} run(s) diverged and {int(div['failed'].sum())} "
                                f"failed; they are excluded from the means below.", "danger"))
        sec.blocks.append(Table.from_frame(div, caption="Diverged or failed runs per factor value"))
    doc.sections.append(sec)
    doc.sections.append(_factors_section(agg, root, summary, info, assets))
    doc.sections.append(_correlations_section(agg, root, runs, assets))
    return doc


def _findings_section(root: Path) -> Section | None:
    """The paper's findings with our difference, its 95% CI, the Welch p-value and the verdict (first section)."""
    from wsbench.experiments.findings import evaluate_findings, findings_frame

    verdicts = evaluate_findings(root)
    if not verdicts:
        return None
    sec = Section("findings", "Findings: which of the paper's claims hold")
    counts = pd.Series([v.verdict for v in verdicts]).value_counts().to_dict()
    sec.blocks.append(Text(", ".join(f"{n} {k}" for k, n in counts.items()) + " (reproduced: the 95% interval of "
                           "our difference lies on the paper's side of zero; contradicted: on the other side; "
                           "inconclusive: it contains zero or a side has fewer than two finished runs)."))
    sec.blocks.append(Table.from_frame(findings_frame(verdicts), caption="paper / ours: left minus right of the "
                                       "claim; CI and p: Welch's t-test over seeds"))
    return sec


def _factors_section(agg: Any, root: Path, summary: pd.DataFrame, info: dict[str, Any], assets: Path) -> Section:
    sec = Section("factors", "Per-factor results")
    if summary.empty:
        sec.blocks.append(Text("No runs recorded yet."))
        return sec
    paper = info.get("paper")
    from wsbench.experiments.findings import annotate

    summary, _ = annotate(summary, root)
    table = agg.display_table(summary, paper)
    if "sparse_kendall_tau_avg" in summary:
        table["s-KdT (avg proxy)"] = [f"{x:.3f}" if x == x else "-" for x in summary["sparse_kendall_tau_avg"]]
    table["note"] = ["no effect — the switch changed nothing" if x else "" for x in summary["no_effect"]]
    caption = ("Mean ± std over seeds of the final evaluation of finished runs; Δfinal: final-model accuracy minus "
               "the base setting.")
    if paper and paper.get("source"):
        caption += f" Paper columns: {paper['source']}."
    sec.blocks.append(Table.from_frame(table, caption=caption))
    path = factor_influence_plot(summary, assets / "factor_influence.png")
    if path is not None:
        sec.blocks.append(Figure(path, "Influence of each factor on the final model (How to Train Your Super-Net, "
                                       "Fig. 8)."))
    return sec


def _correlations_section(agg: Any, root: Path, runs: pd.DataFrame, assets: Path) -> Section:
    sec = Section("correlations", "Metric correlations across runs")
    corr = agg.correlations(root)
    if corr.empty or len(corr) < 2:
        sec.blocks.append(Text("Fewer than two metrics vary across finished runs: no correlations."))
        return sec
    named = corr.rename(index=agg.SHORT, columns=agg.SHORT).rename_axis("metric")
    sec.blocks.append(Table.from_frame(named, index=True,
                                       caption="Spearman correlation between metrics over finished runs"))
    ok = runs[runs["status"] == "finished"] if not runs.empty else runs
    path = metric_pairs_plot(ok, assets / "metric_pairs.png")
    if path is not None:
        sec.blocks.append(Figure(path, "One point per finished run (How to Train Your Super-Net, Fig. 9)."))
    return sec
