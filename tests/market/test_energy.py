"""The energy game on the mean-field engine: the encoding against the agents' DP, the
exploitability against an independent check, the equilibrium on a real bundled day."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import data
from agents.bidding import DPGrid, ErrorQuadrature, PricePath, best_response
from agents.config import AgentParams, Dist, PopulationConfig, TypeConfig
from agents.population import sample_population
from agents.profiles import day_profiles
from data.errors import InvalidParameterError
from market.energy import (
    DEFAULT_KAPPA,
    DEFAULT_TOL_EUR,
    EnergyEquilibrium,
    EnergyGame,
    energy_game,
    noop_policy,
    solve_energy_market,
)
from market.mfg import best_response as engine_best_response
from market.mfg import exploitability, mean_field, q_values

DAY = "2017-06-14"


@pytest.fixture(scope="module")
def es_day() -> tuple[np.ndarray, object]:
    frame = data.load_market_data("ES", DAY, "2017-06-15")
    return frame["price_eur_per_mwh"].to_numpy(), day_profiles(frame)


@pytest.fixture(scope="module")
def forecast(es_day) -> pd.DataFrame:
    """A heavy-tailed zone forecast (5 % relative error, nu = 4): non-trivial quadratures."""
    _, shapes = es_day
    H = shapes.n_intervals
    return pd.DataFrame({"mu": np.full(H, 30000.0), "sigma": np.full(H, 1500.0), "nu": 4.0})


@pytest.fixture(scope="module")
def game(es_day, forecast) -> EnergyGame:
    price, shapes = es_day
    return energy_game(PopulationConfig(), price, shapes, forecast=forecast, n_nodes=12)


SKEWED_NODES = np.array([-0.2, -0.1, 0.0, 0.6])
"""A right-skewed forecast error (kWh): ``rho(eps) != rho(-eps)``, unlike any symmetric
(Student-t) quadrature, so the risk terms of buying and selling can be told apart."""
SKEWED_WEIGHTS = np.array([0.3, 0.3, 0.3, 0.1])


def skewed_errors(H: int) -> ErrorQuadrature:
    return ErrorQuadrature(np.tile(SKEWED_NODES, (H, 1)), SKEWED_WEIGHTS)


@pytest.fixture(scope="module")
def skewed_game(es_day, game) -> EnergyGame:
    """The game of ``game`` with the skewed error quadrature in every block. With the default
    types (gamma 0.3, alpha 0.1): ``rho(eps) = 0.7 (-0.03) + 0.3 * 0.6 = 0.159`` kWh and
    ``rho(-eps) = 0.7 * 0.03 + 0.3 * 0.2 = 0.081`` kWh."""
    price, shapes = es_day
    errors = {b.name: skewed_errors(shapes.n_intervals) for b in game.blocks}
    return energy_game(PopulationConfig(), price, shapes, errors=errors)


@pytest.fixture(params=["game", "skewed_game"])
def any_game(request) -> EnergyGame:
    """The Student-t game and the skewed one (the comparisons must hold for both)."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def equilibrium(game) -> EnergyEquilibrium:
    return solve_energy_market(game, tol_eur=0.01)


def agents_br(game: EnergyGame, prices: PricePath):
    """Best response of every block's representative by agents.bidding."""
    return [
        best_response(b.params, b.load_kwh, prices, b.errors, pv_kwh=b.pv_kwh, grid=game.grid)
        for b in game.blocks
    ]


def flat_prices(game: EnergyGame, price: np.ndarray) -> PricePath:
    """Buy = sell = the local price, on the game's clock."""
    return PricePath(price, price, dt_hours=game.tariff.dt_hours, clock_hour=game.tariff.clock_hour)


def physical_mean_position(game: EnergyGame, L: np.ndarray) -> np.ndarray:
    """Y (H,) recomputed from the flow and each kind's physics (not from the game's arrays)."""
    H = game.n_intervals
    Y = np.zeros(H)
    clock, dt = game.tariff.clock_hour, game.tariff.dt_hours
    for b in game.blocks:
        p = b.params
        mean_eps = b.errors.nodes @ b.errors.weights
        for t in range(H):
            for s, a in zip(*np.nonzero(L[t, b.slice, :] > 0), strict=True):
                if b.kind == "consumer":
                    u = -p.dr_max_fraction * b.load_kwh[t] * b.action_values[a]
                elif b.kind == "pv_storage":
                    j = b.action_values[a]
                    delta = b.states[1] - b.states[0]
                    u = j * delta / p.eta_charge if j > 0 else j * delta * p.eta_discharge
                elif b.kind == "ev":
                    inside = clock[t] >= p.ev_arrival_hour and clock[t] + dt <= p.ev_deadline_hour
                    k = min(b.ev_steps[a], s) if inside else 0
                    # the grid is anchored at the need: whole steps down, a short last one
                    left = [
                        max(p.ev_need_kwh - (b.n_states - 1 - j) * b.ev_delta_kwh, 0.0)
                        for j in (s, s - k)
                    ]
                    u = (left[0] - (left[1] if s - k > 0 else 0.0)) / p.eta_charge
                else:
                    u = 0.0
                Y[t] += L[t, b.offset + s, a] * (b.net_kwh[t] + u + mean_eps[t])
    return Y


