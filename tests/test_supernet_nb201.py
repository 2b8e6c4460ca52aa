"""NB201 super-net: path equivalence with the stand-alone network, path-only compute, mapping switches."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import torch
from torch import nn

from supernet_helpers import randomise_bn
from wsbench.config import MappingCfg
from wsbench.spaces import build_supernet
from wsbench.spaces.nb201.space import EDGES, OPS, NB201Arch, NB201Space
from wsbench.spaces.nb201.supernet import NB201Cell, NB201SuperNet, count_params
from wsbench.supernet import SuperNet
from wsbench.supernet.ops import ReLUConvBN, drop_path_sum

C, N, K = 4, 1, 5  # tiny channels, one cell per stage, 5 classes
NONE, SKIP, C1, C3, POOL = range(5)

# hand-picked corner cases: all none, all conv, a dead node 1 read by convs, a dead output node,
# skip/pool of a dead node, a conv reading a dead node 2 into the output
SPECIAL = [
    (NONE,) * 6,
    (C3,) * 6,
    (NONE, SKIP, C3, C1, C1, C3),
    (C3, C1, POOL, NONE, NONE, NONE),
    (NONE, NONE, SKIP, POOL, POOL, SKIP),
    (NONE, NONE, NONE, SKIP, NONE, C3),
]


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


def _net(**kw: object) -> NB201SuperNet:
    net = build_supernet("nb201", MappingCfg(channels=C, cells_per_stage=N, **kw), K)
    assert isinstance(net, NB201SuperNet)
    return net


def _randomise(net: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BN affine parameters and running statistics, so a wrong BN or weight shows up."""
    randomise_bn(net, gen)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * 0.3)


def _archs(rng: np.random.Generator, n: int) -> list[tuple[int, ...]]:
    return [tuple(int(o) for o in row) for row in rng.integers(0, len(OPS), size=(n, len(EDGES)))]


CONFIGS = list(itertools.product(["edge", "node"], [False, True], [True, False], [False, True]))


@pytest.mark.parametrize(("op_map", "wsbn", "affine", "track"), CONFIGS)
def test_path_equals_standalone(op_map: str, wsbn: bool, affine: bool, track: bool) -> None:
    """For 8 configs x (3 random + 6 corner-case) architectures the sub-network equals its stand-alone twin."""
    seed = CONFIGS.index((op_map, wsbn, affine, track))
    gen = torch.Generator().manual_seed(seed)
    net = _net(op_map=op_map, wsbn=wsbn, bn_affine=affine, bn_track_running_stats=track)
    _randomise(net, gen)
    x = torch.randn(6, 3, 8, 8, generator=gen)
    space = NB201Space()
    for ops in _archs(np.random.default_rng(seed), 3) + SPECIAL:
        arch = NB201Arch(ops)
        alone = net.standalone(arch)
        if affine:
            assert count_params(alone) == space.num_params(arch, C, N, K)
        for mode in (True, False):
            # copy before each mode: with ops on nodes, a shared tracked BN is updated once per edge that uses
            # it in a train pass, while each stand-alone edge has its own BN
            net.copy_to_standalone(arch, alone)
            net.train(mode)
            alone.train(mode)
            net.zero_grad()
            alone.zero_grad()
            y_net, y_alone = net(x, arch), alone(x)
            assert torch.allclose(y_net, y_alone, atol=1e-6, rtol=0), (ops, mode)
            if mode:
                y_net.square().sum().backward()
                y_alone.square().sum().backward()
                g_net, g_alone = net.stem.conv.weight.grad, alone.stem.conv.weight.grad
                assert (g_net is None) == (g_alone is None)  # None when no cell output depends on the input
                if g_net is not None:
                    assert torch.allclose(g_net, g_alone, atol=1e-5, rtol=1e-5)
                if track:  # the head BN's running statistics moved identically
                    assert torch.allclose(net.head.bn.running_mean, alone.head.bn.running_mean, atol=1e-6)


