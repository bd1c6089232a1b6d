"""Readers for the CSV layouts of the real ENTSO-E-derived files BTUT knows.

Every reader turns one file into ``{zone_code: frame}``: each frame is indexed by a
tz-aware UTC ``DatetimeIndex`` named ``time_utc`` (interval start) and holds only the
canonical columns the file really has (see ``data.schema``). Values are never changed,
filled or resampled.

A file that is not exactly what its layout says raises a one-line ``DataValidationError``
naming the file and, where there is one, the line: unreadable (truncated or corrupt gzip,
not UTF-8; a UTF-8 byte-order mark is fine), a row with more or fewer fields than the
header, a cell that is not a number or is infinite (an empty cell is a missing value, NaN),
an unparseable or missing timestamp, a timestamp without the UTC offset its layout needs.

Layouts (detected from the header line):

``spain``
    Kaggle "Hourly energy demand generation and weather" ``energy_dataset.csv``: column
    ``time`` in local Spanish time with an explicit UTC offset, so the UTC mapping is
    exact; a timestamp without an offset has no defined meaning and is rejected.
    ``price actual`` is the realised day-ahead price, ``price day ahead`` the TSO's
    day-ahead price forecast.
``epftoolbox``
    The open-access price-forecasting benchmark files (DE, BE, NP, PJM). Timestamps are
    naive local market time with DST "evened out" by the publisher: every day has 24
    rows. BTUT maps them to UTC in the zone's time zone as follows. The spring-forward
    hour (e.g. 02:00 on the last Sunday of March, which does not exist on the local
    clock) is a row the publisher made up; it is dropped, so that day has 23 rows as on
    the market. The autumn 02:00 row is read as the first (summer-time) 02:00; the second
    02:00 hour of the 25-hour day is absent from the file and shows as a one-hour gap in
    validation, never filled.
``opsd``
    Open Power System Data "time_series" extracts: ``utc_timestamp`` is UTC (by its
    definition, also when a value lacks the ``Z``); columns are
    ``<AREA>_<variable>`` for several areas (AT, CH, FR, DE, DE_LU, the four German TSO
    control areas).
``btut``
    BTUT's own columns, as ``btut data show --csv`` writes them: ``time_utc`` (interval
    start, ISO 8601; UTC, also when a value has no offset; an offset is converted), an
    optional ``zone`` column, then any of the canonical columns (``data.schema``). Without a
    ``zone`` column the file is the data of whichever zone it is read for (market days are
    that zone's local days). A zone's frame holds the columns its rows fill: a column empty
    in all of them is one the zone lacks (absent, as in every layout; so another zone's
    columns never become its inputs). A column that is not one of these is
    refused by name, so a misspelt ``load_MW`` is not dropped without a word.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from data.checks import clip_path, is_directory, is_regular, path_mode
from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError
from data.schema import CANONICAL_COLUMNS, EXTRA_COLUMNS, INDEX_NAME, order_columns
from data.zones import get_zone


@dataclass(frozen=True)
class SourceFile:
    """A parsed CSV: its ``layout`` name, ``path`` and one frame per zone it covers."""

    layout: str
    path: str
    frames: dict[str, pd.DataFrame]


#: What reading a data file may raise: a truncated or corrupt gzip stream (``EOFError``,
#: ``zlib.error``, ``gzip.BadGzipFile``), an I/O error, bytes that are not UTF-8. ``EOFError``
#: must never escape: click reads it as an interrupted prompt and prints "aborted".
_READ_ERRORS = (EOFError, zlib.error, gzip.BadGzipFile, OSError, UnicodeDecodeError)


def _read_error(path: Path, exc: BaseException) -> DataValidationError:
    """``cannot read <file>: <reason>``, one line; a decoding error names its line."""
    if isinstance(exc, UnicodeDecodeError) and isinstance(exc.object, bytes):
        # ``exc.object`` is what was decoded: the whole file, or the header line
        line = exc.object.count(b"\n", 0, exc.start) + 1
        reason = f"line {line} is not UTF-8 text (byte {exc.object[exc.start]:#04x})"
    else:
        text = " ".join(str(exc).split())
        reason = text or type(exc).__name__
    return DataValidationError(f"cannot read {path.name}: {reason}")


def _read_header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            # utf-8-sig: a byte-order mark some editors write is not part of the first name
            line = fh.readline().decode("utf-8-sig")
    except _READ_ERRORS as exc:
        raise _read_error(path, exc) from None
    if not line.strip():
        raise DataValidationError(f"{path.name} is empty (no header line)")
    # csv.reader: a header written fully quoted (Excel, R's write.csv) names the same columns
    return [c.strip() for c in next(csv.reader([line.rstrip("\r\n")]))]


def _read_text(path: Path) -> str:
    """The whole file as text (gunzipped for ``.gz``; a UTF-8 byte-order mark dropped)."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                data = fh.read()
        else:
            data = path.read_bytes()
        return data.decode("utf-8-sig")
    except _READ_ERRORS as exc:
        raise _read_error(path, exc) from None


