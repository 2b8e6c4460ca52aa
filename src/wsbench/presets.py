"""Finding presets (run configs, stand-alone protocols) and studies by name, from anywhere.

Both ship inside the package (``wsbench/configs/*.yaml``, ``wsbench/studies/*.yaml``, read through
``importlib.resources``), so an installed wheel finds them like a checkout does. A user's own folders come first:

1. every folder of ``$WSBENCH_CONFIG_PATH`` (``os.pathsep``-separated; a folder may hold the YAML files itself or
   ``configs/`` and ``studies/`` sub-folders);
2. ``./configs`` and ``./studies`` of the working directory;
3. the package's own.

A name is the file name without ``.yaml`` (``nb201-cpu``); a path to an existing YAML file is taken as it is. A
wrong name lists the close matches. The first comment line of a file is its one-line description
(``wsbench presets``).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

Kind = Literal["configs", "studies"]
_WHAT = {"configs": "preset", "studies": "study"}


class PresetNotFoundError(FileNotFoundError):
    """No preset or study of that name (the message lists the close matches)."""


@dataclass(frozen=True)
class Preset:
    """One preset or study file: its name, path and one-line description."""

    name: str
    path: Path
    description: str
    origin: str  # "user", "cwd" or "package"


def package_dir(kind: Kind) -> Path:
    """The package's own folder of ``kind`` (a real folder: the package is installed unzipped)."""
    return Path(str(resources.files("wsbench") / kind))


def search_dirs(kind: Kind) -> list[tuple[Path, str]]:
    """Folders searched for ``kind``, first wins: ``$WSBENCH_CONFIG_PATH``, ``./<kind>``, the package's."""
    out: list[tuple[Path, str]] = []
    for entry in os.environ.get("WSBENCH_CONFIG_PATH", "").split(os.pathsep):
        if entry.strip():
            root = Path(entry).expanduser()
            out += [(root / kind, "user"), (root, "user")]
    own = package_dir(kind)
    cwd = Path.cwd() / kind
    if not (cwd.is_dir() and cwd.resolve() == own.resolve()):  # a checkout's ./configs links to the package's
        out.append((cwd, "cwd"))
    out.append((own, "package"))
    return out


def _description(path: Path) -> str:
    try:
        for line in path.read_text(encoding="utf-8").splitlines():
            text = line.strip()
            if text.startswith("#"):
                text = text.lstrip("#").strip()
                if text:
                    return text
            elif text:
                break
    except (OSError, UnicodeDecodeError):
        return "(unreadable)"
    return ""


def _belongs(path: Path, kind: Kind) -> bool:
    """A user folder may mix both kinds: a study has ``factors``/``fidelities``, a preset does not."""
    try:
        head = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    is_study = any(line.startswith(("factors:", "fidelities:", "paper:")) for line in head.splitlines())
    return is_study == (kind == "studies")


def list_presets(kind: Kind = "configs") -> list[Preset]:
    """Every preset (or study) reachable by name, the first of each name only, sorted by name."""
    seen: dict[str, Preset] = {}
    for folder, origin in search_dirs(kind):
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.yaml")):
            if path.stem in seen or (origin == "user" and folder.name != kind and not _belongs(path, kind)):
                continue
            seen[path.stem] = Preset(path.stem, path, _description(path), origin)
    return sorted(seen.values(), key=lambda p: p.name)


def find(kind: Kind, name_or_path: str | Path) -> Path:
    """Resolve a name or a path of ``kind``; a ``PresetNotFoundError`` lists the close matches."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    name = path.name.removesuffix(".yaml").removesuffix(".yml")
    known = {p.name: p for p in list_presets(kind)}
    if name in known:
        return known[name].path
    what = _WHAT[kind]
    close = difflib.get_close_matches(name, list(known), n=3, cutoff=0.5)
    hint = f"did you mean {', '.join(close)}? " if close else ""
    if path.suffix in (".yaml", ".yml"):
        raise PresetNotFoundError(f"{what} file {path} does not exist; {hint}give a path or one of the names "
                                  f"`wsbench presets` lists")
    raise PresetNotFoundError(f"{what} {str(name_or_path)!r} not found; {hint}known: "
                              f"{', '.join(sorted(known)) or 'none'}")


def find_preset(name_or_path: str | Path) -> Path:
    """Resolve a preset name (``nb201-cpu``) or a path to an existing YAML file."""
    return find("configs", name_or_path)


def find_study(name_or_path: str | Path) -> Path:
    """Resolve a study name (``yu2020-nb201``) or a path to an existing YAML file."""
    return find("studies", name_or_path)
