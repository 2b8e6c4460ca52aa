"""``wsbench report DIR``: a self-contained HTML report (and a Markdown summary) of a run, study or search."""

from __future__ import annotations

from pathlib import Path

import typer

from wsbench.commands.common import fail


def register(app: typer.Typer) -> None:
    """Add the ``report`` command to ``app``."""

    @app.command("report")
    def report(
        path: Path = typer.Argument(..., help="run directory, study directory (results.sqlite) or search output"),
        out: Path | None = typer.Option(None, "--out", help="HTML file to write (default DIR/report.html); the "
                                                            "Markdown summary goes beside it"),
        color_by: str | None = typer.Option(None, "--color-by", help="colour the bias scatter by: residual, "
                                                                     "op@<edge|node>, params, n_conv3x3 or a "
                                                                     "column of the evals table"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory with the ground-truth "
                                                                      "tables (default $WSBENCH_DATA_DIR)"),
        coverage_paths: int = typer.Option(10_000, "--coverage-paths", help="paths per sampler in the coverage "
                                                                             "figure (0 = skip it)"),
        seed: int = typer.Option(0, "--seed", help="seed of the samplers and of the bootstrap"),
        resamples: int = typer.Option(1000, "--resamples", help="bootstrap resamples of the correlation CIs "
                                                                  "(at least 100)"),
    ) -> None:
        """Write an HTML report with embedded figures and a Markdown summary."""
        from wsbench.report import build_report

        try:
            result = build_report(path, out=out, color_by=color_by, data_dir=data_dir,
                                  coverage_paths=coverage_paths, seed=seed, n_resamples=resamples)
        except (ValueError, FileNotFoundError, KeyError) as exc:
            fail(str(exc))
        if color_by and result.kind != "run":
            typer.echo(f"note: --color-by applies to run reports only (this is a {result.kind} directory)", err=True)
        typer.echo(f"{result.kind} report: {result.html}")
        typer.echo(f"summary: {result.markdown}")
