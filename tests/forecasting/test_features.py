"""Tests of forecasting.features: cut-offs, the availability rule and day-ahead features,
on real bundled ES data (Europe/Madrid; DST 2015-03-29 has 23 hours, 2015-10-25 has 25)."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pandas as pd
import pytest

import data
from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError
from forecasting.features import (
    availability_horizon,
    available_at,
    column_kind,
    cutoff_for_day,
    day_ahead_features,
    information_set,
    market_days,
)

TZ = "Europe/Madrid"


@pytest.fixture(scope="module")
def es() -> pd.DataFrame:
    return data.load_market_data("ES", "2015-01-01", "2015-11-15")


def local(ts: str) -> pd.Timestamp:
    """UTC instant of a local Madrid wall time."""
    return pd.Timestamp(ts).tz_localize(TZ).tz_convert("UTC")


def raw(frame: pd.DataFrame, col: str, wall: str) -> float:
    return float(frame.loc[local(wall), col])


def perturb_unknown(frame: pd.DataFrame, day: str, seed: int = 0) -> pd.DataFrame:
    """Every value not known at the cut-off of ``day`` replaced (noise, some NaN)."""
    rng = np.random.default_rng(seed)
    known = available_at(frame, cutoff_for_day(day, TZ))
    noise = pd.DataFrame(
        rng.normal(1e4, 5e3, frame.shape), index=frame.index, columns=frame.columns
    )
    noise = noise.mask(rng.random(frame.shape) < 0.1)
    out = frame.where(known, noise)
    out.attrs = dict(frame.attrs)
    return out


# --- cut-off and availability rule ----------------------------------------------------


def test_cutoff_is_local_noon_of_the_day_before() -> None:
    assert cutoff_for_day("2016-06-01", TZ) == pd.Timestamp("2016-05-31 10:00", tz="UTC")
    assert cutoff_for_day(dt.date(2016, 1, 10), TZ) == pd.Timestamp("2016-01-09 11:00", tz="UTC")
    # day after the spring change: the cut-off falls on the 23-hour day itself, summer time
    assert cutoff_for_day("2015-03-30", TZ) == pd.Timestamp("2015-03-29 10:00", tz="UTC")


@pytest.mark.parametrize("hour", [25, -1, 24, 1.5, "12", True, None, np.nan])
def test_cutoff_hour_must_be_an_hour_of_the_day(es: pd.DataFrame, hour: object) -> None:
    # 25 gave 23:00 UTC of the day before, "12" and True were taken as hours, 1.5 and
    # None were numpy's ValueError and TypeError
    match = re.escape(f"cutoff_hour must be a whole number in 0..23, got {hour!r}")
    with pytest.raises(InvalidParameterError, match=match):
        cutoff_for_day("2017-06-14", TZ, cutoff_hour=hour)
    with pytest.raises(InvalidParameterError, match=match):
        day_ahead_features(es, "load_mw", days=["2015-06-10"], cutoff_hour=hour)


def test_cutoff_hour_accepts_numpy_integers() -> None:
    noon = cutoff_for_day("2017-06-14", TZ)
    assert cutoff_for_day("2017-06-14", TZ, cutoff_hour=np.int64(12)) == noon
    assert cutoff_for_day("2017-06-14", TZ, cutoff_hour=0) == pd.Timestamp(
        "2017-06-12 22:00", tz="UTC"
    )
    assert cutoff_for_day("2017-06-14", TZ, cutoff_hour=23) == noon + pd.Timedelta(hours=11)


@pytest.mark.parametrize(
    ("tz", "match"),
    [
        ("Mars/X", "unknown time zone 'Mars/X'"),  # was zoneinfo's ZoneInfoNotFoundError
        (None, "tz must be a time zone name such as 'Europe/Madrid', got None"),  # TypeError
        ("", "tz must be a time zone name"),
    ],
)
def test_bad_time_zone_is_a_btut_error(tz: object, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        cutoff_for_day("2017-06-14", tz)
    # the realised rule does not read tz: it was not checked at all
    with pytest.raises(InvalidParameterError, match=match):
        availability_horizon("load_mw", cutoff_for_day("2017-06-14", TZ), tz)


@pytest.mark.parametrize("cutoff", ["garbage", None, pd.NaT, 10**30])
def test_cutoff_must_be_a_timestamp(es: pd.DataFrame, cutoff: object) -> None:
    # "garbage" was pandas' DateParseError
    match = re.escape(f"cutoff must be a tz-aware timestamp, got {cutoff!r}")
    with pytest.raises(InvalidParameterError, match=match):
        available_at(es, cutoff)
    with pytest.raises(InvalidParameterError, match=match):
        availability_horizon("load_forecast_mw", cutoff, TZ)


def test_column_kinds() -> None:
    assert column_kind("load_mw") == "realised"
    assert column_kind("wind_mw") == "realised"
    assert column_kind("price_eur_per_mwh") == "price"
    for col in ("load_forecast_mw", "price_forecast_eur_per_mwh", "renewables_forecast_mw"):
        assert column_kind(col) == "forecast"
    assert column_kind("something_new") == "realised"  # unknown: the conservative rule


@pytest.mark.parametrize("column", [None, 5, ["load_mw"]])
def test_column_kind_needs_a_column_name(column: object) -> None:
    match = re.escape(f"column must be a column name (str), got {column!r}")  # was TypeError
    with pytest.raises(InvalidParameterError, match=match):
        column_kind(column)
    with pytest.raises(InvalidParameterError, match=match):
        availability_horizon(column, cutoff_for_day("2017-06-14", TZ), TZ)


def test_horizons_at_noon_cutoff() -> None:
    c = cutoff_for_day("2016-06-01", TZ)
    assert availability_horizon("load_mw", c, TZ) == c
    assert availability_horizon("price_eur_per_mwh", c, TZ) == local("2016-06-01 00:00")
    assert availability_horizon("load_forecast_mw", c, TZ) == local("2016-06-02 00:00")


def test_horizons_around_publication_hour() -> None:
    # prices of X are published just after noon of X−1, forecasts at or before it
    before, after = local("2016-05-31 11:00"), local("2016-05-31 13:00")
    assert availability_horizon("price_eur_per_mwh", before, TZ) == local("2016-06-01 00:00")
    assert availability_horizon("price_eur_per_mwh", after, TZ) == local("2016-06-02 00:00")
    assert availability_horizon("load_forecast_mw", before, TZ) == local("2016-06-01 00:00")
    assert availability_horizon("load_forecast_mw", after, TZ) == local("2016-06-02 00:00")
    with pytest.raises(InvalidParameterError):
        availability_horizon("load_mw", pd.Timestamp("2016-05-31 12:00"), TZ)


def test_available_at_on_real_frame(es: pd.DataFrame) -> None:
    day = "2015-06-10"
    known = available_at(es, cutoff_for_day(day, TZ))
    assert known.shape == es.shape and (known.columns == es.columns).all()
    last_load = known.index[known["load_mw"]][-1]
    assert last_load == local("2015-06-09 11:00")  # the 11:00–12:00 interval ends at noon
    assert known.index[known["price_eur_per_mwh"]][-1] == local("2015-06-09 23:00")
    assert known.index[known["load_forecast_mw"]][-1] == local("2015-06-10 23:00")
    assert known.loc[: local("2015-06-09 11:00"), "solar_mw"].all()
    masked = information_set(es, cutoff_for_day(day, TZ))
    assert masked.loc[local("2015-06-09 12:00") :, "load_mw"].isna().all()
    assert masked["load_forecast_mw"].notna().sum() == known["load_forecast_mw"].sum()


def test_available_at_needs_a_time_zone(es: pd.DataFrame) -> None:
    bare = es.copy()
    bare.attrs = {}
    with pytest.raises(InvalidParameterError, match="tz"):
        available_at(bare, cutoff_for_day("2015-06-10", TZ))
    assert available_at(bare, cutoff_for_day("2015-06-10", TZ), tz=TZ).shape == es.shape


# --- feature rows ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "rows"), [("2015-06-10", 24), ("2015-03-29", 23), ("2015-10-25", 25)]
)
def test_one_row_per_interval_on_dst_days(es: pd.DataFrame, day: str, rows: int) -> None:
    feats = day_ahead_features(es, "load_mw", days=[day])
    assert len(feats.X) == rows and feats.X.index.name == "time_utc"
    assert str(feats.X.index.tz) == "UTC"
    wall = feats.X.index.tz_convert(TZ)
    assert (wall.date == dt.date.fromisoformat(day)).all()
    assert feats.X.index.is_monotonic_increasing and feats.X.index.is_unique
    np.testing.assert_array_equal(feats.y, es.loc[feats.X.index, "load_mw"].to_numpy())


def test_quarter_hour_frames_give_96_rows(es: pd.DataFrame) -> None:
    q = es.loc[local("2015-03-01 00:00") : local("2015-04-01 00:00")].resample("15min").ffill()
    q.attrs = dict(es.attrs)
    for day, rows in (("2015-03-20", 96), ("2015-03-29", 92)):
        feats = day_ahead_features(q, "load_mw", days=[day])
        assert len(feats.X) == rows
    feats = day_ahead_features(q, "load_mw", days=["2015-03-20"])
    lag1 = feats.X["lag1d"].to_numpy()
    assert np.isfinite(lag1[:48]).all() and np.isnan(lag1[48:]).all()  # known up to 11:45–12:00


def test_lags_are_same_local_clock_time(es: pd.DataFrame) -> None:
    feats = day_ahead_features(es, "load_mw", days=["2015-06-10"])
    X = feats.X
    wall = X.index.tz_convert(TZ)
    for i, t in enumerate(wall):
        hh = f"{t.hour:02d}:00"
        assert X["lag7d"].iloc[i] == raw(es, "load_mw", f"2015-06-03 {hh}")
        assert X["lag2d"].iloc[i] == raw(es, "load_mw", f"2015-06-08 {hh}")
        if t.hour < 12:  # known: ends by noon of D−1 (11:00–12:00 too)
            assert X["lag1d"].iloc[i] == raw(es, "load_mw", f"2015-06-09 {hh}")
            assert X["lag1d_missing"].iloc[i] == 0.0
        else:
            assert np.isnan(X["lag1d"].iloc[i]) and X["lag1d_missing"].iloc[i] == 1.0
    assert (X["last"] == raw(es, "load_mw", "2015-06-09 11:00")).all()
    np.testing.assert_array_equal(X["load_forecast_mw"], es.loc[X.index, "load_forecast_mw"])


def test_price_lags_of_the_whole_previous_day_are_known(es: pd.DataFrame) -> None:
    X = day_ahead_features(es, "price_eur_per_mwh", days=["2015-06-10"]).X
    wall = X.index.tz_convert(TZ)
    expected = [raw(es, "price_eur_per_mwh", f"2015-06-09 {t.hour:02d}:00") for t in wall]
    np.testing.assert_array_equal(X["lag1d"], expected)
    assert (X["last"] == raw(es, "price_eur_per_mwh", "2015-06-09 23:00")).all()
    assert (X["lag1d_missing"] == 0).all()


def test_lags_across_dst(es: pd.DataFrame) -> None:
    # a week after the spring change: 02:00 did not exist on D−7, so 03:00 (summer) is used
    X = day_ahead_features(es, "load_mw", days=["2015-04-05"]).X
    two = X.index.tz_convert(TZ).hour == 2
    assert X.loc[two, "lag7d"].item() == raw(es, "load_mw", "2015-03-29 03:00")
    # the 25-hour day: both 02:00 intervals take the one 02:00 of the day a week before
    X = day_ahead_features(es, "load_mw", days=["2015-10-25"]).X
    two = X.index.tz_convert(TZ).hour == 2
    assert two.sum() == 2
    assert (X.loc[two, "lag7d"] == raw(es, "load_mw", "2015-10-18 02:00")).all()


def test_missing_values_are_masked(es: pd.DataFrame) -> None:
    holed = es.copy()
    holed.attrs = dict(es.attrs)
    holed.loc[local("2015-06-03 05:00"), "load_mw"] = np.nan
    holed.loc[local("2015-06-10 07:00"), "wind_forecast_mw"] = np.nan
    X = day_ahead_features(holed, "load_mw", days=["2015-06-10"]).X
    at5 = X.index == local("2015-06-10 05:00")
    at7 = X.index == local("2015-06-10 07:00")
    assert np.isnan(X.loc[at5, "lag7d"].item()) and X.loc[at5, "lag7d_missing"].item() == 1
    assert X.loc[~at5, "lag7d_missing"].sum() == 0
    assert X.loc[at7, "wind_forecast_mw_missing"].item() == 1
    assert X["wind_forecast_mw_missing"].sum() == 1


def test_calendar_features(es: pd.DataFrame) -> None:
    X = day_ahead_features(es, "load_mw", days=["2015-06-10"]).X  # a Wednesday
    assert (X["dow_2"] == 1).all() and X[[f"dow_{d}" for d in range(7)]].sum(axis=1).eq(1).all()
    hours = X[[f"hour_{h:02d}" for h in range(24)]].to_numpy()
    np.testing.assert_array_equal(hours, np.eye(24))
    np.testing.assert_allclose(X["tod_sin1"] ** 2 + X["tod_cos1"] ** 2, 1.0)


@pytest.mark.parametrize(
    ("day", "hours", "day_of_year"),
    [
        ("2015-06-10", list(range(24)), 160),  # 31 + 28 + 31 + 30 + 31 + 9 days before it
        ("2015-03-29", [0, 1, *range(3, 24)], 87),  # spring DST: no local 02:00
        ("2015-10-25", [0, 1, 2, 2, *range(3, 24)], 297),  # autumn DST: 02:00 twice
    ],
)
def test_calendar_features_by_hand(
    es: pd.DataFrame, day: str, hours: list[int], day_of_year: int
) -> None:
    X = day_ahead_features(es, "load_mw", days=[day]).X
    tod = np.array(hours) / 24  # local clock time, as a fraction of 24 h
    for m in (1, 2):
        np.testing.assert_allclose(X[f"tod_sin{m}"], np.sin(2 * np.pi * m * tod), atol=1e-12)
        np.testing.assert_allclose(X[f"tod_cos{m}"], np.cos(2 * np.pi * m * tod), atol=1e-12)
    np.testing.assert_allclose(X["doy_sin"], np.sin(2 * np.pi * day_of_year / 365.25), rtol=1e-12)
    np.testing.assert_allclose(X["doy_cos"], np.cos(2 * np.pi * day_of_year / 365.25), rtol=1e-12)


def test_realised_exog_lags_stop_at_the_cutoff(es: pd.DataFrame) -> None:
    # realised load as an exogenous column of the price: at noon of D−1 the load of D−1 is
    # known up to the 11:00–12:00 interval
    X = day_ahead_features(
        es, "price_eur_per_mwh", days=["2015-06-10"], exog=["load_mw"], exog_lags=(1,)
    ).X
    lag = X["load_mw_lag1d"].to_numpy()
    expected = [raw(es, "load_mw", f"2015-06-09 {h:02d}:00") for h in range(12)]
    np.testing.assert_array_equal(lag[:12], expected)
    assert np.isnan(lag[12:]).all() and X["load_mw_lag1d_missing"].sum() == 12


@pytest.mark.parametrize(
    ("hole_from", "last_wall"),
    [
        ("2015-06-08 13:00", "2015-06-08 12:00"),  # ends 23 h before the cut-off: used
        ("2015-06-08 12:00", None),  # ends exactly one day before the cut-off: too old
        ("2015-06-08 10:00", None),
    ],
)
def test_last_known_value_is_at_most_one_day_old(
    es: pd.DataFrame, hole_from: str, last_wall: str | None
) -> None:
    holed = es.copy()
    holed.attrs = dict(es.attrs)
    holed.loc[local(hole_from) : local("2015-06-09 12:00"), "load_mw"] = np.nan
    X = day_ahead_features(holed, "load_mw", days=["2015-06-10"]).X  # cut-off 06-09 noon
    if last_wall is None:
        assert X["last"].isna().all() and X["last_missing"].eq(1).all()
    else:
        assert X["last"].eq(raw(es, "load_mw", last_wall)).all()


def test_default_days_need_history(es: pd.DataFrame) -> None:
    head = es.loc[: local("2015-01-20 00:00")]
    head = head.iloc[:-1]
    head.attrs = dict(es.attrs)
    feats = day_ahead_features(head, "load_mw")
    assert feats.days[0] == np.datetime64("2015-01-08")
    assert feats.days[-1] == np.datetime64("2015-01-19")
    assert market_days(head)[0] == dt.date(2015, 1, 1)


def test_a_day_after_the_frame_can_be_forecast(es: pd.DataFrame) -> None:
    hist = es.loc[: local("2015-06-10 00:00")].iloc[:-1]
    hist.attrs = dict(es.attrs)
    X = day_ahead_features(hist, "load_mw", days=["2015-06-10"]).X
    assert len(X) == 24
    assert X["load_forecast_mw_missing"].eq(1).all()  # not in the frame: unknown, masked
    assert X["lag7d_missing"].eq(0).all()


#: the epftoolbox-style input set: whole profiles of D−1, D−2, D−3, D−7, exog at D−1, D−7,
#: and the forecasts' whole profiles of D and D−1
EPF = {"profile_lags": (1, 2, 3, 7), "exog_lags": (1, 7), "exog_profile_lags": (0, 1)}


@pytest.mark.parametrize("kw", [{}, EPF], ids=["default", "epf"])
@pytest.mark.parametrize("target", ["load_mw", "price_eur_per_mwh"])
@pytest.mark.parametrize("day", ["2015-06-10", "2015-03-29", "2015-10-25", "2015-03-30"])
def test_features_ignore_everything_unknown_at_the_cutoff(
    es: pd.DataFrame, target: str, day: str, kw: dict
) -> None:
    before = day_ahead_features(es, target, days=[day], **kw).X
    after = day_ahead_features(perturb_unknown(es, day), target, days=[day], **kw).X
    pd.testing.assert_frame_equal(before, after, check_exact=True)
    if kw:
        assert {f"lag{k}d_h{h:02d}" for k in (1, 2, 3, 7) for h in range(24)} <= set(before)
        assert {f"wind_forecast_mw_h{h:02d}" for h in range(24)} <= set(before)


def test_profile_lags_are_whole_previous_days(es: pd.DataFrame) -> None:
    X = day_ahead_features(es, "price_eur_per_mwh", days=["2015-06-10"], profile_lags=(1, 7)).X
    for h in range(24):  # every row holds all 24 prices of D−1 and D−7 (known at noon D−1)
        for k, day in ((1, "2015-06-09"), (7, "2015-06-03")):
            col = X[f"lag{k}d_h{h:02d}"]
            assert (col == raw(es, "price_eur_per_mwh", f"{day} {h:02d}:00")).all()
            assert (X[f"lag{k}d_h{h:02d}_missing"] == 0).all()
    # published forecasts: the whole profile of D is known at noon of D−1
    X = day_ahead_features(es, "load_mw", days=["2015-06-10"], exog_profile_lags=(0, 1)).X
    for h in range(24):
        for day, col in (
            ("2015-06-10", "load_forecast_mw"),
            ("2015-06-09", "load_forecast_mw_lag1d"),
        ):
            assert (X[f"{col}_h{h:02d}"] == raw(es, "load_forecast_mw", f"{day} {h:02d}:00")).all()
    # realised load: D−1 is known only up to the 11:00–12:00 interval
    X = day_ahead_features(es, "load_mw", days=["2015-06-10"], profile_lags=(1,)).X
    for h in range(24):
        col = X[f"lag1d_h{h:02d}"]
        if h < 12:
            assert (col == raw(es, "load_mw", f"2015-06-09 {h:02d}:00")).all()
        else:
            assert col.isna().all() and (X[f"lag1d_h{h:02d}_missing"] == 1).all()


def test_profile_lags_across_dst(es: pd.DataFrame) -> None:
    # D−1 = 2015-03-29 has no 02:00: the profile takes 03:00 (shifted forward), 24 columns
    X = day_ahead_features(es, "price_eur_per_mwh", days=["2015-03-30"], profile_lags=(1,)).X
    assert (X["lag1d_h02"] == raw(es, "price_eur_per_mwh", "2015-03-29 03:00")).all()
    assert len(X) == 24 and X.filter(regex=r"^lag1d_h\d\d$").shape[1] == 24
    # D = 2015-10-25 (25 hours): the same profile of D−1 on all 25 rows
    X = day_ahead_features(es, "price_eur_per_mwh", days=["2015-10-25"], profile_lags=(1,)).X
    assert len(X) == 25 and X["lag1d_h05"].nunique() == 1
    # D−1 = 2015-10-25: its ambiguous 02:00 is the first (summer-time) occurrence
    X = day_ahead_features(es, "price_eur_per_mwh", days=["2015-10-26"], profile_lags=(1,)).X
    first = pd.Timestamp("2015-10-25 02:00").tz_localize(TZ, ambiguous=True).tz_convert("UTC")
    assert (X["lag1d_h02"] == es.loc[first, "price_eur_per_mwh"]).all()


def test_features_do_use_known_values(es: pd.DataFrame) -> None:
    # the converse, so the test above is not vacuous: a known value moves a feature
    moved = es.copy()
    moved.attrs = dict(es.attrs)
    moved.loc[local("2015-06-09 10:00"), "load_mw"] += 1.0
    a = day_ahead_features(es, "load_mw", days=["2015-06-10"]).X
    b = day_ahead_features(moved, "load_mw", days=["2015-06-10"]).X
    assert (a["lag1d"].fillna(-1) != b["lag1d"].fillna(-1)).sum() == 1


def test_bad_inputs(es: pd.DataFrame) -> None:
    with pytest.raises(DataUnavailableError, match="target"):
        day_ahead_features(es, "nope_mw")
    with pytest.raises(InvalidParameterError):
        day_ahead_features(es, "load_mw", lags=(0, 7))
    with pytest.raises(DataUnavailableError, match="renewables_forecast_mw"):
        day_ahead_features(es, "load_mw", exog=["renewables_forecast_mw"])
    with pytest.raises(InvalidParameterError):
        day_ahead_features(es, "load_mw", days=["2015-13-01"])
    shuffled = es.iloc[::-1]
    with pytest.raises(DataValidationError):
        day_ahead_features(shuffled, "load_mw")
    short = es.iloc[:48]
    short.attrs = dict(es.attrs)
    with pytest.raises(DataUnavailableError, match="history"):
        day_ahead_features(short, "load_mw")
    # were zoneinfo's ZoneInfoNotFoundError and int()'s ValueError
    with pytest.raises(InvalidParameterError, match="unknown time zone 'Mars/Base'"):
        day_ahead_features(es, "load_mw", tz="Mars/Base")
    for bad in ("a", 7, (1.5,), (None,)):
        with pytest.raises(InvalidParameterError, match="lags must be whole numbers of days"):
            day_ahead_features(es, "load_mw", lags=bad)
    with pytest.raises(InvalidParameterError, match="exog_lags must be whole numbers"):
        day_ahead_features(es, "load_mw", exog_lags=["x"])


def test_market_days_needs_a_utc_datetime_index(es: pd.DataFrame) -> None:
    naive = es.iloc[:48].copy()
    naive.index = naive.index.tz_localize(None)  # was pandas' TypeError
    numbered = es.iloc[:48].reset_index(drop=True)  # was AttributeError
    for frame, match in ((naive, "index must be tz-aware UTC"), (numbered, "DatetimeIndex")):
        frame.attrs = dict(es.attrs)
        with pytest.raises(DataValidationError, match=match):
            market_days(frame)


@pytest.mark.parametrize("step", ["bogus", pd.NaT, object()])
def test_step_must_be_a_time_span(es: pd.DataFrame, step: object) -> None:
    match = re.escape(f"step must be a time span such as '1h', got {step!r}")  # ValueError
    with pytest.raises(InvalidParameterError, match=match):
        day_ahead_features(es, "load_mw", days=["2015-06-10"], step=step)
    with pytest.raises(InvalidParameterError, match=match):
        available_at(es, cutoff_for_day("2015-06-10", TZ), step=step)


@pytest.mark.parametrize("column", ["load_forecast_mw", "solar_mw"])
def test_one_exog_column_name_is_a_list_of_one(es: pd.DataFrame, column: str) -> None:
    # a plain string was read letter by letter: "column(s) l, o, a, d, ... not in the data"
    one = day_ahead_features(es, "load_mw", days=["2015-06-10"], exog=column).X
    listed = day_ahead_features(es, "load_mw", days=["2015-06-10"], exog=[column]).X
    pd.testing.assert_frame_equal(one, listed)
    assert column in one.columns


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"exog": 5}, "exog must be a column name or a list of column names, got 5"),
        ({"exog": [5]}, r"exog must be a column name or a list of column names, got \[5\]"),
        ({"lags": (True,)}, "lags must be whole numbers of days"),  # was a lag of 1 day
        ({"lags": (10**20,)}, "lags must be whole numbers of days"),  # was OverflowError
    ],
)
def test_bad_exog_and_lags_are_btut_errors(es: pd.DataFrame, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        day_ahead_features(es, "load_mw", days=["2015-06-10"], **kwargs)


def test_a_forecast_column_is_never_its_own_input(es: pd.DataFrame) -> None:
    """By default every published forecast is an input, except the target itself: with a
    forecast column as target (the CLI refuses it) the features must not hold the answer."""
    feats = day_ahead_features(es, "load_forecast_mw", days=["2015-06-10"])
    assert "load_forecast_mw" not in feats.X.columns
    assert "solar_forecast_mw" in feats.X.columns  # the others stay
    feats = day_ahead_features(es, "load_mw", days=["2015-06-10"])
    assert "load_forecast_mw" in feats.X.columns
