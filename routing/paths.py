"""Edge weights, pruning and Yen's k shortest loopless paths on a :class:`ChannelGraph`.

Weight of edge e for a payment of ``amount_msat`` (units: msat-equivalent)::

    w_e = alpha * fee_e + beta * max(0, 1 - capacity_e / reference_capacity) + gamma * latency

- ``fee_e = base_fee_msat + amount_msat * fee_rate_ppm / 1e6`` (msat), the fee the edge's
  source node charges to forward the payment amount. ``alpha`` is per msat. Edges leaving
  the *sender* get no fee term: a node does not pay itself to use its own channel.
- the capacity term is dimensionless in [0, 1]; ``beta`` is its price in msat.
- ``latency`` is the expected per-hop latency ``hop_latency_s`` (seconds, one constant for
  every hop; by default the mean of the simulator's lognormal hop latency,
  exp(mu + sigma²/2) ≈ 0.18 s); ``gamma`` is msat per second.

Search weights use the payment amount on every edge (as the issue allows); the
:class:`Route` then carries the exact Lightning amounts: each hop forwards the amount plus
the fees of the hops after it, computed backwards from the target with integer msat
arithmetic (``fee = base + amount * ppm // 1_000_000``). ``total_fee_msat`` is that
compounded fee.

Pruning for ``amount_msat``: an edge is dropped when ``capacity_msat < theta * amount``
or ``amount < htlc_min_msat`` or ``amount > htlc_max_msat`` (or when it is excluded).

Paths: between two nodes only the cheapest parallel channel that survives pruning is used,
so paths are distinct node sequences. The search is Yen's algorithm (with Lawler's rule:
spur only from the previous path's deviation node on) over the pair graph:

- each spur search is an A* whose heuristic is the exact distance to the target on the
  whole pruned graph, from one reverse Dijkstra per query (``scipy.sparse.csgraph``);
  removing nodes and edges only lengthens paths, so it stays admissible and consistent;
- a node whose shortest path to the target avoids the root path is finished at once
  (its distance is exact there too), see :class:`_Search`;
- successors are generated lazily in heuristic order, so a hub with thousands of
  channels costs one sort, not thousands of heap pushes;
- when a spur node is the gateway most shortest paths run through, the search switches
  to distances recomputed without it (cached per spur node);
- nodes whose channels all lead to one neighbour can only start or end a path; their
  out-edges are left out of the query (except the sender's).
"""

from __future__ import annotations

import functools
import heapq
import inspect
import math
import numbers
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from data.checks import check_type
from data.errors import InvalidParameterError, NoRouteError
from routing.graph import ChannelGraph

DEFAULT_LATENCY_MU = math.log(0.15)  # lognormal log-median per-hop latency: 0.15 s
DEFAULT_LATENCY_SIGMA = 0.6
DEFAULT_HOP_LATENCY_S = math.exp(DEFAULT_LATENCY_MU + DEFAULT_LATENCY_SIGMA**2 / 2)

_INF = math.inf
_ASTAR_BUDGET = 150  # nodes an A* spur search may settle before it changes heuristic
_GAVE_UP = object()  # sentinel: an A* search ran out of budget
_CUTOFF_BUDGET = 16  # nodes the backward reachability pre-check may visit
MAX_MSAT = int(np.iinfo(np.int64).max)  # amounts are stored as int64 msat


