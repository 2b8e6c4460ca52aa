"""DARTS / NB301 space: encodings, genotypes, keys, sampling, neighbours and parameter counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from wsbench.spaces.darts.space import NB301_MACRO, OPS, SUPERNET_OPS, DartsArch, DartsSpace

# The published DARTS (2nd order) genotype, "DARTS_V2"; its CIFAR network (C=36, 20 cells, no auxiliary head)
# is reported with 3.349342 M parameters ("param size" in the DARTS training logs, 3.3 M in the paper).
DARTS_V2 = ("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), "
            "('sep_conv_3x3', 1), ('skip_connect', 0), ('skip_connect', 0), ('dil_conv_3x3', 2)], "
            "normal_concat=[2, 3, 4, 5], reduce=[('max_pool_3x3', 0), ('max_pool_3x3', 1), ('skip_connect', 2), "
            "('max_pool_3x3', 1), ('max_pool_3x3', 0), ('skip_connect', 2), ('skip_connect', 2), "
            "('max_pool_3x3', 1)], reduce_concat=range(2, 6))")


@pytest.fixture(scope="module")
def space() -> DartsSpace:
    return DartsSpace()


@pytest.fixture(scope="module")
def nb301(shared_data: Path) -> dict[str, dict]:
    return json.loads((shared_data / "darts" / "nb301_sample_725.json").read_text())["cifar10"]


def test_ops() -> None:
    assert OPS[0] == "max_pool_3x3" and OPS[6] == "dil_conv_5x5" and len(OPS) == 7
    assert SUPERNET_OPS == ("none",) + OPS


def test_nb301_encodings_parse(space: DartsSpace, nb301: dict[str, dict]) -> None:
    """All 725 parse as (input, op) pairs: inputs of node i are < i + 2 and ops < 7 (the reverse would not)."""
    assert len(nb301) == 725
    archs = [space.parse_encoding(text) for text in nb301]
    for text, arch in zip(nb301, archs, strict=True):
        assert space.format_encoding(arch) == text
        assert space.parse(space.format(arch)) == arch
        for cell in arch.cells():
            assert all(inp < j // 2 + 2 and 0 <= op < 7 for j, (inp, op) in enumerate(cell))
    # some op index exceeds every possible input of node 0, so the pair order is unambiguous
    assert any(op > 1 for a in archs for inp, op in a.normal[:2])
    assert len({space.key(a) for a in archs}) == 725
    assert len({space.canonical_id(a) for a in archs}) == 725


def test_genotype_text(space: DartsSpace) -> None:
    arch = space.parse(DARTS_V2)
    assert arch.normal[:2] == ((0, OPS.index("sep_conv_3x3")), (1, OPS.index("sep_conv_3x3")))
    assert arch.normal[7] == (2, OPS.index("dil_conv_3x3"))
    text = space.format(arch)
    assert text.startswith("Genotype(normal=[('sep_conv_3x3', 0), ('sep_conv_3x3', 1),")
    assert "normal_concat=[2, 3, 4, 5]" in text and text.endswith("reduce_concat=[2, 3, 4, 5])")
    assert space.parse(text) == arch


@pytest.mark.parametrize(("text", "why"), [
    ("Genotype(normal=[], normal_concat=[2, 3, 4, 5])", "fields"),
    (DARTS_V2.replace("dil_conv_3x3", "conv_7x1_1x7"), "unknown op 'conv_7x1_1x7'"),
    (DARTS_V2.replace("('dil_conv_3x3', 2)", "('dil_conv_3x3', 5)"), "edge 7 .node 3. has input 5, need 0..4"),
    (DARTS_V2.replace("normal_concat=[2, 3, 4, 5]", "normal_concat=[4, 5]"), "only \\[2, 3, 4, 5\\]"),
    (DARTS_V2.replace("('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 0)", "('sep_conv_3x3', 0)", 1),
     "8 edges"),
    (DARTS_V2.replace("('sep_conv_3x3', 1), ('skip_connect', 0)", "('sep_conv_3x3', 0), ('skip_connect', 0)"),
     "takes input 0 twice"),
    ("Genotype(normal=[('sep_conv_3x3', 0)", "not a Python-style expression"),
    ("Network(normal=[])", "expected Genotype"),
])
def test_malformed_genotype(space: DartsSpace, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        space.parse(text)
    assert "expected the form Genotype(" in str(err.value)


@pytest.mark.parametrize(("text", "why"), [
    ("[[(0, 0), (1, 5)], []]", "needs 8 edges"),
    ("[[(0, 0), (1, 7), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)]] * 2", "not a literal"),
    ("[[(0, 0), (1, 7), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
     "[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)]]", "op index 7"),
    ("[[(0, 0), (2, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
     "[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)]]", "has input 2, need 0..1"),
    ("[[(0, 0), (1, 5), (1, 1), (1, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
     "[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)]]", "takes input 1 twice"),
    ("[[(0, 0)]]", "two cells"),
])
def test_malformed_encoding(space: DartsSpace, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        space.parse_encoding(text)
    assert repr(text) in str(err.value)


def test_equal_inputs_optional() -> None:
    text = ("[[(0, 0), (0, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)], "
            "[(0, 0), (1, 5), (1, 1), (0, 1), (1, 3), (0, 3), (1, 3), (3, 2)]]")
    loose = DartsSpace(distinct_inputs=False)
    arch = loose.parse_encoding(text)
    assert loose.is_valid(arch) and not DartsSpace().is_valid(arch)
    assert loose.format_encoding(arch) == text


def test_key_and_canonical_id(space: DartsSpace, nb301: dict[str, dict]) -> None:
    arch = space.parse_encoding(next(iter(nb301)))
    normal = list(arch.normal)
    normal[2], normal[3] = normal[3], normal[2]  # swap the two edges of node 1
    swapped = DartsArch(tuple(normal), arch.reduce)
    assert swapped != arch and space.format(swapped) != space.format(arch)
    assert space.key(swapped) == space.key(arch) and space.canonical_id(swapped) == space.canonical_id(arch)
    # nodes 2 and 3 both read only the cell inputs: exchanging them permutes the concatenated output only
    a = ((0, 3), (1, 3), (0, 4), (1, 4), (0, 0), (1, 5), (1, 6), (0, 2))
    b = ((0, 3), (1, 3), (0, 4), (1, 4), (1, 6), (0, 2), (0, 0), (1, 5))
    c = ((0, 3), (1, 3), (0, 4), (1, 4), (1, 6), (0, 2), (4, 0), (1, 5))  # node 3 reads node 2: no relabelling
    arch_a, arch_b, arch_c = DartsArch(a, a), DartsArch(b, a), DartsArch(c, a)
    assert space.key(arch_a) != space.key(arch_b)
    assert space.canonical_id(arch_a) == space.canonical_id(arch_b) != space.canonical_id(arch_c)
    # the canonical id is itself a member of the class: here a reordering of a's four (independent) nodes
    rep = space.parse(space.canonical_id(arch_b))
    assert space.canonical_id(rep) == space.canonical_id(arch_a)
    nodes = sorted(tuple(sorted(a[2 * i:2 * i + 2])) for i in range(4))
    assert sorted(tuple(sorted(rep.normal[2 * i:2 * i + 2])) for i in range(4)) == nodes


def test_sample(space: DartsSpace) -> None:
    a = space.sample(np.random.default_rng(1), 4000)
    assert a == space.sample(np.random.default_rng(1), 4000)
    assert all(space.is_valid(x) for x in a[:500])
    edges = np.array([[x.normal, x.reduce] for x in a])  # (n, 2, 8, 2)
    for j in range(8):
        ops = np.bincount(edges[:, :, j, 1].ravel(), minlength=7)
        inputs = np.bincount(edges[:, :, j, 0].ravel(), minlength=j // 2 + 2)
        assert stats.chisquare(ops).pvalue > 1e-4 and stats.chisquare(inputs).pvalue > 1e-4


def test_sample_unique(space: DartsSpace) -> None:
    """Uniform over classes: the number of sorted forms per class (its orbit) is biased low.

    Under uniform encodings a cell's orbit size is o with probability q_o; under uniform classes with
    probability proportional to q_o / o, so the mean orbit becomes 1 / E_enc[1 / o].
    """
    from wsbench.spaces.darts.space import _canonical_cell

    enc = space.sample(np.random.default_rng(2), 2000)
    orbit_enc = np.array([_canonical_cell(x.normal)[1] for x in enc])
    uniq = space.sample_unique(np.random.default_rng(3), 800)
    assert uniq == space.sample_unique(np.random.default_rng(3), 800)
    assert len({space.canonical_id(x) for x in uniq}) == 800 and all(space.is_valid(x) for x in uniq)
    orbit_uniq = np.array([_canonical_cell(x.normal)[1] for x in uniq])
    expected = 1.0 / np.mean(1.0 / orbit_enc)
    assert abs(orbit_uniq.mean() - expected) < 0.3 < orbit_enc.mean() - expected
    loose_space = DartsSpace(distinct_inputs=False)
    loose = loose_space.sample_unique(np.random.default_rng(4), 50)
    assert len({loose_space.canonical_id(x) for x in loose}) == 50
    assert any(c[2 * i][0] == c[2 * i + 1][0] for x in loose for c in x.cells() for i in range(4))


def test_neighbours(space: DartsSpace, nb301: dict[str, dict]) -> None:
    """Per cell: 8 edges x 6 other ops = 48 op changes; edge inputs of node i: i + 2 choices minus its own and
    its sibling's, so i per edge and 2 * (0 + 1 + 2 + 3) = 12 input changes. Both cells: 2 * 60 = 120."""
    arch = space.parse_encoding(next(iter(nb301)))
    nbrs = space.neighbours(arch)
    assert len(nbrs) == 120 and len({space.key(n) for n in nbrs}) == 120
    assert space.key(arch) not in {space.key(n) for n in nbrs}
    for n in nbrs:
        assert space.is_valid(n)
        assert sum(x != y for c, d in zip(n.cells(), arch.cells(), strict=True)
                   for x, y in zip(c, d, strict=True)) == 1


def test_num_params(space: DartsSpace, nb301: dict[str, dict]) -> None:
    assert space.num_params(space.parse(DARTS_V2)) == 3_349_342
    # NB301 networks: C=32, 8 cells, BN inside ops without affine parameters; scores are in millions (6 dp)
    for text, rec in nb301.items():
        assert space.num_params(space.parse_encoding(text), **NB301_MACRO) == round(rec["params"]["score"] * 1e6)
