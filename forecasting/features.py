"""Day-ahead information sets and features: what is known at the cut-off, and from it,
one feature row per target interval.

Setting
-------
The values of market day D (24 hourly intervals, 23/25 on DST days, or 96 quarter-hours)
are forecast at the **cut-off**: local noon of day D−1 in the zone's time zone
(``frame.attrs["tz"]`` or an explicit ``tz=``). Market days are local calendar days.

Availability rule (the one place it is decided)
-----------------------------------------------
Every value of a market frame belongs to an interval ``[start, end)`` of one column. It is
known at the cut-off ``c`` iff ``end <= availability_horizon(column, c, tz)``:

* **realised measurements** (``load_mw``, ``solar_mw``, ``wind_mw`` and any column this
  module does not recognise, conservatively): published when the interval has ended,
  so the horizon is ``c`` itself. At noon of D−1 the load of D−1 is known up to the
  11:00–12:00 interval, nothing later.
* **realised day-ahead prices** (``price_eur_per_mwh``, ``price_usd_per_mwh``): the prices
  of day X are published *just after* local noon of X−1 (``PUBLICATION_HOUR``), so they
  are known iff ``noon(X−1) < c``. At noon of D−1: prices of D−1 and earlier are known,
  those of D are not.
* **published forecasts** (any column with ``_forecast`` in its name: the TSO's load,
  solar, wind, renewables and price forecasts): those for day X are published *at or
  before* noon of X−1, so they are known iff ``noon(X−1) <= c``. At noon of D−1:
  forecasts for D and earlier are known, those for D+1 are not.

The horizon is always a local midnight (prices, forecasts) or the cut-off (realised), so
the rule is monotone: a value known at ``c`` is known at every later cut-off.
``available_at`` applies it to a whole frame (the no-look-ahead tests perturb exactly the
values it marks unknown); ``day_ahead_features`` applies the same function to every value
it reads.

Features (one row per target interval ``t`` of day D, local clock time ``hh:mm``)
---------------------------------------------------------------------------------
* ``lag{k}d``: the target at the same local clock time on D−k for each ``k`` in ``lags``
  (default 1, 2, 7). A clock time that does not exist on D−k (spring DST gap) is shifted
  forward to the first existing instant; an ambiguous one (autumn) takes its first,
  summer-time occurrence.
* ``lag{k}d_h{HH}`` for each ``k`` in ``profile_lags`` (default none; e.g. 1, 2, 3, 7 for
  prices, as the open-access LEAR/DNN benchmark models use): the target at local clock
  time ``HH:00`` of D−k for every hour ``HH`` = 00 … 23, the same on every row of day D
  (the whole daily profile of D−k, not only the row's own clock time). Clock times are
  resolved as for ``lag{k}d`` (spring gap: shifted forward; autumn: first occurrence); at
  quarter-hour resolution the ``HH:00`` interval stands for the hour. Unknown at the
  cut-off (e.g. realised load of D−1 after 11:00) → NaN, like every other feature.
* ``last``: the last non-missing target value known at the cut-off (at most one day old).
* ``<column>`` for each exogenous forecast column (default: every ``*_forecast*`` column
  of the frame): its value for interval ``t``; and ``<column>_lag{k}d``, its value at the
  same clock time on D−k, for each ``k`` in ``exog_lags`` (default none).
* ``<column>_h{HH}`` / ``<column>_lag{k}d_h{HH}`` for each exogenous column and each ``k``
  in ``exog_profile_lags`` (0: day D itself, the published forecasts of the whole day;
  default none): the column's whole hourly profile of D−k, as for ``profile_lags``.
* Each of the above has a ``<name>_missing`` indicator (1.0 when the value is not known at
  the cut-off or missing in the data, where the value itself is NaN; models standardise
  and then set NaN to 0, i.e. to the training mean).
* Calendar, all from local time: ``tod_sin1/cos1/sin2/cos2`` (time of day, periods 24 h
  and 12 h), ``hour_00`` … ``hour_23`` one-hot, ``dow_0`` (Monday) … ``dow_6`` one-hot of
  day D, ``doy_sin/doy_cos`` (day of year). No holiday calendar (none is bundled).

Target intervals are generated from the calendar (local midnight to local midnight of D
at the frame's resolution), so they need not be rows of the frame: forecasting a day after
the end of a history frame works, with the unknown values masked.
"""