def _record_lines(text: str, path: Path) -> np.ndarray:
    """File line number of every data record, raising on a record whose field count is not
    the header's (pandas would pad a short row with NaN and hide a cut-off line).

    Blank lines are skipped, as pandas does; the header is the first line (``_read_header``
    has checked it is not blank).
    """
    if '"' in text:  # quoted fields may hold commas or line breaks: let csv split them
        return _record_lines_quoted(text, path)
    lines: list[int] = []
    n = 0
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if number == 1:
            n = line.count(",") + 1
        elif line.strip("\r\n"):
            k = line.count(",") + 1
            if k != n:
                raise _field_count_error(path, number, k, n)
            lines.append(number)
    return np.asarray(lines, dtype=np.int64)


def _record_lines_quoted(text: str, path: Path) -> np.ndarray:
    reader = csv.reader(io.StringIO(text, newline=""))
    lines: list[int] = []
    try:
        header = next(reader, None)
        n = len(header) if header else 0
        for fields in reader:
            if not fields:  # a blank line
                continue
            if len(fields) != n:
                raise _field_count_error(path, reader.line_num, len(fields), n)
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataValidationError(
            f"malformed CSV {path.name}: line {reader.line_num}: {exc}"
        ) from None
    return np.asarray(lines, dtype=np.int64)


def _field_count_error(path: Path, line: int, fields: int, expected: int) -> DataValidationError:
    return DataValidationError(
        f"malformed CSV {path.name}: line {line} has {fields} field(s), the header has {expected}"
    )


@dataclass(frozen=True)
class _Raw:
    """A CSV as text cells (``frame``), with the file line number of each row."""

    frame: pd.DataFrame
    lines: np.ndarray
    path: Path

    def line(self, row: int) -> int:
        """File line number of row ``row`` (header is line 1)."""
        return int(self.lines[row]) if len(self.lines) == len(self.frame) else row + 2

    def where(self, row: int) -> str:
        """``line N (<first cell of the row>)``: where a bad cell is, for a message."""
        first = self.frame.iloc[row, 0]
        return f"line {self.line(row)}" + (f" ({first})" if isinstance(first, str) else "")


def _parse_cells(text: str) -> pd.DataFrame:
    """The CSV ``text`` as a frame of text cells (empty cells NaN).

    pandas reads bytes: from a text buffer its C parser calls a Python wrapper for every
    chunk, and a Ctrl-C that lands in that wrapper comes out as a ``ParserError`` ("Calling
    read(nbytes) on source failed"), the interrupt lost. From bytes no Python code runs
    while it parses, and the KeyboardInterrupt is raised as it is.
    """
    source = io.BytesIO(text.encode("utf-8"))
    return pd.read_csv(source, dtype=str, keep_default_na=False, na_values=[""])


def _read_csv(path: Path) -> _Raw:
    text = _read_text(path)
    lines = _record_lines(text, path)
    try:
        frame = _parse_cells(text)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(f"malformed CSV {path.name}: {first}") from None
    # the names as the layout detection read them (``_read_header``): "time_utc, load_mw"
    # names the column load_mw
    frame.columns = [str(c).strip() for c in frame.columns]
    return _Raw(frame, lines, path)


