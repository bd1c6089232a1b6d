"""MILP Pareto benchmark: brute force on tiny instances, binaries at negative prices, planner vs
baseline, netting, sampling bounds, scores."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import FrozenInstanceError, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

import data
from agents.bidding import PricePath, best_response
from agents.config import PARAMETERS, Dist, PopulationConfig, TypeConfig
from agents.population import Population, sample_population
from agents.profiles import agent_net_demand, day_profiles
from data.errors import InvalidParameterError, SolverError
from market.planner import (
    BenchmarkScores,
    PlannerResult,
    baseline_cost,
    benchmark_scores,
    efficiency,
    expected_load_kwh,
    plan_community,
    price_of_anarchy,
    stratified_sample,
)

ADDER, DISCOUNT = 60.0, 15.0


def community(agents: Sequence[tuple[str, dict[str, float], dict[str, Any]]]) -> Population:
    """A population with one type per agent, every parameter fixed at the given value."""
    n = len(agents)
    types = []
    arrays = {p: np.full(n, spec.neutral, dtype=np.float32) for p, spec in PARAMETERS.items()}
    for i, (kind, values, settings) in enumerate(agents):
        tc = TypeConfig(kind, 1.0 / n, {}, name=f"a{i}", **settings)
        params = {p: Dist.fixed(values.get(p, d.mean)) for p, d in tc.params.items()}
        tc = TypeConfig(kind, 1.0 / n, params, name=f"a{i}", **settings)
        types.append(tc)
        for p, d in tc.params.items():
            arrays[p][i] = d.mean
    config = PopulationConfig(
        types=tuple(types), retail_adder_eur_per_mwh=ADDER, export_discount_eur_per_mwh=DISCOUNT
    )
    return Population(
        type_names=config.type_names,
        kinds=tuple(t.kind for t in types),
        type_index=np.arange(n, dtype=np.int8),
        config=config,
        seed=0,
        **arrays,
    )


def grid_cost(s: np.ndarray, buy: np.ndarray, sell: np.ndarray) -> np.ndarray:
    """EUR of community positions s (kWh), prices EUR/MWh."""
    return np.where(s > 0, buy * s, sell * s) / 1000.0


@pytest.fixture(scope="module")
def es_day() -> tuple[Any, np.ndarray]:
    frame = data.load_market_data("ES", "2017-06-01", "2017-07-01")
    shapes = day_profiles(frame, day="2017-06-14")
    local = frame.index.tz_convert(shapes.tz)
    price = frame.loc[local.date == shapes.day, "price_eur_per_mwh"].to_numpy()
    return shapes, price


# --------------------------------------------------------------------------------------------
# brute force
# --------------------------------------------------------------------------------------------

STORAGE = {
    "battery_kwh": 2.0,
    "battery_kw": 1.0,
    "eta_charge": 0.9,
    "eta_discharge": 0.9,
    "soc_initial": 0.5,
    "degradation_eur_per_kwh": 0.01,
}
EV = {"ev_need_kwh": 1.5, "ev_max_kw": 1.0, "ev_deadline_hour": 2.0, "eta_charge": 0.9}


def _reference_storage_ev(x: np.ndarray, price: np.ndarray) -> float:
    """Independent optimum: enumerate every discrete choice, solve the rest by linprog."""
    H = 3
    buy, sell = (price + ADDER) / 1000.0, (price - DISCOUNT) / 1000.0
    E, P, ec, ed, deg = 2.0, 1.0, 0.9, 0.9, 0.01
    e0 = 0.5 * E
    need, kw, eta = 1.5, 1.0, 0.9
    window = [0, 1]  # intervals ending by the 2:00 deadline
    # variables: c0..2, d0..2, e1..3, g0, g1, u, I0..2, X0..2
    nv = 3 + 3 + 3 + 2 + 1 + 3 + 3
    C, D, S, G, U, IM, EX = 0, 3, 6, 9, 11, 12, 15
    cost = np.zeros(nv)
    cost[C : C + 3] = deg
    cost[D : D + 3] = deg
    cost[U] = 1.0  # penalty EUR/kWh
    cost[IM : IM + 3] = buy
    cost[EX : EX + 3] = -sell
    best = math.inf
    for b in itertools.product((0, 1), repeat=H):
        for levels in itertools.product((0.0, 0.5, 1.0), repeat=2):
            for fill in (None, 0, 1):
                A_eq, b_eq = [], []
                for t in range(H):  # e_{t+1} - e_t - ec c + d / ed = 0
                    row = np.zeros(nv)
                    row[S + t] = 1.0
                    if t > 0:
                        row[S + t - 1] = -1.0
                    row[C + t], row[D + t] = -ec, 1.0 / ed
                    A_eq.append(row)
                    b_eq.append(e0 if t == 0 else 0.0)
                row = np.zeros(nv)  # delivered + unmet = need
                row[G], row[G + 1], row[U] = eta, eta, 1.0
                A_eq.append(row)
                b_eq.append(need)
                for t in range(H):  # I - X - c + d - g = x_storage + x_ev
                    row = np.zeros(nv)
                    row[IM + t], row[EX + t] = 1.0, -1.0
                    row[C + t], row[D + t] = -1.0, 1.0
                    if t in window:
                        row[G + t] = -1.0
                    A_eq.append(row)
                    b_eq.append(x[:, t].sum())
                bounds = [(0, P * b[t]) for t in range(H)]
                bounds += [(0, P * (1 - b[t])) for t in range(H)]
                bounds += [(0, E), (0, E), (e0, E)]
                for j, t in enumerate(window):
                    draw = levels[j] * kw
                    bounds.append((0, draw) if fill == t else (draw, draw))
                bounds += [(0, None)] * 7
                res = linprog(cost, A_eq=np.array(A_eq), b_eq=b_eq, bounds=bounds)
                if res.status == 0:
                    best = min(best, float(res.fun))
    return best


@pytest.mark.parametrize("all_binaries", [True, False])
def test_milp_equals_brute_force_battery_and_ev(all_binaries: bool) -> None:
    pop = community([("pv_storage", STORAGE, {}), ("ev", EV, {})])
    x = np.array([[0.5, -1.0, 0.8], [0.3, 0.2, 0.4]])
    price = np.array([50.0, -400.0, 80.0])  # deep negative: the battery wants to burn energy
    ref = _reference_storage_ev(x, price)
    res = plan_community(pop, x, price, all_binaries=all_binaries, mip_rel_gap=0.0)
    assert res.status == "Optimal"
    assert res.cost_eur == pytest.approx(ref, abs=1e-6)
    assert res.objective_eur == pytest.approx(ref, abs=1e-6)
    assert res.simultaneous_charge_discharge_kwh.max() < 1e-7


def test_planner_runs_after_another_highs_solve_set_up_more_threads() -> None:
    """cvxpy's HiGHS (risk.cvar_lp) sets up HiGHS's process-wide scheduler with its default
    thread count; the planner asks for 1 thread and must still solve (it once returned
    "no schedule (HiGHS status 'Not Set')" after tests/risk)."""
    import cvxpy as cp
    import highspy

    highspy.Highs.resetGlobalScheduler(True)
    v = cp.Variable(2)
    cp.Problem(cp.Minimize(cp.sum(v)), [v >= 1]).solve(solver="HIGHS", threads=2)
    pop = community([("pv_storage", STORAGE, {}), ("ev", EV, {})])
    x = np.array([[0.5, -1.0, 0.8], [0.3, 0.2, 0.4]])
    price = np.array([50.0, -400.0, 80.0])
    res = plan_community(pop, x, price, mip_rel_gap=0.0, threads=1)
    assert res.status == "Optimal"
    assert res.cost_eur == pytest.approx(_reference_storage_ev(x, price), abs=1e-6)


def test_milp_equals_brute_force_consumers() -> None:
    consumer = {"flex_cost_eur_per_kwh2": 0.2}
    settings = {"dr_levels": 3, "dr_max_fraction": 0.5}
    pop = community(
        [
            ("consumer", consumer, settings),
            ("consumer", {"flex_cost_eur_per_kwh2": 0.03}, settings),
            ("pv", {"pv_kwp": 2.0}, {}),
        ]
    )
    x = np.array([[1.0, 0.6, 1.4], [0.8, 1.2, 0.5], [-0.9, -2.5, 0.2]])
    price = np.array([40.0, -30.0, 120.0])
    buy, sell = price + ADDER, price - DISCOUNT
    flex = np.array([0.2, 0.03])
    m = 0.5 * x[:2]  # (2, 3)
    combos = np.array(list(itertools.product((-1.0, 0.0, 1.0), repeat=6))).reshape(-1, 2, 3)
    r = combos * m[None]
    s = x.sum(axis=0)[None, :] - r.sum(axis=1)
    total = grid_cost(s, buy, sell).sum(axis=1) + (flex[None, :, None] * r**2).sum(axis=(1, 2))
    res = plan_community(pop, x, price, mip_rel_gap=0.0)
    assert res.cost_eur == pytest.approx(total.min(), abs=1e-9)
    base = baseline_cost(pop, x, price)
    alone = []
    for i in range(2):
        ri = np.array([-1.0, 0.0, 1.0])[:, None] * m[i][None, :]
        ci = grid_cost(x[i][None, :] - ri, buy, sell) + flex[i] * ri**2
        alone.append(ci.min(axis=0).sum())
    alone.append(grid_cost(x[2], buy, sell).sum())
    assert base.cost_eur == pytest.approx(sum(alone), abs=1e-9)
    np.testing.assert_allclose(base.agent_cost_eur, alone, atol=1e-9)


# --------------------------------------------------------------------------------------------
# binaries at negative prices
# --------------------------------------------------------------------------------------------


def test_charge_discharge_binaries_bind_at_negative_prices() -> None:
    full = {**STORAGE, "soc_initial": 1.0}  # full at the start: no room to absorb the surplus
    pop = community([("pv_storage", full, {}), ("pv_storage", STORAGE, {}), ("pv", {}, {})])
    x = np.array([[0.2, 0.1, 0.3, 0.2], [0.4, 0.0, 0.1, 0.3], [-2.5, -0.5, -0.2, 0.1]])
    price = np.array([-500.0, 30.0, 20.0, 60.0])
    milp = plan_community(pop, x, price, all_binaries=True, mip_rel_gap=0.0)
    pruned = plan_community(pop, x, price, mip_rel_gap=0.0)
    lp = plan_community(pop, x, price, all_binaries=True, relax=True)
    # the relaxation burns energy by charging and discharging at once: strictly cheaper
    assert lp.simultaneous_charge_discharge_kwh[0] > 0.1
    assert lp.objective_eur < milp.objective_eur - 1e-3
    assert lp.relaxed and lp.solve_method == "LP relaxation" and lp.mip_gap == 0.0
    # the MILP's schedule: never both, and no simultaneous import and export
    assert milp.simultaneous_charge_discharge_kwh.max() < 1e-7
    assert milp.simultaneous_import_export_kwh.max() < 1e-7
    assert np.minimum(milp.imports_kwh, milp.exports_kwh).max() < 1e-9
    # keeping only the binaries that can bind gives the same optimum with fewer of them
    assert pruned.objective_eur == pytest.approx(milp.objective_eur, abs=1e-7)
    assert 0 < pruned.n_binaries < milp.n_binaries


def test_import_export_exclusivity_is_implied_by_the_tariff() -> None:
    """p_buy >= p_sell: importing and exporting at once never pays, even at negative prices,
    so the LP relaxation of z already has I * X = 0 and z is omitted by default."""
    pop = community([("pv_storage", STORAGE, {}), ("pv", {}, {})])
    x = np.array([[0.2, 0.1, 0.3], [-0.6, -1.5, 0.1]])
    price = np.array([-40.0, -70.0, 40.0])
    lp = plan_community(pop, x, price, all_binaries=True, relax=True)
    assert lp.simultaneous_import_export_kwh.max() < 1e-7
    res = plan_community(pop, x, price)
    # burning pays below p_sell = -deg (1 + eta^2) / (1 - eta^2) = -95 EUR/MWh: not here
    assert res.n_binaries == 0
    full = plan_community(pop, x, price, all_binaries=True)
    assert full.n_binaries == 3 + 3  # b per interval, z per interval
    assert res.cost_eur == pytest.approx(full.cost_eur, abs=1e-7)


# --------------------------------------------------------------------------------------------
# planner, baseline, netting
# --------------------------------------------------------------------------------------------


def test_netting_saves_the_spread() -> None:
    pop = community([("pv", {"pv_kwp": 3.0}, {}), ("consumer", {}, {"dr_levels": 1})])
    x = np.array([[-2.0], [2.0]])
    price = np.array([50.0])
    base = baseline_cost(pop, x, price)
    plan = plan_community(pop, x, price)
    assert base.cost_eur == pytest.approx(2.0 * (110.0 - 35.0) / 1000.0)
    assert plan.cost_eur == pytest.approx(0.0, abs=1e-12)
    assert base.cost_eur - plan.cost_eur == pytest.approx(2.0 * (ADDER + DISCOUNT) / 1000.0)
    assert plan.imports_kwh[0] == pytest.approx(0.0) and plan.exports_kwh[0] == pytest.approx(0.0)


def test_the_solver_writes_nothing_to_stdout(capfd: pytest.CaptureFixture[str]) -> None:
    """``--json`` output is the only thing on stdout: HiGHS (>= 1.16 prints a banner on
    file descriptor 1 when constructed) stays silent at the file-descriptor level."""
    pop = community([("pv", {"pv_kwp": 3.0}, {}), ("consumer", {}, {"dr_levels": 1})])
    plan_community(pop, np.array([[-2.0], [2.0]]), np.array([50.0]))
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_the_solver_runs_without_a_python_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    """``pythonw``-like processes have ``sys.stdout = None``: the silencing must not fail."""
    import sys

    monkeypatch.setattr(sys, "stdout", None)
    pop = community([("pv", {"pv_kwp": 3.0}, {}), ("consumer", {}, {"dr_levels": 1})])
    plan = plan_community(pop, np.array([[-2.0], [2.0]]), np.array([50.0]))
    assert plan.cost_eur == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("seed", [1, 2])
def test_planner_never_above_baseline(es_day: tuple[Any, np.ndarray], seed: int) -> None:
    shapes, price = es_day
    pop = sample_population(None, 40, seed=seed)
    x = agent_net_demand(pop, shapes, seed=seed)
    rng = np.random.default_rng(seed)
    price = price + rng.normal(0.0, 60.0, price.shape)  # some negative hours
    plan = plan_community(pop, x, price, shapes=shapes)
    base = baseline_cost(pop, x, price, shapes=shapes)
    slack = plan.cost_error_bound_eur + base.cost_error_bound_eur + 1e-9
    assert plan.cost_eur <= base.cost_eur + slack
    assert base.cost_eur - plan.cost_eur > 0.01 * abs(base.cost_eur)  # netting pays here
    # the stand-alone agents' positions are consistent with the totals
    np.testing.assert_allclose(base.imports_kwh - base.exports_kwh, base.positions_kwh.sum(0))
    np.testing.assert_allclose(plan.imports_kwh - plan.exports_kwh, plan.positions_kwh.sum(0))
    assert sum(plan.type_costs_eur.values()) == pytest.approx(plan.cost_eur, abs=1e-6)
    assert sum(base.type_costs_eur.values()) == pytest.approx(base.cost_eur, abs=1e-6)


def test_baseline_agrees_with_the_dp(es_day: tuple[Any, np.ndarray]) -> None:
    """Alone with the grid: consumers and PV agents match the DP exactly; the MILP's storage
    and EV (continuous SoC, exact EV need) can only do better than the DP's grid."""
    shapes, price = es_day
    pop = sample_population(None, 12, seed=3)
    x = agent_net_demand(pop, shapes, seed=3).astype(np.float64)
    base = baseline_cost(pop, x, price, shapes=shapes, mip_rel_gap=0.0)
    prices = PricePath.from_tariff(price, pop.config, shapes)
    for i in range(pop.n_agents):
        params = pop.agent(i)
        dp = best_response(
            params, np.maximum(x[i], 0.0), prices, pv_kwh=np.maximum(-x[i], 0.0), gamma=0.0
        )
        milp = base.agent_cost_eur[i]
        if params.kind in ("pv", "consumer"):
            assert milp == pytest.approx(dp.expected_cost, abs=1e-9), params.kind
        else:
            assert milp <= dp.expected_cost + 1e-7, params.kind
            assert milp >= dp.expected_cost - 0.05 * abs(dp.expected_cost) - 0.05, params.kind


