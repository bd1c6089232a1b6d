"""The beach bar process (Perrin et al., "Fictitious play for mean field games", NeurIPS 2020).

A crowd of bathers walks along a beach of ``n`` cells, a discretised circle (the torus of
the paper) or a segment, with a bar at cell ``b``. Each step a bather moves left, stays or
moves right; the move is blurred by noise. Everybody wants to be close to the bar, moving
costs a little, and nobody likes a crowded spot. The reward of being at ``x`` and playing
``a`` at time ``t`` when the population's state distribution is ``μ_t`` is

    r(x, a, μ_t) = −d(x, b) / n − c_move · |a| − κ · log(μ_t(x) + ε),

with ``d`` the distance on the circle (or on the line), ``a ∈ {−1, 0, +1}``, ``κ`` the crowd
aversion and ``ε`` a tiny floor (default ``1e-12``) that keeps the log finite on empty cells;
it is far below any mass a solver produces on an occupied cell and only makes empty cells
very attractive, which is the intended limit of ``−log μ``. Rewards are maximised over
``t = 0..T−1``; there is no terminal reward.

Dynamics: ``x_{t+1} = x_t + a_t + ξ_t`` where ``ξ_t ∈ {−1, 0, +1}`` with
``P(ξ = ±1) = noise / 2``; on the circle positions wrap around, on the line a step past an
end stays at the end. The transition does not depend on the mean field, so the
``(S·A, S)`` CSR matrix (row ``s·3 + a``) is built once.

The crowd term ``−κ log μ(x)`` is strictly decreasing in the local mass, so the game is
monotone in the Lasry-Lions sense and its equilibrium mean field is unique. With ``κ = 0``
the reward does not depend on the crowd at all and the equilibrium is the best response to
anything: everyone heads for the bar. A larger ``κ`` spreads the crowd out (the stationary
profile behaves like ``exp(−d(x, b) / (n κ))``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

from data.checks import check_int, check_real
from data.errors import InvalidParameterError
from market.mfg import FiniteMFG

#: Actions in index order: step left, stay, step right.
BEACH_BAR_MOVES: tuple[int, ...] = (-1, 0, 1)

_TOPOLOGIES = ("circle", "line")


def beach_bar_distance(
    n_states: int, *, bar: int | None = None, topology: str = "circle"
) -> np.ndarray:
    """Distance of every cell to the bar, in cells.

    Returns an array of shape ``(n_states,)``: ``min(|x − b|, n − |x − b|)`` on the circle
    and ``|x − b|`` on the line. ``bar`` defaults to the middle cell ``n_states // 2``.
    """
    n, b = _check_geometry(n_states, bar, topology)
    gap = np.abs(np.arange(n) - b)
    if topology == "circle":
        gap = np.minimum(gap, n - gap)
    return gap.astype(float)


def beach_bar_transition(
    n_states: int, *, noise: float = 0.1, topology: str = "circle"
) -> sp.csr_array:
    """The beach-bar transition as a CSR matrix of shape ``(n_states * 3, n_states)``.

    Row ``s * 3 + a`` is the distribution of the next cell from cell ``s`` under action
    ``a`` (0 = left, 1 = stay, 2 = right): the intended step plus a noise step of ±1 with
    probability ``noise / 2`` each. Positions wrap on the circle and are clipped on the line.
    """
    n, _ = _check_geometry(n_states, None, topology)
    noise = _check_noise(noise)
    moves = np.asarray(BEACH_BAR_MOVES)
    n_actions = moves.size
    xi = np.array([-1, 0, 1])
    p_xi = np.array([noise / 2.0, 1.0 - noise, noise / 2.0])
    states = np.arange(n)
    # target[s, a, k] = cell reached from s with action a and noise xi[k]
    target = states[:, None, None] + moves[None, :, None] + xi[None, None, :]
    target = np.mod(target, n) if topology == "circle" else np.clip(target, 0, n - 1)
    rows = np.broadcast_to(
        (states[:, None] * n_actions + np.arange(n_actions))[:, :, None], target.shape
    )
    probs = np.broadcast_to(p_xi, target.shape)
    keep = probs > 0
    matrix = sp.coo_array(
        (probs[keep], (rows[keep], target[keep])), shape=(n * n_actions, n)
    ).tocsr()
    matrix.sum_duplicates()
    return matrix


def beach_bar_game(
    *,
    n_states: int = 21,
    horizon: int = 20,
    bar: int | None = None,
    topology: str = "circle",
    noise: float = 0.1,
    move_cost: float | None = None,
    crowd_aversion: float = 1.0,
    eps: float = 1e-12,
    initial_distribution: ArrayLike | None = None,
    name: str = "beach_bar",
) -> FiniteMFG:
    """Build the beach bar mean-field game.

    Options (all keyword-only):

    - ``n_states``: number of cells ``n`` (at least 3).
    - ``horizon``: number of decision steps ``T``.
    - ``bar``: the bar's cell ``b``; default the middle cell ``n // 2``.
    - ``topology``: ``"circle"`` (default, positions wrap) or ``"line"`` (clipped at the ends).
    - ``noise``: probability that the realised step is off by one cell (±1, half each).
    - ``move_cost``: ``c_move``, the cost of a step; default ``1 / n``.
    - ``crowd_aversion``: ``κ ≥ 0``, the weight of ``−log(μ_t(x) + eps)``.
    - ``eps``: positive floor inside the log (see the module docstring).
    - ``initial_distribution``: shape ``(n,)``, default uniform (symmetric about the bar
      when the bar is the middle cell).

    Returns a :class:`~market.mfg.FiniteMFG` with ``n`` states and 3 actions
    (:data:`BEACH_BAR_MOVES`); ``reward(t, L)`` maps the ``(n, 3)`` state-action
    distribution to the ``(n, 3)`` reward and ``transition(t, L)`` returns the constant CSR
    matrix of :func:`beach_bar_transition`.
    """
    n, b = _check_geometry(n_states, bar, topology)
    horizon = check_int(horizon, "horizon", 1)
    c_move = 1.0 / n if move_cost is None else check_real(move_cost, "move_cost")
    if c_move < 0:
        raise InvalidParameterError(f"move_cost must be >= 0, got {move_cost!r}")
    kappa = check_real(crowd_aversion, "crowd_aversion")
    if kappa < 0:
        raise InvalidParameterError(f"crowd_aversion must be >= 0, got {crowd_aversion!r}")
    eps = check_real(eps, "eps")
    if not eps > 0:
        raise InvalidParameterError(f"eps must be > 0, got {eps!r}")
    mu0 = _initial(initial_distribution, n)
    matrix = beach_bar_transition(n, noise=noise, topology=topology)

    moves = np.asarray(BEACH_BAR_MOVES, dtype=float)
    # state-action part of the reward, independent of the crowd: shape (n, 3)
    base = (
        -beach_bar_distance(n, bar=b, topology=topology)[:, None] / n
        - c_move * np.abs(moves)[None, :]
    )

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        if kappa == 0.0:
            return base.copy()
        mu = np.asarray(L, dtype=float).sum(axis=1)
        return base - kappa * np.log(mu + eps)[:, None]

    def transition(t: int, L: np.ndarray) -> sp.csr_array:
        return matrix

    return FiniteMFG(
        horizon,
        n,
        moves.size,
        mu0,
        reward,
        transition,
        name=name,
    )


def _check_geometry(n_states: int, bar: int | None, topology: str) -> tuple[int, int]:
    n = check_int(n_states, "n_states", 3)
    if not isinstance(topology, str) or topology not in _TOPOLOGIES:
        raise InvalidParameterError(f"topology must be one of {_TOPOLOGIES}, got {topology!r}")
    b = n // 2 if bar is None else check_int(bar, "bar", 0, n - 1)
    return n, b


def _check_noise(noise: float) -> float:
    noise = check_real(noise, "noise")
    if not 0.0 <= noise <= 1.0:
        raise InvalidParameterError(f"noise must be in [0, 1], got {noise!r}")
    return noise


def _initial(initial_distribution: ArrayLike | None, n: int) -> np.ndarray:
    if initial_distribution is None:
        return np.full(n, 1.0 / n)
    try:
        mu0 = np.asarray(initial_distribution, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"initial_distribution is not numeric: {exc}") from None
    if mu0.shape != (n,):
        raise InvalidParameterError(f"initial_distribution must have shape ({n},), got {mu0.shape}")
    if not np.all(np.isfinite(mu0)) or np.any(mu0 < 0) or not np.isclose(mu0.sum(), 1.0):
        raise InvalidParameterError("initial_distribution must be non-negative and sum to 1")
    return mu0
