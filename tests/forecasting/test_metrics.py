"""Tests of forecasting.metrics against independent references.

CRPS closed forms against numerical integration (scipy.integrate.quad) of both integral
forms; the sorted ensemble CRPS against the O(m²) pairwise formula and, for a large normal
sample, against the closed form within its Monte Carlo error; the Diebold-Mariano test
against a hand-computed example and a seeded Monte Carlo size check.
"""

from __future__ import annotations

import math
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import integrate, special, stats

from data.errors import InvalidParameterError
from forecasting.metrics import (
    DEFAULT_QUANTILES,
    DieboldMarianoResult,
    central_interval,
    crps_ensemble,
    crps_normal,
    crps_student_t,
    crps_values,
    diebold_mariano,
    interval_coverage,
    mae,
    mean_pinball_loss,
    pinball_loss,
    pit,
    pit_values,
    predictive_cdf,
    predictive_quantile,
    rmse,
    score_forecast,
)

# --------------------------------------------------------------------------- references


def _cdf(x: float, mu: float, sigma: float, nu: float) -> float:
    z = (x - mu) / sigma
    return float(special.ndtr(z) if math.isinf(nu) else special.stdtr(nu, z))


def _ppf(tau: float, mu: float, sigma: float, nu: float) -> float:
    q = special.ndtri(tau) if math.isinf(nu) else special.stdtrit(nu, tau)
    return mu + sigma * float(q)


def crps_threshold_integral(y: float, mu: float, sigma: float, nu: float) -> float:
    """∫ (F(x) − 1{x ≥ y})² dx by quad, split at y."""
    left = integrate.quad(lambda x: _cdf(x, mu, sigma, nu) ** 2, -np.inf, y, limit=200)
    right = integrate.quad(lambda x: (1 - _cdf(x, mu, sigma, nu)) ** 2, y, np.inf, limit=200)
    return left[0] + right[0]


def crps_quantile_integral(y: float, mu: float, sigma: float, nu: float) -> float:
    """2 ∫₀¹ QS_τ(F⁻¹(τ), y) dτ by quad, QS_τ(q, y) = (1{y < q} − τ)(q − y), split at F(y)."""

    def qs(tau: float) -> float:
        q = _ppf(tau, mu, sigma, nu)
        return ((1.0 if y < q else 0.0) - tau) * (q - y)

    kink = _cdf(y, mu, sigma, nu)
    parts = [(0.0, kink), (kink, 1.0)]
    return 2.0 * sum(integrate.quad(qs, a, b, limit=200)[0] for a, b in parts if b > a)


def crps_pairwise(y: float, x: np.ndarray, fair: bool = False) -> float:
    """O(m²) E|X − y| − ½ E|X − X'| over all ordered pairs."""
    m = x.size
    pair_sum = np.abs(x[:, None] - x[None, :]).sum()
    return float(np.mean(np.abs(x - y)) - 0.5 * pair_sum / (m * (m - 1) if fair else m * m))


# --------------------------------------------------------------------------- CRPS closed forms

NORMAL_CASES = [(0.0, 0.0, 1.0), (1.3, 0.2, 0.7), (-4.0, 1.0, 2.5), (50.0, 48.0, 10.0)]
STUDENT_CASES = [
    (0.3, 0.0, 1.0, 3.0),
    (2.5, 1.0, 0.5, 1.5),
    (-4.0, 0.0, 2.0, 2.01),
    (0.0, 0.0, 1.0, 2.05),
    (10.0, 0.0, 1.0, 1.1),
    (55.0, 60.0, 8.0, 5.0),
    (1.0, 0.0, 1.0, 200.0),
    (-0.7, 0.1, 1.3, 1e4),
    (1.7320508, 0.0, 1.0, 3.0),  # |z| ≈ √ν, where the overflow-safe log(1 + z²/ν) switches form
    (-1.7320509, 0.0, 1.0, 3.0),
]


@pytest.mark.parametrize(("y", "mu", "sigma"), NORMAL_CASES)
def test_crps_normal_matches_numerical_integrals(y: float, mu: float, sigma: float) -> None:
    got = float(crps_normal(y, mu, sigma))
    assert got == pytest.approx(crps_threshold_integral(y, mu, sigma, np.inf), rel=1e-8)
    assert got == pytest.approx(crps_quantile_integral(y, mu, sigma, np.inf), rel=1e-7)


@pytest.mark.parametrize(("y", "mu", "sigma", "nu"), STUDENT_CASES)
def test_crps_student_t_matches_numerical_integrals(
    y: float, mu: float, sigma: float, nu: float
) -> None:
    got = float(crps_student_t(y, mu, sigma, nu))
    assert got == pytest.approx(crps_threshold_integral(y, mu, sigma, nu), rel=1e-7)
    assert got == pytest.approx(crps_quantile_integral(y, mu, sigma, nu), rel=1e-6)


