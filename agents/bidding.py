"""Risk-aware best response of one (representative) agent: dynamic programming on a state grid.

Model (DESIGN.md section 3), one market day of H intervals of ``dt`` hours, energies in kWh
per interval, prices in EUR/MWh at the interface (EUR/kWh = EUR/MWh / 1000 inside):

* Net demand ``x_t = load_t - pv_t`` is forecast; the realised value is ``x_t + eps_t`` with a
  zero-location Student-t error ``eps_t = scale_t * T(nu_t)``, independent across intervals,
  represented by an equal-probability quadrature (:class:`ErrorQuadrature`).
* Grid position ``y_t = x_t + eps_t + u_t`` where ``u_t`` is the control's grid-side energy:
  battery ``c_t - d_t``, EV charging draw ``g_t``, consumer demand response ``-r_t``.
* Stage cost (EUR): ``p_buy,t * y+ - p_sell,t * y-`` (imports at the buy price, exports at the
  sell price; convex since ``p_buy >= p_sell``, so the error matters even when the next state
  does not depend on it) + battery degradation ``deg * (c + d)`` (per kWh of throughput) +
  consumer disutility ``flex * r^2 / dt`` (``dt`` the interval length in hours: a steady
  reduction of ``r / dt`` kW costs ``flex (r / dt)^2`` EUR per hour at any resolution).
* Risk: nested (time-consistent) mean-CVaR, the dynamic programme
  ``V_t(s) = min_u rho[ cost_t(s, u, eps_t) + V_{t+1}(s') ]``,
  ``rho = (1 - gamma) * E + gamma * CVaR_alpha`` over the quadrature nodes
  (:func:`risk.mean_cvar`, batched over every feasible (state, control) pair; the only Python
  loop is over t). ``gamma = 0`` is the risk-neutral expected-cost DP.

Kinds and their state grids:

``pv``          no state, no control: ``V_t = rho[cost_t] + V_{t+1}``.
``consumer``    no state; demand response ``r_t`` (positive: consume less) on ``dr_levels``
                equally spaced levels in ``[-m_t, m_t]``, ``m_t = dr_max_fraction * load_t``,
                at cost ``flex * r_t^2 / dt``. No rebound (energy not consumed is not shifted).
``pv_storage``  state: stored energy on ``n_soc`` equally spaced levels of ``[0, E]``
                (step ``delta = E / (n_soc - 1)``); control: move by ``j`` grid steps, with
                ``e' = e + eta_c * c - d / eta_d``: charging ``j > 0`` draws
                ``c = j * delta / eta_c`` from the grid side, discharging ``j < 0`` delivers
                ``d = -j * delta * eta_d``; power limits ``c, d <= P * dt`` bound ``j``
                (rounded down to whole steps, so a coarse grid can lose some power); bounds
                ``0 <= e <= E`` hold by construction. The day starts at the grid level
                nearest to ``soc_initial * E`` and must end at or above it (cyclic; energy
                left above it is not credited).
``ev``          state: energy still needed by the EV, on a grid of step ``delta`` that makes
                every charging level a whole number of steps (``delta`` = the smallest level's
                energy ``f_min * P * dt * eta`` divided by an integer chosen so the need spans
                about ``ev_steps`` steps), anchored at the need: state ``s`` of ``n`` holds
                ``max(need - (n - 1 - s) delta, 0)``, so the day starts at the need itself and
                only the last step (to 0) may be shorter than ``delta`` (not rounded up: an
                EV buys what it needs, no more). Control: a
                charging level (fraction of ``ev_max_kw``), delivering ``k`` steps (at most
                what is still needed) and drawing ``delivered / eta`` from the grid. Charging
                is possible in intervals lying within ``[ev_arrival_hour, ev_deadline_hour]``
                (local clock); energy still missing at the end costs
                ``ev_unmet_penalty_eur_per_kwh`` per kWh.

Evaluation of the optimal policy from the initial state (the transitions do not depend on
the error, so the state path is deterministic): ``expected_cost`` (exact), ``risk_value``
(= V_0, the nested objective), ``nested_cvar`` (the nested CVaR_alpha of the policy's cost,
i.e. the policy evaluated with gamma = 1; it never increases when gamma is raised), and
``cost_cvar``: CVaR_alpha of the *total* realised cost over scenario paths of the quadrature
(forward simulation: all K^H paths with product weights when there are at most
``n_scenarios``, else ``n_scenarios`` paths drawn with the seed).

What raising gamma guarantees: along the error-independent state path the nested objective
is ``(1 - gamma) * expected_cost + gamma * nested_cvar``, so (exchange argument) a larger
gamma never raises ``nested_cvar`` and never lowers ``expected_cost``. It does *not*
guarantee a lower ``cost_cvar``: the CVaR of the day's total is a different,
time-inconsistent measure that the nested DP does not minimise (per-interval tails are
hedged one by one, while the total's tail mostly reflects the mean). Measured on 20 random
24-hour cases per kind (gamma 0 -> 1, 12 nodes, alpha 0.1): ``cost_cvar`` rose in 19/20
pv_storage cases, 1/20 ev and 5/20 consumer cases. With one interval both coincide.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy import stats

from agents.config import AgentParams, PopulationConfig
from data.checks import check_int, check_real, check_type, clip_repr
from data.errors import InvalidParameterError
from data.seeds import check_seed
from risk import cvar, mean_cvar

__all__ = [
    "DP_BUILDERS",
    "DPGrid",
    "DPResult",
    "ErrorQuadrature",
    "PricePath",
    "best_response",
    "ev_grid",
    "stage_cost",
]

_KWH_PER_MWH = 1000.0
_STEP_TOL = 1e-9  # slack when rounding energies to whole grid steps
_MAX_STATES = 4001
MAX_INTERVAL_KWH = 1e6
"""Largest load or PV of one agent in one interval (kWh): a thousand times the largest
plausible daily mean of a type (``agents.config``), far below where costs overflow."""


def _array(values: ArrayLike, what: str, H: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{what} must be an array of real numbers") from None
    if arr.ndim != 1:
        raise InvalidParameterError(f"{what} must be 1-D (one value per interval), got {arr.shape}")
    if H is not None and arr.shape[0] != H:
        raise InvalidParameterError(f"{what} has {arr.shape[0]} intervals, expected {H}")
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{what} must be finite (found NaN or infinity)")
    return arr


# --------------------------------------------------------------------------------------------
# prices
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class PricePath:
    """Buy and sell prices of one day, EUR/MWh, shape (H,), with ``buy >= sell``.

    ``dt_hours``: interval length; ``clock_hour``: local clock hour of each interval start
    (default ``t * dt_hours``); ``index``: optional UTC interval starts (the index of the
    best-response schedule, ``DPResult.to_frame``).
    """

    buy_eur_per_mwh: np.ndarray
    sell_eur_per_mwh: np.ndarray
    dt_hours: float = 1.0
    clock_hour: np.ndarray | None = None
    index: pd.DatetimeIndex | None = None

    def __post_init__(self) -> None:
        buy = _array(self.buy_eur_per_mwh, "buy price")
        H = buy.shape[0]
        if H < 1:
            raise InvalidParameterError("a price path needs at least one interval")
        sell = _array(self.sell_eur_per_mwh, "sell price", H)
        if (buy < sell - 1e-12).any():
            t = int(np.flatnonzero(buy < sell - 1e-12)[0])
            raise InvalidParameterError(
                f"buy price must be >= sell price (interval {t}: {buy[t]:g} < {sell[t]:g})"
            )
        dt_h = check_real(self.dt_hours, "dt_hours")
        if not dt_h > 0:
            raise InvalidParameterError(f"dt_hours must be > 0, got {self.dt_hours!r}")
        clock = (
            np.arange(H) * dt_h
            if self.clock_hour is None
            else _array(self.clock_hour, "clock_hour", H)
        )
        if self.index is not None and len(self.index) != H:
            raise InvalidParameterError(f"index has {len(self.index)} entries, expected {H}")
        for name, value in (("buy_eur_per_mwh", buy), ("sell_eur_per_mwh", sell)):
            value.flags.writeable = False
            object.__setattr__(self, name, value)
        clock.flags.writeable = False
        object.__setattr__(self, "clock_hour", clock)
        object.__setattr__(self, "dt_hours", dt_h)

    @property
    def n_intervals(self) -> int:
        return int(self.buy_eur_per_mwh.shape[0])

    @classmethod
    def from_prices(
        cls,
        price_eur_per_mwh: ArrayLike,
        *,
        retail_adder_eur_per_mwh: float = 0.0,
        export_discount_eur_per_mwh: float = 0.0,
        dt_hours: float = 1.0,
        clock_hour: ArrayLike | None = None,
        index: pd.DatetimeIndex | None = None,
    ) -> PricePath:
        """``buy = price + retail adder``, ``sell = price - export discount`` (EUR/MWh).

        With both 0 the agent trades at the price path itself (a linear cost).
        """
        price = _array(price_eur_per_mwh, "price")
        adder = check_real(retail_adder_eur_per_mwh, "retail_adder_eur_per_mwh")
        discount = check_real(export_discount_eur_per_mwh, "export_discount_eur_per_mwh")
        if not (adder >= 0 and discount >= 0):
            raise InvalidParameterError("retail adder and export discount must be >= 0")
        return cls(
            price + adder,
            price - discount,
            dt_hours=dt_hours,
            clock_hour=None if clock_hour is None else np.asarray(clock_hour, dtype=float),
            index=index,
        )

    @classmethod
    def from_tariff(
        cls, price_eur_per_mwh: ArrayLike, config: PopulationConfig, shapes: Any = None
    ) -> PricePath:
        """The tariff of ``config`` around ``price``; ``shapes`` (a ``DayShapes``) supplies
        ``dt_hours``, ``clock_hour`` and ``index``."""
        kwargs: dict[str, Any] = {}
        if shapes is not None:
            kwargs = {
                "dt_hours": shapes.dt_hours,
                "clock_hour": shapes.clock_hour,
                "index": shapes.index,
            }
        return cls.from_prices(
            price_eur_per_mwh,
            retail_adder_eur_per_mwh=config.retail_adder_eur_per_mwh,
            export_discount_eur_per_mwh=config.export_discount_eur_per_mwh,
            **kwargs,
        )


def stage_cost(
    position_kwh: ArrayLike, buy_eur_per_mwh: ArrayLike, sell_eur_per_mwh: ArrayLike
) -> np.ndarray:
    """Grid cost in EUR of a position (kWh, + import / - export): ``buy*y+ - sell*y-``.
    The three arrays broadcast together; finite numbers, ``buy >= sell``."""
    arrays = []
    for name, value in (
        ("position_kwh", position_kwh),
        ("buy_eur_per_mwh", buy_eur_per_mwh),
        ("sell_eur_per_mwh", sell_eur_per_mwh),
    ):
        try:
            a = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(f"{name} must be numbers, got {clip_repr(value)}") from None
        if not np.isfinite(a).all():
            raise InvalidParameterError(f"{name} must be finite (found NaN or infinity)")
        arrays.append(a)
    try:
        y, buy, sell = np.broadcast_arrays(*arrays)
    except ValueError:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise InvalidParameterError(
            f"position, buy and sell shapes {shapes} do not broadcast"
        ) from None
    if (buy < sell).any():
        raise InvalidParameterError("buy_eur_per_mwh must be >= sell_eur_per_mwh everywhere")
    return _stage_cost(y, buy, sell)


def _stage_cost(
    y: np.ndarray, buy_eur_per_mwh: np.ndarray, sell_eur_per_mwh: np.ndarray
) -> np.ndarray:
    """``stage_cost`` of checked arrays (the dynamic programme's hot path)."""
    buy = buy_eur_per_mwh / _KWH_PER_MWH
    sell = sell_eur_per_mwh / _KWH_PER_MWH
    return np.where(y > 0, buy * y, sell * y)


# --------------------------------------------------------------------------------------------
# forecast-error quadrature
# --------------------------------------------------------------------------------------------


def _t_bin_means(edges: np.ndarray, nu: float) -> np.ndarray:
    """Mean of a standard Student-t (nu > 1; inf: normal) within each of the equal-probability
    bins between ``edges`` (K + 1 quantiles, -inf and inf at the ends), times K bins.

    Uses d/dt[(nu + t^2) / (nu - 1) * f(t)] = -t f(t) (normal: d/dt phi = -t phi).
    """
    with np.errstate(invalid="ignore"):
        if math.isinf(nu):
            g = stats.norm.pdf(edges)
        else:
            g = (nu + edges**2) / (nu - 1.0) * stats.t.pdf(edges, nu)
    g = np.where(np.isinf(edges), 0.0, g)
    K = edges.shape[0] - 1
    return (g[:-1] - g[1:]) * K


@dataclass(frozen=True, eq=False)
class ErrorQuadrature:
    """Discrete forecast-error distribution per interval: ``nodes`` (H, K) kWh, ``weights``
    (K,) summing to 1 (shared by every interval).

    Built by :meth:`student_t` from the error's scale and degrees of freedom: equal-probability
    bins ``[(k)/K, (k+1)/K]`` of ``scale_t * T(nu_t)``, each represented by its midpoint
    quantile ``t.ppf((k + 1/2)/K, nu)`` (``method="midpoint"``, default) or by its conditional
    mean (``method="bin_mean"``: keeps the error's mean 0 and is exact for CVaR of a linear cost
    at tail masses j/K), weights 1/K. :meth:`none` is the certain forecast.
    """

    nodes: np.ndarray
    weights: np.ndarray
    method: str = "given"

    def __post_init__(self) -> None:
        nodes = np.asarray(self.nodes, dtype=np.float64)
        if nodes.ndim != 2 or nodes.shape[1] < 1:
            raise InvalidParameterError(f"nodes must have shape (H, K), got {nodes.shape}")
        if not np.isfinite(nodes).all():
            raise InvalidParameterError("quadrature nodes must be finite")
        w = np.asarray(self.weights, dtype=np.float64)
        if w.shape != (nodes.shape[1],):
            raise InvalidParameterError(
                f"weights must have shape ({nodes.shape[1]},), got {w.shape}"
            )
        if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise InvalidParameterError("quadrature weights must be finite, >= 0, positive sum")
        w = w / w.sum()
        for a in (nodes, w):
            a.flags.writeable = False
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "weights", w)

    @property
    def n_intervals(self) -> int:
        return int(self.nodes.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.nodes.shape[1])

    @property
    def equal_weights(self) -> bool:
        return bool(np.allclose(self.weights, 1.0 / self.n_nodes, rtol=0, atol=1e-15))

    @classmethod
    def none(cls, n_intervals: int) -> ErrorQuadrature:
        """No forecast error: one node at 0 per interval."""
        H = check_int(n_intervals, "n_intervals", 1)
        return cls(np.zeros((H, 1)), np.ones(1), "none")

    @classmethod
    def student_t(
        cls,
        scale_kwh: ArrayLike,
        nu: ArrayLike | float,
        *,
        n_nodes: int = 16,
        method: str = "midpoint",
    ) -> ErrorQuadrature:
        """Equal-probability quadrature of ``scale_t * T(nu_t)``; scale (H,) kWh >= 0, nu > 2
        (scalar or (H,); ``inf`` is the normal distribution)."""
        scale = _array(scale_kwh, "scale_kwh")
        if (scale < 0).any():
            raise InvalidParameterError("scale_kwh must be >= 0")
        H = scale.shape[0]
        try:
            nu_arr = np.broadcast_to(np.asarray(nu, dtype=np.float64), (H,)).copy()
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"nu must be one number or {H} (one per interval of scale_kwh), got {clip_repr(nu)}"
            ) from None
        if np.isnan(nu_arr).any() or (nu_arr <= 2).any():
            raise InvalidParameterError("nu must be > 2 (or inf) in every interval")
        K = check_int(n_nodes, "n_nodes", 1, _MAX_STATES)  # nodes times intervals: memory
        if method not in ("midpoint", "bin_mean"):
            raise InvalidParameterError(f"method must be 'midpoint' or 'bin_mean', got {method!r}")
        std_nodes = np.empty((H, K))
        cache: dict[float, np.ndarray] = {}
        mids = (np.arange(K) + 0.5) / K
        edges_q = np.arange(K + 1) / K
        for t, v in enumerate(nu_arr):
            key = float(v)
            if key not in cache:
                dist = stats.norm if math.isinf(key) else stats.t(key)
                if method == "midpoint":
                    cache[key] = dist.ppf(mids)
                else:
                    cache[key] = _t_bin_means(dist.ppf(edges_q), key)
            std_nodes[t] = cache[key]
        return cls(scale[:, None] * std_nodes, np.full(K, 1.0 / K), method)

    @classmethod
    def from_forecast(
        cls,
        prediction: pd.DataFrame,
        load_kwh: ArrayLike,
        *,
        pv_kwh: ArrayLike | None = None,
        noise: float = 0.0,
        pv_error_sd_kwh: ArrayLike | None = None,
        n_nodes: int = 16,
        method: str = "midpoint",
    ) -> ErrorQuadrature:
        """Agent-level error from a zone-level Student-t forecast of load (``mu``, ``sigma``,
        ``nu`` per interval, as ``forecasting`` models' ``predict`` returns for one day).

        The zone's relative error ``sigma_t / mu_t`` scales the agent's expected load; the
        idiosyncratic lognormal noise (relative sd ``sqrt(exp(noise^2) - 1)``) of load and PV
        and the solar forecast's error ``pv_error_sd_kwh`` (H,) kWh (the agent's PV error sd,
        e.g. ``pv_kwp * solar_cf_error_sd * dt_hours``; default none) are added in variance,
        as independent errors. The result is a Student-t with the forecast's ``nu_t`` and the
        total variance: ``scale_t = sqrt(var_t * (nu_t - 2) / nu_t)`` (``nu = inf``: normal),
        an approximation of the sum of the two errors.
        """
        for col in ("mu", "sigma", "nu"):
            if col not in prediction:
                raise InvalidParameterError(f"prediction lacks column {col!r} (need mu, sigma, nu)")
        mu = _array(prediction["mu"].to_numpy(dtype=float), "prediction mu")
        sigma = _array(prediction["sigma"].to_numpy(dtype=float), "prediction sigma", len(mu))
        nu = prediction["nu"].to_numpy(dtype=float)
        if nu.shape != mu.shape or np.isnan(nu).any() or (nu <= 2).any():
            raise InvalidParameterError("prediction nu must be > 2 (or inf) in every interval")
        if (mu <= 0).any() or (sigma < 0).any():
            raise InvalidParameterError("prediction mu must be > 0 and sigma >= 0 (load forecast)")
        load = _array(load_kwh, "load_kwh", len(mu))
        pv = np.zeros_like(load) if pv_kwh is None else _array(pv_kwh, "pv_kwh", len(mu))
        if not (isinstance(noise, numbers.Real) and noise >= 0):
            raise InvalidParameterError(f"noise must be >= 0, got {noise!r}")
        rel = sigma / mu
        with np.errstate(invalid="ignore", divide="ignore"):
            t_var = np.where(np.isinf(nu), 1.0, nu / (nu - 2.0))
            to_scale = np.where(np.isinf(nu), 1.0, (nu - 2.0) / nu)
        v_noise = math.expm1(float(noise) ** 2)
        var = load**2 * (rel**2 * t_var + v_noise) + pv**2 * v_noise
        if pv_error_sd_kwh is not None:
            pv_sd = _array(pv_error_sd_kwh, "pv_error_sd_kwh", len(mu))
            if (pv_sd < 0).any():
                raise InvalidParameterError("pv_error_sd_kwh must be >= 0")
            var = var + pv_sd**2
        return cls.student_t(np.sqrt(var * to_scale), nu, n_nodes=n_nodes, method=method)


