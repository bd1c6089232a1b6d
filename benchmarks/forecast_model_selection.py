"""Choose the forecaster's configuration on a validation year, never on the test year.

Fits Student-t and Gaussian networks (same body) for a few candidate configurations on
the first training year and scores them on the second, e.g. for the ES load evaluation
of issue 5 (train 2015, validate 2016; the test year 2017 is not touched)::

    python benchmarks/forecast_model_selection.py --zone ES --target load_mw \\
        --fit 2015-01-01:2015-12-31 --validate 2016-01-01:2016-12-31 [--json out.json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

from data import load_market_data
from forecasting import GaussianForecaster, StudentTForecaster, TSOForecaster
from forecasting.evaluation import HISTORY_DAYS, evaluate_forecasters, parse_period

CANDIDATES: dict[str, dict] = {
    "default": {},
    "exog_lags": {"exog_lags": (1, 2, 7)},
    "exog_lags_dropout0.1": {"exog_lags": (1, 2, 7), "dropout": 0.1},
    "exog_lags_wide": {"exog_lags": (1, 2, 7), "hidden": (128, 128)},
    "tso_residual": {"centre": "load_forecast_mw"},
    "tso_residual_exog_lags": {"centre": "load_forecast_mw", "exog_lags": (1, 2, 7)},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zone", default="ES")
    ap.add_argument("--target", default="load_mw")
    ap.add_argument("--fit", default="2015-01-01:2015-12-31")
    ap.add_argument("--validate", default="2016-01-01:2016-12-31")
    ap.add_argument("--candidates", nargs="*", default=list(CANDIDATES))
    ap.add_argument("--json")
    args = ap.parse_args()
    fit, val = parse_period(args.fit), parse_period(args.validate)
    try:
        frame = load_market_data(
            args.zone, fit[0] - dt.timedelta(days=HISTORY_DAYS), val[1] + dt.timedelta(days=1)
        )
    except Exception:
        frame = load_market_data(args.zone, fit[0], val[1] + dt.timedelta(days=1))
    rows = []
    print(
        f"{'candidate':24s} {'crps_t':>9s} {'crps_gauss':>10s} {'t/gauss':>8s} "
        f"{'mae_t':>8s} {'cov80_t':>8s} {'fit_s':>6s} {'crps_tso':>9s}"
    )
    for name in args.candidates:
        params = CANDIDATES[name]
        models = {
            "student_t": StudentTForecaster(**params),
            "gaussian": GaussianForecaster(**params),
        }
        if "load_forecast_mw" in frame.columns and args.target == "load_mw":
            models["tso"] = TSOForecaster()
        res = evaluate_forecasters(frame, args.target, train=fit, test=val, models=models)
        t, g = res.scores["student_t"], res.scores["gaussian"]
        row = {
            "candidate": name,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()},
            "crps_student_t": t.crps,
            "crps_gaussian": g.crps,
            "mae_student_t": t.mae,
            "coverage_80_student_t": t.coverage_80,
            "fit_s": t.fit_s + g.fit_s,
            "crps_tso": res.scores["tso"].crps if "tso" in res.scores else None,
        }
        rows.append(row)
        print(
            f"{name:24s} {t.crps:9.2f} {g.crps:10.2f} {t.crps / g.crps:8.3f} "
            f"{t.mae:8.2f} {t.coverage_80:8.3f} {row['fit_s']:6.1f} "
            f"{row['crps_tso'] or float('nan'):9.2f}",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
