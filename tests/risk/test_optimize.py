"""Minimising mean-CVaR with cvxpy: newsvendor closed forms, brute force, errors."""

from __future__ import annotations

import dataclasses
import json
import math

import cvxpy as cp
import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from data.errors import InvalidParameterError
from risk import (
    MeanCVaRResult,
    cvar,
    mean_cvar,
    mean_cvar_objective,
    minimize_mean_cvar,
    value_at_risk,
)

PRICE, UNIT_COST = 12.0, 5.0  # newsvendor: buy at 5, sell at 12, no salvage
N = 250


@pytest.fixture(scope="module")
def demand() -> np.ndarray:
    return np.random.default_rng(42).lognormal(mean=4.0, sigma=0.5, size=N)


def _newsvendor_costs(q: cp.Variable | float, demand: np.ndarray) -> cp.Expression:
    """Cost per scenario (EUR): pay c*q, earn p*min(q, D). Convex in q."""
    return UNIT_COST * q - PRICE * cp.minimum(q, demand)


def _exact_newsvendor_objective(
    q: float, demand: np.ndarray, alpha: float, gamma: float, w: np.ndarray | None = None
) -> float:
    return mean_cvar(UNIT_COST * q - PRICE * np.minimum(q, demand), alpha, gamma, w)


def _solve_newsvendor(
    demand: np.ndarray, alpha: float, gamma: float, **kwargs: object
) -> MeanCVaRResult:
    q = cp.Variable(name="q", nonneg=True)
    return minimize_mean_cvar(_newsvendor_costs(q, demand), alpha, gamma, **kwargs)


def test_risk_neutral_newsvendor_is_the_critical_fractile(demand: np.ndarray) -> None:
    # gamma = 0: q* = F^{-1}((p - c)/p). With N equally likely demands the expected cost has
    # slope c - p * P(D > q), which turns positive past the ceil(N * 7/12) = 146th smallest
    # demand (N * 7/12 = 145.8 is not an integer, so the minimiser is unique).
    res = _solve_newsvendor(demand, alpha=0.2, gamma=0.0)
    k = math.ceil(N * (PRICE - UNIT_COST) / PRICE)
    q_star = np.sort(demand)[k - 1]
    assert res.status == "optimal"
    assert res.values["q"] == pytest.approx(q_star, rel=1e-6)
    assert res.value == pytest.approx(_exact_newsvendor_objective(q_star, demand, 0.2, 0.0))
    assert res.z is None
    assert res.gamma == 0.0


def test_cvar_newsvendor_closed_form(demand: np.ndarray) -> None:
    # gamma = 1 (pure CVaR of the cost, tail mass alpha): the worst alpha-tail is the lowest
    # demands, CVaR has slope c - p * (alpha - F(q)) / alpha below the alpha-quantile, so
    # q* = F^{-1}(alpha * (p - c) / p) (Gotoh & Takano 2007). N * 0.2 * 7/12 = 29.2 -> the
    # 30th smallest demand.
    alpha = 0.2
    res = _solve_newsvendor(demand, alpha=alpha, gamma=1.0)
    k = math.ceil(N * alpha * (PRICE - UNIT_COST) / PRICE)
    q_star = np.sort(demand)[k - 1]
    assert res.values["q"] == pytest.approx(q_star, rel=1e-6)
    assert res.value == pytest.approx(_exact_newsvendor_objective(q_star, demand, alpha, 1.0))
    assert res.value == pytest.approx(res.cvar, rel=1e-7)
    # the RU threshold is a minimiser of the CVaR formula: between VaR and CVaR
    assert res.var - 1e-6 <= res.z <= res.cvar + 1e-6


@pytest.mark.parametrize(("alpha", "gamma"), [(0.2, 0.5), (0.05, 0.3), (0.5, 0.9), (1.0, 0.7)])
@pytest.mark.parametrize("weighted", [False, True])
def test_mean_cvar_newsvendor_by_brute_force(
    demand: np.ndarray, alpha: float, gamma: float, weighted: bool
) -> None:
    # The objective is piecewise linear in q with kinks only at the demands, so the exact
    # minimum over q >= 0 is the smallest mean_cvar over q in {0} and the demands.
    w = np.random.default_rng(1).uniform(0.0, 2.0, size=N) if weighted else None
    res = _solve_newsvendor(demand, alpha, gamma, weights=w)
    grid = np.concatenate([[0.0], np.sort(demand)])
    values = np.array([_exact_newsvendor_objective(q, demand, alpha, gamma, w) for q in grid])
    best = int(np.argmin(values))
    assert res.value == pytest.approx(values[best], rel=1e-6)
    assert _exact_newsvendor_objective(float(res.values["q"]), demand, alpha, gamma, w) == (
        pytest.approx(values[best], rel=1e-6)
    )
    assert res.value == pytest.approx((1 - gamma) * res.mean + gamma * res.cvar, rel=1e-6)


