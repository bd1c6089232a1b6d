"""``load_market_data``: one zone's market data for whole local market days, in UTC."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from data.checks import check_bool, check_path_given, clip_repr
from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError
from data.layouts import ANY_ZONE, read_source_file
from data.schema import INDEX_NAME, RESOLUTIONS, order_columns
from data.validation import resolution_of
from data.zones import Zone, get_zone

#: Bundled file (in ``data/bundled``) serving each zone when ``source=None``.
BUNDLED_FILES: dict[str, str] = {
    "ES": "spain_energy_2015_2017.csv.gz",
    "DE": "epftoolbox_DE.csv.gz",
    "AT": "opsd_AT_CH_FR_2018_2020_60min.csv.gz",
    "CH": "opsd_AT_CH_FR_2018_2020_60min.csv.gz",
    "FR": "opsd_AT_CH_FR_2018_2020_60min.csv.gz",
    "DE_LU": "opsd_DE_2018_60min.csv.gz",
    "DE_50HZ": "opsd_DE_2018_60min.csv.gz",
    "DE_AMPRION": "opsd_DE_2018_60min.csv.gz",
    "DE_TENNET": "opsd_DE_2018_60min.csv.gz",
    "DE_TRANSNET": "opsd_DE_2018_60min.csv.gz",
}


def bundled_path(filename: str) -> Path:
    """Path of a file shipped in ``data/bundled``."""
    return Path(str(resources.files("data") / "bundled" / filename))


FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2199, 12, 31)
"""Market days outside these are refused as parameters: no data reaches them, and days a
year away from ``date.max`` overflow the date arithmetic (history windows, next days)."""


def check_day_range(day: dt.date, what: str = "date") -> dt.date:
    """``day`` if within :data:`FIRST_DAY` .. :data:`LAST_DAY`, else ``InvalidParameterError``."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidParameterError(f"{what} {day} is outside {FIRST_DAY} .. {LAST_DAY}")
    return day


def as_market_day(value: str | dt.date | pd.Timestamp, what: str = "date") -> dt.date:
    """A local market day from ``YYYY-MM-DD`` text, a ``date`` or a naive midnight
    (``datetime``, ``Timestamp``, ``numpy.datetime64``). A time of day or a UTC offset does not
    say which local day is meant, and anything else (NaT, a number) is no day: each is a
    one-line ``InvalidParameterError``."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    if value is pd.NaT:
        raise InvalidParameterError(f"{what} is missing (NaT), not a day")
    if isinstance(value, dt.datetime):
        ns = value.nanosecond if isinstance(value, pd.Timestamp) else 0
        if value.tzinfo is None and value.time() == dt.time(0) and not ns:
            return check_day_range(value.date(), what)
        raise InvalidParameterError(
            f"{what} must be a day (YYYY-MM-DD or a naive midnight), got {clip_repr(value)}"
        )
    if isinstance(value, dt.date):
        return check_day_range(value, what)
    if not isinstance(value, str):
        raise InvalidParameterError(f"{what} must be a day YYYY-MM-DD, got {clip_repr(value)}")
    try:
        day = dt.date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidParameterError(
            f"{what} {clip_repr(value)} is not a date (YYYY-MM-DD)"
        ) from None
    return check_day_range(day, what)


def local_day_bounds_utc(
    zone: Zone, start: dt.date, end: dt.date
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """UTC instants of local midnight at ``start`` and ``end`` in the zone's time zone."""
    return (
        pd.Timestamp(start).tz_localize(zone.tz).tz_convert("UTC"),
        pd.Timestamp(end).tz_localize(zone.tz).tz_convert("UTC"),
    )


@dataclass(frozen=True)
class Coverage:
    """First and last local market day with any value for a zone in a source."""

    zone: str
    first_day: dt.date
    last_day: dt.date
    columns: tuple[str, ...]
    source: str

    def to_dict(self) -> dict:
        return {
            "zone": self.zone,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "columns": list(self.columns),
            "source": self.source,
        }


