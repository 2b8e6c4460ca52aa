"""scikit-learn's handwritten digits (1,797 images, 8 x 8, 16 grey levels) as uint8 NCHW arrays.

The data ship inside scikit-learn (no download). Grey levels 0..16 are scaled to 0..255 (``round(v * 255 / 16)``),
giving 1-channel uint8 images. The official digits set has no test split, so wsbench fixes one: a seeded
(``DIGITS_SPLIT_SEED = 0``), class-stratified 20% of the images (359) is the test set; the other 80% (1,438) is the
training set from which :func:`wsbench.data.load_splits` draws its train/valid split. With
``valid_fraction=0.25`` that gives the classic 60/20/20 split (1,078 / 360 / 359).
"""

from __future__ import annotations

import numpy as np

from wsbench.data.arrays import ImageArrays

DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2
DIGITS_SIDE = 8


def _stratified_test_mask(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    mask = np.zeros(len(labels), dtype=bool)
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = int(round(fraction * len(idx)))
        mask[rng.permutation(idx)[:k]] = True
    return mask


def load_digits_arrays(side: int | None = None, mode: str = "nearest") -> ImageArrays:
    """The digits as ``ImageArrays`` (train = 80% pool, test = fixed 20%), optionally resized to ``side`` pixels.

    ``mode`` is ``"nearest"`` or ``"bilinear"`` (used when ``side`` differs from 8; smaller sides use area
    averaging). Networks with several stride-2 stages need larger inputs than 8 x 8.
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0)).astype(np.uint8)[:, None]
    labels = np.asarray(bunch.target, dtype=np.int64)
    test = _stratified_test_mask(labels, DIGITS_TEST_FRACTION, DIGITS_SPLIT_SEED)
    train_x, test_x = images[~test], images[test]
    if side is not None and side != DIGITS_SIDE:
        from wsbench.data.augment import resize_uint8

        train_x = resize_uint8(train_x, side, mode)
        test_x = resize_uint8(test_x, side, mode)
    meta = {"source": "sklearn.datasets.load_digits", "reader": "digits", "split_seed": DIGITS_SPLIT_SEED,
            "test_fraction": DIGITS_TEST_FRACTION, "sha256": ""}
    return ImageArrays(train_x, labels[~test], test_x, labels[test], tuple(str(i) for i in range(10)), meta)
