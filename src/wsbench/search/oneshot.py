"""Weight-sharing searches, the one-shot paradigm, and their comparison with the baseline searches.

Following Sec. 4.3 and 5.2 of "To Share or Not To Share":

* ``ws_search`` runs RS or GS with the super-net as scorer (``SupernetScorer`` inside a ``TabularProblem``).
  Its curves have the columns of the tabular search (``run, evaluations, time, regret``); ``time`` is the
  super-net training time (paid once, the offset at which every WS run starts) plus the cumulative measured
  proxy-evaluation seconds, and ``regret`` is the table's test regret of the incumbent by proxy accuracy.
* One-shot paradigm: each WS run finally picks the best architecture by proxy among those it evaluated and
  "trains" it: a table lookup of its test accuracy, costing its stand-alone training time
  (``wsbench.search.costs.StandaloneTimes``). The run's one-shot time is the time spent before this first real
  evaluation: super-net training + proxy evaluations + training of the pick.
* ``compare_at_budget`` judges the picks against the baseline searches (table scorer) given the same budget:
  the mean one-shot time when the baseline's costs are known, else an equal number of stand-alone trainings
  (the pick plus ``supernet_units`` for the super-net, 1 by default: the paper approximates the super-net's
  training time by the average training time of one architecture). The table is that of Tables 4-5: for every
  baseline, ``baseline - WS`` of the regrets with pooled std, p-value, Cohen's d (``wsbench.stats``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wsbench.search.algorithms import Trace, get_algorithm
from wsbench.search.costs import StandaloneTimes
from wsbench.search.curves import CURVE_COLUMNS, run_generators
from wsbench.search.problem import SearchError, TabularProblem
from wsbench.search.supernet import SupernetScorer

PICK_COLUMNS = ("run", "row", "key", "proxy", "evaluations", "eval_seconds", "supernet_seconds", "train_seconds",
                "time", "regret")


@dataclass
class WSResult:
    """Curves (``CURVE_COLUMNS``) and one-shot picks (``PICK_COLUMNS``) of WS search runs."""

    curves: pd.DataFrame
    picks: pd.DataFrame
    offset: float
    notes: list[str] = field(default_factory=list)


def truncate(trace: Trace, n: int) -> Trace:
    """The first ``n`` evaluations of ``trace`` (incumbents only depend on the prefix)."""
    return Trace(trace.rows[:n], trace.valid[:n], trace.time[:n], trace.incumbent[:n], trace.best_test[:n])


def ws_search(problem: TabularProblem, algo: str, runs: int, budget: int | None, seed: int = 0,
              offset: float = 0.0, budget_seconds: float | None = None,
              times: StandaloneTimes | None = None) -> WSResult:
    """``runs`` seeded WS searches of ``budget`` evaluations and/or ``budget_seconds`` of proxy evaluation.

    ``problem.scorer`` must be a ``SupernetScorer``; ``offset`` is the super-net training time; ``times`` gives
    the stand-alone training time of the picks (default: unknown, counted 0).
    """
    scorer = problem.scorer
    if not isinstance(scorer, SupernetScorer):
        raise SearchError("ws_search needs a TabularProblem whose scorer is a SupernetScorer")
    if runs < 1:
        raise SearchError(f"runs must be at least 1, got {runs}")
    if budget is None and budget_seconds is None:
        raise SearchError("give a budget in evaluations (--budget) or in seconds (--budget-seconds)")
    evals = len(problem.candidates) if budget is None else int(budget)
    if evals < 1:
        raise SearchError(f"the search budget must be at least 1 evaluation, got {budget}")
    fn = get_algorithm(algo)
    times = times or StandaloneTimes(np.zeros(problem.n_rows), None)
    keys = problem.table.keys
    curves, picks = [], []
    for i, rng in enumerate(run_generators(seed, runs)):
        scorer.start_run(budget_seconds)
        tr = fn(problem, evals, rng)
        if budget_seconds is not None:
            tr = truncate(tr, scorer.run_evaluations)
        n = len(tr)
        if n == 0:
            raise SearchError(f"--budget-seconds {budget_seconds} is shorter than one proxy evaluation "
                              f"(~{scorer.seconds_per_arch:.3g} s per architecture here)")
        regret = tr.regret(problem)
        time_axis = offset + tr.time
        curves.append(pd.DataFrame({"run": i, "evaluations": np.arange(1, n + 1), "time": time_axis,
                                    "regret": regret}))
        pick = int(tr.incumbent[-1])
        train = float(times.seconds[pick])
        picks.append({"run": i, "row": pick, "key": str(keys[pick]), "proxy": float(np.max(tr.valid)),
                      "evaluations": n, "eval_seconds": float(tr.time[-1]), "supernet_seconds": float(offset),
                      "train_seconds": train, "time": float(time_axis[-1]) + train, "regret": float(regret[-1])})
    note = times.note(problem.table.name)
    notes = [note] if note else []
    return WSResult(pd.concat(curves, ignore_index=True)[list(CURVE_COLUMNS)],
                    pd.DataFrame(picks, columns=list(PICK_COLUMNS)), float(offset), notes)


def with_picks(curves: pd.DataFrame, picks: pd.DataFrame) -> pd.DataFrame:
    """WS curves extended by one point per run: the pick trained (its time; the regret stays the incumbent's)."""
    last = curves.groupby("run", sort=True)["evaluations"].max()
    extra = pd.DataFrame({"run": picks["run"].to_numpy(), "evaluations": last.loc[picks["run"]].to_numpy(),
                          "time": picks["time"].to_numpy(), "regret": picks["regret"].to_numpy()})
    both = pd.concat([curves, extra], ignore_index=True)
    return both.sort_values(["run", "time"], kind="stable", ignore_index=True)[list(CURVE_COLUMNS)]


@dataclass(frozen=True)
class Budget:
    """The budget at which WS picks meet the baseline: seconds (``axis="time"``) or stand-alone trainings."""

    axis: str
    value: float
    note: str


def one_shot_budget(picks: pd.DataFrame, baseline_time_known: bool, supernet_units: float = 1.0) -> Budget:
    """The equal budget of the comparison (see the module docstring)."""
    if baseline_time_known:
        t = float(picks["time"].mean())
        return Budget("time", t, f"equal time budget: the mean one-shot time of the WS runs, {t:.4g} s "
                                 f"(super-net training + proxy evaluation + training of the pick)")
    k = max(1, int(math.ceil(1 + supernet_units - 1e-9)))
    return Budget("evaluations", float(k),
                  f"the baseline has no training times: equal budget of {k} stand-alone trainings (the pick, plus "
                  f"{supernet_units:g} for the super-net as the paper approximates it; proxy evaluation counted 0)")


def regret_at(curves: pd.DataFrame, budget: Budget) -> tuple[np.ndarray, int]:
    """Regret of every run of ``curves`` once ``budget`` is spent, and how many runs had not evaluated anything.

    A run with no evaluation finished within the budget is credited with its first evaluation.
    """
    col = "time" if budget.axis == "time" else "evaluations"
    out, early = [], 0
    for _, g in curves.sort_values(["run", "evaluations"]).groupby("run", sort=True):
        x = g[col].to_numpy(dtype=np.float64)
        pos = int(np.searchsorted(x, budget.value, side="right")) - 1
        if pos < 0:
            early += 1
        out.append(float(g["regret"].to_numpy()[max(pos, 0)]))
    return np.asarray(out), early


def compare_at_budget(ws_picks: Mapping[str, pd.DataFrame], baselines: Mapping[str, pd.DataFrame],
                      budget: Budget, equal_var: bool = True) -> pd.DataFrame:
    """Tables 4-5: for every baseline and WS method, ``baseline - WS`` regret statistics at ``budget``.

    Student's t-test (``equal_var=True``) as in the paper. Returns one row per (baseline, method) with the
    columns of ``wsbench.stats.compare_regrets`` plus ``baseline``, ``cell`` (the paper's notation) and
    ``baseline_early`` (baseline runs that had not finished one evaluation within the budget).
    """
    from wsbench.stats import compare_regrets, format_cells

    frames = []
    for b_label, b_curves in baselines.items():
        b_reg, early = regret_at(b_curves, budget)
        groups: dict[str, Any] = {b_label: b_reg}
        groups.update({label: picks["regret"].to_numpy(dtype=np.float64) for label, picks in ws_picks.items()})
        table = compare_regrets(groups, b_label, equal_var=equal_var)
        table.insert(0, "baseline", b_label)
        table["cell"] = format_cells(table)
        table["baseline_early"] = early
        frames.append(table)
    return pd.concat(frames)
