"""Search with the super-net (WS setting): scorer, cache, budgets, cost accounting, one-shot comparison, CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")
torch = pytest.importorskip("torch")
typer = pytest.importorskip("typer")

from typer.testing import CliRunner  # noqa: E402

from wsbench.benchmarks.table import GroundTruth  # noqa: E402
from wsbench.search import TabularProblem, get_algorithm, run_many  # noqa: E402
from wsbench.search.costs import (  # noqa: E402
    StandaloneTimes,
    estimate_supernet_seconds,
    standalone_times,
    supernet_training_seconds,
)
from wsbench.search.curves import run_generators  # noqa: E402
from wsbench.search.oneshot import (  # noqa: E402
    Budget,
    compare_at_budget,
    one_shot_budget,
    regret_at,
    with_picks,
    ws_search,
)
from wsbench.search.problem import SearchError  # noqa: E402
from wsbench.search.supernet import SupernetScorer, load_run  # noqa: E402

TEST = "cifar10_test_200ep"


@pytest.fixture(scope="module")
def ws_run(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> tuple[Path, Path]:
    """A tiny trained NB201 super-net run (digits, 1 epoch) and a data directory holding the real NB201 table."""
    from wsbench.benchmarks.importers import import_path
    from wsbench.config import RunCfg
    from wsbench.train import train_supernet

    root = tmp_path_factory.mktemp("ws")
    data = root / "data"
    data.mkdir()
    import_path(shared_data / "nb201" / "nb201_200ep_test.csv", data)
    cfg = RunCfg.model_validate({
        "mapping": {"channels": 4, "cells_per_stage": 1},
        "protocol": {"epochs": 1, "batch_size": 128, "lr": 0.05, "device": "cpu", "seed": 1},
        "data": {"dataset": "digits", "resolution": 8},
        "eval": {"final": False, "bn_batches": 1, "bn_batch_size": 64, "eval_batches": 2, "eval_batch_size": 48,
                 "ground_truth": f"nb201:{TEST}"},
    })
    torch.set_num_threads(1)
    train_supernet(cfg, root / "run", data_dir=data, quiet=True)
    return root / "run", data


@pytest.fixture(scope="module")
def scorer(ws_run: tuple[Path, Path]) -> SupernetScorer:
    run, data = ws_run
    return SupernetScorer(run, data_dir=data, batch=64)


def _problem(scorer: SupernetScorer) -> TabularProblem:
    return TabularProblem(scorer.space, scorer.table, "proxy", TEST, scorer=scorer)


def test_scores_equal_the_study_evaluation_and_cache(ws_run: tuple[Path, Path], scorer: SupernetScorer,
                                                     tmp_path: Path) -> None:
    from wsbench.evaluate.study import evaluate_supernet

    run, data = ws_run
    rows = np.arange(3, 15625, 997, dtype=np.int64)  # 16 rows spread over the table
    calls, spent, evaluated = scorer.model_calls, scorer.spent_seconds, scorer.evaluated
    v1, c1 = scorer.score(rows, np.random.default_rng(0))
    assert scorer.evaluated - evaluated == len(rows) and scorer.model_calls == calls + 1  # one batched call
    assert np.all((v1 >= 0) & (v1 <= 100)) and np.all(c1 > 0)
    # the same architectures through the study's own path (its own reload, its own fixed batches)
    loaded = load_run(run, data)
    archs = [scorer.space.parse(str(k)) for k in loaded.comps.table.keys[rows]]
    evaluate_supernet(loaded.model, loaded.cfg, loaded.comps.splits, loaded.comps.table, archs, "cpu",
                      out_dir=tmp_path, tag="check")
    frame = pd.read_parquet(tmp_path / "evals" / "check.parquet")
    assert list(frame["key"]) == list(scorer.table.keys[rows])
    np.testing.assert_allclose(v1, frame["proxy_acc"].to_numpy(), atol=1e-9)
    # second query: no model call, no wall time, same scores, charged the recorded seconds
    calls, spent = scorer.model_calls, scorer.spent_seconds
    v2, c2 = scorer.score(rows[::-1], np.random.default_rng(1))
    assert scorer.model_calls == calls and scorer.spent_seconds == spent
    np.testing.assert_array_equal(v2, v1[::-1])
    np.testing.assert_array_equal(c2, c1[::-1])
    key = str(scorer.table.keys[rows[0]])
    assert scorer.cached(key) == (v1[0], c1[0])
    # a query mixing cached and new rows evaluates only the new ones, in chunks of ``batch``
    new = np.arange(100, 100 + 66, dtype=np.int64)
    calls, evaluated = scorer.model_calls, scorer.evaluated
    scorer.score(np.concatenate([rows[:4], new]), np.random.default_rng(2))
    assert scorer.evaluated - evaluated == 66 and scorer.model_calls - calls == 2  # 64 + 2


def test_cached_rows_can_be_charged_zero(ws_run: tuple[Path, Path], scorer: SupernetScorer) -> None:
    free = SupernetScorer(ws_run[0], loaded=scorer.run, charge_cached=False)
    rows = np.array([5, 6, 7], dtype=np.int64)
    _, c1 = free.score(rows, np.random.default_rng(0))
    _, c2 = free.score(np.array([7, 8], dtype=np.int64), np.random.default_rng(0))
    assert np.all(c1 > 0) and c2[0] == 0.0 and c2[1] > 0


def test_seconds_budget_cuts_a_run(scorer: SupernetScorer) -> None:
    rows = np.arange(200, 210, dtype=np.int64)
    _, cost = scorer.score(rows, np.random.default_rng(0))  # fills the cache; charged costs are now fixed
    budget = float(np.cumsum(cost)[3] + cost[4] / 2)  # room for 4 evaluations and half of the fifth
    scorer.start_run(budget)
    v, c = scorer.score(rows, np.random.default_rng(0))
    assert np.all(np.isfinite(v[:4])) and np.all(v[4:] == -np.inf) and np.all(c[4:] == 0)
    assert scorer.run_evaluations == 4 and scorer.run_exhausted
    calls = scorer.model_calls
    v, _ = scorer.score(np.arange(900, 910, dtype=np.int64), np.random.default_rng(0))
    assert np.all(v == -np.inf) and scorer.model_calls == calls  # an exhausted run evaluates nothing
    scorer.start_run(None)
    with pytest.raises(SearchError, match="positive"):
        scorer.start_run(0.0)


def test_local_search_with_the_supernet_scorer(scorer: SupernetScorer) -> None:
    problem = _problem(scorer)
    curves = run_many(problem, "gs", runs=2, budget=40, seed=5)
    assert list(curves.columns) == ["run", "evaluations", "time", "regret"] and len(curves) == 80
    # replay run 0 to check the incumbent: best proxy so far, judged by the table's test accuracy
    tr = get_algorithm("gs")(problem, 40, run_generators(5, 2)[0])
    proxy = scorer.proxy(tr.rows)
    np.testing.assert_array_equal(proxy, tr.valid)
    for i in (0, 9, 39):
        best = tr.rows[int(np.argmax(proxy[: i + 1]))]
        assert problem.test[tr.incumbent[i]] == problem.test[best]
    r0 = curves[curves["run"] == 0]["regret"].to_numpy()
    np.testing.assert_allclose(r0, problem.best_test - problem.test[tr.incumbent])
    # the neighbourhood of a step is evaluated in one call: 24 NB201 neighbours (minus known ones) per call
    assert len(problem.neighbours(int(tr.rows[0]))) == 24


def test_ws_search_costs_add_up(ws_run: tuple[Path, Path], scorer: SupernetScorer) -> None:
    run, _ = ws_run
    sn = supernet_training_seconds(run)
    status = json.loads((run / "status.json").read_text())
    assert sn.source == "status.json" and sn.seconds == status["elapsed"] > 0
    problem = _problem(scorer)
    times = StandaloneTimes(np.linspace(10.0, 20.0, problem.n_rows), "fake_time")
    res = ws_search(problem, "rs", runs=3, budget=25, seed=2, offset=sn.seconds, times=times)
    assert list(res.curves.columns) == ["run", "evaluations", "time", "regret"] and len(res.curves) == 75
    for i, rng in enumerate(run_generators(2, 3)):
        tr = get_algorithm("rs")(problem, 25, rng)  # the same draws; all cached now
        _, cost = scorer.score(tr.rows, rng)
        got = res.curves[res.curves["run"] == i]
        np.testing.assert_allclose(got["time"].to_numpy(), sn.seconds + np.cumsum(cost))
        pick = res.picks.iloc[i]
        best = int(tr.rows[np.argmax(scorer.proxy(tr.rows))])
        assert pick["row"] == best and pick["key"] == str(scorer.table.keys[best])
        assert pick["regret"] == pytest.approx(problem.best_test - problem.test[best])
        assert pick["time"] == pytest.approx(sn.seconds + cost.sum() + times.seconds[best])
        assert pick["eval_seconds"] == pytest.approx(cost.sum()) and pick["train_seconds"] == times.seconds[best]
    ext = with_picks(res.curves, res.picks)
    assert len(ext) == 78 and ext.groupby("run")["time"].max().to_numpy() == pytest.approx(res.picks["time"])
    # a seconds budget: every run stops within it
    per = scorer.seconds_per_arch
    res = ws_search(problem, "gs", runs=2, budget=None, seed=3, offset=1.0, budget_seconds=12 * per)
    assert np.all(res.picks["eval_seconds"] <= 12 * per + 1e-12) and np.all(res.picks["evaluations"] >= 1)
    assert res.notes and "no stand-alone training times" in res.notes[0]
    with pytest.raises(SearchError, match="budget"):
        ws_search(problem, "rs", runs=1, budget=None)


def test_cost_sources(ws_run: tuple[Path, Path], tmp_path: Path) -> None:
    run, _ = ws_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    status = json.loads((copy / "status.json").read_text())
    del status["elapsed"]
    (copy / "status.json").write_text(json.dumps(status))
    last = [json.loads(x) for x in (copy / "metrics.jsonl").read_text().splitlines()][-1]
    got = supernet_training_seconds(copy)
    assert got.source == "metrics.jsonl" and got.seconds == last["elapsed"]
    with pytest.raises(SearchError, match="no training time"):
        supernet_training_seconds(tmp_path / "empty")
    assert estimate_supernet_seconds(np.array([0.2, 0.4, 0.9]), epochs=2, steps_per_epoch=10) == pytest.approx(10.0)
    t = GroundTruth.from_columns("t", "nb101", {"key": np.array(["a", "b"], dtype=object),
                                               "train_time@0": np.array([1.0, 3.0]),
                                               "train_time@1": np.array([3.0, 5.0])})
    st = standalone_times(t)
    assert st.known and st.note("t") is None and list(st.seconds) == [2.0, 4.0]
    none = standalone_times(GroundTruth.from_columns("u", "nb201", {"key": np.array(["a"], dtype=object),
                                                                    TEST: np.array([90.0])}))
    assert not none.known and list(none.seconds) == [0.0] and "0 s" in (none.note("u") or "")


def test_equal_budget_comparison() -> None:
    base = pd.DataFrame({"run": [0, 0, 0, 1, 1, 1], "evaluations": [1, 2, 3] * 2,
                         "time": [10.0, 20.0, 30.0, 15.0, 25.0, 35.0], "regret": [5.0, 3.0, 1.0, 6.0, 4.0, 2.0]})
    reg, early = regret_at(base, Budget("time", 22.0, ""))
    assert list(reg) == [3.0, 6.0] and early == 0
    reg, early = regret_at(base, Budget("time", 12.0, ""))
    assert list(reg) == [5.0, 6.0] and early == 1  # run 1 has not finished its first training: first value
    reg, _ = regret_at(base, Budget("evaluations", 2, ""))
    assert list(reg) == [3.0, 4.0]
    picks = pd.DataFrame({"time": [20.0, 24.0], "regret": [1.0, 2.0]})
    assert one_shot_budget(picks, True).value == 22.0 and one_shot_budget(picks, True).axis == "time"
    assert one_shot_budget(picks, False).value == 2 and one_shot_budget(picks, False, 2.5).value == 4
    table = compare_at_budget({"GS-WS": picks}, {"RS-BS": base, "GS-BS": base}, Budget("time", 22.0, ""))
    assert list(table["baseline"]) == ["RS-BS", "GS-BS"] and list(table.index) == ["GS-WS", "GS-WS"]
    row = table.iloc[0]
    assert row["diff"] == pytest.approx(np.mean([3.0, 6.0]) - 1.5) and row["d"] > 0 and "±" in row["cell"]


def test_cli_supernet_end_to_end(ws_run: tuple[Path, Path], tmp_path: Path) -> None:
    from wsbench.commands import search

    app = typer.Typer()
    search.register(app)

    @app.command("noop")
    def noop() -> None:  # keeps typer in multi-command mode
        pass

    run, data = ws_run
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["search", "--scorer", "supernet", str(run), "--algo", "gs", "--runs", "3",
                                   "--budget", "30", "--baseline-runs", "4", "--out", str(out),
                                   "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert "GS-WS" in res.output and "RS-BS - GS-WS" in res.output and "GS-BS - GS-WS" in res.output
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["run", "evaluations", "time", "regret"] and len(curves) == 90
    summary = json.loads((out / "summary.json").read_text())
    offset = summary["costs"]["supernet_seconds"]
    assert offset == json.loads((run / "status.json").read_text())["elapsed"]
    assert curves["time"].min() > offset and summary["scorer"] == "supernet" and summary["test_metric"] == TEST
    assert summary["costs"]["model_calls"] < summary["costs"]["proxy_evaluations"] <= 90  # batched and cached
    assert not summary["costs"]["times_known"] and summary["baseline"]["budget_axis"] == "evaluations"
    assert [r["baseline"] for r in summary["comparison"]] == ["RS-BS", "GS-BS"]
    picks = pd.read_csv(out / "picks.csv")
    assert len(picks) == 3 and np.allclose(picks["time"], curves.groupby("run")["time"].max())  # 0 s training
    base = pd.read_csv(out / "baseline_curves.csv")
    assert set(base["algo"]) == {"RS-BS", "GS-BS"} and base.groupby("algo")["run"].nunique().min() == 4
    assert (out / "comparison.csv").exists() and (out / "regret.png").stat().st_size > 0
    # regularized evolution with the super-net as scorer, judged against RE on the table as well
    re_out = tmp_path / "re"
    res = CliRunner().invoke(app, ["search", "--scorer", "supernet", str(run), "--algo", "re", "--runs", "2",
                                   "--budget", "20", "--baseline-runs", "2", "--out", str(re_out),
                                   "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert "RE-WS" in res.output and "RE-BS - RE-WS" in res.output
    assert set(pd.read_csv(re_out / "baseline_curves.csv")["algo"]) == {"RS-BS", "GS-BS", "RE-BS"}
    # errors: no run directory, not a run directory
    res = CliRunner().invoke(app, ["search", "--scorer", "supernet", "--out", str(out)])
    assert res.exit_code == 2 and "not available without a run directory" in res.output
    res = CliRunner().invoke(app, ["search", "--scorer", "supernet", str(tmp_path), "--out", str(out),
                                   "--data-dir", str(data)])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_eval_command_rebuilds_the_run_and_writes_the_contract(ws_run: tuple[Path, Path]) -> None:
    """`wsbench eval RUN_DIR` reloads config + checkpoint and writes metrics.json and scatter.png."""
    import json
    import shutil

    import typer
    from typer.testing import CliRunner

    from wsbench.commands import evaluate_cmd

    run, data = ws_run
    copy = run.parent / "run-eval"
    shutil.copytree(run, copy)
    app = typer.Typer()
    evaluate_cmd.register(app)
    app.command("noop")(lambda: None)  # a second command keeps `eval` a named sub-command
    res = CliRunner().invoke(app, ["eval", str(copy), "--bn-mode", "no-ft", "--n-archs", "12",
                                   "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((copy / "metrics.json").read_text())
    assert {"supernet_accuracy", "kendall_tau", "sparse_kendall_tau", "spearman", "p_beat_random",
            "final_model_accuracy", "n_archs", "bn_mode", "ground_truth", "params_spearman",
            "params_sparse_kendall_tau"} <= set(metrics)
    assert metrics["n_archs"] == 12 and metrics["bn_mode"] == "no-ft"
    assert metrics["bn_mode_effective"] == "batch"  # the run did not track BN statistics
    assert (copy / "scatter.png").stat().st_size > 0
    bad = CliRunner().invoke(app, ["eval", str(run.parent / "missing"), "--data-dir", str(data)])
    assert bad.exit_code == 2 and "not a run directory" in bad.output
    # a tagged variant (other eval settings) leaves metrics.json alone and is logged under its tag
    before = (copy / "metrics.json").read_text()
    res = CliRunner().invoke(app, ["eval", str(copy), "--n-archs", "12", "--set", "eval.proxy=neg_loss",
                                   "--set", "eval.eval_batches=1", "--tag", "loss1", "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert (copy / "metrics.json").read_text() == before and (copy / "evals" / "loss1.parquet").exists()
    logged = [json.loads(x) for x in (copy / "metrics.jsonl").read_text().splitlines()]
    assert logged[-1]["tag"] == "loss1" and logged[-1]["proxy"] == "neg_loss"
    bad = CliRunner().invoke(app, ["eval", str(copy), "--set", "protocol.lr=1", "--data-dir", str(data)])
    assert bad.exit_code == 2 and "only eval" in bad.output
