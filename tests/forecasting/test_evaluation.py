"""evaluate_forecasters and `btut forecast evaluate` on short real periods."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from btut.cli import main
from data import InvalidParameterError, load_market_data
from forecasting import SeasonalNaiveForecaster, StudentTForecaster, TSOForecaster
from forecasting.evaluation import evaluate_forecasters, parse_period
from forecasting.features import cutoff_for_day
from forecasting.metrics import crps_student_t, diebold_mariano
from forecasting.models import BaseForecaster

D = dt.date


def _tiny_models(epf: bool = False):
    """``epf``: whole-day target profiles as features, random validation days."""
    extra = (
        {"profile_lags": (1, 2, 3, 7), "exog_lags": (1, 7), "validation_split": "random"}
        if epf
        else {}
    )
    return {
        "student_t": StudentTForecaster(hidden=(8,), max_epochs=3, random_state=1, **extra),
        "seasonal_naive": SeasonalNaiveForecaster(),
        "tso": TSOForecaster(),
    }


@pytest.fixture(scope="module")
def es_frame() -> pd.DataFrame:
    return load_market_data("ES", "2016-01-01", "2016-03-15")


@pytest.fixture(scope="module")
def tiny_evaluation(es_frame):
    """A tiny Student-t, seasonal naive and TSO, trained Jan 8 – Feb 29, tested Mar 1–10."""
    return evaluate_forecasters(
        es_frame,
        "load_mw",
        train=(D(2016, 1, 8), D(2016, 2, 29)),
        test=(D(2016, 3, 1), D(2016, 3, 10)),
        models=_tiny_models(),
    )


def test_scores_match_an_independent_computation(tiny_evaluation):
    res = tiny_evaluation
    assert set(res.scores) == {"student_t", "seasonal_naive", "tso"}
    y = res.observed
    for name, fc in res.forecasts.items():
        f = fc.loc[y.index]
        crps = crps_student_t(
            y.to_numpy(), f["mu"].to_numpy(), f["sigma"].to_numpy(), f["nu"].to_numpy()
        )
        assert res.scores[name].crps == pytest.approx(crps.mean(), rel=1e-12)
        assert res.scores[name].mae == pytest.approx(np.abs(y - f["mu"]).mean(), rel=1e-12)
        rmse = np.sqrt(((y - f["mu"]) ** 2).mean())  # of the median: mu (symmetric law)
        assert res.scores[name].rmse == pytest.approx(rmse, rel=1e-12)
        for level, got in (
            (0.8, res.scores[name].coverage_80),
            (0.95, res.scores[name].coverage_95),
        ):
            half = f["sigma"] * stats.t.ppf(0.5 + level / 2, f["nu"])  # closed central interval
            inside = (y >= f["mu"] - half) & (y <= f["mu"] + half)
            assert got == pytest.approx(inside.mean(), rel=1e-12)
    # DM on daily mean CRPS, one-sided
    days = y.index.tz_convert("Europe/Madrid").date
    ref = res.forecasts["student_t"].loc[y.index]
    other = res.forecasts["tso"].loc[y.index]
    loss_ref = pd.Series(crps_student_t(y, ref["mu"], ref["sigma"], ref["nu"])).groupby(days).mean()
    loss_oth = (
        pd.Series(crps_student_t(y, other["mu"], other["sigma"], other["nu"])).groupby(days).mean()
    )
    p = diebold_mariano(loss_ref, loss_oth, alternative="less").p_value
    assert res.scores["tso"].dm_pvalue_vs_student_t == pytest.approx(p, rel=1e-12)
    assert res.scores["student_t"].dm_pvalue_vs_student_t is None
    out = res.to_dict()
    assert set(out) >= {"zone", "target", "train", "test", "models"}
    assert set(out["models"]["tso"]) >= {
        "crps",
        "mae",
        "coverage_80",
        "coverage_95",
        "dm_pvalue_vs_student_t",
    }


def test_training_frames_carry_the_week_before_for_the_lags(es_frame):
    """The models are fitted on the train period plus the week before it (the lags' history,
    not training rows): the first row a model sees is local midnight of train start - 7 days."""

    seen = []

    class Spy(SeasonalNaiveForecaster):
        def fit(self, frame, target, **kwargs):
            seen.append(frame.index.min())
            return super().fit(frame, target, **kwargs)

    evaluate_forecasters(
        es_frame,
        "load_mw",
        train=(D(2016, 1, 15), D(2016, 2, 29)),
        test=(D(2016, 3, 1), D(2016, 3, 3)),
        models={"seasonal_naive": Spy()},
    )
    assert seen == [pd.Timestamp("2016-01-08 00:00", tz="Europe/Madrid")]


@pytest.mark.parametrize("epf", [False, True], ids=["default", "epf"])
def test_daily_recalibration_never_sees_the_future(es_frame, epf):
    """Perturb everything unknown at the cut-off of 2016-03-05: forecasts of 03-01..03-05
    stay bit-identical with daily refits (also with whole-day profiles as features and
    randomly drawn validation days)."""
    kw = dict(
        train=(D(2016, 1, 8), D(2016, 2, 29)), test=(D(2016, 3, 1), D(2016, 3, 5)), recalibrate=1
    )
    base = evaluate_forecasters(es_frame, "load_mw", models=_tiny_models(epf), **kw)
    cut = cutoff_for_day(D(2016, 3, 5), "Europe/Madrid")
    noisy = es_frame.copy()
    rng = np.random.default_rng(0)
    late = noisy.index >= cut  # measured values of intervals ending after the cut-off
    for col in ("load_mw", "solar_mw", "wind_mw"):
        noisy.loc[late, col] = rng.normal(1e4, 1e3, late.sum())
    day_d = noisy.index >= pd.Timestamp("2016-03-04T23:00Z")  # prices of D are not known
    noisy.loc[day_d, "price_eur_per_mwh"] = rng.normal(50, 30, day_d.sum())
    after_d = noisy.index >= pd.Timestamp("2016-03-05T23:00Z")  # forecasts of days after D
    for col in ("load_forecast_mw", "solar_forecast_mw", "wind_forecast_mw"):
        noisy.loc[after_d, col] = 0.0
    moved = evaluate_forecasters(noisy, "load_mw", models=_tiny_models(epf), **kw)
    for name in base.forecasts:
        pd.testing.assert_frame_equal(base.forecasts[name], moved.forecasts[name])


def test_recalibration_gives_the_callers_models_their_parameters_back(es_frame):
    """Refits warm-start the networks (``max_epochs`` = ``warm_epochs``); afterwards the
    caller's models have the parameters they were given, and are fitted."""
    models = _tiny_models()
    given = {name: m.get_params() for name, m in models.items()}
    evaluate_forecasters(
        es_frame,
        "load_mw",
        models=models,
        train=(D(2016, 1, 8), D(2016, 2, 29)),
        test=(D(2016, 3, 1), D(2016, 3, 3)),
        recalibrate=1,
        warm_epochs=2,
    )
    for name, model in models.items():
        assert model.get_params() == given[name]
        assert hasattr(model, "target_")  # fitted on the last block