def test_ev_fills_exactly_with_one_partial_interval() -> None:
    ev = {"ev_need_kwh": 1.3, "ev_max_kw": 1.0, "ev_deadline_hour": 4.0, "eta_charge": 1.0}
    pop = community([("ev", ev, {"ev_charge_levels": (0.0, 1.0)})])
    x = np.zeros((1, 4))
    price = np.array([90.0, 10.0, 20.0, 80.0])
    res = plan_community(pop, x, price)
    y = res.positions_kwh[0]
    assert y.sum() == pytest.approx(1.3)
    assert res.unmet_penalty_eur == pytest.approx(0.0)
    # full level in the cheapest hour, the remaining 0.3 kWh in the next cheapest
    np.testing.assert_allclose(y, [0.0, 1.0, 0.3, 0.0], atol=1e-9)


def test_fractional_relaxation_falls_back_to_branch_and_bound() -> None:
    """The LP charges the EV at half power twice from the PV surplus; whole levels cannot:
    the rounded schedule is not within the gap, branch-and-bound proves the optimum."""
    ev = {"ev_need_kwh": 1.0, "ev_max_kw": 1.0, "ev_deadline_hour": 2.0, "eta_charge": 1.0}
    pop = community([("ev", ev, {"ev_charge_levels": (0.0, 1.0)}), ("pv", {}, {})])
    x = np.array([[0.0, 0.0], [-0.5, -0.5]])
    price = np.array([50.0, 50.0])
    lp = plan_community(pop, x, price, relax=True)
    assert lp.objective_eur == pytest.approx(0.0, abs=1e-9)
    res = plan_community(pop, x, price, mip_rel_gap=1e-6)
    assert res.solve_method == "branch-and-bound" and res.status == "Optimal"
    # one full hour: import 0.5 at 110 EUR/MWh, export the other 0.5 at 35 EUR/MWh
    assert res.cost_eur == pytest.approx(0.5 * 0.110 - 0.5 * 0.035)
    assert res.dual_bound_eur == pytest.approx(res.cost_eur, abs=1e-6)


