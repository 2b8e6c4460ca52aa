"""``wsbench eval RUN_DIR``: judge a trained super-net against the ground truth."""

from __future__ import annotations

from pathlib import Path

import typer

from wsbench.commands.common import fail, json_output, require_torch


def register(app: typer.Typer) -> None:
    @app.command("eval")
    def evaluate(
        run_dir: Path = typer.Argument(..., help="run directory written by `wsbench train`"),
        bn_mode: str | None = typer.Option(None, "--bn-mode", help="bns-ft | no-ft | batch (default: the run's)"),
        n_archs: int | None = typer.Option(None, "--n-archs", help="number of architectures (default: the run's)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        sets: list[str] = typer.Option([], "--set", help="eval.KEY=VALUE override, repeatable (e.g. "
                                                          "eval.eval_batches=16, eval.proxy=neg_loss)"),
        tag: str = typer.Option("final", "--tag", help="name of this evaluation; any tag other than 'final' "
                                                       "writes evals/TAG.parquet and leaves metrics.json alone"),
        as_json: bool = typer.Option(False, "--json", help="exactly one JSON document (the metrics) on stdout"),
    ) -> None:
        """Evaluate a trained super-net on its fixed architecture list; write metrics.json and scatter.png."""
        from wsbench.config import ConfigError
        from wsbench.train.checkpoint import CheckpointError
        from wsbench.train.reload import evaluate_run

        overrides = []
        if bn_mode is not None:
            overrides.append(f"eval.bn_mode={bn_mode}")
        if n_archs is not None:
            overrides.append(f"eval.n_archs={n_archs}")
        for item in sets:
            if not item.startswith("eval."):
                fail(f"--set {item!r}: only eval.* settings can change after training (e.g. eval.eval_batches=16)")
            overrides.append(item)
        if not tag.replace("-", "").replace("_", "").isalnum():
            fail(f"--tag {tag!r}: use letters, digits, '-' and '_' only")
        require_torch()
        with json_output(as_json) as emit:
            try:
                metrics = evaluate_run(run_dir, data_dir, overrides, tag=tag)
            except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as exc:
                fail(str(exc))
            emit(metrics)
            if tag == "final":
                typer.echo(f"wrote {run_dir / 'metrics.json'} and {run_dir / 'scatter.png'}", err=True)
            else:
                typer.echo(f"wrote {run_dir / 'evals' / (tag + '.parquet')} (metrics.json unchanged)", err=True)
