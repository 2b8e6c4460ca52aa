"""Sub-packages that are also API functions: ``wsbench.train(...)``, ``wsbench.evaluate(...)``, ``wsbench.search(...)``.

Importing ``wsbench.train.x`` binds the attribute ``wsbench.train`` to the package, so a plain function of that
name could not live beside it; instead the package itself is callable and forwards to ``wsbench.api``.
"""

from __future__ import annotations

import sys
import types
from typing import Any


def make_callable(module_name: str, api_name: str) -> None:
    """Give the module ``module_name`` a ``__call__`` forwarding to ``wsbench.api.<api_name>``."""

    class _CallablePackage(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            from wsbench import api

            return getattr(api, api_name)(*args, **kwargs)

    _CallablePackage.__call__.__doc__ = f"Call ``wsbench.api.{api_name}``."
    sys.modules[module_name].__class__ = _CallablePackage
