"""Payment simulation with hidden channel balances, failures, retries and latency.

The router sees public capacities only; :class:`PaymentSimulator` holds the true split of
every channel between its two ends (``balance_msat[c, 0]`` belongs to ``channel_node1``,
``balance_msat[c, 1]`` to ``channel_node2``; they sum to the capacity whenever no payment
is in flight).

One payment (:meth:`PaymentSimulator.pay`):

- the sender knows its own channels' balances exactly (they cap its first hops);
- an attempt sends an HTLC hop by hop; it fails at the first hop whose source lacks the
  hop amount in its local balance. The sender then learns that this channel direction holds
  less than that amount: single-path payments exclude the direction for the rest of the
  payment, multi-part payments keep it as an upper bound (amount − 1 msat) for the
  splitter. Learned facts are forgotten after the payment.
- the HTLC of a part that reaches the recipient is held (its hop amounts are locked on the
  senders' sides). When the whole amount has arrived, every held part settles: each hop
  amount moves to the other side of its channel, so each forwarding node gains exactly its
  fee (it receives the downstream amount plus its fee, and forwards the downstream amount).
  If the payment gives up, held parts are released (multi-part payments are atomic).
- ``max_attempts`` bounds the routing rounds (one route per round for single-path; one
  split of the remainder per round for multi-part); ``attempts`` reports the rounds used and
  ``htlcs`` the parts sent.
- latency: every hop an HTLC crosses adds one lognormal sample (``latency_mu``,
  ``latency_sigma``: log-seconds; it covers that hop's add and later settle/fail). An
  attempt costs the sum over the hops it crossed, the parts of one multi-part round run in
  parallel (the round costs its slowest part) and rounds run one after another.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data.checks import check_bool, check_int
from data.errors import InvalidParameterError, NoRouteError
from data.seeds import seeded_rng
from routing.graph import ChannelGraph
from routing.multipart import (
    DEFAULT_CANDIDATES,
    DEFAULT_MAX_PARTS,
    first_fitting_route,
    split_payment,
)
from routing.paths import (
    DEFAULT_LATENCY_MU,
    DEFAULT_LATENCY_SIGMA,
    MAX_MSAT,
    Route,
    RoutingParams,
    _static_arrays,
    check_amount,
    check_graph,
    check_number,
    check_params,
)

DEFAULT_MAX_ATTEMPTS = 10
FAILURE_REASONS = (
    "unknown_node",
    "disconnected",
    "pruned",
    "liquidity",
    "max_attempts",
    "max_parts",
)


@dataclass(frozen=True)
class PaymentResult:
    """Outcome of one payment.

    ``fee_msat``: fees paid (0 on failure); ``hops``: hop count of the longest settled part
    (0 on failure); ``latency_s``: time until settlement or until the sender gave up;
    ``failure_reason``: None on success, else one of ``FAILURE_REASONS`` ("liquidity": no
    route left once the learned failures are taken into account; "max_parts": the parts
    limit was used up with money still missing).
    """

    source: str
    target: str
    amount_msat: int
    success: bool
    fee_msat: int
    attempts: int
    htlcs: int
    n_parts: int
    hops: int
    latency_s: float
    failure_reason: str | None
    routes: tuple[Route, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (without the routes)."""
        return {
            "source": self.source,
            "target": self.target,
            "amount_msat": int(self.amount_msat),
            "success": bool(self.success),
            "fee_msat": int(self.fee_msat),
            "attempts": int(self.attempts),
            "htlcs": int(self.htlcs),
            "n_parts": int(self.n_parts),
            "hops": int(self.hops),
            "latency_s": float(self.latency_s),
            "failure_reason": self.failure_reason,
        }


def _pct(values: np.ndarray, q: float) -> float | None:
    return float(np.percentile(values, q)) if values.size else None


