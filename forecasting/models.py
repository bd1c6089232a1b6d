"""Day-ahead probabilistic forecasters: a heteroscedastic Student-t network and baselines.

All four share one scikit-learn style interface:

* parameters in ``__init__`` (stored as given, checked in ``fit``; ``get_params``/
  ``set_params``), learned state in attributes ending in ``_``;
* ``fit(frame, target="load_mw")`` on a frame of history (as returned by
  ``data.load_market_data``: UTC ``time_utc`` index, ``attrs["tz"]``);
* ``predict(frame, *, days=None, quantiles=None)``: for every local market day of
  ``frame`` with enough history before it (or the given ``days``), a DataFrame indexed by
  ``time_utc`` (UTC interval starts; 23/25 rows on DST days, 96 per day for quarter-hours)
  with float64 columns ``mu`` (location), ``sigma`` (scale > 0) and ``nu`` (degrees of
  freedom > 2; ``inf`` for the Gaussian model, meaning a normal distribution), in target
  units, plus ``q0.1``-style quantile columns when ``quantiles=(0.1, 0.5, 0.9)`` is given.
  Each day uses only the values of ``frame`` known at its cut-off, local noon of the day
  before (rules in ``forecasting.features``). The forecast distribution of interval t is
  ``mu + sigma * T(nu)``;
* ``sample(n, *, seed=None)``: ``(n, n_intervals)`` scenarios from the last prediction
  (at most ``MAX_SAMPLE_VALUES`` values per call).
  **Intervals are sampled independently** (no dependence across the hours of a day is
  modelled): scenario paths have the right marginals but are rougher than real ones.

Models
------
``StudentTForecaster``: MLP body on the ``day_ahead_features`` (lagged target at the same
clock time on D−1, D−2, D−7, last known value, the TSO's day-ahead forecasts, calendar;
optionally the forecasts' own values ``exog_lags`` days earlier and the whole hourly
target profiles of the days ``profile_lags`` before), head ``mu, sigma = softplus + eps,
nu = 2 + softplus + eps`` with a linear input → head skip path (``forecasting.nets``),
trained by Student-t negative log-likelihood with Adam on shuffled mini-batches, a
validation split of ``validation_fraction`` of the training days
(``validation_split="last"``: the last days, chronological; ``"random"``: days drawn by a
seeded per-day hash, so the most recent days are trained on and a day keeps its role when
the window grows) and early stopping on it (best weights restored; a warm start keeps its
starting weights unless an epoch improves the validation loss). ``recency_halflife_days``
weights each training day's loss by ``0.5 ** (age / halflife)`` (age: days before the
latest training day; mean weight 1; the validation loss stays unweighted). Continuous
features and the target are standardised with the training split's mean and standard
deviation (``input_transform="asinh"``: the features instead with their median and
MAD·1.4826, the standard deviation where the MAD is 0, then ``arcsinh``, the
variance-stabilising transform of the open LEAR benchmark, which tames price spikes among
the inputs; the target keeps its mean and standard deviation); unknown
feature values (NaN) become 0 after standardisation, flagged by their ``*_missing``
indicator; intervals with a missing target are left out of training. Seeded by
``random_state`` (torch's global RNG is left untouched): the same seed, data, thread count
and machine give bit-identical predictions. Defaults (64, 64) hidden, dropout 0.2, lr
1e-3, batch 256, patience 10, ``n_threads=1``: the network is too small to gain from more
threads (on an idle 2-core machine 1 and 2 threads are on par; on a busy one 2 threads
were >10x slower per step); ``None`` keeps torch's setting.

For day-ahead **prices** (DE, issue 5) the configuration chosen on the validation year 2015
(``benchmarks/forecast_price_selection.py``, ``PRICE_PARAMS``) differs from the defaults;
for day-ahead **load** (ES) the one chosen on the validation year 2016
(``benchmarks/forecast_model_selection.py``, ``LOAD_PARAMS``) models the residual of the
TSO's forecast. The class defaults stay as they are.

``n_members > 1`` makes either network an ensemble: member m is the single network with
``random_state + m`` (fitted, warm-started and recalibrated on its own), and the forecast
averages ``mu``, ``sigma`` and ``nu`` over the members (``combine_members``; quantile
averaging when the members share ``nu``). On the validation years four members cut the
CRPS by 0.1 % (ES load 2016) and 1.7 % (DE price 2015) against one network.

``GaussianForecaster``: the same body and training with a normal head (``nu = inf``).

``SeasonalNaiveForecaster``: ``mu`` = the target at the same local clock time
``season_days`` (7) days earlier; ``TSOForecaster``: ``mu`` = the TSO's published
day-ahead forecast of the target (``TSO_FORECAST_COLUMNS``). For both, ``sigma`` and ``nu``
come from a zero-location Student-t fitted by maximum likelihood to the training errors
(target − mu) of each local hour of day (all hours pooled when an hour has fewer than
``min_errors`` errors). Where the centre is missing in the data, the row is NaN.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import inspect
import math
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from data.checks import check_type
from data.errors import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
)
from data.seeds import check_seed, seeded_rng
from forecasting.features import (
    MAX_LAG_DAYS,
    DayAheadFeatures,
    check_whole,
    column_kind,
    column_list,
    day_ahead_features,
    forecast_columns,
    interval_step,
    is_number,
    is_whole,
    market_days,
    resolve_tz,
)

if TYPE_CHECKING:  # imported lazily at run time (torch)
    from forecasting.nets import DistributionMLP

#: The TSO's day-ahead forecast column for each target column.
TSO_FORECAST_COLUMNS: dict[str, str] = {
    "load_mw": "load_forecast_mw",
    "price_eur_per_mwh": "price_forecast_eur_per_mwh",
    "solar_mw": "solar_forecast_mw",
    "wind_mw": "wind_forecast_mw",
}

#: Network parameters for day-ahead **prices**, chosen on the validation year 2015 (DE,
#: ``benchmarks/forecast_price_selection.py``; never on the 2016–2017 test period): the
#: epftoolbox LEAR/DNN input set (whole price profiles of D−1, D−2, D−3, D−7; the
#: forecasts' whole profiles of D and their values at D−1 and D−7) and the spread
#: recalibrated on the validation days. The class defaults stay unchanged. The evaluation
#: on 2016–2017 uses four such networks (``n_members=4``, also chosen on 2015).
PRICE_PARAMS: dict[str, Any] = {
    "profile_lags": (1, 2, 3, 7),
    "exog_lags": (1, 7),
    "exog_profile_lags": (0,),
    "calibrate_sigma": True,
}

#: Network parameters for day-ahead **load**, chosen on the validation year 2016 (ES, fit
#: on 2015, ``benchmarks/forecast_model_selection.py``; never on the 2017 test year): the
#: network models the residual of the TSO's day-ahead load forecast (``centre``), with the
#: default body and inputs. Chosen with weekly recalibration (``evaluate_forecasters(...,
#: recalibrate=7, warm_epochs=5)``), the lowest validation CRPS; fitted once it was also the
#: best of the one-fit candidates. The class defaults stay as they are. The evaluation on
#: 2017 uses four such networks (``n_members=4``, the lowest validation CRPS of a later round).
LOAD_PARAMS: dict[str, Any] = {
    "centre": "load_forecast_mw",
}

#: Standard deviation / median absolute deviation of a normal distribution.
MAD_TO_SD = 1.482602218505602

#: Training windows (days) of the LEAR ensemble of the open price-forecasting benchmark
#: (``forecasting.lear``; the networks' ``location_blend="lear"``).
LEAR_WINDOWS = (56, 84, 1092, 1456)

Days: TypeAlias = Iterable[str | dt.date | pd.Timestamp] | str | dt.date | pd.Timestamp | None


def quantile_column(q: float) -> str:
    """Name of the quantile column for level ``q`` in (0, 1): ``0.1`` → ``"q0.1"``; a level
    that six significant digits do not spell exactly keeps all of its digits
    (``0.9750004`` → ``"q0.9750004"``), so that two levels never share a name."""
    if not (is_number(q) and 0.0 < q < 1.0):
        raise InvalidParameterError(f"quantile level must lie in (0, 1), got {q!r}")
    short = f"{q:g}"
    return f"q{short}" if float(short) == float(q) else f"q{float(q)!r}"


_BLEND_TEXT = {
    "missing": "have no {detail} forecast to blend with; the networks' location is kept",
    "partial": "average fewer than the LEAR windows {detail} (too little history)",
    "unavailable": "have no LEAR forecast ({detail}); the networks' location is kept",
}


#: LEAR forecasts of recent ``_blend_reference`` calls, keyed by the frame's content: the
#: models of one evaluation (Student-t and Gaussian) blend with the same LEAR, whose daily
#: LASSO fits cost about a second per day and window, and fit it once.
_LEAR_MEMO: dict[tuple, pd.DataFrame] = {}
_LEAR_MEMO_SIZE = 4
_LEAR_MEMO_LOCK = threading.Lock()


def _lear_memo(
    frame: pd.DataFrame, target: str, days: np.ndarray, windows: Sequence[int], tz: str
) -> pd.DataFrame:
    """``forecasting.lear.lear_forecasts(frame, target, days=days, windows=windows, tz=tz)``,
    memoised on everything it reads: the frame's index, columns and values (a SHA-1 of
    pandas' row hashes), the days, windows, target and time zone."""
    from forecasting.lear import lear_forecasts  # lear imports this module

    rows = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    key = (
        target,
        tz,
        tuple(int(w) for w in windows),
        tuple(str(d) for d in days),
        tuple(map(str, frame.columns)),
        hashlib.sha1(rows.tobytes()).hexdigest(),
    )
    with _LEAR_MEMO_LOCK:
        hit = _LEAR_MEMO.get(key)
    if hit is not None:
        return hit.copy()
    fc = lear_forecasts(frame, target, days=days, windows=windows, tz=tz)
    with _LEAR_MEMO_LOCK:
        while len(_LEAR_MEMO) >= _LEAR_MEMO_SIZE:
            _LEAR_MEMO.pop(next(iter(_LEAR_MEMO)))  # the oldest
        _LEAR_MEMO[key] = fc
    return fc.copy()


