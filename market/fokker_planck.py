"""Finite-volume Fokker-Planck solver in 1-D and 2-D with a density-dependent velocity.

Solves, on a box with zero-flux (reflecting) walls,

    ∂μ/∂t = −∇·(μ v[μ](x, t)) + σ² Δμ

for a density μ ≥ 0 (the law of dX = v dt + √2 σ dW). The velocity may depend on μ
itself (the mean-field coupling): ``velocity(density, t)`` returns the normal velocity on
every cell face. ``density`` is a cell average (per unit length or area); the mass is
``density.sum() * grid.cell_volume``.

Space: cell-centred finite volumes on a uniform grid. The flux through a face between
cells L and R is the Scharfetter-Gummel (exponentially fitted) flux

    F = (D / h) · (B(−Pe) μ_L − B(Pe) μ_R),   Pe = v h / D,   B(z) = z / (eᶻ − 1),

with D = σ², which is central for diffusion-dominated faces, upwind for drift-dominated
ones (pure upwind when σ = 0), never produces negative coefficients, and keeps the exact
discrete equilibrium μ_R/μ_L = exp(Pe) (for the Ornstein-Uhlenbeck drift v = −θx this is
the sampled Gaussian of variance σ²/θ). Boundary faces carry no flux.

Time: ``method="explicit"`` (forward Euler, sub-steps limited by the positivity condition
dt · outflow rate ≤ ``cfl`` < 1 per cell) or ``method="implicit"`` (backward Euler, one
tridiagonal solve per grid line and axis, axes split in 2-D, any dt). The velocity is
evaluated at the start of every (sub-)step (first order in time for the coupling too).

Mass and sign, in floating point (both tested to 1e-12 and exactly ≥ 0 on random cases):
every step is applied in transfer form — each face moves one float amount out of one cell
and into its neighbour — so the mass changes only by the rounding of those additions
(~1e-16 relative per step). Explicit: all outflows of a cell total at most ``cfl`` < 1 of
it and are subtracted before any inflow is added, so no value goes negative. Implicit:
the backward-Euler matrix is a column-diagonally-dominant M-matrix (LAPACK's banded LU
does not pivot on it, and its substitutions only add non-negative terms, so the solution
is ≥ 0); its fluxes are then applied to the old density in transfer form (so the solve's
residual, which grows with dt, does not leak mass); the rare round-off negatives this can
leave (seen: −3e-322) are zeroed and their total taken from the largest cell.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd
from scipy.linalg import solve_banded
from scipy.special import ndtr

from data.errors import InvalidParameterError

Method = Literal["explicit", "implicit"]
#: Face velocities: (n+1,) in 1-D; (vx (n0+1, n1), vy (n0, n1+1)) in 2-D.
FaceVelocity = np.ndarray | tuple[np.ndarray, np.ndarray]
VelocityFn = Callable[[np.ndarray, float], FaceVelocity]

DEFAULT_CFL = 0.9

MAX_CELLS = 50_000_000
"""Most cells of a grid (all axes together): one density is then 400 MB of float64 and a
solve holds several (face velocities, coefficients, the saved densities); the same bound as
the node count of :func:`market.kernel.kernel_field` (``DEFAULT_MAX_NODES``)."""


@dataclass(frozen=True)
class FPGrid:
    """A uniform cell-centred grid on the box ``[lower, upper]`` with ``n_cells`` cells per axis.

    Scalars are accepted for a 1-D grid. Densities live on cells, shape ``n_cells``
    (``indexing="ij"`` in 2-D); face velocities on the faces normal to each axis: shape
    ``(n0+1,)`` in 1-D, ``(n0+1, n1)`` and ``(n0, n1+1)`` in 2-D.
    """

    lower: tuple[float, ...]
    upper: tuple[float, ...]
    n_cells: tuple[int, ...]

    def __post_init__(self) -> None:
        try:
            lo = tuple(float(v) for v in np.atleast_1d(np.asarray(self.lower, dtype=float)))
            hi = tuple(float(v) for v in np.atleast_1d(np.asarray(self.upper, dtype=float)))
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"lower and upper must be numbers, got {self.lower!r} and {self.upper!r}"
            ) from None
        nc_arr = np.atleast_1d(np.asarray(self.n_cells))
        if not np.issubdtype(nc_arr.dtype, np.integer):
            raise InvalidParameterError(f"n_cells must be integers, got {self.n_cells!r}")
        nc = tuple(int(v) for v in nc_arr)
        if not (len(lo) == len(hi) == len(nc)) or len(nc) not in (1, 2):
            raise InvalidParameterError(
                "lower, upper and n_cells must all have 1 or 2 entries, got "
                f"{self.lower!r}, {self.upper!r}, {self.n_cells!r}"
            )
        if not all(
            math.isfinite(a) and math.isfinite(b) and a < b for a, b in zip(lo, hi, strict=True)
        ):
            raise InvalidParameterError(f"need finite lower < upper, got {lo} and {hi}")
        if min(nc) < 2:
            raise InvalidParameterError(f"need at least 2 cells per axis, got {nc}")
        if math.prod(nc) > MAX_CELLS:
            raise InvalidParameterError(
                f"n_cells must total at most {MAX_CELLS} cells, got {nc}: {math.prod(nc)}"
            )
        object.__setattr__(self, "lower", lo)
        object.__setattr__(self, "upper", hi)
        object.__setattr__(self, "n_cells", nc)

    @property
    def dim(self) -> int:
        return len(self.n_cells)

    @property
    def dx(self) -> tuple[float, ...]:
        """Cell widths per axis."""
        return tuple(
            (b - a) / n for a, b, n in zip(self.lower, self.upper, self.n_cells, strict=True)
        )

    @property
    def cell_volume(self) -> float:
        return math.prod(self.dx)

    def centers(self, axis: int = 0) -> np.ndarray:
        """Cell centres along ``axis``, shape ``(n_axis,)``."""
        h = self.dx[axis]
        return self.lower[axis] + h * (np.arange(self.n_cells[axis]) + 0.5)

    def faces(self, axis: int = 0) -> np.ndarray:
        """Face positions along ``axis``, shape ``(n_axis + 1,)`` (walls included)."""
        return np.linspace(self.lower[axis], self.upper[axis], self.n_cells[axis] + 1)

    def mesh(self) -> tuple[np.ndarray, ...]:
        """Cell-centre coordinates, one array of shape ``n_cells`` per axis."""
        return tuple(np.meshgrid(*(self.centers(a) for a in range(self.dim)), indexing="ij"))

    def face_mesh(self, axis: int) -> tuple[np.ndarray, ...]:
        """Coordinates of the faces normal to ``axis``, one array per axis (face shape)."""
        coords = [self.centers(a) for a in range(self.dim)]
        coords[axis] = self.faces(axis)
        return tuple(np.meshgrid(*coords, indexing="ij"))

    def velocity_from_field(self, field: Callable[..., object]) -> FaceVelocity:
        """Face velocities from a vector field given at points.

        1-D: ``field(x) -> v``; 2-D: ``field(x, y) -> (vx, vy)`` (array-valued, numbers, or
        one array stacking the two); the normal component is taken at each face centre. A
        field of the wrong shape (a scalar field on a 2-D grid) is an InvalidParameterError.
        """
        if self.dim == 1:
            return _on_faces(field(self.faces(0)), (self.n_cells[0] + 1,), "field(x)")
        parts = []
        for axis in (0, 1):
            value = field(*self.face_mesh(axis))
            if isinstance(value, np.ndarray) and value.ndim in (1, 3) and len(value) == 2:
                value = (value[0], value[1])  # np.array([vx, vy]) or np.stack([vx, vy])
            if not isinstance(value, tuple | list) or len(value) != 2:
                got = len(value) if isinstance(value, tuple | list) else type(value).__name__
                raise InvalidParameterError(f"a 2-D field must return a pair (vx, vy), got {got}")
            shape = tuple(n + (a == axis) for a, n in enumerate(self.n_cells))
            parts.append(_on_faces(value[axis], shape, "vx" if axis == 0 else "vy"))
        return parts[0], parts[1]

    def mass(self, density: np.ndarray) -> float:
        """Total mass ∫μ = Σ density · cell volume."""
        return float(np.sum(density) * self.cell_volume)

    def gaussian(
        self, mean: float | Sequence[float], variance: float | Sequence[float]
    ) -> np.ndarray:
        """Cell averages of a (diagonal) Gaussian, renormalised to mass 1 on the box."""
        means = np.broadcast_to(np.asarray(mean, dtype=float), (self.dim,))
        var = np.broadcast_to(np.asarray(variance, dtype=float), (self.dim,))
        if not (np.isfinite(means).all() and np.isfinite(var).all() and (var > 0).all()):
            raise InvalidParameterError("gaussian needs finite means and positive variances")
        dens = np.ones(())
        for a in range(self.dim):
            edges = (self.faces(a) - means[a]) / math.sqrt(var[a])
            p = np.diff(ndtr(edges))
            dens = np.multiply.outer(dens, p)
        if dens.sum() <= 0:
            raise InvalidParameterError("the Gaussian has no mass on the grid")
        return dens / (dens.sum() * self.cell_volume)

    def moments(self, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(d,)`` and covariance ``(d, d)`` of a density (cell centres as points)."""
        w = np.asarray(density, dtype=float) * self.cell_volume
        m = w.sum()
        pts = [c.ravel() for c in self.mesh()]
        wf = w.ravel() / m
        mean = np.array([np.dot(wf, p) for p in pts])
        cov = np.array(
            [
                [np.dot(wf, (p - mean[i]) * (q - mean[j])) for j, q in enumerate(pts)]
                for i, p in enumerate(pts)
            ]
        )
        return mean, cov


