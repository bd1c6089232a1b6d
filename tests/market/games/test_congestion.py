"""Tests of market.games.congestion: Wardrop equilibria, the congestion game, and the
crowd-aversion game on which the plain fixed point cycles while fictitious play converges."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from data.errors import InvalidParameterError
from market.games.congestion import (
    congestion_game,
    crowd_aversion_game,
    linear_wardrop_equilibrium,
)
from market.mfg import exploitability, mean_field, policy_value, uniform_policy
from market.solvers import solve

# --------------------------------------------------------------------------- Wardrop


@pytest.mark.parametrize(
    ("a", "b", "demand", "shares", "cost"),
    [
        # 1 + 2x = 2 + (1 - x)  ->  x = 2/3, cost 7/3
        ((1.0, 2.0), (2.0, 1.0), 1.0, (2 / 3, 1 / 3), 7 / 3),
        # route 0 alone costs 2 < 3: route 1 unused
        ((1.0, 3.0), (1.0, 1.0), 1.0, (1.0, 0.0), 2.0),
        # demand 0.5: 1 + x = 1.5 + 0.5 (1 - x) -> x = 2/3, cost 5/3; route 2 (3) unused
        ((1.0, 1.5, 3.0), (2.0, 1.0, 1.0), 0.5, (2 / 3, 1 / 3, 0.0), 5 / 3),
        # demand 2: 1 + 4x = 1.5 + 2 (1 - x) -> x = 5/12, cost 8/3
        ((1.0, 1.5, 3.0), (2.0, 1.0, 1.0), 2.0, (5 / 12, 7 / 12, 0.0), 8 / 3),
        # demand 6: all used, 3 + 6x = 1 + 12y = 1.5 + 6z = lam, x + y + z = 1 -> lam = 22/5
        ((3.0, 1.0, 1.5), (1.0, 2.0, 1.0), 6.0, (7 / 30, 17 / 60, 29 / 60), 22 / 5),
    ],
)
def test_wardrop_by_hand(a, b, demand, shares, cost) -> None:
    eq = linear_wardrop_equilibrium(a, b, demand=demand)
    np.testing.assert_allclose(eq.shares, shares, rtol=1e-12, atol=1e-15)
    assert eq.cost == pytest.approx(cost, rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(
    a=st.lists(st.floats(-5, 5), min_size=1, max_size=6),
    seed=st.integers(0, 10_000),
    demand=st.floats(0.05, 20.0),
)
def test_wardrop_conditions(a: list[float], seed: int, demand: float) -> None:
    """Equal cost on used routes, no cheaper unused route, shares on the simplex."""
    b = np.random.default_rng(seed).uniform(0.1, 3.0, size=len(a))
    eq = linear_wardrop_equilibrium(a, b, demand=demand)
    x = eq.shares
    cost = np.asarray(a) + b * demand * x
    assert x.min() >= 0.0
    assert x.sum() == pytest.approx(1.0, abs=1e-12)
    used = x > 1e-12
    np.testing.assert_allclose(cost[used], eq.cost, rtol=1e-9, atol=1e-9)
    assert (cost[~used] >= eq.cost - 1e-9).all()


def test_wardrop_validation() -> None:
    with pytest.raises(InvalidParameterError, match="slope"):
        linear_wardrop_equilibrium((1.0, 2.0), (1.0, 0.0))
    with pytest.raises(InvalidParameterError, match="length"):
        linear_wardrop_equilibrium((1.0, 2.0), (1.0,))
    with pytest.raises(InvalidParameterError, match="demand"):
        linear_wardrop_equilibrium((1.0, 2.0), (1.0, 1.0), demand=0.0)


@pytest.mark.parametrize("demand", [None, "1", True, np.inf, np.nan, -1.0])
def test_wardrop_refuses_a_bad_demand(demand) -> None:
    # found by review: None gave a raw TypeError, "1" was read as 1.0, True as 1.0
    with pytest.raises(InvalidParameterError, match="demand"):
        linear_wardrop_equilibrium((1.0, 2.0), (1.0, 1.0), demand=demand)


# --------------------------------------------------------------------------- congestion game


def test_congestion_reward_by_hand() -> None:
    game = congestion_game(
        free_flow_cost=(1.0, 2.0),
        slope=(2.0, 1.0),
        horizon=2,
        demand=(1.0, 3.0),
        switching_cost=0.5,
    )
    L = np.array([[0.1, 0.3], [0.2, 0.4]])  # shares on routes: x = (0.3, 0.7)
    r1 = game.reward(1, L)
    c = np.array([1.0 + 2.0 * 3.0 * 0.3, 2.0 + 1.0 * 3.0 * 0.7])
    np.testing.assert_allclose(r1, [[-c[0], -c[1] - 0.5], [-c[0] - 0.5, -c[1]]])
    P = game.transition(0, L)
    assert P.shape == (2, 2, 2)
    np.testing.assert_array_equal(P[:, 1, 1], 1.0)  # the route taken is the next state


@pytest.mark.parametrize("sparse", [False, True])
def test_congestion_equilibrium_is_wardrop_every_period(sparse: bool) -> None:
    a, b = (1.0, 1.5, 3.0), (2.0, 1.0, 1.0)
    demand = (0.5, 2.0, 1.0, 6.0)
    game = congestion_game(
        free_flow_cost=a, slope=b, horizon=len(demand), demand=demand, sparse=sparse
    )
    # slope * demand reaches 12: a smaller step than the default keeps OMD stable
    sol = solve(game, "online_mirror_descent", max_iter=2000, tol=1e-12, learning_rate=0.3)
    assert sol.converged
    shares = sol.mean_field.sum(axis=1)  # (T, R): route shares per period
    # OMD stops at exploitability ≤ 1e-12 (reached: 9.0e-13); the shares are then off the
    # closed-form Wardrop split by the same order (measured ≤ 1.6e-12), the costs by
    # up to b·d = 6 times that (measured ≤ 2.2e-12): atol=1e-9 is ≥ 450x those
    for t, d in enumerate(demand):
        eq = linear_wardrop_equilibrium(a, b, demand=d)
        np.testing.assert_allclose(shares[t], eq.shares, rtol=0, atol=1e-9)
        # equal costs on used routes, at the Wardrop level
        cost = np.asarray(a) + np.asarray(b) * d * shares[t]
        used = eq.shares > 0
        np.testing.assert_allclose(cost[used], eq.cost, rtol=0, atol=1e-9)


def test_congestion_fictitious_play_approaches_wardrop() -> None:
    a, b = (1.0, 2.0), (2.0, 1.0)
    game = congestion_game(free_flow_cost=a, slope=b, horizon=2)
    sol = solve(game, "fictitious_play", max_iter=300, tol=1e-9)
    shares = sol.mean_field.sum(axis=1)
    assert sol.final_exploitability < 5e-3
    eps = exploitability(game, sol.policy)
    # derived bound: without switching costs the periods decouple and the best response
    # takes the cheaper route in each, so eps = sum_t (share on the dearer route) * |cost
    # gap|, with gap = (b0 + b1)(x_t - x*) = 3 (x_t - 2/3) and that share >= 1/3:
    # sum_t |x_t - 2/3| <= eps / (3 * 1/3) (measured: 1.107e-3 against eps = 1.109e-3)
    assert np.abs(shares[:, 0] - 2 / 3).sum() <= eps + 1e-12


def test_congestion_with_switching_cost_keeps_the_habit() -> None:
    """With a switching cost larger than the cost gap, staying put is an equilibrium:
    starting from a 50/50 split, nobody switches."""
    game = congestion_game(
        free_flow_cost=(1.0, 1.0),
        slope=(1.0, 1.0),
        horizon=3,
        switching_cost=5.0,
        initial_distribution=(0.3, 0.7),
    )
    stay = np.zeros((3, 2, 2))
    stay[:, 0, 0] = stay[:, 1, 1] = 1.0
    # route costs 1 + 0.3 vs 1 + 0.7: a 0.4 gain per period cannot pay a switch of 5
    assert exploitability(game, stay) == pytest.approx(0.0, abs=1e-12)
    L = mean_field(game, stay)
    assert policy_value(game, stay, L) == pytest.approx(-3 * (0.3 * 1.3 + 0.7 * 1.7))
    # without the switching cost, staying is exploitable
    free = congestion_game(
        free_flow_cost=(1.0, 1.0),
        slope=(1.0, 1.0),
        horizon=3,
        initial_distribution=(0.3, 0.7),
    )
    assert exploitability(free, stay) > 0.1


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"slope": (1.0, -1.0)}, "slope"),
        ({"slope": (1.0,)}, "length"),
        ({"free_flow_cost": ()}, "free_flow_cost"),
        ({"free_flow_cost": (1.0, np.nan)}, "non-finite"),
        ({"horizon": 0}, "horizon"),
        ({"demand": (1.0, 1.0)}, "length"),
        ({"demand": (0.0,)}, "demand"),
        ({"switching_cost": -1.0}, "switching_cost"),
        # found by review: None gave a raw TypeError, strings and bools were coerced
        ({"switching_cost": None}, "switching_cost"),
        ({"switching_cost": "0.5"}, "switching_cost"),
        ({"switching_cost": True}, "switching_cost"),
        ({"switching_cost": np.inf}, "switching_cost"),
        ({"horizon": True}, "horizon"),
        ({"horizon": 1.0}, "horizon"),
        ({"sparse": "no"}, "sparse"),
        ({"sparse": None}, "sparse"),
        ({"demand": "ab"}, "demand"),
        ({"initial_distribution": (0.5, 0.6)}, "sum to 1"),
    ],
)
def test_congestion_validation(kw, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        congestion_game(**kw)


def test_congestion_sparse_transition_is_csr() -> None:
    game = congestion_game(sparse=True)
    P = game.transition(0, np.full((2, 2), 0.25))
    assert sp.issparse(P) and P.format == "csr" and P.shape == (4, 2)


# --------------------------------------------------------------------------- crowd aversion


A0 = np.sqrt(2) / 10  # attractiveness of location 0 (irrational: no lucky exact hit)


def test_crowd_aversion_payoffs_by_hand() -> None:
    game = crowd_aversion_game(attractiveness=(0.5, 0.0), aversion=2.0, move_cost=0.1)
    L = np.array([[0.3, 0.1], [0.2, 0.4]])  # mu = (0.4, 0.6)
    np.testing.assert_allclose(game.reward(0, L), [[-0.3, -0.4], [-1.3, -1.2]])
    np.testing.assert_allclose(game.terminal_reward(np.array([1.0, 0.0])), [-1.5, 0.0])


def test_plain_fixed_point_cycles_with_period_two() -> None:
    """Everybody best-responds by moving to the location that was emptier, which becomes the
    crowded one: exploitability alternates between 3(1 - a0) and 3(1 + a0) and never falls."""
    T = 3
    game = crowd_aversion_game(attractiveness=(A0, 0.0), aversion=1.0, horizon=T)
    policies: list[np.ndarray] = []
    sol = solve(
        game,
        "fixed_point",
        damping=1.0,
        max_iter=20,
        tol=1e-6,
        callback=lambda k, e, p: policies.append(np.array(p)),
    )
    e = sol.exploitability
    assert not sol.converged and sol.iterations == 20
    # period 2, not period 1, never decreasing
    np.testing.assert_allclose(e[2:], e[:-2], rtol=1e-12)
    assert np.all(np.abs(np.diff(e)) > 0.5)
    assert e.min() >= e[0] - 1e-12
    # analytic values: the crowd (all of it) sits where the best response sent it for the
    # T periods after the first move; the deviator takes the other location
    np.testing.assert_allclose(e[0::2], T * (1 - A0), rtol=1e-12)
    np.testing.assert_allclose(e[1::2], T * (1 + A0), rtol=1e-12)
    # the policies alternate between "all to 0" and "all to 1"
    for k in range(len(policies) - 2):
        np.testing.assert_array_equal(policies[k], policies[k + 2])
        assert not np.array_equal(policies[k], policies[k + 1])
    crowd = sol.mean_field.sum(axis=2)[1:]  # state distributions at t >= 1
    assert set(np.round(crowd.ravel(), 12)) <= {0.0, 1.0}


def test_fictitious_play_converges_on_the_cycling_game() -> None:
    T = 3
    game = crowd_aversion_game(attractiveness=(A0, 0.0), aversion=1.0, horizon=T)
    sol = solve(game, "fictitious_play", max_iter=500, tol=1e-6)
    e = sol.exploitability
    k = np.arange(1, e.size + 1)
    assert np.all(k * e <= 2.0)  # O(1/k)
    assert e[-1] < 5e-3
    fixed = solve(game, "fixed_point", damping=1.0, max_iter=500, tol=1e-6)
    assert e[-1] < fixed.exploitability.min() / 500
    # the equilibrium split: a0 - x = -(1 - x)  ->  x = (1 + a0) / 2 at every t >= 1.
    # Derived bound: moves are free, so the best response sits at the better location in
    # every period t >= 1 and at the end, and eps = sum over those periods of (share at the
    # worse location) * |payoff gap|, gap = 2 (x* - x_t), that share >= min(x*, 1 - x*) =
    # (1 - a0) / 2: sum_{t=1,2} |x_t - x*| <= eps / (1 - a0) (measured: 1.7e-3, bound 2.6e-3)
    x = sol.mean_field.sum(axis=2)[1:, 0]
    assert np.abs(x - (1 + A0) / 2).sum() <= exploitability(game, sol.policy) / (1 - A0) + 1e-12


def test_crowd_aversion_equilibrium_is_the_wardrop_split() -> None:
    game = crowd_aversion_game(
        n_locations=3, attractiveness=(0.2, 0.0, -0.1), aversion=0.5, horizon=2
    )
    sol = solve(game, "online_mirror_descent", max_iter=2000, tol=1e-12)
    assert sol.converged
    eq = linear_wardrop_equilibrium((-0.2, 0.0, 0.1), (0.5, 0.5, 0.5))
    # stopped at exploitability ≤ 1e-12 (reached: 9.9e-13); measured share error ≤ 5.1e-12,
    # so atol=1e-9 (~200x) is round-off-safe and still catches a wrong equilibrium
    np.testing.assert_allclose(sol.mean_field.sum(axis=2)[1], eq.shares, rtol=0, atol=1e-9)
    assert exploitability(game, uniform_policy(game)) > 0.01


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"n_locations": 1}, "n_locations"),
        ({"n_locations": 2.0}, "n_locations"),
        ({"aversion": -1.0}, "aversion"),
        ({"attractiveness": (1.0, 2.0, 3.0)}, "length"),
        ({"move_cost": -0.1}, "move_cost"),
        ({"horizon": 0}, "horizon"),
        # found by review: None gave a raw TypeError, strings and bools were coerced
        ({"aversion": None}, "aversion"),
        ({"aversion": "1"}, "aversion"),
        ({"aversion": True}, "aversion"),
        ({"aversion": np.nan}, "aversion"),
        ({"move_cost": None}, "move_cost"),
        ({"move_cost": "0.1"}, "move_cost"),
        ({"move_cost": np.inf}, "move_cost"),
        ({"n_locations": True}, "n_locations"),
        ({"horizon": True}, "horizon"),
        ({"attractiveness": "ab"}, "attractiveness"),
        ({"initial_distribution": (0.5, None)}, "initial_distribution"),
    ],
)
def test_crowd_aversion_validation(kw, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        crowd_aversion_game(**kw)
