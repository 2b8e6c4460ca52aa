"""Super-net step time vs stand-alone step time on the same DARTS architecture.

For architectures drawn with a seeded generator (uniform NB301-style encodings), one training step (forward,
backward, SGD update) of the DARTS super-net restricted to the architecture is timed against the same step of the
stand-alone network of that architecture (same batch, same threads, repetitions interleaved, alternating which
goes first). The physical floor of a super-net step is the stand-alone step, so the median ratio should stay
close to 1 (target: <= 1.10).

    .venv/bin/python bench/bench_supernet_step_darts.py                    # reduced CPU setting
    .venv/bin/python bench/bench_supernet_step_darts.py --channels 36 --layers 12 --batch 256 --device cuda

Writes bench/results/supernet_step_darts.json (per-architecture times, median ratio, machine info).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.spaces.darts import DartsArch, DartsSpace
from wsbench.supernet.darts import DartsSuperNet

TARGET = 1.10


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *args: object) -> None:
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x, *args), y)
    loss.backward()
    opt.step()


def _timed(device: torch.device, *args: object) -> float:
    _sync(device)
    t0 = time.perf_counter()
    _step(*args)  # type: ignore[arg-type]
    _sync(device)
    return time.perf_counter() - t0


def _sgd(model: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(model.parameters(), lr=0.025, momentum=0.9, nesterov=True)


def main() -> None:
    """Run the benchmark and write the JSON result."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--channels", type=int, default=8)
    ap.add_argument("--layers", type=int, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--archs", type=int, default=50)
    ap.add_argument("--reps", type=int, default=3, help="timed steps per model and architecture")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps per model and architecture")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--op-map", choices=("edge", "node"), default="edge")
    ap.add_argument("--kernel", choices=("separate", "single", "ofa"), default="separate")
    ap.add_argument("--wsbn", action="store_true")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "supernet_step_darts.json")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    fmt = torch.channels_last if args.channels_last else torch.contiguous_format
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)  # parameter initialisation
    mapping = MappingCfg(channels=args.channels, op_map=args.op_map, kernel=args.kernel, wsbn=args.wsbn,
                         bn_affine=False, bn_track_running_stats=False)
    net = DartsSuperNet(mapping, 10, layers=args.layers).to(device, memory_format=fmt).train()
    net_opt = _sgd(net)
    x = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=gen).to(device, memory_format=fmt)
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(device)
    space = DartsSpace()
    archs: list[DartsArch] = space.sample(np.random.default_rng(args.seed), args.archs)

    rows = []
    for i, arch in enumerate(archs):
        alone = net.standalone(arch).to(device, memory_format=fmt).train()
        net.copy_to_standalone(arch, alone)
        alone_opt = _sgd(alone)
        for _ in range(args.warmup):
            _step(net, net_opt, x, y, arch)
            _step(alone, alone_opt, x, y)
        t_net, t_alone = [], []
        for r in range(args.reps):
            pair = [(t_net, (net, net_opt, x, y, arch)), (t_alone, (alone, alone_opt, x, y))]
            for times, step_args in pair if r % 2 == 0 else pair[::-1]:
                times.append(_timed(device, *step_args))
        m_net, m_alone = statistics.median(t_net), statistics.median(t_alone)
        rows.append({"arch": space.format_encoding(arch), "supernet_ms": 1e3 * m_net, "standalone_ms": 1e3 * m_alone,
                     "ratio": m_net / m_alone})
        print(f"[{i + 1:2d}/{len(archs)}] supernet {1e3 * m_net:7.2f} ms  standalone {1e3 * m_alone:7.2f} ms  "
              f"ratio {m_net / m_alone:.3f}")

    ratios = [r["ratio"] for r in rows]
    median = statistics.median(ratios)
    result = {
        "benchmark": "supernet_step_darts",
        "what": "median over architectures of (super-net step time / stand-alone step time), forward+backward+SGD",
        "median_ratio": median,
        "mean_ratio": statistics.fmean(ratios),
        "max_ratio": max(ratios),
        "target": TARGET,
        "meets_target": median <= TARGET,
        "supernet_params": sum(p.numel() for p in net.parameters()),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "load_average_1m_at_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        },
        "archs": rows,
    }
    write_json(args.out, result)
    print(f"median ratio {median:.3f} (target <= {TARGET}); mean {result['mean_ratio']:.3f}; "
          f"max {result['max_ratio']:.3f}; wrote {args.out}")


if __name__ == "__main__":
    main()
