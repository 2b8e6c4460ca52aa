"""Benchmark: one whole training epoch of a CPU preset against its floor, the stand-alone steps of the same paths.

The epoch is the steady-state period of ``wsbench train PRESET`` (three epochs, no evaluation; the time from the end
of the first step of epoch 2 to the end of the first step of epoch 3, so that loading the data and building the
super-net, one-time costs, stay out): data iteration, on-device augmentation, path sampling, the super-net steps,
logging, the end-of-epoch checkpoint and the run directory's writes are all in it. Its floor is the sum over the
epoch's steps of the stand-alone step of *that step's* architecture (the sampler's draws are recorded during the
run): the plain network of each path, same batch size, threads and memory format, on a fixed random batch, no data
pipeline, timed as the mean of 2 steps after a warm-up step. With ``--archs N`` only N of the epoch's paths are
timed and the floor is ``steps x`` their mean (faster, with sampling error). Between the two, the super-net steps
on the same paths and batch (no data pipeline) split the overhead into the super-net itself and everything else.
Epoch and floor measurements are interleaved ``--reps`` times. Ratio epoch / floor; target <= 1.10.

    python bench/bench_epoch.py [--preset nb201-cpu] [--reps 3] [--archs 0 (all of the epoch's paths)]

Needs the preset's data imported (CIFAR-10: ``wsbench data import ../shared/data``). Writes
bench/results/epoch_floor_<preset>.json with machine info.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import load_config
from wsbench.machine import machine_info
from wsbench.sampling import make_sampler
from wsbench.spaces import build_standalone, build_supernet
from wsbench.train import loop, train_supernet

TARGET = 1.10


def _steps(model: nn.Module, archs: list, x: torch.Tensor, y: torch.Tensor, lr: float, supernet: bool) -> list[float]:
    """Per architecture: the mean of two training steps (forward, backward, SGD) after a warm-up step."""
    out = []
    for arch in archs:
        net = model if supernet else model(arch)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            logits = net(x, arch) if supernet else net(x)
            nn.functional.cross_entropy(logits, y).backward()
            opt.step()
            times.append(time.perf_counter() - start)
        out.append(statistics.mean(times[1:]))  # the first step warms the oneDNN primitives
    return out


def _recording_sampler(drawn: list) -> Callable:
    """``make_sampler`` whose samplers append every update's paths to ``drawn``."""
    def make(*args: object, **kwargs: object) -> object:
        sampler = make_sampler(*args, **kwargs)
        draw = sampler.next

        def next_paths() -> list:
            paths = draw()
            drawn.append(paths)
            return paths

        sampler.next = next_paths
        return sampler
    return make


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="nb201-cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--archs", type=int, default=0, help="time N of the epoch's paths (0: all)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--profile", action="store_true", help="print where one 3-epoch run spends its time")
    args = ap.parse_args()
    cfg = load_config(args.preset, ["protocol.epochs=3", "eval.final=false", "protocol.max_minutes=null"])
    p, d = cfg.protocol, cfg.data
    torch.set_num_threads(p.threads or 1)
    side = d.resolution or 32
    x = torch.randn(p.batch_size, 3, side, side)
    y = torch.randint(0, 10, (p.batch_size,))
    if p.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    def standalone(arch: object) -> nn.Module:
        net = build_standalone(cfg.space.name, arch, cfg.mapping, 10, 3)
        return net.to(memory_format=torch.channels_last) if p.channels_last else net

    supernet = build_supernet(cfg.space.name, cfg.mapping, 10, 3, cfg.space.subspace)
    if p.channels_last:
        supernet = supernet.to(memory_format=torch.channels_last)
    if args.profile:
        import cProfile
        import pstats

        with tempfile.TemporaryDirectory() as tmp:
            prof = cProfile.Profile()
            prof.runcall(train_supernet, cfg, Path(tmp) / "run", quiet=True)
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    reps = []
    rng = np.random.default_rng(0)
    for r in range(args.reps):
        with tempfile.TemporaryDirectory() as tmp:
            stamps: list[float] = []
            drawn: list = []
            loop.make_sampler = _recording_sampler(drawn)
            try:
                summary = train_supernet(cfg, Path(tmp) / "run", quiet=True,
                                         on_step=lambda _, out=stamps: out.append(time.perf_counter()))
            finally:
                loop.make_sampler = make_sampler
        steps = int(summary["step"]) // 3  # steps per epoch
        epoch_s = stamps[2 * steps] - stamps[steps]
        # the paths of the timed steps (steps + 1 .. 2 * steps; paths_per_batch of them per step)
        archs = [a for paths in drawn[steps + 1:2 * steps + 1] for a in paths]
        per_step = len(archs) / steps
        if args.archs and args.archs < len(archs):
            archs = [archs[i] for i in rng.choice(len(archs), args.archs, replace=False)]
        floor_s = per_step * steps * statistics.mean(_steps(standalone, archs, x, y, p.lr, supernet=False))
        sn_s = per_step * steps * statistics.mean(_steps(supernet, archs, x, y, p.lr, supernet=True))
        row = {"rep": r, "steps": steps, "paths_timed": len(archs), "epoch_s": round(epoch_s, 3),
               "floor_s": round(floor_s, 3), "supernet_steps_s": round(sn_s, 3),
               "epoch_over_floor": round(epoch_s / floor_s, 3),
               "supernet_steps_over_floor": round(sn_s / floor_s, 3)}
        print(row, flush=True)
        reps.append(row)
    ratio = statistics.median(r["epoch_over_floor"] for r in reps)
    doc = {"preset": args.preset, "batch_size": p.batch_size, "resolution": side, "threads": p.threads or 1,
           "channels_last": p.channels_last, "archs": args.archs, "reps": reps, "median_epoch_over_floor": ratio,
           "median_supernet_steps_over_floor": statistics.median(r["supernet_steps_over_floor"] for r in reps),
           "target": TARGET, "met": ratio <= TARGET, "machine": machine_info(torch.device("cpu"))}
    out = args.out or Path(__file__).resolve().parent / "results" / f"epoch_floor_{args.preset}.json"
    write_json(out, doc)
    print(f"epoch / floor: {ratio:.3f} (target <= {TARGET}); wrote {out}")


if __name__ == "__main__":
    main()
