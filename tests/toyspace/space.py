"""The toy space: an architecture is the tuple of the three layers' operation indices."""

from __future__ import annotations

import itertools
from typing import ClassVar

import numpy as np

from wsbench.spaces import SearchSpace, malformed, permuted_choices

OPS: tuple[str, ...] = ("conv3x3", "conv1x1", "skip")
SHORT: tuple[str, ...] = ("c3", "c1", "sk")
LAYERS = 3
CHANNELS = 4
FORM = "'c3-c1-sk' (three of c3, c1, sk)"

ToyArch = tuple[int, ...]


class ToySpace(SearchSpace[ToyArch]):
    """27 cells; every cell is its own isomorphism class."""

    name: ClassVar[str] = "toy"

    def parse(self, text: str) -> ToyArch:
        parts = str(text).strip().split("-")
        if len(parts) != LAYERS or any(p not in SHORT for p in parts):
            raise malformed(self.name, str(text), FORM)
        return tuple(SHORT.index(p) for p in parts)

    def format(self, arch: ToyArch) -> str:
        return "-".join(SHORT[o] for o in arch)

    def key(self, arch: ToyArch) -> str:
        return self.format(arch)

    def canonical_id(self, arch: ToyArch) -> str:
        return self.format(arch)

    def is_valid(self, arch: ToyArch) -> bool:
        return len(arch) == LAYERS and all(0 <= o < len(OPS) for o in arch)

    def sample(self, rng: np.random.Generator, n: int) -> list[ToyArch]:
        return [tuple(int(o) for o in row) for row in rng.integers(0, len(OPS), size=(n, LAYERS))]

    def sample_unique(self, rng: np.random.Generator, n: int) -> list[ToyArch]:
        every = self.enumerate()
        return [every[int(i)] for i in rng.choice(len(every), size=n, replace=False)]

    def enumerate(self) -> list[ToyArch]:
        return [tuple(a) for a in itertools.product(range(len(OPS)), repeat=LAYERS)]

    def neighbours(self, arch: ToyArch) -> list[ToyArch]:
        return [arch[:i] + (o,) + arch[i + 1:] for i in range(LAYERS) for o in range(len(OPS)) if o != arch[i]]

    def num_params(self, arch: ToyArch, channels: int = CHANNELS) -> int:
        per_op = {0: 9 * channels * channels + 2 * channels, 1: channels * channels + 2 * channels, 2: 0}
        return sum(per_op[o] for o in arch)

    def op_names(self, arch: ToyArch) -> list[str]:
        return [OPS[o] for o in arch]

    def fair_paths(self, rng: np.random.Generator) -> list[ToyArch]:
        return [tuple(int(o) for o in row) for row in permuted_choices(rng, LAYERS, len(OPS))]
