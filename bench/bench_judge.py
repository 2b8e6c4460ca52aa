"""Benchmark: judging 1,000 NB101 architectures x 200 runs from a file, end to end, against a plain script.

Both read the same CSV (arch = the benchmark hash, score, run) and compute, per run, Kendall-Tau, sparse
Kendall-Tau and Spearman against NB101's mean validation accuracy, plus the metrics of the run-averaged score:

* wsbench: ``wsbench.judge(archs, scores, runs=..., table="nb101-sample", metric="valid_acc")`` (which also gives
  P>R, the found quantile, the final model, Ning et al.'s criteria, the baselines, and bootstrap intervals for
  the run-averaged score);
* plain: pandas reads the table's keys and mean validation accuracy into a frame, merges the scores on the key
  and calls ``scipy.stats.kendalltau`` / ``spearmanr`` per run (no intervals, no baselines, no P>R).

Runs side by side in one process (best of --repeats), prints both times and their ratio, and writes
bench/results/judge_nb101.json with machine info. Needs `wsbench data import ../shared/data`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

import wsbench
from wsbench.atomic import write_json
from wsbench.benchmarks.store import load_table
from wsbench.machine import machine_info

OUT = Path(__file__).resolve().parent / "results" / "judge_nb101.json"


def plain(path: Path, table: object) -> dict[str, float]:
    frame = pd.read_csv(path)
    gt = pd.DataFrame({"arch": table.keys, "truth": table.values("valid_acc")})
    merged = frame.merge(gt, on="arch", how="left")
    out = {}
    for run, grp in merged.groupby("run"):
        s, t = grp["score"].to_numpy(), grp["truth"].to_numpy()
        out[run] = (stats.kendalltau(s, t).statistic, stats.kendalltau(s, np.round(t / 0.1)).statistic,
                    stats.spearmanr(s, t).statistic)
    avg = merged.groupby("arch").agg(score=("score", "mean"), truth=("truth", "first"))
    out["avg"] = (stats.kendalltau(avg["score"], avg["truth"]).statistic,)
    return out


def ours(path: Path, table: object) -> object:
    frame = pd.read_csv(path, dtype={"arch": str, "run": str})
    return wsbench.judge(frame["arch"].tolist(), frame["score"].to_numpy(), table=table, metric="valid_acc",
                         runs=frame["run"].tolist(), n_boot=1000)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    table = load_table("nb101-sample")
    rng = np.random.default_rng(0)
    rows = rng.choice(len(table), args.archs, replace=False)
    truth = table.values("valid_acc", rows)
    keys = np.asarray(table.keys[rows], dtype=object)
    frame = pd.DataFrame({"arch": np.tile(keys, args.runs),
                          "score": np.tile(truth, args.runs) + rng.normal(0, 1.0, args.runs * args.archs),
                          "run": np.repeat([f"r{i}" for i in range(args.runs)], args.archs)})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scores.csv"
        frame.to_csv(path, index=False)
        times = {"wsbench": [], "plain": []}
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            res = ours(path, table)
            times["wsbench"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ref = plain(path, table)
            times["plain"].append(time.perf_counter() - t0)
    best = {k: min(v) for k, v in times.items()}
    run0 = res.runs["r0"]["kendall_tau"]
    assert abs(run0 - ref["r0"][0]) < 1e-9, (run0, ref["r0"][0])  # the same numbers
    ratio = best["wsbench"] / best["plain"]
    print(f"wsbench judge {best['wsbench']:.2f} s, plain pandas/scipy {best['plain']:.2f} s: x{ratio:.2f} "
          f"({args.archs} archs x {args.runs} runs; wsbench also computes P>R, Ning's criteria, baselines, CIs)")
    write_json(OUT, {"archs": args.archs, "runs": args.runs, "seconds": best, "ratio_wsbench_over_plain": ratio,
                     "all_seconds": times, "machine": machine_info()})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
