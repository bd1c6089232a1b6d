"""Settlement payments over the channel graph: O(N) payments through a market operator.

Input: one net money amount per agent (EUR; positive = the agent pays, negative = the agent
receives), e.g. the market's settlement positions. Each agent with a non-dust amount makes
exactly one payment: payers pay the market operator, then the operator pays the receivers,
so N agents give at most N payments (never N² pairwise ones).

Conversion: ``amount_msat = round(|eur| · 10^11 / eur_per_btc)`` (1 BTC = 10^11 msat).
``eur_per_btc`` is a parameter; the default :data:`DEFAULT_EUR_PER_BTC` is a nominal
round figure, not a market quote, so pass the day's price when it matters. Amounts below
``dust_sat`` are skipped (counted in ``n_dust``).

Topology: the operator is a routing node (default: the node with most channels in the
largest strongly connected component, SCC). Each paying or receiving agent becomes a
leaf node ``agent-<i>`` joined by a private channel to an attachment node drawn (seeded,
with replacement) among the SCC nodes with at least ``min_channels`` channels in each
direction, the operator excluded (or given via ``attach_to``). Leaf channels are explicit
hops with zero fees, cltv_delta 40 and ample liquidity: capacity 2·(2·amount + 10^4 sat),
split evenly, so the leaf hop itself never fails. The attachment node forwards the
payment and charges its normal fee on the next hop.

Routing: :class:`~routing.simulator.PaymentSimulator` (hidden uniform balances on public
channels by default, multi-part on), payers first, then receivers, on one evolving set of
balances.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data.checks import check_bool, check_int
from data.errors import InvalidParameterError, NoRouteError
from data.seeds import seeded_rng
from routing.graph import ChannelGraph
from routing.paths import (
    DEFAULT_LATENCY_MU,
    DEFAULT_LATENCY_SIGMA,
    RoutingParams,
    check_number,
)
from routing.simulator import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_MAX_PARTS,
    PaymentBatchResult,
    PaymentSimulator,
)

DEFAULT_EUR_PER_BTC = 60_000.0  # nominal EUR per BTC (a round figure, not a quote)
MSAT_PER_BTC = 100_000_000_000
LEAF_EXTRA_SAT = 10_000
LEAF_CLTV_DELTA = 40
AGENT_PREFIX = "agent-"


@dataclass(frozen=True)
class SettlementRouting:
    """Outcome of routing one settlement.

    Counts: ``n_agents`` (input length), ``n_payers``/``n_payees`` (payments made in each
    direction), ``n_dust`` (skipped, below ``dust_sat``), ``n_payments``, ``n_success``.
    Rates: ``success_rate`` (share of payments), ``value_success_rate`` (share of EUR).
    ``fee_pct``: fees over settled value (%). Latency percentiles (s) over settled
    payments, None if none settled. ``payments`` (one row per payment) via ``to_frame()``.
    """

    n_agents: int
    n_payers: int
    n_payees: int
    n_dust: int
    n_payments: int
    n_success: int
    success_rate: float
    value_eur: float
    settled_eur: float
    value_success_rate: float
    fee_msat: int
    fee_eur: float
    fee_pct: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    mean_attempts: float
    mean_htlcs: float
    mean_hops: float | None
    eur_per_btc: float
    operator: str
    multipart: bool
    payments: pd.DataFrame = field(repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """Summary (JSON-able ints, floats, bools, str and None; no per-payment rows)."""
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            if name == "payments":
                continue
            value = getattr(self, name)
            if isinstance(value, (np.integer, np.floating)):
                value = value.item()
            out[name] = value
        reasons = self.payments["failure_reason"].dropna().value_counts()
        out["failure_reasons"] = {str(k): int(v) for k, v in reasons.items()}
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row per payment: agent, direction ("pay"/"receive"), amount_eur,
        amount_msat, leaf and attach nodes, success, fee_msat, attempts, htlcs, n_parts,
        hops, latency_s, failure_reason."""
        return self.payments.copy()


DEFAULT_MIN_CHANNELS = 5
"""Channels each way a public node needs to have agents attached to it (module doc)."""


def _eur_array(values: Any, name: str) -> np.ndarray:
    """``values`` as a float64 array, else InvalidParameterError naming ``name``."""
    try:
        return np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be numbers (EUR), got {values!r:.60}") from None


