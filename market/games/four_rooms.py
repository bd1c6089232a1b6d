"""Crowd exploration in the four-rooms grid (Geist et al., "Concave utility reinforcement
learning: the mean-field game viewpoint", AAMAS 2022; Laurière et al., "Scalable deep
reinforcement learning algorithms for mean field games", ICML 2022).

The grid is ``size × size`` cells (``size`` odd, default 11). The middle row and the middle
column are walls, splitting the grid into four rooms of ``m × m`` cells (``m = size // 2``);
each of the four wall segments has one doorway at its middle. States are the free cells
(rooms and doorways), numbered row-major: ``4 m² + 4`` states, 104 for ``size = 11``.

Actions (:data:`FOUR_ROOMS_ACTIONS`): up, down, left, right, stay. A move into a wall or off
the grid leaves the agent where it is. With probability ``noise`` the chosen action is
replaced by one drawn uniformly from the five. The transition does not depend on the mean
field; it is a CSR matrix of shape ``(S·5, S)`` with row ``s·5 + a``, built once.

Reward at time ``t`` in cell ``x`` with action ``a``:

    r(x, a, μ_t) = −κ · log(μ_t(x) + ε) − c_move · 1{a ≠ stay},

with ``κ`` the crowd aversion (default 1), ``ε = 1e-12`` by default (a floor that keeps the
log finite on empty cells) and ``c_move`` a move cost (default 0). Summed over
``t = 0..T−1``, ``−log μ_t(x)`` averages to the entropy of ``μ_t``: the crowd is rewarded for
spreading over the whole grid, which is the exploration problem of the papers. Everyone
starts in one cell (default the top-left corner, in the top-left room).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from data.checks import check_int, check_real
from data.errors import InvalidParameterError
from market.mfg import FiniteMFG

#: Actions in index order.
FOUR_ROOMS_ACTIONS: tuple[str, ...] = ("up", "down", "left", "right", "stay")
#: (row, column) displacement of each action, shape (5, 2).
_MOVES = np.array([[-1, 0], [1, 0], [0, -1], [0, 1], [0, 0]])
_STAY = 4


@dataclass(frozen=True)
class FourRoomsLayout:
    """Geometry of the four-rooms grid.

    Attributes:
        size: side of the square grid, in cells.
        free: ``(size, size)`` bool, True on cells an agent can occupy.
        index: ``(size, size)`` int, the state number of a free cell, ``-1`` on walls.
        cells: ``(S, 2)`` int, the ``(row, column)`` of each state.
        room: ``(S,)`` int, the room of each state: 0 top-left, 1 top-right, 2 bottom-left,
            3 bottom-right, ``-1`` for a doorway.
        doorways: ``(4,)`` int, the state numbers of the doorways.
    """

    size: int
    free: np.ndarray
    index: np.ndarray
    cells: np.ndarray
    room: np.ndarray
    doorways: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of free cells ``S``."""
        return int(self.cells.shape[0])

    def state(self, row: int, col: int) -> int:
        """State number of the free cell ``(row, col)`` (two integers)."""
        row, col = check_int(row, "row", 0, self.size - 1), check_int(col, "col", 0, self.size - 1)
        if not self.free[row, col]:
            raise InvalidParameterError(f"cell ({row}, {col}) is not a free cell of the grid")
        return int(self.index[row, col])

    def to_grid(self, values: np.ndarray) -> np.ndarray:
        """Scatter per-state values ``(S,)`` onto the ``(size, size)`` grid (NaN on walls)."""
        try:
            values = np.asarray(values, dtype=float)
        except (TypeError, ValueError) as exc:
            raise InvalidParameterError(f"values is not numeric: {exc}") from None
        if values.shape != (self.n_states,):
            raise InvalidParameterError(
                f"values must have shape ({self.n_states},), got {values.shape}"
            )
        grid = np.full((self.size, self.size), np.nan)
        grid[self.cells[:, 0], self.cells[:, 1]] = values
        return grid


def four_rooms_layout(size: int = 11) -> FourRoomsLayout:
    """The four-rooms layout on a ``size × size`` grid (``size`` odd, at least 5).

    Walls fill the middle row and column; the doorways sit at the middle of each of the
    four wall segments.
    """
    size = check_int(size, "size", 5)
    if size % 2 == 0:
        raise InvalidParameterError(f"size must be an odd integer >= 5, got {size!r}")
    m = size // 2
    near, far = (m - 1) // 2, m + 1 + (m - 1) // 2  # middles of the two halves
    free = np.ones((size, size), dtype=bool)
    free[m, :] = False
    free[:, m] = False
    door_cells = [(near, m), (far, m), (m, near), (m, far)]
    for r, c in door_cells:
        free[r, c] = True
    index = np.full((size, size), -1, dtype=int)
    rows, cols = np.nonzero(free)  # row-major order
    index[rows, cols] = np.arange(rows.size)
    cells = np.column_stack([rows, cols])
    room = (rows > m).astype(int) * 2 + (cols > m).astype(int)
    doorways = np.array([index[r, c] for r, c in door_cells])
    room[doorways] = -1
    for arr in (free, index, cells, room, doorways):
        arr.setflags(write=False)
    return FourRoomsLayout(size, free, index, cells, room, doorways)


