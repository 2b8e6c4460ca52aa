"""NAS-Bench-101 cells: the architecture value, its text form, pruning, hashing, sub-space membership and
neighbours (pure python + numpy). ``NB101Space`` (space.py) wraps them in the search-space interface."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from wsbench.spaces.base import malformed
from wsbench.spaces.nb101.subspaces import canonical

OPS: tuple[str, ...] = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
INPUT, OUTPUT = "input", "output"
SHORT: dict[str, str] = {INPUT: "in", OPS[0]: "c3", OPS[1]: "c1", OPS[2]: "mp", OUTPUT: "out"}
_LONG: dict[str, str] = {**{s: full for full, s in SHORT.items()}, **{full: full for full in SHORT}}
MAX_VERTICES = 7
MAX_EDGES = 9
EXPECTED = "'<n*n matrix bits, row-major>|<n ops: in,(c3|c1|mp)...,out>', e.g. '010001000|in,c3,out'"
_LABEL = {INPUT: -1, OUTPUT: -2, **{op: i for i, op in enumerate(OPS)}}


@dataclass(frozen=True)
class NB101Arch:
    """One cell: ``bits`` is the n x n adjacency matrix row-major as '0'/'1' text, ``ops`` the n op names.

    Short op names are normalised to the full names. The matrix must be upper-triangular (a DAG in topological
    order); the cell may still contain vertices off every input->output path (see :func:`prune`).
    """

    bits: str
    ops: tuple[str, ...]

    def __post_init__(self) -> None:
        ops = tuple(_LONG.get(o.strip(), o) for o in self.ops)
        object.__setattr__(self, "ops", ops)
        n = len(ops)
        if n < 2 or len(self.bits) != n * n:
            raise ValueError(f"NB101 cell needs n >= 2 ops and n*n matrix bits, got {n} ops and {len(self.bits)} bits")
        if set(self.bits) - {"0", "1"}:
            raise ValueError(f"NB101 matrix bits must be '0'/'1', got {self.bits!r}")
        if ops[0] != INPUT or ops[-1] != OUTPUT or any(o not in OPS for o in ops[1:-1]):
            raise ValueError(f"NB101 ops must be 'input', then ops from {OPS}, then 'output'; got {ops}")
        if any(self.bits[i * n + j] == "1" for i in range(n) for j in range(i + 1)):
            raise ValueError(
                f"NB101 matrix must be strictly upper-triangular (a DAG in topological order): {self.bits}"
            )

    @property
    def n_vertices(self) -> int:
        """Number of vertices (input and output included)."""
        return len(self.ops)

    @property
    def matrix(self) -> np.ndarray:
        """Adjacency matrix as an n x n uint8 array (``matrix[i, j] = 1``: edge i -> j)."""
        n = len(self.ops)
        return (np.frombuffer(self.bits.encode(), dtype=np.uint8) - ord("0")).reshape(n, n).copy()

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        """Edges (src, dst) in row-major order."""
        n = len(self.ops)
        return tuple((k // n, k % n) for k, b in enumerate(self.bits) if b == "1")

    @property
    def num_edges(self) -> int:
        """Number of edges."""
        return self.bits.count("1")

    @property
    def labels(self) -> tuple[int, ...]:
        """The benchmark's vertex labels: -1 input, -2 output, else the op's index in :data:`OPS`."""
        return tuple(_LABEL[o] for o in self.ops)

    @classmethod
    def from_matrix(cls, matrix: str | np.ndarray | Sequence[Sequence[int]], ops: str | Sequence[str]) -> NB101Arch:
        """Build from a bit string or 2-D array and ops (a comma-separated string or a sequence of names)."""
        if isinstance(matrix, str):
            bits = matrix.strip()
        else:
            arr = np.asarray(matrix)
            if arr.ndim != 2 or arr.shape[0] != arr.shape[1]:
                raise ValueError(f"NB101 matrix must be square, got shape {arr.shape}")
            bits = "".join("1" if v else "0" for v in arr.reshape(-1).tolist())
        op_list = ops.split(",") if isinstance(ops, str) else list(ops)
        return cls(bits, tuple(op_list))


def from_matrix(bits: str, ops: str) -> NB101Arch:
    """Cell from the shared sample's ``matrix`` (row-major bits) and ``ops`` (``in,c3,...,out``) columns."""
    return NB101Arch.from_matrix(bits, ops)


# -- pruning and hashing -------------------------------------------------------------------------------


def prune(arch: NB101Arch) -> NB101Arch | None:
    """Remove vertices on no input->output path, as the benchmark does; ``None`` when no such path exists."""
    n, bits = len(arch.ops), arch.bits
    fwd = [False] * n
    fwd[0] = True
    for j in range(1, n):
        fwd[j] = any(fwd[i] and bits[i * n + j] == "1" for i in range(j))
    if not fwd[n - 1]:
        return None
    bwd = [False] * n
    bwd[n - 1] = True
    for i in range(n - 2, -1, -1):
        bwd[i] = any(bwd[j] and bits[i * n + j] == "1" for j in range(i + 1, n))
    keep = [v for v in range(n) if fwd[v] and bwd[v]]
    if len(keep) == n:
        return arch
    new_bits = "".join(bits[i * n + j] for i in keep for j in keep)
    return NB101Arch(new_bits, tuple(arch.ops[v] for v in keep))


@functools.cache
def _label_md5(out_degree: int, in_degree: int, label: int) -> str:
    return hashlib.md5(str((out_degree, in_degree, label)).encode("utf-8")).hexdigest()


