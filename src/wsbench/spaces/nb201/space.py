"""The NAS-Bench-201 cell space: 4 nodes, 6 edges, 5 operations per edge (5**6 = 15,625 cells).

Node 0 is the cell input, node 3 its output; every node sums its incoming edges. The official text form lists
the incoming edges of nodes 1, 2 and 3, each edge as ``op~source``::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

Two equivalence notions are offered (see ``NB201Space``):

* ``"benchmark"`` (default): the benchmark's own functional string (the ``UniqueString`` column of the
  NATS-Bench export). Each node becomes the sorted ``+``-join of its incoming terms, a term being ``#`` (a
  ``none`` edge, or an edge out of a node whose string is exactly ``#``), the source string itself
  (``skip_connect``) or ``(source)@op``. It yields the published 6,466 classes.
* ``"functional"``: the same idea made exact. Sums are flattened multisets, zero terms vanish and a node whose
  every incoming term vanished is zero (the benchmark string keeps ``#+#`` as a non-zero node, so e.g. a cell
  whose output only receives ``none`` edges and ``skip`` of an all-``none`` node is not merged with the all-none
  cell). Every benchmark class lies inside one functional class; there are fewer functional classes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from wsbench.spaces.base import SearchSpace, malformed, permuted_choices

if TYPE_CHECKING:
    from wsbench.benchmarks.table import GroundTruth

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NUM_EDGES = len(EDGES)
NUM_ARCHS = len(OPS) ** NUM_EDGES
EXPECTED_FORM = "'|op~0|+|op~0|op~1|+|op~0|op~1|op~2|' with op in " + ", ".join(OPS)
Equivalence = Literal["benchmark", "functional"]
_KERNEL = {"nor_conv_1x1": 1, "nor_conv_3x3": 3}


@dataclass(frozen=True)
class NB201Arch:
    """One NB201 cell: ``ops[k]`` is the index into ``OPS`` of the operation on edge ``EDGES[k]``."""

    ops: tuple[int, ...]

    @property
    def op_names(self) -> tuple[str, ...]:
        """Operation names in ``EDGES`` order."""
        return tuple(OPS[o] for o in self.ops)


def _benchmark_string(ops: tuple[int, ...]) -> str:
    """The benchmark's ``UniqueString`` of a cell (see the module docstring)."""
    nodes = ["0"]
    for dst in (1, 2, 3):
        terms = []
        for (src, d), o in zip(EDGES, ops, strict=True):
            if d != dst:
                continue
            name, inp = OPS[o], nodes[src]
            if name == "none" or inp == "#":
                terms.append("#")
            elif name == "skip_connect":
                terms.append(inp)
            else:
                terms.append(f"({inp})@{name}")
        nodes.append("+".join(sorted(terms)))
    return nodes[3]


def _functional_string(ops: tuple[int, ...]) -> str:
    """An exact functional id: flattened, sorted multisets of terms; zero terms and zero nodes vanish."""
    nodes: list[tuple[str, ...]] = [("x",)]
    for dst in (1, 2, 3):
        terms: list[str] = []
        for (src, d), o in zip(EDGES, ops, strict=True):
            if d != dst or OPS[o] == "none" or not nodes[src]:
                continue
            name, inp = OPS[o], nodes[src]
            if name == "skip_connect":
                terms.extend(inp)
            else:
                terms.append(f"{name}({'+'.join(inp)})")
        nodes.append(tuple(sorted(terms)))
    return "+".join(nodes[3]) or "zero"