# --------------------------------------------------------------------------------------------
# solver reporting
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lp_rounding", [True, False])
def test_mip_gap_reported_and_within_the_request(
    es_day: tuple[Any, np.ndarray], lp_rounding: bool
) -> None:
    shapes, price = es_day
    pop = sample_population(None, 60, seed=5)
    x = agent_net_demand(pop, shapes, seed=5)
    res = plan_community(pop, x, price, shapes=shapes, mip_rel_gap=1e-3, lp_rounding=lp_rounding)
    assert res.status == "Optimal"
    assert res.solve_method == ("rounded LP" if lp_rounding else "branch-and-bound")
    assert 0.0 <= res.mip_gap <= 1e-3
    assert res.dual_bound_eur <= res.objective_eur + 1e-9
    assert res.cost_error_bound_eur == pytest.approx(res.mip_gap_eur, abs=1e-12)
    assert res.cost_eur <= res.objective_eur + 1e-9
    assert res.n_binaries > 0 and res.n_variables > res.n_binaries + res.n_integers
    parts = res.grid_cost_eur + res.degradation_eur + res.discomfort_eur + res.unmet_penalty_eur
    assert parts == pytest.approx(res.cost_eur)
    frame = res.to_frame()
    assert frame.index.equals(shapes.index) and len(frame) == 24
    assert {"imports_kwh", "exports_kwh", "marginal_price_eur_per_mwh"} <= set(frame.columns)
    summary = res.to_dict()
    assert summary["mip_gap"] == res.mip_gap and not summary["sampled"]
    assert res.type_frame()["count"].sum() == 60
    with pytest.raises(FrozenInstanceError):
        res.cost_eur = 0.0  # type: ignore[misc]


