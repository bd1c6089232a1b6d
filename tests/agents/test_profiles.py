"""Day shapes from the bundled real ENTSO-E data and per-agent net demand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import data
from agents.config import AgentParams, PopulationConfig
from agents.population import sample_population
from agents.profiles import (
    NOISE_BLOCK,
    agent_net_demand,
    agent_profiles,
    day_profiles,
    expected_profile,
    iter_net_demand,
    planning_profiles,
)
from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError


@pytest.fixture(scope="module")
def es_2016() -> pd.DataFrame:
    return data.load_market_data("ES", "2016-01-01", "2017-01-01")


@pytest.mark.parametrize(
    ("day", "n", "clock"),
    [
        ("2016-06-21", 24, list(range(24))),
        ("2016-03-27", 23, [0, 1, *range(3, 24)]),  # spring forward: no 02:00
        ("2016-10-30", 25, [0, 1, 2, 2, *range(3, 24)]),  # fall back: 02:00 twice
    ],
)
def test_real_spanish_shapes(es_2016: pd.DataFrame, day: str, n: int, clock: list[int]) -> None:
    shapes = day_profiles(es_2016, day=day)
    assert shapes.n_intervals == n and shapes.dt_hours == 1.0
    assert shapes.load_column == "load_mw" and shapes.solar_column == "solar_mw"
    assert shapes.load_shape.sum() == pytest.approx(1.0, abs=1e-12)
    assert (shapes.load_shape > 0).all()
    assert list(shapes.clock_hour) == clock
    cf = shapes.solar_cf
    assert (cf >= 0).all() and (cf <= 1).all()
    night = shapes.clock_hour < 5  # (evenings can hold solar-thermal output from storage)
    noon = (shapes.clock_hour >= 12) & (shapes.clock_hour <= 15)
    assert cf[night].max() < 0.05 and cf[noon].min() > 0.2
    # one-day frame (as load_market_data returns it) gives the same load shape
    one = data.load_market_data("ES", day, pd.Timestamp(day) + pd.Timedelta(days=1))
    np.testing.assert_allclose(day_profiles(one).load_shape, shapes.load_shape)
    assert shapes.to_frame().index.equals(shapes.index)


def test_capacity_from_the_whole_frame_keeps_seasons(es_2016: pd.DataFrame) -> None:
    summer = day_profiles(es_2016, day="2016-06-21")
    winter = day_profiles(es_2016, day="2016-12-21")
    assert summer.solar_capacity_mw == winter.solar_capacity_mw
    assert summer.solar_cf.max() <= 0.75 + 1e-12
    assert winter.solar_cf.sum() < 0.7 * summer.solar_cf.sum()
    # a one-day frame peaks at the peak capacity factor
    one = data.load_market_data("ES", "2016-12-21", "2016-12-22")
    assert day_profiles(one, peak_capacity_factor=0.8).solar_cf.max() == pytest.approx(0.8)


def test_fallback_to_forecast_columns(es_2016: pd.DataFrame) -> None:
    frame = data.load_market_data("ES", "2016-06-21", "2016-06-22")
    broken = frame.copy()
    broken.iloc[5, broken.columns.get_loc("load_mw")] = np.nan
    broken.iloc[12, broken.columns.get_loc("solar_mw")] = np.nan
    shapes = day_profiles(broken)
    assert shapes.load_column == "load_forecast_mw" and shapes.solar_column == "solar_forecast_mw"
    forecast = frame["load_forecast_mw"].to_numpy()
    np.testing.assert_allclose(shapes.load_shape, forecast / forecast.sum())
    none = broken.drop(columns=["load_forecast_mw"])
    with pytest.raises(DataUnavailableError, match="no complete load"):
        day_profiles(none)


def test_german_data_has_forecasts_only() -> None:
    frame = data.load_market_data("DE", "2016-03-27", "2016-03-28")
    with pytest.raises(DataUnavailableError, match="no complete solar"):
        day_profiles(frame)
    shapes = day_profiles(frame, require_solar=False)
    assert shapes.load_column == "load_forecast_mw" and shapes.n_intervals == 23
    assert shapes.solar_column is None and not shapes.solar_cf.any()


def test_bad_frames(es_2016: pd.DataFrame) -> None:
    frame = data.load_market_data("ES", "2016-06-21", "2016-06-22")
    with pytest.raises(DataValidationError, match="gaps"):
        day_profiles(frame.drop(frame.index[7]))
    with pytest.raises(InvalidParameterError, match="pass day="):
        day_profiles(es_2016)
    with pytest.raises(DataUnavailableError, match="not in the frame"):
        day_profiles(frame, day="2016-06-25")
    # found by an API audit: a row moved to 05:30 gave clock hour 5.5 (24 rows, no gap); a
    # tz of 5 gave UTC clock hours; text and a bad tz were raw ValueError/ZoneInfoNotFoundError
    moved = frame.rename(index={frame.index[5]: frame.index[5] + pd.Timedelta(minutes=30)})
    with pytest.raises(DataValidationError, match=r"off its 60 min grid .* first 2016-06-21T03:30"):
        day_profiles(moved)
    for tz in (5, "Mars/X"):
        with pytest.raises(InvalidParameterError, match="unknown time zone"):
            day_profiles(frame, tz=tz)
    with pytest.raises(DataValidationError, match="load_mw on 2016-06-21 is not numeric"):
        day_profiles(frame.astype({"load_mw": str}))
    for kw in ({"peak_capacity_factor": "a"}, {"solar_capacity_mw": "a"}):
        with pytest.raises(InvalidParameterError, match="must be a real number"):
            day_profiles(frame, **kw)
    with pytest.raises(InvalidParameterError, match="params must be AgentParams"):
        expected_profile("x", day_profiles(frame))  # type: ignore[arg-type]


def test_agent_profiles_scale_the_shapes(es_2016: pd.DataFrame) -> None:
    shapes = day_profiles(es_2016, day="2016-06-21")
    pop = sample_population(PopulationConfig(), 500, seed=4)
    load, pv = agent_profiles(pop, shapes, seed=1, noise=0.0)
    assert load.shape == (500, 24) and load.dtype == np.float32
    np.testing.assert_allclose(load.sum(axis=1), pop.load_kwh_per_day, rtol=1e-5)
    kwh_per_kwp = shapes.solar_cf.sum() * shapes.dt_hours
    np.testing.assert_allclose(pv.sum(axis=1), pop.pv_kwp * kwh_per_kwp, rtol=1e-5)
    consumer = pop.mask("consumer")
    assert not pv[consumer].any()
    i = int(np.flatnonzero(pop.mask("pv_storage"))[0])
    exp_load, exp_pv = expected_profile(pop.agent(i), shapes)
    np.testing.assert_allclose(load[i], exp_load, rtol=1e-5)
    np.testing.assert_allclose(pv[i], exp_pv, rtol=1e-5)
    net = agent_net_demand(pop, shapes, seed=1, noise=0.0)
    np.testing.assert_allclose(net, load - pv)
    rep = AgentParams.from_type(pop.config.type("pv"))
    assert expected_profile(rep, shapes)[1].max() <= rep.pv_kwp


def test_noise_is_mean_one_and_chunking_invariant(es_2016: pd.DataFrame) -> None:
    shapes = day_profiles(es_2016, day="2016-03-27")
    n = NOISE_BLOCK + 5_000  # spans two noise blocks
    pop = sample_population(PopulationConfig(noise=0.2), n, seed=9)
    full = agent_net_demand(pop, shapes, seed=3)
    streamed = np.concatenate(
        [x for _, _, x in iter_net_demand(pop, shapes, seed=3, chunk_size=40_000)]
    )
    np.testing.assert_array_equal(full, streamed)
    lo, hi = NOISE_BLOCK - 10, NOISE_BLOCK + 10
    np.testing.assert_array_equal(
        agent_net_demand(pop, shapes, seed=3, start=lo, stop=hi), full[lo:hi]
    )
    np.testing.assert_array_equal(agent_net_demand(pop.slice(lo, hi), shapes, seed=3), full[lo:hi])
    assert not np.array_equal(full, agent_net_demand(pop, shapes, seed=4))
    noisy, _ = agent_profiles(pop, shapes, seed=3)
    clean, _ = agent_profiles(pop, shapes, seed=3, noise=0.0)
    ratio = (noisy / clean).astype(np.float64)
    n_draws = ratio.size  # independent draws; five standard errors of each estimate
    sd = math.sqrt(math.expm1(0.2**2))  # sd of the mean-one lognormal factor
    assert ratio.mean() == pytest.approx(1.0, abs=5 * sd / math.sqrt(n_draws))
    assert np.log(ratio).std() == pytest.approx(0.2, abs=5 * 0.2 / math.sqrt(2 * n_draws))
    for bad in (-1.0, float("inf"), float("nan"), 40.0):  # inf gave NaN, 40 zero demand
        with pytest.raises(InvalidParameterError, match="noise must be a number in"):
            agent_net_demand(pop, shapes, seed=3, noise=bad)


@pytest.mark.parametrize("bad", [np.int8, np.int64, "bogus", object(), np.complex64, np.float16])
def test_net_demand_refuses_a_non_float_dtype(es_2016: pd.DataFrame, bad) -> None:
    # found by an API audit: np.int8 gave a raw UFuncTypeError
    shapes = day_profiles(es_2016, day="2016-06-14")
    pop = sample_population(None, 50, seed=0)
    for call in (agent_net_demand, agent_profiles):
        with pytest.raises(InvalidParameterError, match="dtype must be float32 or float64, got"):
            call(pop, shapes, seed=0, dtype=bad)
    with pytest.raises(InvalidParameterError, match="dtype must be float32 or float64"):
        next(iter_net_demand(pop, shapes, seed=0, dtype=bad))
    for good in (np.float32, np.float64, "float64"):
        assert agent_net_demand(pop, shapes, seed=0, dtype=good).dtype == np.dtype(good)


def test_fifteen_minute_day_gives_the_same_daily_energy_as_hourly(quarter_hourly) -> None:
    """PV energy is kW per kWp times the interval length: the same day on quarter-hours
    (each hour's value repeated) has four times the intervals, each a quarter as long, so
    every agent's daily load and PV energy equal the hourly ones; clock hours step by 0.25."""
    hourly = data.load_market_data("ES", "2016-06-21", "2016-06-22")
    h = day_profiles(hourly)
    q = day_profiles(quarter_hourly(hourly))
    assert (h.n_intervals, h.dt_hours) == (24, 1.0)
    assert (q.n_intervals, q.dt_hours) == (96, 0.25)
    np.testing.assert_allclose(q.solar_cf, np.repeat(h.solar_cf, 4), rtol=1e-12)
    assert list(q.clock_hour) == [k / 4 for k in range(96)]
    pop = sample_population(PopulationConfig(), 300, seed=5)
    load_h, pv_h = agent_profiles(pop, h, seed=1, noise=0.0, dtype=np.float64)
    load_q, pv_q = agent_profiles(pop, q, seed=1, noise=0.0, dtype=np.float64)
    assert pv_h.sum() > 0
    np.testing.assert_allclose(pv_q.sum(axis=1), pv_h.sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(load_q.sum(axis=1), load_h.sum(axis=1), rtol=1e-12)
    # one quarter-hour holds a quarter of its hour's PV energy
    np.testing.assert_allclose(pv_q[:, 48], pv_h[:, 12] / 4, rtol=1e-12)
    rep = AgentParams.from_type(pop.config.type("pv"))
    _, exp_pv_h = expected_profile(rep, h)
    _, exp_pv_q = expected_profile(rep, q)
    assert exp_pv_q.sum() == pytest.approx(exp_pv_h.sum(), rel=1e-12)
    np.testing.assert_allclose(exp_pv_q.reshape(24, 4).sum(axis=1), exp_pv_h, rtol=1e-12)


# --------------------------------------------------------------------------------------------
# what agents plan on: the day as known at its cut-off
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("day", ["2016-06-21", "2016-03-27", "2016-10-30"])
def test_the_plan_uses_nothing_after_the_cut_off(es_2016: pd.DataFrame, day: str) -> None:
    """Every value not known at noon of the day before (the realised load and solar of the
    day, the evening of the day before, later days) replaced by noise: the plan is the same."""
    from forecasting.features import available_at, cutoff_for_day

    realised = day_profiles(es_2016, day=day)
    plan = planning_profiles(es_2016, realised)
    rng = np.random.default_rng(0)
    known = available_at(es_2016, cutoff_for_day(day, es_2016.attrs["tz"]))
    noise = pd.DataFrame(
        rng.uniform(0, 3e4, es_2016.shape), index=es_2016.index, columns=es_2016.columns
    )
    moved = es_2016.where(known, noise)
    moved.attrs = dict(es_2016.attrs)
    assert not moved["solar_mw"].equals(es_2016["solar_mw"])
    again = planning_profiles(moved, realised)
    np.testing.assert_array_equal(again.load_shape, plan.load_shape)
    np.testing.assert_array_equal(again.solar_cf, plan.solar_cf)
    np.testing.assert_array_equal(again.solar_cf_error_sd, plan.solar_cf_error_sd)
    assert again.solar_capacity_mw == plan.solar_capacity_mw
    assert again.solar_error_days == plan.solar_error_days == 28
    assert (plan.load_column, plan.solar_column) == ("load_forecast_mw", "solar_forecast_mw")
    # the TSO's forecasts of the day, as day_profiles would shape them
    fc = es_2016["load_forecast_mw"].reindex(realised.index).to_numpy()
    np.testing.assert_allclose(plan.load_shape, fc / fc.sum(), rtol=1e-12)
    assert plan.n_intervals == realised.n_intervals
    np.testing.assert_array_equal(plan.clock_hour, realised.clock_hour)


def test_without_forecasts_the_plan_is_the_last_weeks_clock_time_mean(
    es_2016: pd.DataFrame,
) -> None:
    """No forecast columns (as the OPSD zones' solar): the mean by local clock hour of the
    seven complete days before the cut-off (D-8 .. D-2), computed here by hand; a given load
    forecast (the Student-t mean) comes first."""
    frame = es_2016.drop(columns=["load_forecast_mw", "solar_forecast_mw"])
    day = "2016-06-21"
    realised = day_profiles(frame, day=day)
    plan = planning_profiles(frame, realised)
    assert (plan.load_column, plan.solar_column) == ("naive_7d:load_mw", "naive_7d:solar_mw")
    local = frame.index.tz_convert("Europe/Madrid")
    week = (local.date >= pd.Timestamp("2016-06-13").date()) & (
        local.date <= pd.Timestamp("2016-06-19").date()
    )
    assert len(set(local[week].date)) == 7
    by_hour = frame.loc[week].groupby(local[week].hour).mean()
    load = by_hour["load_mw"].to_numpy()
    np.testing.assert_allclose(plan.load_shape, load / load.sum(), rtol=1e-12)
    solar = by_hour["solar_mw"].to_numpy()
    up_to = local.date <= pd.Timestamp("2016-06-19").date()
    past = frame.loc[up_to, "solar_mw"].groupby(local[up_to].date)
    capacity = max((past.max() - past.min()).max(), np.ptp(solar)) / 0.75
    np.testing.assert_allclose(plan.solar_cf, (solar - solar.min()) / capacity, rtol=1e-12)
    assert plan.solar_capacity_mw == pytest.approx(capacity, rel=1e-12)
    mu = np.linspace(20_000.0, 30_000.0, 24)
    given = planning_profiles(frame, realised, load_forecast_mw=mu)
    assert given.load_column == "student_t_mu"
    np.testing.assert_allclose(given.load_shape, mu / mu.sum(), rtol=1e-12)


def test_naive_plan_on_the_spring_dst_day_and_without_history(es_2016: pd.DataFrame) -> None:
    frame = es_2016.drop(columns=["load_forecast_mw", "solar_forecast_mw"])
    spring = planning_profiles(frame, day_profiles(frame, day="2016-03-27"))
    assert spring.n_intervals == 23 and np.isfinite(spring.load_shape).all()
    assert spring.load_shape.sum() == pytest.approx(1.0)
    first = day_profiles(frame, day="2016-01-01")
    with pytest.raises(DataUnavailableError, match="no load forecast for 2016-01-01"):
        planning_profiles(frame, first)
    with pytest.raises(InvalidParameterError, match=r"must be 24 values .* got shape \(23,\)"):
        planning_profiles(frame, first, load_forecast_mw=np.ones(23))
    # the message gave the shape for a NaN, and "sums to zero" for a sum of -24
    with pytest.raises(InvalidParameterError, match="load_forecast_mw for 2016-01-01 holds NaN"):
        planning_profiles(frame, first, load_forecast_mw=np.full(24, np.nan))
    with pytest.raises(DataValidationError, match="is nowhere positive"):
        planning_profiles(frame, first, load_forecast_mw=-np.ones(24))
    with pytest.raises(InvalidParameterError, match="naive_days"):
        planning_profiles(frame, first, naive_days=0)
    with pytest.raises(InvalidParameterError, match="realised must be a DayShapes"):
        planning_profiles(frame, frame)


def _rms_error_by_hand(
    frame: pd.DataFrame, day: str, capacity: float, naive: bool, n_err: int = 28
) -> tuple[np.ndarray, int]:
    """The solar plan's error spread, one past day and one clock hour at a time: for each
    complete day d in D-1-n_err .. D-2 (a day with a missing value is left out), realised
    minus planned (each minus its day's minimum) over ``capacity``; the plan of d is the TSO's
    forecast, or (``naive``) the mean of the values there are at that hour over d-8 .. d-2.
    Hourly days only (no DST day in the window)."""
    tz = frame.attrs["tz"]
    local = frame.index.tz_convert(tz)
    the_day = pd.Timestamp(day).date()
    values: dict = {}
    for when, real, fc in zip(local, frame["solar_mw"], frame["solar_forecast_mw"], strict=True):
        values[(when.date(), when.hour)] = (max(real, 0.0), max(fc, 0.0))  # NaN stays NaN
    missing = (np.nan, np.nan)  # a row that is not there
    squares: dict[int, list[float]] = {h: [] for h in range(24)}
    used = 0
    for back in range(2, n_err + 2):
        d = the_day - pd.Timedelta(days=back).to_pytimedelta()
        real = [values.get((d, h), missing)[0] for h in range(24)]
        if naive:
            plan = []
            for h in range(24):
                week = [
                    values.get((d - pd.Timedelta(days=b).to_pytimedelta(), h), missing)[0]
                    for b in range(2, 9)
                ]
                week = [v for v in week if not np.isnan(v)]
                plan.append(sum(week) / len(week))
        else:
            plan = [values.get((d, h), missing)[1] for h in range(24)]
        if np.isnan(real).any() or np.isnan(plan).any():
            continue
        used += 1
        for h in range(24):
            e = (real[h] - min(real)) - (plan[h] - min(plan))
            squares[h].append((e / capacity) ** 2)
    return np.array([np.sqrt(np.mean(squares[h])) for h in range(24)]), used


@pytest.mark.parametrize("naive", [False, True])
def test_the_solar_error_spread_by_hand(es_2016: pd.DataFrame, naive: bool) -> None:
    """``solar_cf_error_sd``: the root mean square of the same plan's error on the 28 days
    before the cut-off, against a loop over days and hours (the TSO's forecast as the plan,
    and the 7-day clock-time mean when the data have no solar forecast)."""
    day = "2016-07-20"
    frame = es_2016.drop(columns=["solar_forecast_mw"]) if naive else es_2016
    plan = planning_profiles(frame, day_profiles(frame, day=day))
    assert plan.solar_column == ("naive_7d:solar_mw" if naive else "solar_forecast_mw")
    expected, used = _rms_error_by_hand(es_2016, day, plan.solar_capacity_mw, naive)
    assert plan.solar_error_days == used == 27  # 2016-07-09 misses an hour of solar_mw
    np.testing.assert_allclose(plan.solar_cf_error_sd, expected, rtol=1e-9, atol=1e-15)
    assert plan.solar_cf_error_sd.max() > 0.01  # a real error, not zeros
    assert "solar_cf_error_sd" in plan.to_frame()
    assert plan.to_frame().attrs["solar_error_days"] == 27
    fewer = planning_profiles(frame, day_profiles(frame, day=day), solar_error_days=7)
    assert fewer.solar_error_days == 7  # 07-12 .. 07-18
    expected7, _ = _rms_error_by_hand(es_2016, day, plan.solar_capacity_mw, naive, n_err=7)
    np.testing.assert_allclose(fewer.solar_cf_error_sd, expected7, rtol=1e-9, atol=1e-15)


def test_the_solar_error_spread_with_little_history(es_2016: pd.DataFrame) -> None:
    """At the start of the data the spread rests on the days there are (none: zeros, said by
    ``solar_error_days``); a realised day carries none; bad counts are refused."""
    early = planning_profiles(es_2016, day_profiles(es_2016, day="2016-01-12"))
    assert early.solar_error_days == 10  # 2016-01-01 .. 01-10
    first = planning_profiles(es_2016, day_profiles(es_2016, day="2016-01-01"))
    assert first.solar_error_days == 0
    np.testing.assert_array_equal(first.solar_cf_error_sd, np.zeros(24))
    assert day_profiles(es_2016, day="2016-01-12").solar_cf_error_sd is None
    with pytest.raises(InvalidParameterError, match="solar_error_days"):
        planning_profiles(es_2016, day_profiles(es_2016, day="2016-01-12"), solar_error_days=0)
    for name in ("solar_error_days", "naive_days"):  # not an OverflowError of the dates
        with pytest.raises(InvalidParameterError, match=f"{name} must be at most 36525"):
            planning_profiles(es_2016, day_profiles(es_2016, day="2016-01-12"), **{name: 10**9})


def test_the_solar_error_is_measured_against_the_actuals(es_2016: pd.DataFrame) -> None:
    """2016-07-09 misses an hour of ``solar_mw``, so its own shapes fall back on the forecast;
    the spread of its plan is still the forecast's error against the measured solar."""
    realised = day_profiles(es_2016, day="2016-07-09")
    assert realised.solar_column == "solar_forecast_mw"
    plan = planning_profiles(es_2016, realised)
    expected, used = _rms_error_by_hand(es_2016, "2016-07-09", plan.solar_capacity_mw, False)
    assert plan.solar_error_days == used == 28
    np.testing.assert_allclose(plan.solar_cf_error_sd, expected, rtol=1e-9, atol=1e-15)
    # a frame without measured solar has nothing to measure the forecast against
    only_forecast = es_2016.drop(columns=["solar_mw"])
    blind = planning_profiles(only_forecast, day_profiles(only_forecast, day="2016-07-20"))
    assert blind.solar_error_days == 0 and not blind.solar_cf_error_sd.any()


@pytest.mark.parametrize("naive", [False, True])
def test_an_incomplete_day_is_left_out_of_the_solar_error(
    es_2016: pd.DataFrame, naive: bool
) -> None:
    """A row missing (2016-07-05 10:00 UTC) or one of the autumn day's two 02:00 hours
    without a value (2016-10-30): the day is left out, never filled (against the hand
    computation, which skips a day with a missing hour; with the TSO's plan, as if the day
    had no measured solar at all); the DST days themselves count (23 and 25 intervals)."""
    frame = es_2016.drop(columns=["solar_forecast_mw"]) if naive else es_2016
    dropped = frame.drop(index=pd.Timestamp("2016-07-05 10:00", tz="UTC"))
    realised = day_profiles(frame, day="2016-07-20")
    whole = planning_profiles(frame, realised)
    got = planning_profiles(dropped, realised)
    expected, used = _rms_error_by_hand(
        es_2016.drop(index=pd.Timestamp("2016-07-05 10:00", tz="UTC")),
        "2016-07-20",
        got.solar_capacity_mw,
        naive,
    )
    assert got.solar_error_days == used == whole.solar_error_days - 1 == 26
    np.testing.assert_allclose(got.solar_cf_error_sd, expected, rtol=1e-9, atol=1e-15)

    autumn_day = pd.Timestamp("2016-10-30").date()
    one_nan = frame.assign(
        solar_mw=frame["solar_mw"].where(frame.index != pd.Timestamp("2016-10-30 01:00", tz="UTC"))
    )
    realised = day_profiles(frame, day="2016-11-05")
    whole = planning_profiles(frame, realised)
    got = planning_profiles(one_nan, realised)
    assert whole.solar_error_days == 28  # the 25-hour day counts
    assert got.solar_error_days == 27
    if not naive:  # the TSO's plan: the same as a day without any measured solar
        local_date = np.asarray(frame.index.tz_convert("Europe/Madrid").date)
        blank = frame.assign(solar_mw=frame["solar_mw"].where(local_date != autumn_day))
        gone = planning_profiles(blank, realised)
        np.testing.assert_array_equal(got.solar_cf_error_sd, gone.solar_cf_error_sd)
    spring = planning_profiles(frame, day_profiles(frame, day="2016-04-05"))
    assert spring.solar_error_days == 28  # the 23-hour 2016-03-27 counts


def test_the_solar_error_on_quarter_hours_is_the_hourly_one(
    es_2016: pd.DataFrame, quarter_hourly
) -> None:
    """The same real days on 15-minute intervals (each hour's value on its four quarters):
    every quarter gets its hour's spread, from the same days."""
    hourly = es_2016.loc["2016-05-01":"2016-08-01"]
    hourly.attrs = dict(es_2016.attrs)
    quarters = quarter_hourly(hourly)
    day = "2016-07-20"
    h = planning_profiles(hourly, day_profiles(hourly, day=day))
    q = planning_profiles(quarters, day_profiles(quarters, day=day))
    assert q.n_intervals == 96 and q.solar_error_days == h.solar_error_days == 27
    np.testing.assert_allclose(q.solar_cf_error_sd, np.repeat(h.solar_cf_error_sd, 4), rtol=1e-12)


def test_agent_profiles_names_arguments_of_the_wrong_type() -> None:
    """A population or shapes of the wrong type were AttributeErrors deep inside."""
    from agents import agent_profiles

    frame = data.load_market_data("ES", "2017-06-13", "2017-06-15")
    shapes = day_profiles(frame, day="2017-06-14")
    pop = sample_population(None, 5, seed=1)
    with pytest.raises(InvalidParameterError, match=r"^population must be a Population"):
        agent_profiles("pop", shapes, seed=1)
    with pytest.raises(InvalidParameterError, match=r"^shapes must be a DayShapes \(day_prof"):
        agent_profiles(pop, "x", seed=1)
