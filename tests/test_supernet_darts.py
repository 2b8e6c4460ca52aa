"""DARTS super-net: path equivalence with the stand-alone network, NB301 parameter counts, path-only compute,
mapping switches (ops on edges/nodes, WSBN, OFA kernel, dropout)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from supernet_helpers import randomise_bn
from wsbench.config import MappingCfg
from wsbench.sampling import make_sampler
from wsbench.spaces import build_supernet
from wsbench.spaces.darts.ops import DepthwiseKernel, DilConv, SepConv
from wsbench.spaces.darts.space import OPS, DartsArch, DartsSpace
from wsbench.spaces.darts.supernet import DartsCell, DartsStandalone, DartsSuperNet, count_params
from wsbench.supernet import SuperNet
from wsbench.supernet.ops import BNSpec

C, LAYERS, K = 4, 3, 5  # tiny channels, 3 cells (normal, reduce, reduce), 5 classes
SPACE = DartsSpace()
LOOSE = DartsSpace(distinct_inputs=False)
SEP3, SEP5, DIL3, DIL5 = (OPS.index(n) for n in ("sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"))
MAX, AVG, SKIP = (OPS.index(n) for n in ("max_pool_3x3", "avg_pool_3x3", "skip_connect"))


@pytest.fixture(autouse=True)
def _threads() -> None:
    torch.set_num_threads(1)


def _net(layers: int = LAYERS, **kw: Any) -> DartsSuperNet:
    return DartsSuperNet(MappingCfg(channels=C, **kw), K, layers=layers)


def _randomise(net: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BN parameters/statistics and OFA transforms, so a wrong BN, kernel or crop shows up."""
    randomise_bn(net, gen)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, DepthwiseKernel):
                for t in m.transforms.values():
                    t.add_(0.3 * torch.randn(t.shape, generator=gen))


def _with_none(arch: DartsArch, rng: np.random.Generator) -> tuple[Any, Any]:
    """``arch`` with some edges replaced by ``none`` (given by name), to exercise dead nodes."""
    cells = []
    for cell in arch.cells():
        cells.append(tuple((inp, "none") if rng.random() < 0.3 else (inp, op) for inp, op in cell))
    return cells[0], cells[1]


# (op_map, wsbn, kernel, affine, track): Table 5's DARTS-NDS row first, then the other switches
CONFIGS = [
    ("edge", True, "separate", False, False),
    ("node", True, "separate", True, True),
    ("node", False, "ofa", False, True),
    ("edge", False, "ofa", True, False),
    ("node", True, "single", True, False),
    ("edge", False, "single", False, True),
    ("edge", True, "ofa", True, True),  # edge-mapped WSBN with BN parameters: the partner input picks the set
]


@pytest.mark.parametrize(("op_map", "wsbn", "kernel", "affine", "track"), CONFIGS)
def test_path_equals_standalone(op_map: str, wsbn: bool, kernel: str, affine: bool, track: bool) -> None:
    """For 6 mappings x 12 architectures (NB301-style, equal inputs, none edges) the sub-network equals its
    stand-alone twin in train and eval mode, and the gradients reaching the stem agree."""
    seed = CONFIGS.index((op_map, wsbn, kernel, affine, track))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = _net(op_map=op_map, wsbn=wsbn, kernel=kernel, bn_affine=affine, bn_track_running_stats=track)
    _randomise(net, gen)
    x = torch.randn(4, 3, 8, 8, generator=gen)
    rng = np.random.default_rng(seed)
    archs: list[Any] = SPACE.sample(rng, 6) + LOOSE.sample(rng, 3)
    archs += [_with_none(a, rng) for a in SPACE.sample(rng, 3)]
    for arch in archs:
        alone = net.standalone(arch)
        for mode in (True, False):
            # copy before each mode: a shared tracked BN is updated once per edge using it in a train pass
            net.copy_to_standalone(arch, alone)
            net.train(mode)
            alone.train(mode)
            net.zero_grad(set_to_none=True)
            alone.zero_grad(set_to_none=True)
            y_net, y_alone = net(x, arch), alone(x)
            assert torch.allclose(y_net, y_alone, atol=1e-5, rtol=1e-5), (arch, mode)
            if mode:
                y_net.square().sum().backward()
                y_alone.square().sum().backward()
                g_net, g_alone = net.stem.conv.weight.grad, alone.stem.conv.weight.grad
                assert (g_net is None) == (g_alone is None)
                if g_net is not None:
                    assert torch.allclose(g_net, g_alone, atol=1e-4, rtol=1e-4)


