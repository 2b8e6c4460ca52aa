"""Locating the YAML presets of ``configs/`` (a name like ``nb201-cpu`` or a path)."""

from __future__ import annotations

from pathlib import Path

_REPO_CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def preset_dirs() -> list[Path]:
    """Folders searched for presets: ``./configs`` then the repository's ``configs/``."""
    return [Path.cwd() / "configs", _REPO_CONFIGS]


def find_preset(name_or_path: str | Path) -> Path:
    """Resolve a preset name (``nb201-cpu``) or a path to an existing YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    for folder in preset_dirs():
        candidate = folder / f"{path.name.removesuffix('.yaml')}.yaml"
        if candidate.exists():
            return candidate
    known = sorted({p.stem for d in preset_dirs() if d.exists() for p in d.glob("*.yaml")})
    raise FileNotFoundError(f"preset {str(name_or_path)!r} not found; known presets: {', '.join(known) or 'none'}")