@dataclass(frozen=True)
class FPSolution:
    """Densities at the requested times: ``densities`` has shape ``(n_times, *n_cells)``."""

    grid: FPGrid
    times: np.ndarray
    densities: np.ndarray
    sigma: float
    method: str
    n_steps: int

    def mass(self) -> np.ndarray:
        """Total mass at each saved time, ``(n_times,)``."""
        axes = tuple(range(1, self.densities.ndim))
        return self.densities.sum(axis=axes) * self.grid.cell_volume

    def mean(self) -> np.ndarray:
        """Mean position at each saved time, ``(n_times, d)``."""
        return np.array([self.grid.moments(d)[0] for d in self.densities])

    def covariance(self) -> np.ndarray:
        """Covariance at each saved time, ``(n_times, d, d)``."""
        return np.array([self.grid.moments(d)[1] for d in self.densities])

    def to_frame(self) -> pd.DataFrame:
        """Long format: one row per (time, cell): ``t``, ``x`` (``y``), ``density``."""
        mesh = self.grid.mesh()
        n_cells = mesh[0].size
        data = {"t": np.repeat(self.times, n_cells)}
        for name, coord in zip(("x", "y"), mesh, strict=False):
            data[name] = np.tile(coord.ravel(), len(self.times))
        data["density"] = self.densities.reshape(len(self.times), -1).ravel()
        return pd.DataFrame(data)

    def to_dict(self) -> dict:
        return {
            "lower": list(self.grid.lower),
            "upper": list(self.grid.upper),
            "n_cells": list(self.grid.n_cells),
            "sigma": self.sigma,
            "method": self.method,
            "n_steps": self.n_steps,
            "times": self.times.tolist(),
            "mass": self.mass().tolist(),
            "densities": self.densities.tolist(),
        }


