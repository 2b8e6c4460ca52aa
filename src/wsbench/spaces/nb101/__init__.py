"""NAS-Bench-101 (Ying et al., 2019): the cells (``cell.py``), the space (``space.py``), the enumeration of its
unique cells (``enumeration.py``), stand-alone parameter and FLOP counts (``params.py``), the sub-spaces of
*To Share or Not To Share* (``subspaces.py``), table-backed neighbour lookup (``neighbours.py``) and the
super-net (``supernet.py``, torch, imported on first use)."""

from __future__ import annotations

from wsbench.registry import SpaceInfo, register_space
from wsbench.spaces.nb101.subspaces import ALIASES, SIZES

INFO = register_space(SpaceInfo(
    name="nb101",
    description="NAS-Bench-101 cell: DAG of at most 7 vertices and 9 edges, 3 operations (423,624 cells)",
    space="wsbench.spaces.nb101.space:NB101Space",
    supernet="wsbench.spaces.nb101.supernet:NB101SuperNet",
    standalone="wsbench.spaces.nb101.supernet:NB101Standalone",
    tables=("nb101", "nb101-sample"),
    nested_tables=True,
    valid_metric="valid_acc",
    test_metric="test_acc",
    time_metric="train_time",
    size=SIZES["full"],
    subspaces=ALIASES,
    subspace_sizes=SIZES,
    subspace_rows="wsbench.spaces.nb101.subspaces:subspace_rows",
    zero_cost_setting={"channels": 128, "cells_per_stage": 3},
    color_by="residual",
    coverage_samplers=("random_nas", "fairnas"),
))
