"""Reusable torch building blocks for super-nets and their stand-alone networks.

Every block here is used twice: inside a super-net (many candidate ops, shared weights) and inside the plain
stand-alone network of one architecture. Building both from the same classes is what lets a sub-network be
checked against its stand-alone twin weight for weight.

* ``BNSpec``: the batch-norm switches of the mapping f_ws (track running stats, affine, momentum, eps).
* ``ReLUConvBN``: ReLU -> Conv (no bias) -> BN, with optionally several BN layers behind one shared
  convolution (weight-sharing BN, one BN per incoming edge).
* ``make_op``: a cell op by name (``none`` gives ``None``: the op is never computed).
* ``Stem``, ``ResidualReduction``, ``ClassifierHead``: the fixed macro blocks of a cell network.
* ``DropoutRNG``, ``SeededDropout``, ``drop_path_sum``: dropout driven by explicit seeded generators,
  active only in training mode.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from wsbench.config import MappingCfg
from wsbench.supernet.pool import AvgPool3x3

CONV_KERNELS = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


@dataclass(frozen=True)
class BNSpec:
    """Batch-norm settings shared by every BN layer of a network."""

    affine: bool = True
    track_running_stats: bool = False
    momentum: float = 0.1
    eps: float = 1e-5

    @classmethod
    def from_mapping(cls, mapping: MappingCfg) -> BNSpec:
        """The BN switches of a mapping config."""
        return cls(mapping.bn_affine, mapping.bn_track_running_stats, mapping.bn_momentum, mapping.bn_eps)

    def make(self, channels: int) -> nn.BatchNorm2d:
        """A fresh ``nn.BatchNorm2d`` with these settings."""
        return nn.BatchNorm2d(
            channels, eps=self.eps, momentum=self.momentum, affine=self.affine,
            track_running_stats=self.track_running_stats,
        )


def copy_bn(dst: nn.BatchNorm2d, src: nn.BatchNorm2d) -> None:
    """Copy affine parameters and (when tracked) running statistics of ``src`` into ``dst``."""
    if (dst.affine, dst.track_running_stats) != (src.affine, src.track_running_stats):
        raise ValueError("cannot copy between batch-norm layers with different affine/track_running_stats flags")
    with torch.no_grad():
        if src.affine:
            dst.weight.copy_(src.weight)
            dst.bias.copy_(src.bias)
        if src.track_running_stats:
            dst.running_mean.copy_(src.running_mean)
            dst.running_var.copy_(src.running_var)
            dst.num_batches_tracked.copy_(src.num_batches_tracked)


class ReLUConvBN(nn.Module):
    """ReLU -> Conv(k, stride, pad k//2, no bias) -> BN.

    ``n_bn > 1`` keeps one BN per incoming edge behind the same convolution (WSBN); ``forward(x, bn_index)``
    picks the BN. A stand-alone network always uses ``n_bn = 1``.
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, bn: BNSpec, n_bn: int = 1) -> None:
        super().__init__()
        if n_bn < 1:
            raise ValueError(f"n_bn must be >= 1, got {n_bn}")
        self.relu = nn.ReLU(inplace=False)  # inputs are node tensors read by several edges: never in place
        self.conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False)
        self.bn = nn.ModuleList(bn.make(c_out) for _ in range(n_bn))

    def forward(self, x: Tensor, bn_index: int = 0) -> Tensor:
        """Apply the op with BN number ``bn_index``."""
        return self.bn[bn_index](self.conv(self.relu(x)))

    def copy_from(self, src: ReLUConvBN, bn_index: int = 0) -> None:
        """Load the convolution of ``src`` and its BN number ``bn_index`` into this (single-BN) op."""
        with torch.no_grad():
            self.conv.weight.copy_(src.conv.weight)
        copy_bn(self.bn[0], src.bn[bn_index])