@pytest.mark.parametrize(
    ("y", "mu", "sigma", "nu"),
    [
        (1.0, 0.0, 1e-155, 3.0),
        (1.0, 0.0, 1e-200, 5.0),
        (2e155, 0.0, 1.0, 4.0),
        (-3e200, 1.0, 2.0, 2.5),
    ],
)
def test_crps_student_t_far_observation_is_the_distance(
    y: float, mu: float, sigma: float, nu: float
) -> None:
    """|z| = |y − μ|/σ above ~1.3e154 made z² overflow and returned NaN (0 · inf in the
    density term). Far out, CRPS = E|X − y| − ½E|X − X'| = |y − μ| − O(σ), so it equals the
    distance to relative precision, as the normal form already gave."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning on the way either
        got = float(crps_student_t(y, mu, sigma, nu))
        normal = float(crps_normal(y, mu, sigma))
    assert got == pytest.approx(abs(y - mu), rel=1e-12)
    assert normal == pytest.approx(abs(y - mu), rel=1e-12)


def test_crps_student_t_large_nu_tends_to_normal() -> None:
    y = np.linspace(-5, 5, 41)
    normal = crps_normal(y, 0.3, 1.7)
    np.testing.assert_array_equal(crps_student_t(y, 0.3, 1.7, np.inf), normal)
    np.testing.assert_array_equal(crps_student_t(y, 0.3, 1.7, None), normal)
    np.testing.assert_allclose(crps_student_t(y, 0.3, 1.7, 1e9), normal, rtol=1e-8)
    gaps = [np.max(np.abs(crps_student_t(y, 0.3, 1.7, nu) - normal)) for nu in (5, 50, 500)]
    assert gaps[0] > gaps[1] > gaps[2] > 0


def test_crps_broadcasts_and_mixes_normal_rows() -> None:
    y = np.array([[0.0], [1.0], [2.0]])  # (3, 1)
    mu = np.array([0.0, 0.5])  # (2,)
    nu = np.array([4.0, np.inf])
    out = crps_student_t(y, mu, 1.2, nu)
    assert out.shape == (3, 2)
    assert out[2, 0] == pytest.approx(float(crps_student_t(2.0, 0.0, 1.2, 4.0)))
    assert out[1, 1] == pytest.approx(float(crps_normal(1.0, 0.5, 1.2)))
    assert crps_normal([1.0, 2.0], 0.0, [1.0, 2.0]).shape == (2,)


def test_crps_is_minimised_at_the_median_and_scales_with_sigma() -> None:
    assert np.all(
        crps_student_t(np.linspace(-3, 3, 13), 0.0, 1.0, 3.0) >= crps_student_t(0, 0, 1, 3)
    )
    # CRPS(σ y; 0, σ) = σ CRPS(y; 0, 1): units of the observations.
    assert float(crps_student_t(2.0 * 7, 0, 7.0, 3.0)) == pytest.approx(
        7.0 * float(crps_student_t(2.0, 0, 1.0, 3.0))
    )


def test_crps_nan_observation_gives_nan() -> None:
    out = crps_student_t([0.0, np.nan], 0.0, 1.0, 5.0)
    assert np.isfinite(out[0]) and np.isnan(out[1])
    assert np.isnan(crps_normal(np.nan, 0.0, 1.0))


@pytest.mark.parametrize(
    ("sigma", "nu"), [(0.0, 3.0), (-1.0, 3.0), (np.inf, 3.0), (1.0, 1.0), (1.0, 0.5)]
)
def test_crps_student_t_rejects_bad_parameters(sigma: float, nu: float) -> None:
    with pytest.raises(InvalidParameterError):
        crps_student_t(0.0, 0.0, sigma, nu)


def test_crps_normal_rejects_bad_sigma_and_non_numeric() -> None:
    with pytest.raises(InvalidParameterError, match="sigma"):
        crps_normal(0.0, 0.0, [1.0, 0.0])
    with pytest.raises(InvalidParameterError):
        crps_normal("abc", 0.0, 1.0)
    with pytest.raises(InvalidParameterError, match="broadcast"):
        crps_normal([1.0, 2.0], [0.0, 0.0, 0.0], 1.0)


# --------------------------------------------------------------------------- ensemble CRPS


@settings(max_examples=60, deadline=None)
@given(
    x=arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e3, 1e3)),
    y=st.floats(-1e3, 1e3),
)
def test_crps_ensemble_equals_pairwise_formula(x: np.ndarray, y: float) -> None:
    assert float(crps_ensemble(y, x)) == pytest.approx(crps_pairwise(y, x), rel=1e-9, abs=1e-9)
    if x.size >= 2:
        assert float(crps_ensemble(y, x, fair=True)) == pytest.approx(
            crps_pairwise(y, x, fair=True), rel=1e-9, abs=1e-9
        )


def test_crps_ensemble_axis_and_broadcasting() -> None:
    rng = np.random.default_rng(1)
    samples = rng.normal(size=(4, 25, 3))  # ensemble along axis 1
    y = rng.normal(size=(4, 3))
    out = crps_ensemble(y, samples, axis=1)
    assert out.shape == (4, 3)
    assert out[2, 1] == pytest.approx(crps_pairwise(y[2, 1], samples[2, :, 1]))
    # one ensemble scored against many observations
    ens = rng.normal(size=40)
    many = crps_ensemble(np.array([0.0, 1.0, 2.0]), ens)
    assert many.shape == (3,)
    assert many[1] == pytest.approx(crps_pairwise(1.0, ens))


def test_crps_ensemble_single_member_is_absolute_error() -> None:
    assert float(crps_ensemble(3.0, [1.5])) == pytest.approx(1.5)
    with pytest.raises(InvalidParameterError, match="at least 2"):
        crps_ensemble(3.0, [1.5], fair=True)
    with pytest.raises(InvalidParameterError):
        crps_ensemble(3.0, 1.5)
    with pytest.raises(InvalidParameterError, match="axis"):
        crps_ensemble(3.0, [1.0, 2.0], axis=3)


@pytest.mark.parametrize("axis", ["a", None, 1.5, True])
def test_ensemble_and_quantile_axis_must_be_whole_numbers(axis: object) -> None:
    # "a" and None were numpy's TypeError; True was taken as axis 1
    with pytest.raises(InvalidParameterError, match=re.escape(f"bad ensemble axis {axis!r}")):
        crps_ensemble(1.0, [[1.0, 2.0]], axis=axis)
    with pytest.raises(InvalidParameterError, match=re.escape(f"bad quantile axis {axis!r}")):
        pinball_loss(1.0, [[1.0, 2.0]], [0.1, 0.9], axis=axis)


def test_numpy_integer_axis_is_an_axis() -> None:
    x = np.array([[1.0, 2.0, 4.0], [0.0, 3.0, 5.0]])
    np.testing.assert_array_equal(
        crps_ensemble(1.0, x, axis=np.int64(0)), crps_ensemble(1.0, x, axis=0)
    )
    np.testing.assert_array_equal(
        pinball_loss([1.0, 2.0, 3.0], x, [0.1, 0.9], axis=np.int64(0)),
        pinball_loss([1.0, 2.0, 3.0], x, [0.1, 0.9], axis=0),
    )


def test_crps_ensemble_large_normal_sample_matches_closed_form() -> None:
    rng = np.random.default_rng(20240501)
    y, mu, sigma, m = 0.7, 0.2, 1.5, 200_000
    x = rng.normal(mu, sigma, size=m)
    exact = float(crps_normal(y, mu, sigma))
    # The fair score is a U-statistic: its SE is sd(|x − y| − E_X'|x − X'|)/√m to first
    # order, with E_X'|x − X'| = σ [z(2Φ(z) − 1) + 2φ(z)] for X' ~ N(μ, σ²), z = (x − μ)/σ.
    z = (x - mu) / sigma
    mean_abs = sigma * (z * (2 * special.ndtr(z) - 1) + 2 * stats.norm.pdf(z))
    se = float(np.std(np.abs(x - y) - mean_abs) / math.sqrt(m))
    assert abs(float(crps_ensemble(y, x, fair=True)) - exact) < 4 * se
    # the plain (non-fair) score is biased upwards by ½ E|X − X'| / m = σ / (√π m)
    plain = float(crps_ensemble(y, x))
    assert abs(plain - exact - sigma / (math.sqrt(math.pi) * m)) < 4 * se


def test_crps_ensemble_nan_member_gives_nan() -> None:
    out = crps_ensemble([0.0, 0.0], np.array([[1.0, 2.0, 3.0], [1.0, np.nan, 3.0]]))
    assert np.isfinite(out[0]) and np.isnan(out[1])


# --------------------------------------------------------------------------- pinball


def test_pinball_at_median_is_half_absolute_error() -> None:
    rng = np.random.default_rng(2)
    y, q = rng.normal(size=50), rng.normal(size=50)
    loss = pinball_loss(y, q[:, None], [0.5])
    assert loss.shape == (50, 1)
    np.testing.assert_allclose(loss[:, 0], 0.5 * np.abs(y - q))


def test_pinball_known_values_and_axis() -> None:
    taus = [0.1, 0.5, 0.9]
    preds = np.array([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])
    loss = pinball_loss([2.5, 0.0], preds, taus)
    # y = 2.5: q below y costs τ (y − q); q above y costs (1 − τ)(q − y)
    np.testing.assert_allclose(loss[0], [0.1 * 1.5, 0.5 * 0.5, 0.1 * 0.5])
    np.testing.assert_allclose(loss[1], [0.9 * 1.0, 0.5 * 2.0, 0.1 * 3.0])
    np.testing.assert_allclose(pinball_loss([2.5, 0.0], preds.T, taus, axis=0), loss.T)
    per_q, mean = mean_pinball_loss([2.5, 0.0], preds, taus)
    np.testing.assert_allclose(per_q, loss.mean(axis=0))
    assert mean == pytest.approx(loss.mean())


def test_mean_pinball_over_fine_grid_is_half_crps() -> None:
    # CRPS = 2 ∫ QS_τ dτ, so the mean over a fine uniform grid approaches CRPS / 2.
    taus = (np.arange(2000) + 0.5) / 2000
    y = np.array([-1.0, 0.4, 3.0])
    preds = predictive_quantile(taus, 0.0, 1.3, 4.0)[None, :]
    _, mean = mean_pinball_loss(y, np.repeat(preds, 3, axis=0), taus)
    # the midpoint rule's error on 2,000 points: measured 6.2e-7 relative
    assert mean == pytest.approx(float(np.mean(crps_student_t(y, 0.0, 1.3, 4.0))) / 2, rel=5e-6)


def test_mean_pinball_excludes_nan_observations() -> None:
    preds = np.array([[1.0, 2.0], [1.0, 2.0], [0.0, 5.0]])
    per_q, _ = mean_pinball_loss([1.5, np.nan, 1.0], preds, [0.25, 0.75])
    expected = pinball_loss([1.5, 1.0], preds[[0, 2]], [0.25, 0.75]).mean(axis=0)
    np.testing.assert_allclose(per_q, expected)
    with pytest.raises(InvalidParameterError, match="NaN"):
        mean_pinball_loss([1.5, 2.0], [[1.0, np.nan], [1.0, 2.0]], [0.25, 0.75])
    with pytest.raises(InvalidParameterError, match="no non-NaN"):
        mean_pinball_loss([np.nan], [[1.0, 2.0]], [0.25, 0.75])


@pytest.mark.parametrize("taus", [[0.0, 0.5], [0.5, 1.0], [], [[0.5]]])
def test_pinball_rejects_bad_quantile_grid(taus: list) -> None:
    with pytest.raises(InvalidParameterError):
        pinball_loss([1.0], [[1.0, 2.0]], taus)


def test_pinball_rejects_grid_length_mismatch() -> None:
    with pytest.raises(InvalidParameterError, match="quantiles"):
        pinball_loss([1.0], [[1.0, 2.0, 3.0]], [0.25, 0.75])


@settings(max_examples=50, deadline=None)
@given(
    y=st.floats(-1e4, 1e4),
    q=st.floats(-1e4, 1e4),
    tau=st.floats(0.001, 0.999),
)
def test_pinball_is_nonnegative_and_zero_at_the_observation(y: float, q: float, tau: float) -> None:
    assert float(pinball_loss(y, [q], [tau])[0]) >= 0.0
    assert float(pinball_loss(y, [y], [tau])[0]) == 0.0


# --------------------------------------------------------------------------- coverage, PIT


@pytest.mark.parametrize("level", [0.5, 0.8, 0.95])
def test_coverage_of_correct_model_matches_level(level: float) -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    mu = rng.normal(50.0, 10.0, n)
    sigma = rng.uniform(2.0, 8.0, n)
    nu = rng.choice([3.0, 6.0, np.inf], n)
    y = mu + sigma * np.where(np.isinf(nu), rng.standard_normal(n), rng.standard_t(nu))
    lower, upper = central_interval(mu, sigma, nu, level=level)
    covered = float(np.mean(interval_coverage(y, lower, upper)))
    se = math.sqrt(level * (1 - level) / n)
    assert abs(covered - level) < 4 * se


def test_central_interval_from_ppf_equals_parameters() -> None:
    lo, hi = central_interval(level=0.9, ppf=lambda t: stats.t.ppf(t, 5, loc=1.0, scale=2.0))
    lo2, hi2 = central_interval(1.0, 2.0, 5.0, level=0.9)
    assert float(lo) == pytest.approx(float(lo2)) and float(hi) == pytest.approx(float(hi2))
    assert float(lo2) == pytest.approx(1.0 + 2.0 * stats.t.ppf(0.05, 5))
    with pytest.raises(InvalidParameterError):
        central_interval(1.0, 2.0, level=1.0)
    with pytest.raises(InvalidParameterError):
        central_interval(1.0, 2.0, level=0.9, ppf=stats.norm.ppf)
    with pytest.raises(InvalidParameterError):
        central_interval(level=0.9)


def test_interval_coverage_closed_bounds_and_nan() -> None:
    out = interval_coverage([1.0, 2.0, 3.0, np.nan, 0.5], 1.0, [2.0, 2.0, 2.5, 2.0, np.nan])
    np.testing.assert_array_equal(out[:3], [1.0, 1.0, 0.0])
    assert np.isnan(out[3]) and np.isnan(out[4])
    with pytest.raises(InvalidParameterError, match="lower"):
        interval_coverage(1.0, 2.0, 1.0)


def test_pit_of_correct_model_is_uniform_and_of_overconfident_model_is_not() -> None:
    rng = np.random.default_rng(11)
    n = 5_000
    mu = rng.normal(0.0, 5.0, n)
    sigma = rng.uniform(0.5, 3.0, n)
    y = mu + sigma * rng.standard_t(4.0, n)
    u = pit(y, mu, sigma, 4.0)
    assert np.all((u > 0) & (u < 1))
    assert stats.kstest(u, "uniform").pvalue > 0.01
    assert stats.kstest(pit(y, mu, 0.6 * sigma, 4.0), "uniform").pvalue < 1e-6
    assert stats.kstest(pit(y, mu, sigma), "uniform").pvalue < 1e-3  # normal: tails too thin


def test_pit_with_cdf_callable_and_nan() -> None:
    y = np.array([-1.0, 0.0, 2.0, np.nan])
    by_params = pit(y, 0.5, 2.0, 6.0)
    by_cdf = pit(y, cdf=lambda v: stats.t.cdf(v, 6.0, loc=0.5, scale=2.0))
    np.testing.assert_allclose(by_params, by_cdf)
    assert np.isnan(by_params[3])
    np.testing.assert_allclose(predictive_cdf(y[:3], 0.5, 2.0), stats.norm.cdf(y[:3], 0.5, 2.0))
    with pytest.raises(InvalidParameterError):
        pit(y, 0.5, 2.0, cdf=stats.norm.cdf)
    with pytest.raises(InvalidParameterError):
        pit(y)


def test_predictive_quantile_inverts_cdf() -> None:
    taus = np.array([0.01, 0.3, 0.5, 0.97])
    q = predictive_quantile(taus, 3.0, 0.5, 2.5)
    np.testing.assert_allclose(predictive_cdf(q, 3.0, 0.5, 2.5), taus, rtol=1e-10)
    assert q[2] == pytest.approx(3.0)  # median of a symmetric location-scale law is mu
    with pytest.raises(InvalidParameterError):
        predictive_quantile(1.0, 0.0, 1.0)


# --------------------------------------------------------------------------- MAE, RMSE


def test_mae_rmse_known_values_exclude_nan_observations() -> None:
    y = [1.0, 2.0, np.nan, 4.0]
    med = [2.0, 2.0, 100.0, 1.0]
    assert mae(y, med) == pytest.approx((1 + 0 + 3) / 3)
    assert rmse(y, med) == pytest.approx(math.sqrt((1 + 0 + 9) / 3))
    with pytest.raises(InvalidParameterError, match="NaN where y is observed"):
        mae([1.0, 2.0], [1.0, np.nan])
    with pytest.raises(InvalidParameterError, match="no non-NaN"):
        rmse([np.nan], [1.0])


# --------------------------------------------------------------------------- DataFrame helpers


def _forecast_frame(n: int, seed: int, with_nu: bool = True) -> tuple[pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    idx = pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")
    mu = rng.normal(60.0, 15.0, n)
    sigma = rng.uniform(3.0, 12.0, n)
    frame = {"mu": mu, "sigma": sigma}
    if with_nu:
        frame["nu"] = np.full(n, 5.0)
    y = mu + sigma * rng.standard_t(5.0, n)
    return pd.Series(y, index=idx, name="price"), pd.DataFrame(frame, index=idx)


def test_score_forecast_values_match_the_per_observation_functions() -> None:
    y, fc = _forecast_frame(200, seed=3)
    scores = score_forecast(y, fc)
    assert set(scores) == {"n", "crps", "mae", "rmse", "pinball", "coverage_80", "coverage_95"}
    yy, mu, sg = y.to_numpy(), fc["mu"].to_numpy(), fc["sigma"].to_numpy()
    assert scores["n"] == 200
    assert scores["crps"] == pytest.approx(float(np.mean(crps_student_t(yy, mu, sg, 5.0))))
    assert scores["mae"] == pytest.approx(float(np.mean(np.abs(yy - mu))))
    assert scores["rmse"] == pytest.approx(float(np.sqrt(np.mean((yy - mu) ** 2))))
    lo, hi = mu + sg * stats.t.ppf(0.1, 5.0), mu + sg * stats.t.ppf(0.9, 5.0)
    assert scores["coverage_80"] == pytest.approx(float(np.mean((yy >= lo) & (yy <= hi))))
    taus = np.array(DEFAULT_QUANTILES)
    qp = mu[:, None] + sg[:, None] * stats.t.ppf(taus, 5.0)
    assert scores["pinball"] == pytest.approx(float(np.mean(pinball_loss(yy, qp, taus))))

    # the 19-point grid (0.05 .. 0.95) is a coarse Riemann sum of CRPS / 2 that leaves out the
    # tails, where the quantile score is small. For a t(ν) forecast of its own law the expected
    # score at level τ is σ·g(τ), g(τ) = (ν + q²)/(ν − 1)·f_ν(q), q = F_ν⁻¹(τ) (from
    # E[T·1{T<q}] = −(ν + q²)/(ν − 1)·f_ν(q)), so the ratio E[pinball] / E[CRPS / 2] is
    # mean_grid g / ∫₀¹ g: checked here against quad, then the sample's ratio against it
    def g(tau: np.ndarray) -> np.ndarray:
        q = stats.t.ppf(tau, 5.0)
        return (5.0 + q**2) / 4.0 * stats.t.pdf(q, 5.0)

    for tau in (0.05, 0.3, 0.5, 0.9):
        q = float(stats.t.ppf(tau, 5.0))

        def score(v: float, tau: float = tau, q: float = q) -> float:
            return float((tau - (v < q)) * (v - q) * stats.t.pdf(v, 5.0))

        by_quad = sum(integrate.quad(score, a, b)[0] for a, b in ((-np.inf, q), (q, np.inf)))
        assert g(np.array(tau)) == pytest.approx(by_quad, rel=1e-8)
    expected_ratio = g(taus).mean() / integrate.quad(g, 0.0, 1.0)[0]  # 1.0465: 4.7 % high
    per_obs = np.mean(pinball_loss(yy, qp, taus), axis=1)
    half_crps = crps_student_t(yy, mu, sg, 5.0) / 2
    ratio = scores["pinball"] / (scores["crps"] / 2)
    # delta-method standard error of a ratio of two means of the same 200 draws
    se = np.std(per_obs - ratio * half_crps, ddof=1) / np.sqrt(yy.size) / half_crps.mean()
    assert abs(ratio - expected_ratio) < 4 * se  # 1.0440 vs 1.0465, se 0.0018 (seed 3)


def test_score_forecast_normal_when_nu_absent_or_infinite() -> None:
    y, fc = _forecast_frame(50, seed=4, with_nu=False)
    normal = score_forecast(y, fc, levels=(0.5, 0.975))
    assert set(normal) >= {"coverage_50", "coverage_97.5"}
    expected = float(np.mean(crps_normal(y.to_numpy(), fc["mu"], fc["sigma"])))
    assert normal["crps"] == pytest.approx(expected)
    assert score_forecast(y, fc.assign(nu=np.inf), levels=(0.5, 0.975)) == normal


def test_score_forecast_excludes_nan_observations_and_aligns_by_index() -> None:
    y, fc = _forecast_frame(48, seed=5)
    y_nan = y.copy()
    y_nan.iloc[[3, 10, 11]] = np.nan
    full = score_forecast(y_nan, fc)
    assert full["n"] == 45
    assert full == score_forecast(y.drop(y.index[[3, 10, 11]]), fc)
    # extra forecast rows and a different row order do not matter
    shuffled = fc.sample(frac=1.0, random_state=0)
    assert score_forecast(y_nan, shuffled) == pytest.approx(full)
    # plain arrays are aligned by position
    assert score_forecast(y_nan.to_numpy(), fc) == pytest.approx(full)
    cv = crps_values(y_nan, fc)
    assert len(cv) == 45 and y.index[3] not in cv.index
    assert cv.mean() == pytest.approx(full["crps"])
    pv = pit_values(y_nan, fc)
    assert pv.index.equals(cv.index) and pv.between(0, 1).all()
    kept = fc.loc[pv.index]  # the PIT is the predictive t CDF at the observation (scipy)
    reference = stats.t.cdf(y_nan.loc[pv.index], 5.0, loc=kept["mu"], scale=kept["sigma"])
    np.testing.assert_allclose(pv.to_numpy(), reference, rtol=1e-12, atol=1e-15)
    normal = pit_values(y_nan, fc.drop(columns="nu"))  # no nu: the normal CDF
    reference = stats.norm.cdf(y_nan.loc[pv.index], loc=kept["mu"], scale=kept["sigma"])
    np.testing.assert_allclose(normal.to_numpy(), reference, rtol=1e-12, atol=1e-15)


def test_score_forecast_rejects_bad_forecasts() -> None:
    y, fc = _forecast_frame(24, seed=6)
    with pytest.raises(InvalidParameterError, match="no forecast row"):
        score_forecast(y, fc.iloc[:-2])
    with pytest.raises(InvalidParameterError, match="sigma"):
        score_forecast(y, fc.drop(columns="sigma"))
    bad = fc.copy()
    bad.iloc[5, bad.columns.get_loc("mu")] = np.nan
    with pytest.raises(InvalidParameterError, match="mu has NaN"):
        score_forecast(y, bad)
    y_nan = y.copy()
    y_nan.iloc[5] = np.nan
    assert score_forecast(y_nan, bad)["n"] == 23  # NaN forecast where nothing was observed
    with pytest.raises(InvalidParameterError, match="nu"):
        score_forecast(y, fc.assign(nu=1.0))
    with pytest.raises(InvalidParameterError, match="sigma"):
        score_forecast(y, fc.assign(sigma=0.0))
    with pytest.raises(InvalidParameterError, match="level"):
        score_forecast(y, fc, levels=(95,))
    with pytest.raises(InvalidParameterError, match="rows"):
        score_forecast(y.to_numpy()[:-1], fc)
    with pytest.raises(InvalidParameterError, match="no non-NaN"):
        score_forecast(y * np.nan, fc)


@pytest.mark.parametrize(
    ("levels", "match"),
    [
        (["a"], "interval level must be in (0, 1), got 'a'"),  # was float()'s ValueError
        (["0.8"], "interval level must be in (0, 1), got '0.8'"),  # was taken as 0.8
        ([[0.8, 0.95]], "interval level must be in (0, 1), got [0.8, 0.95]"),
        ([True], "interval level must be in (0, 1), got True"),
        ([math.nan], "interval level must be in (0, 1), got nan"),
        (None, "levels must be interval levels in (0, 1), e.g. (0.8, 0.95), got None"),
        ("a", "levels must be interval levels in (0, 1), e.g. (0.8, 0.95), got 'a'"),
    ],
)
def test_score_forecast_refuses_bad_levels(levels: object, match: str) -> None:
    y, fc = _forecast_frame(24, seed=6)
    with pytest.raises(InvalidParameterError, match=re.escape(match)):
        score_forecast(y, fc, levels=levels)


def test_score_forecast_takes_one_level_or_numpy_levels() -> None:
    y, fc = _forecast_frame(24, seed=6)
    expected = score_forecast(y, fc, levels=(0.8,))
    assert score_forecast(y, fc, levels=0.8) == expected  # was TypeError: not iterable
    assert score_forecast(y, fc, levels=np.array([0.8])) == expected
    assert score_forecast(y, fc, levels=np.array(0.8)) == expected  # was "iteration over 0-d"


# --------------------------------------------------------------------------- Diebold-Mariano

# Hand example, n = 8. loss_a − loss_b = d = [2, −1, 3, 0, 1, −2, 4, 1].
LOSS_A = np.array([5.0, 3.0, 5.0, 5.0, 4.0, 4.0, 5.0, 3.0])
LOSS_B = np.array([3.0, 4.0, 2.0, 5.0, 3.0, 6.0, 1.0, 2.0])


def _t7_two_sided_p(t: float) -> float:
    """P(|T₇| ≥ t) from the closed form for odd degrees of freedom (ν = 7), θ = atan(t/√7):
    P(|T| < t) = (2/π) [θ + sin θ (cos θ + (2/3) cos³ θ + (8/15) cos⁵ θ)]."""
    th = math.atan(t / math.sqrt(7))
    c = math.cos(th)
    inside = (2 / math.pi) * (th + math.sin(th) * (c + (2 / 3) * c**3 + (8 / 15) * c**5))
    return 1.0 - inside


def test_dm_hand_example_horizon_1() -> None:
    d = LOSS_A - LOSS_B
    np.testing.assert_array_equal(d, [2, -1, 3, 0, 1, -2, 4, 1])
    # mean: (2 − 1 + 3 + 0 + 1 − 2 + 4 + 1) / 8 = 8 / 8 = 1
    # deviations e = d − 1 = [1, −2, 2, −1, 0, −3, 3, 0]
    # γ0 = (1 + 4 + 4 + 1 + 0 + 9 + 9 + 0) / 8 = 28 / 8 = 3.5
    # DM = 1 / sqrt(3.5 / 8) = sqrt(8 / 3.5) = 1.5118578920...
    # HLN factor, h = 1: sqrt((8 + 1 − 2 + 0) / 8) = sqrt(7 / 8)
    # DM* = sqrt(8 / 3.5 · 7 / 8) = sqrt(2) = 1.4142135624
    # p = P(|T₇| ≥ √2) = 0.2002000742
    res = diebold_mariano(LOSS_A, LOSS_B)
    assert isinstance(res, DieboldMarianoResult)
    assert res.n == 8 and res.horizon == 1 and res.alternative == "two-sided"
    assert res.mean_difference == pytest.approx(1.0)
    assert res.long_run_variance == pytest.approx(3.5)
    assert res.statistic == pytest.approx(math.sqrt(2.0), rel=1e-12)
    assert _t7_two_sided_p(math.sqrt(2.0)) == pytest.approx(0.2002000742, abs=1e-10)
    assert res.p_value == pytest.approx(_t7_two_sided_p(math.sqrt(2.0)), rel=1e-10)
    # one-sided: A has the higher mean loss, so "greater" is half the two-sided p
    greater = diebold_mariano(LOSS_A, LOSS_B, alternative="greater")
    less = diebold_mariano(LOSS_A, LOSS_B, alternative="less")
    assert greater.p_value == pytest.approx(0.2002000742 / 2, abs=1e-10)
    assert less.p_value == pytest.approx(1 - 0.2002000742 / 2, abs=1e-10)
    assert greater.statistic == less.statistic == res.statistic


def test_dm_hand_example_horizon_3() -> None:
    # e = [1, −2, 2, −1, 0, −3, 3, 0], γ0 = 28 / 8 = 3.5
    # γ1 = (e2e1 + e3e2 + ... + e8e7) / 8 = (−2 − 4 − 2 + 0 + 0 − 9 + 0) / 8 = −17 / 8 = −2.125
    # γ2 = (e3e1 + e4e2 + ... + e8e6) / 8 = (2 + 2 + 0 + 3 + 0 + 0) / 8 = 7 / 8 = 0.875
    # V = γ0 + 2 (γ1 + γ2) = 3.5 + 2 (−1.25) = 1.0;  DM = 1 / sqrt(1 / 8) = sqrt(8)
    # HLN factor² = (8 + 1 − 6 + 3·2/8) / 8 = 3.75 / 8;  DM* = sqrt(8 · 3.75 / 8) = sqrt(3.75)
    # p = P(|T₇| ≥ 1.9364916731) = 0.0940194488
    res = diebold_mariano(LOSS_A, LOSS_B, horizon=3)
    assert res.long_run_variance == pytest.approx(1.0)
    assert res.statistic == pytest.approx(math.sqrt(3.75), rel=1e-12)
    assert _t7_two_sided_p(math.sqrt(3.75)) == pytest.approx(0.0940194488, abs=1e-10)
    assert res.p_value == pytest.approx(_t7_two_sided_p(math.sqrt(3.75)), rel=1e-10)


def test_dm_hand_example_horizon_2_falls_back_to_lag_0_variance() -> None:
    # V = γ0 + 2 γ1 = 3.5 − 4.25 = −0.75 ≤ 0, so γ0 = 3.5 is used (as R's dm.test)
    # HLN factor² = (8 + 1 − 4 + 2/8) / 8 = 5.25 / 8;  DM* = sqrt(8 / 3.5 · 5.25 / 8) = sqrt(1.5)
    with pytest.warns(RuntimeWarning, match="not positive"):
        res = diebold_mariano(LOSS_A, LOSS_B, horizon=2)
    assert res.long_run_variance == pytest.approx(3.5)
    assert res.statistic == pytest.approx(math.sqrt(1.5), rel=1e-12)
    assert res.p_value == pytest.approx(_t7_two_sided_p(math.sqrt(1.5)), rel=1e-10)


def test_dm_sign_convention_and_symmetry() -> None:
    rng = np.random.default_rng(8)
    loss_good = np.abs(rng.normal(0, 1.0, 300))
    loss_bad = np.abs(rng.normal(0, 1.5, 300))
    res = diebold_mariano(loss_good, loss_bad, alternative="less")
    assert res.statistic < 0 and res.mean_difference < 0 and res.p_value < 1e-3
    swapped = diebold_mariano(loss_bad, loss_good)
    two = diebold_mariano(loss_good, loss_bad)
    assert swapped.statistic == pytest.approx(-two.statistic)
    assert swapped.p_value == pytest.approx(two.p_value)
    assert diebold_mariano(loss_good, loss_bad, alternative="greater").p_value > 0.999


def _rejection_rate(rng: np.random.Generator, n: int, horizon: int, reps: int) -> float:
    rejected = 0
    for _ in range(reps):
        loss_b = np.abs(rng.standard_normal(n))
        if horizon == 1:  # iid equal-loss forecasts
            loss_a = np.abs(rng.standard_normal(n))
        else:  # MA(h − 1) loss differential with mean zero, as for h-step forecasts
            e = rng.standard_normal(n + 2)
            loss_a = loss_b + e[2:] + 0.5 * e[1:-1] + 0.3 * e[:-2]
        rejected += diebold_mariano(loss_a, loss_b, horizon=horizon).p_value < 0.05
    return rejected / reps


@pytest.mark.parametrize(("n", "horizon"), [(50, 1), (100, 3)])
def test_dm_size_under_the_null(n: int, horizon: int) -> None:
    reps = 2000
    rate = _rejection_rate(np.random.default_rng(1234 + horizon), n, horizon, reps)
    se = math.sqrt(0.05 * 0.95 / reps)
    assert abs(rate - 0.05) < 4 * se


def test_dm_result_is_frozen_and_serialisable() -> None:
    res = diebold_mariano(LOSS_A, LOSS_B)
    d = res.to_dict()
    assert d == {
        "statistic": res.statistic,
        "p_value": res.p_value,
        "mean_difference": 1.0,
        "n": 8,
        "horizon": 1,
        "alternative": "two-sided",
        "long_run_variance": 3.5,
    }
    with pytest.raises(AttributeError):
        res.statistic = 0.0  # type: ignore[misc]


def test_dm_accepts_series_with_equal_index() -> None:
    idx = pd.date_range("2024-01-01", periods=8, freq="h", tz="UTC")
    res = diebold_mariano(pd.Series(LOSS_A, index=idx), pd.Series(LOSS_B, index=idx))
    assert res.statistic == pytest.approx(math.sqrt(2.0))
    with pytest.raises(InvalidParameterError, match="index"):
        diebold_mariano(pd.Series(LOSS_A, index=idx), pd.Series(LOSS_B, index=idx + idx.freq))


@pytest.mark.parametrize(
    ("a", "b", "kwargs", "match"),
    [
        (LOSS_A, LOSS_B[:-1], {}, "periods"),
        (LOSS_A, LOSS_B, {"horizon": 0}, "horizon"),
        (LOSS_A, LOSS_B, {"horizon": 8}, "horizon"),
        (LOSS_A, LOSS_B, {"horizon": 1.5}, "horizon"),
        (LOSS_A, LOSS_B, {"alternative": "two_sided"}, "alternative"),
        (np.append(LOSS_A[:-1], np.nan), LOSS_B, {}, "NaN"),
        (LOSS_A, LOSS_A, {}, "constant"),
        (LOSS_A + 1.0, LOSS_A, {}, "constant"),
        # constant but for the rounding of (a + 0.1) - a: DM* was about -1e16, p 0
        (LOSS_A * 1e3 + 0.1, LOSS_A * 1e3, {}, "constant"),
        (LOSS_A.reshape(2, 4), LOSS_B.reshape(2, 4), {}, "1-D"),
    ],
)
def test_dm_rejects_bad_input(a: np.ndarray, b: np.ndarray, kwargs: dict, match: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidParameterError, match=match):
            diebold_mariano(a, b, **kwargs)


def test_infinite_values_are_refused_by_the_scoring_helpers() -> None:
    """``mae([inf], [inf])`` was NaN with a RuntimeWarning, ``crps_values`` with ``mu = inf``
    an infinite score; ``nu = inf`` stays the normal distribution."""
    fc = pd.DataFrame({"mu": [0.0, 1.0, 2.0], "sigma": 1.0, "nu": [np.inf, 5.0, 5.0]})
    assert np.isfinite(crps_values([0.0, 1.0, 2.0], fc)).all()
    with pytest.raises(InvalidParameterError, match=r"^forecast column mu has infinite values"):
        crps_values([0.0, 1.0, 2.0], fc.assign(mu=[np.inf, 1.0, 2.0]))
    with pytest.raises(InvalidParameterError, match=r"^y has infinite values"):
        crps_values([0.0, -np.inf, 2.0], fc)
    with pytest.raises(InvalidParameterError, match=r"^y has infinite values"):
        mae([np.inf], [np.inf])
    with pytest.raises(InvalidParameterError, match=r"^median has infinite values"):
        mae([1.0, 2.0], [1.0, np.inf])


def test_pit_checks_what_a_cdf_returns() -> None:
    """A cdf returning 5 gave a PIT value of 5; one returning text a raw ValueError."""
    ok = pit(np.array([0.0, np.nan]), cdf=lambda y: y * 0 + 0.3)
    np.testing.assert_array_equal(ok, [0.3, np.nan])
    for bad in (lambda y: y + 5, lambda y: "a", lambda y: np.full(3, 0.5)):
        with pytest.raises(InvalidParameterError, match=r"^cdf\(y\) must return probabilities"):
            pit(np.array([0.0, 1.0]), cdf=bad)


def test_fair_must_be_a_bool() -> None:
    """``fair='no'`` was read as True."""
    with pytest.raises(InvalidParameterError, match=r"^fair must be True or False, got 'no'"):
        crps_ensemble(0.0, [1.0, 2.0], fair="no")


def test_dm_says_overflow_not_constant() -> None:
    """Losses near 1e308 overflowed in a - b and were called "a constant loss differential"
    (with overflow RuntimeWarnings)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(InvalidParameterError, match=r"too large to difference .*overflow"):
            diebold_mariano([1e308, -1e308, 1e308], [-1e308, 1e308, 0.0])
