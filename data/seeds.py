"""Random seeds, checked once for every package.

A seed is an integer >= 0 (``bool`` is refused although Python counts it as an integer);
anything else is a one-line :class:`~data.errors.InvalidParameterError` naming the
parameter, instead of numpy's ``ValueError`` from deep inside ``default_rng``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from data.checks import check_int


def check_seed(seed: Any, *, name: str = "seed") -> int:
    """``seed`` as an ``int`` if it is an integer >= 0, else ``InvalidParameterError``."""
    return check_int(seed, name, 0)


def seeded_rng(seed: Any, *, name: str = "seed") -> np.random.Generator:
    """``np.random.default_rng(seed)`` for an integer seed >= 0; a ``Generator`` is used as
    is. Anything else is an ``InvalidParameterError``."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(check_seed(seed, name=name))


__all__ = ["check_seed", "seeded_rng"]