def _numeric(raw: _Raw, column: str) -> pd.Series:
    """Column as float64. A value that is not a number, or is infinite, raises naming the
    column, line, timestamp and value; an empty cell is NaN (a missing value)."""
    text = raw.frame[column]
    values = pd.to_numeric(text, errors="coerce")
    bad = values.isna() & text.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"malformed CSV {raw.path.name}: column {column.strip()!r} line {raw.line(row)} "
            f"has non-numeric value {text.iloc[row]!r}"
        )
    values = values.astype("float64")
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        row = int(np.flatnonzero(infinite)[0])
        raise DataValidationError(
            f"malformed CSV {raw.path.name}: column {column.strip()!r} {raw.where(row)} "
            f"has non-finite value {text.iloc[row]!r} (only finite numbers or an empty cell)"
        )
    return values


def _first_sentence(exc: BaseException) -> str:
    """An exception's message cut to its first line, without pandas' "You might want to try"."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return text.split(" You might want to try")[0].rstrip(" .:")


def _parse_times(raw: _Raw, column: str, label: str = "", **kwargs) -> pd.DatetimeIndex:
    """``pd.to_datetime(raw[column], **kwargs)``; an unparseable value raises naming its
    line and the value. ``label`` names the column in messages (default: its header)."""
    label = label or f"column {column.strip()!r}"
    text = raw.frame[column]
    try:
        return pd.DatetimeIndex(pd.to_datetime(text, **kwargs))
    except (ValueError, TypeError, OverflowError) as exc:
        try:
            coerced = pd.DatetimeIndex(pd.to_datetime(text, errors="coerce", **kwargs))
            bad = np.flatnonzero(np.asarray(coerced.isna()) & text.notna().to_numpy())
        except (ValueError, TypeError, OverflowError):
            bad = np.array([], dtype=np.int64)
        if len(bad):
            row = int(bad[0])
            raise DataValidationError(
                f"malformed CSV {raw.path.name}: line {raw.line(row)} has unparseable "
                f"timestamp {text.iloc[row]!r} ({label})"
            ) from None
        raise DataValidationError(
            f"malformed CSV {raw.path.name}: unparseable timestamp in {label} "
            f"({_first_sentence(exc)})"
        ) from None


#: An ISO 8601 time of day followed by a UTC offset (``Z``, ``+02:00``, ``+0200``, ``+02``).
_HAS_OFFSET = re.compile(
    r"[T ]\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d+)?)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$",
    re.IGNORECASE,
)


def _utc_index(raw: _Raw, column: str, *, naive_is_utc: bool) -> pd.DatetimeIndex:
    """UTC index from ISO 8601 timestamps with a UTC offset.

    ``naive_is_utc``: the layout defines a timestamp without an offset as UTC (OPSD's
    ``utc_timestamp``). Otherwise such a timestamp raises: reading it as UTC would shift
    every value by the zone's offset.
    """
    text = raw.frame[column]
    idx = _parse_times(raw, column, utc=True, format="ISO8601")
    if idx.isna().any():
        row = int(np.flatnonzero(idx.isna())[0])
        raise DataValidationError(
            f"malformed CSV {raw.path.name}: column {column!r} line {raw.line(row)} "
            "has no timestamp"
        )
    if not naive_is_utc:
        naive = ~text.str.strip().str.contains(_HAS_OFFSET).to_numpy(dtype=bool)
        if naive.any():
            row = int(np.flatnonzero(naive)[0])
            raise DataValidationError(
                f"malformed CSV {raw.path.name}: column {column!r} line {raw.line(row)} has "
                f"timestamp {text.iloc[row]!r} without a UTC offset (this layout's times are "
                "local with their offset, e.g. '2017-06-14 10:00:00+02:00')"
            )
    return idx.rename(INDEX_NAME)


def _frame(index: pd.DatetimeIndex, columns: dict[str, pd.Series]) -> pd.DataFrame:
    frame = pd.DataFrame({k: v.to_numpy() for k, v in columns.items()}, index=index)
    return order_columns(frame)


# --- spain ---------------------------------------------------------------------------------

_SPAIN_MAP = {
    "price actual": "price_eur_per_mwh",
    "price day ahead": "price_forecast_eur_per_mwh",
    "total load actual": "load_mw",
    "total load forecast": "load_forecast_mw",
    "generation solar": "solar_mw",
    "forecast solar day ahead": "solar_forecast_mw",
    # Spain has no offshore wind: the source's offshore forecast column is entirely empty
    # and the onshore forecast is the whole wind forecast.
    "forecast wind onshore day ahead": "wind_forecast_mw",
}


def _is_spain(header: list[str]) -> bool:
    return (
        bool(header)
        and header[0] == "time"
        and {"price actual", "total load actual"} <= set(header)
    )


def _read_spain(path: Path) -> SourceFile:
    raw = _read_csv(path)
    # local time with its offset: a timestamp without one has no defined meaning here
    index = _utc_index(raw, "time", naive_is_utc=False)
    cols = {dst: _numeric(raw, src) for src, dst in _SPAIN_MAP.items() if src in raw.frame}
    if {"generation wind onshore", "generation wind offshore"} <= set(raw.frame.columns):
        # offshore is 0 wherever reported; a NaN in either part stays NaN (never filled)
        cols["wind_mw"] = _numeric(raw, "generation wind onshore") + _numeric(
            raw, "generation wind offshore"
        )
    return SourceFile("spain", str(path), {"ES": _frame(index, cols)})


# --- epftoolbox -------------------------------------------------------------------------------

# file kind -> (zone, {header: column})
_EPF_KINDS: dict[str, tuple[str, dict[str, str]]] = {
    "DE": (
        "DE",
        {
            "Price": "price_eur_per_mwh",
            # Amprion control-area day-ahead load forecast (the file's only load series)
            "Ampirion Load Forecast": "load_forecast_mw",
            "PV+Wind Forecast": "renewables_forecast_mw",
        },
    ),
    "BE": (
        "BE",
        {
            "Prices": "price_eur_per_mwh",
            # the benchmark's Belgian exogenous inputs are French (RTE) day-ahead forecasts
            "Generation forecast": "fr_generation_forecast_mw",
            "System load forecast": "fr_load_forecast_mw",
        },
    ),
    "NP": (
        "NP",
        {
            "Price": "price_eur_per_mwh",
            "Grid load forecast": "load_forecast_mw",
            "Wind power forecast": "wind_forecast_mw",
        },
    ),
    "PJM": (
        "PJM",
        {
            "Zonal COMED price": "price_usd_per_mwh",
            "System load forecast": "system_load_forecast_mw",
            "Zonal COMED load foecast": "load_forecast_mw",
        },
    ),
}


def _epf_kind(header: list[str]) -> str | None:
    if len(header) != 4 or header[0] not in ("", "Date"):
        return None
    for kind, (_, mapping) in _EPF_KINDS.items():
        if header[1:] == list(mapping):
            return kind
    return None


def localize_evened_out(naive: pd.DatetimeIndex, tz: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Map naive local times with DST "evened out" (24 rows every day) to UTC.

    Returns ``(index_utc, keep)``: ``keep`` is False for the made-up spring-forward rows,
    which do not exist on the local clock; ambiguous autumn times are read as summer time
    (the first occurrence). ``index_utc`` has one entry per kept row.
    """
    local = naive.tz_localize(tz, nonexistent="NaT", ambiguous=np.ones(len(naive), dtype=bool))
    keep = ~np.asarray(local.isna())
    return local[keep].tz_convert("UTC").rename(INDEX_NAME), keep


