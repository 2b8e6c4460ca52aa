"""The DARTS cell space (NAS-Bench-301 / NDS-DARTS): a normal and a reduction cell.

Each cell has two inputs (nodes 0 and 1: the outputs of the two previous cells) and 4 intermediate nodes
(2..5); intermediate node ``i`` (0..3, graph node ``i + 2``) sums two edges, each an ``(input, op)`` pair with
``input < i + 2``; the cell output concatenates nodes 2..5. An architecture is 8 edges per cell, node by node,
in the NAS-Bench-301 encoding order ``(input, op)`` with ``op`` an index into ``OPS``.

Text forms:

* ``format``/``parse``: the familiar genotype ``Genotype(normal=[('sep_conv_3x3', 0), ...], normal_concat=[2, 3,
  4, 5], reduce=[...], reduce_concat=[2, 3, 4, 5])`` (pairs are ``(op name, input)``, edge order preserved).
* ``format_encoding``/``parse_encoding``: the NB301 sample's ``[[(0, 0), (1, 5), ...], [...]]`` (pairs are
  ``(input, op)``).
* ``key``: the genotype with the two edges of every node sorted (swapping them gives the same cell).
* ``canonical_id``: additionally minimised over relabellings of the intermediate nodes that keep every input
  earlier than its node. Relabelling only permutes channel blocks of the concatenated output, which the next
  1x1 convolution (or the classifier) absorbs, so such cells compute the same function class.

In the NB301 convention (``distinct_inputs=True``, the default; all 725 shared samples follow it) the two inputs
of a node differ; ``DartsSpace(distinct_inputs=False)`` also accepts cells with equal inputs.
"""

from __future__ import annotations

import ast
import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from wsbench.spaces.base import SearchSpace, malformed, permuted_choices

OPS: tuple[str, ...] = ("max_pool_3x3", "avg_pool_3x3", "skip_connect", "sep_conv_3x3", "sep_conv_5x5",
                        "dil_conv_3x3", "dil_conv_5x5")
SUPERNET_OPS: tuple[str, ...] = ("none",) + OPS
NUM_NODES = 4
EDGES_PER_CELL = 2 * NUM_NODES
CONCAT = (2, 3, 4, 5)
NB301_MACRO: dict[str, Any] = {"channels": 32, "layers": 8, "op_affine": False}
Edge = tuple[int, int]
Cell = tuple[Edge, ...]
GENOTYPE_FORM = ("Genotype(normal=[(op, input) x 8], normal_concat=[2, 3, 4, 5], reduce=[(op, input) x 8], "
                 "reduce_concat=[2, 3, 4, 5]) with op in " + ", ".join(OPS) + " and input < node + 2")
ENCODING_FORM = "[[(input, op) x 8 normal], [(input, op) x 8 reduce]] with op in 0..6 and input < node + 2"
_PERMS = tuple(itertools.permutations(range(NUM_NODES)))
_HIGH = np.arange(2, NUM_NODES + 2)  # number of possible inputs of each intermediate node


@dataclass(frozen=True)
class DartsArch:
    """A DARTS architecture: 8 ``(input, op_index)`` edges for each cell, two per intermediate node."""

    normal: Cell
    reduce: Cell

    def cells(self) -> tuple[Cell, Cell]:
        """``(normal, reduce)``."""
        return self.normal, self.reduce


def _cell_problem(cell: Any, distinct: bool) -> str:
    """Why ``cell`` is not a valid cell ('' when it is)."""
    if not isinstance(cell, tuple) or len(cell) != EDGES_PER_CELL:
        return f"a cell needs {EDGES_PER_CELL} edges"
    for j, edge in enumerate(cell):
        if not (isinstance(edge, tuple) and len(edge) == 2
                and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in edge)):
            return f"edge {j} {edge!r} is not an (input, op) pair of ints"
        inp, op = edge
        if not 0 <= op < len(OPS):
            return f"edge {j} has op index {op}, need 0..{len(OPS) - 1}"
        if not 0 <= inp < j // 2 + 2:
            return f"edge {j} (node {j // 2}) has input {inp}, need 0..{j // 2 + 1}"
    if distinct:
        for i in range(NUM_NODES):
            if cell[2 * i][0] == cell[2 * i + 1][0]:
                return f"node {i} takes input {cell[2 * i][0]} twice (inputs must differ)"
    return ""


