"""The official NAS-Bench-101 TFRecord files (``nasbench_only108.tfrecord``, ``nasbench_full.tfrecord``)
into the ``nb101`` table, without TensorFlow.

Each record is the JSON list ``[module_hash, epochs, raw_adjacency, raw_operations, metrics]`` where
``raw_adjacency`` is the row-major bit string of the pruned matrix, ``raw_operations`` the comma-separated full
op names (``input,conv3x3-bn-relu,...,output``) and ``metrics`` the base64 of a ``ModelMetrics`` protobuf.
Each hash appears once per repeat (3) and epoch budget; only the 108-epoch records are kept. The last
evaluation is the final one, the one at half the budget the halfway one.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.benchmarks.importers.common import fail, source_entry
from wsbench.benchmarks.importers.nb101_common import METRICS, SHORT, build_table
from wsbench.benchmarks.importers.protowire import ModelMetrics, ProtobufError, parse_model_metrics
from wsbench.benchmarks.importers.tfrecord import TFRecordError, frame_records
from wsbench.benchmarks.table import GroundTruth, TableError

TABLE = "nb101"
EPOCHS = 108
_FORM = "[module_hash, epochs, raw_adjacency, raw_operations, base64 ModelMetrics]"


def _metrics(mm: ModelMetrics, epochs: int) -> dict[str, float]:
    if not mm.evaluations:
        raise ValueError("ModelMetrics holds no evaluation")
    final = mm.evaluations[-1]
    if not math.isclose(final.current_epoch, epochs):
        raise ValueError(f"last evaluation is at epoch {final.current_epoch}, expected {epochs}")
    half = [e for e in mm.evaluations if math.isclose(e.current_epoch, epochs / 2)]
    nan = float("nan")
    return {"valid_acc": final.validation_accuracy, "test_acc": final.test_accuracy,
            "train_acc": final.train_accuracy, "train_time": final.training_time,
            "halfway_valid_acc": half[0].validation_accuracy if half else nan,
            "halfway_test_acc": half[0].test_accuracy if half else nan,
            "halfway_train_time": half[0].training_time if half else nan}


def _cell(adjacency: str, operations: str) -> tuple[str, str, int]:
    n = math.isqrt(len(adjacency))
    if n * n != len(adjacency) or not set(adjacency) <= {"0", "1"}:
        raise ValueError(f"raw_adjacency {adjacency!r} is not a square 0/1 bit string")
    names = operations.split(",")
    if len(names) != n:
        raise ValueError(f"raw_operations {operations!r} has {len(names)} ops for a {n}x{n} matrix")
    unknown = [o for o in names if o not in SHORT]
    if unknown:
        raise ValueError(f"unknown op(s) {unknown} in {operations!r}; expected {list(SHORT)}")
    return adjacency, ",".join(SHORT[o] for o in names), n


def read(path: Path, data_dir: Path, verify: bool = True) -> GroundTruth:
    """Read, check (framing, CRCs, record contents) and convert; return the ``nb101`` table (not saved)."""
    buf = np.fromfile(path, dtype=np.uint8)
    try:
        offsets, lengths = frame_records(buf, path, verify)
    except TFRecordError as exc:
        raise TableError(str(exc)) from exc
    if not len(offsets):
        raise fail(path, "holds no records; expected NAS-Bench-101 TFRecords")
    raw = memoryview(buf)
    cells: dict[str, dict[str, Any]] = {}
    budgets: set[int] = set()
    for i, (o, n) in enumerate(zip(offsets.tolist(), lengths.tolist(), strict=True)):
        try:
            rec = json.loads(bytes(raw[o: o + n]))
            if not (isinstance(rec, list) and len(rec) == 5):
                raise ValueError(f"expected a JSON list {_FORM}")
            key, epochs, adjacency, operations, blob = rec
            if not isinstance(key, str):
                raise ValueError(f"module_hash {key!r} is not a string")
            if not isinstance(epochs, int):
                raise ValueError(f"epochs {epochs!r} is not an integer")
            budgets.add(epochs)
            if epochs != EPOCHS:
                continue
            bits, ops, n_vertices = _cell(adjacency, operations)
            mm = parse_model_metrics(base64.b64decode(blob, validate=True))
            values = _metrics(mm, epochs)
        except (ValueError, TypeError, binascii.Error, ProtobufError) as exc:
            raise fail(path, f"record {i} (byte {o}): {exc}") from exc
        cell = cells.get(key)
        if cell is None:
            cells[key] = {"matrix": bits, "ops": ops, "n_vertices": n_vertices,
                          "params": mm.trainable_parameters, "repeats": [values]}
        elif (cell["matrix"], cell["ops"]) != (bits, ops):
            raise fail(path, f"record {i}: hash {key} appears with two different cells")
        else:
            cell["repeats"].append(values)
    if not cells:
        raise fail(path, f"holds no {EPOCHS}-epoch records (epoch budgets found: {sorted(budgets)})")
    n_rep = max(len(c["repeats"]) for c in cells.values())
    columns: dict[str, Any] = {"key": np.asarray(list(cells), dtype=object)}
    for name in ("matrix", "ops", "n_vertices", "params"):
        columns[name] = np.asarray([c[name] for c in cells.values()], dtype=object if name in ("matrix", "ops")
                                   else None)
    for r in range(n_rep):
        for metric in METRICS:
            columns[f"{metric}@{r}"] = np.asarray(
                [c["repeats"][r][metric] if r < len(c["repeats"]) else np.nan for c in cells.values()], float)
    entry = source_entry(path, "nb101-tfrecord", ["matrix", "ops", "n_vertices", "params", "n_out_inputs",
                                                  "residual", *(c for c in columns if "@" in c)])
    return build_table(path, TABLE, columns, n_rep, {"sources": [entry]})