from __future__ import annotations

import datetime as dt
import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError
from data.loader import as_market_day, check_index
from data.validation import resolution_of
from data.zones import check_tz

#: Local hour of day D−1 at which day D is forecast.
CUTOFF_HOUR = 12
#: Local hour of day X−1 at which day-ahead prices and forecasts for day X are published.
PUBLICATION_HOUR = 12
#: Realised price columns (published after the day-ahead auction, around noon of X−1).
REALISED_PRICE_COLUMNS = ("price_eur_per_mwh", "price_usd_per_mwh")
#: Oldest "last known" target value used, relative to the availability horizon.
MAX_LAST_AGE = pd.Timedelta(days=1)

#: Longest lag, season or window accepted, in days (100 years: more than any data reaches,
#: and small enough for the nanosecond arithmetic of the lags).
MAX_LAG_DAYS = 36_525

_NS_PER_DAY = 86_400 * 10**9


def is_number(value: Any) -> bool:
    """True for a real number, Python or numpy, that is not a bool and not NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    return isinstance(value, numbers.Integral) or not math.isnan(value)


def is_whole(value: Any, minimum: int, maximum: int | None = None) -> bool:
    """True for a whole number (``is_number``, e.g. ``3``, ``np.int64(3)`` or ``3.0``) in
    ``minimum .. maximum``."""
    if not is_number(value):
        return False
    if not isinstance(value, numbers.Integral) and not (
        math.isfinite(value) and int(value) == value
    ):
        return False
    return minimum <= value and (maximum is None or value <= maximum)


def check_whole(value: Any, name: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an ``int`` if ``is_whole``, else a one-line ``InvalidParameterError``
    naming ``name`` and the value."""
    if not is_whole(value, minimum, maximum):
        span = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
        raise InvalidParameterError(f"{name} must be a whole number {span}, got {value!r}")
    return int(value)


def column_list(columns: Any, name: str) -> list[str]:
    """Column names as a list: one name (a ``str``) is a one-element list."""
    if isinstance(columns, str):
        return [columns]
    try:
        out = list(columns)
    except TypeError:
        out = None
    if out is None or not all(isinstance(c, str) for c in out):
        raise InvalidParameterError(
            f"{name} must be a column name or a list of column names, got {columns!r}"
        )
    return out


def column_kind(column: str) -> str:
    """``"forecast"``, ``"price"`` or ``"realised"``: which availability rule applies."""
    if not isinstance(column, str):
        raise InvalidParameterError(f"column must be a column name (str), got {column!r}")
    if "_forecast" in column:
        return "forecast"
    if column in REALISED_PRICE_COLUMNS:
        return "price"
    return "realised"


def forecast_columns(frame: pd.DataFrame) -> list[str]:
    """Columns of ``frame`` holding published (day-ahead) forecasts, in frame order."""
    return [c for c in frame.columns if column_kind(str(c)) == "forecast"]


def resolve_tz(frame: pd.DataFrame, tz: str | None = None) -> str:
    """The zone's time zone: ``tz`` if given, else ``frame.attrs["tz"]``."""
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"expected a pandas DataFrame as data.load_market_data returns, got "
            f"{type(frame).__name__}"
        )
    tz = tz or frame.attrs.get("tz")
    if not tz:
        raise InvalidParameterError(
            "the frame has no attrs['tz'] (load it with data.load_market_data) and no tz= given"
        )
    return check_tz(tz)


