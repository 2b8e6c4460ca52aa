"""Stand-alone ground truth: protocol presets, one unit, resume, table, Ray, CLI and the digits quickstart."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch
import typer
from torch import nn
from typer.testing import CliRunner

from wsbench.benchmarks.store import load_table
from wsbench.spaces import get_space
from wsbench.standalone.protocol import PRESETS, StandaloneError, check_space, load_protocol
from wsbench.standalone.runner import (
    build_standalone_table,
    execute_unit,
    finish_build,
    prepare_build,
    run_build,
    unit_file,
)
from wsbench.standalone.trainer import count_macs, train_unit

REPO = Path(__file__).resolve().parents[1]
TINY = ["train.epochs=1", "mapping.channels=4", "train.batch_size=128"]
CONTRACT = ("supernet_accuracy", "kendall_tau", "sparse_kendall_tau", "spearman", "p_beat_random",
            "final_model_accuracy", "n_archs", "bn_mode", "ground_truth", "params_spearman",
            "params_sparse_kendall_tau")
_TIMING = ("train_time", "eval_time", "skipped")


@pytest.fixture(scope="module")
def ray_session():
    """One local Ray with 2 CPUs for the whole module (the runner reuses an initialised Ray)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    yield ray
    ray.shutdown()


def _tiny(archs: int = 2, seeds: int = 2):
    protocol = load_protocol("digits", TINY)
    texts = [get_space("nb201").format(a) for a in get_space("nb201").sample_unique(np.random.default_rng(3), archs)]
    return protocol, texts, list(range(seeds))


def _cli() -> typer.Typer:
    from wsbench.commands import quickstart, standalone

    app = typer.Typer()
    standalone.register(app)
    quickstart.register(app)
    return app


def _strip(rec: dict) -> dict:
    return {k: v for k, v in rec.items() if k not in _TIMING}


# -- protocol -----------------------------------------------------------------------------------------------
def test_presets_follow_the_papers_and_match_the_yaml_files():
    nb201, nb101 = load_protocol("nb201"), load_protocol("standalone-nb101")
    # NB201: SGD Nesterov 0.9, lr 0.1, wd 5e-4, batch 256, cosine, 200 epochs; C=16, N=5
    assert (nb201.train.optimizer, nb201.train.lr, nb201.train.nesterov, nb201.train.momentum) == ("sgd", 0.1, True,
                                                                                                   0.9)
    assert (nb201.train.weight_decay, nb201.train.batch_size, nb201.train.epochs) == (5e-4, 256, 200)
    assert (nb201.mapping.channels, nb201.mapping.cells_per_stage, nb201.train.schedule) == (16, 5, "cosine")
    # NB101 (To Share's protocol): TF RMSprop lr 0.2, momentum 0.9, eps 1, 108 epochs, batch 256, C=128
    assert (nb101.train.optimizer, nb101.train.lr, nb101.train.rmsprop_eps, nb101.train.epochs) == (
        "rmsprop_tf", 0.2, 1.0, 108)
    assert (nb101.train.batch_size, nb101.mapping.channels, nb101.mapping.bn_momentum) == (256, 128, 0.003)
    for name in PRESETS:  # every shipped name resolves to its file, with or without the prefix
        from_yaml = load_protocol(REPO / "configs" / f"standalone-{name}.yaml")
        assert from_yaml.model_dump() == load_protocol(name).model_dump() == \
            load_protocol(f"standalone-{name}").model_dump(), name
    # digits inherits the CPU recipe (base: standalone-cpu) and states only what differs
    cpu, digits = load_protocol("cpu"), load_protocol("digits")
    assert (digits.train.lr, digits.train.epochs, digits.train.grad_clip) == (cpu.train.lr, 4, 5.0)
    assert (digits.train.batch_size, digits.data.dataset, digits.data.resolution) == (64, "digits", None)
    assert (digits.data.valid_fraction, digits.data.train_portion) == (0.25, 0.75)


def test_protocol_errors_name_the_problem():
    with pytest.raises(StandaloneError, match="unknown key 'train.epoch'"):
        load_protocol("cpu", ["train.epoch=3"])
    with pytest.raises(StandaloneError, match="unknown stand-alone protocol"):
        load_protocol("nope")
    with pytest.raises(StandaloneError, match="not for space 'nb201'"):
        check_space(load_protocol("nb101"), "nb201")
    base, changed = load_protocol("cpu"), load_protocol("cpu", ["train.lr=0.2"])
    assert base.fingerprint() != changed.fingerprint()
    assert base.fingerprint() == load_protocol("cpu", ["train.device=cpu", "name=other"]).fingerprint()


