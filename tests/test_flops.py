"""The spaces' analytic FLOP counts (multiply-accumulates) equal what torch counts on the stand-alone networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from wsbench.config import MappingCfg
from wsbench.spaces import get_space
from wsbench.spaces.nb101.supernet import NB101Standalone
from wsbench.spaces.nb201.supernet import NB201Standalone


def _torch_macs(model: torch.nn.Module, side: int) -> int:
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(torch.zeros(1, 3, side, side))
    return counter.get_total_flops() // 2  # torch counts a multiply-accumulate as two FLOPs


def test_nb201_flops_match_the_published_range_and_torch() -> None:
    space = get_space("nb201")
    no_conv = space.parse("|skip_connect~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|none~1|none~2|")
    all_conv = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                           "nor_conv_3x3~2|")
    # NAS-Bench-201's CIFAR-10 FLOPs range from 7.78 M to 220.11 M
    assert space.num_flops(no_conv) / 1e6 == pytest.approx(7.78, abs=0.01)
    assert space.num_flops(all_conv) / 1e6 == pytest.approx(220.11, abs=0.01)
    rng = np.random.default_rng(0)
    for arch in space.sample_unique(rng, 4):
        model = NB201Standalone(arch, MappingCfg(channels=4, cells_per_stage=1), 10)
        assert space.num_flops(arch, channels=4, cells_per_stage=1, resolution=16) == _torch_macs(model, 16)


def test_nb101_flops_match_torch_on_the_stand_alone_network() -> None:
    space = get_space("nb101")
    rng = np.random.default_rng(1)
    archs = space.sample_unique(rng, 4)
    for arch in archs:
        model = NB101Standalone(arch, MappingCfg(channels=8, cells_per_stage=1), 10)
        assert space.num_flops(arch, channels=8, cells_per_stack=1, resolution=16) == _torch_macs(model, 16)
    # more convolutions cost more: the count is not a constant
    assert len({space.num_flops(a) for a in archs}) > 1
