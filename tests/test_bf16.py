"""The CPU bf16 switch (``protocol.cpu_bf16``): on only where the CPU computes bf16 natively, and then real."""

from __future__ import annotations

import torch

from wsbench import machine
from wsbench.config import MappingCfg
from wsbench.supernet import base


def test_cpu_bf16_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(machine, "cpu_flags", lambda: frozenset({"avx512f", "avx512_bf16"}))
    assert machine.cpu_has_bf16()
    monkeypatch.setattr(machine, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    assert machine.cpu_has_bf16()
    monkeypatch.setattr(machine, "cpu_flags", lambda: frozenset({"avx2"}))
    assert not machine.cpu_has_bf16()


def test_autocast_on_cpu_only_with_the_switch_and_a_bf16_cpu(monkeypatch):
    from wsbench.spaces import build_supernet, get_space

    net = build_supernet("nb201", MappingCfg(channels=4, cells_per_stage=1), num_classes=3)
    arch = get_space("nb201").parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|none~1|nor_conv_3x3~2|")
    x = torch.randn(2, 3, 8, 8)
    cpu = torch.device("cpu")

    def conv_dtype(cpu_bf16: bool) -> torch.dtype:
        seen: list[torch.dtype] = []
        hook = torch.nn.modules.module.register_module_forward_hook(
            lambda m, i, o: seen.append(o.dtype) if isinstance(m, torch.nn.Conv2d) else None)
        try:
            with base.autocast(cpu, False, cpu_bf16):
                net(x, arch)
        finally:
            hook.remove()
        return seen[0]

    monkeypatch.setattr(base, "cpu_has_bf16", lambda: True)
    assert conv_dtype(True) == torch.bfloat16 and conv_dtype(False) == torch.float32
    monkeypatch.setattr(base, "cpu_has_bf16", lambda: False)  # a CPU without bf16: the switch is ignored
    assert conv_dtype(True) == torch.float32
    # the GPU switch (protocol.amp) never turns on autocast on the CPU
    assert isinstance(base.autocast(cpu, True), type(base.autocast(cpu, False)))
