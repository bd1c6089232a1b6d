"""Classic finite mean-field games built on :class:`market.mfg.FiniteMFG`.

Each builder is a plain function with keyword-only options that returns a ``FiniteMFG``:

- :func:`beach_bar_game`: the beach bar process (Perrin et al. 2020).
- :func:`four_rooms_game`: crowd exploration in the four-rooms grid (Geist et al. 2022).
- :func:`meeting_game`: "when does the meeting start?" (Guéant, Lasry & Lions 2011), with
  its analytic fixed point :func:`meeting_fixed_point`.
- :func:`congestion_game`: routes with linear congestion costs (Wardrop equilibrium
  :func:`linear_wardrop_equilibrium`), and :func:`crowd_aversion_game`, on which the
  plain fixed-point iteration oscillates.
- :func:`lq_line_game`: the linear-quadratic game discretised on a line (``market.lq``).
"""

from __future__ import annotations

from market.games.beach_bar import (
    BEACH_BAR_MOVES,
    beach_bar_distance,
    beach_bar_game,
    beach_bar_transition,
)
from market.games.congestion import (
    WardropEquilibrium,
    congestion_game,
    crowd_aversion_game,
    linear_wardrop_equilibrium,
)
from market.games.four_rooms import (
    FOUR_ROOMS_ACTIONS,
    FourRoomsLayout,
    four_rooms_game,
    four_rooms_layout,
    four_rooms_transition,
)
from market.games.meeting import (
    MeetingFixedPoint,
    MeetingParameters,
    meeting_fixed_point,
    meeting_game,
)
from market.lq import lq_line_game

__all__ = [
    "BEACH_BAR_MOVES",
    "FOUR_ROOMS_ACTIONS",
    "FourRoomsLayout",
    "MeetingFixedPoint",
    "MeetingParameters",
    "WardropEquilibrium",
    "beach_bar_distance",
    "beach_bar_game",
    "beach_bar_transition",
    "congestion_game",
    "crowd_aversion_game",
    "four_rooms_game",
    "four_rooms_layout",
    "four_rooms_transition",
    "linear_wardrop_equilibrium",
    "lq_line_game",
    "meeting_fixed_point",
    "meeting_game",
]
