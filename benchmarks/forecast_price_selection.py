"""Choose the Student-t forecaster's configuration for DE day-ahead prices (issue 5 item 4)
on a validation year, never on the test period, then run the test evaluation once.

Screening (the test period 2016-01-04..2017-12-31 is not touched): fit on
2012-01-09..2014-12-31, forecast every day of 2015 recalibrating every ``--recalibrate``
days (default 14, a cheap stand-in for the daily recalibration of the test run; the same
expanding window and warm start as ``evaluate_forecasters``), Student-t only. The rounds
recorded in ``benchmarks/results/forecast_selection_DE_price_2015.json``::

    python benchmarks/forecast_price_selection.py screen --candidates default random_val \
        epf epf_random epf_random_wide epf_random_drop0.1
    python benchmarks/forecast_price_selection.py screen --candidates epf_exogD \
        epf_exogD_random epf_seed1 epf_random_seed1 epf_exogD_seed1
    python benchmarks/forecast_price_selection.py screen --candidates epf_exogD_cal \
        epf_exogD017_cal epf_exogD_cal_wide epf_exogD_cal_seed1
    # the choice (forecasting.PRICE_PARAMS), confirmed with daily recalibration on 2015
    python benchmarks/forecast_price_selection.py screen --candidates price_params \
        --recalibrate 1

(each with ``--json FILE``). Final test run of the choice with daily recalibration, in the
``btut forecast evaluate --json`` format (``--models``: a subset of Student-t, Gaussian
with the same body, seasonal naive)::

    python benchmarks/forecast_price_selection.py final --candidate price_params \
        --models student_t seasonal_naive \
        --json benchmarks/results/forecast_eval_DE_price_2016_2017.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

from data import load_market_data
from forecasting import PRICE_PARAMS, StudentTForecaster
from forecasting.evaluation import (
    HISTORY_DAYS,
    default_models,
    evaluate_forecasters,
    parse_period,
)

TARGET = "price_eur_per_mwh"
#: the epftoolbox LEAR/DNN input set: prices of D-1, D-2, D-3, D-7 at all 24 hours,
#: the exogenous forecasts for D and at D-1, D-7 (day of week: in every configuration)
EPF = {"profile_lags": (1, 2, 3, 7), "exog_lags": (1, 7)}
CANDIDATES: dict[str, dict] = {
    "default": {},
    "random_val": {"validation_split": "random"},
    "epf": dict(EPF),
    "epf_random": {**EPF, "validation_split": "random"},
    "epf_random_wide": {**EPF, "validation_split": "random", "hidden": (128, 128)},
    "epf_random_drop0.1": {**EPF, "validation_split": "random", "dropout": 0.1},
    # second round: the forecasts' whole profile of D too, and seed noise
    "epf_seed1": {**EPF, "random_state": 1},
    "epf_random_seed1": {**EPF, "validation_split": "random", "random_state": 1},
    "epf_exogD": {**EPF, "exog_profile_lags": (0,)},
    "epf_exogD_random": {**EPF, "exog_profile_lags": (0,), "validation_split": "random"},
    "epf_exogD_seed1": {**EPF, "exog_profile_lags": (0,), "random_state": 1},
    # third round: spread recalibrated on the validation days; the forecasts' whole
    # profiles of D−1 and D−7 too (as LEAR); a wider body
    "epf_exogD_cal": {**EPF, "exog_profile_lags": (0,), "calibrate_sigma": True},
    "epf_exogD017_cal": {**EPF, "exog_profile_lags": (0, 1, 7), "calibrate_sigma": True},
    "epf_exogD_cal_wide": {
        **EPF,
        "exog_profile_lags": (0,),
        "calibrate_sigma": True,
        "hidden": (128, 128),
    },
    "epf_exogD_cal_seed1": {
        **EPF,
        "exog_profile_lags": (0,),
        "calibrate_sigma": True,
        "random_state": 1,
    },
    "price_params": dict(PRICE_PARAMS),  # = epf_exogD_cal, the choice (forecasting.models)
}


def _load(first: dt.date, last: dt.date):
    try:
        return load_market_data("DE", first - dt.timedelta(days=HISTORY_DAYS), last)
    except Exception:  # the bundled file starts on the first training day
        return load_market_data("DE", first, last + dt.timedelta(days=1))


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def screen(args: argparse.Namespace) -> None:
    fit, val = parse_period(args.fit), parse_period(args.validate)
    frame = _load(fit[0], val[1])
    rows = []
    print(
        f"{'candidate':22s} {'crps':>7s} {'mae':>7s} {'rmse':>7s} {'cov80':>6s} "
        f"{'cov95':>6s} {'wall_s':>7s}",
        flush=True,
    )
    for name in args.candidates:
        params = CANDIDATES[name]
        models = {"student_t": StudentTForecaster(n_threads=1, **params)}
        t0 = time.perf_counter()
        res = evaluate_forecasters(
            frame,
            TARGET,
            train=fit,
            test=val,
            models=models,
            recalibrate=args.recalibrate,
            warm_epochs=args.warm_epochs,
        )
        s = res.scores["student_t"]
        row = {
            "candidate": name,
            "params": _jsonable(params),
            "crps": s.crps,
            "mae": s.mae,
            "rmse": s.rmse,
            "coverage_80": s.coverage_80,
            "coverage_95": s.coverage_95,
            "n_intervals": s.n_intervals,
            "wall_s": time.perf_counter() - t0,
        }
        rows.append(row)
        print(
            f"{name:22s} {s.crps:7.3f} {s.mae:7.3f} {s.rmse:7.3f} {s.coverage_80:6.3f} "
            f"{s.coverage_95:6.3f} {row['wall_s']:7.0f}",
            flush=True,
        )
    if args.json:
        out = {
            "zone": "DE",
            "target": TARGET,
            "fit": args.fit,
            "validate": args.validate,
            "recalibrate_every_days": args.recalibrate,
            "warm_epochs": args.warm_epochs,
            "model": "student_t (n_threads=1, random_state=0)",
            "command": "python " + " ".join(sys.argv),
            "candidates": rows,
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def final(args: argparse.Namespace) -> None:
    train, test = parse_period(args.train), parse_period(args.test)
    frame = _load(train[0], test[1])
    network = dict(CANDIDATES[args.candidate])
    models = default_models(frame, TARGET, random_state=0, **network)
    models = {name: m for name, m in models.items() if name in args.models}
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if done % 28 == 0 or done == total:
            print(f"{done}/{total} days, {time.perf_counter() - t0:.0f} s", flush=True)

    res = evaluate_forecasters(
        frame,
        TARGET,
        train=train,
        test=test,
        models=models,
        recalibrate=args.recalibrate,
        warm_epochs=args.warm_epochs,
        network=network,
        progress=progress,
    )
    out = res.to_dict()
    out["candidate"] = args.candidate
    out["warm_epochs"] = args.warm_epochs
    out["command"] = "python " + " ".join(sys.argv)
    print(json.dumps(out["models"], indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("screen")
    s.add_argument("--fit", default="2012-01-09:2014-12-31")
    s.add_argument("--validate", default="2015-01-01:2015-12-31")
    s.add_argument("--recalibrate", type=int, default=14)
    s.add_argument("--warm-epochs", type=int, default=5)
    s.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    s.add_argument("--json")
    f = sub.add_parser("final")
    f.add_argument("--candidate", required=True, choices=list(CANDIDATES))
    f.add_argument("--train", default="2012-01-09:2016-01-03")
    f.add_argument("--test", default="2016-01-04:2017-12-31")
    f.add_argument("--recalibrate", type=int, default=1)
    f.add_argument("--warm-epochs", type=int, default=5)
    f.add_argument(
        "--models",
        nargs="*",
        default=["student_t", "gaussian", "seasonal_naive"],
        help="subset of evaluate_forecasters' default models (student_t is required)",
    )
    f.add_argument("--json")
    args = ap.parse_args()
    (screen if args.cmd == "screen" else final)(args)


if __name__ == "__main__":
    main()
