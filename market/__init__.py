"""BTUT mean-field engine (generic, no energy terms) and the energy market built on it.

Finite mean-field games (``FiniteMFG``) with exact mean field, best response,
exploitability and four equilibrium solvers; the typed linear-quadratic mean-field-type
game in closed form (coupled Riccati ODEs); a finite-volume Fokker-Planck solver; and
Gaussian-kernel sensing of N points by binning and FFT. Classic games live in
``market.games``. The energy market (``market.energy``: the typed prosumer game on the
engine; ``market.clearing``: the finite-N market and its settlement) is the one part
that speaks of energy.
"""

from market.clearing import (
    REDISTRIBUTIONS,
    ChunkStatistics,
    FiniteMarketResult,
    clear_finite_market,
    market_statistics,
    settle_market,
)
from market.energy import (
    DEFAULT_BINS,
    DEFAULT_KAPPA,
    DEFAULT_TOL_EUR,
    EnergyEquilibrium,
    EnergyGame,
    energy_game,
    noop_policy,
    solve_energy_market,
)
from market.fokker_planck import (
    FPGrid,
    FPSolution,
    fokker_planck_step,
    max_explicit_dt,
    solve_fokker_planck,
)
from market.kernel import KernelField, kernel_field, kernel_sensing, kernel_sensing_direct
from market.lq import (
    LQLineGame,
    LQSimulation,
    LQSolution,
    TypedLQGame,
    discretize_lq,
    lq_line_game,
    simulate_lq,
    solve_lq,
)
from market.mfg import (
    BestResponse,
    FiniteMFG,
    best_response,
    exploitability,
    mean_field,
    policy_from_mean_field,
    policy_value,
    q_values,
    uniform_policy,
)
from market.planner import (
    DEFAULT_MAX_EXACT_AGENTS,
    BenchmarkScores,
    PlannerResult,
    baseline_cost,
    benchmark_scores,
    efficiency,
    expected_load_kwh,
    plan_community,
    price_of_anarchy,
    stratified_sample,
)
from market.solvers import METHODS, MFGSolution, solve

__all__ = [
    "DEFAULT_BINS",
    "DEFAULT_KAPPA",
    "DEFAULT_MAX_EXACT_AGENTS",
    "DEFAULT_TOL_EUR",
    "METHODS",
    "REDISTRIBUTIONS",
    "BenchmarkScores",
    "BestResponse",
    "ChunkStatistics",
    "EnergyEquilibrium",
    "EnergyGame",
    "FPGrid",
    "FPSolution",
    "FiniteMFG",
    "FiniteMarketResult",
    "KernelField",
    "LQLineGame",
    "LQSimulation",
    "LQSolution",
    "MFGSolution",
    "PlannerResult",
    "TypedLQGame",
    "baseline_cost",
    "benchmark_scores",
    "best_response",
    "clear_finite_market",
    "discretize_lq",
    "efficiency",
    "energy_game",
    "expected_load_kwh",
    "exploitability",
    "fokker_planck_step",
    "kernel_field",
    "kernel_sensing",
    "kernel_sensing_direct",
    "lq_line_game",
    "market_statistics",
    "max_explicit_dt",
    "mean_field",
    "noop_policy",
    "plan_community",
    "policy_from_mean_field",
    "policy_value",
    "price_of_anarchy",
    "q_values",
    "settle_market",
    "simulate_lq",
    "solve",
    "solve_energy_market",
    "solve_fokker_planck",
    "solve_lq",
    "stratified_sample",
    "uniform_policy",
]
