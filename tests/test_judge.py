"""The judge: any estimator's scores against a ground-truth table, from a file or from Python."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import wsbench
from wsbench.benchmarks.store import save_table
from wsbench.benchmarks.table import GroundTruth
from wsbench.cli import app
from wsbench.evaluate.judge import JudgeError, judge
from wsbench.evaluate.metrics import sparse_kendall_tau, spearman
from wsbench.spaces import get_space

N = 300


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GroundTruth]:
    """An NB201-keyed table of 300 cells with a made-up accuracy (two repeats) and official indices."""
    space = get_space("nb201")
    archs = space.enumerate()[:N]
    rng = np.random.default_rng(0)
    acc = rng.uniform(60, 94, N)
    table = GroundTruth.from_columns("toy201", "nb201", {
        "key": np.asarray([space.key(a) for a in archs], dtype=object), "index": np.arange(N) + 1000,
        "acc@0": acc - 1.0, "acc@1": acc + 1.0})
    data = tmp_path_factory.mktemp("data")
    save_table(table, data)
    return data, table


def _scores(table: GroundTruth, noise: float, seed: int, n: int = 200) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    rows = np.arange(n)
    return [str(k) for k in table.keys[rows]], table.values("acc", rows) + rng.normal(0, noise, n)


def test_python_judge_matches_the_metrics_and_names_the_population(toy):
    _, table = toy
    archs, score = _scores(table, 3.0, 1)
    res = wsbench.judge(archs, score, table=table, metric="acc", n_boot=200)
    truth = table.values("acc", np.arange(200))  # the mean over the two repeats
    assert res.n_archs == 200
    assert res.scores["spearman"] == pytest.approx(spearman(score, truth))
    assert res.scores["sparse_kendall_tau"] == pytest.approx(sparse_kendall_tau(score, truth, 0.1))
    lo, hi = res.scores["sparse_kendall_tau_ci"]
    assert lo < res.scores["sparse_kendall_tau"] < hi
    assert res.population["n_cells_in_table"] == N
    one = judge(archs, score, table=table, metric="acc", repeat=0, n_boot=0)
    assert one.scores["final_model_accuracy"] == pytest.approx(res.scores["final_model_accuracy"] - 1.0)
    # the lower-is-better switch flips the ranking
    flipped = judge(archs, -score, table=table, metric="acc", higher_is_better=False, n_boot=0)
    assert flipped.scores["kendall_tau"] == pytest.approx(res.scores["kendall_tau"])
    assert set(res.scores["precision_at_top"]) == {"1pct", "5pct", "10pct", "20pct"}
    # the table has no FLOPs column: the space counts them for the judged cells
    space = get_space("nb201")
    flops = np.asarray([space.num_flops(space.parse(a)) for a in archs], dtype=float)
    assert res.baselines["flops"]["spearman"] == pytest.approx(spearman(flops, truth))


def test_architectures_in_any_form(toy):
    _, table = toy
    space = get_space("nb201")
    keys, score = _scores(table, 1.0, 2, n=50)
    forms = list(keys)
    forms[0] = str(1000)  # an official index
    forms[1] = space.format(space.parse(keys[1]))  # the text form
    a = judge(forms, score, table=table, metric="acc", n_boot=0).as_dict()
    b = judge(keys, score, table=table, metric="acc", n_boot=0).as_dict()
    assert a["spearman"] == b["spearman"]
    with pytest.raises(JudgeError, match="not in table"):
        judge(["|nor_conv_3x3~0|+|bogus|"] + keys[1:], score, table=table, metric="acc")


def test_constant_scores_say_so(toy):
    _, table = toy
    keys, _ = _scores(table, 1.0, 3, n=20)
    res = judge(keys, np.ones(20), table=table, metric="acc", n_boot=200).as_dict()
    assert res["constant_proxy"] is True and res["spearman"] is None and res["p_beat_random"] is None


def test_cli_json_contract_with_runs_and_the_run_averaged_score(toy, tmp_path):
    data, table = toy
    frames = []
    for run in range(3):
        keys, score = _scores(table, 6.0, 10 + run)
        frames.append(pd.DataFrame({"arch": keys, "score": score, "run": f"seed{run}"}))
    path = tmp_path / "scores.csv"
    pd.concat(frames).to_csv(path, index=False)
    out = tmp_path / "judged"
    res = CliRunner().invoke(app, ["judge", str(path), "--table", "toy201", "--metric", "acc", "--format", "json",
                                   "--data-dir", str(data), "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout[res.stdout.index("{"):])
    for key in ("n_archs", "spearman", "kendall_tau", "sparse_kendall_tau", "p_beat_random", "final_model_accuracy",
                "precision_at_top", "baselines", "runs"):
        assert key in doc, key
    assert set(doc["runs"]) == {"seed0", "seed1", "seed2"}
    per_run = [doc["runs"][r]["sparse_kendall_tau"] for r in doc["runs"]]
    assert doc["runs_mean_sd"]["sparse_kendall_tau"][0] == pytest.approx(np.mean(per_run))
    averaged = np.mean([f["score"].to_numpy() for f in frames], axis=0)
    truth = table.values("acc", np.arange(200))
    assert doc["sparse_kendall_tau"] == pytest.approx(sparse_kendall_tau(averaged, truth, 0.1))
    assert doc["sparse_kendall_tau"] > np.mean(per_run)  # averaging three noisy runs ranks better
    assert {"params", "flops"} <= set(doc["baselines"]) and doc["strongest_baseline"] in ("params", "flops")
    assert (out / "metrics.json").exists() and (out / "scatter.png").exists()
    assert f"strongest baseline: {doc['strongest_baseline']}" in (out / "report.md").read_text()
    text = CliRunner().invoke(app, ["judge", str(path), "--table", "toy201", "--metric", "acc",
                                    "--data-dir", str(data)])
    assert text.exit_code == 0 and f"strongest baseline: {doc['strongest_baseline']}" in text.stdout


def test_cli_bad_input_is_one_line(toy, tmp_path):
    data, _ = toy
    bad = tmp_path / "bad.csv"
    bad.write_text("arch,score\n|nope|,1.0\n|nope2|,2.0\n")
    for args in (["judge", str(bad), "--table", "toy201", "--metric", "acc"],
                 ["judge", str(bad), "--table", "toy201", "--metric", "nometric"],
                 ["judge", str(tmp_path / "missing.csv"), "--table", "toy201", "--metric", "acc"]):
        res = CliRunner().invoke(app, [*args, "--data-dir", str(data)])
        assert res.exit_code == 2, res.output
        assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1, res.output


def test_rank_error_by_hand_with_ties():
    from wsbench.evaluate.bias import rank_error

    # ranks by score [1, 2.5, 2.5, 4], by truth [4, 3, 2, 1]; error = difference / 4 cells * 100
    err = rank_error(np.array([0.0, 1.0, 1.0, 2.0]), np.array([9.0, 8.0, 7.0, 6.0]))
    assert err.tolist() == pytest.approx([-75.0, -12.5, 12.5, 75.0])


def test_bias_breakdown_finds_an_injected_skip_bias(toy, tmp_path):
    data, table = toy
    space = get_space("nb201")
    rows = np.arange(200)
    archs = [space.parse(str(k)) for k in table.keys[rows]]
    skips = np.asarray([a.op_names.count("skip_connect") for a in archs])
    truth = table.values("acc", rows)
    score = truth + 8.0 * skips  # an estimator that over-ranks skip-heavy cells
    res = judge([str(k) for k in table.keys[rows]], score, table=table, metric="acc", n_boot=0)
    by = {(r["property"], r["level"]): r for r in res.bias["rows"]}
    assert by[("n_skip_connect", 0)]["mean_error"] < 0 < by[("n_skip_connect", 2)]["mean_error"]
    assert by[("n_skip_connect", 2)]["ci"][0] > 0  # the interval excludes zero
    assert by[("n_skip_connect", 0)]["n"] == int((skips == 0).sum())
    assert {"depth", "params", "n_nor_conv_3x3"} <= {r["property"] for r in res.bias["rows"]}
    unbiased = judge([str(k) for k in table.keys[rows]], truth, table=table, metric="acc", n_boot=0)
    assert all(abs(r["mean_error"]) < 1e-9 for r in unbiased.bias["rows"])
    path = tmp_path / "s.csv"
    pd.DataFrame({"arch": [str(k) for k in table.keys[rows]], "score": score}).to_csv(path, index=False)
    out = tmp_path / "judged"
    res = CliRunner().invoke(app, ["judge", str(path), "--table", "toy201", "--metric", "acc", "--out", str(out),
                                   "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    assert "most over-ranked n_skip_connect=" in res.stdout
    report = (out / "report.md").read_text()
    assert "| n_skip_connect | 0 |" in report and (out / "bias.png").read_bytes()[:4] == b"\x89PNG"


def test_nb101_with_a_subspace_and_darts_from_files(tmp_path):
    from wsbench.spaces.nb101.space import has_residual, n_out_inputs

    rng = np.random.default_rng(3)
    nb101 = get_space("nb101")
    cells = nb101.sample_unique(rng, 120)
    texts = [nb101.format(a) for a in cells]
    acc = rng.uniform(80, 95, len(cells))
    table = GroundTruth.from_columns("toy101", "nb101", {
        "key": np.asarray(nb101.keys(cells), dtype=object),
        "matrix": np.asarray([t.split("|")[0] for t in texts], dtype=object),
        "ops": np.asarray([t.split("|")[1] for t in texts], dtype=object),
        "residual": np.asarray([has_residual(a) for a in cells]),
        "n_out_inputs": np.asarray([n_out_inputs(a) for a in cells]), "valid_acc": acc})
    save_table(table, tmp_path)
    inside = [i for i, a in enumerate(cells) if has_residual(a)]
    score = acc[inside] + rng.normal(0, 2, len(inside))
    path = tmp_path / "nb101.csv"  # matrix+ops text forms for half the rows, benchmark hashes for the rest
    archs = [texts[i] if j % 2 else str(table.keys[i]) for j, i in enumerate(inside)]
    pd.DataFrame({"arch": archs, "score": score}).to_csv(path, index=False)
    res = CliRunner().invoke(app, ["judge", str(path), "--table", "toy101", "--metric", "valid_acc", "--subspace",
                                   "with_residual", "--format", "json", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["n_archs"] == len(inside) and doc["population"]["n_cells_in_table"] == len(inside)
    assert doc["spearman"] == pytest.approx(spearman(score, acc[inside]))
    params = np.asarray([nb101.num_params(cells[i]) for i in inside], dtype=float)
    assert doc["baselines"]["params"]["spearman"] == pytest.approx(spearman(params, acc[inside]))
    assert "flops" in doc["baselines"] and any(r["property"] == "n_conv3x3-bn-relu" for r in doc["bias"]["rows"])
    outside = next(i for i, a in enumerate(cells) if not has_residual(a))
    pd.DataFrame({"arch": [texts[outside], texts[inside[0]]], "score": [1.0, 2.0]}).to_csv(path, index=False)
    bad = CliRunner().invoke(app, ["judge", str(path), "--table", "toy101", "--metric", "valid_acc", "--subspace",
                                   "with_residual", "--data-dir", str(tmp_path)])
    assert bad.exit_code == 2 and "outside sub-space 'with_residual'" in bad.output

    darts = get_space("darts")
    genos = darts.sample_unique(rng, 60)
    dacc = rng.uniform(90, 95, 60)
    synflow = dacc + rng.normal(0, 1, 60)  # a published zero-cost column, as NB301's zc_* are
    save_table(GroundTruth.from_columns("toydarts", "darts", {
        "key": np.asarray(darts.keys(genos), dtype=object), "valid_acc": dacc, "params": rng.uniform(1, 4, 60),
        "flops": rng.uniform(100, 600, 60), "zc_synflow": synflow}), tmp_path)
    dpath = tmp_path / "darts.json"
    pd.DataFrame({"arch": [darts.format(g) for g in genos], "score": dacc}).to_json(dpath, orient="records")
    res = CliRunner().invoke(app, ["judge", str(dpath), "--table", "toydarts", "--metric", "valid_acc",
                                   "--format", "json", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["spearman"] == pytest.approx(1.0) and doc["n_archs"] == 60
    assert doc["baselines"]["synflow"]["spearman"] == pytest.approx(spearman(synflow, dacc))
    assert {"params", "flops"} <= set(doc["baselines"])