@pytest.mark.parametrize(("op_map", "wsbn", "kernel"), [("edge", False, "single"), ("edge", True, "ofa"),
                                                        ("node", True, "single"), ("node", False, "ofa")])
def test_shared_kernels_equal_standalone(op_map: str, wsbn: bool, kernel: str) -> None:
    """OFA / single kernel: the 1x1 op is derived from the 3x3 kernel, and the path equals its stand-alone twin."""
    gen = torch.Generator().manual_seed(11)
    net = _net(op_map=op_map, wsbn=wsbn, kernel=kernel, bn_track_running_stats=True)
    _randomise(net, gen)
    with torch.no_grad():
        for m in net.modules():
            if getattr(m, "transform", None) is not None:
                m.transform.add_(torch.randn(m.transform.shape, generator=gen) * 0.2)
    cell = net.cells()[0]
    assert cell.entry(0, C1)[0] == cell.entry(0, C3)[0]  # one module serves both kernel sizes
    x = torch.randn(4, 3, 8, 8, generator=gen)
    for ops in _archs(np.random.default_rng(5), 3) + SPECIAL:
        alone = net.standalone(ops)
        net.copy_to_standalone(ops, alone)
        net.eval()
        alone.eval()
        assert torch.allclose(net(x, ops), alone(x), atol=1e-5, rtol=0), ops
    separate = _net(op_map=op_map, wsbn=wsbn)
    assert count_params(net) < count_params(separate)


def test_kernel_sharing_changes_the_function() -> None:
    """With the same 3x3 weights, single and ofa (perturbed transform) give different 1x1 outputs."""
    torch.manual_seed(0)
    single, ofa = _net(kernel="single"), _net(kernel="ofa")
    ofa.load_state_dict({**single.state_dict(), **{k: v for k, v in ofa.state_dict().items() if "transform" in k}})
    with torch.no_grad():
        for name, p in ofa.named_parameters():
            if "transform" in name:
                p.add_(0.5)
    x = torch.randn(4, 3, 8, 8)
    ops = (C1,) * 6
    single.eval()
    ofa.eval()
    assert not torch.allclose(single(x, ops), ofa(x, ops))


def test_wsbn_on_edges_changes_parameters_and_outputs() -> None:
    """Edge mapping: WSBN gives each conv op one BN set per subset of non-none sibling edges, picked by the
    architecture, so the parameters grow and, with trained (here: randomised) BNs, outputs change."""
    base, wsbn = _net(), _net(wsbn=True)
    assert count_params(wsbn) > count_params(base)
    cell = wsbn.cells()[0]
    bn_sets = {key: len(m.bn) for key, m in cell.ops.items() if isinstance(m, ReLUConvBN)}
    assert bn_sets["edge0_nor_conv_3x3"] == 1  # edge (0, 1): no sibling
    assert bn_sets["edge1_nor_conv_3x3"] == 2  # edge (0, 2): sibling (1, 2)
    assert bn_sets["edge3_nor_conv_3x3"] == 4  # edge (0, 3): siblings (1, 3), (2, 3)
    # the BN index of edge (0, 3) follows its siblings (1, 3) = EDGES[4], (2, 3) = EDGES[5]
    assert cell.bn_index(3, (C3, C3, C3, C3, NONE, NONE)) == 0
    assert cell.bn_index(3, (C3, C3, C3, C3, SKIP, NONE)) == 1
    assert cell.bn_index(3, (C3, C3, C3, C3, NONE, C1)) == 2
    assert cell.bn_index(3, (C3, C3, C3, C3, POOL, C1)) == 3
    gen = torch.Generator().manual_seed(3)
    _randomise(base, gen)
    base_state = base.state_dict()
    for key, value in wsbn.state_dict().items():  # every BN set starts as the base's single BN
        value.copy_(base_state[re.sub(r"\.bn\.\d+\.", ".bn.0.", key)])
    x = torch.randn(4, 3, 8, 8, generator=gen)
    for net in (base, wsbn):
        net.eval()
    ops, alone = (C3, C3, C3, C3, SKIP, C1), (C3, NONE, NONE, C3, NONE, NONE)
    assert torch.allclose(base(x, ops), wsbn(x, ops))  # identical BN sets: the same function as the base
    with torch.no_grad():  # train only the BN sets used when sibling edges are present
        for name, p in wsbn.named_parameters():
            if re.search(r"\.bn\.[1-3]\.", name):
                p.add_(torch.randn(p.shape, generator=gen))
    assert torch.allclose(base(x, alone), wsbn(x, alone))  # no siblings on any conv edge: BN set 0 only
    assert not torch.allclose(base(x, ops), wsbn(x, ops), atol=1e-4)


