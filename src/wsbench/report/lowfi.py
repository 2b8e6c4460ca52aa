"""Tabulate the low-fidelity protocol study (docs/low-fidelity.md) from run directories.

For every run directory given (``wsbench train ... --out DIR`` with ``eval.eval_every`` set) and every evaluation
in its ``metrics.jsonl``, one row: the run's label and seed, the epoch, the training seconds so far, the
evaluation seconds, the *budget time* (training seconds + one evaluation: what a run stopped there would have
cost), and the ranking metrics of the three proxies (accuracy, minus the loss, and accuracy + parameter count)
against the ground truth named in the config; ``--transfer`` adds the same metrics against the other NB201
datasets from the stored per-evaluation tables (``evals/<tag>.parquet``); the final row of each run also gets
``ens_skt_loss``, the ranking by the mean loss rank over its last three evaluations.

    python -m wsbench.report.lowfi RUN_DIR [RUN_DIR ...] --csv bench/results/lowfi_study.csv [--transfer]

``--previous OLD.csv`` keeps the rows of earlier runs (the bias table needs the run directories, so it covers only
the runs given).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from wsbench.evaluate import metrics as M
from wsbench.evaluate.study import proxy_scores

TRANSFER = ("cifar100_test_200ep", "imagenet16_test_200ep")


def _train_elapsed(lines: list[dict[str, Any]], epoch: int) -> float:
    """Training seconds at the end of ``epoch`` (the last train record of that epoch)."""
    vals = [d["elapsed"] for d in lines if d.get("kind") == "train" and d["epoch"] == epoch]
    return float(vals[-1]) if vals else float("nan")


def run_rows(run: Path, label: str | None, transfer: bool, table: Any | None) -> list[dict[str, Any]]:
    """One row per evaluation of ``run``."""
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if x.strip()]
    rows = []
    for d in (x for x in lines if x.get("kind") == "eval"):
        train_s = _train_elapsed(lines, d["epoch"])
        row = {"run": run.name, "label": label or run.name, "seed": cfg["protocol"]["seed"],
               "epochs": cfg["protocol"]["epochs"], "epoch": d["epoch"], "tag": d["tag"], "train_s": train_s,
               "eval_s": d["eval_seconds"], "budget_min": (train_s + d["eval_seconds"]) / 60.0,
               "supernet_acc": d["supernet_accuracy"], "skt_acc": d.get("acc_sparse_kendall_tau"),
               "skt_loss": d.get("loss_sparse_kendall_tau"), "sp_acc": d.get("acc_spearman"),
               "sp_loss": d.get("loss_spearman"), "final_acc": d.get("acc_final_model_accuracy"),
               "final_loss": d.get("loss_final_model_accuracy"), "params_skt": d["params_sparse_kendall_tau"],
               "params_sp": d["params_spearman"]}
        parquet = run / "evals" / f"{d['tag']}.parquet"
        if parquet.exists():  # super-net + parameter count (eval.proxy: accuracy_params), also for older runs
            frame = pd.read_parquet(parquet)
            loss = frame["proxy_loss"].to_numpy() if "proxy_loss" in frame else np.zeros(len(frame))
            hybrid = proxy_scores(frame["proxy_acc"].to_numpy(), loss, frame["params"].to_numpy())["accuracy_params"]
            row["skt_hybrid"] = M.sparse_kendall_tau(hybrid, frame["truth"])
            row["sp_hybrid"] = M.spearman(hybrid, frame["truth"])
            row["final_hybrid"] = M.final_model_accuracy(hybrid, frame["truth"], cfg["eval"].get("top_k", 3))
        if transfer and table is not None and parquet.exists():
            idx = table.index(frame["key"].tolist())
            for metric in TRANSFER:
                truth = table.values(metric, idx)
                short = metric.split("_")[0]
                row[f"{short}_skt_acc"] = M.sparse_kendall_tau(frame["proxy_acc"], truth)
                if "proxy_loss" in frame:
                    row[f"{short}_skt_loss"] = M.sparse_kendall_tau(-frame["proxy_loss"], truth)
                row[f"{short}_params_skt"] = M.sparse_kendall_tau(frame["params"], truth)
                row[f"{short}_skt_hybrid"] = M.sparse_kendall_tau(hybrid, truth)
        rows.append(row)
    return rows


def ensemble_rows(run: Path, last: int = 3) -> dict[str, float]:
    """s-KdT of the mean rank (by minus the loss) over the last ``last`` evaluations of ``run``."""
    tags = sorted(run.glob("evals/epoch*.parquet"), key=lambda p: int(p.stem[5:]))[-(last - 1):]
    frames = [pd.read_parquet(p) for p in tags + [run / "evals" / "final.parquet"] if p.exists()]
    if len(frames) < 2:
        return {}
    ranks = np.mean([(-f["proxy_loss"]).rank().to_numpy() for f in frames], axis=0)
    return {"ens_skt_loss": M.sparse_kendall_tau(ranks, frames[-1]["truth"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--label", action="append", default=[], help="RUN=LABEL")
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--transfer", action="store_true")
    ap.add_argument("--markdown", type=Path, help="write the per-run summary (end of schedule and best point) here")
    ap.add_argument("--seeds-markdown", type=Path,
                    help="write one line per label over its seeds (mean +- sd at the end of the schedule) here")
    ap.add_argument("--bias", type=Path,
                    help="write the rank-error breakdown (by skip / 3x3-convolution count, correlation with the "
                         "parameter count) of each run's final evaluation and of NB201's own 12-epoch training here")
    ap.add_argument("--plot", type=Path, help="write s-KdT against budget minutes (one line per run) as PNG")
    ap.add_argument("--plot-only", action="append", default=[], metavar="LABEL",
                    help="plot only the runs with this label (repeatable; default: every run)")
    ap.add_argument("--json", type=Path, help="write every row with the machine's description as JSON")
    ap.add_argument("--previous", type=Path,
                    help="an earlier --csv whose rows are kept (runs given here replace rows of the same run name): "
                         "adds new runs to a study whose older run directories are no longer at hand")
    args = ap.parse_args()
    labels = dict(x.split("=", 1) for x in args.label)
    table = None
    if args.transfer:
        from wsbench.benchmarks.store import load_table

        table = load_table("nb201")
    rows = []
    for run in args.runs:
        if not (run / "metrics.jsonl").exists():
            continue
        rr = run_rows(run, labels.get(run.name), args.transfer, table)
        if rr and (run / "evals" / "final.parquet").exists():
            rr[-1].update(ensemble_rows(run))
        rows += rr
    frame = pd.DataFrame(rows)
    if args.previous:
        old = pd.read_csv(args.previous)
        frame = pd.concat([old[~old["run"].isin(frame["run"])], frame], ignore_index=True) if len(frame) else old
        first = {label: i for i, label in enumerate(dict.fromkeys(frame["label"]))}  # labels in order of appearance
        frame = frame.assign(_order=frame["label"].map(first)).sort_values(
            ["_order", "seed", "run"], kind="stable").drop(columns="_order").reset_index(drop=True)
    with pd.option_context("display.width", 250, "display.max_columns", 40, "display.max_rows", 500):
        print(frame.drop(columns=["run", "tag"]).round(3).to_string(index=False))
    if args.csv:
        frame.to_csv(args.csv, index=False)
    if args.markdown:
        args.markdown.write_text(summary_markdown(frame))
    if args.seeds_markdown:
        args.seeds_markdown.write_text(seeds_markdown(frame))
    if args.bias:
        args.bias.write_text(bias_markdown(args.runs, labels))
    if args.plot:
        plot_curves(frame, args.plot, args.plot_only)
    if args.json:
        from wsbench.atomic import write_json
        from wsbench.machine import machine_info

        write_json(args.json, {"what": "low-fidelity NB201 protocol study (docs/low-fidelity.md)",
                               "machine": machine_info(), "runs_at_a_time": 2, "threads_per_run": 1,
                               "rows": json.loads(frame.to_json(orient="records"))})


def plot_curves(frame: pd.DataFrame, path: Path, only: list[str] | None = None) -> None:
    """s-KdT against the budget in minutes, one colour per label (its seeds share it): the super-net alone
    (accuracy proxy, solid) and super-net + parameter count (``accuracy_params``, dashed), with the parameter-count
    baseline; ``only`` keeps those labels (all when empty)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = frame[frame["tag"].str.match(r"^(epoch\d+|final)$")]
    if only:
        curves = curves[curves["label"].isin(only)]
    fig, ax = plt.subplots(figsize=(8, 4.8))
    colours = {label: f"C{i % 10}" for i, label in enumerate(dict.fromkeys(curves["label"]))}
    named: set[str] = set()
    for (label, _seed), g in curves.groupby(["label", "seed"], sort=False):
        ax.plot(g["budget_min"], g["skt_acc"], marker="o", ms=3, color=colours[label],
                label="_nolegend_" if label in named else label)
        named.add(label)
        if "skt_hybrid" in g:
            ax.plot(g["budget_min"], g["skt_hybrid"], marker="x", ms=3, ls="--", lw=1, color=colours[label])
    ax.axhline(float(frame["params_skt"].iloc[0]), color="k", ls=":", lw=1.5, label="parameter count")
    ax.set_xscale("log")
    ax.set_xlabel("budget: training + one evaluation of 200 cells (minutes, one CPU core)")
    ax.set_ylabel("sparse Kendall-Tau vs NB201 CIFAR-10")
    ax.set_title("solid: super-net alone; dashed: super-net + parameter count (one line per seed)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def summary_markdown(frame: pd.DataFrame) -> str:
    """One line per run: the end of its schedule, and its best s-KdT (accuracy proxy) with the minute it came."""
    lines = ["| run | seed | epochs | budget (min) | s-KdT | s-KdT (loss) | s-KdT (+params) | Spearman | final model | "
             "best s-KdT (at min) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for (label, seed), g in frame[frame["tag"].str.match(r"^(epoch\d+|final)$")].groupby(["label", "seed"],
                                                                                        sort=False):
        end = g[g["tag"] == "final"].iloc[-1] if (g["tag"] == "final").any() else g.iloc[-1]
        best = g.loc[g["skt_acc"].idxmax()]
        lines.append(f"| {label} | {seed} | {end['epochs']} | {end['budget_min']:.1f} | {end['skt_acc']:.3f} | "
                     f"{end['skt_loss']:.3f} | {end.get('skt_hybrid', float('nan')):.3f} | {end['sp_acc']:.3f} | "
                     f"{end['final_acc']:.2f} | "
                     f"{best['skt_acc']:.3f} ({best['budget_min']:.1f}) |")
    return "\n".join(lines) + "\n"


def _mean_sd(values: pd.Series, digits: int = 3) -> str:
    """``mean ± sd (v1, v2, ...)`` over seeds (sample standard deviation); the single value for one seed."""
    v = values.dropna().to_numpy(float)
    if len(v) == 0:
        return "-"
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    each = ", ".join(f"{x:.{digits}f}" for x in v)
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f} ({each})"


