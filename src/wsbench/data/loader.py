"""Batch iteration over device tensors: one permutation per epoch, augmentation and normalisation on the device.

:class:`BatchIterator` holds no random state of its own: every epoch draws everything (the permutation, crop
offsets, flips) from the ``torch.Generator`` passed to :meth:`BatchIterator.epoch`, all at the start of the epoch,
so a training loop that seeds a fresh generator from ``(seed, epoch)`` gets identical batches after a resume.
Per step the only work is indexing, one gather for crop + flip, and one fused multiply-add.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch

from wsbench.data.augment import crop_flip, crop_padding
from wsbench.data.errors import DatasetError

Batch = tuple[torch.Tensor, torch.Tensor]


def _affine(mean: torch.Tensor, std: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    std = torch.as_tensor(std, dtype=torch.float32)
    mean = torch.as_tensor(mean, dtype=torch.float32)
    scale = (1.0 / std).to(device).view(1, -1, 1, 1)
    shift = (-mean / std).to(device).view(1, -1, 1, 1)
    return scale, shift


def _randperm(n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


class BatchIterator:
    """Mini-batches of normalised (optionally augmented) images drawn from uint8 NCHW tensors ``x``/``y``.

    ``augment``: random crop with zero padding ``padding`` (default :func:`crop_padding` of the image side) and,
    if ``flip``, random horizontal flips. ``drop_last``: skip the final incomplete batch.
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, mean: torch.Tensor, std: torch.Tensor,
                 augment: bool, drop_last: bool = True, padding: int | None = None, flip: bool = True) -> None:
        if x.ndim != 4 or x.dtype != torch.uint8:
            raise DatasetError(f"BatchIterator needs uint8 N x C x H x W images, got {x.dtype} {tuple(x.shape)}")
        if len(y) != len(x):
            raise DatasetError(f"{len(x)} images but {len(y)} labels")
        if batch_size < 1:
            raise DatasetError(f"batch_size must be positive, got {batch_size}")
        if drop_last and len(x) < batch_size:
            raise DatasetError(f"only {len(x)} images for batch_size {batch_size} with drop_last: no batch at all; "
                               "lower the batch size")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.augment = augment
        self.drop_last = drop_last
        self.padding = crop_padding(x.shape[-1]) if padding is None else padding
        self.flip = flip
        self._scale, self._shift = _affine(mean, std, x.device)

    def __len__(self) -> int:
        n = len(self.x)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    @property
    def num_samples(self) -> int:
        """Images seen per epoch."""
        return len(self) * self.batch_size if self.drop_last else len(self.x)

    def normalize(self, xb: torch.Tensor) -> torch.Tensor:
        """uint8 batch -> normalised float32 batch."""
        return torch.addcmul(self._shift, xb.to(torch.float32), self._scale)

    def epoch(self, generator: torch.Generator) -> Iterator[Batch]:
        """Yield ``(x_float, y)`` for one epoch; all randomness comes from ``generator`` (drawn up front)."""
        dev = self.x.device
        n_used = self.num_samples
        perm = _randperm(len(self.x), generator, dev)[:n_used]
        offs: torch.Tensor | None = None
        flips: torch.Tensor | None = None
        if self.augment:
            gdev = generator.device
            offs = torch.randint(0, 2 * self.padding + 1, (2, n_used), generator=generator, device=gdev).to(dev)
            flips = (torch.randint(0, 2, (n_used,), generator=generator, device=gdev).bool().to(dev)
                     if self.flip else None)
        for start in range(0, n_used, self.batch_size):
            stop = min(start + self.batch_size, n_used)
            idx = perm[start:stop]
            xb = self.x[idx]
            if offs is not None:
                fb = flips[start:stop] if flips is not None else None
                xb = crop_flip(xb, self.padding, offs[0, start:stop], offs[1, start:stop], fb)
            yield self.normalize(xb), self.y[idx]

    def __iter__(self) -> Iterator[Batch]:
        raise TypeError("BatchIterator needs a generator: iterate over it.epoch(torch.Generator().manual_seed(s))")


def fixed_batches(x: torch.Tensor, y: torch.Tensor, batch_size: int, n_batches: int | None, mean: torch.Tensor,
                  std: torch.Tensor, generator: torch.Generator | None = None) -> list[Batch]:
    """A list of pre-normalised, non-augmented batches, to reuse for every architecture (BN, evaluation).

    With a ``generator`` the images are a random subset (without replacement) drawn from it; without one they are
    the first images in order. ``n_batches=None`` covers all images. If ``n_batches * batch_size`` exceeds the
    number of images, every image is used once and fewer batches come back (the last one may be smaller).
    """
    if batch_size < 1:
        raise DatasetError(f"batch_size must be positive, got {batch_size}")
    dev = x.device
    n = len(x)
    wanted = n if n_batches is None else min(n, n_batches * batch_size)
    idx = (_randperm(n, generator, dev) if generator is not None else torch.arange(n, device=dev))[:wanted]
    scale, shift = _affine(mean, std, dev)
    out: list[Batch] = []
    for start in range(0, wanted, batch_size):
        b = idx[start:start + batch_size]
        out.append((torch.addcmul(shift, x[b].to(torch.float32), scale), y[b]))
    return out