def fokker_planck_step(
    density: np.ndarray,
    *,
    grid: FPGrid,
    velocity: FaceVelocity | None,
    sigma: float,
    dt: float,
    method: Method = "implicit",
) -> np.ndarray:
    """One step of length ``dt`` with fixed face velocities; returns the new density.

    ``method="explicit"`` raises ``InvalidParameterError`` when ``dt`` breaks the
    positivity condition (use ``max_explicit_dt``); ``"implicit"`` accepts any ``dt``.
    """
    rho = _check_density(density, grid)
    sigma = _check_sigma(sigma)
    dt = _number(dt, "dt")
    if not (math.isfinite(dt) and dt >= 0):
        raise InvalidParameterError(f"dt must be finite and >= 0, got {dt!r}")
    coeffs = _coefficients(grid, _check_velocity(velocity, grid), sigma)
    if method == "explicit":
        limit = _explicit_limit(coeffs)
        if dt > limit:
            raise InvalidParameterError(
                f"dt={dt:g} breaks the explicit positivity condition (max {limit:g})"
            )
        return _explicit(rho, coeffs, dt)
    if method == "implicit":
        return _implicit(rho, coeffs, dt)
    raise InvalidParameterError(f"method must be 'explicit' or 'implicit', got {method!r}")


def max_explicit_dt(grid: FPGrid, velocity: FaceVelocity | None, sigma: float) -> float:
    """Largest explicit step keeping every cell's outflow fraction ≤ 1 (μ ≥ 0)."""
    coeffs = _coefficients(grid, _check_velocity(velocity, grid), _check_sigma(sigma))
    return _explicit_limit(coeffs)


