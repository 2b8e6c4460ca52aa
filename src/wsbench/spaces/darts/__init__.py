"""The DARTS / NDS cell space (Liu et al., 2019; Radosavovic et al., 2019): the space (``space.py``), its
DARTS-only operations (``ops.py``) and its super-net (``supernet.py``, torch, imported on first use)."""

from __future__ import annotations

from wsbench.registry import SpaceInfo, register_space

INFO = register_space(SpaceInfo(
    name="darts",
    description="DARTS normal + reduction cell: 4 nodes of 2 inputs each, 7 operations",
    space="wsbench.spaces.darts.space:DartsSpace",
    supernet="wsbench.spaces.darts.supernet:DartsSuperNet",
    standalone="wsbench.spaces.darts.supernet:DartsStandalone",
    tables=("darts-nb301", "nds-darts"),
    valid_metric="valid_acc",
    test_metric="valid_acc",
    notes=("time is unknown (the table has no training times): curves are per evaluation only",),
    zero_cost_setting={"channels": 32, "cells_per_stage": 8},
    color_by="params",
))
