"""Aggregation over days and payments on hand-made inputs: the period scores of a backtest,
the multi-day figures of a replay (``_run_day`` replaced by hand-made days) and the routing
summary of settlement payments. Every expected value is derived by hand in the comments."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest

import btut
import btut.replaying
from btut.backtesting import BacktestDay, BacktestResult, LoadedBacktest
from btut.replaying import DayResult
from btut.routes import summarise_payments

# two days with different costs, so that the mean of the daily ratios is not the ratio of the
# sums, and a market cost used by the scores (paired sample) that differs from the total
#   day 1: baseline 100, market used 80 (total 81), planner 60 -> efficiency 20/40 = 0.5
#   day 2: baseline 100, market used 95 (total 96), planner 50 -> efficiency  5/50 = 0.1
#   period: baseline 200, market used 175, planner 110 -> efficiency 25/90, PoA 175/110
#   (mean of the daily efficiencies: 0.3; from the total market costs 177: 23/90)
DAYS = (dt.date(2017, 6, 12), dt.date(2017, 6, 13))
COSTS = {  # day -> baseline, market total, market used, planner, exploitability
    DAYS[0]: (100.0, 81.0, 80.0, 60.0, 0.02),
    DAYS[1]: (100.0, 96.0, 95.0, 50.0, 0.04),
}
EFFICIENCY = 25.0 / 90.0
POA = 175.0 / 110.0
EXPLOITABILITY = 0.03  # (0.02 + 0.04) / 2 per agent-day


def _backtest_day(day: dt.date) -> BacktestDay:
    b, m, m_used, p, e = COSTS[day]
    return BacktestDay(
        day=day,
        run_id=1 + DAYS.index(day),
        reused=False,
        efficiency=(b - m_used) / (b - p),
        exploitability_eur_per_agent_day=e,
        price_of_anarchy=m_used / p,
        baseline_cost_eur=b,
        market_cost_eur=m,
        planner_cost_eur=p,
        market_cost_used_eur=m_used,
    )


def test_backtest_period_scores_come_from_the_summed_costs() -> None:
    days = tuple(_backtest_day(d) for d in DAYS)
    loaded = LoadedBacktest(1, "ES", {}, days, ())
    result = BacktestResult(1, "ES", DAYS[0], DAYS[-1], 10, 0, "local", {}, days, 2, 0, 0.0)
    for scores in (loaded.scores(), result.scores(), result.to_dict()):
        assert scores["efficiency"] == pytest.approx(EFFICIENCY, rel=1e-12)
        assert scores["price_of_anarchy"] == pytest.approx(POA, rel=1e-12)
        assert scores["exploitability_eur_per_agent_day"] == pytest.approx(
            EXPLOITABILITY, rel=1e-12
        )
    empty = LoadedBacktest(1, "ES", {}, (), DAYS).scores()
    assert all(math.isnan(v) for v in empty.values())


# --- replay over several days -----------------------------------------------------------------

PEAKS = {DAYS[0]: (5.0, 10.0), DAYS[1]: (8.0, 9.0)}  # market, baseline peak import (kWh)
# over the period: 1 - max(5, 8) / max(10, 9) = 1 - 8/10 = 0.2 (from the sums: 1 - 13/19)
PEAK_REDUCTION = 0.2
GAPS = {DAYS[0]: 0.001, DAYS[1]: 0.003}  # the period's gap is the largest: 0.003
TYPE_COST = {DAYS[0]: 1.0, DAYS[1]: 2.0}  # per agent of the type, EUR


def _fake_day(day: dt.date, history: pd.DataFrame, shapes, *args, **kwargs) -> DayResult:
    b, m, m_used, p, e = COSTS[day]
    idx = pd.DatetimeIndex(shapes.index, name="time_utc")
    per_type = pd.DataFrame(
        {
            "count": [10.0],
            "share": [1.0],
            "market_cost_eur_per_agent": [TYPE_COST[day]],
            "exploitability_eur_per_agent": [e],
        },
        index=pd.Index(["consumer"], name="agent_type"),
    )
    return DayResult(
        day=day,
        intervals=pd.DataFrame({"import_market_kwh": np.zeros(len(idx))}, index=idx),
        per_type=per_type,
        exploitability_eur_per_agent=e,
        baseline_cost_eur=b,
        market_cost_eur=m,
        market_cost_used_eur=m_used,
        planner_cost_eur=p,
        planner_mip_gap=GAPS[day],
        planner_error_bound_eur=0.0,
        planner_sampled=True,
        efficiency=(b - m_used) / (b - p),
        efficiency_low=0.0,
        efficiency_high=1.0,
        price_of_anarchy=m_used / p,
        peak_import_market_kwh=PEAKS[day][0],
        peak_import_baseline_kwh=PEAKS[day][1],
        scores={},
        details={},
    )


def test_replay_aggregates_several_days_as_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    """Module doc of btut.replaying: costs summed, exploitability averaged, efficiency and
    PoA from the summed costs (the paired market cost), the largest MIP gap, the peak import
    reduction over all intervals of the period."""
    monkeypatch.setattr(btut.replaying, "_run_day", _fake_day)
    monkeypatch.setattr(btut.replaying, "_forecast", lambda *a, **k: (None, {"used": False}))
    with pytest.warns(UserWarning, match=r"no Student-t load forecast \(not used\)"):
        res = btut.replay("ES", start=DAYS[0], end=DAYS[-1] + dt.timedelta(days=1), agents=20,
                          seed=1, store=False)  # fmt: skip
    assert res.days == DAYS and len(res.day_results) == 2
    assert (res.baseline_cost_eur, res.market_cost_eur, res.planner_cost_eur) == (
        200.0,
        177.0,
        110.0,
    )
    assert res.efficiency == pytest.approx(EFFICIENCY, rel=1e-12)
    assert res.price_of_anarchy == pytest.approx(POA, rel=1e-12)
    assert res.exploitability_eur_per_agent_day == pytest.approx(EXPLOITABILITY, rel=1e-12)
    assert res.planner_mip_gap == 0.003
    assert res.peak_import_reduction == pytest.approx(PEAK_REDUCTION, rel=1e-12)
    per_type = res.per_type_frame()
    # costs per agent summed over the days (1 + 2), exploitability averaged (0.03)
    assert per_type.loc["consumer", "market_cost_eur_per_agent"] == pytest.approx(3.0)
    assert per_type.loc["consumer", "exploitability_eur_per_agent"] == pytest.approx(0.03)
    assert per_type.loc["consumer", "count"] == 10.0


# --- routing summary --------------------------------------------------------------------------


def _payments(rows: list[tuple[int, bool, float, float, int, int]]) -> pd.DataFrame:
    amount, ok, fee, lat, attempts, hops = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "amount_msat": amount,
            "success": ok,
            "fee_msat": fee,
            "latency_s": lat,
            "attempts": attempts,
            "hops": hops,
        }
    )


def test_payment_summary_by_count_by_value_and_fees_of_settled_payments() -> None:
    day1 = _payments(
        [  # amount, success, fee, latency, attempts, hops
            (1_000, True, 10.0, 1.0, 1, 2),
            (3_000, False, 50.0, 9.0, 3, 4),
            (6_000, True, 30.0, 3.0, 2, 3),
        ]
    )
    day2 = _payments([(10_000, True, 60.0, 2.0, 1, 1)])
    s = summarise_payments([day1, day2], value_eur=12.5)
    # 3 of 4 payments settle: 0.75 by count; by value (1000 + 6000 + 10000) / 20000 = 0.85
    assert (s["payments"], s["successes"]) == (4, 3)
    assert s["success_rate"] == 0.75
    assert s["value_success_rate"] == pytest.approx(0.85, rel=1e-12)
    # fees of the settled payments only: 10 + 30 + 60 = 100 msat, 100 / 17000 of their value
    assert s["fee_msat"] == 100.0
    assert s["fee_pct_of_value"] == pytest.approx(100.0 * 100.0 / 17_000.0, rel=1e-12)
    # latency of the settled payments {1, 3, 2}: median 2; p95 by linear interpolation
    # between the sorted values 2 and 3 at position 0.95 * 2 = 1.9: 2.9
    assert s["latency_p50_s"] == pytest.approx(2.0)
    assert s["latency_p95_s"] == pytest.approx(2.9)
    assert s["mean_attempts"] == pytest.approx(7 / 4)  # over every payment
    assert s["mean_hops"] == pytest.approx(2.0)  # (2 + 3 + 1) / 3 settled payments
    assert s["value_eur"] == 12.5
    assert summarise_payments([])["payments"] == 0
    assert math.isnan(summarise_payments([])["success_rate"])
