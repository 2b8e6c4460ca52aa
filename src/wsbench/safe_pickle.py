"""A restricted unpickler for the official CIFAR-10 python batches.

The official ``cifar-10-python.tar.gz`` stores each batch as a Python pickle of a dict
``{b"batch_label": bytes, b"labels": [int, ...], b"data": ndarray (N, 3072) uint8, b"filenames": [bytes, ...]}``.
Unpickling normally may call any importable function, so this module never lets the pickle reach a real global:

* plain containers and scalars (dict, list, tuple, bytes, str, int, float, bool, None) are built by pickle opcodes
  that involve no global at all, so they pass;
* a numpy array in the pickle refers to exactly three globals (``numpy.core.multiarray._reconstruct``,
  ``numpy.ndarray``, ``numpy.dtype``; ``numpy._core`` in numpy 2; protocol 5 uses ``numeric._frombuffer``
  instead of the first two; a bytes object written by Python 3 at protocol 2 refers to ``_codecs.encode``).
  These are mapped to *local inert stand-ins*
  that only record their arguments; after loading, a recorded array is turned into a real array with
  ``numpy.frombuffer`` and only if its dtype is unsigned 8-bit and its raw data is ``bytes`` of the right size;
* every other global (``os.system``, a class, ``numpy.load`` ...) is refused with :class:`UnsafePickleError`.

No numpy (or other) code ever runs with arguments taken from the file, so loading an untrusted batch is safe.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

import numpy as np


class PickleFormatError(ValueError):
    """A pickle stream is damaged, or holds something the restricted unpickler refuses."""

_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")
_NUMERIC_MODULES = ("numpy.core.numeric", "numpy._core.numeric")


class UnsafePickleError(PickleFormatError):
    """The pickle references a global that the restricted unpickler does not allow."""


class _NdarrayMarker:
    """Stands in for the ``numpy.ndarray`` class reference inside an array pickle."""


class _DtypeStub:
    """Records ``numpy.dtype(name, align, copy)`` without calling numpy."""

    def __init__(self, name: Any = None, *_args: Any) -> None:
        self.name = name.decode("ascii", "replace") if isinstance(name, bytes) else str(name)
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    @property
    def byte_order(self) -> str:
        if isinstance(self.state, tuple) and len(self.state) > 1:
            order = self.state[1]
            return order.decode("ascii", "replace") if isinstance(order, bytes) else str(order)
        return "|"


class _ArrayStub:
    """Records the state of an array pickle (``(version, shape, dtype, fortran, raw)``) without calling numpy."""

    def __init__(self) -> None:
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def to_array(self) -> np.ndarray:
        """Validate the recorded state and build a uint8 array from its raw bytes."""
        st = self.state
        if not isinstance(st, tuple) or len(st) != 5:
            raise UnsafePickleError(f"array pickle has an unexpected state layout ({type(st).__name__})")
        _version, shape, dtype, fortran, raw = st
        if not isinstance(dtype, _DtypeStub) or dtype.name not in ("u1", "uint8"):
            name = dtype.name if isinstance(dtype, _DtypeStub) else type(dtype).__name__
            raise UnsafePickleError(f"array pickle has dtype {name!r}; only uint8 image data is accepted")
        if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise UnsafePickleError(f"array pickle has an invalid shape {shape!r}")
        if not isinstance(raw, (bytes, bytearray)):
            raise UnsafePickleError(f"array pickle data is {type(raw).__name__}, expected bytes")
        size = int(np.prod(shape)) if shape else 1
        if len(raw) != size:
            raise UnsafePickleError(f"array pickle holds {len(raw)} bytes for shape {shape} ({size} expected)")
        arr = np.frombuffer(bytes(raw), dtype=np.uint8)
        return arr.reshape(shape, order="F" if fortran else "C").copy()


def _frombuffer(buf: Any, dtype: Any, shape: Any, order: Any) -> _ArrayStub:
    stub = _ArrayStub()
    fortran = (order.decode() if isinstance(order, bytes) else str(order)) == "F"
    stub.state = (1, tuple(shape) if isinstance(shape, (tuple, list)) else shape, dtype, fortran, buf)
    return stub


def _latin1_encode(text: Any, encoding: Any = "latin1") -> bytes:
    """Stand-in for ``_codecs.encode``, which Python 3 protocol-2 pickles use to store ``bytes``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("pickle calls _codecs.encode with arguments other than (str, 'latin1')")
    return text.encode("latin1")