def test_the_first_fit_forgets_a_fit_the_caller_made_before(es_frame):
    """A network fitted earlier on the whole frame (the test period included) with
    ``warm_start=True``: the evaluation's first fit starts afresh, so its forecasts equal a
    fresh model's (they kept the old weights and scalers before: 4 GW apart)."""
    train, test = (D(2016, 1, 8), D(2016, 2, 29)), (D(2016, 3, 1), D(2016, 3, 3))
    kw = {"hidden": (8,), "max_epochs": 3, "random_state": 1, "warm_start": True}
    seen = StudentTForecaster(**kw).fit(es_frame, "load_mw")  # saw March too
    old_scale = seen.x_mean_.copy()
    used = evaluate_forecasters(
        es_frame, "load_mw", train=train, test=test, models={"student_t": seen}
    )
    fresh = evaluate_forecasters(
        es_frame, "load_mw", train=train, test=test, models={"student_t": StudentTForecaster(**kw)}
    )
    pd.testing.assert_frame_equal(used.forecasts["student_t"], fresh.forecasts["student_t"])
    assert not seen.x_mean_.equals(old_scale)
    assert seen.get_params()["warm_start"] is True  # given back


def test_periods_as_text_are_the_same_periods(es_frame):
    """``train``/``test`` as ``YYYY-MM-DD`` texts (as the CLI takes them) give the same
    evaluation as dates (a TypeError before)."""
    kw = {"train": ("2016-01-08", "2016-02-29"), "test": ("2016-03-01", "2016-03-02")}
    models = {"seasonal_naive": SeasonalNaiveForecaster()}
    text = evaluate_forecasters(es_frame, "load_mw", models=models, **kw)
    dates = evaluate_forecasters(
        es_frame,
        "load_mw",
        models={"seasonal_naive": SeasonalNaiveForecaster()},
        train=(D(2016, 1, 8), D(2016, 2, 29)),
        test=(D(2016, 3, 1), D(2016, 3, 2)),
    )
    assert text.test == dates.test and text.train == dates.train
    pd.testing.assert_frame_equal(  # but for the fit's timing
        text.to_frame().drop(columns="fit_s"), dates.to_frame().drop(columns="fit_s")
    )
    with pytest.raises(InvalidParameterError, match="test end '2016-03-32' is not a date"):
        evaluate_forecasters(
            es_frame, "load_mw", models=models, train=kw["train"], test=("2016-03-01", "2016-03-32")
        )
    with pytest.raises(InvalidParameterError, match="train must be"):
        evaluate_forecasters(es_frame, "load_mw", models=models, train="2016", test=kw["test"])


