"""Image transforms on whole batches of tensors: resizing at load, random crop + flip, fused normalisation.

Everything is vectorised (no per-sample Python loop) and runs on the device of the images.

* :func:`resize_uint8` changes the side once at load: smaller sides use area averaging (for an integer factor
  this is exactly the mean of each k x k block), larger sides nearest or bilinear interpolation.
* :func:`crop_flip` pads the batch once with zeros and gathers every sample's window with two
  ``torch.gather`` calls (rows, then columns); a horizontal flip is folded into the column gather (indices
  reversed), so no per-sample loop and no extra pass.
  The padding scales with the image side: :func:`crop_padding` gives 4 px at 32, 2 px at 16, 1 px at 8.
* :func:`normalize_with` converts uint8 to float and applies ``(x - mean) / std`` as one fused multiply-add.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

_RESIZE_CHUNK = 4096


def crop_padding(side: int) -> int:
    """Zero padding of the random crop for images of ``side`` pixels: ``side / 8`` (4 at 32), at least 1."""
    return max(1, int(round(side / 8)))


def resize_uint8(x: np.ndarray, side: int, mode: str = "nearest") -> np.ndarray:
    """Resize uint8 N x C x H x W images to ``side`` x ``side``.

    Downsampling always averages areas (``F.interpolate(mode="area")``); upsampling uses ``mode``
    (``"nearest"`` or ``"bilinear"``). Values are rounded half to even and clipped to 0..255.
    """
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"resize mode {mode!r} is not supported; use 'nearest' or 'bilinear'")
    if side < 1:
        raise ValueError(f"resolution must be a positive number of pixels, got {side}")
    if x.shape[-2:] == (side, side):
        return x
    down = side < min(x.shape[-2:])
    out = np.empty(x.shape[:2] + (side, side), np.uint8)
    for start in range(0, len(x), _RESIZE_CHUNK):
        chunk = torch.from_numpy(np.ascontiguousarray(x[start:start + _RESIZE_CHUNK])).float()
        if down:
            r = F.interpolate(chunk, size=(side, side), mode="area")
        elif mode == "bilinear":
            r = F.interpolate(chunk, size=(side, side), mode="bilinear", align_corners=False)
        else:
            r = F.interpolate(chunk, size=(side, side), mode="nearest")
        out[start:start + len(chunk)] = r.round().clamp_(0, 255).to(torch.uint8).numpy()
    return out


def crop_flip(x: torch.Tensor, padding: int, dy: torch.Tensor, dx: torch.Tensor,
              flip: torch.Tensor | None = None) -> torch.Tensor:
    """Crop every image of ``x`` (N x C x H x W) from its zero-padded version at offsets ``(dy, dx)``.

    ``dy``/``dx`` are integer tensors of shape (N,) with values in ``0..2*padding`` (``padding`` = no shift);
    ``flip`` (bool, shape (N,)) mirrors the cropped window of the chosen images horizontally.
    Output has the shape and dtype of ``x``.
    """
    n, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding, padding, padding, padding)) if padding > 0 else x
    wp = padded.shape[-1]
    # two gathers (rows, then columns) beat one 4-index advanced-indexing call by about 2x on CPU
    rows = dy.to(dev).view(n, 1) + torch.arange(h, device=dev).view(1, h)
    picked = torch.gather(padded, 2, rows.view(n, 1, h, 1).expand(n, c, h, wp))
    cols = torch.arange(w, device=dev).view(1, w)
    if flip is not None:
        cols = torch.where(flip.to(dev).view(n, 1), (w - 1) - cols, cols)
    cols = dx.to(dev).view(n, 1) + cols
    return torch.gather(picked, 3, cols.view(n, 1, 1, w).expand(n, c, h, w))


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int | None = None,
                     flip: bool = True) -> torch.Tensor:
    """Random crop (zero padding ``padding``, default :func:`crop_padding`) and random horizontal flip."""
    pad = crop_padding(x.shape[-1]) if padding is None else padding
    n = x.shape[0]
    offs = torch.randint(0, 2 * pad + 1, (2, n), generator=generator, device=generator.device)
    flips = torch.randint(0, 2, (n,), generator=generator, device=generator.device).bool() if flip else None
    return crop_flip(x, pad, offs[0], offs[1], flips)


def normalize_with(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """``(x.float() - mean) / std`` per channel (``mean``/``std`` of shape (C,), 0..255 scale), fused."""
    scale = (1.0 / std).to(device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    shift = (-mean / std).to(device=x.device, dtype=torch.float32).view(1, -1, 1, 1)
    return torch.addcmul(shift, x.to(torch.float32), scale)
