"""Tests of market.solvers.solve: the four methods, their update rules, and MFGSolution.

Update rules are checked one step at a time against formulas recomputed here from the
public operations (mean_field, best_response, q_values); convergence is judged by the
exact exploitability recomputed from the returned policy.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from data.errors import InvalidParameterError
from market.games.congestion import congestion_game
from market.mfg import (
    FiniteMFG,
    best_response,
    exploitability,
    mean_field,
    q_values,
    uniform_policy,
)
from market.solvers import METHODS, MFGSolution, solve


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def random_game(seed: int, S: int, A: int, T: int, *, mf: float = 1.0) -> FiniteMFG:
    """Random game; ``mf`` scales the mean-field dependence of rewards and transitions."""
    rng = np.random.default_rng(seed)
    R = rng.normal(size=(T, S, A))
    K = mf * rng.normal(size=(T, S, A, S, A))
    W = rng.normal(size=(T, S, A, S))
    M = mf * rng.normal(size=(T, S, A, S, S, A))

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        return R[t] + np.einsum("sapb,pb->sa", K[t], L)

    def transition(t: int, L: np.ndarray) -> np.ndarray:
        return _softmax(W[t] + np.einsum("sapqb,qb->sap", M[t], L))

    return FiniteMFG(T, S, A, _softmax(rng.normal(size=S)), reward, transition)


def monotone_game() -> FiniteMFG:
    """Congestion game whose Wardrop equilibrium is pure (route 0 is cheaper even when
    everyone takes it): every method should find it."""
    return congestion_game(
        free_flow_cost=(1.0, 3.0), slope=(1.0, 1.0), horizon=3, switching_cost=0.2
    )


# --------------------------------------------------------------------------- convergence


@pytest.mark.parametrize("method", METHODS)
def test_all_methods_reach_small_exploitability_on_monotone_game(method: str) -> None:
    game = monotone_game()
    start = exploitability(game, uniform_policy(game))
    assert start > 0.1
    sol = solve(game, method, max_iter=500, tol=1e-2, temperature=0.05)
    assert isinstance(sol, MFGSolution)
    assert sol.method == method
    assert sol.converged
    assert 1 <= sol.iterations <= 500
    assert sol.exploitability.shape == (sol.iterations,)
    # the reported number is the exact exploitability of the returned policy
    assert sol.exploitability[-1] == pytest.approx(exploitability(game, sol.policy), abs=1e-12)
    assert sol.exploitability[-1] <= 1e-2
    np.testing.assert_allclose(sol.mean_field, mean_field(game, sol.policy), atol=1e-15)
    # the equilibrium: everybody on route 0. Derived bound: route 1 costs 3 + (1 - x_t)
    # against 1 + x_t on route 0, at least 1 more. A path of the policy on route 1 in k of
    # the 3 periods saves >= k by taking route 0 throughout instead; that path pays at most
    # one switch (0.2, from a start on route 1), which the original path pays too unless it
    # stayed on route 1 throughout (k = 3): the saving is >= k (1 - 0.2/3). Averaged over
    # the policy's paths: exploitability >= (14/15) sum_t (1 - x_t). Measured: sums 5.9e-3
    # to 8.8e-3 against bounds 7.1e-3 to 1.07e-2.
    off_route_0 = 1.0 - sol.mean_field.sum(axis=1)[:, 0]
    assert off_route_0.min() >= -1e-12
    assert off_route_0.sum() <= exploitability(game, sol.policy) * 15 / 14 + 1e-12


@pytest.mark.parametrize("method", ["fixed_point", "online_mirror_descent", "boltzmann"])
def test_fast_methods_reach_tight_tolerance(method: str) -> None:
    game = monotone_game()
    sol = solve(game, method, max_iter=500, tol=1e-8, temperature=0.02, damping=0.5)
    assert sol.converged
    assert exploitability(game, sol.policy) <= 1e-8


def test_fictitious_play_decreases_like_one_over_k() -> None:
    game = monotone_game()
    sol = solve(game, "fictitious_play", max_iter=400, tol=0.0)
    e = sol.exploitability
    k = np.arange(1, e.size + 1)
    assert not sol.converged and sol.iterations == 400
    assert (k * e)[10:].max() <= 2.0 * (k * e)[10]  # O(1/k)
    assert e[-1] < e[9] / 20


def test_mean_field_free_game_fixed_point_converges_in_one_step() -> None:
    """Without mean-field dependence the best response to anything is an equilibrium."""
    game = random_game(3, 4, 3, 3, mf=0.0)
    sol = solve(game, "fixed_point", damping=1.0, tol=1e-12)
    assert sol.converged and sol.iterations == 1
    assert sol.exploitability[0] == pytest.approx(0.0, abs=1e-12)


def test_already_converged_initial_policy_does_no_iteration() -> None:
    game = random_game(3, 4, 3, 3, mf=0.0)
    br = best_response(game, mean_field(game, uniform_policy(game))).policy
    sol = solve(game, "fictitious_play", initial_policy=br, tol=1e-10)
    assert sol.converged and sol.iterations == 0
    assert sol.exploitability.size == 0
    assert sol.final_exploitability == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_array_equal(sol.policy, br)


@pytest.mark.parametrize("method", METHODS)
def test_history_is_exact_exploitability_of_each_iterate(method: str) -> None:
    game = random_game(5, 3, 2, 3, mf=0.5)
    seen: list[tuple[int, float, np.ndarray]] = []

    def cb(k: int, e: float, policy: np.ndarray) -> None:
        seen.append((k, e, np.array(policy)))

    sol = solve(game, method, max_iter=6, tol=0.0, callback=cb, damping=0.7)
    assert [k for k, _, _ in seen] == list(range(1, sol.iterations + 1))
    assert sol.iterations == 6 and not sol.converged
    for (_, e, pol), h in zip(seen, sol.exploitability, strict=True):
        assert e == h
        assert e == pytest.approx(exploitability(game, pol), rel=1e-12, abs=1e-14)
    np.testing.assert_array_equal(seen[-1][2], sol.policy)
    assert sol.initial_exploitability == pytest.approx(
        exploitability(game, uniform_policy(game)), rel=1e-12
    )


# --------------------------------------------------------------------------- update rules


def test_fixed_point_step_on_mean_field_independent_dynamics() -> None:
    """Transitions free of L: the damped flow (1-d) L_0 + d L^{BR(L_0)} is exactly the flow
    of the policy fixed_point returns after one iteration."""
    rng = np.random.default_rng(0)
    base = random_game(8, 4, 3, 3)
    P = _softmax(rng.normal(size=(3, 4, 3, 4)))
    game = FiniteMFG(3, 4, 3, base.initial_distribution, base.reward, lambda t, L: P[t])
    d = 0.3
    L0 = mean_field(game, uniform_policy(game))
    L_br = mean_field(game, best_response(game, L0).policy)
    sol = solve(game, "fixed_point", max_iter=1, tol=0.0, damping=d)
    np.testing.assert_allclose(sol.mean_field, (1 - d) * L0 + d * L_br, rtol=1e-12, atol=1e-15)


def test_fixed_point_damped_best_responds_to_damped_field() -> None:
    """With mean-field-dependent transitions the second step best-responds to the damped
    L_1 (not to the mean field of the reported policy)."""
    game = random_game(13, 3, 3, 3, mf=3.0)
    d = 0.4
    L0 = mean_field(game, uniform_policy(game))
    L1 = (1 - d) * L0 + d * mean_field(game, best_response(game, L0).policy)
    br1 = best_response(game, L1).policy
    L2 = (1 - d) * L1 + d * mean_field(game, br1)
    expected = L2 / L2.sum(axis=-1, keepdims=True)
    # the test means something: the two fields give different best responses
    other = best_response(game, mean_field(game, L1 / L1.sum(axis=-1, keepdims=True))).policy
    assert not np.array_equal(br1, other)
    sol = solve(game, "fixed_point", max_iter=2, tol=0.0, damping=d)
    np.testing.assert_allclose(sol.policy, expected, rtol=1e-12, atol=1e-15)


def test_fictitious_play_step_averages_flows() -> None:
    """Transitions free of L: after k iterations the flow of the average policy is the
    running average of the flows of the initial policy and of the best responses."""
    rng = np.random.default_rng(1)
    base = random_game(10, 4, 3, 3)
    P = _softmax(rng.normal(size=(3, 4, 3, 4)))
    game = FiniteMFG(3, 4, 3, base.initial_distribution, base.reward, lambda t, L: P[t])
    flows = [mean_field(game, uniform_policy(game))]
    avg = flows[0]
    for _ in range(3):
        flows.append(mean_field(game, best_response(game, avg).policy))
        avg = np.mean(flows, axis=0)
    sol = solve(game, "fictitious_play", max_iter=3, tol=0.0)
    np.testing.assert_allclose(sol.mean_field, avg, rtol=1e-12, atol=1e-15)


def test_online_mirror_descent_step() -> None:
    game = random_game(11, 3, 3, 3)
    pi0 = uniform_policy(game)
    lr = 0.7
    y = np.log(pi0)
    pi = pi0
    for _ in range(2):
        y = y + lr * q_values(game, mean_field(game, pi), pi)
        pi = _softmax(y)
    sol = solve(game, "online_mirror_descent", max_iter=2, tol=0.0, learning_rate=lr)
    np.testing.assert_allclose(sol.policy, pi, rtol=1e-12, atol=1e-15)


def test_boltzmann_step() -> None:
    game = random_game(12, 3, 3, 3)
    d, temp = 0.6, 0.3
    pi = uniform_policy(game)
    for _ in range(2):
        q = q_values(game, mean_field(game, pi))
        pi = (1 - d) * pi + d * _softmax(q / temp)
    sol = solve(game, "boltzmann", max_iter=2, tol=0.0, damping=d, temperature=temp)
    np.testing.assert_allclose(sol.policy, pi, rtol=1e-12, atol=1e-15)


def test_boltzmann_softmax_is_stable_at_tiny_temperature() -> None:
    game = random_game(13, 3, 3, 2)
    sol = solve(game, "boltzmann", max_iter=3, tol=0.0, temperature=1e-8)
    assert np.isfinite(sol.policy).all()
    np.testing.assert_allclose(sol.policy.sum(axis=-1), 1.0, atol=1e-12)


def test_online_mirror_descent_is_stable_with_large_rewards() -> None:
    """Accumulated Q values of order 1e5 must not overflow the softmax."""
    base = random_game(17, 3, 3, 3)
    game = FiniteMFG(
        3,
        3,
        3,
        base.initial_distribution,
        lambda t, L: 1e4 * base.reward(t, L),
        base.transition,
    )
    sol = solve(game, "online_mirror_descent", max_iter=20, tol=0.0)
    assert np.isfinite(sol.policy).all()
    np.testing.assert_allclose(sol.policy.sum(axis=-1), 1.0, atol=1e-12)
    assert np.isfinite(sol.exploitability).all()


def test_sparse_and_dense_games_give_same_solution() -> None:
    dense = congestion_game(free_flow_cost=(1.0, 1.5, 3.0), slope=(2.0, 1.0, 1.0), horizon=2)
    sparse = congestion_game(
        free_flow_cost=(1.0, 1.5, 3.0), slope=(2.0, 1.0, 1.0), horizon=2, sparse=True
    )
    assert sp.issparse(sparse.transition(0, np.full((3, 3), 1 / 9)))
    for method in METHODS:
        a = solve(dense, method, max_iter=20, tol=0.0)
        b = solve(sparse, method, max_iter=20, tol=0.0)
        np.testing.assert_allclose(a.policy, b.policy, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(a.exploitability, b.exploitability, rtol=1e-9, atol=1e-12)


# --------------------------------------------------------------------------- options


def test_callback_can_stop() -> None:
    game = random_game(14, 3, 2, 3)
    sol = solve(game, "fictitious_play", tol=0.0, callback=lambda k, e, p: k >= 3)
    assert sol.iterations == 3 and not sol.converged
    assert sol.exploitability.size == 3


def test_callback_gets_read_only_policy() -> None:
    game = random_game(14, 3, 2, 3)

    def cb(k: int, e: float, policy: np.ndarray) -> None:
        policy[0, 0, 0] = 1.0

    with pytest.raises(ValueError, match="read-only"):
        solve(game, "boltzmann", tol=0.0, callback=cb)


def test_random_initial_policy_is_reproducible() -> None:
    game = random_game(15, 4, 3, 3)
    a = solve(game, "online_mirror_descent", max_iter=5, initial_policy="random", seed=7)
    b = solve(game, "online_mirror_descent", max_iter=5, initial_policy="random", seed=7)
    c = solve(game, "online_mirror_descent", max_iter=5, initial_policy="random", seed=8)
    np.testing.assert_array_equal(a.policy, b.policy)
    np.testing.assert_array_equal(a.exploitability, b.exploitability)
    assert a.initial_exploitability != c.initial_exploitability
    # the seed only matters for the random initial policy
    u1 = solve(game, "online_mirror_descent", max_iter=5, seed=1)
    u2 = solve(game, "online_mirror_descent", max_iter=5, seed=2)
    np.testing.assert_array_equal(u1.policy, u2.policy)
    assert u1.initial_exploitability == pytest.approx(
        exploitability(game, uniform_policy(game)), rel=1e-12
    )


def test_explicit_initial_policy_is_used() -> None:
    game = random_game(16, 3, 2, 2)
    pi0 = np.random.default_rng(0).dirichlet([1, 1], size=(2, 3))
    sol = solve(game, "fixed_point", max_iter=1, initial_policy=pi0)
    assert sol.initial_exploitability == pytest.approx(exploitability(game, pi0), rel=1e-12)


def test_unknown_method_lists_valid_names() -> None:
    game = monotone_game()
    with pytest.raises(InvalidParameterError) as info:
        solve(game, "newton")
    msg = str(info.value)
    assert "newton" in msg
    for name in METHODS:
        assert name in msg


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"max_iter": -1}, "max_iter"),
        ({"max_iter": 2.5}, "max_iter"),
        ({"max_iter": True}, "max_iter"),
        ({"tol": -1e-3}, "tol"),
        ({"tol": float("nan")}, "tol"),
        ({"seed": "abc"}, "seed"),
        ({"callback": 5}, "callback"),
        ({"damping": 0.0}, "damping"),
        ({"damping": 1.5}, "damping"),
        ({"temperature": 0.0}, "temperature"),
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"initial_policy": "greedy"}, "initial_policy"),
        ({"initial_policy": np.ones((3, 2, 3))}, "initial_policy"),
    ],
)
def test_parameter_validation(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        solve(monotone_game(), "fictitious_play", **kw)


def test_game_must_be_a_finite_mfg() -> None:
    with pytest.raises(InvalidParameterError, match="FiniteMFG"):
        solve("not a game")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- result object


def test_solution_is_frozen_and_serialisable() -> None:
    game = monotone_game()
    sol = solve(game, "boltzmann", max_iter=7, tol=0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sol.iterations = 3  # type: ignore[misc]
    for arr in (sol.policy, sol.mean_field, sol.exploitability):
        assert not arr.flags.writeable
    d = sol.to_dict()
    text = json.dumps(d)
    assert "policy" not in d and "mean_field" not in d
    back = json.loads(text)
    assert back["method"] == "boltzmann"
    assert back["iterations"] == 7
    assert back["converged"] is False
    assert back["final_exploitability"] == pytest.approx(sol.exploitability[-1])
    assert len(back["exploitability"]) == 7
    assert (back["horizon"], back["n_states"], back["n_actions"]) == (3, 2, 2)
    frame = sol.to_frame()
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["iteration", "exploitability"]
    assert frame["iteration"].tolist() == list(range(1, 8))
    np.testing.assert_array_equal(frame["exploitability"].to_numpy(), sol.exploitability)
    assert sol.elapsed_s > 0


def test_online_mirror_descent_starts_from_the_initial_policy() -> None:
    """y_0 = log pi_0: from a non-uniform initial policy the first step is
    softmax(log pi_0 + lr Q^{pi_0}(mu^{pi_0})) (the uniform start hides y_0, since a
    constant shift leaves the softmax unchanged)."""
    game = random_game(13, 3, 3, 3)
    pi0 = np.random.default_rng(5).dirichlet(np.ones(3), size=(3, 3))
    lr = 0.4
    q = q_values(game, mean_field(game, pi0), pi0)
    expected = _softmax(np.log(pi0) + lr * q)
    sol = solve(
        game, "online_mirror_descent", max_iter=1, tol=0.0, learning_rate=lr, initial_policy=pi0
    )
    np.testing.assert_allclose(sol.policy, expected, rtol=1e-12, atol=1e-15)
