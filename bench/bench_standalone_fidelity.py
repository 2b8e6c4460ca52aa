"""Fidelity of low-budget stand-alone training: does it rank NB201 cells like the official 200-epoch numbers?

Trains the same seeded sample of NB201 cells stand-alone on CIFAR-10 with the CPU protocol (``standalone-cpu``:
16x16 images, C=8, N=1, a few epochs; overridable) through the regular resumable runner (Ray, one unit per
cell), then compares the cells' test accuracy with the official NB201 ``cifar10_test_200ep`` by Spearman and
Kendall rank correlation. For context it also reports, on the same cells, the correlation of the official
12-epoch accuracies with the 200-epoch ones (the benchmark's own low fidelity) and of the parameter count.

Needs the data imported first: ``wsbench data import /work/shared/data --data-dir DIR``.
Usage: ``python bench/bench_standalone_fidelity.py --data-dir DIR [--n 40] [--workers 2] [key=value ...]``.
Writes ``bench/results/standalone_fidelity.json`` with machine info.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from wsbench.atomic import write_json
from wsbench.benchmarks.store import load_table
from wsbench.spaces import get_space
from wsbench.standalone.protocol import load_protocol
from wsbench.standalone.runner import finish_build, prepare_build, run_build

RESULTS = Path(__file__).resolve().parent / "results" / "standalone_fidelity.json"


def _machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpu_count": os.cpu_count(), "processor": platform.processor() or platform.machine(),
            "load_avg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None}


def _corr(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    ok = np.isfinite(x) & np.isfinite(y)
    return {"spearman": float(stats.spearmanr(x[ok], y[ok])[0]), "kendall": float(stats.kendalltau(x[ok], y[ok])[0]),
            "n": int(ok.sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True, help="data directory with CIFAR-10 and the nb201 table imported")
    ap.add_argument("--n", type=int, default=40, help="NB201 cells to train")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--sample-seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2, help="units in flight (Ray)")
    ap.add_argument("--name", default="fidelity-nb201-cifar10", help="table name of the build (resumable)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("overrides", nargs="*", help="protocol overrides, e.g. train.epochs=3 data.train_portion=0.5")
    args = ap.parse_args()

    machine = _machine()
    nb201 = load_table("nb201", args.data_dir)
    space = get_space("nb201")
    archs = space.sample_unique(np.random.default_rng(args.sample_seed), args.n)
    protocol = load_protocol("cpu", args.overrides, dataset="cifar10")
    plan = prepare_build(args.name, "nb201", protocol, list(range(args.seeds)), args.data_dir,
                         archs=[space.format(a) for a in archs])
    print(f"{len(plan.archs)} cells x {args.seeds} seed(s), protocol {protocol.name} {protocol.fingerprint()}: "
          f"{protocol.train.epochs} epochs, C={protocol.mapping.channels}, N={protocol.mapping.cells_per_stage}, "
          f"resolution {protocol.data.resolution}, portion {protocol.data.train_portion}; "
          f"{len(plan.pending())} unit(s) to train", flush=True)
    t0 = time.perf_counter()
    done = {"n": 0}

    def progress(rec: dict[str, Any]) -> None:
        done["n"] += 1
        msg = rec.get("error") or f"test {rec['test_acc']:.2f} ({rec['train_time']:.0f} s)"
        print(f"[{done['n']}] {rec['key']}: {msg}", flush=True)

    summary = run_build(plan, args.data_dir, backend="ray", max_parallel=args.workers, on_result=progress)
    wall = time.perf_counter() - t0
    table = finish_build(plan, args.data_dir)

    rows = nb201.index(list(table.keys))
    truth = nb201.values("cifar10_test_200ep", rows)
    ours_test, ours_valid = table.values("test_acc"), table.values("valid_acc")
    result: dict[str, Any] = {
        "benchmark": "standalone_fidelity", "machine": machine, "protocol": protocol.model_dump(mode="json"),
        "fingerprint": protocol.fingerprint(), "n_cells": len(table), "seeds": args.seeds,
        "sample_seed": args.sample_seed, "workers": args.workers, "wall_s": wall,
        "units_trained": summary["ran"], "units_failed": summary["failed"],
        "mean_train_time_s": float(np.nanmean(table.repeats("train_time"))),
        "standalone_test_vs_nb201_200ep": _corr(ours_test, truth),
        "standalone_valid_vs_nb201_200ep": _corr(ours_valid, truth),
        "reference_nb201_12ep_test_vs_200ep": _corr(nb201.values("cifar10_test_12ep", rows), truth),
        "reference_params_vs_200ep": _corr(table.column("params").astype(float), truth),
        "standalone_test_acc_range": [float(np.nanmin(ours_test)), float(np.nanmax(ours_test))],
    }
    if args.seeds > 1:
        rep = table.repeats("test_acc")
        result["seed0_vs_seed1_test"] = _corr(rep[:, 0], rep[:, 1])
    write_json(args.out, result)
    for k in ("standalone_test_vs_nb201_200ep", "standalone_valid_vs_nb201_200ep",
              "reference_nb201_12ep_test_vs_200ep", "reference_params_vs_200ep"):
        c = result[k]
        print(f"{k:40s} Spearman {c['spearman']:.3f}  Kendall {c['kendall']:.3f}  (n={c['n']})")
    print(f"wall {wall:.0f} s for {summary['ran']} units; wrote {args.out}")


if __name__ == "__main__":
    main()
