"""The typed LQ mean-field game: closed form vs independent references, N agents, grids."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_bvp, trapezoid
from scipy.interpolate import CubicSpline
from scipy.linalg import solve_continuous_are

from data.errors import InvalidParameterError
from market.lq import (
    LQLineGame,
    TypedLQGame,
    discretize_lq,
    lq_line_game,
    simulate_lq,
    solve_lq,
)
from market.mfg import FiniteMFG, exploitability
from market.solvers import solve

# two types coupled through the mean in the dynamics (ā) and in the costs (s, q̄)
TWO_TYPES = TypedLQGame(
    shares=(0.4, 0.6),
    a=(0.2, -0.3),
    b=(1.0, 0.8),
    a_bar=(0.3, 0.1),
    sigma=(0.3, 0.5),
    q=(1.0, 2.0),
    s=(-0.5, 0.3),
    q_bar=(0.2, 0.1),
    r=(0.5, 1.0),
    q_terminal=(1.0, 0.5),
    s_terminal=(0.2, -0.1),
    q_bar_terminal=0.3,
    mean0=(1.0, -0.5),
    var0=(0.2, 0.1),
    horizon=1.5,
    type_names=("pv", "ev"),
)


def _expected_cost(
    game: TypedLQGame,
    k: int,
    times: np.ndarray,
    xbar: np.ndarray,
    gain: np.ndarray,
    offset: np.ndarray,
) -> float:
    """E[J_k] of a type-k agent playing u = −gain·x − offset against the path ``xbar``,
    from its own mean/variance ODEs (fine RK4 on ``times``) and the trapezoid rule."""
    a, b, abar, sig = (game.array(n)[k] for n in ("a", "b", "a_bar", "sigma"))
    q, s, qbar, r = (game.array(n)[k] for n in ("q", "s", "q_bar", "r"))
    qT, sT, qbT = (game.array(n)[k] for n in ("q_terminal", "s_terminal", "q_bar_terminal"))
    m = np.empty_like(times)
    v = np.empty_like(times)
    m[0], v[0] = game.mean0[k], game.var0[k]

    def rhs(i: float, mm: float, vv: float) -> tuple[float, float]:
        # linear interpolation of the coefficients between grid points (i may be fractional)
        j = min(int(i), len(times) - 2)
        w = i - j
        G = (1 - w) * gain[j] + w * gain[j + 1]
        g = (1 - w) * offset[j] + w * offset[j + 1]
        xb = (1 - w) * xbar[j] + w * xbar[j + 1]
        return (a - b * G) * mm - b * g + abar * xb, 2 * (a - b * G) * vv + sig**2

    for i in range(len(times) - 1):
        h = times[i + 1] - times[i]
        k1 = rhs(i, m[i], v[i])
        k2 = rhs(i + 0.5, m[i] + h / 2 * k1[0], v[i] + h / 2 * k1[1])
        k3 = rhs(i + 0.5, m[i] + h / 2 * k2[0], v[i] + h / 2 * k2[1])
        k4 = rhs(i + 1, m[i] + h * k3[0], v[i] + h * k3[1])
        m[i + 1] = m[i] + h / 6 * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v[i + 1] = v[i] + h / 6 * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
    eu2 = gain**2 * v + (gain * m + offset) ** 2
    running = 0.5 * q * (v + m**2) + s * m * xbar + 0.5 * qbar * xbar**2 + 0.5 * r * eu2
    terminal = 0.5 * qT * (v[-1] + m[-1] ** 2) + sT * m[-1] * xbar[-1] + 0.5 * qbT * xbar[-1] ** 2
    return float(trapezoid(running, times) + terminal)


# --------------------------------------------------------------------------- closed form


def test_single_type_without_coupling_matches_the_algebraic_riccati_equation() -> None:
    a, b, q, r = 0.5, 1.0, 2.0, 0.5
    p_inf = solve_continuous_are([[a]], [[b]], [[q]], [[r]])[0, 0]
    # terminal weight = the stationary solution: P(t) = P∞ on the whole horizon
    game = TypedLQGame(a=a, b=b, q=q, r=r, q_terminal=p_inf, horizon=5.0, mean0=1.0)
    sol = solve_lq(game)
    np.testing.assert_allclose(sol.riccati[:, 0], p_inf, rtol=1e-9)
    np.testing.assert_allclose(sol.gain[:, 0], b * p_inf / r, rtol=1e-9)
    # the mean decays at the closed-loop rate a − b²P∞/r
    rate = a - b * b * p_inf / r
    np.testing.assert_allclose(sol.mean, np.exp(rate * sol.times), rtol=1e-8, atol=1e-11)
    # with no terminal weight, P(0) approaches P∞ on a long horizon
    long = solve_lq(TypedLQGame(a=a, b=b, q=q, r=r, horizon=20.0))
    assert abs(long.riccati[0, 0] - p_inf) < 1e-9


def test_riccati_matches_the_discrete_time_recursion_as_dt_falls() -> None:
    a, b, q, r, qT, T = -0.4, 1.5, 1.0, 0.7, 2.0, 2.0
    p0 = solve_lq(TypedLQGame(a=a, b=b, q=q, r=r, q_terminal=qT, horizon=T)).riccati[0, 0]
    errors = []
    for n in (50, 100, 200, 400):
        dt = T / n
        p = qT
        for _ in range(n):  # the discrete-time LQ regulator, x' = (1 + a dt) x + b dt u
            f = 1 + a * dt
            p = q * dt + f * f * p - (f * b * dt * p) ** 2 / (r * dt + (b * dt) ** 2 * p)
        errors.append(abs(p - p0))
    ratios = np.array(errors[:-1]) / np.array(errors[1:])
    np.testing.assert_allclose(ratios, 2.0, rtol=0.05)  # first order in dt
    assert errors[-1] < 1e-2


def test_mean_and_affine_term_solve_the_two_point_boundary_value_problem() -> None:
    # independent reference: scipy's collocation BVP solver on (m, p), with no Γ ansatz
    game = TWO_TYPES
    K = game.n_types
    sol = solve_lq(game, n_times=301)
    lam = game.array("shares")
    a, b, abar = (game.array(n) for n in ("a", "b", "a_bar"))
    s, r, sT = (game.array(n) for n in ("s", "r", "s_terminal"))
    bb = b * b / r

    # the Riccati part does not depend on x̄; a cubic spline through it (error O(Δt⁴) ~1e-12
    # at Δt = 0.005; linear interpolation would leave O(Δt²), measured 2.7e-7 in the means)
    P_spline = CubicSpline(sol.times, sol.riccati)

    def P_at(t: np.ndarray) -> np.ndarray:
        return P_spline(t).T

    def rhs(t: np.ndarray, y: np.ndarray) -> np.ndarray:
        P = P_at(t)
        m, p = y[:K], y[K:]
        h = a[:, None] - bb[:, None] * P
        xbar = lam @ m
        dm = h * m - bb[:, None] * p + abar[:, None] * xbar
        dp = -(h * p + (s[:, None] + abar[:, None] * P) * xbar)
        return np.vstack([dm, dp])

    def bc(y0: np.ndarray, yT: np.ndarray) -> np.ndarray:
        return np.concatenate([y0[:K] - np.asarray(game.mean0), yT[K:] - sT * (lam @ yT[:K])])

    t = np.linspace(0, game.horizon, 301)
    ref = solve_bvp(rhs, bc, t, np.zeros((2 * K, t.size)), tol=1e-9, max_nodes=100_000)
    assert ref.success
    y = ref.sol(sol.times)
    # what is left is the BVP's residual tolerance (1e-9) and solve_lq's ODE tolerances
    # (rtol 1e-10): measured ≤ 4.4e-12 (means, of size ≤ 1) and 3.2e-12 (affine term, of
    # size ≤ 0.011); atol=1e-9 is ~200x that
    np.testing.assert_allclose(sol.type_means, y[:K].T, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sol.affine, y[K:].T, rtol=0, atol=1e-9)
    np.testing.assert_allclose(sol.mean, lam @ y[:K], rtol=0, atol=1e-9)


def test_identical_types_reduce_to_a_single_type() -> None:
    one = TypedLQGame(
        a=0.1,
        b=0.9,
        a_bar=0.4,
        sigma=0.3,
        q=1.0,
        s=0.6,
        q_bar=0.2,
        r=0.8,
        q_terminal=0.5,
        s_terminal=0.3,
        mean0=0.7,
        var0=0.05,
        horizon=2.0,
    )
    two = TypedLQGame(**{**one.to_dict(), "shares": (0.3, 0.7), "type_names": None})
    s1, s2 = solve_lq(one), solve_lq(two)
    for k in range(2):
        np.testing.assert_allclose(s2.type_means[:, k], s1.type_means[:, 0], rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(s2.gain[:, k], s1.gain[:, 0], rtol=1e-8)
        np.testing.assert_allclose(s2.offset[:, k], s1.offset[:, 0], rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(s2.costs[k], s1.costs[0], rtol=1e-8)
    np.testing.assert_allclose(s2.mean, s1.mean, rtol=1e-8, atol=1e-10)


def test_relabelling_the_types_permutes_the_solution() -> None:
    game = TWO_TYPES
    d = game.to_dict()
    swapped = TypedLQGame(
        **{k: (tuple(reversed(v)) if isinstance(v, tuple) else v) for k, v in d.items()}
    )
    s1, s2 = solve_lq(game), solve_lq(swapped)
    np.testing.assert_allclose(s2.type_means[:, ::-1], s1.type_means, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(s2.costs[::-1], s1.costs, rtol=1e-8)
    np.testing.assert_allclose(s2.mean, s1.mean, rtol=1e-8, atol=1e-10)


def test_costs_equal_the_integrated_running_cost() -> None:
    game = TWO_TYPES
    sol = solve_lq(game, n_times=4001)
    for k in range(game.n_types):
        direct = _expected_cost(game, k, sol.times, sol.mean, sol.gain[:, k], sol.offset[:, k])
        assert abs(direct - sol.costs[k]) < 1e-6 * max(1.0, abs(sol.costs[k]))
    np.testing.assert_allclose(sol.cost, game.array("shares") @ sol.costs)


def test_the_feedback_is_a_best_response_to_the_mean_path() -> None:
    # Nash: with x̄(·) frozen at the equilibrium path, no deviation of one agent pays
    game = TWO_TYPES
    sol = solve_lq(game, n_times=2001)
    t = sol.times
    for k in range(game.n_types):
        base = _expected_cost(game, k, t, sol.mean, sol.gain[:, k], sol.offset[:, k])
        for eps in (0.05, -0.05, 0.2):
            deviations = [
                (sol.gain[:, k], sol.offset[:, k] + eps),  # shifted offset
                (sol.gain[:, k], sol.offset[:, k] + eps * np.sin(3 * t)),  # wiggled offset
                (sol.gain[:, k] + eps, sol.offset[:, k]),  # different gain
            ]
            for gain, offset in deviations:
                dev = _expected_cost(game, k, t, sol.mean, gain, offset)
                assert dev > base + 1e-4 * eps**2
        # and the gain is optimal to first order: the cost is flat around it
        up = _expected_cost(game, k, t, sol.mean, sol.gain[:, k] + 1e-3, sol.offset[:, k])
        down = _expected_cost(game, k, t, sol.mean, sol.gain[:, k] - 1e-3, sol.offset[:, k])
        assert abs(up - down) < 1e-7


def test_agents_following_the_feedback_reproduce_the_mean_field() -> None:
    # no noise, point initial states: every agent of a type follows its mean exactly, so the
    # realised mean is the closed-loop ODE under the gains alone (Heun, O(dt²))
    game = TypedLQGame(**{**TWO_TYPES.to_dict(), "sigma": 0.0, "var0": 0.0})
    errs = []
    for n in (51, 101, 201):
        sol = solve_lq(game, n_times=n)
        sim = simulate_lq(sol, n_agents=10, seed=0)
        errs.append(float(sim.sup_error(sol)[0]))
        np.testing.assert_allclose(sim.type_means[0], sol.type_means, atol=1e-3)
    assert errs[-1] < 1e-5
    assert errs[0] / errs[1] > 3.5 and errs[1] / errs[2] > 3.5  # second order


def test_riccati_blow_up_is_reported() -> None:
    game = TypedLQGame(q=-10.0, horizon=2.0)  # −P' = −P² − 10: P(t) = −√10 tan(...)
    with pytest.raises(InvalidParameterError, match="blow up"):
        solve_lq(game)


# --------------------------------------------------------------------------- propagation of chaos


def test_empirical_mean_converges_at_rate_one_over_sqrt_n() -> None:
    """Issue 5(b): N agents with their own noise, each playing the closed-form feedback and
    coupled through the *empirical* mean x̄_N in the dynamics (ā ≠ 0). The error
    E sup_t |x̄_N(t) − x̄(t)|, averaged over independent runs, falls like N^(-1/2)."""
    sol = solve_lq(TWO_TYPES, n_times=51)
    ns = np.array([10**2, 10**3, 10**4, 10**5])
    runs = [400, 100, 30, 12]
    errors = []
    for i, (n, r) in enumerate(zip(ns, runs, strict=True)):
        sim = simulate_lq(sol, n_agents=int(n), n_runs=r, seed=1000 + i, coupling="empirical")
        errors.append(float(sim.sup_error(sol).mean()))
    slope, _ = np.polyfit(np.log10(ns), np.log10(errors), 1)
    assert -0.6 <= slope <= -0.4, (slope, errors)
    # the time-stepping bias is far below the smallest statistical error
    det = TypedLQGame(**{**TWO_TYPES.to_dict(), "sigma": 0.0, "var0": 0.0})
    det_sol = solve_lq(det, n_times=51)
    bias = float(simulate_lq(det_sol, n_agents=10).sup_error(det_sol)[0])
    assert bias < 0.02 * min(errors)


def test_mean_field_coupling_and_simulation_frames() -> None:
    sol = solve_lq(TWO_TYPES, n_times=21)
    sim = simulate_lq(sol, n_agents=1001, n_runs=3, seed=5, coupling="mean_field")
    assert sim.type_counts.tolist() == [400, 601]
    assert sim.mean.shape == (3, 21) and sim.type_means.shape == (3, 21, 2)
    assert sim.n_runs == 3
    # the population mean is the count-weighted mean of the type means
    w = sim.type_counts / sim.type_counts.sum()
    np.testing.assert_allclose(sim.mean, sim.type_means @ w, rtol=1e-12, atol=1e-12)
    frame = sim.to_frame()
    assert list(frame.columns) == ["run", "t", "mean"] and len(frame) == 63
    again = simulate_lq(sol, n_agents=1001, n_runs=3, seed=5, coupling="mean_field")
    np.testing.assert_array_equal(again.mean, sim.mean)  # seeded
    assert sim.to_dict()["coupling"] == "mean_field"


# --------------------------------------------------------------------------- finite MFG on a grid


def test_discretised_game_converges_to_the_closed_form() -> None:
    """Issue 5(a): the LQ game on a grid of states × actions × periods, solved by the generic
    finite-MFG engine (damped fixed point, exact exploitability), has type means within a
    fraction of a grid cell of the closed form, and the error halves as the grid is
    refined (first order: Euler step, action grid, linear interpolation of the state)."""
    game = TypedLQGame(**{**TWO_TYPES.to_dict(), "horizon": 1.0, "var0": (0.04, 0.02)})
    # states cover the mean paths ± 4 sd; actions cover the closed-form controls there
    x_range, u_range = (-1.5, 2.5), (-3.0, 2.0)
    errors, cells = [], []
    for n_x, n_u, n_t in ((21, 11, 5), (41, 21, 10), (81, 41, 20)):
        disc = discretize_lq(
            game, n_states=n_x, n_actions=n_u, n_steps=n_t, x_range=x_range, u_range=u_range
        )
        assert isinstance(disc, LQLineGame) and isinstance(disc.game, FiniteMFG)
        res = solve(disc.game, method="fixed_point", damping=1.0, max_iter=50, tol=1e-9)
        assert res.converged
        assert exploitability(disc.game, res.policy) <= 1e-9
        exact = solve_lq(game, times=disc.times())
        num = disc.type_means(res.mean_field)
        assert num.shape == (n_t + 1, 2)
        errors.append(float(np.abs(num - exact.type_means).max()))
        cells.append(float(disc.x[1] - disc.x[0]))
        np.testing.assert_allclose(
            disc.population_mean(res.mean_field), num @ game.array("shares"), atol=1e-12
        )
    assert errors[0] > errors[1] > errors[2]
    assert errors[0] / errors[2] > 3.0  # ~2x per halving
    assert errors[-1] < 0.25 * cells[-1]


def test_discretised_game_defaults_and_single_type() -> None:
    game = TypedLQGame(q=1.0, s=0.5, r=1.0, q_terminal=1.0, mean0=1.0, var0=0.04, sigma=0.3)
    mfg = lq_line_game(game, n_states=31, n_actions=21, n_steps=8)
    assert isinstance(mfg, FiniteMFG)
    assert (mfg.horizon, mfg.n_states, mfg.n_actions) == (8, 31, 21)
    np.testing.assert_allclose(mfg.initial_distribution.sum(), 1.0)
    disc = discretize_lq(game, n_states=31, n_actions=21, n_steps=8)
    res = solve(disc.game, method="fixed_point", damping=1.0, max_iter=50, tol=1e-9)
    exact = solve_lq(game, times=disc.times())
    err = np.abs(disc.type_means(res.mean_field)[:, 0] - exact.mean).max()
    assert err < 0.5 * (disc.x[1] - disc.x[0])
    # the default action grid contains every closed-form control on the state grid
    reach = np.abs(exact.gain[:, :, None] * disc.x + exact.offset[:, :, None]).max()
    assert disc.u.min() <= -reach and disc.u.max() >= reach


# --------------------------------------------------------------------------- API


def test_solution_frames_and_controls() -> None:
    sol = solve_lq(TWO_TYPES, n_times=11)
    frame = sol.to_frame()
    assert frame.index.name == "t" and len(frame) == 11
    assert {"mean", "pv_mean", "ev_var", "pv_gain", "ev_offset", "pv_riccati"} <= set(frame)
    x = np.array([0.5, -1.0, 2.0])
    types = np.array([0, 1, 1])
    u = sol.control(3, x, types)
    np.testing.assert_allclose(u, -sol.gain[3, types] * x - sol.offset[3, types])
    d = sol.to_dict()
    assert d["game"]["type_names"] == ("pv", "ev") and len(d["costs"]) == 2
    # variances follow v' = 2(a − bG)v + σ²: with no noise and a point start they stay 0
    det = solve_lq(TypedLQGame(**{**TWO_TYPES.to_dict(), "sigma": 0.0, "var0": 0.0}))
    np.testing.assert_allclose(det.type_variances, 0.0, atol=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shares": (0.5, 0.6)}, "shares"),
        ({"shares": (1.5, -0.5)}, "shares"),
        ({"shares": (0.5, 0.5), "a": (1.0, 2.0, 3.0)}, "one entry per type"),
        ({"r": 0.0}, "r must be positive"),
        ({"sigma": -0.1}, "non-negative"),
        ({"horizon": 0.0}, "horizon"),
        ({"q": float("nan")}, "finite"),
        ({"shares": (0.5, 0.5), "type_names": ("x", "x")}, "distinct"),
        # a text was split into letters ("ab": two types a and b); 5 a raw TypeError
        ({"shares": (0.5, 0.5), "type_names": "ab"}, "sequence of names, one per type"),
        ({"type_names": 5}, "sequence of names, one per type"),
        ({"type_names": (None,)}, "non-empty texts"),
        ({"horizon": None}, "horizon must be a real number"),  # a raw TypeError before
        ({"horizon": "2"}, "horizon must be a real number"),  # taken as 2.0 before
    ],
)
def test_invalid_games(kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        TypedLQGame(**kwargs)


def test_invalid_solver_arguments() -> None:
    game = TypedLQGame()
    with pytest.raises(InvalidParameterError):
        solve_lq(game, n_times=1)
    with pytest.raises(InvalidParameterError):
        solve_lq(game, times=[0.5, 0.2])
    with pytest.raises(InvalidParameterError):
        solve_lq(game, times=[0.0, 2.0])
    sol = solve_lq(game, n_times=5)
    with pytest.raises(InvalidParameterError):
        simulate_lq(sol, n_agents=0)
    with pytest.raises(InvalidParameterError):
        simulate_lq(sol, n_agents=5, coupling="magic")
    with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0"):
        simulate_lq(sol, n_agents=5, seed=-1)  # was numpy's ValueError
    with pytest.raises(InvalidParameterError):
        discretize_lq(game, n_states=2)
    with pytest.raises(InvalidParameterError):
        discretize_lq(game, x_range=(1.0, 0.0))
    assert math.isfinite(sol.cost)


# --------------------------------------------------------------------------------------------
# the grid game's rewards and noise by hand (mutation round 3)
# --------------------------------------------------------------------------------------------


def test_discretised_rewards_by_hand() -> None:
    # x grid -2..2 (5 nodes) per type, u in {-1, 0, 1}, dt = 1.5 / 3 = 0.5; all mass at
    # type 0, x = 1, so x̄ = 1
    disc = discretize_lq(
        TWO_TYPES, n_states=5, n_actions=3, n_steps=3, x_range=(-2.0, 2.0), u_range=(-1.0, 1.0)
    )
    game = disc.game
    np.testing.assert_array_equal(disc.x, [-2.0, -1.0, 0.0, 1.0, 2.0])
    mu = np.zeros(10)
    mu[3] = 1.0
    term = game.terminal_reward(mu)
    # −(½ qT x² + sT x x̄ + ½ q̄T x̄²): type 0 (qT 1, sT 0.2), x = 2: −(2 + 0.4 + 0.15)
    assert term[4] == pytest.approx(-2.55, rel=1e-14)
    # type 1 (qT 0.5, sT −0.1), x = −2: −(1 + 0.2 + 0.15)
    assert term[5] == pytest.approx(-1.35, rel=1e-14)
    L = np.zeros((10, 3))
    L[3, 1] = 1.0
    r = game.reward(0, L)
    # −(½ q x² + s x x̄ + ½ q̄ x̄² + ½ r u²) dt: type 0 (q 1, s −0.5, q̄ 0.2, r 0.5), x = 2, u = 1
    assert r[4, 2] == pytest.approx(-(2.0 - 1.0 + 0.1 + 0.25) * 0.5, rel=1e-14)
    # type 1 (q 2, s 0.3, q̄ 0.1, r 1), x = −1, u = −1: −(1 − 0.3 + 0.05 + 0.5) dt
    assert r[6, 0] == pytest.approx(-(1.0 - 0.3 + 0.05 + 0.5) * 0.5, rel=1e-14)


def test_discretised_noise_has_variance_sigma_squared_dt() -> None:
    # dt = 1/3, sigma = 0.5: the noise points ±sqrt(3 dt) sigma = ±0.5 fall on the grid
    # (step 0.5), so from x = 0 with u = 0 (no drift) the next state is −0.5, 0, 0.5 with
    # probabilities 1/6, 2/3, 1/6: mean 0, variance 1/12 = sigma² dt
    spec = TypedLQGame(a=0.0, b=1.0, sigma=0.5, horizon=1.0)
    disc = discretize_lq(
        spec, n_states=9, n_actions=3, n_steps=3, x_range=(-2.0, 2.0), u_range=(-1.0, 1.0)
    )
    S, A = disc.game.n_states, disc.game.n_actions
    P = disc.game.transition(0, np.full((S, A), 1.0 / (S * A)))
    row = np.asarray(P[4 * A + 1].todense()).ravel()  # x = 0, u = 0
    expected = np.zeros(S)
    expected[[3, 4, 5]] = [1 / 6, 2 / 3, 1 / 6]
    np.testing.assert_allclose(row, expected, atol=1e-14)
    assert row @ disc.x**2 == pytest.approx(0.25 / 3.0, rel=1e-12)


def test_discretised_default_ranges_by_hand() -> None:
    # m0 = 1, v0 = 0.04, sigma = 0.3, T = 1: x over 1 ± 5 sqrt(0.04 + 0.09) (> 1);
    # u over ±1.5 max |G x + g| of the closed form on that grid
    game = TypedLQGame(q=1.0, s=0.5, r=1.0, q_terminal=1.0, mean0=1.0, var0=0.04, sigma=0.3)
    disc = discretize_lq(game, n_states=31, n_actions=21, n_steps=8)
    half = 5.0 * math.sqrt(0.13)
    assert disc.x[0] == pytest.approx(1.0 - half, rel=1e-14)
    assert disc.x[-1] == pytest.approx(1.0 + half, rel=1e-14)
    exact = solve_lq(game, n_times=9)
    reach = np.abs(exact.gain[:, :, None] * disc.x + exact.offset[:, :, None]).max()
    assert disc.u[-1] == pytest.approx(1.5 * reach, rel=1e-12)
    assert disc.u[0] == pytest.approx(-1.5 * reach, rel=1e-12)


def test_simulated_initial_states_have_the_initial_variance() -> None:
    # at t = 0 a type's empirical mean over n_k agents has variance v0_k / n_k (Gaussian
    # N(m0_k, v0_k) states); 4,000 independent runs estimate it within a few percent
    sol = solve_lq(TWO_TYPES, n_times=2)
    sim = simulate_lq(sol, n_agents=10, n_runs=4000, seed=11, coupling="mean_field")
    assert sim.type_counts.tolist() == [4, 6]
    first = sim.type_means[:, 0, :]  # (runs, K)
    np.testing.assert_allclose(first.var(axis=0, ddof=1), [0.2 / 4, 0.1 / 6], rtol=0.1)
    np.testing.assert_allclose(first.mean(axis=0), [1.0, -0.5], atol=0.03)


@pytest.mark.parametrize("var0", [0.0, 1e-10])
def test_point_mass_initial_state_is_split_linearly(var0: float) -> None:
    # x = -1, -0.5, 0, 0.5, 1; m0 = 0.3 lies 0.6 of the way from 0 to 0.5: masses 0.4 and
    # 0.6 there (mean 0.3 kept), also for a spread far below the grid step (sd 1e-5)
    spec = TypedLQGame(mean0=0.3, var0=var0, sigma=0.2)
    disc = discretize_lq(spec, n_states=5, n_actions=3, n_steps=2, x_range=(-1.0, 1.0))
    np.testing.assert_allclose(
        disc.game.initial_distribution, [0.0, 0.0, 0.4, 0.6, 0.0], rtol=0, atol=1e-12
    )
    assert disc.game.initial_distribution @ disc.x == pytest.approx(0.3, rel=1e-12)
