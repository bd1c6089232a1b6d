"""Agent profiles from the zone's real load and solar shapes of a market day.

Shapes (:func:`day_profiles`, one local market day of a ``data.load_market_data`` frame):

* **load shape** ``load_shape[t] = L_t / sum_t L_t`` (sums to 1 over the day's H intervals,
  23/25 hourly on DST days) from ``load_mw``; when the day's actuals are missing or
  incomplete, from ``load_forecast_mw`` (the TSO's day-ahead forecast; DE has only that).
* **solar capacity factor** ``solar_cf[t]`` in [0, 1] (average kW per kWp over the interval)
  from ``solar_mw``, else ``solar_forecast_mw``: ``cf_t = clip((S_t - floor) / C, 0, 1)``.
  ``floor`` is the day's minimum (PV makes nothing at night; in Spain ``solar_mw`` includes
  solar thermal plants with storage that run at night, which is not rooftop PV). ``C`` is the
  installed capacity: ``solar_capacity_mw`` when given, else the largest ``S - floor`` of the
  whole frame divided by ``peak_capacity_factor`` (default 0.75, a clear-sky noon for a
  rooftop system). Pass a frame of weeks or a year with ``day=`` to keep the difference
  between sunny and cloudy days; with a one-day frame every day peaks at 0.75.
  No solar column at all (e.g. DE, which has ``renewables_forecast_mw`` = wind + solar only):
  ``DataUnavailableError``, or zero PV with ``require_solar=False``.

Agent energy per interval (kWh): load ``load_kwh_per_day * load_shape[t]`` (the day's energy
whatever its length), PV ``pv_kwp * solar_cf[t] * dt_hours``; net demand = load - PV.
Idiosyncratic noise multiplies each agent's load and PV, independently per interval, by a
mean-one lognormal factor ``exp(s*z - s^2/2)``, ``z ~ N(0, 1)``, ``s = noise``.

Large populations: :func:`iter_net_demand` streams (chunk, H) float32 arrays; the noise of
agent i comes from a random stream keyed by (seed, block of 65,536 agents), so any chunking
(and :func:`agent_net_demand` on any slice) gives the same numbers. N = 10^7 agents x 24
intervals materialised in float32 is 960 MB; stream instead.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import numbers
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, DTypeLike

from agents.config import MAX_NOISE, AgentParams
from agents.population import Population
from data.checks import check_real, check_type
from data.errors import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
)
from data.loader import as_market_day, check_index
from data.seeds import check_seed
from data.validation import resolution_of
from data.zones import check_tz

__all__ = [
    "NOISE_BLOCK",
    "DayShapes",
    "agent_net_demand",
    "agent_profiles",
    "day_profiles",
    "expected_profile",
    "iter_net_demand",
    "planning_profiles",
]

MAX_PLAN_DAYS = 36_525
"""Largest ``naive_days``/``solar_error_days`` of :func:`planning_profiles` (100 years)."""

NOISE_BLOCK = 65_536
"""Agents per noise stream: the unit of reproducible chunking."""

LOAD_COLUMNS = ("load_mw", "load_forecast_mw")
SOLAR_COLUMNS = ("solar_mw", "solar_forecast_mw")


@dataclass(frozen=True, eq=False)
class DayShapes:
    """Normalised real shapes of one market day (arrays of length H).

    ``index``: UTC interval starts; ``clock_hour``: local clock hour of each interval start
    (e.g. 0, 1, 3, 4, ... on a spring DST day); ``dt_hours``: interval length in hours;
    ``load_shape`` (sums to 1); ``solar_cf`` (kW per kWp, in [0, 1]); ``load_column`` /
    ``solar_column``: the columns used (``None``: no solar, zero PV); ``solar_capacity_mw``:
    the capacity ``C`` used for the capacity factor. Plans (:func:`planning_profiles`) also
    carry ``solar_cf_error_sd`` (H,) kW per kWp: the root mean square of the solar plan's
    error by clock time on the ``solar_error_days`` complete days before the cut-off (None
    for realised shapes).
    """

    index: pd.DatetimeIndex
    clock_hour: np.ndarray
    dt_hours: float
    load_shape: np.ndarray
    solar_cf: np.ndarray
    load_column: str
    solar_column: str | None
    solar_capacity_mw: float
    zone: str
    day: dt.date
    tz: str
    solar_cf_error_sd: np.ndarray | None = None
    solar_error_days: int = 0

    @property
    def n_intervals(self) -> int:
        return int(self.load_shape.shape[0])

    def to_frame(self) -> pd.DataFrame:
        """Columns ``clock_hour``, ``load_shape``, ``solar_cf`` (and ``solar_cf_error_sd`` for
        a plan) indexed by ``time_utc``."""
        frame = pd.DataFrame(
            {
                "clock_hour": self.clock_hour,
                "load_shape": self.load_shape,
                "solar_cf": self.solar_cf,
            },
            index=self.index,
        )
        if self.solar_cf_error_sd is not None:
            frame["solar_cf_error_sd"] = self.solar_cf_error_sd
        frame.attrs.update(
            zone=self.zone,
            day=self.day.isoformat(),
            tz=self.tz,
            dt_hours=self.dt_hours,
            load_column=self.load_column,
            solar_column=self.solar_column,
            solar_capacity_mw=self.solar_capacity_mw,
            solar_error_days=self.solar_error_days,
        )
        return frame


def _peak_above_floor(solar: pd.Series, dates: np.ndarray) -> float:
    """Largest output above its day's minimum (MW) over the local days ``dates`` of the rows;
    NaN when ``solar`` is empty or all NaN."""
    whole = solar.clip(lower=0.0)
    floors = whole.groupby(dates).transform("min")
    excess = (whole - floors).to_numpy(dtype=np.float64)
    return float(np.nanmax(excess)) if np.isfinite(excess).any() else float("nan")


def _complete(values: pd.Series) -> bool:
    return bool(len(values)) and bool(np.isfinite(values.to_numpy(dtype=float)).all())


def day_profiles(
    frame: pd.DataFrame,
    *,
    day: str | dt.date | pd.Timestamp | None = None,
    tz: str | None = None,
    solar_capacity_mw: float | None = None,
    peak_capacity_factor: float = 0.75,
    require_solar: bool = True,
) -> DayShapes:
    """Load shape and solar capacity factor of one local market day of ``frame``.

    frame: a ``data.load_market_data`` frame (UTC ``time_utc`` index, ``attrs["tz"]``);
    ``day``: the local day to use (required when the frame spans several days; the whole
    frame still calibrates the solar capacity). See the module doc for the definitions and
    fallbacks. Raises ``DataUnavailableError`` when neither the actuals nor the forecast of
    load (or of solar, with ``require_solar``) are complete on the day, and
    ``DataValidationError`` when the day has gaps.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(f"frame must be a DataFrame, got {type(frame).__name__}")
    check_index(frame)
    tz = tz or frame.attrs.get("tz")
    if not tz:
        raise InvalidParameterError("the frame has no attrs['tz']; pass tz= (the zone's time zone)")
    tz = check_tz(tz)
    if frame.empty:
        raise DataUnavailableError("the frame holds no intervals")
    if not 0.0 < check_real(peak_capacity_factor, "peak_capacity_factor") <= 1.0:
        raise InvalidParameterError(
            f"peak_capacity_factor must be in (0, 1], got {peak_capacity_factor!r}"
        )
    local = frame.index.tz_convert(tz)
    dates = np.asarray(local.date)
    if day is None:
        unique = sorted(set(dates))
        if len(unique) != 1:
            raise InvalidParameterError(
                f"the frame spans {len(unique)} local days ({unique[0]} to {unique[-1]}); pass day="
            )
        the_day = unique[0]
    else:
        the_day = as_market_day(day, "day")
    rows = dates == the_day
    if not rows.any():
        raise DataUnavailableError(f"day {the_day} is not in the frame")
    sub = frame.loc[rows]
    step = resolution_of(frame.index) or pd.Timedelta(hours=1)
    expected = _intervals_in_day(the_day, tz, step)
    minutes = f"{step / pd.Timedelta(minutes=1):g} min"
    if len(sub) != expected:
        raise DataValidationError(
            f"day {the_day} has {len(sub)} of its {expected} intervals of {minutes} (gaps)"
        )
    midnight = pd.Timestamp(the_day).tz_localize(tz).tz_convert("UTC")
    off = sub.index != midnight + np.arange(expected) * step  # as many rows, not the grid
    if off.any():
        raise DataValidationError(
            f"day {the_day} has timestamp(s) off its {minutes} grid from local midnight: "
            f"first {sub.index[off][0].isoformat()}"
        )
    dt_hours = step / pd.Timedelta(hours=1)

    load_column = next((c for c in LOAD_COLUMNS if c in sub and _complete(sub[c])), None)
    if load_column is None:
        have = [c for c in LOAD_COLUMNS if c in sub]
        raise DataUnavailableError(
            f"no complete load on {the_day}: need one of {', '.join(LOAD_COLUMNS)}"
            + (f" ({', '.join(have)} incomplete)" if have else " (none in the data)")
        )
    load = _numeric(sub[load_column], the_day)
    if (load < 0).any() or load.sum() <= 0:
        raise DataValidationError(f"{load_column} on {the_day} is negative or sums to zero")
    load_shape = load / load.sum()

    solar_column = next((c for c in SOLAR_COLUMNS if c in sub and _complete(sub[c])), None)
    H = len(sub)
    if solar_column is None:
        if require_solar:
            have = [c for c in SOLAR_COLUMNS if c in sub]
            raise DataUnavailableError(
                f"no complete solar on {the_day}: need one of {', '.join(SOLAR_COLUMNS)}"
                + (f" ({', '.join(have)} incomplete)" if have else " (none in the data)")
            )
        solar_cf = np.zeros(H)
        capacity = float("nan")
    else:
        solar = np.clip(_numeric(sub[solar_column], the_day), 0.0, None)
        excess = solar - solar.min()
        if solar_capacity_mw is not None:
            capacity = check_real(solar_capacity_mw, "solar_capacity_mw")
            if capacity <= 0:
                raise InvalidParameterError(
                    f"solar_capacity_mw must be > 0, got {solar_capacity_mw!r}"
                )
        else:
            peak = max(_peak_above_floor(frame[solar_column], dates), float(excess.max()))
            capacity = peak / float(peak_capacity_factor) if peak > 0 else float("nan")
        solar_cf = np.clip(excess / capacity, 0.0, 1.0) if np.isfinite(capacity) else np.zeros(H)

    idx = pd.DatetimeIndex(sub.index)
    loc = idx.tz_convert(tz)
    clock = np.asarray(loc.hour + loc.minute / 60.0, dtype=np.float64)
    return DayShapes(
        index=idx,
        clock_hour=clock,
        dt_hours=float(dt_hours),
        load_shape=load_shape,
        solar_cf=solar_cf,
        load_column=load_column,
        solar_column=solar_column,
        solar_capacity_mw=capacity,
        zone=str(frame.attrs.get("zone", "")),
        day=the_day,
        tz=str(tz),
    )