def _reconstruct(cls: Any, _shape: Any = None, _typecode: Any = None) -> _ArrayStub:
    if not isinstance(cls, type) or cls is not _NdarrayMarker:
        raise UnsafePickleError("array pickle reconstructs something other than numpy.ndarray")
    return _ArrayStub()


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if module in _NUMPY_MODULES and name == "_reconstruct":
            return _reconstruct
        if module in _NUMERIC_MODULES and name == "_frombuffer":
            return _frombuffer
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module == "numpy" and name == "ndarray":
            return _NdarrayMarker
        if module == "numpy" and name == "dtype":
            return _DtypeStub
        raise UnsafePickleError(f"pickle references the global {module}.{name}, which is refused")


def _materialise(obj: Any) -> Any:
    if isinstance(obj, _ArrayStub):
        return obj.to_array()
    if isinstance(obj, dict):
        return {k: _materialise(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_materialise(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_materialise(v) for v in obj)
    if isinstance(obj, (_DtypeStub, _NdarrayMarker)) or obj is _NdarrayMarker:
        raise UnsafePickleError("pickle holds a bare numpy dtype or class reference")
    return obj


def safe_loads(data: bytes) -> Any:
    """Unpickle ``data`` allowing only plain builtins and uint8 numpy arrays (see the module docstring).

    Python 2 strings are returned as ``bytes`` (``encoding="bytes"``), as in the official batches.
    Raises :class:`UnsafePickleError` for any other global and :class:`PickleFormatError` for a damaged pickle.
    """
    try:
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="bytes").load()
    except UnsafePickleError:
        raise
    except Exception as exc:  # truncated or garbled pickle stream
        raise PickleFormatError(f"damaged pickle stream ({type(exc).__name__}: {exc})") from None
    return _materialise(obj)


# -- plain data: containers and numbers only (the official NAS-Bench-201 / NATS-Bench files) -------------------------
_NUMPY_SCALAR_DTYPES = {"f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1", "float64",
                        "float32", "float16", "int64", "int32", "int16", "int8", "uint64", "uint32", "uint16",
                        "uint8", "bool"}
_SAFE_BUILTINS = {"set": set, "frozenset": frozenset, "list": list, "dict": dict, "tuple": tuple, "int": int,
                  "float": float, "complex": complex, "bytearray": bytearray, "bool": bool, "str": str}


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    """Stand-in for ``numpy.core.multiarray.scalar``: a python number from whitelisted dtypes only."""
    if not isinstance(dtype, _DtypeStub) or dtype.name not in _NUMPY_SCALAR_DTYPES:
        name = dtype.name if isinstance(dtype, _DtypeStub) else type(dtype).__name__
        raise UnsafePickleError(f"numpy scalar of dtype {name!r} is refused (only numbers are accepted)")
    if not isinstance(data, bytes):
        raise UnsafePickleError("numpy scalar without its raw bytes")
    order = dtype.byte_order if dtype.byte_order in ("<", ">") else "="
    arr = np.frombuffer(data, dtype=np.dtype(dtype.name).newbyteorder(order))
    if arr.shape != (1,):
        raise UnsafePickleError(f"numpy scalar holds {len(data)} bytes for dtype {dtype.name!r}")
    return arr[0].item()


class _PlainUnpickler(pickle.Unpickler):
    """Builds only containers, strings and numbers; every other global (any class, any function) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if module in ("builtins", "__builtin__") and name in _SAFE_BUILTINS:
            return _SAFE_BUILTINS[name]
        if module == "collections" and name == "OrderedDict":
            import collections

            return collections.OrderedDict
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module in _NUMPY_MODULES and name == "scalar":
            return _numpy_scalar
        if module == "numpy" and name == "dtype":
            return _DtypeStub
        raise UnsafePickleError(f"pickle references the global {module}.{name}, which plain data does not need")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("pickle refers to external (persistent) objects, which plain data does not need")


def _check_plain(obj: Any, depth: int = 0) -> None:
    if isinstance(obj, _DtypeStub | _ArrayStub | _NdarrayMarker) or obj is _NdarrayMarker:
        raise UnsafePickleError("pickle holds a bare numpy dtype or array")
    if depth > 200:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            _check_plain(k, depth + 1)
            _check_plain(v, depth + 1)
    elif isinstance(obj, list | tuple | set | frozenset):
        for v in obj:
            _check_plain(v, depth + 1)


def load_plain(fh: Any) -> Any:
    """Unpickle a stream of plain data (dict, OrderedDict, list, tuple, set, str, bytes, numbers, numpy scalars).

    No code from the stream runs: any class or function reference raises :class:`UnsafePickleError` (then the
    caller decides whether to trust the file with a full unpickler). A damaged stream raises what ``pickle``
    raises (``UnpicklingError``, ``EOFError``, ...).
    """
    obj = _PlainUnpickler(fh).load()
    _check_plain(obj)
    return obj