@functools.cache
def _classes(equivalence: Equivalence) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class label of every code ``0..15624`` (labels ordered by first occurrence) and the class ids."""
    fn = _benchmark_string if equivalence == "benchmark" else _functional_string
    ids: dict[str, int] = {}
    labels = np.empty(NUM_ARCHS, dtype=np.int64)
    for code, ops in enumerate(itertools.product(range(len(OPS)), repeat=NUM_EDGES)):
        labels[code] = ids.setdefault(fn(ops), len(ids))
    return labels, tuple(ids)


@functools.cache
def _members(equivalence: Equivalence) -> tuple[np.ndarray, np.ndarray]:
    """Codes sorted by class label, and the start offset of each class in that order (plus the end)."""
    labels, names = _classes(equivalence)
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], np.arange(len(names) + 1))
    return order, starts


class NB201Space(SearchSpace[NB201Arch]):
    """NAS-Bench-201. ``equivalence`` picks what ``canonical_id`` (and so ``sample_unique``) treats as equal."""

    name: ClassVar[str] = "nb201"

    def __init__(self, equivalence: Equivalence = "benchmark"):
        if equivalence not in ("benchmark", "functional"):
            raise ValueError(f"unknown NB201 equivalence {equivalence!r}; use 'benchmark' or 'functional'")
        self.equivalence: Equivalence = equivalence

    # -- text forms -------------------------------------------------------------------------------
    def parse(self, text: str) -> NB201Arch:
        """Parse the official string; every node must list its inputs ``~0, ~1, ...`` in order."""
        if not isinstance(text, str):
            raise malformed(self.name, str(text), EXPECTED_FORM, "not a string")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise malformed(self.name, text, EXPECTED_FORM, f"found {len(nodes)} nodes separated by '+', need 3")
        ops: list[int] = []
        for dst, node in enumerate(nodes, start=1):
            if len(node) < 2 or not (node.startswith("|") and node.endswith("|")):
                raise malformed(self.name, text, EXPECTED_FORM, f"node {dst} {node!r} is not enclosed in '|'")
            entries = node[1:-1].split("|")
            if len(entries) != dst:
                raise malformed(self.name, text, EXPECTED_FORM, f"node {dst} needs {dst} inputs, got {len(entries)}")
            for src, entry in enumerate(entries):
                op, sep, inp = entry.partition("~")
                if not sep or op not in OPS:
                    raise malformed(self.name, text, EXPECTED_FORM, f"unknown operation in {entry!r}")
                if inp != str(src):
                    raise malformed(self.name, text, EXPECTED_FORM,
                                    f"input {inp!r} of node {dst} at position {src} must be {src}")
                ops.append(OPS.index(op))
        return NB201Arch(tuple(ops))

    def format(self, arch: NB201Arch) -> str:
        """The official ``|op~j|`` string."""
        self._check(arch)
        names = arch.op_names
        return "+".join("|" + "|".join(f"{names[k]}~{EDGES[k][0]}" for k in range(NUM_EDGES) if EDGES[k][1] == dst)
                        + "|" for dst in (1, 2, 3))

    def key(self, arch: NB201Arch) -> str:
        """Table key: the official string."""
        return self.format(arch)

    def canonical_id(self, arch: NB201Arch) -> str:
        """Class id under this space's ``equivalence`` (benchmark ``UniqueString`` by default)."""
        return self.benchmark_id(arch) if self.equivalence == "benchmark" else self.functional_id(arch)

    def benchmark_id(self, arch: NB201Arch) -> str:
        """The benchmark's own functional string (``UniqueString``): 6,466 classes."""
        self._check(arch)
        return _benchmark_string(arch.ops)

    def functional_id(self, arch: NB201Arch) -> str:
        """The exact functional id (zero sums removed, sums flattened): coarser than ``benchmark_id``."""
        self._check(arch)
        return _functional_string(arch.ops)

    # -- integer codes and enumeration ------------------------------------------------------------
    def to_int(self, arch: NB201Arch) -> int:
        """Base-5 code, first edge most significant (so codes sort like op tuples)."""
        self._check(arch)
        code = 0
        for o in arch.ops:
            code = code * len(OPS) + o
        return code

    def from_int(self, code: int) -> NB201Arch:
        """Inverse of ``to_int``."""
        if not 0 <= int(code) < NUM_ARCHS:
            raise ValueError(f"NB201 code {code} out of range; expected 0 <= code < {NUM_ARCHS}")
        code, ops = int(code), []
        for _ in range(NUM_EDGES):
            code, o = divmod(code, len(OPS))
            ops.append(o)
        return NB201Arch(tuple(reversed(ops)))

    def enumerate(self) -> list[NB201Arch]:
        """All 15,625 cells in code order."""
        return list(_all_archs())

    def num_classes(self) -> int:
        """Number of equivalence classes (6,466 for ``"benchmark"``)."""
        return len(_classes(self.equivalence)[1])

    def class_labels(self) -> np.ndarray:
        """Class label (``0..num_classes-1``) of every code; a read-only view."""
        labels = _classes(self.equivalence)[0].view()
        labels.flags.writeable = False
        return labels

    # -- validity and sampling --------------------------------------------------------------------
    def is_valid(self, arch: NB201Arch) -> bool:
        """Six integer op indices in ``range(5)``."""
        ops = getattr(arch, "ops", None)
        return (isinstance(ops, tuple) and len(ops) == NUM_EDGES
                and all(isinstance(o, int | np.integer) and 0 <= o < len(OPS) for o in ops))

    def sample(self, rng: np.random.Generator, n: int) -> list[NB201Arch]:
        """Random-NAS: ``n`` cells, each edge's op drawn uniformly (uniform over the 5**6 encodings)."""
        draws = rng.integers(0, len(OPS), size=(int(n), NUM_EDGES))
        return [NB201Arch(tuple(int(o) for o in row)) for row in draws]

    def sample_unique(self, rng: np.random.Generator, n: int,
                      representative: Literal["random", "first"] = "random") -> list[NB201Arch]:
        """Random-A: ``n`` distinct classes drawn uniformly without replacement.

        Each class is returned as one member cell: drawn uniformly within the class (``"random"``, the
        default, so every encoding of a class gets trained) or its lowest-code member (``"first"``).
        """
        if representative not in ("random", "first"):
            raise ValueError(f"unknown representative {representative!r}; use 'random' or 'first'")
        order, starts = _members(self.equivalence)
        total = len(starts) - 1
        if not 0 <= n <= total:
            raise ValueError(f"cannot draw {n} distinct NB201 classes; there are {total}")
        picked = rng.choice(total, size=int(n), replace=False)
        out = []
        for c in picked:
            lo, hi = int(starts[c]), int(starts[c + 1])
            pos = lo if representative == "first" else lo + int(rng.integers(0, hi - lo))
            out.append(self.from_int(int(order[pos])))
        return out

    def lookup(self, text: str, tables: Sequence[Any] = ()) -> NB201Arch:
        """The text form, or an official index (0..15624) looked up in the first of ``tables``."""
        if not text.isdigit():
            return self.parse(text)
        if not tables:
            raise ValueError("an NB201 index needs the NB201 table; import it with `wsbench data import "
                             "../shared/data` or give the cell's text form")
        gt = tables[0]
        rows = (gt.column("index") == int(text)).nonzero()[0]
        if not len(rows):
            raise ValueError(f"index {text} is not in table {gt.name!r}; give an official index, 0..{len(gt) - 1}")
        return self.parse(str(gt.keys[rows[0]]))

    def op_at(self, arch: NB201Arch, index: int, target: int | None = None, cell: str | None = None) -> str:
        """Operation of edge ``index`` (``EDGES`` order) or of the edge ``index -> target``."""
        if cell is not None:
            raise ValueError("NB201 has one cell: use op@<k> or op@<i>-<j>")
        k = (EDGES.index((index, target)) if (index, target) in EDGES else -1) if target is not None else index
        if not 0 <= k < len(EDGES):
            where = f"{index}-{target}" if target is not None else str(index)
            raise ValueError(f"NB201 has no edge {where!r}; edges are 0..5 or i-j in {EDGES}")
        return str(arch.op_names[k])

    def table_neighbours(self, table: GroundTruth, mask: np.ndarray) -> Callable[[int], np.ndarray]:
        """Every row's neighbours on ``table`` at once (vectorised over the base-5 codes; ``neighbours.py``)."""
        from wsbench.spaces.nb201.neighbours import table_neighbour_lookup

        return table_neighbour_lookup(self, table, mask)

    def fair_paths(self, rng: np.random.Generator) -> list[NB201Arch]:
        """FairNAS: 5 paths that together use every operation of every edge exactly once."""
        choice = permuted_choices(rng, len(EDGES), len(OPS))
        return [NB201Arch(ops=tuple(int(o) for o in row)) for row in choice]

    def neighbours(self, arch: NB201Arch) -> list[NB201Arch]:
        """The 24 cells that differ from ``arch`` in exactly one edge's op."""
        self._check(arch)
        return [NB201Arch(arch.ops[:k] + (o,) + arch.ops[k + 1:])
                for k in range(NUM_EDGES) for o in range(len(OPS)) if o != arch.ops[k]]

    # -- macro network ----------------------------------------------------------------------------
    def num_params(self, arch: NB201Arch, channels: int = 16, cells_per_stage: int = 5,
                   num_classes: int = 10) -> int:
        """Trainable parameters of the stand-alone NB201 network (BN affine; ``C`` = ``channels``).

        Stem 3x3 conv (3 -> C, no bias) + BN; three stages of ``cells_per_stage`` cells at C, 2C, 4C with a
        residual block between stages (3x3 conv stride 2 + BN, 3x3 conv + BN, shortcut avg-pool + 1x1 conv);
        BN + ReLU; global pooling; linear classifier with bias. A ``nor_conv_kxk`` edge costs k*k*c*c + 2c.
        """
        self._check(arch)
        c = int(channels)

        def cell(width: int) -> int:
            return sum(_KERNEL[n] ** 2 * width * width + 2 * width for n in arch.op_names if n in _KERNEL)

        def residual(c_in: int, c_out: int) -> int:
            return 9 * c_in * c_out + 2 * c_out + 9 * c_out * c_out + 2 * c_out + c_in * c_out

        total = 27 * c + 2 * c
        total += cells_per_stage * (cell(c) + cell(2 * c) + cell(4 * c))
        total += residual(c, 2 * c) + residual(2 * c, 4 * c)
        total += 2 * 4 * c + 4 * c * num_classes + num_classes
        return total

    def num_flops(self, arch: NB201Arch, channels: int = 16, cells_per_stage: int = 5, num_classes: int = 10,
                  resolution: int = 32) -> int:
        """Multiply-accumulates of one forward pass of the stand-alone network on one ``resolution``² image.

        Convolutions and the classifier, as NAS-Bench-201's ``flops`` counts them: 7.78 M for a cell without
        convolutions and 220.11 M for the all-3x3 cell at the paper's setting (C=16, N=5, CIFAR-10 32x32).
        """
        self._check(arch)
        c, side = int(channels), int(resolution)

        def cell(width: int, pixels: int) -> int:
            return sum(_KERNEL[n] ** 2 * width * width for n in arch.op_names if n in _KERNEL) * pixels

        def residual(c_in: int, c_out: int, pixels: int) -> int:  # at the block's (halved) output resolution
            return (9 * c_in * c_out + 9 * c_out * c_out + c_in * c_out) * pixels

        total = 27 * c * side * side
        total += cells_per_stage * (cell(c, side * side) + cell(2 * c, (side // 2) ** 2)
                                    + cell(4 * c, (side // 4) ** 2))
        total += residual(c, 2 * c, (side // 2) ** 2) + residual(2 * c, 4 * c, (side // 4) ** 2)
        return total + 4 * c * num_classes

    def op_names(self, arch: NB201Arch) -> list[str]:
        """The operation of each of the six edges."""
        return list(arch.op_names)

    def depth(self, arch: NB201Arch) -> int:
        """Longest node-0 -> node-3 path over edges that are not ``none`` (0 when the output is cut off)."""
        longest = {0: 0}
        for (i, j), name in zip(EDGES, arch.op_names, strict=True):
            if name != "none" and i in longest:
                longest[j] = max(longest.get(j, 0), longest[i] + 1)
        return longest.get(3, 0)

    def index_of(self, arch: NB201Arch, table: GroundTruth) -> int:
        """Official NB201 index of ``arch`` from a table with ``key`` and ``index`` columns."""
        row = int(table.index(self.key(arch))[0])
        return int(table.column("index")[row])

    # -- internals --------------------------------------------------------------------------------
    def _check(self, arch: NB201Arch) -> None:
        if not self.is_valid(arch):
            raise ValueError(f"invalid NB201 architecture {arch!r}; expected NB201Arch with 6 op indices in 0..4")


@functools.cache
def _all_archs() -> tuple[NB201Arch, ...]:
    return tuple(NB201Arch(ops) for ops in itertools.product(range(len(OPS)), repeat=NUM_EDGES))
