"""Training protocol: optimisers, schedule, checkpoints, exact resume, divergence, run directory, evaluation hook."""

from __future__ import annotations

import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from wsbench.benchmarks.table import GroundTruth
from wsbench.config import ProtocolCfg, RunCfg
from wsbench.spaces import get_space
from wsbench.train import (
    CheckpointError,
    Components,
    CosineSchedule,
    RMSpropTF,
    TrainingDiverged,
    build_optimizer,
    load_checkpoint,
    save_checkpoint,
    train_supernet,
)
from wsbench.train import loop as loop_mod

torch.set_num_threads(1)


# -- optimisers and schedule ------------------------------------------------------------------------------------
def test_rmsprop_tf_matches_hand_computed_steps():
    w0, g1, g2 = [1.0, -2.0], [0.5, 3.0], [-1.0, 0.25]
    lr, decay, mom, eps, wd = 0.1, 0.9, 0.9, 1.0, 0.01
    p = nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    opt = RMSpropTF([p], lr=lr, decay=decay, momentum=mom, eps=eps, weight_decay=wd)
    # by hand, TF1 semantics: ms starts at 1, eps inside the sqrt, lr inside the momentum, L2 added to the grad
    w, ms, buf = list(w0), [1.0, 1.0], [0.0, 0.0]
    for g in (g1, g2):
        p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        for i in range(2):
            gi = g[i] + wd * w[i]
            ms[i] = decay * ms[i] + (1 - decay) * gi * gi
            buf[i] = mom * buf[i] + lr * gi / math.sqrt(ms[i] + eps)
            w[i] -= buf[i]
        assert p.detach().tolist() == pytest.approx(w, rel=1e-12)
    # first step alone differs from torch's RMSprop (which starts ms at 0 and adds eps outside the sqrt)
    q = nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    torch_opt = torch.optim.RMSprop([q], lr=lr, alpha=decay, eps=eps, momentum=mom)
    q.grad = torch.tensor(g1, dtype=torch.float64)
    torch_opt.step()
    r = nn.Parameter(torch.tensor(w0, dtype=torch.float64))
    own = RMSpropTF([r], lr=lr, decay=decay, momentum=mom, eps=eps)
    r.grad = torch.tensor(g1, dtype=torch.float64)
    own.step()
    assert not torch.allclose(q, r)


def test_rmsprop_skips_parameters_without_gradient():
    a, b = nn.Parameter(torch.ones(2)), nn.Parameter(torch.ones(2))
    opt = RMSpropTF([a, b], lr=0.1, weight_decay=0.1)
    a.grad = torch.ones(2)
    opt.step()
    assert torch.equal(b.detach(), torch.ones(2)) and not torch.equal(a.detach(), torch.ones(2))
    with pytest.raises(ValueError, match="decay"):
        RMSpropTF([a], decay=1.5)


def test_build_optimizer_kinds():
    p = [nn.Parameter(torch.zeros(1))]
    sgd = build_optimizer(p, ProtocolCfg(optimizer="sgd", lr=0.3, momentum=0.8, nesterov=True, weight_decay=1e-4))
    assert isinstance(sgd, torch.optim.SGD)
    g = sgd.param_groups[0]
    assert (g["lr"], g["momentum"], g["nesterov"], g["weight_decay"]) == (0.3, 0.8, True, 1e-4)
    assert not build_optimizer(p, ProtocolCfg(momentum=0.0, nesterov=True)).param_groups[0]["nesterov"]
    rms = build_optimizer(p, ProtocolCfg(optimizer="rmsprop_tf", rmsprop_eps=1.0, rmsprop_decay=0.9))
    assert isinstance(rms, RMSpropTF) and rms.param_groups[0]["eps"] == 1.0


