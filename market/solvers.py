"""Equilibrium solvers for :class:`market.mfg.FiniteMFG`, all behind :func:`solve`.

Every method iterates on a policy and, after each iteration, evaluates the *exact*
exploitability of the policy it would return (with that policy's own exact mean field); it
stops once the exploitability is at most ``tol``. The same evaluation also yields the best
response and the Q values the next iteration needs, so one iteration costs about one
exploitability evaluation (plus one forward pass for "fictitious_play", and one forward and
one backward pass for "fixed_point" with ``damping < 1``).

Methods:

- ``"fixed_point"``: damped fixed point on the mean field,
  ``L_{k+1} = (1 - damping) L_k + damping L^{BR(L_k)}`` (``damping=1``: plain Banach-Picard
  iteration, which may cycle). The reported policy is the one generating ``L_{k+1}``,
  ``pi_t(a|s) = L_t(s,a) / mu_t(s)`` (on unreached states, the same mixture of policies).
- ``"fictitious_play"``: the average of all best responses so far, each weighted by its
  state distribution (Perrin et al. 2020); the best response is taken against the exact
  mean field of the current average policy.
- ``"online_mirror_descent"``: ``y_{k+1} = y_k + learning_rate Q^{pi_k}(mu^{pi_k})``,
  ``pi_{k+1} = softmax(y_{k+1})`` (Pérolat et al. 2022).
- ``"boltzmann"``: ``pi_{k+1} = (1 - damping) pi_k + damping softmax(Q*(mu^{pi_k}) / T)``
  with ``T = temperature`` (a softmax-smoothed fixed point; it converges to a regularised
  equilibrium whose exploitability is of order ``temperature``).

Initial policy: uniform by default (``initial_policy=None`` or ``"uniform"``); a policy
array; or ``"random"``, drawn from a flat Dirichlet per (t, s) with ``numpy`` generator
``default_rng(seed)``. ``seed`` is used for nothing else, so results are reproducible.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from data.errors import InvalidParameterError
from data.seeds import check_seed
from market.mfg import (
    FiniteMFG,
    _backward,
    _check_policy,
    _evaluate,
    _Evaluation,
    _forward,
    _one_hot,
    _policy_from_flow,
    _row_sums,
    uniform_policy,
)

__all__ = ["METHODS", "MFGSolution", "solve"]

METHODS: tuple[str, ...] = ("fixed_point", "fictitious_play", "online_mirror_descent", "boltzmann")

Callback = Callable[[int, float, NDArray[np.float64]], Any]


@dataclass(frozen=True, eq=False)
class MFGSolution:
    """Result of :func:`solve`.

    ``policy`` and ``mean_field`` are ``(T, S, A)`` (the mean field is the exact one of the
    policy); ``exploitability[k-1]`` is the exact exploitability of the policy after
    iteration ``k`` (length ``iterations``); ``initial_exploitability`` is that of the
    initial policy; ``converged`` is True when the last exploitability is ``<= tol``.
    """

    policy: NDArray[np.float64]
    mean_field: NDArray[np.float64]
    exploitability: NDArray[np.float64]
    iterations: int
    converged: bool
    elapsed_s: float
    method: str
    initial_exploitability: float = math.nan
    params: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        T, S, A = self.policy.shape
        return (
            f"MFGSolution(method={self.method!r}, iterations={self.iterations}, "
            f"converged={self.converged}, final_exploitability={self.final_exploitability:.3g}, "
            f"elapsed_s={self.elapsed_s:.3g}, shape=(T={T}, S={S}, A={A}))"
        )

    @property
    def final_exploitability(self) -> float:
        """Exploitability of the returned policy."""
        if self.exploitability.size:
            return float(self.exploitability[-1])
        return float(self.initial_exploitability)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no policy or mean-field arrays)."""
        T, S, A = self.policy.shape
        return {
            "method": self.method,
            "iterations": int(self.iterations),
            "converged": bool(self.converged),
            "elapsed_s": float(self.elapsed_s),
            "final_exploitability": self.final_exploitability,
            "initial_exploitability": float(self.initial_exploitability),
            "exploitability": [float(e) for e in self.exploitability],
            "horizon": T,
            "n_states": S,
            "n_actions": A,
            "params": dict(self.params),
        }

    def to_frame(self) -> pd.DataFrame:
        """DataFrame with columns ``iteration`` (1..iterations) and ``exploitability``."""
        return pd.DataFrame(
            {
                "iteration": np.arange(1, self.iterations + 1, dtype=np.int64),
                "exploitability": np.asarray(self.exploitability, dtype=np.float64),
            }
        )


