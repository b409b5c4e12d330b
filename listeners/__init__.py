"""The listeners, one module per platform; the registry is explicit."""

from __future__ import annotations

from listeners.base import Listener
from listeners.demo import DemoListener

REGISTRY: dict[str, type[Listener]] = {
    cls.platform: cls
    for cls in (
        DemoListener,
    )
}

__all__ = ["REGISTRY", "Listener"]
