"""validate_market_data on real data with known defects."""

from __future__ import annotations

import numpy as np
import pandas as pd

from data import load_market_data, validate_market_data


def test_spain_three_years_matches_the_readme_counts():
    frame = load_market_data("ES", "2015-01-01", "2018-01-01")
    report = validate_market_data(frame)
    assert report.ok and report.resolution == "60min" and not report.gaps
    assert [d for d, _ in report.dst_days] == [
        "2015-03-29",
        "2015-10-25",
        "2016-03-27",
        "2016-10-30",
        "2017-03-26",
        "2017-10-29",
    ]
    assert [n for _, n in report.dst_days] == [23, 25] * 3
    # the shared README measured 34 NaN in `total load actual`
    assert report.missing_values["load_mw"] == 34
    assert report.negative_prices == {"price_eur_per_mwh": 0, "price_forecast_eur_per_mwh": 0}


def test_epftoolbox_autumn_hour_is_reported_as_a_gap():
    frame = load_market_data("DE", "2016-10-29", "2016-11-01")
    report = validate_market_data(frame)
    assert len(report.gaps) == 1
    assert report.gaps[0].start_utc == pd.Timestamp("2016-10-30 01:00", tz="UTC")
    assert report.gaps[0].missing_intervals == 1


def test_duplicates_non_utc_and_disorder_are_errors():
    frame = load_market_data("ES", "2016-01-01", "2016-01-02")
    bad = pd.concat([frame.iloc[:3], frame.iloc[2:3], frame.iloc[3:]])
    report = validate_market_data(bad)
    assert not report.ok and report.duplicates == (frame.index[2],)
    report = validate_market_data(frame.iloc[::-1])
    assert not report.is_monotonic and not report.ok
    naive = frame.tz_localize(None)
    assert not validate_market_data(naive).is_utc


def test_implausible_values_are_counted_not_changed():
    frame = load_market_data("ES", "2016-01-01", "2016-01-02").copy()
    frame.iloc[3, frame.columns.get_loc("price_eur_per_mwh")] = 99_999.0
    frame.iloc[4, frame.columns.get_loc("load_mw")] = -5.0
    before = frame.copy()
    report = validate_market_data(frame)
    assert report.out_of_range["price_eur_per_mwh"] == 1
    assert report.out_of_range["load_mw"] == 1
    pd.testing.assert_frame_equal(frame, before)
    kinds = report.to_frame()
    assert set(kinds["kind"]) >= {"out_of_range"}
    assert any("plausible range" in w for w in report.warnings)


def test_report_serialises():
    frame = load_market_data("DE", "2016-10-30", "2016-10-31")
    d = validate_market_data(frame).to_dict()
    assert d["dst_days"] == [{"day": "2016-10-30", "intervals": 25}]
    assert d["gaps"][0]["missing_intervals"] == 1
    assert np.isfinite(d["n_rows"])


def _hourly(values: dict[str, list[float]], start: str = "2017-06-14 00:00") -> pd.DataFrame:
    n = len(next(iter(values.values())))
    idx = pd.date_range(start, periods=n, freq="h", tz="UTC", name="time_utc")
    return pd.DataFrame(values, index=idx)


def test_plausible_ranges_are_inclusive_at_both_ends():
    """Prices in [-500, 4000] EUR/MWh and power in [0, 200 000] MW are plausible, ends
    included (the SDAC clearing limits are reachable prices); just outside is counted."""
    at_limits = _hourly(
        {"price_eur_per_mwh": [-500.0, 4000.0, 0.0], "load_mw": [0.0, 200_000.0, 1.0]}
    )
    report = validate_market_data(at_limits)
    assert report.out_of_range == {"price_eur_per_mwh": 0, "load_mw": 0}
    assert not report.range_warnings
    outside = _hourly(
        {"price_eur_per_mwh": [-500.01, 4000.01, 0.0], "load_mw": [-0.01, 200_000.01, 1.0]}
    )
    assert validate_market_data(outside).out_of_range == {"price_eur_per_mwh": 2, "load_mw": 2}


