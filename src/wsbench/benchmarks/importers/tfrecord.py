"""TFRecord files without TensorFlow: framing and CRC-32C (Castagnoli) checks in numpy.

A record is ``uint64 length (little endian) | uint32 masked_crc32c(length bytes) | data | uint32
masked_crc32c(data)``, where ``masked(c) = ((c >> 15) | (c << 17)) + 0xa282ead8 (mod 2^32)``.
CRCs of all records are computed together, one byte position at a time across records (vectorised).
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

POLY = 0x82F63B78  # CRC-32C, reflected
MASK_DELTA = 0xA282EAD8
HEADER = 12
FOOTER = 4


class TFRecordError(ValueError):
    """A TFRecord file is truncated or fails its checksums."""


def _table() -> np.ndarray:
    crc = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        crc = np.where(crc & 1, (crc >> 1) ^ np.uint32(POLY), crc >> 1).astype(np.uint32)
    return crc


TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (scalar; fine for short inputs)."""
    crc = 0xFFFFFFFF
    table = TABLE.tolist()
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc: int | np.ndarray) -> int | np.ndarray:
    """The TFRecord masking of a CRC (works on ints and uint32 arrays)."""
    if isinstance(crc, np.ndarray):
        c = crc.astype(np.uint64)
        return ((((c >> 15) | (c << 17)) + MASK_DELTA) & 0xFFFFFFFF).astype(np.uint32)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + MASK_DELTA) & 0xFFFFFFFF


def crc32c_many(buf: np.ndarray, offsets: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """CRC-32C of many byte ranges ``buf[offsets[i]: offsets[i] + lengths[i]]`` at once."""
    order = np.argsort(-lengths, kind="stable")
    off = offsets[order].astype(np.int64)
    lens = lengths[order].astype(np.int64)
    crc = np.full(len(off), 0xFFFFFFFF, dtype=np.uint32)
    # number of ranges still active at byte position j: lengths are sorted in decreasing order
    active = np.searchsorted(-lens, -np.arange(int(lens[0]) if len(lens) else 0), side="left")
    for j, k in enumerate(active):
        c = crc[:k]
        crc[:k] = TABLE[(c ^ buf[off[:k] + j]) & 0xFF] ^ (c >> 8)
    out = np.empty_like(crc)
    out[order] = crc ^ np.uint32(0xFFFFFFFF)
    return out


def frame_records(buf: np.ndarray, path: Path | str, verify: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Offsets and lengths of the records' data in ``buf`` (the whole file); check framing and CRCs."""
    raw = memoryview(buf)
    size = len(buf)
    offsets: list[int] = []
    lengths: list[int] = []
    pos = 0
    unpack = struct.Struct("<Q").unpack_from
    while pos < size:
        if pos + HEADER > size:
            raise TFRecordError(f"{path}: truncated record header at byte {pos} (record {len(offsets)}); "
                                f"the file is incomplete, download it again")
        (n,) = unpack(raw, pos)
        end = pos + HEADER + n + FOOTER
        if end > size:
            raise TFRecordError(f"{path}: record {len(offsets)} at byte {pos} claims {n} bytes but the file ends "
                                f"after {size - pos - HEADER}; the file is truncated (or the length is corrupt), "
                                f"download it again")
        offsets.append(pos)
        lengths.append(n)
        pos = end
    starts = np.asarray(offsets, dtype=np.int64)
    lens = np.asarray(lengths, dtype=np.int64)
    if verify and len(starts):
        _verify(buf, starts, lens, path)
    return starts + HEADER, lens


def _stored(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    b = buf[at[:, None] + np.arange(4)].astype(np.uint32)
    return b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16) | (b[:, 3] << 24)


def _verify(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray, path: Path | str) -> None:
    for what, got, stored in (
        ("length", mask(crc32c_many(buf, starts, np.full_like(lens, 8))), _stored(buf, starts + 8)),
        ("data", mask(crc32c_many(buf, starts + HEADER, lens)), _stored(buf, starts + HEADER + lens)),
    ):
        bad = np.flatnonzero(got != stored)
        if len(bad):
            i = int(bad[0])
            raise TFRecordError(f"{path}: CRC-32C mismatch of the {what} of record {i} at byte {int(starts[i])} "
                                f"({len(bad)} record(s) affected); the file is corrupt, download it again")


