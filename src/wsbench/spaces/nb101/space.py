"""The NAS-Bench-101 cell search space (pure python + numpy).

A cell is a DAG of at most 7 vertices in topological order (upper-triangular adjacency matrix, at most 9 edges):
vertex 0 is the input, the last vertex the output, every other vertex applies one of :data:`OPS`. As in the
benchmark, vertices that lie on no input->output path are pruned away (with their edges) before a cell is
hashed, counted or built; a cell without an input->output path is invalid.

Text form (``format``/``parse``): ``"<n*n matrix bits, row-major>|<n comma-separated ops>"`` with the short op
names ``in, c3, c1, mp, out`` (full names are accepted too), e.g. ``"010001000|in,c3,out"``.

Sub-spaces of *To Share or Not To Share* (Pourchot et al.): ``A1``..``A4`` hold the cells in which exactly k
vertices besides the input feed the output; ``with_residual``/``without_residual`` the cells with/without an
input->output edge; ``full`` everything.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from wsbench.spaces.base import SearchSpace, permuted_choices
from wsbench.spaces.nb101.cell import (
    EXPECTED,
    INPUT,
    MAX_EDGES,
    MAX_VERTICES,
    OPS,
    OUTPUT,
    SHORT,
    NB101Arch,
    arch_key,
    cell_hash,
    check_subspace,
    format_arch,
    from_matrix,
    has_residual,
    in_subspace,
    n_out_inputs,
    neighbours,
    parse_arch,
    prune,
    subspace_of,
)
from wsbench.spaces.nb101.params import cell_params, num_flops, num_params, vertex_channels
from wsbench.spaces.nb101.subspaces import SUBSPACES

_HASH = re.compile(r"^[0-9a-f]{32}$")


class NB101Space(SearchSpace[NB101Arch]):
    """NAS-Bench-101 (``max_vertices=7, max_edges=9``; smaller budgets give nested sub-spaces for tests).

    ``data_dir`` is where the enumeration of unique cells is cached (default: the resolved data directory).
    ``subspace`` (A1..A4, with_residual, without_residual, full) restricts validity and is the default of
    ``sample``/``sample_unique``, so that training and evaluation stay inside one sub-space.
    """

    name = "nb101"

    def __init__(
        self,
        max_vertices: int = MAX_VERTICES,
        max_edges: int = MAX_EDGES,
        data_dir: str | os.PathLike[str] | None = None,
        subspace: str = "full",
    ) -> None:
        if not 2 <= max_vertices <= MAX_VERTICES or max_edges < 1:
            raise ValueError(
                f"NB101 budget needs 2 <= max_vertices <= 7 and max_edges >= 1, got {max_vertices}, {max_edges}"
            )
        self.max_vertices, self.max_edges, self.data_dir = max_vertices, max_edges, data_dir
        self._unique_rows: dict[tuple[int, str], np.ndarray] = {}
        self.subspace = check_subspace(subspace)

    def parse(self, text: str) -> NB101Arch:
        """Parse ``"<bits>|<ops>"``."""
        return parse_arch(text)

    def format(self, arch: NB101Arch) -> str:
        """``"<bits>|<short ops>"``."""
        return format_arch(arch)

    def key(self, arch: NB101Arch) -> str:
        """The benchmark's md5 hash of the pruned cell."""
        return arch_key(arch)

    def canonical_id(self, arch: NB101Arch) -> str:
        """Same as :meth:`key` (the benchmark's hash is isomorphism-invariant)."""
        return arch_key(arch)

    def is_valid(self, arch: NB101Arch) -> bool:
        """Has an input->output path and, pruned, fits the vertex and edge budget and the space's sub-space."""
        p = prune(arch)
        return (p is not None and p.n_vertices <= self.max_vertices and p.num_edges <= self.max_edges
                and in_subspace(p, self.subspace))

    def sample(self, rng: np.random.Generator, n: int, subspace: str | None = None) -> list[NB101Arch]:
        """Random-NAS: uniform over encodings (random upper-triangular matrix bits and ops of ``max_vertices``
        vertices), rejecting until the pruned cell is valid (and in ``subspace``, default the space's own);
        returns pruned cells."""
        subspace = check_subspace(subspace or self.subspace)
        v = self.max_vertices
        iu, ju = np.triu_indices(v, k=1)
        out: list[NB101Arch] = []
        while len(out) < n:
            batch = max(64, 4 * (n - len(out)))
            edges = rng.integers(0, 2, size=(batch, iu.size), dtype=np.uint8)
            labels = rng.integers(0, len(OPS), size=(batch, v - 2))
            mats = np.zeros((batch, v, v), dtype=np.uint8)
            mats[:, iu, ju] = edges
            texts = (mats.reshape(batch, -1) + ord("0")).astype(np.uint8)
            for b in range(batch):
                ops = (INPUT,) + tuple(OPS[k] for k in labels[b]) + (OUTPUT,)
                p = prune(NB101Arch(texts[b].tobytes().decode(), ops))
                if p is None or p.num_edges > self.max_edges or not in_subspace(p, subspace):
                    continue
                out.append(p)
                if len(out) == n:
                    break
        return out

    def sample_unique(self, rng: np.random.Generator, n: int, subspace: str | None = None) -> list[NB101Arch]:
        """Random-A: ``n`` distinct cells drawn uniformly over the unique cells of ``subspace`` (default the
        space's own; exact: uses the cached enumeration of the space, building it on first use)."""
        from wsbench.spaces.nb101.enumeration import enumerate_cells

        subspace = check_subspace(subspace or self.subspace)
        table = enumerate_cells(self.max_vertices, self.max_edges, data_dir=self.data_dir)
        key = (id(table), subspace)
        idx = self._unique_rows.get(key)
        if idx is None:  # the rows of a sub-space, computed once (Random-A asks at every training step)
            idx = self._unique_rows[key] = np.flatnonzero(table.subspace_mask(subspace))
        if n > idx.size:
            raise ValueError(f"asked for {n} unique cells but sub-space {subspace!r} holds only {idx.size}")
        return [table.arch(int(i)) for i in rng.choice(idx, size=n, replace=False)]

    def from_matrix(self, bits: str, ops: str) -> NB101Arch:
        """A cell from row-major adjacency bits and a comma-separated op list (see :func:`from_matrix`)."""
        return from_matrix(bits, ops)

    def lookup(self, text: str, tables: Sequence[Any] = ()) -> NB101Arch:
        """The text form, or a benchmark hash looked up in the imported ``tables``."""
        if not _HASH.match(text):
            return self.parse(text)
        for gt in tables:
            if gt.contains([text])[0]:
                rec = gt.record(text)
                return from_matrix(rec["matrix"], rec["ops"])
        raise ValueError(f"hash {text} is not in the imported NB101 tables {[t.name for t in tables]}; "
                         f"give the cell as --matrix BITS --ops LIST")

    def why_invalid(self, arch: NB101Arch) -> str:
        """No input->output path, outside the sub-space, or over the vertex / edge budget once pruned."""
        p = prune(arch)
        if p is None:
            return "it has no path from the input to the output; connect the input to the output"
        if p.n_vertices <= self.max_vertices and p.num_edges <= self.max_edges:
            return f"it is outside the sub-space {self.subspace!r}"
        return (f"pruned, it has {p.n_vertices} vertices and {p.num_edges} edges; give a cell of at most "
                f"{self.max_vertices} vertices and {self.max_edges} edges")

    properties = ("residual",)

    def property_value(self, arch: NB101Arch, name: str) -> bool:
        """``residual``: whether the pruned cell has an input->output edge."""
        if name != "residual":
            raise NotImplementedError(f"space 'nb101' has no property {name!r}")
        return bool(has_residual(arch))

    def op_at(self, arch: NB101Arch, index: int, target: int | None = None, cell: str | None = None) -> str:
        """Operation of vertex ``index`` of the pruned cell (1 = first node after the input; ``absent`` when the
        cell is smaller)."""
        if target is not None:
            raise ValueError("op@<i>-<j> names an NB201 edge; on nb101 use op@<vertex>")
        if cell is not None:
            raise ValueError("NB101 has one cell: use op@<vertex>")
        if index < 1:
            raise ValueError("NB101 vertex 0 is the input; op@1 is the first node")
        ops = (prune(arch) or arch).ops
        return str(ops[index]) if index < len(ops) - 1 else "absent"

    def table_neighbours(self, table: Any, mask: np.ndarray) -> Callable[[int], np.ndarray] | None:
        """Neighbourhoods found with numpy on a table with ``matrix`` / ``ops`` / ``n_vertices`` columns
        (``neighbours.py``); ``None`` when the table lacks them or its fingerprints are not distinct."""
        if not {"matrix", "ops", "n_vertices"} <= set(table.columns):
            return None
        from wsbench.spaces.nb101.neighbours import FastNB101Neighbours

        try:
            fast = FastNB101Neighbours(table, self.max_vertices, self.max_edges)
        except ValueError:  # fingerprints not distinct on this table: hash every neighbour instead
            return None
        return lambda row: fast(row, mask)

    def fair_paths(self, rng: np.random.Generator) -> list[NB101Arch]:
        """FairNAS: draw one topology (a uniform encoding of the space's sub-space), then permute the 3 ops over
        its interior vertices. Pruning depends on the graph only, so every op assignment of the topology stays
        valid (and in the sub-space, which is defined by the graph too)."""
        topo = self.sample(rng, 1)[0]
        choice = permuted_choices(rng, len(topo.ops) - 2, len(OPS))
        return [NB101Arch(topo.bits, (topo.ops[0],) + tuple(OPS[int(o)] for o in row) + (topo.ops[-1],))
                for row in choice]

    def neighbours(self, arch: NB101Arch) -> list[NB101Arch]:
        """See :func:`neighbours`."""
        return neighbours(arch, self.max_vertices, self.max_edges)

    def op_names(self, arch: NB101Arch) -> list[str]:
        """Operations of the interior vertices of the pruned cell."""
        return list((prune(arch) or arch).ops[1:-1])

    def depth(self, arch: NB101Arch) -> int:
        """Longest input -> output path of the pruned cell, in edges."""
        cell = prune(arch) or arch
        m, n = cell.matrix, cell.n_vertices
        longest = [0] + [-(10**9)] * (n - 1)
        for j in range(1, n):
            longest[j] = max((longest[i] + 1 for i in range(j) if m[i, j]), default=-(10**9))
        return max(longest[n - 1], 0)

    def num_params(self, arch: NB101Arch, **kwargs: int) -> int:
        """See :func:`num_params` (keywords: channels, stacks, cells_per_stack, num_classes)."""
        return num_params(arch, **kwargs)

    def num_flops(self, arch: NB101Arch, **kwargs: int) -> int:
        """See :func:`num_flops` (keywords: channels, stacks, cells_per_stack, num_classes, resolution)."""
        return num_flops(arch, **kwargs)



__all__ = [
    "EXPECTED", "INPUT", "MAX_EDGES", "MAX_VERTICES", "OPS", "OUTPUT", "SHORT", "SUBSPACES", "NB101Arch", "NB101Space",
    "arch_key", "cell_hash", "cell_params", "check_subspace", "format_arch", "from_matrix", "has_residual",
    "in_subspace", "n_out_inputs", "neighbours", "num_flops", "num_params", "parse_arch", "prune", "subspace_of",
    "vertex_channels",
]
