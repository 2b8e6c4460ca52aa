"""Benchmark: tabular random search and greedy local search, 100 runs x 10,000 evaluations.

Imports ../shared/data into a temporary data directory, then measures in one run, on NB201 (complete table,
12-epoch validation -> 200-epoch test) and on the NB101 sample (noisy validation, training times):

* building the search problem (neighbour index set-up),
* RS and GS, 100 runs x 10,000 evaluations each, from a cold neighbour cache (target: under 60 s each),
* GS once more with the neighbour lists cached (the search loop alone),
* NB101 neighbour lookup per row: the vectorised path of ``wsbench.spaces.nb101.neighbours`` vs hashing every
  neighbour with ``NB101Space.neighbours`` + ``key`` (the generic path), side by side on the same rows.

Writes bench/results/search.json with machine info. Usage: ``python bench/bench_search.py [--shared DIR]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.atomic import write_json
from wsbench.benchmarks.importers import import_path
from wsbench.benchmarks.store import load_table
from wsbench.search import TabularProblem, final_regrets, run_many
from wsbench.search.neighbours import NeighbourIndex
from wsbench.spaces import get_space

ROOT = Path(__file__).resolve().parents[1]
RUNS, BUDGET = 100, 10_000


def machine() -> dict[str, Any]:
    """Platform and library versions."""
    import pandas as pd

    return {"platform": platform.platform(), "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "numpy": np.__version__, "pandas": pd.__version__}


def cpu_wall(fn):  # type: ignore[no-untyped-def]
    """Run ``fn``; return (result, wall seconds, process CPU seconds)."""
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench_space(label: str, make_problem) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Time RS and GS (cold and warm neighbour cache) on one problem."""
    def build():  # type: ignore[no-untyped-def]
        prob = make_problem()
        prob.neighbours(int(prob.candidates[0]))  # builds the neighbour index
        return prob

    problem, setup_s, _ = cpu_wall(build)
    res: dict[str, Any] = {"problem": label, "candidates": int(len(problem.candidates)),
                           "setup_with_neighbour_index_s": setup_s}
    for algo, key in (("rs", "rs"), ("gs", "gs_cold"), ("gs", "gs_warm")):
        curves, wall, cpu = cpu_wall(lambda a=algo: run_many(problem, a, RUNS, BUDGET, seed=0))
        fin = final_regrets(curves)
        res[key] = {"wall_s": wall, "cpu_s": cpu, "final_regret_mean": float(fin.mean()),
                    "rows_with_neighbours": len(problem._neighbours) if problem._neighbours else 0}
        print(f"{label:<14} {key:<8} {RUNS}x{BUDGET}: wall {wall:6.1f} s, cpu {cpu:6.1f} s, "
              f"final regret {fin.mean():.3f}")
    return res


def nb101_lookup_ratio(table, rows: np.ndarray) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Per-row neighbour lookup: vectorised vs hashing every neighbour, on the same rows."""
    space = get_space("nb101")
    mask = np.ones(len(table), dtype=bool)
    fast = NeighbourIndex(space, table, mask)
    slow = NeighbourIndex(space, table, mask)
    slow._fast = None  # force the generic path (space.neighbours -> key -> table.index)
    t = time.perf_counter()
    a = [fast(int(r)) for r in rows]
    fast_ms = (time.perf_counter() - t) / len(rows) * 1e3
    t = time.perf_counter()
    b = [slow(int(r)) for r in rows]
    slow_ms = (time.perf_counter() - t) / len(rows) * 1e3
    same = all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    print(f"nb101 neighbours per row: vectorised {fast_ms:.3f} ms, hashing {slow_ms:.2f} ms "
          f"({slow_ms / fast_ms:.0f}x), identical lists: {same}")
    return {"rows": len(rows), "vectorised_ms": fast_ms, "hashing_ms": slow_ms, "speedup": slow_ms / fast_ms,
            "identical": same}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "search.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"machine": machine(), "runs": RUNS, "budget": BUDGET}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        t = time.perf_counter()
        import_path(args.shared / "nb201", data_dir=data_dir)
        import_path(args.shared / "nb101" / "nb101_sample.csv.gz", data_dir=data_dir)
        result["import_s"] = time.perf_counter() - t
        nb201 = load_table("nb201", data_dir)
        nb101 = load_table("nb101-sample", data_dir)
        result["nb201"] = bench_space("nb201", lambda: TabularProblem(
            get_space("nb201"), nb201, "cifar10_val_12ep", "cifar10_test_200ep"))
        result["nb101_sample"] = bench_space("nb101-sample", lambda: TabularProblem(
            get_space("nb101"), nb101, "valid_acc", "test_acc", time_metric="train_time"))
        rows = np.random.default_rng(0).choice(len(nb101), 200, replace=False)
        result["nb101_neighbour_lookup"] = nb101_lookup_ratio(nb101, rows)
    write_json(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
