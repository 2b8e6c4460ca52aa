"""NAS-Bench-201 space: text forms, codes, equivalence classes, sampling, neighbours, parameter counts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from wsbench.spaces import get_space, space_names
from wsbench.spaces.nb201.space import EDGES, NUM_ARCHS, OPS, NB201Arch, NB201Space

OFFICIAL = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"


@pytest.fixture(scope="module")
def space() -> NB201Space:
    return NB201Space()


@pytest.fixture(scope="module")
def table(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "nb201" / "nb201_200ep_test.csv")


def test_registry() -> None:
    assert space_names()[:3] == ("nb101", "nb201", "darts")
    assert isinstance(get_space("nb201"), NB201Space)
    assert get_space("darts").name == "darts"
    assert type(get_space("nb101")).__name__ == "NB101Space"
    with pytest.raises(ValueError, match="unknown search space 'nb999'"):
        get_space("nb999")


def test_spaces_do_not_import_torch() -> None:
    code = ("import sys, wsbench.spaces, wsbench.spaces.nb201.space, wsbench.spaces.darts.space;"
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_official_string(space: NB201Space) -> None:
    arch = space.parse(OFFICIAL)
    # read off the string: edges (0,1) (0,2) (1,2) (0,3) (1,3) (2,3)
    assert arch.op_names == ("nor_conv_3x3", "nor_conv_3x3", "avg_pool_3x3", "skip_connect", "nor_conv_3x3",
                             "skip_connect")
    assert space.format(arch) == OFFICIAL == space.key(arch)
    assert EDGES == ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))


def test_round_trips_and_codes(space: NB201Space, table: pd.DataFrame) -> None:
    archs = space.enumerate()
    assert len(archs) == NUM_ARCHS == 15625 and len(set(archs)) == NUM_ARCHS
    for code, arch in enumerate(archs):
        assert space.to_int(arch) == code and space.from_int(code) == arch
        assert space.parse(space.format(arch)) == arch
    # every benchmark string parses and formats back unchanged
    assert all(space.format(space.parse(s)) == s for s in table["ArchitectureString"])
    assert space.to_int(NB201Arch((0, 0, 0, 0, 0, 1))) == 1  # last edge least significant
    assert space.to_int(NB201Arch((1, 0, 0, 0, 0, 0))) == 5 ** 5
    with pytest.raises(ValueError, match="out of range"):
        space.from_int(NUM_ARCHS)


@pytest.mark.parametrize(("text", "why"), [
    ("|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|", "found 2 nodes"),
    (OFFICIAL + "+|none~0|", "found 4 nodes"),
    (OFFICIAL.replace("avg_pool_3x3", "max_pool_3x3"), "unknown operation"),
    (OFFICIAL.replace("avg_pool_3x3~1", "avg_pool_3x3~2"), "must be 1"),
    (OFFICIAL.replace("skip_connect~0|", "skip_connect~0|none~1|"), "node 3 needs 3 inputs, got 4"),
    (OFFICIAL.replace("|nor_conv_3x3~0|+", "nor_conv_3x3~0+", 1), "not enclosed"),
    (OFFICIAL.replace("~1", "1", 1), "unknown operation"),
    ("", "found 1 nodes"),
])
def test_malformed(space: NB201Space, text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why) as err:
        space.parse(text)
    assert repr(text) in str(err.value) and "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|" in str(err.value)


def test_invalid_arch_objects(space: NB201Space) -> None:
    assert not space.is_valid(NB201Arch((0, 1, 2)))
    assert not space.is_valid(NB201Arch((0, 1, 2, 3, 4, 5)))
    with pytest.raises(ValueError, match="6 op indices"):
        space.format(NB201Arch((0, 1, 2, 3, 4, 5)))


def test_6466_classes_match_unique_string(space: NB201Space, table: pd.DataFrame) -> None:
    """The published count, and the benchmark's own ``UniqueString`` reproduced for every cell."""
    assert space.num_classes() == 6466
    assert table["UniqueString"].nunique() == 6466
    ours = [space.canonical_id(space.parse(s)) for s in table["ArchitectureString"]]
    assert ours == table["UniqueString"].tolist()
    labels = space.class_labels()
    assert labels.max() + 1 == 6466 and np.array_equal(np.unique(labels), np.arange(6466))


