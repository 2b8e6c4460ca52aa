"""Proxy evaluation inside a WS search: batched + cached ``SupernetScorer`` vs naive one-at-a-time evaluation.

Trains a small NB201 super-net on digits (CPU), records the scorer queries of a few greedy local searches
(GS asks for whole neighbourhoods, and independent runs ask for the same architectures again), then answers the
same query sequence two ways, side by side in this run:

* ``SupernetScorer``: fixed BN/eval batches built once, each neighbourhood in one ``evaluate_archs`` call, a
  cache so that no architecture is evaluated twice;
* naive: for every queried architecture, rebuild the fixed batches, deep-copy the super-net and evaluate that
  one architecture (no cache), as a straightforward per-architecture loop would.

Also times the unique architectures alone (batching without the cache's help) and reports the absolute seconds
per architecture ("To Share or Not To Share" needed about 4 s per architecture on GPU with CIFAR-10).
Writes bench/results/ws_search.json.

    .venv/bin/python bench/bench_ws_search.py [--runs 10] [--budget 150] [--threads 1] [--naive-sample 150]

The naive loop costs about as much per architecture whatever it is asked, so by default it is timed on a uniform
sample of 150 queried architectures and its mean time is scaled to the whole query sequence (``naive.extrapolated``
in the JSON); ``--naive-sample 0`` times the whole sequence.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from wsbench.atomic import write_json
from wsbench.benchmarks.importers import import_path
from wsbench.config import RunCfg
from wsbench.evaluate.proxy import evaluate_archs
from wsbench.search import TabularProblem
from wsbench.search.algorithms import local_search
from wsbench.search.curves import run_generators
from wsbench.search.supernet import LoadedRun, SupernetScorer, load_run, proxy_batches
from wsbench.train import train_supernet

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("WSBENCH_SHARED_DATA", REPO.parent / "shared" / "data"))
TEST = "cifar10_test_200ep"


class Recorder:
    """Scorer that forwards to ``inner`` and records every query (a copy of its rows)."""

    def __init__(self, inner: SupernetScorer):
        self.inner, self.queries = inner, []

    def score(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        self.queries.append(np.array(rows, dtype=np.int64))
        return self.inner.score(rows, rng)


def naive_answer(loaded: LoadedRun, scorer: SupernetScorer, queries: list[np.ndarray]) -> tuple[float, np.ndarray]:
    """Seconds to answer ``queries`` one architecture at a time (fresh batches, model copy, no cache)."""
    decode, out = scorer._decode, []
    t0 = time.perf_counter()
    for rows in queries:
        for r in rows:
            bn, ev = proxy_batches(loaded)
            model = copy.deepcopy(loaded.model)
            out.append(evaluate_archs(model, [decode(int(r))], bn, ev, scorer.bn_mode,
                                      channels_last=scorer._channels_last)[0])
    return time.perf_counter() - t0, np.asarray(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--budget", type=int, default=150)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--naive-sample", type=int, default=150, help="queried archs timed naively (0: all)")
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--cells", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        import_path(SHARED / "nb201" / "nb201_200ep_test.csv", data)
        cfg = RunCfg.model_validate({
            "mapping": {"channels": args.channels, "cells_per_stage": args.cells},
            "protocol": {"epochs": 1, "batch_size": 128, "device": "cpu", "seed": 0},
            "data": {"dataset": "digits"},
            "eval": {"final": False, "bn_batches": 2, "bn_batch_size": 128, "eval_batches": 2,
                     "eval_batch_size": 128, "ground_truth": f"nb201:{TEST}"},
        })
        t0 = time.perf_counter()
        train_supernet(cfg, Path(tmp) / "run", data_dir=data, quiet=True)
        train_s = time.perf_counter() - t0
        loaded = load_run(Path(tmp) / "run", data)

        # 1) the WS searches with the batched + cached scorer, recording the queries
        scorer = SupernetScorer(Path(tmp) / "run", loaded=loaded)
        rec = Recorder(scorer)
        problem = TabularProblem(scorer.space, scorer.table, "proxy", TEST, scorer=rec)  # type: ignore[arg-type]
        t0 = time.perf_counter()
        for rng in run_generators(0, args.runs):
            local_search(problem, args.budget, rng)
        search_s = time.perf_counter() - t0
        queries = rec.queries
        n_queries = int(sum(len(q) for q in queries))
        fast_eval_s = scorer.spent_seconds

        # 2) the same query sequence answered naively: all of it, or a uniform sample of queried architectures
        #    (--naive-sample) whose mean time is scaled to the whole sequence
        flat = np.concatenate(queries)
        sample = flat
        if 0 < args.naive_sample < len(flat):
            sample = np.random.default_rng(1).choice(flat, size=args.naive_sample, replace=False)
        naive_sample_s, naive_scores = naive_answer(loaded, scorer, [sample])
        naive_s = naive_sample_s * len(flat) / len(sample)
        max_diff = float(np.max(np.abs(naive_scores - scorer.proxy(sample))))

        # 3) batching alone: the unique architectures, fresh cache, in one pass
        unique = np.unique(np.concatenate(queries))
        fresh = SupernetScorer(Path(tmp) / "run", loaded=loaded)
        t0 = time.perf_counter()
        fresh.score(unique, np.random.default_rng(0))
        batched_unique_s = time.perf_counter() - t0
        sub = unique if len(unique) <= len(sample) else np.random.default_rng(2).choice(unique, len(sample), False)
        naive_unique_s = naive_answer(loaded, scorer, [sub])[0] * len(unique) / len(sub)

    fast_rate, naive_rate = n_queries / search_s, n_queries / naive_s
    result = {
        "bench": "ws_search",
        "workload": {"space": "nb201", "algo": "gs", "runs": args.runs, "budget": args.budget,
                     "scorer_calls": len(queries), "queried_archs": n_queries, "unique_archs": int(len(unique)),
                     "dataset": "digits (8x8)", "channels": args.channels, "cells_per_stage": args.cells,
                     "bn_batches": "2 x 128", "eval_batches": "2 x 128 (the whole validation split: 180 images)",
                     "bn_mode": scorer.bn_mode},
        "supernet_train_seconds": train_s,
        "batched_cached": {"seconds": search_s, "eval_seconds": fast_eval_s, "archs_per_s": fast_rate,
                           "model_calls": scorer.model_calls},
        "naive": {"seconds": naive_s, "archs_per_s": naive_rate, "timed_archs": int(len(sample)),
                  "extrapolated": bool(len(sample) < len(flat))},
        "speedup_batched_cached_vs_naive": naive_s / search_s,
        "unique_only": {"batched_seconds": batched_unique_s, "naive_seconds": naive_unique_s,
                        "speedup": naive_unique_s / batched_unique_s},
        "seconds_per_arch": {"batched": batched_unique_s / len(unique), "naive": naive_unique_s / len(unique),
                             "paper_gpu_cifar10": 4.0},
        "max_abs_score_diff": max_diff,
        "machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                    "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "load_avg": list(os.getloadavg())},
    }
    print(json.dumps(result, indent=2))
    print(f"batched+cached {fast_rate:.1f} archs/s vs naive {naive_rate:.1f} archs/s: "
          f"{result['speedup_batched_cached_vs_naive']:.1f}x (target >= 3x); unique only "
          f"{result['unique_only']['speedup']:.2f}x; {result['seconds_per_arch']['batched'] * 1e3:.1f} ms per "
          f"architecture (paper: ~4 s on GPU)")
    write_json(REPO / "bench" / "results" / "ws_search.json", result)


if __name__ == "__main__":
    main()
