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

The ensemble of four networks (``price_params_ens4``, screened on 2015 like the rest) runs
its members as parallel processes, one seed each, then combines their saved forecasts
(``forecast_eval_DE_price_2016_2017_ens4.json``)::

    python benchmarks/forecast_price_selection.py final --candidate price_params \
        --models student_t seasonal_naive --seed 0 --save-forecasts seed_0.pkl
    python benchmarks/forecast_price_selection.py final --candidate price_params \
        --models student_t --seed 1 --save-forecasts seed_1.pkl      # and seeds 2, 3
    python benchmarks/forecast_price_selection.py final --candidate price_params \
        --models gaussian --seed 0 --save-forecasts gauss0.pkl
    python benchmarks/forecast_price_selection.py combine seed_0.pkl seed_1.pkl \
        seed_2.pkl seed_3.pkl --extra gauss0.pkl --json out.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time

import numpy as np
import pandas as pd

from data import load_market_data
from forecasting import PRICE_PARAMS, StudentTForecaster, blend_location, combine_members
from forecasting.evaluation import (
    HISTORY_DAYS,
    default_models,
    evaluate_forecasters,
    parse_period,
    score_forecasts,
)
from forecasting.lear import LEAR_COLUMN

TARGET = "price_eur_per_mwh"
TZ = "Europe/Berlin"
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
    # fourth round (2026-12-06): the choice as an ensemble of four networks (seeds 0-3,
    # parameters averaged, ``n_members``), four as in the benchmark's DNN ensemble
    "price_params_ens4": {**PRICE_PARAMS, "n_members": 4},
    # fifth round (2026-12-06, later): recency-weighted loss (the chronological split
    # keeps the last ~15 % of the window out of training) and robust median/MAD + asinh
    # input scaling (the variance-stabilising transform of the benchmark's LEAR), alone
    # and together, two seeds each
    "pp_recent365": {**PRICE_PARAMS, "recency_halflife_days": 365},
    "pp_recent730": {**PRICE_PARAMS, "recency_halflife_days": 730},
    "pp_asinh": {**PRICE_PARAMS, "input_transform": "asinh"},
    "pp_asinh_recent365": {
        **PRICE_PARAMS,
        "input_transform": "asinh",
        "recency_halflife_days": 365,
    },
    "pp_recent365_seed1": {**PRICE_PARAMS, "recency_halflife_days": 365, "random_state": 1},
    "pp_recent730_seed1": {**PRICE_PARAMS, "recency_halflife_days": 730, "random_state": 1},
    "pp_asinh_seed1": {**PRICE_PARAMS, "input_transform": "asinh", "random_state": 1},
    "pp_asinh_recent365_seed1": {
        **PRICE_PARAMS,
        "input_transform": "asinh",
        "recency_halflife_days": 365,
        "random_state": 1,
    },
    "price_params_seed1": {**PRICE_PARAMS, "random_state": 1},
    # sixth round: longer half-lives, fewer validation days, a wider body with recency
    "pp_recent1095": {**PRICE_PARAMS, "recency_halflife_days": 1095},
    "pp_recent1095_seed1": {**PRICE_PARAMS, "recency_halflife_days": 1095, "random_state": 1},
    "pp_recent1460": {**PRICE_PARAMS, "recency_halflife_days": 1460},
    "pp_recent1460_seed1": {**PRICE_PARAMS, "recency_halflife_days": 1460, "random_state": 1},
    "pp_recent730_val08": {
        **PRICE_PARAMS,
        "recency_halflife_days": 730,
        "validation_fraction": 0.08,
    },
    "pp_recent730_val08_seed1": {
        **PRICE_PARAMS,
        "recency_halflife_days": 730,
        "validation_fraction": 0.08,
        "random_state": 1,
    },
    "pp_recent730_wide": {**PRICE_PARAMS, "recency_halflife_days": 730, "hidden": (128, 128)},
    "pp_recent730_wide_seed1": {
        **PRICE_PARAMS,
        "recency_halflife_days": 730,
        "hidden": (128, 128),
        "random_state": 1,
    },
    # seventh round: the LEAR forecast (windows 56 and 84 days, ``forecast_lear.py
    # column``, passed with ``--lear-column``) as an input (its value, its values at D-1
    # and D-7, its whole profile of D) or as the centre the network corrects
    "pp_lear": {**PRICE_PARAMS, "lear": True},
    "pp_lear_seed1": {**PRICE_PARAMS, "lear": True, "random_state": 1},
    "pp_lear_centre": {**PRICE_PARAMS, "lear": True, "centre": LEAR_COLUMN},
    "pp_lear_centre_seed1": {
        **PRICE_PARAMS,
        "lear": True,
        "centre": LEAR_COLUMN,
        "random_state": 1,
    },
}


