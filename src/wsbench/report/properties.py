"""Structural properties of evaluated architectures, used to colour the bias scatter plots.

*To Share or Not To Share* (section 5.3, Fig. 4) shows that super-nets over- or under-evaluate whole groups of
architectures that share a structural trait (a residual input->output edge on NB101, a 3x3 convolution on the
first node). ``property_values`` computes such a trait for every row of an ``evals/<tag>.parquet`` table:

* ``"residual"``: NB101 cells with an input->output edge (after pruning);
* ``"op@<edge or node>"``: NB201 ``op@k`` (k-th edge in ``EDGES`` order) or ``op@i-j`` (edge from node i to
  node j); NB101 ``op@k`` (operation of vertex k of the pruned cell, 1 = first node after the input, ``absent``
  when the cell is smaller); DARTS ``op@k`` (normal cell, k-th of its 8 edges) or ``op@reduce:k``;
* ``"params"``: stand-alone parameter count (the parquet column when present, else the space's count);
* ``"n_conv3x3"``: number of 3x3 convolutions in the cell (both cells for DARTS);
* any column of the evaluation table.

Architectures are recovered from their table keys: ``evals/archs.json`` maps keys to official text forms
(needed for NB101, whose keys are hashes); NB201 and DARTS keys parse directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from wsbench.spaces.base import SearchSpace

#: Properties of every space; a space adds its own (``SearchSpace.properties``, e.g. NB101 ``residual``).
STRUCTURAL = ("params", "n_conv3x3", "op@<edge|node>")
_OP_RE = re.compile(r"^op@(?:(?P<cell>normal|reduce):)?(?P<a>\d+)(?:-(?P<b>\d+))?$")


class PropertyError(ValueError):
    """A colour-by property is unknown, malformed or not defined for the run's search space."""


def key_texts(archs_json: str | Path | None) -> dict[str, str]:
    """``{table key: official text form}`` from an ``evals/archs.json`` list (empty when the file is absent)."""
    if archs_json is None or not Path(archs_json).exists():
        return {}
    try:
        doc = json.loads(Path(archs_json).read_text(encoding="utf-8"))
        return {str(k): str(t) for k, t in zip(doc["keys"], doc["archs"], strict=True)}
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PropertyError(f"{archs_json} is not a wsbench architecture list ({exc}); delete it or re-run") from exc


def archs_from_keys(space: SearchSpace[Any], keys: Sequence[str], texts: dict[str, str] | None = None) -> list[Any]:
    """The architectures behind table ``keys``: through ``texts`` (key -> text form) where known, else parsed."""
    texts = texts or {}
    out = []
    for key in keys:
        text = texts.get(str(key), str(key))
        try:
            out.append(space.parse(text))
        except ValueError as exc:
            hint = " (if the table's keys are hashes, as NB101's are, keep the run's evals/archs.json next to " \
                "the parquet)" if not texts else ""
            raise PropertyError(f"cannot recover the {space.name} architecture of key {key!r}{hint}: {exc}") from exc
    return out


def _op_names(space: SearchSpace[Any], arch: Any) -> list[str]:
    """Every operation name of the cell(s) of ``arch`` (the space's own ``op_names``)."""
    try:
        return space.op_names(arch)
    except NotImplementedError as exc:
        raise PropertyError(f"no operation names known for space {space.name!r}") from exc


def n_conv3x3(space: SearchSpace[Any], arch: Any) -> int:
    """Number of 3x3 convolutions (``nor_conv_3x3``, ``conv3x3-bn-relu``, ``sep/dil_conv_3x3``) in the cell(s)."""
    return sum(1 for name in _op_names(space, arch) if "conv_3x3" in name or "conv3x3" in name)


def op_at(space: SearchSpace[Any], arch: Any, where: str) -> str:
    """The operation named by ``where`` (the part after ``op@``); see the module docstring for the forms."""
    m = _OP_RE.match(f"op@{where}")
    if m is None:
        raise PropertyError(f"malformed property 'op@{where}'; use op@<k> or op@<i>-<j> (NB201 edge i->j)")
    a, b, cell = int(m["a"]), m["b"], m["cell"]
    try:
        return str(space.op_at(arch, a, None if b is None else int(b), cell))
    except NotImplementedError:
        raise PropertyError(f"op@ is not defined for space {space.name!r}") from None
    except ValueError as exc:
        raise PropertyError(str(exc)) from None


def property_values(frame: pd.DataFrame, prop: str, space: SearchSpace[Any] | None = None,
                    texts: dict[str, str] | None = None) -> pd.Series:
    """Value of ``prop`` for every row of an evaluation table (index aligned with ``frame``).

    Columns of ``frame`` win over computed properties (a parquet that already holds ``residual`` uses it).
    ``space`` is needed for structural properties; ``texts`` maps keys to official text forms (archs.json).
    """
    if prop in frame.columns:
        return frame[prop].rename(prop)
    own = tuple(getattr(space, "properties", ())) if space is not None else ()
    if prop not in ("n_conv3x3", "params", *own) and not prop.startswith("op@"):
        raise PropertyError(f"unknown colour-by property {prop!r}; choose one of {', '.join(STRUCTURAL + own)} "
                            f"or a column of the evaluation table {list(frame.columns)}")
    if space is None:
        raise PropertyError(f"property {prop!r} needs the run's search space")
    if "key" not in frame.columns:
        raise PropertyError(f"property {prop!r} needs a 'key' column in the evaluation table")
    archs = archs_from_keys(space, frame["key"].astype(str).tolist(), texts)
    values: list[Any]
    if prop in own:
        values = [space.property_value(a, prop) for a in archs]
    elif prop == "n_conv3x3":
        values = [n_conv3x3(space, a) for a in archs]
    elif prop == "params":
        values = [int(space.num_params(a)) for a in archs]
    else:
        values = [op_at(space, a, prop[3:]) for a in archs]
    return pd.Series(values, index=frame.index, name=prop)
