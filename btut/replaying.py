"""Replay market days end to end: forecast -> population -> equilibrium -> finite-N clearing ->
planner -> scores -> results store (DESIGN.md sections 1, 3 and 9; ``btut replay``).

One call of :func:`replay` runs, for every local market day of the period:

1. **Forecast**: a :class:`forecasting.models.StudentTForecaster` of the zone's ``load_mw``,
   fitted **once** per replay on the :data:`FORECAST_HISTORY_DAYS` (365) days before the first
   replayed day (fewer when the data start later; none: no forecast), with
   ``max_epochs=`` :data:`FORECAST_MAX_EPOCHS` (30, early stopping on; about 6 s on one core)
   and ``random_state=seed``; its ``mu``/``sigma``/``nu`` per interval set the agents' forecast
   error (:meth:`agents.bidding.ErrorQuadrature.from_forecast`). Zones without ``load_mw``
   (or too little history) replay without it (no load forecast error; ``details`` says so).
   The solar plan's error enters the agents' risk too: its root mean square (bias included)
   by clock time against the measured solar on the complete days among the
   :data:`PLAN_SOLAR_ERROR_DAYS` (28) before the cut-off (``solar_cf_error_sd`` of
   :func:`agents.planning_profiles`, times the kWp of each block's representative). Under
   the one local price this shifts the agents' risk-adjusted costs, not their decisions
   (:mod:`market.energy`).
   **No look-ahead**: agents plan and bid on the day as known at its cut-off (noon of the day
   before, :func:`agents.planning_profiles`; the forecaster is trained on what is known at
   the first day's cut-off; the day's wholesale price is taken as known, the local market
   clearing after the day-ahead auction's results): the load shape of the Student-t ``mu`` (else
   the TSO's ``load_forecast_mw``), the solar shape of ``solar_forecast_mw``, a missing
   forecast replaced by the clock-time mean of the :data:`PLAN_NAIVE_DAYS` (7) days before
   the cut-off. The day then happens with its actuals (:func:`agents.day_profiles`): the
   realised net demand, the finite market, the planner and the baseline use them (the
   planner and the baseline are perfect-information benchmarks). ``details`` name the plan's
   sources (``plan_load``, ``plan_solar``, ``plan_solar_error_days``); the intervals hold
   both shapes (``load_shape``, ``load_shape_plan``, ``solar_cf``, ``solar_cf_plan``) and the
   solar error's spread (``solar_cf_error_sd_plan``).
2. **Population**: ``sample_population(config, agents, seed=seed)`` (the same agents every
   day); realised net demand of day ``d`` from :func:`agents.profiles.agent_net_demand` with
   the noise seed ``SeedSequence([seed, d.toordinal()])`` (independent across days, the same
   for a day whatever the period).
3. **Equilibrium**: :func:`market.energy_game` + :func:`market.solve_energy_market`
   (fictitious play to ``market.energy.DEFAULT_TOL_EUR``, 0.001 EUR per agent per day);
   exploitability in EUR per agent per day.
4. **Finite market**: :func:`market.clear_finite_market` of the N agents (per-capita
   redistribution); the market's cost is the community's grid bill plus extras
   (``mean_cost_eur * N``, EUR).
5. **Benchmark**: :func:`market.plan_community` and :func:`market.baseline_cost` (HiGHS), exact
   for N <= ``max_exact_agents`` (2,000), else on a stratified sample of that size with the
   error bound of :mod:`market.planner` (``details.days[i].planner_error_bound_eur``); scores by
   :func:`market.benchmark_scores`, paired with the market's per-agent costs when the planner
   samples (N <= 10^6).

Aggregation over several days (costs in EUR, totals over the N agents):
``baseline_cost_eur``/``market_cost_eur``/``planner_cost_eur`` are **summed** over the days;
``exploitability_eur_per_agent_day`` is the **mean** over days (EUR per agent per day);
``efficiency = (sum baseline - sum market) / (sum baseline - sum planner)`` and
``price_of_anarchy = sum market / sum planner`` (with the paired sample estimate of the
market's cost when the planner samples, as :func:`market.benchmark_scores` does for one day);
``planner_mip_gap`` is the largest relative gap of any day; ``peak_import_reduction = 1 -
peak community import with the market / peak import at the baseline`` over all intervals of
the period, where the baseline's import is the sum of the agents' own grid imports when each
trades alone (scaled by N / sample size when sampled), in kWh per interval.

Validation happens before any work and raises one-line :class:`data.errors.BTUTError`
subclasses: ``agents < 1`` or a bad seed/kappa/period -> ``InvalidParameterError``; an unknown
zone or days outside the data -> ``DataUnavailableError``; a gap in a replayed day or a
missing price/load value -> ``DataValidationError``; population configuration errors come
from :class:`agents.config.PopulationConfig`. Nothing is stored unless the whole replay
succeeded; the store's :meth:`data.store.ResultsStore.save_run` is one transaction and
idempotent on the configuration (same config -> same run id, ``created=False``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import math
import numbers
import os
import stat
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from btut import MAX_SEED
from data.checks import check_int
from data.errors import DataUnavailableError, DataValidationError, InvalidParameterError
from data.loader import as_market_day
from data.zones import get_zone

__all__ = [
    "DEFAULT_DAY",
    "DEFAULT_ZONE",
    "FORECAST_HISTORY_DAYS",
    "FORECAST_MAX_EPOCHS",
    "DayResult",
    "LoadedRun",
    "ReplayResult",
    "load_run",
    "replay",
]

DEFAULT_ZONE = "ES"
"""Zone of a bare ``btut replay``."""

DEFAULT_DAY = dt.date(2017, 6, 14)
"""Day of a bare ``btut replay``: a sunny mid-June Wednesday of the bundled ES data (real
load, PV, wind and prices; an ordinary 24-hour day)."""

MAX_AGENTS = 1_000_000_000
"""Largest population a replay accepts: ``agents.population.MAX_AGENTS`` (written out here
so that importing this module does not import ``agents``; a test holds them equal)."""

FORECAST_HISTORY_DAYS = 365
"""Days of history the load forecaster is fitted on (before the first replayed day)."""

FORECAST_MAX_EPOCHS = 30
"""Training epochs of the load forecaster (early stopping on): keeps a replay cheap."""

_MIN_FORECAST_DAYS = 28  # less history than this: replay without the forecast
PLAN_NAIVE_DAYS = 7
"""Days of the clock-time mean that stands in for a missing forecast of load or solar
(:func:`agents.planning_profiles`)."""
PLAN_SOLAR_ERROR_DAYS = 28
"""Days before the cut-off over which the solar plan's error spread is measured."""
_PRICE = "price_eur_per_mwh"
_LOADS = ("load_mw", "load_forecast_mw")

Progress = Callable[[str, float], Any]

