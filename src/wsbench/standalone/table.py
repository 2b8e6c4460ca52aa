"""Collect the units of a stand-alone build into a ``GroundTruth`` table, stored like an imported benchmark.

Columns: ``key``, ``arch`` (the space's text form), ``valid_acc@r``, ``test_acc@r``, ``train_time@r`` (float,
NaN where unit ``r`` is missing), ``params`` and ``flops`` (int64: attributes, not metrics). Repeat ``r`` is the
``r``-th seed of the build (``provenance["seeds"][r]``). Architectures without any finished unit are left out.
The provenance carries the protocol (full config and fingerprint), seeds, space, dataset and counts.
"""

from __future__ import annotations

import datetime as _dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.benchmarks.table import GroundTruth

#: Per-seed metrics of a unit that become repeat columns.
REPEAT_METRICS = ("valid_acc", "test_acc", "train_time")


def read_unit(path: str | Path) -> dict[str, Any] | None:
    """A unit record, or None when the file is missing or unreadable (then the unit counts as not done)."""
    try:
        rec = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return rec if isinstance(rec, dict) and "key" in rec else None


def build_ground_truth(name: str, space: str, keys: Sequence[str], archs: Sequence[str], seeds: Sequence[int],
                       units: Mapping[tuple[str, int], Mapping[str, Any]],
                       provenance: Mapping[str, Any] | None = None) -> GroundTruth:
    """The table of ``keys`` x ``seeds`` from ``units[(key, seed)]`` (missing units give NaN)."""
    rows = [i for i, k in enumerate(keys) if any((k, s) in units for s in seeds)]
    if not rows:
        raise ValueError(f"no finished unit for table {name!r}: train some architectures first")
    columns: dict[str, Any] = {"key": np.asarray([keys[i] for i in rows], dtype=object),
                               "arch": np.asarray([archs[i] for i in rows], dtype=object)}
    for metric in REPEAT_METRICS:
        for r, s in enumerate(seeds):
            columns[f"{metric}@{r}"] = np.asarray(
                [float(units[(keys[i], s)].get(metric, np.nan)) if (keys[i], s) in units else np.nan for i in rows],
                dtype=np.float64)
    for attr in ("params", "flops"):
        vals = []
        for i in rows:
            rec = next(units[(keys[i], s)] for s in seeds if (keys[i], s) in units)
            vals.append(int(rec[attr]))
        columns[attr] = np.asarray(vals, dtype=np.int64)
    prov = {"source": "wsbench standalone", "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "seeds": [int(s) for s in seeds], "n_archs": len(rows), "n_requested": len(keys),
            "n_units": sum(1 for i in rows for s in seeds if (keys[i], s) in units), **dict(provenance or {})}
    return GroundTruth.from_columns(name, space, columns, prov)
