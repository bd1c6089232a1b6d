"""Seeds are checked in one place: integers >= 0, or a Generator where one is accepted."""

from __future__ import annotations

import numpy as np
import pytest

from data.errors import InvalidParameterError
from data.seeds import check_seed, seeded_rng


@pytest.mark.parametrize("seed", [0, 7, np.int64(3), np.uint32(2**32 - 1)])
def test_integers_are_seeds(seed) -> None:
    assert check_seed(seed) == int(seed)
    assert type(check_seed(seed)) is int
    assert seeded_rng(seed).random() == np.random.default_rng(int(seed)).random()


@pytest.mark.parametrize("seed", [-1, True, False, 1.0, 1.5, "1", None, [1]])
def test_anything_else_is_one_line_error_naming_the_parameter(seed) -> None:
    with pytest.raises(InvalidParameterError, match=r"^random_state must be an integer >= 0"):
        check_seed(seed, name="random_state")
    with pytest.raises(InvalidParameterError, match=r"^seed must be an integer >= 0"):
        seeded_rng(seed)


def test_a_generator_is_used_as_is() -> None:
    rng = np.random.default_rng(5)
    assert seeded_rng(rng) is rng


def test_the_packages_refuse_negative_seeds_before_numpy_does() -> None:
    # market.solvers.solve accepted -1 and numpy's default_rng raised a bare ValueError
    from market.games import beach_bar_game
    from market.solvers import solve

    with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0, got -1"):
        solve(beach_bar_game(), seed=-1, initial_policy="random", max_iter=1)