def _day_lags(values: Iterable[int], what: str) -> tuple[int, ...]:
    """Lags in days as integers (at most ``MAX_LAG_DAYS``), or a one-line
    ``InvalidParameterError``."""
    try:
        lags = tuple(values)
    except TypeError:
        lags = None
    if lags is None or not all(is_whole(k, -MAX_LAG_DAYS, MAX_LAG_DAYS) for k in lags):
        raise InvalidParameterError(
            f"{what} must be whole numbers of days (at most {MAX_LAG_DAYS}), got {values!r}"
        )
    return tuple(int(k) for k in lags)


def _localize(wall: np.ndarray, tz: str) -> np.ndarray:
    """UTC ns (int64) of naive local wall times (datetime64[ns]); a wall time in a spring
    DST gap moves forward to the gap's end, an ambiguous one takes its summer-time instant."""
    idx = pd.DatetimeIndex(wall).as_unit("ns")
    loc = idx.tz_localize(tz, ambiguous=np.ones(len(idx), dtype=bool), nonexistent="shift_forward")
    return loc.tz_convert("UTC").as_unit("ns").asi8


def _midnights_utc(days: np.ndarray, tz: str) -> np.ndarray:
    """UTC ns of local midnight at the start of each day (``datetime64[D]`` array)."""
    return _localize(days.astype("datetime64[ns]"), tz)


def cutoff_for_day(
    day: str | dt.date | pd.Timestamp, tz: str, *, cutoff_hour: int = CUTOFF_HOUR
) -> pd.Timestamp:
    """UTC instant of the cut-off for market day ``day``: local ``cutoff_hour`` (0..23) on
    day−1."""
    d = np.array([np.datetime64(as_market_day(day, "day"), "D")])
    return pd.Timestamp(_cutoffs_utc(d, check_tz(tz), cutoff_hour)[0], tz="UTC")


def _cutoffs_utc(days: np.ndarray, tz: str, cutoff_hour: int) -> np.ndarray:
    hour = check_whole(cutoff_hour, "cutoff_hour", 0, 23)
    wall = (days - np.timedelta64(1, "D")).astype("datetime64[ns]") + np.timedelta64(hour, "h")
    return _localize(wall, tz)


def _horizons(kind: str, cutoffs: np.ndarray, tz: str) -> np.ndarray:
    """Vectorised availability horizon (UTC ns) for cut-offs given as UTC ns (int64)."""
    if kind == "realised":
        return cutoffs.astype(np.int64)
    wall = pd.DatetimeIndex(cutoffs.astype("datetime64[ns]"), tz="UTC").tz_convert(tz)
    wall_ns = wall.tz_localize(None).as_unit("ns").asi8
    day_ns = wall_ns - wall_ns % _NS_PER_DAY  # local date of the cut-off (as wall ns)
    since_pub = wall_ns - day_ns - PUBLICATION_HOUR * 3_600 * 10**9
    # day X is known iff noon(X−1) < c (prices) or <= c (forecasts); X* = last known day
    later = since_pub > 0 if kind == "price" else since_pub >= 0
    last_day = day_ns // _NS_PER_DAY + later.astype(np.int64)
    return _midnights_utc((last_day + 1).astype("datetime64[D]"), tz)


def _cutoff_ns(cutoff: Any) -> np.ndarray:
    """A tz-aware instant as a one-element array of UTC ns, else ``InvalidParameterError``."""
    try:
        c = pd.Timestamp(cutoff)
    except (TypeError, ValueError, OverflowError):
        c = None
    if c is None or pd.isna(c):
        raise InvalidParameterError(f"cutoff must be a tz-aware timestamp, got {cutoff!r}")
    if c.tzinfo is None:
        raise InvalidParameterError(f"cutoff {cutoff} must be tz-aware")
    return np.array([c.tz_convert("UTC").as_unit("ns").value], dtype=np.int64)


