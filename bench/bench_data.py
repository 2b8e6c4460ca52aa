"""Benchmark: data pipeline costs - CIFAR-10 image-tree decoding, and on-device augmentation per epoch.

1. Decoding ``../shared/data/cifar10/cifar10_jpeg_tree.tar.gz`` (60,000 JPEGs) with ``read_image_tree`` in one
   process and with ``workers=2`` processes (skip with ``--no-decode``).
2. One epoch of random crop + flip + normalisation over the same uint8 images (synthetic, 32 x 32 RGB), batch 256:
   * wsbench ``BatchIterator`` (whole batch: two ``torch.gather`` calls + one fused multiply-add),
   * a single 4-index advanced-indexing gather per batch (the first version of ``crop_flip``),
   * a naive per-sample loop (pad, slice, flip, normalise each image separately, then stack).
   Run side by side in one process (best of ``--repeats``); ratios printed.

Writes bench/results/data_pipeline.json with machine info. Usage: ``python bench/bench_data.py [--images 10000]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from wsbench.atomic import write_json
from wsbench.data import BatchIterator, read_image_tree

OUT = Path(__file__).resolve().parent / "results" / "data_pipeline.json"
TREE = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10" / "cifar10_jpeg_tree.tar.gz"


def advanced_index_epoch(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, bs: int, g: torch.Generator) -> None:
    """Crop + flip as one 4-index advanced-indexing gather per batch."""
    n, c, h, w = x.shape
    pad = 4
    perm = torch.randperm(n, generator=g)
    for s in range(0, n - bs + 1, bs):
        xb = F.pad(x[perm[s:s + bs]], (pad,) * 4)
        dy, dx = torch.randint(0, 9, (2, bs), generator=g)
        flip = torch.randint(0, 2, (bs,), generator=g).bool()
        cols = torch.arange(w).view(1, w)
        cols = torch.where(flip.view(bs, 1), w - 1 - cols, cols) + dx.view(bs, 1)
        rows = dy.view(bs, 1) + torch.arange(h).view(1, h)
        out = xb[torch.arange(bs).view(bs, 1, 1, 1), torch.arange(c).view(1, c, 1, 1), rows.view(bs, 1, h, 1),
                 cols.view(bs, 1, 1, w)]
        _ = (out.float() - mean.view(1, c, 1, 1)) / std.view(1, c, 1, 1)


def per_sample_epoch(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, bs: int, g: torch.Generator) -> None:
    """A per-image loop, as an image-by-image transform pipeline would do it."""
    n, c, h, w = x.shape
    perm = torch.randperm(n, generator=g)
    m, sd = mean.view(c, 1, 1), std.view(c, 1, 1)
    for s in range(0, n - bs + 1, bs):
        imgs = []
        for i in perm[s:s + bs].tolist():
            p = F.pad(x[i], (4, 4, 4, 4))
            dy, dx = torch.randint(0, 9, (2,), generator=g).tolist()
            img = p[:, dy:dy + h, dx:dx + w]
            if torch.randint(0, 2, (1,), generator=g).item():
                img = img.flip(-1)
            imgs.append((img.float() - m) / sd)
        _ = torch.stack(imgs)


def best_of(fn: Callable[[], None], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-decode", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    result: dict[str, object] = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count(),
                    "torch": torch.__version__, "torch_threads": args.threads},
    }
    if not args.no_decode and TREE.is_file():
        dec = {}
        for workers in (1, 2):
            t = time.perf_counter()
            arrays = read_image_tree(TREE, expected_counts=(50_000, 10_000), workers=workers)
            dec[f"workers_{workers}_s"] = round(time.perf_counter() - t, 2)
            print(f"decode {len(arrays.train_y) + len(arrays.test_y)} images, workers={workers}: "
                  f"{dec[f'workers_{workers}_s']:.1f} s")
        dec["speedup_2_workers"] = round(dec["workers_1_s"] / dec["workers_2_s"], 2)
        result["decode_cifar10_tree"] = dec

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.integers(0, 256, size=(args.images, 3, 32, 32), dtype=np.uint8))
    y = torch.from_numpy(rng.integers(0, 10, size=args.images))
    mean, std = torch.tensor([125.3, 123.0, 113.9]), torch.tensor([63.0, 62.1, 66.7])
    it = BatchIterator(x, y, args.batch_size, mean, std, augment=True)

    def ours() -> None:
        for _ in it.epoch(torch.Generator().manual_seed(0)):
            pass

    timings = {
        "wsbench_batch_gather_s": best_of(ours, args.repeats),
        "advanced_indexing_s": best_of(lambda: advanced_index_epoch(x, mean, std, args.batch_size,
                                                                    torch.Generator().manual_seed(0)), args.repeats),
        "per_sample_loop_s": best_of(lambda: per_sample_epoch(x, mean, std, args.batch_size,
                                                              torch.Generator().manual_seed(0)), 1),
    }
    base = timings["wsbench_batch_gather_s"]
    aug = {k: round(v, 3) for k, v in timings.items()}
    aug["images"] = args.images
    aug["wsbench_images_per_s"] = round(args.images / base)
    aug["speedup_vs_advanced_indexing"] = round(timings["advanced_indexing_s"] / base, 2)
    aug["speedup_vs_per_sample_loop"] = round(timings["per_sample_loop_s"] / base, 2)
    result["augment_epoch"] = aug
    for k, v in aug.items():
        print(f"{k}: {v}")
    write_json(OUT, result)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