def seeds_markdown(frame: pd.DataFrame) -> str:
    """One line per label (give the seeds of one protocol the same ``--label``): the end of the schedule over seeds,
    for the super-net alone and for super-net + parameter count, with the transfer columns when present."""
    ends = frame[frame["tag"] == "final"]
    cols = [("budget (min)", "budget_min", 1), ("s-KdT", "skt_acc", 3), ("Spearman", "sp_acc", 3),
            ("final model", "final_acc", 2), ("s-KdT (+params)", "skt_hybrid", 3),
            ("Spearman (+params)", "sp_hybrid", 3), ("final model (+params)", "final_hybrid", 2),
            ("CIFAR-100 s-KdT", "cifar100_skt_acc", 3), ("CIFAR-100 (+params)", "cifar100_skt_hybrid", 3),
            ("ImageNet16 s-KdT", "imagenet16_skt_acc", 3), ("ImageNet16 (+params)", "imagenet16_skt_hybrid", 3)]
    cols = [c for c in cols if c[1] in ends]
    lines = ["| protocol | seeds | " + " | ".join(c[0] for c in cols) + " |", "|---|---|" + "---|" * len(cols)]
    for label, g in ends.groupby("label", sort=False):
        seeds = ", ".join(str(int(x)) for x in g["seed"])
        lines.append(f"| {label} | {seeds} | " + " | ".join(_mean_sd(g[key], d) for _, key, d in cols) + " |")
    return "\n".join(lines) + "\n"