def four_rooms_transition(layout: FourRoomsLayout, *, noise: float = 0.0) -> sp.csr_array:
    """The transition of the four-rooms grid, a CSR matrix of shape ``(S * 5, S)``.

    Row ``s * 5 + a``: with probability ``1 − noise`` action ``a`` is applied (blocked moves
    stay put), with probability ``noise`` a uniformly random action is applied instead.
    """
    if not isinstance(layout, FourRoomsLayout):
        raise InvalidParameterError(f"layout must be a FourRoomsLayout, got {layout!r}")
    noise = check_real(noise, "noise")
    if not 0.0 <= noise <= 1.0:
        raise InvalidParameterError(f"noise must be in [0, 1], got {noise!r}")
    n_states, n_actions = layout.n_states, len(FOUR_ROOMS_ACTIONS)
    # dest[s, a] = state reached from s by applying action a deterministically
    target = layout.cells[:, None, :] + _MOVES[None, :, :]
    r, c = target[..., 0], target[..., 1]
    inside = (r >= 0) & (r < layout.size) & (c >= 0) & (c < layout.size)
    rc, cc = np.clip(r, 0, layout.size - 1), np.clip(c, 0, layout.size - 1)
    open_ = inside & layout.free[rc, cc]
    dest = np.where(open_, layout.index[rc, cc], np.arange(n_states)[:, None])
    # applied action b given chosen a: weight (1 - noise) 1{b = a} + noise / 5
    weight = (1.0 - noise) * np.eye(n_actions) + noise / n_actions  # (a, b)
    rows = np.broadcast_to(
        (np.arange(n_states)[:, None] * n_actions + np.arange(n_actions))[:, :, None],
        (n_states, n_actions, n_actions),
    )
    cols = np.broadcast_to(dest[:, None, :], rows.shape)  # applied action b
    vals = np.broadcast_to(weight[None, :, :], rows.shape)
    keep = vals > 0
    matrix = sp.coo_array(
        (vals[keep], (rows[keep], cols[keep])), shape=(n_states * n_actions, n_states)
    ).tocsr()
    matrix.sum_duplicates()
    return matrix


def four_rooms_game(
    *,
    size: int = 11,
    horizon: int = 40,
    start: tuple[int, int] = (0, 0),
    noise: float = 0.0,
    crowd_aversion: float = 1.0,
    move_cost: float = 0.0,
    eps: float = 1e-12,
    name: str = "four_rooms",
) -> FiniteMFG:
    """Build the four-rooms crowd-exploration mean-field game.

    Options (all keyword-only):

    - ``size``: side of the grid (odd, at least 5); see :func:`four_rooms_layout`.
    - ``horizon``: number of decision steps ``T`` (long enough to reach the far room:
      about ``2 · size``).
    - ``start``: ``(row, column)``, two integers, of the free cell where all the mass starts
      (a Dirac); default the top-left corner.
    - ``noise``: probability that the chosen action is replaced by a uniformly random one.
    - ``crowd_aversion``: ``κ ≥ 0``, weight of ``−log(μ_t(x) + eps)``.
    - ``move_cost``: ``c_move ≥ 0``, cost of any action but stay.
    - ``eps``: positive floor inside the log.

    Returns a :class:`~market.mfg.FiniteMFG` with ``S = layout.n_states`` states and 5
    actions (:data:`FOUR_ROOMS_ACTIONS`); ``reward(t, L)`` maps the ``(S, 5)`` state-action
    distribution to the ``(S, 5)`` reward and ``transition(t, L)`` returns the constant CSR
    matrix of :func:`four_rooms_transition`. The geometry is ``four_rooms_layout(size)``.
    """
    layout = four_rooms_layout(size)
    horizon = check_int(horizon, "horizon", 1)
    kappa, c_move = check_real(crowd_aversion, "crowd_aversion"), check_real(move_cost, "move_cost")
    if kappa < 0:
        raise InvalidParameterError(f"crowd_aversion must be >= 0, got {crowd_aversion!r}")
    if c_move < 0:
        raise InvalidParameterError(f"move_cost must be >= 0, got {move_cost!r}")
    eps = check_real(eps, "eps")
    if not eps > 0:
        raise InvalidParameterError(f"eps must be > 0, got {eps!r}")
    mu0 = np.zeros(layout.n_states)
    mu0[_start_state(layout, start)] = 1.0
    matrix = four_rooms_transition(layout, noise=noise)
    n_actions = len(FOUR_ROOMS_ACTIONS)
    move_penalty = np.where(np.arange(n_actions) == _STAY, 0.0, -c_move)  # (5,)

    def reward(t: int, L: np.ndarray) -> np.ndarray:
        mu = np.asarray(L, dtype=float).sum(axis=1)
        return -kappa * np.log(mu + eps)[:, None] + move_penalty[None, :]

    def transition(t: int, L: np.ndarray) -> sp.csr_array:
        return matrix

    return FiniteMFG(horizon, layout.n_states, n_actions, mu0, reward, transition, name=name)


def _start_state(layout: FourRoomsLayout, start: tuple[int, int]) -> int:
    """State number of ``start``, a ``(row, column)`` pair of integers on a free cell."""
    bad = InvalidParameterError(
        f"start must be a (row, column) pair of integers on a free cell of the "
        f"{layout.size} x {layout.size} grid, got {start!r}"
    )
    try:
        if not isinstance(start, tuple | list | np.ndarray):
            raise bad
        row, col = start
        return layout.state(row, col)
    except (InvalidParameterError, TypeError, ValueError):
        raise bad from None
