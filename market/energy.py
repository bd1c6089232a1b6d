"""The energy market as a finite mean-field game, solved by the engine (:mod:`market.solvers`).

Model (DESIGN.md section 3; units as in :mod:`agents.bidding`: kWh per interval, prices in
EUR/MWh at the interfaces, EUR per agent for costs and rewards):

* **Local price.** ``p_t = clip(pi_t + kappa * Y_t / dt, p_sell,t, p_buy,t)`` where ``pi_t`` is
  the wholesale (day-ahead) price, ``p_buy = pi + retail adder``, ``p_sell = pi - export
  discount``, ``Y_t`` is the population's mean grid position in **kWh per interval per agent**
  (``+`` = net import) and ``dt`` the interval length in hours, so ``Y_t / dt`` is a mean power
  in kW. ``kappa`` is in **EUR/MWh per kWh per hour** (per kW): a mean import of 1 kWh per
  agent per hour raises the local price by ``kappa`` EUR/MWh (until it reaches ``p_buy``), on
  hourly and quarter-hourly data alike (on hourly data: per kWh of the interval).
  Every agent settles its whole position at ``p_t`` (buys and sells alike), which is never
  worse than trading alone with the grid; the grid takes the residual (see
  :mod:`market.clearing`).
* **Agents.** One *block* per type, or per (type, bin) with ``bins > 1``: the type's agents
  are split into ``bins`` equal-probability quantile bins of a parameter of the kind
  (:data:`BIN_PARAMETER`: consumer flexibility cost, PV peak power, battery degradation
  cost, EV need; default :data:`DEFAULT_BINS`: four bins for consumer, two for pv_storage,
  one block for the rest; a ``bins`` mapping is looked up by type name first, then by kind),
  each with
  a representative at the bin's mean (other parameters at the type's means) and share
  ``type share / bins`` (a Population: the bin's share of the type's agents). Each block
  carries its representative's DP of :mod:`agents.bidding` (same state grid, controls,
  feasibility, extra costs and terminal cost).
* **Risk.** The next state depends on the control only, never on the forecast error, so by
  translation equivariance of ``rho = (1 - gamma) E + gamma CVaR_alpha`` the nested
  objective is ``rho[c_t(s, u, eps) + V_{t+1}(s')] = rho[c_t(s, u, eps)] + V_{t+1}(s')``:
  the risk-aware best response is an ordinary expected-reward DP with stage reward
  ``-rho_eps(c_t(s, u, eps))``. At the local price the cost is linear,
  ``c = p (m + eps) / 1000 + extra`` with ``m = x + u`` the planned position, so (positive
  homogeneity) ``rho_eps(c) = extra + (p m + p+ rho(eps) + p- rho(-eps)) / 1000`` with
  ``p+ = max(p, 0)``, ``p- = max(-p, 0)``; ``rho(+-eps)`` per block and interval is
  computed once with :func:`risk.mean_cvar` (batched over intervals). The risk term does
  not depend on the control: under a single linear local price the risk weight shifts a
  block's cost but not its decisions (it does under the kinked grid tariff, see
  :meth:`EnergyGame.frozen_game`).
* **Encoding** (a :class:`market.mfg.FiniteMFG`): states are the union of the blocks' state
  grids (block ``b`` occupies ``offset_b .. offset_b + S_b - 1``; consumer and pv have a
  single state); actions ``0 .. A - 1`` with ``A`` the largest number of controls of any
  block; transitions are deterministic (one nonzero per row of the sparse ``(S*A, S)``
  matrix) and block diagonal. Action ``a`` of a block is its DP control ``a`` (action 0 is
  always "do nothing"). Actions a block lacks (``a >= U_b``) and controls infeasible at
  ``(t, s)`` are *penalised*: a self-loop with reward ``-penalty_eur`` and the position of
  "do nothing" (``x_t``) in ``Y``. DP terminal states that are not allowed (a battery
  ending below its starting level) get terminal reward ``-penalty_eur``. The penalty is
  ``2 B + 1`` EUR with ``B`` a bound on the spread of any block's feasible day cost at any
  price inside the tariff band, so no penalised action or terminal state ever beats a
  feasible one: best responses, values from the initial states and hence exploitability are
  those of the DP. The initial distribution puts each block's share on its representative's
  initial state. Rewards are EUR per agent, so the engine's exploitability is in **EUR per
  agent per day** (what the best response would save, averaged over the population).
* **Mean position.** ``Y_t(L) = sum_{s,a} L_t(s, a) (m_t(s, a) + E[eps_t])``: precomputed
  per (t, s, a), so a reward evaluation costs one dot product and one ``(S, A)`` update.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike
from scipy import stats

# The DP model builders of agents.bidding: the encoding reuses them so that the game and the
# agents' DP are the same model by construction (tests check the identity).
from agents.bidding import DP_BUILDERS, DPGrid, ErrorQuadrature, PricePath, ev_grid
from agents.config import KINDS, AgentParams, Dist, PopulationConfig
from agents.population import Population
from agents.profiles import DayShapes, expected_profile
from data.checks import check_real
from data.errors import InvalidParameterError
from market.mfg import FiniteMFG, best_response, mean_field
from market.solvers import METHODS, MFGSolution, solve
from risk import mean_cvar

__all__ = [
    "BIN_PARAMETER",
    "DEFAULT_BINS",
    "DEFAULT_KAPPA",
    "DEFAULT_TOL_EUR",
    "EnergyEquilibrium",
    "EnergyGame",
    "GameBlock",
    "energy_game",
    "noop_policy",
    "solve_energy_market",
]

KWH_PER_MWH = 1000.0
DEFAULT_KAPPA = 400.0
"""Default price sensitivity, EUR/MWh per kW of mean position per agent (per kWh per agent per
hour; on hourly data, per kWh per interval).

Re-measured without look-ahead (agents planning on the forecasts known at the cut-off, as
``btut replay`` does since 2026-12-06; ES 2017-05-01..31, 2,000 agents, exact planner, summed
over the month, with the benchmarks' demand response on the realised load as before
2026-12-07, ``benchmarks/results/efficiency_gap_kappa_may2017_plan.json``): efficiency
kappa 200 0.947, 300 0.959, 400 0.961, 600 0.963, 1,000 0.963 (days >= 0.95: 17, 24, 25, 25,
23 of 31; at most 160, 217, 301, 458, 553 iterations). 400 stays the default: 0.0024 below
the best (600), at two-thirds of its iterations. With the benchmarks' demand response on the
planned load (the market's options, since 2026-12-07;
``benchmarks/results/efficiency_gap_kappa_may2017_plan_base.json``): 0.945, 0.958, 0.959,
0.962, 0.961 (days >= 0.95: 16, 23, 24, 24, 23 of 31), the same order; 400 stays. The
older measurements below (and those of :data:`BIN_PARAMETER`, but not :data:`DEFAULT_BINS`)
were made while agents planned on the day's actual shapes.