class SharedKernelConv(ReLUConvBN):
    """A 3x3 ReLU-Conv-BN whose kernel also serves the 1x1 op of the same edge (or node).

    ``mode="single"``: the 1x1 kernel is the centre tap of the 3x3 kernel; ``mode="ofa"``: the centre tap
    multiplied on its input-channel side by a learned ``c x c`` matrix that starts as the identity (the
    super-kernel of Cai et al. for a 3x3 -> 1x1 pair). The BNs are shared by both kernel sizes.
    """

    def __init__(self, channels: int, bn: BNSpec, mode: str, n_bn: int = 1) -> None:
        if mode not in ("single", "ofa"):
            raise ValueError(f"mapping.kernel must be separate, single or ofa, got {mode!r}")
        super().__init__(channels, channels, 3, 1, bn, n_bn)
        self.mode = mode
        if mode == "ofa":
            self.transform = nn.Parameter(torch.eye(channels))

    def weight(self, kernel: int) -> Tensor:
        """The effective ``kernel x kernel`` weight (3: the shared kernel itself)."""
        if kernel == 3:
            return self.conv.weight
        centre = self.conv.weight[:, :, 1:2, 1:2]
        if self.mode == "ofa":
            centre = torch.matmul(centre[:, :, 0, 0], self.transform)[:, :, None, None]
        return centre

    def forward(self, x: Tensor, bn_index: int = 0, kernel: int = 3) -> Tensor:  # type: ignore[override]
        """Apply the ``kernel x kernel`` op with BN number ``bn_index``."""
        w = self.weight(kernel)
        return self.bn[bn_index](torch.nn.functional.conv2d(self.relu(x), w, None, 1, kernel // 2))

    def copy_into(self, dst: ReLUConvBN, bn_index: int, kernel: int) -> None:
        """Load the effective ``kernel`` weight and BN number ``bn_index`` into the plain op ``dst``."""
        with torch.no_grad():
            dst.conv.weight.copy_(self.weight(kernel))
        copy_bn(dst.bn[0], self.bn[bn_index])


def make_op(name: str, channels: int, bn: BNSpec, n_bn: int = 1) -> nn.Module | None:
    """The NB201-style cell op ``name`` on ``channels`` channels (stride 1); ``None`` for ``none``."""
    if name == "none":
        return None
    if name == "skip_connect":
        return nn.Identity()
    if name == "avg_pool_3x3":
        return AvgPool3x3()
    if name in CONV_KERNELS:
        return ReLUConvBN(channels, channels, CONV_KERNELS[name], 1, bn, n_bn)
    raise ValueError(f"unknown op {name!r}; expected one of none, skip_connect, avg_pool_3x3, "
                     f"{', '.join(CONV_KERNELS)}")


def copy_op(dst: nn.Module, src: nn.Module, bn_index: int = 0) -> None:
    """Copy the weights of cell op ``src`` into ``dst`` (same op type); parameter-free ops need nothing."""
    if isinstance(dst, ReLUConvBN):
        if not isinstance(src, ReLUConvBN):
            raise ValueError(f"cannot copy a {type(src).__name__} into a ReLUConvBN")
        dst.copy_from(src, bn_index)
    elif type(dst) is not type(src):
        raise ValueError(f"cannot copy a {type(src).__name__} into a {type(dst).__name__}")


class Stem(nn.Module):
    """3x3 conv (no bias) + BN."""

    def __init__(self, c_in: int, c_out: int, bn: BNSpec) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.bn = bn.make(c_out)

    def forward(self, x: Tensor) -> Tensor:
        """Apply conv then BN."""
        return self.bn(self.conv(x))


class ResidualReduction(nn.Module):
    """ResNet basic block that halves the resolution: ReLUConvBN(3x3, s2) -> ReLUConvBN(3x3) plus a shortcut
    of AvgPool(2x2, s2) -> 1x1 conv (no bias)."""

    def __init__(self, c_in: int, c_out: int, bn: BNSpec) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, bn)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, bn)
        self.shortcut = nn.Sequential(
            nn.AvgPool2d(2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: Tensor) -> Tensor:
        """Residual sum of the two branches."""
        return self.shortcut(x) + self.conv_b(self.conv_a(x))


class DropoutRNG:
    """Seeded per-device ``torch.Generator`` s for dropout masks (one generator per device, created lazily)."""

    def __init__(self, seed: int = 0) -> None:
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Forget all generators; new ones start from ``seed``."""
        self.seed = int(seed)
        self._gens: dict[torch.device, torch.Generator] = {}

    def get(self, device: torch.device) -> torch.Generator:
        """The generator for ``device``."""
        gen = self._gens.get(device)
        if gen is None:
            gen = torch.Generator(device=device)
            gen.manual_seed(self.seed)
            self._gens[device] = gen
        return gen


class SeededDropout(nn.Module):
    """Element-wise dropout with inverted scaling, drawn from a ``DropoutRNG``; identity in eval mode."""

    def __init__(self, p: float, rng: DropoutRNG) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x: Tensor) -> Tensor:
        """Drop elements of ``x`` with probability ``p`` (training only)."""
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.rng.get(x.device))
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


def drop_path_sum(inputs: list[Tensor], p: float, generator: torch.Generator) -> Tensor:
    """Sum of ``inputs`` where each input is dropped per sample with probability ``p`` (drop-path).

    Kept inputs are scaled by ``1 / (1 - p)``. For every sample at least one input survives: when all are
    dropped, one of them (chosen uniformly) is kept. Call only with two or more inputs.
    """
    k, batch = len(inputs), inputs[0].shape[0]
    ref = inputs[0]
    keep = torch.empty((k, batch), device=ref.device).bernoulli_(1.0 - p, generator=generator)
    dead = keep.sum(0) == 0
    pick = torch.randint(k, (batch,), device=ref.device, generator=generator)
    revive = torch.nn.functional.one_hot(pick, k).T.to(keep.dtype) * dead.to(keep.dtype)
    scale = ((keep + revive) / (1.0 - p)).to(ref.dtype)
    out = inputs[0] * scale[0].view(batch, 1, 1, 1)
    for i in range(1, k):
        out = out + inputs[i] * scale[i].view(batch, 1, 1, 1)
    return out


class ClassifierHead(nn.Module):
    """BN -> ReLU -> global average pooling -> dropout (training only) -> linear classifier."""

    def __init__(self, channels: int, num_classes: int, bn: BNSpec, dropout: float, rng: DropoutRNG) -> None:
        super().__init__()
        self.bn = bn.make(channels)
        self.relu = nn.ReLU(inplace=True)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = SeededDropout(dropout, rng)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: Tensor) -> Tensor:
        """Logits of shape (batch, num_classes)."""
        x = self.pool(self.relu(self.bn(x))).flatten(1)
        return self.classifier(self.dropout(x))


def sum_inputs(outs: list[Tensor], training: bool, path_dropout: float, rng: DropoutRNG) -> Tensor | None:
    """A node's value: the sum of its computed inputs (``None`` when there are none, i.e. a zero node), with
    drop-path over them in training when ``path_dropout > 0``."""
    if not outs:
        return None
    if training and path_dropout > 0.0 and len(outs) > 1:
        return drop_path_sum(outs, path_dropout, rng.get(outs[0].device))
    out = outs[0]
    for o in outs[1:]:
        out = out + o
    return out
