"""Benchmark: can ``torch.compile`` lower the CPU floor? The ReLU -> conv -> BN op of NB201 eager against the
same op compiled (inductor, fusing ReLU and BN around the convolution), forward + backward, side by side.

Shapes: the paper's first stage (C=16, 32x32, batch 128; NCHW and channels-last) and the CPU presets' (C=8,
16x16 and 8x8, channels-last); one thread, repetitions interleaved, BN affine F / track F. Prints per shape the
eager / compiled ratio (> 1: compiling wins) and the seconds the first compiled call took; writes
bench/results/compile_ops.json with the machine description. Compiling is not used by wsbench (see
docs/performance.md for why).

    .venv/bin/python bench/bench_compile.py [--reps 8]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from wsbench.atomic import write_json
from wsbench.machine import machine_info
from wsbench.supernet.ops import BNSpec, ReLUConvBN

OUT = Path(__file__).resolve().parent / "results" / "compile_ops.json"
SHAPES = (((128, 16, 32, 32), False), ((128, 16, 32, 32), True), ((128, 8, 16, 16), True), ((128, 8, 8, 8), True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=8)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(1)
    bn = BNSpec(affine=False, track_running_stats=False)
    rows = []
    for shape, channels_last in SHAPES:
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        torch.manual_seed(0)
        eager = ReLUConvBN(shape[1], shape[1], 3, 1, bn).to(memory_format=fmt)
        twin = ReLUConvBN(shape[1], shape[1], 3, 1, bn).to(memory_format=fmt)
        twin.load_state_dict(eager.state_dict())
        x0 = torch.randn(*shape).contiguous(memory_format=fmt)
        g = torch.randn(*shape).contiguous(memory_format=fmt)
        start = time.perf_counter()
        compiled = torch.compile(twin)
        compiled(x0.clone().requires_grad_()).backward(g)
        compile_s = time.perf_counter() - start
        eager(x0.clone().requires_grad_()).backward(g)
        models: dict[str, nn.Module] = {"eager": eager, "compiled": compiled}
        times = {k: [] for k in models}
        for r in range(args.reps):
            for name in (list(models) if r % 2 else list(models)[::-1]):
                x = x0.clone().requires_grad_()
                t = time.perf_counter()
                models[name](x).backward(g)
                times[name].append(time.perf_counter() - t)
        med = {k: 1e3 * statistics.median(v) for k, v in times.items()}
        row = {"shape": list(shape), "channels_last": channels_last, "eager_ms": med["eager"],
               "compiled_ms": med["compiled"], "speedup": med["eager"] / med["compiled"], "compile_s": compile_s}
        rows.append(row)
        print(f"{shape} {'channels-last' if channels_last else 'NCHW'}: eager {med['eager']:.2f} ms, compiled "
              f"{med['compiled']:.2f} ms, x{row['speedup']:.2f}; first call {compile_s:.1f} s", flush=True)
    write_json(args.out, {"reps": args.reps, "threads": 1, "rows": rows, "machine": machine_info()})
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
