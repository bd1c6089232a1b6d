"""Tests of the LEAR-style linear forecasts (forecasting.lear): the LASSO solver against a
closed form and against cvxpy, the AIC choice against a brute force over the grid, and
the information set on the real bundled DE data."""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pandas as pd
import pytest

import data
from data.errors import InvalidParameterError
from forecasting import available_at, cutoff_for_day
from forecasting.lear import (
    LEAR_COLUMN,
    lasso,
    lasso_aic,
    lear_day_forecasts,
    lear_design,
    lear_forecasts,
    with_lear_column,
)

TZ = "Europe/Berlin"


@pytest.fixture(scope="module")
def de() -> pd.DataFrame:
    return data.load_market_data("DE", "2016-01-04", "2016-04-10")


# cvxpy's interior-point reference agrees with the coordinate descent (tol 1e-10..1e-12) to
# 2.1e-7 at worst on these problems (measured); the checks allow 1e-6.
REF_ATOL = 1e-6


def _cvxpy_lasso(X: np.ndarray, y: np.ndarray, alpha: float) -> np.ndarray:
    b = cp.Variable(X.shape[1])
    n = X.shape[0]
    cp.Problem(cp.Minimize(cp.sum_squares(y - X @ b) / (2 * n) + alpha * cp.norm1(b))).solve()
    return b.value


def test_lasso_is_soft_thresholding_for_an_orthonormal_design() -> None:
    rng = np.random.default_rng(0)
    n, p = 60, 8
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)))
    X = np.sqrt(n) * Q  # X'X/n = I
    Y = rng.normal(size=(n, 3))
    alphas = np.array([0.05, 0.2, 0.5])
    z = X.T @ Y / n
    expected = np.sign(z) * np.maximum(np.abs(z) - alphas, 0.0)
    np.testing.assert_allclose(lasso(X, Y, alphas, tol=1e-12), expected, atol=1e-10)
    assert (expected == 0).any() and (expected != 0).any()


@pytest.mark.parametrize("n", [25, 120])  # fewer and more rows than inputs
def test_lasso_matches_cvxpy(n: int) -> None:
    rng = np.random.default_rng(n)
    p = 40
    X = rng.normal(size=(n, p)) @ np.diag(rng.uniform(0.3, 2.0, p))
    X -= X.mean(axis=0)
    beta = np.zeros((p, 2))
    beta[:5, 0], beta[3:9, 1] = 1.5, -0.8
    Y = X @ beta + 0.3 * rng.normal(size=(n, 2))
    Y -= Y.mean(axis=0)
    alphas = np.array([0.05, 0.15])
    B = lasso(X, Y, alphas, max_iter=200_000, tol=1e-12)
    for j in range(2):
        ref = _cvxpy_lasso(X, Y[:, j], alphas[j])
        np.testing.assert_allclose(B[:, j], ref, atol=REF_ATOL)


def test_lasso_aic_picks_the_grid_point_with_the_lowest_criterion() -> None:
    rng = np.random.default_rng(3)
    n, p = 150, 15
    X = rng.normal(size=(n, p))
    beta = np.zeros((p, 2))
    beta[:3, 0] = [2.0, -1.0, 0.5]
    beta[5:7, 1] = [1.0, 1.0]
    Y = X @ beta + 0.5 * rng.normal(size=(n, 2)) + np.array([3.0, -1.0])
    n_alphas, ratio = 8, 1e-2
    B, b0, chosen = lasso_aic(X, Y, n_alphas=n_alphas, min_ratio=ratio, tol=1e-10)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    for j in range(2):
        grid = np.max(np.abs(Xc.T @ Yc[:, j])) / n * np.geomspace(1, ratio, n_alphas)
        aics = []
        for a in grid:  # brute force: cvxpy at every grid point
            b = _cvxpy_lasso(Xc, Yc[:, j], a)
            b[np.abs(b) < 1e-6] = 0.0
            mse = np.mean((Yc[:, j] - Xc @ b) ** 2)
            aics.append(n * mse / Yc[:, j].var() + 2 * np.count_nonzero(b))
        best = int(np.argmin(aics))
        assert chosen[j] == pytest.approx(grid[best], rel=1e-12)
        ref = _cvxpy_lasso(Xc, Yc[:, j], grid[best])
        np.testing.assert_allclose(B[:, j], ref, atol=REF_ATOL)
        assert b0[j] == pytest.approx(Y[:, j].mean() - X.mean(axis=0) @ B[:, j], abs=1e-12)
    assert set(np.flatnonzero(B[:, 0])) >= {0, 1, 2}  # the true inputs are kept