400 (was 200; chosen on May 2017, reported on June; issue 6, item 7): with the band
``[pi - 15, pi + 60]`` EUR/MWh the price reaches ``p_buy`` at a mean import of 0.15 kWh per
agent and interval (0.3 at 200), so where the community imports a little it still pays
agents nearly the full value of a kWh not imported. ES 2017-05-01..31, 2,000 agents, exact
planner, summed over the month (``benchmarks/efficiency_gap_study.py``,
``benchmarks/results/efficiency_gap_kappa_may2017.json``): efficiency kappa 200 0.949, 300
0.964, 400 0.967, 600 0.968, 1,000 0.969 (days >= 0.95: 16, 27, 25, 29, 29 of 31; at most
186, 222, 342, 356, 604 fictitious-play iterations): 400 is the smallest within 0.002 of the
best, at about half the iterations of 1,000. The price rule was the largest part of the
remaining gap to the planner (the mean-field cost at 1,000 is the planner's to 0.1 %).

200 (was 50): a steeper local price is closer to the community's marginal cost (``p_buy``
when it imports, ``p_sell`` when it exports), whose equilibrium is the planner's schedule
(the game's potential is then the community's cost). Measured with the finite-N market
against the MILP planner (``benchmarks/bench_efficiency.py``; the 10^4-agent week
2017-06-12..18 in ``benchmarks/results/bench_efficiency.json``): with the 0.001 tolerance,
2,000 agents, exact planner, ES 2017-06-12 / -13: kappa 50 0.882 / -, 200
0.911 / 0.930, 1,000 0.913 / 0.955, but 1,000 needs 3-4 times the fictitious-play iterations
(590-730, about 9 s a day) and 10^5 no longer converges in 1,000 iterations. (The 06-12 /
-13 figures of this paragraph were not recorded in ``benchmarks/results``; only the commit
messages keep them.)"""

DEFAULT_TOL_EUR = 0.001
"""Default equilibrium tolerance of :func:`solve_energy_market`, EUR per agent per day.

0.001 (was 0.01): in this monotone (potential) game the exploitability bounds how far the
population's cost is from the equilibrium's, and 0.01 EUR per agent per day is of the order
of the market's whole gap to the planner (about 0.016 EUR per agent per day on 2017-06-12, when
the tolerance was chosen; not recorded)."""

BIN_PARAMETER: Mapping[str, str] = {
    "consumer": "flex_cost_eur_per_kwh2",
    "pv": "pv_kwp",
    "pv_storage": "degradation_eur_per_kwh",
    "ev": "ev_need_kwh",
}
"""The parameter of each kind that ``bins`` splits a type by: the one whose spread the
representative's policy captures worst (issue 6, item 7).

pv_storage: the battery's degradation cost (was its energy, ``battery_kwh``). Measured on ES
2017-06-12, 2,000 agents, exact planner (market - planner gap 23.2 EUR): setting one
parameter at a time to its type's mean, only the degradation cost's spread matters much --
the planner cycles the cheap-to-wear batteries more and the dear ones less, which one
representative's policy scaled to the agent's own size cannot do (gap 12.8 EUR with
degradation homogeneous; battery energy 22.9, battery power 22.7, EV need / charger /
deadline 23.0-23.1, consumer flexibility cost 19.8 and load 21.3, the rest unchanged).
Bins over it: gap 12.0 EUR at 2 bins; over battery energy, 4 bins: 20.7.

consumer: the demand-response cost ``flex`` (was the daily load). A consumer follows its
block's level ``l`` at its own load and cost: its own best level is about ``p / (2 flex
load)``, and ``flex`` (lognormal, cv 0.5) spreads more than the load (cv 0.35); with one
block the dear-to-flex consumers adjust as much as the cheap ones. Measured (2,000 agents,
exact planner, ``benchmarks/efficiency_gap_study.py``): setting ``flex`` to its mean raises
the efficiency by 0.007-0.010 on ES 2017-06-11/-25/-29; 4 flex bins (chosen on ES
2017-05-01..31): +0.002 over the month at kappa 200 (better on 22 of 31 days), +0.003 at
400 (24 of 31, 23 by more than 1e-4; ``efficiency_gap_flexbins_may2017.json`` against
``efficiency_gap_kappa_may2017.json``); 2 bins: -0.002. The single-day figures above
(2017-06-11..-29) were measured with the same script before its results were recorded;
only the commit messages keep them."""

DEFAULT_BINS: Mapping[str, int] = MappingProxyType({"consumer": 4, "pv_storage": 2})
"""Default ``bins`` of :func:`energy_game` for a population or config: four flexibility-cost
bins for consumer (stateless blocks: one state each), two degradation-cost bins for
pv_storage, one block for the other kinds (whose bins gain nothing measurable).

Re-measured without look-ahead (agents planning on the cut-off forecasts; ES 2017-05-01..31,
2,000 agents, kappa 400, exact planner, summed over the month, the benchmarks' demand response
on the realised load as before 2026-12-07 (the default's 0.961 is 0.959 with the market's
options, ``efficiency_gap_kappa_may2017_plan_base.json``),
``benchmarks/results/efficiency_gap_bins_may2017_plan.json``): this default 0.961 (25 of 31
days >= 0.95, at most 301 fictitious-play iterations); one block per type 0.933; without the
pv_storage bins 0.935; without the consumer bins 0.957; 2 bins for every type 0.960; 4 bins
for every type 0.961 (+0.0004, better on 18 of 31 days, at most 382 iterations, 16 blocks
instead of 8). The default stays: within 0.0004 of the best with fewer blocks and
iterations (the study's timings were taken on a shared machine and are not quoted)."""


def _readonly(*arrays: np.ndarray) -> None:
    for a in arrays:
        a.flags.writeable = False


# --------------------------------------------------------------------------------------------
# blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GameBlock:
    """One block of the game: a type (or a type's parameter bin) and its representative.

    ``offset``/``n_states``: the block's states in the game (``offset .. offset + n_states``);
    ``n_actions``: its number of controls ``U`` (game actions ``>= U`` are penalised);
    ``initial_state``: the representative's initial state (local index); ``states`` (S,)
    the state values in kWh of ``state_name``; ``load_kwh``/``pv_kwh``/``net_kwh`` (H,) the
    representative's expected profile; ``errors`` its forecast-error quadrature;
    ``action_values`` (U,): what action ``a`` means (battery: grid steps ``j``; EV: charging
    level, fraction of ``ev_max_kw``; consumer: demand-response level in [-1, 1]; pv: 0);
    ``ev_delta_kwh``/``ev_steps`` (U,): the EV grid step and steps per level (EV only);
    ``bin_parameter``/``bin_range``: the bin (``(-inf, inf)`` without bins).
    """

    name: str
    type_name: str
    kind: str
    share: float
    params: AgentParams
    offset: int
    n_states: int
    n_actions: int
    initial_state: int
    state_name: str
    states: np.ndarray
    load_kwh: np.ndarray
    pv_kwh: np.ndarray
    net_kwh: np.ndarray
    errors: ErrorQuadrature
    action_values: np.ndarray
    ev_delta_kwh: float
    ev_steps: np.ndarray
    bin_parameter: str | None
    bin_range: tuple[float, float]

    @property
    def slice(self) -> slice:
        """The block's states in the game."""
        return slice(self.offset, self.offset + self.n_states)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type_name,
            "kind": self.kind,
            "share": self.share,
            "n_states": self.n_states,
            "n_actions": self.n_actions,
            "state_name": self.state_name,
            "gamma": self.params.gamma,
            "alpha": self.params.alpha,
            "bin_parameter": self.bin_parameter,
            "bin_range": [float(v) for v in self.bin_range],
            "bin_value": (
                float(getattr(self.params, self.bin_parameter)) if self.bin_parameter else None
            ),
        }


