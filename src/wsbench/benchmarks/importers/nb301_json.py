"""The NAS-Bench-301 zero-cost sample (``nb301_sample_725.json``) into the ``darts-nb301`` table.

Expected form: ``{"cifar10": {"<encoding>": {"idx": "534", "arch": "<encoding>", "val_accuracy": 93.3,
"flops": {"score": ..}, "params": {"score": ..}, "<proxy>": {"score": .., "time": ..}, ...}, ...}}`` where the
encoding is ``[[(input, op) x 8 normal], [(input, op) x 8 reduce]]``. Columns: ``key`` (canonical genotype),
``arch`` (the encoding), ``index`` (``idx``), ``valid_acc`` (%), ``params`` (millions, as in the file),
``flops`` (MFLOPs, as in the file) and ``zc_<proxy>`` scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from wsbench.benchmarks.importers.common import check_percent, check_rows, fail, source_entry
from wsbench.benchmarks.table import GroundTruth

TABLE = "darts-nb301"
SHARED_NAME = "nb301_sample_725.json"
SHARED_ROWS = 725
DATASET = "cifar10"
PROXIES = ("synflow", "grasp", "fisher", "grad_norm", "l2_norm", "plain", "nwot", "epe_nas", "jacov", "snip")
REQUIRED = ("arch", "val_accuracy", "flops", "params")


def _score(path: Path, rec: dict[str, Any], field: str, where: str) -> float:
    value = rec.get(field)
    if isinstance(value, dict):
        value = value.get("score")
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(path, f"{where}: field {field!r} must be a number or {{'score': number}}, got {value!r}")
    return float(value)


def read(path: Path, data_dir: Path) -> GroundTruth:
    """Read and check the sample; return the ``darts-nb301`` table (not saved)."""
    try:
        doc = json.loads(path.read_bytes())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise fail(path, f"is not valid JSON ({exc}); expected {{'{DATASET}': {{encoding: record}}}}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get(DATASET), dict):
        raise fail(path, f"expected a JSON object with the key {DATASET!r} mapping encodings to records, "
                         f"got keys {list(doc)[:5] if isinstance(doc, dict) else type(doc).__name__}")
    records = doc[DATASET]
    if path.name == SHARED_NAME:
        check_rows(path, len(records), SHARED_ROWS)
    from wsbench.spaces.darts.space import DartsSpace

    space = DartsSpace()
    cols: dict[str, list[Any]] = {"key": [], "arch": [], "index": [], "valid_acc": [], "params": [], "flops": []}
    proxies = [p for p in PROXIES if all(p in r for r in records.values() if isinstance(r, dict))]
    cols.update({f"zc_{p}": [] for p in proxies})
    for n, (enc, rec) in enumerate(records.items()):
        where = f"record {n} ({enc[:40]}...)"
        if not isinstance(rec, dict) or any(k not in rec for k in REQUIRED):
            raise fail(path, f"{where}: expected an object with the fields {list(REQUIRED)}")
        if rec["arch"] != enc:
            raise fail(path, f"{where}: its 'arch' field {rec['arch']!r} differs from its key")
        try:
            cols["key"].append(space.key(space.parse_encoding(enc)))
        except ValueError as exc:
            raise fail(path, f"{where}: {exc}") from exc
        cols["arch"].append(enc)
        cols["index"].append(int(rec.get("idx", n)))
        cols["valid_acc"].append(_score(path, rec, "val_accuracy", where))
        cols["params"].append(_score(path, rec, "params", where))
        cols["flops"].append(_score(path, rec, "flops", where))
        for p in proxies:
            cols[f"zc_{p}"].append(_score(path, rec, p, where))
    arrays = {k: np.asarray(v, dtype=object if k in ("key", "arch") else None) for k, v in cols.items()}
    check_percent(path, "val_accuracy", arrays["valid_acc"])
    if len(set(cols["key"])) != len(cols["key"]):
        raise fail(path, "two encodings map to the same canonical genotype")
    entry = source_entry(path, "nb301-json", arrays)
    return GroundTruth.from_columns(TABLE, "darts", arrays, {"sources": [entry], "units": {"params": "millions",
                                                                                           "flops": "MFLOPs"}})
