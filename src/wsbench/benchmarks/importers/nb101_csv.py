"""The shared NAS-Bench-101 sample (``nb101_sample.csv.gz``) into the ``nb101-sample`` table."""

from __future__ import annotations

import gzip
import io
import zlib
from pathlib import Path
from typing import Any

import pandas as pd

from wsbench.benchmarks.importers.common import check_header, check_last_line, check_rows, fail, source_entry
from wsbench.benchmarks.importers.nb101_common import build_table
from wsbench.benchmarks.table import GroundTruth

TABLE = "nb101-sample"
#: Records in the shared file (checked when the file keeps its shared name).
SHARED_NAME = "nb101_sample.csv.gz"
SHARED_ROWS = 151_644
N_REPEATS = 3
#: Source column stem -> table metric.
_STEMS = {"final_valid_acc": "valid_acc", "final_test_acc": "test_acc", "final_train_acc": "train_acc",
          "final_training_time": "train_time", "halfway_valid_acc": "halfway_valid_acc",
          "halfway_test_acc": "halfway_test_acc", "halfway_training_time": "halfway_train_time"}
HEADER = ("hash", "n_vertices", "matrix", "ops", "params",
          *(f"{stem}_r{r}" for r in range(N_REPEATS) for stem in _STEMS))


def read(path: Path, data_dir: Path) -> GroundTruth:
    """Read and check the sample; return the ``nb101-sample`` table (not saved)."""
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz" or raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise fail(path, f"is not a complete gzip file ({exc}); the file is truncated or damaged, download it "
                         f"again") from exc
    check_last_line(path, raw)
    try:
        frame = pd.read_csv(io.BytesIO(raw), dtype={"hash": str, "matrix": str, "ops": str}, keep_default_na=False,
                            na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise fail(path, f"is not a readable (gzip) CSV file ({exc}); expected the columns {list(HEADER)}") from exc
    check_header(path, list(frame.columns), HEADER)
    if path.name == SHARED_NAME:
        check_rows(path, len(frame), SHARED_ROWS)
    if frame[["hash", "matrix", "ops", "n_vertices", "params"]].isna().any().any():
        raise fail(path, "missing values in the columns hash/matrix/ops/n_vertices/params (truncated file?)")
    columns: dict[str, Any] = {
        "key": frame["hash"].to_numpy(dtype=object),
        "matrix": frame["matrix"].to_numpy(dtype=object),
        "ops": frame["ops"].to_numpy(dtype=object),
        "n_vertices": pd.to_numeric(frame["n_vertices"], errors="coerce").to_numpy(),
        "params": pd.to_numeric(frame["params"], errors="coerce").to_numpy(),
    }
    for r in range(N_REPEATS):
        for stem, metric in _STEMS.items():
            columns[f"{metric}@{r}"] = pd.to_numeric(frame[f"{stem}_r{r}"], errors="coerce").to_numpy(float)
    entry = source_entry(path, "nb101-sample-csv", ["key", "matrix", "ops", "n_vertices", "params",
                                                    "n_out_inputs", "residual",
                                                    *(c for c in columns if "@" in c)])
    return build_table(path, TABLE, columns, N_REPEATS, {"sources": [entry]})
