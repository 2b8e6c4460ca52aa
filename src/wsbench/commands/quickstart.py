"""``wsbench quickstart``: train a small NB201 super-net on the CPU and judge it against a ground truth.

Two paths, chosen by ``--dataset`` (default: CIFAR-10 when it and the NB201 table are imported, else digits):

* ``cifar10``: preset ``nb201-cpu`` (8x8 CIFAR-10, under 10 minutes), judged against the imported NB201 table.
* ``digits``: needs no files at all. scikit-learn's digits, the NB201 space and a tiny network: it builds (or
  reuses) the stand-alone ground truth ``standalone-nb201-digits`` (``--gt-n`` cells x ``--gt-seeds`` seeds,
  embedded ``digits`` stand-alone protocol) in the data directory, then trains the super-net of preset
  ``nb201-digits`` and evaluates it against that table. Without any data directory the default cache
  (``~/.cache/wsbench``) is created, or a temporary folder when that is not writable; the output says which.

Both write ``OUT/metrics.json`` (supernet_accuracy, kendall_tau, sparse_kendall_tau, spearman, p_beat_random,
final_model_accuracy, n_archs, bn_mode, ground_truth, params_spearman, params_sparse_kendall_tau, ...) and
``OUT/scatter.png``.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail, json_output, require_torch

PRESET = "nb201-cpu"
DIGITS_PRESET_NAME = "nb201-digits"

# The rows of the printed table, labelled from the metric registry: the super-net's own ranking first (the acc_*
# keys rank by super-net accuracy whatever eval.proxy is), then the baseline it must beat, then the ensemble of
# the two as its own named row.
_OWN = ("sparse_kendall_tau", "kendall_tau", "spearman", "final_model_accuracy")
_OTHERS = (("baseline params", "params", ("sparse_kendall_tau", "spearman")),
           ("ensemble SN+params", "hybrid", ("sparse_kendall_tau", "spearman", "final_model_accuracy")))


def _rows() -> list[tuple[str, str]]:
    from wsbench.evaluate.metrics import REGISTRY

    def label(key: str) -> str:
        # the registry's label up to its explanation: "sparse Kendall-Tau", "final model", "P>R"
        return REGISTRY[key].label.split(" (")[0].split(":")[0] + (" (%)" if key.endswith("accuracy") else "")

    rows = [(REGISTRY["supernet_accuracy"].label, "supernet_accuracy")]
    rows += [(f"super-net: {label(k)}", f"acc_{k}") for k in _OWN]
    rows += [(f"{who}: {label(k)}", f"{prefix}_{k}") for who, prefix, keys in _OTHERS for k in keys]
    return rows + [(f"super-net: {label('p_beat_random')}", "p_beat_random")]


def print_metrics(metrics: dict, title: str) -> None:
    """A small rich table: the super-net's own ranking, the parameter-count baseline, the ensemble."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, key in _rows():
        value = metrics.get(key)
        table.add_row(label, "n/a" if value is None else f"{value:.4f}")
    Console().print(table)


def _cifar_ready(data_dir: Path | None) -> tuple[bool, str]:
    """Whether CIFAR-10 and the NB201 table are imported (and a note saying what is missing)."""
    from wsbench.benchmarks.store import table_path
    from wsbench.data.cifar10 import cache_path
    from wsbench.datadir import resolve_data_dir

    ddir = resolve_data_dir(data_dir)
    missing = [what for what, ok in (("CIFAR-10", cache_path(ddir).exists()),
                                     ("the NB201 table", table_path("nb201", ddir).exists())) if not ok]
    if missing:
        return False, f"{' and '.join(missing)} not imported in {ddir}"
    return True, f"CIFAR-10 and the NB201 table found in {ddir}"


def _check_cifar_inputs(cfg: Any, data_dir: Path | None) -> None:
    """Fail with the import command when the CIFAR-10 cache or the preset's ground-truth table is missing."""
    from wsbench.benchmarks.reference import GroundTruthRef
    from wsbench.benchmarks.store import table_path
    from wsbench.data.cifar10 import cache_path
    from wsbench.datadir import resolve_data_dir

    table_name = GroundTruthRef.parse(cfg.eval.ground_truth).table
    missing = []
    if not cache_path(resolve_data_dir(data_dir)).exists():
        missing.append("dataset cifar10")
    if not table_path(table_name, data_dir).exists():
        missing.append(f"ground-truth table {table_name}")
    if missing:
        fail(f"quickstart needs {' and '.join(missing)}: run `wsbench data import ../shared/data` first, "
             f"or use --dataset digits (no files needed)")


