"""Tests of the day-ahead forecasters (forecasting.models, forecasting.nets) on real bundled
ES data, with tiny networks and a few epochs so the whole file runs in seconds."""

from __future__ import annotations

import math
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import data
from data.errors import (
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    NotFittedError,
)
from forecasting import (
    LOAD_PARAMS,
    GaussianForecaster,
    SeasonalNaiveForecaster,
    StudentTForecaster,
    TSOForecaster,
    available_at,
    cutoff_for_day,
    gaussian_nll,
    student_t_nll,
)
from forecasting.models import fit_zero_location_t

TZ = "Europe/Madrid"
TINY = {"hidden": (16, 16), "max_epochs": 15, "patience": 5, "batch_size": 128}
TARGETS = ("load_mw", "price_eur_per_mwh")
DAYS = ["2015-06-10", "2015-03-29", "2015-10-25"]  # 24, 23 and 25 hours
ALL = [StudentTForecaster, GaussianForecaster, SeasonalNaiveForecaster, TSOForecaster]


def local(ts: str) -> pd.Timestamp:
    return pd.Timestamp(ts).tz_localize(TZ).tz_convert("UTC")


def head(frame: pd.DataFrame, end: str) -> pd.DataFrame:
    """Rows before local midnight ``end``, attrs kept."""
    out = frame.loc[frame.index < local(end)]
    out.attrs = dict(frame.attrs)
    return out


@pytest.fixture(scope="module")
def es() -> pd.DataFrame:
    return data.load_market_data("ES", "2015-01-01", "2015-11-15")


@pytest.fixture(scope="module")
def train(es: pd.DataFrame) -> pd.DataFrame:
    """59 days of history: 52 training days after the 7 days the lags need."""
    return head(es, "2015-03-01")


@pytest.fixture(scope="module")
def fitted(train: pd.DataFrame) -> dict:
    """One fitted model per (kind, target), shared by the tests of this module."""
    out = {}
    for target in TARGETS:
        out["t", target] = StudentTForecaster(**TINY).fit(train, target=target)
        out["normal", target] = GaussianForecaster(**TINY).fit(train, target=target)
        out["naive", target] = SeasonalNaiveForecaster().fit(train, target=target)
        out["tso", target] = TSOForecaster().fit(train, target=target)
    return out


def perturb_unknown(frame: pd.DataFrame, day: str, seed: int = 0) -> pd.DataFrame:
    """Every value not known at the cut-off of ``day`` replaced (noise, some NaN)."""
    rng = np.random.default_rng(seed)
    known = available_at(frame, cutoff_for_day(day, TZ))
    noise = pd.DataFrame(
        rng.normal(3e4, 1e4, frame.shape), index=frame.index, columns=frame.columns
    )
    out = frame.where(known, noise.mask(rng.random(frame.shape) < 0.1))
    out.attrs = dict(frame.attrs)
    assert (~known).to_numpy().sum() > 1000  # the perturbation is not empty
    return out


# --- interface ------------------------------------------------------------------------


def test_import_does_not_load_torch() -> None:
    code = "import sys, forecasting; assert 'torch' not in sys.modules; forecasting.student_t_nll"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("cls", ALL)
def test_not_fitted(cls: type, es: pd.DataFrame) -> None:
    model = cls()
    with pytest.raises(NotFittedError, match="fit"):
        model.predict(es, days=["2015-06-10"])
    with pytest.raises(NotFittedError):
        model.sample(10)