def rank_error(score: np.ndarray, frame: pd.DataFrame) -> dict[str, float]:
    """Where ``score`` puts the cells of ``frame`` against ``frame.truth``: the mean error in percentile points of
    rank (positive = ranked too high) for cells with >= 3 skip connections and with >= 3 3x3 convolutions (and
    none of either), and the Spearman correlation of the error with the parameter count."""
    from scipy.stats import rankdata, spearmanr

    n = len(frame)
    err = (rankdata(score) - rankdata(frame["truth"])) / n * 100.0
    skips = frame["key"].str.count("skip_connect").to_numpy()
    convs = frame["key"].str.count("nor_conv_3x3").to_numpy()
    return {"skip0": float(err[skips == 0].mean()), "skip3": float(err[skips >= 3].mean()),
            "conv0": float(err[convs == 0].mean()), "conv3": float(err[convs >= 3].mean()),
            "corr_params": float(spearmanr(err, frame["params"]).statistic),
            "skt": M.sparse_kendall_tau(score, frame["truth"])}


def bias_markdown(runs: list[Path], labels: dict[str, str]) -> str:
    """The rank-error table of the low-fidelity bias: each run's final super-net ranking, and, on the cells of the
    first run, the stand-alone rankings of NB201's own 12-epoch training (full-size networks, 32x32) as reference."""
    from wsbench.benchmarks.store import load_table

    lines = ["| ranking | s-KdT | skip=0 | skip>=3 | 3x3=0 | 3x3>=3 | error vs params (Spearman) |",
             "|---|---|---|---|---|---|---|"]

    def line(name: str, e: dict[str, float]) -> str:
        return (f"| {name} | {e['skt']:.3f} | {e['skip0']:+.0f} | {e['skip3']:+.0f} | {e['conv0']:+.0f} | "
                f"{e['conv3']:+.0f} | {e['corr_params']:+.2f} |")

    first = None
    for run in runs:
        parquet = run / "evals" / "final.parquet"
        if not parquet.exists():
            continue
        frame = pd.read_parquet(parquet)
        first = frame if first is None else first
        lines.append(line(labels.get(run.name, run.name), rank_error(frame["proxy_acc"].to_numpy(), frame)))
    if first is not None:
        table = load_table("nb201")
        idx = table.index(first["key"].tolist())
        for metric in ("cifar10_val_12ep", "cifar10_test_12ep"):
            lines.append(line(f"NB201 stand-alone, 12 epochs ({metric})",
                              rank_error(table.values(metric, idx), first)))
        lines.append(line("parameter count", rank_error(first["params"].to_numpy(float), first)))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