JSON_KEYS: tuple[str, ...] = (
    "run_id",
    "zone",
    "days",
    "agents",
    "exploitability_eur_per_agent_day",
    "efficiency",
    "price_of_anarchy",
    "baseline_cost_eur",
    "market_cost_eur",
    "planner_cost_eur",
    "planner_mip_gap",
    "peak_import_reduction",
    "elapsed_s",
)
"""Top-level keys of :meth:`ReplayResult.to_dict` (plus ``details``)."""


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DayResult:
    """One replayed market day. Costs in EUR (totals over the N agents), energies in kWh.

    ``intervals``: one row per interval (``time_utc`` index), see :meth:`ReplayResult.to_frame`;
    ``per_type``: one row per agent type: ``count``, ``share``, costs per agent of the type for
    the day (``market_cost_eur_per_agent``, ``mean_field_cost_eur_per_agent``,
    ``baseline_cost_eur_per_agent``, ``planner_cost_eur_per_agent``) and
    ``exploitability_eur_per_agent``; ``scores``: :meth:`market.BenchmarkScores.to_dict`;
    ``market_cost_used_eur``: the market cost the scores use (the paired sample estimate when
    the planner samples, else ``market_cost_eur``).
    """

    day: dt.date
    intervals: pd.DataFrame
    per_type: pd.DataFrame
    exploitability_eur_per_agent: float
    baseline_cost_eur: float
    market_cost_eur: float
    market_cost_used_eur: float
    planner_cost_eur: float
    planner_mip_gap: float
    planner_error_bound_eur: float
    planner_sampled: bool
    efficiency: float
    efficiency_low: float
    efficiency_high: float
    price_of_anarchy: float
    peak_import_market_kwh: float
    peak_import_baseline_kwh: float
    scores: Mapping[str, Any]
    details: Mapping[str, Any]
    routing_payments: pd.DataFrame | None = None

    @property
    def peak_import_reduction(self) -> float:
        """``1 - peak import with the market / peak import at the baseline`` (NaN when the
        baseline imports nothing)."""
        return _reduction(self.peak_import_market_kwh, self.peak_import_baseline_kwh)

    def summary(self) -> dict[str, Any]:
        """JSON-able one-day figures (no series)."""
        return {
            "day": self.day.isoformat(),
            "exploitability_eur_per_agent_day": self.exploitability_eur_per_agent,
            "efficiency": self.efficiency,
            "efficiency_low": self.efficiency_low,
            "efficiency_high": self.efficiency_high,
            "price_of_anarchy": self.price_of_anarchy,
            "baseline_cost_eur": self.baseline_cost_eur,
            "market_cost_eur": self.market_cost_eur,
            "market_cost_used_eur": self.market_cost_used_eur,
            "planner_cost_eur": self.planner_cost_eur,
            "planner_mip_gap": self.planner_mip_gap,
            "planner_error_bound_eur": self.planner_error_bound_eur,
            "planner_sampled": self.planner_sampled,
            "peak_import_market_kwh": self.peak_import_market_kwh,
            "peak_import_baseline_kwh": self.peak_import_baseline_kwh,
            "peak_import_reduction": self.peak_import_reduction,
            **dict(self.details),
        }

    def to_dict(self) -> dict[str, Any]:
        """The same as :meth:`summary`: the day's figures, JSON-able."""
        return self.summary()

    def to_frame(self) -> pd.DataFrame:
        """A copy of the day's per-interval frame (``time_utc`` index)."""
        return self.intervals.copy()


@dataclass(frozen=True, eq=False)
class ReplayResult:
    """Outcome of :func:`replay` (module doc for the aggregation over days).

    ``run_id``/``config_hash``: the stored run (``None`` with ``store=False``); ``created``:
    False when an identical run was already stored (then ``run_id`` is that run's).
    ``day_results``: one :class:`DayResult` per day. Costs in EUR (totals over the N agents
    and the days), exploitability in EUR per agent per day, ``elapsed_s`` wall seconds.
    """

    run_id: int | None
    created: bool | None
    config_hash: str | None
    zone: str
    days: tuple[dt.date, ...]
    agents: int
    seed: int
    kappa_eur_per_mwh_per_kwh: float
    config: Mapping[str, Any]
    day_results: tuple[DayResult, ...]
    exploitability_eur_per_agent_day: float
    efficiency: float
    price_of_anarchy: float
    baseline_cost_eur: float
    market_cost_eur: float
    planner_cost_eur: float
    planner_mip_gap: float
    peak_import_reduction: float
    elapsed_s: float
    details: Mapping[str, Any] = field(default_factory=dict)
    routing: Mapping[str, Any] | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row per interval of all days (``time_utc`` index, UTC): ``wholesale_eur_per_mwh``,
        ``buy_eur_per_mwh``, ``sell_eur_per_mwh``, ``local_price_eur_per_mwh`` (finite-N
        clearing), ``mean_field_price_eur_per_mwh``, ``mean_position_kwh`` (finite N, per
        agent per interval), ``import_market_kwh``/``export_market_kwh`` (the community's
        residual with the grid), ``import_baseline_kwh`` (sum of the agents' own imports
        trading alone), ``import_planner_kwh`` (the planner's community import), and the load
        forecast ``load_forecast_mu_mw``/``load_forecast_sigma_mw``/``load_forecast_nu`` (NaN
        without a forecast) beside the realised zone load ``load_mw`` (NaN when the data has
        none). Baseline and planner imports are scaled by N / sample size when
        sampled."""
        frame = pd.concat([d.intervals for d in self.day_results])
        frame.index.name = "time_utc"
        return frame

    def per_type_frame(self) -> pd.DataFrame:
        """One row per agent type: ``count``, ``share`` and costs per agent of the type summed
        over the days (EUR per agent for the period); exploitability averaged per day."""
        frames = [d.per_type for d in self.day_results]
        out = frames[0].copy()
        cost_cols = [c for c in out.columns if c.endswith("_cost_eur_per_agent")]
        for f in frames[1:]:
            out[cost_cols] += f[cost_cols]
        out["exploitability_eur_per_agent"] = sum(
            f["exploitability_eur_per_agent"] for f in frames
        ) / len(frames)
        return out

    def metrics(self) -> dict[str, float]:
        """The scores stored with the run (floats; NaN when undefined)."""
        return {
            "exploitability_eur_per_agent_day": self.exploitability_eur_per_agent_day,
            "efficiency": self.efficiency,
            "price_of_anarchy": self.price_of_anarchy,
            "baseline_cost_eur": self.baseline_cost_eur,
            "market_cost_eur": self.market_cost_eur,
            "planner_cost_eur": self.planner_cost_eur,
            "planner_mip_gap": self.planner_mip_gap,
            "peak_import_reduction": self.peak_import_reduction,
            "elapsed_s": self.elapsed_s,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``btut replay --json`` object: :data:`JSON_KEYS` plus ``details`` (per day
        figures, per type costs, storage, configuration)."""
        per_type = self.per_type_frame().reset_index().to_dict(orient="records")
        return {
            "run_id": self.run_id,
            "zone": self.zone,
            "days": [d.isoformat() for d in self.days],
            "agents": self.agents,
            **{k: v for k, v in self.metrics().items()},
            "details": {
                "created": self.created,
                "config_hash": self.config_hash,
                "seed": self.seed,
                "kappa_eur_per_mwh_per_kwh": self.kappa_eur_per_mwh_per_kwh,
                "per_type": per_type,
                "days": [d.summary() for d in self.day_results],
                **dict(self.details),
                "config": dict(self.config),
            },
            **({"routing": dict(self.routing)} if self.routing is not None else {}),
        }


def _reduction(market: float, baseline: float) -> float:
    if not (math.isfinite(market) and math.isfinite(baseline)) or baseline <= 0:
        return float("nan")
    return 1.0 - market / baseline


@dataclass(frozen=True, eq=False)
class LoadedRun:
    """A replay read back from the results store (frames loaded eagerly).

    ``metrics`` as stored (floats, NaN for undefined); ``intervals``/``per_type`` as
    :meth:`ReplayResult.to_frame` / :meth:`ReplayResult.per_type_frame` (None if absent).
    """

    run_id: int
    kind: str
    zone: str | None
    config: Mapping[str, Any]
    config_hash: str
    created_utc: dt.datetime
    btut_version: str
    metrics: Mapping[str, float | str]
    intervals: pd.DataFrame | None
    per_type: pd.DataFrame | None

    def _score(self, name: str) -> float:
        value = self.metrics.get(name)
        return float(value) if isinstance(value, int | float) else math.nan

    @property
    def efficiency(self) -> float:
        """As :attr:`ReplayResult.efficiency` (NaN when not stored or undefined)."""
        return self._score("efficiency")

    @property
    def price_of_anarchy(self) -> float:
        return self._score("price_of_anarchy")

    @property
    def exploitability_eur_per_agent_day(self) -> float:
        return self._score("exploitability_eur_per_agent_day")

    @property
    def baseline_cost_eur(self) -> float:
        return self._score("baseline_cost_eur")

    @property
    def market_cost_eur(self) -> float:
        return self._score("market_cost_eur")

    @property
    def planner_cost_eur(self) -> float:
        return self._score("planner_cost_eur")

    def to_frame(self) -> pd.DataFrame:
        """The stored per-interval frame (``time_utc`` index)."""
        if self.intervals is None:
            return pd.DataFrame(index=pd.DatetimeIndex([], tz="UTC", name="time_utc"))
        return self.intervals.copy()  # the run stays as stored

    def days(self) -> list[dict[str, Any]]:
        """Per-day figures stored with the run (:meth:`DayResult.summary` of each day, with
        the equilibrium's exploitability after each iteration); empty for runs stored
        without them. An undefined figure is None (NaN in runs stored by earlier versions)."""
        text = self.metrics.get("days_json")
        return json.loads(text) if isinstance(text, str) else []

    def days_frame(self) -> pd.DataFrame:
        """:meth:`days` as a frame indexed by ``day`` (scalar columns only)."""
        rows = [{k: v for k, v in d.items() if not isinstance(v, list | dict)} for d in self.days()]
        if not rows:
            return pd.DataFrame(index=pd.Index([], name="day"))
        return pd.DataFrame(rows).set_index("day")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary (no series)."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "zone": self.zone,
            "config": dict(self.config),
            "config_hash": self.config_hash,
            "created_utc": self.created_utc.isoformat(),
            "btut_version": self.btut_version,
            "metrics": {k: v for k, v in self.metrics.items() if k != "days_json"},
            "days": self.days(),
        }


