"""Bad input to the public routing functions: a one-line InvalidParameterError, never a
raw numpy error or a silently wrong number (amounts, edge indices, seeds)."""

from __future__ import annotations

import numpy as np
import pytest

import routing
from data.errors import InvalidParameterError
from routing.paths import build_route, edge_weights, fee_msat, prune_mask


def test_amounts_edges_and_seeds_are_checked(graph) -> None:
    with pytest.raises(InvalidParameterError, match="finite EUR"):
        routing.eur_to_msat(np.array([1.0, float("nan")]), 60_000)
    for amount in (0, -1):
        with pytest.raises(InvalidParameterError, match="amount_msat must be positive"):
            build_route(graph, [0], amount)
        with pytest.raises(InvalidParameterError, match="amount_msat must be positive"):
            edge_weights(graph, amount)
        with pytest.raises(InvalidParameterError, match="amount_msat must be positive"):
            prune_mask(graph, amount)
    with pytest.raises(InvalidParameterError, match="route edges must be indices"):
        build_route(graph, [10**9], 1000)
    with pytest.raises(InvalidParameterError, match="exclude_edges holds edge indices"):
        prune_mask(graph, 1000, exclude_edges=np.array([10**9]))
    with pytest.raises(InvalidParameterError, match="exclude_edges holds edge indices"):
        prune_mask(graph, 1000, exclude_edges=np.array([-1]))
    for seed in (-1, 1.5, True):
        with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0"):
            routing.PaymentSimulator(graph, seed=seed)
        with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0"):
            routing.simulate_random_payments(graph, 2, 1000, seed=seed)
        with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0"):
            routing.route_settlement(graph, [1.0, -1.0], seed=seed)
    # valid input still works, and an excluded edge is excluded
    kept = prune_mask(graph, 1000, exclude_edges=np.array([0]))
    assert not kept[0] and kept.sum() == prune_mask(graph, 1000).sum() - prune_mask(graph, 1000)[0]


def test_fee_msat_takes_non_negative_integers_only() -> None:
    # base + floor(amount * ppm / 10**6), the BOLT 7 fee, by hand:
    assert fee_msat(1000, 100, 4_006_993) == 1000 + 400
    assert fee_msat(np.int64(0), np.int32(1), 999_999) == 0
    for bad in ((-1, 1, 10), (1, -1, 10), (1, 1, -10), (1.5, 1, 10), (1, 1, True)):
        with pytest.raises(InvalidParameterError, match="fee_msat takes integers >= 0"):
            fee_msat(*bad)


def test_a_graph_and_params_of_the_wrong_type_are_named(graph) -> None:
    """``shortest_route('G', ...)`` and ``PaymentSimulator('G')`` were AttributeErrors deep
    inside, ``PaymentSimulator(graph, params='x')`` was accepted."""
    from routing import PaymentSimulator, k_shortest_paths, shortest_route

    for call in (
        lambda: shortest_route("G", "a", "b", 10),
        lambda: list(k_shortest_paths("G", "a", "b", 10)),
        lambda: PaymentSimulator("G"),
    ):
        with pytest.raises(InvalidParameterError, match=r"^graph must be a ChannelGraph \("):
            call()
    with pytest.raises(InvalidParameterError, match=r"^params must be a RoutingParams \(or None"):
        PaymentSimulator(graph, params="x")
    a, b = graph.node_ids[graph.largest_scc()[:2]]
    with pytest.raises(InvalidParameterError, match=r"^params must be a RoutingParams \(or None"):
        shortest_route(graph, a, b, 10_000, params={"theta": 1})
    # k and misspelt options were a TypeError from the forwarded keywords
    for bad in ({"k": 3}, {"thetta": 0.5}):
        with pytest.raises(InvalidParameterError, match=r"^shortest_route has no option"):
            shortest_route(graph, a, b, 10_000, **bad)


