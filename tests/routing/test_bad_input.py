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