def test_resolution_is_the_most_common_step_not_the_smallest():
    """Hourly rows 00:00 .. 05:00 plus one stray row at 02:30: the steps are 1 h (x4) and
    30 min (x2), so the resolution is 60 min and no interval is missing."""
    frame = _hourly({"price_eur_per_mwh": [float(v) for v in range(6)]})
    stray = pd.DataFrame(
        {"price_eur_per_mwh": [99.0]},
        index=pd.DatetimeIndex([pd.Timestamp("2017-06-14 02:30", tz="UTC")], name="time_utc"),
    )
    frame = pd.concat([frame, stray]).sort_index()
    report = validate_market_data(frame)
    assert report.resolution == "60min"
    assert report.gaps == ()
    # ... but the stray row is off the hourly grid: an error naming it (it passed before, and
    # a replay then called the day's extra row a gap)
    assert report.off_grid == (pd.Timestamp("2017-06-14 02:30", tz="UTC"),)
    assert report.errors == ["1 timestamp(s) off the 60min grid: 2017-06-14T02:30:00+00:00"]
    assert not report.ok
    on_grid = validate_market_data(frame.drop(pd.Timestamp("2017-06-14 02:30", tz="UTC")))
    assert on_grid.off_grid == () and on_grid.ok


def test_only_frames_are_validated():
    # pandas' TypeError ("cannot convert the series ...") before
    import pytest

    from data import InvalidParameterError

    for bad in ([1, 2], np.arange(3), None):
        with pytest.raises(InvalidParameterError, match="frame must be a pandas DataFrame"):
            validate_market_data(bad)


def test_rows_missing_at_either_edge_of_the_window_are_counted_exactly():
    """The window 2017-06-14 (Madrid) is 2017-06-13 22:00 .. 06-14 22:00 UTC: rows dropped
    at its end or its start are one gap each, of exactly that many intervals."""
    frame = load_market_data("ES", "2017-06-14", "2017-06-15")
    assert len(frame) == 24 and validate_market_data(frame).gaps == ()
    for cut, start, end, n in (
        (slice(None, -1), "2017-06-14 21:00", "2017-06-14 22:00", 1),
        (slice(None, -3), "2017-06-14 19:00", "2017-06-14 22:00", 3),
        (slice(1, None), "2017-06-13 22:00", "2017-06-13 23:00", 1),
        (slice(2, None), "2017-06-13 22:00", "2017-06-14 00:00", 2),
    ):
        part = frame.iloc[cut].copy()
        part.attrs = dict(frame.attrs)
        (gap,) = validate_market_data(part).gaps
        assert (gap.start_utc, gap.end_utc, gap.missing_intervals) == (
            pd.Timestamp(start, tz="UTC"),
            pd.Timestamp(end, tz="UTC"),
            n,
        )


def test_what_is_no_market_data_is_an_error_not_a_clean_report():
    """An integer index read as 1970 nanoseconds gave ok=True with a gap of 1.5e18 intervals;
    an inf was a range warning although the loader refuses it; a text price column and an
    unknown time zone were raw TypeError and ZoneInfoNotFoundError."""
    import pytest

    from data import DataValidationError, InvalidParameterError
    from data.loader import check_index

    frame = _hourly({"price_eur_per_mwh": [30.0, 31.0, 32.0], "load_mw": [1e4, 1e4, 1e4]})
    with pytest.raises(DataValidationError, match=r"index must hold timestamps .* RangeIndex"):
        validate_market_data(frame.reset_index(drop=True))
    with pytest.raises(InvalidParameterError, match="unknown time zone 'Mars/X'"):
        validate_market_data(frame, tz="Mars/X")
    inf = frame.copy()
    inf.iloc[1, 1] = np.inf
    report = validate_market_data(inf)
    assert not report.ok and report.errors == ["load_mw: 1 infinite value(s)"]
    assert report.range_warnings == []  # said once, as an error (it was a range warning too)
    assert report.to_dict()["infinite"] == {"price_eur_per_mwh": 0, "load_mw": 1}
    text = frame.astype({"price_eur_per_mwh": str})
    report = validate_market_data(text)
    assert not report.ok and report.errors == ["price_eur_per_mwh: not numeric"]
    assert validate_market_data(frame).ok  # the same frame, clean
    as_text = frame.copy()
    as_text.index = as_text.index.astype(str)  # timestamps as text are still read
    assert validate_market_data(as_text).ok
    for bad in (None, [1, 2]):  # AttributeError, and "got builtin_function_or_method"
        with pytest.raises(InvalidParameterError, match="frame must be a pandas DataFrame"):
            check_index(bad)