def test_bad_periods():
    with pytest.raises(InvalidParameterError, match="START:END"):
        parse_period("2016-01-01")
    with pytest.raises(InvalidParameterError, match="ends before it starts"):
        parse_period("2016-02-01:2016-01-01")
    frame = load_market_data("ES", "2016-01-01", "2016-02-01")
    with pytest.raises(InvalidParameterError, match="must start after"):
        evaluate_forecasters(
            frame,
            "load_mw",
            train=(D(2016, 1, 1), D(2016, 1, 20)),
            test=(D(2016, 1, 15), D(2016, 1, 25)),
            models=_tiny_models(),
        )
    # the boundary, from both sides: a test period starting on the training end would train
    # on and score the same day (a `<` for the `<=` passed every test); the next day is fine
    naive = {"seasonal_naive": SeasonalNaiveForecaster()}

    def from_the_20th(test_start: dt.date) -> Any:
        train, test = (D(2016, 1, 8), D(2016, 1, 20)), (test_start, D(2016, 1, 22))
        return evaluate_forecasters(frame, "load_mw", train=train, test=test, models=naive)

    with pytest.raises(InvalidParameterError, match="test 2016-01-20 must start after"):
        from_the_20th(D(2016, 1, 20))
    res = from_the_20th(D(2016, 1, 21))
    assert res.observed.index.tz_convert("Europe/Madrid").min() == pd.Timestamp(
        "2016-01-21 00:00", tz="Europe/Madrid"
    )


