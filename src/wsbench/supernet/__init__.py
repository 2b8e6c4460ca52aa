"""Weight-sharing super-nets (torch): one module per search space, built from the blocks in ``ops``.

``build_supernet(space, mapping, num_classes)`` is the entry point; ``SuperNet.forward(x, arch)`` runs only the
sampled path, ``standalone(arch)`` builds the plain network of one architecture from the same blocks and
``copy_to_standalone(arch, model)`` loads the shared weights of the path into it.
"""

from __future__ import annotations

from typing import Any

from wsbench.config import MappingCfg
from wsbench.supernet.base import SuperNet

__all__ = ["SuperNet", "build_standalone", "build_supernet", "SUPPORTED_SPACES"]

SUPPORTED_SPACES = ("nb101", "nb201", "darts")


def build_supernet(space: str, mapping: MappingCfg, num_classes: int, in_channels: int = 3,
                   subspace: str | None = None) -> SuperNet:
    """The super-net of ``space`` under the mapping ``mapping`` for ``num_classes`` outputs.

    ``subspace`` (``SpaceCfg.subspace``) is needed by NB101 with ``mapping.dynamic_channels="disable"``.

    Raises ``ValueError`` for a space whose super-net is not implemented yet or that is unknown.
    """
    if space == "nb201":
        from wsbench.supernet.nb201 import NB201SuperNet

        return NB201SuperNet(mapping, num_classes, in_channels)
    if space == "darts":
        from wsbench.supernet.darts import DartsSuperNet

        return DartsSuperNet(mapping, num_classes, in_channels)
    if space == "nb101":
        from wsbench.supernet.nb101 import NB101SuperNet

        return NB101SuperNet(mapping, num_classes, in_channels, subspace)
    raise ValueError(f"unknown search space {space!r}; expected one of nb101, nb201, darts")


def build_standalone(space: str, arch: Any, mapping: MappingCfg, num_classes: int, in_channels: int = 3) -> Any:
    """The plain stand-alone network of ``arch`` in ``space`` under ``mapping`` (only the chosen ops)."""
    if space == "nb201":
        from wsbench.supernet.nb201 import NB201Standalone

        return NB201Standalone(arch, mapping, num_classes, in_channels)
    if space == "nb101":
        from wsbench.supernet.nb101 import NB101Standalone

        return NB101Standalone(arch, mapping, num_classes, in_channels)
    if space == "darts":
        from wsbench.supernet.darts import DartsStandalone

        return DartsStandalone(arch, mapping, num_classes, in_channels)
    raise ValueError(f"unknown search space {space!r}; expected one of nb101, nb201, darts")