# --------------------------------------------------------------------------------------------
# isolated spikes
# --------------------------------------------------------------------------------------------


def _spikes_by_definition(x: pd.Series, tz: str, threshold: float = 10.0, w: int = 7) -> list:
    """find_spikes' rule, row by row from its docstring (timestamps looked up one by one)."""
    local = x.index.tz_convert(tz)
    by_key: dict = {}
    for t, v in zip(local, x.to_numpy(), strict=True):
        by_key.setdefault((t.date(), t.time()), v)  # a repeated DST hour: the first
    values = x.to_numpy(dtype=float)
    level = np.nanpercentile(np.abs(values), 99)
    step = pd.Timedelta(hours=1)
    out = []
    for i, (t_utc, t) in enumerate(zip(x.index, local, strict=True)):
        v = values[i]
        if np.isnan(v) or i == 0 or i == len(x) - 1:
            continue
        if x.index[i - 1] != t_utc - step or x.index[i + 1] != t_utc + step:
            continue

        def day_refs(ks: range, t: pd.Timestamp = t) -> list[float]:
            vals = [
                by_key.get((t.date() + pd.Timedelta(days=k).to_pytimedelta(), t.time()), np.nan)
                for k in ks
            ]
            return [r for r in vals if not np.isnan(r)]

        before, after = day_refs(range(-w, 0)), day_refs(range(1, w + 1))
        if len(before) < 2 or len(after) < 2:
            continue
        ref = np.array(before + after)
        m = np.median(ref)
        scale = max(1.4826 * np.median(np.abs(ref - m)), 0.01 * level)
        dev = v - m
        a, b = values[i - 1], values[i + 1]
        if abs(dev) > threshold * scale and np.sign(v - a) == np.sign(dev) == np.sign(v - b):
            if min(abs(v - a), abs(v - b)) > 0.5 * abs(dev):
                out.append(t_utc)
    return out


def test_spikes_found_on_real_glitches_and_nowhere_else_in_spain():
    from data.validation import find_spikes

    fr = load_market_data("FR", "2020-06-20", "2020-07-25")
    report = validate_market_data(fr)
    # 158 GW for one hour: France's record load is about 102 GW
    assert report.spikes["load_mw"] == (pd.Timestamp("2020-07-07 17:00", tz="UTC"),)
    assert fr.loc["2020-07-07 17:00", "load_mw"].item() == 158_000.0  # kept as it is
    assert report.ok and any("load_mw: 1 isolated spike(s)" in w for w in report.warnings)
    assert ("spike", "load_mw", 1) in set(report.to_frame().itertuples(index=False))
    assert report.to_dict()["spikes"] == {"load_mw": ["2020-07-07T17:00:00+00:00"]}
    # Swiss solar of 300 and 200 MW at 02:00 and 04:00 local on a September night
    ch = load_market_data("CH", "2018-09-01", "2018-09-20")
    assert [str(t) for t in find_spikes(ch[["solar_mw"]], tz="Europe/Zurich")["solar_mw"]] == [
        "2018-09-11 00:00:00+00:00",
        "2018-09-11 02:00:00+00:00",
    ]
    # three years of Spain: only the solar 0 at noon of 2017-11-14 (wind 0 and load
    # missing in the same row: a source's dropout)
    es = validate_market_data(load_market_data("ES", "2015-01-01", "2018-01-01"))
    assert {c: [str(t) for t in ts] for c, ts in es.spikes.items() if ts} == {
        "solar_mw": ["2017-11-14 11:00:00+00:00"]
    }


