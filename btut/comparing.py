"""Two stored backtests side by side (``btut compare``): what differs in their configurations,
and how their scores differ on the market days both have stored.

The question an analyst asks of two scenarios (more batteries, another price sensitivity,
another seed) is whether B does better than A *on the same days*. Days differ far more from
one another than the scenarios do, so the comparison is paired: each common day gives one
difference of efficiency, and the mean daily difference comes with a Student-t 95 % interval
over the days (:func:`paired_interval`). The period efficiencies are those of
:meth:`btut.backtesting.LoadedBacktest.scores` (costs summed over the common days).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from btut.backtesting import BacktestDay, LoadedBacktest, _period_scores, load_backtest
from data.checks import check_int
from data.errors import DataUnavailableError, InvalidParameterError

__all__ = ["BacktestComparison", "compare_backtests", "config_changes", "paired_interval"]

#: Scores compared day by day (``<score>_a``, ``<score>_b`` columns of the frame).
DAY_SCORES = (
    "efficiency",
    "exploitability_eur_per_agent_day",
    "market_cost_eur",
    "planner_cost_eur",
    "baseline_cost_eur",
)


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested configuration as ``{"a.b.c": leaf}``; a list of mappings with a ``name`` (the
    population's types) is keyed by name (``types[pv].params...``), other lists are leaves."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if (
        isinstance(value, list | tuple)
        and value
        and all(isinstance(v, Mapping) and "name" in v for v in value)
    ):
        out = {}
        for v in value:
            out.update(_flat({k: x for k, x in v.items() if k != "name"}, f"{prefix}[{v['name']}]"))
        return out
    return {prefix: list(value) if isinstance(value, tuple) else value}


def config_changes(a: Mapping[str, Any], b: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The settings that differ between two configurations: ``{dotted key: (a, b)}``, a key
    only one side has paired with ``None``; sorted by key."""
    fa, fb = _flat(a), _flat(b)
    return {
        k: (fa.get(k), fb.get(k)) for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k)
    }


