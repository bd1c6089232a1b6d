"""Finite-horizon, finite-state mean-field games: the game object and its exact operations.

A game has ``T`` periods, ``S`` states and ``A`` actions. A *policy* is an array ``(T, S, A)``
of action probabilities; a *mean field* ``L`` is the state-action distribution per period,
``(T, S, A)``, each ``L[t]`` summing to 1. At period ``t`` a player in state ``s`` taking
action ``a`` earns ``reward(t, L[t])[s, a]`` and moves to ``s'`` with probability
``transition(t, L[t])[s, a, s']``. The objective ``J`` (to be maximised) is the expected sum
of rewards over ``t = 0..T-1`` plus ``terminal_reward(mu_T)[s_T]`` when given, ``mu_T``
being the state distribution after the last transition.

Everything here is exact (one forward pass, one backward induction), vectorised over states
and actions, float64. Transitions come dense ``(S, A, S)`` or as a scipy sparse matrix of
shape ``(S*A, S)`` whose row ``s*A + a`` is the next-state distribution of ``(s, a)``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from data.errors import InvalidParameterError

__all__ = [
    "BestResponse",
    "FiniteMFG",
    "best_response",
    "exploitability",
    "mean_field",
    "policy_from_mean_field",
    "policy_value",
    "q_values",
    "uniform_policy",
]

PROB_TOL = 1e-9
"""Absolute tolerance on probabilities: rows must sum to 1 and entries be >= -PROB_TOL."""

_CACHE_BYTES = 256 * 2**20  # transitions kept between the forward and the backward pass
_TIE_RTOL = 1e-12  # Q values this close (relative to max|Q_t|) count as ties
_NEG_RTOL = 1e-12  # exploitability clipped at 0 down to -_NEG_RTOL * (T + 1) * scale
_MIN_MASS = 1e-200  # states with less mass than this are "unreached" in a policy-from-flow

RewardFn = Callable[[int, NDArray[np.float64]], ArrayLike]
TransitionFn = Callable[[int, NDArray[np.float64]], Any]
TerminalFn = Callable[[NDArray[np.float64]], ArrayLike]


def _is_int(x: object) -> bool:
    return isinstance(x, int | np.integer) and not isinstance(x, bool | np.bool_)


class FiniteMFG:
    """A finite-horizon mean-field game with finite states and actions.

    ``reward(t, L_t) -> (S, A)`` and ``transition(t, L_t) -> (S, A, S)`` dense or a scipy
    sparse ``(S*A, S)`` matrix (CSR preferred, row ``s*A + a``); ``L_t`` is the state-action
    distribution ``(S, A)`` at period ``t`` (read-only). ``terminal_reward(mu_T) -> (S,)``
    is added at the end when given.

    Outputs of ``reward``, ``transition`` and ``terminal_reward`` are checked for shape on
    every call; rewards for finiteness on every call; transitions for finite, non-negative
    rows summing to 1 on the first call for each ``t`` (``check_outputs="first"``, cheap) or
    on every call (``check_outputs="always"``).
    """

    __slots__ = (
        "_checked_transition",
        "_fixed",
        "check_outputs",
        "horizon",
        "initial_distribution",
        "n_actions",
        "n_states",
        "name",
        "reward",
        "terminal_reward",
        "transition",
    )

    def __init__(
        self,
        horizon: int,
        n_states: int,
        n_actions: int,
        initial_distribution: ArrayLike,
        reward: RewardFn,
        transition: TransitionFn,
        *,
        terminal_reward: TerminalFn | None = None,
        name: str = "",
        check_outputs: Literal["first", "always"] = "first",
    ) -> None:
        if not _is_int(horizon) or horizon < 1:
            raise InvalidParameterError(f"horizon must be an integer >= 1, got {horizon!r}")
        if not _is_int(n_states) or n_states < 1:
            raise InvalidParameterError(f"n_states must be an integer >= 1, got {n_states!r}")
        if not _is_int(n_actions) or n_actions < 1:
            raise InvalidParameterError(f"n_actions must be an integer >= 1, got {n_actions!r}")
        try:
            mu0 = np.array(initial_distribution, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"initial_distribution is not numeric: {exc}") from None
        if mu0.shape != (n_states,):
            raise InvalidParameterError(
                f"initial_distribution must have shape ({n_states},), got {mu0.shape}"
            )
        if not np.isfinite(mu0).all():
            raise InvalidParameterError("initial_distribution has non-finite entries")
        if mu0.min() < -PROB_TOL:
            raise InvalidParameterError(
                f"initial_distribution must be non-negative, min is {mu0.min():.3g}"
            )
        if abs(mu0.sum() - 1.0) > PROB_TOL:
            raise InvalidParameterError(
                f"initial_distribution must sum to 1 (tol {PROB_TOL:g}), sums to {mu0.sum():.12g}"
            )
        if not callable(reward):
            raise InvalidParameterError("reward must be callable: reward(t, L) -> (S, A)")
        if not callable(transition):
            raise InvalidParameterError(
                "transition must be callable: transition(t, L) -> (S, A, S) or sparse (S*A, S)"
            )
        if terminal_reward is not None and not callable(terminal_reward):
            raise InvalidParameterError("terminal_reward must be callable or None")
        if check_outputs not in ("first", "always"):
            raise InvalidParameterError(
                f"check_outputs must be 'first' or 'always', got {check_outputs!r}"
            )
        mu0.flags.writeable = False
        self.horizon = int(horizon)
        self.n_states = int(n_states)
        self.n_actions = int(n_actions)
        self.initial_distribution = mu0
        self.reward = reward
        self.transition = transition
        self.terminal_reward = terminal_reward
        self.name = str(name)
        self.check_outputs = check_outputs
        self._checked_transition: set[int] = set()
        # t -> (weak reference to the CSR transition checked at t, its transpose as CSR or
        # None): a transition returned again as the same object is a fixed one
        self._fixed: dict[int, tuple[Any, Any]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # the caches hold weak references: rebuilt after unpickling (Dask) or copying
        caches = ("_fixed", "_checked_transition")
        return {k: getattr(self, k) for k in self.__slots__ if k not in caches}

    def __setstate__(self, state: dict[str, Any]) -> None:
        for k, v in state.items():
            object.__setattr__(self, k, v)
        self._fixed = {}
        self._checked_transition = set()  # checked again (once per period) after a copy

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, S, A)``: the shape of a policy or a mean field of this game."""
        return (self.horizon, self.n_states, self.n_actions)

    def __repr__(self) -> str:
        label = f" {self.name!r}" if self.name else ""
        return (
            f"<FiniteMFG{label} T={self.horizon} S={self.n_states} A={self.n_actions}"
            f"{' +terminal' if self.terminal_reward is not None else ''}>"
        )