# --------------------------------------------------------------------------------------------
# the DP model of each kind
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DPGrid:
    """Resolution of the state grids: ``n_soc`` battery levels (>= 2) and ``ev_steps`` (the
    approximate number of energy steps spanning the EV need)."""

    n_soc: int = 41
    ev_steps: int = 24

    def __post_init__(self) -> None:
        check_int(self.n_soc, "n_soc", 2, _MAX_STATES)
        check_int(self.ev_steps, "ev_steps", 1, _MAX_STATES - 1)


@dataclass
class _Model:
    """Arrays of one kind's DP: S states, U controls, per interval t."""

    state_name: str
    states: np.ndarray  # (S,) physical value (kWh)
    s0: int
    control: np.ndarray  # (H, S, U) grid-side energy of the control, kWh
    extra: np.ndarray  # (H, S, U) deterministic cost, EUR
    next_state: np.ndarray  # (H, S, U) int
    feasible: np.ndarray  # (H, S, U) bool
    terminal: np.ndarray  # (S,) EUR, inf where not allowed
    labels: dict[str, np.ndarray] = field(default_factory=dict)  # (H, S, U) extra outputs


def _stateless(H: int, control: np.ndarray, extra: np.ndarray) -> _Model:
    U = control.shape[1]
    return _Model(
        state_name="none",
        states=np.zeros(1),
        s0=0,
        control=control[:, None, :],
        extra=extra[:, None, :],
        next_state=np.zeros((H, 1, U), dtype=np.intp),
        feasible=np.ones((H, 1, U), dtype=bool),
        terminal=np.zeros(1),
    )