@dataclass(frozen=True)
class RoutingParams:
    """Router settings.

    ``theta``: pruning factor (keep edges with capacity_msat ≥ theta·amount_msat);
    ``alpha``: weight per msat of fee; ``beta``: weight (msat) of a zero-capacity channel
    relative to the largest; ``gamma``: weight (msat) per second of expected latency;
    ``hop_latency_s``: expected latency per hop (s).
    """

    theta: float = 1.0
    alpha: float = 1.0
    beta: float = 1000.0
    gamma: float = 1000.0
    hop_latency_s: float = DEFAULT_HOP_LATENCY_S

    def __post_init__(self) -> None:
        for name in ("theta", "alpha", "beta", "gamma", "hop_latency_s"):
            value = check_number(getattr(self, name), name, minimum=0)
            object.__setattr__(self, name, value.item() if isinstance(value, np.generic) else value)

    def to_dict(self) -> dict[str, float]:
        """Parameters as floats."""
        return {k: float(v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Route:
    """One payment path with Lightning amounts.

    ``hops``: node ids (pubkeys), sender first, recipient last (length n_hops + 1);
    ``channel_ids`` and ``edges`` (indices into the graph's edge arrays): one per hop;
    ``hop_amounts_msat``: amount forwarded over each hop (the recipient gets
    ``amount_msat`` over the last hop; earlier hops add the downstream fees);
    ``hop_fees_msat``: fee charged by the source of each hop (0 for the sender's own first
    hop); ``total_fee_msat = hop_amounts_msat[0] - amount_msat``; ``total_weight``: search
    weight (msat-equivalent); ``total_cltv``: sum of the forwarding nodes' cltv_delta
    (blocks, hops after the first, without the recipient's final delta);
    ``expected_latency_s``: n_hops × hop_latency_s.
    """

    hops: tuple[str, ...]
    channel_ids: tuple[str, ...]
    edges: tuple[int, ...]
    amount_msat: int
    hop_amounts_msat: tuple[int, ...]
    hop_fees_msat: tuple[int, ...]
    total_fee_msat: int
    total_weight: float
    total_cltv: int
    expected_latency_s: float

    @property
    def n_hops(self) -> int:
        """Number of channels crossed."""
        return len(self.edges)

    @property
    def sent_msat(self) -> int:
        """What the sender pays: amount plus fees."""
        return self.amount_msat + self.total_fee_msat

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (ints, floats, lists)."""
        return {
            "hops": list(self.hops),
            "channel_ids": list(self.channel_ids),
            "edges": [int(e) for e in self.edges],
            "amount_msat": int(self.amount_msat),
            "hop_amounts_msat": [int(a) for a in self.hop_amounts_msat],
            "hop_fees_msat": [int(f) for f in self.hop_fees_msat],
            "total_fee_msat": int(self.total_fee_msat),
            "total_weight": float(self.total_weight),
            "total_cltv": int(self.total_cltv),
            "expected_latency_s": float(self.expected_latency_s),
            "n_hops": self.n_hops,
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per hop: source, target, channel_id, edge, amount_msat, fee_msat."""
        return pd.DataFrame(
            {
                "source": list(self.hops[:-1]),
                "target": list(self.hops[1:]),
                "channel_id": list(self.channel_ids),
                "edge": np.asarray(self.edges, dtype=np.int64),
                # int64, or Python ints where fees compound beyond int64
                "amount_msat": np.asarray(self.hop_amounts_msat),
                "fee_msat": np.asarray(self.hop_fees_msat),
            }
        )


def check_amount(amount_msat: Any) -> int:
    """``amount_msat`` as a positive Python int (at most int64's maximum), else
    InvalidParameterError."""
    if isinstance(amount_msat, bool) or not isinstance(amount_msat, (int, np.integer)):
        if isinstance(amount_msat, (float, np.floating)) and float(amount_msat).is_integer():
            amount_msat = int(amount_msat)
        else:
            raise InvalidParameterError(f"amount_msat must be an integer, got {amount_msat!r}")
    if int(amount_msat) <= 0:
        raise InvalidParameterError(f"amount_msat must be positive, got {amount_msat}")
    if int(amount_msat) > MAX_MSAT:
        raise InvalidParameterError(f"amount_msat must be at most {MAX_MSAT}, got {amount_msat}")
    return int(amount_msat)


def check_number(value: Any, name: str, *, minimum: float | None = None) -> Any:
    """``value`` if it is a finite real number (numpy's too, bool refused) >= ``minimum``,
    else InvalidParameterError naming ``name``."""
    bound = "" if minimum is None else f" >= {minimum:g}"
    if not isinstance(value, bool) and isinstance(value, numbers.Real):
        try:
            # cast: the numbers.Real stub declares __lt__/__le__ but not __ge__
            if math.isfinite(value) and (minimum is None or cast(float, value) >= minimum):
                return value
        except OverflowError:  # an int beyond float (10**400)
            pass
    raise InvalidParameterError(f"{name} must be a finite number{bound}, got {_short(value)}")


def _short(value: Any) -> str:
    """``repr(value)``, or its start and length when it is long (a 400-digit int)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"


def check_capacity(graph: ChannelGraph, capacity_msat: Any) -> np.ndarray:
    """``capacity_msat`` as an (m,) numeric array of finite values >= 0, else
    InvalidParameterError."""
    cap = np.asarray(capacity_msat)
    if cap.dtype.kind not in "iuf" or cap.shape != (graph.n_edges,):
        raise InvalidParameterError(
            f"capacity_msat must be numbers of shape ({graph.n_edges},), "
            f"got {cap.dtype} of shape {cap.shape}"
        )
    if cap.dtype.kind == "f" and not np.isfinite(cap).all():
        raise InvalidParameterError("capacity_msat must be finite (NaN or inf found)")
    if (cap < 0).any():
        raise InvalidParameterError(f"capacity_msat must be >= 0, got {cap.min()!r}")
    return cap


def exclude_mask(graph: ChannelGraph, exclude_edges: Any) -> np.ndarray:
    """(m,) bool mask of the edges ``exclude_edges`` (a bool mask or edge indices) drops,
    else InvalidParameterError."""
    keep_shape = (graph.n_edges,)
    mask = np.zeros(keep_shape, dtype=bool)
    if exclude_edges is None:
        return mask
    ex = np.asarray(exclude_edges)
    if ex.dtype == bool:
        if ex.shape != keep_shape:
            raise InvalidParameterError(
                f"exclude_edges mask must have shape {keep_shape}, got {ex.shape}"
            )
        return ex.copy()
    if not ex.size:
        return mask
    if ex.dtype.kind not in "iuf" or (ex.dtype.kind == "f" and not np.isfinite(ex).all()):
        raise InvalidParameterError(
            f"exclude_edges must be a bool mask or edge indices, got {ex.dtype} values"
        )
    idx = ex.astype(np.int64).ravel()
    if ex.dtype.kind == "f" and (idx != ex.ravel()).any():
        raise InvalidParameterError("exclude_edges holds non-integer edge indices")
    if idx.min() < 0 or idx.max() >= graph.n_edges:
        raise InvalidParameterError(
            f"exclude_edges holds edge indices outside 0..{graph.n_edges - 1}"
        )
    mask[idx] = True
    return mask


def edge_fees_msat(graph: ChannelGraph, amount_msat: float) -> np.ndarray:
    """(m,) float fee per edge for forwarding ``amount_msat`` (no integer rounding)."""
    return graph.base_fee_msat + amount_msat * (graph.fee_rate_ppm / 1e6)


def _static_arrays(graph: ChannelGraph) -> dict[str, np.ndarray]:
    """Float copies of the per-edge columns the router needs (cached on the graph)."""
    arrays = graph._cache.get("static")
    if arrays is None:
        arrays = {
            "base": graph.base_fee_msat.astype(np.float64),
            "rate": graph.fee_rate_ppm / 1e6,
            "cap_term": np.maximum(0.0, 1.0 - graph.capacity_sat / graph.reference_capacity_sat),
            "cap_msat": graph.capacity_sat * 1000.0,
            "hmin": graph.htlc_min_msat.astype(np.float64),
            "hmax": graph.htlc_max_msat.astype(np.float64),
        }
        graph._cache["static"] = arrays
    return arrays


def _amount_free_weights(graph: ChannelGraph, params: RoutingParams) -> np.ndarray:
    """(m,) alpha·base_fee + beta·capacity term + gamma·latency, cached per params."""
    key = ("w_static", params)
    w = graph._cache.get(key)
    if w is None:
        w = params.alpha * _static_arrays(graph)["base"] + _no_fee_weights(graph, params)
        graph._cache[key] = w
    return w


def edge_weights(
    graph: ChannelGraph,
    amount_msat: int,
    params: RoutingParams | None = None,
    *,
    with_fee: bool = True,
) -> np.ndarray:
    """(m,) search weight per edge (msat-equivalent) before pruning; see module docstring.

    ``with_fee=False`` drops the fee term (the sender's own channels).
    """
    amount_msat = check_amount(amount_msat)
    params = params or RoutingParams()
    st = _static_arrays(graph)
    if not with_fee:
        return _no_fee_weights(graph, params)
    return _amount_free_weights(graph, params) + (params.alpha * amount_msat) * st["rate"]


def _no_fee_weights(
    graph: ChannelGraph, params: RoutingParams, edges: slice = slice(None)
) -> np.ndarray:
    """beta·capacity term + gamma·latency of ``edges``: the weight of a sender's own channel
    (it pays itself no fee)."""
    cap_term = _static_arrays(graph)["cap_term"][edges]
    return params.beta * cap_term + params.gamma * params.hop_latency_s


def prune_mask(
    graph: ChannelGraph,
    amount_msat: int,
    params: RoutingParams | None = None,
    *,
    capacity_msat: np.ndarray | None = None,
    exclude_edges: np.ndarray | None = None,
) -> np.ndarray:
    """(m,) bool, True for edges kept for ``amount_msat``.

    ``capacity_msat`` (m,) overrides the public capacity (e.g. learned upper bounds; finite,
    >= 0, see :func:`check_capacity`); ``exclude_edges`` is a bool mask or an index array of
    edges to drop (see :func:`exclude_mask`).
    """
    amount_msat = check_amount(amount_msat)
    params = params or RoutingParams()
    st = _static_arrays(graph)
    cap = st["cap_msat"] if capacity_msat is None else check_capacity(graph, capacity_msat)
    keep = cap >= params.theta * amount_msat
    keep &= st["hmin"] <= amount_msat
    keep &= st["hmax"] >= amount_msat
    if exclude_edges is not None:
        keep &= ~exclude_mask(graph, exclude_edges)
    return keep


def _pair_min(graph: ChannelGraph, w_edge: np.ndarray) -> np.ndarray:
    """(P,) minimum of ``w_edge`` over each pair's parallel edges.

    Most pairs have one edge, so this takes the first edge of every pair and then folds in
    the j-th parallel edges level by level (cheaper than ``np.minimum.reduceat``).
    """
    levels = graph._cache.get("pair_levels")
    pairs = graph.pair_index()
    if levels is None:
        mult = np.diff(pairs.start)
        levels = []
        for j in range(1, int(mult.max()) if mult.size else 0):
            ps = np.flatnonzero(mult > j)
            levels.append((ps, pairs.start[ps] + j))
        graph._cache["pair_levels"] = levels
    out = w_edge[pairs.start[:-1]]
    for ps, es in levels:
        out[ps] = np.minimum(out[ps], w_edge[es])
    return out


def _reverse_matrix(graph: ChannelGraph, data: np.ndarray) -> Any:
    """(n, n) scipy CSR of the reversed pair graph with ``data`` as weights (inf = absent).

    Built fresh per call (about 30 µs) so that queries never share mutable state.
    """
    from scipy.sparse import csr_matrix

    pairs = graph.pair_index()
    n = graph.n_nodes
    return csr_matrix((data, pairs.rev_src, pairs.rev_indptr), shape=(n, n))


class _Query:
    """Pruned pair-graph weights for one amount and capacity view, plus per-target
    distances from a reverse Dijkstra; shared by the searches of a query."""

    def __init__(
        self,
        graph: ChannelGraph,
        amount_msat: int,
        params: RoutingParams,
        capacity_msat: np.ndarray | None = None,
        exclude_edges: np.ndarray | None = None,
        source: int | None = None,
    ) -> None:
        self.graph = graph
        self.amount_msat = amount_msat
        self.params = params
        self.pairs = graph.pair_index()
        self.keep = prune_mask(
            graph, amount_msat, params, capacity_msat=capacity_msat, exclude_edges=exclude_edges
        )
        if source is not None:
            # Nodes with a single neighbour cannot be intermediate hops: dropping their
            # out-edges (except the sender's) shrinks every Dijkstra run of this query.
            a, b = int(graph.indptr[source]), int(graph.indptr[source + 1])
            own = self.keep[a:b].copy()
            self.keep &= ~graph.dead_end_edges()
            self.keep[a:b] = own
        w = edge_weights(graph, amount_msat, params)
        w[~self.keep] = _INF
        self.w_edge = w
        self.w_pair = _pair_min(graph, w)
        self._h: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def distances_to(self, target: int) -> tuple[np.ndarray, np.ndarray]:
        """(n,) cheapest weight from every node to ``target`` on the pruned pair graph, and
        (n,) the next node on that cheapest path (-9999 where there is none)."""
        out = self._h.get(target)
        if out is None:
            from scipy.sparse.csgraph import dijkstra

            rev = _reverse_matrix(self.graph, self.w_pair[self.pairs.rev_perm])
            h, nxt = dijkstra(rev, directed=True, indices=target, return_predecessors=True)
            out = (h, nxt)
            self._h[target] = out
        return out

    def no_route_reason(self, source: int, target: int) -> str:
        """``"pruned"`` if target is reachable from source before pruning, else
        ``"disconnected"``."""
        return "pruned" if self.graph.reachable_from(source)[target] else "disconnected"


class _Heuristic:
    """Distances to the target on the pruned graph without ``removed`` nodes, the
    next-node pointers of that shortest-path tree, and per-node successor orders."""

    __slots__ = ("h", "nxt", "removed", "succ")

    def __init__(self, h: np.ndarray, nxt: np.ndarray, removed: frozenset[int]) -> None:
        self.h = h
        self.nxt = nxt
        self.removed = removed
        self.succ: dict[int, tuple[list[int], list[float]]] = {}


class _Search:
    """Yen's k shortest loopless paths from ``source`` to ``target`` within one query.

    Spur searches are A* whose heuristic is an exact distance-to-target array: first the
    one of the whole pruned graph (a lower bound once nodes and edges are removed). A node
    whose shortest path to the target (the reverse-Dijkstra tree) avoids every root node is
    "green": its h is exact in the spur graph too, so the first green node popped closes
    the search (Feng's node classification); closed nodes are never green, so the spliced
    path is loopless. When a spur search settles too many nodes (the spur node is a gateway
    most tree paths run through), it switches to distances on the graph without the spur
    node (cached per spur node), and as a last resort without every root node (exact).
    """

    def __init__(self, query: _Query, source: int, target: int) -> None:
        self.q = query
        self.source = source
        self.target = target
        g = query.graph
        pairs = query.pairs
        h, nxt = query.distances_to(target)
        self.base = _Heuristic(h, nxt, frozenset())
        self.h = h
        self._heuristics: dict[frozenset[int], _Heuristic] = {frozenset(): self.base}
        self._in: dict[int, list[tuple[int, int]]] = {}
        # The sender pays no fee on its own channels: recompute its out-pairs without fee.
        self.w_pair = query.w_pair.copy()
        a, b = int(pairs.indptr[source]), int(pairs.indptr[source + 1])
        if b > a:
            e0, e1 = int(pairs.start[a]), int(pairs.start[b])
            w_src = _no_fee_weights(g, query.params, slice(e0, e1))
            w_src[~query.keep[e0:e1]] = _INF
            starts = pairs.start[a : b + 1] - e0
            self.w_pair[a:b] = np.minimum.reduceat(w_src, starts[:-1])
            self._src_w = w_src
        self._src_range = (a, b)

    def _heuristic(self, removed: frozenset[int]) -> _Heuristic:
        """Distances to the target with the ``removed`` nodes' out-pairs dropped (cached)."""
        hx = self._heuristics.get(removed)
        if hx is None:
            from scipy.sparse.csgraph import dijkstra

            pairs = self.q.pairs
            cache = self.q.graph._cache
            inv = cache.get("rev_inv")
            if inv is None:
                inv = np.empty_like(pairs.rev_perm)
                inv[pairs.rev_perm] = np.arange(pairs.rev_perm.size)
                cache["rev_inv"] = inv
            data = self.q.w_pair[pairs.rev_perm]
            for u in removed:
                a, b = pairs.indptr_list[u], pairs.indptr_list[u + 1]
                data[inv[a:b]] = _INF
            rev = _reverse_matrix(self.q.graph, data)
            h, nxt = dijkstra(rev, directed=True, indices=self.target, return_predecessors=True)
            hx = _Heuristic(h, nxt, removed)
            self._heuristics[removed] = hx
        return hx

    def _successors(self, hx: _Heuristic, u: int) -> tuple[list[int], list[float]]:
        """Out-pairs of u with finite w + h(v), sorted by it (cached per heuristic)."""
        s = hx.succ.get(u)
        if s is None:
            pairs = self.q.pairs
            a, b = pairs.indptr_list[u], pairs.indptr_list[u + 1]
            if b - a == 1:
                key1 = float(self.w_pair[a] + hx.h[pairs.dst_list[a]])
                s = ([a], [key1]) if key1 < _INF else ([], [])
            else:
                key = self.w_pair[a:b] + hx.h[pairs.dst[a:b]]
                order = np.argsort(key, kind="stable")
                key = key[order]
                n_fin = int(np.searchsorted(key, _INF))
                s = ((a + order[:n_fin]).tolist(), key[:n_fin].tolist())
            hx.succ[u] = s
        return s

    def _tree_pairs(self, hx: _Heuristic, v: int) -> list[int]:
        """Pair ids of the shortest-path-tree path v -> target."""
        pairs = self.q.pairs
        out = []
        while v != self.target:
            u = int(hx.nxt[v])
            a, b = pairs.indptr_list[v], pairs.indptr_list[v + 1]
            out.append(a + int(np.searchsorted(pairs.dst[a:b], u)))
            v = u
        return out

    def _cut_off(self, start: int, root: set[int], removed_pairs: set[int]) -> bool:
        """True if a small backward search from the target proves that ``start`` cannot
        reach it (all ways in pass through root nodes or removed pairs).

        Without it, a spur search next to a target with a single usable in-channel would
        end in a full recomputation before giving up.
        """
        seen = {self.target}
        stack = [self.target]
        while stack:
            v = stack.pop()
            for u, p in self._in_pairs(v):
                if u in seen or p in removed_pairs:
                    continue
                if u == start:
                    return False
                if u in root:
                    continue
                seen.add(u)
                if len(seen) > _CUTOFF_BUDGET:
                    return False
                stack.append(u)
        return True

    def _in_pairs(self, v: int) -> list[tuple[int, int]]:
        """(source node, pair id) of the usable pairs into ``v`` (cached per search)."""
        out = self._in.get(v)
        if out is None:
            pairs = self.q.pairs
            r0, r1 = int(pairs.rev_indptr[v]), int(pairs.rev_indptr[v + 1])
            ps = pairs.rev_perm[r0:r1]
            ok = self.w_pair[ps] < _INF
            out = list(zip(pairs.rev_src[r0:r1][ok].tolist(), ps[ok].tolist(), strict=True))
            self._in[v] = out
        return out

    def _spur(self, start: int, root: set[int], removed_pairs: set[int]) -> list[int] | None:
        """Pair ids of the cheapest start -> target path that avoids the ``root`` nodes
        (``start`` is in ``root``) and ``removed_pairs``; None if there is none."""
        if self.h[start] == _INF or self._cut_off(start, root, removed_pairs):
            return None
        own = frozenset((start,))
        hx = self._heuristics.get(own, self.base)
        result = self._astar(hx, start, root, removed_pairs, _ASTAR_BUDGET)
        if result is _GAVE_UP and hx is self.base:
            hx = self._heuristic(own)
            result = self._astar(hx, start, root, removed_pairs, _ASTAR_BUDGET)
        if result is _GAVE_UP:
            hx = self._heuristic(frozenset(root))
            result = self._astar(hx, start, root, removed_pairs, None)
        return result  # type: ignore[return-value]

    def _astar(
        self,
        hx: _Heuristic,
        start: int,
        root: set[int],
        removed_pairs: set[int],
        budget: int | None,
    ) -> list[int] | object | None:
        """A* from ``start`` with heuristic ``hx``; ``_GAVE_UP`` after ``budget`` settled
        nodes (None: no limit)."""
        target = self.target
        nxt = hx.nxt
        removed = hx.removed
        green: dict[int, bool] = {}

        def is_green(v: int) -> bool:
            walked = []
            x = v
            ok = True
            while x != target:
                known = green.get(x)
                if known is not None:
                    ok = known
                    break
                if x in root:
                    ok = False
                    break
                walked.append(x)
                x = int(nxt[x])
            for y in walked:
                green[y] = ok
            return ok

        dst = self.q.pairs.dst_list
        psrc = self.q.pairs.src
        w = self.w_pair
        closed = {start}
        pred: dict[int, int] = {}
        heap: list[tuple[float, int, int, int, float]] = []
        seq = 0
        succ_p, succ_k = self._successors(hx, start)
        if succ_p:
            heap.append((succ_k[0], 0, start, 0, 0.0))
        push, pop = heapq.heappush, heapq.heappop
        left = -1 if budget is None else budget
        while heap:
            _, _, u, j, g_u = pop(heap)
            sp, sk = hx.succ[u]
            if j + 1 < len(sp):
                seq += 1
                push(heap, (g_u + sk[j + 1], seq, u, j + 1, g_u))
            p = sp[j]
            v = dst[p]
            if v in closed or v in root or p in removed_pairs:
                continue
            closed.add(v)
            pred[v] = p
            if v not in removed and is_green(v):
                head = []
                x = v
                while x != start:
                    q = pred[x]
                    head.append(q)
                    x = int(psrc[q])
                head.reverse()
                return head + self._tree_pairs(hx, v)
            left -= 1
            if left == 0:
                return _GAVE_UP
            g_v = g_u + float(w[p])
            vp, vk = self._successors(hx, v)
            if vp:
                seq += 1
                push(heap, (g_v + vk[0], seq, v, 0, g_v))
        return None

    def paths(self) -> Iterator[tuple[float, list[int]]]:
        """(cost, pair ids) of loopless paths, cheapest first (lazily)."""
        src = self.source
        first = self._spur(src, {src}, set())
        if first is None:
            return
        w = self.w_pair
        dst = self.q.pairs.dst_list

        def nodes_of(pair_path: list[int]) -> tuple[int, ...]:
            return (src, *(dst[p] for p in pair_path))

        def cost_of(pair_path: list[int]) -> float:
            return float(sum(float(w[p]) for p in pair_path))

        accepted: list[tuple[tuple[int, ...], list[int]]] = []
        seen: set[tuple[int, ...]] = {nodes_of(first)}
        candidates: list[tuple[float, int, tuple[int, ...], list[int], int]] = []
        counter = 0
        cost, nodes, pair_path, dev = cost_of(first), nodes_of(first), first, 0
        while True:
            accepted.append((nodes, pair_path))
            yield cost, pair_path
            # Lawler: spurs before the deviation node were generated by the parent path.
            for i in range(dev, len(pair_path)):
                root = nodes[: i + 1]
                removed_pairs = {
                    a_pairs[i]
                    for a_nodes, a_pairs in accepted
                    if len(a_pairs) > i and a_nodes[: i + 1] == root
                }
                spur = self._spur(nodes[i], set(root), removed_pairs)
                if spur is None:
                    continue
                new_pairs = pair_path[:i] + spur
                new_nodes = nodes_of(new_pairs)
                if new_nodes in seen:
                    continue
                seen.add(new_nodes)
                counter += 1
                heapq.heappush(candidates, (cost_of(new_pairs), counter, new_nodes, new_pairs, i))
            if not candidates:
                return
            cost, _, nodes, pair_path, dev = heapq.heappop(candidates)

    def edge_of_pair(self, p: int) -> int:
        """Cheapest kept parallel edge of pair p (sender's pairs: without the fee term)."""
        lo, hi = self.q.pairs.start_list[p], self.q.pairs.start_list[p + 1]
        if hi - lo == 1:
            return lo
        a, b = self._src_range
        if a <= p < b:  # the sender's own channels: compared without the fee term
            e0 = self.q.pairs.start_list[a]
            return int(lo + int(np.argmin(self._src_w[lo - e0 : hi - e0])))
        return int(lo + int(np.argmin(self.q.w_edge[lo:hi])))

    def route(self, pair_path: list[int], cost: float) -> Route:
        """Build the :class:`Route` for a pair path."""
        edges = [self.edge_of_pair(p) for p in pair_path]
        return build_route(self.q.graph, edges, self.q.amount_msat, self.q.params, cost)


def fee_msat(base_fee_msat: int, fee_rate_ppm: int, amount_msat: int) -> int:
    """Lightning forwarding fee (msat) for forwarding ``amount_msat``: integer arithmetic,
    ``base + amount * ppm // 10**6``. All three must be integers >= 0."""
    values = (base_fee_msat, fee_rate_ppm, amount_msat)
    if any(isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0 for v in values):
        raise InvalidParameterError(
            "fee_msat takes integers >= 0 (base_fee_msat, fee_rate_ppm, amount_msat), "
            f"got {base_fee_msat!r}, {fee_rate_ppm!r}, {amount_msat!r}"
        )
    return _fee_msat(int(base_fee_msat), int(fee_rate_ppm), int(amount_msat))


def _fee_msat(base: int, ppm: int, amount: int) -> int:
    return base + amount * ppm // 1_000_000


def hop_amounts(
    graph: ChannelGraph, edges: list[int] | tuple[int, ...], amount_msat: int
) -> tuple[list[int], list[int]]:
    """(amounts, fees) per hop, computed backwards from the recipient.

    The last hop forwards ``amount_msat``; hop i forwards hop i+1's amount plus the fee
    that hop i+1's source charges. The sender's own first hop carries no fee.
    """
    e = np.asarray(edges, dtype=np.int64)
    base = graph.base_fee_msat[e].tolist()
    ppm = graph.fee_rate_ppm[e].tolist()
    n = len(base)
    amounts = [0] * n
    fees = [0] * n
    amt = int(amount_msat)
    for i in range(n - 1, -1, -1):
        amounts[i] = amt
        if i > 0:
            fees[i] = _fee_msat(base[i], ppm[i], amt)
            amt += fees[i]
    return amounts, fees


def build_route(
    graph: ChannelGraph,
    edges: list[int] | tuple[int, ...],
    amount_msat: int,
    params: RoutingParams | None = None,
    total_weight: float | None = None,
) -> Route:
    """A :class:`Route` over the given edge indices (consecutive), for ``amount_msat``."""
    amount_msat = check_amount(amount_msat)
    params = params or RoutingParams()
    edges = [int(e) for e in edges]
    if not edges:
        raise InvalidParameterError("a route needs at least one edge")
    e = np.asarray(edges, dtype=np.int64)
    if e.min() < 0 or e.max() >= graph.n_edges:
        raise InvalidParameterError(f"route edges must be indices 0..{graph.n_edges - 1}")
    if (graph.indices[e[:-1]] != graph.edge_source[e[1:]]).any():
        raise InvalidParameterError("route edges are not consecutive")
    amounts, fees = hop_amounts(graph, edges, amount_msat)
    nodes = np.concatenate([graph.edge_source[e[:1]], graph.indices[e]])
    if total_weight is None:
        total_weight = 0.0
        ref = graph.reference_capacity_sat
        caps = graph.capacity_sat[e].tolist()
        base = graph.base_fee_msat[e].tolist()
        rate = (graph.fee_rate_ppm[e] / 1e6).tolist()
        for i in range(len(edges)):
            wv = params.beta * max(0.0, 1.0 - caps[i] / ref) + params.gamma * params.hop_latency_s
            if i > 0:
                wv = params.alpha * (base[i] + amount_msat * rate[i]) + wv
            total_weight += wv
    return Route(
        hops=tuple(graph.node_ids[nodes].tolist()),
        channel_ids=tuple(graph.channel_id[e].tolist()),
        edges=tuple(edges),
        amount_msat=int(amount_msat),
        hop_amounts_msat=tuple(amounts),
        hop_fees_msat=tuple(fees),
        total_fee_msat=int(amounts[0] - amount_msat),
        total_weight=float(total_weight),
        total_cltv=int(graph.cltv_delta[e[1:]].sum()),
        expected_latency_s=float(len(edges) * params.hop_latency_s),
    )


def check_graph(graph: Any) -> ChannelGraph:
    """``graph`` if it is a :class:`ChannelGraph`, else a one-line ``InvalidParameterError``."""
    return check_type(graph, ChannelGraph, "graph", "routing.ChannelGraph.from_csv")


def check_params(params: Any) -> RoutingParams:
    """``params``, or the default :class:`RoutingParams` for None; anything else refused."""
    if params is None:
        return RoutingParams()
    return check_type(params, RoutingParams, "params", "or None for the defaults")


def _make_params(
    params: RoutingParams | None,
    theta: float | None,
    alpha: float | None,
    beta: float | None,
    gamma: float | None,
    hop_latency_s: float | None,
) -> RoutingParams:
    base = check_params(params)
    changes = {
        k: v
        for k, v in (
            ("theta", theta),
            ("alpha", alpha),
            ("beta", beta),
            ("gamma", gamma),
            ("hop_latency_s", hop_latency_s),
        )
        if v is not None
    }
    if not changes:
        return base
    return RoutingParams(**{**asdict(base), **changes})


def k_shortest_paths(
    graph: ChannelGraph,
    source: str | int,
    target: str | int,
    amount_msat: int,
    *,
    k: int | None = 5,
    theta: float | None = None,
    alpha: float | None = None,
    beta: float | None = None,
    gamma: float | None = None,
    hop_latency_s: float | None = None,
    params: RoutingParams | None = None,
    capacity_msat: np.ndarray | None = None,
    exclude_edges: np.ndarray | None = None,
) -> Iterator[Route]:
    """Yield up to ``k`` loopless routes source -> target for ``amount_msat``, cheapest first.

    Keyword weights override ``params`` (defaults: :class:`RoutingParams`). ``k=None``
    yields every path (lazily). ``capacity_msat`` (m,) replaces the public capacities for
    pruning and ``exclude_edges`` (bool mask or indices) drops edges.

    Validation and the first search run at call time, so this raises ``NoRouteError``
    immediately: reason ``"unknown_node"``, ``"disconnected"`` (no path even before
    pruning) or ``"pruned"`` (paths exist but none survives pruning for this amount).
    """
    check_graph(graph)
    p = _make_params(params, theta, alpha, beta, gamma, hop_latency_s)
    if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
        raise InvalidParameterError(f"k must be a positive integer or None, got {k!r}")
    s, t = graph.node(source), graph.node(target)
    if s == t:
        raise InvalidParameterError("source and target must differ")
    amount = check_amount(amount_msat)
    query = _Query(
        graph, amount, p, capacity_msat=capacity_msat, exclude_edges=exclude_edges, source=s
    )
    search = _Search(query, s, t)
    gen = search.paths()
    first = next(gen, None)
    if first is None:
        reason = query.no_route_reason(s, t)
        raise NoRouteError(
            f"no route from {graph.node_ids[s]} to {graph.node_ids[t]} for {amount} msat "
            f"({'every path pruned' if reason == 'pruned' else 'not connected'})",
            reason=reason,
        )
    return _yield_routes(search, first, gen, k)


def _yield_routes(
    search: _Search,
    first: tuple[float, list[int]],
    gen: Iterator[tuple[float, list[int]]],
    k: int | None,
) -> Iterator[Route]:
    yield search.route(first[1], first[0])
    count = 1
    while k is None or count < k:
        item = next(gen, None)
        if item is None:
            return
        yield search.route(item[1], item[0])
        count += 1


@functools.cache
def _shortest_route_options() -> frozenset[str]:
    """The keyword options of :func:`k_shortest_paths` that ``shortest_route`` passes on."""
    fixed = {"graph", "source", "target", "amount_msat", "k"}
    return frozenset(inspect.signature(k_shortest_paths).parameters) - fixed


def shortest_route(
    graph: ChannelGraph,
    source: str | int,
    target: str | int,
    amount_msat: int,
    **kwargs: Any,
) -> Route:
    """The cheapest route (``k_shortest_paths(..., k=1)``); raises ``NoRouteError``.
    ``kwargs``: the keyword options of :func:`k_shortest_paths` but ``k``."""
    known = _shortest_route_options()
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise InvalidParameterError(
            f"shortest_route has no option {', '.join(unknown)} (options: "
            f"{', '.join(sorted(known))}; k is 1)"
        )
    return next(k_shortest_paths(graph, source, target, amount_msat, k=1, **kwargs))
