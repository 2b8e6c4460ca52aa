"""3x3 average pooling (stride 1, padding 1, padded positions not counted) as a box filter on the CPU.

NB201's ``avg_pool_3x3`` and DARTS' stride-1 ``avg_pool_3x3`` are ``F.avg_pool2d(x, 3, 1, 1,
count_include_pad=False)``. On the CPU, PyTorch's kernel for it is slow on NCHW tensors: at NB201's paper size
(C=16, N=5, batch 128, 32x32) pooling and its backward were 37% of a super-net training step (torch.profiler in
``bench/bench_peers.py --profile``). The same average is a 3x3 box sum (a zero-padded tensor added to itself
shifted, rows then columns) times the reciprocal of the number of real pixels under the window; the box sum is
its own transpose, so the backward pass is the box sum of the gradient times the same reciprocals. Forward and
backward together are 1.5-8x faster than PyTorch's kernel on NCHW tensors and 1.2-2.5x on channels-last tensors
of up to 16 channels (``bench/bench_pool.py``); PyTorch's kernel is kept on GPUs, for channels-last tensors with
more channels (where it is faster) and for reduced precision (where nine additions in bf16 would lose accuracy).
Results equal PyTorch's up to float rounding (``tests/test_pool.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

_SCALES: dict[tuple, Tensor] = {}
#: channels-last tensors with more channels than this use PyTorch's kernel (faster there, bench/bench_pool.py)
CHANNELS_LAST_MAX = 16


def _scale(h: int, w: int, like: Tensor) -> Tensor:
    """1 / (number of real pixels under the 3x3 window) at each of the h x w positions (cached)."""
    key = (h, w, like.device, like.dtype)
    if key not in _SCALES:
        rows = torch.full((h,), 3.0)
        cols = torch.full((w,), 3.0)
        rows[0] = rows[-1] = cols[0] = cols[-1] = 2.0
        if h == 1:
            rows[0] = 1.0
        if w == 1:
            cols[0] = 1.0
        _SCALES[key] = (1.0 / (rows[:, None] * cols[None, :])).to(like.device, like.dtype)
    return _SCALES[key]


def _box_sum(x: Tensor) -> Tensor:
    """Sum over each zero-padded 3x3 window, same size and memory format as ``x``."""
    p = F.pad(x, (1, 1, 1, 1))
    s = p[..., :, :-2] + p[..., :, 1:-1]
    s += p[..., :, 2:]
    out = s[..., :-2, :] + s[..., 1:-1, :]
    out += s[..., 2:, :]
    return out


class _BoxAverage(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001 - autograd context
        out = _box_sum(x)
        out *= _scale(x.shape[-2], x.shape[-1], x)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001 - autograd context
        return _box_sum(grad * _scale(grad.shape[-2], grad.shape[-1], grad))


def use_box(x: Tensor) -> bool:
    """Whether the box filter is the faster implementation for ``x``."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.dim() != 4:
        return False
    channels_last = x.shape[1] > 1 and x.is_contiguous(memory_format=torch.channels_last) \
        and not x.is_contiguous()
    return not channels_last or x.shape[1] <= CHANNELS_LAST_MAX


def avg_pool_3x3(x: Tensor) -> Tensor:
    """``F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)``, computed the faster way for ``x``."""
    if use_box(x):
        return _BoxAverage.apply(x)
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


class AvgPool3x3(nn.Module):
    """The cell op ``avg_pool_3x3``: 3x3 average pooling, stride 1, padding 1, padded pixels not counted."""

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool_3x3(x)