def _softmax(z: NDArray, zmax: NDArray | None = None) -> NDArray:
    """Softmax over the last axis of ``z`` (T, S, A), numerically stable; ``zmax`` (T, S)
    is the row maximum when already known. Overwrites ``z``."""
    if zmax is None:
        zmax = np.ascontiguousarray(np.moveaxis(z, -1, 0)).max(axis=0)  # fast for small A
    z -= zmax[..., None]
    np.exp(z, out=z)
    z /= _row_sums(z)[..., None]
    return z


def _mix(a: NDArray, b: NDArray, w: float) -> NDArray:
    """``(1 - w) a + w b`` in a new array (one temporary, not three)."""
    out = b * w
    out += (1.0 - w) * a
    return out


def _positive(name: str, value: object, *, upper: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (v > 0.0 and math.isfinite(v)) or (upper is not None and v > upper):
        bound = f"in (0, {upper:g}]" if upper is not None else "> 0 and finite"
        raise InvalidParameterError(f"{name} must be {bound}, got {value!r}")
    return v


def _initial_policy(game: FiniteMFG, initial_policy: object, seed: int | None) -> NDArray:
    if initial_policy is None or (isinstance(initial_policy, str) and initial_policy == "uniform"):
        return uniform_policy(game)
    if isinstance(initial_policy, str):
        if initial_policy == "random":
            rng = np.random.default_rng(seed)
            return rng.dirichlet(np.ones(game.n_actions), size=(game.horizon, game.n_states))
        raise InvalidParameterError(
            f"initial_policy must be None, 'uniform', 'random' or an array, got {initial_policy!r}"
        )
    policy = cast(ArrayLike, initial_policy)  # anything else: _check_policy refuses it
    return np.array(_check_policy(game, policy, "initial_policy"), dtype=np.float64)


def solve(
    game: FiniteMFG,
    method: str = "fictitious_play",
    *,
    max_iter: int = 500,
    tol: float = 1e-6,
    seed: int | None = 0,
    callback: Callback | None = None,
    damping: float = 0.5,
    temperature: float = 0.1,
    learning_rate: float = 1.0,
    initial_policy: ArrayLike | str | None = None,
) -> MFGSolution:
    """Solve ``game`` for a mean-field Nash equilibrium with ``method`` (see module doc).

    Stops after ``max_iter`` iterations or as soon as the exact exploitability is ``<= tol``
    (also checked for the initial policy: then ``iterations == 0``). ``callback(iteration,
    exploitability, policy)`` is called after every iteration; returning True stops the
    solve. ``damping`` is used by "fixed_point" and "boltzmann", ``temperature`` by
    "boltzmann", ``learning_rate`` by "online_mirror_descent".
    """
    if not isinstance(game, FiniteMFG):
        raise InvalidParameterError(f"game must be a FiniteMFG, got {type(game).__name__}")
    if method not in METHODS:
        raise InvalidParameterError(
            f"unknown method {method!r}; valid methods: {', '.join(METHODS)}"
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer) or max_iter < 0:
        raise InvalidParameterError(f"max_iter must be an integer >= 0, got {max_iter!r}")
    if (
        isinstance(tol, bool)
        or not isinstance(tol, int | float | np.integer | np.floating)
        or not (float(tol) >= 0.0)
    ):
        raise InvalidParameterError(f"tol must be a number >= 0, got {tol!r}")
    if seed is not None:
        check_seed(seed)
    if callback is not None and not callable(callback):
        raise InvalidParameterError("callback must be callable or None")
    d = _positive("damping", damping, upper=1.0)
    temp = _positive("temperature", temperature)
    lr = _positive("learning_rate", learning_rate)
    tol = float(tol)
    max_iter = int(max_iter)

    params: dict[str, Any] = {
        "max_iter": max_iter,
        "tol": tol,
        "seed": None if seed is None else int(seed),
        "damping": d,
        "temperature": temp,
        "learning_rate": lr,
        "initial_policy": initial_policy
        if initial_policy is None or isinstance(initial_policy, str)
        else "array",
        "game": game.name,
    }
    start = time.perf_counter()
    policy = _initial_policy(game, initial_policy, seed)
    need_q_pi = method == "online_mirror_descent"
    ev = _evaluate(game, policy, keep_q_pi=need_q_pi)
    e0 = ev.exploitability
    history: list[float] = []
    converged = e0 <= tol

    # method state
    flow_L = ev.L  # fixed_point: current (damped) mean field
    flow_consistent = True  # flow_L is the exact mean field of `policy`
    y = np.log(np.maximum(policy, 1e-300)) if need_q_pi else None

    k = 0
    while not converged and k < max_iter:
        k += 1
        if method == "fixed_point":
            if flow_consistent:
                br = ev.br_policy
            else:
                back = _backward(game, flow_L, optimal=True)
                assert back.br_index is not None
                br = _one_hot(back.br_index, game.n_actions)
            L_br = _forward(game, br).L
            if d < 1.0:
                flow_L = _mix(flow_L, L_br, d)
                policy = _policy_from_flow(flow_L.copy(), _mix(policy, br, d))
            else:
                flow_L = L_br
                policy = _policy_from_flow(L_br.copy(), br)
            flow_consistent = d == 1.0
        elif method == "fictitious_play":
            alpha = 1.0 / (k + 1)
            br = ev.br_policy
            L_br = _forward(game, br).L
            policy = _policy_from_flow(_mix(ev.L, L_br, alpha), _mix(policy, br, alpha))
        elif method == "online_mirror_descent":
            assert y is not None and ev.q_pi is not None
            y += lr * ev.q_pi
            ymax = np.ascontiguousarray(np.moveaxis(y, -1, 0)).max(axis=0)
            y -= ymax[..., None]  # keeps y bounded; softmax is unchanged
            policy = np.exp(y)  # y <= 0 with a 0 in every row: no overflow, sums >= 1
            policy /= _row_sums(policy)[..., None]
        else:  # boltzmann
            policy = _mix(policy, _softmax(ev.q_star / temp, ev.v_star[:-1] / temp), d)
        ev = _evaluate(game, policy, keep_q_pi=need_q_pi)
        e = ev.exploitability
        history.append(e)
        converged = e <= tol
        if callback is not None and callback(k, e, _frozen(policy)):
            break

    return _solution(method, ev, history, k, converged, start, e0, params)


def _frozen(a: NDArray) -> NDArray:
    v = a.view()
    v.flags.writeable = False
    return v


def _solution(
    method: str,
    ev: _Evaluation,
    history: list[float],
    iterations: int,
    converged: bool,
    start: float,
    e0: float,
    params: dict[str, Any],
) -> MFGSolution:
    policy = np.array(ev.policy, dtype=np.float64)
    L = np.array(ev.L, dtype=np.float64)
    expl = np.asarray(history, dtype=np.float64)
    for arr in (policy, L, expl):
        arr.flags.writeable = False
    return MFGSolution(
        policy=policy,
        mean_field=L,
        exploitability=expl,
        iterations=iterations,
        converged=bool(converged),
        elapsed_s=time.perf_counter() - start,
        method=method,
        initial_exploitability=float(e0),
        params=params,
    )
