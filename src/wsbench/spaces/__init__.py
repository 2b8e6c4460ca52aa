"""Search spaces (pure python + numpy): NAS-Bench-101, NAS-Bench-201 and DARTS/NDS.

``get_space(name)`` imports the requested space's module only when it is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from wsbench.spaces.base import SearchSpace, malformed

SPACES: tuple[str, ...] = ("nb101", "nb201", "darts")

_REGISTRY: dict[str, tuple[str, str]] = {
    "nb101": ("wsbench.spaces.nb101", "NB101Space"),
    "nb201": ("wsbench.spaces.nb201", "NB201Space"),
    "darts": ("wsbench.spaces.darts", "DartsSpace"),
}


def get_space(name: str, **options: Any) -> SearchSpace[Any]:
    """A new instance of the search space ``name`` (one of ``SPACES``); ``options`` go to its constructor."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown search space {name!r}; choose one of {', '.join(SPACES)}")
    module, cls = _REGISTRY[name]
    space = getattr(importlib.import_module(module), cls)(**options)
    if not isinstance(space, SearchSpace):
        raise TypeError(f"{module}.{cls} is not a SearchSpace")
    return space


__all__ = ["SPACES", "SearchSpace", "get_space", "malformed"]


def space_of(cfg: Any) -> SearchSpace[Any]:
    """The search space of a run config, restricted to ``cfg.space.subspace`` when one is set (NB101 only)."""
    if cfg.space.subspace is None:
        return get_space(cfg.space.name)
    if cfg.space.name != "nb101":
        raise ValueError(f"space.subspace={cfg.space.subspace!r} is only defined for nb101 (A1..A4, "
                         f"with_residual, without_residual, full)")
    return get_space("nb101", subspace=cfg.space.subspace)