# --------------------------------------------------------------------------------------------
# the encoding
# --------------------------------------------------------------------------------------------


def test_game_shape_and_blocks(game) -> None:
    H, S, A = game.mfg.shape
    assert H == 24
    # DEFAULT_BINS: consumer in four flexibility-cost bins, pv_storage in two degradation-cost
    # bins, one block for the other kinds
    assert [b.kind for b in game.blocks] == ["consumer"] * 4 + [
        "pv",
        "pv_storage",
        "pv_storage",
        "ev",
    ]
    assert [b.bin_parameter for b in game.blocks if b.kind == "consumer"] == [
        "flex_cost_eur_per_kwh2"
    ] * 4
    assert [b.bin_parameter for b in game.blocks if b.kind == "pv_storage"] == [
        "degradation_eur_per_kwh"
    ] * 2
    assert S == sum(b.n_states for b in game.blocks)
    assert A == max(b.n_actions for b in game.blocks)
    np.testing.assert_allclose(game.mfg.initial_distribution.sum(), 1.0)
    for b in game.blocks:  # each block's share sits on its initial state
        assert game.mfg.initial_distribution[b.offset + b.initial_state] == pytest.approx(b.share)
    # deterministic, block-diagonal transitions: one nonzero per row, inside the block
    for P in game.transitions:
        assert P.nnz == S * A and (np.diff(P.indptr) == 1).all()
        rows = np.repeat(np.arange(S), A)
        for b in game.blocks:
            inside = (rows >= b.offset) & (rows < b.offset + b.n_states)
            cols = P.indices[inside]
            assert ((cols >= b.offset) & (cols < b.offset + b.n_states)).all()
    # penalised actions are self-loops
    s_idx = np.arange(S)[None, :, None]
    assert (
        game.next_state[~game.feasible]
        == np.broadcast_to(s_idx, game.feasible.shape)[~game.feasible]
    ).all()
    json.dumps(game.to_dict())


def test_live_reward_is_the_mean_cvar_stage_cost_at_the_local_price(any_game) -> None:
    game = any_game
    rng = np.random.default_rng(0)
    L = rng.random(game.mfg.shape)
    L /= L.sum(axis=(1, 2), keepdims=True)
    Y = game.mean_position(L)
    price = game.price(Y)
    frozen = game.frozen_stage_cost(flat_prices(game, price))  # batched risk.mean_cvar
    for t in range(game.n_intervals):
        np.testing.assert_allclose(game.reward(t, L[t]), -frozen[t], rtol=0, atol=1e-12)
    # the price is the clipped wholesale price plus kappa times the mean position
    raw = game.wholesale_eur_per_mwh + game.kappa_eur_per_mwh_per_kwh * Y
    np.testing.assert_allclose(
        price, np.clip(raw, game.tariff.sell_eur_per_mwh, game.tariff.buy_eur_per_mwh)
    )


def test_encoding_equals_the_agents_dp_at_frozen_prices(any_game) -> None:
    """Translation equivariance: the nested mean-CVaR DP of agents.bidding equals the engine's
    expected-reward DP with stage reward -rho(cost), here under the kinked grid tariff (with
    symmetric and with skewed forecast errors)."""
    game = any_game
    prices = game.tariff  # buy != sell: the risk term depends on the control
    frozen = game.frozen_game(prices)
    L = mean_field(frozen, noop_policy(game))
    br = engine_best_response(frozen, L)
    Q = q_values(frozen, L)
    chosen = br.policy.argmax(axis=2)
    gammas = set()
    for b, res in zip(game.blocks, agents_br(game, prices), strict=True):
        gammas.add(b.params.gamma)
        sl = b.slice
        finite = np.isfinite(res.value)
        np.testing.assert_allclose(
            -br.values[:, sl][finite], res.value[finite], rtol=1e-11, atol=1e-11
        )
        ok = res.policy >= 0
        engine = chosen[:, sl]
        differ = ok & (engine != res.policy)
        # a different choice is only allowed at an exact tie of the Q values
        t_idx, s_idx = np.nonzero(differ)
        q = Q[:, sl]
        gap = q[t_idx, s_idx, engine[differ]] - q[t_idx, s_idx, res.policy[differ]]
        assert (np.abs(gap) < 1e-10).all()
        assert differ.sum() <= 0.01 * ok.sum()
        # along the optimal path the schedules coincide
        s = b.initial_state
        for t in range(game.n_intervals):
            assert chosen[t, b.offset + s] == res.policy[t, s]
            s = int(game.next_state[t, b.offset + s, chosen[t, b.offset + s]] - b.offset)
        assert s == res.state_path[-1]
        assert -br.values[0, b.offset + b.initial_state] == pytest.approx(res.risk_value, rel=1e-12)
    assert gammas and max(gammas) > 0  # the risk-aware case


