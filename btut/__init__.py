"""BTUT application layer: the ``btut`` command line, replays, backtests and reports.

``btut.replay(...)``, ``btut.load_run(...)`` (:mod:`btut.replaying`), ``btut.backtest(...)`` and
``btut.load_backtest(...)`` (:mod:`btut.backtesting`) and ``btut.compare_backtests(...)``
(:mod:`btut.comparing`) are imported lazily, so ``import btut`` stays light.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_SEED", "backtest", "compare_backtests", "load_backtest", "load_run", "replay"]

#: Largest random seed the commands accept (seeds are 0..2**32 - 1, numpy's legacy range;
#: torch, which seeds the forecasters, overflows above 2**63).
MAX_SEED = 2**32 - 1

_LAZY = {
    "replay": "btut.replaying",
    "load_run": "btut.replaying",
    "backtest": "btut.backtesting",
    "load_backtest": "btut.backtesting",
    "compare_backtests": "btut.comparing",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(_LAZY[name])
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'btut' has no attribute {name!r}")
