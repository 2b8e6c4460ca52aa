"""Sub-spaces of a table's space: which rows of a ground-truth table lie in an NB101 sub-space, and how many cells
each (sub-)space holds. One home for the sub-space definitions that sampling, evaluation, judging and search use.

NB101 sub-spaces (*To Share or Not To Share*, Table 6): A1..A4 (cells with 1..4 inputs to the output vertex),
``with_residual`` / ``without_residual`` (an input->output edge or not) and ``full``; aliases such as ``res`` and
``anres`` follow the paper's names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from wsbench.benchmarks.table import GroundTruth


class SubspaceError(ValueError):
    """An unknown sub-space, a sub-space of a space that has none, or a table without the needed column."""


NB101_SUBSPACES: dict[str, str] = {
    "a1": "A1", "a2": "A2", "a3": "A3", "a4": "A4", "full": "full", "afull": "full",
    "with_residual": "with_residual", "res": "with_residual", "ares": "with_residual",
    "without_residual": "without_residual", "nres": "without_residual", "anres": "without_residual",
}

#: Cells of NAS-Bench-101 and of its sub-spaces (distinct up to isomorphism; the enumeration of the space,
#: matching Table 6 of "To Share or Not To Share"). A1..A4 leave out the bare input->output cell.
NB101_SUBSPACE_SIZES: dict[str, int] = {
    "full": 423_624, "A1": 120_933, "A2": 201_441, "A3": 90_782, "A4": 10_467,
    "with_residual": 81_020, "without_residual": 342_604,
}
NB101_SPACE_SIZE = NB101_SUBSPACE_SIZES["full"]


def subspace_mask(table: GroundTruth, space: str, subspace: str | None) -> np.ndarray:
    """Rows of ``table`` inside ``subspace`` (NB101: A1..A4, full, with_residual, without_residual)."""
    if subspace is None:
        return np.ones(len(table), dtype=bool)
    if space != "nb101":
        raise SubspaceError(f"sub-spaces exist only for nb101 (A1..A4, full, with_residual, without_residual); "
                          f"drop --subspace {subspace!r} for {space}")
    name = NB101_SUBSPACES.get(subspace.lower())
    if name is None:
        raise SubspaceError(f"unknown NB101 sub-space {subspace!r}; choose one of "
                          f"A1, A2, A3, A4, full, with_residual, without_residual")
    if name == "full":
        return np.ones(len(table), dtype=bool)
    if name.startswith("A"):
        if "n_out_inputs" not in table.columns:
            raise SubspaceError(f"table {table.name!r} has no n_out_inputs column; re-import it")
        return np.asarray(table.column("n_out_inputs")) == int(name[1])
    if "residual" not in table.columns:
        raise SubspaceError(f"table {table.name!r} has no residual column; re-import it")
    res = np.asarray(table.column("residual"), dtype=bool)
    return res if name == "with_residual" else ~res


def space_size(space: str, subspace: str | None = None) -> int | None:
    """Number of cells of a (sub-)space when known (NB201, NB101 and its sub-spaces), else ``None``."""
    if space == "nb201":
        return 15_625
    if space == "nb101":
        return NB101_SUBSPACE_SIZES.get(canonical_subspace(space, subspace) or "full")
    return None


def canonical_subspace(space: str, subspace: str | None) -> str | None:
    """The canonical spelling of an NB101 sub-space name (``None`` stays ``None``)."""
    if subspace is None or space != "nb101":
        return subspace
    return NB101_SUBSPACES.get(subspace.lower(), subspace)
