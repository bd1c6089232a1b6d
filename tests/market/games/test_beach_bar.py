"""Beach bar process (Perrin et al. 2020) on the finite-MFG engine."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from data.errors import InvalidParameterError
from market.games import beach_bar_distance, beach_bar_game, beach_bar_transition
from market.mfg import best_response, mean_field, uniform_policy
from market.solvers import solve

N = 21
BAR = N // 2


def _final_distribution(solution) -> np.ndarray:
    return solution.mean_field[-1].sum(axis=1)


def _spread(mu: np.ndarray, topology: str = "circle") -> float:
    """Second moment of the distance to the bar, in cells²."""
    return float(mu @ beach_bar_distance(mu.size, topology=topology) ** 2)


@pytest.mark.parametrize("topology", ["circle", "line"])
@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_transition_is_stochastic_and_local(topology: str, noise: float) -> None:
    P = beach_bar_transition(N, noise=noise, topology=topology)
    assert sp.issparse(P) and P.shape == (N * 3, N)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert P.min() >= 0
    rows, cols = P.nonzero()
    s = rows // 3
    gap = np.abs(cols - s)
    if topology == "circle":
        gap = np.minimum(gap, N - gap)
    assert gap.max() <= (2 if noise > 0 else 1)
    dense = P.toarray().reshape(N, 3, N)
    # step left from cell 0: wraps on the circle, stays at the end of the line
    expected_left = N - 1 if topology == "circle" else 0
    assert dense[0, 0, expected_left] >= 1.0 - noise - 1e-12
    # "stay" keeps the agent in place up to the noise
    np.testing.assert_allclose(np.diagonal(dense[:, 1, :])[1:-1], 1.0 - noise)


def test_reward_has_the_documented_form() -> None:
    game = beach_bar_game(n_states=N, crowd_aversion=0.7, move_cost=0.05, eps=1e-9)
    rng = np.random.default_rng(0)
    L = rng.random((N, 3))
    L /= L.sum()
    r = game.reward(0, L)
    mu = L.sum(axis=1)
    dist = np.minimum(np.abs(np.arange(N) - BAR), N - np.abs(np.arange(N) - BAR))
    expected = (
        -dist[:, None] / N - 0.05 * np.abs([-1, 0, 1])[None, :] - 0.7 * np.log(mu + 1e-9)[:, None]
    )
    np.testing.assert_allclose(r, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("method", "options"),
    [("fictitious_play", {}), ("online_mirror_descent", {"learning_rate": 1.0})],
)
def test_solvers_reduce_exploitability(method: str, options: dict) -> None:
    game = beach_bar_game(n_states=N, crowd_aversion=0.2)
    sol = solve(game, method, max_iter=100, **options)
    assert sol.initial_exploitability > 1.0
    assert sol.final_exploitability < 0.05 * sol.initial_exploitability
    # the trend is down, not just the last iterate
    assert sol.exploitability[-10:].mean() < 0.2 * sol.exploitability[:10].mean()


@pytest.mark.parametrize("topology", ["circle", "line"])
@pytest.mark.parametrize(
    ("method", "rel_tol"), [("online_mirror_descent", 1e-8), ("fictitious_play", 0.05)]
)
def test_equilibrium_is_symmetric_and_peaked_at_the_bar(
    topology: str, method: str, rel_tol: float
) -> None:
    game = beach_bar_game(n_states=N, crowd_aversion=0.2, topology=topology)
    sol = solve(game, method, max_iter=100)
    assert sol.final_exploitability < 0.05 * sol.initial_exploitability
    mu_t = sol.mean_field.sum(axis=2)  # (T, S)
    # symmetric about the bar (the bar is the middle cell): mu(b + k) == mu(b - k), every t
    np.testing.assert_allclose(mu_t, mu_t[:, ::-1], atol=rel_tol * mu_t.max())
    mu = mu_t[-1]
    assert int(np.argmax(mu)) == BAR
    # decreasing away from the bar on each side, and clearly peaked
    assert np.all(np.diff(mu[BAR:]) <= rel_tol * mu.max())
    assert mu[BAR] > 2.0 * mu[0]
    # more peaked than the (uniform) start
    assert mu[BAR] > 1.5 * game.initial_distribution[BAR]


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_without_crowd_aversion_everyone_heads_for_the_bar(noise: float) -> None:
    game = beach_bar_game(n_states=N, horizon=N, crowd_aversion=0.0, noise=noise)
    sol = solve(game, "fixed_point", damping=1.0, max_iter=20)
    assert sol.converged and sol.final_exploitability <= 1e-9
    # the reward ignores the crowd: the equilibrium is the best response to anything
    br = best_response(game, mean_field(game, uniform_policy(game))).policy
    np.testing.assert_allclose(sol.mean_field, mean_field(game, br), atol=1e-12)
    mu = _final_distribution(sol)
    assert int(np.argmax(mu)) == BAR
    if noise == 0.0:
        assert mu[BAR] == pytest.approx(1.0, abs=1e-12)
    else:
        # only the last noisy steps blur the crowd: all mass within two cells of the bar
        assert mu[BAR - 2 : BAR + 3].sum() > 0.99
        assert mu[BAR] > 0.5


def test_more_crowd_aversion_spreads_the_crowd() -> None:
    spreads = []
    for kappa in (0.0, 0.05, 0.2, 1.0):
        game = beach_bar_game(n_states=N, crowd_aversion=kappa)
        sol = solve(game, "fictitious_play", max_iter=100)
        assert sol.final_exploitability < 0.05 * sol.initial_exploitability
        spreads.append(_spread(_final_distribution(sol)))
    assert np.all(np.diff(spreads) > 0.5), spreads
    # the most averse crowd is spread far wider than the indifferent one
    assert spreads[-1] > 5 * spreads[1]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_states": 2},
        {"topology": "torus"},
        {"bar": 21},
        {"noise": 1.5},
        {"crowd_aversion": -1.0},
        {"move_cost": -0.1},
        {"eps": 0.0},
        {"horizon": 0},
        {"initial_distribution": np.ones(N)},
        {"initial_distribution": np.ones(N - 1) / (N - 1)},
        # found by review: None and strings gave a raw TypeError / ValueError, a bool was
        # taken as 0 or 1
        {"noise": None},
        {"noise": "0.1"},
        {"eps": None},
        {"eps": np.inf},
        {"move_cost": "abc"},
        {"move_cost": np.nan},
        {"crowd_aversion": None},
        {"crowd_aversion": True},
        {"horizon": True},
        {"horizon": 2.0},
        {"bar": True},
        {"bar": 1.0},
        {"n_states": None},
        {"topology": None},
        {"initial_distribution": "abc"},
    ],
)
def test_invalid_options_raise(kwargs: dict) -> None:
    # the one-line message names the bad parameter
    with pytest.raises(InvalidParameterError, match=next(iter(kwargs))):
        beach_bar_game(**({"n_states": N} | kwargs))


@pytest.mark.parametrize("noise", [None, "0.1", True, -0.1, 1.5, np.nan])
def test_transition_refuses_a_bad_noise(noise) -> None:
    with pytest.raises(InvalidParameterError, match="noise"):
        beach_bar_transition(N, noise=noise)


def test_distance_wraps_on_the_circle_only() -> None:
    """By hand, 7 cells with the bar at cell 1: ``|x - 1|`` on the line, the shorter way
    round ``min(|x - 1|, 7 - |x - 1|)`` on the circle."""
    np.testing.assert_array_equal(
        beach_bar_distance(7, bar=1, topology="line"), [1, 0, 1, 2, 3, 4, 5]
    )
    np.testing.assert_array_equal(
        beach_bar_distance(7, bar=1, topology="circle"), [1, 0, 1, 2, 3, 3, 2]
    )
    g = beach_bar_game(n_states=7, bar=1, topology="line", crowd_aversion=0.0, move_cost=0.0)
    stay = g.reward(0, np.full((7, 3), 1 / 21))[:, 1]
    np.testing.assert_allclose(stay, -np.abs(np.arange(7) - 1) / 7)
