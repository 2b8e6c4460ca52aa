"""``wsbench train CONFIG --out DIR [key=value ...]``: train a super-net under a protocol P_ws."""

from __future__ import annotations

from pathlib import Path

import typer

from wsbench.commands.common import EXIT_DIVERGED, fail, require_torch, to_json, write_failure


def register(app: typer.Typer) -> None:
    @app.command("train")
    def train(
        config: str = typer.Argument(..., help="preset name (see `wsbench presets`, e.g. nb201-cpu) or YAML path"),
        overrides: list[str] = typer.Argument(None, help="section.key=value overrides, e.g. protocol.lr=0.05"),
        out: Path = typer.Option(..., "--out", help="run directory to write (or resume)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        resume: bool = typer.Option(False, "--resume", help="continue the run in --out from its last checkpoint"),
        quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
        as_json: bool = typer.Option(False, "--json", help="print exactly one JSON document on stdout (the final "
                                                           "metrics and the run directory); other text on stderr"),
    ) -> None:
        """Train a super-net; with a final evaluation in the config, write OUT/metrics.json."""
        from wsbench.config import ConfigError, load_config

        try:
            cfg = load_config(config, overrides or [])
        except ConfigError as exc:
            fail(str(exc))
        require_torch()
        from wsbench.train import TrainingDiverged, train_supernet

        try:
            result = train_supernet(cfg, out, data_dir=data_dir, resume=resume, quiet=quiet)
        except TrainingDiverged as exc:
            fail(f"training diverged: {exc} (the run is marked diverged in {out}/status.json)", code=EXIT_DIVERGED)
        except (ValueError, FileNotFoundError) as exc:
            fail(str(exc))
        except OSError as exc:
            fail(write_failure(exc, out))
        metrics = result.get("metrics") if isinstance(result, dict) else None
        if as_json:
            typer.echo(to_json({"run_dir": str(out), "metrics": metrics}))
            return
        if metrics:
            typer.echo(to_json(metrics))
        typer.echo(f"run directory: {out}", err=True)