def test_unit_norm_aic_chooses_on_normalised_inputs_and_refits_on_the_raw_ones() -> None:
    rng = np.random.default_rng(4)
    n, p = 80, 12
    X = rng.normal(size=(n, p)) * rng.uniform(0.2, 3.0, p)  # columns of unequal norms
    beta = np.zeros((p, 2))
    beta[:3, 0], beta[4:6, 1] = [2.0, -1.0, 0.5], [1.0, 1.0]
    Y = X @ beta + 0.5 * rng.normal(size=(n, 2)) + np.array([3.0, -1.0])
    B, b0, chosen = lasso_aic(X, Y, n_alphas=8, min_ratio=1e-2, tol=1e-10, unit_norm=True)
    Xc, Yc = X - X.mean(axis=0), Y - Y.mean(axis=0)
    norms = np.linalg.norm(Xc, axis=0)
    # the penalty: the AIC choice of the problem on unit-norm columns (the same grid)
    _, _, on_unit = lasso_aic(Xc / norms, Yc, n_alphas=8, min_ratio=1e-2, tol=1e-10)
    np.testing.assert_array_equal(chosen, on_unit)
    for j in range(2):  # the coefficients: that penalty on the raw columns (cvxpy)
        np.testing.assert_allclose(B[:, j], _cvxpy_lasso(Xc, Yc[:, j], chosen[j]), atol=REF_ATOL)
        assert b0[j] == pytest.approx(Y[:, j].mean() - X.mean(axis=0) @ B[:, j], abs=1e-12)
    # a much weaker penalty than the raw-input AIC choice: more inputs kept
    B_aic, _, _ = lasso_aic(X, Y, n_alphas=8, min_ratio=1e-2, tol=1e-10)
    assert np.count_nonzero(B) > np.count_nonzero(B_aic)


def test_lear_penalty_options(de: pd.DataFrame) -> None:
    day = ["2016-03-15"]
    bench = lear_forecasts(de, days=day, windows=(30,))
    pd.testing.assert_frame_equal(
        bench, lear_forecasts(de, days=day, windows=(30,), penalty="benchmark")
    )
    aic = lear_forecasts(de, days=day, windows=(30,), penalty="aic")
    assert np.isfinite(aic.to_numpy()).all() and not np.allclose(aic, bench)
    with pytest.raises(InvalidParameterError, match="penalty"):
        lear_forecasts(de, days=day, windows=(30,), penalty="bic")


def test_design_is_the_benchmark_input_set(de: pd.DataFrame) -> None:
    X, Y, _feats = lear_design(de)
    assert X.shape[1] == 96 + 2 * 72 + 7  # 247 inputs, as the benchmark's LEAR
    assert list(Y.columns) == list(range(24))
    # the price profile of D-1 is yesterday's realised prices
    day = np.datetime64("2016-02-10")
    prices = de["price_eur_per_mwh"].tz_convert(TZ)
    yesterday = prices[prices.index.date == pd.Timestamp("2016-02-09").date()].to_numpy()
    np.testing.assert_array_equal(X.loc[day, [f"lag1d_h{h:02d}" for h in range(24)]], yesterday)
    today = prices[prices.index.date == pd.Timestamp("2016-02-10").date()].to_numpy()
    np.testing.assert_array_equal(Y.loc[day].to_numpy(), today)
    # the spring DST day has no 02:00: that hour is NaN
    assert np.isnan(Y.loc[np.datetime64("2016-03-27"), 2])
    assert np.isfinite(Y.loc[np.datetime64("2016-03-27")].drop(2)).all()