# --------------------------------------------------------------------------------------------
# sampling
# --------------------------------------------------------------------------------------------


def test_stratified_sample_is_proportional_and_seeded() -> None:
    codes = np.repeat(np.arange(4), [500, 200, 150, 150])
    np.random.default_rng(0).shuffle(codes)
    a = stratified_sample(codes, 100, seed=7)
    assert np.array_equal(a, stratified_sample(codes, 100, seed=7))
    assert not np.array_equal(a, stratified_sample(codes, 100, seed=8))
    assert np.unique(a).size == 100 and (np.diff(a) > 0).all()
    assert np.bincount(codes[a], minlength=4).tolist() == [50, 20, 15, 15]
    tiny = np.repeat(np.arange(3), [97, 2, 1])
    b = stratified_sample(tiny, 10, seed=0)
    assert np.bincount(tiny[b], minlength=3).tolist() == [7, 2, 1]  # at least 2 (or all)
    assert stratified_sample(codes, 5000, seed=0).size == 1000
    with pytest.raises(InvalidParameterError, match="at least 8"):
        stratified_sample(codes, 5, seed=0)


@pytest.mark.parametrize(
    ("codes", "match"),
    [  # found by an API audit: a raw ValueError (negative codes) and TypeError (floats)
        ([-1, 0, 1], "type_index must be type codes >= 0, got -1$"),
        ([0.0, 1.0, 1.0], "type_index must be integer type codes, got float64$"),
        (["a", "b", "c"], "type_index must be integer type codes, got <U1$"),
    ],
)
def test_stratified_sample_refuses_bad_type_codes(codes, match) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        stratified_sample(codes, 2, seed=0)
    assert stratified_sample(np.array([0, 0, 1, 1, 1], dtype=np.int8), 4, seed=0).size == 4


def test_sampled_planner_bound_covers_the_exact_answer(es_day: tuple[Any, np.ndarray]) -> None:
    shapes, price = es_day
    N = 200
    pop = sample_population(None, N, seed=11)
    x = agent_net_demand(pop, shapes, seed=11)
    kw = {"shapes": shapes, "mip_rel_gap": 1e-5}
    exact = plan_community(pop, x, price, **kw)
    exact_base = baseline_cost(pop, x, price, **kw)
    assert not exact.sampled and exact.sample_size == N
    # a market that realises half of the planner's savings, agent by agent
    market_agent = 0.5 * (exact_base.agent_cost_eur + exact.agent_cost_eur)
    market = float(market_agent.sum())
    assert benchmark_scores(exact_base, market, exact).efficiency == pytest.approx(0.5)
    covered = covered_base = covered_eff = 0
    seeds = range(6)
    for seed in seeds:
        est = plan_community(pop, x, price, max_exact_agents=50, sample_seed=seed, **kw)
        assert est.sampled and est.sample_size == 50 and est.n_agents == N
        assert est.cost_std_error_eur > 0 and est.cost_bias_bound_eur >= 0
        assert est.cost_error_bound_eur >= 2.0 * est.cost_std_error_eur
        covered += abs(est.cost_eur - exact.cost_eur) <= est.cost_error_bound_eur
        base = baseline_cost(pop, x, price, max_exact_agents=50, sample_seed=seed, **kw)
        covered_base += abs(base.cost_eur - exact_base.cost_eur) <= base.cost_error_bound_eur
        assert sum(est.type_costs_eur.values()) == pytest.approx(est.cost_eur)
        # paired on the same sample: the common noise cancels in the savings
        sc = benchmark_scores(base, market, est, market_agent_cost_eur=market_agent)
        assert sc.paired and sc.planner_sampled
        # the sample's own costs (a population too large to keep all) pair the same way
        own = market_agent[est.agent_index]
        assert benchmark_scores(base, market, est, market_sample_cost_eur=own) == sc
        with pytest.raises(InvalidParameterError, match="the sample's"):
            benchmark_scores(base, market, est, market_sample_cost_eur=market_agent)
        assert sc.planner_savings_error_eur < 0.5 * (
            est.cost_error_bound_eur + base.cost_error_bound_eur
        )
        covered_eff += sc.efficiency_low <= 0.5 <= sc.efficiency_high
        # the reported range is eff +- (z SE + one-sided terms) with z = 2 (about 95 %);
        # every seed must lie within twice that half-width (4 standard errors: a miss has
        # probability ~6e-5 under the normal approximation). Measured: |eff - 0.5| <= 0.036
        # with half-widths 0.06 to 0.076 (at most 0.5 of a half-width).
        half = 0.5 * (sc.efficiency_high - sc.efficiency_low)
        assert sc.efficiency_low <= sc.efficiency <= sc.efficiency_high
        assert abs(sc.efficiency - 0.5) <= 2.0 * half
        # and the range must say something: at most twice the measured half-width
        assert half < 0.15
    assert covered >= len(seeds) - 1
    assert covered_base >= len(seeds) - 1
    assert covered_eff >= len(seeds) - 1


def test_callable_net_demand_gets_only_the_sample(es_day: tuple[Any, np.ndarray]) -> None:
    shapes, price = es_day
    pop = sample_population(None, 300, seed=2)
    x = agent_net_demand(pop, shapes, seed=2)
    asked: list[np.ndarray] = []

    def rows(idx: np.ndarray) -> np.ndarray:
        asked.append(idx)
        return x[idx]

    a = plan_community(pop, rows, price, shapes=shapes, max_exact_agents=40, sample_seed=3)
    b = plan_community(pop, x, price, shapes=shapes, max_exact_agents=40, sample_seed=3)
    assert len(asked) == 1 and asked[0].size == 40
    np.testing.assert_array_equal(asked[0], a.agent_index)
    assert a.cost_eur == pytest.approx(b.cost_eur)


