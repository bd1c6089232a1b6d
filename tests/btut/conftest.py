"""Shared by the replay, backtest, comparison and report tests: the bundled ES June 2017 rows
with a gap, a copy of a file with an off-grid row, and backtests built without a store."""

from __future__ import annotations

import datetime as dt
import gzip
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from btut.backtesting import BacktestDay, LoadedBacktest
from data.loader import bundled_path

#: The one warning line a replay or backtest after 2017-06-14 gives for ``june_gap_csv``.
HISTORY_GAP_WARNING = (
    "btut: warning: ES history: 1 gap(s), 1 missing interval(s), the first from "
    "2017-06-14T10:00:00+00:00 to 2017-06-14T11:00:00+00:00; the load forecaster and the "
    "solar plan's error spread leave them out (nothing is filled)"
)


#: The warning of the bundled ES history's missing values, for a replayed day of June 2017
#: (its year before holds 2 of load_mw and 1 of solar_mw); ``.format(day=...)``.
ES_JUNE_HISTORY_MISSING = (
    "btut: warning: ES history: 3 missing value(s) before {day} (load_mw 2, solar_mw 1), the "
    "first at 2016-07-09T20:00:00+00:00; the load forecaster and the plans take them as "
    "unknown (nothing is filled)"
)


def other_lines(err: str) -> list[str]:
    """``err``'s lines but the warnings of a history's missing values (said by every replay
    of a bundled day after 2016-07-09), for tests about other lines."""
    pattern = r"btut: warning: \S+ history: \d+ missing"
    return [ln for ln in err.splitlines() if not re.match(pattern, ln)]


@pytest.fixture(name="other_lines")
def other_lines_fixture() -> Callable[[str], list[str]]:
    return other_lines


@pytest.fixture
def es_june_history_missing() -> str:
    return ES_JUNE_HISTORY_MISSING


@pytest.fixture
def june_csv(tmp_path: Path) -> Callable[..., Path]:
    """Write the bundled ES June 2017 rows (Spain layout) to ``tmp_path / name``: ``drop``,
    a local hour prefix (``"2017-06-14 12:"``) whose row is left out; ``edit``, a local hour
    prefix, a source column and a function of the cell's text giving its new text."""

    def write(
        name: str,
        *,
        drop: str | None = None,
        edit: tuple[str, str, Callable[[str], str]] | None = None,
    ) -> Path:
        with gzip.open(bundled_path("spain_energy_2015_2017.csv.gz"), "rt") as fh:
            header, *rows = fh.read().splitlines()
        rows = [r for r in rows if r.startswith("2017-06") and not (drop and r.startswith(drop))]
        if edit is not None:
            hour, column, change = edit
            col = header.split(",").index(column)
            for i, row in enumerate(rows):
                if row.startswith(hour):
                    cells = row.split(",")
                    cells[col] = change(cells[col])
                    rows[i] = ",".join(cells)
        path = tmp_path / name
        path.write_text("\n".join([header, *rows]) + "\n")
        return path

    return write


@pytest.fixture
def june_gap_csv(june_csv: Callable[..., Path]) -> str:
    """The bundled ES June 2017 rows without the hour 12:00 (local) of 2017-06-14."""
    return str(june_csv("spain_gap.csv", drop="2017-06-14 12:"))


#: The one warning line a replay or backtest after 2017-06-10 gives for ``june_spike_csv``.
SPIKE_WARNING = (
    "btut: warning: ES data: load_mw: 1 isolated spike(s) in the replayed days and their "
    "history, at 2017-06-10T13:00:00+00:00; used as they are"
)


@pytest.fixture
def june_spike_csv(june_csv: Callable[..., Path]) -> str:
    """The bundled ES June 2017 rows with the load of 2017-06-10 15:00 (local) tripled."""
    tripled = ("2017-06-10 15:", "total load actual", lambda v: str(3 * float(v)))
    return str(june_csv("spain_spike.csv", edit=tripled))


@pytest.fixture
def spike_warning() -> str:
    return SPIKE_WARNING


@pytest.fixture
def history_gap_warning() -> str:
    return HISTORY_GAP_WARNING


@pytest.fixture
def offgrid_csv(tmp_path: Path) -> Callable[[str], str]:
    """``f(path)``: a copy of the CSV at ``path`` with a row at 2017-06-02 05:30 added."""

    def copy(src: str) -> str:
        lines = Path(src).read_text().splitlines()
        i = next(k for k, ln in enumerate(lines) if ln.startswith("2017-06-02 05:00"))
        lines.insert(i + 1, lines[i].replace("2017-06-02 05:00", "2017-06-02 05:30", 1))
        bad = tmp_path / "offgrid.csv"
        bad.write_text("\n".join(lines) + "\n")
        return str(bad)

    return copy


@pytest.fixture
def make_backtest() -> Callable[..., LoadedBacktest]:
    """``f(backtest_id, efficiencies, days=None, config=None)``: a backtest read back as if
    from a store, one stored day per efficiency (days from 2017-06-01 unless given; run ids
    ``10 * backtest_id + i``; costs EUR: baseline 100, planner 50, market ``60 + i``)."""

    def make(
        backtest_id: int,
        efficiencies: list[float],
        days: list[str] | None = None,
        config: dict | None = None,
    ) -> LoadedBacktest:
        days = days or [f"2017-06-{d:02d}" for d in range(1, len(efficiencies) + 1)]
        stored = tuple(
            BacktestDay(
                day=dt.date.fromisoformat(day),
                run_id=10 * backtest_id + i,
                reused=True,
                efficiency=eff,
                exploitability_eur_per_agent_day=0.001,
                price_of_anarchy=1.01,
                baseline_cost_eur=100.0,
                market_cost_eur=60.0 + i,
                planner_cost_eur=50.0,
                market_cost_used_eur=60.0 + i,
            )
            for i, (day, eff) in enumerate(zip(days, efficiencies, strict=True))
        )
        return LoadedBacktest(backtest_id, "ES", config or {}, stored, ())

    return make
