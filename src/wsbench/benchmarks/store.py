"""The compact store of imported tables inside a data directory: ``<data_dir>/tables/<name>.arrow``."""

from __future__ import annotations

from pathlib import Path

from wsbench.benchmarks.table import SUFFIX, GroundTruth, TableError
from wsbench.datadir import resolve_data_dir, tables_dir

#: Where each known table comes from, for "missing table" messages.
SOURCES: dict[str, str] = {
    "nb201": "../shared/data/nb201/*.csv, or the official NAS-Bench-201 / NATS-Bench topology file",
    "nb101-sample": "../shared/data/nb101/nb101_sample.csv.gz",
    "nb101": "the official nasbench_only108.tfrecord (NAS-Bench-101)",
    "darts-nb301": "../shared/data/darts/nb301_sample_725.json",
    "nds-darts": "the NDS file DARTS.json (facebookresearch/nds)",
}


def table_path(name: str, data_dir: str | Path | None = None) -> Path:
    return tables_dir(resolve_data_dir(data_dir)) / f"{name}{SUFFIX}"


def list_tables(data_dir: str | Path | None = None) -> list[str]:
    folder = tables_dir(resolve_data_dir(data_dir))
    return sorted(p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}")) if folder.exists() else []


def load_table(name: str, data_dir: str | Path | None = None) -> GroundTruth:
    """Load an imported table; a missing one gets a message naming the file and where it comes from."""
    path = table_path(name, data_dir)
    if not path.exists():
        src = SOURCES.get(name, "an official benchmark file")
        raise TableError(
            f"ground-truth table {name!r} is not imported (looked for {path}); it comes from {src}: "
            f"run `wsbench data import PATH` (e.g. `wsbench data import ../shared/data`)"
        )
    return GroundTruth.load(path)


def save_table(table: GroundTruth, data_dir: str | Path | None = None) -> Path:
    path = table_path(table.name, data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    return table.save(path)
