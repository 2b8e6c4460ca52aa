"""The toy space's torch networks: a stem, three layers of candidate operations shared by every path, a head."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from wsbench.supernet import SuperNet


def _op(kind: int, c: int, affine: bool) -> nn.Module:
    if kind == 2:
        return nn.Identity()
    k = 3 if kind == 0 else 1
    return nn.Sequential(nn.Conv2d(c, c, k, padding=k // 2, bias=False), nn.BatchNorm2d(c, affine=affine,
                         track_running_stats=False), nn.ReLU())


class _Body(nn.Module):
    def __init__(self, mapping: Any, num_classes: int, in_channels: int) -> None:
        super().__init__()
        c = int(mapping.channels)
        self.stem = nn.Conv2d(in_channels, c, 3, padding=1, bias=False)
        self.head = nn.Linear(c, num_classes)

    def _out(self, x: Tensor) -> Tensor:
        return self.head(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


class ToyStandalone(_Body):
    """The plain network of one architecture."""

    def __init__(self, arch: Any, mapping: Any, num_classes: int, in_channels: int = 3) -> None:
        super().__init__(mapping, num_classes, in_channels)
        self.layers = nn.ModuleList(_op(o, int(mapping.channels), mapping.bn_affine) for o in arch)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for layer in self.layers:
            x = layer(x)
        return self._out(x)


class ToySuperNet(_Body, SuperNet):
    """Every layer holds the three candidates; ``forward(x, arch)`` runs the chosen one of each."""

    space = "toy"

    def __init__(self, mapping: Any, num_classes: int, in_channels: int = 3) -> None:
        super().__init__(mapping, num_classes, in_channels)
        self.mapping, self.num_classes, self.in_channels = mapping, num_classes, in_channels
        c = int(mapping.channels)
        self.layers = nn.ModuleList(nn.ModuleList(_op(k, c, mapping.bn_affine) for k in range(3)) for _ in range(3))

    def forward(self, x: Tensor, arch: Any) -> Tensor:
        x = self.stem(x)
        for choices, o in zip(self.layers, arch, strict=True):
            x = choices[o](x)
        return self._out(x)

    def standalone(self, arch: Any) -> nn.Module:
        return ToyStandalone(arch, self.mapping, self.num_classes, self.in_channels)

    def copy_to_standalone(self, arch: Any, model: nn.Module) -> None:
        model.stem.load_state_dict(self.stem.state_dict())
        model.head.load_state_dict(self.head.state_dict())
        for i, o in enumerate(arch):
            model.layers[i].load_state_dict(self.layers[i][o].state_dict())

    def seed_dropout(self, seed: int) -> None:
        """The toy super-net has no dropout."""
