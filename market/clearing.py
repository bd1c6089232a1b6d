"""Finite-N clearing of one market day: N sampled agents follow their block's equilibrium policy.

Every agent of a population (:class:`agents.population.Population`) is mapped to the block of
its type in the :class:`market.energy.EnergyGame` of the equilibrium (with parameter bins: the
bin holding its own value of the type's bin parameter, :data:`market.energy.BIN_PARAMETER`,
by the game's bin edges) and follows that block's equilibrium policy from its own state, with
its own parameters:

* **Mixed policies** are sampled: agent ``i`` at state ``s`` in interval ``t`` draws its action
  from ``pi_t(. | s)`` with its own uniform, from a stream keyed by (seed, game block, block
  of 65,536 agents), so any chunking of the population gives the same draws
  (``lottery="independent"``, the default). ``lottery="systematic"``: within each (game block,
  noise block, interval, state) the agents are put in a random order (by those uniforms) and
  the agent of rank ``r`` of ``n`` gets ``(r + U) / n``, ``U`` common to the group: each
  agent's action probabilities are unchanged, but the group's action counts match the policy
  up to rounding (the chunks are regrouped on noise-block boundaries so that whole noise
  blocks draw together). Measured on ES 2017-06-12 (2,000 agents, 3 seeds) it does not lower
  the community's cost: the aggregate's fluctuation comes mostly from the agents' own
  parameters and noise, not from the count of each action.
* **pv**: no decision. **consumer**: the action is a demand-response level ``l`` in [-1, 1];
  the agent adjusts ``r = dr_max_fraction * load_i,t * l`` of its own expected load
  ``load_i,t = load_kwh_per_day_i * load_shape_t`` (position ``-r``), at its own cost
  ``flex_i * r^2 / dt`` (as :mod:`agents.bidding`).
* **pv_storage**: the policy acts on the **state-of-charge fraction**: the agent's state is an
  index ``s`` of the same ``n_soc``-level grid over its *own* battery ``[0, E_i]`` (step
  ``delta_i = E_i / (n_soc - 1)``), starting at ``round(soc_initial_i * (n_soc - 1))``. The
  policy's move of ``j`` steps is clipped to the agent's own power limits in whole steps
  (``floor(eta_c P dt / delta_i)`` up, ``floor(P dt / (eta_d delta_i))`` down, as in the DP)
  and to the grid's ends; the grid-side energy (``j delta_i / eta_c`` charging,
  ``j delta_i eta_d`` discharging) and degradation use the agent's own efficiencies and cost.
  Guard: an agent that could no longer get back to its starting level by the end of the day
  at full power charges what is needed now (the DP's cyclic condition, for its own limits);
  the number still ending below its start is reported.
* **ev**: the policy acts on the **fraction of the need left**: the agent's state is an index
  of the representative's grid scaled to its own need (step ``delta_i = delta_rep * need_i /
  need_rep``; the grid is anchored at the need, as the DP's, and the agent starts at its own
  need). The agent tracks the energy it still needs, ``e``, exactly, and follows the policy
  of the grid state holding ``e`` (whole steps delivered from the top). The policy's
  charging level ``l`` delivers ``l * ev_max_kw_i * dt * eta_i`` kWh (at most ``e``; not
  rounded to whole steps: rounding down lost power and rounding the need up bought energy
  nobody needed, which is what made parameter bins look worse), only in intervals inside the
  agent's own window ``[ev_arrival_hour, deadline_i]``; the grid draw is ``delivered / eta_i``.
  Guard: when the rest of its own window could not deliver what is left even at full power,
  the agent charges now at the lowest level that suffices (the unmet-need penalty exceeds any
  price, so every agent would). Energy still missing at the end costs the type's
  ``ev_unmet_penalty_eur_per_kwh``.

An agent with its block representative's parameters reproduces the representative exactly
(the guards never act on it: every policy in the mixture meets the DP's end conditions).
``n_adjusted`` counts agent-intervals where the agent's own limits or a guard changed the
control. Whole-step rounding of agents' own limits allows 1e-5 steps of slack, as their
parameters are stored in float32.

**Clearing** (per interval ``t``): agent positions ``y_i,t = x_i,t + u_i,t`` in kWh (``+`` =
buys) where ``x_i,t`` is the agent's *realised* net demand (``net_demand``, e.g.
:func:`agents.profiles.agent_net_demand`, which includes its idiosyncratic noise: the agent's
forecast error is the realised minus the expected value). ``Y_N,t = mean_i y_i,t``; local
price ``p_t = clip(pi_t + kappa Y_N,t / dt, p_sell,t, p_buy,t)`` (:mod:`market.energy`).
Settlement: agent ``i`` pays ``p_t y_i,t / 1000`` EUR (receives when negative); the grid is
the residual counterparty for ``R_t = sum_i y_i,t``: the community pays it
``bill_t = (p_buy R+ - p_sell R-) / 1000``. The operator's budget residual
``D_t = bill_t - p_t R_t / 1000`` (>= 0 since ``p_t`` lies within the tariff band: the
local market can only be cheaper than the grid) is passed on to the
agents by ``redistribution``: ``"per_capita"`` (default; ``D_t / N`` each, a lump sum that
does not change anyone's incentives, so the mean-field equilibrium stays an equilibrium) or
``"pro_rata"`` (in proportion to ``|y_i,t|``, the energy traded; per capita when nobody
trades). Then agents + grid sum to zero in energy (``sum_i y_i,t + grid_energy_t = 0`` with
``grid_energy_t = -R_t``) and in money (``sum_i payment_i,t + grid_payment_t = 0`` with
``grid_payment_t = -bill_t``), to rounding.

Costs per agent for the day: ``market`` (payments at the local price) + ``redistribution`` +
``extra`` (degradation, demand-response disutility) + ``terminal`` (EV unmet need).

Scale: structure of arrays, vectorised over agents, processed in chunks (a loop over
intervals only); memory O(chunk x H) unless the per-agent settlement is kept.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from agents.population import Population
from agents.profiles import NOISE_BLOCK
from data.checks import check_type
from data.errors import InvalidParameterError
from data.seeds import check_seed
from market.energy import KWH_PER_MWH, EnergyEquilibrium, EnergyGame, GameBlock

__all__ = [
    "LOTTERIES",
    "REDISTRIBUTIONS",
    "ChunkStatistics",
    "FiniteMarketResult",
    "check_track",
    "clear_finite_market",
    "market_statistics",
    "settle_market",
]

REDISTRIBUTIONS: tuple[str, ...] = ("per_capita", "pro_rata")
"""How the operator's budget residual is passed on to the agents."""