def test_cosine_schedule_endpoints_and_warmup():
    opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=123.0)
    s = CosineSchedule(opt, base_lr=0.1, total_steps=100, min_lr=0.001)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    assert s.lr_at(0) == pytest.approx(0.1)
    assert s.lr_at(50) == pytest.approx((0.1 + 0.001) / 2)
    assert s.lr_at(100) == pytest.approx(0.001)
    lrs = [s.lr_at(t) for t in range(101)]
    assert all(a >= b for a, b in zip(lrs, lrs[1:], strict=False))
    for _ in range(30):
        s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(s.lr_at(30))
    other = CosineSchedule(opt, 0.1, 100, 0.001)
    other.load_state_dict(s.state_dict())
    assert opt.param_groups[0]["lr"] == pytest.approx(s.lr_at(30))
    w = CosineSchedule(opt, base_lr=0.2, total_steps=20, warmup_steps=4)
    assert [w.lr_at(t) for t in range(4)] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert w.lr_at(4) == pytest.approx(0.2) and w.lr_at(20) == pytest.approx(0.0)
    c = CosineSchedule(opt, 0.2, 20, kind="constant")
    assert c.lr_at(19) == 0.2


# -- checkpoints ------------------------------------------------------------------------------------------------
def test_checkpoint_rotation_and_corruption(tmp_path):
    folder = tmp_path / "ck"
    save_checkpoint(folder, {"epoch": 1, "w": torch.arange(3), "rng": np.random.default_rng(0).bit_generator.state})
    save_checkpoint(folder, {"epoch": 2, "w": torch.arange(4)})
    assert load_checkpoint(folder)["epoch"] == 2
    assert (folder / "prev.pt").exists()
    data = (folder / "last.pt").read_bytes()
    (folder / "last.pt").write_bytes(data[: len(data) // 2])
    with pytest.warns(UserWarning, match="previous checkpoint"):
        state = load_checkpoint(folder)
    assert state["epoch"] == 1 and state["rng"] == np.random.default_rng(0).bit_generator.state
    (folder / "prev.pt.sha256").write_text("0" * 64)
    with pytest.raises(CheckpointError, match="digest"):
        load_checkpoint(folder)


# -- stand-ins for the data, the super-net and the evaluator -----------------------------------------------------
class TinySuperNet(nn.Module):
    """A path-sampled MLP: 6 edges x 5 ops (op 0 = zero) on 4x4 single-channel images, with dropout."""

    def __init__(self, num_classes: int = 3, width: int = 8):
        super().__init__()
        self.stem = nn.Linear(16, width)
        self.edges = nn.ModuleList(nn.ModuleList(nn.Linear(width, width) for _ in range(5)) for _ in range(6))
        self.drop = nn.Dropout(0.2)
        self.head = nn.Linear(width, num_classes)
        self.poison_at: int | None = None
        self.calls = 0

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        self.calls += 1
        h = torch.relu(self.stem(x.flatten(1)))
        for e, op in enumerate(arch.ops):
            if op:
                h = h + torch.tanh(self.edges[e][op](h))
        out = self.head(self.drop(h))
        if self.poison_at is not None and self.calls >= self.poison_at:
            out = out * float("nan")
        return out


class TinyBatches:
    """Seeded shuffling plus generator-driven noise 'augmentation', like the real iterator's contract."""

    def __init__(self, x, y, batch_size, mean, std, augment, drop_last=True):
        self.x = (x.float() - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)
        self.y, self.bs, self.augment = y, batch_size, augment

    def __len__(self) -> int:
        return len(self.y) // self.bs

    def epoch(self, generator: torch.Generator):
        perm = torch.randperm(len(self.y), generator=generator)
        for i in range(len(self)):
            idx = perm[i * self.bs:(i + 1) * self.bs]
            x = self.x[idx]
            if self.augment:
                x = x + 0.1 * torch.randn(x.shape, generator=generator)
            yield x, self.y[idx]


def _splits(n: int = 96, seed: int = 0) -> SimpleNamespace:
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (n,), generator=g)
    x = (torch.rand(n, 1, 4, 4, generator=g) * 120 + y.view(-1, 1, 1, 1) * 60).to(torch.uint8)
    return SimpleNamespace(train_x=x, train_y=y, valid_x=x[:32], valid_y=y[:32], test_x=None, test_y=None,
                           num_classes=3, mean=torch.tensor([120.0]), std=torch.tensor([50.0]), name="toy")


def _table(space) -> GroundTruth:
    archs = space.enumerate()[::500]
    return GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": np.linspace(50.0, 90.0, len(archs))})


class Recorder:
    def __init__(self):
        self.select_calls = 0
        self.eval_calls: list[str] = []

    def select(self, space, table, n, seed):
        self.select_calls += 1
        keys = list(table.keys[:n])
        return [space.parse(k) for k in keys]

    def evaluate(self, model, cfg, splits, table, archs, device, out_dir=None, tag="final"):
        self.eval_calls.append(tag)
        return {"kendall_tau": 0.25, "n_archs": len(archs)}


def _components(rec: Recorder | None = None, model: TinySuperNet | None = None) -> Components:
    space = get_space("nb201")
    rec = rec or Recorder()
    return Components(device=torch.device("cpu"), splits=_splits(), space=space,
                      model_factory=(lambda: model) if model is not None else TinySuperNet,
                      batch_iterator=TinyBatches, table=_table(space), evaluate=rec.evaluate,
                      select_archs=rec.select)


def _cfg(**protocol: Any) -> RunCfg:
    base = {"epochs": 3, "batch_size": 16, "lr": 0.05, "sampler": "random_nas", "paths_per_batch": 2,
            "device": "cpu", "seed": 7, "grad_clip": 5.0}
    base.update(protocol)
    return RunCfg.model_validate({"protocol": base, "eval": {"final": False, "n_archs": 5}})


def _records(run: Path, kind: str = "train") -> list[dict[str, Any]]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


# -- resume, divergence, run directory -------------------------------------------------------------------------
@pytest.mark.parametrize("sampler", ["random_nas", "fairnas"])
def test_resume_reproduces_uninterrupted_run(tmp_path, monkeypatch, sampler):
    monkeypatch.setattr(loop_mod, "LOG_EVERY", 2)
    cfg = _cfg(sampler=sampler, optimizer="sgd" if sampler == "random_nas" else "rmsprop_tf", lr=0.01)
    full = train_supernet(cfg, tmp_path / "a", components=_components())
    steps_per_epoch = 96 // 16
    assert full["step"] == 3 * steps_per_epoch and full["epoch"] == 3

    def crash(step: int) -> None:
        if step == steps_per_epoch + 3:  # in the middle of epoch 2
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        train_supernet(cfg, tmp_path / "b", components=_components(), on_step=crash)
    status = json.loads((tmp_path / "b" / "status.json").read_text())
    assert status["status"] == "failed" and "simulated crash" in status["message"]
    assert load_checkpoint(tmp_path / "b" / "checkpoints")["epoch"] == 1
    resumed = train_supernet(cfg, tmp_path / "b", resume=True, components=_components())
    assert resumed["step"] == full["step"]
    sa = load_checkpoint(tmp_path / "a" / "checkpoints")
    sb = load_checkpoint(tmp_path / "b" / "checkpoints")
    assert sa["model"].keys() == sb["model"].keys()
    for k in sa["model"]:
        assert torch.equal(sa["model"][k], sb["model"][k]), k
    assert sa["sampler"] == sb["sampler"]
    # the log of the resumed run equals the uninterrupted one (the repeated part of epoch 2 was dropped)
    strip = [{k: r[k] for k in ("epoch", "step", "loss", "train_acc", "lr")} for r in _records(tmp_path / "a")]
    assert strip == [{k: r[k] for k in ("epoch", "step", "loss", "train_acc", "lr")}
                     for r in _records(tmp_path / "b")]
    assert json.loads((tmp_path / "b" / "status.json").read_text())["status"] == "finished"


def test_training_changes_weights_and_reduces_loss(tmp_path):
    cfg = _cfg(epochs=6, lr=0.1)
    train_supernet(cfg, tmp_path / "r", components=_components())
    recs = _records(tmp_path / "r")
    assert recs[-1]["loss"] < recs[0]["loss"]


def test_metrics_jsonl_and_run_directory(tmp_path, monkeypatch):
    monkeypatch.setattr(loop_mod, "LOG_EVERY", 4)
    run = tmp_path / "run"
    train_supernet(_cfg(epochs=2), run, components=_components())
    assert (run / "config.yaml").exists() and "paths_per_batch: 2" in (run / "config.yaml").read_text()
    recs = _records(run)
    # 6 steps per epoch, read back every 4 steps and at each epoch end
    assert [(r["epoch"], r["step"]) for r in recs] == [(1, 4), (1, 6), (2, 10), (2, 12)]
    for r in recs:
        assert set(r) >= {"epoch", "step", "loss", "train_acc", "lr", "images_per_s", "elapsed"}
        assert math.isfinite(r["loss"]) and 0.0 <= r["train_acc"] <= 100.0 and r["images_per_s"] > 0
    # cosine: the lr of the last update is close to min_lr, the first is close to lr
    assert recs[0]["lr"] < 0.05 and recs[-1]["lr"] < recs[0]["lr"]
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "finished" and status["device"] == "cpu" and status["step"] == 12
    assert (run / "checkpoints" / "last.pt").exists() and (run / "checkpoints" / "prev.pt").exists()
    with pytest.raises(ValueError, match="resume"):
        train_supernet(_cfg(epochs=2), run, components=_components())


def test_divergence_injected_nan(tmp_path, monkeypatch):
    monkeypatch.setattr(loop_mod, "LOG_EVERY", 50)
    model = TinySuperNet()
    model.poison_at = 9  # 2 paths per step: the 9th forward is step 4 (0-based)
    run = tmp_path / "nan"
    with pytest.raises(TrainingDiverged, match="non-finite") as info:
        train_supernet(_cfg(), run, components=_components(model=model))
    assert info.value.step == 4 and info.value.epoch == 1
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "diverged" and status["step"] == 4 and "non-finite" in status["message"]
    assert not (run / "checkpoints" / "last.pt").exists()


def test_divergence_huge_learning_rate(tmp_path):
    with pytest.raises(TrainingDiverged):
        train_supernet(_cfg(lr=1e6, grad_clip=None, momentum=0.0, nesterov=False), tmp_path / "lr",
                       components=_components())
    assert json.loads((tmp_path / "lr" / "status.json").read_text())["status"] == "diverged"


def test_evaluation_hook_and_resume_reuses_archs(tmp_path):
    rec = Recorder()
    cfg = _cfg(epochs=3).model_copy(update={"eval": _cfg().eval.model_copy(update={"final": True, "eval_every": 1})})
    run = tmp_path / "ev"

    def crash(step: int) -> None:
        if step == 8:
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError):
        train_supernet(cfg, run, components=_components(rec), on_step=crash)
    archs = json.loads((run / "evals" / "archs.json").read_text())
    assert len(archs["archs"]) == 5
    out = train_supernet(cfg, run, resume=True, components=_components(rec))
    assert rec.select_calls == 1  # the resumed run read evals/archs.json
    assert rec.eval_calls == ["epoch1", "epoch2", "final"]
    evals = _records(run, "eval")
    assert [(r["epoch"], r["tag"]) for r in evals] == [(1, "epoch1"), (2, "epoch2"), (3, "final")]
    assert out["metrics"] == {"kendall_tau": 0.25, "n_archs": 5}
    assert json.loads((run / "metrics.json").read_text())["kendall_tau"] == 0.25


