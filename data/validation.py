"""``validate_market_data``: what is wrong or unusual in a market frame, never fixed."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from data.errors import DataValidationError, InvalidParameterError
from data.schema import CANONICAL_COLUMNS, EXTRA_COLUMNS, PRICE_COLUMNS
from data.zones import check_tz

#: Plausible value ranges (inclusive). Prices: the SDAC harmonised clearing limits
#: (-500 .. +4000 EUR/MWh); power: non-negative and below 200 GW.
PLAUSIBLE_RANGES: dict[str, tuple[float, float]] = {
    "price_eur_per_mwh": (-500.0, 4000.0),
    "price_forecast_eur_per_mwh": (-500.0, 4000.0),
    "price_usd_per_mwh": (-1000.0, 10000.0),
}
_POWER_RANGE = (0.0, 200_000.0)

#: Isolated spikes (:func:`find_spikes`): a power value is a spike when it lies more than
#: SPIKE_THRESHOLD robust deviations from the same local time of day on the SPIKE_WINDOW_DAYS
#: days before and after it (at least SPIKE_MIN_REFERENCES_PER_SIDE on each side), and
#: stands out from both neighbouring intervals in the same direction.
SPIKE_THRESHOLD = 10.0
SPIKE_WINDOW_DAYS = 7
SPIKE_MIN_REFERENCES_PER_SIDE = 2


@dataclass(frozen=True)
class Gap:
    """Intervals missing between two consecutive rows: ``[start_utc, end_utc)``."""

    start_utc: pd.Timestamp
    end_utc: pd.Timestamp
    missing_intervals: int


@dataclass(frozen=True)
class ValidationReport:
    """Findings of ``validate_market_data``; nothing in the data is changed.

    ``errors`` are fatal for the loader (duplicates, non-UTC or non-monotonic index);
    everything else (gaps, missing values, DST days, negative prices, implausible values)
    is information for the analyst.
    """

    n_rows: int
    resolution: str | None
    tz: str | None
    is_utc: bool
    is_monotonic: bool
    duplicates: tuple[pd.Timestamp, ...]
    gaps: tuple[Gap, ...]
    dst_days: tuple[tuple[str, int], ...]
    missing_values: dict[str, int]
    negative_prices: dict[str, int]
    out_of_range: dict[str, int]
    off_grid: tuple[pd.Timestamp, ...] = ()
    """Timestamps off the resolution's grid (a stray 09:15 row in hourly data)."""
    infinite: dict[str, int] = field(default_factory=dict)
    """Per numeric column, its +inf/-inf values (the loader refuses them: an error here)."""
    non_numeric: tuple[str, ...] = ()
    """Columns of the market schema holding text (every value column must be numeric)."""
    spikes: dict[str, tuple[pd.Timestamp, ...]] = field(default_factory=dict)
    """Per power column (``*_mw``), its isolated spikes (:func:`find_spikes`), kept as they
    are: a source's glitch (158 GW of French load for one hour) or a zero in a sunny noon."""

    @property
    def errors(self) -> list[str]:
        out = []
        if not self.is_utc:
            out.append("index is not tz-aware UTC")
        if not self.is_monotonic:
            out.append("index is not increasing")
        if self.duplicates:
            out.append(
                f"{len(self.duplicates)} duplicate timestamps: "
                + ", ".join(t.isoformat() for t in self.duplicates[:5])
            )
        if self.off_grid:
            out.append(
                f"{len(self.off_grid)} timestamp(s) off the {self.resolution} grid: "
                + ", ".join(t.isoformat() for t in self.off_grid[:5])
            )
        for col, n in self.infinite.items():
            if n:
                out.append(f"{col}: {n} infinite value(s)")
        for col in self.non_numeric:
            out.append(f"{col}: not numeric")
        return out

    @property
    def warnings(self) -> list[str]:
        out = []
        for g in self.gaps:
            out.append(
                f"gap of {g.missing_intervals} interval(s) from {g.start_utc.isoformat()} "
                f"to {g.end_utc.isoformat()}"
            )
        for col, n in self.missing_values.items():
            if n:
                out.append(f"{col}: {n} missing value(s)")
        return out + self.value_warnings

    @property
    def value_warnings(self) -> list[str]:
        """Values used as they are but worth a look: outside the plausible range, spikes."""
        return self.range_warnings + self.spike_warnings

    @property
    def spike_warnings(self) -> list[str]:
        """One line per power column with isolated spikes (:func:`find_spikes`)."""
        return [
            f"{col}: {len(times)} isolated spike(s), at "
            + ", ".join(t.isoformat() for t in times[:3])
            + (", ..." if len(times) > 3 else "")
            for col, times in self.spikes.items()
            if times
        ]

    @property
    def range_warnings(self) -> list[str]:
        """One line per column with values outside its plausible range (kept as they are)."""
        out = []
        for col, n in self.out_of_range.items():
            if n:
                lo, hi = PLAUSIBLE_RANGES.get(col, _POWER_RANGE)
                out.append(f"{col}: {n} value(s) outside the plausible range [{lo:g}, {hi:g}]")
        return out

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not self.errors

    def to_dict(self) -> dict:
        return {
            "n_rows": self.n_rows,
            "resolution": self.resolution,
            "tz": self.tz,
            "ok": self.ok,
            "errors": self.errors,
            "warnings": self.warnings,
            "duplicates": [t.isoformat() for t in self.duplicates],
            "off_grid": [t.isoformat() for t in self.off_grid],
            "gaps": [
                {
                    "start_utc": g.start_utc.isoformat(),
                    "end_utc": g.end_utc.isoformat(),
                    "missing_intervals": g.missing_intervals,
                }
                for g in self.gaps
            ],
            "dst_days": [{"day": d, "intervals": n} for d, n in self.dst_days],
            "missing_values": dict(self.missing_values),
            "negative_prices": dict(self.negative_prices),
            "out_of_range": dict(self.out_of_range),
            "infinite": dict(self.infinite),
            "non_numeric": list(self.non_numeric),
            "spikes": {c: [t.isoformat() for t in ts] for c, ts in self.spikes.items() if ts},
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per finding: ``kind``, ``what``, ``count``."""
        rows = [("error", e, 1) for e in self.errors]
        rows += [
            ("gap", f"{g.start_utc.isoformat()}..{g.end_utc.isoformat()}", g.missing_intervals)
            for g in self.gaps
        ]
        rows += [("dst_day", d, n) for d, n in self.dst_days]
        rows += [("missing", c, n) for c, n in self.missing_values.items() if n]
        rows += [("negative_price", c, n) for c, n in self.negative_prices.items() if n]
        rows += [("out_of_range", c, n) for c, n in self.out_of_range.items() if n]
        rows += [("spike", c, len(ts)) for c, ts in self.spikes.items() if ts]
        return pd.DataFrame(rows, columns=["kind", "what", "count"])


def resolution_of(idx: pd.DatetimeIndex) -> pd.Timedelta | None:
    """Most common step between the distinct timestamps of ``idx`` (None if < 2)."""
    idx = idx.as_unit("ns")
    if len(idx) < 2:
        return None
    steps = np.diff(np.unique(idx.asi8))
    if not len(steps):
        return None
    values, counts = np.unique(steps, return_counts=True)
    return pd.Timedelta(int(values[np.argmax(counts)]), unit="ns")


def _attrs_step(frame: pd.DataFrame) -> pd.Timedelta | None:
    """The step named by ``frame.attrs["resolution"]`` (e.g. ``"60min"``), if any."""
    text = frame.attrs.get("resolution")
    if not text:
        return None
    try:
        step = pd.Timedelta(text)
    except (ValueError, TypeError):
        return None
    return step if step > pd.Timedelta(0) else None


def _fmt(step: pd.Timedelta | None) -> str | None:
    return None if step is None else f"{int(step.total_seconds() // 60)}min"


def validate_market_data(frame: pd.DataFrame, *, tz: str | None = None) -> ValidationReport:
    """Report gaps, duplicates, DST days, index order, missing values per column,
    negative prices (kept, counted) and values outside plausible ranges.

    ``tz`` is the zone's time zone for DST days (default: ``frame.attrs["tz"]``). The
    resolution is the most common step between timestamps. When ``frame.attrs`` holds
    the requested window (``start_utc``/``end_utc``, set by ``load_market_data``), rows
    missing at its edges count as gaps too. A frame of fewer than two rows shows no step:
    ``frame.attrs["resolution"]`` (e.g. ``"60min"``, set by the loader for such a frame)
    gives it, so that the rest of the window is still reported as gaps.
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"frame must be a pandas DataFrame (as data.load_market_data returns), got "
            f"{type(frame).__name__}"
        )
    idx = frame.index
    if not isinstance(idx, pd.DatetimeIndex):
        # timestamps as text may be parsed; numbers are no timestamps (they read as ns of 1970)
        kind = f"a {type(idx).__name__} of {idx.dtype}"
        if pd.api.types.is_numeric_dtype(idx) or pd.api.types.is_bool_dtype(idx):
            raise DataValidationError(f"index must hold timestamps (a DatetimeIndex), got {kind}")
        try:
            idx = pd.DatetimeIndex(pd.to_datetime(idx, utc=True))
        except (ValueError, TypeError, OverflowError):
            raise DataValidationError(f"index must hold timestamps, got {kind}") from None
    tz = tz or frame.attrs.get("tz")
    if tz is not None:
        tz = check_tz(tz)
    is_utc = idx.tz is not None and str(idx.tz) == "UTC"
    utc = idx if idx.tz is not None else idx.tz_localize("UTC")
    utc = utc.tz_convert("UTC").as_unit("ns")
    duplicates = tuple(utc[utc.duplicated()].unique())
    # fewer than two rows show no step: fall back to the source's (``attrs["resolution"]``)
    step = resolution_of(utc) or _attrs_step(frame)

    gaps: list[Gap] = []
    off_grid: tuple[pd.Timestamp, ...] = ()
    if step is not None:
        uniq = utc.unique().sort_values()
        # the grid most rows are on: a row between two grid points is malformed, not a gap
        phase = uniq.asi8 % step.value
        values, counts = np.unique(phase, return_counts=True)
        off = phase != values[np.argmax(counts)] if len(uniq) else np.zeros(0, bool)
        off_grid = tuple(uniq[off])
        uniq = uniq[~off]
        diffs = np.diff(uniq.asi8)
        for i in np.flatnonzero(diffs > step.value):
            gaps.append(Gap(uniq[i] + step, uniq[i + 1], int(diffs[i] // step.value) - 1))
        # rows missing at the edges of the requested window (``load_market_data`` sets it)
        lo, hi = frame.attrs.get("start_utc"), frame.attrs.get("end_utc")
        if not len(uniq):
            if lo is not None and hi is not None and pd.Timestamp(hi) > pd.Timestamp(lo):
                # no row at all: the whole window is one gap, never a clean report
                n = int((pd.Timestamp(hi) - pd.Timestamp(lo)) / step)
                gaps.append(Gap(pd.Timestamp(lo), pd.Timestamp(hi), n))
        else:
            if lo is not None and uniq[0] > pd.Timestamp(lo):
                n = int((uniq[0] - pd.Timestamp(lo)) / step)
                gaps.insert(0, Gap(pd.Timestamp(lo), uniq[0], n))
            if hi is not None and uniq[-1] + step < pd.Timestamp(hi):
                n = int((pd.Timestamp(hi) - uniq[-1] - step) / step)
                gaps.append(Gap(uniq[-1] + step, pd.Timestamp(hi), n))

    dst_days: list[tuple[str, int]] = []
    if tz is not None and step is not None and len(utc):
        local_days = pd.Series(utc.tz_convert(tz).date).unique()
        per_day = round(pd.Timedelta(days=1) / step)
        for day in local_days:
            d0 = pd.Timestamp(day).tz_localize(tz)
            d1 = (pd.Timestamp(day) + pd.Timedelta(days=1)).tz_localize(tz)
            n_expected = round((d1 - d0) / step)
            if n_expected != per_day:
                dst_days.append((str(day), n_expected))

    missing = {c: int(frame[c].isna().sum()) for c in frame.columns}
    numeric = [  # a boolean column is no quantity
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    schema = {**CANONICAL_COLUMNS, **EXTRA_COLUMNS}
    non_numeric = tuple(c for c in frame.columns if c in schema and c not in numeric)
    negative = {c: int((frame[c] < 0).sum()) for c in PRICE_COLUMNS if c in numeric}
    infinite, out_of_range = {}, {}
    for c in numeric:
        values = frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
        inf = np.isinf(values)  # an error, so not counted out of range too
        lo, hi = PLAUSIBLE_RANGES.get(c, _POWER_RANGE if c.endswith("_mw") else (-np.inf, np.inf))
        infinite[c] = int(inf.sum())
        out_of_range[c] = int((((values < lo) | (values > hi)) & ~inf).sum())
    spikes: dict[str, tuple[pd.Timestamp, ...]] = {}
    if tz is not None and step is not None and not duplicates and not off_grid:
        if bool(utc.is_monotonic_increasing):
            power = [c for c in numeric if c.endswith("_mw") and c not in non_numeric]
            found = find_spikes(frame[power].set_axis(utc), tz=tz, step=step)
            spikes = {c: tuple(found[c]) for c in power}
    return ValidationReport(
        n_rows=len(frame),
        resolution=_fmt(step),
        tz=tz,
        is_utc=is_utc,
        is_monotonic=bool(idx.is_monotonic_increasing),
        duplicates=duplicates,
        gaps=tuple(gaps),
        dst_days=tuple(dst_days),
        missing_values=missing,
        negative_prices=negative,
        out_of_range=out_of_range,
        off_grid=off_grid,
        infinite=infinite,
        non_numeric=non_numeric,
        spikes=spikes,
    )


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """``np.nanmedian(a, axis=-1)`` for a short last axis, by one sort (NaN sorts last):
    numpy's own takes a slow path for arrays holding NaN. All-NaN rows give NaN."""
    s = np.sort(a, axis=-1)
    n = np.sum(~np.isnan(a), axis=-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], axis=-1)[..., 0]
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


def find_spikes(
    frame: pd.DataFrame,
    *,
    tz: str,
    step: pd.Timedelta | None = None,
    threshold: float = SPIKE_THRESHOLD,
    window_days: int = SPIKE_WINDOW_DAYS,
) -> dict[str, pd.DatetimeIndex]:
    """Isolated one-interval spikes of each column of ``frame`` (MW), found, never changed.

    ``frame``: a sorted UTC-indexed frame without duplicates; ``tz`` the zone's time zone
    (the local time of day is compared); ``step`` the resolution (default: the most common
    one). A value ``x`` is a spike when both hold:

    * it lies more than ``threshold`` robust deviations from the median ``m`` of the values
      at the same local time of day on the ``window_days`` days before and after it, at
      least :data:`SPIKE_MIN_REFERENCES_PER_SIDE` of them on each side (a day at the edge of
      the frame, compared with one side only, is not judged). The deviation is 1.4826 times their
      median absolute deviation, at least 1 % of the column's 99th percentile of ``|x|``
      (so that a flat night of solar gives no zero scale);
    * it is isolated: both neighbouring intervals exist, and ``x`` stands out from each in
      the direction of ``x - m`` by more than half of ``|x - m|`` (a level that lasts, a
      holiday or a lockdown, is no spike).

    What is found depends on the frame (its days are the references). Over each bundled
    zone's whole coverage this finds the French load of 158 GW on 2020-07-07 17:00 UTC, Swiss
    solar of 300 MW at 02:00 local and a Spanish solar 0 at noon, and nothing in most zones.
    Returns one DatetimeIndex (UTC, possibly empty) per column.
    """
    out: dict[str, pd.DatetimeIndex] = {}
    idx = pd.DatetimeIndex(frame.index).tz_convert("UTC").as_unit("ns")  # asi8 in ns below
    if step is None:
        step = resolution_of(idx)
    empty = idx[:0]
    if step is None or len(idx) < 3:
        return {c: empty for c in frame.columns}
    local = idx.tz_convert(tz)
    day_codes, days = pd.factorize(pd.Index(local.date), sort=True)
    slot_of = local.hour * 3600 + local.minute * 60 + local.second
    slot_codes, slots = pd.factorize(pd.Index(slot_of), sort=True)
    # neighbours one step away (a gap or the frame's edge: not isolated)
    gaps = np.diff(idx.asi8) == step.value
    has_prev = np.r_[False, gaps]
    has_next = np.r_[gaps, False]
    for col in frame.columns:
        x = frame[col].to_numpy(dtype=np.float64, na_value=np.nan)
        x = np.where(np.isinf(x), np.nan, x)  # infinite values are errors of their own
        grid = np.full((len(days), len(slots)), np.nan)
        grid[day_codes, slot_codes] = x  # an autumn DST day's repeated hour: one of the two
        pad = np.pad(grid, ((window_days, window_days), (0, 0)), constant_values=np.nan)
        ref = sliding_window_view(pad, 2 * window_days + 1, axis=0).copy()
        ref[..., window_days] = np.nan  # a day is not its own reference
        n_before = np.sum(~np.isnan(ref[..., :window_days]), axis=-1)
        n_after = np.sum(~np.isnan(ref[..., window_days + 1 :]), axis=-1)
        judged = np.minimum(n_before, n_after) >= SPIKE_MIN_REFERENCES_PER_SIDE
        with warnings.catch_warnings():  # all-NaN references: NaN, not counted below
            warnings.simplefilter("ignore", RuntimeWarning)
            med = _nanmedian_last(ref)
            mad = 1.4826 * _nanmedian_last(np.abs(ref - med[..., None]))
            level = np.nanpercentile(np.abs(x), 99) if np.isfinite(x).any() else np.nan
        m = med[day_codes, slot_codes]
        scale = np.maximum(mad[day_codes, slot_codes], 0.01 * level)
        dev = x - m
        prev = np.r_[np.nan, x[:-1]]
        nxt = np.r_[x[1:], np.nan]
        with np.errstate(invalid="ignore"):
            isolated = (
                has_prev
                & has_next
                & (np.sign(x - prev) == np.sign(dev))
                & (np.sign(x - nxt) == np.sign(dev))
                & (np.minimum(np.abs(x - prev), np.abs(x - nxt)) > 0.5 * np.abs(dev))
            )
            spike = judged[day_codes, slot_codes] & (np.abs(dev) > threshold * scale) & isolated
        out[col] = idx[spike]
    return out
