"""Train/valid/test splits on the training device, and per-channel statistics.

What the fractions mean (``DataCfg``), for a training set of N images (CIFAR-10: 50,000):

* the N images are permuted once with ``numpy.random.default_rng(split_seed)``;
* **valid** = the last ``round(valid_fraction * N)`` images of that permutation (default 10%: 5,000);
* **train** = the first ``round(train_portion * N)`` images of the permutation. ``train_portion`` is the
  "portion" of *How to Train Your Super-Net* (Table 5): the fraction of the *full* training set used to train the
  super-net. With the default 90/10 split, portion 0.9 is the whole 90% train part (45,000 images) and 0.75 uses
  37,500 of them; ``train_portion + valid_fraction > 1`` is an error, so train and valid never overlap;
* **test** = the dataset's official test set (CIFAR-10: 10,000 images; digits: the fixed 20% of
  :mod:`wsbench.data.digits`).

With ``stratify=True`` the valid part takes ``round(valid_fraction * n_c)`` images of every class c instead
(the rest, in permuted order, forms the pool the train portion is taken from).
``resolution`` (if set) resizes every split once at load: a smaller side averages areas (an integer factor k gives
the mean of each k x k block), a larger one (e.g. digits for networks that need > 8 px) repeats pixels (nearest).
``mean``/``std`` are per channel over the train part, on the 0..255 scale (float64 accumulation).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from wsbench.config import DataCfg
from wsbench.data.arrays import ImageArrays
from wsbench.data.augment import crop_padding, normalize_with, resize_uint8
from wsbench.data.errors import DatasetError

if TYPE_CHECKING:
    from wsbench.data.loader import BatchIterator

_STAT_CHUNK = 4096


@dataclass
class Splits:
    """A dataset split into uint8 NCHW tensors on one device (labels int64), with train statistics."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    test_x: torch.Tensor | None
    test_y: torch.Tensor | None
    num_classes: int
    mean: torch.Tensor
    std: torch.Tensor
    name: str
    classes: tuple[str, ...] = ()
    hflip: bool = True  # whether horizontal flips are label-preserving (False for digits)

    @property
    def in_channels(self) -> int:
        """Number of image channels."""
        return int(self.train_x.shape[1])

    @property
    def side(self) -> int:
        """Image side in pixels."""
        return int(self.train_x.shape[-1])

    @property
    def crop_padding(self) -> int:
        """Zero padding used by the random crop at this resolution."""
        return crop_padding(self.side)

    def train_iterator(self, batch_size: int, augment: bool = True, drop_last: bool = True) -> BatchIterator:
        """A :class:`BatchIterator` over the train part with the padding and flip suited to this dataset."""
        from wsbench.data.loader import BatchIterator

        return BatchIterator(self.train_x, self.train_y, batch_size, self.mean, self.std, augment,
                             drop_last=drop_last, padding=self.crop_padding, flip=self.hflip)