def availability_horizon(column: str, cutoff: pd.Timestamp, tz: str) -> pd.Timestamp:
    """UTC instant ``h``: a value of ``column`` for interval ``[start, end)`` is known at
    ``cutoff`` iff ``end <= h`` (see the module docstring for the rule)."""
    kind = column_kind(column)
    ns = _cutoff_ns(cutoff)
    return pd.Timestamp(int(_horizons(kind, ns, check_tz(tz))[0]), tz="UTC")


def interval_step(frame: pd.DataFrame, step: pd.Timedelta | None = None) -> pd.Timedelta:
    """``step`` if given, else the frame's resolution (most common step); must divide a day."""
    step = step if step is not None else resolution_of(frame.index)
    if step is None:
        raise InvalidParameterError("cannot infer the resolution of a frame with < 2 rows")
    given = step
    try:
        step = pd.Timedelta(step)
    except (TypeError, ValueError, OverflowError):
        step = None
    if step is None or pd.isna(step):
        raise InvalidParameterError(f"step must be a time span such as '1h', got {given!r}")
    if step <= pd.Timedelta(0) or pd.Timedelta(days=1) % step:
        raise InvalidParameterError(f"resolution {step} does not divide a day")
    return step


def available_at(
    frame: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    tz: str | None = None,
    step: pd.Timedelta | None = None,
) -> pd.DataFrame:
    """Boolean frame (same index and columns as ``frame``): True where the value was known at
    ``cutoff`` (a tz-aware instant, e.g. ``cutoff_for_day(day, tz)``). The index holds UTC
    interval starts; intervals last ``step`` (default: the frame's resolution)."""
    check_index(frame)
    tz = resolve_tz(frame, tz)
    step = interval_step(frame, step)
    cut = _cutoff_ns(cutoff)
    ends = frame.index.as_unit("ns").asi8 + step.value
    known = {col: ends <= _horizons(column_kind(str(col)), cut, tz)[0] for col in frame.columns}
    return pd.DataFrame(known, index=frame.index, columns=frame.columns)


def information_set(
    frame: pd.DataFrame, cutoff: pd.Timestamp, *, tz: str | None = None
) -> pd.DataFrame:
    """``frame`` with every value not known at ``cutoff`` set to NaN."""
    return frame.where(available_at(frame, cutoff, tz=tz))


