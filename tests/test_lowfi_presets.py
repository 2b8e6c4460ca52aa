"""The low-fidelity CPU presets of docs/low-fidelity.md: what they promise and the nb201-cpu-60 contract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from wsbench.config import load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_the_two_presets_share_the_protocol_but_resolution_and_schedule() -> None:
    ten, sixty = load_config(CONFIGS / "nb201-cpu.yaml"), load_config(CONFIGS / "nb201-cpu-60.yaml")
    a, b = ten.model_dump(), sixty.model_dump()
    for tree in (a, b):
        tree.pop("name")
        tree["protocol"].pop("epochs")
        tree["protocol"].pop("max_minutes")
        tree["data"].pop("resolution")
    assert a == b
    # 10 minutes: 8x8 for 96 epochs; 60 minutes: 16x16 (the screen's centre) for 300 epochs
    assert (ten.data.resolution, ten.protocol.epochs) == (8, 96)
    assert (sixty.data.resolution, sixty.protocol.epochs) == (16, 300)
    # the wall-clock safety cut leaves room for the evaluation inside each budget
    assert ten.protocol.max_minutes is not None and ten.protocol.max_minutes <= 9.0
    assert sixty.protocol.max_minutes is not None and sixty.protocol.max_minutes <= 58.0
    # the study's main finding is in the preset: BN without affine parameters and without tracked statistics
    assert not ten.mapping.bn_affine and not ten.mapping.bn_track_running_stats
    # and its second: the ranking corrects the short-training bias with the parameter count
    assert ten.eval.proxy == "accuracy_params"


def test_train_cli_on_the_60_minute_preset_writes_metrics(tmp_path: Path, data_dir: Path) -> None:
    """`wsbench train configs/nb201-cpu-60.yaml --out DIR` writes DIR/metrics.json (shrunk to seconds here:
    digits instead of CIFAR-10, 2 epochs, 10 cells against a small stand-in table)."""
    pytest.importorskip("sklearn")
    from typer.testing import CliRunner

    from wsbench.benchmarks.store import save_table
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.cli import app
    from wsbench.spaces import get_space

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = space.sample_unique(rng, 40)
    save_table(GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": rng.uniform(60, 94, len(archs))}), data_dir)
    out = tmp_path / "run60"
    res = CliRunner().invoke(app, [
        "train", str(CONFIGS / "nb201-cpu-60.yaml"), "--out", str(out), "--data-dir", str(data_dir), "--quiet",
        "data.dataset=digits", "data.resolution=null", "protocol.epochs=2", "eval.n_archs=10",
        "eval.bn_batches=1", "eval.eval_batches=1", "eval.eval_every=1"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_archs"] == 10 and metrics["proxy"] == "accuracy_params"
    assert -1.0 <= metrics["sparse_kendall_tau"] <= 1.0 and "loss_sparse_kendall_tau" in metrics
    # the headline is the super-net's own ranking; the preset's ensemble is recorded under its own name
    assert metrics["sparse_kendall_tau"] == metrics["acc_sparse_kendall_tau"] and metrics["ranked_by"] == "accuracy"
    assert "hybrid_sparse_kendall_tau" in metrics
    assert -1.0 <= metrics["acc_sparse_kendall_tau"] <= 1.0
    evals = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if '"eval"' in x]
    assert [e["tag"] for e in evals] == ["epoch1", "final"]