def test_skewed_errors_have_distinct_buy_and_sell_risk(skewed_game) -> None:
    """The skewed game's risk terms (hand values in ``skewed_game``), and its rewards at
    flat local prices of either sign, against agents.bidding's DP of each representative:
    at ``p > 0`` the risk is ``p rho(eps)``, at ``p < 0`` it is ``|p| rho(-eps)``."""
    game = skewed_game
    for b in game.blocks:
        assert (b.params.gamma, b.params.alpha) == pytest.approx((0.3, 0.1))
    np.testing.assert_allclose(game.rho_pos_kwh, 0.159, rtol=0, atol=1e-12)
    np.testing.assert_allclose(game.rho_neg_kwh, 0.081, rtol=0, atol=1e-12)
    np.testing.assert_allclose(game.mean_error_kwh, -0.03, rtol=0, atol=1e-12)
    H = game.n_intervals
    for sign in (1.0, -1.0):
        price = sign * (20.0 + np.arange(H))  # flat: buy = sell = the price
        prices = flat_prices(game, price)
        live = np.stack([game.stage_cost(t, price[t]) for t in range(H)])
        np.testing.assert_allclose(live, game.frozen_stage_cost(prices), rtol=0, atol=1e-12)
        frozen = game.frozen_game(prices)
        values = engine_best_response(frozen, mean_field(frozen, noop_policy(game))).values
        for b, res in zip(game.blocks, agents_br(game, prices), strict=True):
            v0 = -values[0, b.offset + b.initial_state]
            assert v0 == pytest.approx(res.risk_value, rel=1e-12, abs=1e-12)


def test_stage_cost_by_hand_with_skewed_errors(es_day) -> None:
    """One pv representative (one state, one action, no extra cost), gamma 0.5, alpha 0.25,
    errors ``[-0.2, -0.1, 0, 0.6]`` with equal weights: ``E[eps] = 0.075``,
    ``CVaR_0.25(eps) = 0.6``, ``CVaR_0.25(-eps) = 0.2``, so ``rho(eps) = 0.5 * 0.075 + 0.5 *
    0.6 = 0.3375`` and ``rho(-eps) = -0.0375 + 0.1 = 0.0625`` kWh. Stage cost (module doc):
    ``(p m + p+ rho(eps) + p- rho(-eps)) / 1000`` EUR with ``m`` the expected net position:
    here 0.5 kWh (load 0.5, no PV) at t = 0 and -1 kWh (PV 1.5) at t = 13."""
    price, shapes = es_day
    H = shapes.n_intervals
    sun = AgentParams("pv", name="sun", gamma=0.5, alpha=0.25)
    q = ErrorQuadrature(np.tile(SKEWED_NODES, (H, 1)), np.full(4, 0.25))
    pv = np.where(np.arange(H) < 12, 0.0, 1.5)
    game = energy_game(
        [(sun, 1.0)], price, shapes, errors={"sun": q}, profiles={"sun": (np.full(H, 0.5), pv)}
    )
    assert game.mfg.shape == (H, 1, 1)
    np.testing.assert_allclose(game.rho_pos_kwh, 0.3375, rtol=0, atol=1e-12)
    np.testing.assert_allclose(game.rho_neg_kwh, 0.0625, rtol=0, atol=1e-12)
    cases = [
        (0, 80.0, (80 * 0.5 + 80 * 0.3375) / 1000),  # 0.067
        (13, 80.0, (80 * -1.0 + 80 * 0.3375) / 1000),  # -0.053
        (0, -40.0, (-40 * 0.5 + 40 * 0.0625) / 1000),  # -0.0175
        (13, -40.0, (-40 * -1.0 + 40 * 0.0625) / 1000),  # 0.0425
        (0, 0.0, 0.0),
    ]
    for t, p, expected in cases:
        assert game.stage_cost(t, p)[0, 0] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_exploitability_matches_an_independent_check(game) -> None:
    """Engine exploitability of a deterministic policy vs agents.bidding end to end: the
    no-op price path, the agents' best responses to it (the policy), their mean position,
    its price, and what a best response to that price saves."""
    shares = np.array([b.share for b in game.blocks])
    mean_eps = [b.errors.nodes @ b.errors.weights for b in game.blocks]
    pi, kappa = game.wholesale_eur_per_mwh, game.kappa_eur_per_mwh_per_kwh
    buy, sell = game.tariff.buy_eur_per_mwh, game.tariff.sell_eur_per_mwh

    def price_of(positions):
        Y = sum(w * (pos + e) for w, pos, e in zip(shares, positions, mean_eps, strict=True))
        return np.clip(pi + kappa * Y, sell, buy)

    p_noop = price_of([b.net_kwh for b in game.blocks])
    policy_results = agents_br(game, flat_prices(game, p_noop))
    p0 = price_of([r.schedule["position_kwh"].to_numpy() for r in policy_results])
    better = agents_br(game, flat_prices(game, p0))
    gains = [
        r.policy_cost(flat_prices(game, p0)) - b.risk_value
        for r, b in zip(policy_results, better, strict=True)
    ]
    independent = float(shares @ np.array(gains))
    assert independent > 0.01  # a real test: the policy is far from an equilibrium

    noop_L = mean_field(game.mfg, noop_policy(game))
    policy = engine_best_response(game.mfg, noop_L).policy
    # two exact dynamic programmes over the same grid and quadrature: they differ only by
    # round-off on per-type values of ~1 EUR (measured 1.9e-16 on 0.087 EUR), so abs=1e-12
    assert exploitability(game.mfg, policy) == pytest.approx(independent, abs=1e-12)


