"""Benchmark: proxy-evaluation throughput (architectures per second, bns-ft) of wsbench against a naive evaluator.

Both evaluate the same unique NB201 architectures on the same NB201 super-net with the same images (random
tensors stand in for data: throughput does not depend on pixel values):

* wsbench: ``evaluate_archs`` - fixed pre-built batches reused for every architecture, BN buffers saved once and
  restored once, exact cumulative averaging of the BN statistics, correct predictions counted on the device;
  measured with the batches in the default (NCHW) memory format and in channels-last (what ``evaluate_supernet``
  uses when ``protocol.channels_last`` is on), to separate the two sources of speed.
* naive: per architecture, ``copy.deepcopy`` of the super-net, a ``torch.utils.data.DataLoader`` over a
  ``TensorDataset`` of already normalised float images for the BN re-estimation pass (exponential momentum, as
  earlier code did) and again for the evaluation pass, ``.item()`` after every batch. This is the most
  favourable naive evaluator: its data costs almost nothing.
* naive_transform: the same, but the DataLoader's dataset holds the uint8 images and normalises each image when
  it is fetched (the usual ``Dataset.__getitem__`` + transform pipeline of training code).

Runs side by side in one process (interleaved in chunks of architectures, best of ``--repeats``), prints the
ratio and writes bench/results/eval_nb201.json with machine info.
Usage: ``python bench/bench_eval.py [--channels 8 --cells 1 --side 16]``.
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.evaluate import evaluate_archs, kendall_tau
from wsbench.machine import machine_info
from wsbench.spaces import build_supernet, get_space

OUT = Path(__file__).resolve().parent / "results" / "eval_nb201.json"


def naive_evaluate(model: nn.Module, archs: list[Any], bn_data: Dataset, ev_data: Dataset,
                   batch_size: int) -> np.ndarray:
    """The evaluator wsbench replaces: deep copy + DataLoader per architecture, EMA BN statistics."""
    out = []
    for arch in archs:
        net = copy.deepcopy(model)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.running_mean is None:
                    m.running_mean, m.running_var = torch.zeros(m.num_features), torch.ones(m.num_features)
                    m.num_batches_tracked = torch.zeros((), dtype=torch.long)
                    m.track_running_stats = True
                m.reset_running_stats()
        net.train()
        with torch.no_grad():
            for (xb,) in DataLoader(bn_data, batch_size=batch_size, shuffle=False):
                net(xb, arch)
            net.eval()
            correct = total = 0
            for xb, yb in DataLoader(ev_data, batch_size=batch_size, shuffle=False):
                correct += int((net(xb, arch).argmax(1) == yb).sum().item())
                total += len(yb)
        out.append(100.0 * correct / total)
    return np.asarray(out)


class _PerSampleNormalise(Dataset):
    """uint8 NCHW images normalised one at a time in ``__getitem__``, as a per-sample transform would."""

    def __init__(self, x_uint8: torch.Tensor, y: torch.Tensor | None, mean: torch.Tensor, std: torch.Tensor):
        self.x, self.y, self.mean, self.std = x_uint8, y, mean.view(-1, 1, 1), std.view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> Any:
        img = (self.x[i].float() - self.mean) / self.std
        return (img,) if self.y is None else (img, self.y[i])


def main() -> None:
    """Run the benchmark and write its JSON record."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--archs", type=int, default=60)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--cells", type=int, default=1)
    ap.add_argument("--side", type=int, default=16)
    ap.add_argument("--bn-batches", type=int, default=4)
    ap.add_argument("--eval-batches", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--chunk", type=int, default=10, help="archs per interleaved chunk")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    mapping = MappingCfg(channels=args.channels, cells_per_stage=args.cells)  # Tr=F, A=T: the NB201 defaults
    model = build_supernet("nb201", mapping, num_classes=10).eval()
    space = get_space("nb201")
    archs = space.sample_unique(np.random.default_rng(0), args.archs)
    g = torch.Generator().manual_seed(0)
    bs, side = args.batch_size, args.side
    bn_u8 = torch.randint(0, 256, (args.bn_batches * bs, 3, side, side), generator=g, dtype=torch.uint8)
    ev_u8 = torch.randint(0, 256, (args.eval_batches * bs, 3, side, side), generator=g, dtype=torch.uint8)
    mean, std = torch.tensor([125.3, 123.0, 113.9]), torch.tensor([63.0, 62.1, 66.7])
    bn_x = (bn_u8.float() - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    ev_x = (ev_u8.float() - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
    ev_y = torch.randint(0, 10, (len(ev_x),), generator=g)
    bn_batches = [(x, torch.zeros(len(x), dtype=torch.long)) for x in bn_x.split(bs)]
    ev_batches = list(zip(ev_x.split(bs), ev_y.split(bs), strict=True))

    def ours(chunk: list[Any]) -> np.ndarray:
        return evaluate_archs(model, chunk, bn_batches, ev_batches, "bns-ft")

    def ours_cl(chunk: list[Any]) -> np.ndarray:
        return evaluate_archs(model, chunk, bn_batches, ev_batches, "bns-ft", channels_last=True)

    def naive(chunk: list[Any]) -> np.ndarray:
        return naive_evaluate(model, chunk, TensorDataset(bn_x), TensorDataset(ev_x, ev_y), bs)

    def naive_tf(chunk: list[Any]) -> np.ndarray:
        return naive_evaluate(model, chunk, _PerSampleNormalise(bn_u8, None, mean, std),
                              _PerSampleNormalise(ev_u8, ev_y, mean, std), bs)

    cl_x = [x.contiguous(memory_format=torch.channels_last) for x, _ in bn_batches + ev_batches]

    def floor_cl(chunk: list[Any]) -> np.ndarray:
        """The physical floor: the same forward passes with nothing else (no BN bookkeeping, no counting)."""
        model.eval()
        with torch.no_grad():
            for arch in chunk:
                for x in cl_x:
                    model(x, arch)
        return np.zeros(len(chunk))

    runs = (("wsbench_cl", ours_cl), ("naive", naive), ("wsbench_nchw", ours), ("floor_cl", floor_cl),
            ("naive_transform", naive_tf))
    for _, fn in runs:  # warm-up
        fn(archs[:2])
    # interleaved: chunks of archs, evaluators in rotating order, so that load from other processes on a shared
    # machine hits all three alike; each repeat sums the per-chunk times of every evaluator over all archs
    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    results: dict[str, np.ndarray] = {}
    chunks = [archs[i:i + args.chunk] for i in range(0, len(archs), args.chunk)]
    for _ in range(args.repeats):
        total = dict.fromkeys(times, 0.0)
        parts: dict[str, list[np.ndarray]] = {name: [] for name in times}
        for c, chunk in enumerate(chunks):
            for j in range(len(runs)):
                name, fn = runs[(c + j) % len(runs)]
                t0 = time.perf_counter()
                parts[name].append(fn(chunk))
                total[name] += time.perf_counter() - t0
        for name in times:
            times[name].append(total[name])
            results[name] = np.concatenate(parts[name])
    best = {k: min(v) for k, v in times.items()}
    ratio = best["naive"] / best["wsbench_cl"]
    n_params = sum(p.numel() for p in model.parameters())
    print(f"NB201 super-net C={args.channels} N={args.cells} ({n_params:,} parameters), {args.archs} archs, "
          f"bns-ft on {args.bn_batches}x{bs} + eval on {args.eval_batches}x{bs} images of {side}x{side}, "
          f"{args.threads} thread(s)")
    for name, _ in runs:
        print(f"  {name:12s} {best[name]:7.2f} s  {args.archs / best[name]:7.2f} archs/s")
    ratio_tf = best["naive_transform"] / best["wsbench_cl"]
    print(f"speed-up over naive: {ratio:.2f}x (channels-last), {best['naive'] / best['wsbench_nchw']:.2f}x (NCHW)")
    print(f"speed-up over naive with a per-image transform in its DataLoader: {ratio_tf:.2f}x")
    print(f"wsbench (channels-last) runs at {best['floor_cl'] / best['wsbench_cl']:.0%} of the speed of its bare "
          f"forward passes (the floor: the same {args.bn_batches + args.eval_batches} batches per architecture)")
    same = float(np.abs(results["wsbench_cl"] - results["wsbench_nchw"]).max())
    print(f"largest proxy difference channels-last vs NCHW: {same:.4f} points")
    agree = kendall_tau(results["wsbench_cl"], results["naive"])
    print(f"Kendall tau between the two evaluators' proxies (EMA vs exact BN averaging): {agree:.3f}")
    write_json(args.out, {
        "benchmark": "proxy evaluation throughput, bns-ft, NB201 super-net",
        "config": vars(args) | {"out": str(args.out), "parameters": n_params},
        "seconds": times, "best_seconds": best,
        "archs_per_second": {k: args.archs / v for k, v in best.items()},
        "speedup": ratio, "speedup_vs_naive_transform": ratio_tf,
        "speedup_nchw": best["naive"] / best["wsbench_nchw"], "target_speedup": 3.0,
        "max_proxy_difference_cl_vs_nchw": same, "fraction_of_floor": best["floor_cl"] / best["wsbench_cl"],
        "kendall_tau_between_evaluators": agree,
        "machine": machine_info(torch.device("cpu")),
    })
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
