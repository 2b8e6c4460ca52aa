"""The abstract super-net interface shared by every space's super-net."""

from __future__ import annotations

import contextlib
from abc import ABCMeta, abstractmethod
from typing import Any

import torch
from torch import Tensor, nn

from wsbench.config import MappingCfg
from wsbench.machine import cpu_has_bf16


class SuperNet(nn.Module, metaclass=ABCMeta):
    """A weight-sharing super-net: ``forward(x, arch)`` runs only the sampled path of ``arch``.

    ``standalone(arch)`` builds the plain network of one architecture from the same building blocks and
    ``copy_to_standalone(arch, model)`` loads the shared weights of ``arch`` into it, so that the two can be
    compared weight for weight. Batch-norm layers are ``torch.nn.BatchNorm2d``; dropout is active only in
    training mode and draws from ``self.rng`` (reseed with ``seed_dropout``).
    """

    space: str
    mapping: MappingCfg
    num_classes: int

    @abstractmethod
    def forward(self, x: Tensor, arch: Any) -> Tensor:
        """Logits of the sub-network ``arch`` for the batch ``x``."""

    @abstractmethod
    def standalone(self, arch: Any) -> nn.Module:
        """A freshly initialised plain network of ``arch`` (``model(x)`` gives logits)."""

    @abstractmethod
    def copy_to_standalone(self, arch: Any, model: nn.Module) -> None:
        """Copy the shared weights (and tracked BN buffers) of the path ``arch`` into ``model``."""

    @abstractmethod
    def seed_dropout(self, seed: int) -> None:
        """Restart the dropout generators from ``seed``."""


def count_params(model: nn.Module) -> int:
    """Number of trainable parameters of ``model`` (the one count used by every space and by the tests)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def autocast(device: torch.device, enabled: bool, cpu_bf16: bool = False) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on a GPU when ``enabled`` (``protocol.amp``), on a CPU when ``cpu_bf16``
    (``protocol.cpu_bf16``) and the CPU computes bf16 natively (AVX512-BF16 / AMX; off where absent); a no-op
    elsewhere."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    if cpu_bf16 and device.type == "cpu" and cpu_has_bf16():
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
