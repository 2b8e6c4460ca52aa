"""NB101 super-net: path equivalence with the stand-alone network, the benchmark's macro and channel rules,
dynamic channels, kernel sharing, path-only compute, dropout."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from supernet_helpers import randomise_bn
from wsbench.config import MappingCfg
from wsbench.evaluate.bn import bn_reestimation, reestimate_bn
from wsbench.sampling import make_sampler
from wsbench.spaces import build_supernet
from wsbench.spaces.nb101.space import NB101Arch, NB101Space, from_matrix, num_params, subspace_of
from wsbench.spaces.nb101.supernet import NB101SuperNet, cell_spec, count_params
from wsbench.supernet import SuperNet
from wsbench.supernet.channels import ChannelSel, DynamicBN, interpolation, make_sel

C, N, K = 8, 1, 5  # small channels, one cell per stack, 5 classes
SPACE = NB101Space()


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


def _net(subspace: str | None = None, **kw: object) -> NB101SuperNet:
    net = build_supernet("nb101", MappingCfg(channels=C, cells_per_stage=N, op_map="node", **kw), K,
                         subspace=subspace)
    assert isinstance(net, NB101SuperNet)
    return net


def _randomise(net: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial weights, BN affine parameters and running statistics, so a wrong weight or BN shows up."""
    randomise_bn(net, gen)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("transform"):  # OFA transform: identity plus noise
                p.add_(0.2 * torch.randn(p.shape, generator=gen))


def _archs(seed: int, n: int, subspace: str = "full") -> list[NB101Arch]:
    return SPACE.sample(np.random.default_rng(seed), n, subspace=subspace)


MODES = list(itertools.product(["fixed", "shuffle", "interpolate"], ["separate", "single", "ofa"]))


@pytest.mark.parametrize(("dyn", "kernel"), MODES)
def test_path_equals_standalone(dyn: str, kernel: str) -> None:
    """20 random cells per mode: the sub-network equals its stand-alone twin (train and eval mode), with the
    same gradient on the stem; BN tracking and WSBN alternate across modes."""
    seed = MODES.index((dyn, kernel))
    track, wsbn = seed % 2 == 0, seed % 3 == 0
    net = _net(dynamic_channels=dyn, kernel=kernel, bn_track_running_stats=track, wsbn=wsbn)
    gen = torch.Generator().manual_seed(seed)
    _randomise(net, gen)
    x = torch.randn(4, 3, 8, 8, generator=gen)
    for arch in _archs(seed, 20):
        alone = net.standalone(arch)
        for mode in (True, False):
            net.train(mode)
            alone.train(mode)
            net.seed_channels(seed)
            plan = net.channel_plan(arch)  # the selection the next forward draws (shuffle: seeded subset)
            net.seed_channels(seed)
            net.copy_to_standalone(arch, alone, plan)
            net.zero_grad()
            alone.zero_grad()
            y_net, y_alone = net(x, arch), alone(x)
            assert torch.allclose(y_net, y_alone, atol=1e-5, rtol=0), (dyn, kernel, arch, mode)
            if mode:
                y_net.square().sum().backward()
                y_alone.square().sum().backward()
                g_net, g_alone = net.stem.conv.weight.grad, alone.stem.conv.weight.grad
                assert g_net is not None and g_alone is not None
                assert torch.allclose(g_net, g_alone, atol=1e-4, rtol=1e-4)


def test_shuffle_draws_subsets_in_training_only() -> None:
    """Shuffle: training forwards draw different channel subsets (so outputs differ), reseeding repeats them;
    eval mode uses the first channels; A1 cells (nothing to reduce) are unaffected."""
    net = _net(dynamic_channels="shuffle")
    arch = NB101Arch.from_matrix("0110000100010000", "in,c3,c1,out")  # two vertices feed the output: C/2 each
    x = torch.randn(4, 3, 8, 8)
    net.train()
    net.seed_channels(3)
    a = net(x, arch)
    b = net(x, arch)
    net.seed_channels(3)
    assert not torch.allclose(a, b) and torch.equal(net(x, arch), a)
    sels = [s for cell in net.channel_plan(arch, draw=False) for s in cell if s is not None]
    assert sels and all(s.index is None for s in sels)
    a1 = NB101Arch.from_matrix("0100001000010000", "in,c3,c3,out")
    assert all(s is None for cell in net.channel_plan(a1, draw=True) for s in cell)


