"""Search spaces, one folder each (``nb101/``, ``nb201/``, ``darts/``; see :mod:`wsbench.registry` for how a
space registers and where third-party spaces are found).

``get_space(name)`` builds a space (pure python + numpy); ``build_supernet`` / ``build_standalone`` build its torch
networks, importing the space's ``supernet`` module only then; ``space_of(cfg)`` is the space of a run config.
"""

from __future__ import annotations

from typing import Any

from wsbench.registry import SpaceInfo, SpaceRegistryError, register_space, space_info, space_names
from wsbench.spaces.base import SearchSpace, malformed, permuted_choices


def get_space(name: str, **options: Any) -> SearchSpace[Any]:
    """A new instance of the registered search space ``name``; ``options`` go to its constructor."""
    info = space_info(name)
    space = info.build_space(**options)
    if not isinstance(space, SearchSpace):
        raise SpaceRegistryError(f"space {name!r} built a {type(space).__name__}, not a wsbench SearchSpace")
    return space


def space_of(cfg: Any) -> SearchSpace[Any]:
    """The search space of a run config, restricted to ``cfg.space.subspace`` when one is set."""
    info = space_info(cfg.space.name)
    subspace = info.canonical_subspace(cfg.space.subspace)
    return get_space(info.name) if subspace is None else get_space(info.name, subspace=subspace)


def build_supernet(space: str, mapping: Any, num_classes: int, in_channels: int = 3,
                   subspace: str | None = None) -> Any:
    """The super-net of ``space`` under the mapping ``mapping`` for ``num_classes`` outputs (torch).

    ``subspace`` (``SpaceCfg.subspace``) restricts the super-net where the space supports it (NB101 with
    ``mapping.dynamic_channels="disable"`` needs it).
    """
    return space_info(space).build_supernet(mapping, num_classes, in_channels, subspace)


def build_standalone(space: str, arch: Any, mapping: Any, num_classes: int, in_channels: int = 3) -> Any:
    """The plain stand-alone network of ``arch`` in ``space`` under ``mapping`` (only the chosen ops; torch)."""
    return space_info(space).build_standalone(arch, mapping, num_classes, in_channels)


__all__ = ["SearchSpace", "SpaceInfo", "SpaceRegistryError", "build_standalone", "build_supernet", "get_space",
           "malformed", "permuted_choices", "register_space", "space_info", "space_names", "space_of"]
