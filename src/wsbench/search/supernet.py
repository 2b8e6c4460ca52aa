"""The trained super-net as a search scorer (the weight-sharing setting of "To Share or Not To Share", Sec. 4.3).

``SupernetScorer`` reloads a run directory (``config.yaml`` + newest checkpoint, as ``wsbench eval`` does),
builds the fixed BN and evaluation batches once (common random numbers: every architecture sees the same
images, the same ones ``evaluate_supernet`` uses) and answers the ``Scorer`` protocol of
``wsbench.search.problem``: table rows in, proxy accuracies (%) and per-evaluation seconds out. It therefore
plugs into ``TabularProblem(scorer=...)`` and ``random_search``/``local_search`` run unchanged; the test
accuracy (and the regret) still comes from the table.

* Batching: the rows of one query that are not cached yet are evaluated in chunks of ``batch`` architectures
  per ``evaluate_archs`` call (a local-search step evaluates its whole neighbourhood at once). The cost of an
  evaluation is the measured wall time of its chunk (decoding included) divided by the chunk size.
* Cache: the scores of the table's rows (one row = one table key) are kept, so no architecture is evaluated
  twice. A cached row costs no model call and no wall time; by default it is still *charged* the seconds it
  cost when it was evaluated (``charge_cached=True``), so that every seeded run is costed as the independent
  search it simulates. ``charge_cached=False`` charges 0 instead.
* Budget: ``start_run(seconds=...)`` opens a per-run budget of charged proxy-evaluation seconds. Rows whose
  evaluation ends past the budget are answered with score ``-inf`` and cost 0, and ``run_evaluations`` tells
  how many evaluations fitted (``wsbench.search.oneshot`` truncates the trace there).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.benchmarks.table import GroundTruth
from wsbench.search.neighbours import row_decoder
from wsbench.search.problem import SearchError
from wsbench.train.reload import LoadedRun, load_run


def proxy_batches(loaded: LoadedRun) -> tuple[list[Any], list[Any]]:
    """The fixed BN batches (training split) and evaluation batches (validation split) of the run's config.

    Drawn with the same seeds as ``wsbench.evaluate.study.evaluate_supernet``, so a search scores architectures
    on exactly the images the run's ranking evaluation used.
    """
    from wsbench.evaluate.study import proxy_batches as study_batches

    return study_batches(loaded.cfg.eval, loaded.comps.splits, loaded.comps.device)


class SupernetScorer:
    """Scores table rows with the proxy accuracy of a trained super-net (see the module docstring)."""

    def __init__(self, run_dir: str | Path, data_dir: Path | None = None, bn_mode: str | None = None,
                 batch: int = 256, table: GroundTruth | None = None, charge_cached: bool = True,
                 loaded: LoadedRun | None = None):
        from wsbench.evaluate.bn import check_bn_mode

        if batch < 1:
            raise SearchError(f"batch must be at least 1 architecture per call, got {batch}")
        self.run = loaded if loaded is not None else load_run(run_dir, data_dir)
        cfg = self.run.cfg
        self.bn_mode = check_bn_mode(bn_mode or cfg.eval.bn_mode)
        self.batch = int(batch)
        self.charge_cached = charge_cached
        self.space = self.run.comps.space
        self.table: GroundTruth = table if table is not None else self.run.comps.table
        if self.table.space != self.space.name:
            raise SearchError(f"table {self.table.name!r} is for space {self.table.space!r} but the super-net of "
                              f"{self.run.root} covers {self.space.name!r}")
        self.bn_batches, self.eval_batches = proxy_batches(self.run)
        self._decode = row_decoder(self.space, self.table)
        self._amp = bool(cfg.protocol.amp and self.run.comps.device.type == "cuda")
        self._channels_last = bool(cfg.protocol.channels_last)
        self._cpu_bf16 = bool(cfg.protocol.cpu_bf16)
        n = len(self.table)
        self._score = np.full(n, np.nan)
        self._cost = np.full(n, np.nan)
        self.model_calls = 0  # evaluate_archs calls
        self.evaluated = 0  # distinct architectures evaluated on the model
        self.spent_seconds = 0.0  # wall time really spent evaluating
        self.queries = 0  # rows asked for, cached or not
        self._run_budget: float | None = None
        self._run_charged = 0.0
        self._run_evals = 0
        self._run_over = False

    # -- the Scorer protocol ----------------------------------------------------------------------------------
    def score(self, rows: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Proxy accuracies (%) and charged seconds of ``rows`` (``rng`` is unused: the proxy is deterministic)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._run_over:  # the run's seconds budget is spent: no model call
            return np.full(rows.shape, -np.inf), np.zeros(rows.shape)
        fresh = self.evaluate_rows(rows)
        self.queries += int(rows.size)
        scores, costs = self._score[rows].copy(), self._cost[rows].copy()
        if not self.charge_cached:
            costs[~fresh] = 0.0
        return self._apply_budget(scores, costs)

    # -- evaluation and cache ---------------------------------------------------------------------------------
    def evaluate_rows(self, rows: np.ndarray) -> np.ndarray:
        """Evaluate the rows of ``rows`` not in the cache (each once), in chunks of ``batch`` architectures.

        Returns a mask over ``rows``: which positions were evaluated now rather than served from the cache.
        """
        from wsbench.evaluate.proxy import evaluate_archs

        rows = np.asarray(rows, dtype=np.int64)
        if rows.size and (rows.min() < 0 or rows.max() >= len(self.table)):
            raise SearchError(f"row indices must lie in [0, {len(self.table)}) of table {self.table.name!r}")
        todo = np.unique(rows[np.isnan(self._score[rows])])
        fresh = np.isin(rows, todo) if todo.size else np.zeros(rows.shape, dtype=bool)
        for start in range(0, len(todo), self.batch):
            chunk = todo[start:start + self.batch]
            t0 = time.perf_counter()
            archs = [self._decode(int(r)) for r in chunk]
            acc = evaluate_archs(self.run.model, archs, self.bn_batches, self.eval_batches, self.bn_mode,
                                 amp=self._amp, channels_last=self._channels_last,
                                 cpu_bf16=self._cpu_bf16)  # reads back: synchronised
            seconds = time.perf_counter() - t0
            self._score[chunk] = acc
            self._cost[chunk] = seconds / len(chunk)
            self.model_calls += 1
            self.evaluated += len(chunk)
            self.spent_seconds += seconds
        return fresh

    def cached(self, key: str) -> tuple[float, float] | None:
        """``(proxy accuracy, seconds)`` of the architecture with table key ``key`` if evaluated, else ``None``."""
        row = int(self.table.index(key, missing="ignore")[0])
        if row < 0 or np.isnan(self._score[row]):
            return None
        return float(self._score[row]), float(self._cost[row])

    def proxy(self, rows: np.ndarray) -> np.ndarray:
        """Cached proxy accuracies of ``rows`` (NaN where not evaluated); never runs the model."""
        return self._score[np.asarray(rows, dtype=np.int64)].copy()

    @property
    def cache_size(self) -> int:
        """Number of architectures in the cache."""
        return int(np.isfinite(self._score).sum())

    @property
    def seconds_per_arch(self) -> float:
        """Mean measured proxy-evaluation seconds per architecture (NaN before the first evaluation)."""
        return self.spent_seconds / self.evaluated if self.evaluated else float("nan")

    # -- per-run budget ---------------------------------------------------------------------------------------
    def start_run(self, seconds: float | None = None) -> None:
        """Begin a new search run with a budget of ``seconds`` charged evaluation seconds (``None``: unlimited)."""
        if seconds is not None and not seconds > 0:
            raise SearchError(f"the seconds budget must be positive, got {seconds}")
        self._run_budget = None if seconds is None else float(seconds)
        self._run_charged, self._run_evals, self._run_over = 0.0, 0, False

    @property
    def run_evaluations(self) -> int:
        """Evaluations of the current run that fitted into its seconds budget."""
        return self._run_evals

    @property
    def run_exhausted(self) -> bool:
        """Whether the current run's seconds budget is spent."""
        return self._run_over

    def _apply_budget(self, scores: np.ndarray, costs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self._run_over:
            return np.full(scores.shape, -np.inf), np.zeros(costs.shape)
        if self._run_budget is None:
            self._run_evals += len(scores)
            self._run_charged += float(np.sum(costs))
            return scores, costs
        cum = self._run_charged + np.cumsum(costs)
        fit = int(np.searchsorted(cum, self._run_budget, side="right"))  # evaluations ending within budget
        if fit < len(scores):
            self._run_over = True
            scores, costs = scores.copy(), costs.copy()
            scores[fit:], costs[fit:] = -np.inf, 0.0
        self._run_evals += fit
        self._run_charged = float(cum[fit - 1]) if fit else self._run_charged
        return scores, costs
