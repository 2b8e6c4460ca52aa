"""BN modes, proxy evaluation, architecture lists and the study record, on small stand-in super-nets."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from wsbench.benchmarks.table import GroundTruth
from wsbench.evaluate.archs import ArchListError, load_arch_list, save_arch_list, select_eval_archs
from wsbench.evaluate.bn import BNModeError, bn_layers, bn_reestimation, effective_bn_mode, reestimate_bn
from wsbench.evaluate.metrics import spearman
from wsbench.evaluate.proxy import evaluate_archs, evaluate_archs_full

torch.set_num_threads(1)


def _ops(arch: Any) -> tuple[int, ...]:
    return tuple(arch.ops) if hasattr(arch, "ops") else tuple(arch)


class ToyNet(nn.Module):
    """A stand-in super-net: a path of ``len(arch)`` blocks, each choosing one of ``n_ops`` conv-BN ops."""

    def __init__(self, n_ops: int = 5, depth: int = 2, c: int = 4, classes: int = 3, track: bool = True):
        super().__init__()
        self.depth = depth
        self.stem = nn.Conv2d(3, c, 3, padding=1, bias=False)
        self.blocks = nn.ModuleList(
            nn.ModuleList(nn.Sequential(nn.Conv2d(c, c, 1 + 2 * (o % 2), padding=o % 2, bias=False),
                                        nn.BatchNorm2d(c, track_running_stats=track), nn.ReLU())
                          for o in range(n_ops))
            for _ in range(depth))
        self.drop = nn.Dropout(0.5)
        self.head = nn.Linear(c, classes)

    def forward(self, x: torch.Tensor, arch: Any) -> torch.Tensor:
        h = self.stem(x)
        for block, o in zip(self.blocks, _ops(arch)[: self.depth], strict=True):
            h = block[o](self.drop(h))  # dropout before BN: if it were active, BN statistics would change
        return self.head(h.mean(dim=(2, 3)))


def _batches(n: int, bs: int = 16, seed: int = 0, classes: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(bs, 3, 8, 8, generator=g) * 2 + 1, torch.randint(0, classes, (bs,), generator=g))
            for _ in range(n)]


def _randomise_stats(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(5)
    for m in bn_layers(model):
        if m.running_mean is not None:
            m.running_mean.copy_(torch.randn(m.num_features, generator=g))
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.num_batches_tracked.fill_(7)


def _same_state(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class BNProbe(nn.Module):
    """BN right on the input behind a dropout: the batch statistics are those of the input itself."""

    def __init__(self, track: bool):
        super().__init__()
        self.drop = nn.Dropout(0.5)
        self.bn = nn.BatchNorm2d(3, momentum=0.1, track_running_stats=track)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.drop(x))


@pytest.mark.parametrize("track", [True, False])
def test_reestimation_is_the_exact_average_of_batch_statistics(track: bool) -> None:
    probe = BNProbe(track)
    batches = [x * (i + 1) + i for i, (x, _) in enumerate(_batches(4))]  # batches with different statistics
    before = _snapshot(probe)
    with bn_reestimation(probe):
        reestimate_bn(probe, probe, batches)
        mean = torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0)
        var = torch.stack([b.transpose(0, 1).reshape(3, -1).var(dim=1, unbiased=True) for b in batches]).mean(0)
        torch.testing.assert_close(probe.bn.running_mean, mean, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(probe.bn.running_var, var, rtol=1e-5, atol=1e-5)
        assert not probe.training and not probe.bn.training and not probe.drop.training
        # eval now normalises with the re-estimated statistics
        x = batches[0]
        expect = (x - mean.view(1, 3, 1, 1)) / torch.sqrt(var.view(1, 3, 1, 1) + probe.bn.eps)
        expect = expect * probe.bn.weight.view(1, 3, 1, 1) + probe.bn.bias.view(1, 3, 1, 1)
        torch.testing.assert_close(probe(x), expect, rtol=1e-4, atol=1e-4)
    assert _same_state(before, probe.state_dict())
    assert probe.bn.momentum == 0.1 and probe.bn.track_running_stats is track and probe.training
    assert (probe.bn.running_mean is None) is (not track)


def test_reestimation_restores_buffers_flags_and_modes_exactly() -> None:
    model = ToyNet(track=True)
    _randomise_stats(model)
    model.bn_list = None  # plain attribute: must not matter
    before = _snapshot(model)
    mean_obj = model.blocks[0][1][1].running_mean
    model.train()
    with bn_reestimation(model):
        reestimate_bn(model, lambda x: model(x, (1, 2)), [b[0] for b in _batches(3)])
        assert not torch.equal(model.blocks[0][1][1].running_mean, before["blocks.0.1.1.running_mean"])
    assert _same_state(before, model.state_dict())
    assert model.blocks[0][1][1].running_mean is mean_obj  # same tensor object, restored in place
    assert all(m.training for m in model.modules())


def test_reestimate_bn_outside_context_keeps_new_statistics() -> None:
    probe = BNProbe(track=False)
    batches = [b[0] for b in _batches(2)]
    reestimate_bn(probe, probe, batches)
    assert probe.bn.running_mean is not None and not probe.bn.track_running_stats and probe.bn.momentum == 0.1
    torch.testing.assert_close(probe.bn.running_mean, torch.stack([b.mean(dim=(0, 2, 3)) for b in batches]).mean(0))
    with pytest.raises(ValueError, match="at least one batch"):
        reestimate_bn(probe, probe, [])


def _reference_bns_ft(model: nn.Module, arch: Any, bn_batches: list, eval_batches: list,
                      standalone: bool = False, with_loss: bool = False) -> Any:
    """Naive bns-ft: deep copy, torch's own cumulative average (momentum=None), eval, count."""
    ref = model if standalone else copy.deepcopy(model)
    run = (lambda x: ref(x)) if standalone else (lambda x: ref(x, arch))
    for m in bn_layers(ref):
        if m.running_mean is None:
            m.running_mean, m.running_var = torch.zeros(m.num_features), torch.ones(m.num_features)
            m.num_batches_tracked = torch.zeros((), dtype=torch.long)
            m.track_running_stats = True
        m.reset_running_stats()
        m.momentum = None
    ref.eval()
    for m in bn_layers(ref):
        m.train()
    with torch.no_grad():
        for x, _ in bn_batches:
            run(x)
        ref.eval()
        correct = sum(int((run(x).argmax(1) == y).sum()) for x, y in eval_batches)
        loss = sum(float(torch.nn.functional.cross_entropy(run(x), y, reduction="sum")) for x, y in eval_batches)
    n = sum(len(y) for _, y in eval_batches)
    return (100.0 * correct / n, loss / n) if with_loss else 100.0 * correct / n