def solve_fokker_planck(
    density0: np.ndarray,
    *,
    grid: FPGrid,
    sigma: float,
    times: Sequence[float] | np.ndarray,
    velocity: FaceVelocity | VelocityFn | None = None,
    method: Method = "explicit",
    dt: float | None = None,
    cfl: float = DEFAULT_CFL,
    max_steps: int = 10_000_000,
) -> FPSolution:
    """Evolve ``density0`` (cell averages, shape ``grid.n_cells``) and save it at ``times``.

    ``times``: increasing, ≥ 0 (0 gives the initial density back). ``velocity``: face
    velocities (constant) or a callable ``velocity(density, t)`` returning them (re-evaluated
    at every step: the mean-field coupling); ``None`` is pure diffusion. ``dt``: the largest
    step (default: the explicit positivity limit times ``cfl`` for ``"explicit"``, the gap
    between saved times for ``"implicit"``); explicit steps are shortened further whenever
    the positivity limit requires it.
    """
    rho = _check_density(density0, grid).copy()
    sigma = _check_sigma(sigma)
    if isinstance(max_steps, bool) or not isinstance(max_steps, numbers.Integral) or max_steps < 1:
        raise InvalidParameterError(f"max_steps must be an integer >= 1, got {max_steps!r}")
    if method not in ("explicit", "implicit"):
        raise InvalidParameterError(f"method must be 'explicit' or 'implicit', got {method!r}")
    t_out = np.asarray(times, dtype=float)
    if t_out.ndim != 1 or t_out.size == 0 or not np.isfinite(t_out).all():
        raise InvalidParameterError("times must be a non-empty 1-D array of finite numbers")
    if t_out[0] < 0 or (np.diff(t_out) < 0).any():
        raise InvalidParameterError("times must be non-negative and non-decreasing")
    cfl = _number(cfl, "cfl")
    if not (0.0 < cfl < 1.0):
        raise InvalidParameterError(f"cfl must be in (0, 1), got {cfl!r}")
    if dt is not None:
        dt = _number(dt, "dt")
        if not (math.isfinite(dt) and dt > 0):
            raise InvalidParameterError(f"dt must be positive, got {dt!r}")

    dynamic = callable(velocity)
    fixed_coeffs = None if dynamic else _coefficients(grid, _check_velocity(velocity, grid), sigma)
    too_many = (
        f"more than max_steps={max_steps} steps: the velocity is too large for the "
        "explicit method on this grid (use method='implicit' or a coarser grid)"
    )
    if method == "explicit" and fixed_coeffs is not None and t_out.size:
        # a fixed velocity fixes the step: say at once what stepping would find in minutes
        step = cfl * _explicit_limit(fixed_coeffs)
        step = step if dt is None else min(step, dt)
        if float(t_out[-1]) / step > max_steps + t_out.size:
            raise InvalidParameterError(too_many)
    out = np.empty((t_out.size, *grid.n_cells))
    t = 0.0
    steps = 0
    for k, t_next in enumerate(t_out):
        while t < t_next:
            remaining = t_next - t
            if dynamic:
                raw = velocity(rho.copy(), t)
                if raw is None:  # not "no drift": a callable must return the face velocities
                    raise InvalidParameterError(
                        f"velocity(density, t) returned None at t={t:g}; it must return the "
                        "face velocities (use velocity=None for pure diffusion)"
                    )
                v = _check_velocity(raw, grid)
                coeffs = _coefficients(grid, v, sigma)
            else:
                coeffs = fixed_coeffs
            if method == "explicit":
                step = cfl * _explicit_limit(coeffs)
                if dt is not None:
                    step = min(step, dt)
            else:
                step = dt if dt is not None else remaining
            # land exactly on the saved time (and avoid a sliver of a last step)
            if step >= remaining * (1.0 - 1e-12):
                step = remaining
            rho = (
                _explicit(rho, coeffs, step)
                if method == "explicit"
                else _implicit(rho, coeffs, step)
            )
            t = t_next if step == remaining else t + step
            steps += 1
            if steps > max_steps:
                raise InvalidParameterError(too_many)
        out[k] = rho
    return FPSolution(
        grid=grid, times=t_out, densities=out, sigma=sigma, method=method, n_steps=steps
    )


