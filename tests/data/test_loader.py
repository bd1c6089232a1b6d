"""load_market_data on the bundled and shared real data."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from data import (
    CANONICAL_COLUMNS,
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    MissingCredentialsError,
    load_market_data,
    validate_market_data,
)
from data.loader import BUNDLED_FILES, bundled_coverage, bundled_path
from data.zones import get_zone

SPAIN_COLUMNS = [
    "price_eur_per_mwh",
    "price_forecast_eur_per_mwh",
    "load_mw",
    "load_forecast_mw",
    "solar_mw",
    "solar_forecast_mw",
    "wind_mw",
    "wind_forecast_mw",
]


def test_spring_dst_day_has_23_rows():
    frame = load_market_data("ES", "2017-03-26", "2017-03-27")
    assert len(frame) == 23
    assert list(frame.columns) == SPAIN_COLUMNS
    assert frame.index.name == "time_utc" and str(frame.index.tz) == "UTC"
    local = frame.index.tz_convert("Europe/Madrid")
    assert local[0] == pd.Timestamp("2017-03-26 00:00", tz="Europe/Madrid")
    assert 2 not in set(local.hour)  # 02:00 does not exist that night
    assert (np.diff(frame.index.asi8) == np.diff(frame.index.asi8)[0]).all()


def test_autumn_dst_day_has_25_rows():
    frame = load_market_data("ES", dt.date(2017, 10, 29), dt.date(2017, 10, 30))
    assert len(frame) == 25
    assert list(frame.index.tz_convert("Europe/Madrid").hour).count(2) == 2


def test_end_is_exclusive_and_days_are_local():
    frame = load_market_data("ES", "2016-06-01", "2016-06-08")
    assert len(frame) == 7 * 24
    assert frame.index[0] == pd.Timestamp("2016-05-31 22:00", tz="UTC")  # CEST midnight
    assert frame.index[-1] == pd.Timestamp("2016-06-07 21:00", tz="UTC")


def test_columns_the_source_lacks_are_absent():
    frame = load_market_data("DE", "2017-01-02", "2017-01-03")
    assert list(frame.columns) == [
        "price_eur_per_mwh",
        "load_forecast_mw",
        "renewables_forecast_mw",
    ]
    assert set(frame.columns) <= set(CANONICAL_COLUMNS)


def test_every_bundled_zone_loads_its_first_and_last_day():
    for code, cov in bundled_coverage().items():
        first = load_market_data(code, cov.first_day, cov.first_day + dt.timedelta(days=1))
        last = load_market_data(code, cov.last_day, cov.last_day + dt.timedelta(days=1))
        for frame in (first, last):
            assert 23 <= len(frame) <= 25, code
            assert frame.notna().any(axis=1).all(), code


def test_bundled_files_are_the_shared_files(entsoe_dir):
    for name in set(BUNDLED_FILES.values()):
        assert bundled_path(name).read_bytes() == (entsoe_dir / name).read_bytes()


def test_negative_prices_kept_and_counted():
    frame = load_market_data("DE", "2017-01-01", "2018-01-01")
    report = validate_market_data(frame)
    n_negative = int((frame["price_eur_per_mwh"] < 0).sum())
    assert n_negative > 0
    assert report.negative_prices["price_eur_per_mwh"] == n_negative


@pytest.mark.parametrize(
    ("zone", "start", "end", "error", "message"),
    [
        ("XX", "2017-01-01", "2017-01-02", DataUnavailableError, "unknown zone 'XX'"),
        # a 100,000-character code was echoed whole
        (
            "Z" * 100_000,
            "2017-01-01",
            "2017-01-02",
            DataUnavailableError,
            r"unknown zone 'Z{57}'\.\.\.; ",
        ),
        ("ES", "2018-01-01", "2018-01-02", DataUnavailableError, "outside the ES data"),
        ("ES", "2014-12-31", "2015-01-02", DataUnavailableError, "outside the ES data"),
        ("ES", "2017-01-02", "2017-01-01", InvalidParameterError, "must be after start"),
        ("ES", "2017-01-01", "2017-01-01", InvalidParameterError, "must be after start"),
        ("ES", "2017-13-01", "2017-01-01", InvalidParameterError, "is not a date"),
        ("PL", "2017-01-01", "2017-01-02", DataUnavailableError, "no bundled data"),
        ("DE_LU", "2018-09-01", "2018-09-02", DataUnavailableError, "outside the DE_LU data"),
        # NaT recursed without end; a UTC offset or a number named no local day but was taken
        ("ES", pd.NaT, "2017-01-02", InvalidParameterError, "start is missing"),
        ("ES", np.datetime64("NaT"), "2017-01-02", InvalidParameterError, "start is missing"),
        (
            "ES",
            pd.Timestamp("2017-01-01", tz="America/New_York"),
            "2017-01-02",
            InvalidParameterError,
            "naive midnight",
        ),
        ("ES", 20170101, "2017-01-02", InvalidParameterError, "must be a day YYYY-MM-DD"),
        (
            "ES",
            "2017-01-01",
            pd.Timestamp("2017-01-02 00:00:00.000000001"),
            InvalidParameterError,
            "naive midnight",
        ),
    ],
)
def test_bad_requests_raise_one_line_errors(zone, start, end, error, message):
    with pytest.raises(error, match=message) as info:
        load_market_data(zone, start, end)
    assert "\n" not in str(info.value)


def test_a_resolution_is_asked_of_the_api_only():
    """resolution='15min' on the bundled data returned hourly rows without a word."""
    with pytest.raises(InvalidParameterError, match="is for source='entsoe' only"):
        load_market_data("ES", "2017-01-01", "2017-01-02", resolution="15min")
    assert len(load_market_data("ES", "2017-01-01", "2017-01-02", resolution="native")) == 24


def test_naive_midnights_of_every_kind_name_the_day():
    want = load_market_data("ES", "2017-01-01", "2017-01-02")
    for start in (np.datetime64("2017-01-01"), pd.Timestamp("2017-01-01"), dt.date(2017, 1, 1)):
        pd.testing.assert_frame_equal(load_market_data("ES", start, "2017-01-02"), want)


def test_zone_not_in_file(entsoe_dir):
    with pytest.raises(DataUnavailableError, match=r"zone FR is not in file epftoolbox_DE"):
        load_market_data(
            "FR", "2017-01-01", "2017-01-02", source=entsoe_dir / "epftoolbox_DE.csv.gz"
        )


@pytest.mark.parametrize(
    ("name", "zone", "day", "columns"),
    [
        ("epftoolbox_BE.csv.gz", "BE", "2016-03-27", 3),
        ("epftoolbox_NP.csv.gz", "NP", "2016-03-27", 3),
        ("epftoolbox_PJM.csv.gz", "PJM", "2016-03-13", 3),
        ("opsd_AT_CH_FR_2018_2020_60min.csv.gz", "FR", "2019-03-31", 4),
        ("opsd_DE_2018_60min.csv.gz", "DE", "2018-03-25", 4),
    ],
)
def test_shared_files_as_source_on_spring_dst_days(entsoe_dir, name, zone, day, columns):
    frame = load_market_data(
        zone, day, pd.Timestamp(day) + pd.Timedelta(days=1), source=entsoe_dir / name
    )
    assert len(frame) == 23
    assert frame.shape[1] == columns
    assert frame.attrs["source"].endswith(name)


def test_zone_codes_are_trimmed_case_insensitive_and_dashed():
    de_lu = get_zone("DE_LU")
    assert de_lu.tz == "Europe/Berlin"
    for code in ("de-lu", " DE_LU ", "\tDe-Lu\n"):
        assert get_zone(code) == de_lu, code
    for code in ("", "   ", None, 5):
        with pytest.raises(InvalidParameterError, match="non-empty code such as 'ES'"):
            get_zone(code)


def test_only_entsoe_areas_are_on_the_entsoe_api():
    es = get_zone("ES")
    assert es.on_entsoe and es.entsoe_eic == "10YES-REE------0" and es.tz == "Europe/Madrid"
    for code in ("NP", "PJM"):  # epftoolbox-only zones
        assert not get_zone(code).on_entsoe and get_zone(code).entsoe_eic is None


@pytest.mark.parametrize(("day", "utc_hour"), [("2016-01-04", 6), ("2016-07-04", 5)])
def test_pjm_days_are_chicago_days(entsoe_dir, day, utc_hour):
    # PJM COMED: local midnight is 06:00 UTC in winter (CST, UTC-6), 05:00 in summer (CDT)
    frame = load_market_data(
        "PJM", day, pd.Timestamp(day) + pd.Timedelta(days=1),
        source=entsoe_dir / "epftoolbox_PJM.csv.gz",
    )  # fmt: skip
    assert len(frame) == 24
    assert frame.index[0] == pd.Timestamp(f"{day} {utc_hour:02d}:00", tz="UTC")
    assert frame.attrs["tz"] == "America/Chicago"


def _spain_csv(tmp_path, lines, name="es.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_duplicate_timestamps_raise_naming_them(tmp_path, spain_lines):
    lines = spain_lines[:49]  # header + 2015-01-01 and 2015-01-02
    lines.insert(11, lines[10])  # 2015-01-01 09:00+01:00 twice
    path = _spain_csv(tmp_path, lines)
    with pytest.raises(
        DataValidationError, match=r"duplicate timestamps: 2015-01-01T08:00:00\+00:00"
    ):
        load_market_data("ES", "2015-01-01", "2015-01-02", source=path)


def test_non_monotonic_index_raises(tmp_path, spain_lines):
    lines = spain_lines[:49]
    lines[5], lines[6] = lines[6], lines[5]
    with pytest.raises(DataValidationError, match="not increasing: 2015-01-01T04:00:00"):
        load_market_data("ES", "2015-01-01", "2015-01-02", source=_spain_csv(tmp_path, lines))


def test_gap_is_reported_never_filled(tmp_path, spain_lines):
    lines = spain_lines[:49]
    del lines[13:16]  # three hours of 2015-01-01 are missing
    frame = load_market_data("ES", "2015-01-01", "2015-01-02", source=_spain_csv(tmp_path, lines))
    assert len(frame) == 21
    report = validate_market_data(frame)
    assert [(g.start_utc.isoformat(), g.missing_intervals) for g in report.gaps] == [
        ("2015-01-01T11:00:00+00:00", 3)
    ]
    assert report.ok and report.warnings


def test_missing_rows_at_the_window_edge_are_a_gap(tmp_path, spain_lines):
    lines = spain_lines[:46]  # the file stops at 2015-01-02 20:00 local
    frame = load_market_data("ES", "2015-01-01", "2015-01-02", source=_spain_csv(tmp_path, lines))
    assert len(frame) == 24
    lines = spain_lines[:22]  # 2015-01-01 stops at 20:00 local: the day is partial
    with pytest.raises(DataUnavailableError, match="outside the ES data"):
        load_market_data(
            "ES", "2015-01-01", "2015-01-02", source=_spain_csv(tmp_path, lines, "b.csv")
        )


def test_fifteen_minute_data(tmp_path, entsoe_dir):
    """A 15-minute OPSD-layout file (real hourly values put on quarter-hours)."""
    raw = pd.read_csv(entsoe_dir / "opsd_AT_CH_FR_2018_2020_60min.csv.gz", nrows=24 * 120)
    hourly = raw[["utc_timestamp", "FR_load_actual_entsoe_transparency"]].copy()
    quarters = pd.DataFrame(
        {
            "utc_timestamp": [
                (pd.Timestamp(t) + pd.Timedelta(minutes=15 * q)).strftime("%Y-%m-%dT%H:%M:%SZ")
                for t in hourly["utc_timestamp"]
                for q in range(4)
            ],
            "FR_load_actual_entsoe_transparency": np.repeat(
                hourly["FR_load_actual_entsoe_transparency"].to_numpy(), 4
            ),
        }
    )
    path = tmp_path / "fr15.csv"
    quarters.to_csv(path, index=False)
    frame = load_market_data("FR", "2018-03-25", "2018-03-27", source=path)
    assert len(frame) == 92 + 96
    report = validate_market_data(frame)
    assert report.resolution == "15min"
    assert report.dst_days == (("2018-03-25", 92),)
    assert not report.gaps


def test_missing_api_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ENTSOE_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError, match="ENTSOE_API_KEY"):
        load_market_data("ES", "2017-01-01", "2017-01-02", source="entsoe", cache_dir=tmp_path)
    assert not any(tmp_path.rglob("*.*"))


def test_strict_index_off_keeps_duplicates_and_disorder_for_the_report(tmp_path, spain_lines):
    """``btut data validate`` loads with ``strict_index=False``: the rows as in the source,
    so that the report names the duplicates and the disorder (the default still refuses)."""
    lines = spain_lines[:49]
    lines.insert(11, lines[10])  # 2015-01-01 09:00+01:00 twice
    frame = load_market_data(
        "ES", "2015-01-01", "2015-01-02", source=_spain_csv(tmp_path, lines), strict_index=False
    )
    assert len(frame) == 25 and frame.index.duplicated().sum() == 1
    report = validate_market_data(frame)
    assert [t.isoformat() for t in report.duplicates] == ["2015-01-01T08:00:00+00:00"]
    assert not report.ok and not report.gaps
    backwards = [spain_lines[0], *spain_lines[1:49][::-1]]
    path = _spain_csv(tmp_path, backwards, "b.csv")
    frame = load_market_data("ES", "2015-01-01", "2015-01-02", source=path, strict_index=False)
    assert len(frame) == 24 and frame.index.is_monotonic_decreasing
    report = validate_market_data(frame)
    assert report.errors == ["index is not increasing"] and not report.gaps


def test_a_file_with_only_a_header_has_no_data_rows(tmp_path, spain_lines):
    """A btut file said "zone ES is not in file ... (btut layout; zones: )"."""
    btut = tmp_path / "btut.csv"
    btut.write_text("time_utc,zone,price_eur_per_mwh\n")
    spain = _spain_csv(tmp_path, spain_lines[:1], "spain.csv")
    for path in (btut, spain):
        with pytest.raises(DataUnavailableError) as info:
            load_market_data("ES", "2015-01-01", "2015-01-02", source=path)
        assert str(info.value) == f"file {path.name} has no data rows (only a header)"


@pytest.mark.parametrize(
    ("start", "end"), [("1900-06-01", "1900-06-02"), ("2014-12-31", "2015-01-02")]
)
def test_entsoe_days_before_its_first_are_refused_before_any_query(
    monkeypatch, tmp_path, start, end
):
    """Madrid's 1900 midnight is 00:14:44 UTC (local mean time): it was refused as "must be
    whole hours"; now the day is named, as days outside a file's data are (exit 3)."""
    monkeypatch.setenv("ENTSOE_API_KEY", "fake")
    with pytest.raises(DataUnavailableError) as info:
        load_market_data("ES", start, end, source="entsoe", cache_dir=tmp_path)
    assert str(info.value) == (
        f"start {start} is before 2015-01-01, the first day ENTSO-E's Transparency Platform serves"
    )
    assert list(tmp_path.iterdir()) == []


def test_a_long_date_is_cut_in_the_message():
    with pytest.raises(InvalidParameterError) as info:
        load_market_data("ES", "9" * 100_000, "2017-01-02")
    assert str(info.value) == f"start '{'9' * 56}... is not a date (YYYY-MM-DD)"


def test_progress_must_be_callable_also_for_bundled_data() -> None:
    """``progress=3`` was accepted when the data came from the bundled files."""
    with pytest.raises(InvalidParameterError, match=r"^progress must be a callable or None"):
        load_market_data("ES", "2017-06-01", "2017-06-02", progress=3)
