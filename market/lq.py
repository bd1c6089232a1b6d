"""The typed linear-quadratic mean-field game, solved in closed form by coupled Riccati ODEs.

Model (generic, no units). K types with population shares λ_k > 0, Σ λ_k = 1. An agent of
type k has a scalar state X and control u:

    dX = (a_k X + b_k u + ā_k x̄(t)) dt + σ_k dW,     X(0) has mean m0_k, variance v0_k,

where x̄(t) = Σ_k λ_k m_k(t) is the population mean and m_k(t) = E[X(t) | type k]. It
minimises, taking x̄(·) as given (a small agent: Nash / mean-field game, not control),

    J_k = E[ ∫_0^T ( ½ q_k X² + s_k X x̄ + ½ q̄_k x̄² + ½ r_k u² ) dt
             + ½ qT_k X(T)² + sT_k X(T) x̄(T) + ½ q̄T_k x̄(T)² ].

(Tracking a multiple h of the mean, ½ q (X − h x̄)², is q, s = −q h, q̄ = q h².) The types
are coupled through x̄ in the costs (s, q̄) and in the dynamics (ā).

Solution. The value of type k is V_k(t, x) = ½ P_k x² + p_k x + c_k and the equilibrium
control is linear feedback u = −G_k(t) x − g_k(t), G_k = b_k P_k / r_k, g_k = b_k p_k / r_k:

    −P'_k = 2 a_k P_k − (b_k² / r_k) P_k² + q_k,                  P_k(T) = qT_k
    −p'_k = (a_k − b_k² P_k / r_k) p_k + (s_k + ā_k P_k) x̄,        p_k(T) = sT_k x̄(T)
     m'_k = (a_k − b_k² P_k / r_k) m_k − (b_k² / r_k) p_k + ā_k x̄,  m_k(0) = m0_k
    −c'_k = ½ q̄_k x̄² + ā_k x̄ p_k − (b_k² / 2 r_k) p_k² + ½ σ_k² P_k,  c_k(T) = ½ q̄T_k x̄(T)²

The (m, p) system is a linear two-point boundary-value problem; it is decoupled by
p = Γ(t) m with the K×K (non-symmetric) matrix Riccati equation

    Γ' = −H Γ − Γ F + Γ B Γ − E,   Γ(T) = sT λᵀ,

H = diag(a − b²P/r), F = H + ā λᵀ, B = diag(b²/r), E = (s + āP) λᵀ. ``solve_lq``
integrates P and Γ backwards, then m, the variances v'_k = 2 (a_k − b_k² P_k/r_k) v_k + σ_k²
and the running part of c forwards (``scipy.integrate.solve_ivp``, DOP853, rtol 1e-10); the
equilibrium cost of type k is J_k = ½ P_k(0) (m0_k² + v0_k) + p_k(0) m0_k + c_k(0). If Γ
blows up on [0, T] there is no equilibrium of this form and ``InvalidParameterError`` says so.

Also here: ``simulate_lq`` (N agents with the closed-form feedback, for propagation of
chaos) and ``discretize_lq`` / ``lq_line_game`` (the game on a grid of states and actions
as a ``market.mfg.FiniteMFG``, for testing the generic solvers against the closed form).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Literal, cast

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.integrate import solve_ivp
from scipy.special import ndtr

from data.checks import check_real
from data.errors import InvalidParameterError
from data.seeds import check_seed
from market.mfg import FiniteMFG

Coupling = Literal["empirical", "mean_field"]

_PER_TYPE = (
    "a",
    "b",
    "a_bar",
    "sigma",
    "q",
    "s",
    "q_bar",
    "r",
    "q_terminal",
    "s_terminal",
    "q_bar_terminal",
    "mean0",
    "var0",
)


@dataclass(frozen=True)
class TypedLQGame:
    """A typed LQ mean-field game (see the module docstring for the model).

    Every per-type coefficient is a scalar (shared by all types) or a sequence of length
    K = ``len(shares)``; they are stored as tuples of floats. ``type_names`` label the types
    in frames (default ``type0``, ``type1``, ...).
    """

    shares: tuple[float, ...] = (1.0,)
    a: tuple[float, ...] | float = 0.0
    b: tuple[float, ...] | float = 1.0
    a_bar: tuple[float, ...] | float = 0.0
    sigma: tuple[float, ...] | float = 0.0
    q: tuple[float, ...] | float = 0.0
    s: tuple[float, ...] | float = 0.0
    q_bar: tuple[float, ...] | float = 0.0
    r: tuple[float, ...] | float = 1.0
    q_terminal: tuple[float, ...] | float = 0.0
    s_terminal: tuple[float, ...] | float = 0.0
    q_bar_terminal: tuple[float, ...] | float = 0.0
    mean0: tuple[float, ...] | float = 0.0
    var0: tuple[float, ...] | float = 0.0
    horizon: float = 1.0
    type_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        shares = _float_tuple(self.shares, "shares")
        k = len(shares)
        if k == 0:
            raise InvalidParameterError("shares must list at least one type")
        if min(shares) <= 0 or abs(sum(shares) - 1.0) > 1e-9:
            raise InvalidParameterError(f"shares must be positive and sum to 1, got {shares}")
        object.__setattr__(self, "shares", shares)
        for name in _PER_TYPE:
            vals = _float_tuple(getattr(self, name), name)
            if len(vals) == 1:
                vals = vals * k
            if len(vals) != k:
                raise InvalidParameterError(
                    f"{name} must be a scalar or have one entry per type ({k}), got {len(vals)}"
                )
            object.__setattr__(self, name, vals)
        # the per-type fields hold tuples of floats from here on (set just above)
        if min(cast(tuple[float, ...], self.r)) <= 0:
            raise InvalidParameterError(f"r must be positive for every type, got {self.r}")
        if (
            min(cast(tuple[float, ...], self.sigma)) < 0
            or min(cast(tuple[float, ...], self.var0)) < 0
        ):
            raise InvalidParameterError("sigma and var0 must be non-negative")
        horizon = check_real(self.horizon, "horizon")
        if not horizon > 0:
            raise InvalidParameterError(f"horizon must be positive, got {self.horizon!r}")
        object.__setattr__(self, "horizon", horizon)
        names = self.type_names
        if names is None:
            names = tuple(f"type{i}" for i in range(k))
        if isinstance(names, str) or not isinstance(names, Iterable):  # "ab" is not two names
            raise InvalidParameterError(
                f"type_names must be a sequence of names, one per type ({k}), got {names!r}"
            )
        names = tuple(names)
        if not all(isinstance(n, str) and n for n in names):
            raise InvalidParameterError(f"type_names must be non-empty texts, got {names}")
        if len(names) != k or len(set(names)) != k:
            raise InvalidParameterError(f"type_names must be {k} distinct names, got {names}")
        object.__setattr__(self, "type_names", names)

    @property
    def n_types(self) -> int:
        return len(self.shares)

    def array(self, name: str) -> np.ndarray:
        """A per-type coefficient (or ``shares``) as a float array ``(K,)``."""
        if name != "shares" and name not in _PER_TYPE:
            raise InvalidParameterError(f"unknown coefficient {name!r}")
        return np.array(getattr(self, name), dtype=float)

    def to_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, eq=False)
class LQSolution:
    """The closed-form equilibrium on a time grid (``n`` times, ``K`` types).

    ``riccati`` P (n, K); ``gain`` G and ``offset`` g (n, K): the equilibrium control of a
    type-k agent at state x is u = −G_k(t) x − g_k(t); ``affine`` p (n, K) = Γ m;
    ``gamma`` Γ (n, K, K); ``type_means`` m (n, K) and ``type_variances`` v (n, K) of the
    state; ``mean`` x̄ (n,); ``costs`` J_k (K,) the expected equilibrium cost per type and
    ``cost`` = Σ λ_k J_k.
    """

    game: TypedLQGame
    times: np.ndarray
    riccati: np.ndarray
    gain: np.ndarray
    offset: np.ndarray
    affine: np.ndarray
    gamma: np.ndarray
    type_means: np.ndarray
    type_variances: np.ndarray
    mean: np.ndarray
    costs: np.ndarray
    cost: float

    def control(self, index: int, x: np.ndarray, types: np.ndarray) -> np.ndarray:
        """Equilibrium controls at time ``times[index]`` for states ``x`` of types ``types``."""
        return -self.gain[index][types] * x - self.offset[index][types]

    def to_frame(self) -> pd.DataFrame:
        """One row per time (index ``t``): ``mean`` and per type ``<name>_mean``, ``_var``,
        ``_riccati``, ``_gain``, ``_offset``."""
        data = {"mean": self.mean}
        for k, name in enumerate(cast(tuple[str, ...], self.game.type_names)):  # set in post_init
            data[f"{name}_mean"] = self.type_means[:, k]
            data[f"{name}_var"] = self.type_variances[:, k]
            data[f"{name}_riccati"] = self.riccati[:, k]
            data[f"{name}_gain"] = self.gain[:, k]
            data[f"{name}_offset"] = self.offset[:, k]
        return pd.DataFrame(data, index=pd.Index(self.times, name="t"))

    def to_dict(self) -> dict:
        return {
            "game": self.game.to_dict(),
            "times": self.times.tolist(),
            "mean": self.mean.tolist(),
            "type_means": self.type_means.tolist(),
            "type_variances": self.type_variances.tolist(),
            "gain": self.gain.tolist(),
            "offset": self.offset.tolist(),
            "costs": self.costs.tolist(),
            "cost": self.cost,
        }


def solve_lq(
    game: TypedLQGame,
    *,
    n_times: int = 201,
    times: Sequence[float] | np.ndarray | None = None,
    rtol: float = 1e-10,
    atol: float = 1e-12,
) -> LQSolution:
    """The equilibrium of ``game`` by the coupled Riccati ODEs, on ``n_times`` uniform times
    over [0, T] (or on ``times``, increasing, within [0, T])."""
    if not isinstance(game, TypedLQGame):
        raise InvalidParameterError(f"game must be a TypedLQGame, got {type(game).__name__}")
    T = game.horizon
    if times is None:
        if not isinstance(n_times, int | np.integer) or n_times < 2:
            raise InvalidParameterError(f"n_times must be an integer >= 2, got {n_times!r}")
        grid = np.linspace(0.0, T, int(n_times))
    else:
        grid = np.asarray(times, dtype=float)
        if grid.ndim != 1 or grid.size < 1 or not np.isfinite(grid).all():
            raise InvalidParameterError("times must be a non-empty 1-D array of finite numbers")
        if grid[0] < 0 or grid[-1] > T * (1 + 1e-12) or (np.diff(grid) <= 0).any():
            raise InvalidParameterError(f"times must increase within [0, T={T:g}]")
    K = game.n_types
    lam = game.array("shares")
    a, b, abar, sig = (game.array(n) for n in ("a", "b", "a_bar", "sigma"))
    q, s, qbar, r = (game.array(n) for n in ("q", "s", "q_bar", "r"))
    qT, sT, qbarT = (game.array(n) for n in ("q_terminal", "s_terminal", "q_bar_terminal"))
    m0, v0 = game.array("mean0"), game.array("var0")
    bb = b * b / r

    # ---- backward: P (K) and Γ (K×K), from T down to 0
    def backward(_t: float, y: np.ndarray) -> np.ndarray:
        P = y[:K]
        Gam = y[K:].reshape(K, K)
        h = a - bb * P
        F = np.diag(h) + np.outer(abar, lam)
        E = np.outer(s + abar * P, lam)
        dP = -(2.0 * a * P - bb * P * P + q)
        dG = -(h[:, None] * Gam) - Gam @ F + (Gam * bb[None, :]) @ Gam - E
        return np.concatenate([dP, dG.ravel()])

    y_T = np.concatenate([qT, np.outer(sT, lam).ravel()])
    back = solve_ivp(
        backward, (T, 0.0), y_T, method="DOP853", rtol=rtol, atol=atol, dense_output=True
    )
    if back.status != 0 or not np.isfinite(back.y).all():
        raise InvalidParameterError(
            "the coupled Riccati equations blow up before t = 0 (no linear equilibrium on "
            f"this horizon): {back.message}"
        )

    def riccati_at(t: float) -> tuple[np.ndarray, np.ndarray]:
        y = back.sol(t)
        return y[:K], y[K:].reshape(K, K)

    # ---- forward: m (K), v (K) and the running part of c (K)
    def forward(t: float, y: np.ndarray) -> np.ndarray:
        P, Gam = riccati_at(t)
        m = y[:K]
        v = y[K : 2 * K]
        h = a - bb * P
        p = Gam @ m
        xbar = lam @ m
        dm = h * m - bb * p + abar * xbar
        dv = 2.0 * h * v + sig * sig
        dc = 0.5 * qbar * xbar**2 + abar * xbar * p - 0.5 * bb * p * p + 0.5 * sig * sig * P
        return np.concatenate([dm, dv, dc])

    fwd = solve_ivp(
        forward,
        (0.0, T),
        np.concatenate([m0, v0, np.zeros(K)]),
        method="DOP853",
        rtol=rtol,
        atol=atol,
        dense_output=True,
    )
    if fwd.status != 0 or not np.isfinite(fwd.y).all():
        raise InvalidParameterError(f"the mean-field ODE failed: {fwd.message}")

    yb = back.sol(grid)  # (K + K², n)
    yf = fwd.sol(grid)
    P = yb[:K].T
    gamma = yb[K:].T.reshape(-1, K, K)
    means = yf[:K].T
    variances = yf[K : 2 * K].T
    affine = np.einsum("nkj,nj->nk", gamma, means)
    xbar = means @ lam

    # equilibrium costs J_k = E V_k(0, X0)
    end = fwd.sol(T)
    xbar_T = lam @ end[:K]
    c0 = end[2 * K :] + 0.5 * qbarT * xbar_T**2
    P0, G0 = riccati_at(0.0)
    p0 = G0 @ m0
    costs = 0.5 * P0 * (m0 * m0 + v0) + p0 * m0 + c0
    return LQSolution(
        game=game,
        times=grid,
        riccati=P,
        gain=(b / r) * P,
        offset=(b / r) * affine,
        affine=affine,
        gamma=gamma,
        type_means=means,
        type_variances=variances,
        mean=xbar,
        costs=costs,
        cost=float(lam @ costs),
    )


# --------------------------------------------------------------------------- simulation


@dataclass(frozen=True, eq=False)
class LQSimulation:
    """N simulated agents in independent runs: empirical means on the time grid.

    ``mean`` (runs, n) is the empirical population mean x̄_N(t); ``type_means`` (runs, n, K)
    the empirical mean per type; ``type_counts`` (K,) the number of agents per type.
    """

    times: np.ndarray
    mean: np.ndarray
    type_means: np.ndarray
    type_counts: np.ndarray
    n_agents: int
    coupling: str
    seed: int | None

    @property
    def n_runs(self) -> int:
        return int(self.mean.shape[0])

    def sup_error(self, solution: LQSolution) -> np.ndarray:
        """max_t |x̄_N(t) − x̄(t)| per run, ``(runs,)`` (same time grid)."""
        return np.abs(self.mean - solution.mean[None, :]).max(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """Long format: ``run``, ``t``, ``mean``."""
        runs, n = self.mean.shape
        return pd.DataFrame(
            {
                "run": np.repeat(np.arange(runs), n),
                "t": np.tile(self.times, runs),
                "mean": self.mean.ravel(),
            }
        )

    def to_dict(self) -> dict:
        return {
            "times": self.times.tolist(),
            "mean": self.mean.tolist(),
            "type_counts": self.type_counts.tolist(),
            "n_agents": self.n_agents,
            "coupling": self.coupling,
            "seed": self.seed,
        }


def simulate_lq(
    solution: LQSolution,
    *,
    n_agents: int,
    n_runs: int = 1,
    seed: int | None = 0,
    coupling: Coupling = "empirical",
) -> LQSimulation:
    """Simulate ``n_agents`` agents playing the closed-form feedback, ``n_runs`` times.

    Types are allocated in proportion to the shares (largest remainders); initial states
    are Gaussian N(m0_k, v0_k); every agent has its own Brownian motion. The drift uses the
    closed-form gains G_k(t), g_k(t) and, in ā_k x̄, the *empirical* mean of the N agents
    (``coupling="empirical"``, the finite-N game) or the mean-field x̄(t)
    (``"mean_field"``). Steps: the solution's time grid, stochastic Heun (weak order 2 for
    additive noise, so the mean has an O(dt²) bias only). Vectorised over runs × agents.
    """
    if not isinstance(n_agents, int | np.integer) or n_agents < 1:
        raise InvalidParameterError(f"n_agents must be a positive integer, got {n_agents!r}")
    if not isinstance(n_runs, int | np.integer) or n_runs < 1:
        raise InvalidParameterError(f"n_runs must be a positive integer, got {n_runs!r}")
    if coupling not in ("empirical", "mean_field"):
        raise InvalidParameterError(
            f"coupling must be 'empirical' or 'mean_field', got {coupling!r}"
        )
    if seed is not None:  # None: fresh entropy, as numpy
        seed = check_seed(seed)
    game = solution.game
    K = game.n_types
    counts = _allocate(int(n_agents), game.array("shares"))
    bounds = np.concatenate([[0], np.cumsum(counts)])
    blocks = [slice(int(bounds[k]), int(bounds[k + 1])) for k in range(K)]
    rng = np.random.default_rng(seed)
    a, b, abar, sig = (game.array(n) for n in ("a", "b", "a_bar", "sigma"))
    m0, sd0 = game.array("mean0"), np.sqrt(game.array("var0"))
    times = solution.times
    # the closed-loop drift of a type-k agent is alpha_k(t) x + beta_k(t) + ā_k x̄
    alpha = a[None, :] - b[None, :] * solution.gain  # (n, K)
    beta = -b[None, :] * solution.offset
    n_runs, n_agents = int(n_runs), int(n_agents)

    x = np.empty((n_runs, n_agents))
    rng.standard_normal(out=x)
    for k, blk in enumerate(blocks):
        x[:, blk] *= sd0[k]
        x[:, blk] += m0[k]
    noise = np.empty_like(x)
    f0 = np.empty_like(x)
    pred = np.empty_like(x)

    means = np.empty((n_runs, times.size))
    type_means = np.full((n_runs, times.size, K), np.nan)

    def xbar_of(i: int, xs: np.ndarray) -> np.ndarray:
        if coupling == "empirical":
            return xs.mean(axis=1, keepdims=True)
        return np.full((n_runs, 1), solution.mean[i])

    def drift(i: int, xs: np.ndarray, out: np.ndarray) -> None:
        xbar = xbar_of(i, xs)
        for k, blk in enumerate(blocks):
            np.multiply(xs[:, blk], alpha[i, k], out=out[:, blk])
            out[:, blk] += beta[i, k] + abar[k] * xbar

    def record(i: int, xs: np.ndarray) -> None:
        means[:, i] = xs.mean(axis=1)
        for k, blk in enumerate(blocks):
            if counts[k]:
                type_means[:, i, k] = xs[:, blk].mean(axis=1)

    record(0, x)
    for i in range(times.size - 1):
        dt = times[i + 1] - times[i]
        rng.standard_normal(out=noise)
        for k, blk in enumerate(blocks):
            noise[:, blk] *= sig[k] * math.sqrt(dt)
        drift(i, x, f0)
        np.multiply(f0, dt, out=pred)
        pred += x
        pred += noise
        drift(i + 1, pred, pred)  # pred now holds f1
        f0 += pred
        f0 *= 0.5 * dt
        x += f0
        x += noise
        record(i + 1, x)
    return LQSimulation(
        times=times.copy(),
        mean=means,
        type_means=type_means,
        type_counts=counts,
        n_agents=n_agents,
        coupling=coupling,
        seed=seed,
    )


def _allocate(n: int, shares: np.ndarray) -> np.ndarray:
    """Agents per type in proportion to ``shares`` (largest remainders), summing to ``n``."""
    raw = n * shares
    counts = np.floor(raw).astype(int)
    short = n - int(counts.sum())
    if short:
        order = np.argsort(-(raw - counts), kind="stable")
        counts[order[:short]] += 1
    return counts


# --------------------------------------------------------------------------- discretisation


@dataclass(frozen=True, eq=False)
class LQLineGame:
    """The LQ game on a grid: ``game`` is the ``FiniteMFG``; state ``k * n_x + i`` is type k
    at ``x[i]``; action ``j`` is the control ``u[j]``; one period lasts ``dt``."""

    game: FiniteMFG
    spec: TypedLQGame
    x: np.ndarray
    u: np.ndarray
    dt: float

    @property
    def n_x(self) -> int:
        return int(self.x.size)

    def state_distribution(self, mean_field: np.ndarray) -> np.ndarray:
        """Per-period state distributions ``(T+1, S)`` from a mean field ``(T, S, A)``,
        with the distribution after the last transition appended."""
        L = np.asarray(mean_field, dtype=float)
        mu = L.sum(axis=2)
        last = _apply_transition(self.game, L.shape[0] - 1, L[-1])
        return np.vstack([mu, last[None, :]])

    def type_means(self, mean_field: np.ndarray) -> np.ndarray:
        """Mean state per type at t = 0, dt, ..., T: ``(T+1, K)``."""
        mu = self.state_distribution(mean_field).reshape(-1, self.spec.n_types, self.n_x)
        mass = mu.sum(axis=2)
        return (mu @ self.x) / mass

    def population_mean(self, mean_field: np.ndarray) -> np.ndarray:
        """Population mean x̄ at t = 0, dt, ..., T: ``(T+1,)``."""
        mu = self.state_distribution(mean_field).reshape(-1, self.spec.n_types, self.n_x)
        return mu.sum(axis=1) @ self.x

    def times(self) -> np.ndarray:
        """The period boundaries 0, dt, ..., T (``(T+1,)``), e.g. for ``solve_lq(times=...)``."""
        return self.dt * np.arange(self.game.horizon + 1)


def discretize_lq(
    spec: TypedLQGame,
    *,
    n_states: int = 61,
    n_actions: int = 41,
    n_steps: int = 20,
    x_range: tuple[float, float] | None = None,
    u_range: tuple[float, float] | None = None,
) -> LQLineGame:
    """The LQ game on a line grid as a finite MFG (for the generic solvers of ``market``).

    States: ``n_states`` equally spaced x in ``x_range`` per type (types never change, so
    S = K · n_states); actions: ``n_actions`` equally spaced u in ``u_range``; T =
    ``n_steps`` periods of dt = horizon / n_steps. Transition: the Euler-Maruyama step
    x + (a x + b u + ā x̄) dt + σ √dt ξ with ξ on the three points {−√3, 0, √3} with
    probabilities {1/6, 2/3, 1/6} (mean 0, variance 1), each point split linearly between
    its two neighbouring grid points (mean preserving; points outside the grid go to the end
    point). Reward: −(½ q x² + s x x̄ + ½ q̄ x̄² + ½ r u²) dt, terminal reward −(½ qT x² +
    sT x x̄ + ½ q̄T x̄²), where x̄ is the population mean of the period's state distribution.
    Initial distribution: λ_k times N(m0_k, v0_k) binned on the grid (a point mass is split
    linearly). Default ranges: x over the initial means ± 5 initial/terminal noise standard
    deviations (and at least ±1 around them), u over ±1.5 max |G x + g| of the closed form
    on that x range (only the range comes from the closed form, not the policy).
    """
    for name, val, low in (
        ("n_states", n_states, 3),
        ("n_actions", n_actions, 2),
        ("n_steps", n_steps, 1),
    ):
        if not isinstance(val, int | np.integer) or val < low:
            raise InvalidParameterError(f"{name} must be an integer >= {low}, got {val!r}")
    K = spec.n_types
    lam = spec.array("shares")
    a, b, abar, sig = (spec.array(n) for n in ("a", "b", "a_bar", "sigma"))
    q, s, qbar, r = (spec.array(n) for n in ("q", "s", "q_bar", "r"))
    qT, sT, qbarT = (spec.array(n) for n in ("q_terminal", "s_terminal", "q_bar_terminal"))
    m0, v0 = spec.array("mean0"), spec.array("var0")
    T = int(n_steps)
    dt = spec.horizon / T

    if x_range is None:
        spread = 5.0 * math.sqrt(float(np.max(v0 + sig**2 * spec.horizon)))
        lo = float(np.min(m0)) - max(spread, 1.0)
        hi = float(np.max(m0)) + max(spread, 1.0)
        x_range = (lo, hi)
    x_lo, x_hi = (float(v) for v in x_range)
    if not (math.isfinite(x_lo) and math.isfinite(x_hi) and x_lo < x_hi):
        raise InvalidParameterError(f"x_range must be finite with lo < hi, got {x_range!r}")
    x = np.linspace(x_lo, x_hi, int(n_states))
    if u_range is None:
        ref = solve_lq(spec, n_times=T + 1)
        reach = np.abs(ref.gain[:, :, None] * x[None, None, :] + ref.offset[:, :, None]).max()
        u_max = 1.5 * max(float(reach), 1e-3)
        u_range = (-u_max, u_max)
    u_lo, u_hi = (float(v) for v in u_range)
    if not (math.isfinite(u_lo) and math.isfinite(u_hi) and u_lo < u_hi):
        raise InvalidParameterError(f"u_range must be finite with lo < hi, got {u_range!r}")
    u = np.linspace(u_lo, u_hi, int(n_actions))

    n_x, n_u = x.size, u.size
    S, A = K * n_x, n_u
    type_of = np.repeat(np.arange(K), n_x)  # (S,)
    xs = np.tile(x, K)  # (S,)

    mu0 = np.concatenate([lam[k] * _bin_gaussian(x, m0[k], v0[k]) for k in range(K)])

    # drift without the mean-field term, per (s, a); the noise points per type
    base = (xs + a[type_of] * xs * dt)[:, None] + (b[type_of] * dt)[:, None] * u[None, :]
    shift = (abar[type_of] * dt)[:, None]
    noise_pts = np.sqrt(3.0 * dt) * sig  # per type
    noise_w = np.array([1.0 / 6.0, 2.0 / 3.0, 1.0 / 6.0])
    rows = np.arange(S * A)
    block_start = (type_of * n_x)[:, None] * np.ones((1, A), dtype=int)

    def population_mean(mu: np.ndarray) -> float:
        return float(mu @ xs)

    def transition(t: int, L_t: np.ndarray) -> sp.csr_matrix:
        xbar = population_mean(L_t.sum(axis=1))
        centre = base + shift * xbar  # (S, A)
        all_rows, all_cols, all_vals = [], [], []
        for o, w in zip((-1.0, 0.0, 1.0), noise_w, strict=True):
            target = centre + (o * noise_pts[type_of])[:, None]
            pos = np.clip((target - x_lo) / (x[1] - x[0]), 0.0, n_x - 1.0)
            i0 = np.minimum(np.floor(pos).astype(int), n_x - 2)
            frac = pos - i0
            cols = (block_start + i0).ravel()
            all_rows += [rows, rows]
            all_cols += [cols, cols + 1]
            all_vals += [w * (1.0 - frac).ravel(), w * frac.ravel()]
        mat = sp.csr_matrix(
            (np.concatenate(all_vals), (np.concatenate(all_rows), np.concatenate(all_cols))),
            shape=(S * A, S),
        )
        mat.sum_duplicates()
        return mat

    state_cost = (0.5 * q[type_of] * xs * xs)[:, None] + (0.5 * r[type_of])[:, None] * (u * u)[
        None, :
    ]

    def reward(t: int, L_t: np.ndarray) -> np.ndarray:
        xbar = population_mean(L_t.sum(axis=1))
        coupling = s[type_of] * xs * xbar + 0.5 * qbar[type_of] * xbar * xbar
        return -(state_cost + coupling[:, None]) * dt

    def terminal_reward(mu_T: np.ndarray) -> np.ndarray:
        xbar = population_mean(mu_T)
        return -(
            0.5 * qT[type_of] * xs * xs
            + sT[type_of] * xs * xbar
            + 0.5 * qbarT[type_of] * xbar * xbar
        )

    game = FiniteMFG(
        T,
        S,
        A,
        mu0,
        reward,
        transition,
        terminal_reward=terminal_reward,
        name=f"lq_line(K={K}, n_states={n_x}, n_actions={n_u}, n_steps={T})",
    )
    return LQLineGame(game=game, spec=spec, x=x, u=u, dt=dt)


def lq_line_game(
    spec: TypedLQGame,
    *,
    n_states: int = 61,
    n_actions: int = 41,
    n_steps: int = 20,
    x_range: tuple[float, float] | None = None,
    u_range: tuple[float, float] | None = None,
) -> FiniteMFG:
    """``discretize_lq(...).game``: the LQ game on a line grid as a ``FiniteMFG``."""
    return discretize_lq(
        spec,
        n_states=n_states,
        n_actions=n_actions,
        n_steps=n_steps,
        x_range=x_range,
        u_range=u_range,
    ).game


def _bin_gaussian(x: np.ndarray, mean: float, var: float) -> np.ndarray:
    """Probabilities on the grid ``x``: N(mean, var) binned to the nearest node, or a point
    mass split linearly between the two nodes around it (var = 0)."""
    h = x[1] - x[0]
    if var <= 0 or math.sqrt(var) < 1e-3 * h:
        pos = min(max((mean - x[0]) / h, 0.0), x.size - 1.0)
        i0 = min(math.floor(pos), x.size - 2)
        f = pos - i0
        out = np.zeros(x.size)
        out[i0] += 1.0 - f
        out[i0 + 1] += f
        return out
    edges = np.concatenate([[-np.inf], 0.5 * (x[1:] + x[:-1]), [np.inf]])
    return np.diff(ndtr((edges - mean) / math.sqrt(var)))


def _apply_transition(game: FiniteMFG, t: int, L_t: np.ndarray) -> np.ndarray:
    """Next-state distribution ``(S,)`` from a state-action distribution ``(S, A)``."""
    P = game.transition(t, L_t)
    flat = L_t.reshape(-1)
    if sp.issparse(P):
        return np.asarray(P.T @ flat).ravel()
    return np.einsum("sa,sap->p", L_t, np.asarray(P))


def _float_tuple(value: object, name: str) -> tuple[float, ...]:
    try:
        arr = np.atleast_1d(np.asarray(value, dtype=float))
    except (TypeError, ValueError):
        raise InvalidParameterError(f"{name} must be numbers, got {value!r}") from None
    if arr.ndim != 1 or not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} must be a finite scalar or 1-D sequence")
    return tuple(float(v) for v in arr)


__all__ = [
    "LQLineGame",
    "LQSimulation",
    "LQSolution",
    "TypedLQGame",
    "discretize_lq",
    "lq_line_game",
    "simulate_lq",
    "solve_lq",
]
