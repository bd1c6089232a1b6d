"""Broken data files: each is rejected with a one-line BTUTError naming the file and the
place, or (gaps) reported; never read silently wrong. Files are edited copies of a few
days of the bundled Spain extract, built in ``tmp_path``."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from data import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    load_market_data,
    validate_market_data,
)
from data.layouts import detect_layout, read_source_file
from data.loader import bundled_path, check_finite

DAY = ("2017-06-14", "2017-06-15")
BUNDLED_ES = "spain_energy_2015_2017.csv.gz"


@pytest.fixture(scope="module")
def es_lines() -> list[str]:
    """Header plus the local days 2017-06-12 .. 2017-06-16 (120 rows, +02:00) of the
    bundled Spain file."""
    with gzip.open(bundled_path(BUNDLED_ES), "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    rows = [ln for ln in lines[1:] if ln[:10] in {f"2017-06-{d}" for d in range(12, 17)}]
    assert len(rows) == 5 * 24
    return [lines[0], *rows]


def _write(path, lines, *, end="\n", encoding="utf-8"):
    path.write_text("\n".join(lines) + end, encoding=encoding)
    return path


def _line_of(lines, stamp):
    """Index in ``lines`` (0 = header, so the file line number minus 1) of a timestamp."""
    return next(i for i, ln in enumerate(lines) if ln.startswith(stamp))


def _one_line(info) -> str:
    text = str(info.value)
    assert "\n" not in text
    return text


# --- 1. unreadable (truncated / corrupt gzip, not UTF-8) --------------------------------------


def test_truncated_gzip_is_a_validation_error_not_eoferror(tmp_path, es_lines):
    whole = gzip.compress(("\n".join(es_lines) + "\n").encode())
    path = tmp_path / "es.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])  # header readable, the stream stops midway
    with pytest.raises(DataValidationError, match=r"^cannot read es\.csv\.gz: ") as info:
        read_source_file(path)
    assert "end-of-stream" in _one_line(info)
    with pytest.raises(DataValidationError, match=r"cannot read es\.csv\.gz"):
        load_market_data("ES", *DAY, source=path)


def test_corrupt_gzip_stream_is_a_validation_error(tmp_path, es_lines):
    whole = bytearray(gzip.compress(("\n".join(es_lines) + "\n").encode()))
    mid = len(whole) // 2
    whole[mid : mid + 64] = bytes(64)  # zlib.error (or a CRC error) further in
    path = tmp_path / "es.csv.gz"
    path.write_bytes(bytes(whole))
    with pytest.raises(DataValidationError, match=r"^cannot read es\.csv\.gz: ") as info:
        read_source_file(path)
    _one_line(info)


def test_not_gzip_at_all(tmp_path):
    path = tmp_path / "fake.csv.gz"
    path.write_bytes(b"time,price\n")
    with pytest.raises(DataValidationError, match=r"^cannot read fake\.csv\.gz: "):
        read_source_file(path)


def test_non_utf8_byte_names_its_line(tmp_path, es_lines):
    path = tmp_path / "es.csv"
    data = ("\n".join(es_lines) + "\n").encode()
    at = data.index(b"\n2017-06-14 10:00") + 1  # start of file line 60
    path.write_bytes(data[:at] + b"\xff" + data[at + 1 :])
    with pytest.raises(DataValidationError, match=r"cannot read es\.csv: line 60 is not UTF-8"):
        read_source_file(path)
    path.write_bytes(b"\xef\xbb\xbf" + data[:at] + b"\xff" + data[at + 1 :])  # after a BOM
    with pytest.raises(DataValidationError, match=r"cannot read es\.csv: line 60 is not UTF-8"):
        read_source_file(path)
    path.write_bytes(data.replace(b"time", b"t\xefme", 1))  # in the header
    with pytest.raises(DataValidationError, match=r"cannot read es\.csv: line 1 is not UTF-8"):
        read_source_file(path)


# --- 2. non-finite values ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "Infinity", "1e999"])
def test_infinite_value_names_file_column_line_and_time(tmp_path, es_lines, value):
    lines = list(es_lines)
    i = _line_of(lines, "2017-06-14 10:00")
    cells = lines[i].split(",")
    cells[-1] = value  # `price actual`
    lines[i] = ",".join(cells)
    path = _write(tmp_path / "es.csv", lines)
    with pytest.raises(DataValidationError) as info:
        load_market_data("ES", *DAY, source=path)
    text = _one_line(info)
    assert text.startswith("malformed CSV es.csv: column 'price actual' line ")
    assert f"line {i + 1} (2017-06-14 10:00:00+02:00)" in text
    assert f"non-finite value {value!r}" in text


def test_empty_cell_stays_a_missing_value(tmp_path, es_lines):
    lines = list(es_lines)
    i = _line_of(lines, "2017-06-14 10:00")
    lines[i] = lines[i][: lines[i].rindex(",") + 1]  # `price actual` empty: still 29 fields
    frame = load_market_data("ES", *DAY, source=_write(tmp_path / "es.csv", lines))
    assert len(frame) == 24
    assert validate_market_data(frame).missing_values["price_eur_per_mwh"] == 1


def test_check_finite_guards_every_source():
    frame = load_market_data("ES", *DAY).copy()
    check_finite(frame, "x")  # real data passes
    frame.iloc[5, 2] = -np.inf
    with pytest.raises(DataValidationError) as info:
        check_finite(frame, "api")
    text = _one_line(info)
    assert "in api" in text and frame.columns[2] in text
    assert frame.index[5].isoformat() in text
    frame.iloc[5, 2] = np.nan  # NaN is missing, not invalid
    check_finite(frame, "api")


# --- 3. timestamps without a UTC offset ---------------------------------------------------------


def test_spain_naive_timestamps_are_rejected(tmp_path, es_lines):
    lines = [es_lines[0]] + [ln.replace("+02:00", "", 1) for ln in es_lines[1:]]
    path = _write(tmp_path / "naive.csv", lines)
    with pytest.raises(DataValidationError) as info:
        load_market_data("ES", *DAY, source=path)
    text = _one_line(info)
    assert text.startswith("malformed CSV naive.csv: column 'time' line 2 ")
    assert "'2017-06-12 00:00:00' without a UTC offset" in text


def test_one_naive_timestamp_among_offsets_is_rejected(tmp_path, es_lines):
    lines = list(es_lines)
    i = _line_of(lines, "2017-06-14 10:00")
    lines[i] = lines[i].replace("+02:00", "", 1)
    with pytest.raises(DataValidationError, match=rf"line {i + 1} has timestamp '2017-06-14 "):
        read_source_file(_write(tmp_path / "es.csv", lines))


@pytest.mark.parametrize("offset", ["+02:00", "+0200", "Z"])
def test_spain_offsets_in_any_iso_form_are_accepted(tmp_path, es_lines, offset):
    good = read_source_file(_write(tmp_path / "good.csv", es_lines)).frames["ES"]
    if offset == "Z":
        lines = [es_lines[0]] + [
            pd.Timestamp(ln[:25]).tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%SZ") + ln[25:]
            for ln in es_lines[1:]
        ]
    else:
        lines = [es_lines[0]] + [ln.replace("+02:00", offset, 1) for ln in es_lines[1:]]
    other = read_source_file(_write(tmp_path / "other.csv", lines)).frames["ES"]
    pd.testing.assert_frame_equal(good, other, check_index_type=False)


def test_opsd_naive_utc_timestamp_means_utc(tmp_path):
    rows = ["utc_timestamp,FR_load_actual_entsoe_transparency"]
    rows += [f"2018-06-0{1 + h // 24}T{h % 24:02d}:00:00Z,{50000 + h}" for h in range(48)]
    with_z = read_source_file(_write(tmp_path / "z.csv", rows)).frames["FR"]
    naive_rows = [rows[0]] + [r.replace("Z,", ",") for r in rows[1:]]
    naive = read_source_file(_write(tmp_path / "naive.csv", naive_rows)).frames["FR"]
    pd.testing.assert_frame_equal(with_z, naive, check_index_type=False)
    assert naive.index[0] == pd.Timestamp("2018-06-01 00:00", tz="UTC")


# --- 4. rows with too few (or too many) fields -------------------------------------------------


def test_short_row_names_file_and_line(tmp_path, es_lines):
    lines = list(es_lines)
    i = _line_of(lines, "2017-06-14 10:00")
    lines[i] = ",".join(lines[i].split(",")[:3])
    with pytest.raises(DataValidationError) as info:
        load_market_data("ES", *DAY, source=_write(tmp_path / "short.csv", lines))
    assert _one_line(info) == (
        f"malformed CSV short.csv: line {i + 1} has 3 field(s), the header has 29"
    )


def test_cut_off_last_line_is_rejected(tmp_path, es_lines):
    text = "\n".join(es_lines)
    path = tmp_path / "cut.csv"
    path.write_text(text[: len(text) - 40], encoding="utf-8")  # no final newline either
    with pytest.raises(
        DataValidationError, match=rf"^malformed CSV cut\.csv: line {len(es_lines)} has \d+ field"
    ):
        read_source_file(path)


def test_long_row_names_file_and_line(tmp_path, es_lines):
    lines = list(es_lines)
    lines[7] += ",1,2,3"
    with pytest.raises(DataValidationError, match=r"^malformed CSV es\.csv: line 8 has 32 field"):
        read_source_file(_write(tmp_path / "es.csv", lines))


def test_quoted_cells_are_split_as_csv(tmp_path, es_lines):
    good = read_source_file(_write(tmp_path / "good.csv", es_lines)).frames["ES"]
    lines = [es_lines[0]] + [",".join(f'"{c}"' for c in ln.split(",")) for ln in es_lines[1:]]
    quoted = read_source_file(_write(tmp_path / "quoted.csv", lines)).frames["ES"]
    pd.testing.assert_frame_equal(good, quoted)
    lines[9] = '"2017-06-12 08:00:00+02:00","1,5"'  # a comma inside quotes is no separator
    with pytest.raises(
        DataValidationError, match=r"^malformed CSV short\.csv: line 10 has 2 field\(s\)"
    ):
        read_source_file(_write(tmp_path / "short.csv", lines))


def test_blank_lines_and_crlf_still_read(tmp_path, es_lines):
    good = read_source_file(_write(tmp_path / "good.csv", es_lines)).frames["ES"]
    crlf = tmp_path / "crlf.csv"
    crlf.write_bytes(("\r\n".join(es_lines) + "\r\n\r\n").encode())
    pd.testing.assert_frame_equal(good, read_source_file(crlf).frames["ES"])


# --- 5. a requested range inside a gap ---------------------------------------------------------


def test_range_inside_a_gap_is_never_a_clean_empty_frame(tmp_path, es_lines):
    lines = [ln for ln in es_lines if not ln.startswith("2017-06-14")]
    path = _write(tmp_path / "gap_day.csv", lines)
    with pytest.raises(DataUnavailableError) as info:
        load_market_data("ES", *DAY, source=path)
    assert _one_line(info) == (
        "no ES data for 2017-06-14..2017-06-15 in gap_day.csv: the source has a gap of "
        "24 interval(s) from 2017-06-13T22:00:00+00:00 to 2017-06-14T22:00:00+00:00"
    )
    # the days around the gap load, and the gap is reported
    frame = load_market_data("ES", "2017-06-13", "2017-06-16", source=path)
    gaps = validate_market_data(frame).gaps
    assert [(g.start_utc.isoformat(), g.missing_intervals) for g in gaps] == [
        ("2017-06-13T22:00:00+00:00", 24)
    ]


def test_a_single_row_in_the_window_reports_the_rest_as_gaps(tmp_path, es_lines):
    lines = [
        ln for ln in es_lines if not ln.startswith("2017-06-14") or ln.startswith("2017-06-14 10:")
    ]
    frame = load_market_data("ES", *DAY, source=_write(tmp_path / "es.csv", lines))
    assert len(frame) == 1
    report = validate_market_data(frame)
    assert report.resolution == "60min"
    assert [(g.start_utc.isoformat(), g.missing_intervals) for g in report.gaps] == [
        ("2017-06-13T22:00:00+00:00", 10),
        ("2017-06-14T09:00:00+00:00", 13),
    ]


def test_validation_of_an_empty_window_is_one_gap():
    frame = load_market_data("ES", *DAY).iloc[:0].copy()
    frame.attrs["resolution"] = "60min"
    report = validate_market_data(frame)
    assert [
        (g.start_utc.isoformat(), g.end_utc.isoformat(), g.missing_intervals) for g in report.gaps
    ] == [("2017-06-13T22:00:00+00:00", "2017-06-14T22:00:00+00:00", 24)]
    assert report.warnings


# --- 6. wording: directory, empty path, bad timestamp; a BOM is fine ----------------------------


def test_directory_says_it_is_a_directory(tmp_path):
    with pytest.raises(DataUnavailableError, match=r"is a directory, not a data file$"):
        read_source_file(tmp_path)
    with pytest.raises(DataUnavailableError, match=r"is a directory"):
        load_market_data("ES", *DAY, source=tmp_path)
    with pytest.raises(DataUnavailableError, match=r"is a directory"):
        detect_layout(tmp_path)


def test_empty_path_says_it_is_empty():
    with pytest.raises(InvalidParameterError, match=r"^source is an empty path"):
        load_market_data("ES", *DAY, source="")
    with pytest.raises(InvalidParameterError, match=r"path is empty"):
        read_source_file("")


def test_unparseable_timestamp_names_line_and_value(tmp_path, es_lines):
    lines = list(es_lines)
    i = _line_of(lines, "2017-06-14 10:00")
    lines[i] = lines[i].replace("2017-06-14 10:00", "2017-06-14 25:00", 1)
    with pytest.raises(DataValidationError) as info:
        read_source_file(_write(tmp_path / "badts.csv", lines))
    assert _one_line(info) == (
        f"malformed CSV badts.csv: line {i + 1} has unparseable timestamp "
        "'2017-06-14 25:00:00+02:00' (column 'time')"
    )


def test_epftoolbox_unparseable_timestamp_names_line_and_value(tmp_path):
    rows = [",Price,Ampirion Load Forecast,PV+Wind Forecast"]
    rows += [f"2016-06-01 {h:02d}:00:00,30.0,12000.0,5000.0" for h in range(24)]
    rows[5] = "2016-06-01 4:00,30.0,12000.0,5000.0"
    with pytest.raises(DataValidationError) as info:
        read_source_file(_write(tmp_path / "de.csv", rows))
    assert _one_line(info) == (
        "malformed CSV de.csv: line 6 has unparseable timestamp '2016-06-01 4:00' (first column)"
    )


@pytest.mark.parametrize("gz", [False, True])
def test_utf8_byte_order_mark_is_accepted(tmp_path, es_lines, gz):
    good = read_source_file(_write(tmp_path / "good.csv", es_lines)).frames["ES"]
    text = "\ufeff" + "\n".join(es_lines) + "\n"
    if gz:
        path = tmp_path / "bom.csv.gz"
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path = tmp_path / "bom.csv"
        path.write_text(text, encoding="utf-8")
    assert detect_layout(path) == "spain"
    pd.testing.assert_frame_equal(good, read_source_file(path).frames["ES"], check_like=False)


def test_a_fully_quoted_file_reads_as_the_plain_one(tmp_path, es_lines) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, quoting=csv.QUOTE_ALL, lineterminator="\n")  # Excel, R write.csv
    for line in es_lines:
        writer.writerow(line.split(","))
    quoted = tmp_path / "quoted.csv"
    quoted.write_text(buf.getvalue(), encoding="utf-8")
    plain = _write(tmp_path / "plain.csv", es_lines)
    a = load_market_data("ES", *DAY, source=quoted)
    b = load_market_data("ES", *DAY, source=plain)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 24


# --- headers: a column twice, a Spain file without a needed column, not a CSV at all ---------


def test_a_column_twice_in_the_header_is_refused(tmp_path, es_lines):
    """The first of two 'price actual' columns was used silently."""
    header = es_lines[0] + ",price actual"
    rows = [ln + ",1.0" for ln in es_lines[1:]]
    path = _write(tmp_path / "dup.csv", [header, *rows])
    with pytest.raises(DataValidationError) as info:
        load_market_data("ES", *DAY, source=path)
    assert (
        _one_line(info) == "dup.csv: column(s) 'price actual' appear more than once in the header"
    )


@pytest.mark.parametrize("dropped", ["price actual", "total load actual"])
def test_a_spain_file_without_a_needed_column_names_it(tmp_path, es_lines, dropped):
    """Was "unknown CSV layout" with the header's first four names."""
    header = es_lines[0].split(",")
    k = header.index(dropped)
    lines = [",".join(c for j, c in enumerate(ln.split(",")) if j != k) for ln in es_lines]
    path = _write(tmp_path / "short.csv", lines)
    with pytest.raises(DataValidationError) as info:
        detect_layout(path)
    assert _one_line(info) == (
        f"short.csv looks like the Spain layout (energy_dataset.csv) but lacks column(s) "
        f"'{dropped}'"
    )


def test_a_file_that_is_not_csv_is_not_quoted(tmp_path):
    """The error quoted the first 80 characters of whatever file was given."""
    path = _write(tmp_path / "notes.csv", ["user:secret-hash:20228:0:99999:7:::", "more"])
    with pytest.raises(DataValidationError) as info:
        detect_layout(path)
    assert "secret-hash" not in _one_line(info) and "(no CSV header)" in _one_line(info)
