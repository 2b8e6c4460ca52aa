"""The abstract super-net interface shared by every space's super-net."""

from __future__ import annotations

from abc import ABCMeta, abstractmethod
from typing import Any

from torch import Tensor, nn

from wsbench.config import MappingCfg


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
