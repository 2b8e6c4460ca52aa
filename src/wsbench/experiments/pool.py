"""The one Ray task pool of wsbench: study sweeps and stand-alone table builds both run their jobs through it.

``run_pool(fn, jobs, ...)`` submits ``fn(*job.args)`` as one Ray task per job, at most ``max_parallel`` in flight
(``ray.wait`` for completions), each task with ``num_cpus`` CPUs (plus one GPU when the cluster has GPUs) and one
retry; a job whose ``after`` names another job's key waits until that job has finished (a run that only evaluates
another run's super-net). ``on_result(job, result)`` receives each result, ``on_error(job, exc)`` each failed or
crashed task; the pool goes on. Tasks still in flight when the driver stops are cancelled, and a local Ray that
the pool started is shut down.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wsbench.experiments.ray_connect import init_ray, use_auth_token


@dataclass
class Job:
    """One task of the pool: its key, the arguments of ``fn`` and the key of the job it must wait for."""

    key: Hashable
    args: tuple[Any, ...] = ()
    after: Hashable | None = None
    payload: Any = field(default=None, compare=False)  # what the caller needs back in its callbacks


def run_pool(fn: Callable[..., Any], jobs: Sequence[Job], on_result: Callable[[Job, Any], None],
             on_error: Callable[[Job, BaseException], None], num_cpus: int = 1, max_parallel: int | None = None,
             address: str | None = None, token_file: str | Path | None = None) -> None:
    """Run ``fn(*job.args)`` for every job on Ray (see the module docstring)."""
    use_auth_token(token_file)  # before Ray is imported: it reads the token settings once
    import ray

    started = init_ray(address, token_file)
    pending: dict[Any, Job] = {}
    try:
        resources: dict[str, Any] = {"num_cpus": num_cpus, "max_retries": 1}
        if float(ray.cluster_resources().get("GPU", 0)) > 0:
            resources["num_gpus"] = 1
        task = ray.remote(fn).options(**resources)
        queue = deque(j for j in jobs if j.after is None)
        waiting = deque(j for j in jobs if j.after is not None)
        busy = {j.key for j in queue}  # jobs that others may wait for and that have not finished
        window = max_parallel or len(jobs)
        while queue or pending or waiting:
            for j in [j for j in waiting if j.after not in busy]:
                waiting.remove(j)
                queue.append(j)
            if not queue and not pending:
                break
            while queue and len(pending) < window:
                job = queue.popleft()
                pending[task.remote(*job.args)] = job
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                busy.discard(job.key)
                try:
                    result = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a failed or crashed worker: report it and go on
                    on_error(job, exc)
                else:
                    on_result(job, result)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