def test_equilibrium_exploitability_matches_the_agents_best_responses(equilibrium) -> None:
    game = equilibrium.game
    brs = agents_br(game, flat_prices(game, equilibrium.price_eur_per_mwh))
    types = equilibrium.types
    # exact DPs on both sides: round-off only, on values of ~1 EUR (measured ≤ 8.9e-16 for
    # the costs, gains ≥ −1.1e-15, exploitability 5.9e-17 apart on 0.0083 EUR): 1e-12
    np.testing.assert_allclose(
        types["best_response_cost_eur"].to_numpy(), [r.risk_value for r in brs], atol=1e-12
    )
    gains = types["risk_cost_eur"].to_numpy() - np.array([r.risk_value for r in brs])
    assert (gains >= -1e-12).all()
    independent = float(types["share"].to_numpy() @ gains)
    assert equilibrium.exploitability_eur == pytest.approx(independent, abs=1e-12)
    assert exploitability(game.mfg, equilibrium.policy) == pytest.approx(
        equilibrium.exploitability_eur, abs=1e-12
    )


# --------------------------------------------------------------------------------------------
# the equilibrium
# --------------------------------------------------------------------------------------------


def test_equilibrium_on_a_real_day(equilibrium) -> None:
    eq, game = equilibrium, equilibrium.game
    assert eq.converged and eq.exploitability_eur < 0.01
    assert eq.initial_exploitability_eur > 0.05  # the coupling matters on this day
    assert eq.exploitability_history_eur[-1] == eq.exploitability_eur
    assert eq.iterations == eq.exploitability_history_eur.size
    assert eq.elapsed_s > 0
    # the fixed point: the price of the equilibrium's own mean position
    Y = physical_mean_position(game, np.asarray(eq.mean_field))
    np.testing.assert_allclose(eq.mean_position_kwh, Y, rtol=0, atol=1e-10)
    raw = game.wholesale_eur_per_mwh + game.kappa_eur_per_mwh_per_kwh * Y
    expected = np.clip(raw, game.tariff.sell_eur_per_mwh, game.tariff.buy_eur_per_mwh)
    np.testing.assert_allclose(eq.price_eur_per_mwh, expected, rtol=0, atol=1e-9)
    assert (eq.price_eur_per_mwh < game.tariff.buy_eur_per_mwh).any()  # not pinned to the grid
    # population summaries are share-weighted block values
    w = eq.types["share"].to_numpy()
    np.testing.assert_allclose(w.sum(), 1.0)
    assert eq.expected_cost_eur == pytest.approx(w @ eq.types["expected_cost_eur"].to_numpy())
    assert eq.exploitability_eur == pytest.approx(w @ eq.types["exploitability_eur"].to_numpy())
    np.testing.assert_allclose(w @ eq.block_position_kwh, eq.mean_position_kwh, atol=1e-12)
    frame = eq.to_frame()
    assert frame.index.equals(game.tariff.index) and len(frame) == 24
    np.testing.assert_array_equal(frame["price_eur_per_mwh"], eq.price_eur_per_mwh)
    summary = json.loads(json.dumps(eq.to_dict()))
    assert summary["exploitability_eur_per_agent_day"] == eq.exploitability_eur
    assert len(summary["types"]) == len(game.blocks) == 8  # consumer in 4 bins, pv_storage 2


def test_kappa_zero_faces_the_wholesale_price(es_day, forecast) -> None:
    price, shapes = es_day
    game0 = energy_game(
        PopulationConfig(), price, shapes, forecast=forecast, kappa_eur_per_mwh_per_kwh=0.0
    )
    eq = solve_energy_market(game0)
    np.testing.assert_array_equal(eq.price_eur_per_mwh, price)  # clip(pi) = pi inside the band
    assert eq.iterations == 0 and eq.exploitability_eur == 0.0
    brs = agents_br(game0, flat_prices(game0, price))
    np.testing.assert_allclose(
        eq.types["risk_cost_eur"].to_numpy(), [r.risk_value for r in brs], rtol=1e-12
    )
    np.testing.assert_allclose(
        eq.types["expected_cost_eur"].to_numpy(), [r.expected_cost for r in brs], rtol=1e-12
    )


@pytest.mark.parametrize("kappa", [50.0, 200.0])
@pytest.mark.parametrize(("method", "damping"), [("fictitious_play", 0.5), ("fixed_point", 0.2)])
def test_solvers_converge(es_day, method, damping, kappa) -> None:
    price, shapes = es_day
    game = energy_game(PopulationConfig(), price, shapes, kappa_eur_per_mwh_per_kwh=kappa)
    eq = solve_energy_market(game, method=method, damping=damping, max_iter=200, tol_eur=0.01)
    assert eq.converged and eq.exploitability_eur <= 0.01
    assert eq.initial_exploitability_eur > 0.05