@pytest.mark.parametrize("track", [True, False])
def test_evaluate_archs_bns_ft_matches_naive_reference_and_restores_model(track: bool) -> None:
    torch.manual_seed(0)
    model = ToyNet(track=track)
    _randomise_stats(model)
    archs = [(0, 1), (1, 1), (2, 3), (4, 0), (3, 2)]
    bn_b, ev_b = _batches(3, seed=1), _batches(4, seed=2)
    before = _snapshot(model)
    got, loss = evaluate_archs_full(model, archs, bn_b, ev_b, "bns-ft")
    assert _same_state(before, model.state_dict())
    assert model.training  # a fresh module is in train mode; evaluation must give that back
    want = np.array([_reference_bns_ft(model, a, bn_b, ev_b, with_loss=True) for a in archs])
    np.testing.assert_allclose(got, want[:, 0])
    np.testing.assert_allclose(loss, want[:, 1], rtol=1e-5)
    np.testing.assert_array_equal(evaluate_archs(model, archs, bn_b, ev_b, "bns-ft"), got)
    assert got.shape == (5,) and ((got >= 0) & (got <= 100)).all()


@pytest.mark.parametrize("track", [False, True])
def test_bns_ft_on_the_nb201_supernet_matches_its_standalone_networks(track: bool) -> None:
    import wsbench.spaces as spaces
    from wsbench.config import MappingCfg

    torch.manual_seed(0)
    mapping = MappingCfg(channels=4, cells_per_stage=1, bn_track_running_stats=track, path_dropout=0.3,
                         global_dropout=0.3)
    model = spaces.build_supernet("nb201", mapping, num_classes=3)
    if track:
        _randomise_stats(model)
    archs = [(3, 3, 2, 1, 4, 3), (1, 0, 3, 3, 2, 4), (2, 4, 1, 0, 3, 3)]
    bn_b, ev_b = _batches(2, bs=8, seed=1), _batches(2, bs=8, seed=2)
    before = _snapshot(model)
    got = evaluate_archs(model, archs, bn_b, ev_b, "bns-ft")
    assert _same_state(before, model.state_dict())
    want = []
    for arch in archs:
        alone = model.standalone(arch)
        model.copy_to_standalone(arch, alone)
        want.append(_reference_bns_ft(alone, arch, bn_b, ev_b, standalone=True))
        with bn_reestimation(model), torch.no_grad():  # logits agree too, not just accuracies
            reestimate_bn(model, lambda x, a=arch: model(x, a), [b[0] for b in bn_b])
            torch.testing.assert_close(model(ev_b[0][0], arch), alone(ev_b[0][0]), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, want)
    assert _same_state(before, model.state_dict())
    np.testing.assert_allclose(evaluate_archs(model, archs, bn_b, ev_b, "bns-ft", channels_last=True), got)