def test_disable_requires_a_subspace_and_matches_standalone() -> None:
    with pytest.raises(ValueError, match="space.subspace"):
        _net(dynamic_channels="disable")
    with pytest.raises(ValueError, match="space.subspace"):
        _net(dynamic_channels="disable", subspace="full")
    for k, sub in enumerate(("A1", "A2", "A3", "A4"), start=1):
        net = _net(dynamic_channels="disable", subspace=sub, bn_track_running_stats=True)
        _randomise(net, torch.Generator().manual_seed(k))
        # slots hold ceil(C_out / k) channels: C=8 -> 8, 4, 3 (8 = 3+3+2), 2 in the first stack
        assert net.cells()[0].vertex["1"].conv3.conv.weight.shape[0] == -(-C // k)
        x = torch.randn(3, 3, 8, 8)
        for arch in _archs(k, 5, sub):
            alone = net.standalone(arch)
            for mode in (True, False):
                net.copy_to_standalone(arch, alone)
                net.train(mode)
                alone.train(mode)
                assert torch.allclose(net(x, arch), alone(x), atol=1e-5, rtol=0)
        other = _archs(10 + k, 1, f"A{k % 4 + 1}")[0]
        with pytest.raises(ValueError, match="covers"):
            net(x, other)


def test_standalone_params_match_the_benchmark() -> None:
    """At the benchmark's configuration (C=128, 3 stacks of 3 cells, 10 classes) the stand-alone network has
    exactly ``spaces.nb101.num_params`` trainable parameters, for 50 sampled cells."""
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        net = build_supernet("nb101", MappingCfg(channels=128, cells_per_stage=3, op_map="node"), 10)
        for arch in _archs(0, 50):
            assert count_params(net.standalone(arch)) == num_params(arch)


def test_standalone_params_match_the_benchmark_table(shared_data: Path) -> None:
    """The params column of the benchmark's own records (shared NB101 sample), up to 6 cells of each size."""
    path = shared_data / "nb101" / "nb101_sample.csv.gz"
    with gzip.open(path, "rt") as fh:
        df = pd.read_csv(fh, nrows=30000, usecols=["matrix", "ops", "params", "n_vertices"],
                         dtype={"matrix": str})
    rows = df.groupby("n_vertices").head(6)
    assert len(rows) >= 20
    with torch.device("meta"):
        net = build_supernet("nb101", MappingCfg(channels=128, cells_per_stage=3, op_map="node"), 10)
        for bits, ops, params in zip(rows["matrix"], rows["ops"], rows["params"], strict=True):
            assert count_params(net.standalone(from_matrix(bits, ops))) == int(params)


def _vertex_channels_seen(model: nn.Module, x: torch.Tensor, run: object) -> list[list[int]]:
    """Channel count of every vertex output (conv blocks and max-pools via the cell's tensors) per cell."""
    seen: list[list[int]] = []
    cells = model.cells()  # type: ignore[operator]
    handles = []
    for cell in cells:
        seen.append([])
        for t, vc in cell.vertex.items():
            handles.append(vc.register_forward_hook(
                lambda mod, args, out, lst=seen[-1], t=int(t): lst.append((t, out.shape[1]))))
    run()  # type: ignore[operator]
    for h in handles:
        h.remove()
    return [[c for _, c in sorted(s)] for s in seen]


def test_vertex_channels_follow_the_benchmark_rule() -> None:
    """Hand-worked cases of the benchmark's rule at C_out = 8, 16, 32: output-feeding vertices split C_out,
    the remainder going to the first; other vertices take the max over their successors."""
    net = _net(dynamic_channels="interpolate")
    x = torch.randn(2, 3, 8, 8)
    # 1->2, 1->3, 2->out, 3->out, 4->out; 0->1, 0->4: vertices 2,3,4 feed the output (3 ways), 1 feeds 2 and 3
    arch = NB101Arch.from_matrix(np.array([
        [0, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 0], [0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0]]), "in,c3,c1,c3,c1,out")
    expected = {8: [3, 3, 3, 2], 16: [6, 6, 5, 5], 32: [11, 11, 11, 10]}  # 8 = 3+3+2, 16 = 6+5+5, 32 = 11+11+10
    seen = _vertex_channels_seen(net, x, lambda: net(x, arch))
    assert seen == [expected[c] for c in (8, 16, 32)]
    alone = net.standalone(arch)
    assert _vertex_channels_seen(alone, x, lambda: alone(x)) == seen
    assert [c.shape[1] for c in _cell_outputs(net, x, arch)] == [8, 16, 32]


def _cell_outputs(net: NB101SuperNet, x: torch.Tensor, arch: NB101Arch) -> list[torch.Tensor]:
    outs: list[torch.Tensor] = []
    handles = [c.register_forward_hook(lambda m, a, o: outs.append(o)) for c in net.cells()]
    net(x, arch)
    for h in handles:
        h.remove()
    return outs


def test_only_the_sampled_path_runs() -> None:
    """Forward hooks: exactly the projections and convolutions of the sampled cell are called; unsampled ones
    get no gradient; 3 stacks with 2x2 max-pool downsampling give 8x8 -> 4x4 -> 2x2."""
    net = _net(kernel="separate")
    calls: set[tuple[int, str]] = set()
    for i, cell in enumerate(net.cells()):
        for name, mod in cell.named_modules():
            if name == "proj_out" or (name.startswith("proj.") and name.count(".") == 1):
                mod.register_forward_hook(lambda *_, key=(i, name + "."): calls.add(key))
            elif name.startswith("vertex.") and name.endswith(".bn.0"):  # the BN behind a conv kernel runs
                mod.register_forward_hook(lambda *_, key=(i, name[: -len("bn.0")]): calls.add(key))
    x = torch.randn(2, 3, 8, 8)
    for arch in _archs(5, 10):
        spec = cell_spec(arch)
        calls.clear()
        net.zero_grad(set_to_none=True)
        net(x, arch).sum().backward()
        want = {f"proj.{t}." for t in range(1, spec.n - 1) if spec.from_input[t]}
        want |= {f"vertex.{t}.conv{spec.kernels[t]}." for t in range(1, spec.n - 1) if spec.kernels[t]}
        if spec.residual or not spec.out_srcs:
            want.add("proj_out.")
        assert calls == {(i, w) for i in range(3) for w in want}, arch
        for cell in net.cells():
            for name, p in cell.named_parameters():
                assert (p.grad is not None) == name.startswith(tuple(want)), (arch, name)
    shapes: list[tuple[int, ...]] = []
    for cell in net.cells():
        cell.register_forward_hook(lambda m, a, o: shapes.append(tuple(o.shape[2:])))
    net(x, _archs(6, 1)[0])
    assert shapes == [(8, 8), (4, 4), (2, 2)]


def test_kernel_sharing() -> None:
    """single: the 1x1 op uses the centre tap of the 3x3 kernel and the same BN; ofa: centre tap times the
    learned matrix; separate: own kernels. Fewer parameters when shared."""
    sep, single, ofa = (_net(kernel=k) for k in ("separate", "single", "ofa"))
    v = single.cells()[0].vertex["1"]
    w1, block = v.effective(1)
    assert torch.equal(w1, v.conv3.conv.weight[:, :, 1:2, 1:2]) and block is v.conv3
    vo = ofa.cells()[0].vertex["1"]
    with torch.no_grad():
        vo.transform.copy_(torch.randn(C, C))
    w1o, _ = vo.effective(1)
    assert torch.allclose(w1o[:, :, 0, 0], vo.conv3.conv.weight[:, :, 1, 1] @ vo.transform, atol=1e-6)
    assert not hasattr(single.cells()[0].vertex["1"], "conv1") and hasattr(sep.cells()[0].vertex["1"], "conv1")
    assert count_params(single) < count_params(ofa) < count_params(sep)


def test_interpolation_is_linear_resampling_on_both_axes() -> None:
    m, slots = interpolation(4, 8, torch.device("cpu"))
    assert torch.allclose(m, torch.kron(torch.eye(4), torch.tensor([[0.5, 0.5]])))  # halving averages pairs
    assert slots.tolist() == [1, 3, 5, 7]  # nearest slot to positions 0.5, 2.5, 4.5, 6.5 (rounding half up)
    m3, s3 = interpolation(3, 8, torch.device("cpu"))
    assert torch.allclose(m3.sum(1), torch.ones(3)) and len(set(s3.tolist())) == 3
    sel = make_sel("interpolate", 3, 8, torch.device("cpu"))
    assert sel is not None
    w = torch.randn(8, 8, 3, 3)
    red = sel.reduce(sel.reduce(w, 0), 1)
    assert torch.allclose(red, torch.einsum("oi,ijhw,kj->okhw", m3, w, m3), atol=1e-6)
    assert make_sel("interpolate", 8, 8, torch.device("cpu")) is None


@pytest.mark.parametrize("mode", ["fixed", "shuffle", "interpolate"])
def test_dynamic_bn_statistics_round_trip(mode: str) -> None:
    """A training forward updates exactly the selected statistics slots as ``nn.BatchNorm2d`` would on the
    reduced channels; an eval forward reads them back."""
    bn = DynamicBN(8, momentum=0.3)
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(8))
    sel = make_sel(mode, 5, 8, torch.device("cpu"), torch.Generator().manual_seed(1))
    assert isinstance(sel, ChannelSel)
    ref = nn.BatchNorm2d(5, momentum=0.3)
    with torch.no_grad():
        ref.weight.copy_(sel.reduce(bn.weight, 0))
        ref.bias.copy_(sel.reduce(bn.bias, 0))
        ref.running_mean.copy_(sel.gather(bn.running_mean))
    before = bn.running_mean.clone()
    x = torch.randn(6, 5, 4, 4)
    assert torch.allclose(bn(x, sel), ref(x), atol=1e-6)
    assert torch.allclose(sel.gather(bn.running_mean), ref.running_mean, atol=1e-6)
    untouched = torch.ones(8, dtype=torch.bool)
    untouched[sel.index if sel.index is not None else torch.arange(5)] = False
    assert torch.equal(bn.running_mean[untouched], before[untouched])
    bn.eval()
    ref.eval()
    assert torch.allclose(bn(x, sel), ref(x), atol=1e-6)


