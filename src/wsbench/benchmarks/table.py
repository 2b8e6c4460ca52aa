"""``GroundTruth``: a columnar, memory-light table of benchmark records keyed by architecture.

On disk a table is one Arrow IPC file (``<name>.arrow``, uncompressed so that it can be memory-mapped)
whose schema metadata carries the provenance (sources, sha256, import date) as JSON, and the table's own
integrity record: a sha256 per column over the column's buffers as stored in the file. Loading stays a memory
map (no data read); each column is checked against its digest the first time it is used (``column``, ``keys``,
``record``, ``to_pandas`` ...), so a changed byte in the file raises ``TableError`` instead of being served, and
``verify()`` checks every column at once. ``digest`` (a sha256 over the per-column digests) identifies the
stored content; ``wsbench data info`` prints it. Tables written before digests existed load unverified.

Column conventions:

* ``key``: the architecture's key in its space (``SearchSpace.key``), unique per row.
* ``<metric>``: one value per architecture, or ``<metric>@<r>`` for repeat ``r`` (``r = 0, 1, ...``).
  ``values(metric)`` averages the repeats; ``values(metric, repeat=r)`` picks one.
* anything else (``params``, ``index``, ``arch``, ``matrix``...) is an attribute column.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from wsbench.atomic import atomic_path

if TYPE_CHECKING:  # pandas is imported on use: a one-key lookup (`wsbench arch`) needs none of it
    import pandas as pd

_REPEAT = re.compile(r"^(?P<metric>.+)@(?P<r>\d+)$")
SUFFIX = ".arrow"
_DIGESTS = "column_sha256"


class TableError(ValueError):
    """A ground-truth table (or file meant to become one) is missing, corrupt or inconsistent."""


_SCAN_KEYS = 4  # lookups of at most this many keys scan the keys instead of building the hash index


class GroundTruth:
    """Benchmark records of one search space, with vectorised lookup by architecture key."""

    def __init__(self, name: str, space: str, table: pa.Table, provenance: Mapping[str, Any] | None = None):
        if "key" not in table.column_names:
            raise TableError(f"table {name!r} has no 'key' column")
        self.name = name
        self.space = space
        self._table = table
        self.provenance: dict[str, Any] = dict(provenance or {})
        self._keys: np.ndarray | None = None
        self._key_array: pa.Array | None = None
        self._key_index: pd.Index | None = None  # hash index of the keys, built on the first lookup and kept
        self._cache: dict[str, np.ndarray] = {}
        self._digests: dict[str, str] | None = None  # per-column sha256 recorded in the file (None: unchecked)
        self._checked: set[str] = set()
        self.path: Path | None = None

    # -- construction -----------------------------------------------------------------------------
    @classmethod
    def from_columns(
        cls, name: str, space: str, columns: Mapping[str, Any], provenance: Mapping[str, Any] | None = None
    ) -> GroundTruth:
        """Build from a mapping of column name to array-like (must include ``key``)."""
        table = pa.table({k: pa.array(np.asarray(v)) if not isinstance(v, pa.Array) else v
                          for k, v in columns.items()})
        gt = cls(name, space, table, provenance)
        keys = gt.keys
        if len(set(keys.tolist())) != len(keys):
            raise TableError(f"table {name!r}: duplicate architecture keys")
        return gt

    @classmethod
    def from_pandas(cls, name: str, space: str, frame: pd.DataFrame,
                    provenance: Mapping[str, Any] | None = None) -> GroundTruth:
        """Build from a data frame with a ``key`` column."""
        return cls.from_columns(name, space, {c: frame[c].to_numpy() for c in frame.columns}, provenance)

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write atomically as Arrow IPC with provenance and per-column digests in the schema metadata."""
        path = Path(path)
        # the digests cover the buffers exactly as the file will hold them: write once to memory, read back
        probe = pa.BufferOutputStream()
        with ipc.new_file(probe, self._table.schema) as writer:
            writer.write_table(self._table)
        stored = ipc.open_file(probe.getvalue()).read_all()
        digests = {name: _column_digest(stored.column(name)) for name in stored.column_names}
        meta = {b"wsbench": json.dumps({"name": self.name, "space": self.space, "provenance": self.provenance,
                                        _DIGESTS: digests}).encode()}
        table = self._table.replace_schema_metadata(meta)
        with atomic_path(path) as tmp:
            with pa.OSFile(str(tmp), "wb") as sink, ipc.new_file(sink, table.schema) as writer:
                writer.write_table(table)
        return path

    @classmethod
    def load(cls, path: str | Path) -> GroundTruth:
        """Memory-map a saved table; raise ``TableError`` naming the file when it is unreadable."""
        path = Path(path)
        if not path.exists():
            raise TableError(f"ground-truth table {path} does not exist; import it with `wsbench data import`")
        try:
            with pa.memory_map(str(path), "r") as source:
                table = ipc.open_file(source).read_all()
            meta = json.loads((table.schema.metadata or {})[b"wsbench"])
            gt = cls(meta["name"], meta["space"], table.replace_schema_metadata(None), meta.get("provenance"))
        except (pa.ArrowInvalid, KeyError, TypeError, json.JSONDecodeError, OSError, TableError) as exc:
            raise TableError(f"ground-truth table {path} is corrupt or truncated ({exc}); "
                             f"re-import it with `wsbench data import`") from exc
        digests = meta.get(_DIGESTS)
        if digests is not None:
            if not isinstance(digests, dict) or set(digests) != set(table.column_names):
                raise TableError(f"ground-truth table {path} is corrupt: its digests do not list its columns; "
                                 f"re-import it with `wsbench data import`")
            gt._digests = {str(k): str(v) for k, v in digests.items()}
        gt.path = path
        return gt

    # -- integrity ----------------------------------------------------------------------------------------
    @property
    def verified(self) -> bool:
        """Whether the table carries per-column digests (tables built in memory or by older versions do not)."""
        return self._digests is not None

    @property
    def digest(self) -> str | None:
        """sha256 over the per-column digests in column order (None without digests)."""
        if self._digests is None:
            return None
        return hashlib.sha256("".join(f"{c}={self._digests[c]};" for c in self.columns).encode()).hexdigest()

    def _check(self, name: str) -> None:
        if self._digests is None or name in self._checked:
            return
        if _column_digest(self._table.column(name)) != self._digests[name]:
            raise TableError(f"ground-truth table {self.path or self.name} is corrupt: column {name!r} does not "
                             f"match its sha256 digest (the file changed after import); re-import it with "
                             f"`wsbench data import`")
        self._checked.add(name)

    def verify(self, columns: Sequence[str] | None = None) -> None:
        """Check ``columns`` (default: all) against their digests; raise ``TableError`` naming the first bad one."""
        for name in self.columns if columns is None else columns:
            self._check(name)

    # -- schema -----------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._table.num_rows

    def __repr__(self) -> str:
        return f"GroundTruth(name={self.name!r}, space={self.space!r}, rows={len(self)}, metrics={self.metrics()})"

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def metrics(self) -> list[str]:
        """Names of the numeric metrics (repeat columns folded into one name), in column order."""
        out: list[str] = []
        for col in self.columns:
            if col == "key":
                continue
            m = _REPEAT.match(col)
            base = m.group("metric") if m else col
            if base not in out and pa.types.is_floating(self._table.schema.field(col).type):
                out.append(base)
        return out

    def n_repeats(self, metric: str) -> int:
        """Number of repeats stored for ``metric`` (1 when it has a single column)."""
        if metric in self.columns:
            return 1
        n = sum(1 for c in self.columns if (m := _REPEAT.match(c)) and m.group("metric") == metric)
        if n == 0:
            raise TableError(f"table {self.name!r} has no metric {metric!r}; it has {self.metrics()}")
        return n

    def has(self, metric: str) -> bool:
        return metric in self.columns or any(c.startswith(metric + "@") for c in self.columns)

    # -- lookup -----------------------------------------------------------------------------------
    @property
    def key_array(self) -> pa.Array:
        """All keys as one Arrow string array (zero-copy from the memory-mapped file)."""
        if self._key_array is None:
            self._check("key")
            col = self._table.column("key")
            self._key_array = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
        return self._key_array

    @property
    def keys(self) -> np.ndarray:
        """All keys as a numpy object array (row order; built on first use)."""
        if self._keys is None:
            self._keys = _objects(self.key_array)
        return self._keys

    def arch_texts(self, rows: np.ndarray | Sequence[int] | None = None) -> list[str]:
        """Text forms of rows (all rows by default) that the table's space parses: ``"<matrix>|<ops>"`` for NB101
        tables, the ``arch`` column where the table has one, else the row keys."""
        sel = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
        cols = self.columns
        if "matrix" in cols and "ops" in cols:
            mat = np.asarray(self.column("matrix"), dtype=object)[sel]
            ops = np.asarray(self.column("ops"), dtype=object)[sel]
            return [f"{m}|{o}" for m, o in zip(mat, ops, strict=True)]
        if "arch" in cols:
            return [str(a) for a in np.asarray(self.column("arch"), dtype=object)[sel]]
        return [str(k) for k in self.keys[sel]]

    def index(self, keys: Sequence[str] | np.ndarray | str,
              missing: Literal["raise", "ignore"] = "raise") -> np.ndarray:
        """Row positions of ``keys`` (``-1`` for unknown keys when ``missing='ignore'``).

        One hash index of the table's keys is built on the first call and kept with the table (a pandas
        ``Index``), so later lookups only hash the query.
        """
        scalar = isinstance(keys, str)
        query = np.asarray([keys] if scalar else keys, dtype=object).ravel()
        if self._key_index is None and query.size <= _SCAN_KEYS:  # a few keys: a scan beats building the index
            # Python strings straight from Arrow: converting a string column to numpy (or building an Arrow
            # scalar) would import pandas, 0.3-0.5 s of a table command's start-up
            wanted = {str(k) for k in query}
            where = {k: i for i, k in enumerate(self.key_array.to_pylist()) if k in wanted}
            idx = np.asarray([where.get(str(key), -1) for key in query], dtype=np.int64)
        else:
            if self._key_index is None:
                import pandas as pd

                self._key_index = pd.Index(self.keys, dtype=object)
            idx = self._key_index.get_indexer(query).astype(np.int64, copy=False)
        if missing == "raise" and (idx < 0).any():
            bad = query[idx < 0][:3].tolist()
            raise KeyError(f"{int((idx < 0).sum())} architecture(s) not in table {self.name!r}, e.g. {bad}")
        return idx

    def contains(self, keys: Sequence[str] | np.ndarray) -> np.ndarray:
        """Boolean mask: which keys the table knows."""
        return self.index(keys, missing="ignore") >= 0

    def column(self, name: str) -> np.ndarray:
        """A whole column as numpy (cached)."""
        if name not in self._cache:
            if name not in self.columns:
                raise TableError(f"table {self.name!r} has no column {name!r}; it has {self.columns}")
            self._check(name)
            self._cache[name] = _to_numpy(self._table.column(name))
        return self._cache[name]

    def repeats(self, metric: str) -> np.ndarray:
        """Values of ``metric`` for every row and repeat, shape ``(rows, n_repeats)``."""
        if metric in self.columns:
            return self.column(metric)[:, None]
        return np.stack([self.column(f"{metric}@{r}") for r in range(self.n_repeats(metric))], axis=1)

    def values(self, metric: str, idx: np.ndarray | Sequence[int] | None = None,
               repeat: int | Literal["mean"] = "mean") -> np.ndarray:
        """Values of ``metric`` at rows ``idx`` (all rows when ``None``): mean over repeats or one repeat."""
        key = f"{metric}#mean" if repeat == "mean" else f"{metric}@{repeat}"
        if key not in self._cache:
            rep = self.repeats(metric)
            self._cache[key] = np.nanmean(rep, axis=1) if repeat == "mean" else rep[:, int(repeat)]
        col = self._cache[key]
        return col if idx is None else col[np.asarray(idx, dtype=np.int64)]

    def sample_repeat(self, metric: str, idx: np.ndarray | Sequence[int], rng: np.random.Generator) -> np.ndarray:
        """One randomly drawn repeat per query, as the NB101 API answers a query."""
        idx = np.asarray(idx, dtype=np.int64)
        rep = self.repeats(metric)
        return rep[idx, rng.integers(0, rep.shape[1], size=idx.shape)]

    def record(self, key: str) -> dict[str, Any]:
        """All fields of one architecture as a plain dict (for display)."""
        i = int(self.index(key)[0])
        self.verify()
        return {c: _py(self._table.column(c)[i].as_py()) for c in self.columns}

    def to_pandas(self) -> pd.DataFrame:
        self.verify()
        return self._table.to_pandas()

    def subset(self, mask: np.ndarray, name: str | None = None) -> GroundTruth:
        """Rows where ``mask`` is true, as a new table (same provenance)."""
        self.verify()
        return GroundTruth(name or self.name, self.space, self._table.filter(pa.array(np.asarray(mask, bool))),
                           self.provenance)