def test_the_defaults_reach_the_tighter_tolerance(es_day, forecast) -> None:
    """Default kappa (400) and tolerance (0.001 EUR per agent per day): fictitious play gets
    there, the exploitability agrees with the agents' own best responses, and the tighter
    equilibrium's community cost is not above the 0.01-tolerance one's."""
    price, shapes = es_day
    assert DEFAULT_KAPPA == 400.0 and DEFAULT_TOL_EUR == 0.001
    game = energy_game(PopulationConfig(), price, shapes, forecast=forecast, n_nodes=12)
    assert game.kappa_eur_per_mwh_per_kwh == DEFAULT_KAPPA
    eq = solve_energy_market(game)
    assert eq.converged and eq.exploitability_eur <= DEFAULT_TOL_EUR
    assert eq.tol_eur == DEFAULT_TOL_EUR and eq.iterations > 3
    brs = agents_br(game, flat_prices(game, eq.price_eur_per_mwh))
    gains = eq.types["risk_cost_eur"].to_numpy() - np.array([r.risk_value for r in brs])
    independent = float(eq.types["share"].to_numpy() @ gains)
    # exact DPs on both sides: round-off only (measured 3.0e-16 on 0.00099 EUR)
    assert eq.exploitability_eur == pytest.approx(independent, abs=1e-12)
    loose = solve_energy_market(game, tol_eur=0.01)
    assert loose.exploitability_eur > DEFAULT_TOL_EUR  # the tighter tolerance is a real change
    assert eq.community_cost_eur <= loose.community_cost_eur + 1e-9


def test_the_default_kappa_is_closer_to_the_community_cost(es_day, forecast) -> None:
    """The steeper default price (400, was 200) prices a small import nearer ``p_buy``, the
    community's marginal cost: its equilibrium's community cost (grid bill of the mean
    position + extras) is lower, and a still steeper one gains little more (issue 6, item 7)."""
    price, shapes = es_day
    cost = {}
    for kappa in (200.0, DEFAULT_KAPPA, 1000.0):
        game = energy_game(
            PopulationConfig(),
            price,
            shapes,
            forecast=forecast,
            n_nodes=8,
            kappa_eur_per_mwh_per_kwh=kappa,
        )
        eq = solve_energy_market(game)
        assert eq.converged and eq.exploitability_eur <= DEFAULT_TOL_EUR
        cost[kappa] = eq.community_cost_eur
    assert cost[DEFAULT_KAPPA] < cost[200.0] - 0.002  # EUR per agent per day
    assert cost[1000.0] > cost[DEFAULT_KAPPA] - 0.5 * (cost[200.0] - cost[DEFAULT_KAPPA])


def test_a_dst_day_and_the_no_op_start(es_day) -> None:
    frame = data.load_market_data("ES", "2017-03-26", "2017-03-27")
    shapes = day_profiles(frame)
    game = energy_game(PopulationConfig(), frame["price_eur_per_mwh"].to_numpy(), shapes)
    assert game.n_intervals == 23
    # from the no-op start fictitious play reaches 0.01 fast but 0.001 only slowly (0.0018
    # after 1,000 iterations on this day; 234 from the default start)
    eq = solve_energy_market(game, initial="no_op", tol_eur=0.01)
    assert eq.converged and eq.exploitability_eur < 0.01


def test_the_penalty_exceeds_any_gain(es_day, equilibrium) -> None:
    game = equilibrium.game
    price, shapes = es_day
    # a doubled penalty changes no value from the initial states, hence no exploitability
    forecast = pd.DataFrame({"mu": np.full(24, 30000.0), "sigma": np.full(24, 1500.0), "nu": 4.0})
    bigger = energy_game(
        PopulationConfig(),
        price,
        shapes,
        forecast=forecast,
        n_nodes=12,
        penalty_eur=2 * game.penalty_eur,
    )
    assert exploitability(bigger.mfg, equilibrium.policy) == pytest.approx(
        equilibrium.exploitability_eur, abs=1e-12
    )
    # best responses never use a penalised action where the flow goes
    br = engine_best_response(game.mfg, equilibrium.mean_field)
    flow = mean_field(game.mfg, br.policy)
    assert flow[~game.feasible].sum() == 0.0
    assert equilibrium.mean_field[~game.feasible].sum() < 1e-12
    with pytest.raises(InvalidParameterError, match="penalty_eur must be >="):
        energy_game(PopulationConfig(), price, shapes, penalty_eur=1.0)


def test_the_state_grid_does_not_grow_with_the_population(es_day) -> None:
    price, shapes = es_day
    small = energy_game(sample_population(None, 1_000, seed=1), price, shapes)
    large = energy_game(sample_population(None, 100_000, seed=1), price, shapes)
    # the same grids: only the EV grid follows the representative's (sample mean) need
    # (battery moves follow the bins' sample-mean power/energy: a bin of ~75 agents moves it)
    assert small.mfg.horizon == large.mfg.horizon
    assert abs(small.mfg.n_actions - large.mfg.n_actions) <= 4 and large.mfg.n_actions < 50
    assert abs(small.mfg.n_states - large.mfg.n_states) <= 2
    assert large.mfg.n_states < 150  # 5 blocks (DEFAULT_BINS: two pv_storage grids of 41)


# --------------------------------------------------------------------------------------------
# parameter bins and inputs
# --------------------------------------------------------------------------------------------


