"""NDS files of the DARTS space (facebookresearch/nds: ``DARTS.json`` and its variants) into ``nds-darts``.

Expected form: a JSON list of records ``{"net": {"genotype": {"normal": [[op, input] x 8], "normal_concat":
[2, 3, 4, 5], "reduce": [...], "reduce_concat": [2, 3, 4, 5]}, ...}, "test_ep_top1": [top-1 error % per epoch],
"min_test_top1": .., "params": .., "flops": .., ...}``. Columns: ``key`` (canonical genotype), ``test_acc``
(100 - the final epoch's top-1 error), ``best_test_acc`` (100 - ``min_test_top1`` when present), ``params``
and ``flops`` (as in the file). ``DARTS.json`` becomes ``nds-darts``; a variant ``DARTS_<v>.json`` becomes
``nds-darts-<v>``. Records of the same architecture are averaged (the note says how many).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.benchmarks.importers.common import check_percent, fail, source_entry
from wsbench.benchmarks.table import GroundTruth, TableError

CONCAT = [2, 3, 4, 5]
N_EDGES = 8


def table_name(path: Path) -> str:
    """``DARTS.json`` -> ``nds-darts``; ``DARTS_lr-wd.json`` -> ``nds-darts-lr-wd``."""
    stem = path.name[: -len(".json")]
    return "nds-" + stem.lower().replace("_", "-")


def _number(value: Any, field: str, where: str, path: Path) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(path, f"{where}: field {field!r} must be a number, got {value!r}")
    return float(value)


def _cell(genotype: dict[str, Any], kind: str, where: str, path: Path) -> list[tuple[str, int]]:
    edges = genotype.get(kind)
    concat = genotype.get(f"{kind}_concat", CONCAT)
    if not isinstance(edges, list) or len(edges) != N_EDGES:
        raise fail(path, f"{where}: genotype[{kind!r}] must list {N_EDGES} [op, input] pairs, got {edges!r}")
    if not isinstance(concat, list) or list(concat) != CONCAT:
        raise fail(path, f"{where}: genotype[{kind + '_concat'!r}] is {concat!r}; the DARTS space concatenates "
                         f"{CONCAT}")
    out = []
    for e in edges:
        if not (isinstance(e, list | tuple) and len(e) == 2 and isinstance(e[0], str) and isinstance(e[1], int)):
            raise fail(path, f"{where}: edge {e!r} in genotype[{kind!r}] is not a pair [op name, input index]")
        out.append((e[0], int(e[1])))
    return out


def read(path: Path, data_dir: Path) -> GroundTruth:
    """Read and check an NDS DARTS file; return its table (not saved)."""
    try:
        doc = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise fail(path, f"is not valid JSON ({exc}); expected a list of NDS records") from exc
    if not isinstance(doc, list) or not doc:
        raise fail(path, "expected a non-empty JSON list of NDS records ({'net': {'genotype': ...}, "
                         "'test_ep_top1': [...], ...})")
    try:
        from wsbench.spaces.darts.space import DartsSpace
    except ImportError as exc:
        raise TableError(f"{path}: the DARTS search space module is not available ({exc})") from exc
    space = DartsSpace(distinct_inputs=False)
    rows: list[dict[str, Any]] = []
    for i, rec in enumerate(doc):
        where = f"record {i}"
        if not isinstance(rec, dict) or not isinstance(rec.get("net"), dict) or \
                not isinstance(rec["net"].get("genotype"), dict):
            raise fail(path, f"{where}: expected an object with net.genotype")
        genotype = rec["net"]["genotype"]
        try:
            arch = space.from_genotype(_cell(genotype, "normal", where, path), _cell(genotype, "reduce", where, path))
        except ValueError as exc:
            if isinstance(exc, TableError):
                raise
            raise fail(path, f"{where}: genotype is not a DARTS-space cell ({exc})") from exc
        errors = rec.get("test_ep_top1")
        if not isinstance(errors, list) or not errors:
            raise fail(path, f"{where}: 'test_ep_top1' must be a non-empty list of per-epoch top-1 errors (%)")
        row = {"key": space.key(arch), "test_acc": 100.0 - _number(errors[-1], "test_ep_top1[-1]", where, path),
               "params": _number(rec.get("params"), "params", where, path),
               "flops": _number(rec.get("flops"), "flops", where, path)}
        if "min_test_top1" in rec:
            row["best_test_acc"] = 100.0 - _number(rec["min_test_top1"], "min_test_top1", where, path)
        rows.append(row)
    frame = pd.DataFrame(rows)
    for column in ("test_acc", "best_test_acc"):
        if column in frame:
            check_percent(path, column, frame[column].to_numpy(dtype=np.float64))
    n_records = len(frame)
    frame = frame.groupby("key", sort=False, as_index=False).mean()
    entry = source_entry(path, "nds-json", frame.columns)
    entry["records"] = n_records
    entry["note"] = f"{n_records - len(frame)} duplicate architecture record(s) averaged"
    return GroundTruth.from_pandas(table_name(path), "darts", frame, {"sources": [entry]})