def _read_epftoolbox(path: Path, header: list[str]) -> SourceFile:
    kind = _epf_kind(header)
    assert kind is not None
    zone_code, mapping = _EPF_KINDS[kind]
    raw = _read_csv(path)
    time_col = raw.frame.columns[0]
    # naive local market time by the publisher's convention (see the module docstring)
    naive = _parse_times(raw, time_col, "first column", format="%Y-%m-%d %H:%M:%S")
    if naive.isna().any():
        row = int(np.flatnonzero(naive.isna())[0])
        raise DataValidationError(
            f"malformed CSV {path.name}: line {raw.line(row)} has no timestamp in the first column"
        )
    index, keep = localize_evened_out(naive, get_zone(zone_code).tz)
    cols = {dst: _numeric(raw, src)[keep] for src, dst in mapping.items()}
    frame = _frame(index, cols)
    frame.attrs["dropped_nonexistent_local"] = [str(t) for t in naive[~keep]]
    return SourceFile("epftoolbox", str(path), {zone_code: frame})


# --- opsd ---------------------------------------------------------------------------------------

_OPSD_AREAS = {
    "DE_LU": "DE_LU",
    "DE_50hertz": "DE_50HZ",
    "DE_amprion": "DE_AMPRION",
    "DE_tennet": "DE_TENNET",
    "DE_transnetbw": "DE_TRANSNET",
}
_OPSD_COLUMN = re.compile(
    r"^(?P<area>[A-Z]{2}(?:_LU|_50hertz|_amprion|_tennet|_transnetbw)?)_(?P<var>.+)$"
)
_OPSD_VARS = {
    "load_actual_entsoe_transparency": "load_mw",
    "load_forecast_entsoe_transparency": "load_forecast_mw",
    "price_day_ahead": "price_eur_per_mwh",
    "solar_generation_actual": "solar_mw",
    "wind_generation_actual": "wind_mw",
}


