"""``wsbench data import PATH`` and ``wsbench data info``: bring benchmark files into the data directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail

_DATASET_FILES = ("cifar-10-python.tar.gz", "cifar10_jpeg_tree.tar.gz", "cifar10_jpeg_tree.tar", "cifar10_tree.tar.gz")
DATA_DIR_HELP = "data directory (default $WSBENCH_DATA_DIR, else ~/.cache/wsbench)"


def table_summaries(data_dir: Path | None) -> list[dict[str, Any]]:
    """One summary per imported table: name, space, rows, its own digest (checked), columns, metrics, sources."""
    from wsbench.benchmarks.store import list_tables, load_table, table_path
    from wsbench.benchmarks.table import TableError

    out: list[dict[str, Any]] = []
    for name in list_tables(data_dir):
        try:
            gt = load_table(name, data_dir)
            gt.verify()  # every column against the digests recorded at import
        except TableError as exc:
            out.append({"name": name, "path": str(table_path(name, data_dir)), "error": str(exc)})
            continue
        out.append({"name": name, "space": gt.space, "rows": len(gt), "path": str(table_path(name, data_dir)),
                    "sha256": gt.digest, "columns": gt.columns, "metrics": gt.metrics(),
                    "sources": [{k: s.get(k) for k in ("path", "format", "sha256", "size", "imported_at")}
                                for s in gt.provenance.get("sources", [])]})
    return out


def import_datasets(path: Path, data_dir: Path | None) -> list[str]:
    """Import CIFAR-10 when ``path`` is (or holds) a CIFAR-10 source; skip it when the same file is cached."""
    import hashlib

    from wsbench.data.cifar10 import OFFICIAL_TARBALL, TREE_NAMES, cache_path, find_cifar10_source, import_cifar10
    from wsbench.datadir import resolve_data_dir

    if path.is_file() and path.name not in (OFFICIAL_TARBALL, *TREE_NAMES):
        return []
    source = find_cifar10_source(path)
    if source is None:
        return []
    target = cache_path(resolve_data_dir(data_dir))
    if source.is_file() and target.is_file():
        import numpy as np

        sha = hashlib.sha256(source.read_bytes()).hexdigest()
        with np.load(target, allow_pickle=False) as z:
            cached = json.loads(str(z["meta"])).get("sha256") if "meta" in z.files else None
        if cached == sha:
            return [f"cifar10  {source} already imported (sha256 {sha[:12]}) -> {target}"]
    written = import_cifar10(source, data_dir)
    return [f"imported {source} -> dataset 'cifar10' ({written})"]


def register(app: typer.Typer) -> None:
    """Add the ``data`` command group to ``app``."""
    data_app = typer.Typer(help="Import benchmark files and list the imported tables.", no_args_is_help=True)

    @data_app.command("import")
    def import_(
        path: Path = typer.Argument(..., help="a benchmark file, a NATS-Bench folder, or a folder such as "
                                              "../shared/data (every recognised file in it is imported)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        allow_pickle: bool = typer.Option(False, "--allow-pickle",
                                          help="allow reading official files that can only be unpickled "
                                               "(NAS-Bench-201 .pth, NATS-Bench); this executes code from the file"),
    ) -> None:
        """Check benchmark files and convert them into compact tables (atomic: a failure changes nothing)."""
        from wsbench.benchmarks.importers import import_path
        from wsbench.benchmarks.table import TableError
        from wsbench.data.errors import DatasetError
        from wsbench.datadir import resolve_data_dir

        try:
            lines = import_datasets(path, data_dir)
            if lines and path.is_file():  # a dataset file: nothing else to import
                results = []
            else:
                results = import_path(path, data_dir=data_dir, allow_pickle=allow_pickle)
        except (TableError, DatasetError) as exc:
            fail(str(exc))
        for line in lines:
            typer.echo(line)
        for r in results:
            if r.skipped and r.path.name in _DATASET_FILES and lines:
                continue
            if r.skipped:
                typer.echo(f"skipped  {r.path} ({r.note.removeprefix('skipped: ')})")
            else:
                typer.echo(f"imported {r.path} -> table {r.table!r} ({r.rows:,} rows, {len(r.columns)} columns, "
                           f"sha256 {r.sha256[:12]})")
        typer.echo(f"data directory: {resolve_data_dir(data_dir)}")

    @data_app.command("info")
    def info(
        data_dir: Path | None = typer.Option(None, "--data-dir", help=DATA_DIR_HELP),
        as_json: bool = typer.Option(False, "--json", help="print JSON"),
    ) -> None:
        """List the imported tables: rows, metrics, sources and checksums."""
        from wsbench.datadir import resolve_data_dir

        folder = resolve_data_dir(data_dir)
        tables = table_summaries(folder)
        if as_json:
            typer.echo(json.dumps({"data_dir": str(folder), "tables": tables}, indent=2))
            return
        typer.echo(f"data directory: {folder}")
        if not tables:
            typer.echo("no tables imported; run `wsbench data import PATH` (e.g. ../shared/data)")
        for t in tables:
            if "error" in t:
                typer.echo(f"- {t['name']}: UNREADABLE ({t['error']})")
                continue
            typer.echo(f"- {t['name']} (space {t['space']}): {t['rows']:,} rows; metrics: {', '.join(t['metrics'])}")
            typer.echo(f"    table sha256 {t['sha256']} (stored content, verified)" if t["sha256"] else
                       "    table has no digest (imported by an older wsbench): import its sources again to add one")
            for s in t["sources"]:
                typer.echo(f"    source {s['path']} [{s['format']}] sha256 {s['sha256']} "
                           f"({s['size']:,} bytes, imported {s['imported_at']})")

    app.add_typer(data_app, name="data")