def test_bins_of_a_config_and_of_a_population(es_day) -> None:
    price, shapes = es_day
    cfg = PopulationConfig()
    game = energy_game(cfg, price, shapes, bins=3)
    assert len(game.blocks) == 12
    assert sum(b.share for b in game.blocks) == pytest.approx(1.0)
    for tc in cfg.types:
        blocks = [b for b in game.blocks if b.type_name == tc.name]
        name = blocks[0].bin_parameter
        values = [getattr(b.params, name) for b in blocks]
        assert values == sorted(values)
        assert np.mean(values) == pytest.approx(tc.params[name].mean, rel=1e-12)  # bin means
        assert blocks[0].bin_range[0] == -math.inf and blocks[-1].bin_range[1] == math.inf
    eq = solve_energy_market(game)
    assert eq.converged and eq.exploitability_eur < 0.01
    per_type = eq.by_type()
    assert list(per_type.index) == list(cfg.type_names)
    np.testing.assert_allclose(per_type["share"], [t.share for t in cfg.types])
    assert per_type["share"].to_numpy() @ per_type["expected_cost_eur"].to_numpy() == (
        pytest.approx(eq.expected_cost_eur)
    )

    pop = sample_population(cfg, 20_000, seed=4)
    pgame = energy_game(pop, price, shapes, bins=3)
    for tc in cfg.types:
        blocks = [b for b in pgame.blocks if b.type_name == tc.name]
        name = blocks[0].bin_parameter
        w = np.array([b.share for b in blocks])
        rep = np.array([getattr(b.params, name) for b in blocks])
        mean = pop.param(name)[pop.mask(tc.name)].mean(dtype=np.float64)
        assert float(w @ rep / w.sum()) == pytest.approx(mean, rel=1e-6)
        assert w.sum() == pytest.approx(tc.share)
    # a type whose main parameter is fixed gets one block
    fixed = PopulationConfig(
        (
            TypeConfig("pv", 0.5, {"pv_kwp": Dist.fixed(4.0)}),
            TypeConfig("consumer", 0.5),
        )
    )
    assert [b.name for b in energy_game(fixed, price, shapes, bins=2).blocks] == [
        "pv",
        "consumer[0]",
        "consumer[1]",
    ]


def test_representative_pairs_and_overrides(es_day) -> None:
    price, shapes = es_day
    H = shapes.n_intervals
    store = AgentParams("pv_storage", battery_kwh=8.0, battery_kw=4.0, name="store", gamma=0.5)
    house = AgentParams("consumer", load_kwh_per_day=10.0, name="house")
    game = energy_game(
        [(store, 0.4), (house, 0.6)],
        price,
        shapes,
        grid=DPGrid(n_soc=11),
        profiles={"store": (np.full(H, 0.5), np.zeros(H))},
        errors={"house": ErrorQuadrature.student_t(np.full(H, 0.1), 5.0, n_nodes=4)},
    )
    assert game.block_names == ("store", "house")
    assert game.block("store").n_states == 11
    np.testing.assert_array_equal(game.block("store").load_kwh, np.full(H, 0.5))
    assert game.block("house").errors.n_nodes == 4
    assert game.tariff.buy_eur_per_mwh[0] == pytest.approx(price[0] + 60.0)  # default tariff
    # fictitious play stalls above 0.001 on this two-block game (1,000 iterations)
    eq = solve_energy_market(game, tol_eur=0.01)
    assert eq.converged


def test_bad_inputs_are_rejected(es_day) -> None:
    price, shapes = es_day
    cfg = PopulationConfig()
    cases = [
        (dict(kappa_eur_per_mwh_per_kwh=-1.0), "kappa"),
        (dict(kappa_eur_per_mwh_per_kwh=math.nan), "kappa"),
        (dict(bins=0), "bins"),
        # found by an API audit: an unknown key was silently ignored
        (
            dict(bins={"bogus": 2, "pv": 1}),
            r"bins for unknown type\(s\) bogus \(type names and kinds: consumer, pv, pv_storage, "
            r"ev\)$",
        ),
        (dict(errors={"nobody": None}), "unknown block"),
        (dict(errors={"pv": ErrorQuadrature.none(3)}), "ErrorQuadrature of 24"),
        (dict(forecast=pd.DataFrame({"mu": [1.0], "sigma": [0.0], "nu": [5.0]})), "forecast"),
        (dict(profiles={"pv": (np.ones(24), -np.ones(24))}), ">= 0"),
    ]
    for kwargs, match in cases:
        with pytest.raises(InvalidParameterError, match=match):
            energy_game(cfg, price, shapes, **kwargs)
    with pytest.raises(InvalidParameterError, match="shape"):
        energy_game(cfg, price[:-1], shapes)
    with pytest.raises(InvalidParameterError, match="finite"):
        energy_game(cfg, np.full(24, np.nan), shapes)
    with pytest.raises(InvalidParameterError, match="sum to 1"):
        energy_game([(AgentParams("pv"), 0.5)], price, shapes)
    with pytest.raises(InvalidParameterError, match="bins > 1"):
        energy_game([(AgentParams("pv"), 1.0)], price, shapes, bins=2)
    with pytest.raises(InvalidParameterError, match="population must be"):
        energy_game("consumers", price, shapes)
    game = energy_game(cfg, price, shapes)
    with pytest.raises(InvalidParameterError, match="unknown method"):
        solve_energy_market(game, method="magic")
    with pytest.raises(InvalidParameterError, match="initial"):
        solve_energy_market(game, initial="uniform")
    with pytest.raises(InvalidParameterError, match="EnergyGame"):
        solve_energy_market(game.mfg)


# --------------------------------------------------------------------------------------------
# bins, shares, tariff defaults and the expected position by hand (mutation round 3)
# --------------------------------------------------------------------------------------------


