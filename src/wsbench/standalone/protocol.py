"""The stand-alone training protocol P_proxy: how one architecture is trained from scratch to get its ground truth.

A protocol is a small typed config (``StandaloneProtocol``): the macro setting of the network (``MappingCfg``:
channels, cells per stage, batch-norm flags; the stand-alone network always tracks running statistics when the
preset says so), the optimiser and schedule (``TrainSpec``) and the data (``DataCfg``).

Presets (shipped as ``configs/standalone-*.yaml`` in the package; ``load_protocol`` takes a name or a YAML path):

* ``nb201``: the NAS-Bench-201 protocol: SGD with Nesterov momentum 0.9, lr 0.1 with cosine decay to 0, weight
  decay 5e-4, batch 256, 200 epochs, C=16, N=5 cells per stage, crop + flip augmentation.
* ``nb101``: the NAS-Bench-101 protocol (also used by *To Share or Not to Share*): TF-style RMSprop (decay 0.9,
  momentum 0.9, eps 1 inside the square root), lr 0.2 with cosine decay, weight decay 1e-4, batch 256,
  108 epochs, C=128, 3 cells per stack, BN momentum 0.003 (TF decay 0.997) and eps 1e-5.
* ``cpu``: the NB201 recipe scaled for a CPU: 16x16 CIFAR-10, C=8, N=1, batch 128, 4 epochs.
* ``digits``: a tiny protocol for scikit-learn digits (8x8, 1 channel), used by ``wsbench quickstart``:
  C=8, N=1, batch 64, 4 epochs, 60/20/20 split. Four epochs, not more: longer training pushes every cell to
  97-99% test accuracy, where the 359 test images cannot tell cells apart; after 4 epochs cells spread over
  about 86-97% and two seeds of the same cells agree in rank (Spearman about 0.7 on a 10-cell probe).

The two benchmarks train on their own splits (NB201's 200-epoch test numbers train on train+valid); here every
protocol trains on the train part of ``DataCfg`` and reports the accuracy on its valid part and on the test set.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from wsbench.config import DataCfg, MappingCfg, ProtocolCfg, parse_overrides
from wsbench.dotted import merge


class StandaloneError(ValueError):
    """A stand-alone protocol, plan or result directory is invalid or inconsistent."""


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class TrainSpec(ProtocolCfg):
    """Stand-alone training: the super-net's ``ProtocolCfg`` (one training core, ``train.step``) with the
    stand-alone defaults of the NAS-Bench-201 protocol, plus the evaluation batch size and the threads per worker.
    The sampling fields (``sampler``, ``paths_per_batch``) do not apply: one architecture is trained."""

    lr: float = Field(0.1, gt=0.0)
    weight_decay: float = Field(5e-4, ge=0.0)
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(256, ge=1)
    grad_clip: float | None = Field(None, gt=0.0)
    eval_batch_size: int = Field(512, ge=1)
    num_threads: int = Field(1, ge=1)  # torch threads per worker process (CPU)


#: The training fields that decide a stand-alone result (the fingerprint of a stand-alone table).
TRAIN_FINGERPRINT_FIELDS: tuple[str, ...] = (
    "optimizer", "lr", "momentum", "nesterov", "weight_decay", "rmsprop_eps", "rmsprop_decay", "schedule", "min_lr",
    "warmup_epochs", "epochs", "batch_size", "grad_clip", "amp", "channels_last")


class StandaloneProtocol(_Cfg):
    """A whole stand-alone protocol: network setting, training and data."""

    name: str = "standalone"
    description: str = ""
    space: str | None = None  # the (registered) space the preset is meant for (None: any)
    mapping: MappingCfg = MappingCfg(bn_track_running_stats=True)
    train: TrainSpec = TrainSpec()
    data: DataCfg = DataCfg()

    def fingerprint(self) -> str:
        """Hash of everything that changes the trained numbers (not the name, description, device or threads)."""
        tree = self.model_dump(mode="json")
        for k in ("name", "description", "space"):
            tree.pop(k)
        tree["train"] = {k: tree["train"][k] for k in TRAIN_FINGERPRINT_FIELDS}
        return hashlib.sha256(json.dumps(tree, sort_keys=True).encode()).hexdigest()[:16]


#: The shipped stand-alone presets (``configs/standalone-<name>.yaml`` inside the package).
PRESETS: tuple[str, ...] = ("nb201", "nb101", "cpu", "digits")


def build_protocol(tree: dict[str, Any], source: str = "protocol") -> StandaloneProtocol:
    """Validate a nested dict; errors name the bad key."""
    try:
        return StandaloneProtocol.model_validate(tree)
    except ValidationError as exc:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(x) for x in err["loc"])
            parts.append(f"unknown key {loc!r}" if err["type"] == "extra_forbidden" else f"{loc}: {err['msg']}")
        raise StandaloneError(f"invalid stand-alone protocol {source}: " + "; ".join(parts)) from None


def _preset_tree(name_or_path: str | Path) -> tuple[dict[str, Any], str]:
    """The protocol tree of a preset name (``standalone-`` prefix optional) or a YAML path, ``base:`` resolved."""
    from wsbench.config import ConfigError, load_tree
    from wsbench.presets import PresetNotFoundError, find_preset

    text = str(name_or_path)
    path = Path(text)
    if path.suffix not in (".yaml", ".yml"):
        short = path.name.removeprefix("standalone-")
        try:
            path = find_preset(f"standalone-{short}")
        except PresetNotFoundError:
            raise StandaloneError(f"unknown stand-alone protocol {text!r}; give a YAML path or one of "
                                  f"{', '.join(PRESETS)}") from None
    elif not path.is_file():
        raise StandaloneError(f"protocol file {path} does not exist (presets: {', '.join(PRESETS)})")
    try:
        return load_tree(path), str(path)
    except ConfigError as exc:
        raise StandaloneError(str(exc).replace("config file", "protocol file")) from None


def load_protocol(name_or_path: str | Path, overrides: list[str] | None = None,
                  dataset: str | None = None) -> StandaloneProtocol:
    """A preset name (``nb201``, ``nb101``, ``cpu``, ``digits``; ``standalone-`` prefix optional) or a YAML path,
    with ``section.key=value`` overrides (e.g. ``train.epochs=1``) and optionally another dataset."""
    tree, source = _preset_tree(name_or_path)
    if overrides:
        try:
            tree = merge(tree, parse_overrides(overrides))
        except ValueError as exc:
            raise StandaloneError(str(exc)) from None
    if dataset is not None:
        tree = merge(tree, {"data": {"dataset": dataset}})
    return build_protocol(tree, source)


def check_space(protocol: StandaloneProtocol, space: str) -> None:
    """Refuse a preset made for another space (e.g. the NB101 protocol on NB201 cells)."""
    if protocol.space is not None and protocol.space != space:
        raise StandaloneError(f"protocol {protocol.name!r} is the {protocol.space} protocol, not for space {space!r}; "
                              f"choose standalone-{space} or a space-neutral one (cpu, digits)")
