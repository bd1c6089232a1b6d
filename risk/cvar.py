"""Value-at-risk and CVaR of discrete loss distributions (exact), and the RU linear programme.

Conventions (used by every function here):

* Losses are costs, bigger is worse, in any unit (EUR for agents). A loss array of shape
  ``(n_scenarios,)`` (or ``n_scenarios`` along ``axis``) describes the discrete
  distribution putting mass ``w_i / sum(w)`` on ``losses[i]``; ``weights=None`` means equally
  likely scenarios. Weights must be finite and non-negative with a positive sum; they are
  normalised internally. Zero-weight scenarios are ignored.
* ``alpha`` is the **tail mass** in (0, 1], e.g. 0.05 for "the worst 5 %".
* ``VaR_alpha(L) = min{z : P(L > z) <= alpha}``: the upper alpha-quantile of the losses,
  i.e. the left-continuous quantile ``F^{-1}(1 - alpha)`` (the smallest loss whose
  exceedance probability is at most alpha). For ``alpha = 1`` that set is unbounded below
  and VaR is the smallest loss with positive weight. VaR is always one of the losses.
* ``CVaR_alpha(L) = min_z { z + E[(L - z)+] / alpha }`` (Rockafellar-Uryasev), the minimum
  being attained at ``z = VaR_alpha``. Equivalently (Acerbi-Tasche) the mean of the worst
  alpha of the probability mass, the atom at VaR contributing only the part of its mass
  needed to fill the tail exactly. ``CVaR_1`` is the mean; ``CVaR_alpha`` tends to the
  largest loss as alpha -> 0.
* The tail mass is compared with a relative tolerance of 1e-10 (of alpha), so a tail
  boundary that falls exactly on an atom (alpha = 0.3 with ten equally likely scenarios) is
  not broken by rounding: VaR is then the lower of the two candidate atoms. CVaR does not
  depend on that choice (both atoms minimise the RU formula); a mass within the tolerance
  but not exactly on the boundary moves CVaR by at most 1e-10 times the gap between atoms.

Speed: the equal-weight case selects VaR with ``np.partition`` (O(n)); the weighted case with
one-dimensional losses uses a sampled bracketing selection (O(n) expected, falling back to a
sort of what is left); weighted batches (2-D losses) use one batched ``argsort``.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from data.errors import InvalidParameterError

__all__ = ["cvar", "cvar_lp", "mean_cvar", "value_at_risk"]

_MASS_RTOL = 1e-10
"""Relative tolerance on the tail mass alpha in probability-mass comparisons."""

_SORT_BELOW = 8192
"""Weighted selection: sort directly once at most this many candidate scenarios are left."""

_SAMPLE_SIZE = 4096
"""Weighted selection: scenarios sampled per round to place the bracket around VaR."""

_MAX_ROUNDS = 8
"""Weighted selection: bracketing rounds before sorting whatever is left."""

_BRACKET_SIGMAS = 4.0
"""Weighted selection: half-width of the bracket, in standard errors of the sampled quantile."""

_LOSS_MAX_EXP = 900
"""Losses whose largest magnitude reaches 2**_LOSS_MAX_EXP are computed scaled by a power of
two (exact), so sums, differences and weighted products stay finite up to the largest double."""

_WEIGHT_MAX_EXP = 64
"""Weights above 2**_WEIGHT_MAX_EXP are scaled down by a power of two (exact) for the same
reason; weights are normalised anyway."""


# --------------------------------------------------------------------------------------------
# validation
# --------------------------------------------------------------------------------------------


def _check_alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real):
        raise InvalidParameterError(f"alpha must be a real number in (0, 1], got {alpha!r}")
    value = float(alpha)
    if not (0.0 < value <= 1.0):  # also rejects NaN
        raise InvalidParameterError(f"alpha must be in (0, 1] (the tail mass), got {value!r}")
    return value


def _check_gamma(gamma: Any) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real):
        raise InvalidParameterError(f"gamma must be a real number in [0, 1], got {gamma!r}")
    value = float(gamma)
    if not (0.0 <= value <= 1.0):  # also rejects NaN
        raise InvalidParameterError(f"gamma must be in [0, 1] (the CVaR weight), got {value!r}")
    return value


def _as_float_array(values: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} must be an array of real numbers ({exc})") from None
    return arr


def _prepare(
    losses: ArrayLike, weights: ArrayLike | None, axis: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate; return losses with the scenario axis last, and weights (1-D, or same shape)."""
    x = _as_float_array(losses, "losses")
    if x.ndim == 0:
        raise InvalidParameterError("losses must be an array of scenarios, got a scalar")
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise InvalidParameterError(f"axis must be an integer, got {axis!r}")
    if not -x.ndim <= int(axis) < x.ndim:
        raise InvalidParameterError(f"axis {axis} is out of range for losses with {x.ndim} dims")
    axis = int(axis) % x.ndim
    n = x.shape[axis]
    if n == 0:
        raise InvalidParameterError("losses must contain at least one scenario, got none")
    if not np.isfinite(x).all():
        raise InvalidParameterError("losses must be finite (found NaN or infinity)")
    x = np.moveaxis(x, axis, -1)
    if weights is None:
        return x, None
    w = _as_float_array(weights, "weights")
    if w.ndim == 1:
        if w.shape[0] != n:
            raise InvalidParameterError(
                f"weights have length {w.shape[0]} but losses have {n} scenarios along axis {axis}"
            )
    elif w.shape == np.moveaxis(x, -1, axis).shape:
        w = np.moveaxis(w, axis, -1)
    else:
        raise InvalidParameterError(
            f"weights must have shape ({n},) or the losses' shape "
            f"{np.moveaxis(x, -1, axis).shape}, got {w.shape}"
        )
    if not np.isfinite(w).all():
        raise InvalidParameterError("weights must be finite (found NaN or infinity)")
    if (w < 0).any():
        raise InvalidParameterError("weights must be non-negative (found a negative weight)")
    total = w.sum(axis=-1)
    if not (np.isfinite(total).all() and (total > 0).all()):
        raise InvalidParameterError("weights must have a positive, finite sum (per column)")
    return x, w


