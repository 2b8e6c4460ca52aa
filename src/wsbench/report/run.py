"""The report of one super-net run: status, headline metrics with intervals and baselines, figures, config.

Sections (HTML ids): ``status``, ``metrics``, ``bias``, ``ranking``, ``curves``, ``sampling``, ``training``,
``config``. A section whose data is missing says so instead of disappearing, so a reader sees what was not
measured.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.evaluate import metrics as M
from wsbench.plots import figures as plots
from wsbench.registry import SpaceInfo, space_info
from wsbench.report.document import Alert, Code, Document, Figure, Section, Text, rows_table
from wsbench.report.properties import PropertyError, key_texts, property_values
from wsbench.report.rundata import RunData, correlation_rows, read_run

_OTHER_METRICS = tuple((k, M.REGISTRY[k].label) for k in ("supernet_accuracy", "final_model_accuracy",
                                                            "p_beat_random", "found_quantile", "n_archs"))


def _info(run: RunData) -> SpaceInfo:
    return space_info(run.space_name)


def _column_label(name: str) -> str:
    if name == "params":
        return "#params baseline"
    if name == "ensemble":
        return "ensemble super-net + #params (eval.proxy)"
    return f"{name.upper()} baseline"


def _ci(ci: tuple[float, float]) -> str:
    lo, hi = ci
    return "-" if not (np.isfinite(lo) and np.isfinite(hi)) else f"[{lo:.3f}, {hi:.3f}]"


def _num(value: Any, digits: int = 3) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-" if value is None else str(value)
    return f"{v:.{digits}f}" if np.isfinite(v) else "-"


def status_section(run: RunData) -> Section:
    """Status table and a prominent alert for diverged, failed or unfinished runs."""
    st = run.status
    state = str(st.get("status", "unknown"))
    sec = Section("status", "Status")
    if state == "diverged":
        sec.blocks.append(Alert(f"DIVERGED: training stopped at epoch {st.get('epoch', '?')}, step "
                                f"{st.get('step', '?')}: {st.get('message', 'non-finite loss')}. Any metric below "
                                f"comes from an earlier evaluation, not from a finished super-net.", "danger"))
    elif state in ("failed", "interrupted"):
        sec.blocks.append(Alert(f"The run {state}: {st.get('message', 'no message')}. Metrics may be partial.",
                                "warning"))
    elif state == "running":
        sec.blocks.append(Alert("The run is still training: the numbers below are a snapshot.", "info"))
    elif state == "unknown":
        sec.blocks.append(Alert("status.json is missing: the run's state is unknown.", "warning"))
    rows = [("status", state)]
    for key in ("epoch", "step", "stopped", "device", "elapsed", "message"):
        if key in st and st[key] is not None and not (key == "message" and state == "diverged"):
            rows.append((key, f"{st[key]:.1f} s" if key == "elapsed" else str(st[key])))
    if "updated" in st:
        rows.append(("updated", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(st["updated"])))))
    rows.append(("planned epochs", str(run.cfg("protocol", "epochs", "?"))))
    sec.blocks.append(rows_table(("field", "value"), rows))
    return sec


def metrics_section(run: RunData, table: Any, seed: int, n_resamples: int) -> Section:
    """Headline metrics; every correlation with its 95% bootstrap CI next to the #params (and FLOPs) baseline."""
    sec = Section("metrics", "Headline metrics")
    head = run.headline
    if run.frame is None and not head:
        sec.blocks.append(Alert("No evaluation yet: the run has no evals/*.parquet and no eval record.", "warning"))
        return sec
    source = "metrics.json (final evaluation)" if run.final else f"the latest evaluation record ({head.get('tag')})"
    sec.blocks.append(Text(f"Ground truth {run.cfg('eval', 'ground_truth', '?')}, BN mode "
                           f"{head.get('bn_mode', run.cfg('eval', 'bn_mode', '?'))}, s-KdT threshold "
                           f"{run.threshold} points. Point values from {source}."))
    if run.frame is not None:
        frame = run.frame
        baselines: dict[str, np.ndarray] = {}
        if "params" in frame:
            baselines["params"] = frame["params"].to_numpy(float)
        if table is not None:  # FLOPs from the table where it has them, else counted by the space
            from wsbench.evaluate.baselines import cost_baselines

            rows = table.index(frame["key"].astype(str).to_numpy(), missing="ignore")
            if (rows >= 0).all():
                flops = cost_baselines(table, rows).get("flops")
                if flops is not None:
                    baselines["flops"] = flops
        proxy = head.get("proxy", run.cfg("eval", "proxy", "accuracy"))
        columns = dict(baselines)
        if proxy == "accuracy_params" and "params" in frame:  # the shipped ranking: its own, named column
            from wsbench.evaluate.study import proxy_scores

            columns["ensemble"] = proxy_scores(frame["proxy_acc"].to_numpy(float), frame["proxy_acc"].to_numpy(float),
                                               frame["params"].to_numpy(float))["accuracy_params"]
        rows = correlation_rows(frame, run.threshold, columns, seed, n_resamples)
        headers = ["metric", "super-net", "95% CI"]
        for name in columns:
            headers += [_column_label(name), "95% CI"]
        body = []
        logged = run.tag == (head.get("tag") or "final")  # the point values were logged for this very table
        if not logged:
            sec.blocks.append(Text(f"The logged metrics do not belong to evals/{run.tag}.parquet: the table shows "
                                   f"values recomputed from it."))
        for r in rows:
            # the super-net column is the super-net's own ranking (by its accuracy), whatever eval.proxy ranks by,
            # and its interval is computed on that same ranking
            value = r["supernet"]
            if logged:
                value = head.get(f"acc_{r['metric']}", head.get(r["metric"]) if proxy == "accuracy" else value)
            line = [r["label"], _num(value), _ci(r["supernet_ci"])]
            for name in columns:
                base = head.get(f"{name}_{r['metric']}", r[name]) if logged and name == "params" else r[name]
                line += [_num(base), _ci(r[f"{name}_ci"])]
            body.append(line)
        sec.blocks.append(rows_table(headers, body, caption=f"Rank correlations with the ground truth over the "
                                     f"{len(frame)} architectures of evals/{run.tag}.parquet; 95% percentile "
                                     f"bootstrap intervals ({n_resamples} resamples of the architectures)."))
        verdict = _verdict(rows, "params")
        if verdict:
            sec.blocks.append(Alert(verdict[0], verdict[1]))
        if table is not None and flops is None:
            sec.blocks.append(Text(f"Table {table.name!r} has no flops column: no FLOPs baseline."))
    extra = [(label, _num(head[k], 0 if k == "n_archs" else 3)) for k, label in _OTHER_METRICS if k in head]
    if extra:
        sec.blocks.append(rows_table(("metric", "value"), extra))
    return sec


