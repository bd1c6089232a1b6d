"""The engine's results are frozen dataclasses with to_frame()/to_dict()."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from market.games.congestion import linear_wardrop_equilibrium
from market.mfg import FiniteMFG, best_response, mean_field, uniform_policy


def _game() -> FiniteMFG:
    """Two states, two actions over two steps: action a moves to state a; being in state 1
    earns 1 per step (hand-solvable: go to 1 at once)."""
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    reward = np.array([[0.0, 0.0], [1.0, 1.0]])
    return FiniteMFG(2, 2, 2, np.array([1.0, 0.0]), lambda t, L: reward, lambda t, L: P)


def test_best_response_is_a_frozen_result() -> None:
    game = _game()
    br = best_response(game, mean_field(game, uniform_policy(game)))
    # by hand: from state 0 take action 1 (to state 1, reward 0 now), then 1 in state 1
    assert br.value == pytest.approx(1.0)
    frame = br.to_frame()
    assert frame.index.names == ["t", "state"] and len(frame) == 4
    assert frame.loc[(0, 0), "action"] == 1 and frame.loc[(1, 1), "value"] == pytest.approx(1.0)
    d = json.loads(json.dumps(br.to_dict()))
    assert d["value"] == pytest.approx(1.0) and d["actions"][0][0] == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        br.value = 0.0  # type: ignore[misc]


def test_wardrop_equilibrium_is_a_frozen_result() -> None:
    eq = linear_wardrop_equilibrium([0.0, 0.5, 5.0], [1.0, 1.0, 1.0])
    # by hand: two routes used, x0 + x1 = 1 and x0 = 0.5 + x1: x = (0.75, 0.25), cost 0.75
    np.testing.assert_allclose(eq.shares, [0.75, 0.25, 0.0], atol=1e-12)
    assert eq.cost == pytest.approx(0.75)
    assert eq.to_frame()["share"].tolist() == pytest.approx([0.75, 0.25, 0.0])
    assert eq.to_frame().attrs["cost"] == pytest.approx(0.75)
    d = json.loads(json.dumps(eq.to_dict()))
    assert set(d) == {"shares", "cost"} and d["cost"] == pytest.approx(0.75)
    assert d["shares"] == pytest.approx([0.75, 0.25, 0.0])
    with pytest.raises(dataclasses.FrozenInstanceError):
        eq.cost = 0.0  # type: ignore[misc]
