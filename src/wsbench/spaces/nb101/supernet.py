"""NAS-Bench-101 super-net and stand-alone network.

Macro skeleton, as the benchmark builds its networks: stem (3x3 conv + BN + ReLU, ``C`` channels) -> 3 stacks
of ``cells_per_stage`` cells; before every stack but the first a 2x2 max-pool (stride 2) halves the resolution
and the first cell of the stack doubles the channels -> global average pooling -> (dropout) -> dense layer.

A cell is a pruned NB101 cell (``wsbench.spaces.nb101.space``). Interior vertex ``t`` sums its inputs: the outputs of
earlier interior vertices truncated to its channel count (first channels) and, when the cell input feeds it, a
1x1 projection (conv + BN + ReLU) of the cell input; it then applies its op (conv3x3-bn-relu, conv1x1-bn-relu or
3x3 max-pool). The cell output concatenates the vertices feeding it, plus the projected input when the input
feeds the output (or is only that projection for the bare input->output cell). Channel counts follow the
benchmark (``spaces.nb101.vertex_channels``).

Mapping f_ws (``MappingCfg``), ops on nodes: interior vertex ``t`` of the pruned cell uses the shared weights of
super-net vertex slot ``t`` (1..5) of its cell: a projection from the cell input and the candidate convolutions.

* ``dynamic_channels``: slot weights are allocated for ``c_max`` = the cell's output channels and reduced to the
  vertex's ``c`` (``channels.py``: fixed / shuffle / interpolate). ``shuffle`` draws a subset per vertex on every
  training forward from a seeded generator (reseeded by ``seed_dropout``); in eval mode (also during BN
  re-estimation) it uses the first ``c`` channels. ``disable`` trains one sub-space ``A1..A4`` (the number of
  vertices feeding the output is fixed): slots hold ``ceil(C_out / k)`` channels, and the one-channel remainder
  differences of the benchmark's split take the first channels.
* ``kernel``: ``separate`` (own 3x3 and 1x1 kernels and BNs), ``single`` (the 1x1 kernel is the centre tap of
  the 3x3 kernel, BN shared), ``ofa`` (the 1x1 kernel is the centre tap multiplied on its input-channel side by a
  learned ``c_max x c_max`` matrix initialised to the identity, BN shared; for a 1x1 target OFA's spatial
  transform would be a scalar, which the following BN cancels).
* ``wsbn``: the BN of a vertex's convolution is replicated per in-degree of the vertex (number of summed inputs,
  1..t for slot t), since a node op sees the sum of its inputs, not one edge.
* ``path_dropout``: per-sample drop-path over summed inputs (vertex inputs, and concatenation + residual
  projection); ``global_dropout`` before the dense layer. Both only in training mode.

Only the sampled path runs: unused slots, ops and projections are never called.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsbench.config import MappingCfg
from wsbench.spaces.nb101.space import MAX_VERTICES, NB101Arch, prune, subspace_of, vertex_channels
from wsbench.supernet.base import SuperNet, count_params  # noqa: F401 - count_params: part of this module's API
from wsbench.supernet.channels import ConvBNReLU, make_sel
from wsbench.supernet.ops import BNSpec, DropoutRNG, SeededDropout, drop_path_sum

STACKS = 3  # the benchmark's number of stacks (not a MappingCfg field yet)
SLOTS = MAX_VERTICES - 2
KERNEL = {"conv3x3-bn-relu": 3, "conv1x1-bn-relu": 1, "maxpool3x3": 0}
_Plan = list[list[Any]]  # per cell: per vertex index, a ChannelSel or None


@dataclass(frozen=True)
class CellSpec:
    """A pruned cell, ready to run: per vertex its kernel (0 = max-pool), interior predecessors, input edge."""

    arch: NB101Arch
    n: int
    kernels: tuple[int, ...]
    preds: tuple[tuple[int, ...], ...]
    from_input: tuple[bool, ...]
    in_degree: tuple[int, ...]
    out_srcs: tuple[int, ...]
    residual: bool
    matrix: np.ndarray


def cell_spec(arch: Any) -> CellSpec:
    """Prune and analyse ``arch`` (an ``NB101Arch``); ``ValueError`` when it is not a valid NB101 cell."""
    if not isinstance(arch, NB101Arch):
        raise ValueError(f"expected an NB101Arch (wsbench.spaces.nb101.space), got {type(arch).__name__}")
    p = prune(arch)
    if p is None:
        raise ValueError(f"NB101 cell {arch.bits}|{','.join(arch.ops)} has no input->output path")
    if p.n_vertices > MAX_VERTICES:
        raise ValueError(f"NB101 cell has {p.n_vertices} vertices after pruning; the super-net holds {MAX_VERTICES}")
    m, n = p.matrix, p.n_vertices
    return CellSpec(
        arch=p, n=n, kernels=tuple(KERNEL.get(o, -1) for o in p.ops),
        preds=tuple(tuple(s for s in range(1, t) if m[s, t]) for t in range(n)),
        from_input=tuple(bool(m[0, t]) for t in range(n)),
        in_degree=tuple(int(m[:, t].sum()) for t in range(n)),
        out_srcs=tuple(s for s in range(1, n - 1) if m[s, n - 1]), residual=bool(m[0, n - 1]), matrix=m)


class VertexConv(nn.Module):
    """The convolutions of one vertex slot: ``separate`` 3x3 and 1x1 blocks, or one 3x3 block whose kernel also
    gives the 1x1 kernel (``single``: centre tap; ``ofa``: centre tap times a learned matrix)."""

    def __init__(self, c: int, bn: BNSpec, kernel_mode: str = "separate", n_bn: int = 1,
                 kernels: Sequence[int] = (3, 1)) -> None:
        super().__init__()
        if kernel_mode not in ("separate", "single", "ofa"):
            raise ValueError(f"mapping.kernel must be separate, single or ofa, got {kernel_mode!r}")
        self.kernel_mode = kernel_mode
        if kernel_mode != "separate" or 3 in kernels:
            self.conv3 = ConvBNReLU(c, c, 3, bn, n_bn)
        if kernel_mode == "separate" and 1 in kernels:
            self.conv1 = ConvBNReLU(c, c, 1, bn, n_bn)
        if kernel_mode == "ofa":
            self.transform = nn.Parameter(torch.eye(c))

    def effective(self, kernel: int) -> tuple[Tensor, ConvBNReLU]:
        """The full kernel of size ``kernel`` and the block whose BN follows it."""
        if kernel == 3 or self.kernel_mode == "separate":
            block: ConvBNReLU = self.conv3 if kernel == 3 else self.conv1
            return block.conv.weight, block
        centre = self.conv3.conv.weight[:, :, 1:2, 1:2]
        if self.kernel_mode == "ofa":
            centre = torch.matmul(centre[:, :, 0, 0], self.transform)[:, :, None, None]
        return centre, self.conv3

    def forward(self, x: Tensor, kernel: int, sel: Any, bn_index: int) -> Tensor:
        """Apply the ``kernel`` x ``kernel`` conv-BN-ReLU on ``sel``-reduced channels."""
        w, block = self.effective(kernel)
        return block.apply_weight(x, ConvBNReLU.reduced_weight(w, sel, sel), sel, bn_index)


class NB101Cell(nn.Module):
    """One cell position: projections and vertex convolutions per slot (all five in the super-net, the used
    ones at exact channel counts in a stand-alone network) and the input->output projection."""

    def __init__(self, c_in: int, c_out: int, bn: BNSpec, slot_channels: dict[int, int],
                 slot_kernels: dict[int, Sequence[int]], projected: Sequence[int], kernel_mode: str, wsbn: bool,
                 residual: bool, path_dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        if not 0.0 <= path_dropout < 1.0:
            raise ValueError(f"path_dropout must be in [0, 1), got {path_dropout}")
        self.path_dropout, self.rng = path_dropout, rng
        self.proj = nn.ModuleDict({str(t): ConvBNReLU(c_in, slot_channels[t], 1, bn) for t in projected})
        self.vertex = nn.ModuleDict({
            str(t): VertexConv(slot_channels[t], bn, kernel_mode, t if wsbn else 1, ks)
            for t, ks in slot_kernels.items() if ks})
        self.proj_out = ConvBNReLU(c_in, c_out, 1, bn) if residual else None
        self.wsbn = wsbn
        projs, vertices = dict(self.proj.items()), dict(self.vertex.items())
        self._proj = [projs.get(str(t)) for t in range(SLOTS + 2)]  # by vertex index, without string look-ups
        self._vertex = [vertices.get(str(t)) for t in range(SLOTS + 2)]

    def _sum(self, xs: list[Tensor]) -> Tensor:
        if len(xs) == 1:
            return xs[0]
        if self.training and self.path_dropout > 0.0:
            return drop_path_sum(xs, self.path_dropout, self.rng.get(xs[0].device))
        out = xs[0]
        for t in xs[1:]:
            out = out + t
        return out

    def forward(self, x: Tensor, spec: CellSpec, channels: Sequence[int], sels: Sequence[Any]) -> Tensor:
        """Run the cell ``spec`` with vertex channel counts ``channels`` and channel selections ``sels``."""
        tensors: list[Tensor] = [x]
        for t in range(1, spec.n - 1):
            c = channels[t]
            add_in = [tensors[s] if tensors[s].shape[1] == c else tensors[s][:, :c] for s in spec.preds[t]]
            if spec.from_input[t]:
                add_in.append(self._proj[t](x, sels[t]))  # type: ignore[misc]
            inp = self._sum(add_in)
            k = spec.kernels[t]
            if k == 0:
                tensors.append(F.max_pool2d(inp, 3, 1, 1))
            else:
                bn_index = spec.in_degree[t] - 1 if self.wsbn else 0
                tensors.append(self._vertex[t](inp, k, sels[t], bn_index))  # type: ignore[misc]
        if not spec.out_srcs:
            assert self.proj_out is not None
            return self.proj_out(x)
        outs = [tensors[s] for s in spec.out_srcs]
        out = outs[0] if len(outs) == 1 else torch.cat(outs, dim=1)
        if spec.residual:
            assert self.proj_out is not None
            out = self._sum([out, self.proj_out(x)])
        return out


class NB101Head(nn.Module):
    """Global average pooling -> dropout (training only) -> dense layer with bias."""

    def __init__(self, channels: int, num_classes: int, dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        self.dropout = SeededDropout(dropout, rng)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (batch, num_classes)."""
        return self.classifier(self.dropout(x.mean(dim=(2, 3))))