def test_budget_and_max_steps(tmp_path):
    rec = Recorder()
    cfg = _cfg(epochs=3, max_minutes=1e-9)
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"final": True})})
    out = train_supernet(cfg, tmp_path / "b", components=_components(rec))
    assert out["stopped"] == "max_minutes" and out["epoch"] == 1 and rec.eval_calls == ["final"]
    out = train_supernet(_cfg(), tmp_path / "s", components=_components(), max_steps=8)
    assert out["stopped"] == "max_steps" and out["step"] == 8 and out["epoch"] == 1
    assert load_checkpoint(tmp_path / "s" / "checkpoints")["step"] == 6


def test_no_table_skips_evaluation(tmp_path):
    comps = _components()
    comps.table = None
    cfg = _cfg(epochs=1)
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"final": True})})
    with pytest.warns(UserWarning, match="skipped"):
        out = train_supernet(cfg, tmp_path / "n", components=comps)
    assert out["metrics"] is None and not (tmp_path / "n" / "metrics.json").exists()


# -- the real loop: digits, NB201 super-net, evaluation against a tiny ground truth ------------------------------
def _real_cfg(**protocol: Any) -> RunCfg:
    base = {"epochs": 2, "batch_size": 128, "lr": 0.05, "sampler": "fairnas", "device": "cpu", "seed": 3}
    base.update(protocol)
    return RunCfg.model_validate({
        "mapping": {"channels": 4, "cells_per_stage": 1, "path_dropout": 0.1},
        "protocol": base,
        "data": {"dataset": "digits", "valid_fraction": 0.2, "train_portion": 0.5},
        "eval": {"n_archs": 10, "bn_batches": 1, "bn_batch_size": 64, "eval_batches": 1, "eval_batch_size": 64,
                 "ground_truth": "nb201:cifar10_test_200ep", "final": True},
    })


