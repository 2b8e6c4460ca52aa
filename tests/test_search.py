"""Tests of wsbench.search (RS, GS, regret curves, plot) and the ``search`` command."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
import typer
from scipy import stats
from typer.testing import CliRunner

from wsbench.benchmarks.store import save_table
from wsbench.benchmarks.subspace import SubspaceError
from wsbench.benchmarks.table import GroundTruth
from wsbench.search import (
    CURVE_COLUMNS,
    SearchError,
    TabularProblem,
    final_regrets,
    local_search,
    mean_ci,
    random_search,
    regularized_evolution,
    run_many,
    subspace_mask,
    summarise,
)
from wsbench.spaces.base import SearchSpace


# -- a tiny synthetic space: bit strings, neighbours = single bit flips -----------------------------------
class BitSpace(SearchSpace[tuple[int, ...]]):
    name: ClassVar[str] = "bits"

    def __init__(self, n: int):
        self.n = n

    def parse(self, text: str) -> tuple[int, ...]:
        return tuple(int(c) for c in text)

    def format(self, arch: tuple[int, ...]) -> str:
        return "".join(map(str, arch))

    key = format
    canonical_id = format

    def is_valid(self, arch: tuple[int, ...]) -> bool:
        return len(arch) == self.n

    def sample(self, rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
        return [tuple(int(b) for b in rng.integers(0, 2, self.n)) for _ in range(n)]

    sample_unique = sample

    def neighbours(self, arch: tuple[int, ...]) -> list[tuple[int, ...]]:
        return [arch[:i] + (1 - arch[i],) + arch[i + 1:] for i in range(self.n)]

    def num_params(self, arch: tuple[int, ...]) -> int:
        return sum(arch)


def bit_table(n: int, score, repeats: int = 1, extra=None) -> GroundTruth:
    """Table of all 2**n bit strings; ``score(bits, r)`` gives valid and test of repeat r."""
    archs = list(itertools.product((0, 1), repeat=n))
    cols: dict[str, object] = {"key": ["".join(map(str, a)) for a in archs]}
    for r in range(repeats):
        suffix = f"@{r}" if repeats > 1 else ""
        cols[f"valid{suffix}"] = np.array([score(a, r) for a in archs], dtype=float)
        cols[f"test{suffix}"] = np.array([score(a, r) for a in archs], dtype=float)
    cols.update(extra(archs) if extra else {})
    return GroundTruth.from_columns("bits", "bits", cols)


def two_peaks(a: tuple[int, ...], r: int = 0) -> float:
    """3-bit landscape: 000 is a local optimum (5), 111 the global one (10); weight 1 -> 1, weight 2 -> 2."""
    w = sum(a)
    return {0: 5.0, 1: 1.0, 2: 2.0, 3: 10.0}[w]


# -- NB201 from the shared CSVs ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_table(shared_data: Path) -> GroundTruth:
    a = pd.read_csv(shared_data / "nb201" / "nb201_200ep_test.csv")
    b = pd.read_csv(shared_data / "nb201" / "nb201_12ep_valtest.csv")
    df = pd.DataFrame({"key": a["ArchitectureString"], "index": np.arange(len(a), dtype=np.int64),
                       "cifar10_test_200ep": a["CIFAR10TestAccuracy200Epochs"].astype(float)})
    df = df.merge(pd.DataFrame({"key": b["cellstr"], "cifar10_val_12ep": b["cifar10-val"].astype(float)}), on="key")
    return GroundTruth.from_pandas("nb201", "nb201", df)


@pytest.fixture(scope="module")
def nb201_problem(nb201_table: GroundTruth) -> TabularProblem:
    from wsbench.spaces.nb201.space import NB201Space

    return TabularProblem(NB201Space(), nb201_table, "cifar10_val_12ep", "cifar10_test_200ep")


# -- regret ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("algo", [random_search, local_search, regularized_evolution])
def test_regret_nb201(nb201_problem: TabularProblem, nb201_table: GroundTruth, algo) -> None:
    # searching the test metric itself: the incumbent's test can only improve, so the regret never increases
    oracle = TabularProblem(nb201_problem.space, nb201_table, "cifar10_test_200ep", "cifar10_test_200ep")
    for seed in range(3):
        for problem in (nb201_problem, oracle):
            tr = algo(problem, 400, np.random.default_rng(seed))
            reg = tr.regret(problem)
            assert len(tr) == 400 and len(np.unique(tr.rows)) == 400  # distinct evaluations
            assert np.all(reg >= 0)
            # the incumbent is the cell with the best validation score so far
            np.testing.assert_allclose(problem.table.values(problem.valid_metric, tr.incumbent),
                                       np.maximum.accumulate(tr.valid))
        assert np.all(np.diff(reg) <= 0)
    # reference: the best 200-epoch CIFAR-10 test accuracy of NB201 is 94.37 (shared data README)
    assert nb201_problem.best_test == pytest.approx(94.37, abs=0.01)


def test_regularized_evolution_beats_random_search_on_nb201(nb201_problem: TabularProblem) -> None:
    # the field's standard result (NATS-Bench, Fig. 7): RE finds better cells than RS at the same budget
    finals = {algo: [algo(nb201_problem, 150, np.random.default_rng(s)).regret(nb201_problem)[-1] for s in range(30)]
              for algo in (random_search, regularized_evolution)}
    assert np.mean(finals[regularized_evolution]) < np.mean(finals[random_search])
    again = regularized_evolution(nb201_problem, 150, np.random.default_rng(3))
    assert np.array_equal(again.rows, regularized_evolution(nb201_problem, 150, np.random.default_rng(3)).rows)
    with pytest.raises(ValueError, match="sample <= population"):
        regularized_evolution(nb201_problem, 10, np.random.default_rng(0), population=3, sample=4)


def test_regularized_evolution_mutates_the_tournament_winner() -> None:
    # on a 4-bit space scored by the number of ones, every child after the initial population is a one-bit
    # neighbour of a population member, or a fresh cell when those are used up
    problem = TabularProblem(BitSpace(4), bit_table(4, lambda a, r: float(sum(a))), "valid", "test")
    tr = regularized_evolution(problem, 16, np.random.default_rng(0), population=2, sample=2)
    assert len(tr) == 16 and len(np.unique(tr.rows)) == 16  # the whole space, each cell once
    assert tr.regret(problem)[-1] == 0.0


def test_random_search_with_full_budget_reaches_zero_regret() -> None:
    table = bit_table(4, lambda a, r: float(int("".join(map(str, a)), 2) % 7))
    problem = TabularProblem(BitSpace(4), table, "valid", "test")
    for seed in range(5):
        tr = random_search(problem, 100, np.random.default_rng(seed))  # budget larger than the space
        reg = tr.regret(problem)
        assert len(tr) == 16 and sorted(tr.rows.tolist()) == list(range(16))
        assert reg[-1] == 0.0
        # the regret is exactly zero from the first evaluation of a best cell on
        first_best = int(np.flatnonzero(problem.test[tr.rows] == problem.test.max())[0])
        assert np.all(reg[first_best:] == 0) and np.all(reg[:first_best] > 0)


def test_local_search_restarts_at_local_optima() -> None:
    problem = TabularProblem(BitSpace(3), bit_table(3, two_peaks), "valid", "test")
    nbrs = {r: set(problem.neighbours(r).tolist()) for r in range(8)}
    assert nbrs[0] == {1, 2, 4}
    seen_restart = False
    for seed in range(40):
        tr = local_search(problem, 8, np.random.default_rng(seed))
        # every cell gets evaluated: climbing alone would stop in the 000 basin after at most 6 cells
        assert sorted(tr.rows.tolist()) == list(range(8))
        assert tr.regret(problem)[-1] == 0.0
        rows = tr.rows.tolist()
        if rows[0] == 0:  # started on the local optimum 000: its 3 neighbours, then a restart elsewhere
            assert set(rows[1:4]) == {1, 2, 4}
            assert rows[4] not in nbrs[0] | {0} and sum(int(c) for c in problem.table.keys[rows[4]]) >= 2
            seen_restart = True
    assert seen_restart


def test_local_search_climbs_to_the_best_neighbour() -> None:
    # score = number of ones: from any start the climb evaluates neighbours and moves uphill to 1111 alone
    problem = TabularProblem(BitSpace(4), bit_table(4, lambda a, r: float(sum(a))), "valid", "test")
    for seed in range(10):
        tr = local_search(problem, 16, np.random.default_rng(seed))
        row_1111 = int(problem.table.index("1111")[0])
        pos = tr.rows.tolist().index(row_1111)
        # before 1111 is found, no restart happened: every evaluation after the first is adjacent to an earlier one
        for i in range(1, pos + 1):
            assert any(tr.rows[i] in problem.neighbours(int(p)) for p in tr.rows[:i])
        assert tr.regret(problem)[pos] == 0.0


def test_noisy_validation_and_time_per_repeat() -> None:
    # repeat r of cell a: valid = 10*r + value, train_time@r = 100 + r; test is the mean over repeats
    def score(a, r):
        return 10.0 * r + sum(a)

    def extra(archs):
        return {f"train_time@{r}": np.full(len(archs), 100.0 + r) for r in range(3)}

    table = bit_table(3, score, repeats=3, extra=extra)
    problem = TabularProblem(BitSpace(3), table, "valid", "test", time_metric="train_time")
    tr = local_search(problem, 8, np.random.default_rng(0))
    cost = np.diff(np.concatenate(([0.0], tr.time)))
    repeat = np.round((tr.valid - table.values("valid", repeat=0, idx=tr.rows)) / 10).astype(int)
    assert set(repeat.tolist()) <= {0, 1, 2} and len(set(repeat.tolist())) > 1
    np.testing.assert_allclose(cost, 100.0 + repeat)
    np.testing.assert_allclose(problem.test, table.values("test"))
    assert problem.best_test == pytest.approx(13.0)  # 111: mean of 3, 13, 23
    # without noise the score is the repeat mean and the time the mean train time
    quiet = TabularProblem(BitSpace(3), table, "valid", "test", time_metric="train_time", noisy_valid=False)
    tr = random_search(quiet, 8, np.random.default_rng(0))
    np.testing.assert_allclose(tr.valid, table.values("valid", tr.rows))
    np.testing.assert_allclose(tr.time, 101.0 * np.arange(1, 9))


def test_seeding_is_reproducible(nb201_problem: TabularProblem) -> None:
    a = run_many(nb201_problem, "gs", runs=3, budget=300, seed=7)
    b = run_many(nb201_problem, "gs", runs=3, budget=300, seed=7)
    c = run_many(nb201_problem, "gs", runs=3, budget=300, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["regret"].equals(c["regret"])
    assert list(a.columns) == list(CURVE_COLUMNS) == ["run", "evaluations", "time", "regret"]
    assert a["run"].tolist() == sorted(a["run"].tolist()) and a["time"].isna().all()  # NB201: no time column


def test_nb201_neighbours_match_the_space(nb201_problem: TabularProblem, nb201_table: GroundTruth) -> None:
    space = nb201_problem.space
    for row in (0, 1, 6111, 15624):
        arch = space.parse(str(nb201_table.keys[row]))
        expected = np.unique(nb201_table.index(space.keys(space.neighbours(arch))))
        np.testing.assert_array_equal(nb201_problem.neighbours(row), expected)
        assert len(expected) == 24


def test_subspace_masks_and_errors() -> None:
    def extra(archs):
        return {"n_out_inputs": np.array([1 + sum(a) % 4 for a in archs]),
                "residual": np.array([bool(a[0]) for a in archs])}

    table = bit_table(3, lambda a, r: float(sum(a)), extra=extra)
    n_out = table.column("n_out_inputs")
    for i in range(1, 5):
        np.testing.assert_array_equal(subspace_mask(table, "nb101", f"A{i}"), n_out == i)
    np.testing.assert_array_equal(subspace_mask(table, "nb101", "with_residual"), table.column("residual"))
    np.testing.assert_array_equal(subspace_mask(table, "nb101", "without_residual"), ~table.column("residual"))
    assert subspace_mask(table, "nb101", "full").all()
    with pytest.raises(SubspaceError, match="A1, A2"):
        subspace_mask(table, "nb101", "A7")
    with pytest.raises(SubspaceError, match="nb201. has no sub-spaces"):
        subspace_mask(table, "nb201", "A1")

    class Nb101Bits(BitSpace):
        name: ClassVar[str] = "nb101"

    problem = TabularProblem(Nb101Bits(3), table, "valid", "test", subspace="a2")
    assert set(problem.candidates.tolist()) == set(np.flatnonzero(n_out == 2).tolist())
    assert problem.best_test == max(problem.test[n_out == 2])
    tr = local_search(problem, 100, np.random.default_rng(0))  # restricted to A2: never leaves it
    assert set(tr.rows.tolist()) == set(problem.candidates.tolist())
    with pytest.raises(SearchError, match="no metric"):
        TabularProblem(BitSpace(3), table, "nope", "test")
    with pytest.raises(ValueError, match="at least 1"):
        random_search(problem, 0, np.random.default_rng(0))


# -- NB101: vectorised neighbours, sub-spaces, time ---------------------------------------------------------
@pytest.fixture(scope="module")
def nb101_small() -> GroundTruth:
    """Every cell of NB101 with at most 5 vertices, with synthetic noisy metrics (3 repeats) and train times."""
    from wsbench.spaces.nb101.enumeration import enumerate_cells
    from wsbench.spaces.nb101.space import SHORT

    cells = enumerate_cells(5, 9, cache=False)
    archs = cells.archs()
    rng = np.random.default_rng(0)
    quality = rng.normal(90, 2, len(archs))
    cols: dict[str, object] = {
        "key": cells.keys.astype(object), "matrix": np.array([a.bits for a in archs], dtype=object),
        "ops": np.array([",".join(SHORT[o] for o in a.ops) for a in archs], dtype=object),
        "n_vertices": cells.n_vertices.astype(np.int64), "n_out_inputs": cells.n_out_inputs(),
        "residual": cells.residual(),
    }
    for r in range(3):
        cols[f"valid_acc@{r}"] = quality + rng.normal(0, 0.3, len(archs))
        cols[f"test_acc@{r}"] = quality + rng.normal(0, 0.3, len(archs))
        cols[f"train_time@{r}"] = rng.uniform(1000, 2000, len(archs))
    return GroundTruth.from_columns("nb101-sample", "nb101", cols)


def test_nb101_vectorised_neighbours_match_hashing(nb101_small: GroundTruth) -> None:
    from wsbench.search.neighbours import NeighbourIndex
    from wsbench.spaces.nb101.space import NB101Space

    space = NB101Space(max_vertices=5)
    mask = np.ones(len(nb101_small), dtype=bool)
    fast, slow = NeighbourIndex(space, nb101_small, mask), NeighbourIndex(space, nb101_small, mask)
    assert fast._fast is not None
    slow._fast = None
    rows = np.random.default_rng(1).choice(len(nb101_small), 120, replace=False)
    sizes = set()
    for r in rows:
        got, ref = fast(int(r)), slow(int(r))
        np.testing.assert_array_equal(got, ref)
        sizes.add(int(nb101_small.column("n_vertices")[r]))
    assert sizes >= {4, 5}  # cells that can and cannot grow a vertex were both checked


def test_nb101_subspace_search_with_time(nb101_small: GroundTruth) -> None:
    from wsbench.spaces.nb101.space import NB101Space

    problem = TabularProblem(NB101Space(max_vertices=5), nb101_small, "valid_acc", "test_acc",
                             time_metric="train_time", subspace="A2")
    in_a2 = nb101_small.column("n_out_inputs") == 2
    assert problem.best_test == pytest.approx(nb101_small.values("test_acc")[in_a2].max())
    for algo in (random_search, local_search):
        tr = algo(problem, 300, np.random.default_rng(0))
        assert in_a2[tr.rows].all() and len(np.unique(tr.rows)) == len(tr)
        cost = np.diff(np.concatenate(([0.0], tr.time)))
        times = nb101_small.repeats("train_time")[tr.rows]
        assert np.all(np.isclose(cost[:, None], times).any(axis=1))  # each query costs one repeat's time
        assert np.all(tr.regret(problem) >= 0)


# -- aggregation and plot ---------------------------------------------------------------------------------
def test_summarise_t_interval_and_grid() -> None:
    rng = np.random.default_rng(0)
    finals = rng.normal(1.0, 0.3, size=12)
    rows = []
    for run, f in enumerate(finals):
        for e in range(1, 101):
            rows.append((run, e, 2.0 * e, f + 1.0 / e))
    curves = pd.DataFrame(rows, columns=list(CURVE_COLUMNS))
    summ = summarise(curves, points=20)
    ev = summ[summ["axis"] == "evaluations"]
    assert ev["x"].iloc[0] == 1 and ev["x"].iloc[-1] == 100 and np.all(np.diff(ev["x"]) > 0)
    last = ev.iloc[-1]
    lo, hi = stats.t.interval(0.95, len(finals) - 1, loc=(finals + 0.01).mean(), scale=stats.sem(finals))
    assert last["mean"] == pytest.approx((finals + 0.01).mean())
    assert (last["lo"], last["hi"]) == pytest.approx((lo, hi))
    tm = summ[summ["axis"] == "time"]
    assert tm["x"].iloc[0] == pytest.approx(2.0) and tm["x"].iloc[-1] == pytest.approx(200.0)
    np.testing.assert_allclose(final_regrets(curves), finals + 0.01)
    mean, lo1, hi1 = mean_ci(np.array([3.0]))
    assert mean == 3.0 and np.isnan(lo1) and np.isnan(hi1)


def test_plot_regret_writes_png(tmp_path: Path) -> None:
    from wsbench.plots.regret import plot_regret

    problem = TabularProblem(BitSpace(4), bit_table(4, lambda a, r: float(sum(a))), "valid", "test")
    frames = {"RS": run_many(problem, "rs", 5, 16, 0), "GS": run_many(problem, "gs", 5, 16, 0)}
    path = plot_regret(frames, tmp_path / "regret.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# -- CLI ------------------------------------------------------------------------------------------------
@pytest.fixture()
def app() -> typer.Typer:
    import wsbench.spaces

    if not hasattr(wsbench.spaces, "get_space"):
        pytest.skip("the space registry wsbench.spaces.get_space is not available yet")
    from wsbench.commands import search

    app = typer.Typer()
    search.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer in multi-command mode (``app search ...``)
        pass

    return app


def test_cli_search_nb201_end_to_end(app: typer.Typer, data_dir: Path, nb201_table: GroundTruth,
                                     tmp_path: Path) -> None:
    save_table(nb201_table, data_dir)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["search", "--space", "nb201", "--algo", "gs", "--runs", "4", "--budget", "200",
                                   "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "cifar10_val_12ep" in res.output and "time unknown" in res.output and "12-epoch" in res.output
    curves = pd.read_csv(out / "curves.csv")
    assert list(curves.columns) == ["run", "evaluations", "time", "regret"] and len(curves) == 4 * 200
    summary = json.loads((out / "summary.json").read_text())
    assert summary["candidates"] == 15625 and summary["table"] == "nb201"
    assert summary["final_regret"]["mean"] == pytest.approx(final_regrets(curves).mean())
    assert (out / "regret.png").stat().st_size > 0


def test_cli_search_several_algorithms_in_one_plot(app: typer.Typer, data_dir: Path, nb201_table: GroundTruth,
                                                   tmp_path: Path) -> None:
    save_table(nb201_table, data_dir)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["search", "--space", "nb201", "--algo", "rs,re", "--runs", "5", "--budget", "100",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    curves = pd.read_csv(out / "curves.csv")
    assert sorted(curves["algo"].unique()) == ["re", "rs"] and len(curves) == 2 * 5 * 100
    summary = json.loads((out / "summary.json").read_text())
    for algo in ("rs", "re"):
        assert summary["by_algo"][algo]["final_regret"]["mean"] == pytest.approx(
            final_regrets(curves[curves["algo"] == algo].drop(columns="algo")).mean())
    assert "RE: final regret" in res.output
    as_json = CliRunner().invoke(app, ["search", "--space", "nb201", "--algo", "re", "--runs", "2", "--budget", "20",
                                       "--json", "--out", str(tmp_path / "j")])
    assert as_json.exit_code == 0, as_json.output
    assert json.loads(as_json.stdout)["algo"] == "re"  # stdout is exactly one JSON document
    bad = CliRunner().invoke(app, ["search", "--space", "nb201", "--algo", "rs,xx", "--out", str(out)])
    assert bad.exit_code == 2 and "unknown search algorithm 'xx'" in bad.output


def test_cli_search_nb101_sample_says_coverage(app: typer.Typer, data_dir: Path, nb101_small: GroundTruth,
                                                tmp_path: Path) -> None:
    save_table(nb101_small, data_dir)
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["search", "--space", "nb101", "--subspace", "A2", "--algo", "rs", "--runs", "3",
                                   "--budget", "50", "--out", str(out)])
    assert res.exit_code == 0, res.output
    n_a2 = int((nb101_small.column("n_out_inputs") == 2).sum())
    assert "restricted" in res.output and f"{n_a2:,} of the 201,441" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["table"] == "nb101-sample" and summary["subspace"] == "A2" and summary["time_known"]
    assert summary["coverage"] == pytest.approx(n_a2 / 201_441)
    curves = pd.read_csv(out / "curves.csv")
    assert np.all(np.diff(curves.groupby("run")["time"].apply(list).iloc[0]) > 0)


def test_cli_errors(app: typer.Typer, data_dir: Path, nb201_table: GroundTruth, tmp_path: Path) -> None:
    runner = CliRunner()
    out = str(tmp_path / "o")
    res = runner.invoke(app, ["search", "--space", "nb201", "--out", out])  # table not imported
    assert res.exit_code == 2 and "data import" in res.output
    save_table(nb201_table, data_dir)
    cases = [(["--scorer", "supernet"], "not available"), (["--algo", "xx"], "unknown search algorithm"),
             (["--subspace", "A1"], "has no sub-spaces"), (["--valid-metric", "nope"], "no metric"),
             (["--budget", "0"], "at least 1")]
    for extra, msg in cases:
        res = runner.invoke(app, ["search", "--space", "nb201", "--runs", "1", "--budget", "5", "--out", out, *extra])
        assert res.exit_code == 2 and msg in res.output, (extra, res.output)