def test_functional_classes_are_coarser(space: NB201Space) -> None:
    """The benchmark string keeps artefacts that do not change the function; the functional id removes them.

    1. A node whose inputs are all ``none`` is written ``#+#`` and not recognised as zero, so the all-none cell
       (``#+#+#``) and a cell whose output receives only ``none`` edges plus ``skip`` of an all-none node 2
       (``#+#+#+#``) get different benchmark strings although both output zero.
    2. ``skip`` pastes a whole ``a+b`` string as one term and the terms are sorted as strings, so the order
       depends on how sums are nested: ``conv(x) + x`` gets several benchmark strings, and swapping the roles
       of nodes 1 and 2 can change the string (the nested term ``#+(0)@...`` sorts by its leading ``#``).
    Every benchmark class lies inside one functional class (a refinement), so 6,466 over-counts the functions.
    """
    functional = NB201Space("functional")
    zero_a = space.parse("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    zero_b = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|")
    assert space.canonical_id(zero_a) == "#+#+#" and space.canonical_id(zero_b) == "#+#+#+#"
    assert functional.canonical_id(zero_a) == functional.canonical_id(zero_b) == "zero"
    res_a = space.parse("|skip_connect~0|+|none~0|none~1|+|nor_conv_3x3~0|skip_connect~1|none~2|")
    res_b = space.parse("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|skip_connect~0|none~1|skip_connect~2|")
    assert space.canonical_id(res_a) != space.canonical_id(res_b)
    assert functional.canonical_id(res_a) == functional.canonical_id(res_b)
    # relabelling nodes 1 and 2 (conv1x1(x) + avg(x) either way); the '#' of node 2 makes the strings differ
    swap_a = space.parse("|nor_conv_1x1~0|+|avg_pool_3x3~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    swap_b = space.parse("|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|skip_connect~1|skip_connect~2|")
    assert space.canonical_id(swap_a) == "#+#+(0)@avg_pool_3x3+(0)@nor_conv_1x1"
    assert space.canonical_id(swap_b) == "#+#+(0)@nor_conv_1x1+(0)@avg_pool_3x3"
    assert functional.canonical_id(swap_a) == functional.canonical_id(swap_b)
    # refinement: one functional id per benchmark class, and strictly fewer classes
    bench, func = space.class_labels(), functional.class_labels()
    pairs = np.unique(np.stack([bench, func]), axis=1)
    assert pairs.shape[1] == 6466 and functional.num_classes() < 6466
    # skip connections are real: x and conv(x) + x differ from conv(x)
    plain = space.parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert len({functional.canonical_id(a) for a in (plain, res_a, zero_a)}) == 3


def test_sample_reproducible_and_uniform(space: NB201Space) -> None:
    a = space.sample(np.random.default_rng(7), 20000)
    assert a == space.sample(np.random.default_rng(7), 20000)
    assert a[:50] != space.sample(np.random.default_rng(8), 50)
    ops = np.array([x.ops for x in a])
    for k in range(len(EDGES)):
        counts = np.bincount(ops[:, k], minlength=len(OPS))
        assert stats.chisquare(counts).pvalue > 1e-4


def test_sample_unique(space: NB201Space) -> None:
    labels = space.class_labels()
    sizes = np.bincount(labels)
    u = space.sample_unique(np.random.default_rng(3), 2000)
    assert u == space.sample_unique(np.random.default_rng(3), 2000)
    picked = labels[[space.to_int(a) for a in u]]
    assert len(set(picked.tolist())) == 2000
    # uniform over classes: mean size of picked classes ~ 15625/6466 = 2.42 (uniform encodings would give ~36)
    encoding_mean = (sizes ** 2).sum() / NUM_ARCHS
    assert encoding_mean > 30 and abs(sizes[picked].mean() - NUM_ARCHS / 6466) < 1.5
    everything = space.sample_unique(np.random.default_rng(0), 6466, representative="first")
    codes = sorted(space.to_int(a) for a in everything)
    first_codes = sorted(np.unique(labels, return_index=True)[1].tolist())
    assert codes == first_codes
    with pytest.raises(ValueError, match="6466"):
        space.sample_unique(np.random.default_rng(0), 6467)


def test_random_representative_varies(space: NB201Space) -> None:
    labels = space.class_labels()
    big = int(np.bincount(labels).argmax())
    rng = np.random.default_rng(5)
    reps = set()
    for _ in range(40):
        for a in space.sample_unique(rng, 6466):
            if labels[space.to_int(a)] == big:
                reps.add(a)
    assert len(reps) > 20  # 40 draws from a class of 275 members


def test_neighbours(space: NB201Space) -> None:
    arch = space.parse(OFFICIAL)
    nbrs = space.neighbours(arch)
    assert len(nbrs) == 24 == len(set(nbrs)) and arch not in nbrs
    assert all(sum(x != y for x, y in zip(n.ops, arch.ops, strict=True)) == 1 for n in nbrs)


def test_num_params(space: NB201Space) -> None:
    """Hand arithmetic for C=16, N=5 (C, 2C, 4C = 16, 32, 64).

    stem 27*16 + 2*16 = 464; residual(16->32) = 9*16*32 + 64 + 9*32*32 + 64 + 16*32 = 14,464;
    residual(32->64) = 57,600; last BN 128; classifier 64*10 + 10 = 650: 73,306 without conv edges (NB201's
    smallest network, ~0.07 M). A 3x3 edge costs 9c^2 + 2c: 5 cells * (2,336 + 9,280 + 36,992) = 243,040 per
    edge, so all six conv3x3 edges give 73,306 + 6 * 243,040 = 1,531,546 (~1.53 M, NB201's largest network).
    """
    conv3 = space.parse("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|"
                        "nor_conv_3x3~2|")
    assert space.num_params(conv3) == 1_531_546
    for text in ("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
                 "|skip_connect~0|+|avg_pool_3x3~0|skip_connect~1|+|none~0|avg_pool_3x3~1|skip_connect~2|"):
        assert space.num_params(space.parse(text)) == 73_306
    one_1x1 = space.parse("|nor_conv_1x1~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert space.num_params(one_1x1) == 73_306 + 5 * ((16 * 16 + 32) + (32 * 32 + 64) + (64 * 64 + 128))
    counts = np.array([space.num_params(a) for a in space.enumerate()])
    assert counts.min() == 73_306 and counts.max() == 1_531_546
    assert space.num_params(conv3, num_classes=100) == 1_531_546 + 64 * 90 + 90


def test_index_of(space: NB201Space, table: pd.DataFrame) -> None:
    from wsbench.benchmarks.table import GroundTruth

    gt = GroundTruth.from_columns("nb201", "nb201", {"key": table["ArchitectureString"].to_numpy(),
                                                     "index": np.arange(len(table), dtype=np.int64)})
    assert space.index_of(space.parse(OFFICIAL), gt) == 1
    best = space.parse(table["ArchitectureString"][6111])
    assert space.index_of(best, gt) == 6111