def test_mixed_newsvendor_closed_form(demand: np.ndarray) -> None:
    # (1-g) E + g CVaR: slope c - p[(1-g)(1-F) + g(alpha-F)/alpha] below the alpha-quantile,
    # zero at F = (1 - c/p) / ((1 - g) + g/alpha) = 0.194 (<= alpha, so the formula holds):
    # N * 0.194 = 48.6 -> the 49th smallest demand.
    alpha, gamma = 0.2, 0.5
    level = (1 - UNIT_COST / PRICE) / ((1 - gamma) + gamma / alpha)
    q_star = np.sort(demand)[math.ceil(N * level) - 1]
    res = _solve_newsvendor(demand, alpha, gamma, solver="HIGHS")
    assert res.solver == "HIGHS"
    assert res.values["q"] == pytest.approx(q_star, rel=1e-6)


def test_quadratic_cost_against_scalar_search() -> None:
    # a convex (non-linear) cost: track a random target at quadratic penalty plus a fee
    rng = np.random.default_rng(3)
    target = rng.standard_t(3.0, size=400)
    x = cp.Variable(name="x")
    alpha, gamma = 0.1, 0.6
    res = minimize_mean_cvar(cp.square(x - target) + 0.1 * x, alpha, gamma)

    def exact(v: float) -> float:
        return mean_cvar(np.square(v - target) + 0.1 * v, alpha, gamma)

    ref = minimize_scalar(exact, bounds=(-10.0, 10.0), method="bounded", options={"xatol": 1e-9})
    assert res.value == pytest.approx(ref.fun, rel=1e-6)
    assert float(res.values["x"]) == pytest.approx(ref.x, abs=1e-3)


def test_constant_costs_give_the_exact_mean_cvar() -> None:
    losses = np.array([1.0, 2.0, 3.0, 4.0])
    res = minimize_mean_cvar(losses, alpha=0.3, gamma=0.4)
    # 0.6 * 2.5 + 0.4 * (0.25*4 + 0.05*3)/0.3 = 1.5 + 0.4 * 3.8333 = 3.0333
    assert res.value == pytest.approx(0.6 * 2.5 + 0.4 * 1.15 / 0.3, rel=1e-7)
    assert res.cvar == pytest.approx(cvar(losses, 0.3))
    assert res.var == value_at_risk(losses, 0.3) == 3.0
    assert dict(res.values) == {}


def test_objective_expression_can_be_combined(demand: np.ndarray) -> None:
    q = cp.Variable(nonneg=True)
    expr, z = mean_cvar_objective(_newsvendor_costs(q, demand), 0.1, 0.5)
    assert isinstance(z, cp.Variable)
    assert expr.is_convex()
    # add a regulariser the helper does not know about and solve by hand; the reference is
    # the exact (sort-based) mean-CVaR plus the regulariser, minimised over q by scipy
    problem = cp.Problem(cp.Minimize(expr + 0.01 * cp.square(q)))
    problem.solve(solver="CLARABEL")
    assert problem.status == cp.OPTIMAL

    def exact(x: float) -> float:
        return _exact_newsvendor_objective(x, demand, 0.1, 0.5) + 0.01 * x * x

    ref = minimize_scalar(
        exact, bounds=(0.0, float(demand.max())), method="bounded", options={"xatol": 1e-9}
    )
    assert problem.value == pytest.approx(ref.fun, rel=1e-6)
    assert exact(float(q.value)) == pytest.approx(ref.fun, rel=1e-6)
    # gamma = 0 leaves the CVaR term (and z) out: the plain mean cost
    expr0, z0 = mean_cvar_objective(_newsvendor_costs(q, demand), 0.1, 0.0)
    assert z0 is None
    assert expr0.is_affine() or expr0.is_convex()
    q.value = np.array(60.0)
    assert expr0.value == pytest.approx(_exact_newsvendor_objective(60.0, demand, 0.1, 0.0))


