"""Benchmark: one whole training epoch of a CPU preset against its floor, the stand-alone steps of the same paths.

The epoch is the steady-state period of ``wsbench train PRESET`` (three epochs, no evaluation; the time from the end
of the first step of epoch 2 to the end of the first step of epoch 3, so that loading the data and building the
super-net, one-time costs, stay out): data iteration, on-device augmentation, path sampling, the super-net steps,
logging, the end-of-epoch checkpoint and the run directory's writes are all in it. Its floor is the sum over the
epoch's steps of the stand-alone step of the step's architecture (the plain network of the path, same batch size,
threads and memory format, on fixed random batches, no data pipeline): for ``--archs`` architectures drawn with the
preset's sampler the stand-alone step is timed (median of 3 after a warm-up step) and the floor is ``steps x`` their
mean. Between the two, the super-net steps on the same fixed batches (no data pipeline) split the overhead into the
super-net itself and everything else. Epoch and floor measurements are interleaved ``--reps`` times. Ratio epoch /
floor; target <= 1.10.

    python bench/bench_epoch.py [--preset nb201-cpu] [--reps 3] [--archs 24]

Needs the preset's data imported (CIFAR-10: ``wsbench data import ../shared/data``). Writes
bench/results/epoch_floor_<preset>.json with machine info.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import load_config
from wsbench.machine import machine_info
from wsbench.spaces import build_standalone, build_supernet, space_of
from wsbench.train import train_supernet

TARGET = 1.10


def _steps(model: nn.Module, archs: list, x: torch.Tensor, y: torch.Tensor, lr: float, supernet: bool) -> list[float]:
    """Per architecture: the median over 3 of one training step (forward, backward, SGD)."""
    out = []
    for arch in archs:
        net = model if supernet else model(arch)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True)
        times = []
        for _ in range(4):
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            logits = net(x, arch) if supernet else net(x)
            nn.functional.cross_entropy(logits, y).backward()
            opt.step()
            times.append(time.perf_counter() - start)
        out.append(statistics.median(times[1:]))  # the first step warms the oneDNN primitives
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="nb201-cpu")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--archs", type=int, default=24)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--profile", action="store_true", help="print where one 3-epoch run spends its time")
    args = ap.parse_args()
    cfg = load_config(args.preset, ["protocol.epochs=3", "eval.final=false", "protocol.max_minutes=null"])
    p, d = cfg.protocol, cfg.data
    torch.set_num_threads(p.threads or 1)
    side = d.resolution or 32
    space = space_of(cfg)
    archs = space.sample(np.random.default_rng(p.seed), args.archs)
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
    for r in range(args.reps):
        with tempfile.TemporaryDirectory() as tmp:
            stamps: list[float] = []
            summary = train_supernet(cfg, Path(tmp) / "run", quiet=True,
                                     on_step=lambda _, out=stamps: out.append(time.perf_counter()))
        steps = int(summary["step"]) // 3  # steps per epoch
        epoch_s = stamps[2 * steps] - stamps[steps]
        floor_step = statistics.mean(_steps(standalone, archs, x, y, p.lr, supernet=False))
        sn_step = statistics.mean(_steps(supernet, archs, x, y, p.lr, supernet=True))
        row = {"rep": r, "steps": steps, "epoch_s": round(epoch_s, 3), "floor_s": round(steps * floor_step, 3),
               "supernet_steps_s": round(steps * sn_step, 3),
               "epoch_over_floor": round(epoch_s / (steps * floor_step), 3),
               "supernet_steps_over_floor": round(sn_step / floor_step, 3)}
        print(row)
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