def coverage(frame: pd.DataFrame, zone: Zone) -> Coverage:
    """Whole local days from the first to the last row holding any non-missing value."""
    has_value = frame.notna().any(axis=1).to_numpy()
    if not has_value.any():
        raise DataUnavailableError(f"zone {zone.code}: the source holds no values")
    rows = np.flatnonzero(has_value)
    step = resolution_of(frame.index) or pd.Timedelta(hours=1)
    first, last = (
        frame.index[rows[0]].tz_convert(zone.tz),
        frame.index[rows[-1]].tz_convert(zone.tz),
    )
    # only whole days count: a first row after local midnight or a last row before the
    # day's final interval makes that edge day partial, so it is outside the coverage
    first_day = first.date() if first == first.normalize() else first.date() + dt.timedelta(days=1)
    last_day = (
        last.date()
        if (last + step).normalize() == last + step
        else last.date() - dt.timedelta(days=1)
    )
    return Coverage(
        zone.code,
        first_day,
        last_day,
        tuple(frame.columns),
        str(frame.attrs.get("source", "")),
    )


def _zone_frame_from_file(zone: Zone, path: Path, *, bundled: bool) -> pd.DataFrame:
    parsed = read_source_file(path)
    where = "bundled file" if bundled else "file"
    if not any(len(frame) for frame in parsed.frames.values()):
        raise DataUnavailableError(f"{where} {path.name} has no data rows (only a header)")
    if ANY_ZONE in parsed.frames:  # a btut file without a zone column: the zone asked
        return parsed.frames[ANY_ZONE]
    if zone.code not in parsed.frames:
        have = ", ".join(sorted(parsed.frames))
        raise DataUnavailableError(
            f"zone {zone.code} is not in {where} {path.name} "
            f"({parsed.layout} layout; zones: {have})"
        )
    return parsed.frames[zone.code]


@cache
def bundled_coverage() -> dict[str, Coverage]:
    """Coverage of every zone the bundled data serves, by zone code."""
    return {
        code: coverage(
            _zone_frame_from_file(get_zone(code), bundled_path(f), bundled=True), get_zone(code)
        )
        for code, f in BUNDLED_FILES.items()
    }


def check_index(frame: pd.DataFrame) -> None:
    """Raise ``DataValidationError`` unless the index is a UTC, strictly increasing
    ``DatetimeIndex`` without duplicates; the message names the offending timestamps."""
    if not isinstance(frame, pd.DataFrame | pd.Series):
        raise InvalidParameterError(
            f"frame must be a pandas DataFrame or Series, got {type(frame).__name__}"
        )
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        raise DataValidationError(f"index must be a DatetimeIndex, got {type(idx).__name__}")
    if idx.tz is None or str(idx.tz) != "UTC":
        raise DataValidationError(f"index must be tz-aware UTC, got tz={idx.tz}")
    dup = idx[idx.duplicated()]
    if len(dup):
        shown = ", ".join(t.isoformat() for t in dup.unique()[:5])
        more = f" (+{dup.nunique() - 5} more)" if dup.nunique() > 5 else ""
        raise DataValidationError(f"{len(dup)} duplicate timestamps: {shown}{more}")
    if not idx.is_monotonic_increasing:
        back = np.flatnonzero(np.diff(idx.asi8) < 0)
        shown = ", ".join(f"{idx[i].isoformat()} -> {idx[i + 1].isoformat()}" for i in back[:3])
        raise DataValidationError(f"index is not increasing: {shown}")


def check_finite(frame: pd.DataFrame, source: str = "") -> None:
    """Raise ``DataValidationError`` if a numeric column holds +inf or -inf; the message
    names the source, the column and the first such timestamp. NaN is a missing value and
    passes (``validate_market_data`` counts it)."""
    numeric = frame.select_dtypes("number")
    if numeric.empty:
        return
    bad = np.isinf(numeric.to_numpy(dtype="float64"))
    if not bad.any():
        return
    rows, cols = np.nonzero(bad)
    row = int(rows.min())
    col = numeric.columns[int(cols[rows == row][0])]
    where = f" in {source}" if source else ""
    raise DataValidationError(
        f"non-finite value {numeric.iloc[row][col]}{where}: column {col} at "
        f"{frame.index[row].isoformat()}"
    )