def test_sampled_cost_parts_are_stratified_estimates_that_add_up(
    es_day: tuple[Any, np.ndarray],
) -> None:
    """With a sample that is not proportional to the types (at least 2 per type, rounding),
    each cost part is estimated as the total is, type by type, so they add up to it (they
    were the sample's parts times N/n: 76.2 against a total of 83.2 EUR here). Reference:
    the baseline is separable, so each sampled agent's parts come from a run of its own."""
    shapes, price = es_day
    pop = sample_population(None, 200, seed=5)
    x = agent_net_demand(pop, shapes, seed=2)
    names = ("grid_cost_eur", "degradation_eur", "discomfort_eur", "unmet_penalty_eur")
    kw: dict[str, Any] = {"shapes": shapes, "max_exact_agents": 13, "sample_seed": 4}
    for run in (plan_community, baseline_cost):
        res = run(pop, x, price, **kw)
        assert res.sampled
        assert sum(getattr(res, k) for k in names) == pytest.approx(res.cost_eur, rel=1e-12)
        assert sum(res.type_costs_eur.values()) == pytest.approx(res.cost_eur, rel=1e-12)
    base = baseline_cost(pop, x, price, **kw)
    counts = np.bincount(pop.type_index, minlength=len(pop.type_names))
    in_sample = np.bincount(pop.type_index[base.agent_index], minlength=len(pop.type_names))
    assert not np.allclose(in_sample / in_sample.sum(), counts / counts.sum(), atol=0.02)
    expected = dict.fromkeys(names, 0.0)
    for i in base.agent_index:
        alone = baseline_cost(pop.slice(i, i + 1), x[i : i + 1], price, shapes=shapes)
        weight = counts[pop.type_index[i]] / in_sample[pop.type_index[i]]
        for k in names:
            expected[k] += weight * getattr(alone, k)
    for k in names:
        assert getattr(base, k) == pytest.approx(expected[k], rel=1e-9, abs=1e-9), k


# --------------------------------------------------------------------------------------------
# scores
# --------------------------------------------------------------------------------------------


def test_efficiency_and_price_of_anarchy() -> None:
    assert efficiency(10.0, 8.0, 6.0) == pytest.approx(0.5)
    assert efficiency(10.0, 6.0, 6.0) == pytest.approx(1.0)
    assert efficiency(10.0, 12.0, 6.0) == pytest.approx(-0.5)
    assert math.isnan(efficiency(10.0, 9.0, 10.0))  # nothing to realise
    assert math.isnan(efficiency(10.0, 9.0, 10.5))  # planner above baseline
    assert math.isnan(efficiency(10.0, math.nan, 6.0))
    assert efficiency(-2.0, -3.0, -4.0) == pytest.approx(0.5)  # negative costs are fine
    assert price_of_anarchy(12.0, 10.0) == pytest.approx(1.2)
    assert price_of_anarchy(10.0, 10.0) == pytest.approx(1.0)
    assert math.isnan(price_of_anarchy(-1.0, -2.0))  # earning communities: no ratio
    assert math.isnan(price_of_anarchy(1.0, 0.0))
    with pytest.raises(InvalidParameterError):
        efficiency("10", 8.0, 6.0)  # type: ignore[arg-type]


def test_benchmark_scores(es_day: tuple[Any, np.ndarray]) -> None:
    s = benchmark_scores(10.0, 8.0, 6.0)
    assert isinstance(s, BenchmarkScores)
    assert s.efficiency == pytest.approx(0.5) and s.price_of_anarchy == pytest.approx(8 / 6)
    assert s.efficiency_low == s.efficiency_high == pytest.approx(0.5)
    assert s.efficiency_note is None and s.price_of_anarchy_note is None
    assert s.savings_eur == pytest.approx(2.0) and s.potential_savings_eur == pytest.approx(4.0)
    wide = benchmark_scores(10.0, 8.0, 6.0, planner_error_eur=1.0)
    assert wide.efficiency_low == pytest.approx(2 / 5) and wide.efficiency_high == pytest.approx(
        2 / 3
    )
    with pytest.raises(InvalidParameterError, match="pair the market with a sampled"):
        benchmark_scores(10.0, 5.0, 2.0, market_agent_cost_eur=[1.0, 2.0])  # was ignored
    none = benchmark_scores(10.0, 9.0, 10.0)
    assert math.isnan(none.efficiency) and "no gains" in (none.efficiency_note or "")
    earn = benchmark_scores(-1.0, -2.0, -3.0)
    assert math.isnan(earn.price_of_anarchy) and earn.price_of_anarchy_note
    assert earn.efficiency == pytest.approx(0.5)
    frame = s.to_frame()
    assert frame.loc["efficiency", "value"] == pytest.approx(0.5)
    assert s.to_dict()["planner_cost_eur"] == 6.0
    with pytest.raises(FrozenInstanceError):
        s.efficiency = 1.0  # type: ignore[misc]
    # with results: their gaps and sampling bounds flow into the range
    shapes, price = es_day
    pop = sample_population(None, 30, seed=4)
    x = agent_net_demand(pop, shapes, seed=4)
    plan = plan_community(pop, x, price, shapes=shapes)
    base = baseline_cost(pop, x, price, shapes=shapes)
    market = 0.5 * (plan.cost_eur + base.cost_eur)
    sc = benchmark_scores(base, market, plan)
    assert isinstance(plan, PlannerResult)
    assert sc.efficiency == pytest.approx(0.5)
    assert sc.planner_mip_gap == plan.mip_gap
    assert sc.efficiency_low <= 0.5 <= sc.efficiency_high


# --------------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------------


def test_bad_input() -> None:
    pop = community([("pv", {}, {}), ("consumer", {}, {})])
    x = np.zeros((2, 3))
    price = np.array([10.0, 20.0, 30.0])
    with pytest.raises(InvalidParameterError, match="net_demand_kwh"):
        plan_community(pop, np.zeros((3, 3)), price)
    with pytest.raises(InvalidParameterError, match="net_demand_kwh"):
        plan_community(pop, np.zeros((2, 4)), price)
    with pytest.raises(InvalidParameterError, match="finite"):
        plan_community(pop, np.full((2, 3), np.nan), price)
    with pytest.raises(InvalidParameterError, match="wholesale"):
        plan_community(pop, x, [10.0, np.inf, 1.0])
    with pytest.raises(InvalidParameterError, match=">= 0"):
        plan_community(pop, x, price, retail_adder_eur_per_mwh=-1.0)
    with pytest.raises(InvalidParameterError, match="Population"):
        plan_community(pd.DataFrame(), x, price)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="max_exact_agents"):
        plan_community(pop, x, price, max_exact_agents=1)
    with pytest.raises(InvalidParameterError, match="population has no agents"):
        plan_community(pop.slice(1, 1), x[:0], price)  # ZeroDivisionError
    with pytest.raises(InvalidParameterError, match="time_limit_s"):
        baseline_cost(pop, x, price, time_limit_s=0.0)
    with pytest.raises(InvalidParameterError, match="dr_base_kwh"):
        plan_community(pop, x, price, dr_base_kwh=-np.ones((2, 3)))
    with pytest.raises(InvalidParameterError, match="clock_hour"):
        plan_community(pop, x, price, clock_hour=[0.0, 1.0])
    res = plan_community(pop, x, price)
    with pytest.raises(ValueError, match="read-only"):
        res.imports_kwh[0] = 1.0
    price[0] = 11.0  # the caller's arrays stay theirs
    assert res.wholesale_eur_per_mwh[0] == 10.0


