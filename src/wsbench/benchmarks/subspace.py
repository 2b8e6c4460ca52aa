"""Sub-spaces of a table's space: which rows of a ground-truth table lie in a sub-space, and how many cells each
(sub-)space holds. The definitions belong to each space's folder (e.g. ``spaces/nb101/subspaces.py``: A1..A4,
``with_residual``, ``without_residual`` and ``full`` of *To Share or Not To Share*); this module answers for any
registered space through the space registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from wsbench.registry import SpaceRegistryError, resolve, space_info

if TYPE_CHECKING:
    from wsbench.benchmarks.table import GroundTruth


class SubspaceError(ValueError):
    """An unknown sub-space, a sub-space of a space that has none, or a table without the needed column."""


def canonical_subspace(space: str, subspace: str | None) -> str | None:
    """The canonical spelling of a sub-space name of ``space`` (``None`` stays ``None``); unknown names raise."""
    if subspace is None:
        return None
    try:
        return space_info(space).canonical_subspace(subspace)
    except SpaceRegistryError as exc:
        raise SubspaceError(str(exc)) from None


def subspace_mask(table: GroundTruth, space: str, subspace: str | None) -> np.ndarray:
    """Rows of ``table`` inside ``subspace`` of ``space`` (all rows when ``subspace`` is None)."""
    name = canonical_subspace(space, subspace)
    if name is None:
        return np.ones(len(table), dtype=bool)
    info = space_info(space)
    if info.subspace_rows is None:
        raise SubspaceError(f"space {space!r} cannot tell which table rows lie in sub-space {name!r} "
                            f"(its SpaceInfo has no subspace_rows)")
    try:
        return np.asarray(resolve(info.subspace_rows, f"sub-spaces of {space!r}")(table, name), dtype=bool)
    except ValueError as exc:
        raise SubspaceError(str(exc)) from None


def space_size(space: str, subspace: str | None = None) -> int | None:
    """Number of cells of a (sub-)space when the space's registration knows it, else ``None``."""
    info = space_info(space)
    name = canonical_subspace(space, subspace)
    if name is None:
        return info.size
    return info.subspace_sizes.get(name)