def eur_to_msat(amount_eur: np.ndarray, eur_per_btc: float) -> np.ndarray:
    """(N,) |EUR| converted to msat (int64, rounded to nearest)."""
    if check_number(eur_per_btc, "eur_per_btc") <= 0:
        raise InvalidParameterError(f"eur_per_btc must be positive, got {eur_per_btc!r}")
    msat = np.rint(np.abs(_eur_array(amount_eur, "amount_eur")) * (MSAT_PER_BTC / eur_per_btc))
    if not np.isfinite(msat).all() or (msat >= 2.0**63).any():  # int64 max rounds to 2**63
        raise InvalidParameterError("amounts must be finite EUR (NaN, inf or too large found)")
    return msat.astype(np.int64)


def settlement_payments(
    agent_amounts_eur: np.ndarray | list[float],
    *,
    eur_per_btc: float = DEFAULT_EUR_PER_BTC,
    dust_sat: int = 1,
) -> pd.DataFrame:
    """The payment plan: one row per agent whose |amount| reaches ``dust_sat``.

    Columns: ``agent`` (index into the input), ``direction`` ("pay": agent -> operator,
    "receive": operator -> agent), ``amount_eur`` (absolute), ``amount_msat``. Payers
    come first, each group in agent order.
    """
    x = _eur_array(agent_amounts_eur, "agent_amounts_eur")
    if x.ndim != 1:
        raise InvalidParameterError("agent_amounts_eur must be a 1-D array (one per agent)")
    if not np.isfinite(x).all():
        raise InvalidParameterError("agent_amounts_eur must be finite")
    dust_sat = check_int(dust_sat, "dust_sat", 0)
    msat = eur_to_msat(x, eur_per_btc)
    keep = (msat >= max(dust_sat * 1000, 1)) & (x != 0)
    pay = np.flatnonzero(keep & (x > 0))
    rec = np.flatnonzero(keep & (x < 0))
    agents = np.concatenate([pay, rec]).astype(np.int64)
    return pd.DataFrame(
        {
            "agent": agents,
            "direction": np.array(["pay"] * pay.size + ["receive"] * rec.size, dtype=object),
            "amount_eur": np.abs(x[agents]),
            "amount_msat": msat[agents],
        }
    )


def default_operator(graph: ChannelGraph) -> int:
    """Index of the node with most channels (in + out) in the largest SCC."""
    core = graph.largest_scc()
    deg = graph.out_degree[core] + graph.in_degree[core]
    return int(core[int(np.argmax(deg))])


def attachment_candidates(graph: ChannelGraph, min_channels: int, exclude: int) -> np.ndarray:
    """SCC nodes with ≥ ``min_channels`` channels out and in, ``exclude`` left out."""
    core = graph.largest_scc()
    ok = (graph.out_degree[core] >= min_channels) & (graph.in_degree[core] >= min_channels)
    cand = core[ok & (core != exclude)]
    if cand.size == 0:
        raise NoRouteError(
            f"no node of the graph's largest strongly connected component has {min_channels} "
            "channels each way to attach the agents to (a graph too small for settlement?)"
        )
    return cand


