"""LEAR-style linear day-ahead forecasts: the LASSO-estimated autoregressive model of the
open EPF benchmark (Lago et al. 2021, epftoolbox), recalibrated for every market day.

For each market day D and local hour h, a linear model of the hour-h value of D on one
day-level input vector, fitted by LASSO on the ``window_days`` market days before D:

* the target's whole hourly profiles of D−1, D−2, D−3, D−7 (``PROFILE_LAGS``);
* each exogenous forecast column's whole profiles of D, D−1, D−7 (``EXOG_PROFILE_LAGS``);
* day-of-week one-hots of D;

(247 inputs for the DE file: 96 + 2·72 + 7), all as ``forecasting.day_ahead_features``
builds them, so only values known at each day's cut-off enter. Inputs (but the one-hots)
and each hour's target are scaled with the window's median and MAD·1.4826 and
``arcsinh``-transformed (the benchmark's variance-stabilising transform); the forecast
is transformed back. The LASSO penalty of each hour is chosen on a geometric grid by the
AIC ``n·MSE/var(y) + 2·df`` (the form of scikit-learn's ``LassoLarsIC`` before 1.1, the
benchmark's tool). As the benchmark's code does (``penalty="benchmark"``, the default),
the penalty is chosen on the inputs normalised to unit norm (``LassoLarsIC``'s old
``normalize=True``) and the LASSO is then refitted with it on the scaled inputs, where it
is about ``sqrt(n)`` times weaker; ``penalty="aic"`` keeps the AIC choice itself. The
benchmark's way cut the ensemble's MAE on 2015 (windows 56, 84, 1092) from 3.80 to 3.43
EUR/MWh and on the benchmark's test period 2016-01-04..2017-12-31 (all four windows)
from 3.96 to 3.58, where the benchmark publishes about 3.6
(``benchmarks/forecast_lear.py``). The LASSO is solved by FISTA for all 24 hours at once.
The grid approximates the benchmark's exact LARS path: on every 9th day of 2015 (windows
56, 84, 1092) the ensemble's MAE was 3.117 with the grid and 3.103 with the exact path,
forecasts 0.23 EUR/MWh apart on average (``benchmarks/forecast_lear_path_check.py``).

Training days are those of the window with every input and all 24 hours known (spring DST
days, which lack an hour, and days with gaps drop out). The forecast of a 25-hour day
repeats its doubled hour's value. ``windows`` gives one forecast per window length; the
benchmark's LEAR ensemble averages (56, 84, 1092, 1456) days (``LEAR_WINDOWS``).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from data.errors import DataUnavailableError, InvalidParameterError
from forecasting.features import (
    DayAheadFeatures,
    as_days,
    column_kind,
    day_ahead_features,
    forecast_columns,
    resolve_tz,
)
from forecasting.models import LEAR_WINDOWS, median_mad

#: How ``lear_day_forecasts`` chooses each LASSO penalty (see there).
PENALTIES = ("benchmark", "aic")
PROFILE_LAGS = (1, 2, 3, 7)
EXOG_PROFILE_LAGS = (0, 1, 7)
#: Name of a column of LEAR forecasts added to a frame (``with_lear_column``); a
#: ``*_forecast`` column, so the features module treats it as published at noon of D−1.
LEAR_COLUMN = "price_lear_forecast"
_PROFILE = re.compile(r"_h\d\d$")


def lear_design(
    frame: pd.DataFrame,
    target: str = "price_eur_per_mwh",
    *,
    days: Iterable | None = None,
    exog: Sequence[str] | None = None,
    tz: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, DayAheadFeatures]:
    """Day-level inputs ``X`` (n_days, n_inputs) and targets ``Y`` (n_days, 24, local
    hours; NaN where a day lacks the hour or the value) indexed by market day, and the
    ``DayAheadFeatures`` of the rows (to map day-hour forecasts back to intervals).
    ``exog``: forecast columns (default: every ``*_forecast*`` column but ``LEAR_COLUMN``)."""
    tz = resolve_tz(frame, tz)
    if column_kind(target) != "price":
        # a realised target (load) of D-1 after the cut-off would enter the training rows
        raise InvalidParameterError(f"LEAR forecasts day-ahead prices, not {target!r}")
    if exog is None:
        exog = [c for c in forecast_columns(frame) if c != LEAR_COLUMN]
    feats = day_ahead_features(
        frame,
        target,
        days=days,
        lags=(),
        exog=list(exog),
        profile_lags=PROFILE_LAGS,
        exog_profile_lags=EXOG_PROFILE_LAGS if exog else (),
        tz=tz,
    )
    cols = [c for c in feats.X.columns if _PROFILE.search(c) and not c.endswith("_missing")]
    cols += [c for c in feats.X.columns if c.startswith("dow_")]
    first = np.r_[True, feats.day[1:] != feats.day[:-1]]
    X = feats.X.loc[first, cols]
    X.index = pd.Index(feats.day[first], name="day")
    Y = (
        pd.DataFrame({"day": feats.day, "hour": feats.hour, "y": feats.y})
        .groupby(["day", "hour"], sort=True)["y"]
        .first()  # a 25-hour day: the first of the doubled hour
        .unstack("hour")
        .reindex(index=X.index, columns=range(24))
    )
    return X, Y, feats


def lasso(
    X: np.ndarray,
    Y: np.ndarray,
    alphas: np.ndarray,
    *,
    B0: np.ndarray | None = None,
    max_iter: int = 2000,
    tol: float = 1e-7,
) -> np.ndarray:
    """(p, k) LASSO coefficients, column j minimising
    ``1/(2n) ||Y[:, j] − X b||² + alphas[j] ||b||₁`` for centred ``X`` (n, p) and ``Y``
    (n, k) (no intercept), by FISTA from ``B0`` (default 0) until the largest coefficient
    change is below ``tol`` (relative to the largest coefficient) or ``max_iter``."""
    n, p = X.shape
    C = X.T @ Y / n
    if n < p:  # gradient through X (n·p per column) instead of the Gram matrix (p²)
        L = float(np.linalg.eigvalsh(X @ X.T / n)[-1]) or 1.0

        def grad(Z: np.ndarray) -> np.ndarray:
            return X.T @ (X @ Z) / n - C

    else:
        G = X.T @ X / n
        L = float(np.linalg.eigvalsh(G)[-1]) or 1.0

        def grad(Z: np.ndarray) -> np.ndarray:
            return G @ Z - C

    step = 1.0 / L
    thr = np.asarray(alphas, dtype=float)[None, :] * step
    B = np.zeros_like(C) if B0 is None else B0.copy()
    Z, t = B.copy(), 1.0
    for _ in range(max_iter):
        V = Z - step * grad(Z)
        B_new = np.sign(V) * np.maximum(np.abs(V) - thr, 0.0)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Z = B_new + ((t - 1.0) / t_new) * (B_new - B)
        change = np.max(np.abs(B_new - B))
        B, t = B_new, t_new
        if change <= tol * max(1.0, float(np.max(np.abs(B)))):
            break
    return B


def lasso_aic(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    n_alphas: int = 12,
    min_ratio: float = 1e-3,
    tol: float = 1e-4,
    max_iter: int = 500,
    unit_norm: bool = False,
    refit_max_iter: int = 2000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LASSO of each column of ``Y`` (n, k) on ``X`` (n, p) with an intercept, the penalty
    chosen per column on the grid ``alpha_max · geomspace(1, min_ratio, n_alphas)`` by
    ``n·MSE/var(y) + 2·df`` (df: non-zero coefficients). Each path point starts from the
    previous one and stops at the relative ``tol`` or after ``max_iter`` FISTA steps, which
    the default often reaches: on an 84-day DE window 8 of 12 points did, and the forecasts
    differed from fully converged ones by 0.1 EUR/MWh on average (MAE by < 0.01).
    With ``unit_norm=True`` the penalty is chosen so on the centred inputs divided by
    their Euclidean norms (as scikit-learn's ``LassoLarsIC(normalize=True)``, the
    benchmark's tool before scikit-learn 1.2), and the LASSO with that penalty is then
    refitted on the centred ``X`` itself (``refit_max_iter`` steps at most), as the
    benchmark's code does: a penalty about ``sqrt(n)·std(x)`` times weaker than the
    chosen one. Returns coefficients (p, k), intercepts (k,) and the chosen alphas (k,)."""
    n = X.shape[0]
    x_mean, y_mean = X.mean(axis=0), Y.mean(axis=0)
    Xc, Yc = X - x_mean, Y - y_mean
    B: np.ndarray | None  # the path's warm start: None before its first point
    if unit_norm:
        norms = np.sqrt((Xc**2).sum(axis=0))
        norms = np.where(norms > 0, norms, 1.0)
        _, _, alphas = lasso_aic(
            Xc / norms, Yc, n_alphas=n_alphas, min_ratio=min_ratio, tol=tol, max_iter=max_iter
        )
        B = lasso(Xc, Yc, alphas, max_iter=refit_max_iter, tol=tol)
        return B, y_mean - x_mean @ B, alphas
    alpha_max = np.max(np.abs(Xc.T @ Yc), axis=0) / n
    alpha_max = np.where(alpha_max > 0, alpha_max, 1.0)
    var_y = Yc.var(axis=0)
    var_y = np.where(var_y > 0, var_y, 1.0)
    best = np.full(Y.shape[1], np.inf)
    B_best = np.zeros((X.shape[1], Y.shape[1]))
    a_best = alpha_max.copy()
    B = None
    for ratio in np.geomspace(1.0, min_ratio, n_alphas):
        alphas = ratio * alpha_max
        B = lasso(Xc, Yc, alphas, B0=B, max_iter=max_iter, tol=tol)
        mse = np.mean((Yc - Xc @ B) ** 2, axis=0)
        aic = n * mse / var_y + 2.0 * np.count_nonzero(B, axis=0)
        better = aic < best
        best = np.where(better, aic, best)
        B_best[:, better] = B[:, better]
        a_best = np.where(better, alphas, a_best)
    return B_best, y_mean - x_mean @ B_best, a_best