def test_evaluate_archs_accepts_a_custom_forward() -> None:
    model = ToyNet()
    bn_b, ev_b = _batches(2, seed=1), _batches(2, seed=2)
    direct = evaluate_archs(model, [(0, 1), (2, 2)], bn_b, ev_b, "bns-ft")
    named = evaluate_archs(model, ["a", "b"], bn_b, ev_b, "bns-ft",
                           forward=lambda x, name: model(x, {"a": (0, 1), "b": (2, 2)}[name]))
    np.testing.assert_array_equal(direct, named)


def test_no_ft_uses_trained_statistics() -> None:
    model = ToyNet(track=True)
    _randomise_stats(model)
    ev_b = _batches(3, seed=2)
    got = evaluate_archs(model, [(1, 3)], [], ev_b, "no-ft")
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(x, (1, 3)).argmax(1) == y).sum()) for x, y in ev_b)
    assert got[0] == pytest.approx(100.0 * correct / 48)
    assert effective_bn_mode(model, "no-ft") == "no-ft"


def test_no_ft_without_running_stats_falls_back_to_batch_statistics() -> None:
    model = ToyNet(track=False)
    ev_b = _batches(3, seed=2)
    archs = [(0, 0), (1, 2), (3, 4)]
    np.testing.assert_array_equal(evaluate_archs(model, archs, [], ev_b, "no-ft"),
                                  evaluate_archs(model, archs, [], ev_b, "batch"))
    assert effective_bn_mode(model, "no-ft") == "batch"


def test_batch_mode_uses_batch_statistics_without_touching_buffers() -> None:
    model = ToyNet(track=True)
    _randomise_stats(model)
    before = _snapshot(model)
    ev_b = _batches(3, seed=2)
    got = evaluate_archs(model, [(2, 1)], [], ev_b, "batch")
    assert _same_state(before, model.state_dict())
    ref = ToyNet(track=False)
    ref.load_state_dict({k: v for k, v in before.items() if "running" not in k and "num_batches" not in k})
    ref.eval()
    for m in bn_layers(ref):
        m.train()
    with torch.no_grad():
        correct = sum(int((ref(x, (2, 1)).argmax(1) == y).sum()) for x, y in ev_b)
    assert got[0] == pytest.approx(100.0 * correct / 48)


def test_bad_bn_mode_and_missing_batches_raise() -> None:
    model = ToyNet()
    with pytest.raises(BNModeError, match="bns-ft"):
        evaluate_archs(model, [(0, 0)], _batches(1), _batches(1), "bn-ft")
    with pytest.raises(ValueError, match="BN batches"):
        evaluate_archs(model, [(0, 0)], [], _batches(1), "bns-ft")
    with pytest.raises(ValueError, match="evaluation batch"):
        evaluate_archs(model, [(0, 0)], _batches(1), [], "bns-ft")