def _is_opsd(header: list[str]) -> bool:
    return len(header) >= 2 and header[0] == "utc_timestamp"


def _read_opsd(path: Path) -> SourceFile:
    raw = _read_csv(path)
    # ``utc_timestamp`` is UTC by definition (OPSD writes ``Z``): a naive value means UTC
    index = _utc_index(raw, "utc_timestamp", naive_is_utc=True)
    by_area: dict[str, dict[str, str]] = {}
    for col in raw.frame.columns[1:]:
        m = _OPSD_COLUMN.match(col)
        if m:
            by_area.setdefault(m["area"], {})[m["var"]] = col
    frames = {}
    for area, variables in by_area.items():
        cols = {
            dst: _numeric(raw, variables[src])
            for src, dst in _OPSD_VARS.items()
            if src in variables
        }
        if "wind_mw" not in cols and "wind_onshore_generation_actual" in variables:
            wind = _numeric(raw, variables["wind_onshore_generation_actual"])
            if "wind_offshore_generation_actual" in variables:
                wind = wind + _numeric(raw, variables["wind_offshore_generation_actual"])
            cols["wind_mw"] = wind
        if cols:
            frames[_OPSD_AREAS.get(area, area)] = _frame(index, cols)
    if not frames:
        raise DataValidationError(
            f"{path.name}: OPSD layout but no known <AREA>_<variable> columns"
        )
    return SourceFile("opsd", str(path), frames)


# --- btut ----------------------------------------------------------------------------------

#: Key of the one frame of a ``btut`` file without a ``zone`` column: any zone asked.
ANY_ZONE = "*"


def _is_btut(header: list[str]) -> bool:
    return bool(header) and header[0] == INDEX_NAME


def _read_btut(path: Path, header: list[str]) -> SourceFile:
    known = (*CANONICAL_COLUMNS, *EXTRA_COLUMNS)
    unknown = [c for c in header[1:] if c not in known and c != "zone"]
    if unknown:
        raise DataValidationError(
            f"{path.name}: column(s) {', '.join(map(repr, unknown))} are not BTUT columns "
            f"(the btut layout is time_utc, an optional zone, then any of: {', '.join(known)})"
        )
    values = [c for c in header[1:] if c != "zone"]
    if not values:
        raise DataValidationError(f"{path.name}: btut layout without any data column")
    raw = _read_csv(path)
    index = _utc_index(raw, INDEX_NAME, naive_is_utc=True)
    cols = {c: _numeric(raw, c) for c in values}

    def filled(rows: np.ndarray | slice) -> pd.DataFrame:
        # a column none of the rows fills is one the zone lacks (absent, never NaN): another
        # zone's columns must not become this zone's inputs
        return _frame(index[rows], {c: v[rows] for c, v in cols.items() if v[rows].notna().any()})

    if "zone" not in raw.frame.columns:
        return SourceFile("btut", str(path), {ANY_ZONE: filled(slice(None))})
    text = raw.frame["zone"].fillna("")
    code_of = {}
    for written in text.unique():  # get_zone's spellings: "es", " DE-LU "
        try:
            code_of[written] = get_zone(written).code
        except (InvalidParameterError, DataUnavailableError):
            row = int(np.flatnonzero((text == written).to_numpy())[0])
            raise DataValidationError(
                f"malformed CSV {path.name}: line {raw.line(row)} has "
                + (f"unknown zone {written!r}" if written.strip() else "no zone")
            ) from None
    codes = text.map(code_of).to_numpy()
    frames = {code: filled(codes == code) for code in dict.fromkeys(codes)}
    return SourceFile("btut", str(path), frames)


