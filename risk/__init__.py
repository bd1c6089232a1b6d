"""Risk measures for agents: exact discrete VaR/CVaR, the RU linear programme, mean-CVaR.

Losses are costs (bigger is worse); ``alpha`` is the tail mass (0.05 = the worst 5 %).
See :mod:`risk.cvar` for the exact conventions and :mod:`risk.optimize` for minimising
mean-CVaR of a convex scenario cost with cvxpy. The optimisation names are loaded on first
use, so ``from risk import cvar`` does not pay for importing cvxpy.

Note: ``risk.cvar`` is the function; the module is ``sys.modules["risk.cvar"]`` (``from
risk.cvar import ...`` works as usual).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from risk.cvar import cvar, cvar_lp, mean_cvar, value_at_risk

if TYPE_CHECKING:
    from risk.optimize import MeanCVaRResult, mean_cvar_objective, minimize_mean_cvar

_LAZY = {"MeanCVaRResult", "mean_cvar_objective", "minimize_mean_cvar"}

__all__ = [
    "MeanCVaRResult",
    "cvar",
    "cvar_lp",
    "mean_cvar",
    "mean_cvar_objective",
    "minimize_mean_cvar",
    "value_at_risk",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module("risk.optimize"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'risk' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)