def market_days(frame: pd.DataFrame, tz: str | None = None) -> list[dt.date]:
    """Local market days with at least one row in ``frame``, in order."""
    tz = resolve_tz(frame, tz)
    _check_frame_index(frame)
    wall = frame.index.tz_convert(tz).tz_localize(None).as_unit("ns").asi8
    days = np.unique(wall // _NS_PER_DAY).astype("datetime64[D]")
    return [d.item() for d in days]


def as_days(days: Iterable[str | dt.date | pd.Timestamp] | str | dt.date) -> np.ndarray:
    """Sorted unique ``datetime64[D]`` array of market days."""
    if isinstance(days, str | dt.date | pd.Timestamp):
        days = [days]
    out = np.unique(np.array([np.datetime64(as_market_day(d, "day"), "D") for d in days]))
    if not len(out):
        raise InvalidParameterError("no market days given")
    return out


@dataclass(frozen=True)
class DayAheadFeatures:
    """Features of the target intervals of some market days.

    ``X``: (n_intervals, n_features) float64 frame indexed by ``time_utc`` (UTC interval
    starts); NaN marks unknown values (with a ``*_missing`` indicator column). ``y``:
    (n_intervals,) realised target (NaN where the frame has none), only for training and
    scoring, never a feature. ``day``: (n_intervals,) ``datetime64[D]`` market day of each
    row; ``hour``: local hour of day (0..23); ``continuous``: columns in target-like units
    that models standardise; ``cutoffs``: UTC cut-off per market day in ``days``.
    """

    X: pd.DataFrame
    y: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    days: np.ndarray
    cutoffs: pd.DatetimeIndex
    continuous: list[str] = field(default_factory=list)

    @property
    def feature_names(self) -> list[str]:
        return list(self.X.columns)


def default_days(frame: pd.DataFrame, tz: str, history_days: int) -> np.ndarray:
    """The frame's market days that have ``history_days`` days of the frame before them."""
    all_days = np.array(market_days(frame, tz), dtype="datetime64[D]")
    if not len(all_days):
        return all_days
    return all_days[all_days >= all_days[0] + np.timedelta64(history_days, "D")]


def target_intervals(
    days: np.ndarray, tz: str, step: pd.Timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """UTC ns of every interval start of the given local market days, and the index into
    ``days`` of each interval (23/25 hourly intervals on DST days)."""
    starts = _midnights_utc(days, tz)
    ends = _midnights_utc(days + np.timedelta64(1, "D"), tz)
    counts = (ends - starts) // step.value
    which = np.repeat(np.arange(len(days)), counts)
    offset = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    return starts[which] + offset * step.value, which


def _check_frame_index(frame: pd.DataFrame) -> None:
    """Fast path of ``check_index`` (cached index properties); the full check on failure."""
    idx = frame.index
    ok = (
        isinstance(idx, pd.DatetimeIndex)
        and str(idx.tz) == "UTC"
        and idx.is_monotonic_increasing
        and idx.is_unique
    )
    if not ok:
        check_index(frame)


def _lookup(index_ns: np.ndarray, values: np.ndarray, times_ns: np.ndarray) -> np.ndarray:
    """``values`` at the exact timestamps ``times_ns`` (NaN where the frame has no row)."""
    out = np.full(len(times_ns), np.nan)
    if not len(index_ns):
        return out
    pos = np.minimum(np.searchsorted(index_ns, times_ns), len(index_ns) - 1)
    hit = index_ns[pos] == times_ns
    out[hit] = values[pos[hit]]
    return out


def _last_known(ends_ns: np.ndarray, values: np.ndarray, horizons: np.ndarray) -> np.ndarray:
    """Per horizon: the last non-NaN value whose interval ends at or before it and after
    ``horizon − MAX_LAST_AGE`` (NaN if none)."""
    out = np.full(len(horizons), np.nan)
    if not len(ends_ns):
        return out
    pos = np.searchsorted(ends_ns, horizons, side="right") - 1
    last_valid = np.maximum.accumulate(np.where(np.isnan(values), -1, np.arange(len(values))))
    j = np.where(pos >= 0, last_valid[np.maximum(pos, 0)], -1)
    ok = (j >= 0) & (ends_ns[np.maximum(j, 0)] > horizons - MAX_LAST_AGE.value)
    out[ok] = values[j[ok]]
    return out


def day_ahead_features(
    frame: pd.DataFrame,
    target: str,
    *,
    days: Iterable[str | dt.date | pd.Timestamp] | str | dt.date | pd.Timestamp | None = None,
    lags: Sequence[int] = (1, 2, 7),
    exog: Sequence[str] | None = None,
    exog_lags: Sequence[int] = (),
    profile_lags: Sequence[int] = (),
    exog_profile_lags: Sequence[int] = (),
    tz: str | None = None,
    step: pd.Timedelta | None = None,
    cutoff_hour: int = CUTOFF_HOUR,
) -> DayAheadFeatures:
    """Feature rows for every interval of the market ``days`` (default: the frame's days
    with ``max(lags)`` days of the frame before them), each built only from values of
    ``frame`` known at that day's cut-off (see the module docstring).

    ``lags``: whole days (may be empty); ``profile_lags``: days whose whole hourly target
    profile is a feature of every row (may be empty); ``exog_profile_lags``: the same for
    the exogenous columns, ``0`` meaning day D itself. ``step``: interval length (default:
    the frame's resolution; pass it for frames of a single row).
    ``exog``: forecast columns to use as features, one name or a list (default: all
    forecast columns of ``frame`` except the target); a listed column the frame lacks
    raises ``DataUnavailableError``.
    """
    _check_frame_index(frame)
    tz = resolve_tz(frame, tz)
    if target not in frame.columns:
        raise DataUnavailableError(
            f"target column {target!r} is not in the data (columns: {', '.join(frame.columns)})"
        )
    lags = _day_lags(lags, "lags")
    exog_lags = _day_lags(exog_lags, "exog_lags")
    profile_lags = _day_lags(profile_lags, "profile_lags")
    exog_profile_lags = _day_lags(exog_profile_lags, "exog_profile_lags")
    if any(k < 0 for k in exog_profile_lags) or len(set(exog_profile_lags)) != len(
        exog_profile_lags
    ):
        raise InvalidParameterError(
            f"exog_profile_lags must be distinct whole days >= 0, got {exog_profile_lags}"
        )
    for name, ks in (("lags", lags), ("exog_lags", exog_lags), ("profile_lags", profile_lags)):
        if any(k < 1 for k in ks) or len(set(ks)) != len(ks):
            raise InvalidParameterError(f"{name} must be distinct whole days >= 1, got {ks}")
    # the target is never its own input (a published forecast as target would be copied)
    if exog is None:
        exog = [c for c in forecast_columns(frame) if c != target]
    else:  # one column name is a list of one
        exog = column_list(exog, "exog")
    missing = [c for c in exog if c not in frame.columns]
    if missing:
        raise DataUnavailableError(f"column(s) {', '.join(missing)} not in the data")
    given_step = step
    step = interval_step(frame, step)
    history = max((*lags, *exog_lags, *profile_lags, *exog_profile_lags), default=0)
    day_arr = default_days(frame, tz, history) if days is None else as_days(days)

    if not len(day_arr):
        raise DataUnavailableError(
            f"the data covers no market day with {history} day(s) of history before it"
        )
    times, which = target_intervals(day_arr, tz, step)
    cutoffs = _cutoffs_utc(day_arr, tz, cutoff_hour)

    # only the window the features can reach: from D_min − history − 2 days to D_max + 1
    index_ns = frame.index.as_unit("ns").asi8
    lo = np.searchsorted(index_ns, times[0] - (history + 2) * _NS_PER_DAY)
    hi = np.searchsorted(index_ns, times[-1] + _NS_PER_DAY)
    index_ns = index_ns[lo:hi]
    ends_ns = index_ns + step.value
    if given_step is not None:
        own = resolution_of(frame.index[lo:hi])
        if own is not None and own != step:
            raise InvalidParameterError(f"the data has {own} intervals, expected {step}")

    def values(col: str) -> np.ndarray:
        out = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)[lo:hi]
        bad = np.isinf(out)
        if bad.any():  # no value of a market quantity: NaN is missing, inf is wrong data
            first = frame.index[lo:hi][bad][0]
            raise DataValidationError(
                f"{col} holds {int(bad.sum())} infinite value(s), the first at "
                f"{first.isoformat()}: a missing value is NaN"
            )
        return out

    wall = pd.DatetimeIndex(times.astype("datetime64[ns]"), tz="UTC").tz_convert(tz)
    wall_ns = wall.tz_localize(None).as_unit("ns").asi8
    cols: dict[str, np.ndarray] = {}
    continuous: list[str] = []

    def add(name: str, vals: np.ndarray) -> None:
        cols[name] = vals
        cols[f"{name}_missing"] = np.isnan(vals).astype(np.float64)
        continuous.append(name)

    y_all = values(target)
    h_target = _horizons(column_kind(target), cutoffs, tz)[which]
    lag_src = {
        k: _localize((wall_ns - k * _NS_PER_DAY).astype("datetime64[ns]"), tz)
        for k in sorted({*lags, *exog_lags})
    }
    for k in lags:
        src = lag_src[k]
        v = _lookup(index_ns, y_all, src)
        v[src + step.value > h_target] = np.nan
        add(f"lag{k}d", v)

    # whole hourly profiles of D−k: one set of 24 values per day, repeated on its rows
    profile_src = {
        k: [
            _localize(
                (day_arr - np.timedelta64(k, "D")).astype("datetime64[ns]")
                + np.timedelta64(hh, "h"),
                tz,
            )
            for hh in range(24)
        ]
        for k in sorted({*profile_lags, *exog_profile_lags})
    }

    def add_profiles(name: str, col_values: np.ndarray, horizon: np.ndarray, k: int) -> None:
        for hh, src in enumerate(profile_src[k]):
            v = _lookup(index_ns, col_values, src)
            v[src + step.value > horizon] = np.nan
            add(f"{name}_h{hh:02d}", v[which])

    h_day = _horizons(column_kind(target), cutoffs, tz)
    for k in profile_lags:
        add_profiles(f"lag{k}d", y_all, h_day, k)

    # last non-missing target value known at the cut-off, at most MAX_LAST_AGE old
    add("last", _last_known(ends_ns, y_all, h_day)[which])

    for col in exog:
        col_values = values(col)
        h = _horizons(column_kind(col), cutoffs, tz)[which]
        v = _lookup(index_ns, col_values, times)
        v[times + step.value > h] = np.nan
        add(col, v)
        for k in exog_lags:
            v = _lookup(index_ns, col_values, lag_src[k])
            v[lag_src[k] + step.value > h] = np.nan
            add(f"{col}_lag{k}d", v)
        h_col = _horizons(column_kind(col), cutoffs, tz)
        for k in exog_profile_lags:
            add_profiles(col if k == 0 else f"{col}_lag{k}d", col_values, h_col, k)

    tod = (wall_ns % _NS_PER_DAY) / _NS_PER_DAY
    for m in (1, 2):
        cols[f"tod_sin{m}"] = np.sin(2 * np.pi * m * tod)
        cols[f"tod_cos{m}"] = np.cos(2 * np.pi * m * tod)
    hour = (wall_ns % _NS_PER_DAY) // (3_600 * 10**9)
    for h in range(24):
        cols[f"hour_{h:02d}"] = (hour == h).astype(np.float64)
    row_day = day_arr[which]
    dow = (row_day.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
    for d in range(7):
        cols[f"dow_{d}"] = (dow == d).astype(np.float64)
    year_start = row_day.astype("datetime64[Y]").astype("datetime64[D]")
    doy = (row_day - year_start).astype(np.int64) / 365.25
    cols["doy_sin"] = np.sin(2 * np.pi * doy)
    cols["doy_cos"] = np.cos(2 * np.pi * doy)

    index = pd.DatetimeIndex(times.astype("datetime64[ns]"), tz="UTC", name="time_utc")
    X = pd.DataFrame(np.column_stack(list(cols.values())), index=index, columns=list(cols))
    y = _lookup(index_ns, y_all, times)
    return DayAheadFeatures(
        X=X,
        y=y,
        day=row_day,
        hour=hour.astype(np.int64),
        days=day_arr,
        cutoffs=pd.DatetimeIndex(cutoffs.astype("datetime64[ns]"), tz="UTC"),
        continuous=continuous,
    )


__all__ = [
    "CUTOFF_HOUR",
    "MAX_LAG_DAYS",
    "PUBLICATION_HOUR",
    "DayAheadFeatures",
    "as_days",
    "availability_horizon",
    "available_at",
    "check_tz",
    "check_whole",
    "column_kind",
    "column_list",
    "cutoff_for_day",
    "day_ahead_features",
    "forecast_columns",
    "information_set",
    "interval_step",
    "is_number",
    "is_whole",
    "market_days",
    "resolve_tz",
    "target_intervals",
]