def test_the_first_fit_ends_at_the_training_end(es_frame):
    """With days between the training end and the test start, the first fit sees the
    training period only (the old code fitted up to the day before the test); refits expand
    to everything known at their block's cut-off."""

    seen = []

    class Spy(SeasonalNaiveForecaster):
        def fit(self, frame, target, **kwargs):
            local = frame.index.tz_convert("Europe/Madrid")
            seen.append((local.min(), local.max().date()))
            return super().fit(frame, target, **kwargs)

    train, test = ("2016-01-08", "2016-01-15"), ("2016-03-01", "2016-03-05")
    res = evaluate_forecasters(es_frame, "load_mw", train=train, test=test, models={"n": Spy()})
    assert res.train == (D(2016, 1, 8), D(2016, 1, 15))
    assert seen == [(pd.Timestamp("2016-01-01 00:00", tz="Europe/Madrid"), D(2016, 1, 15))]
    seen.clear()
    evaluate_forecasters(
        es_frame, "load_mw", train=train, test=test, models={"n": Spy()}, recalibrate=2
    )
    assert [last for _, last in seen] == [D(2016, 1, 15), D(2016, 3, 2), D(2016, 3, 4)]
    assert {first for first, _ in seen} == {pd.Timestamp("2016-01-01", tz="Europe/Madrid")}


def test_reversed_and_empty_periods_are_refused(es_frame):
    from data import DataUnavailableError

    models = {"n": SeasonalNaiveForecaster()}
    test = ("2016-03-01", "2016-03-05")
    with pytest.raises(InvalidParameterError, match=r"^train 2016-02-29:2016-01-08 ends before"):
        evaluate_forecasters(
            es_frame, "load_mw", train=("2016-02-29", "2016-01-08"), test=test, models=models
        )
    with pytest.raises(InvalidParameterError, match=r"^test 2016-03-05:2016-03-01 ends before"):
        evaluate_forecasters(
            es_frame,
            "load_mw",
            train=("2016-01-08", "2016-02-29"),
            test=("2016-03-05", "2016-03-01"),
            models=models,
        )
    with pytest.raises(DataUnavailableError) as info:
        evaluate_forecasters(
            es_frame, "load_mw", train=("2010-01-01", "2010-12-31"), test=test, models=models
        )
    message = str(info.value)
    assert "training period 2010-01-01..2010-12-31" in message
    assert "the data, which spans 2016-01-01..2016-03-14" in message and "\n" not in message


class _NeverFitted(SeasonalNaiveForecaster):
    def fit(self, frame, target, **kwargs):
        raise AssertionError("fitted before the arguments were checked")


_BAD_ARGUMENTS = [
    ({"frame": None}, ["frame", "DataFrame", "None"]),
    ({"target": ["load_mw"]}, ["target", "str", "['load_mw']"]),
    ({"recalibrate": "7"}, ["recalibrate", "integer >= 1", "'7'"]),
    ({"recalibrate": 2.5}, ["recalibrate", "integer >= 1", "2.5"]),
    ({"recalibrate": 0}, ["recalibrate", "integer >= 1", "0"]),
    ({"warm_epochs": -1}, ["warm_epochs", "integer >= 1", "-1"]),
    ({"warm_epochs": "5"}, ["warm_epochs", "integer >= 1", "'5'"]),
    ({"random_state": -1}, ["random_state", "integer >= 0", "-1"]),
    ({"random_state": 1.5}, ["random_state", "integer >= 0", "1.5"]),
    ({"models": [TSOForecaster()]}, ["models", "mapping", "TSOForecaster("]),
    ({"models": {"a": 5}}, ["models['a']", "forecaster", "5"]),
    ({"models": {}}, ["models", "at least one"]),
    ({"progress": 5}, ["progress", "callable", "5"]),
    ({"network": {"bogus": 1}}, ["network", "'bogus'", "hidden", "max_epochs"]),
    ({"network": 5}, ["network", "mapping", "5"]),
    ({"network": {"random_state": 3}, "models": None}, ["random_state", "3"]),
]