def _model_pv(p: AgentParams, load: np.ndarray, prices: PricePath, grid: DPGrid) -> _Model:
    H = load.shape[0]
    return _stateless(H, np.zeros((H, 1)), np.zeros((H, 1)))


def _model_consumer(p: AgentParams, load: np.ndarray, prices: PricePath, grid: DPGrid) -> _Model:
    H = load.shape[0]
    L = p.dr_levels
    levels = np.linspace(-1.0, 1.0, L) if L > 1 else np.zeros(1)
    levels = levels[np.argsort(np.abs(levels), kind="stable")]  # 0 first: ties -> no action
    r = p.dr_max_fraction * load[:, None] * levels[None, :]  # (H, U) kWh, + = consume less
    model = _stateless(H, -r, p.flex_cost_eur_per_kwh2 * r**2 / prices.dt_hours)
    model.labels["dr_kwh"] = r[:, None, :]
    return model


def _model_storage(p: AgentParams, load: np.ndarray, prices: PricePath, grid: DPGrid) -> _Model:
    H = load.shape[0]
    E, P, dt_h = p.battery_kwh, p.battery_kw, prices.dt_hours
    if E <= 0 or P <= 0:
        n, delta, jc, jd = 1, 0.0, 0, 0
    else:
        n = grid.n_soc
        delta = E / (n - 1)
        jc = min(math.floor(p.eta_charge * P * dt_h / delta + _STEP_TOL), n - 1)
        jd = min(math.floor(P * dt_h / (p.eta_discharge * delta) + _STEP_TOL), n - 1)
    steps = np.arange(-jd, jc + 1)
    steps = steps[np.argsort(np.abs(steps) * 2 - (steps > 0), kind="stable")]  # 0, +1, -1, ...
    charge = np.where(steps > 0, steps * delta / p.eta_charge, 0.0)  # grid-side kWh
    discharge = np.where(steps < 0, -steps * delta * p.eta_discharge, 0.0)  # delivered kWh
    s = np.arange(n)
    nxt = s[:, None] + steps[None, :]
    feas = (nxt >= 0) & (nxt <= n - 1)
    s0 = round(p.soc_initial * (n - 1))
    terminal = np.where(s >= s0, 0.0, np.inf)
    U = steps.shape[0]
    shape = (H, n, U)
    ctrl = np.broadcast_to(charge - discharge, shape)
    extra = np.broadcast_to(p.degradation_eur_per_kwh * (charge + discharge), shape)
    model = _Model(
        state_name="stored_kwh",
        states=s * delta,
        s0=s0,
        control=ctrl,
        extra=extra,
        next_state=np.broadcast_to(np.clip(nxt, 0, n - 1), shape),
        feasible=np.broadcast_to(feas, shape),
        terminal=terminal,
    )
    model.labels["charge_kwh"] = np.broadcast_to(charge, shape)
    model.labels["discharge_kwh"] = np.broadcast_to(discharge, shape)
    return model


