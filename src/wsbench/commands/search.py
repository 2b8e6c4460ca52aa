"""``wsbench search``: random search / greedy local search on a ground-truth table, with regret curves.

Writes ``OUT/curves.csv`` (``run, evaluations, time, regret``), ``OUT/summary.json`` and ``OUT/regret.png``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from wsbench.commands.common import fail


@dataclass(frozen=True)
class SpaceDefaults:
    """Default table and metrics of one space, with the caveats the summary must state."""

    tables: tuple[str, ...]
    valid: str
    test: str
    time: str | None
    notes: tuple[str, ...] = ()


DEFAULTS: dict[str, SpaceDefaults] = {
    "nb101": SpaceDefaults(("nb101", "nb101-sample"), "valid_acc", "test_acc", "train_time"),
    "nb201": SpaceDefaults(
        ("nb201",), "cifar10_val_12ep", "cifar10_test_200ep", None,
        ("the NB201 table has no 200-epoch validation accuracy: the search maximises the 12-epoch validation "
         "accuracy (cifar10_val_12ep), the realistic cheap signal, and is judged on the 200-epoch test accuracy",
         "time is unknown (the table has no training times): curves are per evaluation only")),
    "darts": SpaceDefaults(
        ("darts-nb301",), "valid_acc", "valid_acc", None,
        ("time is unknown (the table has no training times): curves are per evaluation only",)),
}


def run_search(space: str, algo: str, runs: int, budget: int, out: Path, subspace: str | None = None,
               seed: int = 0, valid_metric: str | None = None, test_metric: str | None = None,
               table: str | None = None, data_dir: Path | None = None) -> dict[str, Any]:
    """Run the searches, write ``curves.csv``, ``summary.json`` and ``regret.png`` into ``out``; return the summary."""
    from wsbench.atomic import write_json, write_text
    from wsbench.benchmarks.store import list_tables, load_table
    from wsbench.search import SearchError, TabularProblem, final_regrets, get_algorithm, mean_ci, run_many
    from wsbench.search.plot import plot_regret
    from wsbench.search.problem import space_size
    from wsbench.spaces import get_space

    if space not in DEFAULTS:
        raise SearchError(f"unknown space {space!r}; choose one of {sorted(DEFAULTS)}")
    if runs < 1 or budget < 1:
        raise SearchError(f"--runs and --budget must be at least 1 (got {runs} and {budget})")
    get_algorithm(algo)
    d = DEFAULTS[space]
    if table is None:
        have = list_tables(data_dir)
        table = next((t for t in d.tables if t in have), d.tables[-1])
    gt = load_table(table, data_dir)
    valid = valid_metric or d.valid
    test = test_metric or d.test
    time_metric = d.time if d.time and gt.has(d.time) else None
    problem = TabularProblem(get_space(space), gt, valid, test, time_metric=time_metric, subspace=subspace,
                             space_size=space_size(space, subspace))
    notes = [n for n in d.notes if valid_metric is None or "validation" not in n]
    if valid == test:
        notes.append(f"the search maximises the metric it is judged on ({valid}): the regret is optimistic")
    if d.time and time_metric is None:
        notes.append(f"time is unknown (table {table!r} has no {d.time!r} column): curves are per evaluation only")
    if cov := problem.coverage.note():
        notes.insert(0, cov)
    elif problem.coverage.space_size is None:
        notes.insert(0, f"table {table!r} knows only {len(problem.candidates):,} architectures of the {space} space: "
                        f"the search is restricted to them (GS finds few neighbours and mostly restarts)")

    t0 = time.perf_counter()
    curves = run_many(problem, algo, runs, budget, seed)
    elapsed = time.perf_counter() - t0
    final = final_regrets(curves)
    mean, lo, hi = mean_ci(final)
    summary: dict[str, Any] = {
        **problem.describe(), "algo": algo.lower(), "runs": runs, "budget": budget, "seed": seed,
        "evaluations_per_run": int(curves.groupby("run")["evaluations"].max().min()),
        "final_regret": {"mean": float(mean), "ci95": [float(lo), float(hi)]},
        "best_test_found": {"mean": float(problem.best_test - mean), "max": float(problem.best_test - final.min())},
        "time_known": problem.time_known, "coverage": problem.coverage.fraction, "notes": notes,
        "elapsed_s": elapsed,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "curves.csv", curves.to_csv(index=False))
    write_json(out / "summary.json", summary)
    sub = f" {problem.subspace}" if problem.subspace else ""
    plot_regret({algo.upper(): curves}, out / "regret.png", title=f"{space}{sub} ({table}), {runs} runs")
    return summary


def format_summary(s: dict[str, Any]) -> str:
    """A short human-readable summary of ``run_search``'s result."""
    sub = f" {s['subspace']}" if s["subspace"] else ""
    lo, hi = s["final_regret"]["ci95"]
    half = (hi - lo) / 2 if hi == hi else float("nan")
    lines = [
        f"{s['algo'].upper()} on {s['space']}{sub}: {s['runs']} runs x {s['budget']} evaluations (seed {s['seed']})",
        f"table {s['table']!r}: {s['candidates']:,} candidate cells, best {s['test_metric']} among them "
        f"{s['best_test']:.3f}",
        f"validation {s['valid_metric']}, test {s['test_metric']}, time {s['time_metric'] or 'unknown'}",
        f"final regret {s['final_regret']['mean']:.3f} ± {half:.3f} (95% CI); best test found "
        f"{s['best_test_found']['mean']:.3f} on average, {s['best_test_found']['max']:.3f} at best",
    ]
    lines += [f"note: {n}" for n in s["notes"]]
    lines.append(f"elapsed {s['elapsed_s']:.1f} s")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add the ``search`` command to ``app``."""

    @app.command("search")
    def search(
        space: str = typer.Option(..., "--space", help="nb101, nb201 or darts"),
        algo: str = typer.Option("gs", "--algo", help="rs (random search) or gs (greedy local search)"),
        runs: int = typer.Option(100, "--runs", help="independent seeded runs"),
        budget: int = typer.Option(10_000, "--budget", help="evaluations per run"),
        out: Path = typer.Option(..., "--out", help="output directory (curves.csv, summary.json, regret.png)"),
        subspace: str | None = typer.Option(None, "--subspace", help="NB101: A1..A4, full, with_residual, "
                                                                    "without_residual"),
        seed: int = typer.Option(0, "--seed", help="master seed of the runs"),
        valid_metric: str | None = typer.Option(None, "--valid-metric", help="metric the search maximises"),
        test_metric: str | None = typer.Option(None, "--test-metric", help="metric of the regret"),
        table: str | None = typer.Option(None, "--table", help="ground-truth table name (default per space)"),
        scorer: str = typer.Option("table", "--scorer", help="what scores architectures: table"),
        data_dir: Path | None = typer.Option(None, "--data-dir", help="data directory (default $WSBENCH_DATA_DIR)"),
    ) -> None:
        """Search the ground-truth table with RS or GS; report the test regret over runs."""
        if scorer != "table":
            fail(f"scorer {scorer!r} is not available: the supernet scorer is not available yet; use --scorer table")
        try:
            summary = run_search(space.lower(), algo, runs, budget, out, subspace=subspace, seed=seed,
                                 valid_metric=valid_metric, test_metric=test_metric, table=table,
                                 data_dir=data_dir)
        except (ValueError, KeyError, ImportError) as exc:
            fail(str(exc))
        typer.echo(format_summary(summary))
        typer.echo(f"wrote {out}/curves.csv, summary.json, regret.png")