MAX_HIDDEN = 4096
MAX_HIDDEN_LAYERS = 16
"""Largest network accepted (``hidden``): far above what the hourly data supports (64, 64 is the
default), and small enough that a typo is an error rather than an out-of-memory crash."""

#: Most torch threads accepted (``n_threads``); a typo beyond it is an error, not a crash.
MAX_THREADS = 1024

#: Largest seed torch takes (``torch.manual_seed``); member m of an ensemble uses
#: ``random_state + m``, so ``random_state`` is at most ``MAX_TORCH_SEED - (n_members - 1)``.
MAX_TORCH_SEED = 2**64 - 1

#: Most values ``sample`` draws in one call (``n`` × intervals): 0.8 GB per float64 array,
#: of which a call holds about four at once. Draw more in batches (``seed`` a Generator).
MAX_SAMPLE_VALUES = 10**8


class BlendWarning(UserWarning):
    """A ``location_blend`` reference that is missing (``kind="missing"``: ``n_intervals``
    keep the networks' location), lacks some LEAR windows (``"partial"``) or could not be
    computed (``"unavailable"``, ``detail`` says why) on ``days``; ``summarize`` joins many
    (e.g. of daily recalibration blocks) into one line per kind and detail."""

    def __init__(self, kind: str, detail: str, n_intervals: int, days: np.ndarray) -> None:
        self.kind, self.detail, self.n_intervals = kind, detail, int(n_intervals)
        self.days = np.asarray(days, dtype="datetime64[D]")
        super().__init__(self._line(self.n_intervals, self.days))

    def _line(self, n: int, days: np.ndarray) -> str:
        what = "" if self.kind == "unavailable" else f"{n} interval(s) on "
        span = f"{len(days)} day(s), {days.min()}..{days.max()},"
        return f"{what}{span} " + _BLEND_TEXT[self.kind].format(detail=self.detail)

    @staticmethod
    def summarize(found: Sequence[BlendWarning]) -> list[str]:
        """One line per (kind, detail): the intervals summed, the days joined."""
        groups: dict[tuple[str, str], list[BlendWarning]] = {}
        for w in found:
            groups.setdefault((w.kind, w.detail), []).append(w)
        return [
            g[0]._line(
                sum(w.n_intervals for w in g), np.unique(np.concatenate([w.days for w in g]))
            )
            for g in groups.values()
        ]


