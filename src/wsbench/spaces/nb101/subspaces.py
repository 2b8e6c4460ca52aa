"""NB101 sub-spaces of *To Share or Not To Share* (Pourchot et al., Table 6): their names, sizes and table rows.

``A1``..``A4`` hold the cells in which exactly k vertices besides the input feed the output vertex (the bare
input->output cell belongs to none of them); ``with_residual`` / ``without_residual`` the cells with / without an
input->output edge; ``full`` every cell. Aliases such as ``res`` and ``anres`` follow the paper's names. This is
the one home of these definitions: the space, its super-net, sampling, judging and search all ask it (through
the space registry).
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Canonical names, in the paper's order.
SUBSPACES: tuple[str, ...] = ("A1", "A2", "A3", "A4", "full", "with_residual", "without_residual")

#: Accepted spellings (lower case) -> canonical name.
ALIASES: dict[str, str] = {
    **{name.lower(): name for name in SUBSPACES},
    "afull": "full", "res": "with_residual", "ares": "with_residual",
    "nres": "without_residual", "anres": "without_residual",
}

#: Cells of NAS-Bench-101 and of its sub-spaces (distinct up to isomorphism; the enumeration of the space,
#: matching Table 6 of "To Share or Not To Share").
SIZES: dict[str, int] = {
    "full": 423_624, "A1": 120_933, "A2": 201_441, "A3": 90_782, "A4": 10_467,
    "with_residual": 81_020, "without_residual": 342_604,
}


def canonical(name: str) -> str:
    """The canonical spelling of a sub-space name; an unknown one raises ``ValueError`` with the choices."""
    got = ALIASES.get(str(name).lower())
    if got is None:
        raise ValueError(f"unknown NB101 sub-space {name!r}; valid sub-spaces: {', '.join(SUBSPACES)}")
    return got


def subspace_rows(table: Any, name: str) -> np.ndarray:
    """Boolean mask of the rows of an NB101 ground-truth table inside sub-space ``name`` (from its
    ``n_out_inputs`` and ``residual`` columns, written by the importers)."""
    name = canonical(name)
    if name == "full":
        return np.ones(len(table), dtype=bool)
    if name.startswith("A"):
        if "n_out_inputs" not in table.columns:
            raise ValueError(f"table {table.name!r} has no n_out_inputs column; re-import it")
        return np.asarray(table.column("n_out_inputs")) == int(name[1])
    if "residual" not in table.columns:
        raise ValueError(f"table {table.name!r} has no residual column; re-import it")
    res = np.asarray(table.column("residual"), dtype=bool)
    return res if name == "with_residual" else ~res
