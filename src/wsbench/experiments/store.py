"""The results store of a study: ``results.sqlite`` in the study directory.

Tables: ``runs`` (one row per run id: study, main factor/value label, seed, config JSON, status, timings,
device, message, plus every label the run stands for) and ``evals`` (one row per run, evaluation tag and
metric; unique ``(run_id, tag, metric)``). The database runs in WAL mode with a busy timeout; each write is one
short ``BEGIN IMMEDIATE`` transaction of ``INSERT ... ON CONFLICT DO UPDATE`` statements keyed by the run id, so
that many worker processes can write at once and a repeated write never duplicates a row.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

DB_NAME = "results.sqlite"
RUN_COLUMNS = ("id", "study", "factor", "value", "seed", "space", "config", "labels", "levels", "status", "started",
               "finished", "wall_s", "device", "message", "updated")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY, study TEXT, factor TEXT, value TEXT, seed INTEGER, space TEXT, config TEXT,
    labels TEXT, levels TEXT, status TEXT NOT NULL DEFAULT 'pending', started REAL, finished REAL, wall_s REAL,
    device TEXT, message TEXT, updated REAL
);
CREATE TABLE IF NOT EXISTS evals (
    run_id TEXT NOT NULL, tag TEXT NOT NULL, epoch INTEGER, metric TEXT NOT NULL, value REAL,
    UNIQUE (run_id, tag, metric)
);
CREATE INDEX IF NOT EXISTS evals_run ON evals (run_id);
"""
#: Statuses after which a run is not started again (``diverged`` only without ``retry_diverged``).
DONE = "finished"
DIVERGED = "diverged"


class StoreError(RuntimeError):
    """The results database could not be written (locked for too long, or unreadable)."""


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True)


def _number(value: Any) -> float | None:
    """A finite float, or None for anything else (NaN, strings, None)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and math.isfinite(float(value)):
        return float(value)
    return None


class ResultStore:
    """Connection factory and queries over one ``results.sqlite`` (safe to use from many processes)."""

    def __init__(self, path: str | Path, timeout_s: float = 60.0):
        path = Path(path)
        self.path = path / DB_NAME if path.is_dir() or path.suffix != ".sqlite" else path
        self.timeout_s = timeout_s
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._retry(self._create, transaction=False)

    # -- plumbing -------------------------------------------------------------------------------------------------
    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None)
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout_s * 1000)}")
            con.execute("PRAGMA synchronous = NORMAL")
            yield con
        finally:
            con.close()

    def _retry(self, fn: Any, transaction: bool = True) -> Any:
        """Run ``fn(con)`` (in a write transaction), retrying while the database stays locked."""
        deadline = time.monotonic() + self.timeout_s
        delay = 0.01
        while True:
            try:
                with self._connect() as con:
                    if not transaction:
                        return fn(con)
                    con.execute("BEGIN IMMEDIATE")
                    try:
                        out = fn(con)
                        con.execute("COMMIT")
                    except BaseException:
                        with suppress(sqlite3.Error):
                            con.execute("ROLLBACK")
                        raise
                    return out
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise StoreError(f"results store {self.path}: {exc}") from exc
                if time.monotonic() > deadline:
                    raise StoreError(f"results store {self.path} stayed locked for {self.timeout_s:.0f} s") from exc
                time.sleep(delay)
                delay = min(delay * 2, 0.5)

    def _create(self, con: sqlite3.Connection) -> None:
        con.execute("PRAGMA journal_mode = WAL")
        con.executescript(_SCHEMA)

    # -- writes ---------------------------------------------------------------------------------------------------
    @staticmethod
    def _upsert_run(con: sqlite3.Connection, row: dict[str, Any], touch: bool = True) -> None:
        unknown = set(row) - set(RUN_COLUMNS)
        if unknown or "id" not in row:
            raise ValueError(f"run row needs an 'id' and only columns {RUN_COLUMNS}; got extra {sorted(unknown)}")
        if touch:
            row = {**row, "updated": time.time()}
        for key in ("config", "labels", "levels"):
            if key in row and not isinstance(row[key], str | type(None)):
                row[key] = _json(row[key])
        cols = list(row)
        updates = []
        for c in cols:
            if c == "id":
                continue
            if c == "started":  # the first start of a run is kept across resumes
                updates.append("started = COALESCE(runs.started, excluded.started)")
            else:
                updates.append(f"{c} = excluded.{c}")
        sql = (f"INSERT INTO runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))}) "
               f"ON CONFLICT(id) DO UPDATE SET {', '.join(updates)}")
        con.execute(sql, [row[c] for c in cols])

    @staticmethod
    def _upsert_evals(con: sqlite3.Connection, run_id: str, evals: Iterable[Sequence[Any]]) -> None:
        con.executemany(
            "INSERT INTO evals (run_id, tag, epoch, metric, value) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(run_id, tag, metric) DO UPDATE SET epoch = excluded.epoch, value = excluded.value",
            [(run_id, str(tag), None if epoch is None else int(epoch), str(metric), _number(value))
             for tag, epoch, metric, value in evals])

    def record(self, row: dict[str, Any], evals: Iterable[Sequence[Any]] = ()) -> None:
        """Upsert one run row (only the given columns change) and its ``(tag, epoch, metric, value)`` evals."""
        evals = list(evals)

        def write(con: sqlite3.Connection) -> None:
            self._upsert_run(con, row)
            if evals:
                self._upsert_evals(con, row["id"], evals)

        self._retry(write)

    def register(self, rows: Iterable[dict[str, Any]]) -> None:
        """Insert planned runs as ``pending``; for existing runs refresh the descriptive columns only."""
        rows = list(rows)

        def write(con: sqlite3.Connection) -> None:
            for row in rows:
                self._upsert_run(con, {k: v for k, v in row.items() if k not in ("status", "started", "finished")},
                                 touch=False)

        self._retry(write)

    def reset(self, run_id: str) -> None:
        """Mark a run ``pending`` again and forget its timings, message and evaluations (before a fresh start)."""

        def write(con: sqlite3.Connection) -> None:
            con.execute("UPDATE runs SET status = 'pending', started = NULL, finished = NULL, wall_s = NULL, "
                        "message = NULL, updated = ? WHERE id = ?", (time.time(), run_id))
            con.execute("DELETE FROM evals WHERE run_id = ?", (run_id,))

        self._retry(write)

    # -- reads ----------------------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> dict[str, Any] | None:
        """The row of ``run_id`` as a dict (JSON columns decoded), or None."""
        rows = self.runs(ids=[run_id])
        return rows[0] if rows else None

    def runs(self, ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """All run rows (or those in ``ids``), JSON columns decoded."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            if ids is None:
                cur = con.execute("SELECT * FROM runs ORDER BY rowid")
            else:
                cur = con.execute(f"SELECT * FROM runs WHERE id IN ({', '.join('?' * len(ids))}) ORDER BY rowid",
                                  list(ids))
            out = []
            for r in cur.fetchall():
                d = dict(r)
                for key in ("config", "labels", "levels"):
                    d[key] = json.loads(d[key]) if d.get(key) else None
                out.append(d)
            return out

    def evals(self) -> list[dict[str, Any]]:
        """All evaluation rows."""
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute("SELECT run_id, tag, epoch, metric, value FROM evals ORDER BY rowid")]

    def count(self, table: str = "runs") -> int:
        """Number of rows of ``runs`` or ``evals``."""
        if table not in ("runs", "evals"):
            raise ValueError(f"unknown table {table!r} (runs or evals)")
        with self._connect() as con:
            return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
