"""Scores for probabilistic forecasts and the Diebold-Mariano test (issue 5, item 3).

Predictive distributions are location-scale Student-t with parameters ``mu``, ``sigma`` > 0
and ``nu`` > 1 (``nu`` = ``None`` or ``inf`` means normal); samples (ensembles, scenarios)
are scored by ``crps_ensemble``. All scores are negatively oriented (lower is better) and in
the units of the observations (EUR/MWh, MW, ...), except coverage and PIT, which are unitless.

Per-observation functions (``crps_*``, ``pinball_loss``, ``interval_coverage``, ``pit``) are
vectorised numpy: their array arguments broadcast, they return one value per observation and
the caller takes means. A NaN observation (or parameter) gives NaN there, never a filled-in
value. The aggregating functions (``mae``, ``rmse``, ``mean_pinball_loss``) and the DataFrame
helpers (``score_forecast``, ``crps_values``, ``pit_values``) *exclude* NaN observations and
report how many they used; a NaN forecast for an observed value is an error.

Closed forms, with z = (y − μ)/σ, Φ/φ the standard normal cdf/pdf and F_ν/f_ν those of the
standard Student-t with ν degrees of freedom (Gneiting and Raftery 2007; Jordan, Krüger and
Lerch 2019, ``scoringRules``):

    CRPS_N(y; μ, σ)    = σ [ z (2Φ(z) − 1) + 2 φ(z) − 1/√π ]
    CRPS_t(y; μ, σ, ν) = σ [ z (2F_ν(z) − 1) + 2 f_ν(z) (ν + z²)/(ν − 1)
                             − 2√ν B(½, ν − ½) / ((ν − 1) B(½, ν/2)²) ]      (ν > 1)

Both equal ∫ (F(x) − 1{x ≥ y})² dx = 2 ∫₀¹ QS_τ(F⁻¹(τ), y) dτ with the quantile (pinball)
score QS_τ(q, y) = (1{y < q} − τ)(q − y); the tests check them against both integrals.

``diebold_mariano`` tests equal expected loss of two forecasts from per-period losses, with
the Harvey-Leybourne-Newbold (1997) small-sample correction.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import special, stats

from data.checks import check_bool
from data.errors import InvalidParameterError
from forecasting.features import is_number, is_whole

ArrayLike = npt.ArrayLike
Alternative = Literal["two-sided", "less", "greater"]

#: Quantile grid used by ``score_forecast`` for the pinball loss: 0.05, 0.10, ..., 0.95.
DEFAULT_QUANTILES: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))
#: Central-interval levels scored by ``score_forecast``.
DEFAULT_LEVELS: tuple[float, ...] = (0.8, 0.95)

_INV_SQRT_PI = 1.0 / math.sqrt(math.pi)


# --------------------------------------------------------------------------- validation


def _floats(x: ArrayLike, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"{name} must be numeric: {exc}") from None
    return arr


def _scale(sigma: ArrayLike) -> np.ndarray:
    s = _floats(sigma, "sigma")
    if np.any(s <= 0) or np.any(np.isinf(s)):
        raise InvalidParameterError("sigma must be positive and finite")
    return s


def _dof(nu: ArrayLike | None) -> np.ndarray:
    if nu is None:
        return np.asarray(np.inf)
    v = _floats(nu, "nu")
    if np.any(v <= 1):
        raise InvalidParameterError("nu must be > 1 (the Student-t CRPS is infinite for nu <= 1)")
    return v


def _level(level: float) -> float:
    if not (is_number(level) and 0.0 < level < 1.0):
        raise InvalidParameterError(f"interval level must be in (0, 1), got {level!r}")
    return float(level)


def _levels(levels: Sequence[float] | float) -> list[float]:
    """Interval levels (one level or a sequence of them) as floats in (0, 1)."""
    if isinstance(levels, np.ndarray) and levels.ndim == 0:  # np.array(0.8): one level
        levels = levels.item()
    if is_number(levels):
        return [_level(cast(float, levels))]  # is_number: a real number
    if isinstance(levels, str) or not isinstance(levels, Iterable):
        raise InvalidParameterError(
            f"levels must be interval levels in (0, 1), e.g. (0.8, 0.95), got {levels!r}"
        )
    return [_level(lv) for lv in levels]


def _move_axis(x: np.ndarray, axis: int, what: str) -> np.ndarray:
    """``x`` with its ``axis`` moved last; a bad axis is an ``InvalidParameterError``."""
    if not is_whole(axis, -x.ndim, x.ndim - 1):
        raise InvalidParameterError(
            f"bad {what} axis {axis!r}: must be a whole number in {-x.ndim}..{x.ndim - 1}"
        )
    return np.moveaxis(x, int(axis), -1)


def _broadcast(*arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    try:
        return tuple(np.broadcast_arrays(*arrays))
    except ValueError as exc:
        raise InvalidParameterError(f"array shapes do not broadcast: {exc}") from None


# --------------------------------------------------------------------------- distributions


def _log1p_sq(z: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """log(1 + z²/ν) without overflow: z² overflows to inf once |z| > ~1.3e154."""
    a = np.abs(z) / np.sqrt(nu)
    big = a > 1.0
    a_small = np.where(big, 0.0, a)
    a_big = np.where(big, a, 1.0)
    return np.where(big, 2.0 * np.log(a_big) + np.log1p((1.0 / a_big) ** 2), np.log1p(a_small**2))


def predictive_cdf(
    x: ArrayLike, mu: ArrayLike, sigma: ArrayLike, nu: ArrayLike | None = None
) -> np.ndarray:
    """P(X ≤ x) for X = μ + σ T_ν (T_ν standard Student-t; normal where ν is None/inf)."""
    x_, mu_, s, v = _broadcast(_floats(x, "x"), _floats(mu, "mu"), _scale(sigma), _dof(nu))
    return special.stdtr(v, (x_ - mu_) / s)


def predictive_quantile(
    tau: ArrayLike, mu: ArrayLike, sigma: ArrayLike, nu: ArrayLike | None = None
) -> np.ndarray:
    """The τ-quantile μ + σ F_ν⁻¹(τ) (τ in (0, 1); normal where ν is None/inf)."""
    t = _floats(tau, "tau")
    if np.any((t <= 0) | (t >= 1)):
        raise InvalidParameterError("quantile levels tau must be in (0, 1)")
    t, mu_, s, v = _broadcast(t, _floats(mu, "mu"), _scale(sigma), _dof(nu))
    return mu_ + s * special.stdtrit(v, t)


def central_interval(
    mu: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    nu: ArrayLike | None = None,
    *,
    level: float,
    ppf: Callable[[float], Any] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` interval [F⁻¹((1−level)/2), F⁻¹((1+level)/2)] as (lower, upper).

    Give either the location-scale parameters (``mu``, ``sigma``, optional ``nu``) or a
    quantile function ``ppf`` (τ ↦ quantile, arrays allowed), not both.
    """
    lv = _level(level)
    lo, hi = (1.0 - lv) / 2.0, (1.0 + lv) / 2.0
    if ppf is not None:
        if mu is not None or sigma is not None or nu is not None:
            raise InvalidParameterError("give either mu/sigma/nu or ppf, not both")
        return np.asarray(ppf(lo), dtype=float), np.asarray(ppf(hi), dtype=float)
    if mu is None or sigma is None:
        raise InvalidParameterError("central_interval needs mu and sigma, or ppf")
    return predictive_quantile(lo, mu, sigma, nu), predictive_quantile(hi, mu, sigma, nu)


