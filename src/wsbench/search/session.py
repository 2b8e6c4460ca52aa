"""Search sessions: random search / greedy local search on a ground-truth table or with a super-net as scorer.

``run_search`` (baseline setting) scores architectures with the table. ``run_ws_search`` (WS setting) scores them
with the proxy accuracy of the trained super-net of a run directory; the space, table and test metric come from
the run's config, and the WS runs are compared with the baseline searches at an equal budget (one-shot
paradigm). Both write ``OUT/curves.csv`` (``run, evaluations, time, regret``), ``OUT/summary.json`` and
``OUT/regret.png``; the WS setting also writes ``OUT/picks.csv`` (one-shot picks), ``OUT/baseline_curves.csv`` and
``OUT/comparison.csv``. ``wsbench search`` and ``wsbench.search(...)`` call them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

DEFAULT_BUDGET = 10_000


def run_search(space: str, algo: str, runs: int, budget: int, out: Path, subspace: str | None = None,
               seed: int = 0, valid_metric: str | None = None, test_metric: str | None = None,
               table: str | None = None, data_dir: Path | None = None) -> dict[str, Any]:
    """Run the searches, write ``curves.csv``, ``summary.json`` and ``regret.png`` into ``out``; return the summary."""
    from wsbench.atomic import write_json, write_text
    from wsbench.benchmarks.store import list_tables, load_table
    from wsbench.benchmarks.subspace import space_size
    from wsbench.plots.regret import plot_regret
    from wsbench.registry import SpaceRegistryError, space_info
    from wsbench.search import SearchError, TabularProblem, final_regrets, get_algorithm, mean_ci, run_many
    from wsbench.spaces import get_space

    try:
        d = space_info(space)  # the space's default tables and metrics live in its registration
    except SpaceRegistryError as exc:
        raise SearchError(str(exc)) from None
    if (table is None and not d.tables) or (valid_metric or d.valid_metric) is None \
            or (test_metric or d.test_metric) is None:
        raise SearchError(f"space {space!r} registers no default table and metrics; give --table, "
                          f"--valid-metric and --test-metric")
    if runs < 1 or budget < 1:
        raise SearchError(f"--runs and --budget must be at least 1 (got {runs} and {budget})")
    algos = [a.strip().lower() for a in algo.split(",") if a.strip()]
    if not algos:
        raise SearchError("give at least one search algorithm (rs, gs, re, or several: rs,gs,re)")
    for a in algos:
        get_algorithm(a)
    if table is None:
        have = list_tables(data_dir)
        table = next((t for t in d.tables if t in have), d.tables[0])
    gt = load_table(table, data_dir)
    valid = valid_metric or d.valid_metric
    test = test_metric or d.test_metric
    time_metric = d.time_metric if d.time_metric and gt.has(d.time_metric) else None
    problem = TabularProblem(get_space(space), gt, valid, test, time_metric=time_metric, subspace=subspace,
                             space_size=space_size(space, subspace))
    notes = [n for n in d.notes if valid_metric is None or "validation" not in n]
    if valid == test:
        notes.append(f"the search maximises the metric it is judged on ({valid}): the regret is optimistic")
    if d.time_metric and time_metric is None:
        notes.append(f"time is unknown (table {table!r} has no {d.time_metric!r} column): curves are per "
                     f"evaluation only")
    if cov := problem.coverage.note():
        notes.insert(0, cov)
    elif problem.coverage.space_size is None:
        notes.insert(0, f"table {table!r} knows only {len(problem.candidates):,} architectures of the {space} space: "
                        f"the search is restricted to them (GS finds few neighbours and mostly restarts)")

    t0 = time.perf_counter()
    by_algo = {a: run_many(problem, a, runs, budget, seed) for a in algos}
    elapsed = time.perf_counter() - t0

    def result(curves: Any) -> dict[str, Any]:
        final = final_regrets(curves)
        mean, lo, hi = mean_ci(final)
        return {"final_regret": {"mean": float(mean), "ci95": [float(lo), float(hi)]},
                "best_test_found": {"mean": float(problem.best_test - mean),
                                    "max": float(problem.best_test - final.min())},
                "evaluations_per_run": int(curves.groupby("run")["evaluations"].max().min())}

    first = by_algo[algos[0]]
    summary: dict[str, Any] = {
        **problem.describe(), "algo": ",".join(algos), "runs": runs, "budget": budget, "seed": seed,
        **result(first), "time_known": problem.time_known, "coverage": problem.coverage.fraction, "notes": notes,
        "elapsed_s": elapsed,
    }
    if len(algos) > 1:  # the headline keys are the first algorithm's; every one has its own entry
        summary["by_algo"] = {a: result(c) for a, c in by_algo.items()}
    out.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    table_out = first if len(algos) == 1 else pd.concat([c.assign(algo=a) for a, c in by_algo.items()],
                                                        ignore_index=True)
    write_text(out / "curves.csv", table_out.to_csv(index=False))
    write_json(out / "summary.json", summary)
    sub = f" {problem.subspace}" if problem.subspace else ""
    plot_regret({a.upper(): c for a, c in by_algo.items()}, out / "regret.png",
                title=f"{space}{sub} ({table}), {runs} runs")
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
    for a, r in (s.get("by_algo") or {}).items():
        lo, hi = r["final_regret"]["ci95"]
        lines.append(f"  {a.upper()}: final regret {r['final_regret']['mean']:.3f} [{lo:.3f}, {hi:.3f}] (95% CI)")
    lines += [f"note: {n}" for n in s["notes"]]
    lines.append(f"elapsed {s['elapsed_s']:.1f} s")
    return "\n".join(lines)


# -- the WS setting: a super-net scores --------------------------------------------------------------------
def run_ws_search(run_dir: Path, algo: str, runs: int, budget: int | None, out: Path,
                  budget_seconds: float | None = None, seed: int = 0, bn_mode: str | None = None, batch: int = 256,
                  baseline_runs: int = 100, valid_metric: str | None = None, data_dir: Path | None = None,
                  supernet_units: float = 1.0, scorer: Any = None) -> dict[str, Any]:
    """WS searches with the super-net of ``run_dir``, the matching baselines, the one-shot comparison.

    Writes ``curves.csv`` (WS runs), ``picks.csv``, ``baseline_curves.csv`` (column ``algo`` added),
    ``comparison.csv``, ``summary.json`` and ``regret.png`` into ``out``; returns the summary. ``scorer``
    reuses a ready ``SupernetScorer`` (its cache included) instead of reloading the run.
    """
    from wsbench.atomic import write_json, write_text
    from wsbench.benchmarks.subspace import space_size
    from wsbench.evaluate.study import parse_ground_truth
    from wsbench.plots.regret import plot_regret
    from wsbench.search import SearchError, TabularProblem, final_regrets, get_algorithm, mean_ci, run_many
    from wsbench.search.costs import standalone_times, supernet_training_seconds
    from wsbench.search.oneshot import compare_at_budget, one_shot_budget, with_picks, ws_search
    from wsbench.search.supernet import SupernetScorer

    if runs < 1 or baseline_runs < 1 or (budget is not None and budget < 1):
        raise SearchError(f"--runs, --baseline-runs and --budget must be at least 1 (got {runs}, {baseline_runs}, "
                          f"{budget})")
    if budget is None and budget_seconds is None:
        budget = DEFAULT_BUDGET
    get_algorithm(algo)
    algo = algo.lower()
    t0 = time.perf_counter()
    ws_scorer = scorer if scorer is not None else SupernetScorer(run_dir, data_dir, bn_mode, batch)
    cfg, space, table = ws_scorer.run.cfg, ws_scorer.space, ws_scorer.table
    _, test = parse_ground_truth(cfg.eval.ground_truth)
    subspace, size = cfg.space.subspace, space_size(space.name, cfg.space.subspace)
    problem = TabularProblem(space, table, "supernet_proxy", test, subspace=subspace, scorer=ws_scorer,
                             space_size=size)
    supernet = supernet_training_seconds(run_dir)
    times = standalone_times(table)
    calls0, evals0, spent0 = ws_scorer.model_calls, ws_scorer.evaluated, ws_scorer.spent_seconds
    ws = ws_search(problem, algo, runs, budget, seed, supernet.seconds, budget_seconds, times)
    ws_elapsed = time.perf_counter() - t0

    from wsbench.registry import space_info

    own_valid = space_info(space.name).valid_metric
    notes = list(ws.notes)
    valid = valid_metric or (own_valid if own_valid is not None and table.has(own_valid) else test)
    if valid == test:
        notes.append(f"the baseline maximises the metric it is judged on ({test}): its regret is optimistic")
    bs_budget = budget if budget is not None else int(ws.curves.groupby("run")["evaluations"].max().max())
    base_problem = TabularProblem(space, table, valid, test, time_metric=times.metric, subspace=subspace,
                                  space_size=size)
    baselines = {f"{a.upper()}-BS": run_many(base_problem, a, baseline_runs, bs_budget, seed) for a in
                 ("rs", "gs", *((algo,) if algo not in ("rs", "gs") else ()))}
    label = f"{algo.upper()}-WS"
    budget_obj = one_shot_budget(ws.picks, times.known, supernet_units)
    notes.append(budget_obj.note)
    notes.append(f"super-net training: {supernet.seconds:.4g} s measured ({supernet.source}, device "
                 f"{supernet.device or 'unknown'}), the offset of every WS run"
                 + ("; the table's training times come from the benchmark's own hardware" if times.known else ""))
    comparison = None
    if runs >= 2 and baseline_runs >= 2:
        comparison = compare_at_budget({label: ws.picks}, baselines, budget_obj)
    else:
        notes.append("the statistical comparison needs at least 2 WS and 2 baseline runs")

    final = final_regrets(ws.curves)
    mean, lo, hi = mean_ci(final)
    pick_mean, pick_lo, pick_hi = mean_ci(ws.picks["regret"].to_numpy())
    summary: dict[str, Any] = {
        **problem.describe(), "scorer": "supernet", "run_dir": str(run_dir), "algo": algo, "runs": runs,
        "budget": budget, "budget_seconds": budget_seconds, "seed": seed, "bn_mode": ws_scorer.bn_mode,
        "evaluations_per_run": int(ws.curves.groupby("run")["evaluations"].max().min()),
        "final_regret": {"mean": float(mean), "ci95": [float(lo), float(hi)]},
        "best_test_found": {"mean": float(problem.best_test - mean), "max": float(problem.best_test - final.min())},
        "costs": {"supernet_seconds": supernet.seconds, "supernet_source": supernet.source,
                  "device": supernet.device, "proxy_seconds_per_arch": ws_scorer.seconds_per_arch,
                  "proxy_evaluations": ws_scorer.evaluated - evals0, "model_calls": ws_scorer.model_calls - calls0,
                  "proxy_seconds_spent": ws_scorer.spent_seconds - spent0, "cache_size": ws_scorer.cache_size,
                  "standalone_time_metric": times.metric, "times_known": times.known},
        "one_shot": {"regret": {"mean": float(pick_mean), "ci95": [float(pick_lo), float(pick_hi)]},
                     "time": {"mean": float(ws.picks["time"].mean())}},
        "baseline": {"valid_metric": valid, "runs": baseline_runs, "budget": bs_budget,
                     "budget_axis": budget_obj.axis, "budget_value": budget_obj.value},
        "comparison": _records(comparison), "time_known": True, "coverage": problem.coverage.fraction,
        "notes": notes, "elapsed_s": time.perf_counter() - t0, "ws_elapsed_s": ws_elapsed,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "curves.csv", ws.curves.to_csv(index=False))
    write_text(out / "picks.csv", ws.picks.to_csv(index=False))
    base_long = [c.assign(algo=k) for k, c in baselines.items()]
    import pandas as pd

    write_text(out / "baseline_curves.csv", pd.concat(base_long, ignore_index=True).to_csv(index=False))
    if comparison is not None:
        write_text(out / "comparison.csv", comparison.to_csv())
    write_json(out / "summary.json", summary)
    matching = f"{algo.upper()}-BS"
    plot_regret({matching: baselines[matching], label: with_picks(ws.curves, ws.picks)}, out / "regret.png",
                title=f"{space.name} ({table.name}): {label} ({runs} runs) vs {matching} ({baseline_runs} runs)")
    return summary


def _records(frame: Any) -> list[dict[str, Any]] | None:
    """A comparison frame as JSON-safe records (NaN -> None)."""
    if frame is None:
        return None
    recs = frame.reset_index().to_dict(orient="records")
    return [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()} for r in recs]


def format_ws_summary(s: dict[str, Any]) -> str:
    """A short human-readable summary of ``run_ws_search``'s result."""
    c, o = s["costs"], s["one_shot"]
    lo, hi = s["final_regret"]["ci95"]
    lines = [
        f"{s['algo'].upper()}-WS on {s['space']}: {s['runs']} runs, budget {s['budget']} evaluations"
        + (f" / {s['budget_seconds']:g} s" if s["budget_seconds"] else "") + f" (seed {s['seed']}, {s['bn_mode']})",
        f"table {s['table']!r}: {s['candidates']:,} candidate cells, test {s['test_metric']}, "
        f"best {s['best_test']:.3f}",
        f"super-net training {c['supernet_seconds']:.3g} s ({c['supernet_source']}); proxy evaluation "
        f"{c['proxy_seconds_per_arch']:.3g} s per architecture, {c['proxy_evaluations']} evaluated in "
        f"{c['model_calls']} calls",
        f"final regret (proxy incumbent) {s['final_regret']['mean']:.3f} [{lo:.3f}, {hi:.3f}] (95% CI); one-shot "
        f"time {o['time']['mean']:.4g} s",
    ]
    for r in s["comparison"] or []:
        lines.append(f"{r['baseline']} - {r['method']}: {r['cell']} -> {r['verdict']}")
    lines += [f"note: {n}" for n in s["notes"]]
    lines.append(f"elapsed {s['elapsed_s']:.1f} s")
    return "\n".join(lines)