def _numeric(column: pd.Series, day: dt.date) -> np.ndarray:
    """A column's values on ``day`` as float64 (``DataValidationError`` for text)."""
    if not pd.api.types.is_numeric_dtype(column):
        raise DataValidationError(f"{column.name} on {day} is not numeric ({column.dtype})")
    return column.to_numpy(dtype=np.float64)


def _clock_minutes(index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    """Local clock time of each timestamp in minutes after midnight."""
    local = index.tz_convert(tz)
    return np.asarray(local.hour * 60 + local.minute)


def _intervals_in_day(day: dt.date, tz: str, step: pd.Timedelta) -> int:
    """Intervals of length ``step`` in the local day (23/25 hours on DST days)."""
    start = pd.Timestamp(day).tz_localize(tz)
    end = pd.Timestamp(day + dt.timedelta(days=1)).tz_localize(tz)
    return round((end - start) / step)


def _local_days(frame: pd.DataFrame, tz: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    """The rows of ``frame`` on the local days ``first .. last`` (cheap: a UTC slice a day
    wider on each side, then the local dates of those rows only)."""
    lo = pd.Timestamp(first - dt.timedelta(days=1)).tz_localize("UTC")
    hi = pd.Timestamp(last + dt.timedelta(days=2)).tz_localize("UTC")
    sub = frame.loc[(frame.index >= lo) & (frame.index < hi)]
    dates = np.asarray(sub.index.tz_convert(tz).date)
    return sub.loc[(dates >= first) & (dates <= last)]


def _naive_clock_mean(
    frame: pd.DataFrame, column: str, the_day: dt.date, index: pd.DatetimeIndex, tz: str, n: int
) -> np.ndarray | None:
    """Mean of ``column`` by local clock time over the ``n`` local days ``D-1-n .. D-2`` (the
    complete days known at noon of ``D-1``) at the clock times of ``index``; None when a clock
    time has no value."""
    if column not in frame:
        return None
    first, last = the_day - dt.timedelta(days=1 + n), the_day - dt.timedelta(days=2)
    sub = _local_days(frame, tz, first, last)
    if sub.empty:
        return None
    mean = sub[column].groupby(_clock_minutes(sub.index, tz)).mean()
    values = mean.reindex(_clock_minutes(index, tz)).to_numpy(dtype=np.float64)
    return values if np.isfinite(values).all() else None


def _solar_plan_error(
    frame: pd.DataFrame,
    actual_column: str,
    source: str,
    the_day: dt.date,
    index: pd.DatetimeIndex,
    tz: str,
    capacity_mw: float,
    step: pd.Timedelta,
    naive_days: int,
    error_days: int,
) -> tuple[np.ndarray, int]:
    """Root mean square by local clock time of the solar plan's capacity-factor error on the
    complete days among ``D-1-error_days .. D-2`` (known at the cut-off): the measured solar
    ``actual_column`` minus the plan, each clipped at 0 and taken above its daily floor, over
    ``capacity_mw``. The plan of a past day is the ``source`` column (a forecast) or, for
    ``"naive_<n>d:<column>"``, what :func:`planning_profiles` planned then: the mean of the
    actuals by clock time over that day's own ``naive_days`` days before its cut-off. A day
    counts when every interval of it is present and finite (actual and forecast) and its
    naive plan exists (``step``: the interval length); a clock time twice on the autumn day
    is averaged. Returns (H,) kW per
    kWp at the clock times of ``index`` (0 where no day has that clock time) and the number
    of days used (0 and zeros when the plan is the measured column itself)."""
    H = len(index)
    naive = source.startswith("naive_")
    if not naive and source == actual_column:
        return np.zeros(H), 0
    first_err = the_day - dt.timedelta(days=1 + error_days)
    first = first_err - dt.timedelta(days=1 + naive_days) if naive else first_err
    last = the_day - dt.timedelta(days=2)
    sub = _local_days(frame, tz, first, last)
    if sub.empty:
        return np.zeros(H), 0
    dates = np.asarray(sub.index.tz_convert(tz).date)
    keys = [dates, _clock_minutes(sub.index, tz)]
    actual = sub[actual_column]
    real = actual.clip(lower=0.0).groupby(keys).mean().unstack()
    present = actual.groupby(keys).size().unstack().reindex_like(real).notna()
    span = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if naive:  # the clock-time mean of d-1-n .. d-2 (NaN skipped), then clipped
        sums = actual.groupby(keys).sum().unstack().reindex(span).fillna(0.0)
        counts = actual.notna().groupby(keys).sum().unstack().reindex(span).fillna(0)
        window = {"window": naive_days, "min_periods": 1}
        plan = sums.shift(2).rolling(**window).sum() / counts.shift(2).rolling(**window).sum()
        plan = plan.clip(lower=0.0).reindex(real.index)
        finite = actual.notna()
    else:
        plan = sub[source].clip(lower=0.0).groupby(keys).mean().unstack().reindex_like(real)
        finite = actual.notna() & sub[source].notna()
    plan = plan.where(present)  # a clock time the day lacks (spring) is not its floor
    # complete days: all their intervals present and finite
    n_finite = finite.groupby(dates).sum()
    complete = [
        d >= first_err and n_finite.get(d, 0) == _intervals_in_day(d, tz, step) for d in real.index
    ]
    err = (real.sub(real.min(axis=1), axis=0) - plan.sub(plan.min(axis=1), axis=0)) / capacity_mw
    err = err[np.asarray(complete)]
    err = err[(err.notna() == present.loc[err.index]).all(axis=1)]  # a naive plan missing
    if err.empty:
        return np.zeros(H), 0
    rms = np.sqrt((err**2).mean(axis=0))
    values = rms.reindex(_clock_minutes(index, tz)).to_numpy(dtype=np.float64)
    return np.nan_to_num(values, nan=0.0), len(err)


def planning_profiles(
    frame: pd.DataFrame,
    realised: DayShapes,
    *,
    load_forecast_mw: ArrayLike | None = None,
    naive_days: int = 7,
    peak_capacity_factor: float = 0.75,
    solar_error_days: int = 28,
) -> DayShapes:
    """The shapes of ``realised``'s day as known at its cut-off (noon of the day before, local
    time): what agents plan and bid on, while ``realised`` (:func:`day_profiles` of the
    actuals) is what happens.

    Load: ``load_forecast_mw`` (H,) when given (e.g. the Student-t forecaster's ``mu``), else
    the TSO's ``load_forecast_mw`` column; solar: the ``solar_forecast_mw`` column, its capacity
    factor over a capacity ``C`` known at the cut-off (the largest output above the daily floor
    of the realised solar column on the days before it, or of the forecast, over
    ``peak_capacity_factor``; the realised shapes' ``C`` may come from the day itself). A
    quantity without a complete forecast on the day takes its mean by local clock time over
    the complete days before the cut-off, at most ``naive_days`` (``D-1-naive_days .. D-2``;
    fewer where the data start later), of the column the realised shapes used. The returned
    ``load_column``/``solar_column`` say which (``"student_t_mu"``, a column name, or
    ``"naive_7d:<column>"``). ``DataUnavailableError`` when not even the naive mean exists.

    ``solar_cf_error_sd`` (H,) kW per kWp: the root mean square, by clock time, of the same
    solar plan's error on the complete days among the ``solar_error_days`` before the cut-off
    (realised minus planned capacity factor, each above its daily floor, over ``C``; 0 where
    there is none), the spread of the error agents weigh in their risk
    (:meth:`agents.bidding.ErrorQuadrature.from_forecast`); ``solar_error_days`` on the result
    says how many days it rests on.
    """
    if not isinstance(realised, DayShapes):
        raise InvalidParameterError(
            f"realised must be a DayShapes (day_profiles), got {type(realised).__name__}"
        )
    for name, value in (("naive_days", naive_days), ("solar_error_days", solar_error_days)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise InvalidParameterError(f"{name} must be an integer >= 1, got {value!r}")
        if value > MAX_PLAN_DAYS:
            raise InvalidParameterError(
                f"{name} must be at most {MAX_PLAN_DAYS} (100 years), got {value!r}"
            )
    if not 0.0 < float(peak_capacity_factor) <= 1.0:
        raise InvalidParameterError(
            f"peak_capacity_factor must be in (0, 1], got {peak_capacity_factor!r}"
        )
    check_index(frame)
    idx, tz, day = realised.index, realised.tz, realised.day
    naive = f"naive_{int(naive_days)}d"

    def forecast_or_naive(forecast: str, realised_column: str, what: str) -> tuple[np.ndarray, str]:
        """The day's ``forecast`` column when complete, else the clock-time mean of
        ``realised_column`` before the cut-off; ``DataUnavailableError`` without either."""
        if forecast in frame:
            values = frame[forecast].reindex(idx).to_numpy(dtype=np.float64)
            if np.isfinite(values).all():
                return values, forecast
        values = _naive_clock_mean(frame, realised_column, day, idx, tz, int(naive_days))
        if values is None:
            raise DataUnavailableError(
                f"no {what} forecast for {day} and no {realised_column} on the {naive_days} "
                "days before its cut-off"
            )
        return values, f"{naive}:{realised_column}"

    if load_forecast_mw is not None:
        try:
            load = np.asarray(load_forecast_mw, dtype=np.float64)
        except (TypeError, ValueError):
            raise InvalidParameterError(
                f"load_forecast_mw must be numbers, got {load_forecast_mw!r:.60}"
            ) from None
        if load.shape != (len(idx),):
            raise InvalidParameterError(
                f"load_forecast_mw must be {len(idx)} values for {day}, got shape {load.shape}"
            )
        if not np.isfinite(load).all():
            raise InvalidParameterError(f"load_forecast_mw for {day} holds NaN or inf")
        load_column = "student_t_mu"
    else:
        load, load_column = forecast_or_naive("load_forecast_mw", realised.load_column, "load")
    load = np.clip(load, 0.0, None)
    if load.sum() <= 0:
        raise DataValidationError(
            f"the load forecast for {day} is nowhere positive (negative values count as zero)"
        )

    solar_column = realised.solar_column
    solar_cf = np.zeros(len(idx))
    error_sd, error_days = np.zeros(len(idx)), 0
    capacity = realised.solar_capacity_mw
    if realised.solar_column is not None and np.isfinite(realised.solar_capacity_mw):
        solar, solar_column = forecast_or_naive("solar_forecast_mw", realised.solar_column, "solar")
        excess = np.clip(solar, 0.0, None)
        excess -= excess.min()
        # the capacity as known at the cut-off: the largest output over the daily floor of the
        # days before it and of the forecast (the realised shapes' C may come from the day)
        local = frame.index.tz_convert(tz)
        dates = np.asarray(local.date)
        past = dates <= day - dt.timedelta(days=2)
        peak = float(excess.max())
        if past.any():
            peak = max(peak, _peak_above_floor(frame.loc[past, realised.solar_column], dates[past]))
        capacity = peak / float(peak_capacity_factor)
        solar_cf = np.clip(excess / capacity, 0.0, 1.0) if capacity > 0 else np.zeros(len(idx))
        if capacity > 0:
            # against the measured solar even where the day's own shapes fell back on the
            # forecast (a gap in the actuals of the day)
            actual = SOLAR_COLUMNS[0] if SOLAR_COLUMNS[0] in frame else realised.solar_column
            error_sd, error_days = _solar_plan_error(
                frame,
                actual,
                solar_column,
                day,
                idx,
                tz,
                capacity,
                pd.Timedelta(hours=realised.dt_hours),
                int(naive_days),
                int(solar_error_days),
            )
    return dataclasses.replace(
        realised,
        load_shape=load / load.sum(),
        solar_cf=solar_cf,
        load_column=load_column,
        solar_column=solar_column,
        solar_capacity_mw=capacity,
        solar_cf_error_sd=error_sd,
        solar_error_days=error_days,
    )


def expected_profile(params: AgentParams, shapes: DayShapes) -> tuple[np.ndarray, np.ndarray]:
    """(load_kwh, pv_kwh), each (H,) float64: one agent's expected energy per interval."""
    if not isinstance(params, AgentParams):
        raise InvalidParameterError(f"params must be AgentParams, got {type(params).__name__}")
    if not isinstance(shapes, DayShapes):
        raise InvalidParameterError(f"shapes must be DayShapes, got {type(shapes).__name__}")
    load = params.load_kwh_per_day * shapes.load_shape
    pv = params.pv_kwp * shapes.solar_cf * shapes.dt_hours
    return load, pv


# --------------------------------------------------------------------------------------------
# per-agent profiles
# --------------------------------------------------------------------------------------------


def _check_noise(population: Population, noise: float | None) -> float:
    value = population.config.noise if noise is None else noise
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0 <= value <= MAX_NOISE  # NaN, inf too
    ):
        raise InvalidParameterError(f"noise must be a number in [0, {MAX_NOISE:g}], got {value!r}")
    return float(value)


def _check_dtype(dtype: Any) -> np.dtype:
    try:
        out = np.dtype(dtype)
    except (TypeError, ValueError):
        out = None
    if out not in (np.float32, np.float64):
        raise InvalidParameterError(f"dtype must be float32 or float64, got {dtype!r}")
    return out


def _apply_noise(load: np.ndarray, pv: np.ndarray, seed: int, first: int, s: float) -> None:
    """Multiply (n, H) load and PV of absolute agents ``first:first + n`` in place by their
    mean-one lognormal noise factors, one block of NOISE_BLOCK agents at a time."""
    n, H = load.shape
    last = first + n
    shift = np.float32(-0.5 * s * s)
    for b in range(first // NOISE_BLOCK, (last - 1) // NOISE_BLOCK + 1):
        lo, hi = max(first, b * NOISE_BLOCK), min(last, (b + 1) * NOISE_BLOCK)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(b,)))
        z = rng.standard_normal((2, NOISE_BLOCK, H), dtype=np.float32)
        z = z[:, lo - b * NOISE_BLOCK : hi - b * NOISE_BLOCK]
        z *= np.float32(s)
        z += shift
        np.exp(z, out=z)
        load[lo - first : hi - first] *= z[0]
        pv[lo - first : hi - first] *= z[1]


def agent_profiles(
    population: Population,
    shapes: DayShapes,
    *,
    seed: int,
    noise: float | None = None,
    start: int = 0,
    stop: int | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[np.ndarray, np.ndarray]:
    """(load_kwh, pv_kwh), each (stop - start, H), for agents ``start:stop`` of ``population``.

    Energy per interval in kWh with the idiosyncratic noise (``noise`` defaults to
    ``population.config.noise``; 0 gives the expected profiles). Agent numbers include the
    population's ``offset``, so a slice gets the same noise as in the full population.
    """
    check_type(population, Population, "population", "sample_population")
    check_type(shapes, DayShapes, "shapes", "day_profiles")
    seed = check_seed(seed)
    s = _check_noise(population, noise)
    dtype = _check_dtype(dtype)
    n = population.n_agents
    start, stop, _ = slice(start, stop).indices(n)
    stop = max(stop, start)
    load_kwh = population.load_kwh_per_day[start:stop, None] * shapes.load_shape.astype(dtype)
    pv_kwh = population.pv_kwp[start:stop, None] * (shapes.solar_cf * shapes.dt_hours).astype(dtype)
    load_kwh = load_kwh.astype(dtype, copy=False)
    pv_kwh = pv_kwh.astype(dtype, copy=False)
    if s > 0 and stop > start:
        _apply_noise(load_kwh, pv_kwh, seed, population.offset + start, s)
    return load_kwh, pv_kwh


def agent_net_demand(
    population: Population,
    shapes: DayShapes,
    *,
    seed: int,
    noise: float | None = None,
    start: int = 0,
    stop: int | None = None,
    dtype: DTypeLike = np.float32,
) -> np.ndarray:
    """(stop - start, H) net demand load - PV in kWh per interval (see :func:`agent_profiles`).

    Materialises the whole block: for 10^7 agents use :func:`iter_net_demand`.
    """
    load, pv = agent_profiles(
        population, shapes, seed=seed, noise=noise, start=start, stop=stop, dtype=dtype
    )
    load -= pv
    return load


def iter_net_demand(
    population: Population,
    shapes: DayShapes,
    *,
    seed: int,
    noise: float | None = None,
    chunk_size: int = 4 * NOISE_BLOCK,
    dtype: DTypeLike = np.float32,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Stream ``(start, stop, net_kwh)`` with ``net_kwh`` of shape (stop - start, H) over the
    population in chunks of ``chunk_size`` agents; same numbers as :func:`agent_net_demand`."""
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, numbers.Integral):
        raise InvalidParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if chunk_size < 1:
        raise InvalidParameterError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    check_seed(seed)
    _check_noise(population, noise)
    _check_dtype(dtype)
    for lo in range(0, population.n_agents, int(chunk_size)):
        hi = min(lo + int(chunk_size), population.n_agents)
        yield (
            lo,
            hi,
            agent_net_demand(
                population, shapes, seed=seed, noise=noise, start=lo, stop=hi, dtype=dtype
            ),
        )
