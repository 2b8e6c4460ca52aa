"""Studies at scale: study specs, the SQLite results store, aggregation, the Ray runner (kill + resume,
corrupt checkpoints, divergence), the HTML report and the sweep/results/reproduce commands."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from wsbench.commands import sweep as sweep_cmd
from wsbench.config import ConfigError, load_config
from wsbench.experiments.aggregate import correlations, display_table, summarize
from wsbench.experiments.expand import expand, label_order
from wsbench.experiments.runner import run_dir, write_study_file
from wsbench.experiments.spec import StudyError, load_study, parse_study
from wsbench.experiments.store import ResultStore
from wsbench.report.build import build_report

REPO = Path(__file__).resolve().parents[1]

TINY_BASE = {
    "mapping": {"channels": 4, "cells_per_stage": 1},
    "protocol": {"epochs": 2, "batch_size": 128, "lr": 0.05, "sampler": "random_nas", "device": "cpu"},
    "data": {"dataset": "digits", "valid_fraction": 0.2, "train_portion": 0.5, "resolution": 8},
    "eval": {"n_archs": 10, "bn_batches": 1, "bn_batch_size": 64, "eval_batches": 1, "eval_batch_size": 64,
             "final": True},
}


def _study(tmp_path: Path, **extra: Any) -> Path:
    tree = {"name": "tiny", "base": TINY_BASE, "seeds": [0, 1],
            "factors": {"protocol.lr": [0.05, 0.1], "bn": {"affine F": {"mapping.bn_affine": False}}}}
    tree.update(extra)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


# -- study specs --------------------------------------------------------------------------------------------------
def test_expand_ofat_dedups_base_and_hashes_config(tmp_path):
    spec = load_study(_study(tmp_path))
    runs = expand(spec)
    # per seed: base (= lr 0.05), lr 0.1, affine F -> 3 runs x 2 seeds
    assert len(runs) == 6 and len({r.id for r in runs}) == 6
    base0 = runs[0]
    assert (base0.factor, base0.value, base0.seed) == ("base", "base", 0)
    assert base0.labels == [("base", "base"), ("protocol.lr", "0.05")]
    for r in runs:
        # the id hashes the resolved config without the late fields at their defaults (config.LATE_FIELDS)
        tree = r.cfg.model_dump(mode="json")
        assert tree["protocol"].pop("cpu_bf16") is False
        canon = json.dumps(tree, sort_keys=True, separators=(",", ":"))
        assert r.id == hashlib.sha256(canon.encode()).hexdigest()[:12]
        assert r.cfg.protocol.seed == r.seed
        assert r.line().startswith(f"{r.id}  factor={r.factor} value={r.value} seed={r.seed}")
    lr = next(r for r in runs if r.value == "0.1" and r.seed == 1)
    assert lr.cfg.protocol.lr == 0.1 and lr.cfg.mapping.bn_affine
    bn = next(r for r in runs if r.factor == "bn" and r.seed == 0)
    assert not bn.cfg.mapping.bn_affine and bn.cfg.protocol.lr == 0.05
    assert [r.id for r in expand(load_study(_study(tmp_path)))] == [r.id for r in runs]  # stable


def test_expand_grid_fidelity_and_spaces(tmp_path):
    tree = {"name": "g", "base": TINY_BASE, "mode": "grid", "seeds": [3],
            "factors": {"protocol.lr": [0.01, 0.02, 0.03], "mapping.wsbn": [True, False]},
            "fidelity": {"low": {"set": {"protocol.epochs": 10}, "scale": {"protocol.epochs": 0.25},
                                 "factors": {"protocol.lr": [0.5]}, "seeds": [0, 1]},
                         "nolr": {"drop": ["protocol.lr"]}}}
    runs = expand(parse_study(tree))
    assert len(runs) == 6 and {r.factor for r in runs} == {"protocol.lr,mapping.wsbn"}
    assert {r.value for r in runs} == {f"{a},{b}" for a in ("0.01", "0.02", "0.03") for b in ("true", "false")}
    assert runs[0].levels == {"protocol.lr": "0.01", "mapping.wsbn": "true"}
    low = expand(parse_study(tree, fidelity="low"))
    assert len(low) == 4 and {r.cfg.protocol.lr for r in low} == {0.5}
    assert {r.cfg.protocol.epochs for r in low} == {round(10 * 0.25)} and {r.seed for r in low} == {0, 1}
    assert len(expand(parse_study(tree, fidelity="nolr"))) == 2
    spaced = {**tree, "mode": "ofat", "spaces": [{"name": "w4", "mapping": {"channels": 4}},
                                                  {"name": "w6", "mapping": {"channels": 6}}]}
    runs = expand(parse_study(spaced))
    assert {(r.space, r.cfg.mapping.channels) for r in runs} == {("w4", 4), ("w6", 6)}
    assert len(runs) == 2 * (1 + 3 + 2 - 1)  # wsbn=false equals the base


def test_spec_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match="protocol.lrr"):
        expand(load_study(_study(tmp_path, factors={"protocol.lrr": [0.1]})))
    with pytest.raises(ConfigError, match="mapping.channels"):
        expand(load_study(_study(tmp_path, factors={"mapping.channels": ["wide"]})))
    with pytest.raises(StudyError, match="'sedes'"):
        load_study(_study(tmp_path, sedes=[1]))
    with pytest.raises(StudyError, match="seeds"):
        load_study(_study(tmp_path, seeds=[]))
    with pytest.raises(StudyError, match="fidelity level 'high'"):
        load_study(_study(tmp_path), fidelity="high")
    with pytest.raises(StudyError, match="not found"):
        load_study("no-such-study")


@pytest.mark.parametrize("fidelity", [None, "cpu"])
def test_yu2020_preset_carries_paper_numbers(fidelity):
    spec = load_study(REPO / "studies" / "yu2020-nb201.yaml", fidelity=fidelity)
    runs = expand(spec)
    labels = set(label_order(spec))
    rows = spec.paper["rows"]
    assert len(rows) >= 40
    # every reported number belongs to a factor value of the study (except factors dropped at low fidelity)
    known = {(r["factor"], r["value"]) for r in rows} - labels
    # at cpu fidelity the base has one cell per stage: Table 11's "-1"/"-2" cells are measured as "+1"/"+2"
    assert known == ({("layers", "-1"), ("layers", "-2")} if fidelity == "cpu" else set()), known
    fff = next(r for r in rows if r["value"] == "affine F track F")
    assert fff["sparse_kendall_tau"] == 0.783 and fff["final_model_accuracy"] == [92.67, 1.21]
    assert all(r.cfg.space.name == "nb201" for r in runs)
    epochs = {r.cfg.protocol.epochs for r in runs}
    # Yu et al. evaluate without BN re-estimation at every fidelity
    assert {r.cfg.eval.bn_mode for r in runs} == {"no-ft"}
    by_label = {lab: r for r in runs for lab in r.labels}
    track_t, track_f = by_label[("bn", "affine F track T")], by_label[("bn", "affine F track F")]
    assert track_t.id != track_f.id and track_t.cfg.mapping.bn_track_running_stats
    if fidelity == "cpu":
        per_seed = [r for r in runs if r.seed == 0]
        assert len({r.cfg.protocol.epochs for r in per_seed}) == 11 and max(epochs) == 54
        assert {r.cfg.mapping.cells_per_stage for r in per_seed} == {1, 2, 3}
        assert {r.cfg.mapping.channels for r in per_seed} == {8, 4, 2}
        assert len({r.seed for r in runs}) == 3
    else:
        assert {100, 1000, 1800} <= epochs and len({r.seed for r in runs}) == 3


def test_pourchot_preset_grid():
    spec = load_study(REPO / "studies" / "pourchot-nb101.yaml")
    runs = expand(spec)
    subspaces = {r.cfg.space.subspace for r in runs}
    assert subspaces == {"A1", "A2", "A3", "A4", "full", "without_residual", "with_residual"}
    assert len(runs) == len(spec.seeds) * 7 * len(spec.factors[0].levels) and len(spec.seeds) == 5
    assert {r.cfg.space.name for r in runs} == {"nb101"}
    assert len(spec.paper["rows"]) == 7 * 6
    # the paper's protocol, the same as the preset: mean validation accuracy, 1,000 cells, one BN batch of 256
    preset = load_config(REPO / "configs" / "nb101-pourchot2020.yaml")
    for fidelity in (None, "cpu"):
        runs = expand(load_study(REPO / "studies" / "pourchot-nb101.yaml", fidelity=fidelity))
        for r in runs:
            assert r.cfg.eval.ground_truth == "nb101-sample:valid_acc"
            assert (r.cfg.eval.n_archs, r.cfg.eval.bn_batches, r.cfg.eval.bn_batch_size) == (1000, 1, 256)
            variant = r.levels["variant"]
            sampler = "pro_rata" if variant in ("pro-rata", "s-k + p-r") else "random_a"
            assert r.cfg.protocol.sampler == sampler and preset.protocol.sampler == "random_a"
            assert (r.cfg.mapping.bn_track_running_stats, r.cfg.mapping.bn_momentum) == (True, 0.003)
        # no-ft evaluates the super-net that bns-ft trained: one training gives both evaluations
        by_level = {(r.levels["variant"], r.cfg.space.subspace, r.seed): r for r in runs}
        for (variant, sub, seed), r in by_level.items():
            if variant == "no-ft":
                other = by_level[("bns-ft", sub, seed)]
                assert r.cfg.eval.bn_mode == "no-ft" and other.cfg.eval.bn_mode == "bns-ft"
                pair = {r.trained_by, other.trained_by}
                assert pair in ({None, r.id}, {None, other.id}), pair  # one trains, the other evaluates it
    cpu = expand(load_study(REPO / "studies" / "pourchot-nb101.yaml", fidelity="cpu"))
    assert len(cpu) == 7 * 2 * 3 and sum(r.trained_by is None for r in cpu) == 21  # 7 sub-spaces x 2 x 3 seeds


def test_lowfi_study_levels_match_the_presets():
    """studies/lowfi-nb201.yaml: the screen varies one lever around its centre (16x16, 40 epochs) at a similar
    cost; its 10min / 60min levels are exactly the shipped presets (evaluated along the way)."""
    from wsbench.config import load_config

    screen = expand(load_study(REPO / "studies" / "lowfi-nb201.yaml", fidelity="screen"))
    assert len(screen) >= 12 and all(r.cfg.protocol.max_minutes is None and r.cfg.eval.eval_every for r in screen)
    base = next(r for r in screen if r.factor == "base")
    assert (base.cfg.data.resolution, base.cfg.protocol.epochs) == (16, 40)
    # cost per epoch grows with the level: FairNAS trains 5 paths per update, so it gets fewer epochs
    fair = next(r for r in screen if r.value == "fairnas")
    assert fair.cfg.protocol.epochs * 5 == base.cfg.protocol.epochs
    # half the training images for twice the epochs: the same number of images seen
    half = next(r for r in screen if r.factor == "portion")
    assert half.cfg.data.train_portion * half.cfg.protocol.epochs == pytest.approx(
        base.cfg.data.train_portion * base.cfg.protocol.epochs)
    assert next(r for r in screen if r.factor == "warmup").cfg.protocol.warmup_epochs > 0
    # the screen's 8x8 level is the 10-minute preset's training protocol
    ten = load_config(REPO / "configs" / "nb201-cpu.yaml")
    small = next(r for r in screen if r.value == "8x8")
    assert (small.cfg.data.resolution, small.cfg.protocol.epochs) == (ten.data.resolution, ten.protocol.epochs)
    centre = expand(load_study(REPO / "studies" / "lowfi-nb201.yaml", fidelity="centre"))
    assert len(centre) == 3 and all(_without_run_keys(r.cfg.model_dump()) == _without_run_keys(base.cfg.model_dump())
                                    for r in centre)
    for level, preset, seeds in (("10min", "nb201-cpu.yaml", 3), ("60min", "nb201-cpu-60.yaml", 3)):
        runs = expand(load_study(REPO / "studies" / "lowfi-nb201.yaml", fidelity=level))
        assert len(runs) == seeds
        want = _without_run_keys(load_config(REPO / "configs" / preset).model_dump())
        assert sorted(r.seed for r in runs) == list(range(seeds))
        for r in runs:
            assert _without_run_keys(r.cfg.model_dump()) == want


def _without_run_keys(tree: dict) -> dict:
    """A config tree without the keys a study sets per run (name, seed, wall-clock cut, evaluation cadence)."""
    tree.pop("name")
    for section, key in (("protocol", "max_minutes"), ("protocol", "seed"), ("eval", "eval_every")):
        tree[section].pop(key)
    return tree


# -- results store ------------------------------------------------------------------------------------------------
_WRITER = textwrap.dedent("""
    import sys
    from wsbench.experiments.store import ResultStore
    store = ResultStore(sys.argv[1], timeout_s=60)
    w = int(sys.argv[2])
    for i in range(50):
        rid = f"w{w}-r{i}"
        store.record({"id": rid, "study": "s", "status": "running", "started": float(i), "seed": w})
        store.record({"id": rid, "status": "finished", "finished": float(i + 1), "started": 999.0},
                     [("final", 1, "kendall_tau", i / 50), ("final", 1, "spearman", w / 8)])
