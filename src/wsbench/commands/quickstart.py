"""``wsbench quickstart``: a low-fidelity NB201 super-net on CIFAR-10 on the CPU, judged against NB201."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from wsbench.commands.common import fail

PRESET = "nb201-cpu"

_ROWS = (
    ("super-net accuracy (mean proxy %)", "supernet_accuracy"),
    ("Kendall-Tau", "kendall_tau"),
    ("sparse Kendall-Tau (0.1 pp)", "sparse_kendall_tau"),
    ("Spearman", "spearman"),
    ("P>R (probability to beat random search)", "p_beat_random"),
    ("final searched model (mean GT of top-3, %)", "final_model_accuracy"),
    ("params baseline: Spearman", "params_spearman"),
    ("params baseline: sparse Kendall-Tau", "params_sparse_kendall_tau"),
)


def print_metrics(metrics: dict, title: str) -> None:
    """A small rich table of the headline metrics."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in _ROWS:
        value = metrics.get(key)
        table.add_row(label, "n/a" if value is None else f"{value:.4f}")
    Console().print(table)


def _dataset_available(name: str, data_dir: Path | None) -> bool:
    if name == "digits":
        return True
    from wsbench.data.cifar10 import cache_path
    from wsbench.datadir import resolve_data_dir

    return cache_path(resolve_data_dir(data_dir)).exists()


def register(app: typer.Typer) -> None:
    @app.command("quickstart")
    def quickstart(
        out: Path = typer.Option(Path("runs/quickstart"), "--out", help="run directory"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        preset: str = typer.Option(PRESET, "--preset", help="preset name or YAML path"),
        overrides: list[str] = typer.Argument(None, help="section.key=value overrides"),
    ) -> None:
        """Train a low-fidelity NB201 super-net on CIFAR-10 (CPU, ~10 min), evaluate 200 archs vs NB201."""
        from wsbench.benchmarks.store import table_path
        from wsbench.config import ConfigError, load_config
        from wsbench.presets import find_preset

        try:
            cfg = load_config(find_preset(preset), overrides or [])
        except (ConfigError, FileNotFoundError) as exc:
            fail(str(exc))
        table_name = cfg.eval.ground_truth.partition(":")[0]
        missing = []
        if not _dataset_available(cfg.data.dataset, data_dir):
            missing.append(f"dataset {cfg.data.dataset}")
        if not table_path(table_name, data_dir).exists():
            missing.append(f"ground-truth table {table_name}")
        if missing:
            fail(f"quickstart needs {' and '.join(missing)}: run `wsbench data import ../shared/data` first")
        from wsbench.train import TrainingDiverged, train_supernet

        if out.exists() and (out / "checkpoints").exists():
            fail(f"{out} already holds a run; pass another --out or remove it")
        start = time.time()
        try:
            result = train_supernet(cfg, out, data_dir=data_dir)
        except TrainingDiverged as exc:
            fail(f"training diverged: {exc}", code=3)
        metrics = result.get("metrics") or {}
        print_metrics(metrics, f"{cfg.name}: {len(metrics) and metrics.get('n_archs')} architectures vs "
                               f"{cfg.eval.ground_truth} ({time.time() - start:.0f} s)")
        typer.echo(json.dumps({k: metrics.get(k) for _, k in _ROWS}, indent=None))
        typer.echo(f"wrote {out / 'metrics.json'} and {out / 'scatter.png'}")