def _arrays() -> dict:
    """A valid three-node graph as constructor arrays: a-b (both ways) and b-c (one way)."""
    return dict(
        node_ids=np.array(["a", "b", "c"]),
        aliases=np.array(["A", "B", "C"]),
        edge_source=np.array([0, 1, 1]),
        edge_target=np.array([1, 0, 2]),
        channel_id=np.array(["ab", "ab", "bc"]),
        capacity_sat=np.array([1000, 1000, 500]),
        base_fee_msat=np.array([1000, 0, 10]),
        fee_rate_ppm=np.array([1, 2, 3]),
        cltv_delta=np.array([40, 40, 144]),
        htlc_min_msat=np.array([0, 1, 0]),
        htlc_max_msat=np.array([10**6, 10**6, 5 * 10**5]),
        disabled=np.array([False, False, False]),
        last_update=np.array([1_600_000_000, -1, 0]),
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("edge_target", [1, 0, 3], r"edge_target\[2\] is 3, outside 0\.\.2"),
        ("edge_source", [0, -1, 1], r"edge_source\[1\] is -1, outside 0\.\.2"),
        ("edge_target", [1, 1, 2], r"edge 1 is a self-loop \(node 1\)"),
        ("edge_source", [0.0, 1.5, 1.0], r"edge_source\[1\] is 1\.5, not a whole number"),
        ("edge_target", [1, 0], "edge_target has 2 values, edge_source has 3"),
        ("channel_id", ["ab", "ab"], "channel_id has 2 values, edge_source has 3"),
        ("capacity_sat", [1000, 1000, 0], r"capacity_sat\[2\] is 0, outside 1\.\."),
        ("capacity_sat", [1000.0, 1000.0, np.nan], r"capacity_sat\[2\] is nan, not a whole"),
        ("base_fee_msat", [1000, -5, 10], r"base_fee_msat\[1\] is -5, outside 0\.\."),
        ("fee_rate_ppm", ["1", "2", "3"], "fee_rate_ppm must hold whole numbers, got dtype <U1"),
        ("cltv_delta", [[40, 40, 144]], r"cltv_delta must be a 1-D array, got shape \(1, 3\)"),
        ("htlc_min_msat", [0, 2 * 10**6, 0], "edge 1: htlc_min_msat 2000000 is above htlc_max"),
        ("disabled", [0, 2, 0], r"disabled\[1\] is 2, outside 0\.\.1"),
        ("last_update", [0, -2, 0], r"last_update\[1\] is -2, outside -1\.\."),
        ("aliases", ["A", "B"], "aliases has 2 values, node_ids has 3"),
        ("reference_capacity_sat", 0, "reference_capacity_sat must be a positive whole"),
        ("reference_capacity_sat", 1.5, "reference_capacity_sat must be a positive whole"),
    ],
)
def test_a_graph_built_from_arrays_checks_them(field: str, value: object, message: str) -> None:
    """``ChannelGraph(...)`` built directly (its loaders check their files) took any arrays:
    an edge to node 3 of a 3-node graph failed in numpy's words later, a negative fee or a
    NaN capacity gave wrong routes without a word."""
    arrays = _arrays()
    routing.ChannelGraph(**arrays, source_name="toy")  # valid as given
    arrays[field] = np.asarray(value) if field != "reference_capacity_sat" else value
    with pytest.raises(InvalidParameterError, match=rf"^toy: {message}") as info:
        routing.ChannelGraph(**arrays, source_name="toy")
    assert "\n" not in str(info.value)


def test_a_graph_from_arrays_takes_whole_floats_and_0_1_flags() -> None:
    arrays = _arrays()
    plain = routing.ChannelGraph(**arrays)
    arrays.update(
        capacity_sat=arrays["capacity_sat"].astype(float),
        disabled=np.array([0, 0, 0]),
        reference_capacity_sat=np.int64(2000),
    )
    again = routing.ChannelGraph(**arrays)
    assert again.capacity_sat.dtype == np.int64 and again.disabled.dtype == bool
    np.testing.assert_array_equal(again.capacity_sat, plain.capacity_sat)
    assert again.reference_capacity_sat == 2000 and plain.reference_capacity_sat == 1000
