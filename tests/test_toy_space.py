"""A new space is one folder: ``tests/toyspace`` registers a space nothing else in wsbench knows about, and
sampling, a super-net training step with evaluation, judging (with the parameter-count baseline and the bias
breakdown), the tabular search and the CLI all run on it by asking the registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from wsbench import registry

FOLDER = Path(__file__).resolve().parent / "toyspace"


@pytest.fixture()
def toy(tmp_path):
    """The toy space registered from its folder, and a data directory with its ground-truth table."""
    from wsbench.benchmarks.store import save_table
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.spaces import get_space

    assert registry.load_space_folder(FOLDER) == ["toy"]
    space = get_space("toy")
    archs = space.enumerate()
    rng = np.random.default_rng(0)
    # a ground truth in which 3x3 convolutions help and the identity hurts, plus noise
    test = np.array([0.6 + 0.1 * a.count(0) + 0.05 * a.count(1) for a in archs]) + rng.normal(0, 0.01, len(archs))
    valid = test + rng.normal(0, 0.01, len(archs))
    gt = GroundTruth.from_columns("toy", "toy", {"key": np.array(space.keys(archs), dtype=object),
                                                 "test_acc": test, "valid_acc": valid,
                                                 "params": np.array([space.num_params(a) for a in archs])})
    data = tmp_path / "data"
    save_table(gt, data)
    yield space, gt, data
    registry.unregister_space("toy")
    for name in [m for m in sys.modules if m == "toyspace" or m.startswith("toyspace.")]:
        del sys.modules[name]


def test_the_registry_knows_the_folder_and_its_defaults(toy):
    from wsbench.benchmarks.subspace import SubspaceError, space_size, subspace_mask
    from wsbench.config import RunCfg

    space, gt, _ = toy
    assert "toy" in registry.space_names() and registry.space_info("toy").tables == ("toy",)
    assert space_size("toy") == 27 and subspace_mask(gt, "toy", None).all()
    with pytest.raises(SubspaceError, match="no sub-spaces"):
        subspace_mask(gt, "toy", "A1")
    assert RunCfg.model_validate({"space": {"name": "toy"}}).space.name == "toy"
    with pytest.raises(ValueError, match="unknown search space 'toys'.*toy"):
        RunCfg.model_validate({"space": {"name": "toys"}})


def test_samplers_draw_from_the_toy_space(toy):
    from wsbench.sampling import make_sampler

    space, gt, _ = toy
    rng = np.random.default_rng(1)
    fair = make_sampler("fairnas", space, rng, table=gt)
    paths = fair.next()
    # strict fairness: every layer uses each of the three operations exactly once over the three paths
    assert len(paths) == 3 and all(sorted(p[i] for p in paths) == [0, 1, 2] for i in range(3))
    pro = make_sampler("pro_rata", space, rng, table=gt)
    drawn = [a for _ in range(300) for a in pro.next()]
    assert all(space.is_valid(a) for a in drawn)
    # pro-rata to size: the all-3x3 cell (largest) is drawn more often than the all-identity cell (0 params)
    assert drawn.count((0, 0, 0)) > drawn.count((2, 2, 2))
    uniform = make_sampler("random_nas", space, rng)
    assert len(set(a for _ in range(200) for a in uniform.next())) > 20


def test_a_toy_supernet_trains_and_is_evaluated_against_its_table(toy, tmp_path):
    from wsbench.api import train
    from wsbench.config import RunCfg
    from wsbench.spaces import build_supernet

    _, _, data = toy
    cfg = RunCfg.model_validate({
        "space": {"name": "toy"},
        "mapping": {"channels": 4, "cells_per_stage": 1},
        "protocol": {"epochs": 2, "batch_size": 64, "lr": 0.05, "sampler": "fairnas", "device": "cpu",
                     "threads": 1},
        "data": {"dataset": "digits", "valid_fraction": 0.2, "train_portion": 0.5, "resolution": 8},
        "eval": {"n_archs": 27, "bn_batches": 1, "bn_batch_size": 64, "eval_batches": 1, "eval_batch_size": 64,
                 "final": True, "ground_truth": "toy:test_acc", "skt_threshold": 0.01}})
    net = build_supernet("toy", cfg.mapping, num_classes=10, in_channels=1)
    assert sum(p.numel() for p in net.parameters()) > 0 and type(net).__module__ == "toyspace.supernet"
    result = train(cfg, tmp_path / "run", data_dir=data)
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["n_archs"] == 27 and -1.0 <= metrics["kendall_tau"] <= 1.0
    assert result["metrics"]["kendall_tau"] == metrics["kendall_tau"]
    assert metrics["supernet_accuracy"] > 0.2  # learned something in two epochs (chance: 0.1)


def test_judging_uses_the_toy_space_for_baselines_and_bias(toy):
    from wsbench.api import judge

    space, gt, _ = toy
    archs = space.enumerate()
    scores = [a.count(0) - 0.5 * a.count(2) for a in archs]
    out = judge([space.format(a) for a in archs], scores, table=gt, metric="test_acc")
    assert out.n_archs == 27 and out.scores["spearman"] > 0.8
    # parameter count counted by the toy space itself (the table's params column agrees with it)
    assert "params" in out.baselines and out.baselines["params"]["spearman"] > 0.5
    assert out.bias is not None
    assert "n_skip" in json.dumps(out.bias)  # broken down by the toy space's own operation names


def test_tabular_search_on_the_toy_space(toy, tmp_path):
    from wsbench.api import search

    _, gt, data = toy
    summary = search(tmp_path / "search", space="toy", algo="rs,gs", runs=4, budget=10, data_dir=data)
    assert summary["table"] == "toy" and summary["candidates"] == 27
    best = float(np.max(gt.values("test_acc")))
    assert (tmp_path / "search" / "curves.csv").exists()
    assert abs(summary["best_test"] - best) < 1e-9


def test_the_cli_finds_the_folder_through_the_environment(toy, tmp_path):
    """``$WSBENCH_SPACES`` registers the folder in a new process (as on the workers of a local Ray sweep)."""
    _, _, data = toy
    env = {**__import__("os").environ, "WSBENCH_SPACES": str(FOLDER), "WSBENCH_DATA_DIR": str(data)}
    res = subprocess.run([sys.executable, "-m", "wsbench", "search", "--space", "toy", "--algo", "rs", "--runs",
                          "2", "--budget", "5", "--out", str(tmp_path / "s"), "--json"], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["table"] == "toy"


def test_an_installed_plug_in_is_found_through_its_entry_point(monkeypatch):
    """A distribution declaring ``[project.entry-points."wsbench.spaces"]`` registers its space when first asked."""
    loaded = []

    class EntryPoint:
        name, value = "toy", "toyspace"

        def load(self) -> None:
            loaded.append(registry.load_space_folder(FOLDER))

    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [EntryPoint()] if group == "wsbench.spaces"
                        else [])
    monkeypatch.setattr(registry, "_SCANNED", False)
    try:
        assert registry.space_info("toy").name == "toy" and loaded == [["toy"]]
    finally:
        registry.unregister_space("toy")
        for name in [m for m in sys.modules if m == "toyspace" or m.startswith("toyspace.")]:
            del sys.modules[name]
