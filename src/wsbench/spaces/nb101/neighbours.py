"""Vectorised NAS-Bench-101 neighbour lookup for local search over an NB101 table.

``NB101Space.neighbours`` + ``key`` hash every candidate cell with the benchmark's md5 fingerprint (~10 ms per
cell's neighbourhood), too slow for 100 searches of 10,000 evaluations. This module finds the same neighbours
(same move set as ``wsbench.spaces.nb101.neighbours``) with numpy, a whole neighbourhood at once:

* every cell sits in a fixed 7-slot frame: input at slot 0, interior vertices at slots 1..n-2, output at slot 6;
  unused slots are isolated and so pruned away. Matrices need not be upper triangular (only acyclic).
* candidates = one interior op changed; one edge flipped (between vertices in topological order); one vertex
  added, fed by one vertex and feeding a later one (placed in the free slot 5), with any op;
* pruning = keep vertices both reachable from the input and reaching the output (boolean matrix powers);
* identity = a Weisfeiler-Lehman fingerprint (the benchmark's refinement: in-/out-degree and op label, then
  multisets of in- and out-neighbour labels), with 64-bit mixing and order-free sums in place of md5 and sorting.

Table rows are fingerprinted the same way; a fingerprint shared by two rows makes ``FastNB101Neighbours``
refuse to work (callers then use the generic path).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from wsbench.benchmarks.table import GroundTruth


SLOTS = 7
OUT = SLOTS - 1
FREE = SLOTS - 2  # slot used for an added vertex (unused whenever a vertex may be added)
MAX_EDGES = 9
_LABEL = {"in": 0, "out": 1, "c3": 2, "c1": 3, "mp": 4,
          "input": 0, "output": 1, "conv3x3-bn-relu": 2, "conv1x1-bn-relu": 3, "maxpool3x3": 4}
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
_K = [np.uint64(k) for k in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5)]


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser (uint64 in, uint64 out; wraps modulo 2**64)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def fingerprint(adj: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prune a batch of framed cells and fingerprint them.

    ``adj``: (B, 7, 7) bool, ``labels``: (B, 7) int. Returns (fingerprint uint64, valid bool, pruned edge count);
    a cell is valid when the output is reachable from the input.
    """
    a = adj.astype(bool)
    reach = (a | np.eye(SLOTS, dtype=bool)).astype(np.float32)
    for _ in range(3):  # paths of length <= 8 > 6: the transitive closure of a 7-vertex DAG
        reach = np.minimum(reach @ reach, 1.0)
    fwd, bwd = reach[:, 0, :] > 0, reach[:, :, OUT] > 0
    active = fwd & bwd
    a = a & active[:, :, None] & active[:, None, :]
    au = a.astype(np.uint64)
    outdeg, indeg = au.sum(axis=2), au.sum(axis=1)
    act = active.astype(np.uint64)
    with np.errstate(over="ignore"):
        h = _mix(outdeg * _K[0] + indeg * _K[1] + labels.astype(np.uint64) * _K[2] + np.uint64(1))
        for _ in range(SLOTS):
            g = h * act  # h is already well mixed
            s_in = (au * g[:, :, None]).sum(axis=1)  # multiset of in-neighbour labels, as an order-free sum
            s_out = (au * g[:, None, :]).sum(axis=2)  # ... of out-neighbour labels
            h = _mix(h * _K[3] + _mix(s_in ^ _K[0]) + s_out * _K[1])
        fp = (_mix(h ^ _K[2]) * act).sum(axis=1) + act.sum(axis=1) * _K[0]
    return fp, active[:, 0], outdeg.sum(axis=1)