def ev_grid(p: AgentParams, dt_h: float, grid: DPGrid) -> tuple[float, int, np.ndarray]:
    """(delta kWh, number of states, steps delivered per level) of the EV energy-left grid."""
    levels = np.asarray(p.ev_charge_levels)
    positive = levels[levels > 0]
    need = p.ev_need_kwh
    if need <= 0:
        return 0.0, 1, np.zeros(levels.shape[0], dtype=np.intp)
    e_step = positive[0] * p.ev_max_kw * dt_h * p.eta_charge if positive.size else 0.0
    if e_step <= 0:  # no charging possible: any grid, nothing moves
        delta = need / grid.ev_steps
        return delta, grid.ev_steps + 1, np.zeros(levels.shape[0], dtype=np.intp)
    ratio = grid.ev_steps * e_step / need  # grid steps per charging step
    if not ratio < 1e9:  # also inf; a charge of ~1e9 grid steps overflows the step counts
        raise InvalidParameterError(
            f"ev_need_kwh {need:g} is too small against one charging step of {e_step:g} kWh "
            "to put on a grid"
        )
    m = max(1, round(ratio))
    delta = e_step / m
    n = math.ceil(need / delta - _STEP_TOL) + 1
    if n > _MAX_STATES:
        raise InvalidParameterError(
            f"EV grid too fine: {n} states (need {need:g} kWh, step {delta:g} kWh)"
        )
    k = np.rint(levels / positive[0]).astype(np.intp) * m
    return delta, n, k