@pytest.mark.parametrize(
    ("net", "base", "match"),
    [  # found by an API audit: a raw ValueError / TypeError
        ("x", None, "net_demand_kwh must be an \\(N, H\\) array of real numbers .*, got 'x'$"),
        (None, None, "net_demand_kwh must be an \\(N, H\\) array or a callable, got None$"),
        (np.full((2, 3), "a"), None, "net_demand_kwh must be .*, got ndarray of <U1$"),
        (lambda idx: "x", None, "net_demand_kwh: the callable must return an array .*, got str$"),
        (np.zeros((2, 3)), [["a"] * 3] * 2, "dr_base_kwh must be an \\(N, H\\) array"),
    ],
)
def test_bad_net_demand_raises_one_line_errors(net, base, match) -> None:
    pop = community([("pv", {}, {}), ("consumer", {}, {})])
    with pytest.raises(InvalidParameterError, match=match) as info:
        plan_community(pop, net, np.array([10.0, 20.0, 30.0]), dr_base_kwh=base)
    assert "\n" not in str(info.value)


def test_a_net_demand_callable_keeps_its_own_errors() -> None:
    """A review found its DataValidationError (exit 4) turned into 'must be an (N, H) array'
    (exit 2) once the call sat inside the conversion's try."""
    from data.errors import DataValidationError

    pop = community([("pv", {}, {}), ("consumer", {}, {})])

    def gap(idx: np.ndarray) -> np.ndarray:
        raise DataValidationError("day 2017-06-14 has 23 of its 24 intervals (gaps)")

    with pytest.raises(DataValidationError, match="23 of its 24 intervals"):
        plan_community(pop, gap, np.array([10.0, 20.0, 30.0]))


# --------------------------------------------------------------------------------------------
# second mutation round: EV window and levels, marginal prices, solver gap, sampling bound
# --------------------------------------------------------------------------------------------


def test_ev_charges_only_inside_its_arrival_to_deadline_window() -> None:
    """Arrival 1:00, deadline 4:00 on hourly intervals: only the intervals starting at 1, 2
    and 3 lie inside; the cheapest hours (0:00, before arrival, and 4:00, ending after the
    deadline) are out, so the EV takes the cheapest inside, 2:00 (hand-derived)."""
    ev = {"ev_need_kwh": 1.0, "ev_max_kw": 1.0, "ev_deadline_hour": 4.0, "eta_charge": 1.0}
    pop = community([("ev", ev, {"ev_charge_levels": (0.0, 1.0), "ev_arrival_hour": 1.0})])
    price = np.array([5.0, 40.0, 30.0, 50.0, 0.0, 60.0])
    res = plan_community(pop, np.zeros((1, 6)), price)
    np.testing.assert_allclose(res.positions_kwh[0], [0, 0, 1, 0, 0, 0], atol=1e-9)
    assert res.cost_eur == pytest.approx((30.0 + ADDER) / 1000.0)
    assert res.unmet_penalty_eur == pytest.approx(0.0)


def test_ev_draws_one_level_per_interval_at_most_its_power() -> None:
    """Levels (0, 0.5, 1) of 1 kW: at most 1 kWh per hour, however the levels combine, so
    1.5 kWh take the cheapest hour in full and half of the next cheapest (hand-derived)."""
    ev = {"ev_need_kwh": 1.5, "ev_max_kw": 1.0, "ev_deadline_hour": 3.0, "eta_charge": 1.0}
    pop = community([("ev", ev, {"ev_charge_levels": (0.0, 0.5, 1.0)})])
    price = np.array([10.0, 80.0, 90.0])
    res = plan_community(pop, np.zeros((1, 3)), price)
    np.testing.assert_allclose(res.positions_kwh[0], [1.0, 0.5, 0.0], atol=1e-9)
    assert res.cost_eur == pytest.approx((1.0 * (10.0 + ADDER) + 0.5 * (80.0 + ADDER)) / 1000)


def test_balanced_interval_allocates_at_the_midpoint_price() -> None:
    """Module doc: agents' contributions use p_buy where the community imports, p_sell where
    it exports, their midpoint where it balances. One buyer and one seller of 1 kWh at 50
    EUR/MWh: the midpoint of 110 and 35 is 72.5 EUR/MWh, contributions +-0.0725 EUR."""
    pop = community([("pv", {}, {}), ("pv", {}, {})])
    res = plan_community(pop, np.array([[1.0], [-1.0]]), np.array([50.0]))
    np.testing.assert_allclose(res.marginal_price_eur_per_mwh, [72.5])
    np.testing.assert_allclose(res.agent_cost_eur, [0.0725, -0.0725], atol=1e-12)
    assert res.cost_eur == pytest.approx(0.0, abs=1e-12)


def test_rounded_lp_is_accepted_only_within_the_requested_gap() -> None:
    """The fractional case above plus a fixed 40 kWh import: the rounded schedule is 0.8 %
    above the LP bound, far outside mip_rel_gap=1e-6, so branch-and-bound must run and
    prove the optimum 40 * 0.110 + 0.5 * 0.110 - 0.5 * 0.035 EUR (hand-derived)."""
    ev = {"ev_need_kwh": 1.0, "ev_max_kw": 1.0, "ev_deadline_hour": 2.0, "eta_charge": 1.0}
    pop = community([("ev", ev, {"ev_charge_levels": (0.0, 1.0)}), ("pv", {}, {})])
    x = np.array([[0.0, 0.0, 0.0], [-0.5, -0.5, 40.0]])
    res = plan_community(pop, x, np.full(3, 50.0), mip_rel_gap=1e-6)
    expected = 40 * 0.110 + 0.5 * 0.110 - 0.5 * 0.035
    assert res.cost_eur == pytest.approx(expected)
    assert res.mip_gap <= 1e-6
    assert res.dual_bound_eur == pytest.approx(expected, abs=1e-6)
    assert res.solve_method == "branch-and-bound"


