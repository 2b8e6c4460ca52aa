"""Path samplers: FairNAS coverage, Random-A vs Random-NAS class frequencies, pro-rata, state round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest

import wsbench.spaces.darts.space as darts
import wsbench.spaces.nb101.space as nb101
import wsbench.spaces.nb201.space as nb201
from wsbench.benchmarks.table import GroundTruth
from wsbench.sampling import SAMPLERS, SamplerError, make_sampler, permuted_choices
from wsbench.spaces import get_space


@pytest.fixture(scope="module")
def space():
    return get_space("nb201")


def test_permuted_choices_columns_are_permutations():
    rng = np.random.default_rng(0)
    m = permuted_choices(rng, 7, 4)
    assert m.shape == (4, 7)
    for col in m.T:
        assert sorted(col.tolist()) == [0, 1, 2, 3]
    # the permutations of different columns are drawn independently (not all equal)
    assert len({tuple(c) for c in m.T}) > 1


def test_fairnas_nb201_each_op_on_each_edge_once(space):
    s = make_sampler("fairnas", space, np.random.default_rng(1), paths_per_batch=3)
    seen = set()
    for _ in range(20):
        paths = s.next()
        assert len(paths) == len(nb201.OPS)
        assert all(space.is_valid(a) for a in paths)
        ops = np.array([a.ops for a in paths])  # (paths, edges)
        for e in range(len(nb201.EDGES)):
            assert sorted(ops[:, e].tolist()) == list(range(len(nb201.OPS)))
        seen.add(tuple(paths))
    assert len(seen) == 20  # fresh permutations every batch


def test_fairnas_nb101_one_topology_all_ops_per_node():
    sp = get_space("nb101")
    s = make_sampler("fairnas", sp, np.random.default_rng(2))
    for _ in range(5):
        paths = s.next()
        assert len(paths) == len(nb101.OPS)
        assert len({a.bits for a in paths}) == 1
        inner = np.array([a.ops[1:-1] for a in paths])
        for col in inner.T:
            assert sorted(col.tolist()) == sorted(nb101.OPS)


def test_fairnas_darts_one_topology_all_ops_per_edge():
    sp = get_space("darts")
    paths = make_sampler("fairnas", sp, np.random.default_rng(3)).next()
    assert len(paths) == len(darts.OPS) and all(sp.is_valid(a) for a in paths)
    assert len({tuple(i for i, _ in a.normal + a.reduce) for a in paths}) == 1
    ops = np.array([[o for _, o in a.normal + a.reduce] for a in paths])
    for col in ops.T:
        assert sorted(col.tolist()) == list(range(len(darts.OPS)))


def test_fairnas_uses_space_hook():
    class Hooked:
        name = "toy"

        def fair_paths(self, rng):
            return ["a", "b"]

    assert make_sampler("fairnas", Hooked(), np.random.default_rng(0)).next() == ["a", "b"]
    with pytest.raises(SamplerError, match="fair_paths"):
        make_sampler("fairnas", type("Plain", (), {"name": "toy"})(), np.random.default_rng(0))


def _class_sizes(space):
    labels = space.class_labels()
    sizes = np.bincount(labels)
    return labels, sizes


def test_random_a_uniform_over_classes_random_nas_over_encodings(space):
    labels, sizes = _class_sizes(space)
    n_codes, n_classes = len(labels), len(sizes)
    # Expected size of the class of a drawn architecture, from the class sizes alone:
    expect_nas = float((sizes.astype(float) ** 2).sum() / n_codes)  # P(class) = size / n_codes
    expect_a = float(sizes.mean())  # P(class) = 1 / n_classes
    assert expect_nas > 1.5 * expect_a  # the two policies really differ on NB201
    draws = 4000
    got = {}
    for name in ("random_nas", "random_a"):
        s = make_sampler(name, space, np.random.default_rng(3))
        codes = np.array([space.to_int(s.next()[0]) for _ in range(draws)])
        got[name] = sizes[labels[codes]].mean()
    assert got["random_nas"] == pytest.approx(expect_nas, rel=0.1)
    assert got["random_a"] == pytest.approx(expect_a, rel=0.1)
    # Random-A: every class equally likely -> class counts look uniform (loose chi-square style bound)
    s = make_sampler("random_a", space, np.random.default_rng(4))
    big = sizes >= np.quantile(sizes, 0.9)
    hits = np.mean([big[labels[space.to_int(s.next()[0])]] for _ in range(draws)])
    assert hits == pytest.approx(big.mean(), abs=0.03)
    assert n_classes == 6466


def test_paths_per_batch(space):
    for name in ("random_nas", "random_a", "pro_rata"):
        paths = make_sampler(name, space, np.random.default_rng(0), paths_per_batch=3).next()
        assert len(paths) == 3 and all(space.is_valid(a) for a in paths)


def test_pro_rata_follows_parameter_count(space):
    archs = space.enumerate()
    params = np.array([space.num_params(a) for a in archs], dtype=float)
    expect = float((params**2).sum() / params.sum())  # mean params of a draw with P ~ params
    s = make_sampler("pro_rata", space, np.random.default_rng(5), paths_per_batch=50)
    drawn = np.array([space.num_params(a) for _ in range(100) for a in s.next()], dtype=float)
    assert drawn.mean() == pytest.approx(expect, rel=0.03)
    assert drawn.mean() > params.mean() * 1.1  # clearly above uniform sampling
    # cells with the fewest parameters are drawn less often than the largest ones
    lo, hi = np.quantile(params, [0.2, 0.8])
    assert (drawn >= hi).mean() > (drawn <= lo).mean()


def test_pro_rata_from_table():
    class Toy:
        name = "toy"

        def parse(self, text):
            return text

    table = GroundTruth.from_columns("toy", "toy", {"key": np.array(["a", "b", "c"], dtype=object),
                                                   "params": np.array([0.0, 1.0, 3.0])})
    s = make_sampler("pro_rata", Toy(), np.random.default_rng(0), paths_per_batch=4000, table=table)
    draws = s.next()
    assert "a" not in draws
    assert draws.count("c") / len(draws) == pytest.approx(0.75, abs=0.03)
    with pytest.raises(SamplerError, match="params"):
        make_sampler("pro_rata", Toy(), np.random.default_rng(0))


@pytest.mark.parametrize("name", ["pro_rata", "sandwich"])
def test_pro_rata_and_sandwich_on_nb101_stay_in_the_subspace(name):
    """NB101 rows (matrix|ops as in the shared sample) parse, and only cells of the chosen sub-space are drawn."""
    full = get_space("nb101")
    cells = full.sample_unique(np.random.default_rng(0), 300)
    texts = [full.format(a).split("|") for a in cells]
    table = GroundTruth.from_columns("toy101", "nb101", {
        "key": np.array(full.keys(cells), dtype=object),
        "matrix": np.array([t[0] for t in texts], dtype=object),
        "ops": np.array([t[1] for t in texts], dtype=object),
        "params": np.arange(1.0, len(cells) + 1.0)})
    a4 = nb101.NB101Space(subspace="A4")
    expected = sum(nb101.in_subspace(a, "A4") for a in cells)
    assert 0 < expected < len(cells)
    s = make_sampler(name, a4, np.random.default_rng(1), paths_per_batch=2, table=table)
    draws = [a for _ in range(150) for a in s.next()]
    assert all(nb101.in_subspace(a, "A4") for a in draws)
    if name == "pro_rata":
        assert len(s.archs) == expected


def test_sandwich_trains_the_largest_path_plus_uniform_ones(space):
    from wsbench.spaces.nb201.space import OPS

    s = make_sampler("sandwich", space, np.random.default_rng(3), paths_per_batch=2)
    conv3 = OPS.index("nor_conv_3x3")
    assert s.largest.ops == (conv3,) * 6  # most parameters: a 3x3 convolution on every edge
    draws = [s.next() for _ in range(400)]
    assert all(len(d) == 3 and d[0] == s.largest for d in draws)
    rest = np.array([a.ops for d in draws for a in d[1:]])
    for op in range(len(OPS)):  # the other paths stay uniform over the encodings
        assert (rest == op).mean() == pytest.approx(1 / len(OPS), abs=0.02)


@pytest.mark.parametrize("name", SAMPLERS)
def test_state_dict_round_trip(space, name):
    torch = pytest.importorskip("torch")
    s = make_sampler(name, space, np.random.default_rng(11), paths_per_batch=2)
    for _ in range(3):
        s.next()
    buf = io.BytesIO()
    torch.save(s.state_dict(), buf)
    expected = [s.next() for _ in range(4)]
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    other = make_sampler(name, space, np.random.default_rng(999), paths_per_batch=2)
    other.load_state_dict(state)
    assert [other.next() for _ in range(4)] == expected
    with pytest.raises(SamplerError):
        make_sampler("random_nas" if name != "random_nas" else "random_a", space,
                     np.random.default_rng(0)).load_state_dict(state)


def test_unknown_sampler(space):
    with pytest.raises(SamplerError, match="unknown sampler"):
        make_sampler("greedy", space, np.random.default_rng(0))
    with pytest.raises(SamplerError, match="paths_per_batch"):
        make_sampler("random_nas", space, np.random.default_rng(0), paths_per_batch=0)
