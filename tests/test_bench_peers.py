"""The peers benchmark times each peer on the architecture it is given (bench/bench_peers.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
ARCH = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|nor_conv_1x1~1|none~2|"


def _bench():
    spec = importlib.util.spec_from_file_location("bench_peers", REPO / "bench" / "bench_peers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nb201_string_as_nni_labels() -> None:
    assert _bench().nni_memo(ARCH) == {
        "cell/0_1": "conv_3x3", "cell/0_2": "none", "cell/1_2": "skip_connect",
        "cell/0_3": "avg_pool_3x3", "cell/1_3": "conv_1x1", "cell/2_3": "none"}


def test_nni_peer_trains_only_the_given_path() -> None:
    bench = _bench()
    if bench.available_peers()["nni"].startswith("not installed"):
        pytest.skip("NNI is a benchmark-only extra (make bench-extras)")
    model, forward = bench._nni(4, 1)
    forward(model, torch.randn(2, 3, 8, 8), ARCH).sum().backward()
    edge = model.cells[0].layers[0][0]  # node 1 from node 0: conv_3x3 in ARCH
    assert edge["conv_3x3"].op[1].weight.grad is not None
    assert edge["conv_1x1"].op[1].weight.grad is None
    assert not any(isinstance(m, torch.nn.BatchNorm2d) and (m.affine or m.track_running_stats)
                   for m in model.modules())
