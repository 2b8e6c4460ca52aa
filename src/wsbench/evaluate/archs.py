"""The fixed list of architectures a super-net is judged on: drawn once per seed, stored as JSON.

*How to Train Your Super-Net* evaluates the same 200 unique architectures throughout a study (appendix B.1:
the sparse Kendall-Tau is stable from about 150). ``select_eval_archs`` draws them with the space's
``sample_unique`` (uniform over isomorphism classes) from ``np.random.default_rng(seed)``, keeps only those
whose key the ground-truth table knows, and draws again until ``n`` are found; for tables that cover only a
sliver of their space (a DARTS sample) it visits the table's own rows in a seeded order instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import numpy as np

from wsbench.atomic import write_json
from wsbench.benchmarks.table import GroundTruth
from wsbench.spaces.base import SearchSpace

#: With ``source="auto"``, give up on drawing from the space after this many candidates per wanted arch.
_CANDIDATES_PER_ARCH = 100

Source = Literal["auto", "space", "table"]


class ArchListError(ValueError):
    """An evaluation architecture list cannot be drawn or read."""


def select_eval_archs(space: SearchSpace[Any], table: GroundTruth, n: int = 200, seed: int = 0,
                      source: Source = "auto") -> list[Any]:
    """``n`` distinct architectures (by ``canonical_id``) that ``table`` knows, deterministic per ``seed``.

    ``source="space"``: draw with ``space.sample_unique`` from ``np.random.default_rng(seed)`` and keep the
    architectures whose key the table knows, drawing again until ``n`` are found (uniform over the space's
    classes, restricted to the table). ``source="table"``: visit the table's rows in a seeded random order
    (uniform over the table's rows; for tables with one row per class, such as NB101 and NB301 samples, that is
    uniform over the table's classes). ``"auto"`` (default) tries the space first and, when the table covers
    too little of the space to find ``n`` within ``100 n`` candidates (judged from the hit rate after ``4 n``
    candidates; e.g. a 725-row DARTS sample), starts over from the table with a fresh generator of the same
    seed.
    """
    if n < 1:
        raise ArchListError(f"n must be >= 1 architecture, got {n}")
    if source not in ("auto", "space", "table"):
        raise ArchListError(f"unknown source {source!r}; choose auto, space or table")
    if source in ("auto", "space"):
        archs = _from_space(space, table, n, seed)
        if len(archs) == n:
            return archs
        if source == "space":
            raise ArchListError(
                f"table {table.name!r} knows too few of the {space.name} architectures drawn from the space "
                f"({len(archs)} of {n} wanted found); lower eval.n_archs or use source='table'")
    archs = _from_table(space, table, n, seed)
    if len(archs) < n:
        raise ArchListError(
            f"table {table.name!r} provides only {len(archs)} distinct {space.name} architectures; "
            f"lower eval.n_archs (asked for {n}) or import a larger table")
    return archs


def _from_space(space: SearchSpace[Any], table: GroundTruth, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    chosen: list[Any] = []
    seen: set[str] = set()  # classes already chosen (a rejected class may come back with another member)
    budget = n * _CANDIDATES_PER_ARCH
    drawn = 0
    while len(chosen) < n and drawn < budget:
        if drawn >= 4 * n and len(chosen) * budget < n * drawn:
            break  # at the hit rate seen so far the budget cannot yield n: give up early
        want = min(max(2 * (n - len(chosen)), 16), budget - drawn)
        try:
            draw = space.sample_unique(rng, want)
        except ValueError:  # the space has fewer classes than the padded request
            draw = space.sample_unique(rng, n - len(chosen))
        drawn += len(draw)
        known = table.contains(space.keys(draw)) if draw else np.zeros(0, dtype=bool)
        for arch, ok in zip(draw, known, strict=True):
            cid = space.canonical_id(arch)
            if ok and cid not in seen and len(chosen) < n:
                seen.add(cid)
                chosen.append(arch)
    return chosen


def _from_table(space: SearchSpace[Any], table: GroundTruth, n: int, seed: int) -> list[Any]:
    rng = np.random.default_rng(seed)
    texts = table.arch_texts()
    chosen: list[Any] = []
    seen: set[str] = set()
    for row in rng.permutation(len(table)):
        try:
            arch = space.parse(str(texts[row]))
            key = space.key(arch)
        except ValueError:
            continue  # a row the space cannot represent (e.g. another sub-space's encoding)
        cid = space.canonical_id(arch)
        if cid in seen or key != table.keys[row] or not space.is_valid(arch):
            continue  # seen already, a row the key does not match, or outside the space's sub-space
        seen.add(cid)
        chosen.append(arch)
        if len(chosen) == n:
            break
    return chosen


def save_arch_list(path: str | Path, space: SearchSpace[Any], archs: list[Any], seed: int | None = None) -> Path:
    """Write ``archs`` atomically as JSON: space name, seed, official text forms and table keys."""
    path = Path(path)
    write_json(path, {"space": space.name, "seed": seed, "archs": [space.format(a) for a in archs],
                      "keys": space.keys(archs)})
    return path


def load_arch_list(path: str | Path, space: SearchSpace[Any]) -> list[Any]:
    """Read a list written by ``save_arch_list``; the space must match."""
    path = Path(path)
    if not path.exists():
        raise ArchListError(f"architecture list {path} does not exist")
    try:
        doc = json.loads(path.read_text())
        name, texts = doc["space"], doc["archs"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ArchListError(f"architecture list {path} is not a wsbench arch list ({exc})") from exc
    if name != space.name:
        raise ArchListError(f"architecture list {path} is for space {name!r}, not {space.name!r}")
    return [space.parse(t) for t in texts]
