"""Building blocks of weight-sharing super-nets (torch), apart from any one space's model: the ``SuperNet``
interface and parameter counting / autocast (``base``), shared operations, BN, dropout and stems (``ops``) and
dynamic channels (``channels``). The models themselves live in their space's folder
(``wsbench/spaces/<name>/supernet.py``) and are built by ``wsbench.spaces.build_supernet``.
"""

from __future__ import annotations

from wsbench.supernet.base import SuperNet, count_params

__all__ = ["SuperNet", "count_params"]