def _stratified_var(values: np.ndarray, strata: np.ndarray, N_h: np.ndarray) -> np.ndarray:
    """sum_h (N_h/N)^2 (1 - n_h/N_h) s_h^2 / n_h of (n, ...) values (variance of the mean)."""
    N = N_h.sum()
    out = np.zeros(values.shape[1:])
    for h, Nh in enumerate(N_h):
        v = values[strata == h]
        if len(v) > 1:
            out = out + (Nh / N) ** 2 * (1 - len(v) / Nh) * v.var(axis=0, ddof=1) / len(v)
    return out


def test_sampled_error_bound_terms_follow_the_module_formulas(
    es_day: tuple[Any, np.ndarray],
) -> None:
    """The three terms of the sampled bound recomputed from the result's own sample by the
    module doc's formulas: SE with the finite-population correction, the netting bias
    N * sum_t (p_buy - p_sell) * se_t * L(|m_t| / se_t) with se_t the larger standard error
    of the optimised and the raw mean position, and the MIP gap scaled by N/n."""
    from scipy import stats

    shapes, price = es_day
    N = 120
    pop = sample_population(None, N, seed=21)
    x = agent_net_demand(pop, shapes, seed=21)
    res = plan_community(
        pop, x, price, shapes=shapes, max_exact_agents=40, sample_seed=2, mip_rel_gap=1e-3
    )
    assert res.sampled and res.sample_size == 40
    N_h = np.bincount(pop.type_index, minlength=len(pop.type_names)).astype(float)
    strata = res.agent_type_index
    n_h = np.bincount(strata, minlength=len(N_h))
    assert (n_h < N_h).all()  # every stratum sampled, none in full: the correction matters
    se = N * math.sqrt(_stratified_var(res.agent_cost_eur[:, None], strata, N_h)[0])
    assert res.cost_std_error_eur == pytest.approx(se, rel=1e-9)
    m = sum(N_h[h] / N * res.positions_kwh[strata == h].mean(axis=0) for h in range(len(N_h)))
    se_opt = np.sqrt(_stratified_var(res.positions_kwh, strata, N_h))
    se_raw = np.sqrt(_stratified_var(x[res.agent_index], strata, N_h))
    se_t = np.maximum(se_opt, se_raw)
    k = np.abs(m) / se_t
    loss = se_t * (stats.norm.pdf(k) - k * stats.norm.sf(k))
    spread = (res.buy_eur_per_mwh - res.sell_eur_per_mwh) / 1000.0
    assert res.cost_bias_bound_eur == pytest.approx(N * float(spread @ loss), rel=1e-9)
    gap = N / 40 * max(res.objective_eur - res.dual_bound_eur, 0.0)
    assert res.cost_gap_eur == pytest.approx(gap, rel=1e-9, abs=1e-12)
    z = res.settings["z_score"]
    assert res.cost_error_bound_eur == pytest.approx(z * se + res.cost_bias_bound_eur + gap)


def test_sampled_mip_gap_is_scaled_to_the_population() -> None:
    """A sample of 3 EVs (1 kWh each, whole hours) and 3 PV surpluses of 0.5 kWh per hour:
    the LP splits every EV half-half at zero cost, whole hours cannot (hand-derived), so
    the accepted rounded schedule (mip_rel_gap=10) leaves a positive gap, which the bound
    scales by N/n = 16/8 (module doc, term 3)."""
    ev = {"ev_need_kwh": 1.0, "ev_max_kw": 1.0, "ev_deadline_hour": 2.0, "eta_charge": 1.0}
    specs = [("ev", ev, {"ev_charge_levels": (0.0, 1.0)}), ("pv", {}, {}), ("pv", {}, {})]
    counts = [6, 6, 4]
    one = community(specs)
    pop = Population(
        type_names=one.type_names,
        kinds=one.kinds,
        type_index=np.repeat(np.arange(3), counts).astype(np.int8),
        config=one.config,
        seed=0,
        **{p: np.repeat(getattr(one, p), counts) for p in PARAMETERS},
    )
    x = np.repeat(np.array([[0.0, 0.0], [-0.5, -0.5], [0.0, 0.0]]), counts, axis=0)
    res = plan_community(pop, x, np.full(2, 50.0), max_exact_agents=8, mip_rel_gap=10.0)
    assert res.sampled and res.sample_size == 8
    assert np.bincount(res.agent_type_index).tolist() == [3, 3, 2]
    assert res.dual_bound_eur == pytest.approx(0.0, abs=1e-9)  # the LP: every EV half-half
    gap = res.objective_eur - res.dual_bound_eur
    assert gap >= 0.5 * 0.110 - 0.5 * 0.035 - 1e-9  # one hour imports 0.5, the other exports
    assert res.cost_gap_eur == pytest.approx(16 / 8 * gap)


# --------------------------------------------------------------------------------------------
# third mutation round: baseline tie order, storage netting
# --------------------------------------------------------------------------------------------


def test_baseline_consumer_takes_no_action_on_an_exact_tie() -> None:
    """Module doc / DP: on a tie the agent alone chooses no action. A consumer with 2 kWh
    load, 3 levels of m = 0.5 * 2 = 1 kWh (r in {-1, 0, +1}) and flex 0.25 EUR/kWh^2;
    p_buy = 0.25 EUR/kWh in hour 0 (price 190 + 60) and -0.25 in hour 1 (price -310 + 60).
    Hour 0: r = 0 costs 0.25*2 = 0.5, r = +1 costs 0.25*1 + 0.25*1 = 0.5 (tie), r = -1
    costs 0.25*3 + 0.25 = 1.0. Hour 1: r = 0 costs -0.5, r = -1 costs -0.75 + 0.25 = -0.5
    (tie), r = +1 costs -0.25 + 0.25 = 0. All exact in binary floating point, so the
    choice rests on the tie order alone: position 2 kWh in both hours, no discomfort."""
    pop = community(
        [("consumer", {"flex_cost_eur_per_kwh2": 0.25}, {"dr_levels": 3, "dr_max_fraction": 0.5})]
    )
    x = np.array([[2.0, 2.0]])
    price = np.array([190.0, -310.0])
    buy = (price + ADDER) / 1000.0
    assert buy.tolist() == [0.25, -0.25]
    for p, r in ((0.25, 1.0), (-0.25, -1.0)):  # the tie holds exactly
        assert p * (2.0 - r) + 0.25 * r**2 == p * 2.0
    base = baseline_cost(pop, x, price)
    np.testing.assert_array_equal(base.positions_kwh, x)
    assert base.discomfort_eur == 0.0
    assert base.cost_eur == pytest.approx(0.0, abs=1e-12)


