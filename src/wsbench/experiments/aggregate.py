"""Aggregation of a study's results (pandas): the papers' tables and figures as data frames.

* ``summarize``: per (space, factor, value): run counts by status and mean ± std over seeds of each metric of the
  final evaluation, plus ``delta_final`` = mean final-model accuracy minus that of the base setting
  (the factor influence of Fig. 8 of *How to Train Your Super-Net*);
* ``correlations``: Spearman correlations between the metrics across all finished runs (its Fig. 9);
* ``divergence``: counts of diverged / failed runs per factor value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.evaluate.metrics import short_label
from wsbench.experiments.spec import BASE_LABEL
from wsbench.experiments.store import ResultStore

METRICS = ("supernet_accuracy", "sparse_kendall_tau", "kendall_tau", "spearman", "p_beat_random",
           "final_model_accuracy", "params_sparse_kendall_tau", "params_spearman")
SHORT = {m: short_label(m) for m in METRICS}  # labels from the metric registry (wsbench.evaluate.metrics)


def study_info(study_dir: str | Path) -> dict[str, Any]:
    """``study.json`` of a study directory (empty dict when absent)."""
    path = Path(study_dir) / "study.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def per_run(study_dir: str | Path, tag: str = "final") -> pd.DataFrame:
    """One row per run: id, seed, space, status, labels, and the metrics of evaluation ``tag`` as columns."""
    store_path = Path(study_dir) / "results.sqlite"
    if not store_path.exists():
        raise FileNotFoundError(f"{study_dir} holds no results.sqlite; run the study first (wsbench sweep ...)")
    store = ResultStore(store_path)
    runs = pd.DataFrame(store.runs())
    if runs.empty:
        return pd.DataFrame(columns=["id", "seed", "space", "status", "labels", *METRICS])
    runs = runs[["id", "factor", "value", "seed", "space", "status", "labels", "levels", "wall_s", "device"]]
    evals = pd.DataFrame(store.evals())
    if not evals.empty:
        wide = evals[evals["tag"] == tag].pivot_table(index="run_id", columns="metric", values="value",
                                                      aggfunc="last")
        runs = runs.merge(wide, left_on="id", right_index=True, how="left")
    for m in METRICS:
        if m not in runs:
            runs[m] = np.nan
    runs["space"] = runs["space"].fillna("")
    return runs.reset_index(drop=True)


def labelled(runs: pd.DataFrame) -> pd.DataFrame:
    """``per_run`` exploded over labels: one row per (run, factor, value) the run stands for."""
    rows = []
    for rec in runs.to_dict("records"):
        labels = rec.get("labels") or [[rec["factor"], rec["value"]]]
        for factor, value in labels:
            rows.append({**rec, "factor": factor, "value": value})
    return pd.DataFrame(rows, columns=list(runs.columns))


def _order_key(order: list[list[str]]) -> dict[tuple[str, str], int]:
    return {(f, v): i for i, (f, v) in enumerate(order)}


def summarize(study_dir: str | Path, tag: str = "final") -> pd.DataFrame:
    """Mean ± std over seeds per (space, factor, value), status counts and the final-accuracy delta to the base."""
    runs = per_run(study_dir, tag)
    cols = ["space", "factor", "value", "n", "finished", "diverged", "failed"]
    cols += [f"{m}_{s}" for m in METRICS for s in ("mean", "std")] + ["delta_final"]
    if runs.empty:
        return pd.DataFrame(columns=cols)
    lab = labelled(runs)
    out = []
    for (space, factor, value), grp in lab.groupby(["space", "factor", "value"], sort=False):
        ok = grp[grp["status"] == "finished"]
        rec: dict[str, Any] = {"space": space, "factor": factor, "value": value, "n": len(grp),
                               "finished": len(ok), "diverged": int((grp["status"] == "diverged").sum()),
                               "failed": int((grp["status"] == "failed").sum())}
        for m in METRICS:
            vals = ok[m].dropna().astype(float)
            rec[f"{m}_mean"] = float(vals.mean()) if len(vals) else np.nan
            rec[f"{m}_std"] = float(vals.std(ddof=1)) if len(vals) > 1 else (0.0 if len(vals) == 1 else np.nan)
        out.append(rec)
    table = pd.DataFrame(out)
    base = table[table["factor"] == BASE_LABEL].set_index("space")["final_model_accuracy_mean"]
    table["delta_final"] = table["final_model_accuracy_mean"] - table["space"].map(base)
    order = _order_key(study_info(study_dir).get("order", []))
    table["_o"] = [order.get((f, v), len(order)) for f, v in zip(table["factor"], table["value"], strict=True)]
    table = table.sort_values(["space", "_o"], kind="stable").drop(columns="_o")
    return table[cols].reset_index(drop=True)


def correlations(study_dir: str | Path, tag: str = "final", metrics: tuple[str, ...] = METRICS) -> pd.DataFrame:
    """Spearman correlation matrix between ``metrics`` across the finished runs (metrics without data dropped)."""
    runs = per_run(study_dir, tag)
    ok = runs[runs["status"] == "finished"]
    cols = [m for m in metrics if m in ok and ok[m].notna().sum() >= 2 and ok[m].nunique() > 1]
    return ok[cols].astype(float).corr(method="spearman")


def divergence(study_dir: str | Path) -> pd.DataFrame:
    """Per (space, factor, value): runs, diverged and failed counts (only values with any divergence/failure)."""
    table = summarize(study_dir)[["space", "factor", "value", "n", "diverged", "failed"]]
    return table[(table["diverged"] > 0) | (table["failed"] > 0)].reset_index(drop=True)


def paper_frame(paper: dict[str, Any]) -> pd.DataFrame:
    """The ``paper.rows`` facts of a study as a frame of text cells ``mean ± std`` (or the single number)."""
    rows = []
    for row in paper.get("rows", []) or []:
        rec = {"factor": str(row.get("factor")), "value": str(row.get("value"))}
        for m in METRICS:
            if m in row:
                rec[m] = fmt_fact(row[m])
        rows.append(rec)
    return pd.DataFrame(rows)


def fmt_fact(fact: Any) -> str:
    """``[92.67, 1.21]`` -> ``'92.67 ± 1.21'``; a number as it is; None -> ``'N/A'``."""
    if fact is None:
        return "N/A"
    if isinstance(fact, list | tuple):
        return f"{fact[0]} ± {fact[1]}" if len(fact) == 2 else ", ".join(map(str, fact))
    return str(fact)


def fmt_mean_std(mean: float, std: float, digits: int = 3) -> str:
    """``'0.712 ± 0.031'``, or ``'-'`` without data."""
    if mean is None or not np.isfinite(mean):
        return "-"
    if std is None or not np.isfinite(std):
        return f"{mean:.{digits}f}"
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def display_table(summary: pd.DataFrame, paper: dict[str, Any] | None = None, digits: int = 3) -> pd.DataFrame:
    """A human-readable table: ``mean ± std`` cells, status counts, delta, and the paper's numbers next to ours."""
    out = summary[["space", "factor", "value", "n", "diverged"]].copy()
    for m in METRICS:
        if summary[f"{m}_mean"].notna().any():
            out[SHORT[m]] = [fmt_mean_std(a, b, digits) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"],
                                                                         strict=True)]
    out["Δfinal"] = [f"{d:+.2f}" if np.isfinite(d) else "-" for d in summary["delta_final"].astype(float)]
    facts = paper_frame(paper or {})
    if not facts.empty:
        facts = facts.rename(columns={m: f"paper {SHORT[m]}" for m in METRICS})
        out = out.merge(facts, on=["factor", "value"], how="left").fillna({c: "" for c in facts.columns})
    if (out["space"] == "").all():
        out = out.drop(columns="space")
    return out
