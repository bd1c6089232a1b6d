"""Multi-part payments: parts sum to the amount, respect htlc limits and capacities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from data.errors import InvalidParameterError, NoRouteError
from routing import (
    ChannelGraph,
    RoutingParams,
    SplitPayment,
    k_shortest_paths,
    route_fits,
    shortest_route,
    split_payment,
)
from routing.multipart import first_fitting_route, max_sendable_msat


def check_split(graph: ChannelGraph, split: SplitPayment, amount: int) -> None:
    """Independent checks of a split against the graph's arrays."""
    assert sum(split.amounts_msat) == amount == split.amount_msat
    assert all(a > 0 for a in split.amounts_msat)
    used = np.zeros(graph.n_edges, dtype=np.int64)
    for route in split.parts:
        e = np.array(route.edges)
        amounts = np.array(route.hop_amounts_msat)
        assert route.hops[0] == split.source and route.hops[-1] == split.target
        assert (graph.edge_source[e[1:]] == graph.indices[e[:-1]]).all()
        assert (amounts >= graph.htlc_min_msat[e]).all()
        assert (amounts <= graph.htlc_max_msat[e]).all()
        assert amounts[-1] == route.amount_msat
        np.add.at(used, e, amounts)
    assert (used <= graph.capacity_sat * 1000).all()
    assert split.total_fee_msat == sum(r.hop_amounts_msat[0] - r.amount_msat for r in split.parts)


@pytest.fixture
def two_paths(make_graph):
    """0 -> 3 via 1 (6000 sat, dearer) or via 2 (5000 sat, cheaper)."""
    return make_graph(
        [
            ("a1", 0, 1, 6000, 0, 0),
            ("a2", 1, 3, 6000, 1000, 1000),
            ("b1", 0, 2, 5000, 0, 0),
            ("b2", 2, 3, 5000, 0, 100),
        ]
    )


def test_hand_split(two_paths):
    with pytest.raises(NoRouteError) as err:
        shortest_route(two_paths, 0, 3, 10_000_000)
    assert err.value.reason == "pruned"
    split = split_payment(two_paths, 0, 3, 10_000_000)
    check_split(two_paths, split, 10_000_000)
    assert split.n_parts == 2
    # 5,000,000 cannot take the cheap path (5,000,500 would cross b1), so the first part
    # takes path a and grows to its bottleneck: x + 1000 + floor(x·1000/10^6) <= 6,000,000
    first, second = split.parts
    assert first.channel_ids == ("a1", "a2") and first.amount_msat == 5_993_007
    assert first.hop_amounts_msat == (6_000_000, 5_993_007)
    assert second.channel_ids == ("b1", "b2") and second.amount_msat == 4_006_993
    assert second.total_fee_msat == 400  # floor(4,006,993 · 100 / 10^6)
    assert split.total_fee_msat == 6993 + 400
    frame = split.to_frame()
    assert frame["amount_msat"].sum() == 10_000_000 and len(frame) == 2
    json.dumps(split.to_dict())


def test_one_part_when_one_route_suffices(two_paths):
    split = split_payment(two_paths, 0, 3, 3_000_000)
    assert split.n_parts == 1
    assert split.parts[0].edges == shortest_route(two_paths, 0, 3, 3_000_000).edges


def test_impossible_splits(two_paths, make_graph):
    with pytest.raises(NoRouteError) as err:  # more than both paths together
        split_payment(two_paths, 0, 3, 11_000_000)
    assert err.value.reason == "pruned"
    with pytest.raises(NoRouteError) as err:
        split_payment(two_paths, 0, 3, 10_000_000, max_parts=1)
    assert err.value.reason == "pruned"
    with pytest.raises(NoRouteError) as err:
        split_payment(two_paths, 3, 0, 1000)
    assert err.value.reason == "disconnected"
    with pytest.raises(NoRouteError) as err:
        split_payment(two_paths, 0, "02" + "9" * 64, 1000)
    assert err.value.reason == "unknown_node"
    with pytest.raises(InvalidParameterError):
        split_payment(two_paths, 0, 3, 1000, max_parts=0)


def test_capacity_override(two_paths):
    cap = two_paths.capacity_sat * 1000.0
    cap[two_paths.edges_between(0, 1)] = 0.0  # the router believes path a is empty
    split = split_payment(two_paths, 0, 3, 4_000_000, capacity_msat=cap)
    assert [r.channel_ids for r in split.parts] == [("b1", "b2")]
    with pytest.raises(NoRouteError):
        split_payment(two_paths, 0, 3, 6_000_000, capacity_msat=cap)


def test_htlc_max_forces_parts(make_graph):
    # one wide channel whose htlc_max is 1000 sat: 3500 sat needs 4 parts
    g = make_graph([(1, 0, 1, 100_000, 0, 0, 40, 0, 1_000_000)])
    split = split_payment(g, 0, 1, 3_500_000)
    check_split(g, split, 3_500_000)
    assert split.amounts_msat == (1_000_000, 1_000_000, 1_000_000, 500_000)