@dataclass(frozen=True)
class PaymentBatchResult:
    """Payments run one after another on the same balances.

    Summary: ``success_rate`` (share of payments), ``value_success_rate`` (share of msat),
    ``fee_pct`` (fees over settled value, %), latency percentiles over settled payments
    (None when nothing settled), ``mean_attempts`` and ``mean_hops`` over all / settled
    payments. ``frame`` and ``to_frame()`` give one row per payment (a fresh copy each
    time, so the summary always matches the rows it was computed from).
    """

    n_payments: int
    n_success: int
    success_rate: float
    value_msat: int
    settled_msat: int
    value_success_rate: float
    fee_msat: int
    fee_pct: float | None
    latency_p50_s: float | None
    latency_p95_s: float | None
    mean_attempts: float
    mean_htlcs: float
    mean_hops: float | None
    multipart: bool
    _frame: pd.DataFrame = field(repr=False, compare=False)

    @property
    def frame(self) -> pd.DataFrame:
        """One row per payment (copy)."""
        return self._frame.copy()

    @classmethod
    def from_results(
        cls, results: Iterable[PaymentResult], *, multipart: bool
    ) -> PaymentBatchResult:
        """Summarise payment results."""
        frame = pd.DataFrame([r.to_dict() for r in results], columns=_FRAME_COLUMNS)
        frame = frame.astype(
            {
                "amount_msat": np.int64,
                "success": bool,
                "fee_msat": np.int64,
                "attempts": np.int64,
                "htlcs": np.int64,
                "n_parts": np.int64,
                "hops": np.int64,
                "latency_s": np.float64,
            }
        )
        ok = frame["success"].to_numpy()
        n = len(frame)
        # totals in Python ints: a few payments of the largest amount overflow int64
        amounts, fees = frame["amount_msat"].tolist(), frame["fee_msat"].tolist()
        value = sum(amounts)
        settled = sum(a for a, good in zip(amounts, ok, strict=True) if good)
        fee = sum(f for f, good in zip(fees, ok, strict=True) if good)
        lat = frame.loc[ok, "latency_s"].to_numpy()
        return cls(
            n_payments=n,
            n_success=int(ok.sum()),
            success_rate=float(ok.mean()) if n else 0.0,
            value_msat=value,
            settled_msat=settled,
            value_success_rate=settled / value if value else 0.0,
            fee_msat=fee,
            fee_pct=100.0 * fee / settled if settled else None,
            latency_p50_s=_pct(lat, 50),
            latency_p95_s=_pct(lat, 95),
            mean_attempts=float(frame["attempts"].mean()) if n else 0.0,
            mean_htlcs=float(frame["htlcs"].mean()) if n else 0.0,
            mean_hops=float(frame.loc[ok, "hops"].mean()) if ok.any() else None,
            multipart=multipart,
            _frame=frame,
        )

    def to_dict(self) -> dict[str, Any]:
        """Summary as JSON-able ints, floats, bools and None."""
        return {
            "n_payments": self.n_payments,
            "n_success": self.n_success,
            "success_rate": self.success_rate,
            "value_msat": self.value_msat,
            "settled_msat": self.settled_msat,
            "value_success_rate": self.value_success_rate,
            "fee_msat": self.fee_msat,
            "fee_pct": self.fee_pct,
            "latency_p50_s": self.latency_p50_s,
            "latency_p95_s": self.latency_p95_s,
            "mean_attempts": self.mean_attempts,
            "mean_htlcs": self.mean_htlcs,
            "mean_hops": self.mean_hops,
            "multipart": self.multipart,
            "failure_reasons": {
                str(k): int(v)
                for k, v in self._frame["failure_reason"].dropna().value_counts().items()
            },
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per payment (copy)."""
        return self._frame.copy()


_FRAME_COLUMNS = [
    "source",
    "target",
    "amount_msat",
    "success",
    "fee_msat",
    "attempts",
    "htlcs",
    "n_parts",
    "hops",
    "latency_s",
    "failure_reason",
]


def uniform_balances(graph: ChannelGraph, rng: np.random.Generator) -> np.ndarray:
    """(c,) node1-side balance per channel (msat), uniform on 0..capacity."""
    cap = graph.channel_capacity_sat * 1000
    return rng.integers(0, cap + 1, dtype=np.int64)


class PaymentSimulator:
    """Hidden-balance payment simulator over a :class:`ChannelGraph`.

    ``balance_model``: ``"uniform"`` (node1's share uniform on 0..capacity, seeded),
    ``"half"`` (capacity split evenly) or an array (c,) of node1-side balances in msat.
    ``latency_mu``/``latency_sigma``: lognormal per-hop latency (log-seconds).
    ``params``: router settings (:class:`RoutingParams`); ``max_attempts``: routing rounds
    per payment; ``max_parts``: parts per split; ``candidates``: route searches per part
    size when a route overflows once fees are added (see ``first_fitting_route``).
    """

    def __init__(
        self,
        graph: ChannelGraph,
        *,
        seed: int | None = 0,
        balance_model: str | np.ndarray = "uniform",
        latency_mu: float = DEFAULT_LATENCY_MU,
        latency_sigma: float = DEFAULT_LATENCY_SIGMA,
        params: RoutingParams | None = None,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_parts: int = DEFAULT_MAX_PARTS,
        candidates: int = DEFAULT_CANDIDATES,
    ) -> None:
        self.latency_mu = float(check_number(latency_mu, "latency_mu"))
        self.latency_sigma = float(check_number(latency_sigma, "latency_sigma", minimum=0))
        self.max_attempts = check_int(max_attempts, "max_attempts", 1)
        self.max_parts = check_int(max_parts, "max_parts", 1)
        self.candidates = check_int(candidates, "candidates", 1)
        self.graph = check_graph(graph)
        self.rng = seeded_rng(seed)
        self.params = check_params(params)
        cap = graph.channel_capacity_sat * 1000
        if isinstance(balance_model, str):
            if balance_model == "uniform":
                node1 = uniform_balances(graph, self.rng)
            elif balance_model == "half":
                node1 = cap // 2
            else:
                raise InvalidParameterError(
                    f"balance_model must be 'uniform', 'half' or an array, got {balance_model!r}"
                )
        else:
            node1 = np.asarray(balance_model)
            if node1.shape != cap.shape or not np.issubdtype(node1.dtype, np.integer):
                raise InvalidParameterError(
                    f"balance array must be integer msat of shape {cap.shape}"
                )
            if (node1 < 0).any() or (node1 > cap).any():
                raise InvalidParameterError("balances must lie within 0..capacity_msat")
        self.balance_msat = np.stack([node1, cap - node1], axis=1).astype(np.int64)

    # ------------------------------------------------------------------ balances
    def local_balance_msat(self, edge: int) -> int:
        """Balance (msat) of an edge's source side of its channel; ``edge``: an edge index
        0 .. n_edges - 1."""
        edge = check_int(edge, "edge", 0, self.graph.n_edges - 1)
        c, side = self._sides([edge])
        return int(self.balance_msat[c[0], side[0]])

    def edge_balances_msat(self) -> np.ndarray:
        """(m,) local balance of every edge's source side (msat)."""
        g = self.graph
        side = np.where(g.edge_is_node1, 0, 1)
        return self.balance_msat[g.edge_channel, side]

    def node_balances_msat(self) -> np.ndarray:
        """(n,) total balance each node holds over its channels (msat)."""
        g = self.graph
        out = np.zeros(g.n_nodes, dtype=np.int64)  # integer sums: exact for any total
        np.add.at(out, g.channel_node1, self.balance_msat[:, 0])
        np.add.at(out, g.channel_node2, self.balance_msat[:, 1])
        return out

    # ------------------------------------------------------------------ HTLCs
    def _sides(self, edges: tuple[int, ...] | list[int]) -> tuple[list[int], list[int]]:
        """Channel index and balance column (0: node1, 1: node2) of each edge's source."""
        e = np.asarray(edges, dtype=np.int64)
        g = self.graph
        return g.edge_channel[e].tolist(), np.where(g.edge_is_node1[e], 0, 1).tolist()

    def _send(self, route: Route) -> tuple[int | None, float]:
        """Push an HTLC along ``route``: lock each hop amount on its sender's side.

        Returns (index of the failing hop or None, latency in s). On failure the locks
        taken so far are released.
        """
        n = route.n_hops
        samples = self.rng.lognormal(self.latency_mu, self.latency_sigma, size=n)
        bal = self.balance_msat
        e = np.asarray(route.edges, dtype=np.int64)
        hmin = self.graph.htlc_min_msat[e].tolist()
        hmax = self.graph.htlc_max_msat[e].tolist()
        chans, sides = self._sides(route.edges)
        for j, amt in enumerate(route.hop_amounts_msat):
            c, side = chans[j], sides[j]
            if bal[c, side] < amt or amt < hmin[j] or amt > hmax[j]:
                self._release(route, j)
                return j, float(samples[:j].sum())
            bal[c, side] -= amt
        return None, float(samples.sum())

    def _release(self, route: Route, upto: int) -> None:
        """Give back the locks of the first ``upto`` hops."""
        chans, sides = self._sides(route.edges)
        for c, side, amt in zip(
            chans[:upto], sides[:upto], route.hop_amounts_msat[:upto], strict=True
        ):
            self.balance_msat[c, side] += amt

    def _settle(self, route: Route) -> None:
        """Credit every locked hop amount to the receiving side of its channel."""
        chans, sides = self._sides(route.edges)
        for c, side, amt in zip(chans, sides, route.hop_amounts_msat, strict=True):
            self.balance_msat[c, 1 - side] += amt

    def _view(self, source: int, upper: dict[int, int], locked: np.ndarray | None) -> np.ndarray:
        """(m,) capacity the router may assume: public capacity, the sender's true balances
        on its own channels, learned upper bounds, minus this payment's held amounts."""
        g = self.graph
        cap = _static_arrays(g)["cap_msat"].copy()
        a, b = int(g.indptr[source]), int(g.indptr[source + 1])
        side = np.where(g.edge_is_node1[a:b], 0, 1)
        cap[a:b] = self.balance_msat[g.edge_channel[a:b], side]
        if locked is not None:
            cap[a:b] += locked[a:b]  # own balances already exclude our held HTLCs
            cap -= locked
        for e, ub in upper.items():
            cap[e] = min(cap[e], ub)
        return cap

    # ------------------------------------------------------------------ payments
    def pay(
        self,
        source: str | int,
        target: str | int,
        amount_msat: int,
        *,
        multipart: bool = False,
        max_attempts: int | None = None,
    ) -> PaymentResult:
        """Try to pay ``amount_msat`` from ``source`` to ``target``; balances change only
        if it succeeds. Raises ``NoRouteError('unknown_node')`` for unknown nodes."""
        multipart = check_bool(multipart, "multipart")
        g = self.graph
        s, t = g.node(source), g.node(target)
        if s == t:
            raise InvalidParameterError("source and target must differ")
        amount = check_amount(amount_msat)
        rounds = self.max_attempts
        if max_attempts is not None:
            rounds = check_int(max_attempts, "max_attempts", 1)
        if multipart:
            return self._pay_multipart(s, t, amount, rounds)
        return self._pay_single(s, t, amount, rounds)

    def _result(self, s: int, t: int, amount: int, **kw: Any) -> PaymentResult:
        ids = self.graph.node_ids
        return PaymentResult(source=str(ids[s]), target=str(ids[t]), amount_msat=amount, **kw)

    def _pay_single(self, s: int, t: int, amount: int, rounds: int) -> PaymentResult:
        excluded = np.zeros(self.graph.n_edges, dtype=bool)  # directions that failed
        latency = 0.0
        reason: str | None = "max_attempts"
        attempts = 0
        while attempts < rounds:
            view = self._view(s, {}, None)
            try:
                route = first_fitting_route(
                    self.graph,
                    s,
                    t,
                    amount,
                    params=self.params,
                    candidates=self.candidates,
                    capacity_msat=view,
                    exclude_edges=excluded,
                )
            except NoRouteError as exc:
                reason = exc.reason if attempts == 0 else "liquidity"
                break
            attempts += 1
            failed, lat = self._send(route)
            latency += lat
            if failed is None:
                self._settle(route)
                return self._result(
                    s,
                    t,
                    amount,
                    success=True,
                    fee_msat=route.total_fee_msat,
                    attempts=attempts,
                    htlcs=attempts,
                    n_parts=1,
                    hops=route.n_hops,
                    latency_s=latency,
                    failure_reason=None,
                    routes=(route,),
                )
            excluded[route.edges[failed]] = True  # the direction is dropped
        return self._result(
            s,
            t,
            amount,
            success=False,
            fee_msat=0,
            attempts=attempts,
            htlcs=attempts,
            n_parts=0,
            hops=0,
            latency_s=latency,
            failure_reason=reason,
        )

    def _pay_multipart(self, s: int, t: int, amount: int, rounds: int) -> PaymentResult:
        g = self.graph
        upper: dict[int, int] = {}
        locked = np.zeros(g.n_edges, dtype=np.float64)
        held: list[Route] = []
        remaining = amount
        latency = 0.0
        attempts = 0
        htlcs = 0
        reason: str | None = "max_attempts"
        while remaining > 0 and attempts < rounds:
            if len(held) >= self.max_parts:
                reason = "max_parts"
                break
            view = self._view(s, upper, locked)
            try:
                split = split_payment(
                    g,
                    s,
                    t,
                    remaining,
                    max_parts=self.max_parts - len(held),
                    candidates=self.candidates,
                    params=self.params,
                    capacity_msat=view,
                )
            except NoRouteError as exc:
                reason = exc.reason if attempts == 0 else "liquidity"
                break
            attempts += 1
            round_latency = 0.0
            for route in split.parts:
                htlcs += 1
                failed, lat = self._send(route)
                round_latency = max(round_latency, lat)
                if failed is None:
                    held.append(route)
                    remaining -= route.amount_msat
                    for e, amt in zip(route.edges, route.hop_amounts_msat, strict=True):
                        locked[e] += amt
                else:
                    e = route.edges[failed]
                    bound = route.hop_amounts_msat[failed] - 1
                    upper[e] = min(upper.get(e, bound), bound)
            latency += round_latency
        if remaining == 0:
            for route in held:
                self._settle(route)
            return self._result(
                s,
                t,
                amount,
                success=True,
                fee_msat=int(sum(r.total_fee_msat for r in held)),
                attempts=attempts,
                htlcs=htlcs,
                n_parts=len(held),
                hops=max(r.n_hops for r in held),
                latency_s=latency,
                failure_reason=None,
                routes=tuple(held),
            )
        for route in held:
            self._release(route, route.n_hops)
        return self._result(
            s,
            t,
            amount,
            success=False,
            fee_msat=0,
            attempts=attempts,
            htlcs=htlcs,
            n_parts=0,
            hops=0,
            latency_s=latency,
            failure_reason=reason,
        )

    def run(
        self,
        payments: pd.DataFrame,
        *,
        multipart: bool = False,
        max_attempts: int | None = None,
    ) -> PaymentBatchResult:
        """Run payments in row order (columns ``source``, ``target``, ``amount_msat``) and
        summarise them. Unknown nodes raise ``NoRouteError``; other failures are recorded.
        Every row's nodes and amount, and ``max_attempts``, are checked before the first
        payment is made: a bad row leaves the balances as they were."""
        if not isinstance(payments, pd.DataFrame):
            raise InvalidParameterError(
                "payments must be a pandas DataFrame with columns source, target, "
                f"amount_msat, got {type(payments).__name__}"
            )
        missing = {"source", "target", "amount_msat"} - set(payments.columns)
        if missing:
            raise InvalidParameterError(f"payments frame lacks columns {sorted(missing)}")
        multipart = check_bool(multipart, "multipart")
        if max_attempts is not None:
            max_attempts = check_int(max_attempts, "max_attempts", 1)
        amounts = []
        for row, a in enumerate(payments["amount_msat"].tolist()):
            try:
                amounts.append(check_amount(a))
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"payments row {row}: {exc}") from None
        sources, targets = payments["source"].tolist(), payments["target"].tolist()
        for row, (s, t) in enumerate(zip(sources, targets, strict=True)):
            try:
                if self.graph.node(s) == self.graph.node(t):
                    raise InvalidParameterError("source and target must differ")
            except NoRouteError as exc:
                raise NoRouteError(f"payments row {row}: {exc}", reason=exc.reason) from None
            except InvalidParameterError as exc:
                raise InvalidParameterError(f"payments row {row}: {exc}") from None
        results = [
            self.pay(s, t, a, multipart=multipart, max_attempts=max_attempts)
            for s, t, a in zip(sources, targets, amounts, strict=True)
        ]
        return PaymentBatchResult.from_results(results, multipart=multipart)


def simulate_random_payments(
    graph: ChannelGraph,
    n_payments: int,
    amount_sat: int,
    *,
    seed: int,
    multipart: bool = True,
    balance_model: str | np.ndarray = "uniform",
    params: RoutingParams | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_parts: int = DEFAULT_MAX_PARTS,
    latency_mu: float = DEFAULT_LATENCY_MU,
    latency_sigma: float = DEFAULT_LATENCY_SIGMA,
) -> PaymentBatchResult:
    """``n_payments`` payments of ``amount_sat`` between random distinct nodes of the
    largest strongly connected component, one after another on one seeded simulator."""
    n_payments = check_int(n_payments, "n_payments", 1)
    amount = check_int(amount_sat, "amount_sat", 1, MAX_MSAT // 1000) * 1000
    rng = seeded_rng(seed)
    core = graph.largest_scc()
    if core.size < 2:
        raise NoRouteError("the graph has no strongly connected pair of nodes")
    src = rng.choice(core, size=n_payments)
    off = rng.integers(1, core.size, size=n_payments)
    pos = np.searchsorted(core, src)
    dst = core[(pos + off) % core.size]
    sim = PaymentSimulator(
        graph,
        seed=int(rng.integers(2**63 - 1)),
        balance_model=balance_model,
        params=params,
        max_attempts=max_attempts,
        max_parts=max_parts,
        latency_mu=latency_mu,
        latency_sigma=latency_sigma,
    )
    ids = graph.node_ids
    frame = pd.DataFrame(
        {
            "source": ids[src].astype(str),
            "target": ids[dst].astype(str),
            "amount_msat": np.full(n_payments, amount, dtype=np.int64),
        }
    )
    return sim.run(frame, multipart=multipart)
