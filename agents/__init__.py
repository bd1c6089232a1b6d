"""Typed prosumer agents: configuration, population sampling, profiles, risk-aware bidding.

* :mod:`agents.config`: kinds (``consumer``, ``pv``, ``pv_storage``, ``ev``), parameter
  distributions with defaults and validation, the tariff (``PopulationConfig``).
* :mod:`agents.population`: ``sample_population`` into a structure of numpy arrays.
* :mod:`agents.profiles`: real load/solar shapes of a market day and per-agent net demand.
* :mod:`agents.bidding`: the nested mean-CVaR dynamic programme (``best_response``).

Layering: imports ``risk``, ``forecasting`` and ``data`` only.
"""

from agents.bidding import (
    DPGrid,
    DPResult,
    ErrorQuadrature,
    PricePath,
    best_response,
    stage_cost,
)
from agents.config import (
    DEFAULT_PARAMS,
    DEFAULT_SHARES,
    KIND_PARAMETERS,
    KINDS,
    PARAMETERS,
    AgentParams,
    Dist,
    PopulationConfig,
    TypeConfig,
)
from agents.population import Population, sample_population, stratified_counts
from agents.profiles import (
    DayShapes,
    agent_net_demand,
    agent_profiles,
    day_profiles,
    expected_profile,
    iter_net_demand,
    planning_profiles,
)

__all__ = [
    "DEFAULT_PARAMS",
    "DEFAULT_SHARES",
    "KINDS",
    "KIND_PARAMETERS",
    "PARAMETERS",
    "AgentParams",
    "DPGrid",
    "DPResult",
    "DayShapes",
    "Dist",
    "ErrorQuadrature",
    "Population",
    "PopulationConfig",
    "PricePath",
    "TypeConfig",
    "agent_net_demand",
    "agent_profiles",
    "best_response",
    "day_profiles",
    "expected_profile",
    "iter_net_demand",
    "planning_profiles",
    "sample_population",
    "stage_cost",
    "stratified_counts",
]
