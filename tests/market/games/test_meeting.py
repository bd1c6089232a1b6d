""" "When does the meeting start?" (Guéant, Lasry & Lions 2011): finite game vs analytic."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from data.errors import InvalidParameterError
from market.games import MeetingParameters, meeting_fixed_point, meeting_game
from market.mfg import exploitability
from market.solvers import solve

# (α, β, γ) and quorum: the schedule binds (θ <= (α + β) / (α + β + γ) = 2/3) ...
BINDS = {"quorum": 0.5}
# ... or the quorum sets the start (θ = 0.85 > (2 + 0.5) / 3.5); α large against β + γ
# keeps the best-response slope small, so the grid game has one equilibrium near the analytic one
QUORUM = {"quorum": 0.85, "schedule_lateness_cost": 2.0, "start_lateness_cost": 0.5}


def _sample_noise(params: MeetingParameters, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = rng.choice(params.noise_offsets.size, size=n, p=params.noise_probabilities)
    h = params.time_step
    return params.noise_offsets[k] + rng.uniform(-h / 2, h / 2, size=n)


def test_noise_is_a_discretised_symmetric_normal() -> None:
    p = MeetingParameters(noise_std=1.0, time_step=0.25, noise_width=3.0)
    assert p.noise_probabilities.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(p.noise_probabilities, p.noise_probabilities[::-1], atol=1e-15)
    assert abs(p.noise_mean) < 1e-12
    # cell masses are those of N(0, 1) up to the truncation at ±3σ
    edges = p.noise_edges
    cells = np.diff(stats.norm.cdf(edges))
    np.testing.assert_allclose(p.noise_probabilities, cells / cells.sum(), rtol=1e-12)
    np.testing.assert_allclose(p.noise_quantile(p.noise_cdf([-1.0, 0.3, 2.0])), [-1.0, 0.3, 2.0])
    # targets sit on the grid t_s + k h and cover the default window t_s ± 4σ
    np.testing.assert_allclose(np.diff(p.targets), 0.25)
    assert p.targets[0] == pytest.approx(-4.0) and p.targets[-1] == pytest.approx(4.0)


def test_start_time_and_costs_match_monte_carlo() -> None:
    p = MeetingParameters(**QUORUM)
    rng = np.random.default_rng(7)
    w = rng.dirichlet(np.ones(p.targets.size) * 0.5)
    n = 400_000
    eps = _sample_noise(p, n, seed=8)
    arrivals = p.targets[rng.choice(w.size, size=n, p=w)] + eps
    quorum_time = np.quantile(arrivals, p.quorum)
    assert p.start_time(w) == pytest.approx(max(p.scheduled_time, quorum_time), abs=0.02)
    T = 0.6
    t = np.array([-1.3, 0.0, 0.45, 2.2])
    tau = t[:, None] + eps[None, :100_000]
    a, b, g = p.schedule_lateness_cost, p.start_lateness_cost, p.waiting_cost
    mc = (
        a * np.maximum(tau - p.scheduled_time, 0)
        + b * np.maximum(tau - T, 0)
        + g * np.maximum(T - tau, 0)
    ).mean(axis=1)
    np.testing.assert_allclose(p.expected_cost(T, t), mc, atol=0.01)


def test_start_time_never_precedes_the_schedule() -> None:
    p = MeetingParameters(quorum=0.3)
    early = np.zeros(p.targets.size)
    early[0] = 1.0  # everybody aims at the earliest time: quorum long before t_s
    assert p.start_time(early) == p.scheduled_time
    late = np.zeros(p.targets.size)
    late[-1] = 1.0
    assert p.start_time(late) == pytest.approx(p.targets[-1] + p.noise_quantile(0.3))


@pytest.mark.parametrize(
    ("alpha", "beta", "gamma", "theta"),
    [(1.0, 1.0, 1.0, 0.5), (1.0, 1.0, 1.0, 0.9), (2.0, 0.5, 1.0, 0.85), (3.0, 0.0, 2.0, 0.55)],
)
def test_brentq_fixed_point_matches_the_closed_forms(alpha, beta, gamma, theta) -> None:
    p = MeetingParameters(
        quorum=theta,
        schedule_lateness_cost=alpha,
        start_lateness_cost=beta,
        waiting_cost=gamma,
        scheduled_time=1.5,
    )
    fp = meeting_fixed_point(p)
    binds = theta <= (alpha + beta) / (alpha + beta + gamma)
    assert fp.schedule_binds == binds
    if binds:
        target = 1.5 - p.noise_quantile((alpha + beta) / (alpha + beta + gamma))
        start = 1.5
    else:
        target = 1.5 - p.noise_quantile(1 - ((beta + gamma) * theta - beta) / alpha)
        start = target + p.noise_quantile(theta)
        assert start > 1.5
    assert fp.target == pytest.approx(float(target), abs=1e-9)
    assert fp.start_time == pytest.approx(float(start), abs=1e-9)


@pytest.mark.parametrize("setting", [BINDS, QUORUM], ids=["schedule-binds", "quorum-binds"])
def test_analytic_fixed_point_is_a_best_response_to_its_start(setting) -> None:
    """Independent of the derivation: minimise the exact expected cost numerically."""
    p = MeetingParameters(**setting)
    fp = meeting_fixed_point(p)
    res = optimize.minimize_scalar(
        lambda t: float(p.expected_cost(fp.start_time, np.array([t]))[0]),
        bounds=(p.targets[0], p.targets[-1]),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert res.x == pytest.approx(fp.target, abs=1e-5)
    # and the start is the one a crowd all aiming at the target produces
    quorum_time = fp.target + float(p.noise_quantile(p.quorum))
    assert fp.start_time == pytest.approx(max(p.scheduled_time, quorum_time), abs=1e-12)


@pytest.mark.parametrize("method", ["fictitious_play", "online_mirror_descent"])
@pytest.mark.parametrize("setting", [BINDS, QUORUM], ids=["schedule-binds", "quorum-binds"])
def test_solver_equilibrium_matches_the_analytic_fixed_point(setting, method) -> None:
    p = MeetingParameters(**setting)
    game = meeting_game(**setting)
    assert (game.horizon, game.n_states, game.n_actions) == (1, 1, p.targets.size)
    sol = solve(game, method, max_iter=500)
    w = sol.mean_field[0, 0]  # distribution of targets, (A,)
    start = p.start_time(w)
    fp = meeting_fixed_point(p)
    h = p.time_step
    assert abs(start - fp.start_time) <= h, (start, fp)
    assert abs(w @ p.targets - fp.target) <= h
    if fp.schedule_binds:
        assert start == p.scheduled_time
    else:
        assert start > p.scheduled_time + h
    # a fixed point: nobody gains more than 1% of the cost by changing target
    cost_scale = float(w @ p.expected_cost(start))
    assert cost_scale > 0.1
    assert sol.final_exploitability < 1e-2 * cost_scale
    assert exploitability(game, sol.policy) == pytest.approx(sol.final_exploitability, abs=1e-12)
    assert sol.final_exploitability < 0.02 * sol.initial_exploitability


def test_reward_is_minus_expected_cost() -> None:
    p = MeetingParameters(**QUORUM)
    game = meeting_game(**QUORUM)
    rng = np.random.default_rng(3)
    L = rng.dirichlet(np.ones(p.targets.size))[None, :]
    r = game.reward(0, L)
    assert r.shape == (1, p.targets.size)
    np.testing.assert_allclose(r[0], -p.expected_cost(p.start_time(L)), rtol=1e-12)
    # earlier-than-needed and very late targets are both worse than the middle of the window
    assert r[0].argmax() not in (0, p.targets.size - 1)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"quorum": 0.0},
        {"quorum": 1.0},
        {"schedule_lateness_cost": 0.0},
        {"waiting_cost": -1.0},
        {"start_lateness_cost": -0.5},
        {"noise_std": 0.0},
        {"time_step": 0.0},
        {"earliest": 2.0, "latest": 1.0},
        {"quorum": float("nan")},
        # found by review: None gave a raw TypeError from np.isfinite, strings and bools
        # were taken as numbers or failed inside numpy
        {"quorum": None},
        {"quorum": "0.5"},
        {"scheduled_time": None},
        {"scheduled_time": True},
        {"schedule_lateness_cost": "1"},
        {"start_lateness_cost": None},
        {"waiting_cost": np.inf},
        {"noise_std": None},
        {"noise_width": "3"},
        {"time_step": None},
        {"earliest": "abc"},
        {"earliest": np.nan},
        {"latest": "1.0"},
        {"latest": np.inf},
    ],
)
def test_invalid_parameters_raise(kwargs: dict) -> None:
    # the one-line message names the bad parameter
    with pytest.raises(InvalidParameterError, match=next(iter(kwargs))):
        meeting_game(**kwargs)


def test_parameters_are_stored_as_floats() -> None:
    p = MeetingParameters(quorum=np.float32(0.5), scheduled_time=np.int64(2), earliest=0)
    assert type(p.quorum) is float and type(p.scheduled_time) is float
    assert type(p.earliest) is float and p.latest is None


def test_maps_refuse_bad_arguments() -> None:
    p = MeetingParameters()
    with pytest.raises(InvalidParameterError, match="params"):
        meeting_fixed_point({"quorum": 0.5})
    with pytest.raises(InvalidParameterError, match="start_time"):
        p.expected_cost(None)
    with pytest.raises(InvalidParameterError, match="targets"):
        p.expected_cost(0.0, targets="abc")
    with pytest.raises(InvalidParameterError, match="target distribution"):
        p.start_time(["a"] * p.targets.size)
    with pytest.raises(InvalidParameterError, match="target distribution"):
        p.start_time(np.full(p.targets.size, np.inf))


def test_no_interior_equilibrium_is_reported() -> None:
    # θ >= (α + β) / (β + γ): the meeting moves with the crowd, everybody postpones
    p = MeetingParameters(quorum=0.7, schedule_lateness_cost=0.5, waiting_cost=1.5)
    with pytest.raises(InvalidParameterError, match="no interior equilibrium"):
        meeting_fixed_point(p)
