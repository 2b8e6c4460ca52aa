"""Resolution of the data directory that holds imported benchmarks and cached datasets.

Order: an explicit ``--data-dir``, else ``$WSBENCH_DATA_DIR``, else ``~/.cache/wsbench``.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "WSBENCH_DATA_DIR"
DEFAULT = Path("~/.cache/wsbench")


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None, create: bool = False) -> Path:
    """Return the data directory to use (optionally creating it)."""
    if explicit is not None and str(explicit) != "":
        path = Path(explicit)
    elif os.environ.get(ENV_VAR):
        path = Path(os.environ[ENV_VAR])
    else:
        path = DEFAULT
    path = path.expanduser().resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def tables_dir(data_dir: Path) -> Path:
    """Folder of imported ground-truth tables inside a data directory."""
    return data_dir / "tables"


def datasets_dir(data_dir: Path) -> Path:
    """Folder of cached datasets (decoded arrays) inside a data directory."""
    return data_dir / "datasets"
