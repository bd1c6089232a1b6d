"""How much CRPS can a Student-t shape gain over a normal one on a given test year?

Issue 5 expects the Student-t forecaster's CRPS on ES load 2017 to be at least 5 % below
the Gaussian's (same network body, only the head differs). This script measures how large
that gap can be from the distribution's *shape* alone, with a centre both heads share: the
TSO's day-ahead load forecast (the centre of ``forecasting.LOAD_PARAMS``). Errors
``e = load − TSO forecast`` per local hour of day:

* ``t_train`` / ``normal_train``: zero-location Student-t (maximum likelihood,
  ``fit_zero_location_t``) and normal (ML: the errors' standard deviation) fitted on the
  training years, scored on the test year — what a model fitted on the past can do;
* ``normal_oracle`` / ``t_oracle``: the spread (and for the t the degrees of freedom) that
  minimise the CRPS *on the test year itself* — not a forecast (it looks at the test
  data), an upper bound on what any choice of spread could reach with that shape.

``gap_pct`` = 100 · (normal / t − 1). A gap near zero between the oracle normal and the
fitted t means no head can beat a well-scaled normal by much on that year, whatever its
training; a larger ``normal_train`` gap is the normal's misfitted spread (outliers in the
training errors inflate the ML standard deviation), not a limit of the shape.

It also measures how predictable the centre's errors are at the day-ahead cut-off (noon of
D−1, errors known up to 11:00 local): the correlation of each hour's error with the last
known error, and the test-year MAE of the centre corrected by a per-hour least-squares fit
on the errors of D−1 at 00, 03, 06, 09, 10 and 11 h (fitted on the training years without
hours whose errors exceed 3 GW)::

    python benchmarks/forecast_shape_bound.py \\
        --json benchmarks/results/forecast_shape_bound_ES_load.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
from scipy import optimize, stats

from data import load_market_data
from forecasting.metrics import crps_normal, crps_student_t
from forecasting.models import fit_zero_location_t


def _oracle_normal(e: np.ndarray) -> float:
    res = optimize.minimize_scalar(
        lambda s: float(crps_normal(e, 0.0, s).mean()),
        bounds=(1e-3 * e.std(), 10 * e.std()),
        method="bounded",
    )
    return float(res.fun)


def _oracle_t(e: np.ndarray, s0: float) -> float:
    def f(theta: np.ndarray) -> float:
        return float(crps_student_t(e, 0.0, np.exp(theta[0]), 2.0 + np.exp(theta[1])).mean())

    res = optimize.minimize(f, x0=[np.log(s0), np.log(2.0)], method="Nelder-Mead")
    return float(res.fun)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", default="ES")
    ap.add_argument("--target", default="load_mw")
    ap.add_argument("--centre", default="load_forecast_mw")
    ap.add_argument("--train-years", default="2015,2016")
    ap.add_argument("--test-year", type=int, default=2017)
    ap.add_argument(
        "--end",
        help="first local day after the data (default: the day after the test year), for "
        "a test year the data covers only in part, e.g. 2020-10-01 for the OPSD zones",
    )
    ap.add_argument("--json")
    args = ap.parse_args()
    t0 = time.perf_counter()
    train_years = [int(y) for y in args.train_years.split(",")]
    first, last = min(train_years), args.test_year
    frame = load_market_data(args.zone, f"{first}-01-01", args.end or f"{last + 1}-01-01")
    err = (frame[args.target] - frame[args.centre]).dropna()
    local = err.index.tz_convert(frame.attrs["tz"])
    in_train = np.isin(local.year, train_years)
    in_test = local.year == args.test_year
    e_tr, e_te = err.to_numpy()[in_train], err.to_numpy()[in_test]
    h_tr, h_te = local.hour[in_train], local.hour[in_test]

    crps: dict[str, list[np.ndarray]] = {k: [] for k in ("t_train", "normal_train")}
    oracle = {"normal_oracle": 0.0, "t_oracle": 0.0}
    for h in range(24):
        a, b = e_tr[h_tr == h], e_te[h_te == h]
        scale, df = fit_zero_location_t(a)
        crps["t_train"].append(crps_student_t(b, 0.0, scale, df))
        crps["normal_train"].append(crps_normal(b, 0.0, a.std()))
        oracle["normal_oracle"] += _oracle_normal(b) * len(b)
        oracle["t_oracle"] += _oracle_t(b, scale) * len(b)
    persistence = _persistence(err, frame.attrs["tz"], train_years, args.test_year)
    scores = {k: float(np.concatenate(v).mean()) for k, v in crps.items()}
    scores.update({k: v / len(e_te) for k, v in oracle.items()})
    ref = scores["t_train"]
    rows = {k: {"crps": v, "gap_pct_vs_t_train": 100 * (v / ref - 1)} for k, v in scores.items()}
    print(
        f"{args.zone} {args.target} − {args.centre}, per local hour; train {train_years}, "
        f"test {args.test_year} ({len(e_te)} h)"
    )
    print(
        f"excess kurtosis of the errors: train {float(stats.kurtosis(e_tr)):.1f}, "
        f"test {float(stats.kurtosis(e_te)):.1f}"
    )
    print(f"{'spread model':16s} {'crps':>9s} {'vs t_train':>11s}")
    for k, r in rows.items():
        print(f"{k:16s} {r['crps']:9.2f} {r['gap_pct_vs_t_train']:+10.2f}%")
    print(
        f"errors at the cut-off: max |corr| of an hour's error with the last known error "
        f"{persistence['max_abs_corr_with_last_known_error']:.3f}; test MAE "
        f"{persistence['mae_centre']:.1f} -> {persistence['mae_linear_correction']:.1f} "
        "with a linear correction from the known errors of D-1"
    )
    if args.json:
        out = {
            "command": "python " + " ".join(sys.argv),
            "zone": args.zone,
            "target": args.target,
            "centre": args.centre,
            "train_years": train_years,
            "test_year": args.test_year,
            "n_test_hours": len(e_te),
            "excess_kurtosis_train": float(stats.kurtosis(e_tr)),
            "excess_kurtosis_test": float(stats.kurtosis(e_te)),
            "scores": rows,
            "persistence": persistence,
            "elapsed_s": time.perf_counter() - t0,
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def _persistence(err, tz: str, train_years: list[int], test_year: int) -> dict:
    local = err.index.tz_convert(tz)
    table = (
        err.to_frame("e")
        .assign(day=local.date, hour=local.hour)
        .pivot_table(index="day", columns="hour", values="e")
    )
    prev = table.shift(1)  # the errors of D-1 (hours before noon are known at the cut-off)
    corr = []
    for h in table.columns:
        ok = prev[11].notna() & table[h].notna()
        corr.append(float(np.corrcoef(prev[11][ok], table[h][ok])[0, 1]))
    years = np.array([d.year for d in table.index])
    known = prev[[0, 3, 6, 9, 10, 11]].to_numpy()
    X = np.column_stack([np.ones(len(table)), known])
    abs_centre = abs_corrected = 0.0
    n = 0
    for h in table.columns:
        y = table[h].to_numpy()
        ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
        fit = ok & np.isin(years, train_years) & (np.abs(y) < 3000)
        fit &= (np.abs(known) < 3000).all(axis=1)
        test = ok & (years == test_year)
        beta = np.linalg.lstsq(X[fit], y[fit], rcond=None)[0]
        abs_centre += np.abs(y[test]).sum()
        abs_corrected += np.abs(y[test] - X[test] @ beta).sum()
        n += int(test.sum())
    return {
        "corr_with_last_known_error_by_hour": corr,
        "max_abs_corr_with_last_known_error": float(np.max(np.abs(corr))),
        "mae_centre": abs_centre / n,
        "mae_linear_correction": abs_corrected / n,
        "n_test_hours": n,
    }


if __name__ == "__main__":
    main()
