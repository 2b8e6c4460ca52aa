"""A toy search space that lives in this one folder: the proof that a new space needs nothing outside its folder.

Three layers, each one of three operations (3x3 conv, 1x1 conv, identity): 27 cells. Registered when the folder is
imported (``wsbench.registry.load_space_folder`` or ``$WSBENCH_SPACES``); its torch model is imported lazily.
"""

from __future__ import annotations

from wsbench.registry import SpaceInfo, register_space

INFO = register_space(SpaceInfo(
    name="toy",
    description="three layers of one of three operations (27 cells)",
    space="toyspace.space:ToySpace",
    supernet="toyspace.supernet:ToySuperNet",
    standalone="toyspace.supernet:ToyStandalone",
    tables=("toy",),
    valid_metric="valid_acc",
    test_metric="test_acc",
    size=27,
    zero_cost_setting={"channels": 4, "cells_per_stage": 1},
    color_by="n_conv3x3",
    coverage_samplers=("random_nas", "fairnas"),
))
