"""Multi-part payments: split an amount over several routes when one is not enough.

Rule (:func:`split_payment`), on the router's view of the graph (public capacities, or a
``capacity_msat`` override such as the simulator's learned bounds):

1. ``part = amount``. Repeat until nothing remains:
2. look for a route for ``a = min(part, remaining)``: the cheapest path (edges pruned
   for ``a`` against the *residual* capacity) whose compounded hop amounts fit every hop
   (``htlc_min ≤ hop amount ≤ min(htlc_max, residual capacity)``), among the
   ``candidates`` cheapest (Yen's order; whether a hop fits depends on the fees downstream
   of it, so an edge that overflows on one path may fit on another), else from up to
   ``candidates`` searches that drop the edges that overflowed;
3. none: halve ``part`` and retry; give up (``NoRouteError``, reason ``"pruned"``) when
   ``part`` times the parts still allowed can no longer cover the remainder;
4. found: grow the part to the route's bottleneck, ``x = min(remaining, largest amount
   every hop can carry)``, record it, and subtract its hop amounts from the residual
   capacity of the edges it uses (so parts never share an edge beyond its capacity).

The first iteration is the single-path attempt: when a route found by step 2 carries the
whole amount, the payment is one part. Step 2 looks at a bounded number of routes, so a
route that could carry it all but lies beyond them is not found, and the amount is split
(an audit built one: seven cheap paths overflowing on their middle hop, one expensive path
that fits; two parts, cheaper in fees). Residual capacity is tracked per directed edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data.checks import check_int
from data.errors import InvalidParameterError, NoRouteError
from routing.graph import ChannelGraph
from routing.paths import (
    Route,
    RoutingParams,
    _make_params,
    build_route,
    check_amount,
    check_capacity,
    exclude_mask,
    hop_amounts,
    k_shortest_paths,
    shortest_route,
)

DEFAULT_MAX_PARTS = 16
DEFAULT_CANDIDATES = 3  # route searches per part size (see first_fitting_route)


@dataclass(frozen=True)
class SplitPayment:
    """A payment split into parts. ``parts``: one :class:`Route` per part, each carrying its
    ``amount_msat``; the amounts sum to ``amount_msat``."""

    source: str
    target: str
    amount_msat: int
    parts: tuple[Route, ...]

    @property
    def n_parts(self) -> int:
        """Number of parts."""
        return len(self.parts)

    @property
    def amounts_msat(self) -> tuple[int, ...]:
        """Amount delivered by each part (msat)."""
        return tuple(r.amount_msat for r in self.parts)

    @property
    def total_fee_msat(self) -> int:
        """Sum of the parts' compounded fees (msat)."""
        return int(sum(r.total_fee_msat for r in self.parts))

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict with the parts as route dicts."""
        return {
            "source": self.source,
            "target": self.target,
            "amount_msat": int(self.amount_msat),
            "n_parts": self.n_parts,
            "total_fee_msat": self.total_fee_msat,
            "parts": [r.to_dict() for r in self.parts],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per part: amount_msat, fee_msat, n_hops, total_weight, total_cltv, path."""
        return pd.DataFrame(
            {
                "part": np.arange(self.n_parts, dtype=np.int64),
                "amount_msat": np.array(self.amounts_msat, dtype=np.int64),
                "fee_msat": np.array([r.total_fee_msat for r in self.parts], dtype=np.int64),
                "n_hops": np.array([r.n_hops for r in self.parts], dtype=np.int64),
                "total_weight": np.array([r.total_weight for r in self.parts], dtype=float),
                "total_cltv": np.array([r.total_cltv for r in self.parts], dtype=np.int64),
                "path": [" > ".join(r.hops) for r in self.parts],
            }
        )


def route_fits(
    graph: ChannelGraph,
    route: Route,
    capacity_msat: np.ndarray | None = None,
) -> bool:
    """True if every hop amount of ``route`` lies within the edge's htlc limits and is at
    most its capacity (``capacity_msat`` (m,) overrides the public capacity)."""
    if capacity_msat is not None:
        capacity_msat = check_capacity(graph, capacity_msat)
    return not _overflowing(graph, route, capacity_msat)


def first_fitting_route(
    graph: ChannelGraph,
    source: str | int,
    target: str | int,
    amount_msat: int,
    *,
    params: RoutingParams,
    candidates: int = DEFAULT_CANDIDATES,
    capacity_msat: np.ndarray | None = None,
    exclude_edges: np.ndarray | None = None,
) -> Route:
    """A route whose compounded hop amounts fit (:func:`route_fits`): the cheapest among
    the ``candidates`` cheapest routes, else the first that fits of up to ``candidates``
    more searches avoiding every edge that overflowed so far.

    Pruning uses the payment amount, so a hop may still overflow once the downstream fees
    are added. That depends on the path downstream of the hop, so the next cheapest paths
    (:func:`k_shortest_paths`, searched lazily) are tried first, with the edge; they often
    share it, so the searches that drop it come next. ``NoRouteError`` (the search's
    reason, or ``"pruned"`` when nothing fits).
    """
    candidates = check_int(candidates, "candidates", 1)
    exclude = exclude_mask(graph, exclude_edges)
    routes = k_shortest_paths(
        graph,
        source,
        target,
        amount_msat,
        k=candidates,
        params=params,
        capacity_msat=capacity_msat,
        exclude_edges=exclude.copy(),
    )
    for route in routes:
        bad = _overflowing(graph, route, capacity_msat)
        if not bad:
            return route
        exclude[bad] = True
    for _ in range(candidates):
        try:
            route = shortest_route(
                graph,
                source,
                target,
                amount_msat,
                params=params,
                capacity_msat=capacity_msat,
                exclude_edges=exclude,
            )
        except NoRouteError:
            break  # the pair is connected (the first search found a path): pruned
        bad = _overflowing(graph, route, capacity_msat)
        if not bad:
            return route
        exclude[bad] = True
    raise NoRouteError(
        f"no route fits {amount_msat} msat once fees are added on each hop", reason="pruned"
    )