def test_spikes_equal_the_rule_applied_row_by_row():
    """The vectorised search against its rule written out, on noisy daily cycles with
    injected spikes and dips, a lasting level shift, gaps and both DST changes."""
    from data.validation import find_spikes

    rng = np.random.default_rng(3)
    idx = pd.date_range("2017-03-10", "2017-11-05", freq="h", tz="UTC", name="time_utc")
    hours = idx.tz_convert("Europe/Madrid").hour.to_numpy()
    load = 30_000 + 5_000 * np.sin(2 * np.pi * hours / 24) + rng.normal(0, 400, len(idx))
    load[rng.choice(len(idx), 12, replace=False)] *= rng.choice([0.2, 3.0], 12)  # glitches
    load[2000:2100] += 20_000  # lasts: no spike inside
    solar = np.clip(np.sin(np.pi * (hours - 6) / 14), 0, None) * rng.uniform(0, 4_000, len(idx))
    solar[rng.choice(np.flatnonzero(solar == 0), 5, replace=False)] = 900.0  # night glitches
    frame = pd.DataFrame({"load_mw": load, "solar_mw": solar}, index=idx)
    frame = frame.drop(frame.index[[500, 501, 3000]])  # gaps
    frame.iloc[1500, 0] = np.nan
    found = find_spikes(frame, tz="Europe/Madrid")
    for col in frame.columns:
        expected = _spikes_by_definition(frame[col], "Europe/Madrid")
        assert list(found[col]) == expected, col
        assert 5 <= len(expected)  # the injected ones are found, not only accepted
    assert not any(frame.index[2001] <= t <= frame.index[2098] for t in found["load_mw"])


def test_a_day_at_the_edge_of_the_frame_is_not_judged():
    """References on one side only flagged ordinary variation: a gust of Swiss wind on the
    last day of a window (34.9 MW between 19.1 and 11.7), not found with a week after it."""
    from data.validation import find_spikes

    gust = pd.Timestamp("2019-08-11 15:00", tz="UTC")
    for end in ("2019-08-12", "2019-08-13", "2019-08-20"):
        frame = load_market_data("CH", "2019-07-01", end)[["wind_mw"]]
        assert gust not in find_spikes(frame, tz="Europe/Zurich")["wind_mw"], end


def test_a_spike_needs_references_and_neighbours():
    from data.validation import find_spikes

    frame = load_market_data("FR", "2020-07-07", "2020-07-08")  # one day: no references
    assert len(find_spikes(frame[["load_mw"]], tz="Europe/Paris")["load_mw"]) == 0
    frame = load_market_data("FR", "2020-06-20", "2020-07-25")[["load_mw"]]
    # its neighbour missing: not known to be isolated
    cut = frame.drop(pd.Timestamp("2020-07-07 18:00", tz="UTC"))
    assert len(find_spikes(cut, tz="Europe/Paris")["load_mw"]) == 0
    assert len(find_spikes(frame, tz="Europe/Paris", threshold=1e6)["load_mw"]) == 0


def test_infinite_and_boolean_columns_are_errors_without_runtime_warnings() -> None:
    """An inf load leaked numpy's "invalid value encountered in subtract" from the spike
    search; a boolean load column was a clean report."""
    import warnings

    from data import load_market_data

    frame = load_market_data("ES", "2017-06-01", "2017-06-03")
    bad = frame.copy()
    bad.iloc[5, bad.columns.get_loc("load_mw")] = np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        report = validate_market_data(bad)
    assert not report.ok and report.errors == ["load_mw: 1 infinite value(s)"]
    flags = frame.assign(load_mw=True)
    report = validate_market_data(flags)
    assert not report.ok and report.errors == ["load_mw: not numeric"]
