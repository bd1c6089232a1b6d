"""Out-of-sample evaluation of day-ahead forecasters on real data.

``evaluate_forecasters`` fits every model on a training period, forecasts every market
day of a test period (each day from what was known at its cut-off, noon of the day
before) and scores the forecasts with ``forecasting.metrics``: CRPS, MAE of the median,
RMSE, central 80 % and 95 % interval coverage, and a Diebold-Mariano test of the
Student-t model against each other model.

The Diebold-Mariano test is run on the series of **daily mean CRPS** (one loss per test
day, horizon 1), so the strong dependence between the hours of one day does not inflate
the statistic; its p-value is one-sided, for the alternative "Student-t has the lower
expected CRPS" (small p-values favour the Student-t model).

Recalibration: the first fit uses the training period only (and the week before it, for
the lags; the TSO forecaster, which has none, fits its spread on that week's errors too),
whatever lies between the training end and the test start, and starts afresh: a network
the caller fitted before (``warm_start=True``) does not carry its weights or scalers in.
``recalibrate=None`` fits once. ``recalibrate=k`` refits every ``k`` test days on an
expanding window (training start to everything known at the block's cut-off, noon of the
day before), as the open-access price-forecasting benchmark does daily (``k=1``); neural
models then warm-start from their previous weights for at most ``warm_epochs`` epochs, so
a daily refit stays cheap.
"""

from __future__ import annotations

import datetime as dt
import inspect
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data.checks import check_int
from data.errors import DataUnavailableError, InvalidParameterError
from data.loader import as_market_day, check_day_range
from data.seeds import check_seed
from forecasting.features import cutoff_for_day, information_set, market_days, resolve_tz
from forecasting.metrics import crps_values, diebold_mariano, score_forecast
from forecasting.models import (
    TSO_FORECAST_COLUMNS,
    BaseForecaster,
    GaussianForecaster,
    SeasonalNaiveForecaster,
    StudentTForecaster,
    TSOForecaster,
)

REFERENCE = "student_t"
#: Days of data before the training start that feed the lags (the longest lag is 7 days).
HISTORY_DAYS = 7


def default_models(
    frame: pd.DataFrame, target: str, *, random_state: int = 0, **network: Any
) -> dict[str, BaseForecaster]:
    """The four models of the evaluation (``tso`` only where the frame has the TSO's
    forecast of ``target``). ``network`` parameters (e.g. ``hidden``, ``exog_lags``) go to
    both neural models, which share one body."""
    models: dict[str, BaseForecaster] = {
        "student_t": StudentTForecaster(random_state=random_state, **network),
        "gaussian": GaussianForecaster(random_state=random_state, **network),
        "seasonal_naive": SeasonalNaiveForecaster(),
    }
    tso_col = TSO_FORECAST_COLUMNS.get(target)
    if tso_col is not None and tso_col in frame.columns and frame[tso_col].notna().any():
        models["tso"] = TSOForecaster()
    return models


@dataclass(frozen=True)
class ModelScore:
    """Test-period scores of one model (target units; coverage as fractions)."""

    crps: float
    mae: float
    rmse: float
    coverage_80: float
    coverage_95: float
    dm_pvalue_vs_student_t: float | None
    n_intervals: int
    fit_s: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "crps": self.crps,
            "mae": self.mae,
            "rmse": self.rmse,
            "coverage_80": self.coverage_80,
            "coverage_95": self.coverage_95,
            "dm_pvalue_vs_student_t": self.dm_pvalue_vs_student_t,
            "n_intervals": self.n_intervals,
            "fit_s": self.fit_s,
        }


