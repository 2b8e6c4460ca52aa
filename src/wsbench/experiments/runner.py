"""Run a study on Ray (one task per run through the pool of ``experiments.pool``) or serially in this process,
resumable from the study directory.

Layout of a study directory: ``results.sqlite`` (``wsbench.experiments.store``), ``study.json`` (name, mode,
fidelity, label order, the paper's numbers) and ``runs/<id>/`` (one ``train_supernet`` run directory each).

Resume rules: a run whose ``status.json`` says ``finished`` is never trained again (a missing store row is
rebuilt from its run directory); a ``diverged`` run is kept as diverged unless ``retry_diverged`` (then its
directory is cleared and it starts over); everything else (pending, running when the driver died, failed)
is started again with ``train_supernet(resume=True)`` from its newest good checkpoint (``last.pt``, else
``prev.pt``; with no usable checkpoint at all the run starts from scratch). A per-run file lock keeps two
workers from ever training the same run directory at the same time.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from wsbench import atomic
from wsbench.atomic import write_json
from wsbench.config import identity_tree
from wsbench.experiments.expand import expand, label_order, select_shard
from wsbench.experiments.pool import Job, run_pool
from wsbench.experiments.spec import RunSpec, StudySpec
from wsbench.experiments.store import DIVERGED, DONE, ResultStore

STUDY_FILE = "study.json"
RUNS_DIR = "runs"
LOCK_FILE = "run.lock"
_MAX_MESSAGE = 2000

log = logging.getLogger(__name__)


def run_dir(study_dir: str | Path, rid: str) -> Path:
    """The run directory of run ``rid`` inside a study directory."""
    return Path(study_dir) / RUNS_DIR / rid


def read_run_status(path: str | Path) -> dict[str, Any] | None:
    """``status.json`` of a run directory, or None when missing/unreadable."""
    try:
        return json.loads((Path(path) / "status.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None


def collect_evals(path: str | Path) -> list[tuple[str, int | None, str, Any]]:
    """``(tag, epoch, metric, value)`` of every numeric metric of every evaluation in ``metrics.jsonl``."""
    out = []
    metrics = Path(path) / "metrics.jsonl"
    if not metrics.exists():
        return out
    for line in metrics.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if rec.get("kind") != "eval":
            continue
        for key, value in rec.items():
            if key in ("kind", "tag", "epoch", "step") or isinstance(value, str | dict | list) or value is None:
                continue
            out.append((str(rec.get("tag", "final")), rec.get("epoch"), key, value))
    return out


def registration_row(run: RunSpec, study: str) -> dict[str, Any]:
    """The descriptive columns of a run's store row."""
    return {"id": run.id, "study": study, "factor": run.factor, "value": run.value, "seed": run.seed,
            "space": run.space, "config": identity_tree(run.cfg), "labels": [list(x) for x in run.labels],
            "levels": run.levels}


