"""Congestion games on the finite-MFG API: route choice with linear costs, crowd aversion.

``congestion_game``: every period each commuter picks one of ``R`` routes; route ``r`` costs
``free_flow_cost[r] + slope[r] * demand[t] * x_t(r)`` where ``x_t(r)`` is the share of the
population on ``r`` at ``t``, plus ``switching_cost`` when the route differs from last
period's. Without switching costs the periods decouple and the equilibrium of every period
is the Wardrop equilibrium (:func:`linear_wardrop_equilibrium`): equal costs on used routes,
no cheaper unused route.

``crowd_aversion_game``: locations with an attractiveness, where being at a location with a
share ``mu_t(s)`` of the crowd pays ``attractiveness[s] - aversion * mu_t(s)``; each period a
player chooses where to be next period. Under the plain fixed-point iteration everyone moves
to the location that was emptier, which then becomes the crowded one: a period-2 cycle.
Fictitious play converges (the game is monotone).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from data.checks import check_int, check_real
from data.errors import InvalidParameterError
from market.mfg import FiniteMFG

__all__ = [
    "WardropEquilibrium",
    "congestion_game",
    "crowd_aversion_game",
    "linear_wardrop_equilibrium",
]


def _vector(name: str, value: ArrayLike, *, size: int | None = None) -> NDArray[np.float64]:
    try:
        v = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} is not numeric: {exc}") from None
    if v.ndim != 1 or v.size == 0:
        raise InvalidParameterError(f"{name} must be a non-empty 1-D array, got shape {v.shape}")
    if size is not None and v.size != size:
        raise InvalidParameterError(f"{name} must have length {size}, got {v.size}")
    if not np.isfinite(v).all():
        raise InvalidParameterError(f"{name} has non-finite entries")
    v.flags.writeable = False
    return v


def _non_negative(value: float, name: str) -> float:
    out = check_real(value, name)
    if out < 0:
        raise InvalidParameterError(f"{name} must be >= 0, got {value!r}")
    return out


def _distribution(value: ArrayLike | None, n: int) -> NDArray[np.float64]:
    if value is None:
        return np.full(n, 1.0 / n)
    return _vector("initial_distribution", value, size=n)  # FiniteMFG checks the simplex


def _move_to_action(n: int, *, sparse: bool) -> NDArray[np.float64] | sp.csr_array:
    """Deterministic transition ``s' = a`` on ``n`` states and ``n`` actions."""
    if sparse:
        rows = np.arange(n * n)
        P = sp.csr_array((np.ones(n * n), (rows, rows % n)), shape=(n * n, n))
        return P
    P = np.zeros((n, n, n))
    P[:, np.arange(n), np.arange(n)] = 1.0
    P.flags.writeable = False
    return P


def congestion_game(
    *,
    free_flow_cost: ArrayLike = (1.0, 2.0),
    slope: ArrayLike = (2.0, 1.0),
    horizon: int = 1,
    demand: ArrayLike | None = None,
    switching_cost: float = 0.0,
    initial_distribution: ArrayLike | None = None,
    sparse: bool = False,
    name: str = "congestion",
) -> FiniteMFG:
    """Repeated route choice with linear congestion costs, as a :class:`FiniteMFG`.

    States and actions are routes (``S = A = R``): the state is last period's route (the
    initial one drawn from ``initial_distribution``, uniform by default), the action is this
    period's route and the next state. Reward (``-cost``) at ``t``:
    ``-(free_flow_cost[a] + slope[a] * demand[t] * x_t(a)) - switching_cost * [a != s]`` with
    ``x_t(a) = sum_s L_t(s, a)``. ``demand`` (T,) > 0 scales the traffic per period (ones by
    default). ``sparse=True`` returns the transitions as CSR ``(R*R, R)``.
    """
    a = _vector("free_flow_cost", free_flow_cost)
    R = a.size
    b = _vector("slope", slope, size=R)
    if (b < 0).any():
        raise InvalidParameterError("slope must be non-negative")
    horizon = check_int(horizon, "horizon", 1)
    d = np.ones(horizon) if demand is None else _vector("demand", demand, size=horizon)
    if (d <= 0).any():
        raise InvalidParameterError("demand must be positive")
    sw = _non_negative(switching_cost, "switching_cost")
    if not isinstance(sparse, bool | np.bool_):
        raise InvalidParameterError(f"sparse must be True or False, got {sparse!r}")
    switch = sw * (1.0 - np.eye(R))
    P = _move_to_action(R, sparse=bool(sparse))

    def reward(t: int, L: NDArray[np.float64]) -> NDArray[np.float64]:
        x = L.sum(axis=0)
        return -(a + b * d[t] * x)[None, :] - switch

    def transition(t: int, L: NDArray[np.float64]) -> NDArray[np.float64] | sp.csr_array:
        return P

    return FiniteMFG(
        horizon, R, R, _distribution(initial_distribution, R), reward, transition, name=name
    )