def test_parts_grow_only_while_theta_times_the_part_fits(make_graph):
    # One 10,000-sat channel (10^7 msat), 8,000,000 msat, theta = 2 (a part x needs
    # residual capacity >= 2x, also when it grows to its bottleneck):
    # 8e6 pruned (1e7 < 1.6e7) -> part 4e6 fits, grows to min(8e6, 1e7 / 2) = 5e6;
    # residual 5e6, remaining 3e6: 3e6 pruned (5e6 < 6e6) -> 1.5e6 fits, grows to
    # min(3e6, 5e6 / 2) = 2.5e6; residual 2.5e6, remaining 5e5: fits (2.5e6 >= 1e6).
    g = make_graph([(1, 0, 1, 10_000, 0, 0)])
    split = split_payment(g, 0, 1, 8_000_000, theta=2.0)
    check_split(g, split, 8_000_000)
    assert split.amounts_msat == (5_000_000, 2_500_000, 500_000)
    residual = 10_000_000
    for part in split.amounts_msat:
        assert residual >= 2 * part, (residual, part)
        residual -= part


def test_real_split_when_one_path_is_not_enough(graph):
    core = graph.largest_scc()
    degree = graph.out_degree[core] + graph.in_degree[core]
    hubs = core[np.argsort(-degree, kind="stable")[:40]]
    rng = np.random.default_rng(3)
    done = 0
    for _ in range(40):
        s, t = (int(x) for x in rng.choice(hubs, size=2, replace=False))
        amount = 200_000_000_000  # 2 BTC
        try:
            shortest_route(graph, s, t, amount)
            continue  # one path is enough: not the case under test
        except NoRouteError as err:
            assert err.reason == "pruned"
        try:
            split = split_payment(graph, s, t, amount)
        except NoRouteError:
            continue
        check_split(graph, split, amount)
        assert split.n_parts >= 2
        done += 1
        if done == 2:
            break
    assert done == 2


@pytest.fixture
def shared_edge(make_graph):
    """0 -> 5 over two paths that share the 10,000-sat edge s (3 -> 4), followed by t
    (4 -> 5) whose source charges 10 % (ppm 100,000), so s carries x + floor(x / 10) for
    a part delivering x; plus a dear 3000-sat bypass 0 -> 6 -> 5 (ppm 200,000)."""
    return make_graph(
        [
            ("a", 0, 1, 6_000, 0, 0),
            ("b", 0, 2, 6_000, 0, 0),
            ("c", 1, 3, 20_000, 0, 0),
            ("d", 2, 3, 20_000, 10, 0),  # 10 msat: the path via 1 is the cheaper one
            ("s", 3, 4, 10_000, 0, 0),
            ("t", 4, 5, 20_000, 0, 100_000),
            ("u", 0, 6, 3_000, 0, 0),
            ("v", 6, 5, 3_000, 0, 200_000),
        ]
    )


def _used_msat(graph: ChannelGraph, split: SplitPayment) -> dict[str, int]:
    """Sum of the parts' hop amounts per channel id (written independently of check_split)."""
    used: dict[str, int] = {}
    for route in split.parts:
        for cid, amt in zip(route.channel_ids, route.hop_amounts_msat, strict=True):
            used[cid] = used.get(cid, 0) + amt
    return used