@pytest.mark.parametrize("dyn", ["fixed", "interpolate"])
def test_bn_reestimation_matches_standalone(dyn: str) -> None:
    """bns-ft on the super-net (dynamic BN, running statistics in slots) equals bns-ft on the stand-alone twin."""
    net = _net(dynamic_channels=dyn, bn_track_running_stats=False)
    _randomise(net, torch.Generator().manual_seed(0))
    gen = torch.Generator().manual_seed(1)
    batches = [torch.randn(8, 3, 8, 8, generator=gen) for _ in range(3)]
    x = torch.randn(5, 3, 8, 8, generator=gen)
    for arch in _archs(2, 4, "A3"):
        alone = net.standalone(arch)
        net.copy_to_standalone(arch, alone)
        with bn_reestimation(net), bn_reestimation(alone):  # temporary running buffers, removed on exit
            reestimate_bn(net, lambda b, a=arch: net(b, a), batches)
            reestimate_bn(alone, alone, batches)
            assert torch.allclose(net(x, arch), alone(x), atol=1e-5, rtol=0)


def test_dropout_only_in_training() -> None:
    net = _net(path_dropout=0.5, global_dropout=0.5)
    arch = NB101Arch.from_matrix("0111100011000010000100000", "in,c3,c1,mp,out")
    assert cell_spec(arch).residual
    x = torch.randn(4, 3, 8, 8)
    net.eval()
    assert torch.equal(net(x, arch), net(x, arch))
    net.train()
    assert not torch.allclose(net(x, arch), net(x, arch))
    net.seed_dropout(4)
    a = net(x, arch)
    net.seed_dropout(4)
    assert torch.equal(net(x, arch), a)
    alone = net.standalone(arch)
    net.copy_to_standalone(arch, alone)
    alone.train()
    net.seed_dropout(9)
    alone.seed_dropout(9)
    assert torch.allclose(net(x, arch), alone(x), atol=1e-5)


