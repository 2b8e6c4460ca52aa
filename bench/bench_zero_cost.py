"""Benchmark: cost and ranking quality of the zero-cost proxies on the 200 NB201 cells the CPU presets judge.

Each proxy scores the stand-alone NB201 network of every cell (the paper's macro skeleton: 16 channels, 5 cells
per stage, BN affine, 10 classes) at initialisation (seed 0) on one batch of real CIFAR-10 training images
(seeded draw, per-channel normalisation). Reported per proxy: seconds for the 200 cells on one CPU thread,
Kendall-Tau, sparse Kendall-Tau and Spearman against the 200-epoch CIFAR-10 test accuracy, beside the parameter
count (a free baseline) and the ratio of each proxy's time to the parameter count's (one pass over the cells).
Needs `wsbench data import ../shared/data`. Writes bench/results/zero_cost_nb201.json with machine info.
Usage: ``python bench/bench_zero_cost.py [--n 200 --batch 64 --channels 16 --cells 5]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from wsbench.atomic import write_json
from wsbench.benchmarks.store import load_table
from wsbench.config import MappingCfg
from wsbench.data.cifar10 import load_cifar10
from wsbench.evaluate.archs import select_eval_archs
from wsbench.evaluate.metrics import kendall_tau, sparse_kendall_tau, spearman
from wsbench.evaluate.zero_cost import PROXIES, zero_cost_scores
from wsbench.machine import machine_info
from wsbench.spaces import get_space
from wsbench.spaces.nb201.supernet import NB201Standalone

OUT = Path(__file__).resolve().parent / "results" / "zero_cost_nb201.json"
# Spearman against NB201 CIFAR-10 accuracy over all 15,625 cells, Abdelfattah et al. (ICLR 2021), Table 2
PUBLISHED_SPEARMAN = {"grad_norm": 0.58, "snip": 0.58, "synflow": 0.74, "jacob_cov": 0.73}
METRIC = "cifar10_test_200ep"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--cells", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    space, table = get_space("nb201"), load_table("nb201")
    archs = select_eval_archs(space, table, args.n, 0)
    truth = table.values(METRIC, table.index(space.keys(archs)))
    data = load_cifar10()
    rng = np.random.default_rng(0)
    pick = rng.choice(len(data.train_y), args.batch, replace=False)
    x = torch.from_numpy(data.train_x[pick]).float() / 255.0
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    x, y = (x - mean) / std, torch.from_numpy(data.train_y[pick]).long()
    mapping = MappingCfg(channels=args.channels, cells_per_stage=args.cells, bn_affine=True)

    def build(arch: object) -> torch.nn.Module:
        return NB201Standalone(arch, mapping, 10)

    t0 = time.perf_counter()
    params = np.asarray([space.num_params(a, args.channels, args.cells, 10) for a in archs], dtype=np.float64)
    params_s = time.perf_counter() - t0
    rows = {"params": {"seconds": params_s, "kendall_tau": kendall_tau(params, truth),
                       "sparse_kendall_tau": sparse_kendall_tau(params, truth, 0.1),
                       "spearman": spearman(params, truth)}}
    flops = np.asarray([space.num_flops(a, args.channels, args.cells, 10) for a in archs], dtype=np.float64)
    rows["flops"] = {"kendall_tau": kendall_tau(flops, truth), "spearman": spearman(flops, truth),
                     "sparse_kendall_tau": sparse_kendall_tau(flops, truth, 0.1)}
    for proxy in PROXIES:
        t0 = time.perf_counter()
        score = zero_cost_scores(build, archs, x, y, proxies=(proxy,))[proxy]
        seconds = time.perf_counter() - t0
        ok = np.isfinite(score)
        rows[proxy] = {"seconds": seconds, "seconds_over_params": seconds / max(params_s, 1e-9),
                       "finite": int(ok.sum()), "kendall_tau": kendall_tau(score[ok], truth[ok]),
                       "sparse_kendall_tau": sparse_kendall_tau(score[ok], truth[ok], 0.1),
                       "spearman": spearman(score[ok], truth[ok]),
                       "published_spearman_all_cells": PUBLISHED_SPEARMAN.get(proxy)}
        print(f"{proxy:<10} {seconds:7.1f} s  s-KdT {rows[proxy]['sparse_kendall_tau']:.3f}  "
              f"Spearman {rows[proxy]['spearman']:.3f}", flush=True)
    print(f"{'params':<10} {params_s:7.3f} s  s-KdT {rows['params']['sparse_kendall_tau']:.3f}  "
          f"Spearman {rows['params']['spearman']:.3f}")
    write_json(OUT, {"cells": args.n, "batch": args.batch, "channels": args.channels, "cells_per_stage": args.cells,
                     "ground_truth": f"nb201:{METRIC}", "threads": 1, "proxies": rows,
                     "machine": machine_info()})
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