def _row_from_status(rid: str, status: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {"id": rid, "status": status.get("status", "failed"), "device": status.get("device")}
    if row["status"] == DONE:
        row["finished"] = status.get("updated")
    if status.get("message"):
        row["message"] = str(status["message"])[:_MAX_MESSAGE]
    return row


@contextmanager
def _run_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path/run.lock`` (released when the process ends, even when killed)."""
    path.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no cross-process protection
        yield
        return
    with open(path / LOCK_FILE, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _warning_text(caught: list[warnings.WarningMessage]) -> str:
    seen: list[str] = []
    for w in caught:
        text = str(w.message)
        if text not in seen:
            seen.append(text)
    return " | ".join(seen)


def execute_run(cfg_tree: dict[str, Any], out_dir: str, db_path: str, rid: str, data_dir: str | None = None,
                num_threads: int = 1, trained_by: str | None = None
                ) -> tuple[dict[str, Any], list[tuple[str, int | None, str, Any]], bool]:
    """Train (or resume) one run and record it in the store (runs in a worker); with ``trained_by``, evaluate the
    super-net trained by that run (of the same study directory) under this run's evaluation settings instead.

    Returns its store row, its evals and whether this call trained it. Never raises for a failed or diverged
    training: the returned row says ``failed``/``diverged`` with the message. A run already finished in
    ``out_dir`` (by another driver, or a worker of an earlier one) is only recorded, and reported as not trained.
    """
    import torch

    from wsbench.config import build_config
    from wsbench.train import TrainingDiverged

    torch.set_num_threads(max(1, int(num_threads)))
    path = Path(out_dir)
    store = ResultStore(db_path)
    with _run_lock(path):
        status = read_run_status(path)
        if status is not None and status.get("status") == DONE:
            row, evals = _row_from_status(rid, status), collect_evals(path)
            store.record(row, evals)
            return row, evals, False
        t0 = time.time()
        store.record({"id": rid, "status": "running", "started": t0, "finished": None, "message": None})
        atomic.fault_point(f"run:{rid}:started")
        cfg = build_config(cfg_tree, source=f"run {rid}")
        notes: list[str] = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                if trained_by is not None:  # an evaluation-only level: evaluate the trainer's super-net
                    from wsbench.train.reload import evaluate_trained_by

                    summary = evaluate_trained_by(path.parent / trained_by, path, cfg,
                                                  Path(data_dir) if data_dir else None)
                else:
                    summary = _train(cfg, path, data_dir, notes)
                state, message = DONE, None
                del summary
            except TrainingDiverged as exc:
                state, message = DIVERGED, str(exc)
            except Exception as exc:  # noqa: BLE001 - any failure of one run is recorded, the study goes on
                state, message = "failed", f"{type(exc).__name__}: {exc}"
        notes.append(_warning_text(caught))
        text = " | ".join(x for x in [message or "", *notes] if x)
        final = read_run_status(path) or {}
        row = {"id": rid, "status": state, "finished": time.time() if state == DONE else None,
               "wall_s": time.time() - t0, "device": final.get("device"), "message": text[:_MAX_MESSAGE] or None}
        evals = collect_evals(path)
        atomic.fault_point(f"run:{rid}:trained")
        store.record(row, evals)
        atomic.fault_point(f"run:{rid}:recorded")
        return row, evals, True


def _train(cfg: Any, path: Path, data_dir: str | None, notes: list[str]) -> dict[str, Any]:
    """Train or resume the run in ``path``; an unusable checkpoint is noted and the run starts from scratch."""
    from wsbench.train import CheckpointError, train_supernet
    from wsbench.train.checkpoint import has_checkpoint

    ddir = Path(data_dir) if data_dir else None
    try:
        return train_supernet(cfg, path, data_dir=ddir, resume=has_checkpoint(path / "checkpoints"), quiet=True)
    except CheckpointError as exc:
        notes.append(f"{exc}; restarted from scratch")
        shutil.rmtree(path / "checkpoints", ignore_errors=True)
        return train_supernet(cfg, path, data_dir=ddir, resume=False, quiet=True)


def plan(runs: list[RunSpec], study_dir: Path, store: ResultStore, retry_diverged: bool = False
         ) -> tuple[list[RunSpec], dict[str, int]]:
    """Which runs still need training; records finished/diverged runs found only in their run directories."""
    rows = {r["id"]: r for r in store.runs()}
    todo, skipped = [], {DONE: 0, DIVERGED: 0}
    for run in runs:
        path = run_dir(study_dir, run.id)
        status = read_run_status(path) or {}
        state = status.get("status")
        row = rows.get(run.id) or {}
        if state == DONE:
            if row.get("status") != DONE:
                store.record(_row_from_status(run.id, status), collect_evals(path))
            skipped[DONE] += 1
            continue
        if state == DIVERGED:
            if not retry_diverged:
                if row.get("status") != DIVERGED:
                    store.record(_row_from_status(run.id, status))
                skipped[DIVERGED] += 1
                continue
            shutil.rmtree(path, ignore_errors=True)
            store.reset(run.id)
        todo.append(run)
    return todo, skipped


def write_study_file(spec: StudySpec, study_dir: Path) -> Path:
    """``study.json``: what a report needs without the YAML (name, mode, fidelity, label order, paper facts)."""
    path = study_dir / STUDY_FILE
    write_json(path, {"name": spec.name, "mode": spec.mode, "fidelity": spec.fidelity, "source": spec.source,
                      "description": spec.description, "seeds": spec.seeds,
                      "factors": [f.name for f in spec.factors],
                      "order": [list(x) for x in label_order(spec)], "paper": spec.paper})
    return path


def run_study(spec: StudySpec, study_dir: str | Path, max_parallel: int | None = None, address: str | None = None,
              retry_diverged: bool = False, num_cpus_per_run: int = 1, data_dir: str | Path | None = None,
              on_result: Callable[[dict[str, Any]], None] | None = None, backend: str = "ray",
              ray_token_file: str | Path | None = None) -> dict[str, Any]:
    """Run every missing or unfinished run of ``spec`` into ``study_dir``; returns a count summary.

    ``backend="ray"`` (default): one Ray task per run. ``address``: an existing Ray cluster (its workers must see
    ``study_dir`` and the data directory); default a local Ray with all CPUs. Each run is one task with
    ``num_gpus=1`` when the cluster has GPUs, else ``num_cpus=num_cpus_per_run``; at most ``max_parallel`` tasks
    are in flight (default: as many as Ray can place). ``backend="local"``: the runs one after the other in this
    process (no Ray). ``on_result(row)`` is called for each run as it completes.

    Summary: ``ran`` counts the runs this driver trained; a run that another driver finished meanwhile (found
    under its lock) counts in ``skipped_finished``, so that concurrent drivers together report each run once.
    """
    if backend not in ("ray", "local"):
        raise ValueError(f"backend must be 'ray' or 'local', got {backend!r}")
    if max_parallel is not None and max_parallel < 1:
        raise ValueError(f"max_parallel must be >= 1, got {max_parallel}")
    if num_cpus_per_run < 1:
        raise ValueError(f"num_cpus_per_run must be >= 1, got {num_cpus_per_run}")
    study_dir = Path(study_dir).resolve()
    runs = select_shard(expand(spec), spec.shard)
    (study_dir / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    write_study_file(spec, study_dir)
    store = ResultStore(study_dir)
    store.register(registration_row(r, spec.name) for r in runs)
    todo, skipped = plan(runs, study_dir, store, retry_diverged)
    summary: dict[str, Any] = {"runs": len(runs), "skipped_finished": skipped[DONE],
                               "skipped_diverged": skipped[DIVERGED], "ran": 0,
                               DONE: 0, DIVERGED: 0, "failed": 0}
    if not todo:
        return summary
    db = str(store.path)
    ddir = str(Path(data_dir).resolve()) if data_dir is not None else None

    def completed(run: RunSpec, row: dict[str, Any], evals: list[Any], trained: bool) -> None:
        store.record(row, evals)
        if trained:
            summary["ran"] += 1
            summary[row["status"] if row["status"] in (DONE, DIVERGED) else "failed"] += 1
        else:
            summary["skipped_finished"] += 1
        if on_result is not None:
            on_result({**row, "factor": run.factor, "value": run.value, "seed": run.seed})

    if backend == "local":  # trainers first, then the runs that evaluate their super-nets
        for run in sorted(todo, key=lambda r: r.trained_by is not None):
            row, evals, trained = execute_run(run.cfg.model_dump(mode="json"), str(run_dir(study_dir, run.id)), db,
                                              run.id, ddir, num_cpus_per_run, run.trained_by)
            completed(run, row, evals, trained)
        return summary

    def failed(job: Job, exc: BaseException) -> None:  # a crashed worker: record and go on
        completed(job.payload, {"id": job.key, "status": "failed", "finished": None,
                                "message": f"{type(exc).__name__}: {exc}"[:_MAX_MESSAGE]}, [], True)

    # trainers first; a run that only evaluates another run's super-net waits for that run to finish
    jobs = [Job(r.id, (r.cfg.model_dump(mode="json"), str(run_dir(study_dir, r.id)), db, r.id, ddir,
                       num_cpus_per_run, r.trained_by), after=r.trained_by, payload=r) for r in todo]
    run_pool(execute_run, jobs, on_result=lambda job, res: completed(job.payload, *res), on_error=failed,
             num_cpus=num_cpus_per_run, max_parallel=max_parallel, address=address, token_file=ray_token_file)
    return summary
