"""BTUT application layer: the ``btut`` command line, replay (and later backtest, reports).

``btut.replay(...)`` and ``btut.load_run(...)`` (:mod:`btut.replaying`) are imported lazily, so
``import btut`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_run", "replay"]


def __getattr__(name: str) -> Any:
    if name in ("replay", "load_run"):
        import importlib

        module = importlib.import_module("btut.replaying")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'btut' has no attribute {name!r}")