@dataclass(frozen=True)
class ForecastEvaluation:
    """Result of ``evaluate_forecasters``: scores per model and the test forecasts."""

    zone: str | None
    target: str
    train: tuple[dt.date, dt.date]
    test: tuple[dt.date, dt.date]
    scores: dict[str, ModelScore]
    recalibrate: int | None
    elapsed_s: float
    network: dict[str, Any] = field(default_factory=dict)
    forecasts: dict[str, pd.DataFrame] = field(repr=False, default_factory=dict)
    observed: pd.Series | None = field(repr=False, default=None)

    def to_dict(self) -> dict[str, Any]:
        """The ``btut forecast evaluate --json`` object."""
        return {
            "zone": self.zone,
            "target": self.target,
            "train": f"{self.train[0]}:{self.train[1]}",
            "test": f"{self.test[0]}:{self.test[1]}",
            "recalibrate_every_days": self.recalibrate,
            "network": dict(self.network),
            "dm_test": "one-sided, daily mean CRPS, H1: student_t has lower CRPS",
            "elapsed_s": self.elapsed_s,
            "models": {name: s.to_dict() for name, s in self.scores.items()},
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per model."""
        return pd.DataFrame({n: s.to_dict() for n, s in self.scores.items()}).T


def parse_period(text: str, what: str = "period") -> tuple[dt.date, dt.date]:
    """``"START:END"`` (both inclusive local days, ``YYYY-MM-DD``) -> two dates."""
    parts = str(text).split(":")
    if len(parts) != 2:
        raise InvalidParameterError(
            f"{what} must be START:END (YYYY-MM-DD:YYYY-MM-DD), got {text!r}"
        )
    try:
        start, end = (dt.date.fromisoformat(p.strip()) for p in parts)
    except ValueError:
        raise InvalidParameterError(f"{what} {text!r} has a date that is not YYYY-MM-DD") from None
    check_day_range(start, f"{what} start")
    check_day_range(end, f"{what} end")
    if end < start:
        raise InvalidParameterError(f"{what} {text!r} ends before it starts")
    return start, end


def _fit(model: BaseForecaster, frame: pd.DataFrame, target: str, tz: str) -> float:
    t0 = time.perf_counter()
    model.fit(frame, target=target, tz=tz)
    return time.perf_counter() - t0


def _period(value: Any, what: str) -> tuple[dt.date, dt.date]:
    """(first, last) market days from two dates, ``YYYY-MM-DD`` texts or midnights."""
    try:
        first, last = value
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"{what} must be (first day, last day), got {value!r}"
        ) from None
    first, last = as_market_day(first, f"{what} start"), as_market_day(last, f"{what} end")
    if last < first:
        raise InvalidParameterError(f"{what} {first}:{last} ends before it starts")
    return first, last


def _shown(value: Any) -> str:
    """``repr(value)`` if it is one short line, else the type's name."""
    text = repr(value)
    if "\n" in text or len(text) > 80:
        return f"a {type(value).__name__}"
    return text


def network_parameters() -> frozenset[str]:
    """The parameters ``network`` may set: those of both neural models' ``__init__``."""
    names = [
        {p for p in inspect.signature(cls.__init__).parameters if p != "self"}
        for cls in (StudentTForecaster, GaussianForecaster)
    ]
    return frozenset.intersection(*map(frozenset, names))


def _check_models(models: Any) -> dict[str, BaseForecaster] | None:
    if models is None:
        return None
    if not isinstance(models, Mapping):
        raise InvalidParameterError(
            f"models must be a mapping of names to forecasters (or None for the default "
            f"models), got {_shown(models)}"
        )
    if not models:
        raise InvalidParameterError(
            "models must name at least one forecaster (or be None for the default models)"
        )
    for name, model in models.items():
        if not isinstance(name, str):
            raise InvalidParameterError(f"models must be keyed by name (str), got {name!r}")
        if not (
            isinstance(model, BaseForecaster)
            and callable(getattr(model, "fit", None))
            and callable(getattr(model, "predict", None))
        ):  # the base class itself has neither
            raise InvalidParameterError(
                f"models[{name!r}] must be a forecaster (a BaseForecaster with fit and "
                f"predict), got {_shown(model)}"
            )
    return dict(models)


def _check_network(network: Any) -> dict[str, Any]:
    if network is None:
        return {}
    if not isinstance(network, Mapping):
        raise InvalidParameterError(
            f"network must be a mapping of network parameters (e.g. {{'hidden': (64, 64)}}) "
            f"or None, got {_shown(network)}"
        )
    known = network_parameters()
    for key in network:
        if key not in known:
            raise InvalidParameterError(
                f"network has no parameter {key!r}; known: {', '.join(sorted(known))}"
            )
    return dict(network)


def evaluate_forecasters(
    frame: pd.DataFrame,
    target: str,
    *,
    train: tuple[dt.date | str, dt.date | str],
    test: tuple[dt.date | str, dt.date | str],
    models: Mapping[str, BaseForecaster] | None = None,
    recalibrate: int | None = None,
    warm_epochs: int = 5,
    random_state: int = 0,
    network: Mapping[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ForecastEvaluation:
    """Fit on ``train`` days, forecast and score every ``test`` day (both inclusive).

    ``frame`` holds the data from before the training start (for lags) to the test end,
    with ``attrs["tz"]``. ``models`` default to ``default_models`` (with ``network``
    parameters for the two neural models); the Diebold-Mariano tests need a ``student_t``
    model among them (otherwise their p-values are None). ``progress(done, total)`` is
    called after each test day block. The test period must start after the training
    period ends; the first fit uses the training period only (see the module docstring for
    the refits). Arguments of the wrong type or range are ``InvalidParameterError``; periods
    without market days in ``frame`` are ``DataUnavailableError``.
    """
    t_start = time.perf_counter()
    # every argument is checked before any work
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"frame must be a pandas DataFrame of market data (data.load_market_data), "
            f"got {_shown(frame)}"
        )
    if not isinstance(target, str):
        raise InvalidParameterError(
            f"target must be a column name (str), e.g. 'load_mw', got {_shown(target)}"
        )
    train = _period(train, "train")
    test = _period(test, "test")
    if recalibrate is not None:
        recalibrate = check_int(recalibrate, "recalibrate", 1)
    warm_epochs = check_int(warm_epochs, "warm_epochs", 1)
    random_state = check_seed(random_state, name="random_state")
    if progress is not None and not callable(progress):
        raise InvalidParameterError(
            f"progress must be a callable progress(done, total) or None, got {_shown(progress)}"
        )
    models = _check_models(models)
    network = _check_network(network)
    if models is None and network.get("random_state", random_state) != random_state:
        raise InvalidParameterError(
            f"network['random_state'] {network['random_state']!r} differs from random_state "
            f"{random_state!r}: give the seed as random_state only"
        )
    if target not in frame.columns:
        raise DataUnavailableError(f"the data has no {target!r} column")
    if test[0] <= train[1]:
        raise InvalidParameterError(f"test {test[0]} must start after the training end {train[1]}")
    tz = resolve_tz(frame, None)
    every = market_days(frame, tz)  # checks the index too
    local_day = pd.Series(frame.index.tz_convert(tz).date, index=frame.index)
    if not every:
        raise DataUnavailableError("the data has no rows")
    span = f"{every[0]}..{every[-1]}"
    if not any(train[0] <= d <= train[1] for d in every):
        raise DataUnavailableError(
            f"no market days of the training period {train[0]}..{train[1]} in the data, "
            f"which spans {span}"
        )
    days = [d for d in every if test[0] <= d <= test[1]]
    if not days:
        raise DataUnavailableError(
            f"no market days of the test period {test[0]}..{test[1]} in the data, "
            f"which spans {span}"
        )
    # every day of the training and test periods within the data's span: a day without
    # rows is a gap too
    for (lo, hi), what in ((train, "training"), (test, "test")):
        first, last = max(lo, every[0]), min(hi, every[-1])
        if first <= last:
            days_in = [first + dt.timedelta(k) for k in range((last - first).days + 1)]
            _warn_missing(frame[target], days_in, tz, what)
    if models is None:
        seeded = {k: v for k, v in network.items() if k != "random_state"}
        models = default_models(frame, target, random_state=random_state, **seeded)

    fit_s = dict.fromkeys(models, 0.0)
    parts: dict[str, list[pd.DataFrame]] = {name: [] for name in models}
    step = len(days) if recalibrate is None else recalibrate
    blocks = [days[i : i + step] for i in range(0, len(days), step)]
    # training starts at ``train[0]``; the week before it feeds the lags (and the spread of
    # a model without lags: the TSO's, on errors known before the training period)
    first = train[0] - dt.timedelta(days=HISTORY_DAYS)
    # refits warm-start the networks; the caller's models get their parameters back at the end
    given = {
        name: {k: v for k, v in m.get_params().items() if k in ("warm_start", "max_epochs")}
        for name, m in models.items()
    }
    try:
        for i, block in enumerate(blocks):
            # the first fit: the training period only; refits: everything known at the
            # first block day's cut-off (expanding window)
            end = train[1] if i == 0 else block[0] - dt.timedelta(days=1)
            past = frame[(local_day >= first) & (local_day <= end)]
            known = information_set(past, cutoff_for_day(block[0], tz), tz=tz)
            upto = frame[local_day <= block[-1]]
            for name, model in models.items():
                if "warm_start" in given[name]:
                    # the first fit starts afresh, whatever the model was fitted on before
                    # (its weights and scalers may have seen the test period); refits warm-start
                    if i == 0:
                        model.set_params(warm_start=False)
                    else:
                        model.set_params(warm_start=True, max_epochs=warm_epochs)
                fit_s[name] += _fit(model, known, target, tz)
                parts[name].append(model.predict(upto, days=block, tz=tz))
            if progress is not None:
                progress(sum(len(b) for b in blocks[: i + 1]), len(days))
    finally:
        for name, model in models.items():
            if given[name]:
                model.set_params(**given[name])

    forecasts = {name: pd.concat(p) for name, p in parts.items()}
    observed = frame.loc[local_day.isin(days), target].dropna()
    scores, observed = score_forecasts(observed, forecasts, tz, fit_s=fit_s)
    return ForecastEvaluation(
        zone=frame.attrs.get("zone"),
        target=target,
        train=train,
        test=test,
        scores=scores,
        recalibrate=recalibrate,
        elapsed_s=time.perf_counter() - t_start,
        network={k: list(v) if isinstance(v, tuple) else v for k, v in network.items()},
        forecasts=forecasts,
        observed=observed,
    )


def score_forecasts(
    observed: pd.Series,
    forecasts: Mapping[str, pd.DataFrame],
    tz: str,
    *,
    fit_s: Mapping[str, float] | None = None,
) -> tuple[dict[str, ModelScore], pd.Series]:
    """Score test ``forecasts`` (model name → ``predict`` output) of ``observed`` values
    (UTC index; ``tz`` gives the local days of the Diebold-Mariano test). Every model is
    scored on the same intervals: observed and forecast by all models (a baseline has no
    forecast where its centre is missing in the data). The Diebold-Mariano p-values compare
    each model with ``student_t`` when it is among the forecasts (else None). Returns the
    scores and those observed values."""
    for fc in forecasts.values():
        observed = observed[observed.index.isin(fc.dropna(subset=["mu", "sigma"]).index)]
    if observed.empty:
        raise DataUnavailableError(
            f"no test interval has both a {observed.name} value and forecasts"
        )
    ref = forecasts.get(REFERENCE)
    ref_daily = None if ref is None else _daily_crps(observed, ref, tz)
    if ref_daily is not None and len(ref_daily) < 2 and len(forecasts) > 1:
        warnings.warn(
            f"the Diebold-Mariano test needs at least 2 scored test days, got "
            f"{len(ref_daily)}: its p-values are null",
            UserWarning,
            stacklevel=2,
        )
    scores = {}
    for name, fc in forecasts.items():
        s = score_forecast(observed, fc, levels=(0.8, 0.95))
        p_value = None
        if name != REFERENCE and ref_daily is not None and len(ref_daily) >= 2:
            other = _daily_crps(observed, fc, tz)
            both = pd.concat([ref_daily, other], axis=1, keys=["ref", "other"]).dropna()
            p_value = float(
                diebold_mariano(both["ref"], both["other"], horizon=1, alternative="less").p_value
            )
        scores[name] = ModelScore(
            crps=float(s["crps"]),
            mae=float(s["mae"]),
            rmse=float(s["rmse"]),
            coverage_80=float(s["coverage_80"]),
            coverage_95=float(s["coverage_95"]),
            dm_pvalue_vs_student_t=p_value,
            n_intervals=int(s["n"]),
            fit_s=float((fit_s or {}).get(name, 0.0)),
        )
    return scores, observed


def _warn_missing(values: pd.Series, days: list[dt.date], tz: str, what: str = "test") -> None:
    """Warn about ``what`` (``"test"`` or ``"training"``) intervals the data lacks or has
    no value for: they are not scored, or not trained on (gaps are reported, never
    filled). The interval length is the data's most common step; a local day's intervals
    run from its midnight to the next (23 or 25 hours on DST days)."""
    step = pd.Series(np.diff(values.index.as_unit("ns").asi8)).mode()
    if values.empty or step.empty:
        return
    midnights = pd.DatetimeIndex([pd.Timestamp(d) for d in [*days, days[-1] + dt.timedelta(1)]])
    bounds = midnights.tz_localize(tz).as_unit("ns").asi8
    expected = np.diff(bounds) // int(step.iloc[0])
    local_day = values.index.tz_convert(tz).date
    present = values.notna().groupby(local_day).sum().reindex(days, fill_value=0).to_numpy()
    missing = np.maximum(expected - present, 0)
    if missing.sum():
        gap_days = [d for d, m in zip(days, missing, strict=True) if m]
        shown = ", ".join(str(d) for d in gap_days[:3]) + (" ..." if len(gap_days) > 3 else "")
        warnings.warn(
            f"{int(missing.sum())} of {int(expected.sum())} {what} intervals have no "
            f"{values.name} value in the data, on {len(gap_days)} day(s) ({shown}); "
            + ("they are not scored" if what == "test" else "they are not trained on")
            + " (nothing is filled)",
            UserWarning,
            stacklevel=3,
        )


def _daily_crps(observed: pd.Series, forecast: pd.DataFrame, tz: str) -> pd.Series:
    crps = crps_values(observed, forecast)
    day = crps.index.tz_convert(tz).date
    return crps.groupby(day).mean()


def finite_or_none(x: float | None) -> float | None:
    """JSON helper: NaN/inf -> None."""
    return None if x is None or not np.isfinite(x) else float(x)
