"""Errors raised by the dataset readers and the split logic (all are ``ValueError`` subclasses)."""

from __future__ import annotations

from wsbench.safe_pickle import UnsafePickleError


class DatasetError(ValueError):
    """A dataset file is corrupt, truncated or not in the expected format, or a split request is impossible."""


class DatasetMissingError(DatasetError):
    """A dataset has not been imported into the data directory (the message says how to import it)."""


class UnsafeDatasetError(DatasetError, UnsafePickleError):
    """A dataset file is a pickle that references code (refused by the restricted unpickler)."""
