"""Minimising mean-CVaR of a convex scenario cost over decision variables (cvxpy).

An agent writes its cost in each scenario as a cvxpy expression ``costs`` of shape
``(n_scenarios,)`` (convex in its decision variables, cost units, e.g. EUR) and asks for

    min_{decisions, z}  (1 - gamma) * sum_s p_s c_s  +  gamma * (z + sum_s p_s (c_s - z)+ / alpha)

which is ``(1 - gamma) * E[C] + gamma * CVaR_alpha(C)`` after minimising over ``z`` (the
Rockafellar-Uryasev representation; alpha is the tail mass). :func:`mean_cvar_objective`
returns that expression (to combine with other terms), :func:`minimize_mean_cvar` solves it.

Example (newsvendor: order ``q`` at unit cost ``c``, sell ``min(q, D_s)`` at price ``p``)::

    q = cp.Variable(name="q", nonneg=True)
    costs = c * q - p * cp.minimum(q, demand)          # shape (n_scenarios,)
    res = minimize_mean_cvar(costs, alpha=0.1, gamma=0.5)
    res.values["q"], res.value, res.cvar
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping, Sequence
from typing import Any, cast

import cvxpy as cp
import numpy as np
from numpy.typing import ArrayLike

from data.errors import InvalidParameterError
from risk.cvar import _check_alpha, _check_gamma, cvar, value_at_risk

__all__ = ["MeanCVaRResult", "mean_cvar_objective", "minimize_mean_cvar"]


@dataclasses.dataclass(frozen=True, eq=False)
class MeanCVaRResult:
    """Solution of :func:`minimize_mean_cvar`.

    value: optimal ``(1 - gamma) * mean + gamma * CVaR`` (cost units). values: optimal value
    of each decision variable by name (read-only arrays). costs: realised scenario costs at
    the optimum, shape (n_scenarios,). mean, cvar, var: exact expectation, CVaR_alpha and
    VaR_alpha of those costs (:mod:`risk.cvar`). z: the solver's RU threshold (a minimiser
    of the CVaR formula, between VaR and the next atom; None when gamma = 0).
    """

    value: float
    values: Mapping[str, np.ndarray]
    costs: np.ndarray
    mean: float
    cvar: float
    var: float
    z: float | None
    alpha: float
    gamma: float
    status: str
    solver: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (arrays as nested lists)."""
        return {
            "value": self.value,
            "values": {k: np.asarray(v).tolist() for k, v in self.values.items()},
            "costs": self.costs.tolist(),
            "mean": self.mean,
            "cvar": self.cvar,
            "var": self.var,
            "z": self.z,
            "alpha": self.alpha,
            "gamma": self.gamma,
            "status": self.status,
            "solver": self.solver,
        }


def _as_costs(costs: Any) -> cp.Expression:
    if not isinstance(costs, cp.Expression):
        try:
            values = np.asarray(costs, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(
                f"costs must be a cvxpy expression of shape (n_scenarios,) ({exc})"
            ) from None
        if not np.isfinite(values).all():
            raise InvalidParameterError("costs must be finite (NaN or infinity found)")
        costs = cp.Constant(values)
    if costs.ndim != 1 or costs.shape[0] == 0:
        raise InvalidParameterError(
            f"costs must be a cvxpy expression of shape (n_scenarios,), got shape {costs.shape}"
        )
    return costs


def _probabilities(weights: ArrayLike | None, n: int) -> np.ndarray:
    if weights is None:
        return np.full(n, 1.0 / n)
    try:
        w = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"weights must be an array of real numbers ({exc})") from None
    if w.shape != (n,):
        raise InvalidParameterError(f"weights must have shape ({n},), got {w.shape}")
    if not np.isfinite(w).all():
        raise InvalidParameterError("weights must be finite (found NaN or infinity)")
    if (w < 0).any():
        raise InvalidParameterError("weights must be non-negative (found a negative weight)")
    total = w.sum()
    if not (np.isfinite(total) and total > 0):
        raise InvalidParameterError("weights must have a positive, finite sum")
    return w / total


def mean_cvar_objective(
    costs: cp.Expression | ArrayLike,
    alpha: float,
    gamma: float,
    weights: ArrayLike | None = None,
) -> tuple[cp.Expression, cp.Variable | None]:
    """The convex expression ``(1-g)·sum(p·c) + g·(z + sum(p·pos(c - z))/alpha)`` and its ``z``.

    costs: cvxpy expression of shape (n_scenarios,), convex in the decisions (cost units).
    Minimising the returned expression over the decisions and ``z`` minimises
    ``(1 - gamma) * mean + gamma * CVaR_alpha`` of the costs. ``z`` is None when gamma = 0
    (the CVaR term is left out). weights: scenario probabilities up to scale, shape
    (n_scenarios,), non-negative; None for equally likely scenarios.
    """
    a = _check_alpha(alpha)
    g = _check_gamma(gamma)
    c = _as_costs(costs)
    p = _probabilities(weights, c.shape[0])
    mean_term = p @ c
    if g == 0.0:
        return mean_term, None
    z = cp.Variable(name="cvar_threshold")
    cvar_term = z + (p @ cp.pos(c - z)) / a
    if g == 1.0:
        return cvar_term, z
    return (1.0 - g) * mean_term + g * cvar_term, z


