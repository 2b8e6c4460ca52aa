"""``wsbench train CONFIG --out DIR [key=value ...]``: train a super-net under a protocol P_ws."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from wsbench.commands.common import fail, write_failure


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: Path = typer.Argument(..., help="YAML preset, e.g. configs/nb201-cpu.yaml"),
        overrides: list[str] = typer.Argument(None, help="section.key=value overrides, e.g. protocol.lr=0.05"),
        out: Path = typer.Option(..., "--out", help="run directory to write (or resume)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    ) -> None:
        """Train a super-net; with a final evaluation in the config, write OUT/metrics.json."""
        from wsbench.config import ConfigError, load_config

        try:
            cfg = load_config(config, overrides or [])
        except ConfigError as exc:
            fail(str(exc))
        from wsbench.train import TrainingDiverged, train_supernet

        try:
            result = train_supernet(cfg, out, data_dir=data_dir, resume=resume, quiet=quiet)
        except TrainingDiverged as exc:
            fail(f"training diverged: {exc} (the run is marked diverged in {out}/status.json)", code=3)
        except (ValueError, FileNotFoundError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(write_failure(exc, out))
        metrics = result.get("metrics") if isinstance(result, dict) else None
        if metrics:
            typer.echo(json.dumps(metrics, indent=2))
        typer.echo(f"run directory: {out}")
