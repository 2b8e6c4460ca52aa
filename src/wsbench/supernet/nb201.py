"""NAS-Bench-201 super-net and stand-alone network.

Macro skeleton (NB201): stem (3x3 conv + BN) -> N cells at C channels -> residual reduction -> N cells at 2C
-> residual reduction -> N cells at 4C -> BN + ReLU -> global average pooling -> (dropout) -> linear.
A cell has 4 nodes; node j is the sum over incoming edges (i, j), i < j, of op(node i); the cell output is
node 3. Ops are those of ``wsbench.spaces.nb201.OPS``.

Mapping switches (``MappingCfg``):

* ``op_map="edge"``: every edge owns its candidate ops. ``op_map="node"``: all edges into the same node share
  one set of candidate ops (edges (0,3), (1,3), (2,3) share the weights of node 3).
* ``wsbn``: the BN inside each conv op is replicated per incoming edge (indexed by the source node) while the
  convolution stays shared. With ``op_map="edge"`` each edge already has its own BN, so ``wsbn`` changes
  nothing there.
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
from wsbench.spaces.nb201 import EDGES, OPS
from wsbench.supernet.base import SuperNet
from wsbench.supernet.ops import (
    BNSpec,
    ClassifierHead,
    DropoutRNG,
    ResidualReduction,
    Stem,
    copy_op,
    make_op,
    sum_inputs,
)

NONE_OP = OPS.index("none")
_PARAM_FREE = frozenset({"skip_connect", "avg_pool_3x3"})
_Entry = tuple[str, int]  # (module key in the cell's ModuleDict, BN index; -1 for parameter-free ops)


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
                 path_dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        if op_map not in ("edge", "node"):
            raise ValueError(f"op_map must be 'edge' or 'node', got {op_map!r}")
        if not 0.0 <= path_dropout < 1.0:
            raise ValueError(f"path_dropout must be in [0, 1), got {path_dropout}")
        self.path_dropout = path_dropout
        self.rng = rng
        self.ops = nn.ModuleDict()
        self._table: list[dict[int, _Entry | None]] = []
        for e, (src, dst) in enumerate(EDGES):
            row: dict[int, _Entry | None] = {}
            for o in candidates[e]:
                name = OPS[o]
                if name == "none":
                    row[o] = None
                    continue
                key = f"edge{e}_{name}" if op_map == "edge" else f"node{dst}_{name}"
                per_edge_bn = op_map == "node" and wsbn
                if key not in self.ops:
                    op = make_op(name, channels, bn, n_bn=dst if per_edge_bn else 1)
                    assert op is not None
                    self.ops[key] = op
                row[o] = (key, -1 if name in _PARAM_FREE else (src if per_edge_bn else 0))
            self._table.append(row)
        self._incoming = {j: [(e, s) for e, (s, d) in enumerate(EDGES) if d == j] for j in (1, 2, 3)}

    def entry(self, edge: int, op: int) -> _Entry | None:
        """(module key, BN index) that computes ``op`` on ``edge``; ``None`` for ``none``."""
        return self._table[edge][op]

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
                key, bn_index = entry
                inp = nodes[src]
                if inp is None:
                    if bn_index < 0:
                        continue  # skip / pooling of a zero node is zero
                    inp = torch.zeros_like(x)
                module = self.ops[key]
                outs.append(module(inp) if bn_index < 0 else module(inp, bn_index))
            nodes[dst] = self._merge(outs)
        out = nodes[3]
        return torch.zeros_like(x) if out is None else out


class NB201Network(nn.Module):
    """Stem, three stages of cells with residual reductions, and the classifier head."""

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int,
                 candidates: Sequence[Sequence[int]], op_map: str, wsbn: bool) -> None:
        super().__init__()
        if mapping.kernel != "separate":
            raise ValueError(f"mapping.kernel={mapping.kernel!r} is not implemented yet for nb201; use 'separate'")
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
                layers.append(NB201Cell(c, bn, candidates, op_map, wsbn, mapping.path_dropout, self.rng))
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
        mapping = mapping.model_copy(update={"op_map": "edge", "wsbn": False})
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
                copy_op(theirs.ops[dst[0]], mine.ops[src[0]], max(src[1], 0))


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters of ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
