"""Enumeration of all unique NAS-Bench-101 cells (423,624 for 7 vertices and 9 edges), vectorised with numpy.

A pruned cell is a *full* DAG: the input is the only vertex without in-edges and the output the only one without
out-edges, so every isomorphism fixes both and only permutes the interior vertices. The enumeration therefore

1. lists, for every vertex count n, the upper-triangular full DAGs with at most ``max_edges`` edges;
2. dedupes them up to isomorphism with a canonical code: the smallest row-major bit code of the matrix over all
   (n-2)! interior permutations (computed for all graphs at once, one permutation at a time);
3. for each unique graph, finds its automorphisms (the permutations that leave its code unchanged) and keeps one
   op labelling per orbit of the automorphism group (the smallest base-3 code of the permuted labellings);
4. computes the benchmark's md5 hash only for these unique representatives (and checks they are distinct).

The result is cached as an npz file (no pickle) under ``<data_dir>/spaces/``.
"""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from wsbench.atomic import atomic_path
from wsbench.datadir import resolve_data_dir
from wsbench.spaces.nb101.cell import INPUT, MAX_EDGES, MAX_VERTICES, OPS, OUTPUT, NB101Arch, cell_hash, check_subspace

_PAD = -3  # label of padding positions in the fixed-size arrays


@dataclass(frozen=True)
class NB101Cells:
    """All unique cells as arrays: ``keys`` (N,) hashes, ``n_vertices`` (N,), ``matrices`` (N, 7, 7) uint8 with
    the cell in the top-left n x n block, ``labels`` (N, 7) int8 (-1 input, -2 output, op index, -3 padding)."""

    keys: np.ndarray
    n_vertices: np.ndarray
    matrices: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return int(self.keys.size)

    def arch(self, i: int) -> NB101Arch:
        """The i-th cell as an :class:`NB101Arch`."""
        n = int(self.n_vertices[i])
        bits = (self.matrices[i, :n, :n].reshape(-1) + ord("0")).astype(np.uint8).tobytes().decode()
        ops = tuple(INPUT if k == -1 else OUTPUT if k == -2 else OPS[k] for k in self.labels[i, :n].tolist())
        return NB101Arch(bits, ops)

    def archs(self) -> list[NB101Arch]:
        """All cells as :class:`NB101Arch` values."""
        return [self.arch(i) for i in range(len(self))]

    def n_out_inputs(self) -> np.ndarray:
        """Per cell: vertices other than the input that feed the output."""
        rows = np.arange(len(self))
        col = self.matrices[rows, :, self.n_vertices - 1].astype(np.int64)
        return col.sum(axis=1) - col[:, 0]

    def residual(self) -> np.ndarray:
        """Per cell: whether the input feeds the output directly."""
        return self.matrices[np.arange(len(self)), 0, self.n_vertices - 1].astype(bool)

    def subspace_mask(self, name: str) -> np.ndarray:
        """Boolean mask of the cells in sub-space ``name``."""
        name = check_subspace(name)
        if name == "full":
            return np.ones(len(self), dtype=bool)
        if name == "with_residual":
            return self.residual()
        if name == "without_residual":
            return ~self.residual()
        return self.n_out_inputs() == int(name[1])


def _full_dags(n: int, max_edges: int) -> np.ndarray:
    """All n-vertex upper-triangular full DAGs with at most ``max_edges`` edges, as (M, n, n) uint8."""
    iu, ju = np.triu_indices(n, k=1)
    codes = np.arange(1 << iu.size, dtype=np.int64)
    count = np.zeros(codes.size, dtype=np.uint8)
    for b in range(iu.size):
        count += ((codes >> b) & 1).astype(np.uint8)
    codes = codes[count <= max_edges]
    bits = np.empty((codes.size, iu.size), dtype=np.uint8)
    for b in range(iu.size):
        bits[:, b] = (codes >> b) & 1
    mats = np.zeros((bits.shape[0], n, n), dtype=np.uint8)
    mats[:, iu, ju] = bits
    has_in = mats[:, :, 1:].any(axis=1).all(axis=1)
    has_out = mats[:, :-1, :].any(axis=2).all(axis=1)
    return mats[has_in & has_out]


def _perm_codes(mats: np.ndarray, perms: np.ndarray) -> np.ndarray:
    """(M, P) codes: code[m, p] = row-major bit code of matrix m with vertices relabelled by perms[p]."""
    n = mats.shape[1]
    iu, ju = np.triu_indices(n, k=1)
    bits = mats[:, iu, ju].astype(np.int64)
    out = np.empty((mats.shape[0], perms.shape[0]), dtype=np.int64)
    inv = np.argsort(perms, axis=1)  # new position of each old vertex
    for p in range(perms.shape[0]):
        weights = np.left_shift(np.int64(1), (inv[p, iu] * n + inv[p, ju]).astype(np.int64))
        out[:, p] = bits @ weights
    return out


