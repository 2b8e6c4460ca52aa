"""``wsbench arch SPACE ARCH``: canonical id, parsed form and ground-truth record of one architecture.

ARCH is the space's text form (NB201 ``|op~0|+...``, NB101 ``<bits>|<ops>``, DARTS genotype or NB301 encoding);
for NB201 also an official index, for NB101 also a benchmark hash or ``--matrix BITS --ops LIST``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail

#: Tables holding ground truth for each space, in order of preference.
TABLES: dict[str, tuple[str, ...]] = {"nb201": ("nb201",), "nb101": ("nb101", "nb101-sample"),
                                      "darts": ("darts-nb301", "nds-darts")}
_HASH = re.compile(r"^[0-9a-f]{32}$")


def _tables(space: str, data_dir: Path | None) -> list[Any]:
    """The imported tables for ``space`` (NB101: the official table if imported, else the sample)."""
    from wsbench.benchmarks.store import list_tables, load_table

    present = list_tables(data_dir)
    names = [n for n in TABLES.get(space, ()) if n in present]
    if space == "nb101":
        names = names[:1]
    # tables built by `wsbench standalone` (named standalone-<space>-<dataset>) hold this space's ground truth too
    names += [n for n in present if n.startswith(f"standalone-{space}-")]
    return [load_table(n, data_dir) for n in names]


def _parsed(arch: Any) -> Any:
    return dataclasses.asdict(arch) if dataclasses.is_dataclass(arch) and not isinstance(arch, type) else repr(arch)


def _resolve(space_name: str, sp: Any, text: str | None, matrix: str | None, ops: str | None,
             tables: list[Any], data_dir: Path | None) -> Any:
    """Turn the command-line form into an architecture of ``sp``."""
    if matrix is not None or ops is not None:
        if space_name != "nb101" or matrix is None or ops is None or text is not None:
            raise ValueError("--matrix and --ops go together, only for nb101, and replace ARCH; give both, e.g. "
                             "--matrix 0100 --ops in,out")
        from wsbench.spaces.nb101 import from_matrix

        try:
            return from_matrix(matrix, ops)
        except ValueError as exc:
            raise ValueError(f"{exc}; give n ops and n x n matrix bits, e.g. --matrix 0100 --ops in,out") from None
    if text is None:
        raise ValueError("give ARCH (or --matrix BITS --ops LIST for nb101)")
    text = text.strip()
    if space_name == "nb201" and text.isdigit():
        if not tables:
            from wsbench.benchmarks.store import load_table

            load_table("nb201", data_dir)  # raises the 'not imported' message
        gt = tables[0]
        rows = (gt.column("index") == int(text)).nonzero()[0]
        if not len(rows):
            raise ValueError(f"index {text} is not in table {gt.name!r}; give an official index, 0..{len(gt) - 1}")
        return sp.parse(str(gt.keys[rows[0]]))
    if space_name == "nb101" and _HASH.match(text):
        for gt in tables:
            if gt.contains([text])[0]:
                rec = gt.record(text)
                from wsbench.spaces.nb101 import from_matrix

                return from_matrix(rec["matrix"], rec["ops"])
        raise ValueError(f"hash {text} is not in the imported NB101 tables {[t.name for t in tables]}; "
                         f"give the cell as --matrix BITS --ops LIST")
    if space_name == "darts" and text.startswith("[["):
        return sp.parse_encoding(text)
    return sp.parse(text)


def check_in_space(space_name: str, sp: Any, arch: Any) -> None:
    """Raise ``ValueError`` naming the reason when ``arch`` parses but lies outside the space."""
    if sp.is_valid(arch):
        return
    if space_name == "nb101":
        from wsbench.spaces.nb101 import prune

        pruned = prune(arch)
        if pruned is None:
            why = "it has no path from the input to the output; connect the input to the output"
        elif pruned.n_vertices <= sp.max_vertices and pruned.num_edges <= sp.max_edges:
            why = f"it is outside the sub-space {sp.subspace!r}"
        else:
            why = (f"pruned, it has {pruned.n_vertices} vertices and {pruned.num_edges} edges; give a cell of at "
                   f"most {sp.max_vertices} vertices and {sp.max_edges} edges")
        raise ValueError(f"the cell {sp.format(arch)} is not in the nb101 space: {why}")
    raise ValueError(f"{sp.format(arch)} is not an architecture of the {space_name} space")


def register(app: typer.Typer) -> None:
    """Add the ``arch`` command to ``app``."""

    @app.command("arch")
    def arch(
        space: str = typer.Argument(..., help="search space: nb101, nb201 or darts"),
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
            a = _resolve(space, sp, text, matrix, ops, tables, data_dir)
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
