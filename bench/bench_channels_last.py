"""Benchmark: super-net training step on the CPU in the NCHW and channels-last memory formats, side by side.

For each CPU preset (configs/<space>-cpu.yaml), the same super-net (same seed) trains the same sampled
architectures on the same random batch once per format, interleaved over ``--repeats`` rounds; the median step
time of each format and their ratio are printed and written to bench/results/channels_last_cpu.json with the
machine's description. This is the measurement behind ``protocol.channels_last`` applying on CPUs too.

    .venv/bin/python bench/bench_channels_last.py [--archs 12] [--repeats 3] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from wsbench.atomic import write_json
from wsbench.config import load_config
from wsbench.machine import machine_info
from wsbench.spaces import build_supernet, get_space

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "channels_last_cpu.json"


def step_seconds(space: str, channels_last: bool, archs: list, batch: int) -> float:
    """Mean seconds per training step (forward, backward, SGD update) over ``archs``."""
    cfg = load_config(ROOT / "configs" / f"{space}-cpu.yaml")
    side = cfg.data.resolution or 32
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(batch, 3, side, side, generator=gen)
    y = torch.randint(0, 10, (batch,), generator=gen)
    torch.manual_seed(0)
    model = build_supernet(space, cfg.mapping, num_classes=10)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    start = time.perf_counter()
    for arch in archs:
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x, arch), y).backward()
        opt.step()
    return (time.perf_counter() - start) / len(archs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--archs", type=int, default=12)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = {}
    for space in ("nb201", "nb101", "darts"):
        cfg = load_config(ROOT / "configs" / f"{space}-cpu.yaml")
        archs = list(get_space(space).sample(np.random.default_rng(0), args.archs))
        times: dict[str, list[float]] = {"nchw": [], "channels_last": []}
        for _ in range(args.repeats):  # interleaved, so drifts in machine load hit both formats
            for fmt, cl in (("nchw", False), ("channels_last", True)):
                times[fmt].append(step_seconds(space, cl, archs, cfg.protocol.batch_size))
        med = {k: float(np.median(v)) for k, v in times.items()}
        results[space] = {"batch_size": cfg.protocol.batch_size, "seconds_per_step": med,
                          "speedup_channels_last": med["nchw"] / med["channels_last"]}
        print(f"{space}: NCHW {med['nchw'] * 1e3:.1f} ms, channels-last {med['channels_last'] * 1e3:.1f} ms per "
              f"step: {results[space]['speedup_channels_last']:.2f}x")
    write_json(OUT, {"bench": "channels_last_cpu", "archs": args.archs, "repeats": args.repeats,
                     "threads": args.threads, "results": results, "machine": machine_info()})


if __name__ == "__main__":
    main()
