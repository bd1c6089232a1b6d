"""Choose the forecaster's configuration on a validation year, never on the test year.

Fits Student-t and Gaussian networks (same body) for a few candidate configurations on
the first training year and scores them on the second, e.g. for the ES load evaluation
of issue 5 (train 2015, validate 2016; the test year 2017 is not touched)::

    python benchmarks/forecast_model_selection.py --zone ES --target load_mw \\
        --fit 2015-01-01:2015-12-31 --validate 2016-01-01:2016-12-31 [--json out.json]

The rounds recorded in ``benchmarks/results/forecast_selection_ES_load_2016_v2.json``
(one run of all candidates but ``load_params``, see its ``command``): the first six of
``forecast_selection_ES_load_2016.json``, then sigma recalibration, whole-day profiles,
the TSO's load forecast as the only exogenous input, the TSO's residual with its profile
of D-1, a smaller body, and weekly or daily recalibration (the ``*_seed1`` rows measure
seed noise, they are not candidates). The choice, ``tso_residual_weekly`` (= ``load_params``:
``forecasting.LOAD_PARAMS`` refitted every 7 days), had the lowest validation CRPS.

A candidate is a dict of network parameters (``StudentTForecaster``/``GaussianForecaster``)
and, optionally, the evaluation keys ``recalibrate`` (refit every N validation days on an
expanding window, warm start) and ``warm_epochs``; ``--recalibrate N`` sets N for the
candidates without their own. The choice is the lowest validation CRPS of the Student-t
model (``forecasting.LOAD_PARAMS`` for ES load: ``load_params``).

Once chosen, the test run of one candidate (all four models of ``evaluate_forecasters``:
Student-t, Gaussian with the same body, seasonal naive, TSO), in the
``btut forecast evaluate --json`` format plus the command and wall time::

    python benchmarks/forecast_model_selection.py --final load_params \\
        --train 2015-01-01:2016-12-31 --test 2017-01-01:2017-12-31 --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import sys
import time

import pandas as pd

from data import load_market_data
from forecasting import LOAD_PARAMS, GaussianForecaster, StudentTForecaster, TSOForecaster
from forecasting.evaluation import HISTORY_DAYS, default_models, evaluate_forecasters, parse_period

#: keys of a candidate that go to ``evaluate_forecasters``, not to the networks
EVAL_KEYS = ("recalibrate", "warm_epochs")
TSO_C = "load_forecast_mw"
PROFILES = {"profile_lags": (1, 2, 7), "exog_profile_lags": (0,)}
CAL = {"calibrate_sigma": True}
CANDIDATES: dict[str, dict] = {
    "default": {},
    "exog_lags": {"exog_lags": (1, 2, 7)},
    "exog_lags_dropout0.1": {"exog_lags": (1, 2, 7), "dropout": 0.1},
    "exog_lags_wide": {"exog_lags": (1, 2, 7), "hidden": (128, 128)},
    "tso_residual": {"centre": TSO_C},
    "tso_residual_exog_lags": {"centre": TSO_C, "exog_lags": (1, 2, 7)},
    # second round (v2): spread recalibrated on the validation days, whole hourly
    # profiles of the load on D-1, D-2, D-7 and of the TSO forecasts on D, random
    # validation days, weekly recalibration
    "calibrate": dict(CAL),
    "profiles": dict(PROFILES),
    "profiles_cal": {**PROFILES, **CAL},
    "profiles_exog_lags_cal": {**PROFILES, "exog_lags": (1, 2, 7), **CAL},
    "profiles_cal_random": {**PROFILES, **CAL, "validation_split": "random"},
    "tso_residual_cal": {"centre": TSO_C, **CAL},
    "tso_residual_exog_lags_cal": {"centre": TSO_C, "exog_lags": (1, 2, 7), **CAL},
    "tso_residual_profiles_cal": {"centre": TSO_C, **PROFILES, **CAL},
    "tso_residual_cal_random": {"centre": TSO_C, **CAL, "validation_split": "random"},
    # third round: only the TSO's load forecast as exogenous input (not the price, solar
    # and wind forecasts: fewer inputs for one training year), slower training
    "tso_only": {"exog": (TSO_C,)},
    "tso_only_cal": {"exog": (TSO_C,), **CAL},
    "tso_only_profiles": {"exog": (TSO_C,), **PROFILES},
    "tso_only_profiles_cal": {"exog": (TSO_C,), **PROFILES, **CAL},
    "tso_only_exog_lags_cal": {"exog": (TSO_C,), "exog_lags": (1, 2, 7), **CAL},
    "tso_residual_tso_only_cal": {"centre": TSO_C, "exog": (TSO_C,), **CAL},
    "tso_residual_slow_cal": {"centre": TSO_C, "lr": 3e-4, "patience": 20, **CAL},
    "random_val_cal": {"validation_split": "random", **CAL},
    # fourth round: the TSO forecast's whole profile of D-1 with the load's (the TSO's
    # errors of D-1 up to the cut-off), a smaller body, weekly recalibration
    "tso_residual_prof1": {
        "centre": TSO_C,
        "exog": (TSO_C,),
        "profile_lags": (1,),
        "exog_profile_lags": (1,),
    },
    "tso_residual_prof1_cal": {
        "centre": TSO_C,
        "exog": (TSO_C,),
        "profile_lags": (1,),
        "exog_profile_lags": (1,),
        **CAL,
    },
    "tso_residual_small": {"centre": TSO_C, "hidden": (32, 32)},
    "tso_residual_weekly": {"centre": TSO_C, "recalibrate": 7},
    "tso_residual_cal_weekly": {"centre": TSO_C, **CAL, "recalibrate": 7},
    "default_weekly": {"recalibrate": 7},
    # fifth round: longer warm refits, daily recalibration; seed noise of the best
    # static and weekly configurations (checks, not candidates: a seed is not a choice)
    "tso_residual_weekly_warm10": {"centre": TSO_C, "recalibrate": 7, "warm_epochs": 10},
    "tso_residual_daily": {"centre": TSO_C, "recalibrate": 1},
    "tso_residual_seed1": {"centre": TSO_C, "random_state": 1},
    "tso_residual_weekly_seed1": {"centre": TSO_C, "recalibrate": 7, "random_state": 1},
    # the choice: tso_residual_weekly (forecasting.LOAD_PARAMS, refit every 7 days)
    "load_params": {**LOAD_PARAMS, "recalibrate": 7},
    # sixth round (2026-12-06): the choice as an ensemble of four networks (seeds 0-3,
    # parameters averaged, ``n_members``); four as in the open price benchmark's ensembles
    "load_params_ens4": {**LOAD_PARAMS, "recalibrate": 7, "n_members": 4},
    # the TSO's forecast as the location itself, the network learning only the spread
    # (``fixed_centre``): the TSO's errors are close to white noise at the cut-off
    # (correlation of an hour's error with the last known error of D-1 at most 0.09,
    # benchmarks/forecast_shape_bound.py)
    "tso_spread": {"centre": TSO_C, "fixed_centre": True},
    "tso_spread_weekly": {"centre": TSO_C, "fixed_centre": True, "recalibrate": 7},
    "tso_spread_weekly_seed1": {
        "centre": TSO_C,
        "fixed_centre": True,
        "recalibrate": 7,
        "random_state": 1,
    },
    # seventh round: recency-weighted loss (``recency_halflife_days``), the most recent
    # training weeks counting most, with the chosen configuration
    "load_params_recent180": {**LOAD_PARAMS, "recalibrate": 7, "recency_halflife_days": 180},
    "load_params_recent365": {**LOAD_PARAMS, "recalibrate": 7, "recency_halflife_days": 365},
    "load_params_recent180_seed1": {
        **LOAD_PARAMS,
        "recalibrate": 7,
        "recency_halflife_days": 180,
        "random_state": 1,
    },
    "load_params_recent365_seed1": {
        **LOAD_PARAMS,
        "recalibrate": 7,
        "recency_halflife_days": 365,
        "random_state": 1,
    },
    # both half-lives beat load_params on both seeds (mean 226.04 vs 226.67): as the
    # four-network ensembles, against load_params_ens4 (226.04)
    "load_params_ens4_recent180": {
        **LOAD_PARAMS,
        "recalibrate": 7,
        "n_members": 4,
        "recency_halflife_days": 180,
    },
    "load_params_ens4_recent365": {
        **LOAD_PARAMS,
        "recalibrate": 7,
        "n_members": 4,
        "recency_halflife_days": 365,
    },
}


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _split(params: dict, args: argparse.Namespace) -> tuple[dict, dict]:
    """(network parameters, evaluation options) of a candidate."""
    network = {k: v for k, v in params.items() if k not in EVAL_KEYS}
    options = {
        "recalibrate": params.get("recalibrate", args.recalibrate),
        "warm_epochs": params.get("warm_epochs", args.warm_epochs),
    }
    return network, options


def _load(zone: str, first: dt.date, last: dt.date):
    try:
        return load_market_data(
            zone, first - dt.timedelta(days=HISTORY_DAYS), last + dt.timedelta(days=1)
        )
    except Exception:  # the bundled file starts on the first training day
        return load_market_data(zone, first, last + dt.timedelta(days=1))


def _command() -> str:
    return "python " + " ".join(shlex.quote(a) for a in sys.argv)


def select(args: argparse.Namespace) -> None:
    t_start = time.perf_counter()
    fit, val = parse_period(args.fit), parse_period(args.validate)
    frame = _load(args.zone, fit[0], val[1])
    rows = []
    print(
        f"{'candidate':28s} {'crps_t':>8s} {'crps_g':>8s} {'t/g':>6s} {'mae_t':>7s} "
        f"{'cov80_t':>7s} {'cov80_g':>7s} {'cov95_t':>7s} {'crps_tso':>8s} {'wall_s':>6s}",
        flush=True,
    )
    for name in args.candidates:
        network, options = _split(CANDIDATES[name], args)
        network.setdefault("random_state", args.seed)
        models = {
            "student_t": StudentTForecaster(**network),
            "gaussian": GaussianForecaster(**network),
        }
        if TSO_C in frame.columns and args.target == "load_mw":
            models["tso"] = TSOForecaster()
        t0 = time.perf_counter()
        res = evaluate_forecasters(
            frame, args.target, train=fit, test=val, models=models, **options
        )
        t, g = res.scores["student_t"], res.scores["gaussian"]
        tso = res.scores.get("tso")
        row = {
            "candidate": name,
            "params": _jsonable(CANDIDATES[name]),
            "recalibrate": options["recalibrate"],
            "warm_epochs": options["warm_epochs"] if options["recalibrate"] else None,
            "crps_student_t": t.crps,
            "crps_gaussian": g.crps,
            "mae_student_t": t.mae,
            "mae_gaussian": g.mae,
            "coverage_80_student_t": t.coverage_80,
            "coverage_80_gaussian": g.coverage_80,
            "coverage_95_student_t": t.coverage_95,
            "coverage_95_gaussian": g.coverage_95,
            "sigma_factor_student_t": getattr(models["student_t"], "sigma_factor_", None),
            "sigma_factor_gaussian": getattr(models["gaussian"], "sigma_factor_", None),
            "fit_s": t.fit_s + g.fit_s,
            "wall_s": time.perf_counter() - t0,
            "crps_tso": tso.crps if tso else None,
            "coverage_80_tso": tso.coverage_80 if tso else None,
        }
        rows.append(row)
        if args.save_forecasts:  # e.g. for forecast combinations scored afterwards
            pd.to_pickle(
                {"forecasts": res.forecasts, "observed": res.observed, "summary": row},
                f"{args.save_forecasts}_{name}.pkl",
            )
        print(
            f"{name:28s} {t.crps:8.2f} {g.crps:8.2f} {t.crps / g.crps:6.3f} {t.mae:7.2f} "
            f"{t.coverage_80:7.3f} {g.coverage_80:7.3f} {t.coverage_95:7.3f} "
            f"{row['crps_tso'] or float('nan'):8.2f} {row['wall_s']:6.1f}",
            flush=True,
        )
    if args.json:
        out = {
            "command": _command(),
            "zone": args.zone,
            "target": args.target,
            "fit": args.fit,
            "validate": args.validate,
            "seed": args.seed,
            "criterion": "lowest crps_student_t on the validation period "
            "(the *_seed1 rows are seed-noise checks, not candidates)",
            "elapsed_s": time.perf_counter() - t_start,
            "candidates": rows,
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def final(args: argparse.Namespace) -> None:
    train, test = parse_period(args.train), parse_period(args.test)
    frame = _load(args.zone, train[0], test[1])
    network, options = _split(CANDIDATES[args.final], args)
    models = default_models(frame, args.target, random_state=args.seed, **network)
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if options["recalibrate"] and (done % 28 == 0 or done == total):
            print(f"{done}/{total} days, {time.perf_counter() - t0:.0f} s", flush=True)

    res = evaluate_forecasters(
        frame,
        args.target,
        train=train,
        test=test,
        models=models,
        network=network,
        random_state=args.seed,
        progress=progress,
        **options,
    )
    out = res.to_dict()
    out["candidate"] = args.final
    out["seed"] = args.seed
    out["warm_epochs"] = options["warm_epochs"] if options["recalibrate"] else None
    out["command"] = _command()
    out["wall_s"] = time.perf_counter() - t0
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", default="ES")
    ap.add_argument("--target", default="load_mw")
    ap.add_argument("--fit", default="2015-01-01:2015-12-31")
    ap.add_argument("--validate", default="2016-01-01:2016-12-31")
    ap.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    ap.add_argument(
        "--recalibrate",
        type=int,
        help="refit every N days (expanding window, warm start) for the candidates "
        "without their own 'recalibrate' (default: fit once)",
    )
    ap.add_argument("--warm-epochs", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="random_state of the networks")
    ap.add_argument(
        "--final",
        choices=list(CANDIDATES),
        help="instead of selecting: evaluate this candidate once on --train/--test",
    )
    ap.add_argument("--train", default="2015-01-01:2016-12-31")
    ap.add_argument("--test", default="2017-01-01:2017-12-31")
    ap.add_argument("--json")
    ap.add_argument(
        "--save-forecasts",
        metavar="PREFIX",
        help="pickle each candidate's validation forecasts to PREFIX_<candidate>.pkl",
    )
    args = ap.parse_args()
    (final if args.final else select)(args)


if __name__ == "__main__":
    main()
