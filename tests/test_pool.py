"""The box-filter 3x3 average pool equals PyTorch's avg_pool2d (count_include_pad=False), values and gradients."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from wsbench.supernet.pool import AvgPool3x3, avg_pool_3x3, use_box


def _reference(x: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(x, 3, 1, 1, count_include_pad=False)


@pytest.mark.parametrize("shape", [(2, 3, 5, 7), (3, 8, 8, 8), (2, 4, 1, 6), (2, 4, 6, 1), (1, 2, 1, 1),
                                   (2, 32, 4, 4)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_equals_pytorch_values_and_gradients(shape: tuple, channels_last: bool) -> None:
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=fmt).requires_grad_()
    g = torch.randn(*shape, dtype=torch.float64).contiguous(memory_format=fmt)
    ours = avg_pool_3x3(x)
    (grad_ours,) = torch.autograd.grad(ours, x, g)
    ref = _reference(x)
    (grad_ref,) = torch.autograd.grad(ref, x, g)
    torch.testing.assert_close(ours, ref)
    torch.testing.assert_close(grad_ours, grad_ref)
    assert ours.is_contiguous(memory_format=fmt)


def test_box_filter_is_used_where_it_is_faster() -> None:
    nchw = torch.randn(2, 64, 8, 8)
    assert use_box(nchw) and use_box(torch.randn(2, 8, 8, 8).contiguous(memory_format=torch.channels_last))
    assert not use_box(nchw.contiguous(memory_format=torch.channels_last))  # PyTorch's kernel is faster there
    assert not use_box(nchw.bfloat16())  # nine bf16 additions would lose accuracy


def test_gradcheck_and_module() -> None:
    x = torch.randn(1, 2, 4, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(avg_pool_3x3, (x,))
    torch.testing.assert_close(AvgPool3x3()(x), _reference(x))
