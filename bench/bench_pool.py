"""Benchmark: the cell op ``avg_pool_3x3`` (3x3, stride 1, padding 1, padded pixels not counted), PyTorch's
``F.avg_pool2d`` against wsbench's box filter (``wsbench.supernet.pool``), forward + backward, side by side.

The shapes are those of NB201's three stages at the paper's size (C=16, 32x32, batch 128) and at the CPU presets'
(C=8, 16x16 and 8x8), in NCHW and channels-last, one thread, repetitions interleaved. The ratio PyTorch / box
(> 1: the box filter is faster) is what ``wsbench.supernet.pool.use_box`` decides by; results with the machine
description in bench/results/pool.json.

    .venv/bin/python bench/bench_pool.py [--reps 9]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from wsbench.atomic import write_json
from wsbench.machine import machine_info
from wsbench.supernet.pool import _BoxAverage, use_box

OUT = Path(__file__).resolve().parent / "results" / "pool.json"
SHAPES = ((128, 16, 32, 32), (128, 32, 16, 16), (128, 64, 8, 8), (128, 8, 16, 16), (128, 16, 8, 8),
          (128, 32, 4, 4), (128, 8, 8, 8))


def _pytorch(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    rows = []
    for shape in SHAPES:
        for channels_last in (False, True):
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            x0 = torch.randn(*shape).contiguous(memory_format=fmt)
            g = torch.randn(*shape).contiguous(memory_format=fmt)
            fns = {"pytorch": _pytorch, "box": _BoxAverage.apply}
            times = {k: [] for k in fns}
            for r in range(args.reps + 1):
                for name in (list(fns) if r % 2 else list(fns)[::-1]):
                    x = x0.clone().requires_grad_()
                    start = time.perf_counter()
                    fns[name](x).backward(g)
                    if r:  # the first round warms up
                        times[name].append(time.perf_counter() - start)
            med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
            row = {"shape": list(shape), "channels_last": channels_last, "pytorch_ms": med["pytorch"],
                   "box_ms": med["box"], "speedup": med["pytorch"] / med["box"], "box_used": use_box(x0)}
            rows.append(row)
            print(f"{shape} {'channels-last' if channels_last else 'NCHW'}: PyTorch {med['pytorch']:.2f} ms, "
                  f"box {med['box']:.2f} ms, x{row['speedup']:.2f} (box used: {row['box_used']})", flush=True)
    write_json(args.out, {"reps": args.reps, "threads": 1, "rows": rows, "machine": machine_info()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
