"""Training progress a person can follow anywhere.

On a terminal: a rich bar (loss, accuracy, throughput). Elsewhere (``nohup``, a SLURM log, a pipe): one line per
epoch, or every ``every_s`` seconds within a long epoch, written to stderr and flushed at once::

    train epoch 3/96 step 384/12288 loss 1.82 acc 0.341 img/s 2510 elapsed 41s ETA 21m02s

Every evaluation along the way prints its headline (the super-net's own ranking) in both modes. ``quiet``
silences both; ``metrics.jsonl`` in the run directory holds the same numbers (``tail -f`` it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any


def _clock(seconds: float) -> str:
    s = int(max(seconds, 0))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def headline(tag: str, metrics: Mapping[str, Any]) -> str:
    """One line of an evaluation: the super-net's own ranking first, the parameter count beside it."""
    def num(key: str) -> str:
        v = metrics.get(key)
        return "n/a" if not isinstance(v, int | float) or v != v else f"{v:.3f}"

    return (f"eval {tag}: super-net s-KdT {num('sparse_kendall_tau')} Kendall-Tau {num('kendall_tau')} "
            f"Spearman {num('spearman')} (params s-KdT {num('params_sparse_kendall_tau')}), "
            f"{metrics.get('n_archs', '?')} architectures, {metrics.get('bn_mode', '?')}")


class TrainProgress:
    """Context manager over ``total`` steps; ``advance`` is cheap and takes already-synced numbers."""

    def __init__(self, total: int, done: int = 0, quiet: bool = False, description: str = "train",
                 steps_per_epoch: int | None = None, every_s: float = 60.0, stream: Any = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.bar = not quiet and self.stream.isatty()
        self.lines = not quiet and not self.bar
        self.enabled = self.bar  # kept for callers that ask whether a bar is shown
        self._progress: Any = None
        self._task: Any = None
        self.total = total
        self.done = done
        self.description = description
        self.steps_per_epoch = steps_per_epoch
        self.every_s = every_s
        self._start_done = done
        self._t0 = time.perf_counter()
        self._last_line = self._t0

    def __enter__(self) -> TrainProgress:
        if self.bar:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeRemainingColumn(), TextColumn("{task.fields[info]}"), transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task(self.description, total=self.total, completed=self.done, info="")
        self._t0 = self._last_line = time.perf_counter()
        self._start_done = self.done
        return self

    def advance(self, steps: int, info: dict[str, float] | None = None, epoch: int | None = None) -> None:
        """Move by ``steps``; ``info`` (loss, acc, img/s) is shown beside the bar or in the line."""
        self.done += steps
        if self._progress is not None:
            fields: dict[str, Any] = {}
            if info is not None:
                fields["info"] = " ".join(f"{k} {v:.4g}" for k, v in info.items())
            if epoch is not None:
                fields["description"] = f"{self.description} epoch {epoch}"
            self._progress.update(self._task, advance=steps, **fields)
            return
        if not self.lines:
            return
        now = time.perf_counter()
        epoch_end = bool(self.steps_per_epoch) and self.done % int(self.steps_per_epoch) == 0
        if epoch_end or self.done >= self.total or now - self._last_line >= self.every_s:
            self._last_line = now
            self._write(self.line(info, epoch, now))

    def line(self, info: Mapping[str, float] | None, epoch: int | None, now: float | None = None) -> str:
        """The plain-text progress line."""
        now = time.perf_counter() if now is None else now
        elapsed = now - self._t0
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        epochs = ""
        if epoch is not None and self.steps_per_epoch:
            epochs = f" epoch {epoch}/{max(self.total // int(self.steps_per_epoch), 1)}"
        parts = [f"{self.description}{epochs} step {self.done}/{self.total}"]
        for k, v in (info or {}).items():
            parts.append(f"{k} {v:.4g}")
        parts.append(f"elapsed {_clock(elapsed)} ETA {_clock(eta) if eta == eta else '?'}")
        return " ".join(parts)

    def evaluation(self, tag: str, metrics: Mapping[str, Any]) -> None:
        """Print the headline of an evaluation made along the way (bar or lines; nothing when quiet)."""
        if self.quiet:
            return
        if self._progress is not None:
            self._progress.console.print(headline(tag, metrics))
        else:
            self._write(headline(tag, metrics))

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.__exit__(et, ev, tb)
            self._progress = None
