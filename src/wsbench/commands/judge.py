"""``wsbench judge SCORES --table T --metric M``: judge anyone's ranking of architectures against a benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail

ARCH_COLUMNS = ("arch", "architecture", "key")


def read_scores(path: Path) -> Any:
    """A CSV, parquet or JSON (records) file of rows (architecture, score[s][, run]) as a data frame."""
    import pandas as pd

    if not path.exists():
        fail(f"score file {path} does not exist")
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif path.suffix == ".json":
            frame = pd.read_json(path, orient="records", dtype=False)
        else:
            frame = pd.read_csv(path, dtype={c: str for c in ARCH_COLUMNS + ("run",)})
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path} as {path.suffix.lstrip('.') or 'csv'} ({str(exc).splitlines()[0]}); give a CSV, "
             f"parquet or JSON file of rows with an 'arch' column and score columns")
    return frame


def register(app: typer.Typer) -> None:
    @app.command("judge")
    def judge_cmd(
        scores: Path = typer.Argument(..., help="CSV / parquet / JSON rows: arch, one or more score columns, "
                                                "optionally run"),
        table: str = typer.Option(..., "--table", help="ground-truth table, e.g. nb201, nb101-sample, darts-nb301"),
        metric: str = typer.Option(..., "--metric", help="ground-truth metric, e.g. cifar10_test_200ep, valid_acc"),
        subspace: str | None = typer.Option(None, "--subspace", help="NB101 sub-space (A1..A4, with_residual...)"),
        score: list[str] = typer.Option([], "--score", help="score column(s) to judge (default: every numeric "
                                                            "column but arch/run)"),
        higher: bool = typer.Option(True, "--higher-is-better/--lower-is-better", help="direction of the scores"),
        repeat: int | None = typer.Option(None, "--repeat", help="one repeat of the table (default: the mean)"),
        threshold: float = typer.Option(0.1, "--threshold", help="sparse Kendall-Tau grid in accuracy points"),
        zero_cost: str = typer.Option("", "--zero-cost", help="zero-cost proxies to add as baselines, e.g. "
                                      "synflow,naswot or all (computed once per cell on CIFAR-10, then cached)"),
        fmt: str = typer.Option("table", "--format", help="table or json"),
        out: Path | None = typer.Option(None, "--out", help="write metrics.json and scatter.png here"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
    ) -> None:
        """Every ranking metric of the scores with bootstrap CIs, beside the baselines the table offers."""
        from wsbench.benchmarks.store import load_table
        from wsbench.benchmarks.table import TableError
        from wsbench.evaluate.judge import JudgeError, judge

        if fmt not in ("table", "json"):
            fail(f"--format must be table or json, got {fmt!r}")
        from wsbench.evaluate.zero_cost import PROXIES

        proxies = list(PROXIES) if zero_cost.strip() == "all" else [p.strip() for p in zero_cost.split(",")
                                                                    if p.strip()]
        bad = [p for p in proxies if p not in PROXIES]
        if bad:
            fail(f"unknown zero-cost proxy {bad[0]!r}; choose from {', '.join(PROXIES)} or all")
        frame = read_scores(scores)
        arch_col = next((c for c in ARCH_COLUMNS if c in frame.columns), None)
        if arch_col is None:
            fail(f"{scores} has no architecture column; name it one of {', '.join(ARCH_COLUMNS)}")
        cols = list(score) or [c for c in frame.columns if c not in (*ARCH_COLUMNS, "run")
                               and frame[c].dtype.kind in "fiu"]
        missing = [c for c in cols if c not in frame.columns]
        if missing or not cols:
            fail(f"{scores}: no score column {missing[0]!r}" if missing else
                 f"{scores} has no numeric score column; add one (e.g. 'score') or name it with --score")
        try:
            gt = load_table(table, data_dir)
            results = {c: judge(frame[arch_col].astype(str).tolist(), frame[c].to_numpy(float), gt, metric,
                                subspace=subspace, higher_is_better=higher, threshold=threshold, repeat=repeat,
                                zero_cost=proxies, data_dir=data_dir,
                                runs=frame["run"].astype(str).tolist() if "run" in frame.columns else None)
                       for c in cols}
        except (JudgeError, TableError, FileNotFoundError, KeyError, ValueError) as exc:
            fail(str(exc).strip("'\""))
        docs = {c: r.as_dict() for c, r in results.items()}
        lines = [line for c, doc in docs.items() for line in _lines(c, doc)]
        if out is not None:
            _write(out, docs, frame, arch_col, gt, metric, lines)
        if fmt == "json":
            typer.echo(json.dumps(docs[cols[0]] if len(cols) == 1 else docs, indent=2))
            return
        for line in lines:
            typer.echo(line)


def _lines(name: str, doc: dict[str, Any]) -> list[str]:
    """The human-readable judgement of one score column."""
    out: list[str] = []
    def f(x: Any) -> str:
        return "n/a" if x is None else f"{x:.3f}"

    def ci(x: Any) -> str:
        return "" if not x or x[0] is None else f" [{x[0]:.3f}, {x[1]:.3f}]"

    pop = doc["population"]
    out.append(f"{name}: {doc['n_archs']} architectures vs {doc['table']}:{doc['metric']}; P>R and the found "
               f"quantile against {pop['n_cells_in_table']} cells of {pop['name']} ({pop['note']})")
    label = "run-averaged score" if doc.get("run_averaged") else "score"
    for key in ("sparse_kendall_tau", "kendall_tau", "spearman"):
        out.append(f"  {label}: {key:<20} {f(doc[key])}{ci(doc.get(key + '_ci'))}")
    out.append(f"  {label}: p_beat_random        {f(doc['p_beat_random'])}")
    out.append(f"  {label}: final model          {f(doc['final_model_accuracy'])}")
    for k, v in (doc.get("precision_at_top") or {}).items():
        out.append(f"  {label}: P@top{k:<6} {f(v)}  P@bottom{k:<6} {f(doc['precision_at_bottom'][k])}  "
                   f"BR@{k} {f(doc['best_rank_at_top'][k])}  WR@{k} {f(doc['worst_rank_at_top'][k])}")
    for run, m in (doc.get("runs") or {}).items():
        out.append(f"  run {run}: sparse_kendall_tau {f(m['sparse_kendall_tau'])}  spearman {f(m['spearman'])}")
    for key, (mean, sd) in (doc.get("runs_mean_sd") or {}).items():
        out.append(f"  runs mean ± sd: {key:<20} {f(mean)} ± {f(sd)}")
    for base, m in doc["baselines"].items():
        out.append(f"  baseline {base}: sparse_kendall_tau {f(m['sparse_kendall_tau'])}  spearman "
                   f"{f(m['spearman'])}")
    bias = doc.get("bias") or {}
    if bias.get("rows"):
        worst = sorted(bias["rows"], key=lambda r: r["mean_error"])
        hi, lo = worst[-1], worst[0]
        out.append(f"  bias: most over-ranked {hi['property']}={hi['level']} ({hi['mean_error']:+.1f} pct points, "
                   f"n={hi['n']}); most under-ranked {lo['property']}={lo['level']} ({lo['mean_error']:+.1f}, "
                   f"n={lo['n']}); error vs params {f(bias.get('error_vs_params'))}")
    best = doc.get("strongest_baseline")
    if best:
        b = doc["baselines"][best]["sparse_kendall_tau"]
        lo = (doc.get("sparse_kendall_tau_ci") or [None])[0]
        verdict = ("beats it (its 95% interval lies above)" if lo is not None and b is not None and lo > b else
                   "does not beat it clearly (the baseline lies inside or above the 95% interval)")
        out.append(f"  strongest baseline: {best} ({f(b)}); the score {verdict}")
    return out


def _write(out: Path, docs: dict[str, Any], frame: Any, arch_col: str, gt: Any, metric: str,
           lines: list[str]) -> None:
    from wsbench.atomic import write_json, write_text
    from wsbench.evaluate.judge import resolve_rows
    from wsbench.plots import figures as plots

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", docs)
    plt = plots.pyplot()
    rows = resolve_rows(gt, frame[arch_col].astype(str).tolist())
    truth = gt.values(metric, rows)
    fig, axes = plt.subplots(1, len(docs), figsize=(4.2 * len(docs), 3.8), squeeze=False)
    for ax, c in zip(axes[0], docs, strict=True):
        ax.scatter(frame[c].to_numpy(float), truth, s=8, alpha=0.6)
        ax.set_xlabel(c)
        ax.set_ylabel(f"{gt.name}:{metric}")
        ax.set_title(f"s-KdT {docs[c]['sparse_kendall_tau'] or float('nan'):.3f}", fontsize=9)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plots.save_figure(fig, out / "scatter.png")
    text = "# wsbench judge\n\n```\n" + "\n".join(lines) + "\n```\n\n![scores against the ground truth](scatter.png)\n"
    for c, doc in docs.items():
        rows = (doc.get("bias") or {}).get("rows")
        if not rows:
            continue
        name = f"bias_{c}.png" if len(docs) > 1 else "bias.png"
        plots.rank_error_plot(rows, out / name, f"{c}: mean rank error by structure (positive = ranked too high)")
        text += (f"\n## Bias of {c}\n\nMean rank error in percentile points (rank by the score minus rank by "
                 f"the ground truth; positive = ranked too high), 95% t-interval, by structural property.\n\n"
                 f"| property | level | cells | mean error | 95% CI |\n|---|---|---|---|---|\n")
        text += "".join(f"| {r['property']} | {r['level']} | {r['n']} | {r['mean_error']:+.1f} | "
                        f"[{r['ci'][0]:+.1f}, {r['ci'][1]:+.1f}] |\n" for r in rows)
        text += f"\n![rank error by structure]({name})\n"
    write_text(out / "report.md", text)
    typer.echo(f"wrote {out / 'metrics.json'}, {out / 'scatter.png'} and {out / 'report.md'}")
