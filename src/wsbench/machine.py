"""Machine description recorded next to every benchmark result."""

from __future__ import annotations

import os
import platform
from typing import Any


def machine_info(device: Any = None) -> dict[str, Any]:
    """Platform, CPU count, load average, library versions (and the torch device when given)."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "processor": platform.processor(),
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        import numpy

        info["numpy"] = numpy.__version__
    except ImportError:  # pragma: no cover
        pass
    if device is not None:
        import torch

        info["torch"] = torch.__version__
        info["threads"] = torch.get_num_threads()
        info["device"] = torch.cuda.get_device_name(device) if device.type == "cuda" else str(device)
    return info
