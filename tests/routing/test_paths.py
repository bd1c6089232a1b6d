"""Yen's k shortest paths: hand-made graphs with known answers, compounded fees, error
reasons, and equality with networkx.shortest_simple_paths on the real 2026 graph."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from data.errors import InvalidParameterError, NoRouteError
from routing import (
    RoutingParams,
    build_route,
    edge_weights,
    k_shortest_paths,
    route_fits,
    shortest_route,
)

FEE_ONLY = {"alpha": 1.0, "beta": 0.0, "gamma": 0.0}


@pytest.fixture
def diamond(make_graph):
    """0 -> 4 through 1, 2, 3 (plus a cheap small parallel channel 2 -> 3)."""
    return make_graph(
        [
            ("a", 0, 1, 10_000, 5000, 0),
            ("b", 0, 2, 10_000, 5000, 0),
            ("c", 1, 3, 10_000, 100, 100),
            ("d", 1, 4, 10_000, 1000, 500),
            ("e", 2, 3, 10_000, 0, 50),
            ("e2", 2, 3, 500, 0, 10),  # too small for 1000 sat
            ("f", 2, 4, 10_000, 300, 1000),
            ("g", 3, 4, 10_000, 10, 10),
            ("h", 3, 1, 10_000, 1, 1),
        ]
    )


def test_known_k_shortest_order(diamond):
    # weights = fee for 10^6 msat; the sender's own edges cost nothing:
    # 0-2-3-4: 50+20, 0-1-3-4: 200+20, 0-2-4: 1300, 0-1-4: 1500, 0-2-3-1-4: 50+2+1500
    routes = list(k_shortest_paths(diamond, 0, 4, 1_000_000, k=10, **FEE_ONLY))
    got = [([int(h[-1], 16) for h in r.hops], r.total_weight) for r in routes]
    assert got == [
        ([0, 2, 3, 4], 70.0),
        ([0, 1, 3, 4], 220.0),
        ([0, 2, 4], 1300.0),
        ([0, 1, 4], 1500.0),
        ([0, 2, 3, 1, 4], 1552.0),
    ]
    assert routes[0].channel_ids == ("b", "e", "g")
    assert [r.total_fee_msat for r in routes] == [70, 220, 1300, 1500, 1552]


def test_cheapest_parallel_channel_that_fits(diamond):
    big = shortest_route(diamond, 0, 4, 1_000_000, **FEE_ONLY)
    small = shortest_route(diamond, 0, 4, 100_000, **FEE_ONLY)
    assert big.channel_ids[1] == "e"  # e2 (500 sat) is pruned for 1000 sat
    assert small.channel_ids[1] == "e2"  # cheaper, and it fits 100 sat
    # The search's weight must use e2 as well (the pair's minimum over both parallel
    # channels): fees for 10^5 msat, the sender's own hop b free:
    # e2: 0 + 10^5 * 10 / 10^6 = 1; g: 10 + 10^5 * 10 / 10^6 = 11 -> 12 (e would give 5).
    assert small.total_weight == pytest.approx(12.0)
    assert small.channel_ids == ("b", "e2", "g")
    # 10^6 msat: e2 is pruned; e: 10^6 * 50 / 10^6 = 50; g: 10 + 10 = 20 -> 70.
    assert big.total_weight == pytest.approx(70.0)


def test_k_limits_and_laziness(diamond):
    assert len(list(k_shortest_paths(diamond, 0, 4, 1_000_000, k=2))) == 2
    gen = k_shortest_paths(diamond, 0, 4, 1_000_000, k=None)
    assert len(list(gen)) == 5


def test_fees_compound_backwards(make_graph):
    g = make_graph(
        [
            (1, 0, 1, 100_000, 7, 7, 144),
            (2, 1, 2, 100_000, 500, 10_000, 30),
            (3, 2, 3, 100_000, 1000, 2345, 50),
        ]
    )
    route = shortest_route(g, 0, 3, 1_000_000)
    # hop 2->3 forwards 1,000,000 and node 2 charges 1000 + 2345 = 3345;
    # hop 1->2 forwards 1,003,345 and node 1 charges 500 + floor(10033.45) = 10533;
    # the sender's own hop 0->1 charges nothing and carries 1,013,878.
    assert route.hop_amounts_msat == (1_013_878, 1_003_345, 1_000_000)
    assert route.hop_fees_msat == (0, 10_533, 3_345)
    assert route.total_fee_msat == 13_878
    assert route.sent_msat == 1_013_878
    assert route.total_cltv == 80
    frame = route.to_frame()
    assert frame["amount_msat"].tolist() == [1_013_878, 1_003_345, 1_000_000]
    d = route.to_dict()
    assert d["total_fee_msat"] == 13_878 and d["n_hops"] == 3
    assert frame["amount_msat"].dtype == np.int64 and frame["fee_msat"].dtype == np.int64


def test_a_route_whose_fees_compound_beyond_int64_still_has_a_frame(make_graph):
    # 3.3e9 ppm (a fee rate the 2021 snapshot has) on 10^16 msat: 3.3e19 msat of fee
    g = make_graph([(1, 0, 1, 10**14, 0, 0), (2, 1, 2, 10**14, 0, 3_335_629_234)])
    route = shortest_route(g, 0, 2, 10**16, theta=0)
    assert route.hop_fees_msat == (0, 33_356_292_340_000_000_000)
    assert not route_fits(g, route)
    frame = route.to_frame()  # OverflowError before
    assert frame["fee_msat"].tolist() == [0, 33_356_292_340_000_000_000]
    assert frame["amount_msat"].tolist() == [10**16 + 33_356_292_340_000_000_000, 10**16]


def test_weight_terms(make_graph):
    g = make_graph([(1, 0, 1, 1000, 0, 0), (2, 1, 2, 4000, 2000, 0)])
    p = RoutingParams(alpha=2.0, beta=100.0, gamma=10.0, hop_latency_s=0.5)
    route = shortest_route(g, 0, 2, 1000, params=p)
    # hop 0->1: beta*(1-1000/4000) + gamma*0.5 = 75 + 5 (no fee: own channel)
    # hop 1->2: alpha*2000 + beta*0 + gamma*0.5 = 4000 + 5
    assert route.total_weight == pytest.approx(80.0 + 4005.0)
    assert route.expected_latency_s == pytest.approx(1.0)
    rebuilt = build_route(g, route.edges, 1000, p)
    assert rebuilt.total_weight == pytest.approx(route.total_weight)


def test_weight_terms_skip_the_senders_own_fee(make_graph):
    # The sender's first channel has a fee policy (base 500, ppm 2000) that it never
    # charges itself: neither the search nor build_route may count it.
    g = make_graph([(1, 0, 1, 2000, 500, 2000), (2, 1, 2, 4000, 2000, 1000)])
    p = RoutingParams(alpha=2.0, beta=100.0, gamma=10.0, hop_latency_s=0.5)
    route = shortest_route(g, 0, 2, 1_000_000, params=p)
    # hop 0->1: beta*(1-2000/4000) + gamma*0.5 = 50 + 5 (no fee: own channel)
    # hop 1->2: alpha*(2000 + 10^6*1000/10^6) + 0 + 5 = 6000 + 5
    # (charging hop 0->1 too would add alpha*(500 + 2000) = 5000)
    assert route.total_weight == pytest.approx(6060.0)
    assert route.hop_fees_msat == (0, 3000)
    rebuilt = build_route(g, route.edges, 1_000_000, p)
    assert rebuilt.total_weight == pytest.approx(6060.0)
    assert rebuilt.total_weight == pytest.approx(route.total_weight)
    assert rebuilt.hop_amounts_msat == route.hop_amounts_msat == (1_003_000, 1_000_000)
    # the public per-edge weights, by hand (edges: 0->1, 1->2): without the fee term
    # beta*(1 - cap/4000) + gamma*0.5; with it, alpha*(base + amount*ppm/10^6) on top
    np.testing.assert_allclose(edge_weights(g, 1_000_000, p, with_fee=False), [55.0, 5.0])
    np.testing.assert_allclose(edge_weights(g, 1_000_000, p), [5055.0, 6005.0])


def test_senders_parallel_channels_compared_without_their_fee(make_graph):
    # The sender has two channels to node 1: A (10,000 sat, base 5000 msat, 5000 ppm) and
    # B (2,000 sat, no fee), then 1 -> 2 (10,000 sat, no fee). Reference capacity is the
    # largest, 10,000 sat. beta = 1000, gamma = 0, amount 10^6 msat (both fit).
    # The sender does not pay itself, so: A = 1000 * (1 - 1) = 0; B = 1000 * (1 - 0.2) =
    # 800; 1 -> 2 = 0. A wins with total weight 0 (with A's fee it would cost 5000 +
    # 5000 = 10,000 and B would win).
    g = make_graph(
        [
            ("A", 0, 1, 10_000, 5000, 5000),
            ("B", 0, 1, 2_000, 0, 0),
            ("c", 1, 2, 10_000, 0, 0),
        ]
    )
    p = RoutingParams(alpha=1.0, beta=1000.0, gamma=0.0)
    route = shortest_route(g, 0, 2, 1_000_000, params=p)
    assert route.channel_ids == ("A", "c")
    assert route.total_weight == pytest.approx(0.0)
    rebuilt = build_route(g, route.edges, 1_000_000, p)
    assert rebuilt.total_weight == pytest.approx(route.total_weight)
    assert route.hop_fees_msat == (0, 0)
    # k paths: only one node sequence 0-1-2 exists (parallel channels are one pair)
    routes = list(k_shortest_paths(g, 0, 2, 1_000_000, k=5, params=p))
    assert [r.channel_ids for r in routes] == [("A", "c")]


def test_alpha_scales_the_proportional_fee(make_graph):
    # 0 -> 3 via 1 (proportional fee 1000 ppm on 1->3, wide channels) or via 2 (no fee,
    # but 2->3 has half the reference capacity of 10,000 sat). Amount 10^6 msat, beta
    # 3000, gamma 0; every other channel is at the reference capacity (no capacity term).
    g = make_graph(
        [
            ("a1", 0, 1, 10_000, 0, 0),
            ("a2", 1, 3, 10_000, 0, 1000),
            ("b1", 0, 2, 10_000, 0, 0),
            ("b2", 2, 3, 5_000, 0, 0),
        ]
    )
    # via 1: alpha * 10^6 * 1000/10^6 = 1000 * alpha; via 2: beta * (1 - 5000/10000) = 1500
    # alpha = 1:   via 1 = 1000 < via 2 = 1500
    # alpha = 2.5: via 1 = 2500 > via 2 = 1500 (alpha decides which route is cheapest)
    for alpha, expected in [
        (1.0, [(("a1", "a2"), 1000.0), (("b1", "b2"), 1500.0)]),
        (2.5, [(("b1", "b2"), 1500.0), (("a1", "a2"), 2500.0)]),
    ]:
        p = RoutingParams(alpha=alpha, beta=3000.0, gamma=0.0)
        routes = list(k_shortest_paths(g, 0, 3, 1_000_000, k=5, params=p))
        assert [r.channel_ids for r in routes] == [ids for ids, _ in expected]
        assert [r.total_weight for r in routes] == pytest.approx([w for _, w in expected])
        for r in routes:
            assert build_route(g, r.edges, 1_000_000, p).total_weight == pytest.approx(
                r.total_weight
            )


def test_no_route_reasons(make_graph):
    g = make_graph(
        [
            (1, 0, 1, 1000, 0, 0),
            (2, 1, 2, 1000, 0, 0, 40, 0, 500_000),  # htlc max 500 sat
            (3, 3, 4, 1000, 0, 0),
        ]
    )
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(g, 0, "02" + f"{99:064x}", 1000)
    assert err.value.reason == "unknown_node"
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(g, 0, 4, 1000)
    assert err.value.reason == "disconnected"
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(g, 0, 2, 600_000)  # above htlc max on 1 -> 2
    assert err.value.reason == "pruned"
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(g, 0, 2, 2_000_000)  # above every capacity
    assert err.value.reason == "pruned"
    assert shortest_route(g, 0, 2, 400_000).n_hops == 2


def test_theta_prunes_by_capacity(make_graph):
    g = make_graph([(1, 0, 1, 1000, 0, 0), (2, 1, 2, 1000, 0, 0)])
    assert shortest_route(g, 0, 2, 600_000, theta=1.0).n_hops == 2
    with pytest.raises(NoRouteError, match="pruned"):
        shortest_route(g, 0, 2, 600_000, theta=2.0)
    # The boundary is kept (capacity_msat >= theta * amount): 1000 sat carries exactly
    # 1,000,000 msat at theta = 1 and exactly 500,000 msat at theta = 2; one msat more
    # is pruned.
    assert shortest_route(g, 0, 2, 1_000_000, theta=1.0).n_hops == 2
    assert shortest_route(g, 0, 2, 500_000, theta=2.0).n_hops == 2
    with pytest.raises(NoRouteError, match="pruned"):
        shortest_route(g, 0, 2, 1_000_001, theta=1.0)
    with pytest.raises(NoRouteError, match="pruned"):
        shortest_route(g, 0, 2, 500_001, theta=2.0)


@pytest.mark.parametrize(
    "kwargs",
    [{"k": 0}, {"alpha": -1.0}, {"gamma": float("nan")}, {"theta": float("inf")}],
)
def test_invalid_parameters(diamond, kwargs):
    with pytest.raises(InvalidParameterError):
        k_shortest_paths(diamond, 0, 4, 1000, **kwargs)


@pytest.mark.parametrize("value", [np.int64(1), np.float32(0.5), np.float64(2.0), 1, 0.5])
def test_routing_params_take_numpy_numbers(diamond, value):
    # np.int64 and np.float32 were refused while True was accepted
    p = RoutingParams(theta=value, alpha=value, gamma=value)
    assert p.theta == value and type(p.theta) in (int, float)
    assert p.to_dict()["theta"] == float(value)
    assert next(k_shortest_paths(diamond, 0, 4, 1000, params=p)).n_hops >= 1


@pytest.mark.parametrize("name", ["theta", "alpha", "beta", "gamma", "hop_latency_s"])
@pytest.mark.parametrize("bad", [True, False, "1", None, -1, np.float32("nan"), 10**400])
def test_routing_params_refuse_bools_and_non_numbers(name, bad):
    with pytest.raises(InvalidParameterError, match=f"{name} must be a finite number >= 0"):
        RoutingParams(**{name: bad})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exclude_edges": ["a"]}, "exclude_edges must be a bool mask or edge indices"),
        ({"exclude_edges": [1.7]}, "exclude_edges holds non-integer edge indices"),
        ({"exclude_edges": [np.inf]}, "exclude_edges must be a bool mask or edge indices"),
        ({"capacity_msat": np.full(9, -1.0)}, "capacity_msat must be >= 0"),
        ({"capacity_msat": np.full(9, np.nan)}, "capacity_msat must be finite"),
        ({"capacity_msat": np.ones(9, dtype=object)}, "capacity_msat must be numbers"),
    ],
)
def test_exclusions_and_capacities_are_checked(diamond, kwargs, match):
    # ["a"] gave numpy's ValueError, 1.7 excluded edge 1, NaN/negative capacities
    # reported every path as pruned
    with pytest.raises(InvalidParameterError, match=match):
        k_shortest_paths(diamond, 0, 4, 1000, **kwargs)


@pytest.mark.parametrize("amount", [0, -5, 1.5, "10"])
def test_invalid_amount(diamond, amount):
    with pytest.raises(InvalidParameterError):
        k_shortest_paths(diamond, 0, 4, amount)


def test_same_source_and_target(diamond):
    with pytest.raises(InvalidParameterError):
        k_shortest_paths(diamond, 2, 2, 1000)


# ---------------------------------------------------------------- the real graph
def _reference_digraph(raw: pd.DataFrame, amount: int, p: RoutingParams) -> nx.DiGraph:
    """Pruned, parallel-collapsed DiGraph built straight from the CSV rows."""
    d = raw[raw["disabled"] == 0]
    ref_cap = d["capacity_sat"].max()
    d = d[
        (d["capacity_sat"] * 1000 >= p.theta * amount)
        & (d["htlc_min_msat"] <= amount)
        & (d["htlc_max_msat"] >= amount)
    ]
    fee = d["base_fee_msat"] + amount * (d["fee_rate_ppm"] / 1e6)
    rest = p.beta * np.maximum(0.0, 1 - d["capacity_sat"] / ref_cap) + p.gamma * p.hop_latency_s
    d = d.assign(w=p.alpha * fee + rest, w_own=rest)
    d = d.groupby(["source", "target"], as_index=False).agg(w=("w", "min"), w_own=("w_own", "min"))
    g = nx.DiGraph()
    for s, t, w, w_own in zip(d["source"], d["target"], d["w"], d["w_own"], strict=True):
        g.add_edge(s, t, weight=w, w_own=w_own)
    return g


def _networkx_costs(ref: nx.DiGraph, s: str, t: str, k: int) -> list[float] | None:
    saved = {v: ref[s][v]["weight"] for v in ref[s]}
    for v in ref[s]:  # the sender pays no fee on its own channels
        ref[s][v]["weight"] = ref[s][v]["w_own"]
    try:
        paths = itertools.islice(nx.shortest_simple_paths(ref, s, t, weight="weight"), k)
        return [nx.path_weight(ref, p, "weight") for p in paths]
    except nx.NetworkXNoPath:
        return None
    finally:
        for v, w in saved.items():
            ref[s][v]["weight"] = w


@pytest.mark.parametrize(
    ("amount", "params", "seed"),
    [
        (10_000_000, RoutingParams(), 11),
        (200_000_000, RoutingParams(beta=5000.0, gamma=200.0, theta=1.5), 12),
        (50_000_000, RoutingParams(alpha=2.5, beta=2000.0, gamma=500.0), 13),
    ],
)
def test_costs_equal_networkx(graph, raw_channels, amount, params, seed):
    ref = _reference_digraph(raw_channels, amount, params)
    rng = np.random.default_rng(seed)
    core = graph.largest_scc()
    compared = 0
    for _ in range(12):
        s_i, t_i = rng.choice(core, size=2, replace=False)
        s, t = str(graph.node_ids[s_i]), str(graph.node_ids[t_i])
        if s not in ref or t not in ref:
            continue
        expected = _networkx_costs(ref, s, t, 5)
        if expected is None:
            with pytest.raises(NoRouteError) as err:
                k_shortest_paths(graph, s, t, amount, k=5, params=params)
            assert err.value.reason == "pruned"
            continue
        routes = list(k_shortest_paths(graph, s, t, amount, k=5, params=params))
        np.testing.assert_allclose([r.total_weight for r in routes], expected, rtol=1e-9)
        compared += 1
        if compared == 4:
            break
    assert compared >= 3


def test_real_routes_are_valid(graph):
    rng = np.random.default_rng(5)
    core = graph.largest_scc()
    amount = 50_000_000
    p = RoutingParams()
    checked = 0
    while checked < 5:
        s, t = (int(x) for x in rng.choice(core, size=2, replace=False))
        try:
            routes = list(k_shortest_paths(graph, s, t, amount, k=8))
        except NoRouteError as err:
            assert err.reason == "pruned"  # both ends are in the SCC
            continue
        checked += 1
        nodes = [r.hops for r in routes]
        assert len(set(nodes)) == len(nodes)  # distinct node sequences
        assert all(len(set(h)) == len(h) for h in nodes)  # loopless
        costs = [r.total_weight for r in routes]
        assert costs == sorted(costs)
        for r in routes:
            e = np.array(r.edges)
            assert (graph.edge_source[e[1:]] == graph.indices[e[:-1]]).all()
            assert r.hops[0] == graph.node_ids[s] and r.hops[-1] == graph.node_ids[t]
            assert (graph.capacity_sat[e] * 1000 >= p.theta * amount).all()
            assert (graph.htlc_min_msat[e] <= amount).all()
            assert (graph.htlc_max_msat[e] >= amount).all()
            fees = graph.base_fee_msat[e[1:]] + amount * graph.fee_rate_ppm[e[1:]] / 1e6
            cap = np.maximum(0.0, 1 - graph.capacity_sat[e] / graph.reference_capacity_sat)
            expected = fees.sum() + (p.beta * cap + p.gamma * p.hop_latency_s).sum()
            assert r.total_weight == pytest.approx(expected, rel=1e-12)


def test_real_no_route_reasons(graph):
    core = graph.largest_scc()
    isolated = np.flatnonzero((graph.out_degree == 0) & (graph.in_degree == 0))
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(graph, int(core[0]), int(isolated[0]), 1000)
    assert err.value.reason == "disconnected"
    with pytest.raises(NoRouteError) as err:  # more than the largest channel
        k_shortest_paths(graph, int(core[0]), int(core[1]), 2 * 10**12)
    assert err.value.reason == "pruned"
    with pytest.raises(NoRouteError) as err:
        k_shortest_paths(graph, "03" + "0" * 64, int(core[1]), 1000)
    assert err.value.reason == "unknown_node"