def frame_table(table: GroundTruth) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All rows of an NB101 table (``matrix``, ``ops``, ``n_vertices`` columns) as framed cells."""
    bits = table.column("matrix")
    ops = table.column("ops")
    nv = np.asarray(table.column("n_vertices"), dtype=np.int64)
    n_rows = len(table)
    adj = np.zeros((n_rows, SLOTS, SLOTS), bool)
    labels = np.zeros((n_rows, SLOTS), np.int64)
    for n in np.unique(nv):
        rows = np.flatnonzero(nv == n)
        slot = np.r_[np.arange(n - 1), OUT]
        raw = np.frombuffer("".join(str(bits[r]) for r in rows).encode(), dtype=np.uint8).reshape(len(rows), n, n)
        adj[np.ix_(rows, slot, slot)] = raw == ord("1")
        lab = np.array([[_LABEL[o] for o in str(ops[r]).split(",")] for r in rows], dtype=np.int64)
        labels[np.ix_(rows, slot)] = lab
    return adj, labels, nv


class FastNB101Neighbours:
    """Neighbour rows of NB101 table rows, computed a neighbourhood at a time with numpy."""

    def __init__(self, table: GroundTruth, max_vertices: int = SLOTS, max_edges: int = MAX_EDGES):
        self.adj, self.labels, self.n_vertices = frame_table(table)
        self.max_vertices, self.max_edges = max_vertices, max_edges
        self._templates: dict[tuple[int, bool], dict[str, np.ndarray]] = {}
        fp, _, _ = fingerprint(self.adj, self.labels)
        order = np.argsort(fp, kind="stable")
        self._sorted, self._order = fp[order], order
        if len(self._sorted) > 1 and (np.diff(self._sorted) == 0).any():
            raise ValueError("two table rows share a fingerprint; use the generic neighbour path")

    def lookup(self, fp: np.ndarray) -> np.ndarray:
        """Rows with fingerprints ``fp`` (``-1`` when unknown)."""
        pos = np.minimum(np.searchsorted(self._sorted, fp), len(self._sorted) - 1)
        return np.where(self._sorted[pos] == fp, self._order[pos], -1)

    def _template(self, n: int, may_grow: bool) -> dict[str, np.ndarray]:
        """Index arrays of the candidate moves of an ``n``-vertex cell (cached per ``n``)."""
        key = (n, may_grow)
        got = self._templates.get(key)
        if got is not None:
            return got
        slot = np.r_[np.arange(n - 1), OUT]
        interior = slot[1:-1]
        i, j = np.triu_indices(n, k=1)
        n_op, n_flip = 2 * len(interior), len(i)
        n_add = 3 * len(i) if may_grow else 0
        k0, k1 = n_op, n_op + n_flip
        t = {
            "size": np.array(k1 + n_add),
            "op_k": np.arange(n_op), "op_v": np.repeat(interior, 2), "op_shift": np.tile([1, 2], len(interior)),
            "flip_k": np.arange(k0, k1), "flip_i": slot[i], "flip_j": slot[j],
            "add_k": np.arange(k1, k1 + n_add), "add_src": np.repeat(slot[i], 3)[:n_add],
            "add_dst": np.repeat(slot[j], 3)[:n_add], "add_op": np.tile([2, 3, 4], len(i))[:n_add],
        }
        self._templates[key] = t
        return t

    def candidates(self, row: int) -> tuple[np.ndarray, np.ndarray]:
        """Framed candidate cells of one row (before pruning): op changes, edge flips, added vertices."""
        n = int(self.n_vertices[row])
        base_a, base_l = self.adj[row], self.labels[row]
        t = self._template(n, n < self.max_vertices and int(base_a.sum()) + 2 <= self.max_edges)
        size = int(t["size"])
        mats = np.repeat(base_a[None], size, axis=0)
        labs = np.repeat(base_l[None], size, axis=0)
        labs[t["op_k"], t["op_v"]] = (base_l[t["op_v"]] - 2 + t["op_shift"]) % 3 + 2
        mats[t["flip_k"], t["flip_i"], t["flip_j"]] ^= True
        mats[t["add_k"], t["add_src"], FREE] = True
        mats[t["add_k"], FREE, t["add_dst"]] = True
        labs[t["add_k"], FREE] = t["add_op"]
        return mats, labs

    def __call__(self, row: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Sorted distinct rows adjacent to ``row`` (restricted to ``mask`` when given)."""
        adj, labels = self.candidates(row)
        fp, valid, edges = fingerprint(adj, labels)
        # a pruned cell has at most 7 vertices in this frame; check the edge budget only
        rows = self.lookup(fp[valid & (edges <= self.max_edges)])
        rows = rows[(rows >= 0) & (rows != row)]
        if mask is not None:
            rows = rows[mask[rows]]
        return np.unique(rows)