def test_count_macs_by_hand():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.Conv2d(2, 4, 1, stride=2, groups=2), nn.Flatten(),
                          nn.Linear(4 * 2 * 2, 3))
    # conv1: 2 x 4 x 4 outputs x 1 x 3 x 3; conv2: 4 x 2 x 2 outputs x (2/2) x 1 x 1; linear: 3 outputs x 16
    assert count_macs(model, (1, 4, 4)) == 2 * 16 * 9 + 4 * 4 * 1 + 3 * 16


# -- one unit -----------------------------------------------------------------------------------------------
def test_train_unit_on_digits_records_finite_accuracies_and_exact_params(data_dir):
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|skip_connect~0|nor_conv_1x1~1|+|none~0|avg_pool_3x3~1|nor_conv_3x3~2|")
    protocol = load_protocol("digits", TINY)
    rec = train_unit(protocol, "nb201", space.format(arch), seed=0, data_dir=data_dir)
    assert rec["key"] == space.key(arch) and rec["seed"] == 0 and rec["epochs"] == 1
    for k in ("valid_acc", "test_acc", "train_acc"):
        assert math.isfinite(rec[k]) and 0.0 <= rec[k] <= 100.0
    # space.num_params assumes 3 input channels; digits have 1, so the stem conv has 9*C*(3-1) weights fewer
    c = protocol.mapping.channels
    assert rec["params"] == space.num_params(arch, channels=c, cells_per_stage=1) - 9 * c * 2
    assert rec["flops"] > 0 and rec["train_time"] > 0


@pytest.mark.parametrize("space_name", ["nb101", "darts"])
def test_standalone_networks_of_other_spaces_have_the_benchmark_parameter_count(space_name):
    from wsbench.config import MappingCfg
    from wsbench.standalone.trainer import build_standalone, count_params

    space = get_space(space_name)
    mapping = MappingCfg(channels=4, cells_per_stage=1, bn_track_running_stats=True)
    sizes = {"nb101": {"channels": 4, "cells_per_stack": 1}, "darts": {"channels": 4, "layers": 3}}[space_name]
    for arch in space.sample_unique(np.random.default_rng(0), 3):
        model = build_standalone(space_name, arch, mapping, num_classes=10, in_channels=3)
        assert count_params(model) == space.num_params(arch, **sizes)
        assert count_macs(model, (3, 8, 8)) > 0


# -- resume and table ---------------------------------------------------------------------------------------
def test_interrupted_build_resumes_only_missing_units_with_identical_results(tmp_path):
    protocol, texts, seeds = _tiny()
    stop_after = 2

    def boom(rec: dict) -> None:
        boom.count += 1
        if boom.count == stop_after:
            raise KeyboardInterrupt  # as if the driver were killed after k units

    boom.count = 0
    plan = prepare_build("gt", "nb201", protocol, seeds, tmp_path / "a", archs=texts)
    with pytest.raises(KeyboardInterrupt):
        run_build(plan, tmp_path / "a", backend="local", on_result=boom)
    assert len(list((plan.root / "units").glob("*.json"))) == stop_after
    trained: list[tuple[str, int]] = []
    again = run_build(plan, tmp_path / "a", backend="local", on_result=lambda r: trained.append((r["key"], r["seed"])))
    assert (again["units"], again["skipped"], again["ran"], again["ok"]) == (4, stop_after, 2, 2)
    done_first = {(k, s) for _, k, s in plan.units()[:stop_after]}
    assert not done_first & set(trained)
    assert run_build(plan, tmp_path / "a", backend="local")["ran"] == 0

    fresh = prepare_build("gt", "nb201", protocol, seeds, tmp_path / "b", archs=texts)
    run_build(fresh, tmp_path / "b", backend="local")
    for _, key, seed in plan.units():
        resumed = json.loads(unit_file(plan.root, key, seed).read_text())
        straight = json.loads(unit_file(fresh.root, key, seed).read_text())
        assert _strip(resumed) == _strip(straight)

    finish_build(plan, tmp_path / "a")
    table = load_table("gt", tmp_path / "a")
    assert table.space == "nb201" and len(table) == 2
    for col in ("key", "arch", "params", "flops", *(f"{m}@{r}" for m in ("valid_acc", "test_acc", "train_time")
                                                    for r in (0, 1))):
        assert col in table.columns, col
    assert table.n_repeats("test_acc") == 2 and {"valid_acc", "test_acc", "train_time"} <= set(table.metrics())
    key = plan.keys[1]
    units = [json.loads(unit_file(plan.root, key, s).read_text()) for s in seeds]
    row = table.index(key)
    assert table.values("test_acc", row)[0] == pytest.approx(np.mean([u["test_acc"] for u in units]))
    assert table.provenance["seeds"] == seeds and table.provenance["fingerprint"] == protocol.fingerprint()


