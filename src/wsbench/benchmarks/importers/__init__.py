"""Importers: recognise benchmark files by name, check their content, and write compact tables.

``import_path(path)`` accepts one file, one NATS-Bench folder, or any folder (walked recursively: every
recognised file is imported, anything else is skipped with a note). Each table is built completely in memory
and then saved atomically, so a failed import leaves the store as it was. Recognised formats: :data:`FORMATS`.
"""

from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from wsbench.benchmarks.store import save_table
from wsbench.benchmarks.table import GroundTruth, TableError
from wsbench.datadir import resolve_data_dir


@dataclass(frozen=True)
class Format:
    """A recognised source format: file-name pattern, target table and reader (``module:function``)."""

    name: str
    table: str
    pattern: str
    reader: str
    description: str
    folder: bool = False
    pickle: bool = False

    def matches(self, path: Path) -> bool:
        """Whether ``path`` has this format's name and kind (file or folder)."""
        return path.is_dir() == self.folder and re.fullmatch(self.pattern, path.name) is not None


FORMATS: tuple[Format, ...] = (
    Format("nb201-csv-200ep", "nb201", r"nb201_200ep_test\.csv", "nb201_csv:read_200ep",
           "NAS-Bench-201 200-epoch test accuracies (nb201_200ep_test.csv)"),
    Format("nb201-csv-12ep", "nb201", r"nb201_12ep_valtest\.csv", "nb201_csv:read_12ep",
           "NAS-Bench-201 12-epoch val/test accuracies (nb201_12ep_valtest.csv)"),
    Format("nb101-sample-csv", "nb101-sample", r"nb101_sample\.csv(\.gz)?", "nb101_csv:read",
           "NAS-Bench-101 sample (nb101_sample.csv.gz)"),
    Format("nb301-json", "darts-nb301", r"nb301_sample\w*\.json", "nb301_json:read",
           "NAS-Bench-301 zero-cost sample (nb301_sample_725.json)"),
    Format("nb101-tfrecord", "nb101", r"[\w.-]*\.tfrecord", "nb101_tfrecord:read",
           "official NAS-Bench-101 TFRecord (nasbench_only108.tfrecord, nasbench_full.tfrecord)"),
    Format("nb201-pth", "nb201", r"NAS-Bench-201-v1_[01]-[0-9a-f]+\.pth", "nb201_pickle:read_archive",
           "official NAS-Bench-201 file (NAS-Bench-201-v1_0-e61699.pth, NAS-Bench-201-v1_1-096897.pth)",
           pickle=True),
    Format("nats-tss-archive", "nb201", r"NATS-tss-v1_0-[0-9a-f]+\.pickle\.pbz2", "nb201_pickle:read_archive",
           "NATS-Bench topology archive (NATS-tss-v1_0-3ffb9.pickle.pbz2)", pickle=True),
    Format("nats-tss-folder", "nb201", r"NATS-tss-v1_0-[0-9a-f]+-(simple|full)", "nb201_pickle:read_nats_folder",
           "NATS-Bench topology folder (NATS-tss-v1_0-3ffb9-simple/)", folder=True, pickle=True),
    Format("nds-json", "nds-darts", r"DARTS(_[\w-]+)?\.json", "nds_json:read",
           "NDS DARTS-space records (DARTS.json, DARTS_<variant>.json)"),
)


@dataclass(frozen=True)
class ImportResult:
    """Outcome for one source: the table written (or why the source was skipped)."""

    path: Path
    format: str | None
    table: str | None
    rows: int = 0
    columns: tuple[str, ...] = ()
    sha256: str = ""
    note: str = ""
    sources: tuple[str, ...] = field(default=())

    @property
    def skipped(self) -> bool:
        """True when the source was not imported (see ``note``)."""
        return self.table is None


def recognised() -> str:
    """Human-readable list of the recognised formats."""
    return "; ".join(f.description for f in FORMATS)


def recognise(path: str | Path) -> Format | None:
    """The format of ``path`` by its name (and kind: file or folder), or ``None``."""
    path = Path(path)
    return next((f for f in FORMATS if f.matches(path)), None)


def _plan(root: Path) -> tuple[list[tuple[Path, Format]], list[ImportResult]]:
    todo: list[tuple[Path, Format]] = []
    skipped: list[ImportResult] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs.sort()
        for d in list(dirs):
            fmt = recognise(here / d)
            if fmt is not None:
                todo.append((here / d, fmt))
                dirs.remove(d)
        for name in sorted(files):
            fmt = recognise(here / name)
            if fmt is not None:
                todo.append((here / name, fmt))
            else:
                skipped.append(ImportResult(here / name, None, None, note="skipped: not a recognised benchmark file"))
    return todo, skipped


def _read(path: Path, fmt: Format, data_dir: Path, allow_pickle: bool) -> GroundTruth:
    module, func = fmt.reader.split(":")
    reader = getattr(importlib.import_module(f"{__name__}.{module}"), func)
    try:
        return reader(path, data_dir, allow_pickle=allow_pickle) if fmt.pickle else reader(path, data_dir)
    except TableError:
        raise
    except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
        raise TableError(f"{path}: unexpected content for {fmt.description} ({type(exc).__name__}: {exc})") from exc


def import_file(path: str | Path, fmt: Format | None = None, data_dir: str | Path | None = None,
                allow_pickle: bool = False) -> ImportResult:
    """Import one recognised file or folder; raise ``TableError`` (store unchanged) when it fails."""
    path = Path(path).expanduser()
    fmt = fmt or recognise(path)
    if fmt is None:
        raise TableError(f"{path}: not a recognised benchmark file; recognised are: {recognised()}")
    if fmt.pickle and not allow_pickle:
        from wsbench.benchmarks.importers.nb201_pickle import refuse

        raise refuse(path)
    folder = resolve_data_dir(data_dir, create=True)
    table = _read(path, fmt, folder, allow_pickle)
    save_table(table, folder)
    sources = table.provenance.get("sources", [])
    own = next((s for s in reversed(sources) if s.get("path") == str(path.resolve())), {})
    return ImportResult(path, fmt.name, table.name, len(table), tuple(table.columns), own.get("sha256", ""),
                        sources=tuple(s.get("path", "") for s in sources))


def import_path(path: str | Path, data_dir: str | Path | None = None,
                allow_pickle: bool = False) -> list[ImportResult]:
    """Import a file, a NATS-Bench folder, or every recognised file under a folder.

    An explicitly named unknown file is an error; unknown files inside a folder are skipped (with a note in
    the results). Pickle-based files need ``allow_pickle=True``; in a folder this is checked before anything
    is imported. The first failing file raises ``TableError``; tables imported before it are kept.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise TableError(f"{path} does not exist; give a benchmark file or a folder such as ../shared/data")
    fmt = recognise(path)
    if fmt is not None or path.is_file():
        return [import_file(path, fmt, data_dir, allow_pickle)]
    todo, skipped = _plan(path)
    if not todo:
        raise TableError(f"{path}: no recognised benchmark file in this folder; recognised are: {recognised()}")
    if not allow_pickle:
        for p, f in todo:
            if f.pickle:
                from wsbench.benchmarks.importers.nb201_pickle import refuse

                raise refuse(p)
    return [import_file(p, f, data_dir, allow_pickle) for p, f in todo] + skipped


__all__ = ["FORMATS", "Format", "ImportResult", "import_file", "import_path", "recognise", "recognised"]
