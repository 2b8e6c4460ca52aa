"""Checks and derived columns shared by the NAS-Bench-101 importers (sample CSV and official tfrecord).

Table schema (``nb101`` / ``nb101-sample``, accuracies in percent): ``key`` (the benchmark's 32-hex cell hash),
``matrix`` (row-major bits of the pruned adjacency matrix), ``ops`` (``in,c3,...,out``), ``n_vertices``,
``params``, ``n_out_inputs`` (vertices other than the input feeding the output), ``residual`` (input->output
edge), and per repeat ``r``: ``valid_acc@r``, ``test_acc@r``, ``train_acc@r``, ``train_time@r`` (s),
``halfway_valid_acc@r``, ``halfway_test_acc@r``, ``halfway_train_time@r``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.benchmarks.importers.common import check_range, fail
from wsbench.benchmarks.table import GroundTruth

SHORT = {"input": "in", "output": "out", "conv3x3-bn-relu": "c3", "conv1x1-bn-relu": "c1", "maxpool3x3": "mp"}
INNER_SHORT = ("c3", "c1", "mp")
MAX_VERTICES = 7
HASH_RE = re.compile(r"^[0-9a-f]{32}$")
#: Metrics per repeat: table name -> (is an accuracy to convert from fraction to percent).
METRICS = {"valid_acc": True, "test_acc": True, "train_acc": True, "train_time": False,
           "halfway_valid_acc": True, "halfway_test_acc": True, "halfway_train_time": False}
HASH_CHECKS = 8


def _first_bad(values: np.ndarray, pattern: str) -> int | None:
    ok = pd.Series(values, dtype=object).astype(str).str.fullmatch(pattern).to_numpy(dtype=bool)
    return None if ok.all() else int(np.argmin(ok))


def check_hashes(path: Path, keys: np.ndarray) -> None:
    """Raise unless every key is a 32-digit lowercase hex hash."""
    i = _first_bad(keys, HASH_RE.pattern)
    if i is not None:
        raise fail(path, f"malformed cell hash {keys[i]!r} at record {i}; expected 32 lowercase hex digits")


def check_ops(path: Path, ops: np.ndarray, n_vertices: np.ndarray) -> None:
    """Raise unless each ``ops`` string is ``in,<c3|c1|mp>...,out`` with ``n_vertices`` entries."""
    i = _first_bad(ops, r"in(?:,(?:c3|c1|mp))*,out")
    if i is None:
        counts = pd.Series(ops, dtype=object).astype(str).str.count(",").to_numpy() + 1
        wrong = counts != n_vertices
        i = int(np.argmax(wrong)) if wrong.any() else None
    if i is not None:
        raise fail(path, f"record {i}: malformed ops {ops[i]!r} for {n_vertices[i]} vertices; expected 'in,' + "
                         f"{n_vertices[i] - 2} of {list(INNER_SHORT)} + ',out'")


def matrix_features(path: Path, bits: np.ndarray, n_vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check the matrices (square, 0/1, strictly upper triangular) and derive ``(n_out_inputs, residual)``."""
    n_vertices = np.asarray(n_vertices, dtype=np.int64)
    bad_n = (n_vertices < 2) | (n_vertices > MAX_VERTICES)
    if bad_n.any():
        i = int(np.argmax(bad_n))
        raise fail(path, f"record {i}: {n_vertices[i]} vertices; NAS-Bench-101 cells have 2..{MAX_VERTICES}")
    lengths = np.char.str_len(np.asarray(bits, dtype=str))
    wrong = lengths != n_vertices**2
    if wrong.any():
        i = int(np.argmax(wrong))
        raise fail(path, f"record {i}: matrix {bits[i]!r} has {lengths[i]} bits, expected {n_vertices[i]}^2")
    try:
        raw = np.asarray(bits, dtype=f"S{MAX_VERTICES ** 2}")
    except UnicodeEncodeError as exc:
        raise fail(path, f"a matrix holds non-binary characters ({exc})") from exc
    grid = raw.view(np.uint8).reshape(len(raw), MAX_VERTICES**2).astype(np.int16) - ord("0")
    n_out = np.zeros(len(raw), dtype=np.int64)
    residual = np.zeros(len(raw), dtype=bool)
    for n in np.unique(n_vertices):
        rows = np.flatnonzero(n_vertices == n)
        m = grid[rows, : n * n].reshape(len(rows), n, n)
        bad = ((m != 0) & (m != 1)).any(axis=(1, 2)) | np.tril(m).any(axis=(1, 2))
        if bad.any():
            i = int(rows[np.argmax(bad)])
            raise fail(path, f"record {i}: matrix {bits[i]!r} is not a 0/1 strictly upper-triangular {n}x{n} matrix")
        n_out[rows] = m[:, 1 : n - 1, n - 1].sum(axis=1)
        residual[rows] = m[:, 0, n - 1] == 1
    return n_out, residual


def check_keys_against_space(path: Path, keys: np.ndarray, bits: np.ndarray, ops: np.ndarray) -> None:
    """Recompute the hash of a few cells with the NB101 space (when available) and compare."""
    try:
        from wsbench.spaces.nb101.space import NB101Space, from_matrix
    except ImportError:  # the space module is optional for importing
        return
    space = NB101Space()
    for i in range(min(HASH_CHECKS, len(keys))):
        got = space.key(from_matrix(str(bits[i]), str(ops[i])))
        if got != keys[i]:
            raise fail(path, f"record {i}: hash {keys[i]} does not match its matrix {bits[i]} / ops {ops[i]} "
                             f"(which hashes to {got})")


def build_table(path: Path, name: str, columns: dict[str, Any], n_repeats: int,
                provenance: dict[str, Any]) -> GroundTruth:
    """Check shared columns, derive the matrix features and convert fractions to percent.

    ``columns`` holds ``key, matrix, ops, n_vertices, params`` and ``<metric>@r`` (accuracies as fractions).
    """
    keys = np.asarray(columns["key"], dtype=object)
    check_hashes(path, keys)
    dup = pd.Index(keys).duplicated()
    if dup.any():
        raise fail(path, f"cell hash {keys[np.argmax(dup)]} appears in more than one record")
    check_range(path, "n_vertices", columns["n_vertices"], 2, MAX_VERTICES)
    check_range(path, "params", columns["params"], 1, 1e10)
    n_vertices = np.asarray(columns["n_vertices"], dtype=np.int64)
    check_ops(path, np.asarray(columns["ops"], dtype=object), n_vertices)
    n_out, residual = matrix_features(path, np.asarray(columns["matrix"], dtype=object), n_vertices)
    out: dict[str, Any] = {c: columns[c] for c in ("key", "matrix", "ops", "n_vertices")}
    out["params"] = np.asarray(columns["params"], dtype=np.int64)
    out["n_out_inputs"], out["residual"] = n_out, residual
    for r in range(n_repeats):
        for metric, is_acc in METRICS.items():
            v = np.asarray(columns[f"{metric}@{r}"], dtype=np.float64)
            if is_acc:
                check_range(path, f"{metric}@{r}", v, 0.0, 1.0, allow_nan=True)
                v = v * 100.0
            else:
                check_range(path, f"{metric}@{r}", v, 0.0, 1e7, allow_nan=True)
            out[f"{metric}@{r}"] = v
    check_keys_against_space(path, keys, out["matrix"], out["ops"])
    return GroundTruth.from_columns(name, "nb101", out, provenance)
