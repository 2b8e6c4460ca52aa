"""Dynamic channels: shared weights allocated for ``c_max`` channels, reduced to ``c`` for one sampled path.

A ``ChannelSel`` says how the ``c_max`` channels of a layer become ``c`` channels (the heuristics of *How to
Train Your Super-Net*, sec. 4.4, ``MappingCfg.dynamic_channels``):

* ``fixed``: the first ``c`` channels, ``[0:c]`` (views of the shared tensors).
* ``shuffle``: a random subset of ``c`` channels (kept in increasing order), drawn by the caller from a seeded
  ``torch.Generator``; ``c == c_max`` keeps every channel in order.
* ``interpolate``: the ``c_max`` channels linearly resampled to ``c`` along the channel axis (half-pixel
  centres, as ``torch.nn.functional.interpolate(mode="linear", align_corners=False)``): halving averages pairs
  of neighbouring channels. Applied to both channel axes of a convolution kernel and to the BN affine
  parameters. BN running statistics are buffers, not weights: reduced channel ``j`` keeps its statistics in the
  ``c_max`` slot nearest to its resampling position (distinct slots), so a statistic written by a forward pass is
  read back unchanged by the next (needed by BN re-estimation).

``DynamicBN`` (a ``torch.nn.BatchNorm2d``) and ``ConvBNReLU`` accept a selection in ``forward``; with ``None``
they are plain layers, which is how the stand-alone network uses them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsbench.supernet.ops import BNSpec

MODES = ("fixed", "shuffle", "interpolate")


@dataclass(frozen=True, eq=False)
class ChannelSel:
    """Reduction of ``c_max`` channels to ``c``.

    ``index``: chosen channels (shuffle) or statistics slots (interpolate); ``None`` means the first ``c``.
    ``matrix``: ``(c, c_max)`` resampling matrix (interpolate only; rows sum to one).
    """

    c: int
    c_max: int
    index: Tensor | None = None
    matrix: Tensor | None = None

    def reduce(self, t: Tensor, dim: int) -> Tensor:
        """Reduce the weight tensor ``t`` along ``dim`` (size ``c_max``) to ``c`` entries (differentiable)."""
        if self.matrix is not None:
            m = self.matrix.to(dtype=t.dtype)
            return torch.movedim(torch.tensordot(m, t, dims=([1], [dim])), 0, dim)
        if self.index is not None:
            return t.index_select(dim, self.index)
        return t.narrow(dim, 0, self.c)

    def gather(self, buf: Tensor) -> Tensor:
        """The ``c`` statistics slots of a 1-D buffer (a view for ``fixed``, a copy otherwise)."""
        if self.index is not None:
            return buf.index_select(0, self.index)
        return buf.narrow(0, 0, self.c)

    def scatter(self, buf: Tensor, values: Tensor) -> None:
        """Write ``values`` (from ``gather``) back into their slots of ``buf`` (no-op for views)."""
        if self.index is not None:
            buf.index_copy_(0, self.index, values)


@functools.lru_cache(maxsize=4096)
def interpolation(c: int, c_max: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """``(matrix, slots)``: the ``(c, c_max)`` linear resampling matrix and the nearest ``c_max`` slot of each of
    the ``c`` outputs (strictly increasing). Cached per size and device."""
    if not 1 <= c <= c_max:
        raise ValueError(f"cannot reduce {c_max} channels to {c}: need 1 <= c <= c_max")
    eye = torch.eye(c_max, dtype=torch.float64).unsqueeze(0)  # (1, c_max channels-as-batch, c_max length)
    matrix = F.interpolate(eye, size=c, mode="linear", align_corners=False)[0].T.contiguous()
    pos = (torch.arange(c, dtype=torch.float64) + 0.5) * (c_max / c) - 0.5
    slots = torch.floor(pos + 0.5).clamp(0, c_max - 1).to(torch.long)
    return matrix.to(device=device, dtype=torch.float32), slots.to(device)


def make_sel(mode: str, c: int, c_max: int, device: torch.device, generator: torch.Generator | None = None
             ) -> ChannelSel | None:
    """The selection for ``mode`` (``None`` when ``c == c_max``: nothing to reduce).

    ``shuffle`` draws its subset from ``generator`` (a CPU generator); without one it takes the first ``c``.
    """
    if c == c_max:
        return None
    if not 1 <= c < c_max:
        raise ValueError(f"cannot reduce {c_max} channels to {c}: need 1 <= c <= c_max")
    if mode == "interpolate":
        matrix, slots = interpolation(c, c_max, device)
        return ChannelSel(c, c_max, slots, matrix)
    if mode == "shuffle" and generator is not None:
        idx = torch.randperm(c_max, generator=generator)[:c].sort().values
        return ChannelSel(c, c_max, idx.to(device))
    if mode in MODES:
        return ChannelSel(c, c_max)
    raise ValueError(f"unknown dynamic-channel mode {mode!r}; expected one of {', '.join(MODES)}")


class DynamicBN(nn.BatchNorm2d):
    """``nn.BatchNorm2d`` over ``c_max`` channels that can normalise a reduced ``c``-channel input.

    ``forward(x, sel)`` follows ``nn.BatchNorm2d.forward`` exactly (momentum, cumulative average with
    ``momentum=None``, ``track_running_stats``) on the selected parameters and statistics slots.
    """

    def forward(self, x: Tensor, sel: ChannelSel | None = None) -> Tensor:  # type: ignore[override]
        """Normalise ``x`` (``c_max`` channels, or ``sel.c`` channels with a selection)."""
        if sel is None:
            return super().forward(x)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        bn_training = self.training or (self.running_mean is None and self.running_var is None)
        use_buffers = (not self.training or self.track_running_stats) and self.running_mean is not None
        rm = rv = None
        if use_buffers:
            assert self.running_mean is not None and self.running_var is not None
            rm, rv = sel.gather(self.running_mean), sel.gather(self.running_var)
        weight = sel.reduce(self.weight, 0) if self.weight is not None else None
        bias = sel.reduce(self.bias, 0) if self.bias is not None else None
        y = F.batch_norm(x, rm, rv, weight, bias, bn_training, factor, self.eps)
        if use_buffers and bn_training:
            assert rm is not None and rv is not None and self.running_mean is not None
            with torch.no_grad():
                sel.scatter(self.running_mean, rm)
                sel.scatter(self.running_var, rv)  # type: ignore[arg-type]
        return y

    @torch.no_grad()
    def copy_reduced_to(self, dst: nn.BatchNorm2d, sel: ChannelSel | None) -> None:
        """Load the (reduced) affine parameters and statistics slots into the plain BN ``dst``."""
        if (dst.affine, dst.track_running_stats) != (self.affine, self.track_running_stats):
            raise ValueError("cannot copy between batch-norm layers with different affine/track_running_stats flags")
        if self.affine:
            dst.weight.copy_(self.weight if sel is None else sel.reduce(self.weight, 0))
            dst.bias.copy_(self.bias if sel is None else sel.reduce(self.bias, 0))
        if self.track_running_stats:
            assert self.running_mean is not None and self.running_var is not None
            dst.running_mean.copy_(self.running_mean if sel is None else sel.gather(self.running_mean))
            dst.running_var.copy_(self.running_var if sel is None else sel.gather(self.running_var))
            dst.num_batches_tracked.copy_(self.num_batches_tracked)


def make_bn(spec: BNSpec, channels: int) -> DynamicBN:
    """A ``DynamicBN`` with the mapping's BN switches."""
    return DynamicBN(channels, eps=spec.eps, momentum=spec.momentum, affine=spec.affine,
                     track_running_stats=spec.track_running_stats)