def test_lognormal_bin_means_are_the_conditional_means(es_day) -> None:
    # each bin's representative is E[X | X in bin] (k equal-probability bins), checked by
    # numerical integration of the lognormal density over the block's own bin range
    from scipy import integrate, stats

    price, shapes = es_day
    dist = Dist.lognormal(4.0, 0.5)
    cfg = PopulationConfig((TypeConfig("pv", 1.0, {"pv_kwp": dist}),))
    game = energy_game(cfg, price, shapes, bins=3)
    assert [b.name for b in game.blocks] == ["pv[0]", "pv[1]", "pv[2]"]
    sigma = math.sqrt(math.log1p(0.5**2))
    law = stats.lognorm(s=sigma, scale=4.0 * math.exp(-0.5 * sigma**2))  # mean 4, cv 0.5
    for b in game.blocks:
        lo, hi = b.bin_range
        lo, hi = max(lo, 0.0), min(hi, 1e3)
        assert law.cdf(hi) - law.cdf(lo) == pytest.approx(1 / 3, rel=1e-9)
        mass = integrate.quad(lambda x: x * law.pdf(x), lo, hi, epsabs=1e-12, limit=200)[0]
        assert b.params.pv_kwp == pytest.approx(3.0 * mass, rel=1e-7)
        assert b.share == pytest.approx(1 / 3, rel=1e-12)


def test_bins_by_type_name_take_precedence_over_the_kind(es_day) -> None:
    price, shapes = es_day
    cfg = PopulationConfig(
        (
            TypeConfig("consumer", 0.5, name="flexible"),
            TypeConfig("consumer", 0.5, name="plain"),
        )
    )
    game = energy_game(cfg, price, shapes, bins={"consumer": 3, "flexible": 2})
    names = [b.name for b in game.blocks]
    assert names == ["flexible[0]", "flexible[1]", "plain[0]", "plain[1]", "plain[2]"]


def test_block_shares_are_renormalised_over_the_types_present(es_day) -> None:
    # 10 agents of shares 0.96 / 0.04: largest remainders give 10 and 0, so the one block
    # present carries the whole population (share 1, not 0.96)
    price, shapes = es_day
    cfg = PopulationConfig((TypeConfig("pv", 0.96), TypeConfig("consumer", 0.04)))
    pop = sample_population(cfg, 10, seed=0)
    game = energy_game(pop, price, shapes, bins=1)
    assert [b.name for b in game.blocks] == ["pv"]
    assert game.blocks[0].share == 1.0
    assert game.mfg.initial_distribution.sum() == pytest.approx(1.0, abs=1e-15)