""")


def test_store_parallel_writers_lose_nothing(tmp_path):
    db = tmp_path / "results.sqlite"
    ResultStore(db)
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(db), str(w)]) for w in range(8)]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    store = ResultStore(db)
    rows = store.runs()
    ids = [r["id"] for r in rows]
    assert len(ids) == 400 and set(ids) == {f"w{w}-r{i}" for w in range(8) for i in range(50)}
    assert all(r["status"] == "finished" for r in rows)
    assert all(r["started"] == float(int(r["id"].split("-r")[1])) for r in rows)  # first start kept
    evals = store.evals()
    assert len(evals) == 800 and len({(e["run_id"], e["metric"]) for e in evals}) == 800
    # writing the same rows again changes values, never the number of rows
    store.record({"id": "w0-r0", "status": "failed", "message": "again"}, [("final", 2, "kendall_tau", 0.5)])
    assert store.count("runs") == 400 and store.count("evals") == 800
    assert store.get_run("w0-r0")["message"] == "again"
    with pytest.raises(ValueError, match="columns"):
        store.record({"id": "x", "colour": "red"})


# -- aggregation and report on a hand-made store ------------------------------------------------------------------
def _fake_study(tmp_path: Path) -> tuple[Path, dict[str, list[float]]]:
    """A study directory with hand-written rows: base and lr=0.1 over 3 seeds, one diverged lr=0.2 run."""
    spec = load_study(_study(tmp_path, seeds=[0, 1, 2], factors={"protocol.lr": [0.05, 0.1, 0.2]},
                             paper={"source": "made up", "rows": [
                                 {"factor": "protocol.lr", "value": "0.1", "final_model_accuracy": [91.5, 0.5],
                                  "sparse_kendall_tau": 0.61}]}))
    study = tmp_path / "study"
    study.mkdir()
    write_study_file(spec, study)
    store = ResultStore(study)
    rng = np.random.default_rng(5)
    final: dict[str, list[float]] = {"base": [], "0.1": []}
    for run in expand(spec):
        from wsbench.experiments.runner import registration_row

        store.record(registration_row(run, spec.name))
        if run.value == "0.2" and run.seed == 1:
            store.record({"id": run.id, "status": "diverged", "message": "non-finite"})
            continue
        fm, skt, sa = rng.uniform(85, 94), rng.uniform(0, 1), rng.uniform(10, 60)
        final.setdefault(run.value, []).append(fm)
        store.record({"id": run.id, "status": "finished"},
                     [("final", 2, "final_model_accuracy", fm), ("final", 2, "sparse_kendall_tau", skt),
                      ("final", 2, "supernet_accuracy", sa), ("epoch1", 1, "final_model_accuracy", 0.0)])
    return study, final


def test_summarize_and_correlations(tmp_path):
    study, final = _fake_study(tmp_path)
    table = summarize(study)
    assert list(zip(table["factor"], table["value"], strict=True)) == [
        ("base", "base"), ("protocol.lr", "0.05"), ("protocol.lr", "0.1"), ("protocol.lr", "0.2")]
    lr1 = table[table["value"] == "0.1"].iloc[0]
    assert lr1["n"] == 3 and lr1["finished"] == 3
    assert lr1["final_model_accuracy_mean"] == pytest.approx(np.mean(final["0.1"]))
    assert lr1["final_model_accuracy_std"] == pytest.approx(np.std(final["0.1"], ddof=1))
    assert lr1["delta_final"] == pytest.approx(np.mean(final["0.1"]) - np.mean(final["base"]))
    lr2 = table[table["value"] == "0.2"].iloc[0]
    assert (lr2["n"], lr2["finished"], lr2["diverged"]) == (3, 2, 1)
    base = table[table["factor"] == "base"].iloc[0]
    same = table[table["value"] == "0.05"].iloc[0]  # the base run stands for lr=0.05 too
    assert base["final_model_accuracy_mean"] == same["final_model_accuracy_mean"] and base["delta_final"] == 0
    corr = correlations(study)
    from scipy.stats import spearmanr

    from wsbench.experiments.aggregate import per_run

    runs = per_run(study)
    ok = runs[runs["status"] == "finished"]
    assert set(corr.columns) == {"final_model_accuracy", "sparse_kendall_tau", "supernet_accuracy"}
    rho = spearmanr(ok["final_model_accuracy"], ok["sparse_kendall_tau"]).statistic
    assert corr.loc["final_model_accuracy", "sparse_kendall_tau"] == pytest.approx(rho)
    shown = display_table(table, {"rows": [{"factor": "protocol.lr", "value": "0.1", "sparse_kendall_tau": 0.61}]})
    assert shown.loc[shown["value"] == "0.1", "paper s-KdT"].item() == "0.61"
    report = build_report(study)
    text = Path(report.html).read_text()
    assert "data:image/png;base64," in text and "91.5 ± 0.5" in text and "made up" in text


# -- command line (no Ray) ----------------------------------------------------------------------------------------
def _app() -> typer.Typer:
    app = typer.Typer()
    sweep_cmd.register(app)
    return app


def test_cli_dry_run_results_and_errors(tmp_path):
    cli = CliRunner()
    study = _study(tmp_path)
    res = cli.invoke(_app(), ["sweep", str(study), "--dry-run"])
    assert res.exit_code == 0, res.output
    lines = [x for x in res.stdout.splitlines() if x.strip()]
    assert [x.split()[0] for x in lines] == [r.id for r in expand(load_study(study))]
    assert "factor=protocol.lr value=0.1 seed=0" in res.stdout
    bad = cli.invoke(_app(), ["sweep", str(_study(tmp_path, factors={"protocol.lrr": [1]})), "--dry-run"])
    assert bad.exit_code == 2 and "protocol.lrr" in bad.output
    res = cli.invoke(_app(), ["reproduce", "yu2020-nb201", "--fidelity", "cpu", "--out", str(tmp_path / "o"),
                              "--dry-run"])
    assert res.exit_code == 0 and len(res.stdout.splitlines()) > 30
    fake, _ = _fake_study(tmp_path / "f")
    for fmt in ("table", "csv", "json"):
        res = cli.invoke(_app(), ["results", str(fake), "--format", fmt])
        assert res.exit_code == 0, res.output
        assert "protocol.lr" in res.stdout
    assert "91.5 ± 0.5" in cli.invoke(_app(), ["results", str(fake)]).stdout
    rows = json.loads(cli.invoke(_app(), ["results", str(fake), "--format", "json"]).stdout)
    assert {r["value"] for r in rows} == {"base", "0.05", "0.1", "0.2"}
    out = tmp_path / "t.parquet"
    assert cli.invoke(_app(), ["results", str(fake), "--format", "parquet", "--out", str(out)]).exit_code == 0
    import pandas as pd

    assert len(pd.read_parquet(out)) == 4
    assert cli.invoke(_app(), ["results", str(tmp_path / "nothing")]).exit_code == 2


# -- the Ray runner -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ray_address():
    """One local Ray (2 CPUs) for the whole module; its GCS address lets a second driver join it."""
    ray = pytest.importorskip("ray")
    pytest.importorskip("sklearn")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """A data directory with a small NB201 ground-truth table (digits images come from scikit-learn)."""
    from wsbench.benchmarks.store import save_table
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.spaces import get_space

    d = tmp_path_factory.mktemp("data")
    space = get_space("nb201")
    archs = space.enumerate()[::40]
    save_table(GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": np.random.default_rng(0).uniform(60, 94, len(archs))}), d)
    return d


def _finished(db: Path) -> dict[str, tuple[float, float]]:
    if not db.exists():
        return {}
    try:
        rows = ResultStore(db).runs()
    except Exception:  # noqa: BLE001 - the first writer may still be creating the schema
        return {}
    return {r["id"]: (r["started"], r["finished"]) for r in rows if r["status"] == "finished"}


@pytest.mark.slow
def test_sweep_killed_midway_resumes_exactly_once(tmp_path, ray_address, tiny_data):
    from wsbench.experiments.runner import run_study

    path = _study(tmp_path, seeds=[0, 1],
                  factors={"protocol.lr": [0.1], "protocol.weight_decay": [0.0], "mapping.bn_affine": [False],
                           "protocol.sampler": ["fairnas"]})
    spec = load_study(path)
    runs = expand(spec)
    assert len(runs) == 10
    study = tmp_path / "study"
    driver = textwrap.dedent(f"""
        from wsbench.experiments.runner import run_study
        from wsbench.experiments.spec import load_study
        run_study(load_study({str(path)!r}), {str(study)!r}, max_parallel=2, address={ray_address!r},
                  data_dir={str(tiny_data)!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", driver], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = study / "results.sqlite"
    deadline = time.monotonic() + 120
    while len(_finished(db)) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.kill()
    err = proc.communicate()[1].decode(errors="replace")
    before = _finished(db)
    assert 3 <= len(before) < len(runs), err[-2000:]
    status_before = {rid: (run_dir(study, rid) / "status.json").read_text() for rid in before}

    seen: list[str] = []
    summary = run_study(spec, study, max_parallel=2, data_dir=tiny_data, on_result=lambda row: seen.append(row["id"]))
    after = _finished(db)
    assert set(after) == {r.id for r in runs}
    assert {rid: after[rid] for rid in before} == before  # finished runs were not run again
    assert not set(seen) & set(before) and len(seen) == len(set(seen)) == summary["ran"]
    assert summary["skipped_finished"] + summary["ran"] == len(runs) and summary["finished"] == summary["ran"]
    for rid, text in status_before.items():
        assert (run_dir(study, rid) / "status.json").read_text() == text
    store = ResultStore(db)
    assert store.count("runs") == len(runs)
    evals = [e for e in store.evals() if e["tag"] == "final"]
    per_run_metrics = {}
    for e in evals:
        per_run_metrics.setdefault(e["run_id"], []).append(e["metric"])
    assert set(per_run_metrics) == {r.id for r in runs}
    assert all(len(m) == len(set(m)) and "kendall_tau" in m for m in per_run_metrics.values())
    table = summarize(study)
    assert table.loc[table["factor"] == "base", "finished"].item() == 2


def test_corrupt_checkpoint_and_divergence_through_runner(tmp_path, ray_address, tiny_data):
    from wsbench.experiments.runner import run_study
    from wsbench.train import load_checkpoint

    base = {**TINY_BASE, "protocol": {**TINY_BASE["protocol"], "epochs": 3}}
    path = _study(tmp_path, base=base, seeds=[0],
                  factors={"blowup": {"lr 1e9": {"protocol.lr": 1.0e9, "protocol.grad_clip": None}}})
    spec = load_study(path)
    runs = expand(spec)
    study = tmp_path / "study"
    first = run_study(spec, study, data_dir=tiny_data)
    assert (first["finished"], first["diverged"]) == (1, 1)
    store = ResultStore(study)
    good = next(r for r in runs if r.factor == "base")
    bad = next(r for r in runs if r.factor == "blowup")
    assert store.get_run(bad.id)["status"] == "diverged" and "non-finite" in store.get_run(bad.id)["message"]
    ckpt = run_dir(study, good.id) / "checkpoints"
    trained = load_checkpoint(ckpt)["model"]
    # simulate a crash after the last checkpoint: a corrupted last.pt and a run still marked running
    blob = (ckpt / "last.pt").read_bytes()
    (ckpt / "last.pt").write_bytes(blob[: len(blob) // 2] + bytes(len(blob) - len(blob) // 2))
    (run_dir(study, good.id) / "status.json").write_text(json.dumps({"status": "running"}))
    store.record({"id": good.id, "status": "running", "finished": None})
    diverged_row = store.get_run(bad.id)

    second = run_study(spec, study, data_dir=tiny_data)
    assert (second["ran"], second["finished"], second["skipped_diverged"]) == (1, 1, 1)
    row = store.get_run(good.id)
    assert row["status"] == "finished" and "previous checkpoint" in row["message"]
    resumed = load_checkpoint(ckpt)
    assert resumed["epoch"] == 3
    assert all(np.array_equal(trained[k].numpy(), resumed["model"][k].numpy()) for k in trained)  # exact resume
    assert store.get_run(bad.id) == diverged_row  # not retried
    third = run_study(spec, study, data_dir=tiny_data, retry_diverged=True)
    assert (third["ran"], third["diverged"], third["skipped_finished"]) == (1, 1, 1)
    assert store.get_run(bad.id)["started"] > diverged_row["started"]
    assert store.count("runs") == 2


def test_eval_only_levels_share_one_trained_supernet(tmp_path, ray_address, tiny_data):
    """no-ft and bns-ft of one super-net: one run trains, the other evaluates its checkpoint into its own run
    directory (no checkpoints of its own), and both land in the store with their own metrics."""
    from wsbench.experiments.runner import run_study

    base = {**TINY_BASE, "mapping": {**TINY_BASE["mapping"], "bn_track_running_stats": True}}
    path = _study(tmp_path, base=base, seeds=[0],
                  factors={"variant": {"bns-ft": {}, "no-ft": {"eval.bn_mode": "no-ft"}}})
    spec = load_study(path)
    runs = expand(spec)
    trainer = next(r for r in runs if r.trained_by is None)
    evaluator = next(r for r in runs if r.trained_by is not None)
    assert len(runs) == 2 and evaluator.trained_by == trainer.id
    study = tmp_path / "study"
    summary = run_study(spec, study, data_dir=tiny_data)
    assert summary["finished"] == 2, summary
    status = json.loads((run_dir(study, evaluator.id) / "status.json").read_text())
    assert status["status"] == "finished" and status["trained_by"] == trainer.id
    assert not (run_dir(study, evaluator.id) / "checkpoints").exists()
    assert (run_dir(study, evaluator.id) / "evals" / "archs.json").read_text() == \
        (run_dir(study, trainer.id) / "evals" / "archs.json").read_text()
    store = ResultStore(study)
    final = {(e["run_id"], e["metric"]): e["value"] for e in store.evals() if e["tag"] == "final"}
    assert (evaluator.id, "kendall_tau") in final and (trainer.id, "kendall_tau") in final
    metrics = {r.id: json.loads((run_dir(study, r.id) / "metrics.json").read_text()) for r in runs}
    assert metrics[evaluator.id]["bn_mode"] != metrics[trainer.id]["bn_mode"]


def test_cli_reproduce_runs_and_reports(tmp_path, ray_address, tiny_data):
    low = {"low": {"scale": {"protocol.epochs": 0.5}, "seeds": [0]}}
    path = _study(tmp_path, factors={"protocol.lr": [0.1]}, fidelity=low,
                  paper={"source": "tiny facts", "rows": [{"factor": "protocol.lr", "value": "0.1",
                                                           "sparse_kendall_tau": 0.123}]})
    out = tmp_path / "repro"
    res = CliRunner().invoke(_app(), ["reproduce", str(path), "--fidelity", "low", "--out", str(out),
                                      "--data-dir", str(tiny_data), "--max-parallel", "2"])
    assert res.exit_code == 0, res.output
    assert res.stdout.count(" finished ") == 2 and "report:" in res.stdout
    runs = ResultStore(out).runs()
    assert len(runs) == 2 and {r["config"]["protocol"]["epochs"] for r in runs} == {1}
    html = (out / "report.html").read_text()
    assert "0.123" in html and "data:image/png;base64," in html
    table = CliRunner().invoke(_app(), ["results", str(out)])
    assert table.exit_code == 0 and "protocol.lr" in table.stdout