@dataclass(frozen=True, eq=False)
class BestResponse:
    """Result of :func:`best_response`.

    ``policy``: deterministic one-hot ``(T, S, A)``; ``value``: ``J* = sum_s mu0(s) V*_0(s)``;
    ``values``: the optimal value function ``V*`` as ``(T+1, S)`` (``values[T]`` is the
    terminal reward, zero without one).
    """

    policy: NDArray[np.float64]
    value: float
    values: NDArray[np.float64]

    def to_frame(self) -> pd.DataFrame:
        """One row per (t, state), t < T: the chosen ``action`` and the optimal ``value``."""
        T, S, _ = self.policy.shape
        index = pd.MultiIndex.from_product([range(T), range(S)], names=["t", "state"])
        return pd.DataFrame(
            {
                "action": self.policy.argmax(axis=-1).reshape(-1),
                "value": np.asarray(self.values[:T]).reshape(-1),
            },
            index=index,
        )

    def to_dict(self) -> dict[str, Any]:
        """``value``, the chosen action per (t, state) and ``values`` as JSON-ready lists."""
        return {
            "value": float(self.value),
            "actions": self.policy.argmax(axis=-1).tolist(),
            "values": np.asarray(self.values, dtype=np.float64).tolist(),
        }


# --------------------------------------------------------------------------- validation


