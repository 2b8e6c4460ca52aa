"""Tests of the NAS-Bench-101 search space against hand-built cells and the benchmark's own records."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wsbench.spaces.nb101.enumeration import cache_path, enumerate_cells
from wsbench.spaces.nb101.space import (
    OPS,
    SUBSPACES,
    NB101Arch,
    NB101Space,
    arch_key,
    from_matrix,
    has_residual,
    in_subspace,
    num_params,
    prune,
    subspace_of,
)

SPACE = NB101Space()


def cell(edges: list[tuple[int, int]], ops: str) -> NB101Arch:
    """A cell from an edge list and short op names."""
    names = ops.split(",")
    m = np.zeros((len(names), len(names)), dtype=np.uint8)
    for i, j in edges:
        m[i, j] = 1
    return NB101Arch.from_matrix(m, names)


@pytest.fixture(scope="module")
def sample(shared_data: Path) -> pd.DataFrame:
    """5,000 random rows of the benchmark records (seeded)."""
    df = pd.read_csv(
        shared_data / "nb101" / "nb101_sample.csv.gz",
        usecols=["hash", "n_vertices", "matrix", "ops", "params"],
        dtype={"matrix": str, "hash": str, "ops": str},
    )
    return df.sample(n=5000, random_state=1234).reset_index(drop=True)


# -- text form -----------------------------------------------------------------------------------------


def test_parse_format_round_trip() -> None:
    a = cell([(0, 1), (1, 2)], "in,c3,out")
    assert SPACE.format(a) == "010001000|in,c3,out"
    assert SPACE.parse("010001000|in,c3,out") == a
    assert SPACE.parse("010001000|input,conv3x3-bn-relu,output") == a
    for b in SPACE.sample(np.random.default_rng(0), 200):
        assert SPACE.parse(SPACE.format(b)) == b


@pytest.mark.parametrize(
    "text",
    [
        "",
        "010001000 in,c3,out",  # no separator
        "0100|01|in,out",  # two separators
        "01000100|in,c3,out",  # 8 bits for 3 vertices
        "010001002|in,c3,out",  # not a bit
        "010101000|in,c3,out",  # edge 1 -> 0 goes backwards
        "011000100|in,c3,out",  # edge 2 -> 0 goes backwards
        "010001000|in,c5,out",  # unknown op
        "010001000|c3,in,out",  # input not first
        "010001000|in,c3",  # too few ops
    ],
)
def test_malformed_text_is_rejected(text: str) -> None:
    with pytest.raises(ValueError, match="expected the form") as err:
        SPACE.parse(text)
    assert repr(text) in str(err.value)


# -- pruning and validity ----------------------------------------------------------------------------


def test_pruning_removes_dead_ends_and_unreachable_vertices() -> None:
    dead_end = cell([(0, 1), (1, 3), (0, 2)], "in,c3,mp,out")  # vertex 2 never reaches the output
    assert prune(dead_end) == cell([(0, 1), (1, 2)], "in,c3,out")
    unreachable = cell([(0, 2), (1, 2)], "in,c1,out")  # vertex 1 is fed by nothing
    assert prune(unreachable) == cell([(0, 1)], "in,out")
    assert arch_key(dead_end) == arch_key(cell([(0, 1), (1, 2)], "in,c3,out"))


def test_cell_without_path_is_invalid() -> None:
    broken = cell([(0, 1), (2, 3)], "in,c3,c1,out")
    assert prune(broken) is None
    assert not SPACE.is_valid(broken)
    with pytest.raises(ValueError, match="no input->output path"):
        SPACE.key(broken)


def test_edge_budget_is_counted_after_pruning() -> None:
    # 10 edges in the encoding, but vertex 5 only feeds itself into a dead end: 2 edges go with it
    edges = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 6), (0, 6), (0, 2), (1, 3), (0, 5), (2, 5)]
    a = cell(edges, "in,c3,c3,c1,mp,c3,out")
    assert a.num_edges == 10
    assert prune(a).num_edges == 8 and SPACE.is_valid(a)
    too_many = cell([*edges[:8], (1, 4), (2, 4)], "in,c3,c3,c1,mp,c3,out")
    assert prune(too_many).num_edges == 10 and not SPACE.is_valid(too_many)


def test_hash_is_invariant_to_vertex_order_but_sees_ops() -> None:
    a = cell([(0, 1), (0, 2), (1, 3), (2, 3)], "in,c3,mp,out")
    b = cell([(0, 1), (0, 2), (1, 3), (2, 3)], "in,mp,c3,out")
    c = cell([(0, 1), (0, 2), (1, 3), (2, 3)], "in,mp,mp,out")
    assert SPACE.key(a) == SPACE.key(b) == SPACE.canonical_id(a)
    assert SPACE.key(a) != SPACE.key(c)


# -- agreement with the benchmark's records ----------------------------------------------------------


def test_hash_matches_benchmark(sample: pd.DataFrame) -> None:
    archs = [from_matrix(m, o) for m, o in zip(sample["matrix"], sample["ops"], strict=True)]
    assert all(prune(a) == a for a in archs)  # the records hold pruned cells
    assert [SPACE.key(a) for a in archs] == sample["hash"].tolist()


def test_params_match_benchmark(sample: pd.DataFrame) -> None:
    rows = sample.iloc[:2500]
    got = [num_params(from_matrix(m, o)) for m, o in zip(rows["matrix"], rows["ops"], strict=True)]
    assert got == rows["params"].tolist()


def test_params_of_bare_residual_cell_by_hand() -> None:
    # only projections: 1x1 conv + BN per cell, stem 3x3 conv + BN, dense classifier with bias
    proj = [(128, 128)] * 3 + [(128, 256)] + [(256, 256)] * 2 + [(256, 512)] + [(512, 512)] * 2
    expected = 27 * 128 + 256 + sum(i * o + 2 * o for i, o in proj) + 512 * 10 + 10
    assert SPACE.num_params(cell([(0, 1)], "in,out")) == expected


def test_subspaces_follow_the_matrix(sample: pd.DataFrame) -> None:
    found = {name: 0 for name in SUBSPACES}
    for m, o, n in zip(sample["matrix"], sample["ops"], sample["n_vertices"], strict=True):
        mat = np.array(list(m), dtype=int).reshape(n, n)
        a = from_matrix(m, o)
        k = int(mat[1:, -1].sum())
        assert subspace_of(a) == f"A{k}"
        assert has_residual(a) == bool(mat[0, -1])
        for name in SUBSPACES:
            found[name] += in_subspace(a, name)
    assert found["full"] == len(sample) == found["with_residual"] + found["without_residual"]
    assert sum(found[f"A{k}"] for k in range(1, 5)) == len(sample)
    assert min(found.values()) > 0  # the records cover every sub-space
    with pytest.raises(ValueError, match="A1, A2, A3, A4, full"):
        in_subspace(cell([(0, 1)], "in,out"), "A5")


# -- neighbourhood -------------------------------------------------------------------------------------


def test_neighbours_of_a_chain() -> None:
    a = cell([(0, 1), (1, 2)], "in,c3,out")
    nbrs = SPACE.neighbours(a)
    keys = [SPACE.key(b) for b in nbrs]
    assert len(set(keys)) == len(keys) and SPACE.key(a) not in keys
    # 2 op changes + 1 added residual edge (removals disconnect) + 9 cells with one more vertex x (3 ops each):
    # in->x->c3 (the edge in->c3 stays), c3->x->out (c3->out stays), in->x->out parallel to c3
    assert len(nbrs) == 12
    keyset = set(keys)
    for expected in [
        cell([(0, 1), (1, 2)], "in,c1,out"),
        cell([(0, 1), (1, 2)], "in,mp,out"),
        cell([(0, 1), (1, 2), (0, 2)], "in,c3,out"),
        cell([(0, 1), (0, 2), (1, 2), (2, 3)], "in,mp,c3,out"),
        cell([(0, 1), (1, 2), (1, 3), (2, 3)], "in,c3,mp,out"),
        cell([(0, 1), (0, 2), (1, 3), (2, 3)], "in,c3,c1,out"),
    ]:
        assert SPACE.key(expected) in keyset
    assert SPACE.key(cell([(0, 1), (1, 2), (2, 3)], "in,mp,c3,out")) not in keyset  # needs an edge removed too


def test_neighbours_are_valid_pruned_and_distinct() -> None:
    for a in SPACE.sample(np.random.default_rng(5), 30):
        nbrs = SPACE.neighbours(a)
        keys = {SPACE.key(b) for b in nbrs}
        assert len(keys) == len(nbrs) and SPACE.key(a) not in keys
        assert all(SPACE.is_valid(b) and prune(b) == b for b in nbrs)
        n_interior = a.n_vertices - 2
        op_changes = [b for b in nbrs if b.bits == a.bits]
        assert len(op_changes) <= 2 * n_interior and all(b.n_vertices <= 7 for b in nbrs)


# -- sampling --------------------------------------------------------------------------------------------


def test_sample_is_reproducible_valid_and_pruned() -> None:
    a = SPACE.sample(np.random.default_rng(3), 300)
    assert a == SPACE.sample(np.random.default_rng(3), 300)
    assert a != SPACE.sample(np.random.default_rng(4), 300)
    assert all(SPACE.is_valid(x) and prune(x) == x for x in a)
    assert max(x.n_vertices for x in a) == 7
    a2 = SPACE.sample(np.random.default_rng(3), 100, subspace="A2")
    assert all(subspace_of(x) == "A2" for x in a2)
    with pytest.raises(ValueError, match="valid sub-spaces"):
        SPACE.sample(np.random.default_rng(3), 1, subspace="nope")


def test_sample_unique_uses_the_enumeration(data_dir: Path) -> None:
    small = NB101Space(max_vertices=5, data_dir=data_dir)
    a = small.sample_unique(np.random.default_rng(0), 500)
    assert cache_path(data_dir, 5, 9).exists()
    assert a == small.sample_unique(np.random.default_rng(0), 500)
    assert len({small.key(x) for x in a}) == 500 and all(small.is_valid(x) for x in a)
    res = small.sample_unique(np.random.default_rng(1), 50, subspace="without_residual")
    assert not any(has_residual(x) for x in res)
    with pytest.raises(ValueError, match="holds only"):
        small.sample_unique(np.random.default_rng(0), 10**6)


def test_random_a_reads_the_enumeration_once_per_process(data_dir: Path, monkeypatch) -> None:
    """Random-A draws at every training step: the enumeration is read from disk once, not per draw."""
    import wsbench.spaces.nb101.enumeration as enum

    small = NB101Space(max_vertices=5, data_dir=data_dir)
    small.sample_unique(np.random.default_rng(0), 1)  # builds and caches the enumeration
    enum._load_cells.cache_clear()
    reads = []
    real_load = np.load
    monkeypatch.setattr(enum.np, "load", lambda *a, **k: reads.append(a) or real_load(*a, **k))
    rng = np.random.default_rng(1)
    draws = [small.sample_unique(rng, 1)[0] for _ in range(50)]
    assert len(reads) == 1 and len(set(draws)) > 10


# -- enumeration -----------------------------------------------------------------------------------------


def brute_force_keys(max_vertices: int, max_edges: int) -> set[str]:
    """Keys of every valid cell reachable from any max_vertices x max_vertices encoding."""
    n = max_vertices
    iu, ju = np.triu_indices(n, k=1)
    keys = set()
    for code in range(1 << iu.size):
        m = np.zeros((n, n), dtype=np.uint8)
        m[iu, ju] = [(code >> b) & 1 for b in range(iu.size)]
        for ops in itertools.product(OPS, repeat=n - 2):
            a = prune(NB101Arch.from_matrix(m, ("input", *ops, "output")))
            if a is not None and a.num_edges <= max_edges:
                keys.add(arch_key(a))
    return keys


@pytest.mark.parametrize(("max_vertices", "max_edges"), [(5, 9), (5, 5)])
def test_enumeration_matches_brute_force(data_dir: Path, max_vertices: int, max_edges: int) -> None:
    cells = enumerate_cells(max_vertices, max_edges, data_dir=data_dir)
    expected = brute_force_keys(max_vertices, max_edges)
    assert len(cells) == len(expected)
    assert set(cells.keys.tolist()) == expected
    assert [SPACE.key(cells.arch(i)) for i in range(0, len(cells), 97)] == cells.keys[::97].tolist()
    again = enumerate_cells(max_vertices, max_edges, data_dir=data_dir)  # from the npz cache
    assert np.array_equal(again.keys, cells.keys) and np.array_equal(again.matrices, cells.matrices)
    sub = {name: int(cells.subspace_mask(name).sum()) for name in SUBSPACES}
    assert sub["with_residual"] + sub["without_residual"] == sub["full"] == len(cells)
    assert sum(sub[f"A{k}"] for k in range(1, 5)) == len(cells) - 1  # all but the bare in->out cell


def test_space_restricted_to_a_subspace() -> None:
    from wsbench.config import load_config
    from wsbench.train.setup import space_of

    space = NB101Space(subspace="A2")
    rng = np.random.default_rng(0)
    drawn = space.sample(rng, 30)
    assert all(subspace_of(a) == "A2" for a in drawn)
    assert all(space.is_valid(a) for a in drawn)
    outside = NB101Space(subspace="A1").sample(rng, 5)
    assert not any(space.is_valid(a) for a in outside)
    with pytest.raises(ValueError, match="valid sub-spaces"):
        NB101Space(subspace="A9")
    cfg = load_config(None, ["space.name=nb101", "space.subspace=A3"])
    assert space_of(cfg).subspace == "A3"
    with pytest.raises(ValueError, match="has no sub-spaces"):
        space_of(load_config(None, ["space.subspace=A3"]))