def load_run(run_id: int, db: str | None = None) -> LoadedRun:
    """A stored run by id from the store at ``db`` (default ``$BTUT_DB_URL`` or the SQLite
    file); ``DataUnavailableError`` when there is no such run."""
    from data.store import ResultsStore

    with ResultsStore(db, read_only=True) as store:  # never creates or migrates
        run = store.get_run(run_id)
        return LoadedRun(
            run_id=run.run_id,
            kind=run.kind,
            zone=run.zone,
            config=run.config,
            config_hash=run.config_hash,
            created_utc=run.created_utc,
            btut_version=run.btut_version,
            metrics=dict(run.metrics),
            intervals=run.intervals_frame(),
            per_type=run.per_type_frame(),
        )


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def _day(value: Any, what: str) -> dt.date:
    """A market day as the data layer takes one (:func:`data.loader.as_market_day`)."""
    return as_market_day(value, what)


def _days(day: Any, start: Any, end: Any) -> tuple[dt.date, ...]:
    if day is not None and (start is not None or end is not None):
        raise InvalidParameterError("give either day or start/end, not both")
    if start is None and end is None:
        d = DEFAULT_DAY if day is None else _day(day, "day")
        return (d,)
    if start is None or end is None:
        raise InvalidParameterError("start and end go together (end exclusive)")
    d0, d1 = _day(start, "start"), _day(end, "end")
    if d1 <= d0:
        raise InvalidParameterError(f"end ({d1}) must be after start ({d0}); end is exclusive")
    return tuple(d0 + dt.timedelta(days=k) for k in range((d1 - d0).days))


def _population_config(config: Any) -> Any:
    from agents.config import PopulationConfig

    if config is None:
        return PopulationConfig()
    if isinstance(config, PopulationConfig):
        return config
    if isinstance(config, Mapping):
        return PopulationConfig.from_dict(config)
    raise InvalidParameterError(
        f"config must be a PopulationConfig, a dict or None, got {type(config).__name__}"
    )


def _local_dates(frame: pd.DataFrame) -> np.ndarray:
    tz = frame.attrs.get("tz") or "UTC"
    return np.asarray([t.date() for t in frame.index.tz_convert(tz)])


def _check_days(frame: pd.DataFrame, days: tuple[dt.date, ...], zone: str) -> None:
    """DataValidationError for a gap or a missing price/load value in the replayed days."""
    from data import validate_market_data

    report = validate_market_data(frame)
    if report.errors:
        raise DataValidationError(f"{zone} data invalid: {report.errors[0]}")
    for finding in report.range_warnings:  # replayed as they are, but said
        warnings.warn(f"{zone} {finding}", UserWarning, stacklevel=3)
    if report.gaps:
        g = report.gaps[0]
        raise DataValidationError(
            f"{zone} data has a gap of {g.missing_intervals} interval(s) from "
            f"{g.start_utc.isoformat()} to {g.end_utc.isoformat()}; replay needs complete days"
        )
    if _PRICE not in frame.columns:
        raise DataUnavailableError(f"{zone} data has no {_PRICE} column: nothing to replay")
    present = set(_local_dates(frame))
    missing_days = [d for d in days if d not in present]
    if missing_days:
        raise DataValidationError(f"{zone} data has no rows on {missing_days[0].isoformat()}")
    price_na = frame[_PRICE].isna()
    if price_na.any():
        t = frame.index[price_na.to_numpy()][0]
        raise DataValidationError(
            f"{zone} {_PRICE} has {int(price_na.sum())} missing value(s), first at "
            f"{t.isoformat()}; replay needs complete days"
        )
    load_cols = [c for c in _LOADS if c in frame.columns]
    if not load_cols:
        raise DataUnavailableError(f"{zone} data has no load column ({', '.join(_LOADS)})")
    complete = np.zeros(len(frame), dtype=bool)
    for c in load_cols:
        complete |= frame[c].notna().to_numpy()
    if not complete.all():
        t = frame.index[~complete][0]
        raise DataValidationError(
            f"{zone} load ({' / '.join(load_cols)}) is missing at {t.isoformat()} "
            f"({int((~complete).sum())} interval(s)); replay needs complete days"
        )


HISTORY_GAPS_WARNING = r"\S+ history: \d+ gap\(s\)"
"""Regular expression of :func:`_check_history`'s warning (a backtest says it once)."""

SPIKES_WARNING = r"\S+ data: \S+: \d+ isolated spike\(s\)"
"""Regular expression of :func:`_check_history`'s spike warning (a backtest says it once)."""

