"""Datasets as device tensors: CIFAR-10 and scikit-learn digits, seeded splits, on-device augmentation, batches.

Public API (imported lazily so that ``wsbench.data.cifar10``, the importer used by ``wsbench data import``, does
not pull in torch):

* :func:`import_cifar10`, :func:`load_cifar10`, :func:`read_cifar10` - CIFAR-10 sources and the npz cache;
* :func:`load_digits_arrays` - scikit-learn digits;
* :func:`load_splits`, :class:`Splits`, :func:`split_indices`, :func:`normalize` - splits on the device;
* :class:`BatchIterator`, :func:`fixed_batches` - batches; :func:`random_crop_flip`, :func:`resize_uint8` - transforms;
* :class:`DatasetError`, :class:`DatasetMissingError` - errors (``ValueError``; the restricted unpickler is
  ``wsbench.safe_pickle``).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DatasetError": "errors",
    "DatasetMissingError": "errors",
    "ImageArrays": "arrays",
    "CIFAR10_CLASSES": "cifar10",
    "import_cifar10": "cifar10",
    "load_cifar10": "cifar10",
    "read_cifar10": "cifar10",
    "read_official_tarball": "cifar10",
    "find_cifar10_source": "cifar10",
    "cache_path": "cifar10",
    "read_image_tree": "imagetree",
    "load_digits_arrays": "digits",
    "Splits": "splits",
    "load_splits": "splits",
    "splits_from_arrays": "splits",
    "split_indices": "splits",
    "channel_stats": "splits",
    "normalize": "splits",
    "BatchIterator": "loader",
    "fixed_batches": "loader",
    "crop_padding": "augment",
    "crop_flip": "augment",
    "random_crop_flip": "augment",
    "resize_uint8": "augment",
    "normalize_with": "augment",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'wsbench.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"wsbench.data.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