# --- detection ------------------------------------------------------------------------------------

_LAYOUTS: tuple[tuple[str, Callable[[list[str]], bool]], ...] = (
    ("spain", _is_spain),
    ("epftoolbox", lambda h: _epf_kind(h) is not None),
    ("opsd", _is_opsd),
    ("btut", _is_btut),
)


def _data_file(path: str | os.PathLike) -> Path:
    """``path`` as a ``Path`` to an existing regular file, or a one-line error saying what
    it is instead (empty, a directory, absent)."""
    if not os.fspath(path).strip():
        raise InvalidParameterError(
            "the data file path is empty: give a CSV path (or no source for the bundled data)"
        )
    mode = path_mode(path, "data file", DataUnavailableError)
    shown = clip_path(path)
    if mode is None:
        raise DataUnavailableError(f"no such data file: {shown}")
    if is_directory(mode):
        raise DataUnavailableError(f"{shown} is a directory, not a data file")
    if not is_regular(mode):
        raise DataUnavailableError(f"{shown} is not a regular file")
    return Path(path)


def detect_layout(path: str | os.PathLike) -> str:
    """Name of the layout of the CSV at ``path`` (from its header), or raise."""
    path = _data_file(path)
    header = _read_header(path)
    twice = sorted({c for c in header if c and header.count(c) > 1})
    if twice:  # which of the two would be meant is not for the reader to guess
        raise DataValidationError(
            f"{path.name}: column(s) {', '.join(map(repr, twice))} appear more than once in "
            "the header"
        )
    for name, test in _LAYOUTS:
        if test(header):
            return name
    if header and header[0] == "time" and len(set(header) & set(_SPAIN_MAP)) >= 3:
        lacking = [c for c in ("price actual", "total load actual") if c not in header]
        raise DataValidationError(
            f"{path.name} looks like the Spain layout (energy_dataset.csv) but lacks column(s) "
            + ", ".join(map(repr, lacking))
        )
    # a header only if it looks like one (not the first line of any file given by mistake)
    shown = f"header starts {','.join(header[:4])[:80]!r}" if len(header) > 1 else "no CSV header"
    raise DataValidationError(
        f"unknown CSV layout in {path.name} ({shown}); known layouts: "
        "spain (energy_dataset.csv), epftoolbox (DE/BE/NP/PJM), opsd (time_series_60min), "
        "btut (time_utc and BTUT's columns, as 'btut data show --csv' writes)"
    )


@lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, size: int) -> SourceFile:
    p = Path(path)
    layout = detect_layout(p)
    if layout == "spain":
        parsed = _read_spain(p)
    elif layout == "epftoolbox":
        parsed = _read_epftoolbox(p, _read_header(p))
    elif layout == "btut":
        parsed = _read_btut(p, _read_header(p))
    else:
        parsed = _read_opsd(p)
    for frame in parsed.frames.values():
        frame.attrs.update(layout=layout, source=p.name)
    return parsed


def read_source_file(path: str | os.PathLike) -> SourceFile:
    """Parse a CSV of a known layout (cached per path, size and modification time).

    The frames are shared by later calls: copy before changing them.
    """
    p = _data_file(path).resolve()
    st = p.stat()
    return _read_cached(str(p), st.st_mtime_ns, st.st_size)