HISTORY_MISSING_WARNING = r"\S+ history: \d+ missing value\(s\)"
"""Regular expression of :func:`_check_history`'s warning of missing values (said once)."""


def _check_history(history: pd.DataFrame, first_day: dt.date, zone: str) -> None:
    """The history before ``first_day``: DataValidationError for an invalid row (an off-grid
    or duplicate timestamp), a warning naming its gaps (left out, never filled), a warning
    naming the missing values of the columns it reads (unknown to the forecaster and the
    plans, never filled); and a warning naming the isolated spikes of the power columns in the whole
    ``history`` (the replayed days included, the history giving their references), kept as
    they are."""
    from data import validate_market_data
    from data.validation import find_spikes

    power = [
        c
        for c in history.columns
        if c.endswith("_mw") and pd.api.types.is_numeric_dtype(history[c])
    ]
    spikes = find_spikes(history[power], tz=history.attrs.get("tz") or "UTC")
    for col, times in spikes.items():
        if len(times):  # used as they are (a forecaster's input, a day's profile), but said
            warnings.warn(
                f"{zone} data: {col}: {len(times)} isolated spike(s) in the replayed days "
                f"and their history, at {', '.join(t.isoformat() for t in times[:3])}"
                f"{', ...' if len(times) > 3 else ''}; used as they are",
                UserWarning,
                stacklevel=3,
            )
    past = history.loc[_local_dates(history) < first_day]
    if past.empty:
        return
    end_utc = (
        pd.Timestamp(first_day).tz_localize(history.attrs.get("tz") or "UTC").tz_convert("UTC")
    )
    past.attrs = {**history.attrs, "end": first_day.isoformat(), "end_utc": end_utc.isoformat()}
    report = validate_market_data(past)  # its edge gaps up to first_day, not the file's end
    if report.errors:
        raise DataValidationError(f"{zone} history before {first_day} invalid: {report.errors[0]}")
    if report.gaps:
        g = report.gaps[0]
        missing = sum(x.missing_intervals for x in report.gaps)
        warnings.warn(
            f"{zone} history: {len(report.gaps)} gap(s), {missing} missing interval(s), the "
            f"first from {g.start_utc.isoformat()} to {g.end_utc.isoformat()}; the load "
            "forecaster and the solar plan's error spread leave them out (nothing is filled)",
            UserWarning,
            stacklevel=3,
        )
    from agents.profiles import LOAD_COLUMNS, SOLAR_COLUMNS
    from forecasting.features import forecast_columns

    # the columns a replay reads of its history: the forecaster's target and inputs, the
    # plans' load and solar (a realised wind value, say, is read by nothing)
    used = {*LOAD_COLUMNS, *SOLAR_COLUMNS, *forecast_columns(past)}
    counts = {c: n for c, n in report.missing_values.items() if n and c in used}
    if counts:
        values = past[list(counts)]
        first = values.index[values.isna().any(axis=1).to_numpy()][0]
        warnings.warn(
            f"{zone} history: {sum(counts.values())} missing value(s) before {first_day} ("
            + ", ".join(f"{c} {n}" for c, n in counts.items())
            + f"), the first at {first.isoformat()}; the load forecaster and the plans take "
            "them as unknown (nothing is filled)",
            UserWarning,
            stacklevel=3,
        )


