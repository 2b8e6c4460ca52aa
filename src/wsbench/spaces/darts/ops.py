"""Building blocks of the DARTS cell network (torch), shared by the super-net and its stand-alone twin.

* ``DepthwiseKernel``: the depthwise kernel of a separable or dilated convolution. With ``small=(3,)`` it also
  serves smaller kernels: the centre crop of the large kernel, optionally passed through a learned linear map
  of the k*k kernel positions that starts as the identity (the OFA "super kernel" of Cai et al., one map per
  layer shared by all channels).
* ``SepConv``: two stacked (ReLU, depthwise kxk, pointwise 1x1, BN) blocks; the stride applies to the first.
* ``DilConv``: ReLU, depthwise kxk with dilation 2, pointwise 1x1, BN.
* ``FactorizedReduce``: ReLU, two 1x1 stride-2 convolutions on the input and on the input shifted by one pixel,
  concatenated, BN (the stride-2 ``skip_connect`` and the preprocessing after a reduction cell).

Stride, BN index and kernel size are arguments of ``forward`` rather than of the constructor, so one module can
serve several edges (ops on nodes: edges from the cell inputs run with stride 2 in a reduction cell, edges from
intermediate nodes with stride 1). ``n_bn > 1`` keeps one BN per incoming edge behind shared convolutions
(WSBN). Every ``copy_from`` loads the weights one call would use into a plain single-kernel, single-BN module.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from wsbench.supernet.ops import BNSpec, copy_bn
from wsbench.supernet.pool import avg_pool_3x3


class DepthwiseKernel(nn.Module):
    """A ``(channels, 1, k, k)`` depthwise kernel; ``kernel(s)`` gives an ``s x s`` one for ``s in small``.

    ``transform=True`` (OFA) maps the centre crop through a learned ``(s*s, s*s)`` matrix initialised to the
    identity; ``transform=False`` uses the plain centre crop (a single shared kernel).
    """

    def __init__(self, channels: int, size: int, small: Sequence[int] = (), transform: bool = True) -> None:
        super().__init__()
        self.size = size
        self.weight = nn.Parameter(torch.empty(channels, 1, size, size))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)  # the default init of nn.Conv2d
        for s in small:
            if s >= size or (size - s) % 2:
                raise ValueError(f"a {s}x{s} kernel cannot be the centre of a {size}x{size} kernel")
        self.small = tuple(small)
        self.transforms = nn.ParameterDict(
            {str(s): nn.Parameter(torch.eye(s * s)) for s in self.small} if transform else {})

    def kernel(self, size: int | None = None) -> Tensor:
        """The ``size x size`` kernel (default: the full one)."""
        if size is None or size == self.size:
            return self.weight
        if size not in self.small:
            raise ValueError(f"this {self.size}x{self.size} kernel does not provide a {size}x{size} kernel")
        lo = (self.size - size) // 2
        crop = self.weight[:, :, lo:lo + size, lo:lo + size]
        t = self.transforms.get(str(size))
        if t is None:
            return crop
        c = crop.shape[0]
        return (crop.reshape(c, size * size) @ t.T).reshape(c, 1, size, size)


class SepConv(nn.Module):
    """Separable convolution of DARTS: two (ReLU, depthwise kxk, pointwise 1x1, BN) blocks."""

    dilation = 1

    def __init__(self, channels: int, size: int, bn: BNSpec, n_bn: int = 1, small: Sequence[int] = (),
                 transform: bool = True) -> None:
        super().__init__()
        if n_bn < 1:
            raise ValueError(f"n_bn must be >= 1, got {n_bn}")
        self.channels = channels
        self.dw1 = DepthwiseKernel(channels, size, small, transform)
        self.pw1 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn1 = nn.ModuleList(bn.make(channels) for _ in range(n_bn))
        self.dw2 = DepthwiseKernel(channels, size, small, transform)
        self.pw2 = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn2 = nn.ModuleList(bn.make(channels) for _ in range(n_bn))

    def forward(self, x: Tensor, stride: int = 1, bn_index: int = 0, size: int | None = None) -> Tensor:
        """Apply the op with the ``size x size`` kernel, ``stride`` on the first block, BN ``bn_index``."""
        k = self.dw1.size if size is None else size
        pad = k // 2
        x = F.conv2d(F.relu(x), self.dw1.kernel(size), None, stride, pad, 1, self.channels)
        x = self.bn1[bn_index](self.pw1(x))
        x = F.conv2d(F.relu(x), self.dw2.kernel(size), None, 1, pad, 1, self.channels)
        return self.bn2[bn_index](self.pw2(x))

    def copy_from(self, src: SepConv, bn_index: int = 0, size: int | None = None) -> None:
        """Load the weights ``src(x, stride, bn_index, size)`` uses into this plain module."""
        with torch.no_grad():
            self.dw1.weight.copy_(src.dw1.kernel(size))
            self.dw2.weight.copy_(src.dw2.kernel(size))
            self.pw1.weight.copy_(src.pw1.weight)
            self.pw2.weight.copy_(src.pw2.weight)
        copy_bn(self.bn1[0], src.bn1[bn_index])
        copy_bn(self.bn2[0], src.bn2[bn_index])


class DilConv(nn.Module):
    """Dilated separable convolution of DARTS: ReLU, depthwise kxk (dilation 2), pointwise 1x1, BN."""

    def __init__(self, channels: int, size: int, bn: BNSpec, n_bn: int = 1, small: Sequence[int] = (),
                 transform: bool = True) -> None:
        super().__init__()
        if n_bn < 1:
            raise ValueError(f"n_bn must be >= 1, got {n_bn}")
        self.channels = channels
        self.dw = DepthwiseKernel(channels, size, small, transform)
        self.pw = nn.Conv2d(channels, channels, 1, bias=False)
        self.bn = nn.ModuleList(bn.make(channels) for _ in range(n_bn))

    def forward(self, x: Tensor, stride: int = 1, bn_index: int = 0, size: int | None = None) -> Tensor:
        """Apply the op with the ``size x size`` kernel (padding ``2 * (size // 2)`` keeps the resolution)."""
        k = self.dw.size if size is None else size
        x = F.conv2d(F.relu(x), self.dw.kernel(size), None, stride, 2 * (k // 2), 2, self.channels)
        return self.bn[bn_index](self.pw(x))

    def copy_from(self, src: DilConv, bn_index: int = 0, size: int | None = None) -> None:
        """Load the weights ``src(x, stride, bn_index, size)`` uses into this plain module."""
        with torch.no_grad():
            self.dw.weight.copy_(src.dw.kernel(size))
            self.pw.weight.copy_(src.pw.weight)
        copy_bn(self.bn[0], src.bn[bn_index])


class FactorizedReduce(nn.Module):
    """ReLU, then 1x1 stride-2 convolutions of the input and of the input shifted by one pixel (each giving half
    of the output channels), concatenated, BN. Halves the resolution (rounding up for odd sizes)."""

    def __init__(self, c_in: int, c_out: int, bn: BNSpec, n_bn: int = 1) -> None:
        super().__init__()
        if c_out < 2:
            raise ValueError(f"FactorizedReduce needs at least 2 output channels, got {c_out}")
        if n_bn < 1:
            raise ValueError(f"n_bn must be >= 1, got {n_bn}")
        self.conv_a = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_b = nn.Conv2d(c_in, c_out - c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.ModuleList(bn.make(c_out) for _ in range(n_bn))

    def forward(self, x: Tensor, stride: int = 2, bn_index: int = 0, size: int | None = None) -> Tensor:
        """Reduce ``x`` (``stride`` must be 2; ``size`` is ignored)."""
        if stride != 2:
            raise ValueError("FactorizedReduce always has stride 2")
        x = F.relu(x)
        shifted = x[:, :, 1:, 1:]
        if x.shape[-1] % 2 or x.shape[-2] % 2:  # keep both halves the same size for odd resolutions
            shifted = F.pad(shifted, (0, x.shape[-1] % 2, 0, x.shape[-2] % 2))
        return self.bn[bn_index](torch.cat([self.conv_a(x), self.conv_b(shifted)], dim=1))

    def copy_from(self, src: FactorizedReduce, bn_index: int = 0, size: int | None = None) -> None:
        """Load the convolutions of ``src`` and its BN number ``bn_index``."""
        with torch.no_grad():
            self.conv_a.weight.copy_(src.conv_a.weight)
            self.conv_b.weight.copy_(src.conv_b.weight)
        copy_bn(self.bn[0], src.bn[bn_index])


def max_pool(x: Tensor, stride: int) -> Tensor:
    """3x3 max pooling, padding 1 (no BN: as in the stand-alone DARTS networks)."""
    return F.max_pool2d(x, 3, stride, 1)


def avg_pool(x: Tensor, stride: int) -> Tensor:
    """3x3 average pooling, padding 1, padded positions not counted (no BN)."""
    if stride == 1:
        return avg_pool_3x3(x)
    return F.avg_pool2d(x, 3, stride, 1, count_include_pad=False)
