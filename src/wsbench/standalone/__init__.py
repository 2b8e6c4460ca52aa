"""Stand-alone training: ground-truth tables for any space and dataset, built like a sweep.

* ``protocol``: the stand-alone protocol P_proxy (``StandaloneProtocol``, presets nb201 / nb101 / cpu / digits,
  ``load_protocol``);
* ``trainer``: train one architecture x seed (``train_unit``), ``build_standalone``, ``count_params``,
  ``count_macs``;
* ``runner``: many units on Ray or in-process, resumable from ``<data_dir>/standalone/<name>/units``
  (``prepare_build``, ``run_build``, ``finish_build``, ``build_standalone_table``);
* ``table``: units -> ``GroundTruth`` (``build_ground_truth``).

Torch-side modules (``trainer``) load lazily.
"""

from __future__ import annotations

from wsbench.standalone.protocol import PRESETS, StandaloneError, StandaloneProtocol, TrainSpec, load_protocol
from wsbench.standalone.runner import (
    BuildPlan,
    build_standalone_table,
    default_name,
    finish_build,
    load_plan,
    prepare_build,
    run_build,
    unit_file,
)

__all__ = [
    "PRESETS", "BuildPlan", "StandaloneError", "StandaloneProtocol", "TrainSpec", "build_standalone_table",
    "default_name", "finish_build", "load_plan", "load_protocol", "prepare_build", "run_build", "unit_file",
]
