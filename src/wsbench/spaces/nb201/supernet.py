"""NAS-Bench-201 super-net and stand-alone network.

Macro skeleton (NB201): stem (3x3 conv + BN) -> N cells at C channels -> residual reduction -> N cells at 2C
-> residual reduction -> N cells at 4C -> BN + ReLU -> global average pooling -> (dropout) -> linear.
A cell has 4 nodes; node j is the sum over incoming edges (i, j), i < j, of op(node i); the cell output is
node 3. Ops are those of ``wsbench.spaces.nb201.OPS``.

Mapping switches (``MappingCfg``):

* ``op_map="edge"``: every edge owns its candidate ops. ``op_map="node"``: all edges into the same node share
  one set of candidate ops (edges (0,3), (1,3), (2,3) share the weights of node 3).
* ``wsbn`` (weight-sharing BN after Luo et al.: an independent set of BN parameters per incoming edge, behind
  a shared convolution). With ``op_map="node"`` the conv ops of a node are shared by its incoming edges and
  each edge (indexed by its source node) gets its own BNs. With ``op_map="edge"`` every edge already owns its
  convolution, so what changes from one architecture to the next is which *other* edges feed the same node
  (the edges whose outputs this op's output is summed with): the BN of every conv op is replicated per subset
  of sibling edges that are not ``none`` (edges into node 3: 4 BN sets, node 2: 2, node 1: 1), and the sampled
  architecture picks the set. Both change the parameters and, once trained, the outputs.
* ``kernel``: ``separate`` (own 1x1 and 3x3 convolutions), ``single`` (the 1x1 conv of an edge is the centre
  tap of its 3x3 kernel, BN shared) or ``ofa`` (the centre tap times a learned matrix, OFA's super-kernel).
* ``bn_*``: flags of every BN layer; ``path_dropout`` (per-sample drop-path over the computed inputs of a node,
  never dropping all of them) and ``global_dropout`` (before the classifier) act only in training mode.

Only the sampled path is computed: each edge runs exactly its chosen op, ``none`` edges run nothing. A node
without any computed input is "zero" and is materialised (as zeros) only when a conv op reads it, because
ReLU-Conv-BN of zeros is the BN shift, not zero; skip and pooling of a zero node are zero and are skipped.
This is exactly the function of the official network, where ``none`` multiplies its input by 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from wsbench.config import MappingCfg
from wsbench.spaces.nb201.space import EDGES, OPS
from wsbench.supernet.base import SuperNet, count_params  # noqa: F401 - count_params: part of this module's API
from wsbench.supernet.ops import (
    CONV_KERNELS,
    BNSpec,
    ClassifierHead,
    DropoutRNG,
    ReLUConvBN,
    ResidualReduction,
    SharedKernelConv,
    Stem,
    copy_op,
    make_op,
    sum_inputs,
)

NONE_OP = OPS.index("none")
_PARAM_FREE = frozenset({"skip_connect", "avg_pool_3x3"})
_Entry = tuple[str, int, int]  # (module key, BN index: -1 parameter-free, -2 chosen by the siblings; kernel)
_SIBLINGS_BN = -2


def arch_ops(arch: Any) -> tuple[int, ...]:
    """The 6 op indices of an ``NB201Arch`` (``.ops``) or of a plain sequence of ints."""
    ops = getattr(arch, "ops", arch)
    try:
        out = tuple(int(o) for o in ops)
    except TypeError:
        raise ValueError(f"expected an NB201Arch or a sequence of {len(EDGES)} op indices, got {arch!r}") from None
    if len(out) != len(EDGES) or not all(0 <= o < len(OPS) for o in out):
        raise ValueError(f"bad NB201 architecture {arch!r}: need {len(EDGES)} op indices in 0..{len(OPS) - 1} "
                         f"(order of EDGES, indices into OPS)")
    return out


class NB201Cell(nn.Module):
    """One NB201 cell holding the candidate ops of every edge (all of them in a super-net, one in a
    stand-alone network); ``forward(x, ops)`` computes only the ops named by ``ops``."""

    def __init__(self, channels: int, bn: BNSpec, candidates: Sequence[Sequence[int]], op_map: str, wsbn: bool,
                 path_dropout: float, rng: DropoutRNG, kernel: str = "separate") -> None:
        super().__init__()
        if op_map not in ("edge", "node"):
            raise ValueError(f"op_map must be 'edge' or 'node', got {op_map!r}")
        if kernel not in ("separate", "single", "ofa"):
            raise ValueError(f"mapping.kernel must be separate, single or ofa, got {kernel!r}")
        if not 0.0 <= path_dropout < 1.0:
            raise ValueError(f"path_dropout must be in [0, 1), got {path_dropout}")
        self.path_dropout = path_dropout
        self.rng = rng
        self.ops = nn.ModuleDict()
        self._table: list[dict[int, _Entry | None]] = []
        self._incoming = {j: [(e, s) for e, (s, d) in enumerate(EDGES) if d == j] for j in (1, 2, 3)}
        # sibling edges of each edge: the other edges into the same node (their order gives the WSBN bit)
        self._siblings = [[f for f, _ in self._incoming[d] if f != e] for e, (_, d) in enumerate(EDGES)]
        shared_kernel = kernel != "separate"
        for e, (src, dst) in enumerate(EDGES):
            row: dict[int, _Entry | None] = {}
            for o in candidates[e]:
                name = OPS[o]
                if name == "none":
                    row[o] = None
                    continue
                conv = name in CONV_KERNELS
                family = "conv" if conv and shared_kernel else name
                key = f"edge{e}_{family}" if op_map == "edge" else f"node{dst}_{family}"
                n_bn = 1
                if wsbn:
                    n_bn = dst if op_map == "node" else 2 ** len(self._siblings[e])
                if key not in self.ops:
                    op = SharedKernelConv(channels, bn, kernel, n_bn) if conv and shared_kernel else \
                        make_op(name, channels, bn, n_bn=n_bn)
                    assert op is not None
                    self.ops[key] = op
                if not conv:
                    bn_index = -1
                elif wsbn:
                    bn_index = src if op_map == "node" else _SIBLINGS_BN
                else:
                    bn_index = 0
                row[o] = (key, bn_index, CONV_KERNELS[name] if conv and shared_kernel else 0)
            self._table.append(row)

    def entry(self, edge: int, op: int) -> _Entry | None:
        """(module key, BN index, kernel size or 0) that computes ``op`` on ``edge``; ``None`` for ``none``."""
        return self._table[edge][op]

    def bn_index(self, edge: int, ops: tuple[int, ...]) -> int:
        """The BN index that the conv op on ``edge`` uses under the architecture ``ops`` (WSBN aware)."""
        entry = self._table[edge][ops[edge]]
        if entry is None or entry[1] != _SIBLINGS_BN:
            return -1 if entry is None else entry[1]
        return sum(1 << i for i, f in enumerate(self._siblings[edge]) if ops[f] != NONE_OP)

    def _merge(self, outs: list[Tensor]) -> Tensor | None:
        return sum_inputs(outs, self.training, self.path_dropout, self.rng)

    def forward(self, x: Tensor, ops: tuple[int, ...]) -> Tensor:
        """Output node of the cell for the op indices ``ops`` (already validated)."""
        nodes: list[Tensor | None] = [x, None, None, None]
        for dst in (1, 2, 3):
            outs: list[Tensor] = []
            for e, src in self._incoming[dst]:
                entry = self._table[e][ops[e]]
                if entry is None:
                    continue
                key, bn_index, kernel = entry
                inp = nodes[src]
                if inp is None:
                    if bn_index == -1:
                        continue  # skip / pooling of a zero node is zero
                    inp = torch.zeros_like(x)
                module = self.ops[key]
                if bn_index == -1:
                    outs.append(module(inp))
                    continue
                if bn_index == _SIBLINGS_BN:
                    bn_index = self.bn_index(e, ops)
                outs.append(module(inp, bn_index, kernel) if kernel else module(inp, bn_index))
            nodes[dst] = self._merge(outs)
        out = nodes[3]
        return torch.zeros_like(x) if out is None else out


class NB201Network(nn.Module):
    """Stem, three stages of cells with residual reductions, and the classifier head."""

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int,
                 candidates: Sequence[Sequence[int]], op_map: str, wsbn: bool) -> None:
        super().__init__()
        if mapping.dynamic_channels != "fixed":
            raise ValueError("mapping.dynamic_channels applies to nb101 only; keep 'fixed' for nb201")
        if mapping.channels < 1 or mapping.cells_per_stage < 1:
            raise ValueError(f"channels and cells_per_stage must be >= 1, got {mapping.channels}, "
                             f"{mapping.cells_per_stage}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.mapping = mapping
        self.num_classes = num_classes
        self.rng = DropoutRNG(0)
        bn = BNSpec.from_mapping(mapping)
        c = mapping.channels
        self.stem = Stem(in_channels, c, bn)
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c, bn))
                c *= 2
            for _ in range(mapping.cells_per_stage):
                layers.append(NB201Cell(c, bn, candidates, op_map, wsbn, mapping.path_dropout, self.rng,
                                        mapping.kernel))
        self.layers = nn.ModuleList(layers)
        self._is_cell = [isinstance(layer, NB201Cell) for layer in layers]
        self.head = ClassifierHead(c, num_classes, bn, mapping.global_dropout, self.rng)

    def seed_dropout(self, seed: int) -> None:
        """Restart the dropout generators from ``seed``."""
        self.rng.reseed(seed)

    def run(self, x: Tensor, ops: tuple[int, ...]) -> Tensor:
        """Logits for validated op indices ``ops``."""
        x = self.stem(x)
        for layer, is_cell in zip(self.layers, self._is_cell, strict=True):
            x = layer(x, ops) if is_cell else layer(x)
        return self.head(x)

    def cells(self) -> list[NB201Cell]:
        """The cells in network order."""
        return [layer for layer in self.layers if isinstance(layer, NB201Cell)]


class NB201Standalone(NB201Network):
    """The plain network of one architecture: only the chosen op per edge, ops on edges, one BN per op."""

    def __init__(self, arch: Any, mapping: MappingCfg, num_classes: int, in_channels: int = 3) -> None:
        ops = arch_ops(arch)
        mapping = mapping.model_copy(update={"op_map": "edge", "wsbn": False, "kernel": "separate"})
        super().__init__(mapping, num_classes, in_channels, [(o,) for o in ops], "edge", False)
        self.ops = ops

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the architecture for the batch ``x``."""
        return self.run(x, self.ops)


