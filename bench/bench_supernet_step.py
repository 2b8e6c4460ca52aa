"""Super-net step time vs stand-alone step time on the same architecture, batch and threads.

For architectures drawn with a seeded generator (Random-NAS encodings), one training step (forward, backward,
SGD update) of the super-net restricted to the architecture is timed against the same step of the stand-alone
network of that architecture (``standalone(arch)`` with the super-net's weights copied in); repetitions are
interleaved, alternating which model goes first. The stand-alone step is the physical floor of a super-net
step, so the median ratio should stay close to 1 (target: <= 1.10).

    python bench/bench_supernet_step.py --space nb201                          # C=16, N=5, batch 64, 32x32
    python bench/bench_supernet_step.py --space nb101 --dynamic interpolate    # C=16, 1 cell/stack
    python bench/bench_supernet_step.py --space darts                          # C=8, 5 layers, 16x16
    python bench/bench_supernet_step.py --space nb201 --channels 16 --cells 5 --batch 256 --device cuda

Writes bench/results/supernet_step_<space>.json (per-architecture times, median ratio, machine info).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.machine import machine_info
from wsbench.spaces import build_supernet, get_space

TARGET = 1.10
#: per space: reduced CPU defaults (channels, cells per stage, batch, resolution) and mapping extras
DEFAULTS: dict[str, dict[str, Any]] = {
    "nb201": {"channels": 16, "cells": 5, "batch": 64, "resolution": 32, "mapping": {}},
    "nb101": {"channels": 16, "cells": 1, "batch": 64, "resolution": 32, "mapping": {"op_map": "node"}},
    "darts": {"channels": 8, "cells": 2, "batch": 32, "resolution": 16, "mapping": {}},
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *arch: Any) -> None:
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x, *arch), y).backward()
    opt.step()


def _timed(device: torch.device, *step_args: Any) -> float:
    _sync(device)
    start = time.perf_counter()
    _step(*step_args)
    _sync(device)
    return time.perf_counter() - start


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True, weight_decay=3e-3)


def main() -> None:
    """Run the benchmark and write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--space", choices=sorted(DEFAULTS), default="nb201")
    ap.add_argument("--channels", type=int, default=None)
    ap.add_argument("--cells", type=int, default=None, help="cells per stage (DARTS: layers = 3 x cells)")
    ap.add_argument("--batch", type=int, default=None)
    ap.add_argument("--resolution", type=int, default=None)
    ap.add_argument("--dynamic", choices=("fixed", "shuffle", "interpolate"), default="interpolate",
                    help="NB101 dynamic channels")
    ap.add_argument("--kernel", choices=("separate", "single", "ofa"), default="separate")
    ap.add_argument("--op-map", choices=("edge", "node"), default=None)
    ap.add_argument("--archs", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3, help="timed steps per model and architecture")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per model and architecture")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    d = DEFAULTS[args.space]
    for name in ("channels", "cells", "batch", "resolution"):
        if getattr(args, name) is None:
            setattr(args, name, d[name])
    out = args.out or Path(__file__).parent / "results" / f"supernet_step_{args.space}.json"

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)  # parameter initialisation
    extra = dict(d["mapping"], kernel=args.kernel)
    if args.space == "nb101":
        extra["dynamic_channels"] = args.dynamic
    if args.op_map:
        extra["op_map"] = args.op_map
    mapping = MappingCfg(channels=args.channels, cells_per_stage=args.cells, **extra)
    net = build_supernet(args.space, mapping, 10).to(device, memory_format=fmt).train()
    net_opt = _sgd(net)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=gen).to(device, memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    space = get_space(args.space)
    archs = space.sample(np.random.default_rng(args.seed), args.archs)

    rows = []
    for i, arch in enumerate(archs):
        alone = net.standalone(arch).to(device, memory_format=fmt).train()
        net.copy_to_standalone(arch, alone)
        alone_opt = _sgd(alone)
        for _ in range(args.warmup):
            _step(net, net_opt, x, y, arch)
            _step(alone, alone_opt, x, y)
        t_net: list[float] = []
        t_alone: list[float] = []
        for r in range(args.reps):  # interleaved, alternating which goes first
            pair = [(t_net, (net, net_opt, x, y, arch)), (t_alone, (alone, alone_opt, x, y))]
            for times, step_args in pair if r % 2 == 0 else pair[::-1]:
                times.append(_timed(device, *step_args))
        m_net, m_alone = statistics.median(t_net), statistics.median(t_alone)
        rows.append({"arch": space.format(arch), "supernet_ms": 1e3 * m_net, "standalone_ms": 1e3 * m_alone,
                     "ratio": m_net / m_alone})
        print(f"[{i + 1:2d}/{len(archs)}] supernet {1e3 * m_net:7.2f} ms  standalone {1e3 * m_alone:7.2f} ms  "
              f"ratio {m_net / m_alone:.3f}")

    ratios = [r["ratio"] for r in rows]
    median = statistics.median(ratios)
    result = {
        "benchmark": f"supernet_step_{args.space}",
        "what": "median over architectures of (super-net step time / stand-alone step time), forward+backward+SGD",
        "median_ratio": median,
        "mean_ratio": statistics.fmean(ratios),
        "max_ratio": max(ratios),
        "target": TARGET,
        "meets_target": median <= TARGET,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": machine_info(device),
        "archs": rows,
    }
    write_json(out, result)
    print(f"{args.space}: median ratio {median:.3f} (target <= {TARGET}); mean {result['mean_ratio']:.3f}; "
          f"max {result['max_ratio']:.3f}; wrote {out}")


if __name__ == "__main__":
    main()
