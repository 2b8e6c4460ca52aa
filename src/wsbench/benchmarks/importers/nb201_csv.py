"""NAS-Bench-201 CSV exports (``../shared/data/nb201``) into the ``nb201`` table.

* ``nb201_200ep_test.csv``: 200-epoch test accuracies; row ``i`` is the official index ``i``.
* ``nb201_12ep_valtest.csv``: 12-epoch validation/test accuracies; column ``arch`` is the official index.

Each file adds (or replaces) its columns in ``nb201``, joined on ``key`` (the official ``|op~j|`` string).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from wsbench.benchmarks.importers.common import (
    check_header,
    check_last_line,
    check_percent,
    check_rows,
    fail,
    merge_into,
    source_entry,
)
from wsbench.benchmarks.table import GroundTruth

N_ARCHS = 15_625
TABLE = "nb201"
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
_OP = "(?:" + "|".join(OPS) + ")"
ARCH_RE = re.compile(rf"^\|{_OP}~0\|\+\|{_OP}~0\|{_OP}~1\|\+\|{_OP}~0\|{_OP}~1\|{_OP}~2\|$")

HEADER_200 = ("CIFAR10TestAccuracy200Epochs", "CIFAR100TestAccuracy200Epochs", "ImageNetTestAccuracy200Epochs",
              "ArchitectureString", "UniqueString")
METRICS_200 = {"CIFAR10TestAccuracy200Epochs": "cifar10_test_200ep",
               "CIFAR100TestAccuracy200Epochs": "cifar100_test_200ep",
               "ImageNetTestAccuracy200Epochs": "imagenet16_test_200ep"}
HEADER_12 = ("arch", "cellstr", "cifar10-test", "cifar10-val", "cifar100-test", "cifar100-val", "imagenet-test",
             "imagenet-val")
METRICS_12 = {"cifar10-val": "cifar10_val_12ep", "cifar10-test": "cifar10_test_12ep",
              "cifar100-val": "cifar100_val_12ep", "cifar100-test": "cifar100_test_12ep",
              "imagenet-val": "imagenet16_val_12ep", "imagenet-test": "imagenet16_test_12ep"}
#: Column order of the merged table.
COLUMNS = ("key", "index", "unique", *METRICS_200.values(), *METRICS_12.values())


def _read(path: Path, header: tuple[str, ...]) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise fail(path, f"cannot be read ({exc.strerror or exc})") from exc
    check_last_line(path, raw)
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise fail(path, f"is not a readable CSV file ({exc}); expected the columns {list(header)}") from exc
    check_header(path, list(frame.columns), header)
    check_rows(path, len(frame), N_ARCHS)
    short = frame.isna().any(axis=1).to_numpy()
    if short.any():  # a record with fewer fields than the header (empty fields read as "", not NaN)
        i = int(short.argmax())
        raise fail(path, f"record {i} has fewer than {len(header)} fields; the file is damaged, download it again")
    return frame


def check_arch_strings(path: Path, column: str, values: np.ndarray) -> None:
    """Raise unless every value is an official NB201 architecture string."""
    bad = [i for i, s in enumerate(values) if not ARCH_RE.match(s)]
    if bad:
        raise fail(path, f"column {column!r} has {len(bad)} malformed architecture string(s), e.g. "
                         f"{values[bad[0]]!r} at record {bad[0]}; expected |op~0|+|op~0|op~1|+|op~0|op~1|op~2| "
                         f"with op in {list(OPS)}")


def _numeric(path: Path, frame: pd.DataFrame, mapping: dict[str, str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for src, dst in mapping.items():
        values = pd.to_numeric(frame[src], errors="coerce").to_numpy(dtype=np.float64)
        check_percent(path, src, values)
        out[dst] = values
    return out


def read_200ep(path: Path, data_dir: Path) -> GroundTruth:
    """Read ``nb201_200ep_test.csv`` and merge it into the ``nb201`` table (not saved)."""
    frame = _read(path, HEADER_200)
    keys = frame["ArchitectureString"].to_numpy(dtype=object)
    check_arch_strings(path, "ArchitectureString", keys)
    part = pd.DataFrame({"key": keys, "index": np.arange(N_ARCHS, dtype=np.int64),
                         "unique": frame["UniqueString"].to_numpy(dtype=object),
                         **_numeric(path, frame, METRICS_200)})
    if (part["unique"] == "").any():
        raise fail(path, "column 'UniqueString' has empty values")
    return merge_into(TABLE, "nb201", part, source_entry(path, "nb201-csv-200ep", part.columns), data_dir,
                      column_order=COLUMNS)


def read_12ep(path: Path, data_dir: Path) -> GroundTruth:
    """Read ``nb201_12ep_valtest.csv`` and merge it into the ``nb201`` table (not saved)."""
    frame = _read(path, HEADER_12)
    index = pd.to_numeric(frame["arch"], errors="coerce").to_numpy(dtype=np.float64)
    expected = np.arange(N_ARCHS)
    if not np.array_equal(index, expected):
        i = int(np.argmax(index != expected))
        raise fail(path, f"column 'arch' must list the official indices 0..{N_ARCHS - 1} in row order; "
                         f"record {i} has {frame['arch'].iloc[i]!r}")
    keys = frame["cellstr"].to_numpy(dtype=object)
    check_arch_strings(path, "cellstr", keys)
    part = pd.DataFrame({"key": keys, "index": expected.astype(np.int64), **_numeric(path, frame, METRICS_12)})
    return merge_into(TABLE, "nb201", part, source_entry(path, "nb201-csv-12ep", part.columns), data_dir,
                      column_order=COLUMNS)
