"""BTUT mean-field engine (generic, no energy terms) and, later, the energy market.

Finite mean-field games (``FiniteMFG``) with exact mean field, best response,
exploitability and four equilibrium solvers; the typed linear-quadratic mean-field-type
game in closed form (coupled Riccati ODEs); a finite-volume Fokker-Planck solver; and
Gaussian-kernel sensing of N points by binning and FFT. Classic games live in
``market.games``.
"""

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
from market.solvers import METHODS, MFGSolution, solve

__all__ = [
    "METHODS",
    "BestResponse",
    "FPGrid",
    "FPSolution",
    "FiniteMFG",
    "KernelField",
    "LQLineGame",
    "LQSimulation",
    "LQSolution",
    "MFGSolution",
    "TypedLQGame",
    "best_response",
    "discretize_lq",
    "exploitability",
    "fokker_planck_step",
    "kernel_field",
    "kernel_sensing",
    "kernel_sensing_direct",
    "lq_line_game",
    "max_explicit_dt",
    "mean_field",
    "policy_from_mean_field",
    "policy_value",
    "q_values",
    "simulate_lq",
    "solve",
    "solve_fokker_planck",
    "solve_lq",
    "uniform_policy",
]