def _sort_cell(cell: Cell) -> Cell:
    """The cell with the two edges of every node in sorted order."""
    return tuple(e for i in range(NUM_NODES) for e in sorted(cell[2 * i:2 * i + 2]))


@functools.lru_cache(maxsize=4096)
def _valid_perms(inputs: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """Node relabellings (``perm[old] = new``) that keep every input earlier than its node."""
    return tuple(perm for perm in _PERMS
                 if all((inp if inp < 2 else perm[inp - 2] + 2) < perm[j // 2] + 2 for j, inp in enumerate(inputs)))


@functools.lru_cache(maxsize=1 << 16)
def _canonical_cell(cell: Cell) -> tuple[Cell, int]:
    """Smallest edge-sorted form over valid node relabellings, and how many distinct sorted forms exist."""
    forms = set()
    for perm in _valid_perms(tuple(inp for inp, _ in cell)):
        nodes: list[tuple[Edge, ...]] = [()] * NUM_NODES
        for old in range(NUM_NODES):
            nodes[perm[old]] = tuple(sorted((inp if inp < 2 else perm[inp - 2] + 2, op)
                                            for inp, op in cell[2 * old:2 * old + 2]))
        forms.add(tuple(e for node in nodes for e in node))
    return min(forms), len(forms)


@functools.cache
def _unordered_pairs(node: int) -> tuple[tuple[int, int], ...]:
    """Unordered pairs (with repetition) of edge codes ``input * len(OPS) + op`` of intermediate ``node``."""
    return tuple(itertools.combinations_with_replacement(range((node + 2) * len(OPS)), 2))


def _genotype_cell(node: ast.expr, text: str, field: str) -> list[tuple[str, int]]:
    try:
        value = ast.literal_eval(node)
    except ValueError as exc:
        raise malformed("darts", text, GENOTYPE_FORM, f"{field} is not a literal list") from exc
    if not (isinstance(value, list | tuple) and all(isinstance(p, list | tuple) and len(p) == 2 for p in value)):
        raise malformed("darts", text, GENOTYPE_FORM, f"{field} must be a list of (op, input) pairs")
    return [(p[0], p[1]) for p in value]


def _genotype_concat(node: ast.expr, text: str, field: str) -> None:
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        try:
            value = list(range(*(ast.literal_eval(a) for a in node.args)))
        except (ValueError, TypeError) as exc:
            raise malformed("darts", text, GENOTYPE_FORM, f"bad {field}") from exc
    else:
        try:
            value = list(ast.literal_eval(node))
        except (ValueError, TypeError) as exc:
            raise malformed("darts", text, GENOTYPE_FORM, f"bad {field}") from exc
    if value != list(CONCAT):
        raise malformed("darts", text, GENOTYPE_FORM, f"{field} is {value}; only [2, 3, 4, 5] is supported")


class DartsSpace(SearchSpace[DartsArch]):
    """The DARTS / NB301 space (see the module docstring)."""

    name: ClassVar[str] = "darts"

    def __init__(self, distinct_inputs: bool = True):
        self.distinct_inputs = bool(distinct_inputs)

    # -- text forms -------------------------------------------------------------------------------
    def parse(self, text: str) -> DartsArch:
        """Parse a genotype string (``*_concat`` may be ``[2, 3, 4, 5]`` or ``range(2, 6)``)."""
        try:
            tree = ast.parse(str(text).strip(), mode="eval").body
        except SyntaxError as exc:
            raise malformed(self.name, str(text), GENOTYPE_FORM, "not a Python-style expression") from exc
        if not (isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "Genotype"
                and not tree.args):
            raise malformed(self.name, text, GENOTYPE_FORM, "expected Genotype(...) with keyword arguments")
        fields = {k.arg: k.value for k in tree.keywords}
        wanted = {"normal", "normal_concat", "reduce", "reduce_concat"}
        if set(fields) != wanted:
            raise malformed(self.name, text, GENOTYPE_FORM, f"fields {sorted(fields, key=str)}, need {sorted(wanted)}")
        _genotype_concat(fields["normal_concat"], text, "normal_concat")
        _genotype_concat(fields["reduce_concat"], text, "reduce_concat")
        normal = _genotype_cell(fields["normal"], text, "normal")
        reduce = _genotype_cell(fields["reduce"], text, "reduce")
        try:
            return self.from_genotype(normal, reduce)
        except ValueError as exc:
            raise malformed(self.name, text, GENOTYPE_FORM, str(exc)) from exc

    def from_genotype(self, normal: list[tuple[str, int]], reduce: list[tuple[str, int]]) -> DartsArch:
        """Build from two lists of ``(op name, input)`` pairs (the genotype's order)."""
        cells = []
        for field, pairs in (("normal", normal), ("reduce", reduce)):
            edges = []
            for op, inp in pairs:
                if op not in OPS:
                    raise ValueError(f"unknown op {op!r} in {field}; expected one of {', '.join(OPS)}")
                edges.append((inp, OPS.index(op)))
            cells.append(tuple(edges))
        arch = DartsArch(cells[0], cells[1])
        self._check(arch)
        return arch

    def format(self, arch: DartsArch) -> str:
        """The genotype string, edge order preserved."""
        self._check(arch)
        concat = list(CONCAT)

        def cell(c: Cell) -> str:
            return "[" + ", ".join(f"({OPS[op]!r}, {inp})" for inp, op in c) + "]"

        return (f"Genotype(normal={cell(arch.normal)}, normal_concat={concat}, "
                f"reduce={cell(arch.reduce)}, reduce_concat={concat})")

    def parse_encoding(self, text: str) -> DartsArch:
        """Parse the NB301 encoding ``[[(input, op) x 8], [(input, op) x 8]]``."""
        try:
            value = ast.literal_eval(str(text).strip())
        except (ValueError, SyntaxError) as exc:
            raise malformed(self.name, str(text), ENCODING_FORM, "not a literal") from exc
        if not (isinstance(value, list | tuple) and len(value) == 2
                and all(isinstance(c, list | tuple) for c in value)):
            raise malformed(self.name, text, ENCODING_FORM, "need a list of two cells")
        cells = [tuple(tuple(e) if isinstance(e, list | tuple) else e for e in c) for c in value]
        arch = DartsArch(cells[0], cells[1])
        for label, cell in zip(("normal", "reduce"), cells, strict=True):
            why = _cell_problem(cell, self.distinct_inputs)
            if why:
                raise malformed(self.name, text, ENCODING_FORM, f"{label} cell: {why}")
        return arch

    def format_encoding(self, arch: DartsArch) -> str:
        """The NB301 encoding string (``parse_encoding`` inverts it)."""
        self._check(arch)
        return str([list(arch.normal), list(arch.reduce)])

    def key(self, arch: DartsArch) -> str:
        """Table key: the genotype string with each node's two edges sorted."""
        return self.format(self.sorted_arch(arch))

    def canonical_id(self, arch: DartsArch) -> str:
        """Genotype string of the canonical relabelling of both cells (a valid member of the class)."""
        self._check(arch)
        return self.format(DartsArch(_canonical_cell(arch.normal)[0], _canonical_cell(arch.reduce)[0]))

    def sorted_arch(self, arch: DartsArch) -> DartsArch:
        """``arch`` with each node's two edges sorted (the representative behind ``key``)."""
        self._check(arch)
        return DartsArch(_sort_cell(arch.normal), _sort_cell(arch.reduce))

    # -- validity and sampling --------------------------------------------------------------------
    def is_valid(self, arch: DartsArch) -> bool:
        """Both cells have 8 edges with valid inputs and ops (distinct inputs per node if required)."""
        return isinstance(arch, DartsArch) and not any(_cell_problem(c, self.distinct_inputs) for c in arch.cells())

    def _draw(self, rng: np.random.Generator, n: int) -> list[DartsArch]:
        """``n`` architectures uniform over ordered encodings."""
        shape = (n, 2, NUM_NODES)
        first = rng.integers(0, _HIGH, size=shape)
        if self.distinct_inputs:
            second = rng.integers(0, _HIGH - 1, size=shape)
            second += second >= first
        else:
            second = rng.integers(0, _HIGH, size=shape)
        ops = rng.integers(0, len(OPS), size=shape + (2,))
        inputs = np.stack([first, second], axis=-1)
        edges = np.stack([inputs, ops], axis=-1).reshape(n, 2, EDGES_PER_CELL, 2).tolist()
        return [DartsArch(tuple(map(tuple, a[0])), tuple(map(tuple, a[1]))) for a in edges]

    def _draw_multisets(self, rng: np.random.Generator, n: int) -> list[DartsArch]:
        """``n`` architectures uniform over edge-sorted cells, equal inputs allowed."""
        cells = []
        for _ in range(2 * n):
            edges: list[Edge] = []
            for i in range(NUM_NODES):
                pairs = _unordered_pairs(i)
                a, b = pairs[int(rng.integers(0, len(pairs)))]
                edges += [divmod(a, len(OPS)), divmod(b, len(OPS))]
            cells.append(tuple(edges))
        return [DartsArch(cells[2 * k], cells[2 * k + 1]) for k in range(n)]

    def sample(self, rng: np.random.Generator, n: int) -> list[DartsArch]:
        """Random-NAS: each node's inputs (distinct if required) and ops drawn uniformly."""
        return self._draw(rng, int(n))

    def sample_unique(self, rng: np.random.Generator, n: int) -> list[DartsArch]:
        """Random-A: ``n`` architectures with distinct ``canonical_id``, uniform over those classes.

        Rejection sampling from a uniform draw over edge-sorted cells (with distinct inputs every sorted cell
        has 2**4 encodings, so a uniform encoding does; otherwise each node's edge pair is drawn uniformly
        over unordered pairs), kept with probability 1 / (number of sorted forms of its class). The returned
        member is a uniformly random edge-sorted cell pair of its class, in a random edge order.
        """
        if n < 0:
            raise ValueError(f"cannot draw {n} architectures; n must be >= 0")
        out: list[DartsArch] = []
        seen: set[tuple[Cell, Cell]] = set()
        while len(out) < n:
            batch = self._draw(rng, 64) if self.distinct_inputs else self._draw_multisets(rng, 64)
            for arch in batch:
                threshold = rng.random()  # keep with probability 1 / (orbit sizes)
                canon: list[Cell] = []
                weight = 1.0
                for cell in arch.cells():
                    form, orbit = _canonical_cell(_sort_cell(cell))
                    weight /= orbit
                    if threshold >= weight:
                        break
                    canon.append(form)
                if len(canon) < 2 or (canon[0], canon[1]) in seen:
                    continue
                seen.add((canon[0], canon[1]))
                out.append(arch)
                if len(out) == n:
                    break
        return out

    def lookup(self, text: str, tables: Sequence[Any] = ()) -> DartsArch:
        """The genotype string, or an NB301 encoding ``[[(input, op) x 8], [...]]``."""
        return self.parse_encoding(text) if text.startswith("[[") else self.parse(text)

    def op_at(self, arch: DartsArch, index: int, target: int | None = None, cell: str | None = None) -> str:
        """Operation of edge ``index`` of the normal cell (``cell="reduce"``: of the reduction cell)."""
        if target is not None:
            raise ValueError("op@<i>-<j> names an NB201 edge; on darts use op@<k> or op@reduce:<k>")
        pairs = arch.reduce if cell == "reduce" else arch.normal
        if not 0 <= index < len(pairs):
            raise ValueError(f"a DARTS cell has edges 0..{len(pairs) - 1}, got {index}")
        return str(OPS[pairs[index][1]])

    def fair_paths(self, rng: np.random.Generator) -> list[DartsArch]:
        """FairNAS: draw one topology (the inputs of every node), then permute the 7 ops over each of the 16
        edges of the two cells."""
        topo = self.sample(rng, 1)[0]
        cells = (topo.normal, topo.reduce)
        choice = permuted_choices(rng, sum(len(c) for c in cells), len(OPS))
        out = []
        for row in choice:
            it = iter(int(o) for o in row)
            new_cells = [tuple((int(inp), next(it)) for inp, _ in cell) for cell in cells]
            out.append(DartsArch(normal=new_cells[0], reduce=new_cells[1]))
        return out

    def neighbours(self, arch: DartsArch) -> list[DartsArch]:
        """Architectures with one edge changed (its op, or its input), in either cell; distinct keys."""
        self._check(arch)
        found: dict[str, DartsArch] = {self.key(arch): arch}
        for which, cell in enumerate(arch.cells()):
            for j, (inp, op) in enumerate(cell):
                options = [(inp, o) for o in range(len(OPS)) if o != op]
                options += [(v, op) for v in range(j // 2 + 2) if v != inp]
                for edge in options:
                    new = cell[:j] + (edge,) + cell[j + 1:]
                    if _cell_problem(new, self.distinct_inputs):
                        continue
                    cand = DartsArch(new, arch.reduce) if which == 0 else DartsArch(arch.normal, new)
                    found.setdefault(self.key(cand), cand)
        return list(found.values())[1:]

    # -- macro network ----------------------------------------------------------------------------
    def op_names(self, arch: DartsArch) -> list[str]:
        """The operations of the normal cell's eight edges, then the reduction cell's."""
        return [OPS[op] for cell in (arch.normal, arch.reduce) for _inp, op in cell]

    def depth(self, arch: DartsArch) -> int:
        """Longest chain of intermediate nodes of the normal cell (1 = every node reads only the cell inputs)."""
        level = [0, 0]
        for node in range(NUM_NODES):
            inputs = arch.normal[2 * node: 2 * node + 2]
            level.append(1 + max(level[i] for i, _op in inputs))
        return max(level[2:])

    def num_params(self, arch: DartsArch, channels: int = 36, layers: int = 20, num_classes: int = 10,
                   op_affine: bool = True, auxiliary: bool = False) -> int:
        """Trainable parameters of the DARTS CIFAR network (default: the evaluation network, C=36, 20 layers).

        Stem 3x3 conv to 3C + BN; reduction cells at ``layers // 3`` and ``2 * layers // 3`` (channels double);
        cell preprocessing by 1x1 ReLU-conv-BN (FactorizedReduce after a reduction cell); ``sep_conv`` = two
        (ReLU, depthwise kxk, pointwise 1x1, BN) blocks, ``dil_conv`` = one; pools have no parameters; a
        stride-2 ``skip_connect`` is a FactorizedReduce. ``op_affine=False`` drops the affine parameters of the
        BNs inside ops (stem and preprocessing BNs stay affine): with ``**NB301_MACRO`` this reproduces the
        ``params`` of the NB301 sample exactly. ``auxiliary`` adds the CIFAR auxiliary head.
        """
        self._check(arch)
        bn = 2 if op_affine else 0

        def op_params(name: str, c: int, stride: int) -> int:
            if name.endswith("pool_3x3"):
                return 0
            if name == "skip_connect":
                return 0 if stride == 1 else c * c + bn * c
            k = int(name[-1])
            block = k * k * c + c * c + bn * c
            return 2 * block if name.startswith("sep_conv") else block

        c = int(channels)
        total = 27 * 3 * c + 2 * 3 * c
        c_pp, c_p, c_cur = 3 * c, 3 * c, c
        c_aux = 0
        for i in range(layers):
            reduction = i in (layers // 3, 2 * layers // 3)
            if reduction:
                c_cur *= 2
            total += c_pp * c_cur + 2 * c_cur + c_p * c_cur + 2 * c_cur  # both preprocessings
            cell = arch.reduce if reduction else arch.normal
            total += sum(op_params(OPS[op], c_cur, 2 if reduction and inp < 2 else 1) for inp, op in cell)
            c_pp, c_p = c_p, len(CONCAT) * c_cur
            if i == 2 * layers // 3:
                c_aux = c_p
        total += c_p * num_classes + num_classes
        if auxiliary:
            total += 128 * c_aux + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * num_classes + num_classes
        return total

    # -- internals --------------------------------------------------------------------------------
    def _check(self, arch: DartsArch) -> None:
        if not isinstance(arch, DartsArch):
            raise ValueError(f"expected a DartsArch, got {type(arch).__name__}")
        for label, cell in (("normal", arch.normal), ("reduce", arch.reduce)):
            why = _cell_problem(cell, self.distinct_inputs)
            if why:
                raise ValueError(f"invalid DARTS {label} cell {cell!r}: {why}")
