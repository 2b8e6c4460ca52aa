"""Input validation shared by the statistics modules."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ArrayLike = Sequence[float] | np.ndarray


class StatsInputError(ValueError):
    """A statistics function got unusable input (too few values, non-finite values, bad parameter)."""


def as_sample(x: ArrayLike, name: str = "sample", min_size: int = 2) -> np.ndarray:
    """``x`` as a 1-D float64 array of finite values with at least ``min_size`` entries.

    Raises :class:`StatsInputError` naming the sample and the fix when the input is unusable.
    """
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise StatsInputError(f"{name} must be one-dimensional (one value per run), got shape {arr.shape}")
    if arr.size < min_size:
        raise StatsInputError(f"{name} needs at least {min_size} values, got {arr.size}; run more seeds")
    if not np.isfinite(arr).all():
        raise StatsInputError(f"{name} contains NaN or infinite values; drop unfinished runs first")
    return arr


def check_probability(value: float, name: str) -> float:
    """``value`` as a float strictly between 0 and 1, else :class:`StatsInputError`."""
    v = float(value)
    if not 0.0 < v < 1.0:
        raise StatsInputError(f"{name} must lie strictly between 0 and 1, got {value}")
    return v


# Canonical spelling is scipy's; statsmodels' "larger"/"smaller" are accepted as synonyms.
_ALTERNATIVES = {"two-sided": "two-sided", "greater": "greater", "less": "less", "larger": "greater", "smaller": "less"}


def check_alternative(alternative: str) -> str:
    """The canonical (scipy) spelling of ``alternative``: ``two-sided``, ``greater`` or ``less``.

    ``larger``/``smaller`` (statsmodels' spelling) are accepted as synonyms of ``greater``/``less``.
    """
    try:
        return _ALTERNATIVES[alternative]
    except KeyError:
        raise StatsInputError(
            f"alternative must be one of {sorted(_ALTERNATIVES)}, got {alternative!r}"
        ) from None


def to_statsmodels_alternative(alternative: str) -> str:
    """``alternative`` spelled for statsmodels' power classes (``two-sided``, ``larger``, ``smaller``)."""
    return {"two-sided": "two-sided", "greater": "larger", "less": "smaller"}[check_alternative(alternative)]
