"""``wsbench standalone``: train sampled architectures stand-alone and store the results as a ground-truth table."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail


def _progress(total: int) -> Any:
    count = {"n": 0}

    def on_result(rec: dict[str, Any]) -> None:
        count["n"] += 1
        if rec.get("error"):
            typer.echo(f"[{count['n']}/{total}] {rec['key']} seed {rec['seed']}: FAILED {rec['error']}", err=True)
            return
        acc = rec.get("test_acc")
        acc_text = "n/a" if acc is None or (isinstance(acc, float) and math.isnan(acc)) else f"{acc:.2f}"
        typer.echo(f"[{count['n']}/{total}] seed {rec['seed']} valid {rec['valid_acc']:.2f} test {acc_text} "
                   f"({rec['train_time']:.1f} s) {rec['arch']}")

    return on_result


def register(app: typer.Typer) -> None:
    """Add the ``standalone`` command to ``app``."""

    @app.command("standalone")
    def standalone(
        space: str = typer.Option("nb201", "--space", help="a registered space: nb101, nb201, darts or a plug-in"),
        dataset: str = typer.Option("digits", "--dataset", help="dataset: digits or cifar10"),
        n: int = typer.Option(200, "--n", help="number of distinct architectures (Random-A sample)"),
        seeds: int = typer.Option(1, "--seeds", help="seeds per architecture (0..k-1): repeat columns @0..@k-1"),
        protocol: str | None = typer.Option(None, "--protocol", help="protocol preset (nb201, nb101, cpu, digits) "
                                            "or YAML path (default: digits for digits, cpu for cifar10)"),
        out: str | None = typer.Option(None, "--out", help="table name (default standalone-<space>-<dataset>)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        max_parallel: int | None = typer.Option(None, "--max-parallel", help="units in flight (default: all CPUs)"),
        address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: local Ray)"),
        no_ray: bool = typer.Option(False, "--no-ray", help="train sequentially in this process (no Ray)"),
        sample_seed: int = typer.Option(0, "--sample-seed", help="seed of the architecture sample"),
        quiet: bool = typer.Option(False, "--quiet", help="no line per finished unit"),
        overrides: list[str] = typer.Argument(None, help="protocol overrides section.key=value (train.epochs=2)"),
    ) -> None:
        """Train N sampled architectures x seeds stand-alone (resumable) and save table standalone-SPACE-DATASET."""
        from wsbench.benchmarks.store import table_path
        from wsbench.datadir import resolve_data_dir
        from wsbench.standalone.protocol import load_protocol
        from wsbench.standalone.runner import default_name, finish_build, prepare_build, run_build

        if dataset not in ("digits", "cifar10"):
            fail(f"unknown dataset {dataset!r}; choose digits or cifar10")
        if seeds < 1:
            fail(f"--seeds must be >= 1, got {seeds}")
        try:
            preset = protocol or ("digits" if dataset == "digits" else "cpu")
            proto = load_protocol(preset, overrides or [], dataset=dataset)
            name = out or default_name(space, dataset)
            plan = prepare_build(name, space, proto, list(range(seeds)), data_dir, n=n, sample_seed=sample_seed)
        except ValueError as exc:
            fail(str(exc))
        ddir = resolve_data_dir(data_dir)
        pending = len(plan.pending())
        typer.echo(f"{name}: {len(plan.archs)} {space} architectures x {seeds} seed(s) on {dataset}, protocol "
                   f"{proto.name} ({proto.fingerprint()}); {pending} unit(s) to train, "
                   f"{len(plan.units()) - pending} already done; units in {plan.root / 'units'}")
        try:
            summary = run_build(plan, ddir, backend="local" if no_ray else "ray", max_parallel=max_parallel,
                                address=address, on_result=None if quiet else _progress(pending))
        except ValueError as exc:
            fail(str(exc))
        try:
            table = finish_build(plan, ddir)
        except ValueError as exc:
            fail(f"{exc} ({summary['failed']} unit(s) failed)")
        typer.echo(f"wrote {table_path(name, ddir)}: {len(table)} architectures, metrics {table.metrics()}")
        typer.echo(f"use it as eval.ground_truth={name}:test_acc (or :valid_acc)")
        typer.echo(json.dumps({k: v for k, v in summary.items() if k != "failures"}))
        if summary["failed"]:
            for rec in summary["failures"][:5]:
                typer.echo(f"failed: {rec['key']} seed {rec['seed']}: {rec['error']}", err=True)
            fail(f"{summary['failed']} unit(s) failed; run the same command again to retry them", code=1)
