"""Benchmark: enumerate all unique NAS-Bench-101 cells (must print 423624) and time the cell hash.

Records wall time and peak memory of the full enumeration, checks that every hash of the shared benchmark sample
is among the enumerated keys, and compares side by side: the enumeration against hashing every candidate
encoding (estimated from the measured per-cell hash time), and cached against uncached ``key()`` calls.
Writes bench/results/nb101_enumerate.json.
"""

from __future__ import annotations

import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wsbench.atomic import write_json
from wsbench.spaces.nb101.enumeration import _full_dags, enumerate_cells
from wsbench.spaces.nb101.space import SUBSPACES, NB101Space, arch_key, cell_hash

ROOT = Path(__file__).resolve().parents[1]
# sub-space sizes of the full space, Table 6 of "How to Train Your Super-Net" (independent of this code)
PAPER_TABLE6 = {"A1": 120933, "A2": 201441, "A3": 90782, "A4": 10467}
SAMPLE = ROOT.parent / "shared" / "data" / "nb101" / "nb101_sample.csv.gz"


def peak_rss_mib() -> float:
    """Peak resident memory of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def main() -> None:
    """Run the benchmark and write its JSON record."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        cells = enumerate_cells(7, 9, data_dir=tmp)
        build_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        enumerate_cells(7, 9, data_dir=tmp)
        load_s = time.perf_counter() - t0
    peak = peak_rss_mib()
    print(len(cells))
    print(f"enumeration: {build_s:.1f} s, peak RSS {peak:.0f} MiB, reload from npz cache {load_s:.2f} s")

    # candidates a plain hash-everything approach would need: full DAGs x op labellings, per vertex count
    candidates = sum(_full_dags(n, 9).shape[0] * 3 ** (n - 2) for n in range(3, 8)) + 1
    rng = np.random.default_rng(0)
    probe = [cells.arch(int(i)) for i in rng.choice(len(cells), 3000, replace=False)]
    t0 = time.perf_counter()
    for a in probe:
        cell_hash(a.bits, a.labels)
    hash_us = (time.perf_counter() - t0) / len(probe) * 1e6
    arch_key.cache_clear()
    t0 = time.perf_counter()
    for a in probe:
        arch_key(a)
    uncached_us = (time.perf_counter() - t0) / len(probe) * 1e6
    t0 = time.perf_counter()
    for _ in range(10):
        for a in probe:
            arch_key(a)
    cached_us = (time.perf_counter() - t0) / (10 * len(probe)) * 1e6
    brute_s = candidates * hash_us * 1e-6
    print(
        f"hash-everything estimate: {candidates:,} candidates x {hash_us:.1f} us = {brute_s:.0f} s "
        f"({brute_s / build_s:.1f}x the enumeration)"
    )
    print(f"key(): uncached {uncached_us:.1f} us, cached {cached_us:.2f} us ({uncached_us / cached_us:.0f}x)")

    sample_check: dict[str, object] = {"available": SAMPLE.exists()}
    if SAMPLE.exists():
        import pandas as pd

        hashes = pd.read_csv(SAMPLE, usecols=["hash"], dtype={"hash": str})["hash"]
        missing = int((~np.isin(hashes.to_numpy(dtype=str), cells.keys)).sum())
        sample_check.update(rows=len(hashes), missing_from_enumeration=missing)
        print(f"sample hashes missing from the enumeration: {missing} of {len(hashes)}")
    subspaces = {name: int(cells.subspace_mask(name).sum()) for name in SUBSPACES}
    print("sub-space sizes:", subspaces)
    table6_ok = all(subspaces[k] == v for k, v in PAPER_TABLE6.items())
    print(f"A1..A4 sizes equal the paper's Table 6: {table6_ok}")
    space = NB101Space()
    assert space.key(cells.arch(0)) == cells.keys[0]

    write_json(
        ROOT / "bench" / "results" / "nb101_enumerate.json",
        {
            "unique_cells": len(cells),
            "expected": 423624,
            "enumeration_s": round(build_s, 2),
            "reload_npz_s": round(load_s, 3),
            "peak_rss_mib": round(peak, 1),
            "hash_everything_candidates": candidates,
            "hash_everything_estimate_s": round(brute_s, 1),
            "speedup_vs_hash_everything": round(brute_s / build_s, 2),
            "cell_hash_us": round(hash_us, 2),
            "key_uncached_us": round(uncached_us, 2),
            "key_cached_us": round(cached_us, 3),
            "key_cached_speedup": round(uncached_us / cached_us, 1),
            "subspace_sizes": subspaces,
            "subspace_sizes_match_paper_table6": table6_ok,
            "sample_check": sample_check,
            "machine": {
                "platform": platform.platform(),
                "processor": platform.processor(),
                "cpu_count": os.cpu_count(),
                "python": platform.python_version(),
                "numpy": np.__version__,
                "load_average_1_5_15min": [round(x, 2) for x in os.getloadavg()],
            },
        },
    )


if __name__ == "__main__":
    main()
