"""BTUT's own CSV layout (``time_utc``, optional ``zone``, canonical columns): the data an
analyst exported (``btut data show --csv``, ``DataFrame.to_csv``) and edited reads back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data import load_market_data, validate_market_data
from data.errors import DataUnavailableError, DataValidationError
from data.layouts import detect_layout, read_source_file


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("ES", "2015-01-01", "2018-01-01"),  # three years, both DST changes, NaN cells
        ("DE", "2016-10-29", "2016-11-01"),  # the epftoolbox autumn gap (a missing hour)
        ("AT", "2018-03-24", "2018-03-27"),  # OPSD, another zone's spring DST day
    ],
)
def test_a_frame_written_with_to_csv_reads_back_equal(tmp_path: Path, zone, start, end):
    frame = load_market_data(zone, start, end)
    path = tmp_path / "mine.csv"
    frame.to_csv(path)
    assert detect_layout(path) == "btut"
    back = load_market_data(zone, start, end, source=path)
    # every value bit for bit (NaN stays NaN), every timestamp, and a gap stays a gap
    pd.testing.assert_frame_equal(back, frame, check_exact=True, check_freq=False)
    assert validate_market_data(back).to_dict() == validate_market_data(frame).to_dict()


def test_without_a_zone_column_the_file_is_the_zone_asked(tmp_path: Path):
    frame = load_market_data("ES", "2017-03-25", "2017-03-28")
    path = tmp_path / "mine.csv"
    frame.to_csv(path)
    es = load_market_data("ES", "2017-03-26", "2017-03-27", source=path)
    assert len(es) == 23  # the Madrid spring DST day
    # the same rows as another zone's data: its market days are its own local days
    pt = load_market_data("PT", "2017-03-26", "2017-03-27", source=path)
    assert pt.index[0] == pd.Timestamp("2017-03-26 00:00", tz="UTC")  # Lisbon midnight
    assert len(pt) == 23


def test_a_zone_column_splits_the_file_and_names_the_zones(tmp_path: Path):
    es = load_market_data("ES", "2017-06-12", "2017-06-14")
    at = load_market_data("AT", "2018-06-12", "2018-06-14")[["price_eur_per_mwh", "load_mw"]]
    both = pd.concat([es.assign(zone="es"), at.assign(zone="AT")])  # codes normalised
    path = tmp_path / "two.csv"
    both.to_csv(path)
    parsed = read_source_file(path)
    assert set(parsed.frames) == {"ES", "AT"}
    back = load_market_data("AT", "2018-06-12", "2018-06-14", source=path)
    # the AT rows, and only AT's columns: ES's (empty in every AT row) are not AT's inputs
    assert list(back.columns) == ["price_eur_per_mwh", "load_mw"]
    assert back["price_eur_per_mwh"].equals(at["price_eur_per_mwh"])
    with pytest.raises(DataUnavailableError, match=r"zone FR is not in file two.csv \(btut"):
        load_market_data("FR", "2018-06-12", "2018-06-14", source=path)


def test_times_without_an_offset_are_utc_and_offsets_are_converted(tmp_path: Path):
    naive = tmp_path / "naive.csv"
    naive.write_text("time_utc,load_mw\n2017-06-13 22:00,1\n2017-06-13 23:00,2\n")
    shifted = tmp_path / "shifted.csv"
    shifted.write_text(
        "time_utc,load_mw\n2017-06-14T00:00:00+02:00,1\n2017-06-14T01:00:00+02:00,2\n"
    )
    a = read_source_file(naive).frames["*"]
    b = read_source_file(shifted).frames["*"]
    assert (
        list(a.index)
        == list(b.index)
        == list(pd.date_range("2017-06-13 22:00", periods=2, freq="h", tz="UTC"))
    )
    np.testing.assert_array_equal(a["load_mw"], [1.0, 2.0])


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("time_utc,load_MW\n2017-06-13 22:00,1\n", r"column\(s\) 'load_MW' are not BTUT"),
        ("time_utc,zone\n2017-06-13 22:00,ES\n", "btut layout without any data column"),
        ("time_utc,zone,load_mw\n2017-06-13 22:00,XX,1\n", "line 2 has unknown zone 'XX'"),
        (
            "time_utc,zone,load_mw\n2017-06-13 22:00,ES,1\n2017-06-13 23:00,,2\n",
            "line 3 has no zone",
        ),
        ("time_utc,load_mw\n2017-06-13 22:00,1\n,2\n", "line 3 has no timestamp"),
        ("time_utc,load_mw\n2017-06-13 22:00,one\n", "non-numeric value 'one'"),
        ("time_utc,load_mw\n2017-06-13 22:00,inf\n", "non-finite value 'inf'"),
        ("time_utc,load_mw\n2017-06-13 22:00,1,2\n", "line 2 has 3 field"),
    ],
)
def test_a_malformed_btut_file_is_one_line_naming_the_problem(tmp_path: Path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(DataValidationError, match=match) as info:
        load_market_data("ES", "2017-06-14", "2017-06-15", source=path)
    assert "\n" not in str(info.value)


def test_duplicate_timestamps_in_a_btut_file_are_refused(tmp_path: Path):
    path = tmp_path / "dup.csv"
    frame = load_market_data("ES", "2017-06-14", "2017-06-15")
    pd.concat([frame, frame.iloc[[5]]]).sort_index().to_csv(path)
    with pytest.raises(DataValidationError, match="1 duplicate timestamps: 2017-06-14T03:00"):
        load_market_data("ES", "2017-06-14", "2017-06-15", source=path)


def test_a_zone_reads_the_same_from_its_own_file_and_a_shared_one(tmp_path: Path):
    """DE alone and DE beside ES in one file: the same frame. DE gained ES's six columns
    as NaN before, and its Student-t forecasts took them as (empty) inputs."""
    de = load_market_data("DE", "2016-01-04", "2016-03-01")
    es = load_market_data("ES", "2016-01-04", "2016-03-01")
    alone, shared = tmp_path / "de.csv", tmp_path / "both.csv"
    de.to_csv(alone)
    pd.concat([de.assign(zone="DE"), es.assign(zone="ES")]).to_csv(shared)
    a = load_market_data("DE", "2016-01-04", "2016-03-01", source=alone)
    b = load_market_data("DE", "2016-01-04", "2016-03-01", source=shared)
    pd.testing.assert_frame_equal(b, a, check_exact=True, check_freq=False)
    assert list(a.columns) == list(de.columns)


@pytest.mark.parametrize(
    "header", ["time_utc, zone, load_mw", " time_utc,zone ,load_mw", '"time_utc","zone","load_mw"']
)
def test_spaces_or_quotes_around_names_name_the_same_columns(tmp_path: Path, header):
    # "time_utc, load_mw" crashed with KeyError (exit 70); "time_utc, zone,..." read FR rows
    # as any zone's, the zone column unseen
    path = tmp_path / "spaced.csv"
    path.write_text(f"{header}\n2017-06-13 22:00,FR,1\n2017-06-13 23:00,FR,2\n")
    assert set(read_source_file(path).frames) == {"FR"}
    with pytest.raises(DataUnavailableError, match=r"zone ES is not in file spaced\.csv"):
        load_market_data("ES", "2017-06-14", "2017-06-15", source=path)


def test_a_column_no_row_fills_is_absent(tmp_path: Path):
    path = tmp_path / "empty_col.csv"
    path.write_text("time_utc,load_mw,solar_mw\n2017-06-13 22:00,1,\n2017-06-13 23:00,2,\n")
    assert list(read_source_file(path).frames["*"].columns) == ["load_mw"]


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=False, width=64), min_size=1, max_size=30
    ),
    minutes=st.sampled_from([15, 60]),
)
def test_any_finite_or_missing_float_reads_back_bit_for_bit(values, minutes) -> None:
    # subnormals, -0.0, 1.7976931348623157e308: pandas writes each float's shortest repr,
    # and the reader parses it back to the same double
    import tempfile

    index = pd.date_range("2017-06-13 22:00", periods=len(values), freq=f"{minutes}min",
                          tz="UTC", name="time_utc")  # fmt: skip
    frame = pd.DataFrame({"load_mw": values, "solar_mw": 1.0}, index=index)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "floats.csv"
        frame.to_csv(path)
        back = read_source_file(path).frames["*"]
    if np.isnan(values).all():  # a column no row fills is absent
        assert list(back.columns) == ["solar_mw"]
        return
    got, want = back["load_mw"].to_numpy(), np.asarray(values, dtype=float)
    missing = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), missing)
    # the same bits (-0.0 stays -0.0); a NaN's payload is not data
    np.testing.assert_array_equal(got[~missing].view(np.int64), want[~missing].view(np.int64))
    assert back.index.equals(index)
