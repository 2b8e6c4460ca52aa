"""NB101 super-net step time vs stand-alone step time on the same cell, batch and threads.

For cells drawn with a seeded generator (Random-NAS encodings, pruned), one training step (forward, backward,
SGD update) of the super-net restricted to the cell is timed against the same step of the stand-alone network
of that cell; repetitions are interleaved, alternating which model goes first. The stand-alone step is the
physical floor of a super-net step, so the median ratio should stay close to 1 (target: <= 1.10). The dynamic
channel reduction (default: interpolate, the paper's best NB101 setting) is part of the super-net's cost.

    .venv/bin/python bench/bench_supernet_step_nb101.py                      # reduced CPU setting
    .venv/bin/python bench/bench_supernet_step_nb101.py --dynamic fixed --kernel single
    .venv/bin/python bench/bench_supernet_step_nb101.py --channels 128 --cells 3 --batch 256 --device cuda

Writes bench/results/supernet_step_nb101.json (per-cell times, median ratio, machine info).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.spaces.nb101 import NB101Space, format_arch
from wsbench.supernet import build_supernet

TARGET = 1.10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor,
                *arch: Any) -> None:
    opt.zero_grad(set_to_none=True)
    F.cross_entropy(model(x, *arch), y).backward()
    opt.step()


def _seconds(device: torch.device, fn: Callable[..., None], *args: Any) -> float:
    _sync(device)
    start = time.perf_counter()
    fn(*args)
    _sync(device)
    return time.perf_counter() - start


def _optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=1e-3)


def _machine(device: torch.device) -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else str(device),
    }


def main() -> None:
    """Run the benchmark and write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--cells", type=int, default=1, help="cells per stack (3 stacks)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--resolution", type=int, default=32)
    ap.add_argument("--dynamic", default="interpolate", choices=["fixed", "shuffle", "interpolate"])
    ap.add_argument("--kernel", default="separate", choices=["separate", "single", "ofa"])
    ap.add_argument("--archs", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3, help="timed steps per model and cell")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per model and cell")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "supernet_step_nb101.json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    mapping = MappingCfg(channels=args.channels, cells_per_stage=args.cells, op_map="node",
                         dynamic_channels=args.dynamic, kernel=args.kernel)
    net = build_supernet("nb101", mapping, 10).to(device).train()
    net_opt = _optimizer(net)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=gen).to(device)
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    cells = NB101Space().sample(np.random.default_rng(args.seed), args.archs)

    rows: list[dict[str, Any]] = []
    for i, arch in enumerate(cells):
        alone = net.standalone(arch).to(device).train()
        net.copy_to_standalone(arch, alone)
        alone_opt = _optimizer(alone)
        for _ in range(args.warmup):
            _train_step(net, net_opt, x, y, arch)
            _train_step(alone, alone_opt, x, y)
        t_net: list[float] = []
        t_alone: list[float] = []
        for r in range(args.reps):
            runs = [(t_net, (net, net_opt, x, y, arch)), (t_alone, (alone, alone_opt, x, y))]
            for times, step_args in runs if r % 2 == 0 else runs[::-1]:
                times.append(_seconds(device, _train_step, *step_args))
        m_net, m_alone = statistics.median(t_net), statistics.median(t_alone)
        rows.append({"arch": format_arch(arch), "supernet_ms": 1e3 * m_net, "standalone_ms": 1e3 * m_alone,
                     "ratio": m_net / m_alone})
        print(f"[{i + 1:2d}/{len(cells)}] {format_arch(arch):60s} supernet {1e3 * m_net:8.2f} ms  "
              f"standalone {1e3 * m_alone:8.2f} ms  ratio {m_net / m_alone:.3f}", flush=True)

    ratios = [r["ratio"] for r in rows]
    median = statistics.median(ratios)
    result = {
        "benchmark": "supernet_step_nb101",
        "what": "median over NB101 cells of (super-net step time / stand-alone step time), forward+backward+SGD",
        "median_ratio": median,
        "mean_ratio": statistics.fmean(ratios),
        "max_ratio": max(ratios),
        "target": TARGET,
        "meets_target": median <= TARGET,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": _machine(device),
        "archs": rows,
    }
    write_json(args.out, result)
    print(f"median ratio {median:.3f} (target <= {TARGET}); mean {result['mean_ratio']:.3f}; "
          f"max {result['max_ratio']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
