"""A minimal protocol-buffers wire-format decoder, enough for NAS-Bench-101's metrics.

Wire types: 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit (groups 3/4 are rejected).
NAS-Bench-101's ``ModelMetrics``: 1 repeated ``EvaluationData``, 2 ``trainable_parameters`` (double),
3 ``total_time`` (double). ``EvaluationData``: 1 ``current_epoch``, 2 ``training_time``, 3 ``train_accuracy``,
4 ``validation_accuracy``, 5 ``test_accuracy`` (doubles), 6 ``checkpoint_path`` (string).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

VARINT, I64, LEN, I32 = 0, 1, 2, 5
_DOUBLE = struct.Struct("<d")


class ProtobufError(ValueError):
    """Bytes that are not a well-formed protocol-buffers message of the expected type."""


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Decode a varint at ``pos``; return ``(value, new_pos)``."""
    value = shift = 0
    while True:
        if pos >= len(buf):
            raise ProtobufError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ProtobufError("varint longer than 10 bytes")


def iter_fields(buf: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """Yield ``(field_number, wire_type, value)``: an int for varints, raw bytes for the other types."""
    pos, end = 0, len(buf)
    while pos < end:
        tag = buf[pos]
        if tag < 0x80:  # one-byte tag: the common case, decoded inline
            pos += 1
        else:
            tag, pos = read_varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ProtobufError("field number 0")
        if wire == VARINT:
            value, pos = read_varint(buf, pos)
            yield number, wire, value
            continue
        if wire == I64:
            size = 8
        elif wire == I32:
            size = 4
        elif wire == LEN:
            if pos < end and buf[pos] < 0x80:
                size = buf[pos]
                pos += 1
            else:
                size, pos = read_varint(buf, pos)
        else:
            raise ProtobufError(f"unsupported wire type {wire} (field {number})")
        if pos + size > end:
            raise ProtobufError(f"field {number} runs past the end of the message")
        yield number, wire, bytes(buf[pos: pos + size])
        pos += size


def _double(number: int, wire: int, value: int | bytes, where: str) -> float:
    if wire != I64 or not isinstance(value, bytes):
        raise ProtobufError(f"{where} field {number}: expected a double (wire type 1), got wire type {wire}")
    return float(_DOUBLE.unpack(value)[0])


@dataclass
class Evaluation:
    """One ``EvaluationData`` message."""

    current_epoch: float = float("nan")
    training_time: float = float("nan")
    train_accuracy: float = float("nan")
    validation_accuracy: float = float("nan")
    test_accuracy: float = float("nan")
    checkpoint_path: str = ""


_EVAL_FIELDS = {1: "current_epoch", 2: "training_time", 3: "train_accuracy", 4: "validation_accuracy",
                5: "test_accuracy"}


@dataclass
class ModelMetrics:
    """One ``ModelMetrics`` message."""

    evaluations: list[Evaluation] = field(default_factory=list)
    trainable_parameters: float = float("nan")
    total_time: float = float("nan")


def parse_evaluation(buf: bytes) -> Evaluation:
    """Decode an ``EvaluationData`` message (unknown fields are skipped)."""
    ev = Evaluation()
    for number, wire, value in iter_fields(buf):
        if number in _EVAL_FIELDS:
            setattr(ev, _EVAL_FIELDS[number], _double(number, wire, value, "EvaluationData"))
        elif number == 6 and wire == LEN and isinstance(value, bytes):
            ev.checkpoint_path = value.decode("utf-8", errors="replace")
    return ev


def parse_model_metrics(buf: bytes) -> ModelMetrics:
    """Decode a ``ModelMetrics`` message (unknown fields are skipped)."""
    mm = ModelMetrics()
    for number, wire, value in iter_fields(buf):
        if number == 1:
            if wire != LEN or not isinstance(value, bytes):
                raise ProtobufError(f"ModelMetrics field 1: expected a message (wire type 2), got {wire}")
            mm.evaluations.append(parse_evaluation(value))
        elif number == 2:
            mm.trainable_parameters = _double(number, wire, value, "ModelMetrics")
        elif number == 3:
            mm.total_time = _double(number, wire, value, "ModelMetrics")
    return mm
