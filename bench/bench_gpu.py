"""The GPU figures of wsbench in one run (called by bench/gpu_check.sh; also runs on a CPU with ``--tiny``).

On the device (``--device auto``: CUDA when present, else CPU), with random images (speed does not depend on pixel
values) and the protocols' own sizes:

* ``epoch``: super-net training steps of NB201 at the paper's setting (C=16, N=5, batch 256, 32x32, bf16 autocast
  on CUDA, channels-last, single-path uniform sampling), timed after warm-up; the epoch time is the step time x
  the steps of one epoch of NB201's 25,000-image training half (``ceil(25000 / 256)``), stated as extrapolated;
* ``eval``: bns-ft evaluation throughput (architectures per second) of ``evaluate_archs_full`` on the same
  super-net, 4 BN batches + 8 evaluation batches of 256 images per architecture (the CPU presets' evaluation);
* ``cpu_protocol``: the 10-minute CPU preset (``nb201-cpu``: C=8, N=1, 8x8 images, batch 128, 96 epochs over
  45,000 training images) timed on this device: measured step time x its 33,696 steps.

Writes ``<results-dir>/gpu_<part>.json`` with the device name and machine info.
Usage: ``python bench/bench_gpu.py [--device auto|cuda|cpu] [--tiny] [--results-dir bench/results]``.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import MappingCfg, load_config
from wsbench.evaluate.proxy import evaluate_archs_full
from wsbench.machine import machine_info
from wsbench.spaces import build_supernet, get_space
from wsbench.supernet.base import autocast

RESULTS = Path(__file__).resolve().parent / "results"
NB201_TRAIN_IMAGES = 25_000  # NB201 trains its super-nets on half of CIFAR-10's training set


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"


def step_seconds(net: nn.Module, device: torch.device, batch: int, side: int, steps: int, warmup: int,
                 amp: bool) -> list[float]:
    """Seconds of each timed training step of ``net`` (uniformly sampled paths, SGD, random data)."""
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=3e-4)
    x = torch.randn(batch, 3, side, side, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    times = []
    for i in range(warmup + steps):
        arch = space.sample(rng, 1)[0]
        _sync(device)
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        with autocast(device, amp):
            loss = nn.functional.cross_entropy(net(x, arch), y)
        loss.backward()
        opt.step()
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def _net(channels: int, cells: int, device: torch.device, affine: bool = True) -> nn.Module:
    mapping = MappingCfg(channels=channels, cells_per_stage=cells, bn_affine=affine, bn_track_running_stats=False)
    return build_supernet("nb201", mapping, 10).to(device, memory_format=torch.channels_last).train()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true", help="small sizes and few steps (a CPU smoke run)")
    ap.add_argument("--results-dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    torch.manual_seed(0)
    amp = device.type == "cuda"
    if args.tiny:
        channels, cells, batch, side, steps, warmup, n_archs = 4, 1, 16, 16, 3, 1, 4
    else:
        channels, cells, batch, side, steps, warmup, n_archs = 16, 5, 256, 32, 50, 10, 200
    head = {"device": _device_name(device), "tiny": args.tiny, "machine": machine_info(device)}
    out = args.results_dir
    out.mkdir(parents=True, exist_ok=True)

    t = step_seconds(_net(channels, cells, device), device, batch, side, steps, warmup, amp)
    per_epoch = math.ceil(NB201_TRAIN_IMAGES / batch)
    step = statistics.median(t)
    write_json(out / "gpu_epoch.json", {**head, "setting": {"channels": channels, "cells_per_stage": cells,
                                                            "batch": batch, "resolution": side, "amp_bf16": amp,
                                                            "channels_last": True},
                                        "step_ms_median": 1e3 * step, "steps_timed": len(t),
                                        "epoch_seconds_extrapolated": step * per_epoch,
                                        "steps_per_epoch": per_epoch})
    print(f"NB201 super-net step {1e3 * step:.2f} ms -> epoch ~{step * per_epoch:.1f} s ({head['device']})")

    net = _net(channels, cells, device).eval()
    space = get_space("nb201")
    archs = space.sample_unique(np.random.default_rng(1), n_archs)
    ev_batch = 16 if args.tiny else 256

    def batches(n: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [(torch.randn(ev_batch, 3, side, side, device=device), torch.randint(0, 10, (ev_batch,),
                                                                                    device=device))
                for _ in range(n)]

    bn, ev = batches(1 if args.tiny else 4), batches(1 if args.tiny else 8)
    evaluate_archs_full(net, archs[:2], bn, ev, "bns-ft", amp=amp, channels_last=True)  # warm-up
    _sync(device)
    start = time.perf_counter()
    evaluate_archs_full(net, archs, bn, ev, "bns-ft", amp=amp, channels_last=True)
    _sync(device)
    seconds = time.perf_counter() - start
    write_json(out / "gpu_eval.json", {**head, "archs": len(archs), "bn_batches": len(bn),
                                       "eval_batches": len(ev), "batch": ev_batch, "seconds": seconds,
                                       "archs_per_second": len(archs) / seconds})
    print(f"bns-ft evaluation {len(archs) / seconds:.1f} archs/s")

    cfg = load_config("nb201-cpu")
    cpu_side = cfg.data.resolution or 32
    cpu_steps_total = cfg.protocol.epochs * math.ceil(45_000 / cfg.protocol.batch_size)
    t = step_seconds(_net(cfg.mapping.channels, cfg.mapping.cells_per_stage, device, cfg.mapping.bn_affine),
                     device, cfg.protocol.batch_size, cpu_side, steps, warmup, amp)
    step = statistics.median(t)
    write_json(out / "gpu_cpu_protocol.json", {**head, "preset": "nb201-cpu", "step_ms_median": 1e3 * step,
                                               "steps_total": cpu_steps_total,
                                               "training_seconds_extrapolated": step * cpu_steps_total})
    print(f"nb201-cpu protocol: step {1e3 * step:.2f} ms -> training ~{step * cpu_steps_total / 60:.1f} min")


if __name__ == "__main__":
    main()
