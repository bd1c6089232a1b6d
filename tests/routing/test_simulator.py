"""PaymentSimulator: hidden balances, failures and learning, conservation, fee flows."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from data.errors import InvalidParameterError, NoRouteError
from routing import PaymentSimulator, RoutingParams, simulate_random_payments

MU = math.log(0.2)


def node1_balances(graph, wanted: dict[str, int]) -> np.ndarray:
    """node1-side balances: half of the capacity, except channels named in ``wanted``."""
    cap = graph.channel_capacity_sat * 1000
    out = cap // 2
    for key, value in wanted.items():
        out[list(graph.channel_key).index(key)] = value
    return out


@pytest.fixture
def line(make_graph):
    """0 - 1 - 2 - 3, both directions, policies as in the compounding test."""
    return make_graph(
        [
            ("c01", 0, 1, 100_000, 7, 7, 144),
            ("c01", 1, 0, 100_000, 9, 9, 144),
            ("c12", 1, 2, 100_000, 500, 10_000, 30),
            ("c12", 2, 1, 100_000, 1, 1, 30),
            ("c23", 2, 3, 100_000, 1000, 2345, 50),
            ("c23", 3, 2, 100_000, 1, 1, 50),
        ]
    )


def test_fees_go_to_forwarding_nodes(line):
    sim = PaymentSimulator(line, seed=1, balance_model="half")
    before = sim.node_balances_msat()
    res = sim.pay(0, 3, 1_000_000)
    assert res.success and res.failure_reason is None
    assert res.fee_msat == 13_878 and res.hops == 3 and res.attempts == 1
    delta = sim.node_balances_msat() - before
    # sender pays amount + fees; node 1 keeps 10,533 and node 2 keeps 3,345 (hand-computed
    # in test_paths.test_fees_compound_backwards); the recipient gets the amount
    np.testing.assert_array_equal(delta, [-1_013_878, 10_533, 3_345, 1_000_000])
    total = sim.balance_msat.sum(axis=1)
    np.testing.assert_array_equal(total, line.channel_capacity_sat * 1000)


@pytest.fixture
def fork(make_graph):
    """0 -> 3 via 1 (cheap) or via 2 (dear); both directions of every channel."""
    rows = []
    for key, u, v, base in (("a1", 0, 1, 0), ("a2", 1, 3, 10), ("b1", 0, 2, 0), ("b2", 2, 3, 900)):
        rows += [(key, u, v, 10_000, base, 0), (key, v, u, 10_000, base, 0)]
    return make_graph(rows)


def test_failure_learning_and_retry(fork):
    # node 1 holds nothing towards 3 (node1 of channel a2 is node 1)
    balances = node1_balances(fork, {"a2": 0})
    sim = PaymentSimulator(fork, seed=2, balance_model=balances, latency_sigma=0.0, latency_mu=MU)
    start = sim.balance_msat.copy()
    res = sim.pay(0, 3, 1_000_000)
    assert res.success and res.attempts == 2 and res.htlcs == 2
    assert res.routes[0].channel_ids == ("b1", "b2")
    assert res.fee_msat == 900
    # the failed try crossed one hop (0 -> 1), the second two: three latency samples
    assert res.latency_s == pytest.approx(3 * 0.2)
    a2 = list(fork.channel_key).index("a2")
    np.testing.assert_array_equal(sim.balance_msat[a2], start[a2])  # failure moved nothing


@pytest.mark.parametrize("multipart", [False, True])
@pytest.mark.parametrize("where", ["pay", "simulator"])
def test_max_attempts_caps_the_routing_rounds(fork, where, multipart):
    """The cheap route (via 1) fails at 1 -> 3 and the dear one (via 2) is the only retry:
    with one round allowed the payment fails after that one try, with two it succeeds on the
    second (by hand from the fork; a multi-part payment of 1,000 sat fits one path, so it
    makes the same tries). A loop that allowed one round more passed every test."""
    balances = node1_balances(fork, {"a2": 0})

    def pay(rounds: int) -> tuple[PaymentSimulator, Any]:
        if where == "pay":
            sim = PaymentSimulator(fork, seed=2, balance_model=balances)
            return sim, sim.pay(0, 3, 1_000_000, multipart=multipart, max_attempts=rounds)
        sim = PaymentSimulator(fork, seed=2, balance_model=balances, max_attempts=rounds)
        return sim, sim.pay(0, 3, 1_000_000, multipart=multipart)

    sim, one = pay(1)
    start = PaymentSimulator(fork, seed=2, balance_model=balances).balance_msat
    assert not one.success and one.failure_reason == "max_attempts"
    assert one.attempts == 1 and one.htlcs == 1 and one.fee_msat == 0
    np.testing.assert_array_equal(sim.balance_msat, start)
    _, two = pay(2)
    assert two.success and two.attempts == 2 and two.htlcs == 2
    assert [r.channel_ids for r in two.routes] == [("b1", "b2")]


def test_sender_knows_its_own_balances(fork):
    balances = node1_balances(fork, {"a1": 0})  # node 0 has nothing on channel a1
    sim = PaymentSimulator(fork, seed=2, balance_model=balances)
    res = sim.pay(0, 3, 1_000_000)
    assert res.success and res.attempts == 1 and res.routes[0].channel_ids == ("b1", "b2")


def test_failure_leaves_balances_unchanged(fork):
    balances = node1_balances(fork, {"a2": 0, "b2": 0})
    sim = PaymentSimulator(fork, seed=3, balance_model=balances)
    start = sim.balance_msat.copy()
    res = sim.pay(0, 3, 1_000_000)
    assert not res.success and res.failure_reason == "liquidity"
    assert res.attempts == 2 and res.fee_msat == 0 and res.hops == 0
    np.testing.assert_array_equal(sim.balance_msat, start)
    assert sim.pay(3, 0, 1_000_000).success  # the other direction is full


def test_multipart_is_atomic(fork):
    # 15,000 sat needs both paths; path b really holds only 1000 sat at node 2
    full = 10_000_000
    balances = node1_balances(fork, {"a1": full, "b1": full, "a2": full, "b2": 1_000_000})
    sim = PaymentSimulator(fork, seed=4, balance_model=balances, max_attempts=4)
    start = sim.balance_msat.copy()
    res = sim.pay(0, 3, 15_000_000, multipart=True)
    assert not res.success and res.htlcs >= 2
    np.testing.assert_array_equal(sim.balance_msat, start)  # held parts were released
    ok = sim.pay(0, 3, 10_500_000, multipart=True)  # 10,000 + 500 sat fits
    assert ok.success and ok.n_parts >= 2
    assert sum(r.amount_msat for r in ok.routes) == 10_500_000
    np.testing.assert_array_equal(sim.balance_msat.sum(axis=1), fork.channel_capacity_sat * 1000)


def test_no_route_reasons(fork, make_graph):
    sim = PaymentSimulator(fork, seed=0)
    with pytest.raises(NoRouteError) as err:
        sim.pay(0, "02" + f"{77:064x}", 1000)
    assert err.value.reason == "unknown_node"
    res = sim.pay(0, 3, 50_000_000)  # above every capacity
    assert not res.success and res.failure_reason == "pruned" and res.attempts == 0
    g = make_graph([(1, 0, 1, 1000, 0, 0), (2, 2, 3, 1000, 0, 0)])
    res = PaymentSimulator(g, seed=0).pay(0, 3, 1000)
    assert res.failure_reason == "disconnected"


def test_invalid_arguments(fork):
    with pytest.raises(InvalidParameterError):
        PaymentSimulator(fork, balance_model="random")
    with pytest.raises(InvalidParameterError):
        PaymentSimulator(fork, balance_model=np.zeros(3, dtype=np.int64))
    with pytest.raises(InvalidParameterError):
        PaymentSimulator(fork, balance_model=np.full(fork.n_channels, 10**15))
    with pytest.raises(InvalidParameterError):
        PaymentSimulator(fork, latency_sigma=-1.0)
    with pytest.raises(InvalidParameterError):
        PaymentSimulator(fork).pay(0, 0, 1000)


def test_batch_summary(fork):
    sim = PaymentSimulator(fork, seed=5)
    pays = pd.DataFrame({"source": [0, 3, 0, 1], "target": [3, 0, 3, 2], "amount_msat": 10**6})
    pays["source"] = [str(fork.node_ids[i]) for i in pays["source"]]
    pays["target"] = [str(fork.node_ids[i]) for i in pays["target"]]
    batch = sim.run(pays, multipart=False)
    frame = batch.to_frame()
    assert len(frame) == 4 and batch.n_payments == 4
    ok = frame["success"].to_numpy()
    assert batch.success_rate == pytest.approx(ok.mean())
    assert batch.latency_p50_s == pytest.approx(np.percentile(frame["latency_s"][ok], 50))
    assert batch.fee_pct == pytest.approx(
        100 * frame["fee_msat"][ok].sum() / frame["amount_msat"][ok].sum()
    )
    json.dumps(batch.to_dict())


@pytest.mark.parametrize(
    ("bad_target", "error", "message"),
    [
        (0, InvalidParameterError, "payments row 2: source and target must differ"),
        ("02" + "ab" * 32, NoRouteError, "payments row 2: "),
    ],
)
def test_a_bad_row_is_refused_before_any_payment(line, bad_target, error, message):
    """Row 2 naming the sender as recipient (or an unknown node) raised after rows 0 and 1
    had moved money: the batch half ran."""
    sim = PaymentSimulator(line, seed=1, balance_model="half")
    before = sim.balance_msat.copy()
    ids = [str(i) for i in line.node_ids]
    pays = pd.DataFrame(
        {
            "source": [ids[0], ids[0], ids[0]],
            "target": [ids[3], ids[3], bad_target if isinstance(bad_target, str) else ids[0]],
            "amount_msat": 10_000,
        }
    )
    with pytest.raises(error) as info:
        sim.run(pays)
    assert str(info.value).startswith(message)
    np.testing.assert_array_equal(sim.balance_msat, before)
    assert sim.run(pays.iloc[:2]).n_payments == 2  # the good rows run
    assert (sim.balance_msat != before).any()


def test_multipart_must_be_a_bool(line):
    """``multipart='no'`` was read as True."""
    sim = PaymentSimulator(line, seed=1, balance_model="half")
    with pytest.raises(InvalidParameterError, match=r"^multipart must be True or False"):
        sim.pay(0, 3, 1000, multipart="no")
    with pytest.raises(InvalidParameterError, match=r"^multipart must be True or False"):
        sim.run(pd.DataFrame({"source": [0], "target": [3], "amount_msat": [1000]}), multipart="no")


def test_local_balance_needs_an_edge_index(line):
    sim = PaymentSimulator(line, seed=1, balance_model="half")
    assert sim.local_balance_msat(0) == sim.edge_balances_msat()[0]
    for edge in (-1, line.n_edges, 1.5):
        with pytest.raises(InvalidParameterError, match="edge must be"):
            sim.local_balance_msat(edge)


def test_batch_totals_beyond_int64():
    """Five payments of 2.1e18 msat (all the bitcoin there is, the largest amount allowed)
    sum beyond int64: the totals are exact Python ints (value_msat was negative)."""
    from routing.simulator import PaymentBatchResult, PaymentResult

    big = 2_100_000_000_000_000_000
    results = [
        PaymentResult(
            source="a",
            target="b",
            amount_msat=big,
            success=i % 2 == 0,
            fee_msat=7 * i,
            attempts=1,
            htlcs=1,
            n_parts=1 if i % 2 == 0 else 0,
            hops=2,
            latency_s=0.5,
            failure_reason=None if i % 2 == 0 else "liquidity",
        )
        for i in range(5)
    ]
    batch = PaymentBatchResult.from_results(results, multipart=False)
    assert batch.value_msat == 5 * big and batch.settled_msat == 3 * big
    assert batch.fee_msat == 7 * (0 + 2 + 4)
    assert batch.value_success_rate == pytest.approx(0.6)


# ---------------------------------------------------------------- the real graph
def test_real_conservation_and_fee_flows(graph):
    sim = PaymentSimulator(graph, seed=11)
    start_total = sim.balance_msat.sum()
    rng = np.random.default_rng(11)
    core = graph.largest_scc()
    settled = 0
    for i in range(40):
        s, t = (int(x) for x in rng.choice(core, size=2, replace=False))
        before = sim.node_balances_msat()
        res = sim.pay(s, t, 20_000_000, multipart=bool(i % 2))
        delta = sim.node_balances_msat() - before
        expected = np.zeros(graph.n_nodes, dtype=np.int64)
        for route in res.routes:  # independent fee computation from the policy arrays
            e = np.array(route.edges)
            amt = np.array(route.hop_amounts_msat, dtype=np.int64)
            fees = graph.base_fee_msat[e[1:]] + amt[1:] * graph.fee_rate_ppm[e[1:]] // 10**6
            np.testing.assert_array_equal(amt[:-1], amt[1:] + fees)
            np.add.at(expected, graph.edge_source[e[1:]], fees)
            expected[s] -= amt[0]
            expected[t] += amt[-1]
        np.testing.assert_array_equal(delta, expected)
        settled += res.success
    np.testing.assert_array_equal(sim.balance_msat.sum(axis=1), graph.channel_capacity_sat * 1000)
    assert sim.balance_msat.sum() == start_total
    assert (sim.balance_msat >= 0).all()
    assert settled >= 20


def test_random_batch_is_seeded(graph):
    a = simulate_random_payments(graph, 25, 20_000, seed=3, multipart=True)
    b = simulate_random_payments(graph, 25, 20_000, seed=3, multipart=True)
    pd.testing.assert_frame_equal(a.to_frame(), b.to_frame())
    assert 0 < a.success_rate <= 1
    ok = a.frame["success"]
    assert (a.frame.loc[ok, "attempts"] >= 1).all()
    assert a.mean_attempts == pytest.approx(a.frame["attempts"].mean())
    lat = a.frame.loc[ok, "latency_s"]
    assert a.latency_p95_s == pytest.approx(np.percentile(lat, 95))
    assert (a.frame.loc[ok, "hops"] >= 1).all()
    c = simulate_random_payments(graph, 25, 20_000, seed=4, multipart=True)
    assert not a.frame["source"].equals(c.frame["source"])


# ---------------------------------------------------------------- hand-built graphs
_PATHS_TO_3 = (("a1", 0, 1), ("a2", 1, 3), ("b1", 0, 2), ("b2", 2, 4), ("b3", 4, 3))


def _both_ways(spec):
    """``make_graph`` rows for channels ``(key, u, v, capacity_sat, base_fee_msat)``: both
    directions, no proportional fee."""
    return [
        row
        for k, u, v, cap, base in spec
        for row in ((k, u, v, cap, base, 0), (k, v, u, cap, base, 0))
    ]


def _funded_towards(graph, forward_source: dict[str, int], empty: tuple[str, ...] = ()):
    """node1-side balances putting every channel's whole capacity on the side of its
    forward source, except the channels in ``empty``, whose forward side holds nothing."""
    cap = graph.channel_capacity_sat * 1000
    source = np.array([forward_source[k] for k in graph.channel_key])
    forward_is_node1 = graph.channel_node1 == source
    out = np.where(forward_is_node1, cap, 0)
    for key in empty:
        c = list(graph.channel_key).index(key)
        out[c] = 0 if forward_is_node1[c] else cap[c]
    return out.astype(np.int64)


def test_multipart_round_costs_its_slowest_part_and_reports_the_longest_route(make_graph):
    """15,000 sat over a 2-hop path (0-1-3) and a 3-hop path (0-2-4-3) of 10,000 sat each,
    funded towards 3: one round, two parallel parts. With a fixed 0.2 s per hop the round
    costs its slowest part, 3 x 0.2 s (not 5 x 0.2 s), and ``hops`` is the longest, 3."""
    spec = [(key, u, v, 10_000, 0) for key, u, v in _PATHS_TO_3]
    g = make_graph(_both_ways(spec))
    towards_3 = _funded_towards(g, {k: u for k, u, *_ in spec})
    sim = PaymentSimulator(g, seed=0, balance_model=towards_3, latency_sigma=0.0, latency_mu=MU)
    res = sim.pay(0, 3, 15_000_000, multipart=True)
    assert res.success and res.attempts == 1 and res.n_parts == 2 and res.htlcs == 2
    assert sorted(r.n_hops for r in res.routes) == [2, 3]
    assert res.hops == 3
    assert res.latency_s == pytest.approx(3 * 0.2)


@pytest.fixture
def hub(make_graph):
    """Sender 0 -> hub 1 (20,000 sat, all on 0's side), then 1 -> 2 over three 10,000 sat
    routes: direct (a2, fee 10 msat), via 3 (c1, c2; node 3 charges 100 msat) and via 4
    (d1, d2; node 4 charges 1000 msat). Node 3 holds nothing towards 2 (hidden)."""
    spec = [
        ("a1", 0, 1, 20_000, 0),
        ("a2", 1, 2, 10_000, 10),
        ("c1", 1, 3, 10_000, 0),
        ("c2", 3, 2, 10_000, 100),
        ("d1", 1, 4, 10_000, 0),
        ("d2", 4, 2, 10_000, 1000),
    ]
    g = make_graph(_both_ways(spec))
    return g, _funded_towards(g, {k: u for k, u, *_ in spec}, empty=("c2",))


def test_multipart_retry_sees_its_own_held_part_once_and_learns_amount_minus_one(hub):
    """15,000 sat, hand-traced by the split rule (routing.multipart) and the simulator doc:

    round 1: no single route carries 15,000 sat (every 1 -> 2 channel has 10,000); half
    of it goes direct and grows to the bottleneck, 10,000 sat (a1 carries 10,000,010 msat
    with node 1's 10 msat fee); the remaining 5,000 sat take the next cheapest route, via 3,
    which fails at its last hop (node 3 holds nothing): the sender learns c2 < 5,000,000
    msat, i.e. an upper bound of 4,999,999 msat. The direct part is held.
    round 2: 5,000 sat remain. The sender's own a1 still holds 20,000,000 - 10,000,010 =
    9,999,990 msat (the held amount is already off its balance, so the view must not
    subtract it a second time), and the route via 3 is bounded below 5,000 sat, so the
    part goes via 4 (a1 carries 5,001,000 msat) and settles: 2 rounds, 3 HTLCs.
    Subtracting the held amount twice leaves a1 at -20 msat in the view (no route:
    "liquidity"); a bound of 5,000,000 msat instead of 4,999,999 lets the router retry the
    empty route via 3 every round (max_attempts)."""
    g, balances = hub
    sim = PaymentSimulator(g, seed=0, balance_model=balances, latency_sigma=0.0, latency_mu=MU)
    start = sim.balance_msat.copy()
    res = sim.pay(0, 2, 15_000_000, multipart=True)
    assert res.failure_reason is None and res.success
    assert res.attempts == 2 and res.htlcs == 3 and res.n_parts == 2
    assert [r.channel_ids for r in res.routes] == [("a1", "a2"), ("a1", "d1", "d2")]
    assert [r.hop_amounts_msat for r in res.routes] == [
        (10_000_010, 10_000_000),
        (5_001_000, 5_001_000, 5_000_000),
    ]
    assert res.fee_msat == 10 + 1000
    # round 1: the slower part crossed 2 hops (the failed one stopped before its 3rd);
    # round 2: 3 hops
    assert res.latency_s == pytest.approx(5 * 0.2)
    a1 = list(g.channel_key).index("a1")
    node0_side = 0 if g.channel_node1[a1] == 0 else 1
    assert sim.balance_msat[a1, node0_side] == 20_000_000 - 10_000_010 - 5_001_000
    c2 = list(g.channel_key).index("c2")
    np.testing.assert_array_equal(sim.balance_msat[c2], start[c2])  # the failure moved nothing


def test_multipart_learned_bound_is_strictly_below_the_failed_amount(hub):
    """Same payment, three rounds allowed: with the bound at amount - 1 (4,999,999 msat)
    the second round avoids the empty route via 3, which can no longer carry the missing
    5,000,000 msat, and settles via 4 without touching c2 again. A bound at the amount
    itself keeps the cheaper route via 3 open: rounds 2 and 3 retry it, fail, and the
    payment gives up (max_attempts)."""
    g, balances = hub
    sim = PaymentSimulator(g, seed=0, balance_model=balances, max_attempts=3)
    res = sim.pay(0, 2, 15_000_000, multipart=True)
    assert res.success and res.attempts == 2 and res.htlcs == 3
    assert all("c2" not in r.channel_ids for r in res.routes)


def test_single_path_drops_a_failed_direction_for_the_rest_of_the_payment(make_graph):
    """Single-path: a failed direction is excluded for the rest of the payment (module doc),
    not merely bounded by the failed amount.

    Weights (beta=0, gamma=1000 msat/s, 1 s per hop): route A 0-1-2-3 costs 500 (node 2's
    fee on c) + 3000, route C 0-5-3 costs 5000 + 2000. Node 1 holds 1,000,000 msat towards
    2 (hidden); A sends 1,000,500 msat over b and fails there. With b excluded, the one
    route search the retry is allowed (candidates=1) finds C and settles (fee 5000). Were
    b only bounded (at 1,000,499 msat or at 1,000,500), pruning for the 1,000,000 msat
    payment would keep it, the search would return A again, and the payment would either
    find nothing that fits ("liquidity") or fail on b again until max_attempts."""
    spec = [
        ("a", 0, 1, 10_000, 0),
        ("b", 1, 2, 10_000, 0),
        ("c", 2, 3, 10_000, 500),
        ("f", 0, 4, 10_000, 0),
        ("h", 4, 3, 10_000, 5000),
    ]
    g = make_graph(_both_ways(spec))
    balances = _funded_towards(g, {k: u for k, u, *_ in spec})
    b = list(g.channel_key).index("b")
    node1_side = 0 if g.channel_node1[b] == 1 else 1
    balances[b] = 1_000_000 if node1_side == 0 else 9_000_000
    params = RoutingParams(beta=0.0, gamma=1000.0, hop_latency_s=1.0)
    sim = PaymentSimulator(
        g,
        seed=0,
        balance_model=balances,
        params=params,
        candidates=1,
        latency_sigma=0.0,
        latency_mu=MU,
    )
    res = sim.pay(0, 3, 1_000_000)
    assert res.failure_reason is None and res.success
    assert res.attempts == 2 and res.htlcs == 2
    assert res.routes[0].channel_ids == ("f", "h")
    assert res.fee_msat == 5000
    # the failed try crossed a (0 -> 1) and stopped at b: one hop; the retry two
    assert res.latency_s == pytest.approx(3 * 0.2)
    assert sim.balance_msat[b, node1_side] == 1_000_000  # untouched


def test_hop_latency_is_lognormal_per_hop(line):
    """Each hop an HTLC crosses adds one lognormal(mu, sigma) sample: the log-latency of
    one-hop payments has mean mu and sd sigma, three hops have mean 3 exp(mu + sigma^2 / 2),
    within five standard errors (seeded)."""
    sigma, n = 0.6, 2_000
    sim = PaymentSimulator(line, seed=5, balance_model="half", latency_mu=MU, latency_sigma=sigma)
    one = np.array([sim.pay(0, 1, 1_000).latency_s for _ in range(n)])
    three = np.array([sim.pay(0, 3, 1_000).latency_s for _ in range(n)])
    logs = np.log(one)
    assert abs(logs.mean() - MU) <= 5 * sigma / math.sqrt(n)
    assert abs(logs.std() - sigma) <= 5 * sigma / math.sqrt(2 * n)
    hop_mean = math.exp(MU + sigma**2 / 2)
    hop_var = math.expm1(sigma**2) * hop_mean**2
    assert abs(three.mean() - 3 * hop_mean) <= 5 * math.sqrt(3 * hop_var / n)


def test_uniform_balances_are_uniform_on_zero_to_capacity(make_graph):
    """``balance_model="uniform"``: node1's share of each channel uniform on 0..capacity
    (integer msat): mean capacity/2 and sd capacity/sqrt(12) within five standard errors, a
    Kolmogorov-Smirnov test against the uniform law, the other side the rest."""
    from scipy import stats

    cap_sat = 1_000
    rows = [(f"c{i}", i, i + 1, cap_sat, 0, 0) for i in range(3_000)]
    graph = make_graph(rows)
    sim = PaymentSimulator(graph, seed=11, balance_model="uniform")
    cap = cap_sat * 1000
    u = sim.balance_msat[:, 0] / cap
    n = u.size
    assert (sim.balance_msat >= 0).all()
    np.testing.assert_array_equal(sim.balance_msat.sum(axis=1), np.full(n, cap))
    assert abs(u.mean() - 0.5) <= 5 * math.sqrt(1 / 12 / n)
    # SE of a sample sd: sqrt(Var(s^2)) / (2 sd), Var(s^2) = (mu4 - sd^4) / n = 1 / (180 n)
    assert abs(u.std() - math.sqrt(1 / 12)) <= 5 * math.sqrt(1 / 180 / n) / (2 * math.sqrt(1 / 12))
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    again = PaymentSimulator(graph, seed=11, balance_model="uniform")
    np.testing.assert_array_equal(again.balance_msat, sim.balance_msat)


# ---------------------------------------------------------------- argument checks
@pytest.mark.parametrize("bad", [0, -3, 2.7, "x", True])
def test_pay_max_attempts_must_be_a_positive_integer(fork, bad):
    # 0 and -3 gave a failed payment with 0 attempts, 2.7 ran 2 rounds, "x" a raw ValueError
    sim = PaymentSimulator(fork, seed=0)
    with pytest.raises(InvalidParameterError, match=f"max_attempts must be .*got {bad!r}"):
        sim.pay(0, 3, 10_000, max_attempts=bad)
    with pytest.raises(InvalidParameterError, match="max_attempts"):
        sim.pay(0, 3, 10_000, multipart=True, max_attempts=bad)


def test_numpy_integer_counts_are_accepted(fork):
    sim = PaymentSimulator(
        fork, seed=0, max_attempts=np.int64(3), max_parts=np.int32(2), candidates=np.int64(2)
    )
    assert sim.pay(0, 3, 10_000, max_attempts=np.int64(2)).success
    assert sim.max_attempts == 3 and type(sim.max_attempts) is int
    batch = simulate_random_payments(fork, np.int64(2), np.int64(10), seed=0)
    assert batch.n_payments == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"latency_mu": "a"}, "latency_mu must be a finite number"),
        ({"latency_mu": float("nan")}, "latency_mu must be a finite number"),
        ({"latency_sigma": None}, "latency_sigma must be a finite number >= 0"),
        ({"max_attempts": 0}, "max_attempts must be an integer >= 1"),
        ({"max_parts": True}, "max_parts must be an integer >= 1"),
        ({"candidates": 1.5}, "candidates must be an integer >= 1"),
    ],
)
def test_simulator_settings_are_checked(fork, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        PaymentSimulator(fork, **kwargs)


@pytest.mark.parametrize("bad", [1.9, float("nan"), float("inf"), 0, "10"])
def test_run_refuses_bad_amounts_naming_the_row_before_paying(fork, bad):
    # 1.9 paid 1 msat (int() truncation) and NaN gave numpy's ValueError
    sim = PaymentSimulator(fork, seed=0, balance_model="half")
    before = sim.balance_msat.copy()
    src, dst = str(fork.node_ids[0]), str(fork.node_ids[3])
    pays = pd.DataFrame({"source": [src, src], "target": [dst, dst], "amount_msat": [1000, bad]})
    with pytest.raises(InvalidParameterError, match="payments row 1: amount_msat"):
        sim.run(pays)
    np.testing.assert_array_equal(sim.balance_msat, before)  # nothing was paid


@pytest.mark.parametrize("bad", [[1, 2], None, {"source": [0]}])
def test_run_needs_a_data_frame(fork, bad):
    with pytest.raises(InvalidParameterError, match="payments must be a pandas DataFrame"):
        PaymentSimulator(fork, seed=0).run(bad)


@pytest.mark.parametrize(
    ("n_payments", "amount_sat", "match"),
    [
        (1, 2**62, "amount_sat must be at most "),  # OverflowError before
        (1, 0, "amount_sat must be an integer >= 1"),
        (0, 1000, "n_payments must be an integer >= 1"),
        (True, 1000, "n_payments must be an integer >= 1"),
    ],
)
def test_random_payments_arguments(fork, n_payments, amount_sat, match):
    with pytest.raises(InvalidParameterError, match=match):
        simulate_random_payments(fork, n_payments, amount_sat, seed=0)


def test_batch_frame_cannot_be_edited_behind_the_summary(fork):
    batch = simulate_random_payments(fork, 4, 10, seed=0)
    rate = batch.success_rate
    frame = batch.frame
    frame.loc[:, "success"] = ~frame["success"]
    frame.loc[:, "failure_reason"] = "edited"
    assert batch.frame["success"].mean() == pytest.approx(rate)
    assert "edited" not in batch.to_dict()["failure_reasons"]
