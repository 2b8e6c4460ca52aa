"""Benchmark: loading imported ground-truth tables vs parsing the source CSVs, and bulk key lookup.

Imports ../shared/data into a temporary data directory, then measures side by side in one run:

* load: ``GroundTruth.load`` + touching the keys and one metric column, vs ``pandas.read_csv`` of the source file
  (NB201 200-epoch CSV, NB101 sample .csv.gz); target ratio >= 20x.
  The proposed "arrow-native" path keeps the keys as Arrow strings instead of a Python object array.
* lookup: ``GroundTruth.index`` of 1,000,000 fresh key strings (target well under 1 s), next to two candidate
  faster paths: ``pyarrow.compute.index_in`` on the key strings, and (NB101 hex hashes) two uint64 words per key
  with searchsorted on the high word.

Writes bench/results/tables.json with machine info. Usage: ``python bench/bench_tables.py [--shared DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from wsbench.atomic import write_json
from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.store import table_path
from wsbench.benchmarks.table import GroundTruth

ROOT = Path(__file__).resolve().parents[1]
N_LOOKUP = 1_000_000


def timed(fn: Callable[[], Any], repeats: int) -> float:
    """Median wall time of ``fn`` over ``repeats`` runs (seconds)."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _timed_once(fn: Callable[[np.ndarray], Any], arg: np.ndarray) -> float:
    t = time.perf_counter()
    fn(arg)
    return time.perf_counter() - t


def hex_words(keys: np.ndarray) -> np.ndarray:
    """32-hex-digit keys as ``(n, 2)`` big-endian uint64 words (hi, lo), vectorised (no per-key Python)."""
    raw = np.asarray(keys, dtype="S32").view(np.uint8).reshape(-1, 32)
    nib = np.where(raw >= ord("a"), raw - (ord("a") - 10), raw - ord("0")).astype(np.uint8)
    packed = np.ascontiguousarray((nib[:, 0::2] << 4) | nib[:, 1::2])
    return packed.view(">u8").astype(np.uint64)


def fresh(keys: np.ndarray) -> np.ndarray:
    """New string objects equal to ``keys`` (as a caller computing keys would pass; no cached hashes)."""
    return np.asarray([k.encode().decode() for k in keys], dtype=object)


def machine() -> dict[str, Any]:
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                    if ln.startswith("model name")), "")
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "numpy": np.__version__, "pandas": pd.__version__, "pyarrow": pa.__version__}


def bench_load(name: str, metric: str, source: Path, read_kwargs: dict[str, Any], data_dir: Path,
               repeats: int) -> dict[str, Any]:
    path = table_path(name, data_dir)

    def load() -> None:
        gt = GroundTruth.load(path)
        _ = gt.key_array  # ready for vectorised lookup
        _ = gt.values(metric)

    def parse() -> None:
        frame = pd.read_csv(source, **read_kwargs)
        _ = frame.iloc[:, 0].to_numpy()

    def load_arrow() -> None:  # proposed: keep keys as Arrow strings (no Python objects), metrics zero-copy
        with pa.memory_map(str(path), "r") as src:
            table = ipc.open_file(src).read_all()
        _ = table.column("key").combine_chunks()
        _ = table.column(metric if metric in table.column_names else f"{metric}@0").to_numpy()

    t_load, t_arrow, t_csv = timed(load, repeats), timed(load_arrow, repeats), timed(parse, max(3, repeats // 4))
    return {"table": name, "load_s": t_load, "pandas_csv_s": t_csv, "speedup": t_csv / t_load,
            "arrow_native_load_s": t_arrow, "arrow_native_speedup": t_csv / t_arrow}


def bench_lookup(name: str, data_dir: Path, rng: np.random.Generator) -> dict[str, Any]:
    gt = GroundTruth.load(table_path(name, data_dir))
    rows = rng.integers(0, len(gt), size=N_LOOKUP)
    queries = fresh(gt.keys[rows])
    gt.index(queries[:10])  # build the index outside the timing
    t_index = statistics.median(_timed_once(gt.index, fresh(queries)) for _ in range(3))
    assert np.array_equal(gt.index(queries), rows)
    value_set = pa.array(gt.keys, type=pa.string())

    def arrow() -> np.ndarray:
        return pc.index_in(pa.array(queries, type=pa.string()), value_set=value_set).to_numpy(zero_copy_only=False)

    assert np.array_equal(arrow(), rows)
    out: dict[str, Any] = {"table": name, "n": N_LOOKUP, "pandas_get_indexer_s": t_index,
                           "arrow_index_in_s": timed(arrow, 3)}
    if name.startswith("nb101"):
        words = hex_words(gt.keys)
        order = np.argsort(words[:, 0])
        hi, lo = words[order, 0], words[order, 1]

        def by_words() -> np.ndarray:
            q = hex_words(queries)
            pos = np.minimum(np.searchsorted(hi, q[:, 0]), len(hi) - 1)
            found = (hi[pos] == q[:, 0]) & (lo[pos] == q[:, 1])
            return np.where(found, order[pos], -1)

        assert len(np.unique(hi)) == len(hi) and np.array_equal(by_words(), rows)
        out["hex_uint64_searchsorted_s"] = timed(by_words, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        t = time.perf_counter()
        import_path(args.shared, data_dir=data_dir)
        t_import = time.perf_counter() - t
        load = [
            bench_load("nb201", "cifar10_test_200ep", args.shared / "nb201" / "nb201_200ep_test.csv", {},
                       data_dir, args.repeats),
            bench_load("nb101-sample", "test_acc", args.shared / "nb101" / "nb101_sample.csv.gz",
                       {"dtype": {"hash": str, "matrix": str, "ops": str}}, data_dir, max(5, args.repeats // 4)),
        ]
        lookup = [bench_lookup("nb201", data_dir, rng), bench_lookup("nb101-sample", data_dir, rng)]
    result = {"machine": machine(), "import_shared_s": t_import, "load": load, "lookup": lookup}
    for r in load:
        print(f"load {r['table']:13s}: GroundTruth {r['load_s'] * 1e3:7.2f} ms ({r['speedup']:5.1f}x) | arrow-native "
              f"{r['arrow_native_load_s'] * 1e3:7.2f} ms ({r['arrow_native_speedup']:6.1f}x) | pandas csv "
              f"{r['pandas_csv_s'] * 1e3:8.2f} ms")
    for r in lookup:
        extra = (f" | hex->uint64+searchsorted {r['hex_uint64_searchsorted_s']:.3f} s"
                 if "hex_uint64_searchsorted_s" in r else "")
        print(f"lookup {r['n']:,} keys in {r['table']:13s}: GroundTruth.index {r['pandas_get_indexer_s']:.3f} s"
              f" | arrow index_in {r['arrow_index_in_s']:.3f} s{extra}")
    out = ROOT / "bench" / "results" / "tables.json"
    write_json(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