def test_same_name_with_another_protocol_is_refused(tmp_path):
    protocol, texts, seeds = _tiny(1, 1)
    prepare_build("gt", "nb201", protocol, seeds, tmp_path, archs=texts)
    with pytest.raises(StandaloneError, match="another --out NAME"):
        prepare_build("gt", "nb201", load_protocol("digits", [*TINY, "train.lr=0.3"]), seeds, tmp_path, archs=texts)


# -- Ray and CLI --------------------------------------------------------------------------------------------
def test_ray_build_with_two_workers_matches_in_process_training(tmp_path, ray_session):
    protocol, texts, seeds = _tiny(2, 2)
    plan = prepare_build("gt", "nb201", protocol, seeds, tmp_path / "ray", archs=texts)
    summary = run_build(plan, tmp_path / "ray", backend="ray", max_parallel=2)
    assert (summary["ran"], summary["ok"], summary["failed"]) == (4, 4, 0)
    arch, key, seed = plan.units()[-1]
    local = execute_unit(protocol.model_dump(mode="json"), "nb201", arch, seed, str(tmp_path / "one.json"),
                         str(tmp_path / "ray"))
    assert _strip(local) == _strip(json.loads(unit_file(plan.root, key, seed).read_text()))


def test_cli_standalone_end_to_end_and_rerun_skips(data_dir, ray_session):
    app = _cli()
    args = ["standalone", "--space", "nb201", "--dataset", "digits", "--n", "3", "--seeds", "1", "--protocol",
            "digits", "--max-parallel", "2", *TINY]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    table = load_table("standalone-nb201-digits")
    assert len(table) == 3 and table.n_repeats("valid_acc") == 1
    assert np.isfinite(table.values("test_acc")).all()
    again = CliRunner().invoke(app, [*args, "--no-ray"])
    assert again.exit_code == 0 and "0 unit(s) to train, 3 already done" in again.output
    bad = CliRunner().invoke(app, ["standalone", "--space", "nb201", "--protocol", "nb101"])
    assert bad.exit_code == 2 and "not for space 'nb201'" in bad.output


def test_quickstart_digits_reduced_writes_the_metrics_contract(data_dir, tmp_path):
    out = tmp_path / "qs"
    args = ["quickstart", "--out", str(out), "--gt-n", "6", "--gt-seeds", "1", "--no-ray",
            *(x for o in TINY for x in ("--gt-set", o)),
            "protocol.epochs=1", "protocol.batch_size=128", "eval.bn_batches=1", "mapping.channels=4"]
    result = CliRunner().invoke(_cli(), args)
    assert result.exit_code == 0, result.output
    assert "dataset: digits (CIFAR-10 and the NB201 table not imported" in result.output
    assert "the super-net's own ranking first" in " ".join(result.output.split())
    assert "super-net: sparse Kendall-Tau" in result.output
    # the super-net's own ranking comes first, the baseline and the ensemble stand beside it as named rows
    out_text = result.output
    assert out_text.index("super-net: sparse") < out_text.index("baseline params") < \
        out_text.index("ensemble SN+params")
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(CONTRACT) <= set(metrics)
    assert metrics["n_archs"] == 6 and metrics["ground_truth"] == "standalone-nb201-digits:test_acc"
    assert (out / "scatter.png").stat().st_size > 0
    reuse = CliRunner().invoke(_cli(), [*args[:1], "--dataset", "digits", "--out", str(tmp_path / "qs2"),
                                        *args[3:]])
    assert reuse.exit_code == 0 and "reusing table standalone-nb201-digits" in reuse.output
    as_json = CliRunner().invoke(_cli(), [*args[:1], "--dataset", "digits", "--json", "--out",
                                          str(tmp_path / "qs3"), *args[3:]])
    assert as_json.exit_code == 0, as_json.output
    doc = json.loads(as_json.stdout)  # stdout holds exactly the one document; the table went to stderr
    assert set(doc) >= {"acc_sparse_kendall_tau", "params_sparse_kendall_tau", "hybrid_sparse_kendall_tau"}
    assert "super-net: sparse Kendall-Tau" in as_json.stderr


def test_quickstart_on_cifar10_without_data_names_the_import_command(data_dir, tmp_path):
    result = CliRunner().invoke(_cli(), ["quickstart", "--dataset", "cifar10", "--out", str(tmp_path / "q")])
    assert result.exit_code == 2
    assert "dataset cifar10 and ground-truth table nb201" in result.output and "wsbench data import" in result.output
    assert not (tmp_path / "q").exists()


def test_build_standalone_table_samples_unique_architectures(tmp_path):
    protocol = load_protocol("digits", TINY)
    table, summary = build_standalone_table("nb201", protocol, 3, 1, data_dir=tmp_path, backend="local")
    assert summary["table"] == "standalone-nb201-digits" and len(table) == 3
    space = get_space("nb201")
    assert len({space.canonical_id(space.parse(k)) for k in table.keys}) == 3
    assert torch.get_num_threads() >= 1