def test_samplers_give_runnable_paths() -> None:
    """FairNAS: 3 paths on one topology with every op on every interior vertex once; Random-NAS and sub-spaces."""
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    fair = make_sampler("fairnas", SPACE, np.random.default_rng(0))
    for _ in range(3):
        paths = fair.next()
        assert len(paths) == 3 and len({p.bits for p in paths}) == 1
        for v in range(1, paths[0].n_vertices - 1):
            assert {p.ops[v] for p in paths} == {"conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"}
        for p in paths:
            assert net(x, p).shape == (2, K)
    for p in make_sampler("random_nas", SPACE, np.random.default_rng(1), paths_per_batch=2).next():
        assert net(x, p).shape == (2, K)
    assert all(subspace_of(a) == "A4" for a in SPACE.sample(np.random.default_rng(2), 5, subspace="A4"))


def test_build_and_arch_errors() -> None:
    net = _net()
    assert isinstance(net, SuperNet) and net.space == "nb101"
    with pytest.raises(ValueError, match="op_map=node"):
        build_supernet("nb101", MappingCfg(op_map="edge"), 10)
    x = torch.randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match="NB101Arch"):
        net(x, (0, 1, 2))
    with pytest.raises(ValueError, match="no input->output path"):
        net(x, NB101Arch.from_matrix("0100000000000000", "in,c3,mp,out"))
    a, b = _archs(7, 2)
    with pytest.raises(ValueError, match="same architecture"):
        net.copy_to_standalone(b, net.standalone(a))
    bare = NB101Arch.from_matrix("0100", "in,out")  # input straight to output: only the projection
    alone = net.standalone(bare)
    net.copy_to_standalone(bare, alone)
    net.eval()
    alone.eval()
    assert torch.allclose(net(x, bare), alone(x), atol=1e-6)
