"""MILP Pareto benchmark: the social planner of the community, the stand-alone baseline and the
efficiency scores (DESIGN.md section 3, "Social optimum").

Units: energies in kWh per interval, prices in EUR/MWh at the interface (EUR/kWh inside),
costs in EUR for the day. ``x`` (N, H) is the agents' *realised* net demand (load - PV); the
tariff is ``p_buy = price + retail adder``, ``p_sell = price - export discount`` (both
adders >= 0, so ``p_buy >= p_sell``; defaults from the population's configuration).

The MILP (:func:`plan_community`, built column-wise with numpy and solved by HiGHS)
------------------------------------------------------------------------------------
Per agent i and interval t (agents' kinds as in :mod:`agents.config`; a ``pv`` agent has no
decision and only adds its net demand):

* ``pv_storage`` (E > 0, P > 0): charge ``c`` (grid side) and discharge ``d`` (delivered),
  ``0 <= c, d <= P*dt``; stored energy ``e_{t+1} = e_t + eta_c*c_t - d_t/eta_d`` with
  ``0 <= e <= E``, ``e_0 = soc_initial*E`` and ``e_H >= e_0`` (the DP's cyclic condition);
  binary ``b`` with ``c <= P*dt*b``, ``d <= P*dt*(1-b)`` (charge xor discharge); cost
  ``deg*(c + d)``; position ``+c - d``. SoC is continuous (the DP's grid is a subset).
* ``ev``: in the availability window (intervals with ``clock >= ev_arrival_hour`` and
  ``clock + dt <= ev_deadline_hour``, as in the DP) a one-hot choice ``w_l`` (binary) over the
  type's positive charging levels (``sum_l w_l <= 1``; none = level 0) and the grid-side draw
  ``g``: ``g = sum_l lev_l*P_ev*dt*w_l`` except in at most one interval per agent (binary
  ``f``, ``sum_t f <= 1``) where the charger stops early because the battery is full
  (``0 <= g <= sum_l lev_l*P_ev*dt*w_l``): the DP's last, truncated charge. Delivered energy
  ``eta*sum_t g + u = need`` with the unmet slack ``u >= 0`` at ``ev_unmet_penalty`` EUR/kWh;
  position ``+g``. (The DP rounds the need up to its grid; the MILP uses it exactly, and may
  place the partial interval anywhere, not only last: a superset of the DP's schedules.)
* ``consumer``: demand response on the DP's ``dr_levels`` (L) equally spaced levels
  ``r_k = -m + k*step``, ``step = 2m/(L-1)``, ``m = dr_max_fraction * base_t`` (``base``:
  ``dr_base_kwh``, default the realised load ``max(x, 0)``; pass the expected load to
  reproduce the DP's levels exactly), as a staircase of binaries ``delta_1..delta_{L-1}``
  with ``k = sum_j delta_j``; increment j costs ``flex*(r_j^2 - r_{j-1}^2)`` (objective
  offset ``flex*m^2``; here ``flex`` is per interval: the parameter over ``dt`` hours, as in
  :mod:`agents.bidding`). The increments increase with j (convexity), so any optimum takes a
  prefix and pays exactly ``flex*r_k^2``: the DP's discrete levels and disutility, no
  approximation, no extra rows; the LP relaxation is the levels' convex hull (the same as a
  one-hot's). Position ``-r``.
* community: imports ``I_t``, exports ``X_t >= 0``, balance ``sum_i y_it = I_t - X_t``, cost
  ``p_buy*I - p_sell*X``, exclusivity binary ``z_t`` (``I <= M_I*z``, ``X <= M_X*(1-z)``,
  ``M`` from the bounds of the positions).

Objective: ``sum_t (p_buy,t*I_t - p_sell,t*X_t)/1000 + sum deg*(c+d) + sum flex*r^2 + sum
penalty*u`` (EUR; the disutility through the staircase, exactly).

Solving (``lp_rounding=True``, the default): HiGHS solves the LP relaxation (a lower bound);
every integer is rounded (demand response to the nearest level, ``b = [c >= d]``, each EV
at its top level in the intervals where the LP charges most plus one partial interval for
the rest of the LP's energy) and the LP over the continuous variables re-solved (a feasible
schedule). If the two are within ``mip_rel_gap`` (HiGHS's criterion) that is the answer, with
the LP value as the dual bound (``solve_method="rounded LP"``); otherwise HiGHS's
branch-and-bound runs from that schedule (``"branch-and-bound"``). The relaxation is tight
on real days (one fractional level at most where the community balances), so the first
case is the usual one and saves HiGHS's primal heuristics, which dominate its run time.

Which binaries bind (``all_binaries=False``, the default, omits the provably slack ones):

* ``z_t`` is slack whenever ``p_buy,t >= p_sell,t`` -- always with this tariff, at negative
  prices too: importing and exporting one more kWh at once costs ``p_buy - p_sell >= 0``.
  It is kept only where ``p_sell > p_buy`` (never, with a valid tariff).
* ``b_it`` binds at negative prices: charging and discharging at once burns energy through
  the losses and imports ``(1 - eta_c*eta_d)`` kWh per kWh charged, which pays when
  ``p_sell*(1 - eta_c*eta_d) + deg*(1 + eta_c*eta_d) < 0`` (prices in EUR/kWh). Where this
  quantity is >= 0, netting any simultaneous ``(c, d)`` to one direction keeps the state
  path, lowers the throughput and can only lower the community's cost (its grid cost has
  slopes >= ``p_sell``), so ``b`` is kept only where the quantity is < 0 and any
  simultaneous charge/discharge elsewhere is netted after the solve (cost never rises).
  Same optimum as ``all_binaries=True`` (tested); far fewer binaries on ordinary days.

Baseline (:func:`baseline_cost`): every agent alone with the grid, i.e. the same feasible set
per agent without netting: ``sum_t p_buy*y+ - p_sell*y-`` per agent. Separable: ``pv`` and
``consumer`` agents are solved in closed form (per interval, enumeration of the levels: the
exact optimum), ``pv_storage`` and ``ev`` agents in one block-diagonal MILP. The baseline's
schedules are feasible for the planner and ``sum_i f(y_i) >= f(sum_i y_i)`` (``f`` convex,
positively homogeneous), so planner <= baseline up to the MIP gaps.

Large populations (N > ``max_exact_agents``): a stratified sample (strata = types,
proportional allocation, at least 2 agents per type that has 2, seeded) of
``max_exact_agents`` agents is solved as a community, and totals are the stratified
estimates ``sum_h N_h * mean_h(c_i)`` of per-agent cost contributions ``c_i`` (own costs +
``lambda_t*y_it``; ``lambda_t`` = ``p_buy`` where the sample imports, ``p_sell`` where it
exports, their midpoint where it balances: the contributions sum to the sample's cost).
The error bound (``cost_error_bound_eur``, a conservative half-width) adds three terms:

1. ``z * SE``: the stratified standard error ``SE = sqrt(sum_h N_h^2 (1 - n_h/N_h) s_h^2 /
   n_h)`` of the contributions (``z = 2``: about 95 % under the normal approximation). This
   treats the sample's marginal prices as fixed.
2. the netting bias ``B >= 0``: a sample nets less than the whole population (subadditivity
   makes the scaled sample cost biased *upwards*). Applying the population's optimal
   schedules to the sample, the excess per agent and interval is at most
   ``(p_buy - p_sell) * E[(sample mean position)^-]`` (or ``^+``) about the population's mean
   position ``m_t``: ``(p_buy - p_sell) * se_t * L(|m_t|/se_t)`` with the normal loss function
   ``L(k) = phi(k) - k*(1 - Phi(k))`` and ``se_t`` the stratified standard error of the mean
   position, taken as the larger of that of the optimised positions and of the raw net
   demand (the population's optimal positions are unknown). ``B = N * sum_t (...)``.
   Only intervals where the community is near balance contribute.
3. the MIP gap of the sample's solve, scaled by ``N/n``.

In exact mode the bound is the absolute MIP gap (objective - dual bound). The baseline is
separable: its sampled estimate is unbiased, with the stratified standard error only.

Scores: :func:`efficiency` ``= (baseline - market) / (baseline - planner)`` and
:func:`price_of_anarchy` ``= market / planner``, both NaN when undefined (reasons in
:class:`BenchmarkScores`).
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

import highspy
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import sparse, stats

from agents.config import PARAMETERS, PopulationConfig
from agents.population import Population, stratified_counts
from data.checks import check_int, check_real
from data.errors import InvalidParameterError, SolverError

__all__ = [
    "DEFAULT_MAX_EXACT_AGENTS",
    "BenchmarkScores",
    "PlannerResult",
    "baseline_cost",
    "benchmark_scores",
    "efficiency",
    "expected_load_kwh",
    "plan_community",
    "price_of_anarchy",
    "stratified_sample",
]

DEFAULT_MAX_EXACT_AGENTS = 2000
"""Above this many agents the planner works on a stratified sample."""

_KWH_PER_MWH = 1000.0
_TOL = 1e-9
_SOL_TOL = 1e-7  # kWh: solver values below this are zero
_STEP_TOL = 1e-9  # same slack as the DP's window test

# column families (for the cost breakdown)
_GRID, _DEGRADATION, _DISCOMFORT, _UNMET, _OTHER = 0, 1, 2, 3, 4

NetDemand = np.ndarray | Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def _vector(values: ArrayLike, what: str, H: int | None = None) -> np.ndarray:
    try:
        arr = np.array(values, dtype=np.float64)  # a copy: results freeze their arrays
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} must be an array of real numbers") from None
    if arr.ndim != 1 or arr.shape[0] < 1:
        raise InvalidParameterError(f"{what} must be 1-D with one value per interval")
    if H is not None and arr.shape[0] != H:
        raise InvalidParameterError(f"{what} has {arr.shape[0]} intervals, expected {H}")
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{what} must be finite (found NaN or infinity)")
    return arr


@dataclass(frozen=True)
class _Tariff:
    """Prices (H,) in EUR/kWh, interval length and local clock hours."""

    wholesale: np.ndarray  # EUR/MWh
    buy: np.ndarray  # EUR/kWh
    sell: np.ndarray  # EUR/kWh
    dt_hours: float
    clock_hour: np.ndarray
    index: pd.Index

    @property
    def H(self) -> int:
        return int(self.buy.shape[0])


def _tariff(
    wholesale: ArrayLike,
    config: PopulationConfig,
    retail_adder: float | None,
    export_discount: float | None,
    dt_hours: float | None,
    clock_hour: ArrayLike | None,
    shapes: Any,
) -> _Tariff:
    price = _vector(wholesale, "wholesale_eur_per_mwh")
    H = price.shape[0]
    adder = config.retail_adder_eur_per_mwh if retail_adder is None else retail_adder
    discount = config.export_discount_eur_per_mwh if export_discount is None else export_discount
    adder = check_real(adder, "retail_adder_eur_per_mwh")
    discount = check_real(discount, "export_discount_eur_per_mwh")
    if adder < 0 or discount < 0:
        raise InvalidParameterError("retail_adder_eur_per_mwh and export discount must be >= 0")
    index: pd.Index = pd.RangeIndex(H, name="interval")
    if shapes is not None:
        if shapes.n_intervals != H:
            raise InvalidParameterError(
                f"shapes have {shapes.n_intervals} intervals, the prices {H}"
            )
        dt_hours = shapes.dt_hours if dt_hours is None else dt_hours
        clock_hour = shapes.clock_hour if clock_hour is None else clock_hour
        index = shapes.index
    dt_h = check_real(1.0 if dt_hours is None else dt_hours, "dt_hours")
    if dt_h <= 0:
        raise InvalidParameterError(f"dt_hours must be > 0, got {dt_h:g}")
    clock = np.arange(H) * dt_h if clock_hour is None else _vector(clock_hour, "clock_hour", H)
    return _Tariff(
        wholesale=price,
        buy=(price + adder) / _KWH_PER_MWH,
        sell=(price - discount) / _KWH_PER_MWH,
        dt_hours=dt_h,
        clock_hour=clock,
        index=index,
    )


@dataclass(frozen=True, eq=False)
class _Agents:
    """The agents of one solve (float64 parameters, realised net demand, DR base)."""

    idx: np.ndarray  # (n,) positions in the population
    type_index: np.ndarray  # (n,) int
    params: Mapping[str, np.ndarray]  # name -> (n,) float64
    x: np.ndarray  # (n, H) kWh
    dr_base: np.ndarray  # (n, H) kWh

    @property
    def n(self) -> int:
        return int(self.idx.shape[0])


def _rows(source: NetDemand | None, idx: np.ndarray, N: int, H: int | None, what: str) -> Any:
    if source is None:
        return None
    if callable(source):
        raw = source(idx)  # its own errors are its own (a DataValidationError stays one)
        try:
            arr = np.asarray(raw, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"{what}: the callable must return an array of real numbers, "
                f"got {type(raw).__name__}"
            ) from None
    else:
        try:
            full = source
            if not hasattr(full, "shape"):
                full = np.asarray(full, dtype=np.float64)
            if full.ndim != 2 or full.shape[0] != N:
                raise InvalidParameterError(
                    f"{what} must have shape (N={N}, H), got {tuple(full.shape)}"
                )
            arr = np.asarray(full[idx] if idx.shape[0] < N else full, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InvalidParameterError):
                raise
            dtype = getattr(source, "dtype", None)
            got = f"{type(source).__name__} of {dtype}" if dtype is not None else f"{source!r:.60}"
            raise InvalidParameterError(
                f"{what} must be an (N, H) array of real numbers or a callable giving its "
                f"rows, got {got}"
            ) from None
    expected_rows = idx.shape[0]
    if arr.ndim != 2 or arr.shape[0] != expected_rows or (H is not None and arr.shape[1] != H):
        raise InvalidParameterError(
            f"{what} must give shape ({expected_rows}, {H}), got {tuple(arr.shape)}"
        )
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{what} must be finite (found NaN or infinity)")
    return arr


def _agents(
    population: Population,
    idx: np.ndarray,
    net_demand: NetDemand,
    dr_base: NetDemand | None,
    H: int,
) -> _Agents:
    N = population.n_agents
    if net_demand is None:
        raise InvalidParameterError(
            "net_demand_kwh must be an (N, H) array or a callable, got None"
        )
    x = _rows(net_demand, idx, N, H, "net_demand_kwh")
    base = _rows(dr_base, idx, N, H, "dr_base_kwh")
    if base is None:
        base = np.maximum(x, 0.0)
    elif (base < 0).any():
        raise InvalidParameterError("dr_base_kwh must be >= 0")
    codes = np.asarray(population.type_index[idx], dtype=np.intp)
    params: dict[str, np.ndarray] = {}
    for name, spec in PARAMETERS.items():
        vals = np.asarray(population.param(name)[idx], dtype=np.float64)
        vals = np.clip(vals, spec.low, spec.high)
        for code, tc in enumerate(population.config.types):
            dist = tc.params.get(name)
            if dist is not None and dist.spread == 0.0:  # a point mass: exact value
                vals[codes == code] = dist.mean
        params[name] = vals
    return _Agents(idx=idx, type_index=codes, params=params, x=x, dr_base=base)


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------


def _allocation(counts: np.ndarray, n: int) -> np.ndarray:
    """Proportional allocation of n over strata of sizes ``counts``, at least min(2, N_h)."""
    counts = np.asarray(counts, dtype=np.int64)
    N = int(counts.sum())
    floor = np.minimum(counts, 2)
    if n >= N:
        return counts.copy()
    if n < int(floor.sum()):
        raise InvalidParameterError(
            f"a stratified sample needs at least {int(floor.sum())} agents (2 per type), got {n}"
        )
    alloc = stratified_counts(counts / N, n)
    alloc = np.minimum(np.maximum(alloc, floor), counts)
    # restore the total: take from / give to the strata with the most room
    while alloc.sum() > n:
        room = np.where(alloc > floor, alloc - counts * n / N, -np.inf)
        alloc[int(np.argmax(room))] -= 1
    while alloc.sum() < n:
        room = np.where(alloc < counts, counts * n / N - alloc, -np.inf)
        alloc[int(np.argmax(room))] += 1
    return alloc


def stratified_sample(type_index: ArrayLike, n: int, *, seed: int) -> np.ndarray:
    """Sorted positions of a stratified sample of ``n`` agents (strata: the types).

    Proportional allocation (largest remainders) with at least 2 agents for every type that
    has 2 (so each stratum's variance can be estimated); without replacement within a type;
    seeded. ``type_index``: (N,) int codes; all N positions when ``n >= N``.
    """
    codes = np.asarray(type_index)
    if codes.ndim != 1:
        raise InvalidParameterError("type_index must be 1-D")
    if codes.size and not np.issubdtype(codes.dtype, np.integer):
        raise InvalidParameterError(f"type_index must be integer type codes, got {codes.dtype}")
    if codes.size and codes.min() < 0:
        raise InvalidParameterError(f"type_index must be type codes >= 0, got {codes.min()}")
    n = check_int(n, "sample size", 1)
    seed = check_int(seed, "seed", 0)
    N = codes.shape[0]
    if n >= N:
        return np.arange(N)
    T = int(codes.max()) + 1 if N else 0
    counts = np.bincount(codes, minlength=T)
    alloc = _allocation(counts, n)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5A17,)))
    picks = []
    for code in range(T):
        if alloc[code] == 0:
            continue
        members = np.flatnonzero(codes == code)
        picks.append(rng.choice(members, size=int(alloc[code]), replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.intp)


# --------------------------------------------------------------------------------------------
# the model
# --------------------------------------------------------------------------------------------


class _Builder:
    """Columns, rows and (row, col, value) entries accumulated as numpy blocks."""

    def __init__(self, n_agents: int, H: int) -> None:
        self.H = H
        self.n_agents = n_agents
        self.ncol = 0
        self.nrow = 0
        self._cost: list[np.ndarray] = []
        self._lb: list[np.ndarray] = []
        self._ub: list[np.ndarray] = []
        self._int: list[np.ndarray] = []
        self._agent: list[np.ndarray] = []
        self._family: list[np.ndarray] = []
        self._rlb: list[np.ndarray] = []
        self._rub: list[np.ndarray] = []
        self._er: list[np.ndarray] = []
        self._ec: list[np.ndarray] = []
        self._ev: list[np.ndarray] = []
        # grid position y_it = const[i, t] + sum of terms (flat cell i*H + t, col, coef)
        self.const = np.zeros((n_agents, H))
        self._pr: list[np.ndarray] = []
        self._pc: list[np.ndarray] = []
        self._pv: list[np.ndarray] = []
        self.blocks: dict[str, Any] = {}
        self.offset = 0.0  # EUR, constant part of the objective

    def cols(
        self,
        n: int,
        *,
        cost: ArrayLike = 0.0,
        lb: ArrayLike = 0.0,
        ub: ArrayLike = np.inf,
        integer: bool = False,
        agent: ArrayLike = -1,
        family: int = _OTHER,
    ) -> np.ndarray:
        ids = np.arange(self.ncol, self.ncol + n)
        self.ncol += n
        self._cost.append(np.broadcast_to(np.asarray(cost, dtype=np.float64), (n,)).ravel())
        self._lb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).ravel())
        self._ub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).ravel())
        self._int.append(np.full(n, integer, dtype=bool))
        self._agent.append(np.broadcast_to(np.asarray(agent, dtype=np.int64), (n,)).ravel())
        self._family.append(np.full(n, family, dtype=np.int8))
        return ids

    def rows(self, n: int, lb: ArrayLike, ub: ArrayLike) -> np.ndarray:
        ids = np.arange(self.nrow, self.nrow + n)
        self.nrow += n
        self._rlb.append(np.broadcast_to(np.asarray(lb, dtype=np.float64), (n,)).ravel())
        self._rub.append(np.broadcast_to(np.asarray(ub, dtype=np.float64), (n,)).ravel())
        return ids

    def entries(self, rows: ArrayLike, cols: ArrayLike, vals: ArrayLike) -> None:
        r, c, v = np.broadcast_arrays(
            np.asarray(rows, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(vals, dtype=np.float64),
        )
        self._er.append(r.ravel())
        self._ec.append(c.ravel())
        self._ev.append(v.ravel())

    def position(self, cells: ArrayLike, cols: ArrayLike, coefs: ArrayLike) -> None:
        r, c, v = np.broadcast_arrays(
            np.asarray(cells, dtype=np.int64),
            np.asarray(cols, dtype=np.int64),
            np.asarray(coefs, dtype=np.float64),
        )
        self._pr.append(r.ravel())
        self._pc.append(c.ravel())
        self._pv.append(v.ravel())

    @staticmethod
    def _cat(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)

    def position_matrix(self) -> sparse.csr_matrix:
        """(n*H, ncol) map from the solution to the variable part of the positions."""
        return sparse.csr_matrix(
            (
                self._cat(self._pv, np.float64),
                (self._cat(self._pr, np.int64), self._cat(self._pc, np.int64)),
            ),
            shape=(self.n_agents * self.H, self.ncol),
        )

    def finish(self) -> dict[str, np.ndarray]:
        return {
            "cost": self._cat(self._cost, np.float64),
            "lb": self._cat(self._lb, np.float64),
            "ub": self._cat(self._ub, np.float64),
            "integer": self._cat(self._int, bool),
            "agent": self._cat(self._agent, np.int64),
            "family": self._cat(self._family, np.int8),
            "row_lb": self._cat(self._rlb, np.float64),
            "row_ub": self._cat(self._rub, np.float64),
            "er": self._cat(self._er, np.int64),
            "ec": self._cat(self._ec, np.int64),
            "ev": self._cat(self._ev, np.float64),
        }


def _kind_codes(population: Population, kind: str) -> list[int]:
    return [c for c, k in enumerate(population.kinds) if k == kind]


def _add_storage(
    b: _Builder, population: Population, ag: _Agents, tf: _Tariff, all_binaries: bool
) -> None:
    H, dt = tf.H, tf.dt_hours
    p = ag.params
    is_kind = np.isin(ag.type_index, _kind_codes(population, "pv_storage"))
    loc = np.flatnonzero(is_kind & (p["battery_kwh"] > 0) & (p["battery_kw"] > 0))
    nS = loc.shape[0]
    if nS == 0:
        return
    E = p["battery_kwh"][loc]
    cap = p["battery_kw"][loc] * dt
    eta_c, eta_d = p["eta_charge"][loc], p["eta_discharge"][loc]
    deg = p["degradation_eur_per_kwh"][loc]
    e0 = p["soc_initial"][loc] * E
    agent = np.repeat(loc, H)
    cap_it = np.repeat(cap, H)
    c = b.cols(nS * H, cost=np.repeat(deg, H), ub=cap_it, agent=agent, family=_DEGRADATION)
    d = b.cols(nS * H, cost=np.repeat(deg, H), ub=cap_it, agent=agent, family=_DEGRADATION)
    e_lb = np.zeros((nS, H))
    e_lb[:, -1] = e0  # end of day at or above the start
    e = b.cols(nS * H, lb=e_lb.ravel(), ub=np.repeat(E, H), agent=agent)
    c2, d2, e2 = c.reshape(nS, H), d.reshape(nS, H), e.reshape(nS, H)
    rhs = np.zeros((nS, H))
    rhs[:, 0] = e0
    dyn = b.rows(nS * H, rhs.ravel(), rhs.ravel()).reshape(nS, H)
    b.entries(dyn, e2, 1.0)
    b.entries(dyn[:, 1:], e2[:, :-1], -1.0)
    b.entries(dyn, c2, -eta_c[:, None])
    b.entries(dyn, d2, 1.0 / eta_d[:, None])
    cells = loc[:, None] * H + np.arange(H)[None, :]
    b.position(cells, c2, 1.0)
    b.position(cells, d2, -1.0)
    # charge xor discharge, where it can bind (module doc)
    loop = eta_c * eta_d
    burn = tf.sell[None, :] * (1.0 - loop[:, None]) + deg[:, None] * (1.0 + loop[:, None])
    need = np.ones((nS, H), dtype=bool) if all_binaries else burn < -_TOL
    si, st = np.nonzero(need)
    bb = np.zeros(0, dtype=np.int64)
    if si.size:
        bb = b.cols(si.size, ub=1.0, integer=True, agent=loc[si])
        r1 = b.rows(si.size, -np.inf, 0.0)
        b.entries(r1, c2[si, st], 1.0)
        b.entries(r1, bb, -cap[si])
        r2 = b.rows(si.size, -np.inf, cap[si])
        b.entries(r2, d2[si, st], 1.0)
        b.entries(r2, bb, cap[si])
    b.blocks["storage"] = {
        "loc": loc,
        "c": c2,
        "d": d2,
        "e": e2,
        "e0": e0,
        "eta_c": eta_c,
        "eta_d": eta_d,
        "binary": need,
        "b": bb,
        "b_cells": (si, st),
    }


def _ev_window(clock: np.ndarray, dt: float, arrival: float, deadline: np.ndarray) -> np.ndarray:
    """(n, H) bool: intervals inside [arrival, deadline] (the DP's rule)."""
    start_ok = clock >= arrival - _STEP_TOL
    return start_ok[None, :] & (clock[None, :] + dt <= deadline[:, None] + _STEP_TOL)


def _add_ev(b: _Builder, population: Population, ag: _Agents, tf: _Tariff) -> None:
    H, dt = tf.H, tf.dt_hours
    p = ag.params
    out: dict[str, list[np.ndarray]] = {"cells": [], "g": []}
    pieces: list[dict[str, np.ndarray]] = []
    for code in _kind_codes(population, "ev"):
        tc = population.config.types[code]
        loc = np.flatnonzero((ag.type_index == code) & (p["ev_need_kwh"] > 0))
        if loc.size == 0:
            continue
        need = p["ev_need_kwh"][loc]
        eta = p["eta_charge"][loc]
        u = b.cols(
            loc.size,
            cost=tc.ev_unmet_penalty_eur_per_kwh,
            ub=need,
            agent=loc,
            family=_UNMET,
        )
        need_row = b.rows(loc.size, need, need)
        b.entries(need_row, u, 1.0)
        levels = np.asarray([v for v in tc.ev_charge_levels if v > 0], dtype=np.float64)
        kw = p["ev_max_kw"][loc]
        window = _ev_window(tf.clock_hour, dt, tc.ev_arrival_hour, p["ev_deadline_hour"][loc])
        window &= (kw > 0)[:, None]
        if levels.size == 0 or not window.any():
            continue
        vi, vt = np.nonzero(window)  # pairs (agent within type, interval)
        npair, L = vi.size, levels.size
        draw = levels[None, :] * (kw[vi] * dt)[:, None]  # (npair, L) grid-side kWh per level
        gmax = draw[:, -1]
        g = b.cols(npair, ub=gmax, agent=loc[vi])
        w = b.cols(npair * L, ub=1.0, integer=True, agent=np.repeat(loc[vi], L)).reshape(npair, L)
        f = b.cols(npair, ub=1.0, integer=True, agent=loc[vi])
        up = b.rows(npair, -np.inf, 0.0)  # g <= level draw
        b.entries(up, g, 1.0)
        b.entries(up[:, None], w, -draw)
        low = b.rows(npair, 0.0, np.inf)  # g >= level draw - gmax * f
        b.entries(low, g, 1.0)
        b.entries(low[:, None], w, -draw)
        b.entries(low, f, gmax)
        if L > 1:
            one = b.rows(npair, -np.inf, 1.0)
            b.entries(one[:, None], w, 1.0)
        fill = b.rows(loc.size, -np.inf, 1.0)
        b.entries(fill[vi], f, 1.0)
        b.entries(need_row[vi], g, eta[vi])
        cells = loc[vi] * H + vt
        b.position(cells, g, 1.0)
        out["cells"].append(cells)
        out["g"].append(g)
        pieces.append({"agent": loc[vi], "g": g, "w": w, "f": f, "draw": draw, "eta": eta[vi]})
    if out["cells"]:
        b.blocks["ev"] = {
            "cells": np.concatenate(out["cells"]),
            "g": np.concatenate(out["g"]),
            "types": pieces,
        }


def _dr_levels(L: int) -> np.ndarray:
    return np.linspace(-1.0, 1.0, L) if L > 1 else np.zeros(1)


def _add_consumer(b: _Builder, population: Population, ag: _Agents, tf: _Tariff) -> None:
    """Demand response as a staircase of binaries: ``r = -m + step * sum_j delta_j`` with
    ``step = 2m/(L-1)``; increment j costs ``flex*(r_j^2 - r_{j-1}^2)``, increasing in j
    (convexity), so an optimum takes a prefix and pays ``flex*r^2`` exactly. No rows."""
    H = tf.H
    p = ag.params
    cells_all: list[np.ndarray]
    cells_all, cols_all, cell_of, m_all, step_all, flex_all = [], [], [], [], [], []
    for code in _kind_codes(population, "consumer"):
        tc = population.config.types[code]
        L = tc.dr_levels
        loc = np.flatnonzero(ag.type_index == code)
        if loc.size == 0 or L < 2 or tc.dr_max_fraction <= 0:
            continue
        m = tc.dr_max_fraction * ag.dr_base[loc]  # (n_c, H)
        ci, ct = np.nonzero(m > _TOL)
        if ci.size == 0:
            continue
        mm = m[ci, ct]
        flex = p["flex_cost_eur_per_kwh2"][loc[ci]] / tf.dt_hours  # EUR per kWh^2 per interval
        lev = _dr_levels(L)  # -1 .. 1
        r = mm[:, None] * lev[None, :]  # (ncell, L)
        inc = flex[:, None] * np.diff(r**2, axis=1)  # (ncell, L-1) EUR
        step = 2.0 * mm / (L - 1)
        delta = b.cols(
            ci.size * (L - 1),
            cost=inc.ravel(),
            ub=1.0,
            integer=True,
            agent=np.repeat(loc[ci], L - 1),
            family=_DISCOMFORT,
        ).reshape(ci.size, L - 1)
        cells = loc[ci] * H + ct
        b.const[loc[ci], ct] += mm  # -r = m - step * sum_j delta_j
        b.position(cells[:, None], delta, -step[:, None])
        b.offset += float((flex * mm**2).sum())
        base = sum(len(c) for c in cells_all)
        cells_all.append(cells)
        cols_all.append(delta.ravel())
        cell_of.append(base + np.repeat(np.arange(ci.size), L - 1))
        m_all.append(mm)
        step_all.append(step)
        flex_all.append(flex)
    if cells_all:
        b.blocks["consumer"] = {
            "cells": np.concatenate(cells_all),
            "cols": np.concatenate(cols_all),
            "cell_of": np.concatenate(cell_of),
            "m": np.concatenate(m_all),
            "step": np.concatenate(step_all),
            "flex": np.concatenate(flex_all),
        }


def _position_bounds(
    b: _Builder, P: sparse.csr_matrix, lb: np.ndarray, ub: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(n*H,) lower and upper bounds of every agent's position."""
    Pp = P.maximum(0)
    Pn = P.minimum(0)
    lb_f = np.where(np.isfinite(lb), lb, -1e12)
    ub_f = np.where(np.isfinite(ub), ub, 1e12)
    hi = b.const.ravel() + Pp @ ub_f + Pn @ lb_f
    lo = b.const.ravel() + Pp @ lb_f + Pn @ ub_f
    return lo, hi


@dataclass
class _Model:
    builder: _Builder
    arrays: dict[str, np.ndarray]
    P: sparse.csr_matrix
    mode: str
    community: dict[str, np.ndarray] = field(default_factory=dict)
    closed_agents: np.ndarray | None = None  # baseline: agents solved in closed form


def _build(
    population: Population, ag: _Agents, tf: _Tariff, mode: str, all_binaries: bool
) -> _Model:
    H = tf.H
    b = _Builder(ag.n, H)
    b.const += ag.x
    _add_storage(b, population, ag, tf, all_binaries)
    _add_ev(b, population, ag, tf)
    if mode == "planner":
        _add_consumer(b, population, ag, tf)
    P0 = b.position_matrix()
    cur = b.finish()
    lo, hi = _position_bounds(b, P0, cur["lb"], cur["ub"])
    model_extra: dict[str, np.ndarray] = {}
    closed: np.ndarray | None
    if mode == "planner":
        s_hi = np.maximum(hi.reshape(ag.n, H).sum(axis=0), 0.0)
        s_lo = np.minimum(lo.reshape(ag.n, H).sum(axis=0), 0.0)
        imp = b.cols(H, cost=tf.buy, ub=s_hi + 1.0, family=_GRID)
        exp = b.cols(H, cost=-tf.sell, ub=-s_lo + 1.0, family=_GRID)
        bal_rhs = -b.const.sum(axis=0)
        bal = b.rows(H, bal_rhs, bal_rhs)
        Pc = P0.tocoo()
        b.entries(bal[Pc.row % H], Pc.col, Pc.data)
        b.entries(bal, imp, -1.0)
        b.entries(bal, exp, 1.0)
        need_z = np.ones(H, dtype=bool) if all_binaries else tf.sell > tf.buy + _TOL
        tz = np.flatnonzero(need_z)
        if tz.size:
            z = b.cols(tz.size, ub=1.0, integer=True)
            r1 = b.rows(tz.size, -np.inf, 0.0)
            b.entries(r1, imp[tz], 1.0)
            b.entries(r1, z, -(s_hi[tz] + 1.0))
            r2 = b.rows(tz.size, -np.inf, -s_lo[tz] + 1.0)
            b.entries(r2, exp[tz], 1.0)
            b.entries(r2, z, -s_lo[tz] + 1.0)
            b.blocks["z"] = {"z": z, "t": tz}
        model_extra = {"imports": imp, "exports": exp}
        closed = None
    else:
        # per-agent buy/sell for the cells with a decision; the others in closed form
        Pc = P0.tocoo()
        cells = np.unique(Pc.row)
        ci, ct = cells // H, cells % H
        up, down = np.maximum(hi[cells], 0) + 1.0, np.maximum(-lo[cells], 0) + 1.0
        yp = b.cols(cells.size, cost=tf.buy[ct], ub=up, agent=ci, family=_GRID)
        yn = b.cols(cells.size, cost=-tf.sell[ct], ub=down, agent=ci, family=_GRID)
        rhs = b.const.ravel()[cells]
        rows = b.rows(cells.size, -rhs, -rhs)
        where = np.searchsorted(cells, Pc.row)
        b.entries(rows[where], Pc.col, Pc.data)
        b.entries(rows, yp, -1.0)
        b.entries(rows, yn, 1.0)
        model_extra = {"yp": yp, "yn": yn, "cells": cells}
        closed = np.ones(ag.n * H, dtype=bool)
        closed[cells] = False
        closed = closed.reshape(ag.n, H)
    arrays = b.finish()
    P = sparse.csr_matrix((P0.data, P0.indices, P0.indptr), shape=(ag.n * H, b.ncol))
    return _Model(
        builder=b, arrays=arrays, P=P, mode=mode, community=model_extra, closed_agents=closed
    )


# --------------------------------------------------------------------------------------------
# solving
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Solve:
    x: np.ndarray
    status: str
    objective: float
    dual_bound: float
    mip_gap: float
    seconds: float
    nodes: int
    method: str


def _solve(
    model: _Model,
    *,
    relax: bool,
    time_limit_s: float,
    mip_rel_gap: float,
    threads: int,
    seed: int,
    lp_rounding: bool,
) -> _Solve:
    a = model.arrays
    ncol, nrow = a["cost"].shape[0], a["row_lb"].shape[0]
    offset = model.builder.offset
    if ncol == 0:
        return _Solve(np.zeros(0), "Optimal", offset, offset, 0.0, 0.0, 0, "no variables")
    A = sparse.csc_matrix((a["ev"], (a["er"], a["ec"])), shape=(nrow, ncol))
    A.sum_duplicates()
    lp = highspy.HighsLp()
    lp.num_col_ = ncol
    lp.num_row_ = nrow
    lp.col_cost_ = a["cost"]
    lp.col_lower_ = a["lb"]
    lp.col_upper_ = np.where(np.isfinite(a["ub"]), a["ub"], highspy.kHighsInf)
    lp.row_lower_ = np.where(np.isfinite(a["row_lb"]), a["row_lb"], -highspy.kHighsInf)
    lp.row_upper_ = np.where(np.isfinite(a["row_ub"]), a["row_ub"], highspy.kHighsInf)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.num_col_ = ncol
    lp.a_matrix_.num_row_ = nrow
    lp.a_matrix_.start_ = A.indptr.astype(np.int32)
    lp.a_matrix_.index_ = A.indices.astype(np.int32)
    lp.a_matrix_.value_ = A.data
    lp.offset_ = offset
    is_mip = bool(a["integer"].any()) and not relax
    h = _quiet_highs()
    h.setOptionValue("mip_rel_gap", float(mip_rel_gap))
    h.setOptionValue("threads", int(threads))
    h.setOptionValue("random_seed", int(seed))
    t0 = time.perf_counter()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.passModel(lp)
    if is_mip and lp_rounding:
        done = _lp_then_round(h, model, lp, mip_rel_gap, time_limit_s, t0)
        if done is not None:
            return done
    elif is_mip:
        _make_integer(h, np.flatnonzero(a["integer"]).astype(np.int32))
    _run_highs(h)
    seconds = time.perf_counter() - t0
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    sol = h.getSolution()
    if not sol.value_valid:
        advice = (
            f"raise time_limit_s={time_limit_s:g} or plan fewer agents"
            if "time limit" in status.lower()
            else "numerical trouble: check the scale of the net demand and prices"
        )
        raise SolverError(
            f"the planner's MILP found no schedule (HiGHS status {status!r}); {advice}"
        )
    x = np.asarray(sol.col_value, dtype=np.float64)
    objective = float(info.objective_function_value)
    if is_mip:
        dual = float(info.mip_dual_bound)
        gap = float(info.mip_gap)
        nodes = int(info.mip_node_count)
        method = "branch-and-bound"
    else:
        dual, gap, nodes, method = objective, 0.0, 0, "LP relaxation"
    return _Solve(x, status, objective, dual, gap, seconds, nodes, method)


_MIP_ABS_GAP = 1e-6  # EUR, HiGHS's default mip_abs_gap


def _lp_then_round(
    h: highspy.Highs,
    model: _Model,
    lp: highspy.HighsLp,
    mip_rel_gap: float,
    time_limit_s: float,
    t0: float,
) -> _Solve | None:
    """Solve the LP relaxation (a lower bound), round every integer (:func:`_rounded_start`)
    and re-solve the LP over the continuous variables (a feasible schedule). When the two
    are within the requested gap (HiGHS's criterion: relative to the incumbent, or 1e-6 EUR
    absolute), that is the answer, with the LP value as the dual bound; otherwise the model
    is left as a MIP with the rounded schedule as its start for branch-and-bound (None)."""
    a = model.arrays
    int_cols = np.flatnonzero(a["integer"]).astype(np.int32)
    _run_highs(h)
    if not h.getSolution().value_valid or h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        h.passModel(lp)
        _make_integer(h, int_cols)
        return None
    bound = float(h.getInfo().objective_function_value)
    x_lp = np.asarray(h.getSolution().col_value, dtype=np.float64)
    idx, vals = _rounded_start(model, x_lp)
    start: np.ndarray | None = None
    if np.array_equal(np.sort(idx), int_cols):
        ii = idx.astype(np.int32)
        h.changeColsBounds(ii.size, ii, vals, vals)
        h.setOptionValue("time_limit", max(time_limit_s - (time.perf_counter() - t0), 1.0))
        _run_highs(h)
        ok = h.getModelStatus() == highspy.HighsModelStatus.kOptimal
        if ok and h.getSolution().value_valid:
            upper = float(h.getInfo().objective_function_value)
            start = np.asarray(h.getSolution().col_value, dtype=np.float64)
            gap_abs = max(upper - bound, 0.0)
            gap = gap_abs / abs(upper) if upper != 0 else (0.0 if gap_abs == 0 else math.inf)
            if gap <= mip_rel_gap or gap_abs <= _MIP_ABS_GAP:
                seconds = time.perf_counter() - t0
                return _Solve(start, "Optimal", upper, bound, gap, seconds, 0, "rounded LP")
        h.changeColsBounds(ii.size, ii, a["lb"][ii], a["ub"][ii])
    _make_integer(h, int_cols)
    if start is not None:
        h.setSolution(int(start.size), np.arange(start.size, dtype=np.int32), start)
    elif idx.size:
        h.setSolution(int(idx.size), idx.astype(np.int32), vals)
    h.setOptionValue("time_limit", max(time_limit_s - (time.perf_counter() - t0), 1.0))
    return None


_HIGHS_LOCK = threading.Lock()


def _run_highs(h: highspy.Highs) -> None:
    """``h.run()``; once more after resetting HiGHS's process-wide thread scheduler when an
    earlier solve in this process (e.g. cvxpy's HiGHS in ``risk.cvar_lp``) set it up with
    another thread count: HiGHS then refuses to run ("Option 'threads' is set to 1 but the
    scheduler has already been initialized to use 2 threads") and leaves no solution."""
    status = h.run()
    if (
        status == highspy.HighsStatus.kError
        and h.getModelStatus() == highspy.HighsModelStatus.kNotset
    ):
        with _HIGHS_LOCK:
            highspy.Highs.resetGlobalScheduler(True)
        h.run()


def _quiet_highs() -> highspy.Highs:
    """A ``highspy.Highs`` with its log off. highspy >= 1.16 writes its banner to file
    descriptor 1 while constructing the object, before any option can be set, which would
    corrupt ``--json`` output: file descriptor 1 points to /dev/null for that moment."""
    with _HIGHS_LOCK:
        if sys.stdout is not None:
            sys.stdout.flush()
        try:
            saved = os.dup(1)
        except OSError:  # no file descriptor 1 (a closed stdout): nothing to keep clean
            h = highspy.Highs()
            h.setOptionValue("output_flag", False)
            return h
        try:
            with open(os.devnull, "wb") as null:
                os.dup2(null.fileno(), 1)
                h = highspy.Highs()
                h.setOptionValue("output_flag", False)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    return h


def _make_integer(h: highspy.Highs, cols: np.ndarray) -> None:
    h.changeColsIntegrality(cols.size, cols, np.full(cols.size, highspy.HighsVarType.kInteger))


def _rounded_start(model: _Model, x_lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns, values) of a partial MIP start rounded from the LP relaxation: demand
    response to the nearest level (a prefix of the staircase), ``b = [c >= d]``,
    ``z = [I >= X]``, EV levels by :func:`_rounded_ev`."""
    idx: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    blocks = model.builder.blocks
    cons = blocks.get("consumer")
    if cons is not None:
        ncell = cons["cells"].shape[0]
        k = np.rint(np.bincount(cons["cell_of"], weights=x_lp[cons["cols"]], minlength=ncell))
        # position of each column within its cell's staircase (cells are contiguous)
        first = np.searchsorted(cons["cell_of"], np.arange(ncell))
        j = np.arange(cons["cols"].shape[0]) - first[cons["cell_of"]]
        idx.append(cons["cols"])
        vals.append((j < k[cons["cell_of"]]).astype(np.float64))
    st = blocks.get("storage")
    if st is not None and st["b"].size:
        si, ti = st["b_cells"]
        c, d = x_lp[st["c"][si, ti]], x_lp[st["d"][si, ti]]
        idx.append(st["b"])
        vals.append((c >= d).astype(np.float64))
    ev = blocks.get("ev")
    for piece in ev["types"] if ev is not None else ():
        i, v = _rounded_ev(piece, x_lp)
        idx.append(i)
        vals.append(v)
    zb = blocks.get("z")
    if zb is not None:
        imp = x_lp[model.community["imports"][zb["t"]]]
        exp = x_lp[model.community["exports"][zb["t"]]]
        idx.append(zb["z"])
        vals.append((imp >= exp).astype(np.float64))
    if not idx:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(idx), np.concatenate(vals)


def _rounded_ev(piece: dict[str, np.ndarray], x_lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EV levels rounded from the LP: each EV delivers the LP's energy, at the top level in
    the intervals where the LP draws most, with one partial interval at the smallest level
    that covers the remainder (feasible: at most one partial, never above the need)."""
    agent, g_lp = piece["agent"], x_lp[piece["g"]]
    draw, eta = piece["draw"], piece["eta"]
    npair, L = draw.shape
    order = np.lexsort((-g_lp, agent))
    a_o = agent[order]
    full_e = eta[order] * draw[order, -1]  # delivered at the top level
    target = np.bincount(a_o, weights=eta[order] * g_lp[order], minlength=int(a_o.max()) + 1)
    cum = np.cumsum(full_e)
    start = np.r_[0, np.flatnonzero(np.diff(a_o)) + 1]
    seg = np.repeat(start, np.diff(np.r_[start, npair]))
    before = cum - full_e - np.where(seg > 0, cum[seg - 1], 0.0)  # delivered by earlier pairs
    tgt = target[a_o]
    full = before + full_e <= tgt + 1e-9
    rest = tgt - before
    partial = ~full & (rest > 1e-9)
    # smallest level whose delivered energy covers the remainder
    covers = eta[order, None] * draw[order] >= rest[:, None] - 1e-12
    level = np.where(covers.any(axis=1), covers.argmax(axis=1), L - 1)
    w = np.zeros((npair, L))
    w[full, -1] = 1.0
    w[partial, level[partial]] = 1.0
    f = partial.astype(np.float64)
    idx = np.concatenate([piece["w"][order].ravel(), piece["f"][order]])
    return idx, np.concatenate([w.ravel(), f])


def _net_storage(model: _Model, x: np.ndarray) -> np.ndarray:
    """Net simultaneous charge/discharge where no binary forbids it (same SoC path)."""
    blk = model.builder.blocks.get("storage")
    if blk is None:
        return x
    x = x.copy()
    c, d = x[blk["c"]], x[blk["d"]]
    both = (c > _SOL_TOL) & (d > _SOL_TOL) & ~blk["binary"]
    if both.any():
        eta_c = np.broadcast_to(blk["eta_c"][:, None], c.shape)
        eta_d = np.broadcast_to(blk["eta_d"][:, None], c.shape)
        delta = eta_c * c - d / eta_d  # SoC change, kept
        c_new = np.where(delta > 0, delta / eta_c, 0.0)
        d_new = np.where(delta > 0, 0.0, -delta * eta_d)
        x[blk["c"][both]] = c_new[both]
        x[blk["d"][both]] = d_new[both]
    return x


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PlannerResult:
    """Outcome of :func:`plan_community` (``mode="planner"``) or :func:`baseline_cost`
    (``mode="baseline"``) for one day. Costs in EUR (totals over all N agents, estimated from
    the sample when ``sampled``), energies in kWh.

    ``cost_eur`` = ``grid_cost_eur + degradation_eur + discomfort_eur + unmet_penalty_eur``;
    ``objective_eur``/``dual_bound_eur``/``mip_gap`` from HiGHS for the solved agents (the
    sample when sampled; ``cost_eur`` may be slightly below the objective after netting any
    slack simultaneous charge/discharge); ``status`` HiGHS's model status. Per interval (H,):
    ``imports_kwh``/``exports_kwh`` of the solved agents (the community's for the planner, the
    sum of the agents' own for the baseline), ``marginal_price_eur_per_mwh`` (the price used to
    allocate the grid cost to agents), ``simultaneous_import_export_kwh`` and
    ``simultaneous_charge_discharge_kwh`` (diagnostics of the raw solver solution).
    ``positions_kwh`` (n, H): the solved agents' grid positions; ``agent_cost_eur`` (n,) their
    cost contributions; ``agent_index``/``agent_type_index`` (n,): their positions in the
    population and type codes. Sampling: ``sampled``, ``sample_size``, ``cost_std_error_eur``,
    ``cost_bias_bound_eur``, ``cost_gap_eur`` (the MIP gap, scaled) and
    ``cost_error_bound_eur`` = z * SE + bias + gap (module doc).
    """

    mode: str
    n_agents: int
    sample_size: int
    sampled: bool
    cost_eur: float
    cost_per_agent_eur: float
    grid_cost_eur: float
    degradation_eur: float
    discomfort_eur: float
    unmet_penalty_eur: float
    type_costs_eur: Mapping[str, float]
    type_counts: Mapping[str, int]
    objective_eur: float
    dual_bound_eur: float
    mip_gap: float
    status: str
    solve_s: float
    build_s: float
    mip_nodes: int
    solve_method: str
    n_variables: int
    n_binaries: int
    n_integers: int
    n_constraints: int
    cost_std_error_eur: float
    cost_bias_bound_eur: float
    cost_error_bound_eur: float
    imports_kwh: np.ndarray
    exports_kwh: np.ndarray
    marginal_price_eur_per_mwh: np.ndarray
    simultaneous_import_export_kwh: np.ndarray
    simultaneous_charge_discharge_kwh: np.ndarray
    positions_kwh: np.ndarray
    agent_cost_eur: np.ndarray
    agent_index: np.ndarray
    agent_type_index: np.ndarray
    cost_gap_eur: float
    wholesale_eur_per_mwh: np.ndarray
    buy_eur_per_mwh: np.ndarray
    sell_eur_per_mwh: np.ndarray
    index: pd.Index
    relaxed: bool = False
    settings: Mapping[str, Any] = field(default_factory=dict)

    @property
    def type_cost_per_agent_eur(self) -> dict[str, float]:
        """Mean cost per agent of each type (NaN for an empty type)."""
        return {
            k: (v / self.type_counts[k] if self.type_counts[k] else float("nan"))
            for k, v in self.type_costs_eur.items()
        }

    @property
    def mip_gap_eur(self) -> float:
        """Absolute gap of the solved problem, objective - dual bound (EUR)."""
        return float(self.objective_eur - self.dual_bound_eur)

    def to_frame(self) -> pd.DataFrame:
        """One row per interval: prices (EUR/MWh), ``imports_kwh``, ``exports_kwh``,
        ``net_kwh``, ``marginal_price_eur_per_mwh`` and the simultaneity diagnostics."""
        frame = pd.DataFrame(
            {
                "wholesale_eur_per_mwh": self.wholesale_eur_per_mwh,
                "buy_eur_per_mwh": self.buy_eur_per_mwh,
                "sell_eur_per_mwh": self.sell_eur_per_mwh,
                "imports_kwh": self.imports_kwh,
                "exports_kwh": self.exports_kwh,
                "net_kwh": self.imports_kwh - self.exports_kwh,
                "marginal_price_eur_per_mwh": self.marginal_price_eur_per_mwh,
                "simultaneous_import_export_kwh": self.simultaneous_import_export_kwh,
                "simultaneous_charge_discharge_kwh": self.simultaneous_charge_discharge_kwh,
            },
            index=self.index,
        )
        frame.attrs.update(self.to_dict())
        return frame

    def type_frame(self) -> pd.DataFrame:
        """One row per type: ``count``, ``cost_eur`` (total) and ``cost_per_agent_eur``."""
        per = self.type_cost_per_agent_eur
        return pd.DataFrame(
            {
                "count": pd.Series(self.type_counts, dtype="int64"),
                "cost_eur": pd.Series(self.type_costs_eur, dtype="float64"),
                "cost_per_agent_eur": pd.Series(per, dtype="float64"),
            }
        ).rename_axis("type")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-agent arrays)."""
        return {
            "mode": self.mode,
            "n_agents": self.n_agents,
            "sample_size": self.sample_size,
            "sampled": self.sampled,
            "relaxed": self.relaxed,
            "cost_eur": self.cost_eur,
            "cost_per_agent_eur": self.cost_per_agent_eur,
            "grid_cost_eur": self.grid_cost_eur,
            "degradation_eur": self.degradation_eur,
            "discomfort_eur": self.discomfort_eur,
            "unmet_penalty_eur": self.unmet_penalty_eur,
            "type_costs_eur": dict(self.type_costs_eur),
            "type_counts": dict(self.type_counts),
            "objective_eur": self.objective_eur,
            "dual_bound_eur": self.dual_bound_eur,
            "mip_gap": self.mip_gap,
            "status": self.status,
            "solve_s": self.solve_s,
            "build_s": self.build_s,
            "mip_nodes": self.mip_nodes,
            "solve_method": self.solve_method,
            "n_variables": self.n_variables,
            "n_binaries": self.n_binaries,
            "n_integers": self.n_integers,
            "n_constraints": self.n_constraints,
            "cost_std_error_eur": self.cost_std_error_eur,
            "cost_bias_bound_eur": self.cost_bias_bound_eur,
            "cost_gap_eur": self.cost_gap_eur,
            "cost_error_bound_eur": self.cost_error_bound_eur,
            "peak_import_kwh": float(self.imports_kwh.max()),
            "settings": dict(self.settings),
        }


def _closed_form_costs(
    population: Population, ag: _Agents, tf: _Tariff, closed: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Baseline cells without a MILP decision: (grid cost (n,H), discomfort (n,H), position
    (n,H)); consumers choose their best level per interval (exact enumeration)."""
    x = ag.x
    grid = np.where(x > 0, tf.buy * x, tf.sell * x)
    disc = np.zeros_like(x)
    pos = x.copy()
    for code in _kind_codes(population, "consumer"):
        tc = population.config.types[code]
        loc = np.flatnonzero(ag.type_index == code)
        if loc.size == 0 or tc.dr_levels < 2 or tc.dr_max_fraction <= 0:
            continue
        lev = _dr_levels(tc.dr_levels)
        lev = lev[np.argsort(np.abs(lev), kind="stable")]  # ties -> no action (as the DP)
        m = tc.dr_max_fraction * ag.dr_base[loc]
        r = m[:, :, None] * lev[None, None, :]  # (n_c, H, L)
        y = x[loc][:, :, None] - r
        g = np.where(y > 0, tf.buy[None, :, None] * y, tf.sell[None, :, None] * y)
        dc = ag.params["flex_cost_eur_per_kwh2"][loc][:, None, None] * r**2 / tf.dt_hours
        best = np.argmin(g + dc, axis=2)
        take = np.take_along_axis
        grid[loc] = take(g, best[:, :, None], axis=2)[:, :, 0]
        disc[loc] = take(dc, best[:, :, None], axis=2)[:, :, 0]
        pos[loc] = take(y, best[:, :, None], axis=2)[:, :, 0]
    return np.where(closed, grid, 0.0), np.where(closed, disc, 0.0), pos


@dataclass(frozen=True)
class _Evaluation:
    positions: np.ndarray  # (n, H)
    agent_cost: np.ndarray  # (n,)
    parts: dict[str, float]
    imports: np.ndarray
    exports: np.ndarray
    marginal: np.ndarray  # EUR/kWh
    sim_ie: np.ndarray
    sim_cd: np.ndarray
    offset: float  # EUR of the closed-form part (baseline), outside the MILP objective
    agent_parts: dict[str, np.ndarray]  # (n,) EUR each: degradation, unmet, discomfort


def _evaluate(
    population: Population, ag: _Agents, tf: _Tariff, model: _Model, sol: _Solve, relax: bool
) -> _Evaluation:
    H, n = tf.H, ag.n
    a = model.arrays
    raw = sol.x
    blk = model.builder.blocks.get("storage")
    sim_cd = np.zeros(H)
    if blk is not None and raw.size:
        sim_cd = np.minimum(raw[blk["c"]], raw[blk["d"]]).sum(axis=0)
    x = raw if relax else _net_storage(model, raw)
    if x.size:
        pos = model.builder.const.ravel() + model.P @ x
    else:
        pos = model.builder.const.ravel().copy()
    pos = pos.reshape(n, H)
    own_cols = np.isin(a["family"], [_DEGRADATION, _UNMET]) & (a["agent"] >= 0)
    contrib = a["cost"] * x if x.size else np.zeros(0)
    own = np.bincount(a["agent"][own_cols], weights=contrib[own_cols], minlength=n).astype(float)
    fam = a["family"]
    agent_parts = {
        name: np.bincount(
            a["agent"][own_cols & (fam == f)], weights=contrib[own_cols & (fam == f)], minlength=n
        ).astype(float)
        for name, f in (("degradation", _DEGRADATION), ("unmet", _UNMET))
    }
    agent_parts["discomfort"] = np.zeros(n)
    parts = {
        "degradation": float(contrib[fam == _DEGRADATION].sum()),
        "unmet": float(contrib[fam == _UNMET].sum()),
        "discomfort": 0.0,
    }
    cons = model.builder.blocks.get("consumer")
    if cons is not None:  # discomfort of the demand response actually scheduled
        ncell = cons["cells"].shape[0]
        k = np.bincount(cons["cell_of"], weights=x[cons["cols"]], minlength=ncell)
        if relax:  # the LP's piecewise-linear cost
            inc = np.bincount(cons["cell_of"], weights=contrib[cons["cols"]], minlength=ncell)
            disc = cons["flex"] * cons["m"] ** 2 + inc
        else:
            r = -cons["m"] + cons["step"] * np.rint(k)
            disc = cons["flex"] * r**2
        disc_agent = np.bincount(cons["cells"] // H, weights=disc, minlength=n)
        own += disc_agent
        agent_parts["discomfort"] += disc_agent
        parts["discomfort"] = float(disc.sum())
    if model.mode == "planner":
        s = pos.sum(axis=0)
        if relax:
            imp = x[model.community["imports"]]
            exp = x[model.community["exports"]]
            grid = float(tf.buy @ imp - tf.sell @ exp)
        else:
            imp, exp = np.maximum(s, 0.0), np.maximum(-s, 0.0)
            grid = float(tf.buy @ imp - tf.sell @ exp)
        sim_ie = np.minimum(raw[model.community["imports"]], raw[model.community["exports"]])
        scale = max(1.0, float(np.abs(pos).sum(axis=0).max()))
        tol = 1e-7 * scale
        marginal = np.where(s > tol, tf.buy, np.where(s < -tol, tf.sell, 0.5 * (tf.buy + tf.sell)))
        agent_cost = own + pos @ marginal
        if relax:  # the LP's own grid cost (it may import and export at once)
            agent_cost = agent_cost + (grid - float(marginal @ s)) / max(n, 1)
    else:
        closed = model.closed_agents
        assert closed is not None
        grid_c, disc_c, pos_c = _closed_form_costs(population, ag, tf, closed)
        pos = np.where(closed, pos_c, pos)
        yp: np.ndarray | None
        yn: np.ndarray | None
        if relax:
            yp, yn = model.community["yp"], model.community["yn"]
            cells = model.community["cells"]
            g_cell = tf.buy[cells % H] * x[yp] - tf.sell[cells % H] * x[yn]
            grid_agent = np.bincount(cells // H, weights=g_cell, minlength=n)
            sim = np.minimum(x[yp], x[yn])
            sim_ie = np.bincount(cells % H, weights=sim, minlength=H)
        else:
            g_cell = np.where(pos > 0, tf.buy * pos, tf.sell * pos)
            grid_agent = np.where(closed, 0.0, g_cell).sum(axis=1)
            yp, yn = model.community.get("yp"), model.community.get("yn")
            if yp is not None and raw.size:
                cells = model.community["cells"]
                sim = np.minimum(raw[yp], raw[yn])
                sim_ie = np.bincount(cells % H, weights=sim, minlength=H)
            else:
                sim_ie = np.zeros(H)
        grid_agent = grid_agent + grid_c.sum(axis=1)
        own = own + disc_c.sum(axis=1)
        agent_parts["discomfort"] += disc_c.sum(axis=1)
        parts["discomfort"] += float(disc_c.sum())
        grid = float(grid_agent.sum())
        agent_cost = own + grid_agent
        imp = np.maximum(pos, 0.0).sum(axis=0)
        exp = np.maximum(-pos, 0.0).sum(axis=0)
        marginal = np.full(H, np.nan)
    parts["grid"] = grid
    offset = float(grid_c.sum() + disc_c.sum()) if model.mode == "baseline" else 0.0
    return _Evaluation(
        pos, agent_cost, parts, imp, exp, marginal, sim_ie, sim_cd, offset, agent_parts
    )


def _strata(population: Population, ag: _Agents) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """(N_h, n_h, members of each stratum in the solved set)."""
    T = len(population.type_names)
    N_h = np.bincount(population.type_index, minlength=T).astype(np.float64)
    members = [np.flatnonzero(ag.type_index == h) for h in range(T)]
    n_h = np.array([m.size for m in members], dtype=np.float64)
    return N_h, n_h, members


def _stratified_total(
    values: np.ndarray, N_h: np.ndarray, n_h: np.ndarray, members: list[np.ndarray]
) -> tuple[np.ndarray, float]:
    """Per-stratum estimated totals (T, ...) and the variance of the grand total."""
    totals = []
    var = 0.0
    for h, mem in enumerate(members):
        if mem.size == 0:
            totals.append(np.zeros(values.shape[1:]))
            continue
        v = values[mem]
        totals.append(N_h[h] * v.mean(axis=0))
        if mem.size > 1 and values.ndim == 1:
            fpc = 1.0 - n_h[h] / N_h[h]
            var += N_h[h] ** 2 * fpc * float(v.var(ddof=1)) / n_h[h]
    return np.asarray(totals), var


def _mean_se(
    values: np.ndarray, N_h: np.ndarray, n_h: np.ndarray, members: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Stratified estimate of the population mean of (n, H) values and its standard error."""
    N = N_h.sum()
    mean = np.zeros(values.shape[1])
    var = np.zeros(values.shape[1])
    for h, mem in enumerate(members):
        if mem.size == 0:
            continue
        v = values[mem]
        W = N_h[h] / N
        mean += W * v.mean(axis=0)
        if mem.size > 1:
            var += W**2 * (1.0 - n_h[h] / N_h[h]) * v.var(axis=0, ddof=1) / n_h[h]
    return mean, np.sqrt(var)


def _normal_loss(k: np.ndarray) -> np.ndarray:
    """E[(Z - k)^+] for a standard normal Z."""
    return stats.norm.pdf(k) - k * stats.norm.sf(k)


def _run(
    mode: str,
    population: Population,
    net_demand_kwh: NetDemand,
    wholesale_eur_per_mwh: ArrayLike,
    *,
    retail_adder_eur_per_mwh: float | None,
    export_discount_eur_per_mwh: float | None,
    dt_hours: float | None,
    clock_hour: ArrayLike | None,
    shapes: Any,
    dr_base_kwh: NetDemand | None,
    time_limit_s: float,
    mip_rel_gap: float,
    threads: int,
    max_exact_agents: int,
    sample_seed: int,
    z_score: float,
    all_binaries: bool,
    relax: bool,
    lp_rounding: bool,
) -> PlannerResult:
    t_start = time.perf_counter()
    if not isinstance(population, Population):
        raise InvalidParameterError(
            f"population must be a Population, got {type(population).__name__}"
        )
    tf = _tariff(
        wholesale_eur_per_mwh,
        population.config,
        retail_adder_eur_per_mwh,
        export_discount_eur_per_mwh,
        dt_hours,
        clock_hour,
        shapes,
    )
    time_limit_s = check_real(time_limit_s, "time_limit_s")
    mip_rel_gap = check_real(mip_rel_gap, "mip_rel_gap")
    z_score = check_real(z_score, "z_score")
    if time_limit_s <= 0 or mip_rel_gap < 0 or z_score < 0:
        raise InvalidParameterError("time_limit_s must be > 0, mip_rel_gap and z_score >= 0")
    threads = check_int(threads, "threads", 1)
    max_exact = check_int(max_exact_agents, "max_exact_agents", 2)
    seed = check_int(sample_seed, "sample_seed", 0)
    N = population.n_agents
    if N == 0:  # nobody to plan for: ZeroDivisionError in the per-agent figures
        raise InvalidParameterError("population has no agents")
    sampled = N > max_exact
    idx = stratified_sample(population.type_index, max_exact, seed=seed) if sampled else None
    if idx is None:
        idx = np.arange(N)
    ag = _agents(population, idx, net_demand_kwh, dr_base_kwh, tf.H)
    model = _build(population, ag, tf, mode, all_binaries)
    build_s = time.perf_counter() - t_start
    sol = _solve(
        model,
        relax=relax,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        seed=seed,
        lp_rounding=lp_rounding,
    )
    ev = _evaluate(population, ag, tf, model, sol, relax)

    # totals: exact, or stratified estimates
    N_h, n_h, members = _strata(population, ag)
    type_tot, var = _stratified_total(ev.agent_cost, N_h, n_h, members)
    names = population.type_names
    abs_gap = max(sol.objective - sol.dual_bound, 0.0)
    if sampled:
        cost = float(type_tot.sum())
        scale = N / ag.n
        # each part estimated as the total is (stratified), so that they add up to it
        per_agent = dict(ev.agent_parts)
        per_agent["grid"] = ev.agent_cost - sum(ev.agent_parts.values())
        parts = {
            k: float(_stratified_total(v, N_h, n_h, members)[0].sum()) for k, v in per_agent.items()
        }
        se = math.sqrt(var)
        bias = 0.0
        if mode == "planner":
            m_opt, se_opt = _mean_se(ev.positions, N_h, n_h, members)
            _, se_raw = _mean_se(ag.x, N_h, n_h, members)
            se_t = np.maximum(se_opt, se_raw)
            with np.errstate(divide="ignore", invalid="ignore"):
                k = np.where(se_t > 0, np.abs(m_opt) / se_t, np.inf)
            loss = np.where(np.isfinite(k), se_t * _normal_loss(np.minimum(k, 1e6)), 0.0)
            bias = float(N * ((tf.buy - tf.sell) * loss).sum())
        gap_term = scale * abs_gap
    else:
        cost = float(ev.agent_cost.sum())
        parts = dict(ev.parts)
        se, bias, gap_term = 0.0, 0.0, abs_gap
    bound = z_score * se + bias + gap_term
    if not relax and not sampled:  # exact bookkeeping: the parts add up to the total
        cost = float(sum(parts.values()))
    a = model.arrays
    is_int = a["integer"]
    n_bin = int((is_int & (a["lb"] == 0) & (a["ub"] == 1)).sum())
    for arr in (ev.imports, ev.exports, ev.marginal, ev.sim_ie, ev.sim_cd, ev.positions):
        arr.flags.writeable = False
    for arr in (ev.agent_cost, idx, ag.type_index, tf.wholesale, tf.buy, tf.sell):
        arr.flags.writeable = False
    return PlannerResult(
        mode=mode,
        n_agents=N,
        sample_size=ag.n,
        sampled=sampled,
        cost_eur=cost,
        cost_per_agent_eur=cost / N,
        grid_cost_eur=parts["grid"],
        degradation_eur=parts["degradation"],
        discomfort_eur=parts["discomfort"],
        unmet_penalty_eur=parts["unmet"],
        type_costs_eur={n: float(v) for n, v in zip(names, type_tot, strict=True)},
        type_counts=population.type_counts(),
        objective_eur=sol.objective + ev.offset,
        dual_bound_eur=sol.dual_bound + ev.offset,
        mip_gap=sol.mip_gap,
        status=sol.status,
        solve_s=sol.seconds,
        build_s=build_s,
        mip_nodes=sol.nodes,
        solve_method=sol.method,
        n_variables=int(a["cost"].shape[0]),
        n_binaries=n_bin,
        n_integers=int(is_int.sum()) - n_bin,
        n_constraints=int(a["row_lb"].shape[0]),
        cost_std_error_eur=se,
        cost_bias_bound_eur=bias,
        cost_error_bound_eur=bound,
        imports_kwh=ev.imports,
        exports_kwh=ev.exports,
        marginal_price_eur_per_mwh=ev.marginal * _KWH_PER_MWH,
        simultaneous_import_export_kwh=ev.sim_ie,
        simultaneous_charge_discharge_kwh=ev.sim_cd,
        positions_kwh=ev.positions,
        agent_cost_eur=ev.agent_cost,
        agent_index=idx,
        agent_type_index=ag.type_index,
        cost_gap_eur=gap_term,
        wholesale_eur_per_mwh=tf.wholesale,
        buy_eur_per_mwh=tf.buy * _KWH_PER_MWH,
        sell_eur_per_mwh=tf.sell * _KWH_PER_MWH,
        index=tf.index,
        relaxed=relax,
        settings={
            "time_limit_s": time_limit_s,
            "mip_rel_gap": mip_rel_gap,
            "threads": threads,
            "max_exact_agents": max_exact,
            "sample_seed": seed,
            "z_score": z_score,
            "all_binaries": all_binaries,
            "lp_rounding": lp_rounding,
            "dt_hours": tf.dt_hours,
        },
    )


def expected_load_kwh(population: Population, shapes: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``f(indices) -> (len(indices), H)``: each agent's expected load in kWh per interval on
    ``shapes`` (``load_kwh_per_day_i * load_shape_t``, a ``DayShapes``).

    Pass it as ``dr_base_kwh`` with the shapes the agents planned on: the market's consumers
    scale their demand-response levels by that load (:mod:`market.clearing`), so the planner
    and the baseline then have exactly the market's options (the default base, the realised
    load, gives them other levels, and a small market could beat its "optimum")."""
    load = population.load_kwh_per_day  # no copy: only the asked rows are converted
    shape = np.asarray(shapes.load_shape, dtype=np.float64)
    N = load.shape[0]

    def rows(idx: np.ndarray) -> np.ndarray:
        arr = np.asarray(idx)
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise InvalidParameterError(f"rows must be integer agent indices, got {arr.dtype}")
        bad = arr[(arr < 0) | (arr >= N)] if arr.size else arr
        if bad.size:  # a negative index would wrap around to another agent
            raise InvalidParameterError(f"rows must be agent indices in 0..{N - 1}, got {bad[0]}")
        own = np.asarray(load[np.asarray(arr, dtype=np.int64)], dtype=np.float64)
        return own[:, None] * shape[None, :]

    return rows


_COMMON_DOC = """
    population: the agents (a :class:`agents.population.Population`; slice it for a subset);
    net_demand_kwh: (N, H) realised net demand in kWh (array or memmap), or a callable
    ``f(indices) -> (len(indices), H)`` giving the rows of the agents asked for (only the
    sample's rows are requested when N > ``max_exact_agents``); wholesale_eur_per_mwh: (H,)
    day-ahead price. Tariff: ``retail_adder_eur_per_mwh``/``export_discount_eur_per_mwh``
    (default: the population's configuration). Time: ``shapes`` (a ``DayShapes``: interval
    length, local clock hours for the EV windows, UTC index) or ``dt_hours``/``clock_hour``
    (default 1 h, ``t * dt``). ``dr_base_kwh``: (N, H) energy the consumers' demand-response
    levels are fractions of, or a callable as ``net_demand_kwh`` (default the realised load
    ``max(x, 0)``; :func:`expected_load_kwh` gives the market's base). Solver: HiGHS with
    ``time_limit_s``, ``mip_rel_gap``, ``threads``; ``relax=True`` solves the LP relaxation;
    ``lp_rounding`` (default): first the LP relaxation and a rounded schedule, accepted when
    within ``mip_rel_gap`` of the LP bound, else HiGHS's branch-and-bound from it
    (``solve_method`` says which); ``lp_rounding=False``: HiGHS's MIP solver from scratch.
    Sampling: ``max_exact_agents``, ``sample_seed``, ``z_score`` (module doc).
"""


def plan_community(
    population: Population,
    net_demand_kwh: NetDemand,
    wholesale_eur_per_mwh: ArrayLike,
    *,
    retail_adder_eur_per_mwh: float | None = None,
    export_discount_eur_per_mwh: float | None = None,
    shapes: Any = None,
    dt_hours: float | None = None,
    clock_hour: ArrayLike | None = None,
    dr_base_kwh: NetDemand | None = None,
    time_limit_s: float = 300.0,
    mip_rel_gap: float = 1e-4,
    threads: int = 1,
    max_exact_agents: int = DEFAULT_MAX_EXACT_AGENTS,
    sample_seed: int = 0,
    z_score: float = 2.0,
    all_binaries: bool = False,
    relax: bool = False,
    lp_rounding: bool = True,
) -> PlannerResult:
    """The social planner's optimum: every agent scheduled to minimise the community's true
    cost (MILP of the module doc, solved by HiGHS); ``mode="planner"``."""
    return _run(
        "planner",
        population,
        net_demand_kwh,
        wholesale_eur_per_mwh,
        retail_adder_eur_per_mwh=retail_adder_eur_per_mwh,
        export_discount_eur_per_mwh=export_discount_eur_per_mwh,
        dt_hours=dt_hours,
        clock_hour=clock_hour,
        shapes=shapes,
        dr_base_kwh=dr_base_kwh,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        max_exact_agents=max_exact_agents,
        sample_seed=sample_seed,
        z_score=z_score,
        all_binaries=all_binaries,
        relax=relax,
        lp_rounding=lp_rounding,
    )


def baseline_cost(
    population: Population,
    net_demand_kwh: NetDemand,
    wholesale_eur_per_mwh: ArrayLike,
    *,
    retail_adder_eur_per_mwh: float | None = None,
    export_discount_eur_per_mwh: float | None = None,
    shapes: Any = None,
    dt_hours: float | None = None,
    clock_hour: ArrayLike | None = None,
    dr_base_kwh: NetDemand | None = None,
    time_limit_s: float = 300.0,
    mip_rel_gap: float = 1e-4,
    threads: int = 1,
    max_exact_agents: int = DEFAULT_MAX_EXACT_AGENTS,
    sample_seed: int = 0,
    z_score: float = 2.0,
    all_binaries: bool = False,
    relax: bool = False,
    lp_rounding: bool = True,
) -> PlannerResult:
    """Every agent alone with the grid: each agent's own optimum facing ``p_buy``/``p_sell``
    without netting, over the planner's feasible set (module doc); ``mode="baseline"``.

    Use the same ``sample_seed`` as the planner: both then see the same sample."""
    return _run(
        "baseline",
        population,
        net_demand_kwh,
        wholesale_eur_per_mwh,
        retail_adder_eur_per_mwh=retail_adder_eur_per_mwh,
        export_discount_eur_per_mwh=export_discount_eur_per_mwh,
        dt_hours=dt_hours,
        clock_hour=clock_hour,
        shapes=shapes,
        dr_base_kwh=dr_base_kwh,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        threads=threads,
        max_exact_agents=max_exact_agents,
        sample_seed=sample_seed,
        z_score=z_score,
        all_binaries=all_binaries,
        relax=relax,
        lp_rounding=lp_rounding,
    )


plan_community.__doc__ = (plan_community.__doc__ or "") + _COMMON_DOC
baseline_cost.__doc__ = (baseline_cost.__doc__ or "") + _COMMON_DOC


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------

_REL_TOL = 1e-9


def _cost(value: Any, what: str) -> float:
    if isinstance(value, PlannerResult):
        return value.cost_eur
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{what} must be a cost in EUR, got {value!r}")
    return float(value)


def _efficiency_reason(baseline: float, market: float, planner: float) -> str | None:
    if not all(math.isfinite(v) for v in (baseline, market, planner)):
        return "a cost is not finite"
    scale = max(1.0, abs(baseline), abs(planner))
    gain = baseline - planner
    if gain <= _REL_TOL * scale:
        if gain < -_REL_TOL * scale:
            return "planner cost above the baseline (the planner did not solve to optimality)"
        return "no gains to realise: the planner does not beat the baseline"
    return None


def efficiency(baseline: float, market: float, planner: float) -> float:
    """``(baseline - market) / (baseline - planner)``: the share of the planner's savings
    over trading alone that the market realises (1: Pareto efficient, 0: no better than
    alone, < 0: worse). NaN when undefined: a non-finite cost, or ``baseline - planner <=
    1e-9 * max(1, |baseline|, |planner|)`` (nothing to realise, or a planner above the
    baseline). Arguments: EUR (floats or :class:`PlannerResult`)."""
    b = _cost(baseline, "baseline")
    m = _cost(market, "market")
    p = _cost(planner, "planner")
    if _efficiency_reason(b, m, p) is not None:
        return float("nan")
    return (b - m) / (b - p)


def _poa_reason(market: float, planner: float) -> str | None:
    if not (math.isfinite(market) and math.isfinite(planner)):
        return "a cost is not finite"
    if planner <= _REL_TOL * max(1.0, abs(market)):
        return "the planner's cost is not positive: a ratio of costs is meaningless"
    return None


def price_of_anarchy(market: float, planner: float) -> float:
    """``market / planner`` (>= 1 up to MIP gaps). Only meaningful for positive costs: NaN
    when the planner's cost is <= 0 (a community that earns money by exporting) or a cost is
    not finite. Arguments: EUR (floats or :class:`PlannerResult`)."""
    m = _cost(market, "market")
    p = _cost(planner, "planner")
    if _poa_reason(m, p) is not None:
        return float("nan")
    return m / p


@dataclass(frozen=True)
class BenchmarkScores:
    """Efficiency and price of anarchy of a market day (costs in EUR, totals over N agents).

    Error bounds of the two savings, ``market_savings_error_eur`` (``baseline - market``) and
    ``planner_savings_error_eur`` (``baseline - planner``): MIP gaps, and when sampled ``z``
    standard errors plus the planner's netting bias. When baseline and planner come from the
    same sample, the planner's savings are estimated *paired* (per-agent differences on the
    same agents: the common sampling noise cancels). With ``market_agent_cost_eur`` as well
    the market is paired too (``paired=True``): the scores use the sample estimate of the
    market's cost (``market_cost_sample_eur``) and the efficiency is a ratio estimator whose
    range is ``eff +- (z * SE + (gaps + |eff| * (bias + gaps)) / (baseline - planner))``
    with the linearised stratified SE of ``sum(s_i - eff * d_i) / (baseline - planner)``.
    Otherwise ``efficiency_low``/``efficiency_high`` are the extreme ratios when both savings
    move within their bounds (conservative: it ignores their correlation).
    ``efficiency_note``/``price_of_anarchy_note``: why a score is NaN (``None`` when defined).
    """

    baseline_cost_eur: float
    market_cost_eur: float
    planner_cost_eur: float
    efficiency: float
    price_of_anarchy: float
    efficiency_low: float
    efficiency_high: float
    planner_mip_gap: float
    market_savings_error_eur: float
    planner_savings_error_eur: float
    planner_sampled: bool
    paired: bool
    market_cost_sample_eur: float
    efficiency_note: str | None
    price_of_anarchy_note: str | None

    @property
    def savings_eur(self) -> float:
        """What the market saves over trading alone (baseline - market)."""
        return self.baseline_cost_eur - self._market

    @property
    def potential_savings_eur(self) -> float:
        """What the planner saves over trading alone (baseline - planner)."""
        return self.baseline_cost_eur - self.planner_cost_eur

    @property
    def _market(self) -> float:
        return self.market_cost_sample_eur if self.paired else self.market_cost_eur

    def to_dict(self) -> dict[str, Any]:
        out = {f: getattr(self, f) for f in self.__dataclass_fields__}
        out["savings_eur"] = self.savings_eur
        out["potential_savings_eur"] = self.potential_savings_eur
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row (``score``) per field: ``value``."""
        items = self.to_dict()
        return pd.DataFrame(
            {"value": pd.Series(items, dtype=object)}, index=pd.Index(list(items), name="score")
        )


def _paired_se(values: np.ndarray, result: PlannerResult) -> float:
    """Stratified standard error of the estimated total of per-agent ``values`` (n,) over the
    sample of ``result``."""
    N_h = np.asarray(list(result.type_counts.values()), dtype=np.float64)
    codes = result.agent_type_index
    var = 0.0
    for h in range(N_h.shape[0]):
        v = values[codes == h]
        if v.size > 1:
            var += N_h[h] ** 2 * (1.0 - v.size / N_h[h]) * float(v.var(ddof=1)) / v.size
    return math.sqrt(var)


def _stratified_sum(values: np.ndarray, result: PlannerResult) -> float:
    N_h = np.asarray(list(result.type_counts.values()), dtype=np.float64)
    codes = result.agent_type_index
    return float(
        sum(N_h[h] * values[codes == h].mean() for h in range(N_h.shape[0]) if (codes == h).any())
    )


def _error(value: Any, given: float | None) -> float:
    if given is not None:
        out = check_real(given, "error bound")
    elif isinstance(value, PlannerResult):
        out = value.cost_error_bound_eur
    else:
        out = 0.0
    if out < 0:
        raise InvalidParameterError(f"error bounds must be >= 0, got {out:g}")
    return out


def _ratio_range(s: float, es: float, d: float, ed: float) -> tuple[float, float]:
    if not (math.isfinite(s) and math.isfinite(d)) or d - ed <= 0:
        return float("nan"), float("nan")
    corners = [(s + a * es) / (d + b * ed) for a in (-1, 1) for b in (-1, 1)]
    return min(corners), max(corners)


def benchmark_scores(
    baseline: PlannerResult | float,
    market: float,
    planner: PlannerResult | float,
    *,
    market_agent_cost_eur: ArrayLike | None = None,
    market_sample_cost_eur: ArrayLike | None = None,
    market_error_eur: float = 0.0,
    baseline_error_eur: float | None = None,
    planner_error_eur: float | None = None,
) -> BenchmarkScores:
    """Scores of a market day from the three costs (EUR totals over the same N agents).

    ``baseline``/``planner``: :class:`PlannerResult` (their error bounds, MIP gap and sample
    are used) or floats (with ``*_error_eur``, default 0). ``market_agent_cost_eur``: (N,)
    the finite market's cost per agent, to pair the market with a sampled benchmark
    (:class:`BenchmarkScores`); ``market_sample_cost_eur``: the same for the benchmark's
    sampled agents only, in ``agent_index`` order (a population too large to keep every
    agent's cost); ``market_error_eur``: error of the market's total."""
    if market_agent_cost_eur is not None and market_sample_cost_eur is not None:
        raise InvalidParameterError(
            "give market_agent_cost_eur or market_sample_cost_eur, not both"
        )
    b, m, p = _cost(baseline, "baseline"), _cost(market, "market"), _cost(planner, "planner")
    em = _error(None, market_error_eur)
    eb = _error(baseline, baseline_error_eur)
    ep = _error(planner, planner_error_eur)
    both = isinstance(baseline, PlannerResult) and isinstance(planner, PlannerResult)
    same_sample = (
        both
        and baseline.sampled  # type: ignore[union-attr]
        and planner.sampled  # type: ignore[union-attr]
        and np.array_equal(baseline.agent_index, planner.agent_index)  # type: ignore[union-attr]
        and baseline_error_eur is None
        and planner_error_eur is None
    )
    given = market_agent_cost_eur is not None or market_sample_cost_eur is not None
    if given and not same_sample:
        raise InvalidParameterError(  # they were ignored: the scores then pair nothing
            "market_agent_cost_eur and market_sample_cost_eur pair the market with a sampled "
            "benchmark: baseline and planner must be PlannerResults sampled on the same agents"
        )
    m_used, paired = m, False
    if same_sample:
        assert isinstance(baseline, PlannerResult) and isinstance(planner, PlannerResult)
        z = float(planner.settings.get("z_score", 2.0))
        d_i = baseline.agent_cost_eur - planner.agent_cost_eur
        det_plan = planner.cost_bias_bound_eur + planner.cost_gap_eur + baseline.cost_gap_eur
        e_plan = z * _paired_se(d_i, planner) + det_plan
        e_mkt = eb + em
        mk = None
        if market_agent_cost_eur is not None:
            mk = np.asarray(market_agent_cost_eur, dtype=np.float64)
            if mk.shape != (baseline.n_agents,) or not np.isfinite(mk).all():
                raise InvalidParameterError(
                    f"market_agent_cost_eur must be {baseline.n_agents} finite costs"
                )
            mk = mk[baseline.agent_index]
        elif market_sample_cost_eur is not None:
            mk = np.asarray(market_sample_cost_eur, dtype=np.float64)
            n_s = baseline.agent_index.shape[0]
            if mk.shape != (n_s,) or not np.isfinite(mk).all():
                raise InvalidParameterError(
                    f"market_sample_cost_eur must be {n_s} finite costs (the sample's)"
                )
        if mk is not None:
            m_used, paired = _stratified_sum(mk, baseline), True
            s_i = baseline.agent_cost_eur - mk
            e_mkt = z * _paired_se(s_i, baseline) + baseline.cost_gap_eur + em
    else:
        e_plan = eb + ep
        e_mkt = eb + em
    eff = efficiency(b, m_used, p)
    if paired and math.isfinite(eff):
        # ratio estimator: linearised standard error, plus the one-sided terms
        d_hat = b - p
        base_res = cast(PlannerResult, baseline)  # paired implies same_sample: a PlannerResult
        se_ratio = _paired_se(s_i - eff * d_i, base_res) / d_hat
        half = z * se_ratio + (base_res.cost_gap_eur + em + abs(eff) * det_plan) / d_hat
        lo, hi = eff - half, eff + half
    else:
        lo, hi = _ratio_range(b - m_used, e_mkt, b - p, e_plan)
    if not math.isfinite(eff):
        lo = hi = float("nan")
    return BenchmarkScores(
        baseline_cost_eur=b,
        market_cost_eur=m,
        planner_cost_eur=p,
        efficiency=eff,
        price_of_anarchy=price_of_anarchy(m_used, p),
        efficiency_low=lo,
        efficiency_high=hi,
        planner_mip_gap=planner.mip_gap if isinstance(planner, PlannerResult) else float("nan"),
        market_savings_error_eur=e_mkt,
        planner_savings_error_eur=e_plan,
        planner_sampled=planner.sampled if isinstance(planner, PlannerResult) else False,
        paired=paired,
        market_cost_sample_eur=m_used,
        efficiency_note=_efficiency_reason(b, m_used, p),
        price_of_anarchy_note=_poa_reason(m_used, p),
    )