@pytest.fixture()
def real_modules():
    pytest.importorskip("sklearn")
    for mod in ("wsbench.data.splits", "wsbench.spaces.nb201.supernet", "wsbench.evaluate.study"):
        pytest.importorskip(mod)


def test_real_loop_smoke_with_evaluation(tmp_path, data_dir, real_modules):
    from wsbench.benchmarks.store import save_table

    space = get_space("nb201")
    archs = space.enumerate()[::40]
    rng = np.random.default_rng(0)
    save_table(GroundTruth.from_columns("nb201", "nb201", {
        "key": np.array(space.keys(archs), dtype=object),
        "cifar10_test_200ep": rng.uniform(60, 94, len(archs))}), data_dir)
    run = tmp_path / "smoke"
    out = train_supernet(_real_cfg(), run, data_dir=data_dir)
    m = out["metrics"]
    assert m["n_archs"] == 10 and -1.0 <= m["kendall_tau"] <= 1.0
    assert json.loads((run / "metrics.json").read_text())["n_archs"] == 10
    assert (run / "evals" / "final.parquet").exists()
    assert len(json.loads((run / "evals" / "archs.json").read_text())["archs"]) == 10
    recs = _records(run)
    assert recs and all(math.isfinite(r["loss"]) for r in recs)


def test_real_loop_resume_is_exact(tmp_path, data_dir, real_modules):
    cfg = _real_cfg(sampler="random_nas", paths_per_batch=2)
    cfg = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"final": False})})
    train_supernet(cfg, tmp_path / "a", data_dir=data_dir)

    def crash(step: int) -> None:
        if step == 7:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_supernet(cfg, tmp_path / "b", data_dir=data_dir, on_step=crash)
    assert json.loads((tmp_path / "b" / "status.json").read_text())["status"] == "interrupted"
    train_supernet(cfg, tmp_path / "b", data_dir=data_dir, resume=True)
    sa = load_checkpoint(tmp_path / "a" / "checkpoints")["model"]
    sb = load_checkpoint(tmp_path / "b" / "checkpoints")["model"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_train_step_averages_path_gradients(tmp_path):
    import wsbench.spaces.nb201.space as nb201
    from wsbench.train.run import RunDir
    model = TinySuperNet()
    model.drop.p = 0.0
    cfg = _cfg(lr=1.0, momentum=0.0, nesterov=False, weight_decay=0.0, grad_clip=None, schedule="constant")
    tr = loop_mod.build_trainer(cfg, RunDir(tmp_path), _components(model=model))
    paths = [nb201.NB201Arch((1, 2, 3, 4, 0, 1)), nb201.NB201Arch((2, 0, 0, 3, 3, 4)), nb201.NB201Arch((0,) * 6)]
    tr.sampler.next = lambda: paths  # type: ignore[method-assign]
    x, y = torch.randn(8, 1, 4, 4), torch.randint(0, 3, (8,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads: dict[str, torch.Tensor] = {}
    for arch in paths:  # reference: mean of the per-path gradients, computed one path at a time
        model.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(model(x, arch), y).backward()
        for name, p in model.named_parameters():
            if p.grad is not None:
                grads[name] = grads.get(name, torch.zeros_like(p)) + p.grad / len(paths)
    model.zero_grad(set_to_none=True)
    loop_mod.train_step(tr, x, y, loop_mod.Meter(torch.device("cpu")))
    after = model.state_dict()
    for name, _ in model.named_parameters():
        expected = before[name] - grads[name] if name in grads else before[name]
        assert torch.allclose(after[name], expected, atol=1e-6), name
    assert "edges.4.2.weight" not in grads and torch.equal(after["edges.4.2.weight"], before["edges.4.2.weight"])
    assert tr.step == 1


def test_progress_bar_quiet_and_terminal(monkeypatch):
    from wsbench.train.progress import TrainProgress

    with TrainProgress(10, quiet=True) as p:
        assert not p.enabled
        p.advance(3, {"loss": 1.0})
    monkeypatch.setattr("sys.stderr.isatty", lambda: True)
    with TrainProgress(10, done=2) as p:
        assert p.enabled
        p.advance(3, {"loss": 1.0, "acc": 50.0}, epoch=1)
        assert p._progress.tasks[0].completed == 5


def test_tensorboard_mirrors_the_metrics_log(tmp_path, monkeypatch):
    from wsbench.train import run as run_mod

    scalars: list[tuple[str, float, int]] = []

    class FakeWriter:
        def __init__(self, log_dir: str) -> None:
            assert log_dir.endswith("tensorboard")

        def add_scalar(self, tag: str, value: float, step: int) -> None:
            scalars.append((tag, value, step))

        def flush(self) -> None:
            pass

    monkeypatch.setattr(loop_mod, "LOG_EVERY", 4)
    monkeypatch.setattr(run_mod, "_summary_writer_class", lambda: FakeWriter)
    train_supernet(_cfg(epochs=1, tensorboard=True), tmp_path / "tb", components=_components())
    recs = _records(tmp_path / "tb")
    assert [(t, v, s) for t, v, s in scalars if t == "train/loss"] == [("train/loss", r["loss"], r["step"])
                                                                        for r in recs]

    def missing() -> None:
        raise ImportError("No module named 'tensorboard'")

    monkeypatch.setattr(run_mod, "_summary_writer_class", missing)
    with pytest.warns(UserWarning, match="pip install tensorboard"):
        train_supernet(_cfg(epochs=1, tensorboard=True), tmp_path / "tb2", components=_components())
    assert _records(tmp_path / "tb2")  # training went on and logged


def test_progress_lines_when_not_on_a_terminal():
    import io

    from wsbench.train.progress import TrainProgress

    out = io.StringIO()  # like nohup or a SLURM log: not a terminal
    with TrainProgress(6, steps_per_epoch=3, stream=out, every_s=1e9) as p:
        assert p.lines and not p.enabled
        p.advance(2, {"loss": 2.5}, epoch=1)
        assert out.getvalue() == ""  # mid-epoch, before the interval: nothing yet
        p.advance(1, {"loss": 2.25, "acc": 0.5}, epoch=1)
        p.evaluation("epoch1", {"sparse_kendall_tau": 0.41, "kendall_tau": 0.3, "spearman": 0.5,
                                "params_sparse_kendall_tau": 0.6, "n_archs": 20, "bn_mode": "bns-ft"})
        p.advance(3, {"loss": 2.0}, epoch=2)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("train epoch 1/2 step 3/6 loss 2.25 acc 0.5 elapsed ") and "ETA " in lines[0]
    assert lines[1] == ("eval epoch1: super-net s-KdT 0.410 Kendall-Tau 0.300 Spearman 0.500 (params s-KdT "
                        "0.600), 20 architectures, bns-ft")
    assert lines[2].startswith("train epoch 2/2 step 6/6 loss 2 ")
    quiet = io.StringIO()
    with TrainProgress(6, steps_per_epoch=3, stream=quiet, quiet=True) as p:
        p.advance(3, {"loss": 1.0}, epoch=1)
        p.evaluation("epoch1", {})
    assert quiet.getvalue() == ""


def test_train_cli_logs_one_line_per_epoch_and_json_is_one_document(tmp_path):
    import json

    from typer.testing import CliRunner

    from wsbench.cli import app

    res = CliRunner().invoke(app, ["train", "nb201-digits", "--out", str(tmp_path / "r"), "--json",
                                   "protocol.epochs=2", "eval.final=false"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)  # stdout is exactly one JSON document
    assert doc["run_dir"] == str(tmp_path / "r")
    epochs = [line for line in res.stderr.splitlines() if line.startswith("train epoch")]
    assert [line.split()[2] for line in epochs] == ["1/2", "2/2"]