@pytest.mark.parametrize(
    ("bad", "words"), _BAD_ARGUMENTS, ids=[repr(bad)[:40] for bad, _ in _BAD_ARGUMENTS]
)
def test_bad_arguments_are_one_line_errors_before_any_work(es_frame, bad, words):
    """Arguments of the wrong type or range are one-line InvalidParameterErrors naming the
    argument and the value, raised before anything is fitted (an AttributeError, a TypeError
    or, for warm_epochs, an error after the first fit naming max_epochs before)."""
    kw = {
        "frame": es_frame,
        "target": "load_mw",
        "train": (D(2016, 1, 8), D(2016, 2, 29)),
        "test": (D(2016, 3, 1), D(2016, 3, 3)),
        "models": {"n": _NeverFitted()},
        "recalibrate": 1,
        **bad,
    }
    frame, target = kw.pop("frame"), kw.pop("target")
    with pytest.raises(InvalidParameterError) as info:
        evaluate_forecasters(frame, target, **kw)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, (word, message)


def _evaluate_args(zone: str, target: str, train: str, test: str, *, as_json: bool = True) -> list:
    """``btut forecast evaluate`` arguments."""
    args = ["forecast", "evaluate", "--zone", zone, "--target", target]
    return [*args, "--train", train, "--test", test, *(["--json"] if as_json else [])]


