"""Settlement routing: EUR -> msat payment plan and O(N) payments through an operator."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from data.errors import InvalidParameterError, NoRouteError
from routing import eur_to_msat, route_settlement, settlement_payments
from routing.settlement import _balances, attachment_candidates


def test_payment_plan_conversion_and_dust():
    amounts = np.array([10.0, -5.0, 0.0, 1e-9, -3.0, 2e-7])
    plan = settlement_payments(amounts, eur_per_btc=50_000.0, dust_sat=1)
    # 1 EUR = 10^11 / 50,000 = 2,000,000 msat; 2e-7 EUR = 0.4 msat -> dust; 1e-9 EUR too
    assert plan["agent"].tolist() == [0, 1, 4]  # payers first, then receivers
    assert plan["direction"].tolist() == ["pay", "receive", "receive"]
    assert plan["amount_msat"].tolist() == [20_000_000, 10_000_000, 6_000_000]
    np.testing.assert_allclose(plan["amount_eur"], [10.0, 5.0, 3.0])
    assert eur_to_msat(np.array([0.0005]), 60_000.0).tolist() == [833]  # 833.33 rounded
    high = settlement_payments(amounts, eur_per_btc=50_000.0, dust_sat=8_000)
    assert high["agent"].tolist() == [0, 1]  # 3 EUR = 6000 sat < 8000 sat


@pytest.mark.parametrize(
    ("amounts", "kwargs"),
    [
        (np.zeros((2, 2)), {}),
        (np.array([1.0, np.nan]), {}),
        (np.array([1.0]), {"eur_per_btc": 0.0}),
        (np.array([1.0]), {"dust_sat": -1}),
    ],
)
def test_invalid_plan(amounts, kwargs):
    with pytest.raises(InvalidParameterError):
        settlement_payments(amounts, **kwargs)


def test_amounts_that_are_not_numbers(graph):
    # numpy's ValueError before
    with pytest.raises(InvalidParameterError, match="must be numbers"):
        settlement_payments("abc")
    with pytest.raises(InvalidParameterError, match="must be numbers"):
        route_settlement(graph, ["1.0", "x"], seed=0)


@pytest.fixture(scope="module")
def settled(graph):
    rng = np.random.default_rng(21)
    amounts = rng.normal(0.0, 4.0, size=150)
    amounts[:5] = 0.0
    return amounts, route_settlement(graph, amounts, seed=7, eur_per_btc=60_000.0)


def test_settlement_counts_and_rates(settled):
    amounts, res = settled
    frame = res.to_frame()
    assert res.n_agents == 150
    assert res.n_payers == int((amounts > 0).sum()) and res.n_payees == int((amounts < 0).sum())
    assert res.n_payments == len(frame) == res.n_payers + res.n_payees  # one per agent
    assert res.n_dust == 0
    ok = frame["success"].to_numpy()
    assert res.n_success == ok.sum() and res.success_rate == pytest.approx(ok.mean())
    assert res.value_eur == pytest.approx(np.abs(amounts).sum())
    assert res.value_success_rate == pytest.approx(
        frame.loc[ok, "amount_eur"].sum() / frame["amount_eur"].sum()
    )
    assert res.fee_msat == frame.loc[ok, "fee_msat"].sum()
    assert res.fee_eur == pytest.approx(res.fee_msat * 60_000.0 / 1e11)
    assert res.latency_p50_s == pytest.approx(np.percentile(frame.loc[ok, "latency_s"], 50))
    assert res.success_rate > 0.8  # small amounts between well-connected nodes
    # every settled payment crosses the agent's leaf channel plus at least one more hop
    assert (frame.loc[ok, "hops"] >= 2).all()
    assert set(frame["direction"]) == {"pay", "receive"}
    payers = frame[frame["direction"] == "pay"]
    np.testing.assert_allclose(payers["amount_eur"], amounts[payers["agent"]])
    d = res.to_dict()
    json.dumps(d)
    assert d["operator"] == res.operator and "payments" not in d


def test_settlement_is_seeded(graph, settled):
    amounts, res = settled
    again = route_settlement(graph, amounts, seed=7, eur_per_btc=60_000.0)
    assert again.to_dict() == res.to_dict()
    other = route_settlement(graph, amounts, seed=8, eur_per_btc=60_000.0)
    assert not other.to_frame()["attach_node"].equals(res.to_frame()["attach_node"])


def test_given_operator_and_attachments(graph):
    core = graph.largest_scc()
    deg = graph.out_degree[core] + graph.in_degree[core]
    order = core[np.argsort(-deg, kind="stable")]
    operator, attach = str(graph.node_ids[order[1]]), order[2:6]
    amounts = np.array([2.0, -1.0, 3.0, -4.0])
    res = route_settlement(
        graph, amounts, seed=1, operator=operator, attach_to=attach, balance_model="half"
    )
    frame = res.to_frame()
    assert res.operator == operator
    assert frame["attach_node"].tolist() == [str(graph.node_ids[i]) for i in attach[[0, 2, 1, 3]]]
    assert frame["leaf"].tolist() == ["agent-0", "agent-2", "agent-1", "agent-3"]
    with pytest.raises(InvalidParameterError):
        route_settlement(graph, amounts, seed=1, attach_to=attach[:2])


def test_amounts_round_to_the_nearest_msat_and_dust_is_strictly_below() -> None:
    """At 10^8 EUR/BTC one EUR is 1000 msat: 0.9996 EUR rounds up to 1000 msat (1 sat, kept
    at dust_sat=1: only amounts below it are dust), 0.9994 EUR rounds down to 999 msat
    (dust), 1 EUR is exactly 1 sat (kept). Hand-derived."""
    amounts = [1.0, 0.9996, 0.9994, -2.5004]
    np.testing.assert_array_equal(eur_to_msat(np.array(amounts), 1e8), [1000, 1000, 999, 2500])
    plan = settlement_payments(amounts, eur_per_btc=1e8, dust_sat=1)
    assert plan["agent"].tolist() == [0, 1, 3]
    assert plan["direction"].tolist() == ["pay", "pay", "receive"]
    assert plan["amount_msat"].tolist() == [1000, 1000, 2500]


def test_attachment_needs_channels_both_ways_and_never_the_operator(make_graph) -> None:
    """Nodes 0..3 with channels both ways 0-1, 0-2, 0-3, 1-2, 2-3 and one direction only
    1 -> 3 (its reverse disabled): channels out/in are 0: 3/3, 1: 3/2, 2: 3/3, 3: 2/3. With
    min_channels=3 nodes 0 and 2 qualify; excluding the operator 0 leaves node 2 alone."""
    rows = []
    for key, u, v in (("c01", 0, 1), ("c02", 0, 2), ("c03", 0, 3), ("c12", 1, 2), ("c23", 2, 3)):
        rows += [(key, u, v, 100_000, 0, 0), (key, v, u, 100_000, 0, 0)]
    rows += [("c13", 1, 3, 100_000, 0, 0), ("c13", 3, 1, 100_000, 0, 0, 40, 0, None, 1)]
    g = make_graph(rows)
    assert g.out_degree.tolist() == [3, 3, 3, 2] and g.in_degree.tolist() == [3, 2, 3, 3]
    np.testing.assert_array_equal(attachment_candidates(g, 3, exclude=0), [2])
    np.testing.assert_array_equal(attachment_candidates(g, 3, exclude=1), [0, 2])
    # none qualifies: the graph cannot route the settlement (exit 6 like `btut route`)
    with pytest.raises(NoRouteError, match="has 4 channels each way"):
        attachment_candidates(g, 4, exclude=0)


def test_payers_pay_the_operator_and_the_operator_pays_receivers(make_graph) -> None:
    """Operator 0; both agents attach to node 1, whose channel with 0 is enabled only
    1 -> 0 (0 -> 1 disabled, so not loaded); 0 also has a channel both ways with 2, which
    has no way to 1. The payer's path agent-0 -> 1 -> 0 exists, so it settles; the
    operator cannot reach node 1 at all, so paying the receiver fails as disconnected."""
    rows = [
        ("c10", 1, 0, 1_000_000, 0, 0),
        ("c10", 0, 1, 1_000_000, 0, 0, 40, 0, None, 1),
        ("c02", 0, 2, 1_000_000, 0, 0),
        ("c02", 2, 0, 1_000_000, 0, 0),
    ]
    g = make_graph(rows)
    res = route_settlement(
        g,
        [1.0, -1.0],
        seed=0,
        operator=0,
        attach_to=[1, 1],
        balance_model="half",
        multipart=False,
    )
    frame = res.to_frame()
    assert frame["direction"].tolist() == ["pay", "receive"]
    assert frame["leaf"].tolist() == ["agent-0", "agent-1"]
    assert frame["success"].tolist() == [True, False]
    assert frame["failure_reason"].tolist()[1] == "disconnected"
    assert frame["hops"].tolist()[0] == 2  # agent-0 -> 1 -> 0
    assert res.n_payers == 1 and res.n_payees == 1 and res.n_success == 1


def test_uniform_balances_are_uniform_shares_of_capacity(make_graph) -> None:
    """``balance_model="uniform"`` draws each public channel's node1 balance uniformly in
    0..capacity (msat), so node1 share / capacity ~ U(0, 1); leaf channels stay at half."""
    rng = np.random.default_rng(5)
    caps = rng.integers(20_000, 5_000_000, size=400)
    rows = [(f"c{i}", i, i + 1, int(c), 0, 0) for i, c in enumerate(caps)]
    public = make_graph(rows)
    full = public.with_leaf_nodes(["agent-0"], [0], 30_000, key_prefix="leaf:")
    node1 = _balances(public, full, "uniform", np.random.default_rng(11))
    cap = full.channel_capacity_sat * 1000
    is_leaf = np.array([str(k).startswith("leaf:") for k in full.channel_key])
    assert is_leaf.sum() == 1 and (~is_leaf).sum() == 400
    share = node1[~is_leaf] / cap[~is_leaf]
    assert ((share >= 0.0) & (share <= 1.0)).all()
    assert not np.allclose(share, 0.5), "uniform balances must not all be half"
    p = stats.kstest(share, "uniform").pvalue
    assert p > 1e-3, f"node1 shares are not U(0, 1): KS p = {p:.3g}"
    assert node1[is_leaf].tolist() == [30_000 * 1000 // 2]
    # seeded: the same generator state gives the same balances
    again = _balances(public, full, "uniform", np.random.default_rng(11))
    np.testing.assert_array_equal(again, node1)


@pytest.mark.parametrize(
    ("amounts", "eur_per_btc", "match"),
    [
        ([1.0], "50000", "eur_per_btc must be a finite number"),  # TypeError before
        ([1.0], None, "eur_per_btc must be a finite number"),
        ([1.0], True, "eur_per_btc must be a finite number"),
        ([1.0], -5.0, "eur_per_btc must be positive"),
        (["x"], 5e4, "amount_eur must be numbers"),  # ValueError before
        # exactly 2**63 msat: int64's maximum rounds to 2**63 as a float, so this passed
        # and wrapped to a negative amount
        ([2.0**63 * 6e4 / 1e11], 6e4, "too large"),
    ],
)
def test_eur_to_msat_arguments(amounts, eur_per_btc, match):
    with pytest.raises(InvalidParameterError, match=match):
        eur_to_msat(amounts, eur_per_btc)


def test_eur_to_msat_takes_numpy_prices():
    assert eur_to_msat([1.0], np.float32(5e4)).tolist() == [2_000_000]
    assert eur_to_msat([1.0], np.int64(50_000)).tolist() == [2_000_000]


@pytest.mark.parametrize("bad", ["a", -5, 1.5, True])
def test_route_settlement_min_channels(graph, bad):
    # "a" gave numpy's UFuncTypeError, -5 was accepted
    with pytest.raises(InvalidParameterError, match="min_channels must be an integer >= 0"):
        route_settlement(graph, [1.0, -1.0], seed=0, min_channels=bad)