class ConvBNReLU(nn.Module):
    """Conv(k, stride 1, same padding, no bias) -> BN -> ReLU (the NAS-Bench-101 ``conv_bn_relu``).

    ``n_bn > 1`` keeps several BN layers behind one convolution (WSBN); ``forward`` picks one by index.
    ``sel_out``/``sel_in`` reduce the output/input channels of the shared kernel.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, bn: BNSpec, n_bn: int = 1) -> None:
        super().__init__()
        if n_bn < 1:
            raise ValueError(f"n_bn must be >= 1, got {n_bn}")
        self.kernel = kernel
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.ModuleList(make_bn(bn, c_out) for _ in range(n_bn))

    def forward(self, x: Tensor, sel_out: ChannelSel | None = None, sel_in: ChannelSel | None = None,
                bn_index: int = 0) -> Tensor:
        """Apply the block, optionally on reduced channels."""
        return self.apply_weight(x, self.reduced_weight(self.conv.weight, sel_out, sel_in), sel_out, bn_index)

    @staticmethod
    def reduced_weight(w: Tensor, sel_out: ChannelSel | None, sel_in: ChannelSel | None) -> Tensor:
        """``w`` reduced on its output (dim 0) and input (dim 1) channels."""
        if sel_out is not None:
            w = sel_out.reduce(w, 0)
        if sel_in is not None:
            w = sel_in.reduce(w, 1)
        return w

    def apply_weight(self, x: Tensor, w: Tensor, sel_out: ChannelSel | None, bn_index: int = 0) -> Tensor:
        """Convolve with the kernel ``w``, then BN number ``bn_index`` (reduced by ``sel_out``) and ReLU."""
        y = F.conv2d(x, w, None, 1, w.shape[-1] // 2)
        return F.relu(self.bn[bn_index](y, sel_out), inplace=True)

    @torch.no_grad()
    def load_effective(self, w: Tensor, bn: DynamicBN, sel_out: ChannelSel | None) -> None:
        """Load an effective kernel ``w`` and the reduced BN ``bn`` into this plain (single-BN) block."""
        self.conv.weight.copy_(w)
        bn.copy_reduced_to(self.bn[0], sel_out)