# --------------------------------------------------------------------------- CRPS


def crps_normal(y: ArrayLike, mu: ArrayLike, sigma: ArrayLike) -> np.ndarray:
    """CRPS of N(μ, σ²) at observations ``y`` (broadcast shapes; units of y)."""
    y_, mu_, s = _broadcast(_floats(y, "y"), _floats(mu, "mu"), _scale(sigma))
    z = (y_ - mu_) / s
    return s * (z * (2.0 * special.ndtr(z) - 1.0) + 2.0 * _npdf(z) - _INV_SQRT_PI)


def _npdf(z: np.ndarray) -> np.ndarray:
    z = np.clip(z, -50.0, 50.0)  # the density is 0.0 beyond |z| ≈ 38.6; z² would overflow
    return np.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def crps_student_t(
    y: ArrayLike, mu: ArrayLike, sigma: ArrayLike, nu: ArrayLike | None
) -> np.ndarray:
    """CRPS of the location-scale Student-t μ + σ T_ν at ``y`` (ν > 1; ν = inf/None → normal).

    Broadcast shapes; units of y. Large finite ν is accurate (it tends to the normal form).
    """
    y_, mu_, s, v = _broadcast(_floats(y, "y"), _floats(mu, "mu"), _scale(sigma), _dof(nu))
    z = (y_ - mu_) / s
    normal = z * (2.0 * special.ndtr(z) - 1.0) + 2.0 * _npdf(z) - _INV_SQRT_PI
    is_inf = np.isinf(v)
    if not np.any(~is_inf):
        return s * normal
    vf = np.where(is_inf, 2.0, v)  # placeholder where the normal form is used
    beta_term = np.exp(
        math.log(2.0)
        + 0.5 * np.log(vf)
        + special.betaln(0.5, vf - 0.5)
        - np.log(vf - 1.0)
        - 2.0 * special.betaln(0.5, vf / 2.0)
    )
    # 2 f(z) (ν + z²) / (ν − 1) in log space: z² overflows for |z| > ~1.3e154.
    density_term = np.exp(
        math.log(2.0)
        + 0.5 * np.log(vf)
        - special.betaln(0.5, vf / 2)
        - (vf - 1.0) / 2 * _log1p_sq(z, vf)
        - np.log(vf - 1.0)
    )
    student = z * (2.0 * special.stdtr(vf, z) - 1.0) + density_term - beta_term
    return s * np.where(is_inf, normal, student)


