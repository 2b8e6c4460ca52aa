"""Benchmark: wsbench's NB201 super-net beside xautodl's (NATS-Bench's own code), side by side in one process.

xautodl's ``GenericNAS201Model`` in its ``dynamic`` (single-path) mode against wsbench's ``NB201SuperNet`` on the
same architectures (seeded draw), batch, resolution, threads (1) and memory format, BN without affine parameters
or running statistics (Yu et al.'s setting) in both; repetitions interleaved, alternating which model goes first;
random images (speed does not depend on pixel values). Per setting: the median over architectures of the
training step (forward, backward, SGD) and of the evaluation forward pass (``no_grad``, the pass that bns-ft
evaluation repeats per architecture), and the ratio xautodl / wsbench (> 1: wsbench is faster).

NNI's NAS-Bench-201 space is not timed: its one-shot strategies run only inside NNI's Lightning trainer (the
supernet is built by the strategy from a model space), so a single step cannot be timed beside these two without
that trainer; see docs/performance.md.

xautodl is a benchmark-only extra (``pip install --no-deps xautodl``), never a runtime dependency.
Writes bench/results/peers.json with machine info. Usage: ``python bench/bench_peers.py [--archs 8 --reps 3]
[--device cuda --out bench/results/gpu_peers.json]`` (bench/gpu_check.sh runs it on the GPU).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.machine import machine_info
from wsbench.spaces import build_supernet, get_space

OUT = Path(__file__).resolve().parent / "results" / "peers.json"
SETTINGS = (  # name, channels, cells per stage, batch, resolution, channels-last
    ("C=16 N=5 batch 128 32x32, NCHW", 16, 5, 128, 32, False),
    ("C=16 N=5 batch 128 32x32, channels-last", 16, 5, 128, 32, True),
    ("CPU preset size: C=8 N=1 batch 128 16x16, channels-last", 8, 1, 128, 16, True),
)


def _xautodl(channels: int, cells: int) -> nn.Module:
    from xautodl.models.cell_operations import NAS_BENCH_201
    from xautodl.models.cell_searchs.generic_model import GenericNAS201Model

    model = GenericNAS201Model(channels, cells, 4, 10, NAS_BENCH_201, False, False)
    model.set_cal_mode("dynamic", None)
    return model


def _run_xautodl(model: nn.Module, x: torch.Tensor, text: str) -> torch.Tensor:
    from xautodl.models.cell_searchs.genotypes import Structure

    model.dynamic_cell = Structure.str2structure(text)
    return model(x)[1]


DEVICE = torch.device("cpu")
TINY = (("tiny: C=4 N=1 batch 8 16x16, channels-last", 4, 1, 8, 16, True),)


def _time(fn, *args) -> float:  # noqa: ANN001 - a callable and its arguments
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    start = time.perf_counter()
    fn(*args)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize(DEVICE)
    return time.perf_counter() - start


def _setting(name: str, channels: int, cells: int, batch: int, side: int, cl: bool, archs: list, reps: int,
             space: object) -> dict:
    """The medians and ratios of one setting."""
    torch.manual_seed(0)
    fmt = torch.channels_last if cl else torch.contiguous_format
    ours = build_supernet("nb201", MappingCfg(channels=channels, cells_per_stage=cells, bn_affine=False,
                                              bn_track_running_stats=False), 10).to(DEVICE, memory_format=fmt).train()
    theirs = _xautodl(channels, cells).to(DEVICE, memory_format=fmt).train()
    opt_ours = torch.optim.SGD(ours.parameters(), lr=0.025, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.025, momentum=0.9)
    x = torch.randn(batch, 3, side, side, device=DEVICE).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=DEVICE)

    def step_ours(arch: object) -> None:
        opt_ours.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(ours(x, arch), y).backward()
        opt_ours.step()

    def step_theirs(text: str) -> None:
        opt_theirs.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(_run_xautodl(theirs, x, text), y).backward()
        opt_theirs.step()

    def eval_ours(arch: object) -> None:
        with torch.no_grad():
            ours(x, arch)

    def eval_theirs(text: str) -> None:
        with torch.no_grad():
            _run_xautodl(theirs, x, text)

    t = {"train_ours": [], "train_theirs": [], "eval_ours": [], "eval_theirs": []}
    for arch in archs:
        text = space.format(arch)
        step_ours(arch)  # warm-up
        step_theirs(text)
        per = {k: [] for k in t}
        for r in range(reps):
            pairs = [("train_ours", step_ours, arch), ("train_theirs", step_theirs, text),
                     ("eval_ours", eval_ours, arch), ("eval_theirs", eval_theirs, text)]
            for key, fn, a in pairs if r % 2 == 0 else pairs[::-1]:
                per[key].append(_time(fn, a))
        for k in t:
            t[k].append(statistics.median(per[k]))
    med = {k: statistics.median(v) for k, v in t.items()}
    row = {"train_ms": {"wsbench": 1e3 * med["train_ours"], "xautodl": 1e3 * med["train_theirs"]},
                  "eval_ms": {"wsbench": 1e3 * med["eval_ours"], "xautodl": 1e3 * med["eval_theirs"]},
                  "train_speedup": med["train_theirs"] / med["train_ours"],
                  "eval_speedup": med["eval_theirs"] / med["eval_ours"]}
    print(f"{name}: train xautodl {1e3 * med['train_theirs']:.1f} ms, wsbench {1e3 * med['train_ours']:.1f} ms "
          f"(x{row['train_speedup']:.2f}); eval xautodl {1e3 * med['eval_theirs']:.1f} ms, wsbench "
          f"{1e3 * med['eval_ours']:.1f} ms (x{row['eval_speedup']:.2f})", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--archs", type=int, default=8)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (the GPU script passes cuda)")
    ap.add_argument("--tiny", action="store_true", help="one toy setting (the GPU script's CPU self-test)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    global DEVICE
    DEVICE = torch.device(args.device)
    torch.set_num_threads(1)
    space = get_space("nb201")
    archs = space.sample_unique(np.random.default_rng(0), args.archs)
    rows = {}
    for name, channels, cells, batch, side, cl in TINY if args.tiny else SETTINGS:
        rows[name] = _setting(name, channels, cells, batch, side, cl, archs, args.reps, space)
    import xautodl

    write_json(args.out, {"archs": args.archs, "reps": args.reps, "threads": 1, "bn": "affine F, track F",
                     "xautodl": getattr(xautodl, "__version__", "installed"), "settings": rows,
                     "nni": "not timed (its one-shot strategies need NNI's Lightning trainer)",
                     "machine": machine_info(DEVICE)})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