def minimize_mean_cvar(
    costs: cp.Expression | ArrayLike,
    alpha: float,
    gamma: float,
    *,
    constraints: Sequence[cp.Constraint] = (),
    weights: ArrayLike | None = None,
    solver: str | None = None,
    **solver_options: Any,
) -> MeanCVaRResult:
    """Minimise ``(1 - gamma) * E[C] + gamma * CVaR_alpha(C)`` of scenario costs ``C``.

    costs: cvxpy expression of shape (n_scenarios,), convex in the decision variables
    (cost units). constraints: cvxpy constraints on the decisions. alpha: tail mass in
    (0, 1]; gamma in [0, 1]. weights: scenario probabilities up to scale (None = equal).
    solver / solver_options: passed to ``cvxpy.Problem.solve`` (default: CLARABEL when
    installed and the problem has no integer variables, else cvxpy's choice).
    Raises InvalidParameterError when the costs are not convex (DCP), the problem is
    infeasible or unbounded, or the solver fails.
    """
    c = _as_costs(costs)
    objective, z = mean_cvar_objective(c, alpha, gamma, weights)
    a, g = float(alpha), float(gamma)
    if isinstance(constraints, cp.Constraint):
        constraints = [constraints]
    try:
        constraints = list(constraints)
    except TypeError:
        raise InvalidParameterError(
            f"constraints must be a sequence of cvxpy constraints, got {constraints!r:.60}"
        ) from None
    bad = [c for c in constraints if not isinstance(c, cp.Constraint)]
    if bad:  # a string ("x >= 0") or a bool (a comparison of numbers) is no constraint
        raise InvalidParameterError(f"constraints must be cvxpy constraints, got {bad[0]!r:.60}")
    problem = cp.Problem(cp.Minimize(objective), constraints)
    if not problem.is_dcp():
        raise InvalidParameterError(
            "mean-CVaR problem is not convex: costs must be convex in the decisions "
            "and constraints DCP-compliant"
        )
    unset = [par.name() for par in problem.parameters() if par.value is None]
    if unset:
        raise InvalidParameterError(
            f"the costs or constraints use cvxpy Parameter(s) without a value: "
            f"{', '.join(unset)} (set .value before solving)"
        )
    if solver is None and "CLARABEL" in cp.installed_solvers() and not problem.is_mixed_integer():
        solver = (
            "CLARABEL"  # interior point: accurate on LP/QP/SOCP (cvxpy would pick OSQP for QPs)
        )
    try:
        problem.solve(solver=solver, **solver_options)
    except cp.SolverError as exc:
        raise InvalidParameterError(
            f"mean-CVaR solver failed ({' '.join(str(exc).split())}); "
            "try another solver= or rescale the costs"
        ) from None
    except (TypeError, ValueError) as exc:  # an option the solver does not know, a bad value
        text = " ".join(str(exc).split())
        if "contains NaN" in text or "contains Inf" in text or "contains inf" in text:
            raise InvalidParameterError(
                f"the costs hold NaN or infinite values ({text}): check the data the cost "
                "expression is built from"
            ) from None
        raise InvalidParameterError(
            f"mean-CVaR solver {solver or 'default'} refused its options ({text})"
        ) from None
    status = problem.status
    if status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        raise InvalidParameterError(
            f"mean-CVaR problem is infeasible (solver status {status!r}): "
            "the constraints admit no decision"
        )
    if status in (cp.UNBOUNDED, cp.UNBOUNDED_INACCURATE):
        raise InvalidParameterError(
            f"mean-CVaR problem is unbounded (solver status {status!r}): "
            "the costs can decrease without limit; bound the decisions"
        )
    if status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
        raise InvalidParameterError(
            f"mean-CVaR solver stopped without a solution (status {status!r}); "
            "try another solver= or rescale the costs"
        )
    realised = np.asarray(c.value, dtype=np.float64).reshape(c.shape)
    p = _probabilities(weights, c.shape[0])
    values: dict[str, np.ndarray] = {}
    for var in problem.variables():
        if z is not None and var.id == z.id:
            continue
        name = var.name()
        if name in values:
            name = f"{name}#{var.id}"
        arr = np.array(var.value, dtype=np.float64)
        arr.setflags(write=False)
        values[name] = arr
    realised.setflags(write=False)
    return MeanCVaRResult(
        value=float(problem.value),
        values=types.MappingProxyType(values),
        costs=realised,
        mean=float(p @ realised),
        cvar=float(cvar(realised, a, p)),
        var=float(value_at_risk(realised, a, p)),
        z=None if z is None else float(cast(np.ndarray, z.value)),  # solved: value is set
        alpha=a,
        gamma=g,
        status=str(status),
        solver=str(problem.solver_stats.solver_name),
    )