def crps_ensemble(
    y: ArrayLike, samples: ArrayLike, *, axis: int = -1, fair: bool = False
) -> np.ndarray:
    """CRPS of the empirical distribution of ``samples`` (m members along ``axis``) at ``y``.

    CRPS = E|X − y| − ½ E|X − X'|, with ½ E|X − X'| = Σ_k (2k − m − 1) x_(k) / m² from the
    sorted members x_(1) ≤ ... ≤ x_(m): O(m log m), not O(m²). ``fair=True`` divides by
    m(m − 1) instead of m², the unbiased estimator of the CRPS of the distribution the
    members are drawn from (needs m ≥ 2). ``y`` broadcasts against ``samples`` without the
    ensemble axis; the result has that shape. NaN members give NaN.
    """
    x = _floats(samples, "samples")
    if x.ndim == 0:
        raise InvalidParameterError("samples must have an ensemble axis")
    x = _move_axis(x, axis, "ensemble")
    m = x.shape[-1]
    fair = check_bool(fair, "fair")
    if m < (2 if fair else 1):
        raise InvalidParameterError(f"need at least {2 if fair else 1} ensemble members, got {m}")
    y_ = _floats(y, "y")
    try:
        shape = np.broadcast_shapes(y_.shape, x.shape[:-1])
    except ValueError as exc:
        raise InvalidParameterError(f"y does not broadcast against samples: {exc}") from None
    x = np.broadcast_to(x, (*shape, m))
    y_ = np.broadcast_to(y_, shape)
    abs_err = np.mean(np.abs(x - y_[..., None]), axis=-1)
    weights = 2.0 * np.arange(1, m + 1) - m - 1.0
    spread = np.sort(x, axis=-1) @ weights / (m * (m - 1) if fair else m * m)
    return abs_err - spread


# --------------------------------------------------------------------------- quantiles


