"""Nested config trees addressed by dotted keys (``protocol.lr``): the one home of setting, reading, expanding and
merging them, used by the config loader, the study specs and the stand-alone protocols."""

from __future__ import annotations

import copy
from typing import Any


def set_dotted(tree: dict[str, Any], dotted: str, value: Any, error: type[Exception] = ValueError) -> None:
    """Set ``a.b.c`` in a nested dict (creating sections); ``error`` when a part is not a section."""
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        nxt = node.setdefault(part, {})
        if not isinstance(nxt, dict):
            raise error(f"key {dotted!r}: {part!r} is not a config section")
        node = nxt
    node[parts[-1]] = value


def get_dotted(tree: dict[str, Any], dotted: str) -> Any:
    """Value at ``a.b.c`` in a nested dict (``KeyError`` when absent)."""
    node: Any = tree
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Recursive merge of nested dicts (``extra`` wins; nested dicts merged, other values replaced); the inputs
    are not modified."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def nest(flat: dict[str, Any], error: type[Exception] = ValueError) -> dict[str, Any]:
    """``{"protocol.lr": 0.1, "mapping": {"wsbn": true}}`` -> a nested dict (dotted keys expanded)."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        if isinstance(value, dict):
            value = nest(value, error)
            try:
                existing = get_dotted(out, str(key))
            except KeyError:
                existing = None
            if isinstance(existing, dict):
                value = merge(existing, value)
        set_dotted(out, str(key), value, error)
    return out