# --------------------------------------------------------------------------- internals


def _check_density(density: np.ndarray, grid: FPGrid) -> np.ndarray:
    rho = np.asarray(density, dtype=float)
    if rho.shape != grid.n_cells:
        raise InvalidParameterError(f"density must have shape {grid.n_cells}, got {rho.shape}")
    if not np.isfinite(rho).all() or (rho < 0).any():
        raise InvalidParameterError("density must be finite and non-negative")
    return rho


def _number(value: object, name: str) -> float:
    """A real number (numpy's too; not a bool, not a numeric string) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterError(f"{name} must be a number, got {value!r}")
    return float(value)


def _check_sigma(sigma: float) -> float:
    s = _number(sigma, "sigma")
    if not math.isfinite(s) or s < 0:
        raise InvalidParameterError(f"sigma must be finite and >= 0, got {sigma!r}")
    return s


def _on_faces(value: object, shape: tuple[int, ...], what: str) -> np.ndarray:
    """``value`` (a number or an array of the face shape) as a float array of ``shape``."""
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"{what} must be numbers at the faces, got {type(value).__name__}"
        ) from None
    if arr.shape not in ((), shape):
        raise InvalidParameterError(f"{what} must have the face shape {shape}, got {arr.shape}")
    if not np.isfinite(arr).all():  # None reads as NaN
        got = "None" if value is None else "NaN or inf"
        raise InvalidParameterError(f"{what} must be finite numbers at the faces, got {got}")
    return np.broadcast_to(arr, shape).copy()


def _check_velocity(velocity: FaceVelocity | None, grid: FPGrid) -> tuple[np.ndarray, ...]:
    """Face velocities per axis, as float arrays of the face shapes."""
    shapes = []
    s: list[int] | tuple[int, ...]
    for a in range(grid.dim):
        s = list(grid.n_cells)
        s[a] += 1
        shapes.append(tuple(s))
    if velocity is None:
        return tuple(np.zeros(s) for s in shapes)
    parts = (velocity,) if grid.dim == 1 else velocity
    if grid.dim == 2 and (not isinstance(parts, tuple | list) or len(parts) != 2):
        raise InvalidParameterError("a 2-D velocity is a pair (vx, vy) of face arrays")
    out = []
    for v, s in zip(parts, shapes, strict=True):
        arr = np.asarray(v, dtype=float)
        if arr.shape != s:
            raise InvalidParameterError(f"face velocity must have shape {s}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise InvalidParameterError("face velocities must be finite")
        out.append(arr)
    return tuple(out)


def _bernoulli(z: np.ndarray) -> np.ndarray:
    """B(z) = z / (exp(z) − 1), B(0) = 1, evaluated stably (0 for large z, −z for very negative)."""
    out = np.ones_like(z)
    small = np.abs(z) < 1e-6
    zs = z[small]
    out[small] = 1.0 - zs / 2.0 + zs * zs / 12.0
    big = ~small
    zb = z[big]
    with np.errstate(over="ignore"):
        out[big] = zb / np.expm1(zb)
    return out


def _coefficients(
    grid: FPGrid, velocity: tuple[np.ndarray, ...], sigma: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """Per axis: (alpha, beta, h) with the face flux F = alpha·μ_L − beta·μ_R, wall faces 0."""
    diff = sigma * sigma
    coeffs = []
    for a, v in enumerate(velocity):
        h = grid.dx[a]
        if diff > 0:
            pe = v * (h / diff)
            alpha = (diff / h) * _bernoulli(-pe)
            beta = (diff / h) * _bernoulli(pe)
        else:
            alpha = np.maximum(v, 0.0)
            beta = np.maximum(-v, 0.0)
        # zero-flux walls
        sl_first: list[slice | int] = [slice(None)] * v.ndim
        sl_last: list[slice | int] = [slice(None)] * v.ndim
        sl_first[a] = 0
        sl_last[a] = -1
        for arr in (alpha, beta):
            arr[tuple(sl_first)] = 0.0
            arr[tuple(sl_last)] = 0.0
        coeffs.append((alpha, beta, h))
    return coeffs


def _lo(a: int, nd: int) -> tuple[slice, ...]:
    s = [slice(None)] * nd
    s[a] = slice(None, -1)
    return tuple(s)


def _hi(a: int, nd: int) -> tuple[slice, ...]:
    s = [slice(None)] * nd
    s[a] = slice(1, None)
    return tuple(s)


def _outflow_rate(coeffs: list[tuple[np.ndarray, np.ndarray, float]], nd: int) -> np.ndarray:
    """Rate at which each cell loses mass: Σ_axes (alpha at its right face + beta at its left)/h."""
    rate: float | np.ndarray = 0.0
    for a, (alpha, beta, h) in enumerate(coeffs):
        rate = rate + (alpha[_hi(a, nd)] + beta[_lo(a, nd)]) / h
    return cast(np.ndarray, rate)  # coeffs has one entry per axis (dim >= 1)


def _explicit_limit(coeffs: list[tuple[np.ndarray, np.ndarray, float]]) -> float:
    nd = coeffs[0][0].ndim
    r = float(np.max(_outflow_rate(coeffs, nd)))
    return math.inf if r <= 0 else 1.0 / r


def _explicit(
    rho: np.ndarray, coeffs: list[tuple[np.ndarray, np.ndarray, float]], dt: float
) -> np.ndarray:
    """Forward Euler in transfer form: every face moves c·alpha·μ_L rightwards and c·beta·μ_R
    leftwards; each transfer is one float, subtracted from one cell and added to the other
    (mass changes by round-off only). All outflows are subtracted before any inflow is
    added, and they total at most ``dt·rate ≤ 1`` of the cell, so nothing goes negative.
    """
    nd = rho.ndim
    new = rho.copy()
    moves = []
    for a, (alpha, beta, h) in enumerate(coeffs):
        c = dt / h
        inner = _hi(a, nd)  # faces 1..n-1 are faces[1:][:-1]
        right = (c * alpha[inner][_lo(a, nd)]) * rho[_lo(a, nd)]  # cell i -> i+1
        left = (c * beta[inner][_lo(a, nd)]) * rho[_hi(a, nd)]  # cell i+1 -> i
        new[_lo(a, nd)] -= right
        new[_hi(a, nd)] -= left
        moves.append((a, right, left))
    np.maximum(new, 0.0, out=new)  # only touches -0.0 / round-off when dt·rate == 1 exactly
    for a, right, left in moves:
        new[_hi(a, nd)] += right
        new[_lo(a, nd)] += left
    return new


def _implicit(
    rho: np.ndarray, coeffs: list[tuple[np.ndarray, np.ndarray, float]], dt: float
) -> np.ndarray:
    """Backward Euler, axis by axis (Lie splitting): one tridiagonal solve per grid line."""
    out = rho
    for a, (alpha, beta, h) in enumerate(coeffs):
        out = _implicit_axis(out, alpha, beta, dt / h, a)
    return out


def _implicit_axis(
    rho: np.ndarray, alpha: np.ndarray, beta: np.ndarray, c: float, axis: int
) -> np.ndarray:
    """Solve (I + c·div F) μ_new = μ along ``axis`` for every line at once (banded LAPACK)."""
    # move the axis last and stack the lines end to end: one tridiagonal system whose
    # couplings across line ends are zero (the wall faces carry no flux)
    r = np.moveaxis(rho, axis, -1)
    al = np.moveaxis(alpha, axis, -1)  # (..., n+1)
    be = np.moveaxis(beta, axis, -1)
    n = r.shape[-1]
    diag = 1.0 + c * (al[..., 1:] + be[..., :-1])  # (..., n)
    upper = -c * be[..., 1:-1]  # (i, i+1) for i = 0..n-2
    lower = -c * al[..., 1:-1]  # (i+1, i) for i = 0..n-2
    lines = int(np.prod(r.shape[:-1])) if r.ndim > 1 else 1
    m = lines * n
    ab = np.zeros((3, m))
    ab[1] = diag.reshape(-1)
    up = np.zeros((*r.shape[:-1], n))
    up[..., 1:] = upper  # ab[0, j] holds A[j-1, j]
    ab[0] = up.reshape(-1)
    lw = np.zeros((*r.shape[:-1], n))
    lw[..., :-1] = lower  # ab[2, j] holds A[j+1, j]
    ab[2] = lw.reshape(-1)
    x = solve_banded((1, 1), ab, r.reshape(-1), check_finite=False).reshape(r.shape)
    # conservative update: the implicit fluxes (evaluated at the solution) applied to the old
    # density in transfer form, so the mass changes only by the rounding of additions — not
    # by the solve's residual, which grows with c·|flux coefficients|
    flux = c * (al[..., 1:-1] * x[..., :-1]) - c * (be[..., 1:-1] * x[..., 1:])
    new = np.array(r, dtype=float, copy=True)
    new[..., :-1] -= flux
    new[..., 1:] += flux
    _move_round_off_negatives(new)
    return np.moveaxis(new, -1, axis)


def _move_round_off_negatives(rho: np.ndarray) -> None:
    """Zero the round-off negatives of a conservative update and take their (tiny) total
    from the largest cell, so that mass is kept and μ ≥ 0 holds exactly."""
    neg = rho < 0.0
    if neg.any():
        deficit = -float(rho[neg].sum())
        rho[neg] = 0.0
        rho.flat[int(np.argmax(rho))] -= deficit


__all__ = [
    "DEFAULT_CFL",
    "FPGrid",
    "FPSolution",
    "FaceVelocity",
    "fokker_planck_step",
    "max_explicit_dt",
    "solve_fokker_planck",
]