def test_default_tariff_of_representative_pairs(es_day) -> None:
    price, shapes = es_day
    game = energy_game([(AgentParams("pv", pv_kwp=3.0), 1.0)], price, shapes)
    np.testing.assert_allclose(game.tariff.buy_eur_per_mwh, price + 60.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(game.tariff.sell_eur_per_mwh, price - 15.0, rtol=0, atol=1e-12)


def test_expected_position_adds_the_mean_forecast_error(skewed_game) -> None:
    # skewed nodes (-0.2, -0.1, 0, 0.6) with weights (0.3, 0.3, 0.3, 0.1): mean -0.03 kWh,
    # so the price sees the mean position minus 0.03 kWh per agent
    game = skewed_game
    np.testing.assert_allclose(
        game.expected_position_kwh - game.position_kwh, -0.03, rtol=0, atol=1e-15
    )
    L = mean_field(game.mfg, noop_policy(game))
    plain = np.einsum("tsa,tsa->t", L, game.position_kwh)
    np.testing.assert_allclose(game.mean_position(L), plain - 0.03, rtol=0, atol=1e-12)


def test_penalty_by_hand(es_day) -> None:
    # one pv block importing 1 kWh every interval, no forecast error, no extra or terminal
    # cost: each stage costs at most pmax * 1 kWh / 1000, a day's cost spread is at most
    # B = 2 H pmax / 1000, and the penalty is 2 B + 1
    price, shapes = es_day
    H = shapes.n_intervals
    pv = AgentParams("pv", pv_kwp=3.0, name="solar")
    game = energy_game(
        [(pv, 1.0)],
        price,
        shapes,
        profiles={"solar": (np.ones(H), np.zeros(H))},
        errors={"solar": ErrorQuadrature.none(H)},
    )
    pmax = max(np.abs(price + 60.0).max(), np.abs(price - 15.0).max())
    assert game.penalty_eur == pytest.approx(2.0 * (2.0 * H * pmax / 1000.0) + 1.0, rel=1e-12)


# --------------------------------------------------------------------------------------------
# resolution: the same day on hours and on quarter-hours
# --------------------------------------------------------------------------------------------


def test_quarter_hours_give_the_hourly_market(quarter_hourly) -> None:
    """The coupling and the demand-response cost are per kW, not per kWh of an interval: the
    same day on quarter-hours (each hour's power and price on its four quarters) gives the
    hourly local prices on every quarter, the same costs per agent and the same planner and
    baseline. Before, a quarter-hour's position was a quarter of the hour's, so it moved the
    price four times less, and a reduction of ``r/4`` kWh cost ``flex (r/4)^2`` per quarter, a
    quarter of the hour's ``flex r^2``. Consumers and PV only (their DP has no state grid),
    no noise, no forecast error; kappa high enough that the coupling matters."""
    from agents.profiles import agent_net_demand
    from market.clearing import clear_finite_market
    from market.planner import baseline_cost, plan_community

    hourly = data.load_market_data("ES", DAY, "2017-06-15")
    config = PopulationConfig((TypeConfig("consumer", 0.6), TypeConfig("pv", 0.4)), noise=0.0)
    pop = sample_population(config, 40, seed=2)
    out = {}
    for name, frame in (("h", hourly), ("q", quarter_hourly(hourly))):
        shapes = day_profiles(frame)
        price = frame["price_eur_per_mwh"].to_numpy()
        eq = solve_energy_market(energy_game(pop, price, shapes, kappa_eur_per_mwh_per_kwh=400.0))
        net = agent_net_demand(pop, shapes, seed=1)
        fm = clear_finite_market(eq, pop, net, seed=1)
        kw = {"shapes": shapes}
        out[name] = (
            eq,
            fm,
            plan_community(pop, net, price, **kw).cost_eur,
            baseline_cost(pop, net, price, **kw).cost_eur,
        )
    (eq_h, fm_h, plan_h, base_h), (eq_q, fm_q, plan_q, base_q) = out["h"], out["q"]
    # the coupling binds somewhere: the local price differs from the wholesale price
    assert np.abs(eq_h.price_eur_per_mwh - hourly["price_eur_per_mwh"].to_numpy()).max() > 1.0
    np.testing.assert_allclose(
        eq_q.price_eur_per_mwh, np.repeat(eq_h.price_eur_per_mwh, 4), rtol=1e-9, atol=1e-9
    )
    assert eq_q.expected_cost_eur == pytest.approx(eq_h.expected_cost_eur, rel=1e-9)
    assert fm_q.mean_cost_eur == pytest.approx(fm_h.mean_cost_eur, rel=1e-9)
    assert plan_q == pytest.approx(plan_h, rel=1e-6)
    assert base_q == pytest.approx(base_h, rel=1e-9)


def test_the_plans_solar_error_enters_the_pv_blocks_risk(es_day, forecast) -> None:
    """A plan's ``solar_cf_error_sd`` (kW per kWp) becomes each block's PV error sd
    ``pv_kwp * sd * dt`` in its quadrature; blocks without PV keep theirs."""
    import dataclasses

    price, shapes = es_day
    sd = 0.08 * np.sqrt(shapes.solar_cf)  # kW per kWp, 0 at night
    plan = dataclasses.replace(shapes, solar_cf_error_sd=sd, solar_error_days=28)
    without = energy_game(PopulationConfig(), price, shapes, forecast=forecast, n_nodes=12)
    with_sd = energy_game(PopulationConfig(), price, plan, forecast=forecast, n_nodes=12)
    assert with_sd.block_names == without.block_names
    grew = 0
    for name in with_sd.block_names:
        b, b0 = with_sd.block(name), without.block(name)
        expected = ErrorQuadrature.from_forecast(
            forecast,
            b.load_kwh,
            pv_kwh=b.pv_kwh,
            noise=PopulationConfig().noise,
            pv_error_sd_kwh=b.params.pv_kwp * sd * shapes.dt_hours,
            n_nodes=12,
        )
        np.testing.assert_array_equal(b.errors.nodes, expected.nodes)
        if b.params.pv_kwp == 0:
            np.testing.assert_array_equal(b.errors.nodes, b0.errors.nodes)
        else:
            spread, spread0 = np.ptp(b.errors.nodes, axis=1), np.ptp(b0.errors.nodes, axis=1)
            assert (spread >= spread0).all() and (spread > spread0 * 1.01)[sd > 0.02].all()
            grew += 1
    assert grew >= 2  # the pv and pv_storage blocks


def test_the_solar_error_leaves_the_equilibrium_unchanged(es_day, forecast) -> None:
    """Under the one local price a block's risk term does not depend on its action (module
    doc): the same equilibrium policy, prices and iterations with and without the plan's
    solar error, while the risk-adjusted values of the PV blocks differ."""
    import dataclasses

    price, shapes = es_day
    plan = dataclasses.replace(shapes, solar_cf_error_sd=0.08 * np.sqrt(shapes.solar_cf))
    config = PopulationConfig()
    a = solve_energy_market(energy_game(config, price, shapes, forecast=forecast, n_nodes=8))
    b = solve_energy_market(energy_game(config, price, plan, forecast=forecast, n_nodes=8))
    np.testing.assert_array_equal(a.policy, b.policy)
    np.testing.assert_array_equal(a.price_eur_per_mwh, b.price_eur_per_mwh)
    assert a.iterations == b.iterations
    assert b.exploitability_eur == pytest.approx(a.exploitability_eur, rel=1e-9)
    risk_a, risk_b = a.by_type()["risk_cost_eur"], b.by_type()["risk_cost_eur"]
    assert risk_b["consumer"] == pytest.approx(risk_a["consumer"], rel=1e-12)  # no PV
    assert risk_b["pv"] > risk_a["pv"] and risk_b["pv_storage"] > risk_a["pv_storage"]