def _digits_data_dir(explicit: Path | None) -> tuple[Path, str]:
    """The data directory of the digits path (created when needed) and a sentence saying where it is."""
    from wsbench.datadir import ENV_VAR, resolve_data_dir

    ddir = resolve_data_dir(explicit)
    if explicit is not None or os.environ.get(ENV_VAR):
        ddir.mkdir(parents=True, exist_ok=True)
        return ddir, f"data directory {ddir}"
    existed = ddir.exists()
    try:
        ddir.mkdir(parents=True, exist_ok=True)
        probe = ddir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError:
        tmp = Path(tempfile.mkdtemp(prefix="wsbench-"))
        return tmp, f"no writable data directory ({ddir}); using the temporary folder {tmp} (not kept)"
    if existed:
        return ddir, f"default data directory {ddir}"
    return ddir, f"no data directory found; created the default cache {ddir} for the digits ground truth"


def _load_run_config(preset: str | None, dataset: str, overrides: list[str]) -> Any:
    from wsbench.config import load_config

    if preset is None and dataset == "digits":
        return load_config(DIGITS_PRESET_NAME, overrides)
    return load_config(preset or PRESET, overrides)


def _digits_ground_truth(cfg: Any, ddir: Path, gt_n: int, gt_seeds: int, gt_protocol: str, gt_set: list[str],
                         no_ray: bool, max_parallel: int | None) -> Any:
    """Reuse the table named in ``cfg.eval.ground_truth`` when it has ``gt_n`` rows, else build it (resumable)."""
    from wsbench.benchmarks.reference import GroundTruthRef
    from wsbench.benchmarks.store import load_table, table_path
    from wsbench.standalone.protocol import load_protocol
    from wsbench.standalone.runner import build_standalone_table

    ref = GroundTruthRef.parse(cfg.eval.ground_truth)
    name, metric = ref.table, ref.metric
    if table_path(name, ddir).exists():
        table = load_table(name, ddir)
        if len(table) >= gt_n and table.has(metric):
            typer.echo(f"ground truth: reusing table {name} ({len(table)} architectures, protocol "
                       f"{table.provenance.get('protocol_name', '?')}, seeds {table.provenance.get('seeds')})")
            return table
    protocol = load_protocol(gt_protocol, gt_set, dataset="digits")
    typer.echo(f"ground truth: training {gt_n} NB201 cells x {gt_seeds} seed(s) stand-alone on digits "
               f"(protocol {protocol.name}: {protocol.train.epochs} epochs, C={protocol.mapping.channels}, "
               f"N={protocol.mapping.cells_per_stage}) into table {name} ...")
    t0 = time.time()
    total, count = gt_n * gt_seeds, {"n": 0}

    def progress(rec: dict[str, Any]) -> None:
        count["n"] += 1
        if count["n"] % max(1, total // 8) == 0 or count["n"] == total:
            typer.echo(f"  {count['n']}/{total} units ({time.time() - t0:.0f} s)")

    table, summary = build_standalone_table(cfg.space.name, protocol, gt_n, gt_seeds, name=name, data_dir=ddir,
                                            backend="local" if no_ray else "ray", max_parallel=max_parallel,
                                            on_result=progress)
    typer.echo(f"ground truth: {len(table)} architectures in {time.time() - t0:.0f} s ({summary['ran']} units "
               f"trained, {summary['skipped']} reused, {summary['failed']} failed)")
    return table


def register(app: typer.Typer) -> None:
    @app.command("quickstart")
    def quickstart(
        out: Path = typer.Option(Path("runs/quickstart"), "--out", help="run directory"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        dataset: str | None = typer.Option(None, "--dataset",
                                           help="cifar10 or digits (default: cifar10 if imported, else digits)"),
        preset: str | None = typer.Option(None, "--preset", help="preset name or YAML path "
                                          "(default nb201-cpu for cifar10, nb201-digits for digits)"),
        gt_n: int = typer.Option(80, "--gt-n", help="digits: cells in the stand-alone ground truth"),
        gt_seeds: int = typer.Option(2, "--gt-seeds", help="digits: seeds per cell in the ground truth"),
        gt_protocol: str = typer.Option("digits", "--gt-protocol", help="digits: stand-alone protocol preset/YAML"),
        gt_set: list[str] = typer.Option(None, "--gt-set", help="digits: stand-alone protocol override "
                                         "section.key=value (repeatable)"),
        no_ray: bool = typer.Option(False, "--no-ray", help="digits: train the ground truth in this process"),
        max_parallel: int | None = typer.Option(None, "--max-parallel", help="digits: ground-truth units in flight"),
        overrides: list[str] = typer.Argument(None, help="section.key=value overrides of the super-net config"),
        as_json: bool = typer.Option(False, "--json", help="exactly one JSON document (the metrics) on stdout; "
                                                           "progress and the table on stderr"),
    ) -> None:
        """Train a small NB201 super-net on the CPU (~10 min) and evaluate it against a ground truth."""
        require_torch()
        with json_output(as_json) as emit:
            _quickstart(out, data_dir, dataset, preset, gt_n, gt_seeds, gt_protocol, gt_set, no_ray, max_parallel,
                        overrides, emit)


def _quickstart(out: Path, data_dir: Path | None, dataset: str | None, preset: str | None, gt_n: int,
                gt_seeds: int, gt_protocol: str, gt_set: list[str] | None, no_ray: bool, max_parallel: int | None,
                overrides: list[str] | None, emit: Any) -> None:
    """The body of ``wsbench quickstart`` (human text to stdout, or to stderr under ``--json``)."""
    from wsbench.config import ConfigError

    if dataset not in (None, "cifar10", "digits"):
        fail(f"unknown dataset {dataset!r}; choose cifar10 or digits")
    ready, note = _cifar_ready(data_dir)
    if dataset is None:
        dataset = "cifar10" if ready else "digits"
        typer.echo(f"dataset: {dataset} ({note})")
    else:
        typer.echo(f"dataset: {dataset}")
    try:
        cfg = _load_run_config(preset, dataset, overrides or [])
    except (ConfigError, FileNotFoundError) as exc:
        fail(str(exc))
    if cfg.data.dataset != dataset:
        fail(f"preset {cfg.name!r} trains on {cfg.data.dataset}, not {dataset}; pick a matching --preset")
    if dataset == "cifar10":
        _check_cifar_inputs(cfg, data_dir)
    if out.exists() and (out / "checkpoints").exists():
        fail(f"{out} already holds a run; pass another --out or remove it")
    start = time.time()
    run_data_dir = data_dir
    if dataset == "digits":
        ddir, where = _digits_data_dir(data_dir)
        typer.echo(where)
        try:
            table = _digits_ground_truth(cfg, ddir, gt_n, gt_seeds, gt_protocol, gt_set or [], no_ray,
                                         max_parallel)
        except ValueError as exc:
            fail(str(exc))
        if len(table) < cfg.eval.n_archs:
            cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"n_archs": len(table)})})
        run_data_dir = ddir
        import torch

        # 8x8 images through 8-channel convolutions are far too small for intra-op threads: on a busy machine
        # extra threads only wait on each other (measured 10x slower steps), one thread runs at full speed
        torch.set_num_threads(1)
    _train_and_report(cfg, out, run_data_dir, start, emit)


def _train_and_report(cfg: Any, out: Path, data_dir: Path | None, start: float, emit: Any) -> None:
    from wsbench.train import TrainingDiverged, train_supernet

    typer.echo(f"super-net: preset {cfg.name} ({cfg.protocol.epochs} epochs, at most {cfg.protocol.max_minutes} "
               f"min), judged on {cfg.eval.n_archs} architectures against {cfg.eval.ground_truth}")
    try:
        result = train_supernet(cfg, out, data_dir=data_dir)
    except TrainingDiverged as exc:
        fail(f"training diverged: {exc}", code=3)
    metrics = result.get("metrics") or {}
    print_metrics(metrics, f"{cfg.name}: {len(metrics) and metrics.get('n_archs')} architectures vs "
                           f"{cfg.eval.ground_truth}; the super-net's own ranking first (sparse KdT threshold "
                           f"{cfg.eval.skt_threshold} pp, "
                           f"{time.time() - start:.0f} s)")
    emit({k: metrics.get(k) for _, k in _rows()})
    typer.echo(f"wrote {out / 'metrics.json'} and {out / 'scatter.png'}", err=True)
