"""``wsbench sweep|results|reproduce``: run factor studies over seeds on Ray, export their tables, reproduce papers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail

FORMATS = ("table", "markdown", "csv", "parquet", "json")


def _load(study: str, fidelity: str | None) -> Any:
    from wsbench.config import ConfigError
    from wsbench.experiments.spec import StudyError, load_study

    try:
        return load_study(study, fidelity=fidelity)
    except (StudyError, ConfigError) as exc:
        fail(str(exc))


def _shard(text: str | None) -> tuple[int, int] | None:
    from wsbench.experiments.expand import parse_shard
    from wsbench.experiments.spec import StudyError

    try:
        return parse_shard(text)
    except StudyError as exc:
        fail(str(exc))


def _expand(spec: Any) -> list[Any]:
    from wsbench.config import ConfigError
    from wsbench.experiments.expand import expand
    from wsbench.experiments.spec import StudyError

    try:
        return expand(spec)
    except (StudyError, ConfigError) as exc:
        fail(str(exc))


def _print_result(row: dict[str, Any]) -> None:
    extra = f"  {row['message']}" if row.get("status") != "finished" and row.get("message") else ""
    typer.echo(f"{row['id']}  {row['status']:<9} factor={row['factor']} value={row['value']} seed={row['seed']}"
               f"{extra}")


def _run(spec: Any, out: Path, dry_run: bool, max_parallel: int | None, address: str | None, retry_diverged: bool,
         data_dir: Path | None, num_cpus_per_run: int, ray_token_file: Path | None = None) -> None:
    from wsbench.experiments.expand import select_shard

    everything = _expand(spec)
    runs = select_shard(everything, spec.shard)
    if dry_run:
        for run in runs:
            typer.echo(run.line())
        piece = f" (shard {spec.shard[0]}/{spec.shard[1]} of {len(everything)})" if spec.shard else ""
        typer.echo(f"{len(runs)} runs{piece}", err=True)
        return
    from wsbench.experiments.runner import run_study

    try:
        summary = run_study(spec, out, max_parallel=max_parallel, address=address, retry_diverged=retry_diverged,
                            num_cpus_per_run=num_cpus_per_run, data_dir=data_dir, on_result=_print_result,
                            ray_token_file=ray_token_file)
    except ValueError as exc:
        fail(str(exc))
    typer.echo(" ".join(f"{k}={v}" for k, v in summary.items()))
    typer.echo(f"study directory: {out} (wsbench results {out})")


def _write_report(study_dir: Path) -> Path:
    """``study_dir/report.html`` (and ``report.md``), written by ``wsbench.report``."""
    from wsbench.report.build import build_report

    return Path(build_report(study_dir).html)


def _summary_frame(study_dir: Path, fmt: str) -> tuple[Any, str]:
    """The per-level summary (Yu's seed-averaged ranking beside it) and a footer naming no-effect levels."""
    from wsbench.experiments.aggregate import display_table, study_info, summarize
    from wsbench.experiments.findings import annotate

    try:
        summary = summarize(study_dir)
    except FileNotFoundError as exc:
        fail(str(exc))
    summary, flagged = annotate(summary, study_dir)
    footer = "".join(f"no effect — the switch changed nothing: {f}={v}{' (' + sp + ')' if sp else ''} gives "
                     f"proxy scores bit-identical to the base's\n" for sp, f, v in flagged)
    if fmt not in ("table", "markdown"):
        return summary, footer
    table = display_table(summary, study_info(study_dir).get("paper"))
    if "sparse_kendall_tau_avg" in summary:
        table.insert(table.columns.get_loc("s-KdT") + 1 if "s-KdT" in table else len(table.columns),
                     "s-KdT (avg proxy)", [f"{x:.3f}" if x == x else "-" for x in summary["sparse_kendall_tau_avg"]])
    table["note"] = ["no effect" if x else "" for x in summary["no_effect"]]
    return table, footer


def _findings_frame(study_dir: Path) -> tuple[Any, str]:
    import pandas as pd

    from wsbench.experiments.findings import FindingError, evaluate_findings, findings_frame

    try:
        verdicts = evaluate_findings(study_dir)
    except FileNotFoundError as exc:
        fail(str(exc))
    except FindingError as exc:
        fail(f"{study_dir}: {exc}")
    if not verdicts:
        fail(f"{study_dir}: the study lists no findings (paper.findings in its YAML)")
    counts = pd.Series([v.verdict for v in verdicts]).value_counts().to_dict()
    footer = ", ".join(f"{k}: {n}" for k, n in counts.items()) + "\n"
    return _Verdicts(verdicts, findings_frame(verdicts)), footer


class _Verdicts:
    """Verdicts with their display table (json prints the verdict objects themselves)."""

    def __init__(self, verdicts: list[Any], table: Any) -> None:
        self.verdicts, self.table = verdicts, table


def _emit(frame: Any, fmt: str, out: Path | None, footer: str) -> None:
    import json

    if isinstance(frame, _Verdicts):
        if fmt == "json":
            _write(json.dumps([v.as_dict() for v in frame.verdicts], indent=2) + "\n", out)
            return
        frame = frame.table
    if fmt == "parquet":
        from wsbench.atomic import atomic_path

        assert out is not None
        with atomic_path(out) as tmp:
            frame.to_parquet(tmp, index=False)
        typer.echo(f"wrote {out}")
        return
    if fmt == "table":
        text = frame.to_string(index=False) + "\n" + footer
    elif fmt == "markdown":
        from wsbench.stats.compare import to_markdown

        text = to_markdown(frame, index=False) + "\n" + ("\n" + footer if footer else "")
    elif fmt == "csv":
        text = frame.to_csv(index=False)
    else:
        text = frame.to_json(orient="records", indent=2) + "\n"
    _write(text, out)


def _write(text: str, out: Path | None) -> None:
    if out is None:
        typer.echo(text, nl=False)
        return
    from wsbench.atomic import write_text

    write_text(out, text)
    typer.echo(f"wrote {out}")


def _merge(args: list[str]) -> None:
    from wsbench.experiments.merge import MergeError, merge_studies

    if len(args) < 2:
        fail("usage: wsbench results merge OUT DIR [DIR ...] (the study directories of the shards)")
    try:
        counts = merge_studies(args[0], args[1:])
    except MergeError as exc:
        fail(str(exc))
    typer.echo(" ".join(f"{k}={v}" for k, v in sorted(counts.items())) or "nothing to merge")
    typer.echo(f"merged study directory: {args[0]} (wsbench results {args[0]})")


def register(app: typer.Typer) -> None:
    @app.command("sweep")
    def sweep(
        study: str = typer.Argument(..., help="study YAML (or a name in studies/), e.g. studies/yu2020-nb201.yaml"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print one line per run (id first) and stop"),
        max_parallel: int | None = typer.Option(None, "--max-parallel", help="runs in flight at most"),
        address: str | None = typer.Option(None, "--address", help="existing Ray cluster (default: local Ray)"),
        retry_diverged: bool = typer.Option(False, "--retry-diverged", help="start diverged runs again"),
        out: Path | None = typer.Option(None, "--out", help="study directory (default results/<study name>)"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        fidelity: str | None = typer.Option(None, "--fidelity", help="a fidelity level of the study, e.g. low"),
        num_cpus_per_run: int = typer.Option(1, "--cpus-per-run", help="CPU cores per run"),
        shard: str | None = typer.Option(None, "--shard", help="K/N: run only the K-th of N deterministic pieces "
                                         "(merge the pieces' directories with `wsbench results merge`)"),
        ray_token_file: Path | None = typer.Option(None, "--ray-token-file", help="token of a cluster started "
                                                   "with RAY_AUTH_MODE=token (from `ray get-auth-token`)"),
    ) -> None:
        """Run (or resume) every run of a study: only missing or unfinished runs are trained."""
        spec = _load(study, fidelity)
        spec.shard = _shard(shard)
        _run(spec, out or Path("results") / spec.name, dry_run, max_parallel, address, retry_diverged, data_dir,
             num_cpus_per_run, ray_token_file)

    @app.command("results")
    def results(
        study_dir: str = typer.Argument(..., help="a study directory written by `wsbench sweep` (or `merge`)"),
        more: list[str] = typer.Argument(None, help="with `merge`: OUT DIR... (the shards' study directories)"),
        fmt: str = typer.Option("table", "--format", help="table, markdown, csv, parquet or json"),
        out: Path | None = typer.Option(None, "--out", help="write to this file instead of the terminal"),
        findings: bool = typer.Option(False, "--findings", help="the paper's findings with our difference, its "
                                                                "95% CI, Welch p-value and a verdict"),
    ) -> None:
        """Mean ± std over seeds per factor value (with Yu's seed-averaged ranking and levels that changed nothing),
        or the findings' verdicts; `wsbench results merge OUT DIR...` merges the stores of several shards."""
        if study_dir == "merge":
            _merge(more or [])
            return
        if more:
            fail(f"unexpected arguments {' '.join(more)!r}; did you mean `wsbench results merge OUT DIR...`?")
        if fmt not in FORMATS:
            fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        if fmt == "parquet" and out is None:
            fail("--format parquet needs --out FILE")
        frame, footer = _findings_frame(Path(study_dir)) if findings else _summary_frame(Path(study_dir), fmt)
        _emit(frame, fmt, out, footer)
    @app.command("reproduce")
    def reproduce(
        name: str = typer.Argument(..., help="a study in studies/, e.g. yu2020-nb201 or pourchot-nb101"),
        fidelity: str = typer.Option("cpu", "--fidelity", help="cpu (a CPU-sized version) or paper"),
        out: Path = typer.Option(..., "--out", help="study directory: results.sqlite and report.html go here"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
        max_parallel: int | None = typer.Option(None, "--max-parallel", help="runs in flight at most"),
        address: str | None = typer.Option(None, "--address", help="existing Ray cluster (default: local Ray)"),
        dry_run: bool = typer.Option(False, "--dry-run", help="print the runs and stop"),
        ray_token_file: Path | None = typer.Option(None, "--ray-token-file", help="token of a cluster started "
                                                   "with RAY_AUTH_MODE=token (from `ray get-auth-token`)"),
    ) -> None:
        """Run a paper's study at a fidelity level, then write OUT/results.sqlite and OUT/report.html."""
        spec = _load(name, fidelity)
        _run(spec, out, dry_run, max_parallel, address, False, data_dir, 1, ray_token_file)
        if dry_run:
            return
        typer.echo(f"report: {_write_report(out)}")
