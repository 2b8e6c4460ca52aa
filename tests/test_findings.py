"""Findings as claims with verdicts, Yu's seed-averaged proxy, no-effect levels, shards and their merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from typer.testing import CliRunner

from wsbench.cli import app
from wsbench.evaluate.metrics import sparse_kendall_tau
from wsbench.experiments.expand import expand, parse_shard, select_shard
from wsbench.experiments.findings import (
    CONTRADICTED,
    INCONCLUSIVE,
    REPRODUCED,
    FindingError,
    evaluate_findings,
    no_effect,
    parse_claim,
    seed_averaged,
    study_findings,
)
from wsbench.experiments.merge import MergeError, merge_studies
from wsbench.experiments.runner import registration_row, run_dir, write_study_file
from wsbench.experiments.spec import StudyError, load_study
from wsbench.experiments.store import ResultStore

BASE = {
    "mapping": {"channels": 4, "cells_per_stage": 1},
    "protocol": {"epochs": 2, "lr": 0.05, "sampler": "random_nas", "device": "cpu"},
    "data": {"dataset": "digits", "resolution": 8},
    "eval": {"n_archs": 10},
}
FINDINGS = [
    {"finding": "lr 0.2 ranks worse", "metric": "sparse_kendall_tau", "claim": "protocol.lr=0.2 < base"},
    {"finding": "lr 0.1 ranks better", "metric": "sparse_kendall_tau", "claim": "protocol.lr=0.1 > base"},
    {"finding": "wd is noise", "metric": "sparse_kendall_tau", "claim": "protocol.weight_decay=0.001 < base"},
    {"finding": "at cpu only", "metric": "sparse_kendall_tau", "claim": "base < protocol.lr=0.1", "only": ["x"]},
]


def _study_file(tmp_path: Path, **extra: Any) -> Path:
    tree = {"name": "toy", "base": BASE, "seeds": [0, 1, 2],
            "factors": {"protocol.lr": [0.1, 0.2], "protocol.weight_decay": [0.001], "mapping.wsbn": [True]},
            "paper": {"rows": [{"factor": "protocol.lr", "value": "0.2", "sparse_kendall_tau": 0.5},
                               {"factor": "base", "value": "base", "sparse_kendall_tau": [0.7, 0.1]}],
                      "findings": FINDINGS}}
    tree.update(extra)
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


SKT = {"base": [0.60, 0.62, 0.61], "protocol.lr=0.1": [0.50, 0.53, 0.49], "protocol.lr=0.2": [0.30, 0.33, 0.29],
       "protocol.weight_decay=0.001": [0.58, 0.66, 0.60], "mapping.wsbn=true": [0.60, 0.62, 0.61]}


def _fake(tmp_path: Path, subset: list[Any] | None = None, name: str = "study") -> tuple[Path, list[Any]]:
    """A finished study written by hand: s-KdT values per level (SKT) and per-arch proxy parquets."""
    spec = load_study(_study_file(tmp_path))
    runs = expand(spec) if subset is None else subset
    study = tmp_path / name
    (study / "runs").mkdir(parents=True)
    write_study_file(spec, study)
    store = ResultStore(study)
    keys = [f"a{i}" for i in range(20)]
    truth = np.linspace(80, 95, 20)
    for run in runs:
        store.record(registration_row(run, spec.name))
        label = "base" if run.factor == "base" else f"{run.factor}={run.value}"
        skt = SKT[label][run.seed]
        store.record({"id": run.id, "status": "finished"}, [("final", 2, "sparse_kendall_tau", skt)])
        rng = np.random.default_rng(run.seed)  # the wsbn level repeats the base's proxies: a no-op switch
        noise = rng.normal(0, 3 if label in ("base", "mapping.wsbn=true") else 6, 20)
        if label not in ("base", "mapping.wsbn=true"):
            noise = noise + 1.0
        frame = pd.DataFrame({"key": keys, "proxy_acc": truth + noise, "truth": truth})
        (run_dir(study, run.id) / "evals").mkdir(parents=True)
        frame.to_parquet(run_dir(study, run.id) / "evals" / "final.parquet", index=False)
    return study, runs


def test_parse_claim():
    assert parse_claim("protocol.lr=0.2 < base", grid=False) == ({"protocol.lr": "0.2"}, "<", None)
    assert parse_claim("a=x,b=y > a=z,b=y", grid=True) == ({"a": "x", "b": "y"}, ">", {"a": "z", "b": "y"})
    assert parse_claim("bn=affine F track T < bn=affine F track F", grid=False)[0] == {"bn": "affine F track T"}
    for bad in ("base", "a=1 < b=2 < c=3", "lr < base"):
        with pytest.raises(FindingError):
            parse_claim(bad, grid=False)


def test_verdicts_match_welch_and_the_paper(tmp_path):
    study, _ = _fake(tmp_path)
    verdicts = {v.finding: v for v in evaluate_findings(study)}
    assert set(verdicts) == {"lr 0.2 ranks worse", "lr 0.1 ranks better", "wd is noise"}  # "only" skipped
    worse = verdicts["lr 0.2 ranks worse"]
    ref = stats.ttest_ind(SKT["protocol.lr=0.2"], SKT["base"], equal_var=False)
    assert worse.ours == pytest.approx(np.mean(SKT["protocol.lr=0.2"]) - np.mean(SKT["base"]))
    assert worse.p_value == pytest.approx(ref.pvalue)
    ci = ref.confidence_interval(0.95)
    assert (worse.ci_low, worse.ci_high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert worse.paper == pytest.approx(0.5 - 0.7) and worse.verdict == REPRODUCED
    assert verdicts["lr 0.1 ranks better"].verdict == CONTRADICTED  # clearly lower, claimed higher
    assert verdicts["wd is noise"].verdict == INCONCLUSIVE and verdicts["wd is noise"].paper is None


def test_findings_cli_json_contract(tmp_path):
    study, _ = _fake(tmp_path)
    res = CliRunner().invoke(app, ["results", str(study), "--findings", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == 3
    for row in rows:
        assert {"finding", "metric", "paper", "ours", "ci_low", "ci_high", "p_value", "verdict"} <= set(row)
    table = CliRunner().invoke(app, ["results", str(study), "--findings"])
    assert table.exit_code == 0 and "reproduced" in table.stdout and "contradicted" in table.stdout
    md = CliRunner().invoke(app, ["results", str(study), "--findings", "--format", "markdown"])
    assert md.exit_code == 0 and md.stdout.startswith("| finding") and "| lr 0.2 ranks worse" in md.stdout


def test_seed_averaged_ranking_and_no_effect(tmp_path):
    study, runs = _fake(tmp_path)
    avg = seed_averaged(study).set_index(["factor", "value"])
    base_runs = [r for r in runs if r.factor == "base"]
    frames = [pd.read_parquet(run_dir(study, r.id) / "evals" / "final.parquet") for r in base_runs]
    proxy = np.mean([f["proxy_acc"].to_numpy() for f in frames], axis=0)
    expected = sparse_kendall_tau(proxy, frames[0]["truth"].to_numpy(), 0.1)
    assert avg.loc[("base", "base"), "sparse_kendall_tau_avg"] == pytest.approx(expected)
    assert avg.loc[("base", "base"), "n_supernets"] == 3
    # averaging three super-nets' proxies ranks better than the mean single super-net here (less noise)
    singles = [sparse_kendall_tau(f["proxy_acc"], f["truth"], 0.1) for f in frames]
    assert expected > np.mean(singles)
    assert no_effect(study) == [("", "mapping.wsbn", "true")]
    res = CliRunner().invoke(app, ["results", str(study)])
    assert res.exit_code == 0, res.output
    assert "no effect — the switch changed nothing: mapping.wsbn=true" in res.stdout
    assert "s-KdT (avg proxy)" in res.stdout


def test_shards_are_disjoint_cover_and_merge(tmp_path):
    spec = load_study(_study_file(tmp_path))
    runs = expand(spec)
    pieces = [select_shard(runs, (k, 3)) for k in (1, 2, 3)]
    ids = [r.id for p in pieces for r in p]
    assert sorted(ids) == sorted(r.id for r in runs) and len(set(ids)) == len(ids)
    assert [r.id for r in select_shard(runs, (2, 3))] == [r.id for r in pieces[1]]  # deterministic
    assert parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "x", "1/0"):
        with pytest.raises(StudyError):
            parse_shard(bad)
    dirs = [_fake(tmp_path, p, name=f"shard{k}")[0] for k, p in enumerate(pieces, 1)]
    out = tmp_path / "merged"
    res = CliRunner().invoke(app, ["results", "merge", str(out), *map(str, dirs)])
    assert res.exit_code == 0, res.output
    merged = ResultStore(out).runs()
    assert sorted(r["id"] for r in merged) == sorted(r.id for r in runs)
    assert all(r["status"] == "finished" for r in merged)
    assert all((run_dir(out, r.id) / "evals" / "final.parquet").exists() for r in runs)
    assert len(ResultStore(out).evals()) == len(runs)
    whole, _ = _fake(tmp_path, runs, name="whole")
    assert [v.as_dict() for v in evaluate_findings(out)] == [v.as_dict() for v in evaluate_findings(whole)]
    # a run finished in two shards is a conflict: nothing is merged
    with pytest.raises(MergeError, match="finished in both"):
        merge_studies(tmp_path / "bad", [dirs[0], whole])
    assert not (tmp_path / "bad").exists()
    bad = CliRunner().invoke(app, ["results", "merge", str(tmp_path / "bad2"), str(dirs[0]), str(whole)])
    assert bad.exit_code == 2 and "finished in both" in bad.output and "Traceback" not in bad.output


def test_sweep_dry_run_shard_and_level_collapse(tmp_path):
    path = _study_file(tmp_path)
    res = CliRunner().invoke(app, ["sweep", str(path), "--dry-run", "--shard", "1/2"])
    assert res.exit_code == 0, res.output
    assert "shard 1/2" in res.output
    clash = _study_file(tmp_path, factors={"protocol.epochs": [2, 3]},
                        fidelity={"tiny": {"scale": {"protocol.epochs": 0.1}}})
    res = CliRunner().invoke(app, ["sweep", str(clash), "--fidelity", "tiny", "--dry-run"])
    assert res.exit_code == 2 and "'2' and '3'" in res.output and "same configuration" in res.output
    same = _study_file(tmp_path, factors={"protocol.lr": [0.05, 0.1]})
    res = CliRunner().invoke(app, ["sweep", str(same), "--dry-run"])
    assert res.exit_code == 0 and "equal to the base: protocol.lr=0.05" in res.output


def test_study_report_opens_with_the_findings(tmp_path):
    from wsbench.report.build import build_report

    study, _ = _fake(tmp_path)
    report = build_report(study)
    md = Path(report.markdown).read_text() if hasattr(report, "markdown") else (study / "report.md").read_text()
    first = md.index("Findings")
    assert first < md.index("Per-factor results") and "reproduced" in md[first:]
    assert "no effect — the switch changed nothing" in md


@pytest.mark.parametrize("study", ["yu2020-nb201", "pourchot-nb101"])
def test_cpu_fidelity_dry_run_lists_distinct_runs(study):
    res = CliRunner().invoke(app, ["sweep", f"studies/{study}.yaml", "--fidelity", "cpu", "--dry-run"])
    assert res.exit_code == 0, res.output
    ids = [line.split()[0] for line in res.stdout.splitlines() if line.strip()]
    assert ids and len(ids) == len(set(ids))
    spec = load_study(f"studies/{study}.yaml", fidelity="cpu")
    assert ids == [r.id for r in expand(spec)]
    claims = [c for _, _, c in study_findings(
        {"paper": spec.paper, "fidelity": "cpu", "mode": spec.mode})]
    assert claims  # the study carries its paper's findings
    labels = {f"{f}={v}" for r in expand(spec) for f, v in r.labels} | {"base"}
    levels = {f"{k}={v}" for r in expand(spec) for k, v in r.levels.items()}
    for claim in claims:  # every side of every claim names settings that the fidelity runs
        left, _, right = parse_claim(claim, grid=spec.mode == "grid")
        for side in (left, right):
            if side is None:
                assert "base" in labels
            elif len(side) == 1:
                assert f"{next(iter(side))}={next(iter(side.values()))}" in labels, claim
            else:
                assert {f"{k}={v}" for k, v in side.items()} <= levels, claim


def test_committed_study_results_read_on_a_fresh_clone():
    """results/yu2020-nb201-cpu (committed, no checkpoints) gives its findings and its table."""
    root = Path(__file__).resolve().parents[1] / "results" / "yu2020-nb201-cpu"
    res = CliRunner().invoke(app, ["results", str(root), "--findings", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows and all({"finding", "metric", "paper", "ours", "ci_low", "ci_high", "p_value", "verdict"} <= set(r)
                        for r in rows)
    table = CliRunner().invoke(app, ["results", str(root)])
    assert table.exit_code == 0 and "s-KdT (avg proxy)" in table.stdout


def test_committed_pourchot_results_give_a_verdict_for_every_sub_space():
    """results/pourchot-nb101-cpu: the BN re-estimation finding checked on each of the 7 sub-spaces, from the
    committed store alone (no checkpoints, no data directory)."""
    root = Path(__file__).resolve().parents[1] / "results" / "pourchot-nb101-cpu"
    assert not list(root.rglob("*.pt"))
    res = CliRunner().invoke(app, ["results", str(root), "--findings", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = [r for r in json.loads(res.stdout) if r["metric"] == "spearman"]
    assert len(rows) == 7 and all(r["verdict"] in ("reproduced", "contradicted", "inconclusive") for r in rows)
    assert all(r["ci_low"] <= r["ours"] <= r["ci_high"] for r in rows)


def test_committed_runs_keep_their_ids_under_the_current_config():
    """A config field added later (``config.LATE_FIELDS``) leaves the ids of existing runs alone: every committed
    run of results/*-cpu is a run of its study as the current code expands it, so a sweep resumes them."""
    import sqlite3

    from wsbench.experiments.expand import expand

    repo = Path(__file__).resolve().parents[1]
    for name in ("yu2020-nb201", "pourchot-nb101"):
        store = repo / "results" / f"{name}-cpu" / "results.sqlite"
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            committed = {r[0] for r in db.execute("select id from runs")}
        current = {r.id for r in expand(load_study(name, fidelity="cpu"))}
        assert committed and committed <= current, sorted(committed - current)[:5]