def route_settlement(
    graph: ChannelGraph,
    agent_amounts_eur: np.ndarray | list[float],
    *,
    seed: int,
    eur_per_btc: float = DEFAULT_EUR_PER_BTC,
    operator: str | int | None = None,
    attach_to: np.ndarray | list[str | int] | None = None,
    dust_sat: int = 1,
    min_channels: int = DEFAULT_MIN_CHANNELS,
    multipart: bool = True,
    balance_model: str | np.ndarray = "uniform",
    params: RoutingParams | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_parts: int = DEFAULT_MAX_PARTS,
    latency_mu: float = DEFAULT_LATENCY_MU,
    latency_sigma: float = DEFAULT_LATENCY_SIGMA,
) -> SettlementRouting:
    """Route a settlement: agents' net EUR amounts -> payments through the operator.

    ``graph``: the public graph (without agents). ``attach_to``: one routing node per
    agent (all N agents, pubkey or index); default: seeded choice (see module docstring).
    ``balance_model``: as in :class:`PaymentSimulator`, for the public channels (an array
    is indexed like ``graph``'s channels). Everything random derives from ``seed``.
    """
    plan = settlement_payments(agent_amounts_eur, eur_per_btc=eur_per_btc, dust_sat=dust_sat)
    min_channels = check_int(min_channels, "min_channels", 0)
    multipart = check_bool(multipart, "multipart")
    x = np.asarray(agent_amounts_eur, dtype=np.float64)
    n_agents = int(x.size)
    rng = seeded_rng(seed)
    op = default_operator(graph) if operator is None else graph.node(operator)
    if attach_to is None:
        cand = attachment_candidates(graph, min_channels, op)
        attach_all = cand[rng.integers(0, cand.size, size=n_agents)]
    else:
        attach_all = np.array([graph.node(a) for a in attach_to], dtype=np.int64)
        if attach_all.size != n_agents:
            raise InvalidParameterError("attach_to must give one routing node per agent")
    agents = plan["agent"].to_numpy()
    amount_msat = plan["amount_msat"].to_numpy()
    leaf_ids = [f"{AGENT_PREFIX}{i}" for i in agents.tolist()]
    attach = attach_all[agents]
    side_msat = 2 * amount_msat + LEAF_EXTRA_SAT * 1000
    leaf_cap_sat = -(-2 * side_msat // 1000)
    full = graph.with_leaf_nodes(
        leaf_ids, attach, leaf_cap_sat, cltv_delta=LEAF_CLTV_DELTA, key_prefix="leaf:"
    )
    balances = _balances(graph, full, balance_model, rng)
    sim = PaymentSimulator(
        full,
        seed=int(rng.integers(2**63 - 1)),
        balance_model=balances,
        latency_mu=latency_mu,
        latency_sigma=latency_sigma,
        params=params,
        max_attempts=max_attempts,
        max_parts=max_parts,
    )
    op_id = str(graph.node_ids[op])
    results = []
    for leaf, direction, amt in zip(
        leaf_ids, plan["direction"].tolist(), amount_msat.tolist(), strict=True
    ):
        src, dst = (leaf, op_id) if direction == "pay" else (op_id, leaf)
        results.append(sim.pay(src, dst, int(amt), multipart=multipart))
    batch = PaymentBatchResult.from_results(results, multipart=multipart)
    frame = batch.frame
    payments = pd.DataFrame(
        {
            "agent": agents,
            "direction": plan["direction"].to_numpy(),
            "amount_eur": plan["amount_eur"].to_numpy(),
            "amount_msat": amount_msat,
            "leaf": leaf_ids,
            "attach_node": graph.node_ids[attach].astype(str),
            "success": frame["success"].to_numpy(),
            "fee_msat": frame["fee_msat"].to_numpy(),
            "attempts": frame["attempts"].to_numpy(),
            "htlcs": frame["htlcs"].to_numpy(),
            "n_parts": frame["n_parts"].to_numpy(),
            "hops": frame["hops"].to_numpy(),
            "latency_s": frame["latency_s"].to_numpy(),
            "failure_reason": frame["failure_reason"].to_numpy(),
        }
    )
    ok = payments["success"].to_numpy(dtype=bool)
    value_eur = float(payments["amount_eur"].sum())
    settled_eur = float(payments.loc[ok, "amount_eur"].sum())
    return SettlementRouting(
        n_agents=n_agents,
        n_payers=int((plan["direction"] == "pay").sum()),
        n_payees=int((plan["direction"] == "receive").sum()),
        n_dust=int(np.count_nonzero(x) - len(plan)),
        n_payments=batch.n_payments,
        n_success=batch.n_success,
        success_rate=batch.success_rate,
        value_eur=value_eur,
        settled_eur=settled_eur,
        value_success_rate=settled_eur / value_eur if value_eur else 0.0,
        fee_msat=batch.fee_msat,
        fee_eur=batch.fee_msat * eur_per_btc / MSAT_PER_BTC,
        fee_pct=batch.fee_pct,
        latency_p50_s=batch.latency_p50_s,
        latency_p95_s=batch.latency_p95_s,
        mean_attempts=batch.mean_attempts,
        mean_htlcs=batch.mean_htlcs,
        mean_hops=batch.mean_hops,
        eur_per_btc=float(eur_per_btc),
        operator=op_id,
        multipart=bool(multipart),
        payments=payments,
    )


def _balances(
    public: ChannelGraph,
    full: ChannelGraph,
    balance_model: str | np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """(c_full,) node1-side balances: the model on public channels, half on leaf channels."""
    cap = full.channel_capacity_sat * 1000
    is_leaf = np.array([str(k).startswith("leaf:") for k in full.channel_key], dtype=bool)
    node1 = cap // 2
    pub = np.flatnonzero(~is_leaf)
    if pub.size != public.n_channels:
        raise InvalidParameterError("public graph channel keys must not start with 'leaf:'")
    if isinstance(balance_model, str):
        if balance_model == "uniform":
            node1[pub] = rng.integers(0, cap[pub] + 1, dtype=np.int64)
        elif balance_model != "half":
            raise InvalidParameterError(
                f"balance_model must be 'uniform', 'half' or an array, got {balance_model!r}"
            )
    else:
        arr = np.asarray(balance_model)
        if arr.shape != (public.n_channels,):
            raise InvalidParameterError(f"balance array must have shape ({public.n_channels},)")
        node1[pub] = arr.astype(np.int64)
    return node1