# -- architecture lists ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def nb201_space() -> Any:
    import wsbench.spaces.nb201.space as nb201
    return nb201.NB201Space()


def _table(space: Any, archs: list[Any], metric: str = "acc", seed: int = 0) -> GroundTruth:
    rng = np.random.default_rng(seed)
    keys = space.keys(archs)
    return GroundTruth.from_columns("nb201", "nb201", {"key": np.asarray(keys, dtype=object),
                                                       metric: rng.uniform(80, 95, len(keys))})


def test_select_eval_archs_unique_known_and_deterministic(nb201_space: Any, tmp_path: Path) -> None:
    space = nb201_space
    every = space.enumerate()
    known = [a for i, a in enumerate(every) if i % 3 == 0]  # a table that knows a third of the cells
    table = _table(space, known)
    archs = select_eval_archs(space, table, n=60, seed=4)
    assert len(archs) == 60
    assert len({space.canonical_id(a) for a in archs}) == 60
    assert table.contains(space.keys(archs)).all()
    assert archs == select_eval_archs(space, table, n=60, seed=4)
    assert archs != select_eval_archs(space, table, n=60, seed=5)
    path = save_arch_list(tmp_path / "archs.json", space, archs, seed=4)
    assert json.loads(path.read_text())["keys"] == space.keys(archs)
    assert load_arch_list(path, space) == archs


def test_select_eval_archs_errors_when_table_too_small(nb201_space: Any, tmp_path: Path) -> None:
    space = nb201_space
    table = _table(space, space.enumerate()[:40])
    n_classes = len({space.canonical_id(a) for a in space.enumerate()[:40]})
    # the table covers too little of the space to draw from it: "auto" visits the table's rows instead
    got = select_eval_archs(space, table, n=n_classes, seed=0)
    assert len({space.canonical_id(a) for a in got}) == n_classes and table.contains(space.keys(got)).all()
    assert got == select_eval_archs(space, table, n=n_classes, seed=0, source="table")
    with pytest.raises(ArchListError, match="n_archs"):
        select_eval_archs(space, table, n=n_classes + 1, seed=0)
    with pytest.raises(ArchListError, match="source='table'"):
        select_eval_archs(space, table, n=5, seed=0, source="space")
    (tmp_path / "bad.json").write_text(json.dumps({"space": "nb101", "archs": []}))
    with pytest.raises(ArchListError, match="nb101"):
        load_arch_list(tmp_path / "bad.json", space)