def _quantile_grid(quantiles: ArrayLike) -> np.ndarray:
    q = _floats(quantiles, "quantiles")
    if q.ndim != 1 or q.size == 0:
        raise InvalidParameterError("quantiles must be a non-empty 1-D grid")
    if np.any(~np.isfinite(q)) or np.any((q <= 0) | (q >= 1)):
        raise InvalidParameterError("quantile levels must be in (0, 1)")
    return q


def pinball_loss(
    y: ArrayLike, quantile_preds: ArrayLike, quantiles: ArrayLike, *, axis: int = -1
) -> np.ndarray:
    """Pinball (quantile) loss (1{y < q} − τ)(q − y) per observation and quantile level.

    ``quantile_preds`` has the quantile grid (``quantiles``, shape (k,)) along ``axis``; ``y``
    broadcasts against it without that axis. Returns the shape of the broadcast predictions,
    quantile axis in place. At τ = ½ it is half the absolute error.
    """
    tau = _quantile_grid(quantiles)
    qp = _floats(quantile_preds, "quantile_preds")
    if qp.ndim == 0:
        raise InvalidParameterError("quantile_preds must have a quantile axis")
    qp = _move_axis(qp, axis, "quantile")
    if qp.shape[-1] != tau.size:
        raise InvalidParameterError(
            f"quantile_preds has {qp.shape[-1]} quantiles along axis {axis}, grid has {tau.size}"
        )
    y_ = _floats(y, "y")
    try:
        y_ = np.expand_dims(y_, -1) if y_.ndim else y_
        diff = qp - y_
    except ValueError as exc:
        raise InvalidParameterError(f"y does not broadcast against quantile_preds: {exc}") from None
    loss = diff * (np.where(diff > 0, 1.0, 0.0) - tau)  # NaN in, NaN out
    return np.moveaxis(loss, -1, int(axis))


def mean_pinball_loss(
    y: ArrayLike, quantile_preds: ArrayLike, quantiles: ArrayLike, *, axis: int = -1
) -> tuple[np.ndarray, float]:
    """(per-quantile mean loss, shape (k,); mean over the grid), NaN observations excluded."""
    loss = np.moveaxis(pinball_loss(y, quantile_preds, quantiles, axis=axis), int(axis), -1)
    y_ = _floats(y, "y")
    observed = ~np.isnan(np.broadcast_to(y_, loss.shape[:-1]))
    if not observed.any():
        raise InvalidParameterError("no non-NaN observations to score")
    loss = loss[observed]
    if np.isnan(loss).any():
        raise InvalidParameterError("quantile_preds has NaN where y is observed")
    per_q = loss.mean(axis=0)
    return per_q, float(per_q.mean())


# --------------------------------------------------------------------------- calibration


def interval_coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike) -> np.ndarray:
    """1.0 where lower ≤ y ≤ upper, else 0.0; NaN where y or a bound is NaN (broadcast)."""
    y_, lo, hi = _broadcast(_floats(y, "y"), _floats(lower, "lower"), _floats(upper, "upper"))
    if np.any(lo > hi):
        raise InvalidParameterError("interval lower bound exceeds upper bound")
    hit = ((lo <= y_) & (y_ <= hi)).astype(float)
    return np.where(np.isnan(y_) | np.isnan(lo) | np.isnan(hi), np.nan, hit)


def pit(
    y: ArrayLike,
    mu: ArrayLike | None = None,
    sigma: ArrayLike | None = None,
    nu: ArrayLike | None = None,
    *,
    cdf: Callable[[np.ndarray], Any] | None = None,
) -> np.ndarray:
    """Probability integral transform F(y): uniform on (0, 1) for a calibrated forecast.

    Give the location-scale parameters (``mu``, ``sigma``, optional ``nu``) or a predictive
    ``cdf`` callable applied to ``y``, not both. NaN observations give NaN.
    """
    if cdf is not None:
        if mu is not None or sigma is not None or nu is not None:
            raise InvalidParameterError("give either mu/sigma/nu or cdf, not both")
        y_ = _floats(y, "y")
        try:
            out = np.asarray(cdf(y_), dtype=float)
        except (TypeError, ValueError):
            raise InvalidParameterError("cdf(y) must return probabilities (numbers)") from None
        if out.shape != y_.shape or ((out < 0) | (out > 1)).any():
            raise InvalidParameterError(
                f"cdf(y) must return probabilities in [0, 1] of y's shape {y_.shape}"
            )
        return out
    if mu is None or sigma is None:
        raise InvalidParameterError("pit needs mu and sigma, or cdf")
    return predictive_cdf(y, mu, sigma, nu)


