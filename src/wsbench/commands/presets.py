"""``wsbench presets``: every preset and study reachable by name, with one line of description each."""

from __future__ import annotations

import json

import typer


def register(app: typer.Typer) -> None:
    @app.command("presets")
    def presets_cmd(
        as_json: bool = typer.Option(False, "--json", help="one JSON document: {configs: [...], studies: [...]}"),
    ) -> None:
        """List run presets, stand-alone protocols and studies (package, ./configs ./studies, $WSBENCH_CONFIG_PATH)."""
        from wsbench.presets import list_presets

        found = {kind: list_presets(kind) for kind in ("configs", "studies")}  # type: ignore[arg-type]
        if as_json:
            typer.echo(json.dumps({kind: [{"name": p.name, "path": str(p.path), "origin": p.origin,
                                           "description": p.description} for p in items]
                                   for kind, items in found.items()}, indent=2))
            return
        titles = {"configs": "presets (wsbench train NAME, wsbench quickstart --preset NAME; standalone-*: "
                             "wsbench standalone --protocol NAME)",
                  "studies": "studies (wsbench sweep NAME, wsbench reproduce NAME)"}
        for kind, items in found.items():
            typer.echo(titles[kind])
            width = max((len(p.name) for p in items), default=0)
            for p in items:
                where = "" if p.origin == "package" else f"  [{p.origin}: {p.path}]"
                text = p.description if len(p.description) <= 100 else p.description[:97] + "..."
                typer.echo(f"  {p.name:<{width}}  {text}{where}")
