"""``wsbench arch SPACE ARCH``: canonical id, parsed form and ground-truth record of one architecture.

ARCH is the space's text form (NB201 ``|op~0|+...``, NB101 ``<bits>|<ops>``, DARTS genotype or NB301 encoding);
for NB201 also an official index, for NB101 also a benchmark hash or ``--matrix BITS --ops LIST``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail


def _tables(space: str, data_dir: Path | None) -> list[Any]:
    """The imported tables of ``space``, most complete first (only the first where the space's tables are
    versions of one benchmark, e.g. NB101's official table and its sample)."""
    from wsbench.benchmarks.store import list_tables, load_table
    from wsbench.registry import space_info

    info = space_info(space)
    present = list_tables(data_dir)
    names = [n for n in info.tables if n in present]
    if info.nested_tables:
        names = names[:1]
    # tables built by `wsbench standalone` (named standalone-<space>-<dataset>) hold this space's ground truth too
    names += [n for n in present if n.startswith(f"standalone-{space}-")]
    return [load_table(n, data_dir) for n in names]


def _parsed(arch: Any) -> Any:
    return dataclasses.asdict(arch) if dataclasses.is_dataclass(arch) and not isinstance(arch, type) else repr(arch)


def _resolve(space_name: str, sp: Any, text: str | None, matrix: str | None, ops: str | None,
             tables: list[Any]) -> Any:
    """Turn the command-line form into an architecture of ``sp`` (the space's own ``lookup`` reads indices,
    hashes and encodings; ``from_matrix`` the ``--matrix`` / ``--ops`` form)."""
    if matrix is not None or ops is not None:
        from_matrix = getattr(sp, "from_matrix", None)
        if from_matrix is None or matrix is None or ops is None or text is not None:
            raise ValueError("--matrix and --ops go together, only for a space of adjacency-matrix cells (nb101), "
                             "and replace ARCH; give both, e.g. --matrix 0100 --ops in,out")
        try:
            return from_matrix(matrix, ops)
        except ValueError as exc:
            raise ValueError(f"{exc}; give n ops and n x n matrix bits, e.g. --matrix 0100 --ops in,out") from None
    if text is None:
        raise ValueError(f"give ARCH, a {space_name} architecture")
    return sp.lookup(text.strip(), tables)


def check_in_space(space_name: str, sp: Any, arch: Any) -> None:
    """Raise ``ValueError`` naming the reason when ``arch`` parses but lies outside the space."""
    if sp.is_valid(arch):
        return
    why = sp.why_invalid(arch)
    detail = f": {why}" if why else ""
    raise ValueError(f"the cell {sp.format(arch)} is not in the {space_name} space{detail}")


def register(app: typer.Typer) -> None:
    """Add the ``arch`` command to ``app``."""

    @app.command("arch")
    def arch(
        space: str = typer.Argument(..., help="a registered space: nb101, nb201, darts or a plug-in"),
        text: str | None = typer.Argument(None, metavar="ARCH",
                                          help="architecture text form; nb201 also an index, nb101 also a hash"),
        as_json: bool = typer.Option(False, "--json", help="print JSON (id + the table fields)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        matrix: str | None = typer.Option(None, "--matrix", help="nb101: row-major adjacency bits"),
        ops: str | None = typer.Option(None, "--ops", help="nb101: ops, e.g. in,c3,mp,out"),
    ) -> None:
        """Show an architecture's canonical id, parsed form and ground-truth record."""
        from wsbench.benchmarks.table import TableError
        from wsbench.spaces import get_space

        try:
            sp = get_space(space)
            tables = _tables(space, data_dir)
            a = _resolve(space, sp, text, matrix, ops, tables)
            check_in_space(space, sp, a)
            key, canonical, formatted = sp.key(a), sp.canonical_id(a), sp.format(a)
            records = {gt.name: gt.record(key) for gt in tables if gt.contains([key])[0]}
        except (ValueError, TableError) as exc:  # TableError is a ValueError; listed for clarity
            fail(str(exc))
        primary = next(iter(records), None)
        out: dict[str, Any] = {"space": space, "id": key, "canonical_id": canonical, "format": formatted,
                               "parsed": _parsed(a), "table": primary}
        if primary is not None:
            out.update({k: v for k, v in records[primary].items() if k != "key"})
        others = {n: r for n, r in records.items() if n != primary}
        if others:
            out["other_tables"] = others
        if as_json:
            typer.echo(json.dumps(out, indent=2, default=str))
            return
        typer.echo(f"space:        {space}\nid:           {key}\ncanonical id: {canonical}\narch:         {formatted}")
        typer.echo(f"parsed:       {out['parsed']}")
        if not tables:
            typer.echo(f"ground truth: no table imported for {space} (run `wsbench data import ../shared/data`)")
        elif not records:
            typer.echo(f"ground truth: not in {', '.join(t.name for t in tables)}")
        for name, rec in records.items():
            typer.echo(f"table {name}:")
            for k, v in rec.items():
                if k != "key":
                    typer.echo(f"  {k}: {v}")