def _column_digest(column: pa.ChunkedArray) -> str:
    """sha256 of a column's buffers (validity, offsets, values of every chunk, children included), in order."""
    h = hashlib.sha256()
    stack: list[pa.Array] = list(column.chunks)
    while stack:
        chunk = stack.pop(0)
        h.update(f"{chunk.offset}:{len(chunk)}|".encode())
        for buf in chunk.buffers():
            h.update(b"-" if buf is None else memoryview(buf))
    return h.hexdigest()


def _py(v: Any) -> Any:
    if isinstance(v, float) and np.isnan(v):
        return None
    return v


#: Arrow types read straight from their data buffer: pyarrow's own ``to_numpy`` imports pandas (about 0.25 s and
#: 80 MB at start-up), which the table commands do not need otherwise.
_PLAIN_TYPES: dict[str, type] = {"int64": np.int64, "int32": np.int32, "double": np.float64, "float": np.float32}


def _to_numpy(column: pa.ChunkedArray) -> np.ndarray:
    """A column as numpy: primitive columns without nulls from their buffers (copied out of the memory map once),
    anything else through pyarrow."""
    dtype = _PLAIN_TYPES.get(str(column.type))
    if str(column.type) in ("string", "large_string") and not column.null_count:
        return _objects(column)
    if dtype is None or column.null_count:
        return column.to_numpy(zero_copy_only=False)
    size = np.dtype(dtype).itemsize
    parts = [np.frombuffer(chunk.buffers()[1], dtype=dtype, count=len(chunk), offset=chunk.offset * size)
             for chunk in column.chunks]
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


def _objects(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A string column as a numpy object array (through Python strings: no pandas, and faster than pyarrow's
    ``to_numpy`` for these columns)."""
    out = np.empty(len(array), dtype=object)
    out[:] = array.to_pylist()
    return out
