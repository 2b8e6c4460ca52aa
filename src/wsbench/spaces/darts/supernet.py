"""DARTS (NDS / NAS-Bench-301) super-net and stand-alone network.

Macro skeleton (the DARTS CIFAR network): stem (3x3 conv to 3C + BN) -> ``layers`` cells, reduction cells at
``layers // 3`` and ``2 * layers // 3`` (channels double there) -> global average pooling -> (dropout) ->
linear. A cell preprocesses its two inputs (the outputs of the two previous cells, the stem output for the first
cells) with a 1x1 ReLU-conv-BN, or a ``FactorizedReduce`` when the previous cell reduced; intermediate node ``i``
(graph node ``i + 2``) sums its two sampled edges ``(input, op)``; the cell output concatenates the 4
intermediate nodes. In a reduction cell the edges from the two cell inputs have stride 2 (a stride-2
``skip_connect`` is a ``FactorizedReduce``). Pooling ops have no BN after them, as in the stand-alone networks
that NAS-Bench-301 trained (the DARTS search network adds one; the stand-alone protocol is what is mirrored
here).

Layers: ``MappingCfg`` has no field for the DARTS layer count, so ``layers = 3 * mapping.cells_per_stage``
(Table 5's 12 layers = ``cells_per_stage: 4``) unless the constructor gets ``layers=`` (the NB301 sample's
networks have 8 layers) or the mapping has a ``layers`` field.

Batch norm: ``mapping.bn_affine`` applies to the BNs inside the candidate ops (the shared weights; Table 5:
A=F), while the stem and the cell preprocessing keep affine BNs. This is the NB301 training network (its
parameter counts are reproduced by ``DartsSpace.num_params(..., op_affine=False)``).
``mapping.bn_track_running_stats`` applies to every BN.

Mapping switches (``MappingCfg``):

* ``op_map="edge"``: each of the 14 possible edges ``(input -> node)`` of a cell owns its candidate ops.
  ``op_map="node"``: all edges into the same node share one set of candidate ops (the same module serves the
  stride-2 edges from the cell inputs and the stride-1 edges from earlier nodes of a reduction cell).
* ``wsbn`` (Luo et al.'s weight-sharing BN: an independent set of BN parameters per incoming edge): with
  ``op_map="node"`` the ops of a node are shared by its possible inputs and their BNs are replicated per input
  node. With ``op_map="edge"`` every edge already owns its op, so what varies between genotypes is the other
  input the op's output is summed with: the BNs of each op are replicated per possible partner input of the
  node (``node + 2`` sets), and the genotype picks the set of the partner edge's input.
* ``kernel="ofa"``: ``sep_conv_3x3``/``sep_conv_5x5`` share one module (and so do the two ``dil_conv``); the
  3x3 depthwise kernels are the centre crops of the 5x5 ones mapped through a learned 9x9 transform that starts
  as the identity; pointwise convolutions and BNs are shared too. ``kernel="single"``: the same without the
  transform. ``kernel="separate"``: every op has its own weights.
* ``path_dropout``: per-sample drop-path over the computed edges of a node (never dropping all of them),
  ``global_dropout``: before the classifier; both only in training mode.

Only the sampled path is computed: each node runs its two sampled edges; a cell input that no edge reads is not
preprocessed, and a cell whose output no later cell reads is not run. Besides the 7 ops of
``wsbench.spaces.darts.OPS`` the super-net knows ``none`` (``SUPERNET_OPS``): such an edge contributes
nothing; a node with no computed edge is zero (materialised only when a convolution reads it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from wsbench.config import MappingCfg
from wsbench.spaces.darts.ops import DilConv, FactorizedReduce, SepConv, avg_pool, max_pool
from wsbench.spaces.darts.space import EDGES_PER_CELL, NUM_NODES, OPS, SUPERNET_OPS
from wsbench.supernet.base import SuperNet, count_params  # noqa: F401 - count_params: part of this module's API
from wsbench.supernet.ops import BNSpec, DropoutRNG, ReLUConvBN, SeededDropout, Stem, sum_inputs

NONE = SUPERNET_OPS.index("none")
STEM_MULTIPLIER = 3
SupernetCell = tuple[tuple[int, int], ...]  # 8 (input, index into SUPERNET_OPS) pairs


@dataclass(frozen=True)
class Entry:
    """How one (input, op) edge is computed: the input node, a module key ('' for parameter-free ops), the
    kind (``module``, ``identity``, ``max``, ``avg``), stride, BN index and kernel size (None: the module's)."""

    src: int
    kind: str
    key: str
    stride: int
    bn_index: int = 0
    size: int | None = None

    @property
    def zero_safe(self) -> bool:
        """A zero input gives a zero output (skip and pooling), so a dead input node can be left out."""
        return self.kind != "module"


class Plan(NamedTuple):
    """The resolved edges of one cell type (``None`` for ``none``) and which cell inputs they read."""

    edges: tuple[Entry | None, ...]
    uses: tuple[bool, bool]


def arch_cells(arch: Any) -> tuple[SupernetCell, SupernetCell]:
    """``(normal, reduce)`` as ``(input, SUPERNET_OPS index)`` pairs.

    Accepts a ``DartsArch`` (op indices into ``OPS``) or a pair of cells whose edges are ``(input, op)`` with
    ``op`` an index into ``OPS`` or a name from ``SUPERNET_OPS`` (so ``"none"`` can be given). Both inputs of
    a node may be equal.
    """
    cells = (getattr(arch, "normal", None), getattr(arch, "reduce", None)) if hasattr(arch, "normal") else arch
    try:
        if len(cells) != 2:
            raise TypeError
        out = tuple(tuple(_edge(e, j) for j, e in enumerate(cell)) for cell in cells)
    except (TypeError, ValueError) as exc:
        why = f": {exc}" if str(exc) else ""
        raise ValueError(f"bad DARTS architecture {arch!r}{why}; need a DartsArch or (normal, reduce) cells of "
                         f"{EDGES_PER_CELL} (input, op) edges, input < node + 2, op an index into OPS or a name "
                         f"in {', '.join(SUPERNET_OPS)}") from None
    if any(len(c) != EDGES_PER_CELL for c in out):
        raise ValueError(f"bad DARTS architecture {arch!r}: each cell needs {EDGES_PER_CELL} edges")
    return out[0], out[1]


def _edge(edge: Any, j: int) -> tuple[int, int]:
    inp, op = edge
    if isinstance(op, str):
        if op not in SUPERNET_OPS:
            raise ValueError(f"unknown op {op!r}")
        code = SUPERNET_OPS.index(op)
    else:
        if isinstance(op, bool) or not 0 <= int(op) < len(OPS):
            raise ValueError(f"op index {op!r} out of 0..{len(OPS) - 1}")
        code = int(op) + 1
    if isinstance(inp, bool | str) or not 0 <= int(inp) < j // 2 + 2:
        raise ValueError(f"edge {j} has input {inp!r}, need 0..{j // 2 + 1}")
    return int(inp), code


class DartsCell(nn.Module):
    """One DARTS cell holding candidate ops (all of them in a super-net, those of one genotype in a stand-alone
    network). ``table`` maps a lookup key ``(slot, input, SUPERNET_OPS index)`` to its ``Entry``, where ``slot``
    is the node (super-net) or the edge position 0..7 (stand-alone)."""

    def __init__(self, c_pp: int, c_p: int, c: int, reduction: bool, reduction_prev: bool, macro_bn: BNSpec,
                 op_bn: BNSpec, lookups: Sequence[tuple[int, int, int]], per_slot: bool, op_map: str, wsbn: bool,
                 kernel: str, path_dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        self.reduction, self.channels = reduction, c
        self.pre0: nn.Module = (FactorizedReduce(c_pp, c, macro_bn) if reduction_prev
                                else ReLUConvBN(c_pp, c, 1, 1, macro_bn))
        self.pre1 = ReLUConvBN(c_p, c, 1, 1, macro_bn)
        self.path_dropout, self.rng = path_dropout, rng
        self.ops = nn.ModuleDict()
        self.table: dict[tuple[int, int, int], Entry | None] = {}
        for slot, src, code in lookups:
            node = slot // 2 if per_slot else slot
            prefix = f"slot{slot}" if per_slot else (f"e{src}_{node}" if op_map == "edge" else f"n{node}")
            self.table[(slot, src, code)] = self._entry(prefix, node, src, SUPERNET_OPS[code], op_bn,
                                                        wsbn, op_map, kernel)

    def _entry(self, prefix: str, node: int, src: int, name: str, bn: BNSpec, wsbn: bool, op_map: str,
               kernel: str) -> Entry | None:
        per_edge_bn = wsbn and op_map == "node"  # BN set per input node (edge mapping: set by the partner)
        stride = 2 if self.reduction and src < 2 else 1
        if name == "none":
            return None
        if name in ("max_pool_3x3", "avg_pool_3x3"):
            return Entry(src, name[:3], "", stride)
        if name == "skip_connect":
            if stride == 1:
                return Entry(src, "identity", "", 1)
            key = f"{prefix}_skip_reduce"
            if key not in self.ops:
                n_skip = (2 if per_edge_bn else node + 2) if wsbn else 1
                self.ops[key] = FactorizedReduce(self.channels, self.channels, bn, n_skip)
            return Entry(src, "module", key, 2, src if per_edge_bn else 0)
        family, size = name[:8], int(name[-1])  # "sep_conv" / "dil_conv", 3 / 5
        cls = SepConv if family == "sep_conv" else DilConv
        n_bn = node + 2 if wsbn else 1
        bn_index = src if per_edge_bn else 0
        if kernel == "separate":
            key = f"{prefix}_{name}"
            if key not in self.ops:
                self.ops[key] = cls(self.channels, size, bn, n_bn)
            return Entry(src, "module", key, stride, bn_index)
        key = f"{prefix}_{family}"  # one 5x5 module serves both kernel sizes
        if key not in self.ops:
            self.ops[key] = cls(self.channels, 5, bn, n_bn, small=(3,), transform=kernel == "ofa")
        return Entry(src, "module", key, stride, bn_index, size)

    def _compute(self, e: Entry, x: Tensor) -> Tensor:
        if e.kind == "module":
            return self.ops[e.key](x, e.stride, e.bn_index, e.size)
        if e.kind == "identity":
            return x
        return max_pool(x, e.stride) if e.kind == "max" else avg_pool(x, e.stride)

    def _merge(self, outs: list[Tensor]) -> Tensor | None:
        return sum_inputs(outs, self.training, self.path_dropout, self.rng)

    def forward(self, s0: Tensor | None, s1: Tensor | None, plan: Plan, node_shape: tuple[int, ...],
                ref: Tensor) -> Tensor:
        """Cell output for the resolved ``plan``; ``node_shape`` (batch, C, H, W) shapes zero nodes."""
        states: list[Tensor | None] = [self.pre0(s0) if plan.uses[0] else None,
                                       self.pre1(s1) if plan.uses[1] else None]
        for i in range(NUM_NODES):
            outs: list[Tensor] = []
            for e in plan.edges[2 * i:2 * i + 2]:
                if e is None:
                    continue
                inp = states[e.src]
                if inp is None:  # a dead intermediate node (cell inputs read by an edge are always computed)
                    if e.zero_safe:
                        continue
                    inp = ref.new_zeros(node_shape)
                outs.append(self._compute(e, inp))
            states.append(self._merge(outs))
        return torch.cat([ref.new_zeros(node_shape) if s is None else s for s in states[2:]], dim=1)


class DartsHead(nn.Module):
    """Global average pooling -> dropout (training only) -> linear classifier."""

    def __init__(self, channels: int, num_classes: int, dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = SeededDropout(dropout, rng)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (batch, num_classes)."""
        return self.classifier(self.dropout(self.pool(x).flatten(1)))


class DartsNetwork(nn.Module):
    """Stem, ``layers`` cells (reductions at 1/3 and 2/3) and the head; ``per_slot`` keys ops by edge position."""

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int, layers: int | None,
                 candidates: tuple[Sequence[tuple[int, int, int]], Sequence[tuple[int, int, int]]], per_slot: bool,
                 op_map: str, wsbn: bool, kernel: str) -> None:
        super().__init__()
        if layers is None:  # a ``layers`` field of the mapping wins when the config has one
            layers = getattr(mapping, "layers", None) or 3 * mapping.cells_per_stage
        layers = int(layers)
        if op_map not in ("edge", "node"):
            raise ValueError(f"mapping.op_map must be 'edge' or 'node', got {op_map!r}")
        if kernel not in ("separate", "single", "ofa"):
            raise ValueError(f"mapping.kernel must be separate, single or ofa, got {kernel!r}")
        if mapping.dynamic_channels != "fixed":
            raise ValueError("mapping.dynamic_channels applies to nb101 only; keep 'fixed' for darts")
        if mapping.channels < 2 or layers < 1:
            raise ValueError(f"darts needs mapping.channels >= 2 and >= 1 layer (layers = 3 * "
                             f"mapping.cells_per_stage), got channels={mapping.channels}, layers={layers}")
        if not 0.0 <= mapping.path_dropout < 1.0:
            raise ValueError(f"mapping.path_dropout must be in [0, 1), got {mapping.path_dropout}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.mapping, self.num_classes, self.in_channels, self.layers = mapping, num_classes, in_channels, layers
        self.per_slot = per_slot
        self._partner_bn = wsbn and op_map == "edge" and not per_slot  # edge-mapped WSBN: BN set by partner
        self.rng = DropoutRNG(0)
        op_bn = BNSpec.from_mapping(mapping)
        macro_bn = BNSpec(True, mapping.bn_track_running_stats, mapping.bn_momentum, mapping.bn_eps)
        c = mapping.channels
        self.stem = Stem(in_channels, STEM_MULTIPLIER * c, macro_bn)
        c_pp, c_p, c_cur, reduction_prev = STEM_MULTIPLIER * c, STEM_MULTIPLIER * c, c, False
        cells = []
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            c_cur *= 2 if reduction else 1
            cells.append(DartsCell(c_pp, c_p, c_cur, reduction, reduction_prev, macro_bn, op_bn,
                                   candidates[reduction], per_slot, op_map, wsbn, kernel, mapping.path_dropout,
                                   self.rng))
            c_pp, c_p, reduction_prev = c_p, NUM_NODES * c_cur, reduction
        self.cells = nn.ModuleList(cells)
        self.head = DartsHead(c_p, num_classes, mapping.global_dropout, self.rng)
        self._first = {r: next((cell for cell in cells if cell.reduction == r), None) for r in (False, True)}

    def seed_dropout(self, seed: int) -> None:
        """Restart the dropout generators from ``seed``."""
        self.rng.reseed(seed)

    def plans(self, cells: tuple[SupernetCell, SupernetCell]) -> tuple[Plan, Plan]:
        """Resolve ``(normal, reduce)`` into the per-type plans (``KeyError``: an edge this network lacks)."""
        out = []
        for reduction, cell in ((False, cells[0]), (True, cells[1])):
            first = self._first[reduction]
            if first is None:  # no cell of this type in the network
                out.append(Plan((None,) * EDGES_PER_CELL, (False, False)))
                continue
            edges = tuple(first.table[(j if self.per_slot else j // 2, src, code)] for j, (src, code)
                          in enumerate(cell))
            if self._partner_bn:  # the other input of the same node picks the BN set
                edges = tuple(e if e is None or e.kind != "module" else replace(e, bn_index=cell[j ^ 1][0])
                              for j, e in enumerate(edges))
            uses = tuple(any(e is not None and e.src == k for e in edges) for k in (0, 1))
            out.append(Plan(edges, (uses[0], uses[1])))
        return out[0], out[1]

    def run(self, x: Tensor, plans: tuple[Plan, Plan]) -> Tensor:
        """Logits for resolved plans; cells whose output nothing reads are not run."""
        kinds = [cell.reduction for cell in self.cells]
        n = len(kinds)
        needed = [False] * n
        for i in range(n - 1, -1, -1):
            needed[i] = (i == n - 1 or (needed[i + 1] and plans[kinds[i + 1]].uses[1])
                         or (i + 2 < n and needed[i + 2] and plans[kinds[i + 2]].uses[0]))
        s = self.stem(x)
        s0: Tensor | None = s
        s1: Tensor | None = s
        h, w = s.shape[-2:]
        for i, cell in enumerate(self.cells):
            if cell.reduction:
                h, w = (h + 1) // 2, (w + 1) // 2
            out = cell(s0, s1, plans[kinds[i]], (s.shape[0], cell.channels, h, w), s) if needed[i] else None
            s0, s1 = s1, out
        assert s1 is not None
        return self.head(s1)


def _all_edges(n_ops: int = len(SUPERNET_OPS)) -> list[tuple[int, int, int]]:
    """Every ``(node, input, op)`` lookup of a super-net cell."""
    return [(node, src, code) for node in range(NUM_NODES) for src in range(node + 2) for code in range(n_ops)]


class DartsStandalone(DartsNetwork):
    """The plain DARTS network of one genotype: one module per edge position, separate kernels, one BN per op."""

    def __init__(self, arch: Any, mapping: MappingCfg, num_classes: int, in_channels: int = 3,
                 layers: int | None = None) -> None:
        cells = arch_cells(arch)
        lookups = tuple([(j, src, code) for j, (src, code) in enumerate(cell)] for cell in cells)
        super().__init__(mapping, num_classes, in_channels, layers, (lookups[0], lookups[1]), True, "edge", False,
                         "separate")
        self.arch_cells = cells
        self._plans = self.plans(cells)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the genotype for the batch ``x``."""
        return self.run(x, self._plans)


class DartsSuperNet(DartsNetwork, SuperNet):
    """Weight-sharing super-net over the DARTS space under the mapping ``mapping`` (see the module docstring)."""

    space = "darts"

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int = 3,
                 layers: int | None = None) -> None:
        lookups = _all_edges()
        super().__init__(mapping, num_classes, in_channels, layers, (lookups, lookups), False, mapping.op_map,
                         mapping.wsbn, mapping.kernel)

    def forward(self, x: Tensor, arch: Any) -> Tensor:
        """Logits of the sub-network ``arch`` (``DartsArch`` or ``(normal, reduce)`` cells) for ``x``."""
        return self.run(x, self.plans(arch_cells(arch)))

    def standalone(self, arch: Any) -> DartsStandalone:
        """A freshly initialised stand-alone network of ``arch`` with this super-net's macro and BN settings."""
        model = DartsStandalone(arch, self.mapping, self.num_classes, self.in_channels, self.layers)
        return model.to(next(self.parameters()).device)

    def copy_to_standalone(self, arch: Any, model: nn.Module) -> None:
        """Copy the shared weights of the path ``arch`` (and tracked BN buffers) into ``model``."""
        cells = arch_cells(arch)
        if not isinstance(model, DartsStandalone) or model.arch_cells != cells or model.layers != self.layers:
            raise ValueError("copy_to_standalone needs the DartsStandalone of the same architecture "
                             "(build it with supernet.standalone(arch))")
        model.stem.load_state_dict(self.stem.state_dict())
        model.head.load_state_dict(self.head.state_dict())
        mine_plans = self.plans(cells)
        for mine, theirs in zip(self.cells, model.cells, strict=True):
            assert isinstance(mine, DartsCell) and isinstance(theirs, DartsCell)
            theirs.pre0.load_state_dict(mine.pre0.state_dict())
            theirs.pre1.load_state_dict(mine.pre1.state_dict())
            for src, dst in zip(mine_plans[mine.reduction].edges, model._plans[theirs.reduction].edges,
                                strict=True):
                if src is not None and dst is not None and dst.kind == "module":
                    theirs.ops[dst.key].copy_from(mine.ops[src.key], src.bn_index, src.size)