# --------------------------------------------------------------------------- point errors


def _observed_errors(y: ArrayLike, point: ArrayLike, name: str) -> np.ndarray:
    y_, p = _broadcast(_floats(y, "y"), _floats(point, name))
    keep = ~np.isnan(y_)
    if not keep.any():
        raise InvalidParameterError("no non-NaN observations to score")
    if np.isnan(p[keep]).any():
        raise InvalidParameterError(f"{name} has NaN where y is observed")
    for what, values in (("y", y_[keep]), (name, p[keep])):
        if np.isinf(values).any():
            raise InvalidParameterError(f"{what} has infinite values: no error to average")
    return (y_[keep] - p[keep]).ravel()


def mae(y: ArrayLike, median: ArrayLike) -> float:
    """Mean absolute error of a point forecast (the median), NaN observations excluded."""
    return float(np.mean(np.abs(_observed_errors(y, median, "median"))))


def rmse(y: ArrayLike, median: ArrayLike) -> float:
    """Root mean squared error of a point forecast, NaN observations excluded."""
    return float(np.sqrt(np.mean(_observed_errors(y, median, "median") ** 2)))


# --------------------------------------------------------------------------- DataFrame helpers


def _aligned(
    y: pd.Series | ArrayLike, forecast: pd.DataFrame
) -> tuple[pd.Index, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(index, y, mu, sigma, nu) for the non-NaN observations; nu is inf for normal rows."""
    if not isinstance(forecast, pd.DataFrame):
        raise InvalidParameterError("forecast must be a DataFrame with columns mu, sigma[, nu]")
    missing = [c for c in ("mu", "sigma") if c not in forecast.columns]
    if missing:
        raise InvalidParameterError(f"forecast is missing column(s) {', '.join(missing)}")
    if isinstance(y, pd.Series):
        if not y.index.is_unique or not forecast.index.is_unique:
            raise InvalidParameterError("observations and forecast need unique indexes")
        if not y.index.equals(forecast.index):
            absent = int((~y.index.isin(forecast.index)).sum())
            if absent:
                raise InvalidParameterError(f"{absent} observation(s) have no forecast row")
            forecast = forecast.reindex(y.index)
        obs = y
    else:
        values = _floats(y, "y")
        if values.ndim != 1 or values.size != len(forecast):
            raise InvalidParameterError(
                f"y has shape {values.shape}, forecast has {len(forecast)} rows"
            )
        obs = pd.Series(values, index=forecast.index)
    y_all = _floats(obs.to_numpy(), "y")
    keep = ~np.isnan(y_all)
    if not keep.any():
        raise InvalidParameterError("no non-NaN observations to score")
    if np.isinf(y_all).any():
        raise InvalidParameterError("y has infinite values: no observation to score")
    cols = ["mu", "sigma", *(["nu"] if "nu" in forecast.columns else [])]
    params = {c: _floats(forecast[c].to_numpy(), f"forecast.{c}")[keep] for c in cols}
    for c, v in params.items():
        if np.isnan(v).any():
            raise InvalidParameterError(f"forecast column {c} has NaN where y is observed")
        if c != "nu" and np.isinf(v).any():  # nu = inf is the normal distribution
            raise InvalidParameterError(f"forecast column {c} has infinite values")
    mu, sigma = params["mu"], _scale(params["sigma"])
    nu = _dof(params["nu"]) if "nu" in params else np.full(mu.shape, np.inf)
    return obs.index[keep], y_all[keep], mu, sigma, nu


def crps_values(y: pd.Series | ArrayLike, forecast: pd.DataFrame) -> pd.Series:
    """Per-observation CRPS of a ``mu``/``sigma``[/``nu``] forecast; NaN observations dropped.

    ``y`` is a Series aligned with ``forecast`` by index (every observation needs a forecast
    row; extra forecast rows are ignored) or an array aligned by position.
    """
    index, y_, mu, sigma, nu = _aligned(y, forecast)
    return pd.Series(crps_student_t(y_, mu, sigma, nu), index=index, name="crps")


def pit_values(y: pd.Series | ArrayLike, forecast: pd.DataFrame) -> pd.Series:
    """PIT F(y) of a ``mu``/``sigma``[/``nu``] forecast, NaN observations dropped."""
    index, y_, mu, sigma, nu = _aligned(y, forecast)
    return pd.Series(predictive_cdf(y_, mu, sigma, nu), index=index, name="pit")


def _level_key(level: float) -> str:
    return f"coverage_{100.0 * level:.10g}"


def score_forecast(
    y: pd.Series | ArrayLike,
    forecast: pd.DataFrame,
    *,
    levels: Sequence[float] = DEFAULT_LEVELS,
    quantiles: Sequence[float] = DEFAULT_QUANTILES,
) -> dict[str, float]:
    """Mean scores of a Student-t (``nu``) or normal (no ``nu`` column / ``nu`` = inf) forecast.

    Keys: ``n`` (observations scored; NaN observations are excluded), ``crps``, ``mae`` and
    ``rmse`` of the median (= ``mu``), ``pinball`` (mean over the ``quantiles`` grid) and
    ``coverage_<100·level>`` per level (e.g. ``coverage_80``, ``coverage_95``): the fraction of
    observations inside the central interval. Alignment as in ``crps_values``.
    """
    lvls = _levels(levels)
    tau = _quantile_grid(quantiles)
    _, y_, mu, sigma, nu = _aligned(y, forecast)
    out: dict[str, float] = {
        "n": int(y_.size),
        "crps": float(np.mean(crps_student_t(y_, mu, sigma, nu))),
        "mae": mae(y_, mu),
        "rmse": rmse(y_, mu),
    }
    qp = predictive_quantile(tau, mu[:, None], sigma[:, None], nu[:, None])
    out["pinball"] = float(np.mean(pinball_loss(y_, qp, tau)))
    for lv in lvls:
        lo, hi = central_interval(mu, sigma, nu, level=lv)
        out[_level_key(lv)] = float(np.mean(interval_coverage(y_, lo, hi)))
    return out


# --------------------------------------------------------------------------- Diebold-Mariano


@dataclass(frozen=True)
class DieboldMarianoResult:
    """Outcome of ``diebold_mariano``.

    ``statistic`` is the HLN-corrected DM statistic, positive when forecast A has the higher
    mean loss (B is better); ``mean_difference`` is mean(loss_a − loss_b) in loss units;
    ``long_run_variance`` is the variance estimate of d_t used (γ₀ + 2 Σ γ_k).
    """

    statistic: float
    p_value: float
    mean_difference: float
    n: int
    horizon: int
    alternative: str
    long_run_variance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loss_vector(loss: ArrayLike | pd.Series, name: str) -> np.ndarray:
    arr = _floats(loss.to_numpy() if isinstance(loss, pd.Series) else loss, name)
    if arr.ndim != 1:
        raise InvalidParameterError(f"{name} must be 1-D, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise InvalidParameterError(f"{name} has NaN or infinite values; drop those periods first")
    return arr


def diebold_mariano(
    loss_a: ArrayLike | pd.Series,
    loss_b: ArrayLike | pd.Series,
    *,
    horizon: int = 1,
    alternative: Alternative = "two-sided",
) -> DieboldMarianoResult:
    """Diebold-Mariano test of equal expected loss, with the Harvey-Leybourne-Newbold correction.

    ``loss_a``, ``loss_b``: per-period losses (e.g. ``crps_values``) of forecasts A and B, 1-D,
    same length n, in time order (Series must share their index). With d_t = loss_a − loss_b,
    d̄ its mean and γ_k = (1/n) Σ_{t>k} (d_t − d̄)(d_{t−k} − d̄):

        DM  = d̄ / sqrt((γ₀ + 2 Σ_{k=1}^{h−1} γ_k) / n)          (h = ``horizon``)
        DM* = DM · sqrt((n + 1 − 2h + h(h − 1)/n) / n),   p-value from Student-t, n − 1 df.

    ``alternative``: "two-sided" (losses differ), "less" (A has lower expected loss, small
    p when DM* ≪ 0) or "greater" (A has higher expected loss). If the long-run variance is
    not positive for h > 1, γ₀ alone is used (as R's ``forecast::dm.test``) with a warning.
    """
    a = _loss_vector(loss_a, "loss_a")
    b = _loss_vector(loss_b, "loss_b")
    if isinstance(loss_a, pd.Series) and isinstance(loss_b, pd.Series):
        if not loss_a.index.equals(loss_b.index):
            raise InvalidParameterError("loss_a and loss_b have different indexes")
    if a.size != b.size:
        raise InvalidParameterError(f"loss_a has {a.size} periods, loss_b has {b.size}")
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise InvalidParameterError(f"horizon must be an integer >= 1, got {horizon!r}")
    h = int(horizon)
    n = int(a.size)
    if n < 2 or n <= h:
        raise InvalidParameterError(f"need more periods than the horizon (n={n}, horizon={h})")
    if alternative not in ("two-sided", "less", "greater"):
        raise InvalidParameterError(
            f"alternative must be 'two-sided', 'less' or 'greater', got {alternative!r}"
        )
    with np.errstate(over="ignore", invalid="ignore"):
        d = a - b
        scale = float(np.max(np.abs(a)) + np.max(np.abs(b)))
        spread = float(np.ptp(d)) if np.isfinite(d).all() else math.inf
    if not (math.isfinite(scale) and math.isfinite(spread)):
        raise InvalidParameterError(
            "the losses are too large to difference in float64 (overflow): rescale them"
        )
    # constant up to the rounding of a - b (e.g. b = a + 0.1): still no variance to test with
    rounding = 8.0 * np.finfo(np.float64).eps * scale
    if spread <= rounding:
        raise InvalidParameterError("the loss differential is constant; the DM test is undefined")
    d_bar = float(d.mean())
    e = d - d_bar
    gamma = [float(e[k:] @ e[: n - k]) / n for k in range(h)]
    variance = gamma[0] + 2.0 * sum(gamma[1:])
    if variance <= 0:
        warnings.warn(
            f"DM long-run variance is not positive at horizon {h}; using the lag-0 variance",
            RuntimeWarning,
            stacklevel=2,
        )
        variance = gamma[0]
    dm = d_bar / math.sqrt(variance / n)
    stat = dm * math.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    df = n - 1
    if alternative == "two-sided":
        p = 2.0 * float(stats.t.sf(abs(stat), df))
    elif alternative == "less":
        p = float(stats.t.cdf(stat, df))
    else:
        p = float(stats.t.sf(stat, df))
    return DieboldMarianoResult(
        statistic=float(stat),
        p_value=min(p, 1.0),
        mean_difference=d_bar,
        n=n,
        horizon=h,
        alternative=alternative,
        long_run_variance=float(variance),
    )


__all__ = [
    "DEFAULT_LEVELS",
    "DEFAULT_QUANTILES",
    "DieboldMarianoResult",
    "central_interval",
    "crps_ensemble",
    "crps_normal",
    "crps_student_t",
    "crps_values",
    "diebold_mariano",
    "interval_coverage",
    "mae",
    "mean_pinball_loss",
    "pinball_loss",
    "pit",
    "pit_values",
    "predictive_cdf",
    "predictive_quantile",
    "rmse",
    "score_forecast",
]
