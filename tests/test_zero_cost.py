"""Zero-cost proxies on NB201 stand-alone networks at initialisation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from wsbench.config import MappingCfg
from wsbench.evaluate.zero_cost import PROXIES, zero_cost_scores
from wsbench.spaces.nb201.supernet import NB201Standalone

NONE, SKIP, C1, C3, POOL = range(5)
MAPPING = MappingCfg(channels=4, cells_per_stage=1, bn_affine=True)


def _build(arch):
    return NB201Standalone(arch, MAPPING, 10)


@pytest.fixture(scope="module")
def batch():
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(0)
    return torch.randn(16, 3, 8, 8, generator=gen), torch.randint(0, 10, (16,), generator=gen)


def test_scores_are_finite_seeded_and_follow_known_orderings(batch):
    x, y = batch
    archs = [(C3,) * 6, (SKIP,) * 6, (C1, C3, SKIP, C3, POOL, C1)]
    a = zero_cost_scores(_build, archs, x, y)
    b = zero_cost_scores(_build, archs, x, y)
    assert set(a) == set(PROXIES)
    for p in PROXIES:
        assert np.isfinite(a[p]).all(), p
        assert np.array_equal(a[p], b[p]), p  # seeded: the same cells give the same scores
    # synflow grows with the parameters a path carries: every edge a 3x3 conv beats a cell of skips
    assert a["synflow"][0] > a["synflow"][1]
    assert a["grad_norm"][0] > a["grad_norm"][1] and a["snip"][0] > a["snip"][1]
    other = zero_cost_scores(_build, archs[:1], x, y, proxies=("snip",), seed=1)
    assert other["snip"][0] != a["snip"][0]  # another initialisation, another score
    with pytest.raises(ValueError, match="unknown zero-cost proxy"):
        zero_cost_scores(_build, archs, x, y, proxies=("flops",))


@pytest.fixture()
def zc_data(tmp_path):
    """A data directory with a tiny CIFAR-10 stand-in (80 random images) and a 12-cell NB201 table."""
    from wsbench.benchmarks.store import save_table
    from wsbench.benchmarks.table import GroundTruth
    from wsbench.data.arrays import ImageArrays, save_npz
    from wsbench.data.cifar10 import CIFAR10_CLASSES, cache_path
    from wsbench.spaces import get_space

    rng = np.random.default_rng(0)
    images = ImageArrays(rng.integers(0, 256, (80, 3, 32, 32), dtype=np.uint8), rng.integers(0, 10, 80),
                         None, None, CIFAR10_CLASSES)
    save_npz(images, cache_path(tmp_path))
    space = get_space("nb201")
    archs = space.sample_unique(rng, 12)
    table = GroundTruth.from_columns("zc201", "nb201", {"key": np.asarray(space.keys(archs), dtype=object),
                                                        "acc": rng.uniform(60, 94, 12)})
    save_table(table, tmp_path)
    return tmp_path, table, archs


def test_cached_scores_are_computed_once_per_cell_and_proxy(zc_data, monkeypatch):
    from wsbench.evaluate import zero_cost as zc

    data, table, archs = zc_data
    setting = {"channels": 4, "cells_per_stage": 1}
    first = zc.cached_zero_cost(table, np.arange(6), ("synflow",), data, batch=8, setting=setting)
    path = zc.cache_file(data, table, 8, 0, setting)
    assert path.exists() and np.isfinite(first["synflow"]).all()
    x, y = zc.batch_of(data, 8, 0)
    direct = zc.zero_cost_scores(lambda a: NB201Standalone(a, MAPPING, 10), archs[:6], x, y, ("synflow",))
    assert np.allclose(first["synflow"], direct["synflow"])  # the cache holds exactly the direct scores
    calls: list[int] = []
    real = zc.zero_cost_scores

    def counting(build, todo, *args, **kwargs):
        calls.append(len(todo))
        return real(build, todo, *args, **kwargs)

    monkeypatch.setattr(zc, "zero_cost_scores", counting)
    again = zc.cached_zero_cost(table, np.arange(6), ("synflow",), data, batch=8, setting=setting)
    assert calls == [] and np.array_equal(again["synflow"], first["synflow"])  # answered from the cache
    more = zc.cached_zero_cost(table, np.arange(9), ("synflow", "naswot"), data, batch=8, setting=setting)
    assert calls == [9]  # naswot is new for all nine cells (synflow of the first six is kept)
    assert np.array_equal(more["synflow"][:6], first["synflow"])
    assert zc.cached_zero_cost(table, np.arange(9), ("naswot",), data, batch=8, setting=setting)["naswot"] \
        .tolist() == more["naswot"].tolist() and calls == [9]


def test_judge_adds_zero_cost_baselines_from_the_cache(zc_data, monkeypatch):
    import dataclasses

    from typer.testing import CliRunner

    from wsbench import registry
    from wsbench.cli import app
    from wsbench.evaluate import zero_cost as zc

    data, table, archs = zc_data
    small = dataclasses.replace(registry.space_info("nb201"), zero_cost_setting={"channels": 4, "cells_per_stage": 1})
    monkeypatch.setitem(registry._SPACES, "nb201", small)
    scores = data / "scores.csv"
    scores.write_text("arch,score\n" + "".join(f"{k},{v}\n" for k, v in zip(table.keys, np.arange(12.0),
                                                                          strict=True)))
    res = CliRunner().invoke(app, ["judge", str(scores), "--table", "zc201", "--metric", "acc", "--zero-cost",
                                   "synflow,naswot", "--format", "json", "--data-dir", str(data)])
    assert res.exit_code == 0, res.output
    import json

    doc = json.loads(res.stdout)
    assert {"synflow", "naswot", "params", "flops"} <= set(doc["baselines"])
    cached = zc.cached_zero_cost(table, np.arange(12), ("synflow",), data)["synflow"]
    from wsbench.evaluate.metrics import spearman

    assert doc["baselines"]["synflow"]["spearman"] == pytest.approx(spearman(cached, table.values("acc")))
    bad = CliRunner().invoke(app, ["judge", str(scores), "--table", "zc201", "--metric", "acc", "--zero-cost",
                                   "synfloww", "--data-dir", str(data)])
    assert bad.exit_code == 2 and "unknown zero-cost proxy 'synfloww'" in bad.output
