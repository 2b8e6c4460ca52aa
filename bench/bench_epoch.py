"""Benchmark: one whole training epoch of a CPU preset against its floor, the stand-alone steps of the same paths.

The epoch is the steady-state period of ``wsbench train PRESET`` (three epochs, no evaluation; the time from the end
of the first step of epoch 2 to the end of the first step of epoch 3, so that loading the data and building the
super-net, one-time costs, stay out): data iteration, on-device augmentation, path sampling, the super-net steps,
logging, the end-of-epoch checkpoint and the run directory's writes are all in it. Its floor is the sum over the
epoch's steps of the stand-alone step of *that step's* architecture (the sampler's draws are recorded during the
run): the plain network of each path, same batch size, threads and memory format, on a fixed random batch, no data
pipeline, timed as the mean of 2 steps after a warm-up step. With ``--archs N`` only N of the epoch's paths are
timed and the floor is ``steps x`` their mean (faster, with sampling error). Between the two, the super-net steps
on the same paths and batch (no data pipeline) split the overhead into the super-net itself and everything else;
the super-net's *sequence* is one step per path in the epoch's order (no warm-up per path, as training runs them),
and every part besides the steps (data, sampling, meter, clipping and schedule, checkpoint) is also timed alone.
Epoch and floor measurements are interleaved ``--reps`` times. Ratio epoch / floor; target <= 1.10.

Every figure is taken twice: wall-clock time and the process's CPU time (``time.process_time``). With one thread
(the CPU presets' ``protocol.threads: 1``) and the data pipeline in the training process, the CPU time is the
work itself and leaves out the time the process waited for a core; it still moves with what shares the core's
caches, so on a shared machine both ratios spread (docs/performance.md).

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


def _stamp() -> tuple[float, float]:
    """(wall-clock, process CPU) time in seconds."""
    return time.perf_counter(), time.process_time()


def _step(net: nn.Module, arch: object, x: torch.Tensor, y: torch.Tensor, opt: torch.optim.Optimizer,
          supernet: bool) -> None:
    """One training step (forward, backward, SGD) of a super-net path or a stand-alone network."""
    opt.zero_grad(set_to_none=True)
    logits = net(x, arch) if supernet else net(x)
    nn.functional.cross_entropy(logits, y).backward()
    opt.step()


def _steps(model: nn.Module, archs: list, x: torch.Tensor, y: torch.Tensor, lr: float,
           supernet: bool) -> tuple[float, float]:
    """Mean (wall, CPU) seconds per architecture of two training steps (forward, backward, SGD) after a warm-up."""
    wall, cpu = [], []
    for arch in archs:
        net = model if supernet else model(arch)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, nesterov=True)
        for i in range(3):
            w0, c0 = _stamp()
            _step(net, arch, x, y, opt, supernet)
            w1, c1 = _stamp()
            if i:  # the first step warms the oneDNN primitives
                wall.append(w1 - w0)
                cpu.append(c1 - c0)
    return statistics.mean(wall), statistics.mean(cpu)


def _sequence(model: nn.Module, archs: list, x: torch.Tensor, y: torch.Tensor, lr: float) -> tuple[float, float]:
    """(wall, CPU) seconds of one super-net step per path in the epoch's order, as training runs them."""
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)
    w0, c0 = _stamp()
    for arch in archs:
        _step(model, arch, x, y, opt, supernet=True)
    w1, c1 = _stamp()
    return w1 - w0, c1 - c0


