"""``wsbench search``: random search / greedy local search on a ground-truth table or with a super-net.

``--scorer table`` (baseline setting) scores architectures with the table; ``--scorer supernet RUN_DIR`` (WS
setting) with the trained super-net of a run directory (``wsbench.search.session`` does the work).
"""

from __future__ import annotations

from pathlib import Path

import typer

from wsbench.commands.common import fail, json_output


def register(app: typer.Typer) -> None:
    """Add the ``search`` command to ``app``."""

    @app.command("search")
    def search(
        space: str | None = typer.Option(None, "--space", help="a registered space (table scorer)"),
        algo: str = typer.Option("gs", "--algo", help="rs (random search), gs (greedy local search), re "
                                                      "(regularized evolution), or several: rs,gs,re"),
        runs: int = typer.Option(100, "--runs", help="independent seeded runs"),
        budget: int | None = typer.Option(None, "--budget", help="evaluations per run (default 10000; with "
                                                                 "--budget-seconds alone: unlimited)"),
        out: Path = typer.Option(..., "--out", help="output directory (curves.csv, summary.json, regret.png)"),
        subspace: str | None = typer.Option(None, "--subspace", help="NB101: A1..A4, full, with_residual, "
                                                                    "without_residual"),
        seed: int = typer.Option(0, "--seed", help="master seed of the runs"),
        valid_metric: str | None = typer.Option(None, "--valid-metric", help="metric the search maximises"),
        test_metric: str | None = typer.Option(None, "--test-metric", help="metric of the regret"),
        table: str | None = typer.Option(None, "--table", help="ground-truth table name (default per space)"),
        scorer: str = typer.Option("table", "--scorer", help="what scores architectures: table, or supernet "
                                                             "followed by the run directory RUN_DIR"),
        run_dir: Path | None = typer.Argument(None, help="run directory of a trained super-net (--scorer supernet)"),
        budget_seconds: float | None = typer.Option(None, "--budget-seconds", help="supernet: proxy-evaluation "
                                                                                 "seconds per run"),
        bn_mode: str | None = typer.Option(None, "--bn-mode", help="supernet: bns-ft | no-ft | batch (default: "
                                                                   "the run's)"),
        batch: int = typer.Option(256, "--batch", help="supernet: architectures per evaluation call"),
        baseline_runs: int = typer.Option(100, "--baseline-runs", help="supernet: runs of each baseline search"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        as_json: bool = typer.Option(False, "--json", help="exactly one JSON document (the summary) on stdout"),
    ) -> None:
        """Search with RS, GS or RE, scored by the table or by a super-net; report the test regret over runs."""
        from wsbench.search.session import DEFAULT_BUDGET, format_summary, run_search  # heavy: imported on use

        if scorer not in ("table", "supernet"):
            fail(f"unknown scorer {scorer!r}; choose table or supernet (--scorer supernet RUN_DIR)")
        if scorer == "supernet":
            _search_supernet(run_dir, algo, runs, budget, out, budget_seconds, seed, bn_mode, batch, baseline_runs,
                             valid_metric, data_dir, as_json)
            return
        if run_dir is not None:
            fail(f"RUN_DIR {run_dir} is only used with --scorer supernet")
        if space is None:
            fail("--space is required with --scorer table (a registered space: nb101, nb201, darts or a plug-in)")
        try:
            n_evals = DEFAULT_BUDGET if budget is None else budget
            summary = run_search(space.lower(), algo, runs, n_evals, out, subspace=subspace, seed=seed,
                                 valid_metric=valid_metric, test_metric=test_metric, table=table,
                                 data_dir=data_dir)
        except (ValueError, KeyError, ImportError) as exc:
            fail(str(exc))
        if as_json:
            with json_output(True) as emit:
                emit(summary)
            return
        typer.echo(format_summary(summary))
        typer.echo(f"wrote {out}/curves.csv, summary.json, regret.png")


def _search_supernet(run_dir: Path | None, algo: str, runs: int, budget: int | None, out: Path,
                     budget_seconds: float | None, seed: int, bn_mode: str | None, batch: int, baseline_runs: int,
                     valid_metric: str | None, data_dir: Path | None, as_json: bool = False) -> None:
    """The CLI path of ``--scorer supernet RUN_DIR``."""
    from wsbench.config import ConfigError
    from wsbench.search.session import format_ws_summary, run_ws_search
    from wsbench.train.checkpoint import CheckpointError

    if run_dir is None:
        fail("scorer 'supernet' is not available without a run directory: give RUN_DIR, e.g. "
             "`wsbench search --scorer supernet runs/nb201 --algo gs --runs 25 --budget 1000 --out ws`")
    try:
        summary = run_ws_search(run_dir, algo, runs, budget, out, budget_seconds, seed, bn_mode, batch,
                                baseline_runs, valid_metric, data_dir)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError, KeyError, ImportError) as exc:
        fail(str(exc))
    if as_json:
        with json_output(True) as emit:
            emit(summary)
        return
    typer.echo(format_ws_summary(summary))
    typer.echo(f"wrote {out}/curves.csv, picks.csv, baseline_curves.csv, comparison.csv, summary.json, regret.png")