def test_lear_forecast_has_no_look_ahead(de: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    for day in ("2016-03-15", "2016-03-27", "2016-03-28"):
        clean = lear_forecasts(de, days=[day], windows=(14, 30))
        known = available_at(de, cutoff_for_day(day, TZ))
        noise = pd.DataFrame(rng.normal(50, 30, de.shape), index=de.index, columns=de.columns)
        dirty = de.where(known, noise)
        dirty.attrs = dict(de.attrs)
        assert (~known).to_numpy().sum() > 100
        pd.testing.assert_frame_equal(
            clean, lear_forecasts(dirty, days=[day], windows=(14, 30)), check_exact=True
        )
        assert np.isfinite(clean.to_numpy()).all() and len(clean) in (23, 24)


def test_lear_forecasts_beat_yesterday_and_need_their_window(de: pd.DataFrame) -> None:
    days = list(np.arange("2016-03-01", "2016-03-15", dtype="datetime64[D]"))
    fc = lear_forecasts(de, days=days, windows=(14, 28))
    assert np.isfinite(fc.to_numpy()).all()
    y = de["price_eur_per_mwh"].reindex(fc.index)
    yesterday = de["price_eur_per_mwh"].shift(24).reindex(fc.index)  # 24 h before
    mae = (fc["mean"] - y).abs().mean()
    assert mae < 0.8 * (yesterday - y).abs().mean()
    np.testing.assert_allclose(fc["mean"], fc[["w14", "w28"]].mean(axis=1), rtol=1e-12)
    # a window longer than the history: NaN, not a shorter window
    X, Y, _ = lear_design(de)
    short = lear_day_forecasts(X, Y, [np.datetime64("2016-02-01")], window_days=56)
    assert short.isna().all(axis=None)
    with pytest.raises(InvalidParameterError, match="window_days"):
        lear_day_forecasts(X, Y, days[:1], window_days=1)


def test_lear_column_is_read_as_a_published_forecast(de: pd.DataFrame) -> None:
    short = de.loc[de.index < pd.Timestamp("2016-02-05", tz=TZ)]
    short.attrs = dict(de.attrs)
    out = with_lear_column(short, windows=(14,))
    assert LEAR_COLUMN in out.columns and out.attrs == de.attrs
    # NaN until 14 days with inputs precede the day: inputs from 01-11 (7 days of lags)
    known = out[LEAR_COLUMN].notna()
    first = out.index[known.to_numpy()][0].tz_convert(TZ)
    assert first == pd.Timestamp("2016-01-25", tz=TZ) and known[first:].all()
    from forecasting.features import column_kind

    assert column_kind(LEAR_COLUMN) == "forecast"
    # and the design of a frame with the column leaves it out of the LEAR inputs
    assert lear_design(out)[0].shape[1] == 247  # not 247 + 72


def test_days_outside_the_data_and_other_targets_are_refused(de: pd.DataFrame) -> None:
    from data.errors import DataUnavailableError

    head = de.loc[de.index < pd.Timestamp("2016-03-15", tz=TZ)]
    head.attrs = dict(de.attrs)
    # the day's own published forecasts are inputs: a day after the data has none
    with pytest.raises(DataUnavailableError, match="outside"):
        lear_forecasts(head, days=["2016-03-15"], windows=(14,))
    with pytest.raises(InvalidParameterError, match="prices"):
        lear_design(data.load_market_data("ES", "2016-01-04", "2016-02-10"), "load_mw")


@pytest.mark.parametrize("windows", [(), [], 14, "14"])
def test_no_window_is_refused(de: pd.DataFrame, windows) -> None:
    # () gave a 'mean' column of NaN without a word; 14 a raw TypeError
    with pytest.raises(InvalidParameterError, match="windows must be one or more window"):
        lear_forecasts(de, days=["2016-03-15"], windows=windows)


def test_windows_may_be_any_iterable(de: pd.DataFrame) -> None:
    fc = lear_forecasts(de, days=["2016-03-15"], windows=(w for w in (14, 21)))
    assert list(fc.columns) == ["w14", "w21", "mean"] and fc.notna().all().all()


# --- the networks' location blend with LEAR ------------------------------------------

TINY = {"hidden": (16, 16), "max_epochs": 10, "patience": 5, "batch_size": 128}
EPF = {"profile_lags": (1, 2, 3, 7), "exog_lags": (1, 7)}


def test_location_blend_with_lear_averages_the_network_and_lear(de: pd.DataFrame) -> None:
    from forecasting import BlendWarning, StudentTForecaster

    train = de.loc[de.index < pd.Timestamp("2016-03-01", tz=TZ)]
    train.attrs = dict(de.attrs)
    days = ["2016-03-10", "2016-03-27"]  # a 24-hour day and the spring DST day
    plain = StudentTForecaster(**TINY, **EPF).fit(train, "price_eur_per_mwh")
    params = {**TINY, **EPF, "location_blend": "lear", "lear_windows": (14, 28)}
    blended = StudentTForecaster(**params, blend_weight=0.25).fit(train, "price_eur_per_mwh")
    a, b = plain.predict(de, days=days), blended.predict(de, days=days)
    lear = lear_forecasts(de, days=days, windows=(14, 28))["mean"].reindex(a.index)
    assert lear.notna().all() and len(a) == 47
    # the same seed trains the same network: only the location moves, by the weight
    np.testing.assert_allclose(b["mu"], 0.75 * a["mu"] + 0.25 * lear, rtol=1e-12)
    pd.testing.assert_frame_equal(b[["sigma", "nu"]], a[["sigma", "nu"]], check_exact=True)
    assert b.attrs["location_blend_missing"] == 0
    # no look-ahead: everything unknown at the cut-off changed, the forecast is not
    rng = np.random.default_rng(1)
    day = "2016-03-10"
    known = available_at(de, cutoff_for_day(day, TZ))
    noise = pd.DataFrame(rng.normal(50, 30, de.shape), index=de.index, columns=de.columns)
    dirty = de.where(known, noise)
    dirty.attrs = dict(de.attrs)
    pd.testing.assert_frame_equal(
        blended.predict(de, days=[day]), blended.predict(dirty, days=[day]), check_exact=True
    )
    # a window longer than the history gives no LEAR forecast: the network's mu, counted
    long = StudentTForecaster(**{**params, "lear_windows": (400,)}).fit(train, "price_eur_per_mwh")
    with pytest.warns(BlendWarning, match="47 interval"):
        c = long.predict(de, days=days)
    np.testing.assert_array_equal(c["mu"].to_numpy(), a["mu"].to_numpy())
    assert c.attrs["location_blend_missing"] == 47
    # one window too long: the mean of the others, warned about and counted
    mixed = StudentTForecaster(**{**params, "lear_windows": (14, 400)})
    mixed.fit(train, "price_eur_per_mwh")
    with pytest.warns(BlendWarning, match=r"fewer than the LEAR windows \(14, 400\)"):
        d = mixed.predict(de, days=days)
    w14 = lear_forecasts(de, days=days, windows=(14,))["w14"].reindex(a.index)
    np.testing.assert_allclose(d["mu"], 0.5 * a["mu"] + 0.5 * w14, rtol=1e-12)
    assert d.attrs["location_blend_partial"] == 47 and d.attrs["location_blend_missing"] == 0
    # a missing day within the windows: no LEAR forecast there, warned, mu kept
    gap = de.loc[
        (de.index < pd.Timestamp("2016-03-05", tz=TZ))
        | (de.index >= pd.Timestamp("2016-03-06", tz=TZ))
    ]
    gap.attrs = dict(de.attrs)
    with pytest.warns(UserWarning) as seen:
        e = blended.predict(gap, days=["2016-03-10"])
    messages = " | ".join(str(w.message) for w in seen)
    assert "no LEAR forecast (the design's days are not consecutive" in messages
    assert "24 interval(s) on 1 day(s), 2016-03-10..2016-03-10, have no lear" in messages
    np.testing.assert_array_equal(e["mu"].to_numpy(), plain.predict(gap, days=["2016-03-10"])["mu"])


def test_location_blend_of_an_ensemble_and_models_fitted_before_it(de: pd.DataFrame) -> None:
    from forecasting import StudentTForecaster

    train = de.loc[de.index < pd.Timestamp("2016-03-01", tz=TZ)]
    train.attrs = dict(de.attrs)
    days = ["2016-03-10"]
    params = {**TINY, **EPF, "location_blend": "lear", "lear_windows": (14,), "n_members": 2}
    ens = StudentTForecaster(**params, blend_weight=1.0).fit(train, "price_eur_per_mwh")
    out = ens.predict(de, days=days)
    lear = lear_forecasts(de, days=days, windows=(14,))["w14"].reindex(out.index)
    np.testing.assert_allclose(out["mu"], lear, rtol=1e-12)  # weight 1: LEAR itself
    assert len(ens.estimators_) == 2 and ens.location_blend_ == "lear"
    # a model pickled before the blend existed has no location_blend_: it still predicts
    old = StudentTForecaster(**TINY, **EPF).fit(train, "price_eur_per_mwh")
    for name in ("location_blend_", "blend_weight_", "lear_windows_"):
        delattr(old, name)
    assert "location_blend_missing" not in old.predict(de, days=days).attrs


def test_location_blend_is_refused_for_load_and_unknown_columns(de: pd.DataFrame) -> None:
    from forecasting import StudentTForecaster

    es = data.load_market_data("ES", "2016-01-04", "2016-02-10")
    with pytest.raises(InvalidParameterError, match="prices"):
        StudentTForecaster(**TINY, location_blend="lear").fit(es, "load_mw")
    with pytest.raises(InvalidParameterError, match="load_forecast_mw"):  # not a price
        StudentTForecaster(**TINY, location_blend="load_forecast_mw").fit(de, "price_eur_per_mwh")
    with pytest.raises(InvalidParameterError, match="no_such_column"):
        StudentTForecaster(**TINY, location_blend="no_such_column").fit(de, "price_eur_per_mwh")
    with pytest.raises(InvalidParameterError, match="blend_weight"):
        StudentTForecaster(**TINY, location_blend="lear", blend_weight=1.5).fit(de)
    with pytest.raises(InvalidParameterError, match="lear_windows"):
        StudentTForecaster(**TINY, location_blend="lear", lear_windows=(1,)).fit(de)


def test_models_blended_with_the_same_lear_fit_it_once(
    de: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    import forecasting.lear
    import forecasting.models
    from forecasting import GaussianForecaster, StudentTForecaster

    calls = []
    real = forecasting.lear.lear_forecasts

    def counted(*args, **kwargs):
        calls.append(kwargs["days"])
        return real(*args, **kwargs)

    monkeypatch.setattr(forecasting.lear, "lear_forecasts", counted)
    monkeypatch.setattr(forecasting.models, "_LEAR_MEMO", {})
    train = de.loc[de.index < pd.Timestamp("2016-03-01", tz=TZ)]
    train.attrs = dict(de.attrs)
    days = ["2016-03-10"]
    params = {**TINY, **EPF, "location_blend": "lear", "lear_windows": (14, 28)}
    t = StudentTForecaster(**params).fit(train, "price_eur_per_mwh")
    g = GaussianForecaster(**params).fit(train, "price_eur_per_mwh")
    a, b = t.predict(de, days=days), g.predict(de, days=days)
    assert len(calls) == 1  # the Gaussian reused the Student-t's LEAR
    t_plain = StudentTForecaster(**{**params, "location_blend": None}).fit(
        train, "price_eur_per_mwh"
    )
    g_plain = GaussianForecaster(**{**params, "location_blend": None}).fit(
        train, "price_eur_per_mwh"
    )
    lear = real(de, days=days, windows=(14, 28))["mean"].reindex(a.index)
    np.testing.assert_allclose(a["mu"], 0.5 * t_plain.predict(de, days=days)["mu"] + 0.5 * lear)
    np.testing.assert_allclose(b["mu"], 0.5 * g_plain.predict(de, days=days)["mu"] + 0.5 * lear)
    # a price known at the cut-off changed: a new LEAR, not the remembered one
    moved = de.copy()
    moved.iloc[moved.index.get_loc(pd.Timestamp("2016-03-08 12:00", tz=TZ)), 0] += 500.0
    moved.attrs = dict(de.attrs)
    assert moved.columns[0] == "price_eur_per_mwh"
    c = t.predict(moved, days=days)
    assert len(calls) == 2
    lear_moved = real(moved, days=days, windows=(14, 28))["mean"].reindex(a.index)
    assert not np.allclose(lear_moved, lear)
    np.testing.assert_allclose(
        c["mu"], 0.5 * t_plain.predict(moved, days=days)["mu"] + 0.5 * lear_moved
    )
    # what the memo returns is a copy: changing it does not change what it returns next
    key = (moved, "price_eur_per_mwh", np.array(days, dtype="datetime64[D]"), (14, 28), TZ)
    first = forecasting.models._lear_memo(*key)
    first.loc[:, :] = 0.0
    np.testing.assert_array_equal(
        forecasting.models._lear_memo(*key).to_numpy(),
        real(moved, days=days, windows=(14, 28)).to_numpy(),
    )


# --- window, transform, ensemble mean, autumn DST (second mutation round) --------------


def test_day_forecast_is_the_documented_fit_on_exactly_its_window(de: pd.DataFrame) -> None:
    """Module doc, recomputed: the ``window_days`` complete days before D, inputs (but the
    one-hots) and each hour's target scaled by the window's median and MAD and arcsinh'ed,
    ``lasso_aic(unit_norm=True)``, the forecast transformed back."""
    from forecasting.models import median_mad

    X, Y, _ = lear_design(de)
    day, W = np.datetime64("2016-03-15"), 14
    pos = int(np.searchsorted(X.index.to_numpy(), day))
    Xa, Ya = X.to_numpy(), Y.to_numpy()
    rows = np.arange(pos - W, pos)
    assert np.isfinite(Xa[rows]).all() and np.isfinite(Ya[rows]).all()  # all complete
    dummy = X.columns.str.startswith("dow_")
    A = Xa[rows].copy()
    x = Xa[pos].copy()
    med, scale = median_mad(A[:, ~dummy])
    A[:, ~dummy] = np.arcsinh((A[:, ~dummy] - med) / scale)
    x[~dummy] = np.arcsinh((x[~dummy] - med) / scale)
    y_med, y_scale = median_mad(Ya[rows])
    B, b0, _ = lasso_aic(A, np.arcsinh((Ya[rows] - y_med) / y_scale), unit_norm=True)
    expected = y_med + y_scale * np.sinh(x @ B + b0)
    got = lear_day_forecasts(X, Y, [day], window_days=W).to_numpy()[0]
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_ensemble_mean_is_nan_where_a_window_lacks_history(de: pd.DataFrame) -> None:
    """2016-02-01 has 21 days of inputs: the 14-day window forecasts, the 56-day one cannot,
    so their mean is NaN (documented: NaN where any is NaN), not the 14-day forecast."""
    fc = lear_forecasts(de, days=["2016-02-01"], windows=(14, 56))
    assert np.isfinite(fc["w14"]).all() and fc["w56"].isna().all()
    assert fc["mean"].isna().all()


def test_autumn_dst_day_takes_the_first_of_the_doubled_hour() -> None:
    """2015-10-25 in Madrid has 02:00 twice (00:00 and 01:00 UTC, 50.14 and 50.54 EUR/MWh
    in the ES data): the target of hour 2 is the first of them, the CEST one."""
    frame = data.load_market_data("ES", "2015-10-10", "2015-11-01")
    _, Y, _ = lear_design(frame, tz="Europe/Madrid")
    first = frame.loc[pd.Timestamp("2015-10-25 00:00", tz="UTC"), "price_eur_per_mwh"]
    second = frame.loc[pd.Timestamp("2015-10-25 01:00", tz="UTC"), "price_eur_per_mwh"]
    assert first != second
    assert Y.loc[np.datetime64("2015-10-25"), 2] == first