def _overflowing(graph: ChannelGraph, route: Route, capacity_msat: np.ndarray | None) -> list[int]:
    """Edges of ``route`` whose hop amount is outside the htlc limits or above capacity."""
    bad = []
    for e, amt in zip(route.edges, route.hop_amounts_msat, strict=True):
        cap = graph.capacity_sat[e] * 1000 if capacity_msat is None else capacity_msat[e]
        if amt < graph.htlc_min_msat[e] or amt > graph.htlc_max_msat[e] or amt > cap:
            bad.append(e)
    return bad


def max_sendable_msat(
    graph: ChannelGraph,
    edges: tuple[int, ...] | list[int],
    capacity_msat: np.ndarray,
    theta: float,
    upper_msat: int,
) -> int:
    """Largest amount ≤ ``upper_msat`` whose compounded hop amounts stay within
    min(htlc_max, capacity) on every hop and whose edges keep capacity ≥ theta·amount
    (0 if none)."""
    limits = [min(int(graph.htlc_max_msat[e]), int(capacity_msat[e])) for e in edges]
    x = int(upper_msat)
    if theta > 0:
        x = min(x, int(min(float(capacity_msat[e]) for e in edges) / theta))

    def excess(amount: int) -> int:
        amounts, _ = hop_amounts(graph, edges, amount)
        return max(a - lim for a, lim in zip(amounts, limits, strict=True))

    high = x + 1  # smallest amount known not to fit (x itself may fit)
    while x > 0:
        over = excess(x)
        if over <= 0:
            break
        high = x
        x = max(x - over, 0)  # every hop amount grows at least 1:1 with the amount
    # x fits (or is 0) and high does not: bisect, as floors in the fees can leave room
    # between them and a large excess can overshoot to 0
    while high - x > 1:
        mid = (x + high) // 2
        if excess(mid) <= 0:
            x = mid
        else:
            high = mid
    return x


def split_payment(
    graph: ChannelGraph,
    source: str | int,
    target: str | int,
    amount_msat: int,
    *,
    max_parts: int = DEFAULT_MAX_PARTS,
    candidates: int = DEFAULT_CANDIDATES,
    theta: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    hop_latency_s: float | None = None,
    params: RoutingParams | None = None,
    capacity_msat: np.ndarray | None = None,
    exclude_edges: np.ndarray | None = None,
) -> SplitPayment:
    """Split ``amount_msat`` over at most ``max_parts`` routes (rule in the module docstring).

    Raises ``NoRouteError``: ``"unknown_node"``, ``"disconnected"``, or ``"pruned"`` when
    the amount cannot be covered (every part size tried failed, or ``max_parts`` reached).
    """
    p = _make_params(params, theta, alpha, beta, gamma, hop_latency_s)
    max_parts = check_int(max_parts, "max_parts", 1)
    candidates = check_int(candidates, "candidates", 1)
    s, t = graph.node(source), graph.node(target)
    if s == t:
        raise InvalidParameterError("source and target must differ")
    amount = check_amount(amount_msat)
    base_cap = (
        graph.capacity_sat * 1000.0
        if capacity_msat is None
        else check_capacity(graph, capacity_msat).astype(np.float64)
    )
    exclude_edges = None if exclude_edges is None else exclude_mask(graph, exclude_edges)
    residual = base_cap.copy()
    parts: list[Route] = []
    remaining = amount
    part = amount
    last_error: NoRouteError | None = None
    while remaining > 0:
        a = min(part, remaining)
        left = max_parts - len(parts)
        if left == 0 or a * left < remaining or a <= 0:
            reason = "pruned" if last_error is None else last_error.reason
            raise NoRouteError(
                f"cannot split {amount} msat over at most {max_parts} parts "
                f"({amount - remaining} msat placed)",
                reason=reason if reason != "disconnected" else "pruned",
            )
        try:
            route = first_fitting_route(
                graph,
                s,
                t,
                a,
                params=p,
                candidates=candidates,
                capacity_msat=residual,
                exclude_edges=exclude_edges,
            )
        except NoRouteError as exc:
            if exc.reason in ("unknown_node", "disconnected"):
                raise
            last_error = exc
            part = a // 2
            continue
        x = max(a, max_sendable_msat(graph, route.edges, residual, p.theta, remaining))
        if x != a:
            route = build_route(graph, route.edges, x, p)
        for e, hop_amt in zip(route.edges, route.hop_amounts_msat, strict=True):
            residual[e] -= hop_amt
        parts.append(route)
        remaining -= x
    ids = graph.node_ids
    return SplitPayment(
        source=str(ids[s]), target=str(ids[t]), amount_msat=amount, parts=tuple(parts)
    )
