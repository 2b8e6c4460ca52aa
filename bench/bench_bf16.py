"""Benchmark: bf16 autocast on the CPU (``protocol.cpu_bf16``) beside fp32, for speed and for ranking quality.

Speed (side by side in one process, one thread, repetitions interleaved, alternating which precision goes first):
the NB201 super-net training step (forward, backward, SGD) and the bns-ft evaluation of a batch of architectures,
at the CPU preset's size (``nb201-cpu``: C=8, N=1, batch 128, 8x8 images, channels-last) and at 16x16 and the
paper's C=16 N=5 32x32. Ratio fp32 / bf16 (> 1: bf16 is faster).

Quality (``--quality``): ``wsbench train nb201-cpu`` for each seed with ``protocol.cpu_bf16`` false and true (the
same seed gives the same data order, initialisation and paths); the super-net's own sparse Kendall-Tau
(``acc_sparse_kendall_tau``) and the wall time of each run, and the paired difference bf16 - fp32 with its spread
over seeds. ``--epochs E`` shortens the preset (said in the results) when the machine cannot afford 2 x seeds full
runs.

bf16 is only timed where the CPU computes it natively (AVX512-BF16 / AMX, ``wsbench.machine.cpu_has_bf16``);
elsewhere the switch is off and the benchmark says so. Writes bench/results/bf16.json with machine info.

    python bench/bench_bf16.py [--reps 5] [--quality --seeds 0,1,2 [--epochs 24]]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from wsbench.atomic import write_json
from wsbench.config import MappingCfg
from wsbench.evaluate.proxy import evaluate_archs
from wsbench.machine import cpu_has_bf16, machine_info
from wsbench.spaces import build_supernet, get_space
from wsbench.supernet.base import autocast

OUT = Path(__file__).resolve().parent / "results" / "bf16.json"
SETTINGS = (  # name, channels, cells per stage, batch, resolution
    ("CPU preset (nb201-cpu): C=8 N=1 batch 128 8x8", 8, 1, 128, 8),
    ("C=8 N=1 batch 128 16x16", 8, 1, 128, 16),
    ("paper size: C=16 N=5 batch 128 32x32", 16, 5, 128, 32),
)
CPU = torch.device("cpu")


def _step(model: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, arch: object,
          bf16: bool) -> float:
    start = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    with autocast(CPU, False, bf16):
        logits = model(x, arch)
    F.cross_entropy(logits.float(), y).backward()
    opt.step()
    return time.perf_counter() - start


def _eval(model: torch.nn.Module, archs: list, bn: list, ev: list, bf16: bool) -> float:
    start = time.perf_counter()
    evaluate_archs(model, archs, bn, ev, "bns-ft", channels_last=True, cpu_bf16=bf16)
    return time.perf_counter() - start


def speed(reps: int, n_archs: int) -> list[dict[str, object]]:
    torch.set_num_threads(1)
    space = get_space("nb201")
    rng = np.random.default_rng(0)
    out = []
    for name, channels, cells, batch, side in SETTINGS:
        mapping = MappingCfg(channels=channels, cells_per_stage=cells, bn_affine=False, bn_track_running_stats=False)
        torch.manual_seed(0)
        model = build_supernet("nb201", mapping, num_classes=10).to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x = torch.randn(batch, 3, side, side).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (batch,))
        archs = space.sample(rng, n_archs)
        bn = [(torch.randn(256, 3, side, side), torch.randint(0, 10, (256,)))]
        ev = [(torch.randn(256, 3, side, side), torch.randint(0, 10, (256,)))]
        times: dict[str, list[float]] = {"train fp32": [], "train bf16": [], "eval fp32": [], "eval bf16": []}
        for bf16 in (False, True):  # warm-up: oneDNN primitives of both precisions
            _step(model, opt, x, y, archs[0], bf16)
            _eval(model, archs[:2], bn, ev, bf16)
        for r in range(reps):
            order = (False, True) if r % 2 == 0 else (True, False)
            for arch in archs:
                for bf16 in order:
                    times["train bf16" if bf16 else "train fp32"].append(_step(model, opt, x, y, arch, bf16))
            for bf16 in order:
                times["eval bf16" if bf16 else "eval fp32"].append(_eval(model, archs, bn, ev, bf16) / len(archs))
        med = {k: statistics.median(v) for k, v in times.items()}
        row = {"setting": name, **{f"{k} ms": round(1000 * v, 3) for k, v in med.items()},
               "train speed-up (fp32/bf16)": round(med["train fp32"] / med["train bf16"], 3),
               "eval speed-up (fp32/bf16)": round(med["eval fp32"] / med["eval bf16"], 3)}
        print(json.dumps(row))
        out.append(row)
    return out


def quality(seeds: list[int], epochs: int | None) -> dict[str, object]:
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            for bf16 in (False, True):
                out = Path(tmp) / f"s{seed}-{'bf16' if bf16 else 'fp32'}"
                cmd = [sys.executable, "-m", "wsbench", "train", "nb201-cpu", "--out", str(out),
                       f"protocol.seed={seed}", f"protocol.cpu_bf16={str(bf16).lower()}", "protocol.max_minutes=null"]
                if epochs is not None:
                    cmd.append(f"protocol.epochs={epochs}")
                start = time.perf_counter()
                subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
                wall = time.perf_counter() - start
                m = json.loads((out / "metrics.json").read_text())
                runs.append({"seed": seed, "bf16": bf16, "wall_s": round(wall, 1),
                             "acc_sparse_kendall_tau": m["acc_sparse_kendall_tau"],
                             "supernet_accuracy": m["supernet_accuracy"]})
                print(json.dumps(runs[-1]))
    diff = [b["acc_sparse_kendall_tau"] - a["acc_sparse_kendall_tau"] for a, b in zip(runs[::2], runs[1::2],
                                                                                       strict=True)]
    speed_up = [a["wall_s"] / b["wall_s"] for a, b in zip(runs[::2], runs[1::2], strict=True)]
    return {"preset": "nb201-cpu", "epochs": epochs or "preset (96)", "runs": runs,
            "skdt_diff_bf16_minus_fp32": {"mean": statistics.mean(diff),
                                          "sd": statistics.stdev(diff) if len(diff) > 1 else None,
                                          "per_seed": diff},
            "wall_speed_up_fp32_over_bf16": {"mean": statistics.mean(speed_up), "per_seed": speed_up}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--archs", type=int, default=8)
    ap.add_argument("--quality", action="store_true", help="also train nb201-cpu per seed in fp32 and bf16")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=None, help="shorten the preset's 96 epochs (said in the results)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    doc: dict[str, object] = {"machine": machine_info(CPU), "cpu_bf16_native": cpu_has_bf16()}
    if not cpu_has_bf16():
        doc["note"] = "this CPU has neither AVX512-BF16 nor AMX: protocol.cpu_bf16 is ignored, nothing to time"
        print(doc["note"])
    else:
        doc["speed"] = speed(args.reps, args.archs)
        if args.quality:
            doc["quality"] = quality([int(s) for s in args.seeds.split(",")], args.epochs)
    write_json(args.out, doc)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
