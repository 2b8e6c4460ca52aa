"""Benchmark: what the stored tables' own digests cost when a table is loaded and used.

Imports the NB201 CSVs and the NB101 sample from ../shared/data into a temporary data directory, writes a copy of
each table without digests (as older versions stored them), and measures side by side in one run:

* ``load``: ``GroundTruth.load`` (memory map + metadata; the digests are only parsed), verified vs unverified;
* ``first_use``: load + the key column and one metric column, i.e. what a training run reads before it starts
  (with digests both columns are checked), verified vs unverified;
* ``verify_all``: load + ``verify()`` of every column (``wsbench data info``).

Target: loading NB101 stays well under 50 ms. Writes bench/results/table_integrity.json with machine info.
Usage: ``python bench/bench_table_integrity.py [--shared DIR] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from wsbench.atomic import write_json
from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.store import table_path
from wsbench.benchmarks.table import GroundTruth
from wsbench.machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
CASES = {"nb201": ("nb201/nb201_200ep_test.csv", "cifar10_test_200ep"),
         "nb101-sample": ("nb101/nb101_sample.csv.gz", "valid_acc")}


def median_ms(fn: Callable[[], Any], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def without_digests(src: Path, dst: Path) -> None:
    """The same table file with the digests removed from its metadata."""
    import json

    with pa.memory_map(str(src), "r") as source:
        table = ipc.open_file(source).read_all()
    meta = json.loads(table.schema.metadata[b"wsbench"])
    meta.pop("column_sha256")
    table = table.replace_schema_metadata({b"wsbench": json.dumps(meta).encode()})
    with pa.OSFile(str(dst), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": machine_info(), "repeats": args.repeats, "tables": {}}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        for name, (source, metric) in CASES.items():
            import_path(args.shared / source, data_dir=data_dir)
            path = table_path(name, data_dir)
            plain = data_dir / f"{name}-plain.arrow"
            without_digests(path, plain)
            assert GroundTruth.load(path).verified and not GroundTruth.load(plain).verified

            def first_use(p: Path = path, m: str = metric) -> None:
                gt = GroundTruth.load(p)
                gt.key_array  # noqa: B018 - the key column is what index() reads
                gt.values(m)

            def first_use_plain(p: Path = plain, m: str = metric) -> None:
                first_use(p, m)

            row = {
                "rows": len(GroundTruth.load(path)), "file_mb": round(path.stat().st_size / 1e6, 2),
                "load_ms": median_ms(lambda p=path: GroundTruth.load(p), args.repeats),
                "load_unverified_ms": median_ms(lambda p=plain: GroundTruth.load(p), args.repeats),
                "first_use_ms": median_ms(first_use, args.repeats),
                "first_use_unverified_ms": median_ms(first_use_plain, args.repeats),
                "verify_all_ms": median_ms(lambda p=path: GroundTruth.load(p).verify(), args.repeats),
            }
            row["load_ratio"] = row["load_ms"] / row["load_unverified_ms"]
            row["first_use_ratio"] = row["first_use_ms"] / row["first_use_unverified_ms"]
            result["tables"][name] = row
            print(f"{name:13s} {row['rows']:>8,} rows {row['file_mb']:6.1f} MB | load {row['load_ms']:6.2f} ms "
                  f"(x{row['load_ratio']:.2f} of unverified) | load + key + {metric} {row['first_use_ms']:6.1f} ms "
                  f"(x{row['first_use_ratio']:.2f}) | verify all {row['verify_all_ms']:6.1f} ms")
    out = ROOT / "bench" / "results" / "table_integrity.json"
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