def paired_interval(
    differences: Sequence[float] | np.ndarray, level: float = 0.95
) -> tuple[float, float, float]:
    """Mean of paired ``differences`` and its two-sided Student-t ``level`` interval
    ``(mean, low, high)`` with ``n - 1`` degrees of freedom; the interval is NaN for fewer
    than two differences (one day says nothing of the day-to-day spread)."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or not np.isfinite(d).all():
        raise InvalidParameterError("differences must be a 1-D sequence of finite numbers")
    if not 0.0 < level < 1.0:
        raise InvalidParameterError(f"level must be in (0, 1), got {level!r}")
    n = len(d)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if n < 2:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


@dataclass(frozen=True)
class BacktestComparison:
    """Backtests ``a`` and ``b`` on their common stored ``days`` (ascending); ``changes``:
    the configuration settings that differ, ``{dotted key: (a, b)}``."""

    a: LoadedBacktest
    b: LoadedBacktest
    days: tuple[dt.date, ...]
    changes: Mapping[str, tuple[Any, Any]]

    def __post_init__(self) -> None:
        days = tuple(sorted(set(self.days)))
        for bt in (self.a, self.b):
            lacking = sorted(set(days) - {d.day for d in bt.days})
            if lacking:
                raise InvalidParameterError(
                    f"backtest {bt.backtest_id} has no stored day {lacking[0]} to compare"
                )
        object.__setattr__(self, "days", days)

    def _common(self, bt: LoadedBacktest) -> list[BacktestDay]:
        """``bt``'s stored days of :attr:`days`, in the same order (the rows pair by day)."""
        by_day = {d.day: d for d in bt.days}
        return [by_day[day] for day in self.days]

    def to_frame(self) -> pd.DataFrame:
        """One row per common day (index ``day``, ISO date): run ids, each of
        :data:`DAY_SCORES` for ``a`` and ``b``, and ``efficiency_change`` (b − a)."""
        cols: dict[str, list[Any]] = {}
        for side, bt in (("a", self.a), ("b", self.b)):
            days = self._common(bt)
            cols[f"run_id_{side}"] = [d.run_id for d in days]
            for score in DAY_SCORES:
                cols[f"{score}_{side}"] = [getattr(d, score) for d in days]
        frame = pd.DataFrame(cols, index=pd.Index([d.isoformat() for d in self.days], name="day"))
        frame["efficiency_change"] = frame["efficiency_b"] - frame["efficiency_a"]
        return frame

    def scores(self) -> dict[str, float]:
        """Over the common days: each side's period efficiency (summed costs) and mean
        exploitability, the change of the period efficiency, the mean daily efficiency change
        with its 95 % Student-t interval, and on how many days B's efficiency is higher,
        lower or equal; ``days_undefined`` days (an efficiency undefined on either side) are
        in none of these counts and not in the interval."""
        sa, sb = _period_scores(self._common(self.a)), _period_scores(self._common(self.b))
        change = self.to_frame()["efficiency_change"].to_numpy(dtype=float)
        finite = change[np.isfinite(change)]
        mean, low, high = paired_interval(finite)
        return {
            "days": len(self.days),
            "efficiency_a": sa["efficiency"],
            "efficiency_b": sb["efficiency"],
            "efficiency_change": sb["efficiency"] - sa["efficiency"],
            "daily_efficiency_change_mean": mean,
            "daily_efficiency_change_low95": low,
            "daily_efficiency_change_high95": high,
            "days_b_higher": int((finite > 0).sum()),
            "days_b_lower": int((finite < 0).sum()),
            "days_equal": int((finite == 0).sum()),
            "days_undefined": int(len(change) - len(finite)),
            "exploitability_eur_per_agent_day_a": sa["exploitability_eur_per_agent_day"],
            "exploitability_eur_per_agent_day_b": sb["exploitability_eur_per_agent_day"],
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``btut compare --json`` object."""
        frame, common = self.to_frame(), set(self.days)
        return {
            "a": self.a.backtest_id,
            "b": self.b.backtest_id,
            "zone": self.a.zone,
            "changes": {k: {"a": va, "b": vb} for k, (va, vb) in self.changes.items()},
            **self.scores(),
            "only_in_a": [d.day.isoformat() for d in self.a.days if d.day not in common],
            "only_in_b": [d.day.isoformat() for d in self.b.days if d.day not in common],
            "per_day": [{"day": day, **row} for day, row in frame.to_dict("index").items()],
        }


def compare_backtests(a: int, b: int, *, db: str | None = None) -> BacktestComparison:
    """Stored backtests ``a`` and ``b`` (ids) compared on the days both have stored.

    Raises ``InvalidParameterError`` for the same id twice or two zones, and
    ``DataUnavailableError`` for an id that is no backtest or when no day is stored by both.
    """
    a, b = check_int(a, "a", 1), check_int(b, "b", 1)
    if a == b:
        raise InvalidParameterError(f"compare two different backtests (both are {a})")
    bt_a, bt_b = load_backtest(a, db=db), load_backtest(b, db=db)
    if bt_a.zone != bt_b.zone:
        raise InvalidParameterError(
            f"backtests {a} ({bt_a.zone}) and {b} ({bt_b.zone}) are of different zones: "
            "their days are not the same market"
        )
    days = sorted({d.day for d in bt_a.days} & {d.day for d in bt_b.days})
    if not days:
        raise DataUnavailableError(
            f"backtests {a} and {b} have no stored day in common ({_span(bt_a)} and {_span(bt_b)})"
        )
    return BacktestComparison(bt_a, bt_b, tuple(days), config_changes(bt_a.config, bt_b.config))


def _span(bt: LoadedBacktest) -> str:
    if not bt.days:
        return f"{bt.backtest_id}: no day stored"
    return f"{bt.backtest_id}: {bt.days[0].day} .. {bt.days[-1].day}"