MAX_SETTLEMENT_AGENTS = 1_000_000
"""Largest population whose per-agent settlement arrays can be kept."""

_STEP_TOL = 1e-9  # as agents.bidding: slack when rounding the representative's energies
_AGENT_TOL = 1e-5  # the same for agents: their float32 parameters carry ~1e-7 relative error
_DET_TOL = 1e-12  # a policy row with a probability this close to 1 is deterministic
_STREAM_KEY = 0x636C6561  # separates the action draws from the profile noise of the same seed
_LOTTERY_KEY = 0x6C6F7474  # the common offsets of the systematic lottery

LOTTERIES: tuple[str, ...] = ("independent", "systematic")
"""How the agents' mixed actions are drawn (module doc); the first is the default."""


# --------------------------------------------------------------------------------------------
# the result
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class FiniteMarketResult:
    """Clearing of a day for N agents (arrays read-only; energies kWh, money EUR).

    Per interval (H,): ``price_eur_per_mwh`` (local), ``mean_position_kwh`` (``Y_N``),
    ``imports_kwh`` / ``exports_kwh`` (the grid residual ``R+`` / ``R-``, community totals),
    ``grid_bill_eur`` (community -> grid), ``market_payments_eur`` (``p R / 1000``, agents at
    the local price), ``operator_residual_eur`` (``bill - market``, passed on to agents),
    ``grid_energy_kwh`` (``-R``) and ``grid_payment_eur`` (``-bill``).
    ``types``: per type ``count`` and mean cost per agent: ``mean_cost_eur`` (everything) =
    ``mean_payment_eur`` (at the local price) + ``mean_redistribution_eur`` +
    ``mean_extra_cost_eur`` + ``mean_terminal_cost_eur``; ``mean_local_cost_eur`` (all but the
    redistribution: the mean-field game's cost) beside ``mean_field_cost_eur`` (the
    equilibrium's expected cost of the type); ``n_adjusted``, ``ev_unmet_kwh`` (mean),
    ``storage_below_start`` (count).
    Scalars: ``mean_cost_eur`` (all agents, redistribution included; = community grid bill +
    extras per agent), ``mean_local_cost_eur`` (no redistribution), ``mean_field_cost_eur``
    / ``mean_field_community_cost_eur`` (the equilibrium's counterparts of the two).
    Optional per-agent settlement: ``agent_energy_kwh`` (N, H),
    ``agent_payment_eur`` (N, H) (redistribution included), ``agent_cost_eur`` (N,) (payments
    plus extras plus terminal). Tracked agents (``track``, any N): ``tracked_index`` (k,)
    positions and ``tracked_cost_eur`` (k,), equal to ``agent_cost_eur[tracked_index]``.
    """

    n_agents: int
    seed: int
    redistribution: str
    kappa_eur_per_mwh_per_kwh: float
    index: pd.Index
    wholesale_eur_per_mwh: np.ndarray
    buy_eur_per_mwh: np.ndarray
    sell_eur_per_mwh: np.ndarray
    price_eur_per_mwh: np.ndarray
    mean_position_kwh: np.ndarray
    imports_kwh: np.ndarray
    exports_kwh: np.ndarray
    grid_bill_eur: np.ndarray
    market_payments_eur: np.ndarray
    operator_residual_eur: np.ndarray
    grid_energy_kwh: np.ndarray
    grid_payment_eur: np.ndarray
    mean_field_price_eur_per_mwh: np.ndarray
    mean_field_position_kwh: np.ndarray
    types: pd.DataFrame
    mean_cost_eur: float
    mean_local_cost_eur: float
    mean_field_cost_eur: float
    mean_field_community_cost_eur: float
    n_adjusted: int
    elapsed_s: float
    agent_energy_kwh: np.ndarray | None = None
    agent_payment_eur: np.ndarray | None = None
    agent_cost_eur: np.ndarray | None = None
    tracked_index: np.ndarray | None = None
    tracked_cost_eur: np.ndarray | None = None

    @property
    def n_intervals(self) -> int:
        return int(self.price_eur_per_mwh.shape[0])

    @property
    def cost_gap_eur(self) -> float:
        """Finite-N minus mean-field expected cost per agent, both before the operator's
        residual is passed on (EUR)."""
        return self.mean_local_cost_eur - self.mean_field_cost_eur

    @property
    def community_gap_eur(self) -> float:
        """Finite-N minus mean-field cost per agent, redistribution included (EUR)."""
        return self.mean_cost_eur - self.mean_field_community_cost_eur

    def to_frame(self) -> pd.DataFrame:
        """One row per interval: wholesale/buy/sell/local price (EUR/MWh), ``Y_N``, the
        mean-field price and position, imports, exports (kWh) and the money flows (EUR)."""
        return pd.DataFrame(
            {
                "wholesale_eur_per_mwh": self.wholesale_eur_per_mwh,
                "buy_eur_per_mwh": self.buy_eur_per_mwh,
                "sell_eur_per_mwh": self.sell_eur_per_mwh,
                "price_eur_per_mwh": self.price_eur_per_mwh,
                "mean_field_price_eur_per_mwh": self.mean_field_price_eur_per_mwh,
                "mean_position_kwh": self.mean_position_kwh,
                "mean_field_position_kwh": self.mean_field_position_kwh,
                "imports_kwh": self.imports_kwh,
                "exports_kwh": self.exports_kwh,
                "grid_bill_eur": self.grid_bill_eur,
                "market_payments_eur": self.market_payments_eur,
                "operator_residual_eur": self.operator_residual_eur,
            },
            index=self.index,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no per-agent arrays)."""
        return {
            "n_agents": self.n_agents,
            "seed": self.seed,
            "redistribution": self.redistribution,
            "kappa_eur_per_mwh_per_kwh": self.kappa_eur_per_mwh_per_kwh,
            "mean_cost_eur": self.mean_cost_eur,
            "mean_local_cost_eur": self.mean_local_cost_eur,
            "mean_field_cost_eur": self.mean_field_cost_eur,
            "mean_field_community_cost_eur": self.mean_field_community_cost_eur,
            "cost_gap_eur": self.cost_gap_eur,
            "community_gap_eur": self.community_gap_eur,
            "n_adjusted": self.n_adjusted,
            "elapsed_s": self.elapsed_s,
            "peak_import_kwh": float(self.imports_kwh.max()),
            "total_import_kwh": float(self.imports_kwh.sum()),
            "total_export_kwh": float(self.exports_kwh.sum()),
            "grid_bill_eur": float(self.grid_bill_eur.sum()),
            "operator_residual_eur": float(self.operator_residual_eur.sum()),
            "price_eur_per_mwh": [float(v) for v in self.price_eur_per_mwh],
            "mean_position_kwh": [float(v) for v in self.mean_position_kwh],
            "types": self.types.reset_index().to_dict(orient="records"),
        }


# --------------------------------------------------------------------------------------------
# agents -> blocks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _BlockPolicy:
    """A block's policy in the form the simulation needs (U = the block's controls)."""

    block: GameBlock
    det: np.ndarray  # (H, S) action of deterministic rows, -1 for mixed ones
    cdf: np.ndarray  # (H, S, U) cumulative probabilities
    last: np.ndarray  # (H, S) last action with positive probability
    mixed: np.ndarray  # (H,) any mixed row at t


def _block_policy(block: GameBlock, policy: np.ndarray) -> _BlockPolicy:
    pol = np.array(policy[:, block.slice, : block.n_actions], dtype=np.float64)
    np.maximum(pol, 0.0, out=pol)
    pol /= pol.sum(axis=2, keepdims=True)  # drops any rounding mass on penalised actions
    top = pol.argmax(axis=2)
    det = np.where(pol.max(axis=2) >= 1.0 - _DET_TOL, top, -1)
    U = block.n_actions
    last = U - 1 - np.argmax((pol > 0)[:, :, ::-1], axis=2)
    return _BlockPolicy(
        block, det, np.cumsum(pol, axis=2), last, cast(np.ndarray, (det < 0).any(axis=1))
    )


def _actions(bp: _BlockPolicy, t: int, s: np.ndarray, u: np.ndarray | None) -> np.ndarray:
    """Actions (n,) of agents in states ``s`` (n,) at ``t``; ``u`` (n,) uniforms."""
    a = bp.det[t][s]
    if bp.mixed[t]:
        m = a < 0
        if m.any():
            assert u is not None
            sm = s[m]
            if sm[0] == sm.min() == sm.max():  # one state (stateless consumers): bisect
                # the number of cdf entries below u (the cdf is nondecreasing)
                row = int(sm[0])
                drawn = np.searchsorted(bp.cdf[t][row], u[m].astype(np.float64), side="left")
                a[m] = np.minimum(drawn, bp.last[t][row])
            else:
                drawn = (bp.cdf[t][sm] < u[m][:, None]).sum(axis=1)
                a[m] = np.minimum(drawn, bp.last[t][sm])
    return a


@dataclass(frozen=True, eq=False)
class ChunkStatistics:
    """Sufficient statistics of one chunk of agents ``[start, stop)`` (absolute indices of the
    full population) for the clearing: per game block ``count``, ``pos`` (B, H) summed
    positions (kWh), ``absolute`` (B, H) summed absolute positions (kWh), ``extra`` /
    ``terminal`` summed extra and terminal costs (EUR), ``adjusted``, ``ev_unmet`` (kWh),
    ``below_start``. What a population shard sends back instead of its agents: O(B H)
    numbers per chunk; they serve either redistribution."""

    start: int
    stop: int
    count: np.ndarray
    pos: np.ndarray  # (B, H)
    absolute: np.ndarray  # (B, H)
    extra: np.ndarray
    terminal: np.ndarray
    adjusted: np.ndarray
    ev_unmet: np.ndarray
    below_start: np.ndarray
    # tracked agents (``track``): absolute indices (k,), energy (k, H) kWh, extra + terminal
    # cost (k,) EUR: what their settlement needs, e.g. a planner's sample of a huge population
    track_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    track_energy: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    track_other: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def zeros(cls, start: int, stop: int, B: int, H: int) -> ChunkStatistics:
        return cls(
            start=start,
            stop=stop,
            count=np.zeros(B, dtype=np.int64),
            pos=np.zeros((B, H)),
            absolute=np.zeros((B, H)),
            extra=np.zeros(B),
            terminal=np.zeros(B),
            adjusted=np.zeros(B, dtype=np.int64),
            ev_unmet=np.zeros(B),
            below_start=np.zeros(B, dtype=np.int64),
            track_energy=np.empty((0, H)),
        )

    def add(self, other: ChunkStatistics) -> None:
        """Accumulate ``other`` in place (the caller fixes the order: chunk after chunk)."""
        for name in _STAT_FIELDS:
            arr = getattr(self, name)
            arr += getattr(other, name)
        if other.track_index.size:
            for name in ("track_index", "track_energy", "track_other"):
                mine, theirs = getattr(self, name), getattr(other, name)
                joined = np.concatenate([mine, theirs]) if mine.size else theirs.copy()
                object.__setattr__(self, name, joined)


_STAT_FIELDS = (
    "count", "pos", "absolute", "extra", "terminal", "adjusted", "ev_unmet", "below_start"
)  # fmt: skip


def _uniforms(
    seed: int, block: int, mapper: _Mapper, lo: int, local: np.ndarray, H: int
) -> np.ndarray:
    """(H, n) float32 uniforms of the agents ``lo + local`` (sorted) of game block ``block``
    (rows ``H`` = the block's intervals with a mixed policy row, in order).

    Agent i's draws are row ``r`` of a stream keyed by (seed, game block, noise block of i)
    generating (rows, H) arrays, ``r`` its rank among the game block's agents of its noise
    block (NOISE_BLOCK agents): so any chunking of the population gives the same draws, and
    only agents of blocks with mixed policies consume random numbers.
    """
    n = local.shape[0]
    out = np.empty((H, n), dtype=np.float32)
    absolute = mapper.pop.offset + lo + local
    nb = absolute // NOISE_BLOCK
    cuts = np.flatnonzero(np.diff(nb)) + 1
    for part in np.split(np.arange(n), cuts):
        b = int(nb[part[0]])
        first_abs = b * NOISE_BLOCK - mapper.pop.offset  # population index where b starts
        before = 0
        if first_abs < lo:  # the chunk starts inside noise block b: rank after earlier agents
            before = int(np.count_nonzero(mapper.assign(max(first_abs, 0), lo) == block))
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_STREAM_KEY, block, b)))
        draws = rng.random((before + part.size, H), dtype=np.float32)
        out[:, part] = draws[before:].T
    return out


class _Draws:
    """The uniforms of a game block's agents (n,) for their mixed actions.

    ``independent``: agent ``i``'s own uniform of interval ``t`` (:func:`_uniforms`).
    ``systematic``: a lottery per (noise block, interval, state): the ``n_s`` agents of the
    group are ranked by their own uniforms (a random order) and the agent of rank ``r`` gets
    ``(r + U) / n_s`` with ``U`` one uniform common to the group (its own stream keyed by
    (seed, game block, noise block)). Each agent's uniform is still uniform on [0, 1), so its
    marginal action probabilities are the policy's, but the group's action counts are the
    policy's proportions up to rounding (within 1 of ``n_s`` times each probability).
    Systematic draws need every agent of a noise block (of this population) in one call.
    """

    def __init__(
        self,
        lottery: str,
        keys: np.ndarray,
        mixed: np.ndarray,
        noise_block: np.ndarray,
        seed: int,
        block: int,
        n_states: int,
    ) -> None:
        self.lottery = lottery
        self.keys = keys  # (M, n) float32
        self.row_of = np.cumsum(mixed) - 1  # interval -> row of ``keys``
        if lottery == "systematic":
            self.nb, self.group = np.unique(noise_block, return_inverse=True)
            self.offset = np.stack(
                [
                    np.random.default_rng(
                        np.random.SeedSequence(seed, spawn_key=(_LOTTERY_KEY, block, int(b)))
                    ).random((keys.shape[0], n_states))
                    for b in self.nb
                ]
            )  # (noise blocks, M, S)
            self.n_states = n_states

    def at(self, t: int, s: np.ndarray) -> np.ndarray:
        row = int(self.row_of[t])
        key = self.keys[row]
        if self.lottery == "independent":
            return key
        cell = self.group * self.n_states + s  # (noise block, state) of each agent
        order = np.lexsort((key, cell))
        sorted_cell = cell[order]
        size = np.bincount(cell, minlength=self.nb.size * self.n_states)
        start = np.cumsum(size) - size
        rank = np.empty(s.shape[0], dtype=np.float64)
        rank[order] = np.arange(s.shape[0]) - start[sorted_cell]
        common = self.offset[self.group, row, s]
        return (rank + common) / size[cell]


def _f64(arr: np.ndarray) -> np.ndarray:
    return np.asarray(arr, dtype=np.float64)


@dataclass
class _Outcome:
    """What one block's agents in one chunk did (per agent arrays (n,))."""

    extra: np.ndarray
    terminal: np.ndarray
    adjusted: int = 0
    ev_unmet_kwh: float = 0.0
    below_start: int = 0


def _remaining(window: np.ndarray) -> np.ndarray:
    """(H, n) number of window intervals strictly after t, from a (H, n) or (H,) bool window."""
    w = window.astype(np.intp)
    after = np.cumsum(w[::-1], axis=0)[::-1] - w
    return after


def _simulate(
    bp: _BlockPolicy,
    game: EnergyGame,
    pop: Population,
    rows: np.ndarray,
    uni: _Draws | None,
    y: np.ndarray,
) -> _Outcome:
    """Add the controls of agents ``rows`` (indices into ``pop``) to their positions ``y``
    (H, n) in place (module doc); ``uni``: the agents' uniforms in intervals with mixed
    policy rows."""
    b = bp.block
    H = game.n_intervals
    n = rows.shape[0]
    out = _Outcome(np.zeros(n), np.zeros(n))
    dt = game.tariff.dt_hours
    rep = b.params
    t: int | np.intp  # np.intp from np.flatnonzero (consumers), int from range (the others)

    def draws(t: int, s: np.ndarray) -> np.ndarray | None:
        return uni.at(t, s) if uni is not None and bp.mixed[t] else None

    if b.kind == "consumer":
        load = _f64(pop.load_kwh_per_day[rows])
        flex = _f64(pop.flex_cost_eur_per_kwh2[rows]) / game.tariff.dt_hours  # per interval
        scale = rep.dr_max_fraction * game.load_shape  # (H,) r = scale * load * level
        det = bp.det[:, 0]
        fixed = det >= 0
        coef = np.where(fixed, scale * b.action_values[np.maximum(det, 0)], 0.0)  # (H,)
        for t in np.flatnonzero(coef != 0.0):
            y[t] -= coef[t] * load
        sq = float(coef @ coef) * load * load  # sum over deterministic intervals of r^2
        zero = np.zeros(n, dtype=np.intp)
        for t in np.flatnonzero(~fixed):
            r = scale[t] * load * b.action_values[_actions(bp, int(t), zero, draws(int(t), zero))]
            y[t] -= r
            sq += r * r
        out.extra = flex * sq
    elif b.kind == "pv_storage" and b.n_states > 1:
        n_soc = b.n_states
        E = _f64(pop.battery_kwh[rows])
        P = _f64(pop.battery_kw[rows])
        eta_c = _f64(pop.eta_charge[rows])
        eta_d = _f64(pop.eta_discharge[rows])
        deg = _f64(pop.degradation_eur_per_kwh[rows])
        delta = E / (n_soc - 1)
        ok = (E > 0) & (P > 0)
        safe = np.where(ok, delta, 1.0)
        jc = np.where(ok, np.floor(eta_c * P * dt / safe + _AGENT_TOL), 0).astype(np.intp)
        jd = np.where(ok, np.floor(P * dt / (eta_d * safe) + _AGENT_TOL), 0).astype(np.intp)
        np.minimum(jc, n_soc - 1, out=jc)
        np.minimum(jd, n_soc - 1, out=jd)
        s0 = np.rint(_f64(pop.soc_initial[rows]) * (n_soc - 1)).astype(np.intp)
        s = s0.copy()
        steps = b.action_values.astype(np.intp)
        up, down = delta / eta_c, delta * eta_d
        throughput = np.zeros(n)
        for t in range(H):
            want = steps[_actions(bp, t, s, draws(t, s))]
            j = np.clip(want, -jd, jc)
            np.clip(j, -s, n_soc - 1 - s, out=j)
            # guard: stay able to return to the starting level by the end of the day
            need = s0 - s - (H - 1 - t) * jc
            np.maximum(j, np.minimum(need, jc), out=j)
            out.adjusted += int(np.count_nonzero(j != want))
            s += j
            c = np.maximum(j, 0) * up  # grid-side charge, kWh
            d = np.maximum(-j, 0) * down  # delivered discharge, kWh
            y[t] += c - d
            throughput += c + d
        out.extra = deg * throughput
        out.below_start = int(np.count_nonzero(s < s0))
    elif b.kind == "ev" and b.n_states > 1:
        n_ev = b.n_states
        need = _f64(pop.ev_need_kwh[rows])
        delta = b.ev_delta_kwh * need / rep.ev_need_kwh  # the representative's grid, scaled
        pmax = _f64(pop.ev_max_kw[rows])
        eta = _f64(pop.eta_charge[rows])
        deadline = _f64(pop.ev_deadline_hour[rows])
        ok = delta > 0
        safe = np.where(ok, delta, 1.0)
        tol = _AGENT_TOL * safe  # kWh
        # energy each level delivers (U, n) at the agent's own power (the representative's
        # levels are whole steps of its grid; an agent's need not be)
        k_own = b.action_values[:, None] * (pmax * dt * eta)[None, :]
        k_own[:, ~ok] = 0.0
        k_full = k_own.max(axis=0)
        clock = np.asarray(game.tariff.clock_hour)
        rep_window = (clock >= rep.ev_arrival_hour - _STEP_TOL) & (
            clock + dt <= rep.ev_deadline_hour + _STEP_TOL
        )
        window = (clock[:, None] >= rep.ev_arrival_hour - _STEP_TOL) & (
            clock[:, None] + dt <= deadline[None, :] + _AGENT_TOL
        )  # (H, n)
        after = _remaining(window)
        e = need.copy()  # energy still needed, kWh
        cols = np.arange(n)

        def grid_left(idx: np.ndarray) -> np.ndarray:  # kWh left at grid state idx (n,)
            return np.where(idx > 0, np.maximum(need - (n_ev - 1 - idx) * delta, 0.0), 0.0)

        open_any = window.any(axis=1) | rep_window
        for t in range(H):
            if not open_any[t]:
                continue
            # the grid state: whole steps delivered from the top (the last one may be short)
            done = np.floor((need - e) / safe + _AGENT_TOL).astype(np.intp)
            s = np.where(e > tol, np.clip(n_ev - 1 - done, 1, n_ev - 1), 0)
            a = _actions(bp, t, s, draws(t, s))
            k = np.where(window[t], np.minimum(k_own[a, cols], e), 0.0)
            # guard: charge now, at the lowest level that suffices, what the rest of the
            # agent's own window cannot deliver at full power
            short = np.where(window[t], e - after[t] * k_full, 0.0)
            late = short > k + tol
            if late.any():
                lc = np.flatnonzero(late)
                kl = k_own[:, lc]
                enough = kl >= (short - tol)[lc][None, :]
                level = np.where(enough.any(axis=0), enough.argmax(axis=0), kl.argmax(axis=0))
                k[lc] = np.minimum(kl[level, np.arange(lc.size)], e[lc])
            if rep_window[t]:
                k_rep = grid_left(s) - grid_left(np.maximum(s - b.ev_steps[a], 0))
            else:
                k_rep = np.zeros(n)
            # onto the grid when within rounding of it (float32 parameters): an agent with its
            # representative's parameters stays on the representative's grid
            rest = e - k
            on = grid_left(np.clip(n_ev - 1 - np.rint((need - rest) / safe), 0, n_ev - 1))
            np.copyto(on, 0.0, where=rest <= tol)
            np.copyto(k, e - on, where=(np.abs(rest - on) <= tol) & (k > 0))
            out.adjusted += int(np.count_nonzero(np.abs(k - k_rep) > tol))
            e -= k
            y[t] += k / eta
        out.terminal = rep.ev_unmet_penalty_eur_per_kwh * e
        out.ev_unmet_kwh = float(e.sum())
    return out


class _Mapper:
    """Agent -> block assignment for one equilibrium and population."""

    def __init__(self, eq: EnergyEquilibrium, pop: Population) -> None:
        game = eq.game
        self.by_type: list[list[int]] = []
        self.edges: list[np.ndarray] = []
        self.param: list[str | None] = []
        names = [b.type_name for b in game.blocks]
        for tname in pop.type_names:
            blocks = [i for i, n in enumerate(names) if n == tname]
            self.by_type.append(blocks)
            inner = np.array([game.blocks[i].bin_range[0] for i in blocks[1:]], dtype=np.float64)
            self.edges.append(inner)
            self.param.append(game.blocks[blocks[0]].bin_parameter if blocks else None)
        self.pop = pop
        self.n_blocks = len(game.blocks)

    def assign(self, lo: int, hi: int) -> np.ndarray:
        codes = self.pop.type_index[lo:hi]
        out = np.empty(hi - lo, dtype=np.intp)
        for code, blocks in enumerate(self.by_type):
            sel = codes == code
            if not sel.any():
                continue
            if not blocks:
                raise InvalidParameterError(
                    f"type {self.pop.type_names[code]!r} has agents but no block in the game"
                )
            if len(blocks) == 1:
                out[sel] = blocks[0]
                continue
            values = _f64(self.pop.param(self.param[code])[lo:hi][sel])  # type: ignore[arg-type]
            which = np.searchsorted(self.edges[code], values, side="right")
            out[sel] = np.asarray(blocks)[which]
        return out


def _check_real(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind not in "biuf":  # strings, objects, complex numbers, times
        raise InvalidParameterError(f"{what} must hold real numbers, got dtype {arr.dtype}")


def _chunks(
    net_demand: Any, N: int, H: int, chunk_size: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    if isinstance(net_demand, np.ndarray):
        if net_demand.shape != (N, H):
            raise InvalidParameterError(
                f"net_demand must have shape (N, H) = ({N}, {H}), got {net_demand.shape}"
            )
        _check_real(net_demand, "net_demand")
        for lo in range(0, N, chunk_size):
            yield lo, min(lo + chunk_size, N), net_demand[lo : lo + chunk_size]
        return
    if not isinstance(net_demand, Iterable):
        raise InvalidParameterError(
            "net_demand must be an (N, H) array or an iterator of (start, stop, chunk)"
        )
    expected = 0
    for item in net_demand:
        if not (isinstance(item, tuple) and len(item) == 3):
            raise InvalidParameterError("net_demand chunks must be (start, stop, array) tuples")
        lo, hi, arr = item
        arr = np.asarray(arr)
        if lo != expected or hi <= lo or hi > N or arr.shape != (hi - lo, H):
            raise InvalidParameterError(
                f"net_demand chunk ({lo}, {hi}) with shape {arr.shape} does not continue at agent "
                f"{expected} with {H} intervals"
            )
        _check_real(arr, f"net_demand chunk ({lo}, {hi})")
        expected = hi
        yield int(lo), int(hi), arr
    if expected != N:
        raise InvalidParameterError(f"net_demand covered {expected} of the {N} agents")


def _aligned(
    chunks: Iterator[tuple[int, int, np.ndarray]], offset: int, N: int
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The same agents in chunks that end on noise-block boundaries (absolute agent numbers
    ``offset + i``) or at the end: chunks already aligned pass through unchanged, others are
    joined until a boundary (memory: at most a chunk plus a noise block)."""
    parts: list[np.ndarray] = []
    start = 0
    for lo, hi, arr in chunks:
        if not parts:
            start = lo
        parts.append(np.asarray(arr))
        cut = ((offset + hi) // NOISE_BLOCK) * NOISE_BLOCK - offset  # last boundary <= hi
        if hi == N:
            cut = N
        if cut <= start:
            continue
        joined = parts[0] if len(parts) == 1 else np.concatenate(parts)
        yield start, cut, joined[: cut - start]
        parts = [joined[cut - start :]] if cut < hi else []
        start = cut


# --------------------------------------------------------------------------------------------
# clearing
# --------------------------------------------------------------------------------------------


def _check_common(equilibrium: Any, population: Any, seed: Any, redistribution: Any) -> None:
    if not isinstance(equilibrium, EnergyEquilibrium):
        raise InvalidParameterError(
            f"equilibrium must be an EnergyEquilibrium, got {type(equilibrium).__name__}"
        )
    if not isinstance(population, Population):
        raise InvalidParameterError(
            f"population must be a Population, got {type(population).__name__}"
        )
    if population.n_agents == 0:  # a market of nobody: ZeroDivisionError in its means
        raise InvalidParameterError("population has no agents")
    _check_types(equilibrium.game, population)
    check_seed(seed)
    if redistribution not in REDISTRIBUTIONS:
        raise InvalidParameterError(
            f"redistribution must be one of {', '.join(REDISTRIBUTIONS)}, got {redistribution!r}"
        )


def _check_types(game: EnergyGame, population: Population) -> None:
    """The population's types must be the game's, by name and kind: every type of the game
    is one of the population's, of the same kind, and every type the population has agents
    of has blocks in the game (a type without agents, or with no share, has no block)."""
    game_kinds: dict[str, str] = {}
    for b in game.blocks:
        game_kinds.setdefault(b.type_name, b.kind)
    pop_kinds = dict(zip(population.type_names, population.kinds, strict=True))
    counts = population.type_counts()
    if any(pop_kinds.get(name) != kind for name, kind in game_kinds.items()) or any(
        n and name not in game_kinds for name, n in counts.items()
    ):

        def listed(kinds: dict[str, str]) -> str:
            return ", ".join(f"{name} ({kind})" for name, kind in kinds.items())

        raise InvalidParameterError(
            f"the population's types {listed(pop_kinds)} are not the game's: {listed(game_kinds)}"
        )


def _check_lottery(lottery: Any) -> None:
    if lottery not in LOTTERIES:
        raise InvalidParameterError(
            f"lottery must be one of {', '.join(LOTTERIES)}, got {lottery!r}"
        )


def check_track(track: Any, N: int) -> np.ndarray | None:
    """``track`` (agent positions whose settlement a clearing keeps) as sorted distinct
    int64 positions in ``0..N-1``, or None; ``InvalidParameterError`` otherwise."""
    if track is None:
        return None
    arr = np.asarray(track)
    if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise InvalidParameterError("track must be a 1-D array of agent positions")
    arr = arr.astype(np.int64)
    if arr.size and (arr[0] < 0 or arr[-1] >= N or np.any(np.diff(arr) <= 0)):
        raise InvalidParameterError(f"track must be sorted distinct positions in 0..{N - 1}")
    return arr


def _check_chunk_size(chunk_size: Any) -> int:
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise InvalidParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise InvalidParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    return int(chunk_size)


def _statistics(
    equilibrium: EnergyEquilibrium,
    population: Population,
    net_demand: Any,
    seed: int,
    chunk_size: int,
    energy: np.ndarray | None = None,
    agent_other: np.ndarray | None = None,
    lottery: str = LOTTERIES[0],
    track: np.ndarray | None = None,
) -> Iterator[ChunkStatistics]:
    """Chunk statistics of the agents of ``population`` (a slice is fine), in order; fills
    the per-agent arrays (indexed like ``population``) when given, and the statistics'
    tracked rows for the agents ``track`` (sorted positions in ``population``). The
    systematic lottery regroups the chunks on noise-block boundaries (one statistics per
    group)."""
    game = equilibrium.game
    N, H = population.n_agents, game.n_intervals
    mapper = _Mapper(equilibrium, population)
    B = len(game.blocks)
    policies = [_block_policy(b, equilibrium.policy) for b in game.blocks]
    chunks = _chunks(net_demand, N, H, chunk_size)
    if lottery == "systematic":
        chunks = _aligned(chunks, population.offset, N)
    for lo, hi, chunk in chunks:
        chunk = np.asarray(chunk)
        st = ChunkStatistics.zeros(population.offset + lo, population.offset + hi, B, H)
        block_of = mapper.assign(lo, hi)
        tr_local = tr_block = None
        if track is not None:
            a, b = np.searchsorted(track, [lo, hi])
            if b > a:
                tr_local = track[a:b] - lo
                tr_block = block_of[tr_local]
                object.__setattr__(st, "track_index", population.offset + lo + tr_local)
                object.__setattr__(st, "track_energy", np.empty((b - a, H)))
                object.__setattr__(st, "track_other", np.empty(b - a))
        for k, bp in enumerate(policies):
            local = np.flatnonzero(block_of == k)
            if local.size == 0:
                continue
            yk = chunk[local].T.astype(np.float64)  # (H, n): intervals are contiguous rows
            m = int(bp.mixed.sum())
            uk = None
            if m:
                nb = (population.offset + lo + local) // NOISE_BLOCK
                keys = _uniforms(seed, k, mapper, lo, local, m)
                uk = _Draws(lottery, keys, bp.mixed, nb, seed, k, bp.block.n_states)
            res = _simulate(bp, game, population, lo + local, uk, yk)
            st.count[k] += local.size
            st.pos[k] += yk.sum(axis=1)
            st.absolute[k] += np.abs(yk).sum(axis=1)
            st.extra[k] += res.extra.sum()
            st.terminal[k] += res.terminal.sum()
            st.adjusted[k] += res.adjusted
            st.ev_unmet[k] += res.ev_unmet_kwh
            st.below_start[k] += res.below_start
            if energy is not None and agent_other is not None:
                energy[lo + local] = yk.T
                agent_other[lo + local] = res.extra + res.terminal
            if tr_local is not None and tr_block is not None:
                mine = np.flatnonzero(tr_block == k)
                if mine.size:
                    cols = np.searchsorted(local, tr_local[mine])
                    st.track_energy[mine] = yk[:, cols].T
                    st.track_other[mine] = (res.extra + res.terminal)[cols]
        yield st


def market_statistics(
    equilibrium: EnergyEquilibrium,
    population: Population,
    net_demand: np.ndarray | Iterable[tuple[int, int, np.ndarray]],
    *,
    seed: int,
    chunk_size: int = 4 * NOISE_BLOCK,
    lottery: str = LOTTERIES[0],
    track: ArrayLike | None = None,
) -> list[ChunkStatistics]:
    """The clearing's sufficient statistics of the agents of ``population``, one
    :class:`ChunkStatistics` per chunk (the work of one population shard).

    ``population`` may be a slice (:meth:`agents.population.Population.slice`) of the full
    population starting at a multiple of ``NOISE_BLOCK`` (so that its noise and action
    draws are those of the full population); ``net_demand`` covers its agents as in
    :func:`clear_finite_market`. :func:`settle_market` of the statistics of all shards, in
    order, with chunk boundaries at the same places, equals :func:`clear_finite_market`
    bit for bit, for either redistribution (the statistics do not depend on it).
    ``track``: positions in this shard (0 .. its N-1) of agents whose settlement the
    statistics carry (:func:`clear_finite_market`).
    """
    _check_common(equilibrium, population, seed, REDISTRIBUTIONS[0])
    size = _check_chunk_size(chunk_size)
    if population.offset % NOISE_BLOCK:
        raise InvalidParameterError(
            f"a population shard must start at a multiple of {NOISE_BLOCK} agents, "
            f"got offset {population.offset}"
        )
    _check_lottery(lottery)
    return list(
        _statistics(
            equilibrium,
            population,
            net_demand,
            int(seed),
            size,
            lottery=lottery,
            track=check_track(track, population.n_agents),
        )
    )


def settle_market(
    equilibrium: EnergyEquilibrium,
    population: Population,
    statistics: Iterable[ChunkStatistics],
    *,
    seed: int,
    redistribution: str = "per_capita",
) -> FiniteMarketResult:
    """Clear the day from the chunk statistics of all agents of ``population`` (in order,
    covering ``0 .. N``; :func:`market_statistics` of each shard): prices, money flows and
    per-type costs as :func:`clear_finite_market` (no per-agent arrays)."""
    start_time = time.perf_counter()
    _check_common(equilibrium, population, seed, redistribution)
    game = equilibrium.game
    N, H, B = population.n_agents, game.n_intervals, len(game.blocks)
    acc = ChunkStatistics.zeros(population.offset, population.offset + N, B, H)
    expected = population.offset
    for st in statistics:
        check_type(st, ChunkStatistics, "statistics", "market_statistics of each shard")
        if st.start != expected or st.pos.shape != (B, H):
            raise InvalidParameterError(
                f"chunk statistics of agents {st.start}..{st.stop} do not continue at agent "
                f"{expected} of this game"
            )
        acc.add(st)
        expected = st.stop
    if expected != population.offset + N:
        raise InvalidParameterError(f"the statistics cover {expected} of the {N} agents")
    return _settle(equilibrium, population, acc, int(seed), redistribution, start_time)


def clear_finite_market(
    equilibrium: EnergyEquilibrium,
    population: Population,
    net_demand: np.ndarray | Iterable[tuple[int, int, np.ndarray]],
    *,
    seed: int,
    redistribution: str = "per_capita",
    keep_settlement: bool = False,
    chunk_size: int = 4 * NOISE_BLOCK,
    lottery: str = LOTTERIES[0],
    track: ArrayLike | None = None,
) -> FiniteMarketResult:
    """Clear one day for the agents of ``population`` following ``equilibrium`` (module doc).

    net_demand: realised net demand in kWh per interval, (N, H) array or an iterator of
    ``(start, stop, chunk)`` as :func:`agents.profiles.iter_net_demand` yields (in order);
    seed: the action draws of mixed policies; redistribution: ``"per_capita"`` or
    ``"pro_rata"``; keep_settlement: keep the per-agent arrays (N <= 10^6);
    chunk_size: agents per chunk for array input; lottery: ``"independent"`` (default) or
    ``"systematic"`` draws of mixed actions (module doc); track: sorted distinct agent
    positions whose cost to keep (``tracked_cost_eur``) at any N, e.g. a planner's sample
    (memory O(len(track) H)). Cost O(N H), memory O(chunk H).
    Equivalent to :func:`settle_market` of :func:`market_statistics` (which shards).
    """
    start_time = time.perf_counter()
    _check_common(equilibrium, population, seed, redistribution)
    size = _check_chunk_size(chunk_size)
    _check_lottery(lottery)
    game = equilibrium.game
    N, H = population.n_agents, game.n_intervals
    if keep_settlement and N > MAX_SETTLEMENT_AGENTS:
        raise InvalidParameterError(
            f"keep_settlement is for at most {MAX_SETTLEMENT_AGENTS} agents, got {N}"
        )
    seed = int(seed)
    B = len(game.blocks)
    acc = ChunkStatistics.zeros(population.offset, population.offset + N, B, H)
    energy = np.empty((N, H)) if keep_settlement else None
    agent_other = np.empty(N) if keep_settlement else None  # extras + terminal
    for st in _statistics(
        equilibrium,
        population,
        net_demand,
        seed,
        size,
        energy,
        agent_other,
        lottery,
        check_track(track, N),
    ):
        acc.add(st)
    return _settle(
        equilibrium, population, acc, seed, redistribution, start_time, energy, agent_other
    )


def _settle(
    equilibrium: EnergyEquilibrium,
    population: Population,
    acc: ChunkStatistics,
    seed: int,
    redistribution: str,
    start_time: float,
    energy: np.ndarray | None = None,
    agent_other: np.ndarray | None = None,
) -> FiniteMarketResult:
    game = equilibrium.game
    N, H, B = population.n_agents, game.n_intervals, len(game.blocks)
    # -- prices and money ---------------------------------------------------------------
    if not np.isfinite(acc.pos).all():
        raise InvalidParameterError("net_demand has non-finite values (NaN or infinity)")
    R = acc.pos.sum(axis=0)
    Y = R / N
    price = game.price(Y)
    buy, sell = game.tariff.buy_eur_per_mwh, game.tariff.sell_eur_per_mwh
    bill = (buy * np.maximum(R, 0.0) - sell * np.maximum(-R, 0.0)) / KWH_PER_MWH
    market = price * R / KWH_PER_MWH
    residual = bill - market
    traded = acc.absolute.sum(axis=0)
    if redistribution == "per_capita":
        weights = np.broadcast_to((acc.count / N)[:, None], (B, H))
    else:
        weights = np.where(
            traded > 0, acc.absolute / np.where(traded > 0, traded, 1.0), (acc.count / N)[:, None]
        )
    block_redis = (weights * residual).sum(axis=1)
    block_market = acc.pos @ price / KWH_PER_MWH

    def payments(e: np.ndarray) -> np.ndarray:  # (n, H) EUR of agents with energy e (n, H)
        pay = e * (price / KWH_PER_MWH)
        if redistribution == "per_capita":
            pay += residual / N
        else:
            absolute = np.abs(e)
            share = np.where(traded > 0, residual / np.where(traded > 0, traded, 1.0), 0.0)
            pay += absolute * share
            pay += np.where(traded > 0, 0.0, residual / N)
        return pay

    payment = cost = None
    if energy is not None and agent_other is not None:
        payment = payments(energy)
        cost = payment.sum(axis=1) + agent_other
    tracked_index = tracked_cost = None
    if acc.track_index.size:
        tracked_index = acc.track_index - population.offset
        tracked_cost = payments(acc.track_energy).sum(axis=1) + acc.track_other

    # -- per type -------------------------------------------------------------------------
    mf_block_cost = equilibrium.types["expected_cost_eur"].to_numpy()
    mf_share = equilibrium.types["share"].to_numpy()
    rows = []
    for tname in population.type_names:
        ks = [k for k, b in enumerate(game.blocks) if b.type_name == tname]
        n_t = int(acc.count[ks].sum()) if ks else 0
        denom = max(n_t, 1)
        market_t = float(block_market[ks].sum()) if ks else 0.0
        redis_t = float(block_redis[ks].sum()) if ks else 0.0
        extra_t = float(acc.extra[ks].sum()) if ks else 0.0
        term_t = float(acc.terminal[ks].sum()) if ks else 0.0
        w = mf_share[ks]
        rows.append(
            {
                "type": tname,
                "count": n_t,
                "mean_cost_eur": (market_t + redis_t + extra_t + term_t) / denom,
                "mean_local_cost_eur": (market_t + extra_t + term_t) / denom,
                "mean_payment_eur": market_t / denom,
                "mean_redistribution_eur": redis_t / denom,
                "mean_extra_cost_eur": extra_t / denom,
                "mean_terminal_cost_eur": term_t / denom,
                "mean_field_cost_eur": float(w @ mf_block_cost[ks] / w.sum()) if ks else math.nan,
                "n_adjusted": int(acc.adjusted[ks].sum()) if ks else 0,
                "ev_unmet_kwh": float(acc.ev_unmet[ks].sum()) / denom if ks else 0.0,
                "storage_below_start": int(acc.below_start[ks].sum()) if ks else 0,
            }
        )
    types = pd.DataFrame(rows).set_index("type")
    total_other = float(acc.extra.sum() + acc.terminal.sum())
    mean_local = (float(block_market.sum()) + total_other) / N
    mean_cost = (float(block_market.sum() + block_redis.sum()) + total_other) / N

    grid_energy = -R
    grid_payment = -bill
    out_arrays = [price, Y, bill, market, residual, grid_energy, grid_payment]
    imports, exports = np.maximum(R, 0.0), np.maximum(-R, 0.0)
    out_arrays += [imports, exports]
    for arr in (energy, payment, cost, tracked_index, tracked_cost):
        if arr is not None:
            out_arrays.append(arr)
    for arr in out_arrays:
        arr.flags.writeable = False
    idx = game.tariff.index if game.tariff.index is not None else pd.RangeIndex(H, name="interval")
    return FiniteMarketResult(
        n_agents=N,
        seed=seed,
        redistribution=redistribution,
        kappa_eur_per_mwh_per_kwh=game.kappa_eur_per_mwh_per_kwh,
        index=idx,
        wholesale_eur_per_mwh=game.wholesale_eur_per_mwh,
        buy_eur_per_mwh=buy,
        sell_eur_per_mwh=sell,
        price_eur_per_mwh=price,
        mean_position_kwh=Y,
        imports_kwh=imports,
        exports_kwh=exports,
        grid_bill_eur=bill,
        market_payments_eur=market,
        operator_residual_eur=residual,
        grid_energy_kwh=grid_energy,
        grid_payment_eur=grid_payment,
        mean_field_price_eur_per_mwh=equilibrium.price_eur_per_mwh,
        mean_field_position_kwh=equilibrium.mean_position_kwh,
        types=types,
        mean_cost_eur=mean_cost,
        mean_local_cost_eur=mean_local,
        mean_field_cost_eur=equilibrium.expected_cost_eur,
        mean_field_community_cost_eur=equilibrium.community_cost_eur,
        n_adjusted=int(acc.adjusted.sum()),
        elapsed_s=time.perf_counter() - start_time,
        agent_energy_kwh=energy,
        agent_payment_eur=payment,
        agent_cost_eur=cost,
        tracked_index=tracked_index,
        tracked_cost_eur=tracked_cost,
    )