def test_netting_keeps_the_state_path_through_both_efficiencies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Simultaneous charge c and discharge d (where no binary forbids them) are netted to
    one direction with the same SoC change eta_c*c - d/eta_d (module doc). Whether HiGHS
    returns such a solution is up to the solver, so the raw solution is injected: eta_c =
    0.75, eta_d = 0.5 (exact), E = 2 kWh, e0 = 1 kWh, no net demand, positive prices (b is
    slack). Hour 0: c = 1, d = 0.25: SoC +0.75 - 0.5 = +0.25, netted to c = 0.25/0.75 = 1/3.
    Hour 1: c = 0.25, d = 0.21875: SoC 0.1875 - 0.4375 = -0.25, netted to d = 0.25*0.5 =
    0.125. Positions +1/3 and -0.125 kWh (hand-derived; SoC path 1 -> 1.25 -> 1 kept)."""
    from market import planner

    battery = {**STORAGE, "eta_charge": 0.75, "eta_discharge": 0.5}
    pop = community([("pv_storage", battery, {})])
    price = np.array([50.0, 50.0])
    real_solve = planner._solve

    def injected(model: Any, **kwargs: Any) -> Any:
        sol = real_solve(model, **kwargs)
        x = sol.x.copy()
        blk = model.builder.blocks["storage"]
        assert not blk["binary"].any()  # b is slack at these prices: netting applies
        x[blk["c"][0]] = [1.0, 0.25]
        x[blk["d"][0]] = [0.25, 0.21875]
        x[blk["e"][0]] = [1.25, 1.0]
        x[model.community["imports"]] = [0.75, 0.03125]  # c - d, the raw balance
        x[model.community["exports"]] = 0.0
        return replace(sol, x=x)

    monkeypatch.setattr(planner, "_solve", injected)
    res = plan_community(pop, np.zeros((1, 2)), price)
    np.testing.assert_allclose(res.simultaneous_charge_discharge_kwh, [0.25, 0.21875])
    np.testing.assert_allclose(res.positions_kwh, [[1.0 / 3.0, -0.125]], rtol=1e-12)
    np.testing.assert_allclose(res.imports_kwh, [1.0 / 3.0, 0.0], rtol=1e-12)
    np.testing.assert_allclose(res.exports_kwh, [0.0, 0.125], rtol=1e-12)
    deg = STORAGE["degradation_eur_per_kwh"]
    assert res.degradation_eur == pytest.approx(deg * (1.0 / 3.0 + 0.125), rel=1e-9)
    grid = (1.0 / 3.0) * (50.0 + ADDER) / 1000.0 - 0.125 * (50.0 - DISCOUNT) / 1000.0
    assert res.grid_cost_eur == pytest.approx(grid, rel=1e-9)


def test_expected_load_is_each_agents_daily_load_on_the_shape(
    es_day: tuple[Any, np.ndarray],
) -> None:
    shapes, _ = es_day
    pop = sample_population(None, 7, seed=4)
    rows = expected_load_kwh(pop, shapes)(np.array([5, 0, 5]))
    assert rows.shape == (3, shapes.n_intervals)
    for r, i in zip(rows, (5, 0, 5), strict=True):
        for t in range(shapes.n_intervals):
            assert r[t] == pytest.approx(float(pop.load_kwh_per_day[i]) * shapes.load_shape[t])
    assert expected_load_kwh(pop, shapes)(np.zeros(0, dtype=np.intp)).shape == (0, 24)
    # found by an API audit: 100 gave an IndexError and -1 silently the last agent's load
    for bad, match in ((100, "got 100$"), (-1, "got -1$"), (7, "got 7$")):
        with pytest.raises(
            InvalidParameterError, match=f"rows must be agent indices in 0..6, {match}"
        ):
            expected_load_kwh(pop, shapes)(np.array([0, bad]))
    with pytest.raises(
        InvalidParameterError, match="rows must be integer agent indices, got float64"
    ):
        expected_load_kwh(pop, shapes)(np.array([1.5]))


@pytest.mark.parametrize("day", ["2017-06-14", "2017-06-07"])
def test_planner_never_above_the_market_with_the_markets_options(day: str) -> None:
    """The social optimum bounds every market outcome when it has the market's options:
    the consumers' demand-response levels on the load they planned on (the market's base).
    On these 24 small communities the realised-load base let the market beat its "optimum"
    in 8 (measured 2026-12-07), as a 3-agent `btut replay` did (price of anarchy 0.98)."""
    from market import clear_finite_market, energy_game, solve_energy_market

    frame = data.load_market_data("ES", "2017-06-01", "2017-07-01")
    shapes = day_profiles(frame, day=day)
    price = frame["price_eur_per_mwh"].reindex(shapes.index).to_numpy()
    for n, seed in itertools.product((2, 3, 8), range(4)):
        pop = sample_population(None, n, seed=seed)
        net = agent_net_demand(pop, shapes, seed=seed)
        eq = solve_energy_market(energy_game(pop, price, shapes))
        market = float(clear_finite_market(eq, pop, net, seed=seed).mean_cost_eur) * n
        plan = plan_community(
            pop, net, price, shapes=shapes, dr_base_kwh=expected_load_kwh(pop, shapes)
        )
        assert plan.cost_eur <= market + plan.cost_error_bound_eur + 1e-9, (n, seed)


def test_a_solve_without_schedule_is_a_solver_error_with_the_right_advice() -> None:
    """It was the bare base class BTUTError, and advised a longer time limit also when the
    cause was the scale of the data (net demand ×10^12: HiGHS 'Solve error')."""
    frame = data.load_market_data("ES", "2017-06-13", "2017-06-15")
    shapes = day_profiles(frame, day="2017-06-14")
    price = frame["price_eur_per_mwh"].to_numpy()[-24:]
    pop = sample_population(None, 6, seed=1)
    nd = agent_net_demand(pop, shapes, seed=1).astype(float)
    with pytest.raises(SolverError, match=r"status 'Time limit reached'\); raise time_limit_s"):
        plan_community(pop, nd, price, shapes=shapes, time_limit_s=1e-9)
    with pytest.raises(SolverError, match=r"status 'Solve error'\); numerical trouble"):
        plan_community(pop, nd * 1e12, price, shapes=shapes)