# --------------------------------------------------------------------------------------------
# kernels (scenario axis last, inputs validated)
# --------------------------------------------------------------------------------------------


def _var_cvar_equal(x: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal weights: VaR by selection (``np.partition``), CVaR by the RU formula at VaR."""
    n = x.shape[-1]
    allowed = alpha * (1.0 + _MASS_RTOL) * n  # scenarios that may lie strictly above VaR
    k = max(n - 1 - math.floor(allowed), 0)  # ascending position of VaR
    part = np.partition(x, k, axis=-1)
    var = part[..., k]
    excess = (part[..., k + 1 :] - var[..., None]).sum(axis=-1)
    return var, var + excess / (alpha * n)


def _var_sorted_1d(x: np.ndarray, w: np.ndarray, allowed: float) -> float:
    """Smallest atom v with mass(x > v) <= allowed, by sorting (x, w 1-D).

    Masses are accumulated from the largest loss down, so small tails are resolved exactly
    even when they are far below the rounding error of the total mass.
    """
    order = np.argsort(x)[::-1]
    above = np.cumsum(w[order])  # above[j] = mass of the j + 1 largest losses
    j = int(np.searchsorted(above, allowed, side="right"))  # last j: mass before j <= allowed
    return float(x[order[min(j, x.size - 1)]])


def _var_weighted_1d(x: np.ndarray, w: np.ndarray, total: float, allowed: float) -> float:
    """Smallest atom v with mass(x > v) <= allowed, 0 <= allowed < total, in O(n) expected.

    Floyd-Rivest style: a weighted sample places a bracket [lo, hi] around VaR; one pass
    finds the masses above hi and at-or-above lo, which tells whether VaR is inside the
    bracket, above it or below it; the candidates shrink to that part. The answer is exact
    whatever the sample: a bad bracket only costs another round (then a sort).
    """
    rng = np.random.default_rng(20240605)
    xs, ws = x, w
    above = 0.0  # mass of the discarded scenarios above the candidates
    mass = total  # mass of the candidates
    for _ in range(_MAX_ROUNDS):
        n = xs.size
        if n <= _SORT_BELOW:
            break
        idx = rng.integers(0, n, size=_SAMPLE_SIZE)
        sx, sw = xs[idx], ws[idx]
        order = np.argsort(sx)
        sx = sx[order]
        cum = np.cumsum(sw[order])
        s_mass = cum[-1]
        if not (s_mass > 0.0 and mass > 0.0):
            break  # no mass in the sample (or lost to rounding): sort what is left
        tail = min(max((allowed - above) / mass, 0.0), 1.0)  # tail fraction within candidates
        rel = sw / sw.max()
        s_eff = float(rel.sum()) ** 2 / float(np.dot(rel, rel))  # Kish effective sample size
        half = _BRACKET_SIGMAS * math.sqrt(max(tail * (1.0 - tail), 1.0 / s_eff) / s_eff)
        j_hi = int(np.searchsorted(cum, s_mass * (1.0 - tail + half), side="left"))
        j_lo = int(np.searchsorted(cum, s_mass * (1.0 - tail - half), side="left"))
        hi = sx[min(j_hi, sx.size - 1)]
        lo = sx[min(j_lo, sx.size - 1)]
        gt_hi = xs > hi
        m_hi = float(ws[gt_hi].sum())
        if above + m_hi > allowed:  # VaR > hi
            xs, ws, mass = xs[gt_hi], ws[gt_hi], m_hi
            continue
        ge_lo = xs >= lo
        m_lo = float(ws[ge_lo].sum())
        if above + m_lo <= allowed:  # VaR < lo
            keep = np.flatnonzero(~ge_lo)
            xs, ws, mass, above = xs[keep], ws[keep], mass - m_lo, above + m_lo
            continue
        if lo == hi:  # mass(x > lo) <= allowed < mass(x >= lo)
            return float(lo)
        keep = np.flatnonzero(ge_lo & ~gt_hi)  # lo <= VaR <= hi
        xs, ws, mass, above = xs[keep], ws[keep], m_lo - m_hi, above + m_hi
    return _var_sorted_1d(xs, ws, allowed - above)


def _var_cvar_weighted(x: np.ndarray, w: np.ndarray, alpha: float) -> tuple[Any, Any]:
    """Weighted: VaR by selection (1-D) or a batched sort (N-D); CVaR by RU at VaR."""
    near_one = alpha * (1.0 + _MASS_RTOL) >= 1.0  # VaR: the smallest loss with positive weight
    var: Any  # a float in 1-D, an array of the leading axes in N-D
    if x.ndim == 1:
        total = float(w.sum())
        if near_one:
            var = float(x[w > 0].min())
        else:
            var = _var_weighted_1d(x, w, total, alpha * (1.0 + _MASS_RTOL) * total)
        tail = np.flatnonzero(x > var)
        excess = float(np.dot(w[tail], x[tail] - var))
        return var, var + excess / (alpha * total)
    total = w.sum(axis=-1)
    if near_one:
        var = np.where(w > 0, x, np.inf).min(axis=-1)
    else:  # sort each column descending; masses accumulate from the largest loss down
        order = np.argsort(x, axis=-1)[..., ::-1]
        ws = w[order] if w.ndim == 1 else np.take_along_axis(w, order, axis=-1)
        above = np.cumsum(ws, axis=-1)
        allowed = alpha * (1.0 + _MASS_RTOL) * total
        j = np.minimum((above <= allowed[..., None]).sum(axis=-1), x.shape[-1] - 1)
        at = np.take_along_axis(order, j[..., None], axis=-1)
        var = np.take_along_axis(x, at, axis=-1)[..., 0]
    excess = (w * np.maximum(x - var[..., None], 0.0)).sum(axis=-1)
    return var, var + excess / (alpha * total)


def _pow2_scale(values: np.ndarray, max_exp: int) -> float:
    """A power of two that brings ``max |values|`` below ``2**(max_exp + 1)`` (1.0 if it is)."""
    big = max(float(values.max()), -float(values.min())) if values.size else 0.0
    exponent = math.frexp(big)[1]  # big < 2**exponent
    return math.ldexp(1.0, exponent - max_exp) if exponent > max_exp else 1.0


def _var_cvar(
    losses: ArrayLike,
    alpha: Any,
    weights: ArrayLike | None,
    axis: int,
    *,
    scale_losses: bool = True,
) -> tuple[Any, Any, np.ndarray, np.ndarray | None, float]:
    """VaR, CVaR, the prepared (scaled) losses and weights, and the losses' scale.

    The losses are returned divided by ``scale`` (a power of two, 1.0 unless they come near
    the largest double, or ``scale_losses=False``); VaR and CVaR are in the original units.
    Scaling is exact but for losses more than 2**-124 times smaller than the largest, which
    may round towards zero: negligible in a CVaR or a mean of such losses, not in a VaR,
    which is therefore computed unscaled (its CVaR may then overflow: ignored).
    """
    a = _check_alpha(alpha)
    x, w = _prepare(losses, weights, axis)
    if x.size == 0:  # e.g. shape (n_scenarios, 0): no agents
        empty = np.empty(x.shape[:-1])
        return empty, empty.copy(), x, w, 1.0
    scale = _pow2_scale(x, _LOSS_MAX_EXP) if scale_losses else 1.0
    if scale != 1.0:
        x = x / scale
    if w is not None and (w_scale := _pow2_scale(w, _WEIGHT_MAX_EXP)) != 1.0:
        w = w / w_scale
    if w is None:
        var, cv = _var_cvar_equal(x, a)
    else:
        var, cv = _var_cvar_weighted(x, w, a)
    return var * scale, cv * scale, x, w, scale


def _out(value: Any) -> float | np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------------------------


def value_at_risk(
    losses: ArrayLike, alpha: float, weights: ArrayLike | None = None, *, axis: int = 0
) -> float | np.ndarray:
    """Value-at-risk ``min{z : P(L > z) <= alpha}`` of discrete losses (exact; see module doc).

    losses: shape (n_scenarios,) or any shape with the scenarios along ``axis``, e.g.
    (n_scenarios, n_agents) -> one VaR per agent. Cost units (bigger is worse).
    alpha: tail mass in (0, 1]. weights: None (equal), shape (n_scenarios,) shared by all
    columns, or the losses' shape; non-negative, normalised internally.
    Returns a float for 1-D losses, else an array of the losses' shape without ``axis``.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # only the unused CVaR may overflow
        var, _, _, _, _ = _var_cvar(losses, alpha, weights, axis, scale_losses=False)
    return _out(var)


def cvar(
    losses: ArrayLike, alpha: float, weights: ArrayLike | None = None, *, axis: int = 0
) -> float | np.ndarray:
    """Conditional value-at-risk ``min_z z + E[(L - z)+]/alpha`` of discrete losses (exact).

    The mean of the worst ``alpha`` of the probability mass, the atom at VaR split so the
    tail holds exactly ``alpha`` (Acerbi-Tasche). losses: shape (n_scenarios,) or any shape
    with the scenarios along ``axis`` ((n_scenarios, n_agents) -> (n_agents,)), cost units.
    alpha: tail mass in (0, 1] (1 gives the mean). weights: None (equal), shape
    (n_scenarios,) shared by all columns, or the losses' shape; non-negative, normalised.
    Returns a float for 1-D losses, else an array of the losses' shape without ``axis``.
    """
    _, cv, _, _, _ = _var_cvar(losses, alpha, weights, axis)
    return _out(cv)


def mean_cvar(
    losses: ArrayLike,
    alpha: float,
    gamma: float,
    weights: ArrayLike | None = None,
    *,
    axis: int = 0,
) -> float | np.ndarray:
    """Risk-adjusted cost ``(1 - gamma) * E[L] + gamma * CVaR_alpha(L)`` (exact, cost units).

    gamma in [0, 1]: 0 is risk-neutral (the mean), 1 is pure CVaR. Shapes, alpha, weights
    and axis as in :func:`cvar`.
    """
    g = _check_gamma(gamma)
    _, cv, x, w, scale = _var_cvar(losses, alpha, weights, axis)
    if x.size == 0:
        return _out(cv)
    if w is None:
        mean = x.mean(axis=-1)
    elif w.ndim == 1:
        mean = (x @ w) / w.sum()
    else:
        mean = (x * w).sum(axis=-1) / w.sum(axis=-1)
    return _out((1.0 - g) * mean * scale + g * cv)


def cvar_lp(
    losses: ArrayLike,
    alpha: float,
    weights: ArrayLike | None = None,
    *,
    solver: str | None = None,
) -> float:
    """CVaR by the Rockafellar-Uryasev linear programme in cvxpy (the reference for tests).

    Solves ``min_{z, u >= 0} z + sum_i p_i u_i / alpha  s.t.  u_i >= L_i - z`` with
    ``p = weights / sum(weights)``. losses: shape (n_scenarios,), cost units; alpha: tail
    mass in (0, 1]. The losses are centred and scaled before solving (CVaR is translation
    equivariant and positively homogeneous) for accuracy. solver: a cvxpy solver name,
    default HiGHS when installed (else cvxpy's choice). Slow for large n: use :func:`cvar`.
    """
    import cvxpy as cp

    a = _check_alpha(alpha)
    x, w = _prepare(losses, weights, 0)
    if x.ndim != 1:  # the shape given (_prepare moved the scenario axis last)
        raise InvalidParameterError(f"cvar_lp takes 1-D losses, got shape {np.shape(losses)}")
    if w is None:
        p = np.full(x.size, 1.0 / x.size)
    else:
        keep = w > 0
        x, p = x[keep], w[keep] / w[keep].sum()
    center = float(np.median(x))
    scale = float(np.max(np.abs(x - center)))
    if scale == 0.0:  # a single loss value
        return center
    y = (x - center) / scale
    z = cp.Variable()
    u = cp.Variable(y.size, nonneg=True)
    problem = cp.Problem(cp.Minimize(z + (p @ u) / a), [u >= y - z])
    if solver is None and "HIGHS" in cp.installed_solvers():
        solver = "HIGHS"
    try:
        problem.solve(solver=solver)
    except cp.SolverError as exc:
        raise InvalidParameterError(f"cvar_lp: solver {solver} failed ({exc})") from None
    if problem.status != cp.OPTIMAL:
        raise InvalidParameterError(f"cvar_lp: solver {solver} ended with status {problem.status}")
    return center + scale * float(problem.value)
