"""Settlement routing on payment-channel graphs (Lightning snapshots).

- :class:`ChannelGraph`: the channel graph as arrays (CSR over directed half-channels);
- :func:`k_shortest_paths`: Yen's k cheapest loopless routes for an amount (pruned);
- :func:`split_payment`: multi-part split when one route is not enough;
- :class:`PaymentSimulator` / :func:`simulate_random_payments`: hidden balances,
  failures, retries and lognormal per-hop latency;
- :func:`route_settlement`: agents' net EUR amounts -> O(N) payments via an operator.

Imports only ``data`` (errors) besides numpy, scipy and pandas; networkx is imported
lazily by :meth:`ChannelGraph.to_networkx`.
"""

from routing.graph import ChannelGraph, load_channel_graph
from routing.multipart import SplitPayment, route_fits, split_payment
from routing.paths import (
    DEFAULT_HOP_LATENCY_S,
    DEFAULT_LATENCY_MU,
    DEFAULT_LATENCY_SIGMA,
    Route,
    RoutingParams,
    build_route,
    edge_weights,
    fee_msat,
    k_shortest_paths,
    prune_mask,
    shortest_route,
)
from routing.settlement import (
    DEFAULT_EUR_PER_BTC,
    SettlementRouting,
    eur_to_msat,
    route_settlement,
    settlement_payments,
)
from routing.simulator import (
    FAILURE_REASONS,
    PaymentBatchResult,
    PaymentResult,
    PaymentSimulator,
    simulate_random_payments,
)

__all__ = [
    "DEFAULT_EUR_PER_BTC",
    "DEFAULT_HOP_LATENCY_S",
    "DEFAULT_LATENCY_MU",
    "DEFAULT_LATENCY_SIGMA",
    "FAILURE_REASONS",
    "ChannelGraph",
    "PaymentBatchResult",
    "PaymentResult",
    "PaymentSimulator",
    "Route",
    "RoutingParams",
    "SettlementRouting",
    "SplitPayment",
    "build_route",
    "edge_weights",
    "eur_to_msat",
    "fee_msat",
    "k_shortest_paths",
    "load_channel_graph",
    "prune_mask",
    "route_fits",
    "route_settlement",
    "settlement_payments",
    "shortest_route",
    "simulate_random_payments",
    "split_payment",
]