def test_path_equals_standalone_with_dropout() -> None:
    """With the same dropout seed, drop-path and global dropout draw identical masks in both networks."""
    net = _net(path_dropout=0.3, global_dropout=0.4, op_map="node", wsbn=True)
    _randomise(net, torch.Generator().manual_seed(1))
    x = torch.randn(6, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    for arch in SPACE.sample(np.random.default_rng(5), 3):
        alone = net.standalone(arch)
        net.copy_to_standalone(arch, alone)
        net.train()
        alone.train()
        net.seed_dropout(7)
        alone.seed_dropout(7)
        assert torch.allclose(net(x, arch), alone(x), atol=1e-5, rtol=1e-5)


def test_dropout_only_in_training() -> None:
    net = _net(path_dropout=0.5, global_dropout=0.5)
    x = torch.randn(4, 3, 8, 8)
    arch = SPACE.sample(np.random.default_rng(0), 1)[0]
    net.eval()
    assert torch.equal(net(x, arch), net(x, arch))
    net.train()
    assert not torch.allclose(net(x, arch), net(x, arch))
    path_only = _net(path_dropout=0.5)
    path_only.train()
    assert not torch.allclose(path_only(x, arch), path_only(x, arch))


def _nb301_rows(shared_data: Path) -> list[dict[str, Any]]:
    doc = json.loads((shared_data / "darts" / "nb301_sample_725.json").read_text())
    return list(doc["cifar10"].values())


def test_standalone_params_match_nb301_sample(shared_data: Path) -> None:
    """At C=32, 8 layers, op BNs without affine, the stand-alone network has exactly the parameters that the
    NB301 sample reports (its ``params`` column, in millions with 6 decimals) and ``DartsSpace.num_params``."""
    rows = _nb301_rows(shared_data)
    assert len(rows) == 725
    mapping = MappingCfg(channels=32, bn_affine=False)
    for row in rows[::8]:  # 91 architectures spread over the file
        arch = SPACE.parse_encoding(row["arch"])
        n = count_params(DartsStandalone(arch, mapping, 10, layers=8))
        assert n == SPACE.num_params(arch, channels=32, layers=8, op_affine=False)
        assert round(n / 1e6, 6) == pytest.approx(row["params"]["score"], abs=1e-9), row["arch"]


def test_standalone_params_darts_evaluation_network() -> None:
    """The DARTS evaluation network (C=36, 20 layers, affine op BNs) matches ``num_params``; the published
    DARTS-V2 genotype has 3.3 M parameters without the auxiliary head (3.35 M reported with it)."""
    mapping = MappingCfg(channels=36, bn_affine=True)
    darts_v2 = SPACE.parse(
        "Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
        "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
        "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
        "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
        "('max_pool_3x3', 1)], reduce_concat=[2, 3, 4, 5])")
    n = count_params(DartsStandalone(darts_v2, mapping, 10, layers=20))
    assert n == SPACE.num_params(darts_v2) and 3.2e6 < n < 3.35e6
    for arch in SPACE.sample(np.random.default_rng(1), 2):
        assert count_params(DartsStandalone(arch, mapping, 10, layers=20)) == SPACE.num_params(arch)


def _expected_modules(net: DartsSuperNet, arch: DartsArch) -> set[tuple[int, str]]:
    """Module keys of the path, written out from the mapping rules (ops on edges, separate kernels)."""
    keys = set()
    for i, cell in enumerate(net.cells):
        for j, (src, op) in enumerate(arch.reduce if cell.reduction else arch.normal):
            name = OPS[op]
            if name == "skip_connect" and cell.reduction and src < 2:
                keys.add((i, f"e{src}_{j // 2}_skip_reduce"))
            elif "conv" in name:
                keys.add((i, f"e{src}_{j // 2}_{name}"))
    return keys


def test_only_the_sampled_path_runs() -> None:
    """Forward hooks: exactly the op modules of the path run, once per sampled edge; others get no gradient."""
    net = _net()
    calls: list[tuple[int, str]] = []
    for i, cell in enumerate(net.cells):
        assert isinstance(cell, DartsCell)
        for key, module in cell.ops.items():
            module.register_forward_hook(lambda *_, i=i, key=key: calls.append((i, key)))
    x = torch.randn(2, 3, 8, 8)
    for arch in SPACE.sample(np.random.default_rng(3), 5):
        calls.clear()
        net.zero_grad(set_to_none=True)
        net(x, arch).sum().backward()
        expected = _expected_modules(net, arch)
        assert set(calls) == expected and len(calls) == len(expected)  # NB301 cells never repeat an edge
        for i, cell in enumerate(net.cells):
            for key, module in cell.ops.items():
                has_grad = any(p.grad is not None for p in module.parameters())
                assert has_grad == ((i, key) in expected), (i, key)


def test_unread_inputs_and_cells_are_not_computed() -> None:
    """Cells whose nodes read only cell input 0 never read the previous cell: in a 5-cell network only cells
    4, 2 and 0 run, and input 1 of a cell is never preprocessed."""
    net = _net(layers=5)
    ran: list[int] = []
    pre1: list[int] = []
    for i, cell in enumerate(net.cells):
        cell.register_forward_hook(lambda *_, i=i: ran.append(i))
        cell.pre1.register_forward_hook(lambda *_, i=i: pre1.append(i))
    only0 = ((0, "sep_conv_3x3"), (0, "none"), (2, "skip_connect"), (0, "dil_conv_5x5"),
             (3, "max_pool_3x3"), (2, "sep_conv_5x5"), (4, "avg_pool_3x3"), (0, "none"))
    arch = (only0, only0)
    y = net(torch.randn(2, 3, 8, 8), arch)
    assert sorted(ran) == [0, 2, 4] and not pre1
    alone = net.standalone(arch)
    net.copy_to_standalone(arch, alone)
    assert torch.allclose(alone(torch.zeros(1, 3, 8, 8)), net(torch.zeros(1, 3, 8, 8), arch), atol=1e-6)
    assert y.shape == (2, K)


def test_all_none_cells_give_classifier_bias() -> None:
    """Cells of ``none`` edges output zeros; pooling and the classifier then give the bias for every input."""
    net = _net()
    dead = tuple((0, "none") for _ in range(8))
    for mode in (True, False):
        net.train(mode)
        y = net(torch.randn(3, 3, 8, 8), (dead, dead))
        assert torch.equal(y, net.head.classifier.bias.detach().expand(3, K))


def test_dead_node_read_by_conv_is_zero_input() -> None:
    """A node whose two edges are ``none`` is a zero tensor that a convolution still reads (as the official
    network's zero op does): with a fresh sep conv the conv of zeros is zero, so the cell equals the one without
    that edge; with a BN shift b != 0 in the conv's last BN it is b, and the outputs differ."""
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    base = [(0, "skip_connect"), (1, "avg_pool_3x3"), (0, "none"), (1, "none"), (1, "max_pool_3x3"),
            (2, "skip_connect"), (0, "skip_connect"), (1, "skip_connect")]
    reads_dead, plain = list(base), list(base)
    reads_dead[5] = (3, "sep_conv_3x3")  # node 2 (edge 5) reads the dead node 3
    plain[5] = (3, "none")
    dead_arch, plain_arch = (tuple(reads_dead), tuple(base)), (tuple(plain), tuple(base))
    net.eval()
    assert torch.allclose(net(x, dead_arch), net(x, plain_arch), atol=1e-6)
    conv = net.cells[0].ops["e3_2_sep_conv_3x3"]
    with torch.no_grad():
        conv.bn2[0].bias.fill_(0.7)
    assert not torch.allclose(net(x, dead_arch), net(x, plain_arch), atol=1e-3)


def test_node_mapping_and_wsbn_share_ops() -> None:
    edge, node, wsbn = _net(op_map="edge"), _net(op_map="node"), _net(op_map="node", wsbn=True)
    assert count_params(node) < count_params(wsbn) < count_params(edge)
    assert count_params(_net(op_map="edge", wsbn=True)) > count_params(edge)  # partner-indexed BN sets
    reduce_cell = node.cells[1]
    assert reduce_cell.reduction
    # node 3 of a reduction cell: one module serves the stride-2 edges from inputs 0, 1 and stride 1 from 2..4
    entries = [reduce_cell.table[(3, src, 1 + SEP3)] for src in range(5)]
    assert {e.key for e in entries} == {"n3_sep_conv_3x3"} and [e.stride for e in entries] == [2, 2, 1, 1, 1]
    shared = wsbn.cells[1].ops["n3_sep_conv_3x3"]
    assert isinstance(shared, SepConv) and len(shared.bn1) == len(shared.bn2) == 5  # one BN per input node
    # ops on edges: 14 edges x 4 convolutions, plus 2 x 4 stride-2 skips (FactorizedReduce) in a reduction cell
    assert sum(isinstance(m, SepConv | DilConv) for m in edge.cells[0].ops.values()) == 56
    assert len(edge.cells[1].ops) == 56 + 8 and len(edge.cells[0].ops) == 56


def test_ofa_kernel_is_transformed_centre_crop() -> None:
    """OFA: one 5x5 kernel per conv family; the 3x3 kernel is its centre crop through an identity-initialised
    9x9 map (so a fresh OFA 3x3 op equals a plain 3x3 op with the cropped weights), trained through the 5x5."""
    net = _net(kernel="ofa")
    cell = net.cells[0]
    assert not any(k.endswith("_3x3") or k.endswith("_5x5") for k in cell.ops)
    sep = cell.ops["e0_0_sep_conv"]
    assert isinstance(sep, SepConv) and sep.dw1.weight.shape[-1] == 5
    plain = SepConv(C, 3, BNSpec.from_mapping(net.mapping))
    with torch.no_grad():
        plain.dw1.weight.copy_(sep.dw1.weight[:, :, 1:4, 1:4])
        plain.dw2.weight.copy_(sep.dw2.weight[:, :, 1:4, 1:4])
        plain.pw1.weight.copy_(sep.pw1.weight)
        plain.pw2.weight.copy_(sep.pw2.weight)
    x = torch.randn(2, C, 6, 6)
    assert torch.allclose(sep(x, 1, 0, 3), plain(x), atol=1e-6)
    sep(x, 1, 0, 3).sum().backward()
    grad = sep.dw1.weight.grad
    assert grad is not None and grad[:, :, 1:4, 1:4].abs().sum() > 0 and grad[:, :, 0].abs().sum() == 0
    assert sep.dw1.transforms["3"].grad is not None
    assert count_params(net) < count_params(_net())
    single = _net(kernel="single")
    assert not any(isinstance(m, DepthwiseKernel) and len(m.transforms) for m in single.modules())


def test_bn_flags_ops_versus_macro() -> None:
    """``bn_affine`` switches the op BNs; stem and preprocessing BNs stay affine; tracking applies to all."""
    net = _net(bn_affine=False, bn_track_running_stats=True, bn_momentum=0.3)
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(type(m) is nn.BatchNorm2d and m.track_running_stats and m.momentum == 0.3 for m in bns)
    macro = {id(net.stem.bn)} | {id(m) for cell in net.cells for pre in (cell.pre0, cell.pre1)
                                 for m in pre.modules() if isinstance(m, nn.BatchNorm2d)}
    for m in bns:
        assert m.affine == (id(m) in macro)
    plain = _net(bn_track_running_stats=False)
    assert not list(plain.buffers())


def test_build_supernet_and_fairnas_paths() -> None:
    """``build_supernet`` gives 3 * cells_per_stage cells with reductions at 1/3 and 2/3; FairNAS paths run."""
    net = build_supernet("darts", MappingCfg(channels=C, cells_per_stage=2), K)
    assert isinstance(net, SuperNet) and isinstance(net, DartsSuperNet)
    assert [c.reduction for c in net.cells] == [False, False, True, False, True, False]
    assert [c.channels for c in net.cells] == [C, C, 2 * C, 2 * C, 4 * C, 4 * C]
    sampler = make_sampler("fairnas", SPACE, np.random.default_rng(0))
    paths = sampler.next()
    assert len(paths) == len(OPS)
    x = torch.randn(2, 3, 8, 8)
    for arch in paths:
        assert net(x, arch).shape == (2, K)
    odd = net(torch.randn(2, 3, 7, 9), paths[0])  # odd resolutions reduce by rounding up
    assert odd.shape == (2, K)


def test_arch_and_mapping_errors() -> None:
    net = _net()
    x = torch.randn(2, 3, 8, 8)
    good = SPACE.sample(np.random.default_rng(0), 1)[0]
    bad_cells = [
        (good.normal[:7], good.reduce),
        (good.normal, ((2, 0),) + good.reduce[1:]),  # node 0 cannot read node 2
        (good.normal, ((0, 7),) + good.reduce[1:]),  # op index out of range
        (good.normal, ((0, "conv_7x7"),) + good.reduce[1:]),
        "not an arch",
    ]
    for bad in bad_cells:
        with pytest.raises(ValueError, match="DARTS architecture"):
            net(x, bad)
    alone = net.standalone(good)
    other = SPACE.neighbours(good)[0]
    with pytest.raises(ValueError, match="same architecture"):
        net.copy_to_standalone(other, alone)
    with pytest.raises(ValueError, match="dynamic_channels"):
        build_supernet("darts", MappingCfg(dynamic_channels="interpolate"), 10)
    with pytest.raises(ValueError, match="channels"):
        build_supernet("darts", MappingCfg(channels=1), 10)


def test_channels_last() -> None:
    net = _net().to(memory_format=torch.channels_last)
    arch = SPACE.sample(np.random.default_rng(2), 1)[0]
    x = torch.randn(2, 3, 8, 8)
    y = net(x.contiguous(memory_format=torch.channels_last), arch)
    assert torch.allclose(y, net(x, arch), atol=1e-5)


def test_wsbn_on_edges_follows_the_partner_input() -> None:
    """Edge mapping: WSBN adds BN sets (one per possible partner input) and the genotype's partner picks one,
    so with trained (randomised) BN sets the same edge computes differently next to a different partner."""
    base, wsbn = _net(op_map="edge", wsbn=False, bn_affine=True), _net(op_map="edge", wsbn=True, bn_affine=True)
    assert count_params(wsbn) > count_params(base)
    normal = ((0, 4), (1, 4), (0, 4), (1, 4), (0, 4), (1, 4), (0, 4), (1, 4))
    other = ((0, 4), (0, 4), (0, 4), (1, 4), (0, 4), (1, 4), (0, 4), (1, 4))  # node 0: partner 0 instead of 1
    plans_a, plans_b = wsbn.plans((normal, normal)), wsbn.plans((other, normal))
    assert plans_a[0].edges[0].bn_index == 1 and plans_b[0].edges[0].bn_index == 0
    assert base.plans((normal, normal))[0].edges[0].bn_index == 0
