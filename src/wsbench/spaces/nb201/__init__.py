"""NAS-Bench-201 (Dong & Yang, 2020): the space (``space.py``), its super-net and stand-alone network
(``supernet.py``, torch, imported on first use) and its registration: table ``nb201``, searched on the 12-epoch
validation accuracy and judged on the 200-epoch test accuracy of CIFAR-10."""

from __future__ import annotations

from wsbench.registry import SpaceInfo, register_space

INFO = register_space(SpaceInfo(
    name="nb201",
    description="NAS-Bench-201 cell: 4 nodes, 6 edges, 5 operations (15,625 cells)",
    space="wsbench.spaces.nb201.space:NB201Space",
    supernet="wsbench.spaces.nb201.supernet:NB201SuperNet",
    standalone="wsbench.spaces.nb201.supernet:NB201Standalone",
    tables=("nb201",),
    valid_metric="cifar10_val_12ep",
    test_metric="cifar10_test_200ep",
    notes=("the NB201 table has no 200-epoch validation accuracy: the search maximises the 12-epoch validation "
           "accuracy (cifar10_val_12ep), the realistic cheap signal, and is judged on the 200-epoch test accuracy",
           "time is unknown (the table has no training times): curves are per evaluation only"),
    size=15_625,
    zero_cost_setting={"channels": 16, "cells_per_stage": 5},
    color_by="n_conv3x3",
    coverage_samplers=("random_nas", "random_a", "fairnas"),
))