def _model_ev(p: AgentParams, load: np.ndarray, prices: PricePath, grid: DPGrid) -> _Model:
    H = load.shape[0]
    delta, n, k = ev_grid(p, prices.dt_hours, grid)
    s = np.arange(n)
    left = np.maximum(p.ev_need_kwh - (n - 1 - s) * delta, 0.0)  # anchored at the need
    left[0] = 0.0
    nxt = np.maximum(s[:, None] - k[None, :], 0)  # (S, U)
    delivered = left[:, None] - left[nxt]
    draw = delivered / p.eta_charge
    clock = np.asarray(prices.clock_hour)
    window = (clock >= p.ev_arrival_hour - _STEP_TOL) & (
        clock + prices.dt_hours <= p.ev_deadline_hour + _STEP_TOL
    )
    U = k.shape[0]
    shape = (H, n, U)
    feas = np.broadcast_to((k == 0)[None, None, :] | window[:, None, None], shape)
    model = _Model(
        state_name="ev_need_left_kwh",
        states=left,
        s0=n - 1,
        control=np.broadcast_to(draw, shape),
        extra=np.zeros(shape),
        next_state=np.broadcast_to(nxt, shape),
        feasible=feas,
        terminal=p.ev_unmet_penalty_eur_per_kwh * left,
    )
    model.labels["ev_delivered_kwh"] = np.broadcast_to(delivered, shape)
    return model