def _check_policy(game: FiniteMFG, policy: ArrayLike, what: str = "policy") -> NDArray:
    return _check_policy_shape(policy, game.shape, what)


def _check_policy_shape(policy: ArrayLike, shape: tuple[int, ...], what: str) -> NDArray:
    """``policy`` as a float array of ``shape`` (T, S, A) whose rows are distributions."""
    try:
        pi = np.asarray(policy, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{what} is not numeric: {exc}") from None
    if pi.shape != shape:
        raise InvalidParameterError(f"{what} must have shape (T, S, A) = {shape}, got {pi.shape}")
    sums = _row_sums(pi)
    # NaN or inf anywhere shows up in the row sums
    if not np.isfinite(sums).all():
        raise InvalidParameterError(f"{what} has non-finite entries")
    if pi.min() < -PROB_TOL:
        idx = np.unravel_index(int(np.argmin(pi)), pi.shape)
        raise InvalidParameterError(
            f"{what} has a negative probability {pi[idx]:.3g} at (t, s, a) = {tuple(map(int, idx))}"
        )
    err = np.abs(sums - 1.0)
    if err.max() > PROB_TOL:
        t, s = np.unravel_index(int(np.argmax(err)), err.shape)
        raise InvalidParameterError(
            f"{what} rows must sum to 1 (tol {PROB_TOL:g}); row (t={t}, s={s}) sums to "
            f"{sums[t, s]:.12g}"
        )
    return pi


def _check_mean_field(game: FiniteMFG, L: ArrayLike) -> NDArray:
    try:
        arr = np.asarray(L, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"mean field L is not numeric: {exc}") from None
    if arr.shape != game.shape:
        raise InvalidParameterError(
            f"mean field L must have shape (T, S, A) = {game.shape}, got {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise InvalidParameterError("mean field L has non-finite entries")
    if arr.min() < -PROB_TOL:
        raise InvalidParameterError(f"mean field L must be non-negative, min is {arr.min():.3g}")
    err = np.abs(arr.sum(axis=(1, 2)) - 1.0)
    if err.max() > PROB_TOL:
        t = int(np.argmax(err))
        raise InvalidParameterError(
            f"mean field L[t] must sum to 1 (tol {PROB_TOL:g}); L[{t}] sums to {arr[t].sum():.12g}"
        )
    return arr


def _row_sums(x: NDArray) -> NDArray:
    """Sums over the last axis (a BLAS product: much faster than ``sum(-1)`` for small A)."""
    n = x.shape[-1]
    return (x.reshape(-1, n) @ np.ones(n)).reshape(x.shape[:-1])


def _readonly(a: NDArray) -> NDArray:
    v = a.view()
    v.flags.writeable = False
    return v


def _reward_at(game: FiniteMFG, t: int, L_t: NDArray) -> NDArray:
    r = np.asarray(game.reward(t, _readonly(L_t)), dtype=np.float64)
    if r.shape != (game.n_states, game.n_actions):
        raise InvalidParameterError(
            f"reward(t={t}, L) must return shape (S, A) = ({game.n_states}, {game.n_actions}), "
            f"got {r.shape}"
        )
    if not np.isfinite(r).all():
        raise InvalidParameterError(f"reward(t={t}, L) returned non-finite values")
    return r


def _transition_at(game: FiniteMFG, t: int, L_t: NDArray) -> Any:
    """The transition at ``(t, L_t)`` as an ``(S*A, S)`` operator (ndarray or CSR)."""
    S, A = game.n_states, game.n_actions
    P = game.transition(t, _readonly(L_t))
    if game.check_outputs != "always" and _fixed_at(game, t, P) is not None:
        return P  # the same CSR matrix as checked at this t before (a fixed transition)
    raw = P
    if sp.issparse(P):
        if P.shape != (S * A, S):
            raise InvalidParameterError(
                f"sparse transition(t={t}, L) must have shape (S*A, S) = ({S * A}, {S}), "
                f"got {P.shape}"
            )
        if P.format != "csr":
            P = P.tocsr()
        if P.dtype != np.float64:
            P = P.astype(np.float64)
        data = P.data
    else:
        P = np.asarray(P, dtype=np.float64)
        if P.shape != (S, A, S):
            raise InvalidParameterError(
                f"transition(t={t}, L) must return shape (S, A, S) = ({S}, {A}, {S}) or a "
                f"sparse ({S * A}, {S}) matrix, got {P.shape}"
            )
        P = P.reshape(S * A, S)
        data = P
    if game.check_outputs == "always" or t not in game._checked_transition:
        if not np.isfinite(data).all():
            raise InvalidParameterError(f"transition(t={t}, L) has non-finite entries")
        if data.size and data.min() < -PROB_TOL:
            raise InvalidParameterError(
                f"transition(t={t}, L) has a negative probability {data.min():.3g}"
            )
        sums = P @ np.ones(S)
        bad = int(np.argmax(np.abs(sums - 1.0)))
        if abs(sums[bad] - 1.0) > PROB_TOL:
            s, a = divmod(bad, A)
            raise InvalidParameterError(
                f"transition(t={t}, L) rows must sum to 1 (tol {PROB_TOL:g}); row (s={s}, a={a})"
                f" sums to {sums[bad]:.12g}"
            )
        game._checked_transition.add(t)
        if P is raw and sp.issparse(P):  # no conversion: the next call may skip the checks
            with contextlib.suppress(TypeError):  # every scipy sparse type takes weak refs
                game._fixed[t] = (weakref.ref(P), None)
    return P


def _fixed_at(game: FiniteMFG, t: int, P: Any) -> tuple[Any, Any] | None:
    """The cache entry of ``P`` when it is the transition checked at ``t`` before."""
    hit = game._fixed.get(t)
    return hit if hit is not None and hit[0]() is P else None


def _transpose(game: FiniteMFG, t: int, P: Any) -> Any:
    """``P.T`` for the forward pass at period ``t``. A fixed transition (the matrix checked
    at ``t`` coming back as the same object) is transposed to CSR once and kept: several
    times faster than scipy's CSC view built on every product; transitions built anew on
    every call cost nothing more. A matrix returned again must not have been changed in
    place (with ``check_outputs="always"`` nothing is cached)."""
    if not sp.issparse(P) or game.check_outputs == "always":
        return P.T
    hit = _fixed_at(game, t, P)
    if hit is None:
        return P.T
    if hit[1] is None:
        hit = game._fixed[t] = (hit[0], P.T.tocsr())
    return hit[1]


def _terminal_at(game: FiniteMFG, mu_T: NDArray) -> NDArray:
    g = np.asarray(game.terminal_reward(_readonly(mu_T)), dtype=np.float64)  # type: ignore[misc]
    if g.shape != (game.n_states,):
        raise InvalidParameterError(
            f"terminal_reward(mu_T) must return shape (S,) = ({game.n_states},), got {g.shape}"
        )
    if not np.isfinite(g).all():
        raise InvalidParameterError("terminal_reward(mu_T) returned non-finite values")
    return g


# --------------------------------------------------------------------------- passes


@dataclass(frozen=True, eq=False)
class _Flow:
    """Forward pass: ``L`` (T, S, A), ``mu`` (T+1, S), transitions kept (or None)."""

    L: NDArray
    mu: NDArray
    transitions: list[Any] | None


def _nbytes(P: Any) -> int:
    if sp.issparse(P):
        return int(P.data.nbytes + P.indices.nbytes + P.indptr.nbytes)
    return int(P.nbytes)


def _forward(game: FiniteMFG, policy: NDArray, *, keep: bool = False) -> _Flow:
    """Forward pass; with ``keep`` the transitions are kept for the backward pass while
    they fit in ``_CACHE_BYTES`` (the others are recomputed there)."""
    T, S, A = game.shape
    L = np.empty((T, S, A))
    mu = np.empty((T + 1, S))
    mu[0] = game.initial_distribution
    kept: list[Any] | None = [] if keep else None
    seen: set[int] = set()
    budget = _CACHE_BYTES
    for t in range(T):
        np.multiply(mu[t][:, None], policy[t], out=L[t])
        P = _transition_at(game, t, L[t])
        mu[t + 1] = _transpose(game, t, P) @ L[t].reshape(S * A)
        if kept is not None:
            if id(P) in seen:  # the same object again (a fixed transition): free to keep
                kept.append(P)
            elif _nbytes(P) <= budget:
                seen.add(id(P))
                budget -= _nbytes(P)
                kept.append(P)
            else:
                kept.append(None)
    return _Flow(L, mu, kept)


@dataclass(frozen=True, eq=False)
class _Backward:
    """Backward induction results (entries None when not asked for)."""

    q_star: NDArray | None  # (T, S, A)
    v_star: NDArray | None  # (T+1, S)
    br_index: NDArray | None  # (T, S) greedy action, near-ties to the lowest index
    q_scale: float  # max |Q*| over all periods (0 when not optimal)
    q_pi: NDArray | None  # (T, S, A)
    v_pi: NDArray | None  # (T+1, S)
    mu_T: NDArray


def _backward(
    game: FiniteMFG,
    L: NDArray,
    *,
    optimal: bool,
    policy: NDArray | None = None,
    keep_q_pi: bool = False,
    transitions: list[Any] | None = None,
    mu_T: NDArray | None = None,
) -> _Backward:
    """Backward induction against the frozen mean field ``L``.

    Computes the optimal values and greedy actions (``optimal``) and/or the values of
    ``policy`` with one transition product per period (the two value vectors are stacked
    as columns). Greedy actions: actions within ``1e-12 * max|Q_t|`` of the row maximum
    count as ties (rounding) and ties go to the lowest action index.
    """
    T, S, A = game.shape
    cols = int(optimal) + int(policy is not None)
    V = np.zeros((T + 1, S, cols))
    q_star = np.empty((T, S, A)) if optimal else None
    br_index = np.empty((T, S), dtype=np.intp) if optimal else None
    ones = np.ones(A)
    rank = np.arange(A, 0, -1, dtype=np.min_scalar_type(A))[:, None]  # A, A-1, ..., 1
    q_scale = 0.0
    q_pi = np.empty((T, S, A)) if (policy is not None and keep_q_pi) else None

    def transition(t: int) -> Any:
        P = transitions[t] if transitions is not None else None
        return _transition_at(game, t, L[t]) if P is None else P

    P_last = transition(T - 1)
    if mu_T is None:
        mu_T = _transpose(game, T - 1, P_last) @ L[-1].reshape(S * A)
    if game.terminal_reward is not None:
        V[T] = _terminal_at(game, mu_T)[:, None]
    for t in range(T - 1, -1, -1):
        P = P_last if t == T - 1 else transition(t)
        r = _reward_at(game, t, L[t])
        cont = np.asarray(P @ V[t + 1]).reshape(S, A, cols)
        j = 0
        if optimal:
            assert q_star is not None and br_index is not None
            q = np.add(r, cont[:, :, 0], out=q_star[t])
            qa = np.ascontiguousarray(q.T)  # (A, S): reductions over actions run fast
            vmax = qa.max(axis=0)
            V[t, :, 0] = vmax
            scale_t = max(float(vmax.max()), -float(qa.min()))
            q_scale = max(q_scale, scale_t)
            tol = _TIE_RTOL * scale_t
            # first near-maximal action: the largest rank among near-maximal ones
            # (argmax over a short axis is much slower than this max)
            br_index[t] = A - ((qa >= vmax - tol) * rank).max(axis=0)
            j = 1
        if policy is not None:
            q = r + cont[:, :, j]
            if q_pi is not None:
                q_pi[t] = q
            V[t, :, j] = (policy[t] * q) @ ones
    v_star = V[:, :, 0] if optimal else None
    v_pi = V[:, :, cols - 1] if policy is not None else None
    mu_T = np.asarray(mu_T, dtype=np.float64)
    return _Backward(q_star, v_star, br_index, q_scale, q_pi, v_pi, mu_T)


def _one_hot(index: NDArray, n_actions: int) -> NDArray:
    """Deterministic policy (T, S, A) choosing ``index`` (T, S)."""
    out = np.zeros(index.size * n_actions)
    out[np.arange(index.size) * n_actions + index.reshape(-1)] = 1.0
    return out.reshape(*index.shape, n_actions)


@dataclass(frozen=True, eq=False)
class _Evaluation:
    """Everything one exact evaluation of a policy gives (used by the solvers)."""

    policy: NDArray
    L: NDArray  # mean field of the policy (T, S, A)
    mu: NDArray  # state distributions (T+1, S)
    q_star: NDArray  # optimal Q against L (T, S, A)
    v_star: NDArray  # optimal values (T+1, S); v_star[t] is the row maximum of q_star[t]
    br_index: NDArray  # greedy action (T, S) of q_star
    q_pi: NDArray | None  # Q of the policy against L, when asked for
    j_star: float
    j_pi: float
    exploitability: float

    @property
    def br_policy(self) -> NDArray:
        """The best response to ``L`` as a one-hot policy (T, S, A)."""
        return _one_hot(self.br_index, self.policy.shape[-1])


def _clip_gap(game: FiniteMFG, j_star: float, j_pi: float, scale: float) -> float:
    gap = j_star - j_pi
    if gap >= 0.0:
        return gap
    tol = _NEG_RTOL * (game.horizon + 1) * max(scale, np.finfo(float).tiny)
    if gap < -tol:
        raise AssertionError(
            f"negative exploitability {gap:.6g} beyond rounding (tol {tol:.3g}): a bug, or a "
            "reward/transition that is not a deterministic function of (t, L)"
        )
    return 0.0


def _evaluate(game: FiniteMFG, policy: NDArray, *, keep_q_pi: bool = False) -> _Evaluation:
    flow = _forward(game, policy, keep=True)
    back = _backward(
        game,
        flow.L,
        optimal=True,
        policy=policy,
        keep_q_pi=keep_q_pi,
        transitions=flow.transitions,
        mu_T=flow.mu[-1],
    )
    assert back.q_star is not None and back.v_star is not None and back.v_pi is not None
    assert back.br_index is not None
    mu0 = game.initial_distribution
    j_star = float(mu0 @ back.v_star[0])
    j_pi = float(mu0 @ back.v_pi[0])
    scale = max(back.q_scale, float(np.abs(back.v_star[-1]).max()))
    return _Evaluation(
        policy=policy,
        L=flow.L,
        mu=flow.mu,
        q_star=back.q_star,
        v_star=back.v_star,
        br_index=back.br_index,
        q_pi=back.q_pi,
        j_star=j_star,
        j_pi=j_pi,
        exploitability=_clip_gap(game, j_star, j_pi, scale),
    )


# --------------------------------------------------------------------------- public API


def uniform_policy(game: FiniteMFG) -> NDArray[np.float64]:
    """The uniform policy ``(T, S, A)``: every action with probability ``1/A``."""
    return np.full(game.shape, 1.0 / game.n_actions)


def policy_from_mean_field(
    L: ArrayLike, *, fallback: ArrayLike | None = None
) -> NDArray[np.float64]:
    """The policy that generates the flow ``L`` (T, S, A): ``pi_t(a|s) = L_t(s,a) / mu_t(s)``.

    Where ``mu_t(s)`` is zero (below 1e-200) the row is taken from ``fallback`` (T, S, A), a
    policy (non-negative rows summing to 1, within ``PROB_TOL``), or uniform if no fallback
    is given.
    """
    try:
        arr = np.array(L, dtype=np.float64)  # a copy: worked on in place
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"L is not numeric: {exc}") from None
    if arr.ndim != 3:
        raise InvalidParameterError(f"L must have shape (T, S, A), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidParameterError("L has non-finite entries")
    if fallback is not None:
        fallback = _check_policy_shape(fallback, arr.shape, "fallback")
    return _policy_from_flow(arr, fallback)


def _policy_from_flow(L: NDArray, fallback: NDArray | None) -> NDArray:
    """:func:`policy_from_mean_field` overwriting ``L`` (T, S, A) with the policy."""
    np.maximum(L, 0.0, out=L)
    mass = _row_sums(L)
    reached = mass > _MIN_MASS
    np.divide(L, mass[..., None], out=L, where=reached[..., None])
    unreached = ~reached
    if unreached.any():
        L[unreached] = 1.0 / L.shape[-1] if fallback is None else fallback[unreached]
    return L


def mean_field(game: FiniteMFG, policy: ArrayLike) -> NDArray[np.float64]:
    """Mean field ``L`` (T, S, A) induced by ``policy`` (T, S, A): ``L_t = mu_t[:, None] * pi_t``.

    ``mu_0`` is the initial distribution and ``mu_{t+1}(s') = sum_{s,a} L_t(s,a) P_t(s,a,s')``
    with ``P_t = transition(t, L_t)`` evaluated at the current ``L_t``.
    """
    pi = _check_policy(game, policy)
    return _forward(game, pi).L


def best_response(game: FiniteMFG, L: ArrayLike) -> BestResponse:
    """Optimal deterministic policy against the frozen mean field ``L`` (T, S, A).

    Backward induction ``Q_t = r_t(L_t) + P_t(L_t) V_{t+1}``, ``V_t = max_a Q_t``,
    ``V_T = terminal_reward(mu_T)`` (or 0) with ``mu_T`` the distribution after ``L[T-1]``.
    Ties (within ``1e-12 * max|Q_t|``) go to the lowest action index.
    """
    arr = _check_mean_field(game, L)
    back = _backward(game, arr, optimal=True)
    assert back.br_index is not None and back.v_star is not None
    value = float(game.initial_distribution @ back.v_star[0])
    return BestResponse(_one_hot(back.br_index, game.n_actions), value, back.v_star)


def policy_value(game: FiniteMFG, policy: ArrayLike, L: ArrayLike) -> float:
    """``J(policy, L)``: expected total reward of ``policy`` (T, S, A) from the initial
    distribution, against the frozen mean field ``L`` (T, S, A)."""
    pi = _check_policy(game, policy)
    arr = _check_mean_field(game, L)
    back = _backward(game, arr, optimal=False, policy=pi)
    assert back.v_pi is not None
    return float(game.initial_distribution @ back.v_pi[0])


def q_values(game: FiniteMFG, L: ArrayLike, policy: ArrayLike | None = None) -> NDArray[np.float64]:
    """Q values ``(T, S, A)`` against the frozen mean field ``L``: of ``policy``, or the
    optimal Q when ``policy`` is None."""
    arr = _check_mean_field(game, L)
    if policy is None:
        back = _backward(game, arr, optimal=True)
        assert back.q_star is not None
        return back.q_star
    pi = _check_policy(game, policy)
    back = _backward(game, arr, optimal=False, policy=pi, keep_q_pi=True)
    assert back.q_pi is not None
    return back.q_pi


def exploitability(game: FiniteMFG, policy: ArrayLike) -> float:
    """Exact exploitability ``max_pi' J(pi', mu^pi) - J(pi, mu^pi) >= 0`` of ``policy``.

    One forward pass (the mean field of ``policy``) and one backward pass (optimal and policy
    values together). Rounding below ~1e-12 relative is clipped to 0; a clearly negative gap
    raises AssertionError (it would be a bug, or a non-deterministic reward/transition).
    """
    pi = _check_policy(game, policy)
    return _evaluate(game, pi).exploitability
