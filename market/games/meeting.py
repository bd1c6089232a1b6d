r"""When does the meeting start? (Guéant, Lasry & Lions, "Mean field games and applications",
Paris-Princeton Lectures on Mathematical Finance 2010, Springer 2011, section 2.)

Model
-----
A meeting is scheduled at ``t_s``. A continuum of participants each choose a target arrival
time ``t`` on the grid ``t_s + k·h``; participant ``i`` actually arrives at ``τ = t + ε``,
where the noise ``ε`` is a discretised normal: offset ``k·h`` (``|k| ≤ K``,
``K = ⌈w·σ/h⌉``) with the mass ``p_k`` that ``N(0, σ²)`` puts on the cell
``[(k − ½)h, (k + ½)h]`` (renormalised), and within its cell the arrival is uniform. So the
noise CDF ``F`` is continuous and piecewise linear with knots at the cell edges, and the
fraction of the population that has arrived by time ``s`` is continuous in ``s``.

The meeting starts at ``T* = max(t_s, inf{s : G(s) ≥ θ})``, where ``G`` is the CDF of the
arrival times of the population and ``θ`` the quorum: the first moment a fraction ``θ`` of
the participants is there, but never before the scheduled time. A participant arriving at
``τ`` pays

    c(τ; T*) = α (τ − t_s)₊ + β (τ − T*)₊ + γ (T* − τ)₊ :

lateness with respect to the schedule (reputation), lateness with respect to the actual
start (missing part of the meeting) and waiting time.

Encoding as a finite MFG: horizon 1, one state, one action per target time. The
state-action distribution ``L`` of shape ``(1, A)`` is the distribution of targets; the
reward of action ``a`` is ``−E[c(t_a + ε; T*(L))]``, computed exactly (piecewise-quadratic
partial expectations of the piecewise-uniform noise). The transition is trivial.

Analytic fixed point
--------------------
The expected cost ``C(t; T) = E c(t + ε; T)`` is convex in ``t`` and, ``F`` being
continuous, differentiable, with ``d/dt E(t + ε − a)₊ = P(t + ε > a) = 1 − F(a − t)`` and
``d/dt E(a − t − ε)₊ = −F(a − t)``:

    C'(t; T) = α (1 − F(t_s − t)) + β (1 − F(T − t)) − γ F(T − t).

Best response to a start time ``T``: ``C'(t; T) = 0``, i.e.

    (β + γ) F(T − t) = β + α (1 − F(t_s − t)).                                 (BR)

The α-term is weighted by ``1 − F(t_s − t)``, the probability of being late for the
schedule. If ``T = t_s`` both CDFs are evaluated at the same point and (BR) is a quantile
condition, ``F(t_s − t) = (α + β) / (α + β + γ)``; if instead the agent is always late for
the schedule (``t_s − t`` below the noise support) it reads ``F(T − t) = (α + β) / (β + γ)``.

Consistency: if everybody targets ``t``, the arrived fraction at ``s`` is ``F(s − t)``, the
quorum is reached at ``t + q_θ`` with ``q_θ = F⁻¹(θ)``, and

    T* = max(t_s, t + q_θ).                                                     (Q)

Fixed point: put ``d = t_s − t`` (how early the common target is). Substituting (Q) into
(BR) gives one equation in ``d``:

    φ(d) = α (1 − F(d)) + β − (β + γ) F(max(d, q_θ)) = 0.

``φ`` is continuous and non-increasing, tends to ``−γ < 0`` for large ``d`` and equals
``α + β − (β + γ)θ`` for ``d`` below the noise support, so an equilibrium with an interior
target exists (and is unique) iff ``θ < (α + β) / (β + γ)``; otherwise the meeting drifts
with the crowd and everybody postpones to the end of the time window. Two regimes, split by
the sign of ``φ(q_θ) = α(1 − θ) + β − (β + γ)θ``:

- the schedule binds (``T* = t_s``) iff ``θ ≤ (α + β) / (α + β + γ)``; then

      t = t_s − F⁻¹((α + β) / (α + β + γ)),    T* = t_s;

- otherwise the quorum sets the start, ``d < q_θ``, ``F(d) = 1 − ((β + γ)θ − β) / α``:

      t = t_s − F⁻¹(1 − ((β + γ)θ − β) / α),    T* = t + F⁻¹(θ) > t_s.

:func:`meeting_fixed_point` solves ``φ(d) = 0`` with :func:`scipy.optimize.brentq` (the
reference the finite game is tested against) and reports which regime holds; the closed
forms above are checked against it in the tests. The finite game restricts targets to the
grid: against a start ``T`` the best grid target is one of the two grid neighbours of the
continuous best response ``t*(T)``, so the finite game's equilibria lie within about
``h / (2 (1 − s))`` of the analytic target, ``s ∈ (0, 1)`` being the slope of ``t*(T)``
(with ``α`` large against ``β + γ``, ``s`` is small and the discrete equilibrium is within a
grid step; with ``s`` near 1 the grid game can have several equilibria about a step apart).
In the regime where the schedule binds, ``T* = t_s`` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special

from data.checks import check_real
from data.errors import InvalidParameterError
from market.mfg import FiniteMFG


@dataclass(frozen=True, kw_only=True)
class MeetingParameters:
    """Parameters of the meeting game (see the module docstring for the model).

    Attributes:
        scheduled_time: ``t_s``, the scheduled start.
        quorum: ``θ ∈ (0, 1)``, the fraction of participants needed to start.
        schedule_lateness_cost: ``α > 0``, cost per unit of time late for the schedule.
        start_lateness_cost: ``β ≥ 0``, cost per unit of time late for the actual start.
        waiting_cost: ``γ > 0``, cost per unit of time spent waiting for the start.
        noise_std: ``σ > 0``, standard deviation of the (discretised normal) arrival noise.
        noise_width: ``w > 0``, the noise is truncated at ``±w·σ`` (rounded up to cells).
        time_step: ``h > 0``, the grid step of targets and noise cells.
        earliest: earliest target time; default ``t_s − (w + 1)σ``.
        latest: latest target time; default ``t_s + (w + 1)σ``.
    """

    scheduled_time: float = 0.0
    quorum: float = 0.7
    schedule_lateness_cost: float = 1.0
    start_lateness_cost: float = 1.0
    waiting_cost: float = 1.0
    noise_std: float = 1.0
    noise_width: float = 3.0
    time_step: float = 0.25
    earliest: float | None = None
    latest: float | None = None

    def __post_init__(self) -> None:
        finite = [
            "scheduled_time",
            "quorum",
            "schedule_lateness_cost",
            "start_lateness_cost",
            "waiting_cost",
            "noise_std",
            "noise_width",
            "time_step",
        ]
        for name in finite:
            object.__setattr__(self, name, check_real(getattr(self, name), name))
        for name in ("earliest", "latest"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_real(getattr(self, name), name))
        if not 0.0 < self.quorum < 1.0:
            raise InvalidParameterError(f"quorum must be in (0, 1), got {self.quorum}")
        if self.schedule_lateness_cost <= 0 or self.waiting_cost <= 0:
            raise InvalidParameterError("schedule_lateness_cost and waiting_cost must be > 0")
        if self.start_lateness_cost < 0:
            raise InvalidParameterError("start_lateness_cost must be >= 0")
        if self.noise_std <= 0 or self.noise_width <= 0 or self.time_step <= 0:
            raise InvalidParameterError("noise_std, noise_width and time_step must be > 0")
        lo, hi = self._window()
        if not lo <= hi:
            raise InvalidParameterError(f"earliest ({lo}) must not be after latest ({hi})")
        if self.target_steps.size < 2:
            raise InvalidParameterError("the time window must hold at least two grid times")

    # ---- grids ---------------------------------------------------------------------------

    def _window(self) -> tuple[float, float]:
        pad = (self.noise_width + 1.0) * self.noise_std
        lo = self.scheduled_time - pad if self.earliest is None else self.earliest
        hi = self.scheduled_time + pad if self.latest is None else self.latest
        return lo, hi

    @cached_property
    def target_steps(self) -> np.ndarray:
        """Integer grid index ``k`` of each target ``t_s + k·h``, shape ``(A,)``."""
        lo, hi = self._window()
        h, ts = self.time_step, self.scheduled_time
        k_lo = int(np.ceil((lo - ts) / h - 1e-9))
        k_hi = int(np.floor((hi - ts) / h + 1e-9))
        return np.arange(k_lo, k_hi + 1)

    @cached_property
    def targets(self) -> np.ndarray:
        """Target arrival times ``t_a = t_s + k_a·h``, shape ``(A,)``: the actions."""
        return self.scheduled_time + self.time_step * self.target_steps

    @cached_property
    def noise_offsets(self) -> np.ndarray:
        """Centres ``k·h`` of the noise cells, ``k = −K..K``, shape ``(2K + 1,)``."""
        k_max = int(np.ceil(self.noise_width * self.noise_std / self.time_step - 1e-9))
        return self.time_step * np.arange(-k_max, k_max + 1)

    @cached_property
    def noise_edges(self) -> np.ndarray:
        """Edges of the noise cells, shape ``(2K + 2,)``."""
        h = self.time_step
        return np.append(self.noise_offsets - h / 2, self.noise_offsets[-1] + h / 2)

    @cached_property
    def noise_probabilities(self) -> np.ndarray:
        """Mass ``p_k`` of each noise cell (discretised, truncated normal), shape ``(2K + 1,)``."""
        cdf = special.ndtr(self.noise_edges / self.noise_std)
        p = np.diff(cdf)
        return p / p.sum()

    @cached_property
    def _edge_cdf(self) -> np.ndarray:
        cdf = np.concatenate([[0.0], np.cumsum(self.noise_probabilities)])
        cdf[-1] = 1.0
        return cdf

    @cached_property
    def _edge_psi(self) -> np.ndarray:
        # Ψ(y) = E(ε − y)₊ = ∫_y^∞ (1 − F); exact trapezoid sums since 1 − F is linear per cell
        tail = 1.0 - self._edge_cdf
        cells = 0.5 * (tail[1:] + tail[:-1]) * self.time_step
        return np.append(np.cumsum(cells[::-1])[::-1], 0.0)

    @cached_property
    def noise_mean(self) -> float:
        """``E ε`` (zero up to rounding: the noise is symmetric)."""
        return float(self.noise_offsets @ self.noise_probabilities)

    # ---- noise law -----------------------------------------------------------------------

    def noise_cdf(self, x: ArrayLike) -> np.ndarray:
        """``F(x) = P(ε ≤ x)``, continuous and piecewise linear; same shape as ``x``."""
        return np.interp(_reals(x, "x", finite=False), self.noise_edges, self._edge_cdf)

    def noise_quantile(self, p: ArrayLike) -> np.ndarray:
        """``F⁻¹(p)`` for ``p ∈ [0, 1]``; same shape as ``p``."""
        p = _reals(p, "p")
        if not ((p >= 0.0) & (p <= 1.0)).all():
            raise InvalidParameterError("p must be probabilities in [0, 1]")
        return np.interp(p, self._edge_cdf, self.noise_edges)

    def _psi(self, y: np.ndarray) -> np.ndarray:
        """``Ψ(y) = E(ε − y)₊`` (piecewise quadratic), same shape as ``y``."""
        edges, h = self.noise_edges, self.time_step
        n_cells = edges.size - 1
        j = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, n_cells - 1)
        dy = np.clip(y - edges[j], 0.0, h)
        density = self.noise_probabilities[j] / h
        inside = self._edge_psi[j] - ((1.0 - self._edge_cdf[j]) * dy - density * dy**2 / 2)
        below = self.noise_mean - y  # y under the support: ε > y surely
        return np.where(y <= edges[0], below, np.where(y >= edges[-1], 0.0, inside))

    # ---- the game's two maps -------------------------------------------------------------

    def start_time(self, target_distribution: ArrayLike) -> float:
        """Meeting start ``T*`` when the targets are distributed as ``target_distribution``.

        ``target_distribution`` has shape ``(A,)`` or ``(1, A)`` (the game's state-action
        distribution) and is normalised here. The arrival CDF ``G`` is piecewise linear with
        knots at the cell edges ``t_s + (i + ½)h``; ``T* = max(t_s, G⁻¹(θ))``.
        """
        try:
            w = np.asarray(target_distribution, dtype=float).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"target distribution is not numeric: {exc}") from None
        if w.shape != self.targets.shape:
            raise InvalidParameterError(
                f"target distribution must have {self.targets.size} entries, got {w.size}"
            )
        if not np.isfinite(w).all():
            raise InvalidParameterError("target distribution has non-finite entries")
        total = w.sum()
        if not total > 0 or np.any(w < -1e-12):
            raise InvalidParameterError("target distribution must be non-negative, not all zero")
        arrivals = np.convolve(np.clip(w, 0.0, None) / total, self.noise_probabilities)
        k_max = (self.noise_offsets.size - 1) // 2
        h = self.time_step
        first = self.targets[0] - k_max * h - h / 2  # left edge of the first arrival cell
        knots = first + h * np.arange(arrivals.size + 1)
        cdf = np.concatenate([[0.0], np.cumsum(arrivals)])
        i = int(np.searchsorted(cdf, self.quorum, side="left"))
        i = min(max(i, 1), cdf.size - 1)
        frac = (self.quorum - cdf[i - 1]) / max(cdf[i] - cdf[i - 1], 1e-300)
        quorum_time = knots[i - 1] + np.clip(frac, 0.0, 1.0) * h
        return float(max(self.scheduled_time, quorum_time))

    def expected_cost(self, start_time: float, targets: ArrayLike | None = None) -> np.ndarray:
        """Expected cost ``E c(t + ε; T*)`` of arriving around ``t`` when the start is ``T*``.

        ``targets`` (any shape, any real times; default the action grid :attr:`targets`,
        shape ``(A,)``) gives the ``t``; the result has the same shape. Exact: the
        partial expectations of the piecewise-uniform noise are piecewise quadratic.
        """
        start_time = check_real(start_time, "start_time")
        t = self.targets if targets is None else _reals(targets, "targets")
        ts = self.scheduled_time
        gap = start_time - t
        psi_gap = self._psi(gap)
        late_schedule = self._psi(ts - t)
        waiting = psi_gap - self.noise_mean + gap
        return (
            self.schedule_lateness_cost * late_schedule
            + self.start_lateness_cost * psi_gap
            + self.waiting_cost * waiting
        )


def _reals(value: ArrayLike, name: str, *, finite: bool = True) -> np.ndarray:
    """``value`` as a float array (of finite numbers if ``finite``)."""
    if isinstance(value, str | bytes):
        raise InvalidParameterError(f"{name} must be numbers, got {value!r}")
    try:
        out = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} is not numeric: {exc}") from None
    if finite and not np.isfinite(out).all():
        raise InvalidParameterError(f"{name} has non-finite entries")
    return out


@dataclass(frozen=True)
class MeetingFixedPoint:
    """The analytic equilibrium of the continuum-target meeting model.

    Attributes:
        target: the common target ``t``.
        start_time: the meeting start ``T* = max(t_s, t + F⁻¹(θ))``.
        schedule_binds: True when ``T* = t_s`` (``θ ≤ (α + β) / (α + β + γ)``).
    """

    target: float
    start_time: float
    schedule_binds: bool


def meeting_fixed_point(params: MeetingParameters) -> MeetingFixedPoint:
    """Solve ``φ(d) = 0`` (module docstring) with :func:`scipy.optimize.brentq`.

    Raises :class:`~data.errors.InvalidParameterError` when no interior equilibrium exists
    (``θ ≥ (α + β) / (β + γ)``).
    """
    if not isinstance(params, MeetingParameters):
        raise InvalidParameterError(f"params must be a MeetingParameters, got {params!r}")
    a, b, g = params.schedule_lateness_cost, params.start_lateness_cost, params.waiting_cost
    theta = params.quorum
    if theta >= (a + b) / (b + g):
        raise InvalidParameterError(
            f"no interior equilibrium: quorum {theta} >= (α + β) / (β + γ) = {(a + b) / (b + g)}"
        )
    q = float(params.noise_quantile(theta))

    def phi(d: float) -> float:
        return float(a * (1 - params.noise_cdf(d)) + b - (b + g) * params.noise_cdf(max(d, q)))

    lo = params.noise_edges[0] - params.time_step
    hi = params.noise_edges[-1] + params.time_step
    d = optimize.brentq(phi, lo, hi, xtol=1e-13, rtol=1e-13)
    target = params.scheduled_time - d
    start = max(params.scheduled_time, target + q)
    return MeetingFixedPoint(float(target), float(start), bool(d >= q))


def meeting_game(
    *,
    scheduled_time: float = 0.0,
    quorum: float = 0.7,
    schedule_lateness_cost: float = 1.0,
    start_lateness_cost: float = 1.0,
    waiting_cost: float = 1.0,
    noise_std: float = 1.0,
    noise_width: float = 3.0,
    time_step: float = 0.25,
    earliest: float | None = None,
    latest: float | None = None,
    name: str = "meeting",
) -> FiniteMFG:
    """Build the "when does the meeting start?" game as a one-step finite MFG.

    The options are the fields of :class:`MeetingParameters` (``α, β, γ`` are
    ``schedule_lateness_cost, start_lateness_cost, waiting_cost``). The game has horizon 1,
    one state and ``A = MeetingParameters(...).targets.size`` actions (target times);
    ``reward(0, L)`` with ``L`` of shape ``(1, A)`` returns ``−expected_cost(start_time(L))``
    of shape ``(1, A)``; the transition is the trivial ``(1, A, 1)`` array of ones.
    """
    params = MeetingParameters(
        scheduled_time=scheduled_time,
        quorum=quorum,
        schedule_lateness_cost=schedule_lateness_cost,
        start_lateness_cost=start_lateness_cost,
        waiting_cost=waiting_cost,
        noise_std=noise_std,
        noise_width=noise_width,
        time_step=time_step,
        earliest=earliest,
        latest=latest,
    )
    n_actions = params.targets.size
    stay = np.ones((1, n_actions, 1))

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        return -params.expected_cost(params.start_time(L))[None, :]

    def transition(t: int, L: np.ndarray) -> np.ndarray:
        return stay

    return FiniteMFG(1, 1, n_actions, np.ones(1), reward, transition, name=name)