@dataclass(frozen=True, eq=False)
class WardropEquilibrium:
    """Wardrop equilibrium of linear route costs: route ``shares`` (R,) and the common
    ``cost`` of the used routes."""

    shares: NDArray[np.float64]
    cost: float

    def to_frame(self) -> pd.DataFrame:
        """One row per route: its ``share`` (the common ``cost`` in ``attrs``)."""
        frame = pd.DataFrame({"share": np.asarray(self.shares, dtype=np.float64)})
        frame.index.name = "route"
        frame.attrs["cost"] = float(self.cost)
        return frame

    def to_dict(self) -> dict[str, Any]:
        """``shares`` (list) and ``cost``."""
        return {"shares": np.asarray(self.shares).tolist(), "cost": float(self.cost)}


def linear_wardrop_equilibrium(
    free_flow_cost: ArrayLike, slope: ArrayLike, *, demand: float = 1.0
) -> WardropEquilibrium:
    """Closed-form Wardrop equilibrium for costs ``a_r + b_r * demand * x_r`` (``b_r > 0``).

    Used routes share the cost ``lam = (1 + sum_used a_r / (b_r d)) / sum_used 1 / (b_r d)``
    with ``x_r = (lam - a_r) / (b_r d)``; a route is used iff ``a_r < lam``. The used set is
    found by adding routes in order of free-flow cost.
    """
    a = _vector("free_flow_cost", free_flow_cost)
    b = _vector("slope", slope, size=a.size)
    if (b <= 0).any():
        raise InvalidParameterError("slope must be positive for a unique Wardrop equilibrium")
    dem = check_real(demand, "demand")
    if dem <= 0:
        raise InvalidParameterError(f"demand must be positive, got {demand!r}")
    order = np.argsort(a, kind="stable")
    w = 1.0 / (b[order] * dem)
    lam_k = (1.0 + np.cumsum(a[order] * w)) / np.cumsum(w)
    # the used set is the largest prefix whose last route is still cheaper than lam
    k = int(np.nonzero(a[order] < lam_k)[0].max()) + 1 if (a[order] < lam_k).any() else 1
    lam = float(lam_k[k - 1])
    shares = np.clip((lam - a) / (b * dem), 0.0, None)
    shares[a >= lam] = 0.0
    shares /= shares.sum()
    return WardropEquilibrium(shares, lam)


def crowd_aversion_game(
    *,
    n_locations: int = 2,
    horizon: int = 1,
    aversion: float = 1.0,
    attractiveness: ArrayLike | None = None,
    move_cost: float = 0.0,
    initial_distribution: ArrayLike | None = None,
    name: str = "crowd_aversion",
) -> FiniteMFG:
    """Crowd-averse location choice, as a :class:`FiniteMFG` with a terminal reward.

    States and actions are locations (``S = A = n_locations``); action ``a`` moves the player
    to ``a`` for the next period. Being at ``s`` at period ``t`` (``t = 0..T-1``, and at the
    end through the terminal reward) pays ``attractiveness[s] - aversion * mu_t(s)``, moving
    costs ``move_cost``. Without move costs the equilibrium share of every period after the
    first is the Wardrop split of costs ``-attractiveness + aversion * x``.
    """
    n = check_int(n_locations, "n_locations", 2)
    horizon = check_int(horizon, "horizon", 1)
    c = _non_negative(aversion, "aversion")
    att = (
        np.zeros(n) if attractiveness is None else _vector("attractiveness", attractiveness, size=n)
    )
    mc = _non_negative(move_cost, "move_cost")
    move = mc * (1.0 - np.eye(n))
    P = _move_to_action(n, sparse=False)

    def payoff(mu: NDArray[np.float64]) -> NDArray[np.float64]:
        return att - c * mu

    def reward(t: int, L: NDArray[np.float64]) -> NDArray[np.float64]:
        return payoff(L.sum(axis=1))[:, None] - move

    def transition(t: int, L: NDArray[np.float64]) -> NDArray[np.float64]:
        return P

    return FiniteMFG(
        horizon,
        n,
        n,
        _distribution(initial_distribution, n),
        reward,
        transition,
        terminal_reward=payoff,
        name=name,
    )
