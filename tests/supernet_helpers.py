"""Helpers shared by the super-net equivalence tests."""

from __future__ import annotations

import torch
from torch import nn


def randomise_bn(net: nn.Module, gen: torch.Generator) -> None:
    """Non-trivial BN affine parameters and running statistics, so that a wrong BN copy shows up."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                if m.affine:
                    m.weight.copy_(torch.rand(m.weight.shape, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(m.bias.shape, generator=gen))
                if m.track_running_stats:
                    m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen))
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen) + 0.5)