def cell_hash(bits: str, labels: Sequence[int]) -> str:
    """The benchmark's iterative (Weisfeiler-Lehman style) md5 fingerprint of a pruned cell."""
    n = len(labels)
    ins: list[list[int]] = [[] for _ in range(n)]
    outs: list[list[int]] = [[] for _ in range(n)]
    for k, b in enumerate(bits):
        if b == "1":
            outs[k // n].append(k % n)
            ins[k % n].append(k // n)
    h = [_label_md5(len(outs[v]), len(ins[v]), int(labels[v])) for v in range(n)]
    md5 = hashlib.md5

    def mix(v: int) -> str:  # new hash of v: sorted in-neighbour hashes | sorted out-neighbour hashes | own hash
        text = "".join(sorted([h[w] for w in ins[v]])) + "|" + "".join(sorted([h[w] for w in outs[v]])) + "|" + h[v]
        return md5(text.encode("utf-8")).hexdigest()

    for _ in range(n):
        h = [mix(v) for v in range(n)]
    return md5(str(sorted(h)).encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1 << 20)
def arch_key(arch: NB101Arch) -> str:
    """The benchmark's hash of the pruned cell (cached); ``ValueError`` for a cell without input->output path."""
    pruned = prune(arch)
    if pruned is None:
        raise ValueError(f"NB101 cell {format_arch(arch)!r} has no input->output path; it is not in the space")
    return cell_hash(pruned.bits, pruned.labels)


# -- text form --------------------------------------------------------------------------------------------


def format_arch(arch: NB101Arch) -> str:
    """``"<bits>|<short ops>"``."""
    return arch.bits + "|" + ",".join(SHORT[o] for o in arch.ops)


def parse_arch(text: str) -> NB101Arch:
    """Inverse of :func:`format_arch` (full op names accepted); ``ValueError`` naming the text otherwise."""
    if not isinstance(text, str) or text.count("|") != 1:
        raise malformed("nb101", str(text), EXPECTED, "needs exactly one '|' between matrix bits and ops")
    bits, ops = (part.strip() for part in text.split("|"))
    try:
        return NB101Arch.from_matrix(bits, ops)
    except ValueError as err:
        raise malformed("nb101", text, EXPECTED, str(err)) from None


# -- sub-spaces ------------------------------------------------------------------------------------------


def n_out_inputs(arch: NB101Arch) -> int:
    """Vertices other than the input that feed the output of the pruned cell."""
    p = pruned(arch)
    n = p.n_vertices
    return sum(p.bits[i * n + n - 1] == "1" for i in range(1, n - 1))


def has_residual(arch: NB101Arch) -> bool:
    """Whether the pruned cell has an input->output edge."""
    p = pruned(arch)
    return p.bits[p.n_vertices - 1] == "1"


def subspace_of(arch: NB101Arch) -> str | None:
    """``"A1"``..``"A4"`` by the number of vertices feeding the output; ``None`` for the bare input->output cell."""
    k = n_out_inputs(arch)
    return f"A{k}" if 1 <= k <= 4 else None


def check_subspace(name: str) -> str:
    """The canonical name of a sub-space (aliases such as ``res`` accepted), else ``ValueError`` with the names."""
    return canonical(name)


def in_subspace(arch: NB101Arch, name: str) -> bool:
    """Whether the (valid) cell belongs to sub-space ``name`` (one of :data:`SUBSPACES`)."""
    name = check_subspace(name)
    if name == "full":
        return True
    if name == "with_residual":
        return has_residual(arch)
    if name == "without_residual":
        return not has_residual(arch)
    return subspace_of(arch) == name


def pruned(arch: NB101Arch) -> NB101Arch:
    p = prune(arch)
    if p is None:
        raise ValueError(f"NB101 cell {format_arch(arch)!r} has no input->output path; it is not in the space")
    return p


# -- neighbourhood ---------------------------------------------------------------------------------------


def neighbours(arch: NB101Arch, max_vertices: int = MAX_VERTICES, max_edges: int = MAX_EDGES) -> list[NB101Arch]:
    """Local-search neighbours (To Share or Not To Share): distinct valid pruned cells, ``arch`` excluded.

    One interior op changed; one edge added or removed (kept when the pruned result is valid); one vertex added,
    at any topological position, with any op, fed by one earlier vertex and feeding one later vertex.
    """
    base = pruned(arch)
    n, bits, ops = base.n_vertices, base.bits, base.ops
    cands: list[NB101Arch] = []
    for v in range(1, n - 1):
        cands += [NB101Arch(bits, ops[:v] + (op,) + ops[v + 1 :]) for op in OPS if op != ops[v]]
    for i in range(n):
        for j in range(i + 1, n):
            k = i * n + j
            cands.append(NB101Arch(bits[:k] + ("0" if bits[k] == "1" else "1") + bits[k + 1 :], ops))
    if n < max_vertices and base.num_edges + 2 <= max_edges:
        m = base.matrix
        for p in range(1, n):  # index of the new vertex; old vertices >= p shift by one
            grown = np.insert(np.insert(m, p, 0, axis=0), p, 0, axis=1)
            for src in range(p):
                for dst in range(p + 1, n + 1):
                    g = grown.copy()
                    g[src, p] = g[p, dst] = 1
                    for op in OPS:
                        cands.append(NB101Arch.from_matrix(g, ops[:p] + (op,) + ops[p:]))
    out: dict[str, NB101Arch] = {}
    own = arch_key(base)
    for c in cands:
        p = prune(c)
        if p is None or p.n_vertices > max_vertices or p.num_edges > max_edges:
            continue
        key = arch_key(p)
        if key != own and key not in out:
            out[key] = p
    return list(out.values())