# -- the study record ------------------------------------------------------------------------------------------
def test_evaluate_supernet_writes_record(nb201_space: Any, tmp_path: Path) -> None:
    import wsbench.spaces as spaces
    if not hasattr(spaces, "get_space"):
        pytest.skip("wsbench.spaces.get_space not available yet")
    from wsbench.config import RunCfg
    from wsbench.evaluate.study import evaluate_supernet
    from wsbench.plots.scatter import scatter_plot

    space = nb201_space
    archs = space.sample_unique(np.random.default_rng(0), 12)
    table = _table(space, space.enumerate(), metric="cifar10_test_200ep")
    g = torch.Generator().manual_seed(0)
    splits = SimpleNamespace(
        train_x=torch.randint(0, 256, (300, 3, 8, 8), dtype=torch.uint8, generator=g),
        train_y=torch.randint(0, 3, (300,), generator=g),
        valid_x=torch.randint(0, 256, (100, 3, 8, 8), dtype=torch.uint8, generator=g),
        valid_y=torch.randint(0, 3, (100,), generator=g),
        mean=torch.tensor([120.0, 110.0, 100.0]), std=torch.tensor([60.0, 60.0, 60.0]), num_classes=3)
    cfg = RunCfg.model_validate({"eval": {"bn_batches": 2, "bn_batch_size": 32, "eval_batches": 3,
                                          "eval_batch_size": 40}})
    model = ToyNet(track=False)
    before = _snapshot(model)
    out = evaluate_supernet(model, cfg, splits, table, archs, "cpu", out_dir=tmp_path, tag="final")
    assert _same_state(before, model.state_dict())
    frame = pd.read_parquet(tmp_path / "evals" / "final.parquet")
    assert list(frame.columns) == ["key", "proxy_acc", "proxy_loss", "truth", "params"]
    assert frame["key"].tolist() == space.keys(archs)
    np.testing.assert_allclose(frame["truth"], table.values("cifar10_test_200ep", table.index(space.keys(archs))))
    assert frame["params"].tolist() == [space.num_params(a) for a in archs]
    # 3 eval batches of at most 40 from a 100-image split: all 100 images, so accuracies are multiples of 1%
    np.testing.assert_allclose(frame["proxy_acc"], np.round(frame["proxy_acc"]))
    assert out["supernet_accuracy"] == pytest.approx(frame["proxy_acc"].mean())
    assert out["n_archs"] == 12 and out["bn_mode"] == "bns-ft" and out["ground_truth"] == "nb201:cifar10_test_200ep"
    for key in ("kendall_tau", "sparse_kendall_tau", "spearman", "p_beat_random", "final_model_accuracy",
                "params_spearman", "params_kendall_tau", "params_sparse_kendall_tau", "eval_seconds",
                "archs_per_second"):
        assert key in out
    # deterministic: the same seeds give the same batches and so the same proxies
    again = evaluate_supernet(model, cfg, splits, table, archs, "cpu")
    assert again["supernet_accuracy"] == out["supernet_accuracy"]
    # the loss proxy: mean CE of the same passes; eval.proxy=neg_loss ranks by it (acc_*/loss_* keys side by side)
    assert (frame["proxy_loss"] > 0).all() and out["supernet_loss"] == pytest.approx(frame["proxy_loss"].mean())
    truth = frame["truth"].to_numpy()
    np.testing.assert_equal(out["acc_sparse_kendall_tau"], out["sparse_kendall_tau"])
    assert np.isfinite(out["loss_spearman"])
    assert out["loss_spearman"] == pytest.approx(spearman(-frame["proxy_loss"].to_numpy(), truth))
    by_loss = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"proxy": "neg_loss"})})
    lo = evaluate_supernet(model, by_loss, splits, table, archs, "cpu")
    assert lo["spearman"] == pytest.approx(out["loss_spearman"]) and lo["proxy"] == "neg_loss"
    assert lo["supernet_accuracy"] == pytest.approx(out["supernet_accuracy"])
    # accuracy_params: mean of the accuracy rank and the parameter rank (ties share their mean rank)
    def ranks(v: np.ndarray) -> np.ndarray:
        return np.array([(v < x).sum() + ((v == x).sum() + 1) / 2.0 for x in v])

    hand = (ranks(frame["proxy_acc"].to_numpy()) + ranks(frame["params"].to_numpy().astype(float))) / 2
    assert out["hybrid_spearman"] == pytest.approx(spearman(hand, truth))
    hy = evaluate_supernet(model, cfg.model_copy(update={"eval": cfg.eval.model_copy(
        update={"proxy": "accuracy_params"})}), splits, table, archs, "cpu")
    # the ensemble is its own named entry: the headline stays the super-net's own ranking
    assert hy["hybrid_spearman"] == pytest.approx(out["hybrid_spearman"]) and hy["proxy"] == "accuracy_params"
    assert hy["spearman"] == pytest.approx(hy["acc_spearman"], nan_ok=True) and hy["ranked_by"] == "accuracy"
    png = scatter_plot(frame, tmp_path / "scatter.png", "toy")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = scatter_plot(frame.drop(columns="params"), tmp_path / "plain.png", "toy")  # older tables: no colours
    assert plain.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plain.read_bytes() != png.read_bytes()
    bad = cfg.model_copy(update={"eval": cfg.eval.model_copy(update={"ground_truth": "nb101:acc"})})
    with pytest.raises(ValueError, match="nb101"):
        evaluate_supernet(model, bad, splits, table, archs, "cpu")
