"""Trainable parameters and FLOPs of the NAS-Bench-101 stand-alone network, by the benchmark's own channel rules.

The parameter count equals the benchmark's ``params`` column (checked on thousands of cells of the shared sample).
FLOPs are multiply-accumulates of the convolutions and the classifier (the convention of NAS-Bench-201's
``flops``), counted from the same channel rule at the benchmark's 32x32 input.
"""

from __future__ import annotations

import numpy as np

from wsbench.spaces.nb101.cell import NB101Arch, pruned


def vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Channels of every vertex of a pruned cell, by the benchmark's rule.

    The output's channels are split evenly among the vertices feeding it (the remainder going one by one to the
    first of them); every other interior vertex takes the largest channel count among its successors.
    """
    n = matrix.shape[0]
    ch = [0] * n
    ch[0], ch[n - 1] = in_channels, out_channels
    if n == 2:
        return ch
    fan_in = int(matrix[1:, n - 1].sum())
    base, extra = divmod(out_channels, fan_in)
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            ch[v] = base + (1 if extra > 0 else 0)
            extra -= 1
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            ch[v] = max([ch[d] for d in range(v + 1, n - 1) if matrix[v, d]], default=0)
    return ch


def _conv_bn(k: int, c_in: int, c_out: int) -> int:
    return k * k * c_in * c_out + 2 * c_out  # conv without bias + BN scale and shift


def cell_params(arch: NB101Arch, in_channels: int, out_channels: int) -> int:
    """Trainable parameters of one (pruned) cell mapping ``in_channels`` to ``out_channels``."""
    m, n = arch.matrix, arch.n_vertices
    ch = vertex_channels(in_channels, out_channels, m)
    total = 0
    for v in range(1, n - 1):
        if m[0, v]:
            total += _conv_bn(1, in_channels, ch[v])  # projection of the cell input
        op = arch.ops[v]
        if op != "maxpool3x3":
            total += _conv_bn(3 if op == "conv3x3-bn-relu" else 1, ch[v], ch[v])
    if m[0, n - 1]:
        total += _conv_bn(1, in_channels, out_channels)
    return total


def cell_macs(arch: NB101Arch, in_channels: int, out_channels: int, pixels: int) -> int:
    """Multiply-accumulates of one (pruned) cell at ``pixels`` = H * W (every conv keeps the resolution)."""
    m, n = arch.matrix, arch.n_vertices
    ch = vertex_channels(in_channels, out_channels, m)
    total = 0
    for v in range(1, n - 1):
        if m[0, v]:
            total += in_channels * ch[v]
        op = arch.ops[v]
        if op != "maxpool3x3":
            total += (9 if op == "conv3x3-bn-relu" else 1) * ch[v] * ch[v]
    if m[0, n - 1]:
        total += in_channels * out_channels
    return total * pixels


def num_flops(arch: NB101Arch, channels: int = 128, stacks: int = 3, cells_per_stack: int = 3,
              num_classes: int = 10, resolution: int = 32) -> int:
    """Multiply-accumulates of one forward pass of the stand-alone network on one ``resolution``² image."""
    cell = pruned(arch)
    side = resolution
    total = 9 * 3 * channels * side * side
    c_in = c_out = channels
    for s in range(stacks):
        if s > 0:
            c_out *= 2
            side //= 2  # the max-pool before every stack but the first
        for _ in range(cells_per_stack):
            total += cell_macs(cell, c_in, c_out, side * side)
            c_in = c_out
    return total + c_in * num_classes


def num_params(
    arch: NB101Arch, channels: int = 128, stacks: int = 3, cells_per_stack: int = 3, num_classes: int = 10
) -> int:
    """Trainable parameters of the benchmark's stand-alone network built from ``arch``.

    Stem 3x3 conv + BN; ``stacks`` stacks of ``cells_per_stack`` cells, channels doubled (after a max-pool) at
    the start of every stack but the first; global pooling and a dense classifier with bias.
    """
    cell = pruned(arch)
    total = _conv_bn(3, 3, channels)
    c_in = c_out = channels
    for s in range(stacks):
        if s > 0:
            c_out *= 2
        for _ in range(cells_per_stack):
            total += cell_params(cell, c_in, c_out)
            c_in = c_out
    return total + c_in * num_classes + num_classes
