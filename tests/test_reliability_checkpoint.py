"""Checkpoint rotation survives a kill between its renames; a resumed run never loses an evaluation."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import torch

from test_train import Recorder, _cfg, _components
from wsbench import atomic
from wsbench.train import CheckpointError, load_checkpoint, save_checkpoint, train_supernet
from wsbench.train import loop as loop_mod

torch.set_num_threads(1)


def _two_checkpoints(folder: Path) -> None:
    save_checkpoint(folder, {"epoch": 1, "w": torch.arange(3)})
    save_checkpoint(folder, {"epoch": 2, "w": torch.arange(4)})


def test_kill_between_the_two_renames_keeps_the_newest_checkpoint(tmp_path):
    folder = tmp_path / "ck"
    _two_checkpoints(folder)
    # the state a kill leaves after the first rename of the next rotation: last.pt is now prev.pt, while its
    # digest is still in last.pt.sha256 and prev.pt.sha256 holds the older one
    os.replace(folder / "last.pt", folder / "prev.pt")
    assert not (folder / "last.pt").exists()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        state = load_checkpoint(folder)
    assert state["epoch"] == 2 and torch.equal(state["w"], torch.arange(4))
    # the next save completes the interrupted rotation: prev.pt keeps a matching digest as the fallback
    save_checkpoint(folder, {"epoch": 3, "w": torch.arange(5)})
    assert load_checkpoint(folder)["epoch"] == 3
    os.replace(folder / "last.pt", tmp_path / "gone.pt")
    assert load_checkpoint(folder)["epoch"] == 2


def test_an_unverified_last_checkpoint_never_replaces_a_verified_previous_one(tmp_path):
    folder = tmp_path / "ck"
    _two_checkpoints(folder)
    # killed after the new last.pt was renamed into place and before its digest was written
    save_checkpoint(folder, {"epoch": 3, "w": torch.arange(5)})
    (folder / "last.pt.sha256").unlink()
    with pytest.warns(UserWarning, match="previous checkpoint"):
        assert load_checkpoint(folder)["epoch"] == 2
    save_checkpoint(folder, {"epoch": 3, "w": torch.arange(5)})  # the resumed run saves epoch 3 again
    assert load_checkpoint(folder)["epoch"] == 3
    (folder / "last.pt").unlink()
    assert load_checkpoint(folder)["epoch"] == 2  # the fallback is still the verified epoch 2


class _Killed(BaseException):
    """Stands for the process ending at a fault point (raised from the hook)."""


def _kill_at(label: str, occurrence: int = 1):
    seen = {"n": 0}

    def hook(name: str) -> None:
        if name == label:
            seen["n"] += 1
            if seen["n"] == occurrence:
                raise _Killed(name)

    return hook


def test_resume_after_kill_inside_checkpoint_rotation_is_exact(tmp_path):
    cfg = _cfg(epochs=3)
    full = train_supernet(cfg, tmp_path / "a", components=_components())
    previous = atomic.set_fault_hook(_kill_at("checkpoint:rotated-file", occurrence=1))  # during epoch 2's save
    try:
        with pytest.raises(_Killed):
            train_supernet(cfg, tmp_path / "b", components=_components())
    finally:
        atomic.set_fault_hook(previous)
    ck = tmp_path / "b" / "checkpoints"
    assert not (ck / "last.pt").exists() and load_checkpoint(ck)["epoch"] == 1  # epoch 1's file, now prev.pt
    resumed = train_supernet(cfg, tmp_path / "b", resume=True, components=_components())
    assert resumed["step"] == full["step"]
    sa, sb = load_checkpoint(tmp_path / "a" / "checkpoints"), load_checkpoint(ck)
    assert all(torch.equal(sa["model"][k], sb["model"][k]) for k in sa["model"])


def test_no_usable_checkpoint_message_does_not_contradict_the_fresh_start_message(tmp_path):
    folder = tmp_path / "run" / "checkpoints"
    _two_checkpoints(folder)
    for name in ("last.pt.sha256", "prev.pt.sha256"):
        (folder / name).write_text("0" * 64 + "\n")
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(folder)
    assert "delete" in str(err.value) and "without resume" not in str(err.value)


def _eval_tags(run: Path) -> list[tuple[int, str]]:
    recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["epoch"], r["tag"]) for r in recs if r["kind"] == "eval"]


def _with_eval(cfg, every: int = 1):
    return cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"final": True, "eval_every": every})})


def test_evaluation_killed_before_it_finished_runs_after_resume(tmp_path, monkeypatch):
    cfg = _with_eval(_cfg(epochs=3))
    real = loop_mod.run_evaluation
    calls = {"n": 0}

    def dies_in_first_evaluation(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:  # after epoch 1's checkpoint, before its evaluation was logged
            raise _Killed("evaluation")
        return real(*args, **kwargs)

    monkeypatch.setattr(loop_mod, "run_evaluation", dies_in_first_evaluation)
    rec = Recorder()
    with pytest.raises(_Killed):
        train_supernet(cfg, tmp_path / "r", components=_components(rec))
    assert load_checkpoint(tmp_path / "r" / "checkpoints")["epoch"] == 1 and rec.eval_calls == []
    monkeypatch.setattr(loop_mod, "run_evaluation", real)
    train_supernet(cfg, tmp_path / "r", resume=True, components=_components(rec))
    assert rec.eval_calls == ["epoch1", "epoch2", "final"]
    assert _eval_tags(tmp_path / "r") == [(1, "epoch1"), (2, "epoch2"), (3, "final")]


def test_final_evaluation_is_logged_once_when_a_finished_session_is_resumed(tmp_path):
    cfg = _with_eval(_cfg(epochs=2), every=1)
    run = tmp_path / "f"
    train_supernet(cfg, run, components=_components())
    previous = atomic.set_fault_hook(_kill_at("write:metrics.json:replaced"))  # after the final record, before done
    try:
        with pytest.raises(_Killed):
            train_supernet(cfg, run, resume=True, components=_components())
    finally:
        atomic.set_fault_hook(previous)
    train_supernet(cfg, run, resume=True, components=_components())
    assert _eval_tags(run) == [(1, "epoch1"), (2, "final")]