def _pipeline(cfg: object, root: Path) -> dict[str, float]:
    """CPU seconds per epoch of each part of the epoch besides the super-net steps, timed alone on the trainer.

    Data (index, crop, flip, normalise, channels-last copy), the sampler's draws, the meter's device-side sums,
    gradient clipping and the schedule's step, once per step; the end-of-epoch checkpoint and status write once.
    Small, single-threaded and measured in CPU time, these stay readable on a shared machine.
    """
    from wsbench.train.checkpoint import save_checkpoint
    from wsbench.train.optim import clip_gradients

    run = loop._prepare_run(cfg, root, resume=False)
    tr = loop.build_trainer(cfg, run, loop.build_components(cfg, None, need_table=False))
    gen = torch.Generator(device=tr.comps.splits.train_x.device).manual_seed(0)
    c0 = time.process_time()
    steps = 0
    for xb, _ in tr.batches.epoch(gen):
        if cfg.protocol.channels_last:
            xb.contiguous(memory_format=torch.channels_last)
        steps += 1
    c1 = time.process_time()
    for _ in range(steps):
        tr.sampler.next()
    c2 = time.process_time()
    meter = loop.Meter(torch.device("cpu"))
    loss, logits = torch.tensor(2.3), torch.randn(cfg.protocol.batch_size, 10)
    labels = torch.randint(0, 10, (cfg.protocol.batch_size,))
    for i in range(steps):
        meter.add(loss, logits, labels, i)
    c3 = time.process_time()
    x = torch.randn(cfg.protocol.batch_size, 3, cfg.data.resolution or 32, cfg.data.resolution or 32)
    nn.functional.cross_entropy(tr.model(x, tr.sampler.next()[0]), labels).backward()
    for _ in range(steps):
        clip_gradients(tr.params, cfg.protocol.grad_clip)
        tr.schedule.step()
    c4 = time.process_time()
    save_checkpoint(run.checkpoints, loop._checkpoint_state(tr))
    run.write_status("running", epoch=1, step=steps, device="cpu", elapsed=0.0)
    c5 = time.process_time()
    return {"data": c1 - c0, "sampler": c2 - c1, "meter": c3 - c2, "clip_schedule": c4 - c3, "checkpoint": c5 - c4}


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
    with tempfile.TemporaryDirectory() as tmp:
        parts = {k: round(v, 4) for k, v in _pipeline(cfg, Path(tmp) / "run").items()}
    print("besides the steps, CPU s per epoch:", parts, flush=True)
    reps = []
    rng = np.random.default_rng(0)
    for r in range(args.reps):
        with tempfile.TemporaryDirectory() as tmp:
            stamps: list[tuple[float, float]] = []
            drawn: list = []
            loop.make_sampler = _recording_sampler(drawn)
            try:
                summary = train_supernet(cfg, Path(tmp) / "run", quiet=True,
                                         on_step=lambda _, out=stamps: out.append(_stamp()))
            finally:
                loop.make_sampler = make_sampler
        steps = int(summary["step"]) // 3  # steps per epoch
        epoch_s = stamps[2 * steps][0] - stamps[steps][0]
        epoch_cpu = stamps[2 * steps][1] - stamps[steps][1]
        # the paths of the timed steps (steps + 1 .. 2 * steps; paths_per_batch of them per step)
        archs = [a for paths in drawn[steps + 1:2 * steps + 1] for a in paths]
        per_step = len(archs) / steps
        if args.archs and args.archs < len(archs):
            archs = [archs[i] for i in rng.choice(len(archs), args.archs, replace=False)]
        n = per_step * steps
        seq_s, seq_cpu = _sequence(supernet, archs, x, y, p.lr) if len(archs) == n else (float("nan"),) * 2
        floor_s, floor_cpu = (n * t for t in _steps(standalone, archs, x, y, p.lr, supernet=False))
        sn_s, sn_cpu = (n * t for t in _steps(supernet, archs, x, y, p.lr, supernet=True))
        row = {"rep": r, "steps": steps, "paths_timed": len(archs), "epoch_s": round(epoch_s, 3),
               "floor_s": round(floor_s, 3), "supernet_steps_s": round(sn_s, 3),
               "epoch_over_floor": round(epoch_s / floor_s, 3),
               "supernet_steps_over_floor": round(sn_s / floor_s, 3),
               "epoch_cpu_s": round(epoch_cpu, 3), "floor_cpu_s": round(floor_cpu, 3),
               "supernet_steps_cpu_s": round(sn_cpu, 3),
               "cpu_epoch_over_floor": round(epoch_cpu / floor_cpu, 3),
               "cpu_supernet_steps_over_floor": round(sn_cpu / floor_cpu, 3),
               "sequence_s": round(seq_s, 3), "sequence_cpu_s": round(seq_cpu, 3),
               "cpu_sequence_over_floor": round(seq_cpu / floor_cpu, 3)}
        print(row, flush=True)
        reps.append(row)
    ratio = statistics.median(r["epoch_over_floor"] for r in reps)
    doc_cpu = statistics.median(r["cpu_epoch_over_floor"] for r in reps)
    doc = {"preset": args.preset, "batch_size": p.batch_size, "resolution": side, "threads": p.threads or 1,
           "channels_last": p.channels_last, "archs": args.archs, "reps": reps, "median_epoch_over_floor": ratio,
           "median_supernet_steps_over_floor": statistics.median(r["supernet_steps_over_floor"] for r in reps),
           "median_cpu_epoch_over_floor": doc_cpu,
           "median_cpu_sequence_over_floor": statistics.median(r["cpu_sequence_over_floor"] for r in reps),
           "pipeline_cpu_s": parts,
           "pipeline_over_floor": round(sum(parts.values()) / statistics.median(r["floor_cpu_s"] for r in reps), 4),
           "median_cpu_supernet_steps_over_floor": statistics.median(
               r["cpu_supernet_steps_over_floor"] for r in reps),
           "target": TARGET, "met": ratio <= TARGET,
           "met_cpu_time": doc_cpu <= TARGET, "machine": machine_info(torch.device("cpu"))}
    out = args.out or Path(__file__).resolve().parent / "results" / f"epoch_floor_{args.preset}.json"
    write_json(out, doc)
    print(f"epoch / floor: {ratio:.3f} wall-clock, {doc['median_cpu_epoch_over_floor']:.3f} CPU time "
          f"(target <= {TARGET}); wrote {out}")


if __name__ == "__main__":
    main()