def split_indices(labels: np.ndarray, valid_fraction: float, train_portion: float, seed: int,
                  stratify: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(train, valid)`` into a training set with ``labels`` (see the module docstring for the rule)."""
    n = len(labels)
    if not 0.0 < valid_fraction < 1.0:
        raise DatasetError(f"valid_fraction must lie in (0, 1), got {valid_fraction}")
    if not 0.0 < train_portion <= 1.0:
        raise DatasetError(f"train_portion must lie in (0, 1], got {train_portion}")
    if train_portion + valid_fraction > 1.0 + 1e-9:
        raise DatasetError(
            f"train_portion {train_portion} + valid_fraction {valid_fraction} exceed 1: train and valid would "
            f"overlap; lower data.train_portion to at most {1.0 - valid_fraction:g}"
        )
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    if stratify:
        in_valid = np.zeros(n, dtype=bool)
        for c in np.unique(labels):
            members = perm[labels[perm] == c]  # this class in permuted order
            k = int(round(valid_fraction * len(members)))
            in_valid[members[len(members) - k:]] = True
        valid = perm[in_valid[perm]]
        pool = perm[~in_valid[perm]]
    else:
        n_valid = int(round(valid_fraction * n))
        valid = perm[n - n_valid:]
        pool = perm[: n - n_valid]
    n_train = min(int(round(train_portion * n)), len(pool))
    if n_train < 1 or len(valid) < 1:
        raise DatasetError(f"split of {n} images leaves {n_train} train and {len(valid)} valid images; "
                           "raise train_portion/valid_fraction")
    return pool[:n_train], valid


def channel_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and (population) std of uint8 N x C x H x W images, 0..255 scale, float64."""
    c = x.shape[1]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for start in range(0, len(x), _STAT_CHUNK):
        chunk = x[start:start + _STAT_CHUNK].astype(np.float64)
        total += chunk.sum(axis=(0, 2, 3))
        total_sq += np.square(chunk).sum(axis=(0, 2, 3))
    count = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
    return mean, np.maximum(std, 1e-6)


def _load_arrays(cfg: DataCfg, data_dir: Path | None) -> tuple[ImageArrays, bool]:
    if cfg.dataset == "cifar10":
        from wsbench.data.cifar10 import load_cifar10

        return load_cifar10(data_dir), True
    if cfg.dataset == "digits":
        from wsbench.data.digits import load_digits_arrays

        return load_digits_arrays(), False
    raise DatasetError(f"unknown dataset {cfg.dataset!r}; choose cifar10 or digits")


def splits_from_arrays(arrays: ImageArrays, cfg: DataCfg, device: torch.device | str = "cpu", name: str = "",
                       hflip: bool = True, stratify: bool = False) -> Splits:
    """Split already loaded arrays according to ``cfg`` and move them to ``device`` (see the module docstring)."""
    train_idx, valid_idx = split_indices(arrays.train_y, cfg.valid_fraction, cfg.train_portion, cfg.split_seed,
                                         stratify)
    tx, ty = arrays.train_x[train_idx], arrays.train_y[train_idx]
    vx, vy = arrays.train_x[valid_idx], arrays.train_y[valid_idx]
    sx, sy = arrays.test_x, arrays.test_y
    if cfg.resolution is not None:
        mode = "nearest"
        tx, vx = resize_uint8(tx, cfg.resolution, mode), resize_uint8(vx, cfg.resolution, mode)
        sx = resize_uint8(sx, cfg.resolution, mode) if sx is not None else None
    mean, std = channel_stats(tx)
    dev = torch.device(device)

    def put(a: np.ndarray | None, dtype: torch.dtype) -> torch.Tensor | None:
        return None if a is None else torch.from_numpy(np.ascontiguousarray(a)).to(device=dev, dtype=dtype)

    return Splits(
        train_x=put(tx, torch.uint8), train_y=put(ty, torch.int64),  # type: ignore[arg-type]
        valid_x=put(vx, torch.uint8), valid_y=put(vy, torch.int64),  # type: ignore[arg-type]
        test_x=put(sx, torch.uint8), test_y=put(sy, torch.int64),
        num_classes=arrays.num_classes,
        mean=torch.tensor(mean, dtype=torch.float32, device=dev),
        std=torch.tensor(std, dtype=torch.float32, device=dev),
        name=name or str(arrays.meta.get("source", "")), classes=arrays.classes, hflip=hflip,
    )


def load_splits(cfg: DataCfg, data_dir: Path | None = None, device: torch.device | str = "cpu",
                stratify: bool = False) -> Splits:
    """Load ``cfg.dataset`` from the data directory (or scikit-learn), split it and place it on ``device``.

    A dataset that was never imported raises :class:`~wsbench.data.errors.DatasetMissingError` whose message
    names the expected file and the ``wsbench data import`` command.
    """
    arrays, hflip = _load_arrays(cfg, data_dir)
    return splits_from_arrays(arrays, cfg, device, name=cfg.dataset, hflip=hflip, stratify=stratify)


def normalize(x: torch.Tensor, splits: Splits) -> torch.Tensor:
    """uint8 images -> float, normalised with the train statistics of ``splits``."""
    return normalize_with(x, splits.mean, splits.std)