def test_path_equals_standalone_with_dropout() -> None:
    """With the same dropout seed, training-mode drop-path and global dropout draw identical masks."""
    net = _net(path_dropout=0.3, global_dropout=0.4, op_map="node", wsbn=True)
    _randomise(net, torch.Generator().manual_seed(1))
    x = torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    for ops in [(C3, C1, C3, SKIP, C3, POOL), (C1,) * 6]:
        alone = net.standalone(ops)
        net.copy_to_standalone(ops, alone)
        net.train()
        alone.train()
        net.seed_dropout(7)
        alone.seed_dropout(7)
        assert torch.allclose(net(x, ops), alone(x), atol=1e-6, rtol=0)


def _op_keys(net: NB201SuperNet, ops: tuple[int, ...]) -> set[tuple[int, str]]:
    keys = set()
    for i, cell in enumerate(net.cells()):
        for e, o in enumerate(ops):
            entry = cell.entry(e, o)
            if entry is not None:
                keys.add((i, entry[0]))
    return keys


@pytest.mark.parametrize("op_map", ["edge", "node"])
def test_only_the_sampled_path_runs(op_map: str) -> None:
    """Forward hooks: exactly the op modules of the sampled path are called; unsampled ops get no gradient."""
    net = _net(op_map=op_map, wsbn=True)
    called: set[tuple[int, str]] = set()
    for i, cell in enumerate(net.cells()):
        for key, module in cell.ops.items():
            module.register_forward_hook(lambda *_, i=i, key=key: called.add((i, key)))
    x = torch.randn(2, 3, 8, 8)
    for ops in [(C3, C1, POOL, SKIP, C3, C1), (NONE, C3, C3, NONE, NONE, C1), (SKIP,) * 6]:
        called.clear()
        net.zero_grad(set_to_none=True)
        net(x, ops).sum().backward()
        expected = _op_keys(net, ops)
        # skip/pool of the dead node 1 in (NONE, C3, C3, ...) is never run, the conv on it is
        assert called <= expected and {k for k in expected if "conv" in k[1]} <= called
        for i, cell in enumerate(net.cells()):
            for key, module in cell.ops.items():
                if (i, key) not in called:
                    assert all(p.grad is None for p in module.parameters()), (ops, key)
                elif isinstance(module, ReLUConvBN):
                    assert module.conv.weight.grad is not None


def test_all_none_cell_gives_classifier_bias() -> None:
    """All-none cells output zeros; with fresh BN (gamma=1, beta=0, batch statistics) every later layer maps
    zeros to zeros, so the logits are the classifier bias for every input."""
    net = _net()
    x = torch.randn(5, 3, 8, 8)
    for mode in (True, False):
        net.train(mode)
        y = net(x, (NONE,) * 6)
        assert torch.equal(y, net.head.classifier.bias.detach().expand(5, K))


def test_dropout_only_in_training() -> None:
    net = _net(path_dropout=0.5, global_dropout=0.5)
    x = torch.randn(4, 3, 8, 8)
    ops = (C3, C3, C3, C3, C3, C3)
    net.eval()
    assert torch.equal(net(x, ops), net(x, ops))
    net.train()
    assert not torch.allclose(net(x, ops), net(x, ops))
    path_only = _net(path_dropout=0.5)
    path_only.train()
    assert not torch.allclose(path_only(x, ops), path_only(x, ops))