def test_cli_json_keys_and_models(capsys):
    code = main(
        _evaluate_args("DE", "price_eur_per_mwh", "2016-01-04:2016-02-28", "2016-02-29:2016-03-06")
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["zone"] == "DE" and out["target"] == "price_eur_per_mwh"
    assert out["train"] == "2016-01-04:2016-02-28" and out["test"] == "2016-02-29:2016-03-06"
    # the DE file has no TSO price forecast: no `tso` model
    assert set(out["models"]) == {"student_t", "gaussian", "seasonal_naive"}
    assert out["models"]["student_t"]["dm_pvalue_vs_student_t"] is None
    for m in out["models"].values():
        assert m["n_intervals"] == 7 * 24  # no DST day in the test week
        assert 0.0 <= m["coverage_80"] <= m["coverage_95"] <= 1.0


def test_cli_bad_input_is_one_line(capsys):
    assert (
        main(
            _evaluate_args(
                "ES", "load_mw", "2016-01-01:2016-02-01", "2016-01-15:2016-02-15", as_json=False
            )
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "must start after" in err and err.count("\n") == 1
    assert (
        main(
            _evaluate_args(
                "ES", "nope_mw", "2016-01-01:2016-02-01", "2016-02-02:2016-02-15", as_json=False
            )
        )
        == 2
    )
    assert "unknown --target 'nope_mw'" in capsys.readouterr().err


def test_cli_network_options_reach_the_models(capsys):
    args = _evaluate_args("ES", "load_mw", "2016-01-08:2016-02-28", "2016-02-29:2016-03-03")
    assert main([*args, "--hidden", "8", "--exog-lags", "1,7"]) == 0
    small = json.loads(capsys.readouterr().out)
    assert small["network"] == {"hidden": [8], "exog_lags": [1, 7]}
    assert main(args) == 0
    default = json.loads(capsys.readouterr().out)
    assert default["network"] == {}
    assert small["models"]["student_t"]["crps"] != default["models"]["student_t"]["crps"]
    assert small["models"]["tso"]["crps"] == default["models"]["tso"]["crps"]


def test_cli_price_params_and_model_subset(capsys):
    args = _evaluate_args(
        "DE", "price_eur_per_mwh", "2016-01-04:2016-02-28", "2016-02-29:2016-03-02"
    )
    code = main([*args, "--price-params", "--models", "student_t,seasonal_naive"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["models"]) == {"student_t", "seasonal_naive"}
    from forecasting import PRICE_PARAMS

    assert out["network"] == {
        k: list(v) if isinstance(v, tuple) else v for k, v in PRICE_PARAMS.items()
    }
    # the model list must hold the reference and only known models
    assert main([*args, "--models", "gaussian"]) == 2
    assert "--models must name student_t" in capsys.readouterr().err
    assert main([*args, "--models", "student_t,lear"]) == 2
    assert "'student_t,lear'" in capsys.readouterr().err


def test_cli_members_is_an_ensemble_of_the_seeds(capsys):
    args = _evaluate_args("ES", "load_mw", "2016-01-08:2016-02-28", "2016-02-29:2016-03-03")
    small = ["--hidden", "8", "--models", "student_t,tso"]
    assert main([*args, *small, "--members", "2"]) == 0
    ens = json.loads(capsys.readouterr().out)
    assert ens["network"] == {"hidden": [8], "n_members": 2}
    singles = []
    for seed in (0, 1):
        assert main([*args, *small, "--seed", str(seed)]) == 0
        singles.append(json.loads(capsys.readouterr().out)["models"]["student_t"]["crps"])
    assert ens["models"]["student_t"]["crps"] not in singles
    assert main([*args, "--members", "0"]) == 2


def test_score_forecasts_reproduces_the_evaluation(es_frame, tiny_evaluation):
    from forecasting.evaluation import score_forecasts

    res = tiny_evaluation
    observed = es_frame["load_mw"].dropna()
    observed = observed[observed.index.isin(res.forecasts["student_t"].index)]
    scores, used = score_forecasts(observed, res.forecasts, "Europe/Madrid")
    pd.testing.assert_series_equal(used, res.observed)
    for name, s in scores.items():
        want = res.scores[name]
        assert (s.crps, s.mae, s.dm_pvalue_vs_student_t) == (
            want.crps,
            want.mae,
            want.dm_pvalue_vs_student_t,
        )
    alone, _ = score_forecasts(observed, {"tso": res.forecasts["tso"]}, "Europe/Madrid")
    assert alone["tso"].crps == res.scores["tso"].crps  # the same intervals
    assert alone["tso"].dm_pvalue_vs_student_t is None  # no reference to test against


def test_cli_recency_halflife_weights_the_networks(capsys):
    args = _evaluate_args("ES", "load_mw", "2016-01-08:2016-02-28", "2016-02-29:2016-03-03")
    small = ["--hidden", "8", "--models", "student_t,tso"]
    assert main([*args, *small]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, *small, "--recency-halflife", "14"]) == 0
    recent = json.loads(capsys.readouterr().out)
    assert recent["network"] == {"hidden": [8], "recency_halflife_days": 14.0}
    assert recent["models"]["student_t"]["crps"] != plain["models"]["student_t"]["crps"]
    for key in ("crps", "mae", "coverage_80"):  # only the networks change
        assert recent["models"]["tso"][key] == plain["models"]["tso"][key]
    assert main([*args, "--recency-halflife", "0"]) == 2


def test_cli_location_blend_moves_only_the_networks_location(capsys):
    args = _evaluate_args("ES", "load_mw", "2016-01-08:2016-02-28", "2016-02-29:2016-03-03")
    small = ["--hidden", "8", "--models", "student_t,tso", "--centre", "load_forecast_mw"]
    assert main([*args, *small]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main([*args, *small, "--location-blend", "load_forecast_mw"]) == 0
    blend = json.loads(capsys.readouterr().out)
    assert blend["network"]["location_blend"] == "load_forecast_mw"
    assert blend["network"]["blend_weight"] == 0.5
    assert blend["models"]["student_t"]["mae"] != plain["models"]["student_t"]["mae"]
    for key in ("crps", "mae", "coverage_80"):  # only the networks change
        assert blend["models"]["tso"][key] == plain["models"]["tso"][key]
    # bad values: one line, exit 2
    for bad, msg in [
        (["--location-blend", "lear"], "prices"),
        (["--location-blend", "nope"], "'nope'"),
        (["--location-blend", "load_forecast_mw", "--blend-weight", "2"], "--blend-weight"),
        (["--blend-weight", "0.3"], "need --location-blend"),
        (["--location-blend", "load_forecast_mw", "--lear-windows", "56"], "lear-windows"),
    ]:
        assert main([*args, *small, *bad]) == 2, bad
        err = capsys.readouterr().err
        assert msg in err and "Traceback" not in err, (bad, err)


def test_cli_location_blend_with_lear_for_prices(capsys):
    args = _evaluate_args(
        "DE", "price_eur_per_mwh", "2016-01-04:2016-02-28", "2016-02-29:2016-03-02"
    )
    small = ["--hidden", "8", "--models", "student_t,seasonal_naive"]
    assert main([*args, *small]) == 0
    plain = json.loads(capsys.readouterr().out)
    blend = [*small, "--location-blend", "lear", "--lear-windows", "14,28", "--blend-weight", "1"]
    assert main([*args, *blend]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["network"]["location_blend"] == "lear"
    assert out["network"]["lear_windows"] == [14, 28]
    # weight 1: the location is the LEAR forecast itself, independent of the network
    from forecasting.lear import lear_forecasts

    frame = load_market_data("DE", "2016-01-04", "2016-03-03")
    lear = lear_forecasts(frame, days=["2016-02-29", "2016-03-01", "2016-03-02"], windows=(14, 28))
    y = frame["price_eur_per_mwh"].reindex(lear.index)
    assert out["models"]["student_t"]["mae"] == pytest.approx((lear["mean"] - y).abs().mean())
    assert out["models"]["student_t"]["mae"] != plain["models"]["student_t"]["mae"]


def test_cli_location_blend_loads_the_lear_history_and_reports_missing_windows(capsys):
    # training starts 30 days before the test: the 28-day window needs days before it
    args = _evaluate_args(
        "DE", "price_eur_per_mwh", "2016-02-01:2016-02-28", "2016-02-29:2016-03-01"
    )
    small = ["--hidden", "8", "--models", "student_t,seasonal_naive"]
    blend = ["--location-blend", "lear", "--lear-windows", "28", "--blend-weight", "1"]
    assert main([*args, *small, *blend]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert "warning" not in captured.err  # the window's days were loaded
    from forecasting.lear import lear_forecasts

    frame = load_market_data("DE", "2016-01-04", "2016-03-02")
    lear = lear_forecasts(frame, days=["2016-02-29", "2016-03-01"], windows=(28,))
    y = frame["price_eur_per_mwh"].reindex(lear.index)
    assert out["models"]["student_t"]["mae"] == pytest.approx((lear["mean"] - y).abs().mean())
    # a window longer than the bundled file reaches: one warning line, the run still scores
    first = ["--train", "2012-01-09:2012-03-31", "--test", "2012-04-01:2012-04-02"]
    argv = ["forecast", "evaluate", "--zone", "DE", "--target", "price_eur_per_mwh", *first]
    long = ["--location-blend", "lear", "--lear-windows", "400", "--json"]
    assert main([*argv, *small, *long]) == 0
    err = capsys.readouterr().err
    assert "btut: warning: 48 interval(s) on 2 day(s), 2012-04-01..2012-04-02, have no lear" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_test_gaps_are_reported_and_a_single_day_has_no_dm_test(es_frame):
    models = {
        "student_t": StudentTForecaster(hidden=(8,), max_epochs=2),
        "naive": SeasonalNaiveForecaster(),
    }

    def evaluate(frame, last_test_day):
        train, test = (D(2016, 1, 8), D(2016, 2, 29)), (D(2016, 3, 1), last_test_day)
        return evaluate_forecasters(frame, "load_mw", train=train, test=test, models=models)

    # three hours of 2016-03-03 and the whole of 2016-03-05 missing: warned, not scored
    local = es_frame.index.tz_convert("Europe/Madrid")
    gone = ((local.date == D(2016, 3, 3)) & np.isin(local.hour, [4, 5, 6])) | (
        local.date == D(2016, 3, 5)
    )
    frame = es_frame.loc[~gone]
    frame.attrs = dict(es_frame.attrs)
    with pytest.warns(UserWarning) as seen:
        res = evaluate(frame, D(2016, 3, 6))
    messages = [str(w.message) for w in seen]
    assert (
        "27 of 144 test intervals have no load_mw value in the data, on 2 day(s) "
        "(2016-03-03, 2016-03-05); they are not scored (nothing is filled)" in messages
    )
    assert not any("training intervals" in m for m in messages)
    assert res.scores["naive"].n_intervals == 144 - 27
    # the DM test on the daily mean CRPS of the scored intervals (2016-03-05 has none; the
    # 3rd has 21), computed here from the forecasts
    y = res.observed
    assert len(y) == 144 - 27 and not y.isna().any()
    days = y.index.tz_convert("Europe/Madrid").date
    daily = {}
    for name in ("student_t", "naive"):
        f = res.forecasts[name].loc[y.index]
        nu = f["nu"] if "nu" in f else np.inf
        daily[name] = pd.Series(crps_student_t(y, f["mu"], f["sigma"], nu)).groupby(days).mean()
    assert len(daily["naive"]) == 5
    p = diebold_mariano(daily["student_t"], daily["naive"], alternative="less").p_value
    assert res.scores["naive"].dm_pvalue_vs_student_t == pytest.approx(p, rel=1e-12)
    # one test day: the Diebold-Mariano test is undefined, its p-values are null (warned)
    with pytest.warns(UserWarning, match="needs at least 2 scored test days, got 1"):
        one = evaluate(es_frame, D(2016, 3, 1))
    assert one.scores["naive"].dm_pvalue_vs_student_t is None
    # complete test days: no warning at all
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        evaluate(es_frame, D(2016, 3, 2))


@pytest.mark.parametrize(
    ("models", "match"),
    [
        ([StudentTForecaster()], "models must be a mapping of names to forecasters"),
        ({}, "models must name at least one forecaster"),
        ({1: StudentTForecaster()}, r"models must be keyed by name \(str\), got 1"),
        ({"a": "student_t"}, r"models\['a'\] must be a forecaster"),
        # the base class has neither fit nor predict: an AttributeError on 'args' before
        ({"b": BaseForecaster()}, r"models\['b'\] must be a forecaster .* got BaseForecaster\(\)"),
    ],
)
def test_models_that_are_no_forecasters_are_refused(es_frame, models, match):
    with pytest.raises(InvalidParameterError, match=match):
        evaluate_forecasters(
            es_frame, "load_mw", train=("2016-01-08", "2016-02-28"),
            test=("2016-02-29", "2016-03-01"), models=models,
        )  # fmt: skip


def test_training_gaps_are_reported(es_frame):
    """A gap in the training period was silently left out of the fit (the CLI said nothing,
    while replay warns about a gap in its history)."""
    local = es_frame.index.tz_convert("Europe/Madrid")
    gone = ((local.date == D(2016, 2, 10)) & (local.hour == 5)) | (local.date == D(2016, 2, 20))
    frame = es_frame.loc[~gone]
    frame.attrs = dict(es_frame.attrs)
    frame.loc[frame.index[local[~gone].date == D(2016, 1, 9)][:2], "load_mw"] = np.nan
    models = {"naive": SeasonalNaiveForecaster()}
    with pytest.warns(UserWarning) as seen:
        evaluate_forecasters(
            frame,
            "load_mw",
            train=(D(2016, 1, 8), D(2016, 2, 29)),
            test=(D(2016, 3, 1), D(2016, 3, 3)),
            models=models,
        )
    messages = [str(w.message) for w in seen]
    assert (
        "27 of 1272 training intervals have no load_mw value in the data, on 3 day(s) "
        "(2016-01-09, 2016-02-10, 2016-02-20); they are not trained on (nothing is filled)"
        in messages
    ), messages
    assert not any("test intervals" in m for m in messages)