def test_a_failed_fit_leaves_the_model_as_it_was(
    train: pd.DataFrame, es: pd.DataFrame, monkeypatch
) -> None:
    """An interrupted training (simulated: the training loop raises) used to leave new
    scalers and fitted attributes beside the previous network, or a never-fitted model
    looking fitted; the model now gets its attributes of before the call back."""
    from forecasting import nets

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    fresh = StudentTForecaster(**TINY)
    monkeypatch.setattr(nets, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(train, "load_mw")
    with pytest.raises(NotFittedError):
        fresh.predict(es, days=["2015-03-02"])
    assert not [k for k in vars(fresh) if k.endswith("_")]
    monkeypatch.undo()

    model = StudentTForecaster(**TINY).fit(train, "load_mw")
    before = model.predict(es, days=["2015-03-02"])
    state = dict(vars(model))
    monkeypatch.setattr(nets, "train", interrupted)
    with pytest.raises(KeyboardInterrupt):
        model.fit(head(es, "2015-06-01"), "price_eur_per_mwh")  # other target, other scalers
    assert vars(model).keys() == state.keys()
    assert all(vars(model)[k] is v for k, v in state.items())
    monkeypatch.undo()
    pd.testing.assert_frame_equal(model.predict(es, days=["2015-03-02"]), before)


def test_sample_needs_a_prediction(train: pd.DataFrame) -> None:
    model = SeasonalNaiveForecaster().fit(train, "load_mw")
    with pytest.raises(NotFittedError, match="predict"):
        model.sample(3)


@pytest.mark.parametrize("kind", ["t", "normal", "naive", "tso"])
@pytest.mark.parametrize("target", TARGETS)
def test_output_on_dst_days(fitted: dict, es: pd.DataFrame, kind: str, target: str) -> None:
    model = fitted[kind, target]
    pred = model.predict(es, days=DAYS)
    assert pred.index.name == "time_utc" and str(pred.index.tz) == "UTC"
    assert list(pred.columns) == ["mu", "sigma", "nu"]
    assert pred.index.is_monotonic_increasing and pred.index.is_unique
    per_day = pd.Series(pred.index.tz_convert(TZ).date).value_counts()
    assert [per_day[pd.Timestamp(d).date()] for d in DAYS] == [24, 23, 25]
    assert np.isfinite(pred[["mu", "sigma"]].to_numpy()).all()
    assert (pred["sigma"] > 0).all()
    if kind == "normal":
        assert np.isinf(pred["nu"]).all() and pred.attrs["distribution"] == "normal"
    else:
        assert (pred["nu"] > 2).all() and np.isfinite(pred["nu"]).all()
    assert pred.attrs["target"] == target and pred.attrs["tz"] == TZ


def test_default_days_and_day_after_the_data(fitted: dict, es: pd.DataFrame) -> None:
    model = fitted["t", "load_mw"]
    window = head(es, "2015-06-15").loc[local("2015-06-01 00:00") :]
    window.attrs = dict(es.attrs)
    pred = model.predict(window)  # days with 7 days of history in the frame: 8..14 June
    days = sorted(set(pred.index.tz_convert(TZ).date))
    assert [d.day for d in days] == list(range(8, 15))
    # the day after the frame: forecasts missing from the frame are masked, not fatal
    nxt = model.predict(window, days=["2015-06-15"])
    assert len(nxt) == 24 and np.isfinite(nxt.to_numpy()).all()
    with pytest.raises(DataUnavailableError, match="2015-07-01"):
        model.predict(window, days=["2015-06-12", "2015-07-01"])  # no load known for it


def test_params_interface(train: pd.DataFrame) -> None:
    model = StudentTForecaster(hidden=(8,), random_state=3)
    assert model.get_params()["hidden"] == (8,) and model.get_params()["random_state"] == 3
    assert model.set_params(lr=0.01) is model and model.lr == 0.01
    assert "StudentTForecaster(" in repr(model)
    with pytest.raises(InvalidParameterError):
        model.set_params(nope=1)
    for bad in ({"hidden": ()}, {"validation_fraction": 1.0}, {"lr": 0}, {"max_epochs": 0}):
        with pytest.raises(InvalidParameterError):
            StudentTForecaster(**bad).fit(train, "load_mw")
    with pytest.raises(DataUnavailableError, match="too little data"):
        StudentTForecaster(**TINY).fit(head(train, "2015-01-09"), "load_mw")
    with pytest.raises(DataUnavailableError, match="nope"):
        StudentTForecaster(**TINY).fit(train, "nope")


# --- the Student-t network ------------------------------------------------------------


def test_student_t_nll_matches_scipy() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(0, 50, 500)
    mu = rng.normal(0, 10, 500)
    sigma = rng.uniform(0.01, 30, 500)
    nu = np.concatenate([[2.0001, 2.5, 3.0, 1e3, 1e5], rng.uniform(2, 60, 495)])
    t = [torch.as_tensor(a, dtype=torch.float64) for a in (y, mu, sigma, nu)]
    ours = student_t_nll(*t).numpy()
    np.testing.assert_allclose(ours, -stats.t.logpdf(y, nu, loc=mu, scale=sigma), rtol=1e-10)
    ours_n = gaussian_nll(*t[:3]).numpy()
    np.testing.assert_allclose(ours_n, -stats.norm.logpdf(y, mu, sigma), rtol=1e-12)


def test_training_learns_and_stops_early(fitted: dict, train: pd.DataFrame) -> None:
    for target in TARGETS:
        model = fitted["t", target]
        assert model.train_loss_[-1] < model.train_loss_[0]
        assert len(model.val_loss_) == model.n_epochs_ <= TINY["max_epochs"]
        assert model.val_loss_[model.best_epoch_] == min(model.val_loss_)
        # best validation NLL beats a constant normal fitted to the training targets
        val = train.loc[train.index >= local(str(model.validation_start_)), target]
        const = -stats.norm.logpdf(val, model.y_mean_, model.y_scale_).mean()
        assert min(model.val_loss_) < const - 0.5


@pytest.mark.parametrize("cls", [StudentTForecaster, GaussianForecaster])
def test_training_stops_when_patience_runs_out(cls, train: pd.DataFrame) -> None:
    """A short patience and a large step: training stops ``patience`` epochs after the best
    validation loss, well before ``max_epochs``, and keeps the best epoch's weights."""
    kw = {**TINY, "max_epochs": 100, "patience": 2, "lr": 1e-2, "random_state": 0}
    model = cls(**kw).fit(train, target="load_mw")
    assert model.n_epochs_ < 100
    assert model.n_epochs_ == model.best_epoch_ + 2 + 1 == len(model.val_loss_)
    assert min(model.val_loss_[model.best_epoch_ + 1 :]) >= model.val_loss_[model.best_epoch_]
    # the weights kept are the best epoch's: the validation NLL recomputed from them
    pred = model.predict(train)
    pred = pred.loc[pred.index >= local(str(model.validation_start_))]
    y = train["load_mw"].reindex(pred.index)
    assert len(pred) == model.n_val_intervals_ == y.notna().sum()
    if cls is StudentTForecaster:
        nll = -stats.t.logpdf(y, pred["nu"], loc=pred["mu"], scale=pred["sigma"])
    else:
        nll = -stats.norm.logpdf(y, pred["mu"], pred["sigma"])
    assert nll.mean() == pytest.approx(model.val_loss_[model.best_epoch_], abs=1e-4)


def test_validation_split_is_chronological(fitted: dict, train: pd.DataFrame) -> None:
    model = fitted["t", "load_mw"]
    # 52 training days (8 Jan .. 28 Feb), the last ceil(0.15 * 52) = 8 validate
    assert str(model.validation_start_) == "2015-02-21"
    assert model.n_val_intervals_ == 8 * 24
    assert model.n_train_intervals_ == 44 * 24 - int(
        train.loc[local("2015-01-08") : local("2015-02-21"), "load_mw"].iloc[:-1].isna().sum()
    )


def test_no_validation_runs_all_epochs(train: pd.DataFrame) -> None:
    model = StudentTForecaster(**{**TINY, "max_epochs": 4, "validation_fraction": 0.0})
    model.fit(train, "price_eur_per_mwh")
    assert model.n_epochs_ == 4 and model.val_loss_ == [] and model.validation_start_ is None


def test_same_seed_same_forecast(train: pd.DataFrame, es: pd.DataFrame) -> None:
    before = torch.get_rng_state()
    a = StudentTForecaster(**TINY, random_state=7).fit(train, "load_mw")
    b = StudentTForecaster(**TINY, random_state=7).fit(train, "load_mw")
    c = StudentTForecaster(**TINY, random_state=8).fit(train, "load_mw")
    assert torch.equal(before, torch.get_rng_state())  # torch's global RNG left alone
    assert a.train_loss_ == b.train_loss_
    pa, pb = a.predict(es, days=DAYS), b.predict(es, days=DAYS)
    pd.testing.assert_frame_equal(pa, pb, check_exact=True)
    assert not np.array_equal(pa["mu"], c.predict(es, days=DAYS)["mu"])


@pytest.mark.parametrize("kind", ["t", "normal", "naive", "tso"])
@pytest.mark.parametrize("target", TARGETS)
def test_no_look_ahead(fitted: dict, es: pd.DataFrame, kind: str, target: str) -> None:
    model = fitted[kind, target]
    for day in ("2015-06-10", "2015-10-25"):
        clean = model.predict(es, days=[day], quantiles=(0.1, 0.9))
        dirty = model.predict(perturb_unknown(es, day), days=[day], quantiles=(0.1, 0.9))
        pd.testing.assert_frame_equal(clean, dirty, check_exact=True)


def test_no_look_ahead_detects_a_known_change(fitted: dict, es: pd.DataFrame) -> None:
    # the converse: a value known at the cut-off does move the forecast
    moved = es.copy()
    moved.attrs = dict(es.attrs)
    moved.loc[local("2015-06-09 11:00"), "load_mw"] += 2000.0  # last known before noon
    model = fitted["t", "load_mw"]
    a = model.predict(es, days=["2015-06-10"])
    b = model.predict(moved, days=["2015-06-10"])
    assert (a["mu"] != b["mu"]).all()


# --- quantiles and samples ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["t", "normal", "tso"])
def test_quantiles_match_scipy(fitted: dict, es: pd.DataFrame, kind: str) -> None:
    qs = (0.025, 0.1, 0.5, 0.9, 0.975)
    pred = fitted[kind, "price_eur_per_mwh"].predict(es, days=DAYS, quantiles=qs)
    cols = ["q0.025", "q0.1", "q0.5", "q0.9", "q0.975"]
    assert list(pred.columns) == ["mu", "sigma", "nu", *cols]
    assert (np.diff(pred[cols].to_numpy(), axis=1) > 0).all()
    for q, col in zip(qs, cols, strict=True):
        ref = stats.t.ppf(q, pred["nu"], loc=pred["mu"], scale=pred["sigma"])
        if kind == "normal":
            ref = stats.norm.ppf(q, loc=pred["mu"], scale=pred["sigma"])
        np.testing.assert_allclose(pred[col], ref, rtol=1e-12)
    np.testing.assert_allclose(pred["q0.5"], pred["mu"], rtol=1e-12)
    for bad in ((0.0, 0.5), (1.2,)):
        with pytest.raises(InvalidParameterError):
            fitted[kind, "price_eur_per_mwh"].predict(es, days=DAYS, quantiles=bad)


@pytest.mark.parametrize("kind", ["t", "normal"])
def test_sample_from_last_prediction(fitted: dict, es: pd.DataFrame, kind: str) -> None:
    model = fitted[kind, "load_mw"]
    pred = model.predict(es, days=["2015-10-25"])
    draws = model.sample(20_000, seed=5)
    assert draws.shape == (20_000, 25)
    np.testing.assert_array_equal(draws, model.sample(20_000, seed=5))
    assert not np.array_equal(draws, model.sample(20_000, seed=6))
    z = (draws - pred["mu"].to_numpy()) / pred["sigma"].to_numpy()
    for q in (0.1, 0.5, 0.9):
        expected = stats.t.ppf(q, pred["nu"].to_numpy())
        np.testing.assert_allclose(np.quantile(z, q, axis=0), expected, atol=0.05)
    with pytest.raises(InvalidParameterError):
        model.sample(0)


# --- baselines ------------------------------------------------------------------------


def test_seasonal_naive_centre_is_the_value_a_week_before(fitted: dict, es: pd.DataFrame) -> None:
    for target in TARGETS:
        model = fitted["naive", target]
        pred = model.predict(es, days=["2015-06-10", "2015-10-25", "2015-11-01"])
        for t, mu in pred["mu"].items():
            wall = t.tz_convert(TZ).tz_localize(None) - pd.Timedelta(days=7)
            src = wall.tz_localize(TZ, ambiguous=True).tz_convert("UTC")
            assert mu == es.loc[src, target]  # exact: no arithmetic on the value
        assert model.scale_by_hour_.shape == (24,) and (model.scale_by_hour_ > 0).all()
        assert (model.df_by_hour_ > 2).all()
        hours = pred.index.tz_convert(TZ).hour
        np.testing.assert_array_equal(pred["sigma"], model.scale_by_hour_[hours])


def test_seasonal_naive_missing_centre_gives_nan_row(fitted: dict, es: pd.DataFrame) -> None:
    holed = es.copy()
    holed.attrs = dict(es.attrs)
    holed.loc[local("2015-06-03 05:00"), "load_mw"] = np.nan
    with pytest.warns(UserWarning, match=r"1 interval\(s\) on 1 day\(s\) \(first 2015-06-10\)"):
        pred = fitted["naive", "load_mw"].predict(holed, days=["2015-06-10"])
    assert pred.loc[local("2015-06-10 05:00")].isna().all()
    assert pred.drop(local("2015-06-10 05:00")).notna().all().all()


def test_tso_forecaster_centre_is_the_tso_forecast(fitted: dict, es: pd.DataFrame) -> None:
    pred = fitted["tso", "load_mw"].predict(es, days=DAYS)
    np.testing.assert_array_equal(pred["mu"], es.loc[pred.index, "load_forecast_mw"])
    assert fitted["tso", "load_mw"].centre_column_ == "load_forecast_mw"
    assert fitted["tso", "price_eur_per_mwh"].centre_column_ == "price_forecast_eur_per_mwh"


def test_tso_forecaster_needs_the_forecast_column() -> None:
    de = data.load_market_data("DE", "2017-01-01", "2017-02-15")
    with pytest.raises(DataUnavailableError, match="price_forecast_eur_per_mwh"):
        TSOForecaster().fit(de, target="price_eur_per_mwh")
    es = data.load_market_data("ES", "2015-01-01", "2015-02-01")
    with pytest.raises(InvalidParameterError, match="column="):
        TSOForecaster().fit(es, target="solar_forecast_mw")
    model = TSOForecaster().fit(es, target="load_mw")
    with pytest.raises(DataUnavailableError, match="load_forecast_mw"):
        model.predict(es.drop(columns="load_forecast_mw"))


# --- quarter-hour data ----------------------------------------------------------------


def test_quarter_hour_model(es: pd.DataFrame) -> None:
    q = es.loc[local("2015-02-01") : local("2015-04-01")].resample("15min").ffill()
    q.attrs = dict(es.attrs)
    model = StudentTForecaster(**{**TINY, "max_epochs": 3}).fit(head(q, "2015-03-20"), "load_mw")
    pred = model.predict(q, days=["2015-03-25", "2015-03-29"], quantiles=(0.5,))
    assert len(pred) == 96 + 92
    assert (pred["sigma"] > 0).all() and (pred["nu"] > 2).all()
    assert model.step_ == pd.Timedelta(minutes=15)
    with pytest.raises(InvalidParameterError, match="intervals"):
        model.predict(es, days=["2015-03-25"])
    assert math.isfinite(model.val_loss_[-1])


def test_spread_fit_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    errors = stats.t.rvs(4.0, scale=3.0, size=4000, random_state=rng)
    scale, df = fit_zero_location_t(errors)
    ref_df, _, ref_scale = stats.t.fit(errors, floc=0)
    assert scale == pytest.approx(ref_scale, rel=1e-4) and df == pytest.approx(ref_df, rel=1e-3)
    assert fit_zero_location_t(rng.normal(0, 2, 4000))[1] > 30  # normal errors: large df
    with pytest.raises(DataUnavailableError):
        fit_zero_location_t(np.array([1.0, np.nan]))


def _t_sample(seed: int, df: float, n: int) -> np.ndarray:
    """Seeded zero-location errors: Student-t(df) (normal for df = inf) at a random scale."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal(n) if np.isinf(df) else rng.standard_t(df, n)
    return e * rng.uniform(0.1, 50.0)


def test_zero_location_t_is_the_mle() -> None:
    """On 30 seeded samples (df from 1.5 to normal, 30 to 3000 errors) the fitted (scale,
    df) reach the log-likelihood of scipy's MLE with the location fixed at 0; where scipy's
    df is outside the allowed [2.01, 1000], the reference is scipy's fit at the clipped df
    (the likelihood's maximum over the allowed range)."""
    cases = [
        (df, n) for df in (1.5, 2.5, 4.0, 8.0, 30.0, np.inf) for n in (30, 100, 300, 1000, 3000)
    ]
    shortfall = []
    for seed, (df, n) in enumerate(cases):
        e = _t_sample(seed, df, n)
        scale, nu = fit_zero_location_t(e)
        assert 2.01 - 1e-9 <= nu <= 1000.0 + 1e-9 and scale > 0
        ref_df, _, ref_scale = stats.t.fit(e, floc=0)
        if not 2.01 <= ref_df <= 1000.0:
            ref_df, _, ref_scale = stats.t.fit(e, f0=min(max(ref_df, 2.01), 1000.0), floc=0)
        loglik = stats.t.logpdf(e, nu, 0.0, scale).sum()
        shortfall.append(stats.t.logpdf(e, ref_df, 0.0, ref_scale).sum() - loglik)
    assert max(shortfall) < 1e-6, (cases[int(np.argmax(shortfall))], max(shortfall))


def test_zero_location_t_objective_and_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """The objective handed to the optimiser is the negative Student-t log-likelihood in
    θ = (log scale, log(df − 2)), and its analytic gradient matches central differences."""
    from forecasting import models

    captured = []
    real = models.optimize

    class Spy:
        @staticmethod
        def minimize(fun, x0, **kwargs):
            captured.append((fun, kwargs))
            return real.minimize(fun, x0, **kwargs)

    monkeypatch.setattr(models, "optimize", Spy)
    e = _t_sample(7, 3.0, 500)
    fit_zero_location_t(e)
    ((fun, kwargs),) = captured
    assert kwargs.get("jac") is True
    h = 1e-6
    for point in ([0.5, -3.0], [1.0, 0.0], [2.0, 1.5], [3.5, 5.0], [1.7, 6.5]):
        theta = np.array(point)
        value, grad = fun(theta)
        scale, df = math.exp(theta[0]), 2.0 + math.exp(theta[1])
        assert value == pytest.approx(-stats.t.logpdf(e, df, 0.0, scale).sum(), rel=1e-10)
        numeric = [(fun(theta + h * d)[0] - fun(theta - h * d)[0]) / (2 * h) for d in np.eye(2)]
        np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-5 * abs(value))


def test_warm_start_continues_from_previous_weights(train: pd.DataFrame) -> None:
    cold = StudentTForecaster(**TINY).fit(train, "load_mw")
    assert not cold.warm_started_
    first_cold = cold.val_loss_[0]
    scaling = (cold.y_mean_, cold.y_scale_)
    warm = cold.set_params(warm_start=True, max_epochs=1).fit(train, "load_mw")
    assert warm.warm_started_ and (warm.y_mean_, warm.y_scale_) == scaling
    assert warm.val_loss_[0] < first_cold  # starts where the last fit left off
    again = StudentTForecaster(**TINY).fit(train, "load_mw")
    again.set_params(warm_start=True, max_epochs=1).fit(train, "load_mw")
    assert again.val_loss_ == warm.val_loss_  # warm starts are reproducible too
    other = warm.fit(train, "price_eur_per_mwh")  # another target: a cold start
    assert not other.warm_started_


def test_centre_models_the_residual_of_the_published_forecast(
    train: pd.DataFrame, es: pd.DataFrame
) -> None:
    model = StudentTForecaster(**TINY, centre="load_forecast_mw").fit(train, "load_mw")
    day = "2015-06-10"
    base = model.predict(es, days=[day])
    # no look-ahead with a centre either
    pd.testing.assert_frame_equal(base, model.predict(perturb_unknown(es, day), days=[day]))
    # mu = centre + network(features): the network's part is what is left after the centre
    shifted = es.copy()
    shifted.attrs = dict(es.attrs)
    rows = base.index
    shifted.loc[rows, "load_forecast_mw"] += 500.0
    moved = model.predict(shifted, days=[day])
    assert not np.allclose(moved["mu"] - base["mu"], 0.0)
    # an unknown centre gives NaN rows, never a made-up value
    gap = es.copy()
    gap.attrs = dict(es.attrs)
    gap.loc[rows[:3], "load_forecast_mw"] = np.nan
    out = model.predict(gap, days=[day])
    assert out["mu"].iloc[:3].isna().all() and out["mu"].iloc[3:].notna().all()


EPF = {"profile_lags": (1, 2, 3, 7), "exog_lags": (1, 7), "validation_split": "random"}


@pytest.mark.parametrize("target", TARGETS)
def test_no_look_ahead_with_profiles_and_random_validation(
    train: pd.DataFrame, es: pd.DataFrame, target: str
) -> None:
    model = StudentTForecaster(**TINY, **EPF).fit(train, target)
    assert model.profile_lags_ == (1, 2, 3, 7) and "lag3d_h23" in model.feature_names_
    for day in ("2015-06-10", "2015-10-25", "2015-03-30"):
        clean = model.predict(es, days=[day], quantiles=(0.1, 0.9))
        dirty = model.predict(perturb_unknown(es, day), days=[day], quantiles=(0.1, 0.9))
        pd.testing.assert_frame_equal(clean, dirty, check_exact=True)
    again = StudentTForecaster(**TINY, **EPF).fit(train, target)  # seeded: reproducible
    pd.testing.assert_frame_equal(
        model.predict(es, days=DAYS), again.predict(es, days=DAYS), check_exact=True
    )


def test_random_validation_days_keep_their_role(train: pd.DataFrame) -> None:
    from forecasting.models import _validation_days

    days = np.arange("2012-01-01", "2016-01-01", dtype="datetime64[D]")
    val = _validation_days(days, 0.15, "random", 0)
    assert 0.12 < len(val) / len(days) < 0.18
    assert val[-1] < days[-1] or val[-2] < days[-2]  # not the last days en bloc
    # a longer window (a later recalibration) keeps every earlier day's role
    longer = np.arange("2012-01-01", "2016-07-01", dtype="datetime64[D]")
    np.testing.assert_array_equal(_validation_days(longer, 0.15, "random", 0)[: len(val)], val)
    assert not np.array_equal(_validation_days(days, 0.15, "random", 1), val)  # seeded
    np.testing.assert_array_equal(
        _validation_days(days, 0.15, "last", 0), days[-math.ceil(0.15 * len(days)) :]
    )
    model = StudentTForecaster(**TINY, validation_split="random").fit(train, "load_mw")
    assert model.n_val_intervals_ > 0 and model.n_train_intervals_ > 30 * 24
    with pytest.raises(InvalidParameterError, match="validation_split"):
        StudentTForecaster(validation_split="middle").fit(train, "load_mw")


def test_warm_start_never_returns_worse_validation_weights() -> None:
    from forecasting import nets

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    y = x @ np.array([1.0, -0.5, 0.2, 0.0]) + 0.3 * rng.standard_t(5, 600)
    kw = dict(n_params=3, hidden=(8,), dropout=0.0, weight_decay=0.0, patience=5)
    kw.update(batch_size=64, seed=0)
    cold = nets.train(x[:500], y[:500], x[500:], y[500:], lr=1e-2, max_epochs=60, **kw)
    state = {k: v.clone() for k, v in cold.model.state_dict().items()}
    # a wild learning rate makes every warm epoch worse: the starting weights come back
    warm = nets.train(
        x[:500], y[:500], x[500:], y[500:], lr=5.0, max_epochs=3, init_state=state, **kw
    )
    assert warm.best_epoch == -1
    for k, v in warm.model.state_dict().items():
        assert torch.equal(v, state[k])


def test_calibrate_sigma_rescales_the_spread_on_validation_days(
    train: pd.DataFrame, es: pd.DataFrame
) -> None:
    from forecasting.models import _sigma_factor

    rng = np.random.default_rng(0)
    y = 2.0 * rng.standard_t(5, 20000)
    one, zero = np.ones_like(y), np.zeros_like(y)
    assert _sigma_factor(y, zero, one, 5.0 * one) == pytest.approx(2.0, rel=0.03)
    assert _sigma_factor(0.5 * rng.normal(size=20000), zero, one) == pytest.approx(0.5, rel=0.03)
    plain = StudentTForecaster(**TINY).fit(train, "price_eur_per_mwh")
    cal = StudentTForecaster(**TINY, calibrate_sigma=True).fit(train, "price_eur_per_mwh")
    assert plain.sigma_factor_ == 1.0 and cal.sigma_factor_ != 1.0
    a, b = plain.predict(es, days=DAYS), cal.predict(es, days=DAYS)
    np.testing.assert_array_equal(a["mu"], b["mu"])  # same training, only the spread moves
    np.testing.assert_allclose(b["sigma"], cal.sigma_factor_ * a["sigma"], rtol=1e-12)


@pytest.mark.parametrize("cls", [StudentTForecaster, GaussianForecaster])
def test_load_params_fit_and_forecast_without_look_ahead(
    cls: type, train: pd.DataFrame, es: pd.DataFrame
) -> None:
    assert set(LOAD_PARAMS) <= set(cls().get_params())  # valid constructor parameters
    model = cls(**{**TINY, **LOAD_PARAMS}).fit(train, "load_mw")
    assert model.get_params()["centre"] == LOAD_PARAMS["centre"] == model.centre_
    out = model.predict(es, days=DAYS, quantiles=(0.1, 0.9))
    assert len(out) == 24 + 23 + 25 and np.isfinite(out.to_numpy()[:, :2]).all()
    assert (out["sigma"] > 0).all() and (out["q0.1"] < out["mu"]).all()
    for day in ("2015-06-10", "2015-10-25"):
        clean = model.predict(es, days=[day], quantiles=(0.1, 0.9))
        dirty = model.predict(perturb_unknown(es, day), days=[day], quantiles=(0.1, 0.9))
        pd.testing.assert_frame_equal(clean, dirty, check_exact=True)


# --- ensembles of networks -------------------------------------------------------------


@pytest.mark.parametrize("cls", [StudentTForecaster, GaussianForecaster])
def test_ensemble_is_the_parameter_mean_of_independently_fitted_members(
    cls: type, train: pd.DataFrame, es: pd.DataFrame
) -> None:
    ens = cls(**TINY, n_members=3, random_state=5).fit(train, "load_mw")
    assert len(ens.estimators_) == 3 and not hasattr(ens, "model_")
    members = [cls(**TINY, random_state=5 + m).fit(train, "load_mw") for m in range(3)]
    assert ens.n_epochs_ == sum(m.n_epochs_ for m in members)
    got = ens.predict(es, days=DAYS, quantiles=(0.1, 0.9))
    single = [m.predict(es, days=DAYS) for m in members]
    for col in ("mu", "sigma", "nu"):
        want = np.mean([p[col].to_numpy() for p in single], axis=0)
        np.testing.assert_allclose(got[col], want, rtol=1e-12)
    spread = np.ptp([p["mu"].to_numpy() for p in single], axis=0)
    assert (spread > 0).all()  # the members differ, so the mean is not one of them
    if cls is GaussianForecaster:  # equal nu: the mean quantile of the members (Vincentization)
        q = np.mean([stats.norm.ppf(0.1, p["mu"], p["sigma"]) for p in single], axis=0)
        np.testing.assert_allclose(got["q0.1"], q, rtol=1e-10)
    for day in ("2015-06-10", "2015-10-25"):
        clean = ens.predict(es, days=[day])
        dirty = ens.predict(perturb_unknown(es, day), days=[day])
        pd.testing.assert_frame_equal(clean, dirty, check_exact=True)


def test_ensemble_warm_start_refits_each_member_from_its_own_weights(
    train: pd.DataFrame, es: pd.DataFrame
) -> None:
    ens = StudentTForecaster(**TINY, n_members=2).fit(head(train, "2015-02-20"), "load_mw")
    ens.set_params(warm_start=True, max_epochs=2).fit(train, "load_mw")
    assert ens.warm_started_ and all(m.warm_started_ for m in ens.estimators_)
    for m, seed in zip(ens.estimators_, (0, 1), strict=True):
        alone = StudentTForecaster(**TINY, random_state=seed).fit(head(train, "2015-02-20"))
        alone.set_params(warm_start=True, max_epochs=2).fit(train, "load_mw")
        assert alone.val_loss_ == m.val_loss_  # the same as the member refitted on its own
    assert not StudentTForecaster(**TINY, n_members=1).fit(train).__dict__.get("estimators_")
    with pytest.raises(InvalidParameterError, match="n_members"):
        StudentTForecaster(n_members=0).fit(train)


@pytest.mark.parametrize("cls", [StudentTForecaster, GaussianForecaster])
def test_fixed_centre_keeps_the_published_forecast_as_location(
    cls: type, train: pd.DataFrame, es: pd.DataFrame
) -> None:
    model = cls(**TINY, centre="load_forecast_mw", fixed_centre=True).fit(train, "load_mw")
    out = model.predict(es, days=DAYS)
    tso = es["load_forecast_mw"].reindex(out.index)
    np.testing.assert_array_equal(out["mu"].to_numpy(), tso.to_numpy())
    assert out["sigma"].std() > 0  # the spread is learnt per interval
    free = cls(**TINY, centre="load_forecast_mw").fit(train, "load_mw").predict(es, days=DAYS)
    assert not np.array_equal(free["mu"].to_numpy(), tso.to_numpy())
    with pytest.raises(InvalidParameterError, match="fixed_centre"):
        cls(fixed_centre=True).fit(train)


@pytest.mark.parametrize("centre", ["solar_mw", "solar_forecast_mw", "price_eur_per_mwh"])
def test_the_centre_must_be_a_published_forecast_of_the_target(
    centre: str, train: pd.DataFrame
) -> None:
    """A measured column has no day-D values at the cut-off (the fit found "0 day(s) with
    load_mw values"), another quantity's forecast is no location for the target."""
    with pytest.raises(InvalidParameterError) as info:
        StudentTForecaster(**TINY, centre=centre).fit(train, "load_mw")
    assert str(info.value) == (
        f"centre={centre!r} is not a published forecast of load_mw (load_forecast_mw)"
    )


def test_recency_weights_halve_every_halflife() -> None:
    from forecasting.models import _recency_weights

    days = np.array(["2015-01-01", "2015-01-11", "2015-01-21", "2015-01-21"], "datetime64[D]")
    w = _recency_weights(days, 10.0)
    expected = np.array([0.25, 0.5, 1.0, 1.0])  # 20, 10, 0, 0 days old
    np.testing.assert_allclose(w, expected / expected.mean(), rtol=1e-15)
    assert w.mean() == pytest.approx(1.0, rel=1e-15)


def test_weighted_nll_is_the_weighted_mean_of_the_rows() -> None:
    from forecasting import nets

    torch.manual_seed(0)
    model = nets.DistributionMLP(3, (4,), 3)
    x, y = torch.randn(50, 3), torch.randn(50)
    w = torch.rand(50)
    mu, sigma, nu = model(x)
    by_row = student_t_nll(y, mu, sigma, nu)
    torch.testing.assert_close(model.nll(x, y, w), (w * by_row).mean())
    torch.testing.assert_close(model.nll(x, y, torch.ones(50)), model.nll(x, y))


def test_recency_weighting_changes_the_fit_but_not_the_information_set(
    train: pd.DataFrame, es: pd.DataFrame
) -> None:
    plain = StudentTForecaster(**TINY).fit(train, "price_eur_per_mwh")
    recent = StudentTForecaster(**TINY, recency_halflife_days=7).fit(train, "price_eur_per_mwh")
    a, b = plain.predict(es, days=DAYS), recent.predict(es, days=DAYS)
    assert not np.allclose(a["mu"], b["mu"])
    assert recent.n_train_intervals_ == plain.n_train_intervals_  # same rows, other weights
    for day in DAYS:
        clean = recent.predict(es, days=[day])
        pd.testing.assert_frame_equal(
            clean, recent.predict(perturb_unknown(es, day), days=[day]), check_exact=True
        )
    for bad in (0, -3.0, math.inf, math.nan):
        with pytest.raises(InvalidParameterError, match="recency_halflife_days"):
            StudentTForecaster(recency_halflife_days=bad).fit(train, "load_mw")


def test_asinh_inputs_are_median_mad_scaled(train: pd.DataFrame, es: pd.DataFrame) -> None:
    # no validation days: every row with a target value is a training row
    model = StudentTForecaster(**TINY, **EPF, input_transform="asinh", validation_fraction=0)
    model.fit(train, "price_eur_per_mwh")
    feats = model._features(es, ["2015-06-10"], None)
    Z = model._design(feats)
    # an independent computation of one continuous column on the training rows
    col = "lag1d_h18"
    train_feats = model._features(train, None, None)
    values = train_feats.X[col].to_numpy()[np.isfinite(train_feats.y)]
    values = values[np.isfinite(values)]
    med = np.median(values)
    mad = 1.4826 * np.median(np.abs(values - med))
    j = model.feature_names_.index(col)
    np.testing.assert_allclose(Z[:, j], np.arcsinh((feats.X[col] - med) / mad), rtol=1e-4)
    assert np.ptp(Z[:, j]) == 0.0  # a whole-day profile value: the same on every row
    # calendar one-hots are not transformed
    k = model.feature_names_.index("hour_05")
    assert set(np.unique(Z[:, k])) == {0.0, 1.0}
    for day in DAYS:
        clean = model.predict(es, days=[day])
        pd.testing.assert_frame_equal(
            clean, model.predict(perturb_unknown(es, day), days=[day]), check_exact=True
        )
    # a warm start needs the same scaling
    warm = StudentTForecaster(**TINY, **EPF, warm_start=True).fit(train, "price_eur_per_mwh")
    warm.set_params(input_transform="asinh").fit(train, "price_eur_per_mwh")
    assert not warm.warm_started_
    with pytest.raises(InvalidParameterError, match="input_transform"):
        StudentTForecaster(input_transform="log").fit(train, "load_mw")


def test_blend_location_against_hand_values() -> None:
    from forecasting import blend_location

    mu = np.array([10.0, 20.0, 30.0])
    ref = np.array([14.0, np.nan, 26.0])
    np.testing.assert_array_equal(blend_location(mu, ref, 0.25), [11.0, 20.0, 29.0])
    np.testing.assert_array_equal(blend_location(mu, ref, 0.0), mu)
    np.testing.assert_array_equal(blend_location(mu, ref, 1.0), [14.0, 20.0, 26.0])
    with pytest.raises(InvalidParameterError, match="weight"):
        blend_location(mu, ref, -0.1)
    with pytest.raises(InvalidParameterError, match="shapes"):
        blend_location(mu, ref[:2], 0.5)


@pytest.mark.parametrize("cls", [StudentTForecaster, GaussianForecaster])
def test_location_blend_with_a_published_forecast_shrinks_the_correction(
    cls: type, train: pd.DataFrame, es: pd.DataFrame
) -> None:
    params = {**TINY, "centre": "load_forecast_mw"}
    plain = cls(**params).fit(train, "load_mw").predict(es, days=DAYS)
    model = cls(**params, location_blend="load_forecast_mw", blend_weight=0.5)
    out = model.fit(train, "load_mw").predict(es, days=DAYS)
    tso = es["load_forecast_mw"].reindex(out.index)
    # mu = tso + correction  ->  tso + correction / 2
    np.testing.assert_allclose(out["mu"] - tso, 0.5 * (plain["mu"] - tso), rtol=1e-9, atol=1e-6)
    pd.testing.assert_frame_equal(out[["sigma", "nu"]], plain[["sigma", "nu"]], check_exact=True)
    for day in DAYS:
        clean = model.predict(es, days=[day])
        pd.testing.assert_frame_equal(
            clean, model.predict(perturb_unknown(es, day), days=[day]), check_exact=True
        )


def test_blend_warnings_are_summarized_per_kind() -> None:
    from forecasting import BlendWarning

    days = [np.array([d], "datetime64[D]") for d in ("2016-01-04", "2016-01-05", "2016-01-06")]
    found = [BlendWarning("partial", "(56, 1456)", 24, d) for d in days]
    found.append(BlendWarning("missing", "lear", 23, days[0]))
    lines = BlendWarning.summarize(found)
    assert lines == [
        "72 interval(s) on 3 day(s), 2016-01-04..2016-01-06, average fewer than the LEAR "
        "windows (56, 1456) (too little history)",
        "23 interval(s) on 1 day(s), 2016-01-04..2016-01-04, have no lear forecast to blend "
        "with; the networks' location is kept",
    ]


def test_bad_api_input_is_a_btut_error() -> None:
    import warnings

    from forecasting import (
        GaussianForecaster,
        SeasonalNaiveForecaster,
        TSOForecaster,
        student_t_quantiles,
    )

    df = data.load_market_data("ES", "2016-01-01", "2016-03-01")
    for params, match in [
        ({"hidden": 8}, "hidden must be a sequence"),
        ({"hidden": (8,), "random_state": 1.5}, "random_state must be an integer >= 0"),
        ({"hidden": (8,), "random_state": -1}, "random_state must be an integer >= 0"),
        # torch's "Overflow when unpacking long long"; member m is seeded random_state + m
        ({"hidden": (8,), "random_state": 2**64}, r"random_state=\d+ must be at most 2\*\*64"),
        ({"hidden": (8,), "random_state": 2**64 - 2, "n_members": 3}, "at most 2\\*\\*64 - n"),
        # a typo of a width was an out-of-memory crash (exit 70 at the CLI)
        ({"hidden": (100_000_000,)}, "at most 16 layers of at most 4096 units"),
        ({"hidden": (8,) * 17}, "at most 16 layers"),
    ]:
        for cls in (StudentTForecaster, GaussianForecaster):
            with pytest.raises(InvalidParameterError, match=match):
                cls(max_epochs=1, **params).fit(df)
    with pytest.raises(InvalidParameterError, match="expected a pandas DataFrame"):
        StudentTForecaster(hidden=(8,), max_epochs=1).fit(df.to_numpy())
    one = np.ones(2)
    for q in ([0.0, 0.5], [1.5]):
        with pytest.raises(InvalidParameterError, match=r"quantiles must lie in \(0, 1\)"):
            student_t_quantiles(np.zeros(2), one, 5 * one, q)
    with pytest.raises(InvalidParameterError, match="sigma and nu must be positive"):
        student_t_quantiles(np.zeros(2), -one, 5 * one, [0.5])
    naive = SeasonalNaiveForecaster().fit(df)
    naive.predict(df, days=["2016-02-20"])
    for seed in (-1, 1.5):
        with pytest.raises(InvalidParameterError, match="seed must be an integer >= 0"):
            naive.sample(3, seed=seed)
    # a reference forecaster asked for days outside the data: an error, as the networks;
    # intervals without a centre: NaN there, said in a warning (a whole day too)
    for model in (SeasonalNaiveForecaster().fit(df), TSOForecaster().fit(df)):
        with pytest.raises(DataUnavailableError, match="is in the data"):
            model.predict(df, days=["2020-01-01"])
        with pytest.raises(DataUnavailableError, match="is in the data"):
            model.predict(df.iloc[:0], days=["2016-02-20"])
    with pytest.warns(UserWarning, match=r"24 interval\(s\) on 1 day\(s\) \(first 2016-01-01\)"):
        first = SeasonalNaiveForecaster().fit(df).predict(df, days=["2016-01-01"])
    assert first["mu"].isna().all()  # no week of history: NaN, as documented, and said
    holed = df.copy()
    holed.loc["2016-02-20 10:00":"2016-02-20 12:00", "load_forecast_mw"] = np.nan
    holed.attrs = dict(df.attrs)
    with pytest.warns(UserWarning, match=r"3 interval\(s\) on 1 day\(s\) .* forecast NaN"):
        out = TSOForecaster().fit(df).predict(holed, days=["2016-02-20"])
    assert out["mu"].isna().sum() == 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TSOForecaster().fit(df).predict(df, days=["2016-02-20"])


def _named(name: str, value: object) -> str:
    """The start of the one-line error naming ``name`` and its bad ``value``."""
    return re.escape(f"{name}={value!r} must be ")


# every __init__ parameter of the networks, checked at fit: these were TypeError/ValueError
# from a comparison or int(), torch's overflow, or silently accepted (n_threads=1.5 ran 1
# thread, "no" was a true calibrate_sigma, True an epoch count)
NEURAL_BAD = [
    ("dropout", "0.2"),
    ("dropout", None),
    ("lr", "a"),
    ("lr", math.inf),
    ("weight_decay", None),
    ("max_epochs", None),
    ("max_epochs", True),
    ("patience", "a"),
    ("batch_size", 1.5),
    ("validation_fraction", "x"),
    ("n_threads", "a"),
    ("n_threads", 1.5),
    ("n_threads", 10**30),
    ("validation_split", None),
    ("n_members", True),
    ("recency_halflife_days", "a"),
    ("input_transform", 5),
    ("centre", 5),
    ("location_blend", 5),
    ("blend_weight", "x"),
    ("lear_windows", 5),
    ("lear_windows", ("a",)),
    ("lear_windows", (10**20,)),
    ("fixed_centre", "yes"),
    ("calibrate_sigma", "no"),
    ("warm_start", "no"),
]


@pytest.mark.parametrize(("name", "value"), NEURAL_BAD)
def test_every_network_parameter_is_checked_at_fit(
    name: str, value: object, train: pd.DataFrame
) -> None:
    model = StudentTForecaster(**{**TINY, name: value})  # stored as given
    assert getattr(model, name) is value
    with pytest.raises(InvalidParameterError, match=_named(name, value)):
        model.fit(train)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden": ("a",)}, "hidden must be positive layer widths"),
        ({"hidden": (True,)}, "hidden must be positive layer widths"),
        ({"exog": 5}, "exog must be a column name or a list of column names, got 5"),
        ({"exog": [5]}, r"exog must be a column name or a list of column names, got \[5\]"),
        ({"lags": (True,)}, "lags must be whole numbers of days"),
        ({"lags": (10**20,)}, "lags must be whole numbers of days"),
        ({"profile_lags": (None,)}, "profile_lags must be whole numbers of days"),
    ],
)
def test_network_layers_columns_and_lags_are_checked_at_fit(
    params: dict, match: str, train: pd.DataFrame
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        GaussianForecaster(**{**TINY, **params}).fit(train)


def test_numpy_scalars_and_one_exog_name_are_valid_parameters(
    train: pd.DataFrame, es: pd.DataFrame
) -> None:
    listed = StudentTForecaster(**TINY, exog=["load_forecast_mw"]).fit(train)
    numpy_params = {
        "hidden": (np.int64(16), np.int64(16)),
        "max_epochs": np.int64(15),
        "patience": np.int32(5),
        "batch_size": np.int64(128),
        "dropout": np.float64(0.2),
        "lr": np.float64(1e-3),
        "n_threads": np.int64(1),
        "calibrate_sigma": np.bool_(False),
    }
    # a plain string was read letter by letter: "column(s) l, o, a, d, _, f, ... not in the data"
    one = StudentTForecaster(**{**TINY, **numpy_params}, exog="load_forecast_mw").fit(train)
    assert one.exog_ == ["load_forecast_mw"] and one.feature_names_ == listed.feature_names_
    pd.testing.assert_frame_equal(
        one.predict(es, days=DAYS), listed.predict(es, days=DAYS), check_exact=True
    )


@pytest.mark.parametrize(
    ("cls", "params", "match"),
    [
        (SeasonalNaiveForecaster, {"min_errors": "a"}, "min_errors must be a whole number >= 2"),
        (SeasonalNaiveForecaster, {"min_errors": None}, "min_errors must be a whole number >= 2"),
        (TSOForecaster, {"min_errors": True}, "min_errors must be a whole number >= 2"),
        (SeasonalNaiveForecaster, {"season_days": "a"}, "season_days must be a whole number"),
        (SeasonalNaiveForecaster, {"season_days": None}, "season_days must be a whole number"),
        (SeasonalNaiveForecaster, {"season_days": 10**20}, "season_days must be a whole number"),
        (TSOForecaster, {"column": 5}, "column must be None or a column name, got 5"),
    ],
)
def test_reference_forecaster_parameters_are_checked_at_fit(
    cls: type, params: dict, match: str, train: pd.DataFrame
) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        cls(**params).fit(train)


@pytest.fixture(scope="module")
def naive_predicted(train: pd.DataFrame) -> SeasonalNaiveForecaster:
    model = SeasonalNaiveForecaster().fit(train)
    model.predict(train, days=["2015-02-20"])
    return model


@pytest.mark.parametrize("n", [None, math.inf, math.nan, True, 0, 1.5, "3"])
def test_sample_size_must_be_a_whole_number(
    naive_predicted: SeasonalNaiveForecaster, n: object
) -> None:
    # None, inf, nan were TypeError, OverflowError, ValueError; True drew one scenario
    with pytest.raises(
        InvalidParameterError, match=re.escape(f"n must be a whole number >= 1, got {n!r}")
    ):
        naive_predicted.sample(n, seed=0)


def test_sample_size_is_capped(naive_predicted: SeasonalNaiveForecaster) -> None:
    from forecasting.models import MAX_SAMPLE_VALUES

    # was numpy's MemoryError (10**12 x 24 values)
    with pytest.raises(InvalidParameterError, match="exceed MAX_SAMPLE_VALUES"):
        naive_predicted.sample(10**12, seed=0)
    with pytest.raises(InvalidParameterError, match="exceed MAX_SAMPLE_VALUES"):
        naive_predicted.sample(MAX_SAMPLE_VALUES // 24 + 1, seed=0)
    assert naive_predicted.sample(np.int64(3), seed=0).shape == (3, 24)
    np.testing.assert_array_equal(
        naive_predicted.sample(2.0, seed=1), naive_predicted.sample(2, seed=1)
    )


@pytest.mark.parametrize("quantiles", [["a"], [[0.1, 0.5]], "a", [True], [0.5, None]])
def test_quantile_levels_must_be_numbers(
    naive_predicted: SeasonalNaiveForecaster, train: pd.DataFrame, quantiles: object
) -> None:
    # ["a"] and "a" were float()'s ValueError, [[0.1, 0.5]] a TypeError
    with pytest.raises(InvalidParameterError, match=r"quantiles must lie in \(0, 1\)"):
        naive_predicted.predict(train, days=["2015-02-20"], quantiles=quantiles)


def test_one_or_numpy_quantile_levels(
    naive_predicted: SeasonalNaiveForecaster, train: pd.DataFrame
) -> None:
    for qs in (0.5, [np.float32(0.5)], np.array([0.5])):
        pred = naive_predicted.predict(train, days=["2015-02-20"], quantiles=qs)
        assert list(pred.columns) == ["mu", "sigma", "nu", "q0.5"]


@pytest.mark.parametrize("q", ["a", 1.5, 0.0, 1, None, True, math.nan])
def test_quantile_column_needs_a_level_in_0_1(q: object) -> None:
    from forecasting import quantile_column

    # 1.5 gave 'q1.5', "a" and None were format errors
    with pytest.raises(InvalidParameterError, match=re.escape(f"must lie in (0, 1), got {q!r}")):
        quantile_column(q)


def test_quantile_column_names() -> None:
    from forecasting import quantile_column

    assert quantile_column(0.1) == "q0.1"
    assert quantile_column(np.float64(0.025)) == "q0.025"
    # six significant digits no longer merge or round levels: one column per level
    assert quantile_column(0.9750004) == "q0.9750004"
    assert quantile_column(0.12345678) == "q0.12345678"


def test_close_quantile_levels_get_their_own_columns(
    naive_predicted: SeasonalNaiveForecaster, train: pd.DataFrame
) -> None:
    from scipy import stats

    levels = (0.975, 0.9750004, 0.12345678, 0.975)
    pred = naive_predicted.predict(train, days=["2015-02-20"], quantiles=levels)
    # q0.975 held the 0.9750004 quantile before, and 0.12345678 was named q0.123457
    assert list(pred.columns) == ["mu", "sigma", "nu", "q0.975", "q0.9750004", "q0.12345678"]
    for q in levels[:3]:
        expected = pred["mu"] + pred["sigma"] * stats.t.ppf(q, pred["nu"])
        np.testing.assert_allclose(pred[quantile_column_of(q)], expected, rtol=1e-12)


def quantile_column_of(q: float) -> str:
    from forecasting import quantile_column

    return quantile_column(q)


def test_combine_members_needs_members_of_one_shape() -> None:
    from forecasting import combine_members

    with pytest.raises(InvalidParameterError, match="at least one member"):  # was ValueError
        combine_members([])
    one = (np.zeros(3), np.ones(3), np.full(3, 5.0))
    two = (np.zeros(2), np.ones(2), np.full(2, 5.0))
    with pytest.raises(InvalidParameterError, match="one shape"):
        combine_members([one, two])
    assert combine_members([one]) is one


def test_median_mad_falls_back_to_the_standard_deviation_then_one() -> None:
    """Hand values: column 0 has MAD 1.4826 x 1; column 1 (four zeros and a 5) has MAD 0 and
    standard deviation 2; column 2 is constant: scale 1."""
    from forecasting.models import median_mad

    A = np.array(
        [[0.0, 0.0, 3.0], [1.0, 0.0, 3.0], [2.0, 0.0, 3.0], [3.0, 0.0, 3.0], [4.0, 5.0, 3.0]]
    )
    med, scale = median_mad(A)
    np.testing.assert_allclose(med, [2.0, 0.0, 3.0])
    np.testing.assert_allclose(scale, [1.4826, 2.0, 1.0], rtol=1e-4)


def test_seasonal_naive_spread_is_fitted_hour_by_hour(fitted: dict, train: pd.DataFrame) -> None:
    """The spread of hour h is the zero-location t fitted to the errors of that hour only:
    y(t) - y(t - 7 days), recomputed here on the hourly series (no DST change in Jan-Feb
    2015; missing values dropped), for the market days 2015-01-08..02-28. An hour with
    exactly min_errors errors keeps its own fit; above every hour's count, all fall back to
    the pooled fit."""
    y = train["load_mw"].tz_convert(TZ)
    week_before = pd.Series(y.to_numpy(), index=y.index + pd.Timedelta(days=7))
    err = (y - week_before.reindex(y.index)).loc["2015-01-08":].dropna()
    model = fitted["naive", "load_mw"]
    assert model.n_errors_ == len(err) and 30 * 24 <= len(err) <= 52 * 24
    for h in (0, 7, 13, 20):
        scale, df = fit_zero_location_t(err[err.index.hour == h].to_numpy())
        assert model.scale_by_hour_[h] == pytest.approx(scale, rel=1e-9)
        assert model.df_by_hour_[h] == pytest.approx(df, rel=1e-9)
    counts = err.groupby(err.index.hour).size()
    fewest, most = int(counts.min()), int(counts.max())
    assert fewest >= 30  # the default min_errors: every hour has its own fit
    at_fewest = SeasonalNaiveForecaster(min_errors=fewest).fit(train, target="load_mw")
    np.testing.assert_array_equal(at_fewest.scale_by_hour_, model.scale_by_hour_)
    pooled = SeasonalNaiveForecaster(min_errors=most + 1).fit(train, target="load_mw")
    scale, df = fit_zero_location_t(err.to_numpy())
    np.testing.assert_allclose(pooled.scale_by_hour_, scale, rtol=1e-9)
    np.testing.assert_allclose(pooled.df_by_hour_, df, rtol=1e-9)


def test_a_forecast_column_as_target_is_not_its_own_input(train: pd.DataFrame) -> None:
    """Fitting on a published forecast (the CLI refuses it; the API may do it): every other
    forecast column is an input, the target itself never (it would be copied)."""
    model = StudentTForecaster(**{**TINY, "max_epochs": 2}).fit(train, "load_forecast_mw")
    assert "load_forecast_mw" not in model.feature_names_
    assert "solar_forecast_mw" in model.feature_names_


# ---------------------------------------------------------------- values no model can use
@pytest.mark.parametrize("cls", ALL)
def test_an_infinite_input_is_named_not_forecast_as_nan(cls: type, train, es) -> None:
    """One ``inf`` in the TSO's forecast came out as a NaN row of the networks (no word)
    and as ``mu = inf, sigma = NaN`` of the TSO model."""
    model = cls(**TINY).fit(train) if cls in (StudentTForecaster, GaussianForecaster) else None
    model = model or cls().fit(train)
    when = pd.Timestamp("2015-06-10T09:00", tz="UTC")
    # the naive model uses only the target, a week earlier
    naive = cls is SeasonalNaiveForecaster
    column = "load_mw" if naive else "load_forecast_mw"
    at = when - pd.Timedelta(days=7) if naive else when
    bad = es.copy()
    bad.loc[at, column] = -np.inf
    with pytest.raises(DataValidationError) as info:
        model.predict(bad, days=["2015-06-10"])
    assert str(info.value) == (
        f"{column} holds 1 infinite value(s), the first at {at.isoformat()}: a missing value is NaN"
    )


def test_values_too_large_to_standardise_are_refused_and_leave_no_fit(train, es) -> None:
    """One 1e300 in the training target made every forecast NaN without a word."""
    model = StudentTForecaster(**TINY).fit(train)
    before = model.predict(es, days=["2015-06-10"])
    bad = train.copy()
    bad.iloc[200, bad.columns.get_loc("load_mw")] = 1e300
    with pytest.raises(DataValidationError, match=r"training values of load_mw .*1e\+300"):
        model.fit(bad)
    # the failed fit gave the model its previous fit back
    pd.testing.assert_frame_equal(model.predict(es, days=["2015-06-10"]), before)


def test_a_diverging_training_is_an_error(train, es) -> None:
    """lr=1e30 trained to NaN weights and predicted NaN everywhere, as if fitted."""
    model = StudentTForecaster(**{**TINY, "lr": 1e30})
    with pytest.raises(InvalidParameterError, match=r"^training diverged .*lower lr \(now 1e\+30"):
        model.fit(train)
    with pytest.raises(NotFittedError):
        model.predict(es, days=["2015-06-10"])
    # the same data and a sane rate: finite forecasts (the error was the rate's)
    out = model.set_params(lr=1e-3).fit(train).predict(es, days=["2015-06-10"])
    assert np.isfinite(out[["mu", "sigma", "nu"]].to_numpy()).all()


def test_the_tso_column_must_forecast_the_target(train) -> None:
    with pytest.raises(InvalidParameterError) as info:
        TSOForecaster(column="solar_forecast_mw").fit(train, "load_mw")
    assert str(info.value) == (
        "column='solar_forecast_mw' is not a published forecast of load_mw (e.g. load_forecast_mw)"
    )
    with pytest.raises(InvalidParameterError, match="not a published forecast of load_mw"):
        TSOForecaster(column="solar_mw").fit(train, "load_mw")


@pytest.mark.parametrize("cls", ALL)
def test_predict_needs_a_frame(cls: type, train: pd.DataFrame) -> None:
    """The naive model's predict on an array was "'numpy.ndarray' object has no attribute
    'attrs'" (fit already said it plainly)."""
    neural = cls in (StudentTForecaster, GaussianForecaster)
    model = (cls(**{**TINY, "max_epochs": 1}) if neural else cls()).fit(train)
    with pytest.raises(InvalidParameterError, match=r"^frame must be a DataFrame \(of market data"):
        model.predict(train.to_numpy())


def test_student_t_quantiles_needs_one_length() -> None:
    from forecasting import student_t_quantiles

    with pytest.raises(InvalidParameterError, match=r"1-D of one length, got shapes \(2,\), \(3"):
        student_t_quantiles(np.zeros(2), np.ones(3), np.full(2, 5.0), [0.5])
    out = student_t_quantiles(np.zeros(2), np.ones(2), np.full(2, np.inf), [0.5, 0.975])
    np.testing.assert_allclose(out, [[0.0, stats.norm.ppf(0.975)]] * 2)


def test_combine_members_refuses_a_negative_spread() -> None:
    from forecasting import combine_members

    ok = (np.zeros(2), np.ones(2), np.full(2, 5.0))
    bad = (np.zeros(2), np.array([1.0, -1.0]), np.full(2, 5.0))
    for members in ([bad], [ok, bad]):
        with pytest.raises(InvalidParameterError, match="sigma > 0 and nu > 0 of every member"):
            combine_members(members)
    with_nan = (np.zeros(2), np.array([1.0, np.nan]), np.full(2, 5.0))
    assert np.isnan(combine_members([ok, with_nan])[1][1])  # an unknown row stays unknown