def blend_location(mu: np.ndarray, reference: np.ndarray, weight: float) -> np.ndarray:
    """Forecast combination of locations: ``(1 − weight)·mu + weight·reference`` per
    interval, ``mu`` where the reference is unknown (NaN); arrays of one shape."""
    mu = np.asarray(mu, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if mu.shape != reference.shape:
        raise InvalidParameterError(f"shapes differ: mu {mu.shape}, reference {reference.shape}")
    if not 0.0 <= weight <= 1.0:
        raise InvalidParameterError(f"weight must be in [0, 1], got {weight!r}")
    return np.where(np.isfinite(reference), (1.0 - weight) * mu + weight * reference, mu)


def median_mad(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust centre and scale of each column of ``A`` (NaN ignored): the median and
    ``MAD_TO_SD`` · median absolute deviation; the standard deviation where the MAD is 0
    (mostly constant columns, e.g. solar at night), 1 where that is 0 too."""
    med = np.nanmedian(A, axis=0)
    mad = MAD_TO_SD * np.nanmedian(np.abs(A - med), axis=0)
    sd = np.nanstd(A, axis=0)
    return med, np.where(mad > 0, mad, np.where(sd > 0, sd, 1.0))


def _check_quantiles(quantiles: Sequence[float] | float | None) -> list[float]:
    """Quantile levels (one level or a flat sequence of them, each in (0, 1)) as floats."""
    if quantiles is None:
        return []
    levels = [quantiles] if is_number(quantiles) else quantiles
    try:
        qs = list(np.asarray(levels, dtype=object).ravel()) if np.ndim(levels) <= 1 else None
    except (TypeError, ValueError):
        qs = None
    if qs is None or not all(is_number(q) for q in qs):
        raise InvalidParameterError(
            f"quantiles must lie in (0, 1), e.g. (0.1, 0.5, 0.9), got {quantiles!r}"
        )
    bad = [float(q) for q in qs if not 0.0 < q < 1.0]
    if bad:
        raise InvalidParameterError(f"quantiles must lie in (0, 1), got {bad}")
    return list(dict.fromkeys(float(q) for q in qs))  # a level asked twice: one column


def student_t_quantiles(
    mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray, quantiles: Sequence[float]
) -> np.ndarray:
    """(n, len(quantiles)) quantiles ``mu + sigma * t.ppf(q, nu)`` (``nu = inf``: normal);
    quantile levels in (0, 1), ``sigma > 0`` and ``nu > 0`` where known (NaN rows stay NaN)."""
    q = np.asarray(_check_quantiles(quantiles), dtype=float)[None, :]
    mu = np.asarray(mu, dtype=float)
    sigma, nu = np.asarray(sigma, dtype=float), np.asarray(nu, dtype=float)
    if not (mu.ndim == 1 and mu.shape == sigma.shape == nu.shape):
        raise InvalidParameterError(
            f"mu, sigma and nu must be 1-D of one length, got shapes {mu.shape}, "
            f"{sigma.shape}, {nu.shape}"
        )
    if (sigma <= 0).any() or (nu <= 0).any():
        raise InvalidParameterError("sigma and nu must be positive")
    return mu[:, None] + sigma[:, None] * stats.t.ppf(q, nu[:, None])


class BaseForecaster:
    """Shared interface: ``get_params``/``set_params``, quantiles, ``sample``."""

    #: name of the distribution family in ``predict().attrs["distribution"]``
    distribution = "student_t"

    # Fitted state, set by the subclasses' ``fit`` (absent before: see ``_check_fitted``).
    target_: str
    tz_: str
    step_: pd.Timedelta
    lags_: tuple[int, ...]
    exog_: list[str]
    exog_lags_: tuple[int, ...]

    if TYPE_CHECKING:  # the subclasses define these; the base class itself has neither

        def fit(
            self, frame: pd.DataFrame, target: str = "load_mw", *, tz: str | None = None
        ) -> BaseForecaster: ...

        def predict(
            self,
            frame: pd.DataFrame,
            *,
            days: Days = None,
            quantiles: Sequence[float] | None = None,
            tz: str | None = None,
        ) -> pd.DataFrame: ...

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The ``__init__`` parameters and their current values."""
        params = inspect.signature(type(self).__init__).parameters.values()
        # *args/**kwargs (object.__init__'s, for a class without its own) are no parameters
        names = [
            p.name
            for p in params
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        return {name: getattr(self, name) for name in names}

    def set_params(self, **params: Any) -> BaseForecaster:
        """Set ``__init__`` parameters (takes effect at the next ``fit``)."""
        valid = self.get_params()
        for key, value in params.items():
            if key not in valid:
                raise InvalidParameterError(f"{type(self).__name__} has no parameter {key!r}")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -- fitted-state helpers ---------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "target_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet: call fit() first")

    def _features(self, frame: pd.DataFrame, days: Days, tz: str | None) -> DayAheadFeatures:
        """Features of ``frame`` with the fitted configuration and resolution."""
        check_type(frame, pd.DataFrame, "frame", "of market data")
        tz = resolve_tz(frame, tz) if (tz or frame.attrs.get("tz")) else self.tz_
        return day_ahead_features(
            frame,
            self.target_,
            days=days,
            lags=self.lags_,
            exog=self.exog_,
            exog_lags=self.exog_lags_,
            profile_lags=getattr(self, "profile_lags_", ()),
            exog_profile_lags=getattr(self, "exog_profile_lags_", ()),
            tz=tz,
            step=self.step_,
        )

    def _output(
        self,
        feats: DayAheadFeatures,
        mu: np.ndarray,
        sigma: np.ndarray,
        nu: np.ndarray,
        quantiles: Sequence[float] | None,
    ) -> pd.DataFrame:
        qs = _check_quantiles(quantiles)
        out = pd.DataFrame(
            {"mu": mu, "sigma": sigma, "nu": nu}, index=feats.X.index.rename("time_utc")
        )
        self.prediction_ = out.copy()
        if qs:
            values = student_t_quantiles(mu, sigma, nu, qs)
            for i, q in enumerate(qs):
                out[quantile_column(q)] = values[:, i]
        out.attrs.update(
            target=self.target_,
            model=type(self).__name__,
            distribution=self.distribution,
            tz=self.tz_,
            days=[str(d) for d in feats.days],
        )
        return out

    def sample(self, n: int, *, seed: int | np.random.Generator | None = None) -> np.ndarray:
        """(n, n_intervals) scenarios of the last ``predict``, in its row order; intervals
        independent of each other (see the module docstring). NaN rows stay NaN."""
        self._check_fitted()
        pred = getattr(self, "prediction_", None)
        if pred is None:
            raise NotFittedError(f"{type(self).__name__}: call predict() before sample()")
        n = check_whole(n, "n", 1)
        if n * len(pred) > MAX_SAMPLE_VALUES:
            raise InvalidParameterError(
                f"n={n} scenarios of {len(pred)} intervals exceed MAX_SAMPLE_VALUES "
                f"({MAX_SAMPLE_VALUES:,} values); sample in batches"
            )
        rng = np.random.default_rng() if seed is None else seeded_rng(seed)
        mu, sigma, nu = (pred[c].to_numpy(dtype=float) for c in ("mu", "sigma", "nu"))
        finite = np.isfinite(nu)
        z = rng.standard_normal((n, len(mu)))
        if finite.any():
            df = np.where(finite, nu, 1.0)
            chi = rng.chisquare(df, size=(n, len(mu)))
            z = np.where(finite, z / np.sqrt(chi / df), z)
        return mu + sigma * z


# --- neural models -------------------------------------------------------------------


def _day_hash(days: np.ndarray, seed: int) -> np.ndarray:
    """Uniform [0, 1) number per ``datetime64[D]`` day and seed (splitmix64): the same day
    always gets the same number, whatever window it is part of."""
    with np.errstate(over="ignore"):
        z = days.astype(np.int64).astype(np.uint64) + np.uint64(seed % 2**32) * np.uint64(
            0x9E3779B97F4A7C15
        )
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def _validation_days(train_days: np.ndarray, fraction: float, split: str, seed: int) -> np.ndarray:
    """The early-stopping days among ``train_days`` (sorted): the last ``ceil(fraction·n)``
    (``split="last"``), or each day with probability ``fraction`` by a per-day hash of the
    seed (``"random"``: a day keeps its role as the window grows, so warm-started refits
    never train on a day they validated on before, and the most recent days are trained
    on)."""
    if fraction <= 0 or not len(train_days):
        return train_days[:0]
    if split == "random":
        return train_days[_day_hash(train_days, int(seed)) < fraction]
    return train_days[len(train_days) - math.ceil(fraction * len(train_days)) :]


def _recency_weights(days: np.ndarray, halflife_days: float) -> np.ndarray:
    """Loss weight of each training row from its market day (``datetime64[D]``, (n,)):
    ``0.5 ** (age / halflife_days)`` with ``age`` the days before the latest training day,
    normalised to mean 1 (so the learning rate keeps its meaning)."""
    age_days = (days.max() - days).astype(np.float64)
    w = 0.5 ** (age_days / float(halflife_days))
    return w / w.mean()


def _sigma_factor(
    y: np.ndarray, mu: np.ndarray, sigma: np.ndarray, nu: np.ndarray | None = None
) -> float:
    """Scale ``c`` in [1/4, 4] maximising the likelihood of ``y`` under the predicted
    distributions with ``sigma`` multiplied by ``c`` (Student-t; normal if ``nu`` is None):
    a one-parameter recalibration of the spread on held-out (validation) days."""
    z2 = ((y - mu) / sigma) ** 2

    def nll(log_c: float) -> float:
        c2 = math.exp(2 * log_c)
        if nu is None:
            return float(np.mean(log_c + 0.5 * z2 / c2))
        return float(np.mean(log_c + 0.5 * (nu + 1) * np.log1p(z2 / (c2 * nu))))

    res = optimize.minimize_scalar(nll, bounds=(-math.log(4), math.log(4)), method="bounded")
    return float(math.exp(res.x))


def combine_members(
    params: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Combine the ``(mu, sigma, nu)`` arrays (n,) of ensemble members into one
    location-scale forecast by averaging each parameter over the members. When the members
    share ``nu`` (always for normal members, ``nu = inf``) this is exactly quantile
    averaging (Vincentization): the combined quantile at level p is the members' mean
    quantile ``mean(mu) + mean(sigma) · t⁻¹_nu(p)``. One member is returned unchanged."""
    if len(params) == 0:
        raise InvalidParameterError("combine_members needs at least one member, got none")
    try:
        stacked = [np.stack([p[i] for p in params]) for i in range(3)]
    except (ValueError, IndexError, TypeError):
        raise InvalidParameterError(
            "combine_members needs (mu, sigma, nu) arrays of one shape from every member"
        ) from None
    if (stacked[1] <= 0).any() or (stacked[2] <= 0).any():  # NaN rows stay NaN
        raise InvalidParameterError("combine_members needs sigma > 0 and nu > 0 of every member")
    if len(params) == 1:
        return params[0]
    return stacked[0].mean(axis=0), stacked[1].mean(axis=0), stacked[2].mean(axis=0)


def _whole_numbers(values: Any, minimum: int, maximum: int) -> bool:
    """True for a non-empty sequence of whole numbers in ``minimum .. maximum``."""
    if isinstance(values, str):
        return False
    try:
        values = tuple(values)
    except TypeError:
        return False
    return len(values) > 0 and all(is_whole(v, minimum, maximum) for v in values)


@contextlib.contextmanager
def _torch_threads(n_threads: int | None) -> Iterator[None]:
    import torch

    if n_threads is None:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n_threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


class _NeuralForecaster(BaseForecaster):
    _n_params = 3

    # Fitted state beside the base class's (absent before the first ``fit``).
    feature_names_: list[str]
    hidden_: tuple[int, ...]
    centre_: str | None
    model_: DistributionMLP

    def __init__(
        self,
        *,
        hidden: Sequence[int] = (64, 64),
        dropout: float = 0.2,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        max_epochs: int = 200,
        patience: int = 10,
        batch_size: int = 256,
        validation_fraction: float = 0.15,
        lags: Sequence[int] = (1, 2, 7),
        exog: Sequence[str] | None = None,
        exog_lags: Sequence[int] = (),
        profile_lags: Sequence[int] = (),
        exog_profile_lags: Sequence[int] = (),
        centre: str | None = None,
        fixed_centre: bool = False,
        validation_split: str = "last",
        calibrate_sigma: bool = False,
        random_state: int = 0,
        n_threads: int | None = 1,
        warm_start: bool = False,
        n_members: int = 1,
        recency_halflife_days: float | None = None,
        input_transform: str | None = None,
        location_blend: str | None = None,
        blend_weight: float = 0.5,
        lear_windows: Sequence[int] = LEAR_WINDOWS,
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.lr = lr
        self.weight_decay = weight_decay
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.lags = lags
        self.exog = exog
        self.exog_lags = exog_lags
        self.profile_lags = profile_lags
        self.exog_profile_lags = exog_profile_lags
        self.centre = centre
        self.fixed_centre = fixed_centre
        self.validation_split = validation_split
        self.calibrate_sigma = calibrate_sigma
        self.random_state = random_state
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.n_members = n_members
        self.recency_halflife_days = recency_halflife_days
        self.input_transform = input_transform
        self.location_blend = location_blend
        self.blend_weight = blend_weight
        self.lear_windows = lear_windows

    def _check_params(self) -> None:
        if not isinstance(self.hidden, Sequence) or isinstance(self.hidden, str):
            raise InvalidParameterError(
                f"hidden must be a sequence of layer widths, e.g. (64, 64), got {self.hidden!r}"
            )
        hidden = tuple(self.hidden)
        if not hidden or not all(is_whole(h, 1) for h in hidden):
            raise InvalidParameterError(f"hidden must be positive layer widths, got {hidden}")
        if max(hidden) > MAX_HIDDEN or len(hidden) > MAX_HIDDEN_LAYERS:
            raise InvalidParameterError(
                f"hidden must be at most {MAX_HIDDEN_LAYERS} layers of at most {MAX_HIDDEN} "
                f"units, got {hidden}"
            )
        check_seed(self.random_state, name="random_state")
        if self.exog is not None:
            column_list(self.exog, "exog")
        real, halflife = is_number, self.recency_halflife_days
        checks = {  # name: (valid, what a valid value is)
            "dropout": (real(self.dropout) and 0.0 <= self.dropout < 1.0, "a number in [0, 1)"),
            "lr": (real(self.lr) and 0 < self.lr < math.inf, "a finite number > 0"),
            "weight_decay": (
                real(self.weight_decay) and 0 <= self.weight_decay < math.inf,
                "a finite number >= 0",
            ),
            "max_epochs": (is_whole(self.max_epochs, 1), "a whole number >= 1"),
            "patience": (is_whole(self.patience, 1), "a whole number >= 1"),
            "batch_size": (is_whole(self.batch_size, 1), "a whole number >= 1"),
            "validation_fraction": (
                real(self.validation_fraction) and 0.0 <= self.validation_fraction < 1.0,
                "a number in [0, 1)",
            ),
            "n_threads": (
                self.n_threads is None or is_whole(self.n_threads, 1, MAX_THREADS),
                f"None or a whole number in 1..{MAX_THREADS}",
            ),
            "validation_split": (
                isinstance(self.validation_split, str)
                and self.validation_split in ("last", "random"),
                "'last' or 'random'",
            ),
            "n_members": (is_whole(self.n_members, 1), "a whole number >= 1"),
            "recency_halflife_days": (
                halflife is None or (real(halflife) and 0 < halflife < math.inf),
                "None or a finite number > 0",
            ),
            "input_transform": (
                self.input_transform is None
                or (isinstance(self.input_transform, str) and self.input_transform == "asinh"),
                "None or 'asinh'",
            ),
            "centre": (self.centre is None or isinstance(self.centre, str), "None or a column"),
            "location_blend": (
                self.location_blend is None or isinstance(self.location_blend, str),
                "None, 'lear' or a forecast column",
            ),
            "blend_weight": (
                real(self.blend_weight) and 0.0 <= self.blend_weight <= 1.0,
                "a number in [0, 1]",
            ),
            "lear_windows": (
                _whole_numbers(self.lear_windows, 2, MAX_LAG_DAYS),
                f"whole numbers of days in 2..{MAX_LAG_DAYS}",
            ),
            **{
                name: (isinstance(getattr(self, name), bool | np.bool_), "True or False")
                for name in ("fixed_centre", "calibrate_sigma", "warm_start")
            },
        }
        for name, (ok, valid) in checks.items():
            if not ok:
                raise InvalidParameterError(f"{name}={getattr(self, name)!r} must be {valid}")
        last_seed = int(self.random_state) + int(self.n_members) - 1  # member m: random_state + m
        if last_seed > MAX_TORCH_SEED:  # torch: "Overflow when unpacking long long"
            raise InvalidParameterError(
                f"random_state={self.random_state!r} must be at most 2**64 - n_members "
                f"(torch seeds each of the {self.n_members} member(s) with random_state + m)"
            )
        if self.fixed_centre and self.centre is None:
            raise InvalidParameterError("fixed_centre=True needs a centre column (centre=...)")

    def fit(
        self, frame: pd.DataFrame, target: str = "load_mw", *, tz: str | None = None
    ) -> _NeuralForecaster:
        """Fit on every interval of ``frame`` with a target value and ``max(lags)`` days of
        history before it. The last ``validation_fraction`` of those days (chronological)
        drive early stopping. With ``warm_start=True`` and a previous fit on the same
        target, features and layer widths, training starts from the previous weights and
        keeps the previous standardisation (``warm_started_`` tells). With ``n_members > 1``
        fits the members of the ensemble instead (see ``estimators_``). Returns ``self``.

        A fit that raises (bad data, an interrupted training) gives the model its attributes
        of before the call back: never new scalers beside the previous network. (A warm-started
        ensemble's members refitted before the failure keep their new weights.)"""
        before = dict(self.__dict__)
        try:
            return self._fit(frame, target, tz)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            raise

    def _fit(self, frame: pd.DataFrame, target: str, tz: str | None) -> _NeuralForecaster:
        from forecasting import nets

        self._check_params()
        if int(self.n_members) > 1:
            return self._fit_members(frame, target, tz)
        self.__dict__.pop("estimators_", None)
        tz = resolve_tz(frame, tz)
        # the target is never its own input (a published forecast as target would be copied)
        exog = (
            [c for c in forecast_columns(frame) if c != target]
            if self.exog is None
            else column_list(self.exog, "exog")  # one column name is a list of one
        )
        if self.centre is not None and self.centre not in exog:
            exog = [*exog, self.centre]
        self._check_centre(target, exog)
        self._check_blend(target, exog)
        feats = day_ahead_features(
            frame,
            target,
            lags=self.lags,
            exog=exog,
            exog_lags=self.exog_lags,
            profile_lags=self.profile_lags,
            exog_profile_lags=self.exog_profile_lags,
            tz=tz,
        )
        y_work = feats.y - self._centre_values(feats)
        rows = np.isfinite(y_work)
        train_days = np.unique(feats.day[rows])
        val_days = _validation_days(
            train_days, self.validation_fraction, self.validation_split, self.random_state
        )
        n_val_days = len(val_days)
        if len(train_days) - n_val_days < 1 or not rows.any():
            raise DataUnavailableError(
                f"too little data to fit: {len(train_days)} day(s) with {target} values "
                f"after {max(self.lags, default=0)} day(s) of history"
            )
        val_start = val_days[0] if n_val_days else None
        in_val = rows & np.isin(feats.day, val_days)
        in_train = rows & ~in_val

        X = feats.X
        hidden = tuple(int(h) for h in self.hidden)
        warm = (
            bool(self.warm_start)
            and hasattr(self, "model_")
            and self.target_ == target
            and self.feature_names_ == list(X.columns)
            and self.hidden_ == hidden
            and self.centre_ == self.centre
            and getattr(self, "fixed_centre_", False) == bool(self.fixed_centre)
            and getattr(self, "input_transform_", None) == self.input_transform
        )
        init_state = self.model_.state_dict() if warm else None
        if not warm:  # a warm start keeps the scaling its weights were trained with
            cont = feats.continuous
            cont_train = X.loc[in_train, cont].to_numpy()
            with warnings.catch_warnings():  # an all-NaN column: "mean of empty slice"
                warnings.simplefilter("ignore", RuntimeWarning)
                if self.input_transform == "asinh":  # robust centre and scale (median, MAD)
                    mean, scale = median_mad(cont_train)
                else:
                    mean = np.nanmean(cont_train, axis=0)
                    scale = np.nanstd(cont_train, axis=0)
            # an all-NaN column has no mean: 0 and 1; values too large to scale are wrong data
            has_values = np.isfinite(cont_train).any(axis=0)
            overflow = has_values & ~(np.isfinite(mean) & np.isfinite(scale))
            y_train = y_work[in_train]
            with np.errstate(over="ignore", invalid="ignore"):
                # a fixed centre is the location itself: no shift of the residual
                y_mean = 0.0 if self.fixed_centre else float(np.mean(y_train))
                y_scale = float(np.std(y_train)) or 1.0
            if overflow.any() or not (math.isfinite(y_mean) and math.isfinite(y_scale)):
                what = target if not overflow.any() else cont[int(np.argmax(overflow))]
                source = next((c for c in (*exog, target) if c in what), target)
                shown = source if what == source else f"{source} (feature {what})"
                raise DataValidationError(
                    f"the training values of {shown} are too large to standardise (largest "
                    f"|value| {_largest(X, y_work, what, in_train):.3g}): wrong data?"
                )
            mean = np.where(np.isfinite(mean), mean, 0.0)
            scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
            self.x_mean_ = pd.Series(mean, index=cont)
            self.x_scale_ = pd.Series(scale, index=cont)
            self.y_mean_, self.y_scale_ = y_mean, y_scale

        self.target_ = target
        self.tz_ = tz
        self.step_ = interval_step(frame, None)
        self.lags_ = tuple(int(k) for k in self.lags)
        self.exog_ = exog
        self.exog_lags_ = tuple(int(k) for k in self.exog_lags)
        self.profile_lags_ = tuple(int(k) for k in self.profile_lags)
        self.exog_profile_lags_ = tuple(int(k) for k in self.exog_profile_lags)
        self.feature_names_ = list(X.columns)
        self.n_features_in_ = len(self.feature_names_)
        self.hidden_ = hidden
        self.centre_ = self.centre
        self.fixed_centre_ = bool(self.fixed_centre)
        self.input_transform_ = self.input_transform
        self.location_blend_ = self.location_blend
        self.blend_weight_ = float(self.blend_weight)
        self.lear_windows_ = tuple(int(w) for w in self.lear_windows)

        Z = self._design(feats)
        w_train = None
        if self.recency_halflife_days is not None:
            w_train = _recency_weights(feats.day[in_train], self.recency_halflife_days)
        ys = (y_work - self.y_mean_) / self.y_scale_
        with _torch_threads(self.n_threads):
            res = nets.train(
                Z[in_train],
                ys[in_train],
                Z[in_val] if n_val_days else None,
                ys[in_val] if n_val_days else None,
                n_params=self._n_params,
                hidden=hidden,
                dropout=float(self.dropout),
                lr=float(self.lr),
                weight_decay=float(self.weight_decay),
                max_epochs=int(self.max_epochs),
                patience=int(self.patience),
                batch_size=int(self.batch_size),
                seed=int(self.random_state),
                init_state=init_state,
                fixed_location=self.fixed_centre_,
                w_train=w_train,
            )
        import torch

        if not np.isfinite(res.train_loss).all() or not all(
            bool(torch.isfinite(t).all()) for t in res.model.state_dict().values()
        ):
            epoch = int(np.argmin(np.isfinite(res.train_loss)))
            raise InvalidParameterError(
                f"training diverged (the loss became NaN or infinite in epoch {epoch}): "
                f"lower lr (now {self.lr:g}), or look for extreme values in the data"
            )
        shift = math.log(self.y_scale_)  # NLL in target units = standardised NLL + log scale
        self.model_ = res.model
        self.train_loss_ = [v + shift for v in res.train_loss]
        self.val_loss_ = [v + shift for v in res.val_loss]
        self.n_epochs_ = len(res.train_loss)
        self.best_epoch_ = res.best_epoch
        self.n_train_intervals_ = int(in_train.sum())
        self.n_val_intervals_ = int(in_val.sum())
        self.validation_start_ = None if val_start is None else val_start.item()
        self.warm_started_ = warm
        self.sigma_factor_ = 1.0
        if self.calibrate_sigma and n_val_days:
            with _torch_threads(self.n_threads):
                val_params = nets.predict_params(self.model_, Z[in_val])
            self.sigma_factor_ = _sigma_factor(ys[in_val], *val_params)
        self.prediction_ = None
        return self

    _SHARED = (
        "target_", "tz_", "step_", "lags_", "exog_", "exog_lags_", "profile_lags_",
        "exog_profile_lags_", "feature_names_", "n_features_in_", "hidden_", "centre_",
        "fixed_centre_", "input_transform_", "location_blend_", "blend_weight_", "lear_windows_",
        "n_train_intervals_", "n_val_intervals_", "validation_start_",
    )  # fmt: skip

    def _fit_members(self, frame: pd.DataFrame, target: str, tz: str | None) -> _NeuralForecaster:
        """Fit ``n_members`` single networks, member m with ``random_state + m`` and
        otherwise this model's parameters (a warm start refits each member from its own
        previous weights)."""
        n = int(self.n_members)
        params = dict(self.get_params(), n_members=1)
        previous = getattr(self, "estimators_", None) if self.warm_start else None
        members = []
        for m in range(n):
            p = dict(params, random_state=int(self.random_state) + m)
            if previous is not None and len(previous) == n:
                member = previous[m].set_params(**p)
            else:
                member = type(self)(**p)
            members.append(member.fit(frame, target, tz=tz))
        for name in ("model_", "sigma_factor_", "train_loss_", "val_loss_", "best_epoch_"):
            self.__dict__.pop(name, None)  # a single network's state from an earlier fit
        self.estimators_ = members
        for name in self._SHARED:
            setattr(self, name, getattr(members[0], name))
        self.n_epochs_ = sum(m.n_epochs_ for m in members)
        self.warm_started_ = all(m.warm_started_ for m in members)
        self.prediction_ = None
        return self

    def _params(self, feats: DayAheadFeatures) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(mu, sigma, nu) in target units for the rows of ``feats`` (one network)."""
        from forecasting import nets

        Z = self._design(feats)
        with _torch_threads(self.n_threads):
            params = nets.predict_params(self.model_, Z)
        centre = 0.0 if self.centre_ is None else feats.X[self.centre_].to_numpy(np.float64)
        mu = centre + self.y_mean_ + self.y_scale_ * params[0]
        sigma = self.y_scale_ * getattr(self, "sigma_factor_", 1.0) * params[1]
        nu = params[2] if len(params) == 3 else np.full(len(mu), np.inf)
        return mu, sigma, nu

    def _centre_values(self, feats: DayAheadFeatures) -> np.ndarray | float:
        """The published forecast the network corrects (``centre``), per row; 0 if none."""
        if self.centre is None:
            return 0.0
        return feats.X[self.centre].to_numpy(dtype=np.float64)

    def _design(self, feats: DayAheadFeatures) -> np.ndarray:
        """(n, n_features) float32-ready design matrix: standardised, NaN → 0."""
        if list(feats.X.columns) != self.feature_names_:
            raise DataUnavailableError(
                "the data yields different features than the training data "
                f"({len(feats.X.columns)} vs {len(self.feature_names_)} columns)"
            )
        X = feats.X.to_numpy(dtype=np.float64, copy=True)
        cont = feats.X.columns.get_indexer(self.x_mean_.index)
        X[:, cont] = (X[:, cont] - self.x_mean_.to_numpy()) / self.x_scale_.to_numpy()
        if getattr(self, "input_transform_", None) == "asinh":
            X[:, cont] = np.arcsinh(X[:, cont])
        return np.nan_to_num(X, nan=0.0)

    def predict(
        self,
        frame: pd.DataFrame,
        *,
        days: Days = None,
        quantiles: Sequence[float] | None = None,
        tz: str | None = None,
    ) -> pd.DataFrame:
        """Forecast each market day of ``frame`` with ``max(lags)`` days of history in it
        (or ``days``); see the module docstring for the output. Raises
        ``DataUnavailableError`` for a day none of whose lagged or last-known target
        values is known at its cut-off (e.g. a day far after the end of ``frame``)."""
        self._check_fitted()
        feats = self._features(frame, days, tz)
        own = [f"lag{k}d" for k in self.lags_] + ["last"]
        known = np.isfinite(feats.X[own].to_numpy()).any(axis=1)
        blind = np.setdiff1d(feats.days, feats.day[known])
        if len(blind):
            shown = ", ".join(str(d) for d in blind[:5]) + (" ..." if len(blind) > 5 else "")
            raise DataUnavailableError(
                f"no {self.target_} value known at the cut-off of {len(blind)} day(s) "
                f"within the lag window: {shown}"
            )
        members = getattr(self, "estimators_", None) or [self]
        mu, sigma, nu = combine_members([m._params(feats) for m in members])
        blend = getattr(self, "location_blend_", None)  # None for models fitted before it
        if blend is not None:
            reference, partial = self._blend_reference(frame, feats, tz)
            unknown = np.isfinite(mu) & ~np.isfinite(reference)
            missing = int(unknown.sum())
            if missing:
                days = np.unique(feats.day[unknown])
                warnings.warn(BlendWarning("missing", blend, missing, days), stacklevel=2)
            mu = blend_location(mu, reference, self.blend_weight_)
        out = self._output(feats, mu, sigma, nu, quantiles)
        if blend is not None:
            out.attrs["location_blend_missing"] = missing
            out.attrs["location_blend_partial"] = partial
        return out

    def _check_centre(self, target: str, exog: list[str]) -> None:
        """``centre`` must be a published forecast of the target: a measured column is not
        known at the cut-off (its day-D values are no input), another quantity's forecast
        is no location for the target."""
        centre = self.centre
        if centre is None:
            return
        if not _is_forecast_of(centre, target):
            own = [c for c in exog if _is_forecast_of(c, target)]
            raise InvalidParameterError(
                f"centre={centre!r} is not a published forecast of {target} "
                f"({', '.join(own) or 'the data has none'})"
            )

    def _check_blend(self, target: str, exog: list[str]) -> None:
        """``location_blend`` must be ``"lear"`` (price targets) or an ``exog`` column."""
        blend = self.location_blend
        if blend is None:
            return
        if blend == "lear":
            if target != "price_eur_per_mwh":
                raise InvalidParameterError(
                    f"location_blend='lear' forecasts day-ahead prices, not {target!r}"
                )
        elif blend not in exog or not _same_quantity(blend, target):
            own = [c for c in exog if _same_quantity(c, target)]
            raise InvalidParameterError(
                f"location_blend={blend!r} is neither 'lear' nor a published forecast of "
                f"{target} among the model's inputs ({', '.join(own) or 'none'})"
            )

    def _blend_reference(
        self, frame: pd.DataFrame, feats: DayAheadFeatures, tz: str | None
    ) -> tuple[np.ndarray, int]:
        """The point forecast blended into ``mu`` per row of ``feats`` (NaN: unknown) and
        the number of rows whose LEAR mean lacks some of the windows (warned about)."""
        if self.location_blend_ != "lear":  # a published forecast of day D, known at the cut-off
            return feats.X[self.location_blend_].to_numpy(dtype=np.float64), 0
        tz = resolve_tz(frame, tz) if (tz or frame.attrs.get("tz")) else self.tz_
        windows = self.lear_windows_
        # only the days the windows and the lags reach (the design is built per call)
        first = pd.Timestamp(str(feats.days.min())) - pd.Timedelta(days=max(windows) + 8)
        last = pd.Timestamp(str(feats.days.max())) + pd.Timedelta(days=1)
        part = frame[(frame.index >= first.tz_localize(tz)) & (frame.index < last.tz_localize(tz))]
        part.attrs = dict(frame.attrs)
        nan = np.full(len(feats.X), np.nan)
        try:
            fc = _lear_memo(part, self.target_, feats.days, windows, tz)
        except DataUnavailableError as exc:  # e.g. a missing day within the windows
            warnings.warn(BlendWarning("unavailable", str(exc), 0, feats.days), stacklevel=3)
            return nan, 0
        values = fc.drop(columns="mean").reindex(feats.X.index).to_numpy()
        n_known = np.isfinite(values).sum(axis=1)
        some = (n_known > 0) & (n_known < values.shape[1])
        partial = int(some.sum())
        if partial:
            days = np.unique(feats.day[some])
            warnings.warn(BlendWarning("partial", str(windows), partial, days), stacklevel=3)
        with warnings.catch_warnings():  # a row where no window has a forecast
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmean(values, axis=1), partial


def _largest(X: pd.DataFrame, y: np.ndarray, column: str, rows: np.ndarray) -> float:
    """Largest finite |value| of a feature column (or of the target) over ``rows``."""
    values = X[column].to_numpy()[rows] if column in X.columns else y[rows]
    values = np.abs(values[np.isfinite(values)])
    return float(values.max()) if values.size else math.nan


def _same_quantity(column: str, target: str) -> bool:
    """``load_forecast_mw`` is of the quantity of ``load_mw``: the first word agrees."""
    return column.split("_")[0] == target.split("_")[0]


def _is_forecast_of(column: str, target: str) -> bool:
    """True if ``column`` is a published (day-ahead) forecast of ``target``'s quantity."""
    return column_kind(column) == "forecast" and _same_quantity(column, target)


class StudentTForecaster(_NeuralForecaster):
    """Heteroscedastic Student-t day-ahead forecaster (torch MLP, NLL training).

    Parameters: ``hidden`` layer widths, ``dropout``, Adam ``lr`` and ``weight_decay``,
    ``max_epochs``, early-stopping ``patience`` (epochs), ``batch_size``,
    ``validation_fraction`` (last share of training days; 0: no early stopping),
    ``lags`` (days), ``exog`` (forecast columns used as features, one name or a list;
    default all the data has), ``exog_lags`` (days; those columns' values as features
    too; default none),
    ``profile_lags`` (days D−k whose whole hourly target profile is a feature of every
    interval, e.g. ``(1, 2, 3, 7)`` as in the open price-forecasting benchmark; default
    none), ``exog_profile_lags`` (the same for the ``exog`` columns, 0 = day D itself),
    ``validation_split`` (``"last"`` or ``"random"`` days, see the module docstring),
    ``recency_halflife_days`` (weight of a training day's loss ``0.5 ** (age /
    halflife)``; default none, equal weights), ``input_transform`` (``"asinh"``: robust
    scaling then ``arcsinh`` of the features, see the module docstring; default none),
    ``calibrate_sigma`` (after training, multiply every predicted ``sigma`` by the one
    factor ``sigma_factor_`` that maximises the likelihood of the validation days: the
    spread learnt on the training days is too narrow out of sample; default off),
    ``centre`` (a published forecast column, e.g. ``"load_forecast_mw"``: the network
    then models the residual ``target − centre`` and ``mu = centre + network``; rows
    where the centre is unknown are not trained on and forecast as NaN; default none),
    ``fixed_centre`` (with ``centre``: ``mu`` is the published forecast itself and the
    network learns only the spread, ``sigma`` and ``nu``; default off),
    ``random_state``, ``n_threads`` (torch threads during fit/predict, restored after;
    ``None``: torch's setting), ``warm_start`` (refit from the previous weights, e.g. for
    cheap daily recalibration with a small ``max_epochs``), ``n_members`` (an ensemble of
    that many networks, member m trained with seed ``random_state + m``, combined by
    ``combine_members``: the mean of each parameter; default 1, a single network).
    ``location_blend`` (a forecast combination of locations: ``mu`` becomes
    ``(1 − blend_weight)·mu + blend_weight·reference``, ``sigma`` and ``nu`` kept, by
    ``blend_location``; the reference is ``"lear"``, the mean over ``lear_windows`` of the
    LEAR forecasts of ``forecasting.lear`` (price targets; each day's LASSO fits use only
    the days before it, about 0.6 s per day and short window and 0.9 s per day and long
    window on one core), or one of the
    model's published forecasts of the target for day D, e.g. ``"load_forecast_mw"``;
    where the reference is unknown ``mu`` stays the network's and ``predict().attrs
    ["location_blend_missing"]`` counts those intervals (``"location_blend_partial"``:
    intervals whose LEAR mean lacks some windows; both are warned about); training and
    the spread calibration do not see the blend; default none), ``blend_weight`` (default 0.5),
    ``lear_windows`` (default ``LEAR_WINDOWS``: the benchmark's 56, 84, 1092 and 1456
    days; a window longer than the history adds no forecast).

    Fitted attributes: ``model_``, ``feature_names_``, ``x_mean_``/``x_scale_``,
    ``y_mean_``/``y_scale_``, ``n_epochs_``, ``best_epoch_`` (0-based; −1: a warm start
    kept its starting weights), ``sigma_factor_`` (1 unless ``calibrate_sigma``),
    ``train_loss_``
    (running mean over the epoch's batches, dropout on) and ``val_loss_`` (after the
    epoch): mean NLL per interval in target units; ``validation_start_`` (first
    validation day), ``n_train_intervals_``, ``n_val_intervals_``, ``target_``, ``tz_``,
    ``step_``; ``prediction_`` (the last ``predict``, for ``sample``). An ensemble
    (``n_members > 1``) keeps its fitted members in ``estimators_`` (each a single-network
    model with the attributes above) and ``n_epochs_`` as their total.
    """

    distribution = "student_t"
    _n_params = 3


class GaussianForecaster(_NeuralForecaster):
    """Same body, features and training as ``StudentTForecaster`` with a normal head;
    ``predict`` reports ``nu = inf``. The parameters and fitted attributes are
    ``StudentTForecaster``'s (``calibrate_sigma``, ``location_blend`` and the ensemble
    options act the same way)."""

    distribution = "normal"
    _n_params = 2


# --- reference baselines -------------------------------------------------------------


def fit_zero_location_t(errors: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood (scale, df) of a Student-t with location 0 for ``errors``
    (df in [2.01, 1000])."""
    e = np.asarray(errors, dtype=float)
    e = e[np.isfinite(e)]
    if len(e) < 2:
        raise DataUnavailableError("too few errors to fit a spread model")
    s0 = 1.4826 * float(np.median(np.abs(e))) or float(np.std(e)) or 1.0
    n = len(e)

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        """−log-likelihood and its gradient in θ = (log scale, log(df − 2))."""
        s, nu = math.exp(theta[0]), 2.0 + math.exp(theta[1])
        r = (e / s) ** 2 / nu
        log1p_r = np.log1p(r)
        w = r / (1.0 + r)
        const = special.gammaln((nu + 1) / 2) - special.gammaln(nu / 2)
        loglik = n * (const - 0.5 * math.log(nu * math.pi) - theta[0]) - 0.5 * (nu + 1) * (
            log1p_r.sum()
        )
        d_log_s = -n + (nu + 1) * w.sum()
        d_nu = n * 0.5 * (special.digamma((nu + 1) / 2) - special.digamma(nu / 2) - 1 / nu)
        d_nu += -0.5 * log1p_r.sum() + 0.5 * (nu + 1) / nu * w.sum()
        return -float(loglik), -np.array([d_log_s, d_nu * (nu - 2.0)])

    res = optimize.minimize(
        nll,
        x0=np.array([math.log(s0), math.log(3.0)]),
        method="TNC",  # bounded quasi-Newton; scipy's L-BFGS-B was ~7x slower here
        jac=True,
        bounds=[(math.log(s0) - 10, math.log(s0) + 10), (math.log(0.01), math.log(998.0))],
    )
    return math.exp(res.x[0]), 2.0 + math.exp(res.x[1])


class _ReferenceForecaster(BaseForecaster):
    """Centre from a reference series; spread: per-hour zero-location Student-t of errors."""

    def __init__(self, *, min_errors: int = 30) -> None:
        self.min_errors = min_errors

    # subclasses: features (with the centre in a column) and the name of that column
    def _lags_exog(self, frame: pd.DataFrame, target: str) -> tuple[tuple[int, ...], list, str]:
        raise NotImplementedError

    def fit(
        self, frame: pd.DataFrame, target: str = "load_mw", *, tz: str | None = None
    ) -> _ReferenceForecaster:
        """Fit the spread model on the errors of the centre over ``frame``."""
        check_whole(self.min_errors, "min_errors", 2)
        tz = resolve_tz(frame, tz)
        if target not in frame.columns:
            raise DataUnavailableError(f"target column {target!r} is not in the data")
        lags, exog, centre = self._lags_exog(frame, target)
        feats = day_ahead_features(frame, target, lags=lags, exog=exog, tz=tz)
        err = feats.y - feats.X[centre].to_numpy()
        ok = np.isfinite(err)
        if ok.sum() < 2:
            raise DataUnavailableError(f"no errors of the centre {centre!r} to fit a spread on")
        pooled = fit_zero_location_t(err[ok])
        scale, df = np.full(24, pooled[0]), np.full(24, pooled[1])
        for h in range(24):
            sel = ok & (feats.hour == h)
            if sel.sum() >= self.min_errors:
                scale[h], df[h] = fit_zero_location_t(err[sel])
        self.target_ = target
        self.tz_ = tz
        self.step_ = interval_step(frame, None)
        self.centre_column_ = centre
        self.lags_, self.exog_, self.exog_lags_ = lags, exog, ()
        self.profile_lags_, self.exog_profile_lags_ = (), ()
        self.scale_by_hour_ = scale
        self.df_by_hour_ = df
        self.n_errors_ = int(ok.sum())
        self.prediction_ = None
        return self

    def predict(
        self,
        frame: pd.DataFrame,
        *,
        days: Days = None,
        quantiles: Sequence[float] | None = None,
        tz: str | None = None,
    ) -> pd.DataFrame:
        """Forecast each market day of ``frame`` (or ``days``); see the module docstring."""
        self._check_fitted()
        feats = self._features(frame, days, tz)
        mu = feats.X[self.centre_column_].to_numpy(dtype=float)
        sigma = self.scale_by_hour_[feats.hour]
        nu = self.df_by_hour_[feats.hour].astype(float)
        bad = ~np.isfinite(mu)
        seen = market_days(frame, tz or self.tz_) if len(frame) else []
        in_data = np.isin(feats.days, np.array(seen, dtype="datetime64[D]"))
        if bad.all() and not in_data.any():  # as the networks: nothing to forecast from
            raise DataUnavailableError(
                f"{type(self).__name__}: none of the {len(feats.days)} day(s) asked for "
                f"(first {feats.days[0]}) is in the data"
            )
        if bad.any():  # documented: NaN where the centre is unknown; said, not silent
            gap_days = np.unique(feats.day[bad])
            warnings.warn(
                f"{type(self).__name__}: {int(bad.sum())} interval(s) on {len(gap_days)} "
                f"day(s) (first {gap_days[0]}) have no {self.centre_column_}: forecast NaN",
                UserWarning,
                stacklevel=2,
            )
        sigma = np.where(bad, np.nan, sigma)
        nu = np.where(bad, np.nan, nu)
        return self._output(feats, mu, sigma, nu, quantiles)


class SeasonalNaiveForecaster(_ReferenceForecaster):
    """``mu`` = the target at the same local clock time ``season_days`` days earlier
    (NaN if not known at the cut-off or missing); spread from its past errors per hour.

    Fitted attributes: ``scale_by_hour_``, ``df_by_hour_`` (24,), ``n_errors_``."""

    def __init__(self, *, season_days: int = 7, min_errors: int = 30) -> None:
        super().__init__(min_errors=min_errors)
        self.season_days = season_days

    def _lags_exog(self, frame: pd.DataFrame, target: str) -> tuple[tuple[int, ...], list, str]:
        k = check_whole(self.season_days, "season_days", 1, MAX_LAG_DAYS)
        return (k,), [], f"lag{k}d"


class TSOForecaster(_ReferenceForecaster):
    """``mu`` = the TSO's day-ahead forecast of the target (``column``, default
    ``TSO_FORECAST_COLUMNS[target]``); spread from its past errors per hour. Raises
    ``DataUnavailableError`` naming the column when the data lacks it.

    Fitted attributes: ``centre_column_``, ``scale_by_hour_``, ``df_by_hour_``."""

    def __init__(self, *, column: str | None = None, min_errors: int = 30) -> None:
        super().__init__(min_errors=min_errors)
        self.column = column

    def _lags_exog(self, frame: pd.DataFrame, target: str) -> tuple[tuple[int, ...], list, str]:
        col = self.column
        if col is not None and not isinstance(col, str):
            raise InvalidParameterError(f"column must be None or a column name, got {col!r}")
        if col is None:
            if target not in TSO_FORECAST_COLUMNS:
                raise InvalidParameterError(
                    f"no TSO forecast column is known for target {target!r} "
                    f"(known: {', '.join(TSO_FORECAST_COLUMNS)}); pass column="
                )
            col = TSO_FORECAST_COLUMNS[target]
        elif not _is_forecast_of(col, target):
            raise InvalidParameterError(
                f"column={col!r} is not a published forecast of {target} (e.g. "
                f"{TSO_FORECAST_COLUMNS.get(target, target.split('_')[0] + '_forecast_...')})"
            )
        if col not in frame.columns:
            zone = frame.attrs.get("zone")
            where = f"the {zone} data" if zone else "the data"
            raise DataUnavailableError(
                f"TSOForecaster for {target!r} needs column {col!r}, which {where} lacks"
            )
        return (), [col], col


__all__ = [
    "LEAR_WINDOWS",
    "LOAD_PARAMS",
    "PRICE_PARAMS",
    "TSO_FORECAST_COLUMNS",
    "BaseForecaster",
    "BlendWarning",
    "GaussianForecaster",
    "SeasonalNaiveForecaster",
    "StudentTForecaster",
    "TSOForecaster",
    "blend_location",
    "combine_members",
    "fit_zero_location_t",
    "quantile_column",
    "student_t_quantiles",
]