def _unique_cells(n: int, max_edges: int) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of the isomorphism classes of n-vertex labelled cells: (R, n, n) matrices, (R, n) labels."""
    if n == 2:
        return np.array([[[0, 1], [0, 0]]], dtype=np.uint8), np.array([[-1, -2]], dtype=np.int8)
    mats = _full_dags(n, max_edges)
    interior = list(itertools.permutations(range(1, n - 1)))
    perms = np.array([(0, *p, n - 1) for p in interior], dtype=np.int64)  # perms[0] is the identity
    codes = _perm_codes(mats, perms)
    _, first = np.unique(codes.min(axis=1), return_index=True)
    mats, codes = mats[first], codes[first]
    auts = codes == codes[:, :1]  # (R, P): which permutations are automorphisms
    k = n - 2
    lab = np.array(list(itertools.product(range(len(OPS)), repeat=k)), dtype=np.int64)  # (L, k)
    powers = len(OPS) ** np.arange(k - 1, -1, -1, dtype=np.int64)
    # label code of every labelling under every interior permutation: relabelled ops[new v] = ops[perm[v]]
    lab_codes = np.stack([lab[:, perms[p, 1:-1] - 1] @ powers for p in range(perms.shape[0])], axis=1)  # (L, P)
    out_m, out_l = [], []
    groups, group_of = np.unique(auts, axis=0, return_inverse=True)
    for g in range(groups.shape[0]):
        keep = np.unique(lab_codes[:, groups[g]].min(axis=1))  # one labelling per orbit, by its smallest code
        members = np.flatnonzero(group_of.reshape(-1) == g)
        out_m.append(np.repeat(mats[members], keep.size, axis=0))
        out_l.append(np.tile(lab[keep], (members.size, 1)))
    all_m = np.concatenate(out_m)
    inner = np.concatenate(out_l)
    labels = np.concatenate([np.full((inner.shape[0], 1), -1), inner, np.full((inner.shape[0], 1), -2)], axis=1).astype(
        np.int8
    )
    return all_m, labels


def build_cells(max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES) -> NB101Cells:
    """Enumerate all unique cells of the budget (no caching); cells ordered by vertex count then hash."""
    keys, nv, mats, labs = [], [], [], []
    for n in range(2, max_vertices + 1):
        m, lab = _unique_cells(n, max_edges)
        if m.shape[0] == 0:
            continue
        bits = (m.reshape(m.shape[0], -1) + ord("0")).astype(np.uint8)
        hashes = np.array([cell_hash(bits[i].tobytes().decode(), lab[i].tolist()) for i in range(m.shape[0])])
        order = np.argsort(hashes, kind="stable")
        pm = np.zeros((m.shape[0], MAX_VERTICES, MAX_VERTICES), dtype=np.uint8)
        pm[:, :n, :n] = m
        pl = np.full((m.shape[0], MAX_VERTICES), _PAD, dtype=np.int8)
        pl[:, :n] = lab
        keys.append(hashes[order])
        nv.append(np.full(m.shape[0], n, dtype=np.int8))
        mats.append(pm[order])
        labs.append(pl[order])
    cells = NB101Cells(
        keys=np.concatenate(keys).astype("<U32"),
        n_vertices=np.concatenate(nv),
        matrices=np.concatenate(mats),
        labels=np.concatenate(labs),
    )
    if np.unique(cells.keys).size != len(cells):
        raise RuntimeError("NB101 enumeration: two non-isomorphic cells share a hash")
    return cells


def cache_path(data_dir: str | os.PathLike[str] | None, max_vertices: int, max_edges: int) -> Path:
    """Location of the cached enumeration inside the data directory."""
    return resolve_data_dir(data_dir) / "spaces" / f"nb101_cells_v{max_vertices}_e{max_edges}.npz"


@functools.lru_cache(maxsize=4)
def _load_cells(path: str, mtime_ns: int) -> NB101Cells:
    """The cached enumeration, read from disk once per process (and again only when the file changes): Random-A
    draws from it at every training step."""
    with np.load(path, allow_pickle=False) as z:
        return NB101Cells(z["keys"], z["n_vertices"], z["matrices"], z["labels"])


def enumerate_cells(
    max_vertices: int = MAX_VERTICES,
    max_edges: int = MAX_EDGES,
    data_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> NB101Cells:
    """All unique cells of the budget, loaded from the npz cache in the data directory or built and cached."""
    if not 2 <= max_vertices <= MAX_VERTICES:
        raise ValueError(f"max_vertices must be in 2..{MAX_VERTICES}, got {max_vertices}")
    path = cache_path(data_dir, max_vertices, max_edges)
    if cache and path.exists():
        return _load_cells(str(path), path.stat().st_mtime_ns)
    cells = build_cells(max_vertices, max_edges)
    if cache:
        with atomic_path(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(
                fh, keys=cells.keys, n_vertices=cells.n_vertices, matrices=cells.matrices, labels=cells.labels
            )
    return cells


enumerate = enumerate_cells  # noqa: A001 - the public name of the API; the builtin is not used in this module
