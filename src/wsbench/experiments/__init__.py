"""wsbench.experiments: studies at scale (factor sweeps over seeds on Ray, a SQLite results store, resume).

``load_study``/``expand`` turn a study YAML into runs; ``run_study`` trains the missing ones on Ray;
``ResultStore`` holds the rows; ``summarize``/``correlations`` build the papers' tables (``wsbench.report`` turns
them into a self-contained HTML page). Names are imported lazily so that a worker writing to the store loads
neither pandas nor Ray nor torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RunSpec": "spec", "StudyError": "spec", "StudySpec": "spec", "expand": "spec", "find_study": "spec",
    "load_study": "spec", "parse_study": "spec", "run_id": "spec",
    "ResultStore": "store", "StoreError": "store",
    "execute_run": "runner", "plan": "runner", "run_study": "runner",
    "correlations": "aggregate", "display_table": "aggregate", "divergence": "aggregate", "per_run": "aggregate",
    "summarize": "aggregate",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wsbench.experiments' has no attribute {name!r}")
    return getattr(importlib.import_module(f"wsbench.experiments.{_EXPORTS[name]}"), name)
