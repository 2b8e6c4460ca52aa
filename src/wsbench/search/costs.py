"""Cost accounting of a weight-sharing search (Sec. 4.3 and 4.4 of "To Share or Not To Share").

All sources of computation are counted, in seconds:

* super-net training, paid once before the first proxy evaluation (the WS curves start at this offset).
  ``supernet_training_seconds`` *measures* it from the run directory: ``status.json``'s ``elapsed`` (training
  seconds over all sessions, evaluations excluded), else the last ``elapsed`` of the training records in
  ``metrics.jsonl``. The paper, which could not rerun the benchmark's hardware, *estimated* it instead (see
  ``estimate_supernet_seconds``);
* proxy evaluations: the measured seconds per architecture reported by the ``SupernetScorer``;
* stand-alone training of every architecture finally trained (the one-shot pick), taken from the table's
  training-time column when it has one (NAS-Bench-101 ``train_time``). The NAS-Bench-201 tables here carry no
  times: they count 0 s and ``StandaloneTimes.known`` is False, which the summaries state.

The time of the WS curves is ``offset + cumsum(proxy seconds)``, plus the training time of the final pick at the
end (``wsbench.search.oneshot``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsbench.benchmarks.table import GroundTruth
from wsbench.search.problem import SearchError

#: Training-time columns looked for in a table, in order of preference.
TIME_METRICS: tuple[str, ...] = ("train_time",)


@dataclass(frozen=True)
class SupernetCost:
    """Measured super-net training time of a run: ``seconds``, where it was read, device and epochs trained."""

    seconds: float
    source: str
    device: str | None = None
    epochs: int | None = None
    status: str | None = None


def supernet_training_seconds(run_dir: str | Path) -> SupernetCost:
    """The measured training seconds of the super-net of ``run_dir`` (``status.json``, else ``metrics.jsonl``)."""
    root = Path(run_dir)
    status_path, metrics_path = root / "status.json", root / "metrics.jsonl"
    status: dict = {}
    if status_path.exists():
        status = json.loads(status_path.read_text(encoding="utf-8"))
        elapsed = status.get("elapsed")
        if isinstance(elapsed, int | float) and math.isfinite(elapsed) and elapsed >= 0:
            return SupernetCost(float(elapsed), "status.json", status.get("device"), status.get("epoch"),
                                status.get("status"))
    last: float | None = None
    if metrics_path.exists():
        for line in metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if rec.get("kind", "train") == "train" and isinstance(rec.get("elapsed"), int | float):
                last = float(rec["elapsed"])
    if last is not None:
        return SupernetCost(last, "metrics.jsonl", status.get("device"), status.get("epoch"), status.get("status"))
    raise SearchError(f"no training time recorded in {root} (status.json has no 'elapsed' and metrics.jsonl has "
                      f"no training records); is it a run directory written by `wsbench train`?")


def estimate_supernet_seconds(step_seconds: np.ndarray, epochs: int, steps_per_epoch: int,
                              paths_per_batch: int = 1) -> float:
    """The paper's estimate of the super-net training time (used when it cannot be measured on one machine).

    Each sampled path only runs its own sub-network, so a super-net step costs about one stand-alone step of a
    random architecture. With ``step_seconds[a]`` the measured time of one forward + backward pass of
    architecture ``a`` (the paper averages three measures per architecture) the estimate is

        T_supernet = mean_a(step_seconds[a]) * epochs * steps_per_epoch * paths_per_batch,

    i.e. the average stand-alone training time of the space's architectures for the same schedule.
    """
    step = np.asarray(step_seconds, dtype=np.float64)
    if step.size == 0 or not np.isfinite(step).all() or (step < 0).any():
        raise SearchError("step_seconds must be a non-empty array of finite, non-negative seconds")
    if epochs < 0 or steps_per_epoch < 0 or paths_per_batch < 1:
        raise SearchError("epochs and steps_per_epoch must be >= 0 and paths_per_batch >= 1")
    return float(step.mean()) * epochs * steps_per_epoch * paths_per_batch


@dataclass(frozen=True)
class StandaloneTimes:
    """Stand-alone training seconds of every table row (mean over repeats), or zeros when the table has none."""

    seconds: np.ndarray
    metric: str | None

    @property
    def known(self) -> bool:
        """Whether the times come from the table (False: counted as 0 s)."""
        return self.metric is not None

    def note(self, table: str) -> str | None:
        """The caveat for the summary when the times are unknown, else ``None``."""
        if self.known:
            return None
        return (f"table {table!r} has no stand-alone training times: the final pick's training is counted as 0 s "
                f"(times_known=false), so the WS time axis holds only super-net training and proxy evaluation")


def standalone_times(table: GroundTruth, metric: str | None = None) -> StandaloneTimes:
    """Stand-alone training seconds per row from ``metric`` (default: the first of ``TIME_METRICS`` present)."""
    if metric is not None:
        if not table.has(metric):
            raise SearchError(f"table {table.name!r} has no metric {metric!r}; choose one of {table.metrics()}")
        return StandaloneTimes(np.ascontiguousarray(table.values(metric), dtype=np.float64), metric)
    for m in TIME_METRICS:
        if table.has(m):
            return StandaloneTimes(np.ascontiguousarray(table.values(m), dtype=np.float64), m)
    return StandaloneTimes(np.zeros(len(table)), None)