def test_result_is_frozen_and_serialisable(demand: np.ndarray) -> None:
    res = _solve_newsvendor(demand[:50], alpha=0.1, gamma=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.value = 0.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        res.values["q"] = np.zeros(())  # type: ignore[index]
    with pytest.raises(ValueError, match="read-only"):
        res.costs[0] = 0.0
    payload = json.loads(json.dumps(res.to_dict()))
    assert set(payload) >= {"value", "values", "costs", "mean", "cvar", "var", "z", "status"}
    assert payload["values"]["q"] == pytest.approx(float(res.values["q"]))
    assert len(payload["costs"]) == 50


def test_unnamed_and_duplicate_variable_names() -> None:
    a, b = cp.Variable(name="x"), cp.Variable(name="x")
    costs = cp.hstack([cp.abs(a - 1.0), cp.abs(b + 1.0)])
    res = minimize_mean_cvar(costs, alpha=0.5, gamma=0.5)
    assert len(res.values) == 2
    assert "x" in res.values


def test_infeasible_problem_raises() -> None:
    q = cp.Variable(name="q")
    with pytest.raises(InvalidParameterError, match="infeasible") as info:
        minimize_mean_cvar(cp.hstack([q, 2 * q]), 0.1, 0.5, constraints=[q >= 10, q <= 5])
    assert "\n" not in str(info.value)


def test_unbounded_problem_raises() -> None:
    q = cp.Variable(name="q")
    with pytest.raises(InvalidParameterError, match="unbounded"):
        minimize_mean_cvar(cp.hstack([-q, -2 * q]), 0.1, 0.5, constraints=[q >= 0])


def test_non_convex_costs_raise() -> None:
    q = cp.Variable(name="q", nonneg=True)
    with pytest.raises(InvalidParameterError, match="not convex"):
        minimize_mean_cvar(cp.hstack([cp.sqrt(q), -cp.square(q)]), 0.1, 0.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.2}, "alpha"),
        ({"gamma": -0.1}, "gamma"),
        ({"gamma": float("nan")}, "gamma"),
        ({"weights": np.ones(3)}, r"shape \(4,\)"),
        ({"weights": -np.ones(4)}, "non-negative"),
        ({"weights": np.zeros(4)}, "positive"),
        ({"costs": np.ones((2, 2))}, "shape"),
        ({"costs": np.ones(0)}, "shape"),
        ({"costs": ["a", "b"]}, "cvxpy expression"),
    ],
)
def test_invalid_arguments(kwargs: dict, match: str) -> None:
    args = {"costs": cp.Variable(4) + 1.0, "alpha": 0.1, "gamma": 0.5} | kwargs
    costs, alpha, gamma = args.pop("costs"), args.pop("alpha"), args.pop("gamma")
    with pytest.raises(InvalidParameterError, match=match):
        minimize_mean_cvar(costs, alpha, gamma, constraints=[], **args)


def test_constraints_and_solver_options_are_checked() -> None:
    """A string or None as constraints, an option the solver does not know: ValueError,
    TypeError and Clarabel's TypeError before."""
    x = cp.Variable(2, name="x")
    costs = np.random.default_rng(0).normal(size=(20, 2)) @ x
    with pytest.raises(InvalidParameterError, match="must be cvxpy constraints, got 'x >= 0'"):
        minimize_mean_cvar(costs, 0.1, 0.5, constraints=["x >= 0"])
    with pytest.raises(InvalidParameterError, match="sequence of cvxpy constraints, got None"):
        minimize_mean_cvar(costs, 0.1, 0.5, constraints=None)  # type: ignore[arg-type]
    box = [x >= -1, x <= 1]
    with pytest.raises(InvalidParameterError, match=r"refused its options .*'foo'"):
        minimize_mean_cvar(costs, 0.1, 0.5, constraints=box, solver="CLARABEL", foo=1)
    one = minimize_mean_cvar(costs, 0.1, 0.5, constraints=x == 0.5)  # one constraint, bare
    np.testing.assert_allclose(one.values["x"], [0.5, 0.5], atol=1e-7)


def test_a_parameter_without_a_value_is_named() -> None:
    # cvxpy's raw ParameterError before
    q = cp.Variable(name="q", nonneg=True)
    price = cp.Parameter(3, name="price")
    with pytest.raises(InvalidParameterError, match=r"Parameter.* without a value: price"):
        minimize_mean_cvar(q * price, 0.5, 0.5, constraints=[q <= 5])
    price.value = np.array([1.0, 2.0, 3.0])
    assert minimize_mean_cvar(q * price, 0.5, 0.5, constraints=[q <= 5]).values["q"] < 1e-6


def test_non_finite_scenario_costs_are_refused() -> None:
    for bad in (float("nan"), float("inf")):
        with pytest.raises(InvalidParameterError, match="costs must be finite"):
            minimize_mean_cvar([1.0, bad], 0.9, 0.5)


def test_nan_in_the_costs_is_named_as_data() -> None:
    """NaN inside a cost expression said the solver "refused its options"."""
    q = cp.Variable(nonneg=True)
    costs = UNIT_COST * q - PRICE * cp.minimum(q, np.array([1.0, np.nan, 3.0]))
    with pytest.raises(InvalidParameterError, match=r"^the costs hold NaN or infinite values"):
        minimize_mean_cvar(costs, 0.2, 0.5)
