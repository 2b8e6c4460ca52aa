"""The package's layers: every import (at module level and inside functions) points down, and no two packages
import each other. A new space or metric must not need an upward import; this test names the first that does."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "wsbench"

#: The layers, lowest first. A package may import packages of its own layer (without a cycle) and of lower layers.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("_callable", "atomic", "datadir", "dotted", "machine", "presets", "config", "stats", "safe_pickle",
     "registry"),
    ("supernet",),  # the super-nets' building blocks; each space's model lives in its folder under spaces/
    ("spaces",),
    ("benchmarks",),
    ("data", "sampling"),
    ("evaluate",),
    ("plots",),  # every figure; drawn by training and search as they run, composed by report
    ("train",),
    ("search",),
    ("experiments",),
    ("standalone",),
    ("report",),
    ("commands",),
    ("api", "cli", "__init__", "__main__"),
)
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports() -> list[tuple[str, str, str]]:
    """(source package, imported package, 'file:line') for every wsbench import outside TYPE_CHECKING blocks."""
    out = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT.parent).with_suffix("")
        module = ".".join(rel.parts).removesuffix(".__init__")
        src = _package(module) if module != "wsbench" else "__init__"
        tree = ast.parse(path.read_text())
        skip = _type_checking_lines(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + ([f"wsbench.{a.name}" for a in node.names if a.name in RANK]
                                         if node.module == "wsbench" else [])
            else:
                continue
            if node.lineno in skip:
                continue
            for name in names:
                if name.startswith("wsbench.") and _package(name) != src:
                    out.append((src, _package(name), f"{path.relative_to(ROOT)}:{node.lineno}"))
    return out


def test_every_package_has_a_layer() -> None:
    packages = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    modules = {p.stem for p in ROOT.glob("*.py")}
    assert (packages | modules) - set(RANK) == set()


def test_imports_point_down_and_packages_form_no_cycle() -> None:
    found = imports()
    upward = [f"{where}: {src} imports {dst}" for src, dst, where in found if RANK[dst] > RANK[src]]
    assert upward == [], "\n".join(upward)
    edges: dict[str, set[str]] = {}
    for src, dst, _ in found:
        edges.setdefault(src, set()).add(dst)

    def reaches(a: str, b: str, seen: set[str]) -> bool:
        if a == b:
            return True
        seen.add(a)
        return any(reaches(n, b, seen) for n in edges.get(a, ()) if n not in seen)

    cycles = sorted({f"{src} <-> {dst}" for src, dst, _ in found if reaches(dst, src, set())})
    assert cycles == [], cycles


def test_the_space_registry_imports_only_the_standard_library() -> None:
    """``config`` validates space names with the registry, so the registry must sit below everything."""
    import sys

    tree = ast.parse((ROOT / "registry.py").read_text())
    top = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    top |= {n.module.split(".")[0] for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and n.level == 0}
    assert top - {"__future__"} <= set(sys.stdlib_module_names), top - set(sys.stdlib_module_names)


def test_no_module_outside_a_space_folder_branches_on_a_space_name() -> None:
    """What a space is lives in its folder: outside spaces/<name>/ no comparison with a built-in space's name."""
    names = {"nb101", "nb201", "darts"}
    found = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "spaces" and len(rel.parts) > 2:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Compare):
                consts = [c.value for c in ast.walk(node) if isinstance(c, ast.Constant) and isinstance(c.value, str)]
                if names & set(consts):
                    found.append(f"{rel}:{node.lineno}: {ast.unparse(node)}")
    assert found == [], "\n".join(found)