def _verdict(rows: list[dict[str, Any]], base: str) -> tuple[str, str] | None:
    """One sentence: does the super-net rank better than counting parameters (on s-KdT)?"""
    r = rows[0]
    if base not in r or not (np.isfinite(r["supernet"]) and np.isfinite(r[base])):
        return None
    lo, hi = r["supernet_ci"]
    if np.isfinite(lo) and lo > r[base]:
        return (f"The super-net ranks better than the parameter count: s-KdT {r['supernet']:.3f} (CI low {lo:.3f}) "
                f"> {r[base]:.3f}.", "info")
    if np.isfinite(hi) and hi < r[base]:
        return (f"The super-net ranks WORSE than simply counting parameters: s-KdT {r['supernet']:.3f} (CI high "
                f"{hi:.3f}) < {r[base]:.3f}.", "warning")
    return (f"The super-net does not rank clearly better than the parameter count: s-KdT {r['supernet']:.3f} vs "
            f"{r[base]:.3f} (the baseline lies inside the 95% CI).", "warning")


def bias_section(run: RunData, assets: Path, color_by: str | None) -> Section:
    """Bias scatter (proxy vs truth, marginals) coloured by a structural property, and the rank-disorder plot."""
    sec = Section("bias", "Proxy vs ground truth (bias)")
    if run.frame is None:
        sec.blocks.append(Text("No evaluation table: nothing to plot."))
        return sec
    from wsbench.spaces import get_space

    prop = color_by or _info(run).color_by  # the space's registered default
    values = None
    if prop:
        try:
            values = property_values(run.frame, prop, get_space(run.space_name),
                                     key_texts(run.root / "evals" / "archs.json"))
        except PropertyError as exc:
            sec.blocks.append(Alert(f"cannot colour by {prop!r}: {exc}", "warning"))
            prop = None
    path = plots.bias_scatter_plot(run.frame, assets / "bias_scatter.png", values, prop or "",
                                   categorical=False if prop == "params" else None,
                                   title=f"{run.space_name}, evals/{run.tag}.parquet")
    sec.blocks.append(Figure(path, f"Super-net proxy accuracy (y) against ground truth (x) of {len(run.frame)} "
                                   f"architectures" + (f", coloured by {prop}" if prop else "") +
                                   "; the side panels show both distributions, per group where coloured "
                                   "(To Share or Not To Share, Fig. 3-4)."))
    return sec


def ranking_section(run: RunData, assets: Path) -> Section:
    """Rank-disorder plot."""
    sec = Section("ranking", "Ranking disorder")
    if run.frame is None or len(run.frame) < 2:
        sec.blocks.append(Text("Fewer than two evaluated architectures: no ranking to show."))
        return sec
    path = plots.rank_disorder_plot(run.frame["proxy_acc"].to_numpy(float), run.frame["truth"].to_numpy(float),
                                    assets / "rank_disorder.png")
    sec.blocks.append(Figure(path, "Each line joins an architecture's ground-truth rank (left) to its super-net rank "
                                   "(right); crossing lines are ranking disorder (How to Train Your Super-Net, "
                                   "Fig. 12)."))
    return sec


