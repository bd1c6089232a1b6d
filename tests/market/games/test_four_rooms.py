"""Crowd exploration in the four-rooms grid on the finite-MFG engine."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from data.errors import InvalidParameterError
from market.games import (
    FOUR_ROOMS_ACTIONS,
    four_rooms_game,
    four_rooms_layout,
    four_rooms_transition,
)
from market.mfg import mean_field, uniform_policy
from market.solvers import solve

LAYOUT = four_rooms_layout(11)
LAYOUT_5 = four_rooms_layout(5)


def _entropy(mu: np.ndarray) -> float:
    p = mu[mu > 0]
    return float(-(p * np.log(p)).sum())


@pytest.fixture(scope="module")
def game():
    return four_rooms_game(size=11, horizon=40)


@pytest.fixture(scope="module")
def omd(game):
    return solve(game, "online_mirror_descent", learning_rate=0.02, max_iter=60)


@pytest.fixture(scope="module")
def fictitious(game):
    return solve(game, "fictitious_play", max_iter=200)


def test_layout_has_four_rooms_and_four_doorways() -> None:
    m = LAYOUT.size // 2
    assert LAYOUT.n_states == 4 * m * m + 4 == 104
    assert LAYOUT.free.sum() == LAYOUT.n_states
    for r in range(4):
        assert (LAYOUT.room == r).sum() == m * m
    door_cells = LAYOUT.cells[LAYOUT.doorways]
    # every doorway is a gap in the middle row or column, between two rooms
    assert np.all((door_cells[:, 0] == m) ^ (door_cells[:, 1] == m))
    walls = ~LAYOUT.free
    assert walls[m, :].sum() == LAYOUT.size - 2 and walls[:, m].sum() == LAYOUT.size - 2
    assert walls.sum() == 2 * LAYOUT.size - 1 - 4
    # state numbering round-trips
    for s, (r, c) in enumerate(LAYOUT.cells):
        assert LAYOUT.state(int(r), int(c)) == s
    with pytest.raises(InvalidParameterError):
        LAYOUT.state(m, m)


@pytest.mark.parametrize("noise", [0.0, 0.25])
def test_transition_respects_the_walls(noise: float) -> None:
    P = four_rooms_transition(LAYOUT, noise=noise)
    S, A = LAYOUT.n_states, len(FOUR_ROOMS_ACTIONS)
    assert sp.issparse(P) and P.shape == (S * A, S)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-12)
    assert P.min() >= 0
    rows, cols = P.nonzero()
    src = rows // A
    step = np.abs(LAYOUT.cells[src] - LAYOUT.cells[cols]).sum(axis=1)
    assert step.max() <= 1  # one grid step at most: nothing jumps across a wall
    # leaving a room only happens through a doorway
    cross = LAYOUT.room[src] != LAYOUT.room[cols]
    is_door = np.isin(src, LAYOUT.doorways) | np.isin(cols, LAYOUT.doorways)
    assert cross.any() and np.all(is_door[cross])
    # without the doorways the grid falls apart into exactly the four rooms
    adjacency = sp.coo_array((np.ones(src.size), (src, cols)), shape=(S, S)).tocsr()
    keep = np.setdiff1d(np.arange(S), LAYOUT.doorways)
    n_parts, labels = connected_components(adjacency[keep][:, keep], directed=False)
    assert n_parts == 4
    for r in range(4):
        assert np.unique(labels[LAYOUT.room[keep] == r]).size == 1
    # with the doorways it is one connected grid
    assert connected_components(adjacency, directed=False)[0] == 1


def test_bumping_into_a_wall_stays_put() -> None:
    P = four_rooms_transition(LAYOUT, noise=0.0).toarray().reshape(LAYOUT.n_states, 5, -1)
    m = LAYOUT.size // 2
    right, up, stay = (FOUR_ROOMS_ACTIONS.index(a) for a in ("right", "up", "stay"))
    s = LAYOUT.state(0, m - 1)  # next to the vertical wall, away from the doorway
    assert P[s, right, s] == 1.0
    corner = LAYOUT.state(0, 0)
    assert P[corner, up, corner] == 1.0
    door = LAYOUT.state((m - 1) // 2, m - 1)  # in front of the top doorway
    assert P[door, right, LAYOUT.state((m - 1) // 2, m)] == 1.0
    np.testing.assert_array_equal(P[:, stay, :], np.eye(LAYOUT.n_states))


def test_reward_is_minus_log_density(game) -> None:
    rng = np.random.default_rng(1)
    L = rng.random((game.n_states, game.n_actions))
    L /= L.sum()
    r = game.reward(3, L)
    np.testing.assert_allclose(r, -np.log(L.sum(axis=1) + 1e-12)[:, None] * np.ones((1, 5)))
    assert game.initial_distribution[LAYOUT.state(0, 0)] == 1.0


@pytest.mark.parametrize("solution", ["omd", "fictitious"])
def test_exploitability_decreases(solution: str, request) -> None:
    sol = request.getfixturevalue(solution)
    e = sol.exploitability
    assert sol.final_exploitability < 0.05 * sol.initial_exploitability
    assert e[-10:].mean() < 0.1 * e[:10].mean()


@pytest.mark.parametrize("solution", ["omd", "fictitious"])
def test_the_crowd_spreads_over_all_rooms(solution: str, game, request) -> None:
    sol = request.getfixturevalue(solution)
    mu = sol.mean_field.sum(axis=2)  # (T, S)
    h_eq = np.array([_entropy(m) for m in mu])
    walk = mean_field(game, uniform_policy(game)).sum(axis=2)
    h_walk = np.array([_entropy(m) for m in walk])
    h_max = np.log(game.n_states)
    assert h_eq[0] == pytest.approx(0.0)  # everyone starts in one cell
    # at the final steps the equilibrium is close to uniform, well above the random walk
    assert h_eq[-5:].min() > 0.95 * h_max
    assert h_eq[-5:].min() > h_walk[-5:].max() + 0.5
    # every room (and the far one in particular) holds a fair share of the crowd
    shares = np.array([mu[-1][LAYOUT.room == r].sum() for r in range(4)])
    assert shares.min() > 0.1, shares
    walk_far = walk[-1][LAYOUT.room == 3].sum()
    assert shares[3] > 5 * walk_far


@pytest.mark.parametrize(
    "kwargs",
    [
        {"size": 10},
        {"size": 3},
        {"start": (5, 5)},
        {"start": (0, 11)},
        {"noise": -0.1},
        {"crowd_aversion": -1.0},
        {"move_cost": -1.0},
        {"eps": 0.0},
        {"horizon": 0},
        # found by review: a bare int had "no len()", a float pair was truncated to a cell,
        # None and strings gave a raw TypeError / ValueError
        {"start": 3},
        {"start": None},
        {"start": (0.7, 0.2)},
        {"start": (0, 0, 0)},
        {"start": (True, 0)},
        {"start": (-1, 0)},
        {"start": "ab"},
        {"noise": None},
        {"noise": "0.1"},
        {"crowd_aversion": None},
        {"crowd_aversion": "1"},
        {"move_cost": None},
        {"move_cost": np.inf},
        {"eps": None},
        {"eps": np.inf},
        {"horizon": True},
        {"horizon": 2.0},
        {"size": True},
        {"size": 11.0},
    ],
)
def test_invalid_options_raise(kwargs: dict) -> None:
    # the one-line message names the bad parameter
    with pytest.raises(InvalidParameterError, match=next(iter(kwargs))):
        four_rooms_game(**kwargs)


def test_start_accepts_numpy_integers() -> None:
    a = four_rooms_game(size=5, horizon=2, start=(np.int64(3), 4))
    b = four_rooms_game(size=5, horizon=2, start=np.array([3, 4]))
    assert a.initial_distribution[LAYOUT_5.state(3, 4)] == 1.0
    np.testing.assert_array_equal(a.initial_distribution, b.initial_distribution)


@pytest.mark.parametrize("noise", [None, "0.1", True, -0.1, 1.5, np.nan])
def test_transition_refuses_a_bad_noise(noise) -> None:
    with pytest.raises(InvalidParameterError, match="noise"):
        four_rooms_transition(LAYOUT, noise=noise)


@pytest.mark.parametrize(("row", "col"), [(0.0, 0), (0, None), (True, 0), (0, 5), (-1, 0)])
def test_layout_state_refuses_a_bad_cell(row, col) -> None:
    with pytest.raises(InvalidParameterError):
        LAYOUT.state(row, col)


def test_reward_weights_the_crowd_and_charges_every_move_but_stay() -> None:
    """Module doc: reward ``-kappa log(mu + eps) - c_move [a != stay]``, by hand with
    kappa = 0.3 and c_move = 0.05 (the fixture's kappa = 1 and c_move = 0 hide both)."""
    g = four_rooms_game(size=11, horizon=3, crowd_aversion=0.3, move_cost=0.05, eps=1e-9)
    rng = np.random.default_rng(2)
    L = rng.random((g.n_states, g.n_actions))
    L /= L.sum()
    stay = FOUR_ROOMS_ACTIONS.index("stay")
    move = np.full(5, -0.05)
    move[stay] = 0.0
    expected = -0.3 * np.log(L.sum(axis=1) + 1e-9)[:, None] + move[None, :]
    np.testing.assert_allclose(g.reward(0, L), expected, rtol=1e-12, atol=1e-15)
