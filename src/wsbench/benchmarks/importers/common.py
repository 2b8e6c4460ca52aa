"""Helpers shared by the importers: provenance of source files, content checks, merging into a table.

Provenance of a table is ``{"sources": [entry, ...]}`` where each entry describes one source file:
``path`` (absolute), ``sha256``, ``size`` (bytes), ``imported_at`` (UTC ISO 8601), ``format`` and
``columns`` (the table columns it provided). A folder source (NATS-Bench) hashes its files in name order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wsbench.benchmarks.store import load_table, table_path
from wsbench.benchmarks.table import GroundTruth, TableError

_CHUNK = 1 << 20


def fail(path: Path | str, message: str) -> TableError:
    """A ``TableError`` that names the source file first."""
    return TableError(f"{path}: {message}")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _digest(path: Path) -> tuple[str, int]:
    if path.is_dir():
        h = hashlib.sha256()
        size = 0
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(f.relative_to(path).as_posix().encode() + b"\0" + bytes.fromhex(sha256_file(f)))
            size += f.stat().st_size
        return h.hexdigest(), size
    return sha256_file(path), path.stat().st_size


def source_entry(path: Path, fmt: str, columns: Iterable[str]) -> dict[str, Any]:
    """Provenance entry of one source file (or folder)."""
    digest, size = _digest(path)
    return {
        "path": str(path.resolve()),
        "sha256": digest,
        "size": size,
        "imported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "format": fmt,
        "columns": [c for c in columns if c != "key"],
    }


def check_header(path: Path, got: Sequence[str], expected: Sequence[str]) -> None:
    """Raise unless the header is exactly ``expected`` (same names, same order)."""
    if list(got) != list(expected):
        missing = [c for c in expected if c not in got]
        extra = [c for c in got if c not in expected]
        raise fail(path, f"unexpected header {list(got)}; expected the columns {list(expected)}"
                         f" (missing {missing}, unexpected {extra})")


def check_last_line(path: Path, text: bytes) -> None:
    """Raise unless a text file (already decompressed) ends with a line break.

    Every exported CSV ends its last record with one; a file cut inside its last record (an interrupted download
    or copy) would otherwise import with a shortened last value (``13.433`` read as ``1.0``).
    """
    if not text.strip():
        raise fail(path, "is empty; download or copy the file again")
    if not text.endswith(b"\n"):
        tail = text[-40:].decode("utf-8", "replace").splitlines()[-1:]
        raise fail(path, f"ends inside its last record ({tail[0] if tail else ''!r}, no final line break): the file "
                         f"is truncated; download or copy it again")


def check_rows(path: Path, n: int, expected: int) -> None:
    """Raise unless the file held ``expected`` records."""
    if n != expected:
        hint = " (the file looks truncated)" if n < expected else ""
        raise fail(path, f"has {n:,} records, expected {expected:,}{hint}")


def check_range(path: Path, name: str, values: np.ndarray, lo: float, hi: float, allow_nan: bool = False) -> None:
    """Raise when a numeric column has missing values or values outside ``[lo, hi]``."""
    v = np.asarray(values, dtype=np.float64)
    nan = np.isnan(v)
    if nan.any() and not allow_nan:
        raise fail(path, f"column {name!r} has {int(nan.sum())} missing/non-numeric value(s), "
                         f"first at record {int(np.argmax(nan))}")
    bad = ~nan & ((v < lo) | (v > hi))
    if bad.any():
        i = int(np.argmax(bad))
        raise fail(path, f"column {name!r} has {int(bad.sum())} value(s) outside [{lo}, {hi}], "
                         f"e.g. {v[i]!r} at record {i}")


def check_percent(path: Path, name: str, values: np.ndarray) -> None:
    """Accuracies in percent: in ``[0, 100]`` and not all below 1 (which would mean fractions)."""
    check_range(path, name, values, 0.0, 100.0)
    if len(values) and float(np.nanmax(values)) <= 1.0:
        raise fail(path, f"column {name!r} looks like fractions (max {float(np.nanmax(values))}); expected percent")


def merge_into(name: str, space: str, part: pd.DataFrame, source: dict[str, Any],
               data_dir: Path, order_by: str | None = "index",
               column_order: Sequence[str] = ()) -> GroundTruth:
    """Add/replace ``part``'s columns in table ``name``, joining on ``key``; the store is not touched.

    Columns present in both the existing table and ``part`` are replaced, except ``order_by`` which must agree
    where both sources have it. Both must cover the same keys. Sources whose columns are all replaced are dropped
    from the provenance. Columns named in ``column_order`` come first, in that order.
    """
    path = table_path(name, data_dir)
    if not path.exists():
        frame = part
        sources: list[dict[str, Any]] = []
    else:
        try:
            old = load_table(name, data_dir)
        except TableError as exc:
            raise TableError(f"cannot add {source['path']} to the existing table {name!r}: {exc}; "
                             f"delete {path} and import all its sources again") from exc
        if old.space != space:
            raise TableError(f"existing table {name!r} ({path}) belongs to space {old.space!r}, not {space!r}")
        old_frame = old.to_pandas()
        src = source["path"]
        old_keys, new_keys = set(old_frame["key"]), set(part["key"])
        if old_keys != new_keys:
            only_new = sorted(new_keys - old_keys)[:2]
            only_old = sorted(old_keys - new_keys)[:2]
            raise fail(src, f"its architectures do not match the existing table {name!r} ({len(new_keys):,} vs "
                            f"{len(old_keys):,} keys; only in the file e.g. {only_new}, only in the table e.g. "
                            f"{only_old}); delete {path} to import from scratch")
        replaced = [c for c in part.columns if c != "key" and c in old_frame.columns and c != order_by]
        frame = old_frame.drop(columns=replaced).merge(part, on="key", how="left", suffixes=("", "#new"))
        if order_by and f"{order_by}#new" in frame.columns:
            a, b = frame[order_by].to_numpy(), frame[f"{order_by}#new"].to_numpy()
            if not np.array_equal(a, b):
                i = int(np.argmax(a != b))
                raise fail(src, f"column {order_by!r} disagrees with the existing table {name!r} for "
                                f"{frame['key'].iloc[i]!r} ({b[i]} vs {a[i]})")
            frame = frame.drop(columns=[f"{order_by}#new"])
        new_cols = set(source["columns"])
        sources = [s for s in old.provenance.get("sources", []) if not set(s.get("columns", [])) <= new_cols]
    if order_by and order_by in frame.columns:
        frame = frame.sort_values(order_by, kind="stable").reset_index(drop=True)
    first = [c for c in column_order if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    return GroundTruth.from_pandas(name, space, frame, {"sources": [*sources, source]})