def _load_history(
    zone: str,
    days: tuple[dt.date, ...],
    source: Any,
    replayed: pd.DataFrame | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> pd.DataFrame:
    """The replayed days with up to FORECAST_HISTORY_DAYS of history before them: as much as
    the source has (a file's first day), else (the live API) the longest of 365, 56 or 28
    days it serves. ``replayed``: the replayed days' frame when already loaded; ``progress``:
    the API download's (``load_market_data``)."""
    from data import load_market_data

    end = days[-1] + dt.timedelta(days=1)
    want = days[0] - dt.timedelta(days=FORECAST_HISTORY_DAYS)
    if replayed is None:
        replayed = load_market_data(zone, days[0], end, source=source, progress=progress)
    first = replayed.attrs.get("first_day")
    if first is not None:  # a file: its coverage is known
        start = max(want, dt.date.fromisoformat(first))
        if start >= days[0]:
            return replayed
        return load_market_data(zone, start, end, source=source, progress=progress)
    for back in (FORECAST_HISTORY_DAYS, 2 * _MIN_FORECAST_DAYS, _MIN_FORECAST_DAYS):
        try:
            return load_market_data(
                zone, days[0] - dt.timedelta(days=back), end, source=source, progress=progress
            )
        except DataUnavailableError:
            continue
    return replayed


def _forecast(
    history: pd.DataFrame, days: tuple[dt.date, ...], seed: int
) -> tuple[pd.DataFrame | None, dict[str, Any]]:
    """Student-t load forecast of the replayed days (module doc), or None with the reason."""
    info: dict[str, Any] = {
        "model": "StudentTForecaster",
        "target": "load_mw",
        "max_epochs": FORECAST_MAX_EPOCHS,
    }
    if "load_mw" not in history.columns:
        return None, {**info, "used": False, "reason": "no load_mw column"}
    from forecasting.features import cutoff_for_day, information_set

    local = _local_dates(history)
    tz = history.attrs["tz"]
    n_days = len(set(local[local < days[0]]))
    info["history_days"] = n_days
    if n_days < _MIN_FORECAST_DAYS:
        return None, {**info, "used": False, "reason": f"only {n_days} day(s) of history"}
    # what is known at the first day's cut-off (noon of the day before): not that afternoon
    train = information_set(history.loc[local < days[0]], cutoff_for_day(days[0], tz), tz=tz)
    train.attrs = dict(history.attrs)
    if train["load_mw"].notna().sum() == 0:
        return None, {**info, "used": False, "reason": "no load_mw value in the history"}
    from forecasting.models import StudentTForecaster

    model = StudentTForecaster(max_epochs=FORECAST_MAX_EPOCHS, random_state=seed)
    model.fit(train, target="load_mw")
    pred = model.predict(history, days=list(days))
    info.update(used=True, n_epochs=int(model.n_epochs_))
    return pred, info


# --------------------------------------------------------------------------------------------
# one day
# --------------------------------------------------------------------------------------------


def _check_solar(history: pd.DataFrame) -> None:
    """DataUnavailableError when the data has no solar column (the PV agents need one)."""
    from agents.profiles import SOLAR_COLUMNS

    if not any(c in history.columns for c in SOLAR_COLUMNS):
        zone = history.attrs.get("zone", "the zone")
        raise DataUnavailableError(
            f"{zone} data has no solar ({' or '.join(SOLAR_COLUMNS)}), which the PV agents "
            "need: replay a zone with solar data (btut data zones)"
        )


def _day_shapes(
    history: pd.DataFrame, days: tuple[dt.date, ...]
) -> tuple[dict[dt.date, Any], dict[dt.date, Any]]:
    """Each day's realised shapes and its plan without the Student-t forecast
    (:func:`_base_plan`): a day whose market cannot be built (e.g. no solar, no forecast and
    no history) fails here, before the work."""
    from agents import day_profiles

    _check_solar(history)
    shapes = {d: day_profiles(history, day=d) for d in days}
    return shapes, {d: _base_plan(history, shapes[d]) for d in days}


def _warn_substitutes(
    history: pd.DataFrame, shapes_by_day: dict[dt.date, Any], plans: dict[dt.date, Any], zone: str
) -> None:
    """Say each replayed day whose data has a column with missing values that its realised
    or planned profile therefore takes from another (the TSO's forecast for the realised
    load or solar, the clock-time mean of the days before for a plan): nothing is filled,
    but the day is built on the substitute (``details``: ``realised_*``, ``plan_*``)."""
    from agents.profiles import LOAD_COLUMNS, SOLAR_COLUMNS

    local = _local_dates(history)
    for d, shapes in shapes_by_day.items():
        rows = history.loc[local == d]
        plan = plans[d]
        cases = (
            (LOAD_COLUMNS[0], shapes.load_column, "realised load"),
            (SOLAR_COLUMNS[0], shapes.solar_column, "realised solar"),
            ("load_forecast_mw", plan.load_column, "load plan"),
            ("solar_forecast_mw", plan.solar_column, "solar plan"),
        )
        for column, used, what in cases:
            if column not in rows.columns or used in (None, column, "student_t_mu"):
                continue
            missing = rows[column].isna().to_numpy()
            if not missing.any():
                continue
            warnings.warn(
                f"{zone} {d.isoformat()}: {column} has {int(missing.sum())} missing value(s), "
                f"the first at {rows.index[missing][0].isoformat()}; the day's {what} is "
                f"{used} (nothing is filled)",
                UserWarning,
                stacklevel=3,
            )


def _base_plan(history: pd.DataFrame, shapes: Any) -> Any:
    """:func:`agents.planning_profiles` of the day with the replay's settings and no
    Student-t forecast (the TSO's load forecast, else the clock-time mean)."""
    from agents import planning_profiles

    return planning_profiles(
        history, shapes, naive_days=PLAN_NAIVE_DAYS, solar_error_days=PLAN_SOLAR_ERROR_DAYS
    )


def _plan(base: Any, pred: pd.DataFrame | None) -> Any:
    """The day's shapes as known at its cut-off (module doc): ``base`` (:func:`_base_plan`)
    with the Student-t ``mu`` as the load shape when it covers the day (what
    ``planning_profiles(load_forecast_mw=mu)`` gives; the solar part does not depend on it)."""
    if pred is None:
        return base
    mu = pred["mu"].reindex(base.index).to_numpy(dtype=np.float64)
    if not (np.isfinite(mu).all() and (mu > 0).all()):
        return base
    return dataclasses.replace(base, load_shape=mu / mu.sum(), load_column="student_t_mu")


def _shard_agents() -> int:
    from btut.executors import SHARD_AGENTS

    return SHARD_AGENTS


def _finite_or_none(obj: Any) -> Any:
    """``obj`` with every NaN or infinite float (numpy's too) in its dicts and lists as None."""
    if isinstance(obj, dict):
        return {k: _finite_or_none(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_or_none(v) for v in obj]
    if isinstance(obj, float | np.floating) and not math.isfinite(float(obj)):
        return None
    return obj


def _json_scalar(obj: Any) -> Any:
    """numpy scalars and dates in per-day summaries -> JSON."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (dt.date, dt.datetime)):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _noise_seed(seed: int, day: dt.date) -> int:
    return int(np.random.SeedSequence([seed, day.toordinal()]).generate_state(1)[0])


def _run_day(
    day: dt.date,
    history: pd.DataFrame,
    shapes: Any,
    plan_shapes: Any,
    population: Any,
    pred: pd.DataFrame | None,
    *,
    seed: int,
    kappa: float,
    max_exact_agents: int,
    report: Callable[[str, float], None],
    shard_client: Any = None,
    graph: Any = None,
) -> DayResult:
    from agents import agent_net_demand, iter_net_demand
    from agents.profiles import NOISE_BLOCK
    from market import (
        baseline_cost,
        benchmark_scores,
        clear_finite_market,
        energy_game,
        plan_community,
        solve_energy_market,
    )
    from market.clearing import MAX_SETTLEMENT_AGENTS
    from market.planner import stratified_sample

    N = population.n_agents
    price = history[_PRICE].reindex(shapes.index).to_numpy(dtype=np.float64)
    forecast = None
    if pred is not None:
        forecast = pred.reindex(shapes.index)[["mu", "sigma", "nu"]]
        if forecast.isna().any().any() or not (forecast["mu"] > 0).all():
            forecast = None
    noise_seed = _noise_seed(seed, day)

    report("equilibrium", 0.0)
    # agents plan on what is known at the cut-off; the day then happens as it did
    game = energy_game(
        population, price, plan_shapes, kappa_eur_per_mwh_per_kwh=kappa, forecast=forecast
    )
    eq = solve_energy_market(game)

    report("finite market", 0.2)
    sampled = N > max_exact_agents
    keep = (sampled or graph is not None) and N <= MAX_SETTLEMENT_AGENTS
    # too many agents to keep every settlement: keep the planner's sample's (paired scores)
    track = (
        stratified_sample(population.type_index, max_exact_agents, seed=seed)
        if sampled and not keep
        else None
    )
    if shard_client is not None and N > MAX_SETTLEMENT_AGENTS:
        # population shards on Dask send statistics, not agents (btut.executors)
        from btut.executors import dask_market_statistics
        from market import settle_market

        stats = dask_market_statistics(
            shard_client, eq, population, shapes, noise_seed=noise_seed, seed=seed, track=track
        )
        fm = settle_market(eq, population, stats, seed=seed)
    else:
        fm = clear_finite_market(
            eq,
            population,
            iter_net_demand(population, shapes, seed=noise_seed),
            seed=seed,
            keep_settlement=keep,
            track=track,
        )
    market_cost = float(fm.mean_cost_eur) * N
    routed = None
    if graph is not None:  # one netted payment per agent for the day (btut.routes)
        from routing import route_settlement

        report("settlement routing", 0.25)
        assert fm.agent_payment_eur is not None
        routed = route_settlement(
            graph, fm.agent_payment_eur.sum(axis=1), seed=_noise_seed(seed + 1, day)
        ).to_frame()

    if N <= MAX_SETTLEMENT_AGENTS:
        net: Any = agent_net_demand(population, shapes, seed=noise_seed)
    else:  # stream: only the planner's sample is materialised, block by noise block

        def net(idx: np.ndarray) -> np.ndarray:
            idx = np.asarray(idx, dtype=np.int64)
            out = np.empty((idx.size, shapes.n_intervals))
            blocks = idx // NOISE_BLOCK
            for blk in np.unique(blocks):
                lo = int(blk) * NOISE_BLOCK
                hi = min(lo + NOISE_BLOCK, N)
                sel = blocks == blk
                part = agent_net_demand(population, shapes, seed=noise_seed, start=lo, stop=hi)
                out[sel] = part[idx[sel] - lo]
            return out

    report("planner", 0.3)
    kw = _benchmark_kw(population, shapes, plan_shapes, max_exact_agents, seed)
    plan = plan_community(population, net, price, **kw)
    report("baseline", 0.85)
    base = baseline_cost(population, net, price, **kw)
    tracked = None
    if track is not None and plan.sampled and np.array_equal(track, plan.agent_index):
        tracked = fm.tracked_cost_eur
    sc = benchmark_scores(
        base,
        market_cost,
        plan,
        market_agent_cost_eur=fm.agent_cost_eur if keep and sampled else None,
        market_sample_cost_eur=tracked,
    )

    scale_b = N / base.sample_size if base.sampled else 1.0
    scale_p = N / plan.sample_size if plan.sampled else 1.0
    frame = pd.DataFrame(
        {
            "wholesale_eur_per_mwh": fm.wholesale_eur_per_mwh,
            "buy_eur_per_mwh": fm.buy_eur_per_mwh,
            "sell_eur_per_mwh": fm.sell_eur_per_mwh,
            "local_price_eur_per_mwh": fm.price_eur_per_mwh,
            "mean_field_price_eur_per_mwh": eq.price_eur_per_mwh,
            "mean_position_kwh": fm.mean_position_kwh,
            "import_market_kwh": fm.imports_kwh,
            "export_market_kwh": fm.exports_kwh,
            "import_baseline_kwh": base.imports_kwh * scale_b,
            "import_planner_kwh": plan.imports_kwh * scale_p,
            "load_forecast_mu_mw": (forecast["mu"].to_numpy() if forecast is not None else np.nan),
            "load_forecast_sigma_mw": (
                forecast["sigma"].to_numpy() if forecast is not None else np.nan
            ),
            "load_forecast_nu": forecast["nu"].to_numpy() if forecast is not None else np.nan,
            "load_mw": (
                history["load_mw"].reindex(shapes.index).to_numpy(dtype=np.float64)
                if "load_mw" in history.columns
                else np.nan
            ),
            "load_shape": shapes.load_shape,
            "load_shape_plan": plan_shapes.load_shape,
            "solar_cf": shapes.solar_cf,
            "solar_cf_plan": plan_shapes.solar_cf,
            "solar_cf_error_sd_plan": plan_shapes.solar_cf_error_sd,
        },
        index=pd.DatetimeIndex(shapes.index, name="time_utc"),
    ).astype(np.float64)

    by_type = eq.by_type()
    types = fm.types
    b_per, p_per = base.type_cost_per_agent_eur, plan.type_cost_per_agent_eur
    per_type = pd.DataFrame(
        {
            "count": types["count"].astype(np.float64),
            "share": by_type["share"].reindex(types.index),
            "market_cost_eur_per_agent": types["mean_cost_eur"],
            "mean_field_cost_eur_per_agent": by_type["expected_cost_eur"].reindex(types.index),
            "baseline_cost_eur_per_agent": pd.Series(b_per).reindex(types.index),
            "planner_cost_eur_per_agent": pd.Series(p_per).reindex(types.index),
            "exploitability_eur_per_agent": by_type["exploitability_eur"].reindex(types.index),
        },
        index=pd.Index(types.index, name="agent_type"),
    ).astype(np.float64)

    report("scores", 1.0)
    result = DayResult(
        day=day,
        intervals=frame,
        per_type=per_type,
        exploitability_eur_per_agent=float(eq.exploitability_eur),
        baseline_cost_eur=float(sc.baseline_cost_eur),
        market_cost_eur=market_cost,
        market_cost_used_eur=float(sc.market_cost_sample_eur),
        planner_cost_eur=float(sc.planner_cost_eur),
        planner_mip_gap=float(sc.planner_mip_gap),
        planner_error_bound_eur=float(plan.cost_error_bound_eur),
        planner_sampled=bool(plan.sampled),
        efficiency=float(sc.efficiency),
        efficiency_low=float(sc.efficiency_low),
        efficiency_high=float(sc.efficiency_high),
        price_of_anarchy=float(sc.price_of_anarchy),
        peak_import_market_kwh=float(fm.imports_kwh.max()),
        peak_import_baseline_kwh=float(frame["import_baseline_kwh"].max()),
        scores=sc.to_dict(),
        details={
            "intervals": int(shapes.n_intervals),
            "forecast_used": forecast is not None,
            "plan_load": plan_shapes.load_column,
            "plan_solar": plan_shapes.solar_column,
            "plan_solar_error_days": int(plan_shapes.solar_error_days),
            "realised_load": shapes.load_column,
            "realised_solar": shapes.solar_column,
            "equilibrium_iterations": int(eq.iterations),
            "equilibrium_converged": bool(eq.converged),
            "equilibrium_tol_eur": float(eq.tol_eur),
            "equilibrium_initial_exploitability_eur": float(eq.initial_exploitability_eur),
            "equilibrium_exploitability_history_eur": [
                float(e) for e in eq.exploitability_history_eur
            ],
            "finite_market_gap_eur_per_agent": float(fm.community_gap_eur),
            "planner_sample_size": int(plan.sample_size),
            "planner_solve_method": plan.solve_method,
            "planner_status": plan.status,
            "baseline_mip_gap": float(base.mip_gap),
            "efficiency_note": sc.efficiency_note,
            "price_of_anarchy_note": sc.price_of_anarchy_note,
            "noise_seed": noise_seed,
            **(_day_routing(routed) if routed is not None else {}),
        },
        routing_payments=routed,
    )
    _warn_if_not_converged(result)
    return result


def _benchmark_kw(
    population: Any, shapes: Any, plan_shapes: Any, max_exact_agents: int, seed: int
) -> dict[str, Any]:
    """Keywords of :func:`market.plan_community` and :func:`market.baseline_cost` for a
    day: the realised ``shapes``, and the consumers' demand response on the load planned on
    (``plan_shapes``), as in the market, so both benchmarks have exactly its options."""
    from market import expected_load_kwh

    return {
        "shapes": shapes,
        "max_exact_agents": max_exact_agents,
        "sample_seed": seed,
        "dr_base_kwh": expected_load_kwh(population, plan_shapes),
    }


def _warn_if_not_converged(day: DayResult) -> None:
    """A ``UserWarning`` (one ``btut: warning:`` line at the CLI) when ``day``'s equilibrium
    stopped at the iteration limit above its tolerance: its market figures are then those of
    an approximate equilibrium (stored all the same, with ``equilibrium_converged`` false)."""
    d = day.details
    if d.get("equilibrium_converged", True):
        return
    warnings.warn(
        f"{day.day}: the equilibrium did not converge in {d.get('equilibrium_iterations')} "
        f"iterations (exploitability {day.exploitability_eur_per_agent:.4f} EUR/agent/day "
        f"above the tolerance {d.get('equilibrium_tol_eur')}); its market figures are those "
        "of an approximate equilibrium",
        UserWarning,
        stacklevel=2,
    )


def _day_routing(payments: pd.DataFrame) -> dict[str, Any]:
    from btut.routes import summarise_payments

    return {f"routing_{k}": v for k, v in summarise_payments([payments]).items()}


# --------------------------------------------------------------------------------------------
# the replay
# --------------------------------------------------------------------------------------------


def _code_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("btut")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "unknown"


@dataclass(frozen=True)
class _Params:
    """Validated replay parameters (shared with :mod:`btut.backtesting`)."""

    zone: str
    agents: int
    seed: int
    kappa: float
    max_exact_agents: int
    source: str | None
    population: Any  # agents.PopulationConfig
    source_sha256: str | None = None  # of a source file's bytes: edited data is a new run
    source_path: str | None = None  # that file's absolute path (stored, not in the identity)

    def run_config(self, days: tuple[dt.date, ...]) -> dict[str, Any]:
        """The stored configuration of a replay of ``days`` (its hash identifies the run)."""
        from market.energy import BIN_PARAMETER, DEFAULT_BINS, DEFAULT_TOL_EUR

        return {
            "kind": "replay",
            "zone": self.zone,
            "days": [d.isoformat() for d in days],
            "agents": self.agents,
            "seed": self.seed,
            "kappa_eur_per_mwh_per_kwh": self.kappa,
            "max_exact_agents": self.max_exact_agents,
            # a file is identified by its bytes, not by the path it was named by (the same file
            # from another folder, or moved, was computed and stored again)
            "source": "file" if self.source_sha256 else self.source,
            **({"source_sha256": self.source_sha256} if self.source_sha256 else {}),
            "population": self.population.to_dict(),
            "forecast": {
                "model": "StudentTForecaster",
                "history_days": FORECAST_HISTORY_DAYS,
                "max_epochs": FORECAST_MAX_EPOCHS,
            },
            # agents plan on the day as known at its cut-off (forecasts), the day happens
            # with its actuals (no look-ahead; before, agents planned on the actual shapes)
            "plan": {
                "profiles": "cut-off forecasts",
                "naive_days": PLAN_NAIVE_DAYS,
                "solar_error_days": PLAN_SOLAR_ERROR_DAYS,
            },
            # engine settings that change the results (a new default is a new run)
            "engine": {
                "bins": dict(DEFAULT_BINS),
                "bin_parameter": dict(BIN_PARAMETER),
                "equilibrium_tol_eur": DEFAULT_TOL_EUR,
            },
            # the planner's and the baseline's demand-response levels: on the planned load,
            # as the market's (before 2026-12-07: on the realised load)
            "benchmark": {"dr_base": "planned load"},
            "code_version": _code_version(),
        }


def _params(
    zone: Any,
    agents: Any,
    seed: Any,
    config: Any,
    kappa: Any,
    source: Any,
    max_exact_agents: Any,
) -> _Params:
    """Validate replay parameters (one-line ``InvalidParameterError``), before any work."""
    from market import DEFAULT_KAPPA, DEFAULT_MAX_EXACT_AGENTS

    zone = get_zone(zone).code  # "es", " ES", "de-lu": one stored configuration per zone
    exact = check_int(
        DEFAULT_MAX_EXACT_AGENTS if max_exact_agents is None else max_exact_agents,
        "max_exact_agents",
        1,
    )
    k = DEFAULT_KAPPA if kappa is None else kappa
    if isinstance(k, bool) or not isinstance(k, numbers.Real) or not math.isfinite(k) or k < 0:
        raise InvalidParameterError(f"kappa must be a finite number >= 0, got {kappa!r}")
    digest = _file_digest(source)
    return _Params(
        zone=zone,
        agents=check_int(agents, "agents", 1, MAX_AGENTS),
        seed=check_int(seed, "seed", 0, MAX_SEED),
        kappa=float(k),
        max_exact_agents=exact,
        source=None if source is None else str(source),
        population=_population_config(config),
        source_sha256=digest,
        source_path=str(Path(source).resolve()) if digest else None,
    )


def _file_digest(source: Any) -> str | None:
    """sha256 of a source file's bytes (None for the bundled data, the live API or a path
    that is no readable regular file: loading it says what is wrong). A file edited in place, or
    another file under the same relative path, is other data: its runs are new runs."""
    if source is None or str(source).lower() == "entsoe":
        return None
    digest = hashlib.sha256()
    try:
        if not stat.S_ISREG(os.stat(source).st_mode):  # /dev/zero, a FIFO: the loader says
            return None
        with open(source, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except (OSError, ValueError, TypeError):
        return None
    return digest.hexdigest()


def _save(result: ReplayResult, db: str | None) -> Any:
    """Store a replay in one transaction (idempotent on its config); :class:`SavedRun`."""
    from data.store import ResultsStore

    metrics: dict[str, float | str] = dict(result.metrics())
    metrics.pop("elapsed_s")  # wall time is not a property of the run
    # strict JSON: an undefined figure (an efficiency without a gap to close) is null
    if result.details.get("source_path"):  # where the data came from (not its identity)
        metrics["source_path"] = str(result.details["source_path"])
    metrics["days_json"] = json.dumps(
        _finite_or_none([r.summary() for r in result.day_results]),
        default=_json_scalar,
        allow_nan=False,
    )
    if result.routing is not None:
        from btut.routes import routing_metrics

        frames = [r.routing_payments for r in result.day_results if r.routing_payments is not None]
        metrics.update(routing_metrics(result.routing, frames, seed=result.seed))
    with ResultsStore(db) as st:
        return st.save_run(
            kind="replay",
            config=result.config,
            zone=result.zone,
            intervals=result.to_frame(),
            per_type=result.per_type_frame(),
            metrics=metrics,
        )


def _check_storable_names(par: _Params) -> None:
    """Refuse, before any work, a type name the results store cannot hold (it was refused
    only when the finished run was stored)."""
    from agents.config import MAX_TYPE_NAME_CHARS

    types = getattr(par.population, "types", None) or ()
    for t in types:
        if len(t.name) > MAX_TYPE_NAME_CHARS:
            raise InvalidParameterError(
                f"type name must have at most {MAX_TYPE_NAME_CHARS} characters to be stored "
                f"(the results store's limit), got {len(t.name)}: {t.name[:20]!r}...; "
                "shorten it, or run without storing"
            )


def replay(
    zone: str = DEFAULT_ZONE,
    day: str | dt.date | None = None,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    agents: int = 10_000,
    seed: int = 0,
    config: Any = None,
    kappa: float | None = None,
    source: str | None = None,
    max_exact_agents: int | None = None,
    db: str | None = None,
    store: bool = True,
    progress: Progress | None = None,
    executor: str = "local",
    scheduler: str | None = None,
    n_workers: int | None = None,
    route: bool = False,
    graph: str | None = None,
) -> ReplayResult:
    """Replay ``day`` (default :data:`DEFAULT_DAY`) or the days ``[start, end)`` of ``zone``.

    agents: N >= 1 sampled agents; seed >= 0: population, noise, mixed actions, planner sample
    and forecaster; config: a :class:`agents.PopulationConfig`, its ``to_dict()`` or None
    (defaults); kappa: price sensitivity in EUR/MWh per kW of mean position per agent
    (default :data:`market.DEFAULT_KAPPA`); source: ``data.load_market_data``'s (None: the
    bundled data; a CSV path; ``"entsoe"``: the live API, its download said query by query in
    the stage ``"load data: ..."``); max_exact_agents: planner exact up to this N (default 2,000),
    sampled above; db: results store URL; store: save the run (one transaction, after
    everything succeeded); progress: ``callback(stage, fraction)`` with ``fraction`` in [0, 1]
    of the whole replay; executor: ``"local"`` or ``"dask"``: with ``"dask"`` and more than
    ``market.clearing.MAX_SETTLEMENT_AGENTS`` (10^6) agents, the finite market is cleared in
    population shards on a Dask cluster (:mod:`btut.executors`; the scheduler at
    ``scheduler``, else a ``LocalCluster`` of ``n_workers`` processes), with results identical
    to ``"local"``; route: route every agent's netted settlement over the Lightning graph at
    ``graph`` (default the bundled 2026 snapshot; :mod:`btut.routes`), N <= 10^6. Module doc
    for the pipeline, aggregation and errors.
    """
    t0 = time.perf_counter()
    par = _params(zone, agents, seed, config, kappa, source, max_exact_agents)
    zone, n, seed, k, exact = par.zone, par.agents, par.seed, par.kappa, par.max_exact_agents
    pop_config = par.population
    days = _days(day, start, end)
    from btut.executors import check_executor
    from market.clearing import MAX_SETTLEMENT_AGENTS

    check_executor(executor, scheduler, n_workers)
    if store:  # a URL that cannot be parsed: said before anything else (nothing connects)
        from data.store import check_url

        check_url(db)
        _check_storable_names(par)
    if executor == "dask" and n <= MAX_SETTLEMENT_AGENTS:
        warnings.warn(
            "the dask executor (--executor dask) shards markets of more than "
            f"{MAX_SETTLEMENT_AGENTS:,} agents; "
            f"these {n:,} clear in this process and no Dask cluster is used",
            UserWarning,
            stacklevel=2,
        )

    if graph is not None and not route:
        raise InvalidParameterError("a graph (--graph) needs route=True (--route)")
    if route and n > MAX_SETTLEMENT_AGENTS:
        raise InvalidParameterError(
            f"route (--route) routes one payment per agent: at most {MAX_SETTLEMENT_AGENTS} "
            f"agents, got {n}"
        )
    channel_graph = None
    if route:
        from btut.routes import load_graph

        channel_graph = load_graph(graph)  # malformed or missing file: one-line error, no work
        from routing.settlement import (
            DEFAULT_MIN_CHANNELS,
            attachment_candidates,
            default_operator,
        )

        # a graph without nodes to attach the agents to: said now, not after the market
        attachment_candidates(channel_graph, DEFAULT_MIN_CHANNELS, default_operator(channel_graph))

    if progress is not None and not callable(progress):
        raise InvalidParameterError(f"progress must be a callable or None, got {progress!r}")

    def report(stage: str, fraction: float) -> None:
        if progress is not None:
            progress(stage, min(max(fraction, 0.0), 1.0))

    report("load data", 0.0)
    from data import load_market_data

    def downloading(done: int, total: int, what: str) -> None:  # the live API only
        report(f"load data: ENTSO-E {what} in ({done} of {total})", 0.0)

    first, stop = days[0], days[-1] + dt.timedelta(days=1)
    replayed = load_market_data(  # DataUnavailableError
        zone, first, stop, source=source, progress=downloading
    )
    _check_days(replayed, days, zone)
    history = _load_history(zone, days, source, replayed, progress=downloading)
    shapes_by_day, base_plans = _day_shapes(history, days)  # e.g. no solar: an error first
    _check_history(history, days[0], zone)

    results = []
    share = 0.85 / len(days)
    shards = executor == "dask" and n > MAX_SETTLEMENT_AGENTS
    stack = contextlib.ExitStack()
    shard_client = None
    if shards:  # an unreachable scheduler fails before the store is touched
        from btut.executors import dask_client

        shard_client = stack.enter_context(dask_client(scheduler, n_workers))
    with stack:
        if store:  # the input is good: an unreachable database fails before the work
            from data.store import ResultsStore

            ResultsStore(db).close()

        # -- forecast and population -------------------------------------------------------
        report("forecast", 0.02)
        pred, forecast_info = _forecast(history, days, seed)
        plans = {d: _plan(base_plans[d], pred) for d in days}
        _warn_substitutes(history, shapes_by_day, plans, zone)
        if pred is None:  # said, not only in the details
            p = plans[days[0]]
            warnings.warn(
                f"{zone}: no Student-t load forecast ({forecast_info.get('reason', 'not used')}): "
                f"agents plan "
                f"on {p.load_column} and {p.solar_column or 'no solar'}, and their risk "
                "leaves out the load forecast's error",
                UserWarning,
                stacklevel=2,
            )
        report("population", 0.1)
        from agents import sample_population

        population = sample_population(pop_config, n, seed=seed)

        for i, d in enumerate(days):
            base = 0.12 + i * share

            def day_report(stage: str, frac: float, d: dt.date = d, base: float = base) -> None:
                report(f"{d.isoformat()}: {stage}", base + share * frac)

            results.append(
                _run_day(
                    d,
                    history,
                    shapes_by_day[d],
                    plans[d],
                    population,
                    pred,
                    seed=seed,
                    kappa=k,
                    max_exact_agents=exact,
                    report=day_report,
                    shard_client=shard_client,
                    graph=channel_graph,
                )
            )

    # -- aggregation (module doc) -----------------------------------------------------------
    from market import efficiency, price_of_anarchy

    b = math.fsum(r.baseline_cost_eur for r in results)
    m = math.fsum(r.market_cost_eur for r in results)
    m_used = math.fsum(r.market_cost_used_eur for r in results)
    p = math.fsum(r.planner_cost_eur for r in results)
    if len(results) == 1:
        eff, poa = results[0].efficiency, results[0].price_of_anarchy
    else:
        eff, poa = efficiency(b, m_used, p), price_of_anarchy(m_used, p)
    gaps = [r.planner_mip_gap for r in results if math.isfinite(r.planner_mip_gap)]
    peak_reduction = _reduction(
        max(r.peak_import_market_kwh for r in results),
        max(r.peak_import_baseline_kwh for r in results),
    )
    run_config = par.run_config(days)
    routing_summary = None
    if route:
        from btut.routes import summarise_payments
        from routing.settlement import DEFAULT_EUR_PER_BTC

        run_config["routing"] = {
            "graph": "bundled:lightning-2026-02-03" if graph is None else str(graph),
            "eur_per_btc": DEFAULT_EUR_PER_BTC,
            "netting": "one payment per agent per day, via the market operator",
        }
        routing_summary = summarise_payments(
            [r.routing_payments for r in results if r.routing_payments is not None]
        )
    details = {
        **({"source_path": par.source_path} if par.source_path else {}),
        "forecast": forecast_info,
        "executor": executor,
        "population_shards": -(-n // _shard_agents()) if shards else 0,
        "market_cost_used_eur": m_used,
        "aggregation": (
            "costs summed over days; exploitability averaged per agent-day; efficiency and "
            "price of anarchy from the summed costs"
        ),
    }
    result = ReplayResult(
        run_id=None,
        created=None,
        config_hash=None,
        zone=zone,
        days=days,
        agents=n,
        seed=seed,
        kappa_eur_per_mwh_per_kwh=k,
        config=run_config,
        day_results=tuple(results),
        exploitability_eur_per_agent_day=float(
            np.mean([r.exploitability_eur_per_agent for r in results])
        ),
        efficiency=float(eff),
        price_of_anarchy=float(poa),
        baseline_cost_eur=b,
        market_cost_eur=m,
        planner_cost_eur=p,
        planner_mip_gap=float(max(gaps)) if gaps else float("nan"),
        peak_import_reduction=float(peak_reduction),
        elapsed_s=0.0,
        details=details,
        routing=routing_summary,
    )

    saved = None
    if store:
        report("store", 0.98)
        saved = _save(result, db)
    report("done", 1.0)
    elapsed = time.perf_counter() - t0
    return ReplayResult(
        **{
            **{f: getattr(result, f) for f in result.__dataclass_fields__},
            "run_id": saved.run_id if saved else None,
            "created": saved.created if saved else None,
            "config_hash": saved.config_hash if saved else None,
            "elapsed_s": elapsed,
        }
    )
