"""Bad configs, full or read-only disks, corrupt ground truth and divergence end in one clear line (no traceback);
two concurrent sweep drivers report each run once."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from typer.testing import CliRunner

from wsbench import atomic
from wsbench.cli import app

torch.set_num_threads(1)
runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]

#: A run of seconds on scikit-learn digits (8x8, C=4, one cell per stage, two epochs of a few batches).
TINY = {
    "mapping": {"channels": 4, "cells_per_stage": 1},
    "protocol": {"epochs": 2, "batch_size": 128, "lr": 0.05, "sampler": "random_nas", "device": "cpu",
                 "threads": 1, "channels_last": False},
    "data": {"dataset": "digits", "valid_fraction": 0.2, "train_portion": 0.5, "resolution": 8},
    "eval": {"n_archs": 10, "bn_batches": 1, "bn_batch_size": 64, "eval_batches": 1, "eval_batch_size": 64,
             "final": False},
}


def tiny_config(tmp_path: Path, **sections: dict) -> Path:
    tree = {k: {**v, **sections.get(k, {})} for k, v in TINY.items()}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(tree))
    return path


def assert_clean_failure(res, *needles: str, code: int = 2) -> str:
    """Non-zero exit, exactly one line on stderr starting with ``error:``, no traceback."""
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    err = res.stderr.strip()
    assert "Traceback" not in res.output and len(err.splitlines()) == 1 and err.startswith("error: "), err
    for needle in needles:
        assert needle in err, err
    return err


# -- item 5: broken YAML, bad override values, non-UTF-8 files ----------------------------------------------------
@pytest.mark.parametrize(("content", "overrides", "needle"), [
    (b"protocol:\n  lr: [1\n", [], "not valid YAML"),
    (b"protocol:\n\tlr: 0.1\n", [], "not valid YAML"),
    (b"protocol:\n  lr: 0.1 \xff\xfe\n", [], "not UTF-8"),
    (None, ["protocol.lr=[1"], "protocol.lr=[1"),
    (None, ["protocol.lr={"], "not a valid value"),
])
def test_unreadable_configs_and_overrides(tmp_path, content, overrides, needle):
    path = tiny_config(tmp_path) if content is None else tmp_path / "bad.yaml"
    if content is not None:
        path.write_bytes(content)
    res = runner.invoke(app, ["train", str(path), *overrides, "--out", str(tmp_path / "run")])
    assert_clean_failure(res, needle)
    assert not (tmp_path / "run").exists()


# -- item 7: nonsense numbers are refused at load time, naming the key ----------------------------------------------
@pytest.mark.parametrize(("override", "key"), [
    ("protocol.epochs=-3", "protocol.epochs"), ("protocol.lr=-0.1", "protocol.lr"),
    ("protocol.batch_size=0", "protocol.batch_size"), ("eval.n_archs=0", "eval.n_archs"),
    ("eval.eval_every=0", "eval.eval_every"), ("protocol.grad_clip=0", "protocol.grad_clip"),
    ("protocol.momentum=1.5", "protocol.momentum"), ("eval.top_k=0", "eval.top_k"),
])
def test_nonsense_numbers_name_their_key_before_any_data_is_loaded(tmp_path, monkeypatch, override, key):
    import wsbench.train.setup as setup

    def no_data(*_a, **_k):
        raise AssertionError("the data were loaded before the config was checked")

    monkeypatch.setattr(setup, "build_components", no_data)
    res = runner.invoke(app, ["train", str(tiny_config(tmp_path)), override, "--out", str(tmp_path / "run")])
    assert_clean_failure(res, key, "got")


# -- item 6: a full or read-only output directory --------------------------------------------------------------------
def _strip(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in ("elapsed", "images_per_s", "eval_seconds", "archs_per_second")}
            for r in records]


def _log(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(("label", "err", "needle"), [
    ("write:last.pt:written", errno.ENOSPC, "free some space"),
    ("write:last.pt.sha256:written", errno.ENOSPC, "free some space"),
    ("write:config.yaml:written", errno.EROFS, "writable"),
    ("write:status.json:written", errno.EACCES, "writable"),
])
def test_full_or_read_only_disk_then_exact_resume(tmp_path, data_dir, label, err, needle):
    cfg = tiny_config(tmp_path)
    ref = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "ref"), "--quiet"])
    assert ref.exit_code == 0, ref.output
    seen = {"n": 0}

    def disk_fails(name: str) -> None:
        if name == label:
            seen["n"] += 1
            if seen["n"] == 2 or label.startswith("write:config"):
                raise OSError(err, os.strerror(err), name.split(":")[1])

    previous = atomic.set_fault_hook(disk_fails)
    try:
        res = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"])
    finally:
        atomic.set_fault_hook(previous)
    assert_clean_failure(res, needle, "--resume", "exactly")
    res = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet", "--resume"])
    assert res.exit_code == 0, res.output
    assert _strip(_log(tmp_path / "run")) == _strip(_log(tmp_path / "ref"))
    from wsbench.train import load_checkpoint

    a, b = load_checkpoint(tmp_path / "ref" / "checkpoints"), load_checkpoint(tmp_path / "run" / "checkpoints")
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])


# -- item 10: corrupt ground truth, the divergence hint, concurrent sweep drivers ------------------------------------
def _tiny_table(data_dir: Path) -> Path:
    from wsbench.benchmarks.store import save_table, table_path
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.spaces import get_space

    space = get_space("nb201")
    archs = space.enumerate()[::40]
    save_table(GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": np.random.default_rng(0).uniform(60, 94, len(archs))}), data_dir)
    return table_path("nb201", data_dir)


def test_corrupt_ground_truth_fails_the_run(tmp_path, data_dir):
    path = _tiny_table(data_dir)
    blob = bytearray(path.read_bytes())
    path.write_bytes(bytes(blob[: len(blob) // 2]))
    cfg = tiny_config(tmp_path, eval={"final": True})
    res = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run"), "--quiet"])
    assert_clean_failure(res, str(path), "re-import")
    path.unlink()  # a table that is simply not imported still only skips the evaluation, with a warning
    with pytest.warns(UserWarning, match="evaluation skipped"):
        res = runner.invoke(app, ["train", str(cfg), "--out", str(tmp_path / "run2"), "--quiet"])
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize(("clip", "set_hint"), [("5.0", False), ("null", True)])
def test_divergence_hint_names_grad_clip_only_when_unset(tmp_path, clip, set_hint):
    res = runner.invoke(app, ["train", str(tiny_config(tmp_path)), "protocol.lr=1e12", f"protocol.grad_clip={clip}",
                              "protocol.momentum=0", "--out", str(tmp_path / "run"), "--quiet"])
    err = assert_clean_failure(res, "diverged", code=3)
    assert err.count("grad_clip") == 1
    assert ("set protocol.grad_clip" in err) == set_hint


def _driver(study: Path, spec_path: Path, data_dir: Path, out: Path) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child process
        code = 1
        try:
            from wsbench.experiments.runner import run_study
            from wsbench.experiments.spec import load_study

            summary = run_study(load_study(spec_path), study, data_dir=data_dir, backend="local")
            out.write_text(json.dumps(summary))
            code = 0
        finally:
            os._exit(code)
    return pid


def test_two_concurrent_sweep_drivers_report_each_run_once(tmp_path, data_dir):
    from wsbench.experiments.expand import expand
    from wsbench.experiments.spec import load_study
    from wsbench.experiments.store import ResultStore

    _tiny_table(data_dir)
    base = {k: dict(v) for k, v in TINY.items()}
    base["protocol"]["epochs"] = 1
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump({"name": "pair", "base": base, "seeds": [0, 1],
                                         "factors": {"protocol.lr": [0.1]}}))
    runs = expand(load_study(spec_path))
    assert len(runs) == 4
    study = tmp_path / "study"
    pids = [_driver(study, spec_path, data_dir, tmp_path / f"summary{i}.json") for i in range(2)]
    assert all(os.waitpid(pid, 0)[1] == 0 for pid in pids)
    summaries = [json.loads((tmp_path / f"summary{i}.json").read_text()) for i in range(2)]
    assert sum(s["ran"] for s in summaries) == 4 and sum(s["finished"] for s in summaries) == 4
    assert all(s["ran"] + s["skipped_finished"] == 4 for s in summaries)
    store = ResultStore(study)
    assert store.count("runs") == 4 and all(r["status"] == "finished" for r in store.runs())