def curves_section(run: RunData, assets: Path) -> Section:
    """Ranking metrics per evaluation epoch next to the parameter-count baseline."""
    sec = Section("curves", "Metrics over training")
    if not run.evals:
        sec.blocks.append(Text("No evaluation records in metrics.jsonl."))
        return sec
    path = plots.metric_curves_plot(run.evals, assets / "metric_curves.png")
    sec.blocks.append(Figure(path, "Rank correlations and accuracies at each evaluation; dashed: the same "
                                   "correlation for the parameter count alone."))
    keys = ("sparse_kendall_tau", "kendall_tau", "spearman", "params_sparse_kendall_tau", "supernet_accuracy",
            "final_model_accuracy")
    rows = [[r.get("tag", ""), r.get("epoch", "")] + [r.get(k) for k in keys] for r in run.evals]
    sec.blocks.append(rows_table(("tag", "epoch", "s-KdT", "KdT", "Spearman", "#params s-KdT", "SN acc", "final"),
                                 rows))
    return sec


def sampling_section(run: RunData, assets: Path, table: Any, n_paths: int, seed: int) -> Section:
    """Ground-truth rank and accuracy of the paths each sampler draws."""
    sec = Section("sampling", "Sampler coverage")
    samplers = list(_info(run).coverage_samplers)  # registered with the space
    if not samplers or table is None or n_paths <= 0:
        why = ("disabled" if n_paths <= 0 else "the ground-truth table is not available" if table is None
               else f"not drawn for space {run.space_name}")
        sec.blocks.append(Text(f"Sampler coverage: {why}."))
        return sec
    own = str(run.cfg("protocol", "sampler", ""))
    # Random-A is drawn only where the space registers it (NB101's needs the 423k-cell enumeration)
    if own and own not in samplers and own != "random_a":
        samplers.append(own)
    metric = _reference(run).metric
    from wsbench.spaces import get_space

    try:
        path = plots.sampler_coverage_plot(get_space(run.space_name), table, metric, samplers,
                                           assets / "sampler_coverage.png", n_paths=n_paths, seed=seed)
    except (ValueError, KeyError) as exc:
        sec.blocks.append(Alert(f"sampler coverage failed: {exc}", "warning"))
        return sec
    sec.blocks.append(Figure(path, f"{n_paths:,} paths per sampler (seed {seed}); the run used {own or '?'}. "
                                   "A uniform sampler over architectures gives flat rank histograms "
                                   "(How to Train Your Super-Net, Fig. 6)."))
    return sec


def training_section(run: RunData, assets: Path) -> Section:
    """Loss, accuracy and learning rate per step."""
    sec = Section("training", "Training curves")
    if not run.train:
        sec.blocks.append(Text("No training records in metrics.jsonl."))
        return sec
    path = plots.training_curves_plot(run.train, assets / "training_curves.png")
    sec.blocks.append(Figure(path, "Training loss and accuracy of the sampled paths per logging interval."))
    return sec


def run_table(run: RunData, data_dir: Path | None) -> tuple[Any, str | None]:
    """The run's ground-truth table (``eval.ground_truth``), or ``(None, reason)``."""
    from wsbench.benchmarks.store import load_table
    from wsbench.benchmarks.table import TableError

    name = _reference(run).table
    if not name:
        return None, "the config names no ground truth"
    try:
        return load_table(name, data_dir), None
    except (TableError, OSError) as exc:
        return None, str(exc)


def run_document(root: str | Path, assets: str | Path, color_by: str | None = None, data_dir: Path | None = None,
                 coverage_paths: int = 10_000, seed: int = 0, n_resamples: int = 1000) -> Document:
    """The report ``Document`` of the run in ``root``; figures are written into ``assets``."""
    run = read_run(root)
    assets = Path(assets).resolve()
    assets.mkdir(parents=True, exist_ok=True)
    table, why = run_table(run, data_dir)
    name = run.config.get("name", Path(root).name)
    doc = Document(f"wsbench run report: {name}",
                   f"{run.space_name} super-net, sampler {run.cfg('protocol', 'sampler', '?')}, "
                   f"{run.cfg('protocol', 'epochs', '?')} epochs, seed {run.cfg('protocol', 'seed', '?')}; "
                   f"directory {Path(root).resolve()}")
    doc.sections = [status_section(run), metrics_section(run, table, seed, n_resamples),
                    bias_section(run, assets, color_by), ranking_section(run, assets), curves_section(run, assets),
                    sampling_section(run, assets, table, coverage_paths, seed), training_section(run, assets),
                    Section("config", "Configuration", [Code(run.config_text or "(no config.yaml)",
                                                             "resolved config.yaml")])]
    if table is None and why:
        doc.sections[1].blocks.append(Text(f"Ground-truth table not loaded ({why}): no FLOPs baseline or sampler "
                                           f"coverage."))
    return doc


def _reference(run: RunData) -> Any:
    """The run's ``eval.ground_truth`` as a ``GroundTruthRef`` (empty table and metric when it has none)."""
    from wsbench.benchmarks.reference import GroundTruthRef

    try:
        return GroundTruthRef.parse(str(run.cfg("eval", "ground_truth", "")))
    except ValueError:
        return GroundTruthRef("", "")