def _load(first: dt.date, last: dt.date):
    try:
        return load_market_data("DE", first - dt.timedelta(days=HISTORY_DAYS), last)
    except Exception:  # the bundled file starts on the first training day
        return load_market_data("DE", first, last + dt.timedelta(days=1))


def _with_lear(frame: pd.DataFrame, paths: list[str] | None) -> pd.DataFrame:
    """``frame`` with the LEAR forecasts of the ``column`` runs of ``forecast_lear.py``."""
    if not paths:
        raise SystemExit("this candidate needs the LEAR forecasts: --lear-column FILE ...")
    series = pd.concat([pd.read_pickle(p) for p in paths]).sort_index()
    if series.index.duplicated().any():
        raise SystemExit("the --lear-column files overlap")
    out = frame.copy()
    out[LEAR_COLUMN] = series.reindex(frame.index)
    out.attrs = dict(frame.attrs)
    return out


def _split(params: dict, frame: pd.DataFrame, args: argparse.Namespace):
    """Network parameters without the script's own ``lear`` key, and the frame to use."""
    params = dict(params)
    if params.pop("lear", False):
        frame = _with_lear(frame, args.lear_column)
    return params, frame


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
        params, data = _split(CANDIDATES[name], frame, args)
        models = {"student_t": StudentTForecaster(n_threads=1, **params)}
        t0 = time.perf_counter()
        res = evaluate_forecasters(
            data,
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
            "params": _jsonable(CANDIDATES[name]),
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
    network, frame = _split(CANDIDATES[args.candidate], frame, args)
    network.setdefault("random_state", args.seed)
    models = default_models(frame, TARGET, **network)
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
    if args.save_forecasts:
        pd.to_pickle(
            {"forecasts": res.forecasts, "observed": res.observed, "summary": out},
            args.save_forecasts,
        )


def ensemble_forecast(runs: list[dict]) -> pd.DataFrame:
    """The Student-t forecasts of saved runs (``final --save-forecasts``) combined by
    ``combine_members`` as the members of one ensemble (one run: its own forecasts); the
    runs must forecast the same intervals and, if several, have seeds 0..M-1."""
    members = [r["forecasts"]["student_t"] for r in runs]
    index = members[0].index
    if any(not m.index.equals(index) for m in members):
        raise SystemExit("the runs forecast different intervals")
    if len(runs) > 1:
        seeds = [r["summary"]["network"].get("random_state") for r in runs]
        if sorted(seeds) != list(range(len(runs))):
            raise SystemExit(f"the runs must have seeds 0..{len(runs) - 1}, got {seeds}")
    mu, sigma, nu = combine_members(
        [tuple(m[c].to_numpy() for c in ("mu", "sigma", "nu")) for m in members]
    )
    return pd.DataFrame({"mu": mu, "sigma": sigma, "nu": nu}, index=index)


def combine(args: argparse.Namespace) -> None:
    """Score the ensemble of the Student-t forecasts of several ``final --save-forecasts``
    runs that differ only in their seed: member m of ``StudentTForecaster(n_members=M,
    random_state=0)`` is the single network with ``random_state=m``, refitted on its own
    (tested in ``tests/forecasting/test_models.py``), so combining the runs' forecasts
    with ``combine_members`` gives the ensemble's forecasts while the members run in
    parallel processes. The other models come from the first run and from ``--extra``
    runs (e.g. a Gaussian network of the same body); all are scored on the same intervals,
    the seed-0 member alone too (``student_t_seed0``). ``--lear F`` (a ``forecast_lear.py
    merge --save`` output) adds ``student_t_lear_avg``: the ensemble with its location
    replaced by the equal-weight average of its location and the LEAR ensemble's forecast
    (a forecast combination fixed beforehand, no weight fitted; spread and tails kept)."""
    runs = [pd.read_pickle(path) for path in args.runs]
    seeds = [r["summary"]["network"].get("random_state") for r in runs]
    if sorted(seeds) != list(range(len(runs))):
        raise SystemExit(f"the runs must have seeds 0..{len(runs) - 1}, got {seeds}")
    ensemble = ensemble_forecast(runs)
    index, mu = ensemble.index, ensemble["mu"].to_numpy()
    forecasts = dict(runs[0]["forecasts"])
    extras = [pd.read_pickle(path) for path in args.extra]
    for run in extras:
        forecasts.update({k: v for k, v in run["forecasts"].items() if k != "student_t"})
    forecasts["student_t"] = ensemble
    forecasts["student_t_seed0"] = runs[seeds.index(0)]["forecasts"]["student_t"]
    if args.lear:
        # fixed beforehand, not tuned: equal weights, the ensemble's spread kept
        lear = pd.read_pickle(args.lear)["mean"].reindex(index).to_numpy()
        if not np.isfinite(lear).all():
            raise SystemExit(f"{args.lear} lacks LEAR forecasts for some test intervals")
        forecasts["student_t_lear_avg"] = forecasts["student_t"].assign(
            mu=blend_location(mu, lear, 0.5)
        )
    # fitting time of each model (the ensemble: its members' total)
    fits = {"student_t": sum(r["summary"]["models"]["student_t"]["fit_s"] for r in runs)}
    for run in [runs[0], *extras]:
        fits.update({k: v["fit_s"] for k, v in run["summary"]["models"].items() if k not in fits})
    fits["student_t_seed0"] = runs[seeds.index(0)]["summary"]["models"]["student_t"]["fit_s"]
    if args.lear:
        fits["student_t_lear_avg"] = fits["student_t"]
    scores, _ = score_forecasts(runs[0]["observed"], forecasts, TZ, fit_s=fits)
    out = dict(runs[0]["summary"])
    out["network"] = dict(out["network"], n_members=len(runs))
    out["network"].pop("random_state", None)
    out["models"] = {name: s.to_dict() for name, s in scores.items()}
    out["members"] = [
        {"random_state": seed, **r["summary"]["models"]["student_t"]}
        for seed, r in zip(seeds, runs, strict=True)
    ]
    out["elapsed_s"] = sum(r["summary"]["elapsed_s"] for r in runs)
    out["command"] = "python " + " ".join(sys.argv)
    out["member_commands"] = [r["summary"]["command"] for r in runs]
    out["extra_commands"] = [r["summary"]["command"] for r in extras]
    print(json.dumps(out["models"], indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("screen")
    s.add_argument("--fit", default="2012-01-09:2014-12-31")
    s.add_argument("--validate", default="2015-01-01:2015-12-31")
    s.add_argument("--recalibrate", type=int, default=14)
    s.add_argument("--warm-epochs", type=int, default=5)
    s.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    s.add_argument("--lear-column", nargs="*", help="forecast_lear.py column outputs")
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
    f.add_argument("--seed", type=int, default=0, help="random_state of the networks")
    f.add_argument("--save-forecasts", help="pickle the test forecasts here (for combine)")
    f.add_argument("--lear-column", nargs="*", help="forecast_lear.py column outputs")
    f.add_argument("--json")
    c = sub.add_parser("combine")
    c.add_argument("runs", nargs="+", help="final --save-forecasts files, seeds 0..M-1")
    c.add_argument("--extra", nargs="*", default=[], help="runs of other models to score too")
    c.add_argument("--lear", help="forecast_lear.py merge --save output (LEAR ensemble)")
    c.add_argument("--json")
    args = ap.parse_args()
    {"screen": screen, "final": final, "combine": combine}[args.cmd](args)


if __name__ == "__main__":
    main()