def test_parts_sharing_an_edge_respect_its_capacity(shared_edge):
    g = shared_edge
    caps = dict(zip(g.channel_id.tolist(), (g.capacity_sat * 1000).tolist(), strict=True))
    p = {"alpha": 1.0, "beta": 0.0, "gamma": 0.0}  # weight = fee: a-c-s-t < b-d-s-t < u-v
    split = split_payment(g, 0, 5, 9_200_000, **p)
    check_split(g, split, 9_200_000)
    used = _used_msat(g, split)
    assert all(amt <= caps[cid] for cid, amt in used.items())
    # Part 1 (a-c-s-t) grows to a's bottleneck: x + floor(x/10) <= 6,000,000 -> 5,454,546,
    # leaving 4,000,000 msat on s. 3,745,454 more would need 4,119,999 on s, so the next
    # part (b-d-s-t) is capped at 3,636,364 (+ 363,636 = 4,000,000 on s) and the rest,
    # 109,090 msat, takes the bypass (fee floor(109,090 * 0.2) = 21,818).
    assert [r.channel_ids for r in split.parts] == [
        ("a", "c", "s", "t"),
        ("b", "d", "s", "t"),
        ("u", "v"),
    ]
    assert split.amounts_msat == (5_454_546, 3_636_364, 109_090)
    assert split.parts[0].hop_amounts_msat[2] == 6_000_000
    assert split.parts[1].hop_amounts_msat[2] == 4_000_000
    assert used["s"] == 10_000_000 == caps["s"]
    assert split.total_fee_msat == 545_454 + (363_636 + 10) + 21_818

    # Without the bypass only s leads to 5: the most it can deliver, net of the 10 % fee,
    # is 5,454,546 + 3,636,364 = 9,090,910 msat.
    bypass = np.concatenate([g.edges_between(0, 6), g.edges_between(6, 5)])
    top = split_payment(g, 0, 5, 9_090_910, exclude_edges=bypass, **p)
    check_split(g, top, 9_090_910)
    assert top.amounts_msat == (5_454_546, 3_636_364)
    assert _used_msat(g, top)["s"] == 10_000_000
    for amount in (9_090_911, 9_200_000):
        with pytest.raises(NoRouteError) as err:
            split_payment(g, 0, 5, amount, exclude_edges=bypass, **p)
        assert err.value.reason == "pruned"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"candidates": 0}, "candidates must be an integer >= 1"),  # NoRouteError before
        ({"candidates": -1}, "candidates must be an integer >= 1"),
        ({"candidates": "a"}, "candidates must be an integer >= 1"),  # TypeError before
        ({"max_parts": 2.0}, "max_parts must be an integer >= 1"),
        ({"capacity_msat": np.full(4, np.nan)}, "capacity_msat must be finite"),
        ({"capacity_msat": np.full(4, -1.0)}, "capacity_msat must be >= 0"),
        ({"capacity_msat": np.ones(3)}, r"capacity_msat must be numbers of shape \(4,\)"),
        ({"capacity_msat": ["a"] * 4}, "capacity_msat must be numbers"),
        ({"exclude_edges": [10**9]}, "exclude_edges holds edge indices outside"),  # IndexError
        ({"exclude_edges": np.zeros(3, bool)}, "exclude_edges mask must have shape"),
        ({"exclude_edges": ["a"]}, "exclude_edges must be a bool mask or edge indices"),
        ({"exclude_edges": [1.7]}, "exclude_edges holds non-integer edge indices"),
    ],
)
def test_split_payment_arguments(two_paths, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        split_payment(two_paths, 0, 3, 1000, **kwargs)


def test_split_payment_takes_numpy_counts_and_valid_exclusions(two_paths):
    split = split_payment(two_paths, 0, 3, 10_000_000, max_parts=np.int64(2))
    assert split.n_parts == 2
    assert split_payment(two_paths, 0, 3, 1000, candidates=np.int32(1)).n_parts == 1
    cheap = two_paths.edges_between(0, 2)
    for ex in (cheap, cheap.astype(float), np.isin(np.arange(4), cheap)):
        assert split_payment(two_paths, 0, 3, 1000, exclude_edges=ex).parts[0].channel_ids == (
            "a1",
            "a2",
        )


@pytest.mark.parametrize(
    ("capacity", "match"),
    [
        (np.ones(3), r"capacity_msat must be numbers of shape \(4,\)"),  # IndexError before
        ("1000", "capacity_msat must be numbers"),  # UFuncTypeError before
        (np.full(4, np.nan), "capacity_msat must be finite"),
    ],
)
def test_route_fits_checks_capacity(two_paths, capacity, match):
    route = shortest_route(two_paths, 0, 3, 1000)
    assert route_fits(two_paths, route, capacity_msat=two_paths.capacity_sat * 1000)
    with pytest.raises(InvalidParameterError, match=match):
        route_fits(two_paths, route, capacity_msat=capacity)


def test_an_edge_that_overflows_on_one_path_may_fit_on_another(make_graph):
    # 0 -> 1 -> 2 then either 2 -> 3 (base fee 1 msat, cheaper) or 2 -> 4 -> 3 (no fees).
    # 1 -> 2 holds exactly 10^6 msat: on the cheap path it must carry 10^6 + 1 (the fee of
    # 2 -> 3), on the other one 10^6. The edge must not be dropped for the second path.
    g = make_graph(
        [
            ("sx", 0, 1, 10_000, 0, 0),
            ("xy", 1, 2, 1_000, 0, 0),
            ("yt", 2, 3, 10_000, 1, 0),
            ("yw", 2, 4, 10_000, 0, 0),
            ("wt", 4, 3, 10_000, 0, 0),
        ]
    )
    cheapest = shortest_route(g, 0, 3, 1_000_000)
    assert cheapest.hop_amounts_msat == (1_000_001, 1_000_001, 1_000_000)
    assert not route_fits(g, cheapest)
    route = first_fitting_route(g, 0, 3, 1_000_000, params=RoutingParams())
    assert list(route.hops) == [str(g.node_ids[i]) for i in (0, 1, 2, 4, 3)]
    assert route_fits(g, route)
    split = split_payment(g, 0, 3, 1_000_000)
    check_split(g, split, 1_000_000)
    assert split.amounts_msat == (1_000_000,)  # one route carries it: one part
    with pytest.raises(NoRouteError, match="fees"):  # the fitting path is the 2nd cheapest
        first_fitting_route(g, 0, 3, 1_000_000, params=RoutingParams(), candidates=1)


def test_parts_grow_to_the_bottleneck_past_a_large_fee_excess(make_graph):
    # Three disjoint paths 0 -> a -> b -> 1; a -> b holds 10^6 msat and b -> 1 charges
    # 100 % (10^6 ppm), so a -> b carries 2x for x delivered: each path carries 500,000.
    rows = []
    for r in range(3):
        a, b = 2 + 2 * r, 3 + 2 * r
        rows += [(f"s{r}", 0, a, 10_000, 0, 0), (f"m{r}", a, b, 1_000, 0, 0)]
        rows += [(f"t{r}", b, 1, 10_000, 0, 1_000_000)]
    g = make_graph(rows)
    path = [int(g.edges_between(0, 2)[0]), int(g.edges_between(2, 3)[0])]
    path.append(int(g.edges_between(3, 1)[0]))
    # at 1,450,000 a -> b would carry 2,900,000: an excess larger than the amount itself
    assert max_sendable_msat(g, path, g.capacity_sat * 1000.0, 1.0, 1_450_000) == 500_000
    split = split_payment(g, 0, 1, 1_450_000)
    check_split(g, split, 1_450_000)
    assert split.amounts_msat == (500_000, 500_000, 450_000)


def test_max_sendable_equals_a_scan_of_every_amount(make_graph):
    """Brute force: the largest amount <= upper whose hop amounts (computed here, backwards
    from the recipient) stay within min(htlc_max, capacity) on every hop."""
    rng = np.random.default_rng(11)
    for _ in range(40):
        n_hops = int(rng.integers(1, 4))
        rows = []
        for h in range(n_hops):
            cap = int(rng.integers(1, 4))  # sat
            base, ppm = int(rng.integers(0, 300)), int(rng.choice([0, 1_000, 300_000, 2_000_000]))
            hmax = int(rng.integers(100, cap * 1000 + 1))
            rows.append((f"c{h}", h, h + 1, cap, base, ppm, 40, 0, hmax))
        g = make_graph(rows)
        path = [int(g.edges_between(h, h + 1)[0]) for h in range(n_hops)]
        capacity = g.capacity_sat * 1000.0 - rng.integers(0, 500, g.n_edges)
        limits = [min(int(g.htlc_max_msat[e]), int(capacity[e])) for e in path]
        upper = int(rng.integers(1, 3_500))
        best = 0
        for x in range(upper, 0, -1):
            amounts, amt = [0] * n_hops, x
            for i in range(n_hops - 1, -1, -1):
                amounts[i] = amt
                amt += int(g.base_fee_msat[path[i]]) + amt * int(g.fee_rate_ppm[path[i]]) // 10**6
            if all(a <= lim for a, lim in zip(amounts, limits, strict=True)):
                best = x
                break
        assert max_sendable_msat(g, path, capacity, 0.0, upper) == best, (rows, upper)


def test_when_the_cheapest_routes_share_an_overflowing_edge_it_is_dropped(make_graph):
    # 0 -> 1 takes at most 10^6 msat (htlc_max) and every path through 1 (via 2, 3, 4 or 5) adds a
    # 1-msat fee downstream, so 0 -> 1 overflows on the four cheapest routes; the dearer
    # fee-free 0 -> 6 -> 7 -> 8 -> 9 (one hop longer) fits once 0 -> 1 is dropped.
    rows = [("s1", 0, 1, 10_000, 0, 0, 40, 0, 1_000_000)]
    for m in (2, 3, 4, 5):
        rows += [(f"a{m}", 1, m, 10_000, 0, 0), (f"b{m}", m, 9, 10_000, 1, 0)]
    rows += [("c6", 0, 6, 10_000, 0, 0), ("c7", 6, 7, 10_000, 0, 0)]
    rows += [("c8", 7, 8, 10_000, 0, 0), ("c9", 8, 9, 10_000, 0, 0)]
    g = make_graph(rows)
    ranked = list(k_shortest_paths(g, 0, 9, 1_000_000, k=5))
    assert [len(r.edges) for r in ranked] == [3, 3, 3, 3, 4]
    assert [route_fits(g, r) for r in ranked] == [False] * 4 + [True]
    route = first_fitting_route(g, 0, 9, 1_000_000, params=RoutingParams(), candidates=3)
    assert list(route.hops) == [str(g.node_ids[i]) for i in (0, 6, 7, 8, 9)]
    # without the edge's drop, three candidates were not enough
    assert route == ranked[4]