def _lognormal_bins(dist: Dist, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """(inner edges (bins-1,), conditional means (bins,)) of equal-probability bins."""
    mu, sigma = dist.lognormal_params()
    q = np.arange(bins + 1) / bins
    z = stats.norm.ppf(q)
    edges = np.exp(mu + sigma * z[1:-1])
    mass = np.diff(stats.norm.cdf(z - sigma))
    means = math.exp(mu + 0.5 * sigma**2) * mass * bins
    return edges, means


def _dist_bins(dist: Dist, bins: int) -> tuple[np.ndarray, np.ndarray]:
    if bins == 1 or dist.spread == 0.0 or dist.family == "fixed":
        return np.empty(0), np.array([dist.mean])
    if dist.family == "uniform":
        lo, hi = dist.support
        q = np.arange(bins + 1) / bins
        edges = lo + (hi - lo) * q
        return edges[1:-1], 0.5 * (edges[:-1] + edges[1:])
    return _lognormal_bins(dist, bins)


@dataclass(frozen=True)
class _Rep:
    name: str
    type_name: str
    params: AgentParams
    share: float
    bin_parameter: str | None
    bin_range: tuple[float, float]


def _type_bins(bins: int | Mapping[str, int], tc: Any) -> int:
    if isinstance(bins, Mapping):
        return int(bins.get(tc.name, bins.get(tc.kind, 1)))
    return bins


def _check_bins(bins: Any) -> int | Mapping[str, int]:
    def one(v: Any, what: str) -> int:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise InvalidParameterError(f"{what} must be an integer >= 1, got {v!r}")
        return int(v)

    if isinstance(bins, Mapping):
        return MappingProxyType({str(k): one(v, f"bins[{k!r}]") for k, v in bins.items()})
    return one(bins, "bins")


def _check_bin_keys(bins: int | Mapping[str, int], type_names: Sequence[str]) -> None:
    """Refuse a ``bins`` key that is neither one of the population's type names nor a kind
    (a kind the population lacks is allowed: the default bins name kinds)."""
    if not isinstance(bins, Mapping):
        return
    known = [*type_names, *(k for k in KINDS if k not in type_names)]
    unknown = sorted(set(bins) - set(known))
    if unknown:
        raise InvalidParameterError(
            f"bins for unknown type(s) {', '.join(unknown)} (type names and kinds: "
            f"{', '.join(known)})"
        )


def _representatives(source: Any, bins: int | Mapping[str, int] | None) -> tuple[list[_Rep], float]:
    """Block representatives and the idiosyncratic noise of the population."""
    reps: list[_Rep] = []
    if bins is None:
        bins = 1 if isinstance(source, Sequence) else DEFAULT_BINS
    inf = (-math.inf, math.inf)
    if isinstance(source, Population):
        _check_bin_keys(bins, source.config.type_names)
        counts = source.type_counts()
        for tc in source.config.types:
            n_t = counts[tc.name]
            if n_t == 0:
                continue
            share = tc.share
            pname = BIN_PARAMETER[tc.kind]
            dist = tc.params[pname]
            k = _type_bins(bins, tc)
            if k == 1 or dist.spread == 0.0:
                rep = source.representative(tc.name)
                reps.append(_Rep(tc.name, tc.name, rep, share, None, inf))
                continue
            idx_t = np.flatnonzero(source.mask(tc.name))
            values = source.param(pname)[idx_t].astype(np.float64)
            inner = np.quantile(values, np.arange(1, k) / k)
            which = np.searchsorted(inner, values, side="right")
            edges = np.concatenate([[-math.inf], inner, [math.inf]])
            for j in range(k):
                bin_idx = idx_t[which == j]
                n_bin = int(bin_idx.size)
                if n_bin == 0:
                    continue
                rep = source.representative(tc.name, index=bin_idx)
                reps.append(
                    _Rep(
                        f"{tc.name}[{j}]",
                        tc.name,
                        rep,
                        share * n_bin / n_t,
                        pname,
                        (float(edges[j]), float(edges[j + 1])),
                    )
                )
        return reps, source.config.noise
    if isinstance(source, PopulationConfig):
        _check_bin_keys(bins, source.type_names)
        for tc in source.types:
            if tc.share <= 0:
                continue
            pname = BIN_PARAMETER[tc.kind]
            dist = tc.params[pname]
            inner, means = _dist_bins(dist, _type_bins(bins, tc))
            if means.size == 1:
                reps.append(_Rep(tc.name, tc.name, AgentParams.from_type(tc), tc.share, None, inf))
                continue
            edges = np.concatenate([[-math.inf], inner, [math.inf]])
            for j, m in enumerate(means):
                params = AgentParams.from_type(tc, **{pname: float(m)})
                reps.append(
                    _Rep(
                        f"{tc.name}[{j}]",
                        tc.name,
                        params,
                        tc.share / means.size,
                        pname,
                        (float(edges[j]), float(edges[j + 1])),
                    )
                )
        return reps, source.noise
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        if (max(bins.values(), default=1) if isinstance(bins, Mapping) else bins) != 1:
            raise InvalidParameterError("bins > 1 needs a Population or a PopulationConfig")
        names: set[str] = set()
        total = 0.0
        for item in source:
            if (
                not isinstance(item, tuple)
                or len(item) != 2
                or not isinstance(item[0], AgentParams)
            ):
                raise InvalidParameterError("representatives must be (AgentParams, share) pairs")
            params, share = item
            share = check_real(share, f"share of {params.name!r}")
            if share < 0:
                raise InvalidParameterError(f"share of {params.name!r} must be >= 0")
            if params.name in names:
                raise InvalidParameterError(f"representative names must be unique: {params.name!r}")
            names.add(params.name)
            total += share
            if share > 0:
                reps.append(_Rep(params.name, params.name, params, share, None, inf))
        if abs(total - 1.0) > 1e-9:
            raise InvalidParameterError(f"representative shares must sum to 1, got {total:.6g}")
        _check_bin_keys(bins, sorted(names))
        return reps, 0.0
    raise InvalidParameterError(
        "population must be a Population, a PopulationConfig or (AgentParams, share) pairs, "
        f"got {type(source).__name__}"
    )


def _action_values(params: AgentParams, model: Any, grid: DPGrid, dt_h: float) -> tuple:
    """(action_values (U,), ev_delta, ev_steps (U,)) of a block's controls."""
    U = model.control.shape[2]
    kind = params.kind
    if kind == "pv_storage":
        if model.states.shape[0] == 1:
            return np.zeros(U), 0.0, np.zeros(U, dtype=np.intp)
        delta = float(model.states[1] - model.states[0])
        charge = model.labels["charge_kwh"][0, 0]
        discharge = model.labels["discharge_kwh"][0, 0]
        steps = np.rint(
            (charge * params.eta_charge - discharge / params.eta_discharge) / delta
        ).astype(np.intp)
        return steps.astype(np.float64), 0.0, np.zeros(U, dtype=np.intp)
    if kind == "ev":
        delta, _, k = ev_grid(params, dt_h, grid)
        levels = np.asarray(params.ev_charge_levels, dtype=np.float64)
        return levels, float(delta), np.asarray(k, dtype=np.intp)
    if kind == "consumer":
        L = params.dr_levels
        levels = np.linspace(-1.0, 1.0, L) if L > 1 else np.zeros(1)
        levels = levels[np.argsort(np.abs(levels), kind="stable")]  # as agents.bidding
        return levels, 0.0, np.zeros(U, dtype=np.intp)
    return np.zeros(U), 0.0, np.zeros(U, dtype=np.intp)


def _default_errors(
    load: np.ndarray,
    pv: np.ndarray,
    noise: float,
    forecast: pd.DataFrame | None,
    n_nodes: int,
    pv_error_sd: np.ndarray | None = None,
) -> ErrorQuadrature:
    if forecast is None:
        H = load.shape[0]
        forecast = pd.DataFrame({"mu": np.ones(H), "sigma": np.zeros(H), "nu": np.inf})
    elif len(forecast) != load.shape[0]:
        raise InvalidParameterError(
            f"forecast has {len(forecast)} rows, expected {load.shape[0]} intervals"
        )
    return ErrorQuadrature.from_forecast(
        forecast, load, pv_kwh=pv, noise=noise, pv_error_sd_kwh=pv_error_sd, n_nodes=n_nodes
    )


# --------------------------------------------------------------------------------------------
# the game
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EnergyGame:
    """The energy market of one day as a :class:`market.mfg.FiniteMFG` (module doc).

    ``mfg``: the engine game (T = H intervals, S states, A actions); ``blocks``: the
    :class:`GameBlock` s; ``tariff``: a :class:`agents.bidding.PricePath` with ``p_buy`` and
    ``p_sell`` (EUR/MWh, (H,)), interval length and clock; ``wholesale_eur_per_mwh`` (H,);
    ``kappa_eur_per_mwh_per_kwh``; ``penalty_eur``; ``load_shape`` (H,) (for mapping agents).
    Arrays (H, S, A): ``position_kwh`` planned position ``x + u`` (``x`` for penalised
    actions), ``expected_position_kwh`` (``+ E[eps]``, what ``Y`` averages),
    ``extra_cost_eur``, ``feasible``, ``next_state`` (global index);
    ``mean_error_kwh``, ``rho_pos_kwh``, ``rho_neg_kwh`` (H, S): ``E[eps]``, ``rho(eps)`` and
    ``rho(-eps)`` of the state's block, ``error_bound_kwh`` (H, S) its ``max |eps|``;
    ``terminal_allowed`` (S,): where the DP allows the day to end; ``terminal_cost_eur`` (S,)
    (the penalty where it does not).
    """

    mfg: FiniteMFG
    blocks: tuple[GameBlock, ...]
    tariff: PricePath
    wholesale_eur_per_mwh: np.ndarray
    kappa_eur_per_mwh_per_kwh: float
    penalty_eur: float
    load_shape: np.ndarray
    grid: DPGrid
    position_kwh: np.ndarray
    expected_position_kwh: np.ndarray
    extra_cost_eur: np.ndarray
    feasible: np.ndarray
    next_state: np.ndarray
    mean_error_kwh: np.ndarray
    rho_pos_kwh: np.ndarray
    rho_neg_kwh: np.ndarray
    terminal_cost_eur: np.ndarray
    terminal_allowed: np.ndarray
    error_bound_kwh: np.ndarray
    transitions: tuple[sp.csr_matrix, ...]

    @property
    def n_intervals(self) -> int:
        return self.mfg.horizon

    @property
    def block_names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.blocks)

    def block(self, name: str) -> GameBlock:
        for b in self.blocks:
            if b.name == name:
                return b
        raise InvalidParameterError(f"no block {name!r} (blocks: {', '.join(self.block_names)})")

    # -- the coupling ----------------------------------------------------------------------
    def mean_position(self, L: ArrayLike) -> np.ndarray:
        """``Y`` (H,) kWh per agent of the mean field ``L`` (H, S, A)."""
        arr = np.asarray(L, dtype=np.float64)
        if arr.shape != self.mfg.shape:
            raise InvalidParameterError(f"L must have shape {self.mfg.shape}, got {arr.shape}")
        H = self.n_intervals
        flat = arr.reshape(H, -1)
        return np.einsum("ti,ti->t", flat, self.expected_position_kwh.reshape(H, -1))

    def price(self, mean_position_kwh: ArrayLike) -> np.ndarray:
        """Local price (H,) EUR/MWh: ``clip(pi + kappa Y / dt, p_sell, p_buy)``."""
        Y = np.asarray(mean_position_kwh, dtype=np.float64)
        raw = self.wholesale_eur_per_mwh + self.kappa_eur_per_mwh_per_kwh * Y / self.tariff.dt_hours
        return np.clip(raw, self.tariff.sell_eur_per_mwh, self.tariff.buy_eur_per_mwh)

    def _price_t(self, t: int, L_t: np.ndarray) -> float:
        # einsum, not BLAS: a threaded ddot stalls when the other cores are busy
        Y = float(np.einsum("ij,ij->", L_t, self.expected_position_kwh[t]))
        raw = (
            self.wholesale_eur_per_mwh[t]
            + self.kappa_eur_per_mwh_per_kwh * Y / self.tariff.dt_hours
        )
        return min(max(raw, self.tariff.sell_eur_per_mwh[t]), self.tariff.buy_eur_per_mwh[t])

    def stage_cost(self, t: int, price_eur_per_mwh: float) -> np.ndarray:
        """Risk-adjusted stage cost ``rho_eps(c_t)`` (S, A) EUR at a local price (EUR/MWh);
        penalised actions cost ``penalty_eur``."""
        p = float(price_eur_per_mwh)
        risk = max(p, 0.0) * self.rho_pos_kwh[t] + max(-p, 0.0) * self.rho_neg_kwh[t]
        c = self.extra_cost_eur[t] + (p * self.position_kwh[t] + risk[:, None]) / KWH_PER_MWH
        return np.where(self.feasible[t], c, self.penalty_eur)

    def reward(self, t: int, L_t: np.ndarray) -> np.ndarray:
        """The engine's reward ``-rho_eps(cost)`` (S, A) at period ``t`` given ``L_t``."""
        return -self.stage_cost(t, self._price_t(t, L_t))

    # -- frozen prices -----------------------------------------------------------------
    def frozen_game(self, prices: PricePath) -> FiniteMFG:
        """The same encoding against a frozen price path: stage cost
        ``rho_eps(p_buy y+ - p_sell y- + extra)`` with ``y = m + eps`` (the grid tariff of
        :mod:`agents.bidding` when ``buy != sell``), evaluated with :func:`risk.mean_cvar`
        over the quadrature; rewards do not depend on the mean field."""
        if not isinstance(prices, PricePath) or prices.n_intervals != self.n_intervals:
            raise InvalidParameterError(
                f"prices must be a PricePath of {self.n_intervals} intervals"
            )
        penalty = self._frozen_penalty(prices)
        table = self.frozen_stage_cost(prices)
        terminal = -np.where(self.terminal_allowed, self.terminal_cost_eur, penalty)
        return FiniteMFG(
            self.mfg.horizon,
            self.mfg.n_states,
            self.mfg.n_actions,
            self.mfg.initial_distribution,
            lambda t, L: -table[t],
            lambda t, L: self.transitions[t],
            terminal_reward=lambda mu: terminal,
            name=f"{self.mfg.name} (frozen prices)",
        )

    def _frozen_penalty(self, prices: PricePath) -> float:
        """The game's penalty, raised if ``prices`` leave the tariff band far enough to need it."""
        needed = _penalty_needed(
            prices,
            self.position_kwh,
            self.extra_cost_eur,
            self.feasible,
            self.error_bound_kwh,
            self.terminal_cost_eur[self.terminal_allowed],
        )
        return max(self.penalty_eur, needed)

    def frozen_stage_cost(self, prices: PricePath) -> np.ndarray:
        """(H, S, A) risk-adjusted stage cost in EUR at frozen buy/sell prices (penalty where
        penalised), batched over each block's feasible (state, action) pairs."""
        H, S, A = self.mfg.shape
        out = np.full((H, S, A), self._frozen_penalty(prices))
        buy = prices.buy_eur_per_mwh / KWH_PER_MWH
        sell = prices.sell_eur_per_mwh / KWH_PER_MWH
        for b in self.blocks:
            sl = b.slice
            w = None if b.errors.equal_weights else b.errors.weights
            feas = self.feasible[:, sl]  # (H, S_b, A)
            t_of = np.nonzero(feas)[0]  # interval of each feasible (t, s, a), in order
            y = self.position_kwh[:, sl][feas][:, None] + b.errors.nodes[t_of]
            loss = np.where(y > 0, buy[t_of][:, None] * y, sell[t_of][:, None] * y)
            loss += self.extra_cost_eur[:, sl][feas][:, None]
            block = out[:, sl]
            block[feas] = np.asarray(
                mean_cvar(loss, b.params.alpha, b.params.gamma, w, axis=1), dtype=np.float64
            )
            out[:, sl] = block
        return out

    def terminal_distribution(self, L: np.ndarray) -> np.ndarray:
        """State distribution (S,) after the last interval of the mean field ``L``."""
        S, A = self.mfg.n_states, self.mfg.n_actions
        return self.transitions[-1].T @ np.asarray(L[-1], dtype=np.float64).reshape(S * A)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description (no arrays)."""
        H, S, A = self.mfg.shape
        return {
            "n_intervals": H,
            "n_states": S,
            "n_actions": A,
            "kappa_eur_per_mwh_per_kwh": self.kappa_eur_per_mwh_per_kwh,
            "penalty_eur": self.penalty_eur,
            "dt_hours": self.tariff.dt_hours,
            "blocks": [b.to_dict() for b in self.blocks],
        }


def _penalty_needed(
    prices: PricePath,
    position: np.ndarray,
    extra: np.ndarray,
    feasible: np.ndarray,
    eps_abs: np.ndarray,
    terminal: np.ndarray,
) -> float:
    """``2 B + 1`` EUR, ``B`` a bound on the spread of any block's feasible day cost under
    ``prices``: ``|rho(c)| <= max|c| <= |extra| + pmax (|m| + max|eps|) / 1000`` per stage, over
    H stages, plus the spread of the allowed terminal costs."""
    H = position.shape[0]
    pmax = float(max(np.abs(prices.buy_eur_per_mwh).max(), np.abs(prices.sell_eur_per_mwh).max()))
    stage = np.abs(extra) + pmax * (np.abs(position) + eps_abs[:, :, None]) / KWH_PER_MWH
    stage_bound = float(np.where(feasible, stage, 0.0).max())
    term_spread = float(terminal.max() - terminal.min()) if terminal.size else 0.0
    bound = 2.0 * H * stage_bound + term_spread
    return 2.0 * bound + 1.0


def energy_game(
    population: Population | PopulationConfig | Sequence[tuple[AgentParams, float]],
    price_eur_per_mwh: ArrayLike,
    shapes: DayShapes,
    *,
    kappa_eur_per_mwh_per_kwh: float = DEFAULT_KAPPA,
    retail_adder_eur_per_mwh: float | None = None,
    export_discount_eur_per_mwh: float | None = None,
    grid: DPGrid | None = None,
    bins: int | Mapping[str, int] | None = None,
    forecast: pd.DataFrame | None = None,
    errors: Mapping[str, ErrorQuadrature] | None = None,
    profiles: Mapping[str, tuple[ArrayLike, ArrayLike]] | None = None,
    noise: float | None = None,
    n_nodes: int = 16,
    penalty_eur: float | None = None,
) -> EnergyGame:
    """Build the energy game of one market day (module doc).

    population: a sampled :class:`Population` (representatives are its per-type means, or
    per-bin means), a :class:`PopulationConfig` (the distributions' means / bin means), or
    ``(AgentParams, share)`` pairs (shares summing to 1; names must be unique).
    price_eur_per_mwh: wholesale price ``pi`` (H,); shapes: the day's
    :class:`agents.profiles.DayShapes` (each block's expected load/PV per interval, interval
    length, clock). kappa_eur_per_mwh_per_kwh >= 0: price sensitivity to the mean position
    (EUR/MWh per kWh per agent per hour, i.e. per kW; module doc). Tariff: ``p_buy = pi +
    retail adder``, ``p_sell = pi - export discount`` (EUR/MWh, default the config's, else 60
    and 15). grid: DP resolution.
    bins: quantile bins per type of :data:`BIN_PARAMETER`: an integer for every type, or a
    mapping from type name or kind to a number of bins (types not in it: 1); None:
    :data:`DEFAULT_BINS` (a population or config), 1 (representative pairs). Forecast errors
    per block: ``errors[name]`` when given, else ``ErrorQuadrature.from_forecast(forecast, load, pv,
    noise, pv_error_sd, n_nodes)`` (``forecast``: the zone's Student-t load forecast of the day,
    columns ``mu``, ``sigma``, ``nu``; None: no load forecast error, a normal quadrature;
    ``pv_error_sd = pv_kwp * shapes.solar_cf_error_sd * dt_hours`` when the shapes are a plan
    from :func:`agents.planning_profiles`, the solar forecast's error);
    noise: default the population's. profiles: ``{name: (load_kwh, pv_kwh)}`` overriding the
    expected profiles. penalty_eur: override the penalty (must exceed the computed bound).
    """
    if bins is not None:
        bins = _check_bins(bins)
    if not isinstance(shapes, DayShapes):
        raise InvalidParameterError(f"shapes must be DayShapes, got {type(shapes).__name__}")
    H = shapes.n_intervals
    try:
        pi = np.array(price_eur_per_mwh, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError("price_eur_per_mwh must be an array of numbers") from None
    if pi.shape != (H,):
        raise InvalidParameterError(
            f"price_eur_per_mwh must have shape ({H},) like the day's shapes, got {pi.shape}"
        )
    if not np.isfinite(pi).all():
        raise InvalidParameterError("price_eur_per_mwh must be finite (found NaN or infinity)")
    kappa = check_real(kappa_eur_per_mwh_per_kwh, "kappa_eur_per_mwh_per_kwh")
    if kappa < 0:
        raise InvalidParameterError(f"kappa_eur_per_mwh_per_kwh must be >= 0, got {kappa:g}")
    grid = DPGrid() if grid is None else grid
    if not isinstance(grid, DPGrid):
        raise InvalidParameterError(f"grid must be a DPGrid, got {type(grid).__name__}")
    if isinstance(n_nodes, bool) or not isinstance(n_nodes, numbers.Integral) or n_nodes < 1:
        raise InvalidParameterError(f"n_nodes must be an integer >= 1, got {n_nodes!r}")

    reps, pop_noise = _representatives(population, bins)
    if not reps:
        raise InvalidParameterError("the population has no agent type with a positive share")
    rep_total = math.fsum(r.share for r in reps)  # < 1 when a population lacks some types
    config = (
        population.config
        if isinstance(population, Population)
        else population
        if isinstance(population, PopulationConfig)
        else None
    )
    adder = (
        retail_adder_eur_per_mwh
        if retail_adder_eur_per_mwh is not None
        else (config.retail_adder_eur_per_mwh if config is not None else 60.0)
    )
    discount = (
        export_discount_eur_per_mwh
        if export_discount_eur_per_mwh is not None
        else (config.export_discount_eur_per_mwh if config is not None else 15.0)
    )
    tariff = PricePath.from_prices(
        pi,
        retail_adder_eur_per_mwh=check_real(adder, "retail_adder_eur_per_mwh"),
        export_discount_eur_per_mwh=check_real(discount, "export_discount_eur_per_mwh"),
        dt_hours=shapes.dt_hours,
        clock_hour=shapes.clock_hour,
        index=shapes.index,
    )
    s_noise = pop_noise if noise is None else check_real(noise, "noise")
    if s_noise < 0:
        raise InvalidParameterError(f"noise must be >= 0, got {s_noise:g}")
    errors = dict(errors or {})
    profiles = dict(profiles or {})
    known = {r.name for r in reps}
    for what, given in (("errors", errors), ("profiles", profiles)):
        unknown = sorted(set(given) - known)
        if unknown:
            raise InvalidParameterError(
                f"{what} for unknown block(s) {', '.join(unknown)} "
                f"(blocks: {', '.join(sorted(known))})"
            )

    # -- per-block DP models --------------------------------------------------------------
    built = []
    offset = 0
    for rep in reps:
        p = rep.params
        if rep.name in profiles:
            load_raw, pv_raw = profiles[rep.name]
            load = np.array(load_raw, dtype=np.float64)
            pv = np.array(pv_raw, dtype=np.float64)
            if load.shape != (H,) or pv.shape != (H,):
                raise InvalidParameterError(f"profiles[{rep.name!r}] must be two ({H},) arrays")
            if not (np.isfinite(load).all() and np.isfinite(pv).all()):
                raise InvalidParameterError(f"profiles[{rep.name!r}] must be finite")
            if (load < 0).any() or (pv < 0).any():
                raise InvalidParameterError(f"profiles[{rep.name!r}] must be >= 0")
        else:
            load, pv = expected_profile(p, shapes)
            load, pv = np.array(load, dtype=np.float64), np.array(pv, dtype=np.float64)
        err = errors.get(rep.name)
        if err is None:
            pv_sd = (
                None
                if shapes.solar_cf_error_sd is None
                else p.pv_kwp * shapes.solar_cf_error_sd * shapes.dt_hours
            )
            err = _default_errors(load, pv, s_noise, forecast, int(n_nodes), pv_sd)
        elif not isinstance(err, ErrorQuadrature) or err.n_intervals != H:
            raise InvalidParameterError(
                f"errors[{rep.name!r}] must be an ErrorQuadrature of {H} intervals"
            )
        model = DP_BUILDERS[p.kind](p, load, tariff, grid)
        if not np.isfinite(model.terminal[model.s0]):
            raise InvalidParameterError(f"{rep.name}: the initial state is not allowed at the end")
        values, ev_delta, ev_steps = _action_values(p, model, grid, tariff.dt_hours)
        S_b, U_b = model.control.shape[1], model.control.shape[2]
        block = GameBlock(
            name=rep.name,
            type_name=rep.type_name,
            kind=p.kind,
            share=float(rep.share / rep_total),
            params=p,
            offset=offset,
            n_states=S_b,
            n_actions=U_b,
            initial_state=int(model.s0),
            state_name=model.state_name,
            states=np.array(model.states, dtype=np.float64),
            load_kwh=load,
            pv_kwh=pv,
            net_kwh=load - pv,
            errors=err,
            action_values=np.asarray(values, dtype=np.float64),
            ev_delta_kwh=ev_delta,
            ev_steps=np.asarray(ev_steps, dtype=np.intp),
            bin_parameter=rep.bin_parameter,
            bin_range=rep.bin_range,
        )
        _readonly(block.states, block.load_kwh, block.pv_kwh, block.net_kwh)
        _readonly(block.action_values, block.ev_steps)
        built.append((block, model))
        offset += S_b
    S = offset
    A = max(b.n_actions for b, _ in built)

    # -- global arrays ------------------------------------------------------------------
    position = np.empty((H, S, A))
    extra = np.zeros((H, S, A))
    feasible = np.zeros((H, S, A), dtype=bool)
    nxt = np.empty((H, S, A), dtype=np.intp)
    mean_err = np.empty((H, S))
    rho_pos = np.empty((H, S))
    rho_neg = np.empty((H, S))
    terminal = np.empty(S)
    mu0 = np.zeros(S)
    for block, model in built:
        sl, off, U_b = block.slice, block.offset, block.n_actions
        x = block.net_kwh
        position[:, sl, :] = x[:, None, None]  # penalised actions: the position of doing nothing
        position[:, sl, :U_b] = np.where(
            model.feasible, x[:, None, None] + model.control, x[:, None, None]
        )
        extra[:, sl, :U_b] = np.where(model.feasible, model.extra, 0.0)
        feasible[:, sl, :U_b] = model.feasible
        selfloop = np.arange(off, off + block.n_states)
        nxt[:, sl, :] = selfloop[None, :, None]
        nxt[:, sl, :U_b] = np.where(model.feasible, model.next_state + off, selfloop[None, :, None])
        nodes, w = block.errors.nodes, block.errors.weights
        wr = None if block.errors.equal_weights else w
        g, a = block.params.gamma, block.params.alpha
        mean_err[:, sl] = (nodes @ w)[:, None]
        rho_pos[:, sl] = np.asarray(mean_cvar(nodes, a, g, wr, axis=1))[:, None]
        rho_neg[:, sl] = np.asarray(mean_cvar(-nodes, a, g, wr, axis=1))[:, None]
        terminal[sl] = model.terminal
        mu0[off + block.initial_state] = block.share

    # -- the penalty: above the spread of any feasible day cost ---------------------------
    eps_abs = np.empty((H, S))
    for block, _ in built:
        eps_abs[:, block.slice] = np.abs(block.errors.nodes).max(axis=1)[:, None]
    allowed = np.isfinite(terminal)
    terminal = np.where(allowed, terminal, 0.0)
    needed = _penalty_needed(tariff, position, extra, feasible, eps_abs, terminal[allowed])
    if penalty_eur is None:
        penalty = needed
    else:
        penalty = check_real(penalty_eur, "penalty_eur")
        if penalty < needed:
            raise InvalidParameterError(
                f"penalty_eur must be >= {needed:.6g} (twice the bound on a day's cost spread + 1)"
            )
    terminal = np.where(allowed, terminal, penalty)

    # -- transitions: one nonzero per row, shared objects when equal ----------------------
    transitions: list[sp.csr_matrix] = []
    indptr = np.arange(S * A + 1)
    ones = np.ones(S * A)
    for t in range(H):
        if t > 0 and np.array_equal(nxt[t], nxt[t - 1]):
            transitions.append(transitions[-1])
            continue
        P = sp.csr_matrix((ones, nxt[t].reshape(-1).copy(), indptr), shape=(S * A, S))
        transitions.append(P)

    expected = position + mean_err[:, :, None]
    for arr in (position, expected, extra, feasible, nxt, mean_err, rho_pos, rho_neg, terminal):
        arr.flags.writeable = False
    for arr in (allowed, eps_abs):
        arr.flags.writeable = False
    load_shape = np.array(shapes.load_shape, dtype=np.float64)
    _readonly(pi, load_shape)
    holder: dict[str, EnergyGame] = {}

    def reward(t: int, L_t: np.ndarray) -> np.ndarray:
        return holder["game"].reward(t, L_t)

    neg_terminal = -terminal
    _readonly(neg_terminal)
    mfg = FiniteMFG(
        H,
        S,
        A,
        mu0,
        reward,
        lambda t, L: transitions[t],
        terminal_reward=lambda mu: neg_terminal,
        name=f"energy market {shapes.zone} {shapes.day}".strip(),
    )
    game = EnergyGame(
        mfg=mfg,
        blocks=tuple(b for b, _ in built),
        tariff=tariff,
        wholesale_eur_per_mwh=pi,
        kappa_eur_per_mwh_per_kwh=kappa,
        penalty_eur=penalty,
        load_shape=load_shape,
        grid=grid,
        position_kwh=position,
        expected_position_kwh=expected,
        extra_cost_eur=extra,
        feasible=feasible,
        next_state=nxt,
        mean_error_kwh=mean_err,
        rho_pos_kwh=rho_pos,
        rho_neg_kwh=rho_neg,
        terminal_cost_eur=terminal,
        terminal_allowed=allowed,
        error_bound_kwh=eps_abs,
        transitions=tuple(transitions),
    )
    holder["game"] = game
    return game


# --------------------------------------------------------------------------------------------
# the equilibrium
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class EnergyEquilibrium:
    """Mean-field equilibrium of an :class:`EnergyGame` (arrays read-only).

    ``price_eur_per_mwh`` (H,): the local price, equal to ``clip(pi + kappa Y / dt, p_sell,
    p_buy)`` of the equilibrium's own mean position ``mean_position_kwh`` (H,, kWh per agent
    per interval); ``block_position_kwh`` (n_blocks, H): mean position per agent of each
    block; ``types``: one row per block (a type, or a type's bin; :meth:`by_type` sums bins
    up): ``share``, ``expected_cost_eur`` (expected cost per agent for
    the day at the local price, extras and terminal cost included), ``risk_cost_eur`` (the
    objective: stage-wise mean-CVaR), ``best_response_cost_eur`` (the best response's risk
    cost against the equilibrium prices) and ``exploitability_eur`` (their difference);
    ``exploitability_eur``: the engine's exploitability of the policy, EUR per agent per
    day (= ``sum(share * types.exploitability_eur)``); ``exploitability_history_eur``: after
    each iteration; ``initial_exploitability_eur``; ``expected_cost_eur``: population mean of
    the expected cost; ``community_cost_eur``: the grid bill of the mean position plus
    extras (what agents pay once the operator's residual is passed on); ``solution``: the
    engine's :class:`market.solvers.MFGSolution` (policy and mean field (H, S, A)).
    """

    game: EnergyGame
    solution: MFGSolution
    price_eur_per_mwh: np.ndarray
    mean_position_kwh: np.ndarray
    block_position_kwh: np.ndarray
    types: pd.DataFrame
    exploitability_eur: float
    exploitability_history_eur: np.ndarray
    initial_exploitability_eur: float
    expected_cost_eur: float
    community_cost_eur: float
    converged: bool
    iterations: int
    elapsed_s: float
    method: str
    tol_eur: float

    @property
    def policy(self) -> np.ndarray:
        """Equilibrium policy (H, S, A)."""
        return self.solution.policy

    @property
    def mean_field(self) -> np.ndarray:
        """Equilibrium state-action distribution (H, S, A)."""
        return self.solution.mean_field

    def by_type(self) -> pd.DataFrame:
        """``types`` aggregated over each type's bins: ``share`` and share-weighted means of
        the cost columns (EUR per agent of the type per day)."""
        cols = ["expected_cost_eur", "risk_cost_eur", "best_response_cost_eur"]
        cols.append("exploitability_eur")
        rows = []
        for name, part in self.types.groupby("type", sort=False):
            w = part["share"].to_numpy()
            row = {"type": name, "kind": part["kind"].iloc[0], "share": float(w.sum())}
            row.update({c: float(w @ part[c].to_numpy() / w.sum()) for c in cols})
            rows.append(row)
        return pd.DataFrame(rows).set_index("type")

    def to_frame(self) -> pd.DataFrame:
        """One row per interval (``time_utc`` index when known): ``wholesale_eur_per_mwh``,
        ``buy_eur_per_mwh``, ``sell_eur_per_mwh``, ``price_eur_per_mwh``,
        ``mean_position_kwh`` and ``position_kwh[<block>]`` per block."""
        g = self.game
        idx = g.tariff.index if g.tariff.index is not None else pd.RangeIndex(g.n_intervals)
        cols: dict[str, np.ndarray] = {
            "wholesale_eur_per_mwh": g.wholesale_eur_per_mwh,
            "buy_eur_per_mwh": g.tariff.buy_eur_per_mwh,
            "sell_eur_per_mwh": g.tariff.sell_eur_per_mwh,
            "price_eur_per_mwh": self.price_eur_per_mwh,
            "mean_position_kwh": self.mean_position_kwh,
        }
        for b, row in zip(g.blocks, self.block_position_kwh, strict=True):
            cols[f"position_kwh[{b.name}]"] = row
        frame = pd.DataFrame(cols, index=idx)
        frame.attrs.update(
            kappa_eur_per_mwh_per_kwh=g.kappa_eur_per_mwh_per_kwh,
            exploitability_eur=self.exploitability_eur,
        )
        return frame

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no policy arrays)."""
        return {
            "method": self.method,
            "converged": bool(self.converged),
            "iterations": int(self.iterations),
            "elapsed_s": float(self.elapsed_s),
            "tol_eur": self.tol_eur,
            "exploitability_eur_per_agent_day": float(self.exploitability_eur),
            "initial_exploitability_eur": float(self.initial_exploitability_eur),
            "exploitability_history_eur": [float(e) for e in self.exploitability_history_eur],
            "expected_cost_eur": float(self.expected_cost_eur),
            "community_cost_eur": float(self.community_cost_eur),
            "price_eur_per_mwh": [float(v) for v in self.price_eur_per_mwh],
            "mean_position_kwh": [float(v) for v in self.mean_position_kwh],
            "types": self.types.reset_index().to_dict(orient="records"),
            "game": self.game.to_dict(),
        }


def noop_policy(game: EnergyGame) -> np.ndarray:
    """Every block does nothing (action 0, always feasible): (H, S, A) one-hot."""
    pol = np.zeros(game.mfg.shape)
    pol[:, :, 0] = 1.0
    return pol


def _initial(game: EnergyGame, initial: Any) -> np.ndarray:
    if isinstance(initial, str):
        if initial == "no_op":
            return noop_policy(game)
        if initial == "best_response":
            return best_response(game.mfg, mean_field(game.mfg, noop_policy(game))).policy
        raise InvalidParameterError(
            f"initial must be 'best_response', 'no_op' or a policy array, got {initial!r}"
        )
    return np.asarray(initial, dtype=np.float64)


def solve_energy_market(
    game: EnergyGame,
    *,
    method: str = "fictitious_play",
    tol_eur: float = DEFAULT_TOL_EUR,
    max_iter: int = 1000,
    damping: float = 0.5,
    initial: str | ArrayLike = "best_response",
    callback: Callable[[int, float, np.ndarray], Any] | None = None,
) -> EnergyEquilibrium:
    """Mean-field equilibrium of ``game`` with the engine's solver ``method``.

    Stops once the exact exploitability is ``<= tol_eur`` (EUR per agent per day; default
    :data:`DEFAULT_TOL_EUR`, 0.001) or after ``max_iter`` iterations. ``initial``:
    ``"best_response"`` (the best response to the mean field of doing nothing; default),
    ``"no_op"`` or a feasible policy array (H, S, A);
    never the uniform policy, which puts mass on penalised actions. ``damping`` is passed
    to "fixed_point" and "boltzmann". Fictitious play converges reliably here: the price is
    nondecreasing in ``Y`` and the cost is ``p(Y) y``, a potential (monotone) game (all 1,096
    bundled ES days of 2015-2017 reached 0.01 EUR in at most 7 iterations at kappa 50; at
    kappa 200 and tolerance 0.001, ES 2017-06-12..18 need 100-300 iterations, 1-4 s; at the
    default kappa 400 with the default bins, every 7th ES day of 2015-2017 (157 days, 10^4
    agents) reached 0.001 in at most 371 iterations, 154 on average).
    "fixed_point" converges with ``damping`` 0.2 but cycles at 0.5; "online_mirror_descent" and
    "boltzmann" do not move from a deterministic start and are not recommended.
    """
    if not isinstance(game, EnergyGame):
        raise InvalidParameterError(f"game must be an EnergyGame, got {type(game).__name__}")
    if method not in METHODS:
        raise InvalidParameterError(f"unknown method {method!r}; valid: {', '.join(METHODS)}")
    tol = check_real(tol_eur, "tol_eur")
    if tol < 0:
        raise InvalidParameterError(f"tol_eur must be >= 0, got {tol:g}")
    start = time.perf_counter()
    init = _initial(game, initial)
    sol = solve(
        game.mfg,
        method,
        max_iter=max_iter,
        tol=tol,
        damping=damping,
        initial_policy=init,
        callback=callback,
    )
    eq = _summarise(game, sol, tol, start)
    return eq


def _summarise(game: EnergyGame, sol: MFGSolution, tol: float, start: float) -> EnergyEquilibrium:
    L = np.asarray(sol.mean_field)
    H = game.n_intervals
    Y = game.mean_position(L)
    price = game.price(Y)
    pos = game.expected_position_kwh
    mu_T = game.terminal_distribution(L)
    v_star = best_response(game.mfg, L).values
    stage = np.stack([game.stage_cost(t, price[t]) for t in range(H)])  # (H, S, A) EUR
    extra = np.where(game.feasible, game.extra_cost_eur, 0.0)
    rows = []
    block_pos = np.empty((len(game.blocks), H))
    exp_total = 0.0
    for i, b in enumerate(game.blocks):
        sl = b.slice
        Lb = L[:, sl, :]
        mass = b.share
        flow = np.einsum("tsa,tsa->t", Lb, pos[:, sl, :])  # (H,) kWh per agent of the game
        block_pos[i] = flow / mass
        money = float(flow @ price) / KWH_PER_MWH
        extras = float(np.einsum("tsa,tsa->", Lb, extra[:, sl]))
        term = float(mu_T[sl] @ game.terminal_cost_eur[sl])
        expected = (money + extras + term) / mass
        risk = (float(np.einsum("tsa,tsa->", Lb, stage[:, sl])) + term) / mass
        br = -float(v_star[0, b.offset + b.initial_state])
        rows.append(
            {
                "block": b.name,
                "type": b.type_name,
                "kind": b.kind,
                "share": mass,
                "expected_cost_eur": float(expected),
                "risk_cost_eur": float(risk),
                "best_response_cost_eur": br,
                "exploitability_eur": float(risk - br),
            }
        )
        exp_total += mass * float(expected)
    types = pd.DataFrame(rows).set_index("block")
    extras_all = float(np.einsum("tsa,tsa->", L, extra) + mu_T @ game.terminal_cost_eur)
    bill = (
        game.tariff.buy_eur_per_mwh * np.maximum(Y, 0.0)
        - game.tariff.sell_eur_per_mwh * np.maximum(-Y, 0.0)
    ) / KWH_PER_MWH
    community = float(bill.sum() + extras_all)
    hist = np.array(sol.exploitability, dtype=np.float64)
    for arr in (price, Y, block_pos, hist):
        arr.flags.writeable = False
    return EnergyEquilibrium(
        game=game,
        solution=sol,
        price_eur_per_mwh=price,
        mean_position_kwh=Y,
        block_position_kwh=block_pos,
        types=types,
        exploitability_eur=float(sol.final_exploitability),
        exploitability_history_eur=hist,
        initial_exploitability_eur=float(sol.initial_exploitability),
        expected_cost_eur=exp_total,
        community_cost_eur=community,
        converged=bool(sol.converged),
        iterations=int(sol.iterations),
        elapsed_s=time.perf_counter() - start,
        method=sol.method,
        tol_eur=tol,
    )