def lear_day_forecasts(
    X: pd.DataFrame,
    Y: pd.DataFrame,
    days: Sequence | np.ndarray,
    *,
    window_days: int,
    penalty: str = "benchmark",
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """(len(days), 24) forecasts of the target at each local hour of ``days``, each day
    from a model fitted on the ``window_days`` market days before it (``X``, ``Y`` from
    ``lear_design``; rows must be consecutive market days, checked). NaN for a day with fewer than
    ``window_days`` days of history in ``X`` or an unknown input. ``penalty``:
    ``"benchmark"`` (chosen by AIC on unit-norm inputs and refitted, as the benchmark's
    code; ``lasso_aic(unit_norm=True)``) or ``"aic"`` (the AIC choice itself)."""
    if penalty not in PENALTIES:
        raise InvalidParameterError(f"penalty must be one of {PENALTIES}, got {penalty!r}")
    if int(window_days) != window_days or window_days < 2:
        raise InvalidParameterError(f"window_days must be an integer >= 2, got {window_days!r}")
    window_days = int(window_days)
    day_index = X.index.to_numpy()
    if len(day_index) > 1 and (np.diff(day_index) != np.timedelta64(1, "D")).any():
        raise DataUnavailableError("the design's days are not consecutive (a missing day)")
    dummy = np.array([c.startswith("dow_") for c in X.columns])
    Xa, Ya = X.to_numpy(dtype=np.float64), Y.to_numpy(dtype=np.float64)
    complete = np.isfinite(Xa).all(axis=1) & np.isfinite(Ya).all(axis=1)
    out = np.full((len(days), 24), np.nan)
    for i, day in enumerate(days):
        pos = int(np.searchsorted(day_index, np.datetime64(day, "D")))
        if pos >= len(day_index) or day_index[pos] != np.datetime64(day, "D"):
            raise DataUnavailableError(f"day {day} is not among the design's days")
        if pos < window_days or not np.isfinite(Xa[pos]).all():
            continue
        rows = np.arange(pos - window_days, pos)
        rows = rows[complete[rows]]
        if len(rows) < 2:
            continue
        A, T = Xa[rows].copy(), Ya[rows]
        x_med, x_scale = median_mad(A[:, ~dummy])
        A[:, ~dummy] = np.arcsinh((A[:, ~dummy] - x_med) / x_scale)
        y_med, y_scale = median_mad(T)
        B, b0, _ = lasso_aic(A, np.arcsinh((T - y_med) / y_scale), unit_norm=penalty == "benchmark")
        x = Xa[pos].copy()
        x[~dummy] = np.arcsinh((x[~dummy] - x_med) / x_scale)
        out[i] = y_med + y_scale * np.sinh(x @ B + b0)
        if progress is not None:
            progress(i + 1, len(days))
    return pd.DataFrame(out, index=pd.Index(np.asarray(days, "datetime64[D]"), name="day"))


def lear_forecasts(
    frame: pd.DataFrame,
    target: str = "price_eur_per_mwh",
    *,
    days: Iterable | None = None,
    windows: Sequence[int] = LEAR_WINDOWS,
    penalty: str = "benchmark",
    tz: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """LEAR forecasts for every interval of the market ``days`` (default: every day of
    ``frame`` with a week of history; each a day of the frame, whose forecast columns are
    inputs): a DataFrame indexed by ``time_utc`` with one column ``w{W}`` per window length
    and ``mean`` (their average; NaN where any is NaN). Price targets only."""
    lengths = (
        None if isinstance(windows, str) or not isinstance(windows, Iterable) else list(windows)
    )
    if not lengths:  # no window would give a 'mean' of nothing: NaN everywhere, without a word
        raise InvalidParameterError(
            f"windows must be one or more window lengths in days, e.g. (56, 84), got {windows!r}"
        )
    X, Y, feats = lear_design(frame, target, tz=tz)
    target_days = X.index.to_numpy() if days is None else as_days(days)
    outside = target_days[~np.isin(target_days, X.index.to_numpy())]
    if len(outside):
        # the day's own published forecasts are inputs: they must be rows of the frame
        raise DataUnavailableError(
            f"LEAR needs the published forecasts of each forecast day in the data; "
            f"{len(outside)} day(s) lie outside it, first {outside[0]}"
        )
    rows = np.isin(feats.day, target_days)  # the intervals of the forecast days
    pos = np.searchsorted(target_days, feats.day[rows])
    out = {}
    for w in lengths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            by_day = lear_day_forecasts(
                X, Y, target_days, window_days=w, penalty=penalty, progress=progress
            )
        out[f"w{int(w)}"] = by_day.to_numpy()[pos, feats.hour[rows]]
    res = pd.DataFrame(out, index=feats.X.index[rows].rename("time_utc"))
    res["mean"] = res.mean(axis=1, skipna=False)
    return res


def with_lear_column(
    frame: pd.DataFrame,
    target: str = "price_eur_per_mwh",
    *,
    windows: Sequence[int] = (56, 84),
    tz: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """``frame`` with a ``LEAR_COLUMN`` column: the mean LEAR forecast over ``windows``
    for every interval of every market day of the frame (each from the days before it;
    NaN for the first ``7 + max(windows)`` days: a week builds the lags). attrs kept."""
    fc = lear_forecasts(frame, target, windows=windows, tz=tz, progress=progress)
    out = frame.copy()
    out[LEAR_COLUMN] = fc["mean"].reindex(frame.index)
    out.attrs = dict(frame.attrs)
    return out


__all__ = [
    "LEAR_COLUMN",
    "LEAR_WINDOWS",
    "lasso",
    "lasso_aic",
    "lear_day_forecasts",
    "lear_design",
    "lear_forecasts",
    "with_lear_column",
]