class NB201SuperNet(NB201Network, SuperNet):
    """Weight-sharing super-net over the NB201 space under the mapping ``mapping``."""

    space = "nb201"

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int = 3) -> None:
        all_ops = [tuple(range(len(OPS)))] * len(EDGES)
        super().__init__(mapping, num_classes, in_channels, all_ops, mapping.op_map, mapping.wsbn)
        self.in_channels = in_channels
        self._valid: set[Any] = set()

    def _ops(self, arch: Any) -> tuple[int, ...]:
        key = getattr(arch, "ops", arch)
        if isinstance(key, tuple) and key in self._valid:
            return key
        ops = arch_ops(arch)
        if isinstance(key, tuple):
            self._valid.add(key)
        return ops

    def forward(self, x: Tensor, arch: Any) -> Tensor:
        """Logits of the sub-network ``arch`` (``NB201Arch`` or 6 op indices) for the batch ``x``."""
        return self.run(x, self._ops(arch))

    def standalone(self, arch: Any) -> NB201Standalone:
        """A freshly initialised stand-alone network of ``arch`` with this super-net's macro and BN settings."""
        model = NB201Standalone(arch, self.mapping, self.num_classes, self.in_channels)
        return model.to(next(self.parameters()).device)

    def copy_to_standalone(self, arch: Any, model: nn.Module) -> None:
        """Copy the shared weights of the path ``arch`` (and tracked BN buffers) into ``model``."""
        ops = arch_ops(arch)
        if not isinstance(model, NB201Standalone) or model.ops != ops:
            raise ValueError("copy_to_standalone needs the NB201Standalone of the same architecture "
                             "(build it with supernet.standalone(arch))")
        model.stem.load_state_dict(self.stem.state_dict())
        model.head.load_state_dict(self.head.state_dict())
        for mine, theirs in zip(self.layers, model.layers, strict=True):
            if not isinstance(mine, NB201Cell):
                theirs.load_state_dict(mine.state_dict())
                continue
            assert isinstance(theirs, NB201Cell)
            for e, o in enumerate(ops):
                src, dst = mine.entry(e, o), theirs.entry(e, o)
                if src is None or dst is None:
                    continue
                module, target = mine.ops[src[0]], theirs.ops[dst[0]]
                bn_index = max(mine.bn_index(e, ops), 0)
                if isinstance(module, SharedKernelConv) and src[2]:
                    assert isinstance(target, ReLUConvBN)
                    module.copy_into(target, bn_index, src[2])
                else:
                    copy_op(target, module, bn_index)