class NB101Network(nn.Module):
    """Stem, 3 stacks of cells with max-pool downsampling, and the head; ``cell_factory(c_in, c_out)`` builds
    each cell."""

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int, cell_factory: Any) -> None:
        super().__init__()
        if mapping.channels < 1 or mapping.cells_per_stage < 1:
            raise ValueError(f"channels and cells_per_stage must be >= 1, got {mapping.channels}, "
                             f"{mapping.cells_per_stage}")
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.mapping, self.num_classes, self.in_channels = mapping, num_classes, in_channels
        self.rng = DropoutRNG(0)
        bn = BNSpec.from_mapping(mapping)
        self.stem = ConvBNReLU(in_channels, mapping.channels, 3, bn)
        layers: list[nn.Module] = []
        self.cell_out: list[int] = []  # output channels of each cell, in order
        c_in = c_out = mapping.channels
        for stack in range(STACKS):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))  # TF "same" padding for 2x2/2 pooling
                c_out *= 2
            for _ in range(mapping.cells_per_stage):
                layers.append(cell_factory(c_in, c_out))
                self.cell_out.append(c_out)
                c_in = c_out
        self.layers = nn.ModuleList(layers)
        self._is_cell = [isinstance(layer, NB101Cell) for layer in layers]
        self.head = NB101Head(c_out, num_classes, mapping.global_dropout, self.rng)

    def seed_dropout(self, seed: int) -> None:
        """Restart the dropout generators from ``seed``."""
        self.rng.reseed(seed)

    def cells(self) -> list[NB101Cell]:
        """The cells in network order."""
        return [layer for layer in self.layers if isinstance(layer, NB101Cell)]

    def run(self, x: Tensor, spec: CellSpec, channels: Sequence[Sequence[int]], plan: _Plan | None) -> Tensor:
        """Logits of ``spec`` with per-cell vertex channels and channel selections (``None``: no reduction)."""
        x = self.stem(x)
        i = 0
        none = [None] * spec.n
        for layer, is_cell in zip(self.layers, self._is_cell, strict=True):
            if is_cell:
                x = layer(x, spec, channels[i], none if plan is None else plan[i])
                i += 1
            else:
                x = layer(x)
        return self.head(x)

    def vertex_channels(self, spec: CellSpec) -> list[list[int]]:
        """The benchmark's channel count of every vertex, per cell (``spaces.nb101.vertex_channels``)."""
        cache: dict[int, list[int]] = {}
        for c in self.cell_out:
            if c not in cache:
                cache[c] = vertex_channels(c // 2, c, spec.matrix)  # in_channels does not affect the interior
        return [cache[c] for c in self.cell_out]


class NB101Standalone(NB101Network):
    """The plain network of one cell: the used projections and convolutions at exact channel counts."""

    def __init__(self, arch: NB101Arch, mapping: MappingCfg, num_classes: int, in_channels: int = 3) -> None:
        spec = cell_spec(arch)
        bn = BNSpec.from_mapping(mapping)

        def factory(c_in: int, c_out: int) -> NB101Cell:
            ch = vertex_channels(c_in, c_out, spec.matrix)
            inner = range(1, spec.n - 1)
            return NB101Cell(c_in, c_out, bn, {t: ch[t] for t in inner},
                             {t: (spec.kernels[t],) if spec.kernels[t] else () for t in inner},
                             [t for t in inner if spec.from_input[t]], "separate", False,
                             spec.residual or not spec.out_srcs, mapping.path_dropout, self.rng)

        super().__init__(mapping, num_classes, in_channels, factory)
        self.spec = spec
        self._channels = self.vertex_channels(spec)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of the architecture for the batch ``x``."""
        return self.run(x, self.spec, self._channels, None)


class NB101SuperNet(NB101Network, SuperNet):
    """Weight-sharing super-net over NB101 cells (ops on nodes) under the mapping ``mapping``.

    ``subspace`` (``A1``..``A4``) is required by ``dynamic_channels="disable"``.
    """

    space = "nb101"

    def __init__(self, mapping: MappingCfg, num_classes: int, in_channels: int = 3,
                 subspace: str | None = None) -> None:
        if mapping.op_map != "node":
            raise ValueError("NB101 ops live on nodes (a vertex sums its inputs, then applies its op): set "
                             "mapping.op_map=node")
        fan_in: int | None = None
        if mapping.dynamic_channels == "disable":
            if subspace not in ("A1", "A2", "A3", "A4"):
                raise ValueError(f"mapping.dynamic_channels='disable' trains one sub-space with fixed channel "
                                 f"counts: set space.subspace to A1, A2, A3 or A4 (got {subspace!r}), or use "
                                 f"fixed/shuffle/interpolate")
            fan_in = int(subspace[1])
        bn = BNSpec.from_mapping(mapping)
        c_div = fan_in or 1

        def factory(c_in: int, c_out: int) -> NB101Cell:
            c_slot = math.ceil(c_out / c_div)
            slots = range(1, SLOTS + 1)
            return NB101Cell(c_in, c_out, bn, dict.fromkeys(slots, c_slot), dict.fromkeys(slots, (3, 1)),
                             list(slots), mapping.kernel, mapping.wsbn, True, mapping.path_dropout, self.rng)

        super().__init__(mapping, num_classes, in_channels, factory)
        self.fan_in, self.subspace = fan_in, subspace
        self.mode = "fixed" if mapping.dynamic_channels == "disable" else mapping.dynamic_channels
        self._slot_max = [math.ceil(c / c_div) for c in self.cell_out]
        self.channel_gen = torch.Generator().manual_seed(0)
        self._specs: dict[NB101Arch, tuple[CellSpec, list[list[int]]]] = {}

    def seed_dropout(self, seed: int) -> None:
        """Restart the dropout generators and the channel-shuffle generator from ``seed``."""
        self.rng.reseed(seed)
        self.channel_gen.manual_seed(int(np.random.SeedSequence([int(seed), 101]).generate_state(1)[0]))

    def seed_channels(self, seed: int) -> None:
        """Restart only the channel-shuffle generator."""
        self.channel_gen.manual_seed(int(seed))

    def spec(self, arch: Any) -> tuple[CellSpec, list[list[int]]]:
        """Pruned cell and per-cell vertex channels of ``arch`` (cached)."""
        hit = self._specs.get(arch) if isinstance(arch, NB101Arch) else None
        if hit is not None:
            return hit
        spec = cell_spec(arch)
        if self.fan_in is not None and subspace_of(spec.arch) != self.subspace:
            raise ValueError(f"cell {spec.arch.bits}|{','.join(spec.arch.ops)} is in sub-space "
                             f"{subspace_of(spec.arch)}, but this super-net (dynamic_channels='disable') covers "
                             f"{self.subspace} only")
        hit = (spec, self.vertex_channels(spec))
        if len(self._specs) > 16384:
            self._specs.clear()
        self._specs[arch] = hit
        return hit

    def channel_plan(self, arch: Any, draw: bool | None = None) -> _Plan:
        """Channel selections of every cell and vertex for ``arch``; ``draw`` (default: training mode) makes
        ``shuffle`` draw random subsets from ``channel_gen``, otherwise it takes the first channels."""
        spec, channels = self.spec(arch)
        draw = self.training if draw is None else draw
        gen = self.channel_gen if draw and self.mode == "shuffle" else None
        device = self.stem.conv.weight.device
        return [[None] + [make_sel(self.mode, ch[t], c_max, device, gen) for t in range(1, spec.n - 1)] + [None]
                for ch, c_max in zip(channels, self._slot_max, strict=True)]

    def forward(self, x: Tensor, arch: Any) -> Tensor:
        """Logits of the sub-network ``arch`` (an ``NB101Arch``, pruned on the fly) for the batch ``x``."""
        spec, channels = self.spec(arch)
        return self.run(x, spec, channels, self.channel_plan(arch))

    def standalone(self, arch: Any) -> NB101Standalone:
        """A freshly initialised stand-alone network of ``arch`` with this super-net's macro and BN settings."""
        model = NB101Standalone(arch, self.mapping, self.num_classes, self.in_channels)
        return model.to(self.stem.conv.weight.device)

    @torch.no_grad()
    def copy_to_standalone(self, arch: Any, model: nn.Module, plan: _Plan | None = None) -> None:
        """Copy the (reduced) shared weights of the path ``arch`` into ``model``; ``plan`` fixes the channel
        selections (default: those of eval mode, i.e. the first channels for ``shuffle``)."""
        spec, _ = self.spec(arch)
        if not isinstance(model, NB101Standalone) or model.spec.arch != spec.arch:
            raise ValueError("copy_to_standalone needs the NB101Standalone of the same architecture "
                             "(build it with supernet.standalone(arch))")
        plan = self.channel_plan(arch, draw=False) if plan is None else plan
        model.stem.load_state_dict(self.stem.state_dict())
        model.head.load_state_dict(self.head.state_dict())
        for i, (mine, theirs) in enumerate(zip(self.cells(), model.cells(), strict=True)):
            for t in range(1, spec.n - 1):
                sel = plan[i][t]
                if spec.from_input[t]:
                    src = mine._proj[t]
                    assert src is not None
                    w = ConvBNReLU.reduced_weight(src.conv.weight, sel, None)
                    theirs._proj[t].load_effective(w, src.bn[0], sel)  # type: ignore[union-attr]
                k = spec.kernels[t]
                if k:
                    w, block = mine._vertex[t].effective(k)  # type: ignore[union-attr]
                    bn_index = spec.in_degree[t] - 1 if mine.wsbn else 0
                    dst = getattr(theirs._vertex[t], f"conv{k}")
                    dst.load_effective(ConvBNReLU.reduced_weight(w, sel, sel), block.bn[bn_index], sel)
            if theirs.proj_out is not None:
                assert mine.proj_out is not None
                theirs.proj_out.load_state_dict(mine.proj_out.state_dict())