def test_drop_path_never_drops_all_and_rescales() -> None:
    gen = torch.Generator().manual_seed(0)
    ones = [torch.ones(2000, 1, 1, 1), 2 * torch.ones(2000, 1, 1, 1)]
    out = drop_path_sum(ones, 0.8, gen).flatten()
    # each sample is a sum of kept inputs scaled by 1/(1-p) = 5: 1*5, 2*5 or 3*5, never 0
    assert set(torch.unique(out).tolist()) == {5.0, 10.0, 15.0}


def test_node_mapping_shares_ops() -> None:
    edge, node, wsbn = _net(op_map="edge"), _net(op_map="node"), _net(op_map="node", wsbn=True)
    assert count_params(node) < count_params(wsbn) < count_params(edge)
    cell = node.cells()[0]
    keys = {cell.entry(e, C3)[0] for e, (_, dst) in enumerate(EDGES) if dst == 3}
    assert keys == {"node3_nor_conv_3x3"}
    conv = wsbn.cells()[0].ops["node3_nor_conv_3x3"]
    assert isinstance(conv, ReLUConvBN) and len(conv.bn) == 3  # one BN per source node 0, 1, 2
    # edge mapping: 6 edges x 2 conv ops, each conv has its own BN
    assert sum(isinstance(m, ReLUConvBN) for m in edge.cells()[0].ops.values()) == 12


@pytest.mark.parametrize(("affine", "track"), [(True, False), (False, True), (False, False), (True, True)])
def test_bn_flags(affine: bool, track: bool) -> None:
    net = _net(bn_affine=affine, bn_track_running_stats=track, bn_momentum=0.3, bn_eps=1e-3)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(type(m) is nn.BatchNorm2d for m in bns)
    for m in bns:
        assert (m.weight is not None) == affine and (m.running_mean is not None) == track
        assert m.momentum == 0.3 and m.eps == 1e-3
    names = [n for n, _ in net.named_buffers()]
    assert bool(names) == track


def test_param_counts_match_nb201_definition() -> None:
    """At C=16, N=5, 10 classes the published NB201 range is 0.0733 M (all none) to 1.5315 M (all conv3x3)."""
    net = build_supernet("nb201", MappingCfg(), 10)
    assert count_params(net.standalone((NONE,) * 6)) == 73306
    assert count_params(net.standalone((C3,) * 6)) == 1531546
    space = NB201Space()
    for ops in _archs(np.random.default_rng(3), 10):
        assert count_params(net.standalone(ops)) == space.num_params(NB201Arch(ops))


def test_build_and_arch_errors() -> None:
    assert isinstance(_net(), SuperNet)
    with pytest.raises(ValueError, match="op_map=node"):  # NB101 maps ops to nodes only
        build_supernet("nb101", MappingCfg(op_map="edge"), 10)
    with pytest.raises(ValueError, match="unknown search space"):
        build_supernet("nb999", MappingCfg(), 10)
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    for bad in [(0, 1, 2), (0, 1, 2, 3, 4, 5), (-1, 0, 0, 0, 0, 0)]:
        with pytest.raises(ValueError, match="NB201 architecture"):
            net(x, bad)
    alone = net.standalone((C3,) * 6)
    with pytest.raises(ValueError, match="same architecture"):
        net.copy_to_standalone((C1,) * 6, alone)


def test_channels_last_and_cells() -> None:
    net = _net().to(memory_format=torch.channels_last)
    x = torch.randn(2, 3, 8, 8).to(memory_format=torch.channels_last)
    assert net(x, (C3, SKIP, POOL, C1, NONE, C3)).shape == (2, K)
    assert len(net.cells()) == 3 * N and all(isinstance(c, NB201Cell) for c in net.cells())