#: The DP model builder of each agent kind (the energy game reuses them).
DP_BUILDERS = {
    "consumer": _model_consumer,
    "pv": _model_pv,
    "pv_storage": _model_storage,
    "ev": _model_ev,
}


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DPResult:
    """Best response of one agent to a price path (arrays read-only).

    Over the state grid (S states, values ``states`` in kWh of ``state_name``):
    ``value`` (H+1, S) EUR (the risk-adjusted cost-to-go; inf: no feasible continuation),
    ``policy`` (H, S) control index (-1 where infeasible), ``next_state`` (H, S),
    ``control_kwh`` (H, S) grid-side energy of the chosen control, ``position_kwh`` (H, S)
    the planned grid position ``x_t + u_t`` (the realised one adds the error).
    Along the optimal path from ``initial_state``: ``state_path`` (H+1,) indices and the
    schedule in :meth:`to_frame`. Scalars in EUR for the day: ``expected_cost``,
    ``risk_value``, ``nested_cvar``, ``cost_cvar`` (see the module doc; all include
    ``terminal_cost``, the EV's unmet-need penalty), with the ``gamma``
    and ``alpha`` used; ``n_scenarios`` paths behind ``cost_cvar`` (``scenarios_exact``: all
    of them, with their probabilities).
    """

    kind: str
    params: AgentParams
    gamma: float
    alpha: float
    state_name: str
    states: np.ndarray
    initial_state: int
    value: np.ndarray
    policy: np.ndarray
    next_state: np.ndarray
    control_kwh: np.ndarray
    position_kwh: np.ndarray
    state_path: np.ndarray
    schedule: pd.DataFrame
    expected_cost: float
    risk_value: float
    nested_cvar: float
    cost_cvar: float
    terminal_cost: float
    n_scenarios: int
    scenarios_exact: bool
    net_demand_kwh: np.ndarray
    prices: PricePath
    errors: ErrorQuadrature

    @property
    def n_intervals(self) -> int:
        return int(self.policy.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """The schedule along the optimal path, one row per interval (``time_utc`` index when
        the price path has one): ``state_kwh`` (at the start), ``net_demand_kwh``,
        ``control_kwh``, ``position_kwh`` (planned), kind-specific controls, ``buy``/``sell``
        prices (EUR/MWh), ``expected_cost_eur`` and ``risk_cost_eur`` (the stage's rho)."""
        return self.schedule.copy()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no arrays)."""
        return {
            "kind": self.kind,
            "name": self.params.name,
            "gamma": self.gamma,
            "alpha": self.alpha,
            "n_intervals": self.n_intervals,
            "n_states": int(self.states.shape[0]),
            "n_nodes": self.errors.n_nodes,
            "expected_cost_eur": self.expected_cost,
            "risk_value_eur": self.risk_value,
            "nested_cvar_eur": self.nested_cvar,
            "cost_cvar_eur": self.cost_cvar,
            "n_scenarios": self.n_scenarios,
            "scenarios_exact": self.scenarios_exact,
            "final_state_kwh": float(self.states[self.state_path[-1]]),
        }

    def path_cost(self, errors_kwh: ArrayLike) -> np.ndarray:
        """Realised total cost (EUR) of the optimal path for error scenarios ``(M, H)`` kWh
        (e.g. samples of the forecaster): stage costs plus extras plus the terminal cost."""
        eps = np.asarray(errors_kwh, dtype=np.float64)
        if eps.ndim != 2 or eps.shape[1] != self.n_intervals:
            raise InvalidParameterError(
                f"errors must have shape (M, {self.n_intervals}), got {eps.shape}"
            )
        pos = self.schedule["position_kwh"].to_numpy()
        y = pos[None, :] + eps
        cost = _stage_cost(y, self.prices.buy_eur_per_mwh, self.prices.sell_eur_per_mwh)
        extra = self.schedule["extra_cost_eur"].to_numpy()
        return cost.sum(axis=1) + extra.sum() + self.terminal_cost

    def policy_cost(
        self,
        prices: PricePath | None = None,
        *,
        gamma: float | None = None,
        alpha: float | None = None,
    ) -> float:
        """Nested risk-adjusted cost (EUR) of following this schedule under ``prices``
        (default: the prices it was computed for, giving ``risk_value``), same errors.

        ``policy_cost(new_prices) - best_response(..., new_prices).risk_value >= 0`` is what
        the best response to ``new_prices`` would save: the agent's exploitability.
        """
        prices = self.prices if prices is None else prices
        if not isinstance(prices, PricePath) or prices.n_intervals != self.n_intervals:
            raise InvalidParameterError(
                f"prices must be a PricePath of {self.n_intervals} intervals"
            )
        g = self.gamma if gamma is None else float(gamma)
        a = self.alpha if alpha is None else float(alpha)
        pos = self.schedule["position_kwh"].to_numpy()
        y = pos[:, None] + self.errors.nodes
        stage = _stage_cost(y, prices.buy_eur_per_mwh[:, None], prices.sell_eur_per_mwh[:, None])
        stage = stage + self.schedule["extra_cost_eur"].to_numpy()[:, None]
        w = None if self.errors.equal_weights else self.errors.weights
        return float(_rho(stage, w, a, g).sum() + self.terminal_cost)


# --------------------------------------------------------------------------------------------
# the DP
# --------------------------------------------------------------------------------------------


def _rho(losses: np.ndarray, weights: np.ndarray | None, alpha: float, gamma: float) -> np.ndarray:
    """Row-wise mean-CVaR of (F, K) losses (F may be 0)."""
    if losses.shape[0] == 0:
        return np.empty(0)
    return np.asarray(mean_cvar(losses, alpha, gamma, weights, axis=1), dtype=np.float64)


def _stage_losses(
    t: int, model: _Model, x: np.ndarray, prices: PricePath, eps: np.ndarray, sel: Any
) -> np.ndarray:
    """(F, K) stage cost of the selected (state, control) pairs at t for every node."""
    y = x[t] + model.control[t][sel][:, None] + eps[t][None, :]
    buy = prices.buy_eur_per_mwh[t] / _KWH_PER_MWH
    sell = prices.sell_eur_per_mwh[t] / _KWH_PER_MWH
    return np.where(y > 0, buy * y, sell * y) + model.extra[t][sel][:, None]


def best_response(
    params: AgentParams,
    load_kwh: ArrayLike,
    prices: PricePath,
    errors: ErrorQuadrature | None = None,
    *,
    pv_kwh: ArrayLike | None = None,
    grid: DPGrid | None = None,
    gamma: float | None = None,
    alpha: float | None = None,
    n_scenarios: int = 4096,
    seed: int = 0,
) -> DPResult:
    """Risk-aware best response of an agent with ``params`` to ``prices`` (module doc).

    load_kwh, pv_kwh: (H,) the agent's expected load and PV per interval, kWh (see
    ``agents.profiles.expected_profile``); prices: :class:`PricePath` (H intervals);
    errors: :class:`ErrorQuadrature` of the net-demand forecast error (default: none);
    grid: :class:`DPGrid`; gamma, alpha: override the agent's risk weight and tail mass;
    n_scenarios, seed: the forward simulation behind ``cost_cvar``.
    Cost O(H * S * U * K log K) with S states, U controls, K nodes.
    """
    if not isinstance(params, AgentParams):
        raise InvalidParameterError(f"params must be AgentParams, got {type(params).__name__}")
    if not isinstance(prices, PricePath):
        raise InvalidParameterError(f"prices must be a PricePath, got {type(prices).__name__}")
    H = prices.n_intervals
    load = _array(load_kwh, "load_kwh", H)
    pv = np.zeros(H) if pv_kwh is None else _array(pv_kwh, "pv_kwh", H)
    if (load < 0).any() or (pv < 0).any():
        raise InvalidParameterError("load_kwh and pv_kwh must be >= 0")
    for name, values in (("load_kwh", load), ("pv_kwh", pv)):
        if values.max(initial=0.0) > MAX_INTERVAL_KWH:  # 1e200 overflowed to a NaN cost
            raise InvalidParameterError(
                f"{name} must be at most {MAX_INTERVAL_KWH:g} kWh per interval (a small "
                f"prosumer), got {values.max():g}"
            )
    errors = ErrorQuadrature.none(H) if errors is None else errors
    if not isinstance(errors, ErrorQuadrature):
        raise InvalidParameterError(
            f"errors must be an ErrorQuadrature, got {type(errors).__name__}"
        )
    if errors.n_intervals != H:
        raise InvalidParameterError(f"errors have {errors.n_intervals} intervals, expected {H}")
    grid = DPGrid() if grid is None else grid
    check_type(grid, DPGrid, "grid", "or None for the default")
    g = params.gamma if gamma is None else gamma
    a = params.alpha if alpha is None else alpha
    if isinstance(g, bool) or not isinstance(g, numbers.Real) or not 0.0 <= g <= 1.0:
        raise InvalidParameterError(f"gamma must be in [0, 1], got {g!r}")
    if isinstance(a, bool) or not isinstance(a, numbers.Real) or not 0.0 < a <= 1.0:
        raise InvalidParameterError(f"alpha must be in (0, 1], got {a!r}")
    g, a = float(g), float(a)
    n_scen = check_int(n_scenarios, "n_scenarios", 1)
    seed = check_seed(seed)  # None drew fresh paths: a cost_cvar no call reproduced

    model = DP_BUILDERS[params.kind](params, load, prices, grid)
    x = load - pv
    eps = errors.nodes
    w = None if errors.equal_weights else errors.weights
    S, U = model.control.shape[1], model.control.shape[2]

    # backward induction: V_t(s) = min_u rho[cost_t(s, u, eps) + V_{t+1}(s')]
    value = np.empty((H + 1, S))
    value[H] = model.terminal
    policy = np.full((H, S), -1, dtype=np.intp)
    for t in range(H - 1, -1, -1):
        cont = value[t + 1][model.next_state[t]]  # (S, U)
        feas = model.feasible[t] & np.isfinite(cont)
        losses = _stage_losses(t, model, x, prices, eps, feas) + cont[feas][:, None]
        q = np.full((S, U), np.inf)
        q[feas] = _rho(losses, w, a, g)
        best = np.argmin(q, axis=1)
        value[t] = q[np.arange(S), best]
        policy[t] = np.where(np.isfinite(value[t]), best, -1)

    # the policy over the grid
    rows = np.arange(S)
    safe = np.maximum(policy, 0)
    ok = policy >= 0
    next_state = np.where(ok, model.next_state[np.arange(H)[:, None], rows[None, :], safe], -1)
    control = np.where(ok, model.control[np.arange(H)[:, None], rows[None, :], safe], np.nan)
    position = x[:, None] + control

    # the optimal path from the initial state (deterministic: transitions ignore the error)
    s0 = model.s0
    if not np.isfinite(value[0, s0]):
        raise InvalidParameterError(
            f"{params.name}: no feasible schedule from the initial state (check the parameters)"
        )
    path = np.empty(H + 1, dtype=np.intp)
    path[0] = s0
    u_path = np.empty(H, dtype=np.intp)
    for t in range(H):
        u_path[t] = policy[t, path[t]]
        path[t + 1] = model.next_state[t, path[t], u_path[t]]
    steps = np.arange(H)
    ctrl_path = model.control[steps, path[:-1], u_path]
    extras = model.extra[steps, path[:-1], u_path]
    y = (x + ctrl_path)[:, None] + eps  # (H, K) realised positions per node
    stage = _stage_cost(y, prices.buy_eur_per_mwh[:, None], prices.sell_eur_per_mwh[:, None])
    stage = stage + extras[:, None]  # (H, K) stage cost per node, EUR
    terminal_cost = float(model.terminal[path[-1]])
    weights = errors.weights
    stage_mean = stage @ weights
    stage_rho = _rho(stage, w, a, g)
    stage_cvar = _rho(stage, w, a, 1.0)
    # nested values along a deterministic path are sums of per-stage values (translation
    # equivariance of rho), so these are the nested evaluations of the policy
    expected_cost = float(stage_mean.sum() + terminal_cost)
    nested_cvar = float(stage_cvar.sum() + terminal_cost)
    risk_value = float(value[0, s0])

    # forward simulation over the quadrature scenarios: CVaR of the total cost
    K = errors.n_nodes
    if K == 1 or H * math.log(K) <= math.log(n_scen) + 1e-12:
        totals = np.zeros(1)
        probs = np.ones(1)
        for t in range(H):
            totals = (totals[:, None] + stage[t][None, :]).ravel()
            probs = (probs[:, None] * weights[None, :]).ravel()
        exact = True
    else:
        rng = np.random.default_rng(seed)
        picks = rng.choice(K, size=(n_scen, H), p=weights)
        totals = stage[np.arange(H)[None, :], picks].sum(axis=1)
        probs = None
        exact = False
    totals = totals + terminal_cost
    cost_cvar = float(cvar(totals, a, probs))

    sched: dict[str, np.ndarray] = {
        "state_kwh": model.states[path[:-1]],
        "net_demand_kwh": x,
        "control_kwh": ctrl_path,
    }
    for label, arr in model.labels.items():
        sched[label] = arr[steps, path[:-1], u_path]
    sched["position_kwh"] = x + sched["control_kwh"]
    sched["buy_eur_per_mwh"] = prices.buy_eur_per_mwh
    sched["sell_eur_per_mwh"] = prices.sell_eur_per_mwh
    sched["extra_cost_eur"] = extras
    sched["expected_cost_eur"] = stage_mean
    sched["risk_cost_eur"] = stage_rho
    index = prices.index if prices.index is not None else pd.RangeIndex(H, name="interval")
    schedule = pd.DataFrame(sched, index=index)
    schedule.attrs.update(
        kind=params.kind,
        state_name=model.state_name,
        final_state_kwh=float(model.states[path[-1]]),
        terminal_cost_eur=terminal_cost,
    )

    for arr in (value, policy, next_state, control, position, path):
        arr.flags.writeable = False
    states = np.array(model.states, dtype=np.float64)
    states.flags.writeable = False
    return DPResult(
        kind=params.kind,
        params=params,
        gamma=g,
        alpha=a,
        state_name=model.state_name,
        states=states,
        initial_state=s0,
        value=value,
        policy=policy,
        next_state=next_state,
        control_kwh=control,
        position_kwh=position,
        state_path=path,
        schedule=schedule,
        expected_cost=expected_cost,
        risk_value=risk_value,
        nested_cvar=nested_cvar,
        cost_cvar=cost_cvar,
        terminal_cost=terminal_cost,
        n_scenarios=int(totals.shape[0]),
        scenarios_exact=exact,
        net_demand_kwh=x,
        prices=prices,
        errors=errors,
    )
