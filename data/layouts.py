"""Readers for the CSV layouts of the real ENTSO-E-derived files BTUT knows.

Every reader turns one file into ``{zone_code: frame}``: each frame is indexed by a
tz-aware UTC ``DatetimeIndex`` named ``time_utc`` (interval start) and holds only the
canonical columns the file really has (see ``data.schema``). Values are never changed,
filled or resampled.

Layouts (detected from the header line):

``spain``
    Kaggle "Hourly energy demand generation and weather" ``energy_dataset.csv``: column
    ``time`` in local Spanish time with an explicit UTC offset, so the UTC mapping is
    exact. ``price actual`` is the realised day-ahead price, ``price day ahead`` the
    TSO's day-ahead price forecast.
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
    Open Power System Data "time_series" extracts: ``utc_timestamp`` is UTC; columns are
    ``<AREA>_<variable>`` for several areas (AT, CH, FR, DE, DE_LU, the four German TSO
    control areas).
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from data.errors import DataUnavailableError, DataValidationError
from data.schema import INDEX_NAME, order_columns
from data.zones import get_zone


@dataclass(frozen=True)
class SourceFile:
    """A parsed CSV: its ``layout`` name, ``path`` and one frame per zone it covers."""

    layout: str
    path: str
    frames: dict[str, pd.DataFrame]


def _read_header(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as fh:
            line = fh.readline()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise DataValidationError(f"cannot read {path.name}: {exc}") from None
    if not line.strip():
        raise DataValidationError(f"{path.name} is empty (no header line)")
    return [c.strip() for c in line.rstrip("\r\n").split(",")]


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataValidationError(f"malformed CSV {path.name}: {first}") from None


def _numeric(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """Column as float64; a value that is not a number raises, naming row and value."""
    values = pd.to_numeric(raw[column], errors="coerce")
    bad = values.isna() & raw[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataValidationError(
            f"malformed CSV {path.name}: column {column.strip()!r} line {row + 2} "
            f"has non-numeric value {raw[column].iloc[row]!r}"
        )
    return values.astype("float64")


def _utc_index(text: pd.Series, path: Path, column: str) -> pd.DatetimeIndex:
    try:
        idx = pd.DatetimeIndex(pd.to_datetime(text, utc=True, format="ISO8601"))
    except (ValueError, TypeError) as exc:
        raise DataValidationError(
            f"malformed CSV {path.name}: column {column!r} has an unparseable timestamp ({exc})"
        ) from None
    if idx.isna().any():
        row = int(np.flatnonzero(idx.isna())[0])
        raise DataValidationError(
            f"malformed CSV {path.name}: column {column!r} line {row + 2} has no timestamp"
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
    index = _utc_index(raw["time"], path, "time")
    cols = {dst: _numeric(raw, src, path) for src, dst in _SPAIN_MAP.items() if src in raw}
    if {"generation wind onshore", "generation wind offshore"} <= set(raw.columns):
        # offshore is 0 wherever reported; a NaN in either part stays NaN (never filled)
        cols["wind_mw"] = _numeric(raw, "generation wind onshore", path) + _numeric(
            raw, "generation wind offshore", path
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
    raw.columns = [c.strip() for c in raw.columns]
    time_col = raw.columns[0]
    try:
        naive = pd.DatetimeIndex(pd.to_datetime(raw[time_col], format="%Y-%m-%d %H:%M:%S"))
    except (ValueError, TypeError) as exc:
        raise DataValidationError(
            f"malformed CSV {path.name}: unparseable timestamp in the first column ({exc})"
        ) from None
    index, keep = localize_evened_out(naive, get_zone(zone_code).tz)
    cols = {dst: _numeric(raw, src, path)[keep] for src, dst in mapping.items()}
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
    index = _utc_index(raw["utc_timestamp"], path, "utc_timestamp")
    by_area: dict[str, dict[str, str]] = {}
    for col in raw.columns[1:]:
        m = _OPSD_COLUMN.match(col)
        if m:
            by_area.setdefault(m["area"], {})[m["var"]] = col
    frames = {}
    for area, variables in by_area.items():
        cols = {
            dst: _numeric(raw, variables[src], path)
            for src, dst in _OPSD_VARS.items()
            if src in variables
        }
        if "wind_mw" not in cols and "wind_onshore_generation_actual" in variables:
            wind = _numeric(raw, variables["wind_onshore_generation_actual"], path)
            if "wind_offshore_generation_actual" in variables:
                wind = wind + _numeric(raw, variables["wind_offshore_generation_actual"], path)
            cols["wind_mw"] = wind
        if cols:
            frames[_OPSD_AREAS.get(area, area)] = _frame(index, cols)
    if not frames:
        raise DataValidationError(
            f"{path.name}: OPSD layout but no known <AREA>_<variable> columns"
        )
    return SourceFile("opsd", str(path), frames)


# --- detection ------------------------------------------------------------------------------------

_LAYOUTS: tuple[tuple[str, Callable[[list[str]], bool]], ...] = (
    ("spain", _is_spain),
    ("epftoolbox", lambda h: _epf_kind(h) is not None),
    ("opsd", _is_opsd),
)


def detect_layout(path: str | os.PathLike) -> str:
    """Name of the layout of the CSV at ``path`` (from its header), or raise."""
    path = Path(path)
    if not path.is_file():
        raise DataUnavailableError(f"no such data file: {path}")
    header = _read_header(path)
    for name, test in _LAYOUTS:
        if test(header):
            return name
    shown = ",".join(header[:4])[:80]
    raise DataValidationError(
        f"unknown CSV layout in {path.name} (header starts {shown!r}); known layouts: "
        "spain (energy_dataset.csv), epftoolbox (DE/BE/NP/PJM), opsd (time_series_60min)"
    )


@lru_cache(maxsize=16)
def _read_cached(path: str, mtime_ns: int, size: int) -> SourceFile:
    p = Path(path)
    layout = detect_layout(p)
    if layout == "spain":
        parsed = _read_spain(p)
    elif layout == "epftoolbox":
        parsed = _read_epftoolbox(p, _read_header(p))
    else:
        parsed = _read_opsd(p)
    for frame in parsed.frames.values():
        frame.attrs.update(layout=layout, source=p.name)
    return parsed


def read_source_file(path: str | os.PathLike) -> SourceFile:
    """Parse a CSV of a known layout (cached per path, size and modification time).

    The frames are shared by later calls: copy before changing them.
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise DataUnavailableError(f"no such data file: {path}")
    st = p.stat()
    return _read_cached(str(p), st.st_mtime_ns, st.st_size)