def check_window(
    zone: str, start: str | dt.date | pd.Timestamp, end: str | dt.date | pd.Timestamp
) -> tuple[Zone, dt.date, dt.date]:
    """The zone and the market days ``start`` .. ``end`` (exclusive) of a data request,
    checked: an unknown zone, a malformed date or an empty window is a one-line error."""
    z = get_zone(zone)
    d0, d1 = as_market_day(start, "start"), as_market_day(end, "end")
    if d1 <= d0:
        raise InvalidParameterError(f"end {d1} must be after start {d0} (end is exclusive)")
    return z, d0, d1


def check_entsoe_days(start: dt.date) -> None:
    """``DataUnavailableError`` when the market day ``start`` is before the first day the
    ENTSO-E Transparency Platform serves (``data.entsoe_api.FIRST_DAY``), as days outside a
    file's data are (a caller that loads history where it exists falls back on it)."""
    from data.entsoe_api import FIRST_DAY as ENTSOE_FIRST_DAY  # lazy: pulls in entsoe-py

    if start < ENTSOE_FIRST_DAY:
        raise DataUnavailableError(
            f"start {start} is before {ENTSOE_FIRST_DAY}, the first day ENTSO-E's "
            "Transparency Platform serves"
        )


def load_market_data(
    zone: str,
    start: str | dt.date | pd.Timestamp,
    end: str | dt.date | pd.Timestamp,
    *,
    source: str | os.PathLike | None = None,
    cache_dir: str | os.PathLike | None = None,
    resolution: str = "native",
    progress: Callable[[int, int, str], None] | None = None,
    strict_index: bool = True,
) -> pd.DataFrame:
    """Market data of ``zone`` for local market days ``start`` (incl.) to ``end`` (excl.).

    Parameters
    ----------
    zone : ENTSO-E bidding-zone code (``"ES"``, ``"DE_LU"``, ``"FR"``, ...); ``"DE"`` is the
        epftoolbox German file.
    start, end : market days in the zone's local time; ``end`` is exclusive.
    source : ``None`` for the bundled data, a path to a CSV in a known layout (spain,
        epftoolbox, opsd, btut; detected from the header), or ``"entsoe"`` for the ENTSO-E
        Transparency API (key from ``ENTSOE_API_KEY``, responses cached on disk).
    cache_dir : API cache directory (default ``$BTUT_CACHE_DIR`` or ``~/.cache/btut``).
    resolution : API only: ``"native"``, ``"60min"`` or ``"15min"`` (see ``data.entsoe_api``).
    progress : API only: ``callback(done, total, what)`` after each API query (see
        ``data.entsoe_api.fetch_entsoe``); files and bundled data load at once.
    strict_index : ``False`` lets duplicate and out-of-order timestamps through as they are
        in the source, for ``validate_market_data`` to report (``btut data validate``);
        by default they raise ``DataValidationError``.

    Returns
    -------
    DataFrame indexed by UTC interval start (``time_utc``), one row per market interval
    present in the source (23 hourly rows on a spring DST day, 25 in autumn), with the
    canonical columns the source has (units in the names). Missing values stay NaN and
    gaps stay gaps: ``validate_market_data`` reports them. A window without any row (it
    falls inside a gap of the source) raises ``DataUnavailableError`` naming the gap; an
    infinite value raises ``DataValidationError``.
    """
    z, d0, d1 = check_window(zone, start, end)
    strict_index = check_bool(strict_index, "strict_index")
    if progress is not None and not callable(progress):  # also for bundled data: said at once
        raise InvalidParameterError(f"progress must be a callable or None, got {progress!r}")
    if resolution not in RESOLUTIONS:
        raise InvalidParameterError(
            f"resolution must be one of {', '.join(RESOLUTIONS)}, got {clip_repr(resolution)}"
        )
    is_api = isinstance(source, str) and source.lower() == "entsoe"
    if resolution != "native" and not is_api:  # a file has its own resolution: never resampled
        raise InvalidParameterError(
            f"resolution={resolution!r} is for source='entsoe' only; bundled data and files "
            "come at their own resolution (resolution='native')"
        )
    t0, t1 = local_day_bounds_utc(z, d0, d1)

    if source is None:
        if z.code not in BUNDLED_FILES:
            raise DataUnavailableError(
                f"zone {z.code} has no bundled data (bundled: {', '.join(sorted(BUNDLED_FILES))}); "
                "use source='entsoe' or a CSV path"
            )
        full = _zone_frame_from_file(z, bundled_path(BUNDLED_FILES[z.code]), bundled=True)
        label = f"bundled:{BUNDLED_FILES[z.code]}"
    elif isinstance(source, str) and source.lower() == "entsoe":
        from data.entsoe_api import fetch_entsoe  # lazy: pulls in entsoe-py and requests

        check_entsoe_days(d0)  # said as the local day asked, not as a UTC instant
        full = order_columns(
            fetch_entsoe(z, t0, t1, cache_dir=cache_dir, resolution=resolution, progress=progress)
        )
        label = "entsoe"
        if full.empty or full.dropna(how="all").empty:
            raise DataUnavailableError(f"ENTSO-E returned no data for {z.code} {d0}..{d1}")
    else:
        if not isinstance(source, str | os.PathLike):
            raise InvalidParameterError(
                f"source must be a CSV path, 'entsoe' or None, got {type(source).__name__}"
            )
        check_path_given(
            source, "source", "a CSV path, 'entsoe', or no source for the bundled data"
        )
        full = _zone_frame_from_file(z, Path(source), bundled=False)
        label = str(source)

    # the source in time order: what its coverage and gaps are read from
    ordered = full
    if strict_index:
        check_index(full)
    else:  # kept as they are for the report; still a UTC DatetimeIndex
        ordered = full.sort_index(kind="stable")
        check_index(ordered.loc[~ordered.index.duplicated()])
    check_finite(full, Path(label).name if label != "entsoe" else label)
    first_day = None
    if label != "entsoe":
        cov = coverage(ordered, z)
        first_day = cov.first_day.isoformat()
        last_end = cov.last_day + dt.timedelta(days=1)
        if d0 < cov.first_day or d1 > last_end:
            raise DataUnavailableError(
                f"{d0}..{d1} is outside the {z.code} data in {Path(label).name}: "
                f"{cov.first_day} to {cov.last_day} (local days)"
            )
    frame = full.loc[(full.index >= t0) & (full.index < t1)].copy()
    if frame.empty:
        # the whole window falls in a gap of the source: there is nothing to return
        step = resolution_of(ordered.index) or pd.Timedelta(hours=1)
        before, after = ordered.index[ordered.index < t0], ordered.index[ordered.index >= t1]
        lo = before[-1] + step if len(before) else t0
        hi = after[0] if len(after) else t1
        raise DataUnavailableError(
            f"no {z.code} data for {d0}..{d1} in {Path(label).name}: the source has a gap of "
            f"{int((hi - lo) / step)} interval(s) from {lo.isoformat()} to {hi.isoformat()}"
        )
    # one index dtype whatever the source parsed to (pandas 3 infers s/us/ns units)
    frame.index = frame.index.as_unit("ns").rename(INDEX_NAME)
    frame.attrs.update(
        full.attrs,
        zone=z.code,
        tz=z.tz,
        source=label,
        start=d0.isoformat(),
        end=d1.isoformat(),
        start_utc=t0.isoformat(),
        end_utc=t1.isoformat(),
    )
    if first_day is not None:  # the source's first local day with data (files only)
        frame.attrs["first_day"] = first_day
    frame.attrs.pop("dropped_nonexistent_local", None)
    if len(frame) < 2 and "resolution" not in frame.attrs:
        # one row cannot show its step: give validation the source's, so that the rest
        # of the window is reported as a gap
        step = resolution_of(ordered.index)
        if step is not None:
            frame.attrs["resolution"] = f"{int(step.total_seconds() // 60)}min"
    return frame
