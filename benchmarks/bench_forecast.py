"""Benchmark: fitting and predicting with the Student-t day-ahead forecaster (forecasting).

Setup: the bundled ES data, ``data.load_market_data("ES", "2015-01-01", "2018-01-01")``
(three years, hourly, 26 304 intervals), ``StudentTForecaster()`` with its default
hyper-parameters. *Fit* times ``fit(frame, target)`` end to end (features, training with
early stopping; one run unless ``--repeats``). *Predict* times ``predict(frame, days=[D])``
for one market day D (24 intervals) given the whole three-year frame as history: median
over ``--predict-repeats`` runs, cycling through days of 2017, after one warm-up call.
Scores are on the model's own validation days (the last 15 % of the training days).

    python benchmarks/bench_forecast.py                      # load_mw
    python benchmarks/bench_forecast.py --target load_mw --target price_eur_per_mwh
    python benchmarks/bench_forecast.py --price-params       # + price with PRICE_PARAMS
    python benchmarks/bench_forecast.py --members 4          # + the 4-network ensembles
    python benchmarks/bench_forecast.py --quick              # one year of data
    python benchmarks/bench_forecast.py --json out.json

Targets (issue 6): fit on three years of hourly data in under 120 s on 2 cores; predict
for one day in under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

import data
from forecasting import LOAD_PARAMS, PRICE_PARAMS, StudentTForecaster

TARGET_FIT_SECONDS = 120.0
TARGET_PREDICT_SECONDS = 0.050


def run_case(
    frame: pd.DataFrame,
    target: str,
    repeats: int,
    predict_repeats: int,
    params: dict | None = None,
    label: str = "default",
) -> dict:
    """Fit and predict timings of ``StudentTForecaster(**params)`` on ``frame``."""
    fit_times = []
    model = None
    for _ in range(repeats):
        model = StudentTForecaster(**(params or {}))
        start = time.perf_counter()
        model.fit(frame, target=target)
        fit_times.append(time.perf_counter() - start)
    assert model is not None
    tz = frame.attrs["tz"]
    days = sorted(set(frame.index.tz_convert(tz).date))[-365:]
    model.predict(frame, days=[days[0]])  # warm-up
    times = []
    for i in range(predict_repeats):
        day = days[(i * 7) % len(days)]
        start = time.perf_counter()
        pred = model.predict(frame, days=[day])
        times.append(time.perf_counter() - start)
        assert len(pred) in (23, 24, 25)
    fit_seconds = statistics.median(fit_times)
    members = getattr(model, "estimators_", None) or [model]
    return {
        "target": target,
        "params": label,
        "n_members": len(members),
        "intervals": len(frame),
        "train_intervals": model.n_train_intervals_,
        "val_intervals": model.n_val_intervals_,
        "features": model.n_features_in_,
        "epochs": model.n_epochs_,
        "best_epoch": [m.best_epoch_ for m in members],
        "fit_seconds": fit_seconds,
        "seconds_per_epoch": fit_seconds / model.n_epochs_,
        "predict_seconds": statistics.median(times),
        "predict_p90_seconds": float(np.quantile(times, 0.9)),
        "val_nll": float(np.mean([min(m.val_loss_) for m in members])),
        "fit_repeats": repeats,
        "predict_repeats": predict_repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target",
        action="append",
        choices=["load_mw", "price_eur_per_mwh"],
        help="target column (repeatable; default load_mw)",
    )
    parser.add_argument("--quick", action="store_true", help="one year of data (2017)")
    parser.add_argument("--repeats", type=int, default=1, help="timed fits per target")
    parser.add_argument("--predict-repeats", type=int, default=50, help="timed predicts")
    parser.add_argument(
        "--price-params",
        action="store_true",
        help="also time price_eur_per_mwh with forecasting.PRICE_PARAMS (whole-day profiles)",
    )
    parser.add_argument(
        "--members",
        type=int,
        default=0,
        help="also time ensembles of this many networks (n_members) with LOAD_PARAMS for "
        "load_mw and PRICE_PARAMS for price, the configurations of the issue-5 evaluations",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    targets = args.target or ["load_mw"]
    start = "2017-01-01" if args.quick else "2015-01-01"
    frame = data.load_market_data("ES", start, "2018-01-01")

    print(
        f"StudentTForecaster() on ES {start}..2017-12-31 ({len(frame)} hourly intervals), "
        f"torch {torch.__version__}, {os.cpu_count()} CPUs"
    )
    header = (
        f"{'target':<42} {'epochs':>6} {'fit s':>8} {'s/epoch':>8} "
        f"{'predict ms':>10} {'p90 ms':>8} {'val NLL':>8}"
    )
    print(header)
    print("-" * len(header))
    rows = []
    cases = [(t, None, "default") for t in targets]
    if args.price_params:
        cases.append(("price_eur_per_mwh", PRICE_PARAMS, "price params"))
    if args.members > 1:
        n = {"n_members": args.members}
        cases.append(("load_mw", {**LOAD_PARAMS, **n}, f"load params, {args.members} nets"))
        cases.append(
            ("price_eur_per_mwh", {**PRICE_PARAMS, **n}, f"price params, {args.members} nets")
        )
    for target, params, name in cases:
        r = run_case(frame, target, args.repeats, args.predict_repeats, params, name)
        rows.append(r)
        label = target + ("" if name == "default" else f" ({name})")
        print(
            f"{label:<42} {r['epochs']:>6d} {r['fit_seconds']:>8.1f} "
            f"{r['seconds_per_epoch']:>8.3f} {r['predict_seconds'] * 1e3:>10.1f} "
            f"{r['predict_p90_seconds'] * 1e3:>8.1f} {r['val_nll']:>8.3f}",
            flush=True,
        )
    verdicts = []
    for r in rows:
        fit_ok = r["fit_seconds"] < TARGET_FIT_SECONDS
        pred_ok = r["predict_seconds"] < TARGET_PREDICT_SECONDS
        verdicts += [fit_ok, pred_ok]
        print(
            f"target {r['target']} ({r['params']}): fit {r['fit_seconds']:.1f} s "
            f"({'<' if fit_ok else '>='} {TARGET_FIT_SECONDS:.0f} s) "
            f"{'PASS' if fit_ok else 'FAIL'}; predict {r['predict_seconds'] * 1e3:.1f} ms "
            f"({'<' if pred_ok else '>='} {TARGET_PREDICT_SECONDS * 1e3:.0f} ms) "
            f"{'PASS' if pred_ok else 'FAIL'}"
        )
    if args.json is not None:
        payload = {
            "benchmark": "student_t_forecaster",
            "data": {"zone": "ES", "start": start, "end": "2018-01-01"},
            "params": StudentTForecaster().get_params(),
            "price_params": dict(PRICE_PARAMS) if args.price_params else None,
            "load_params": dict(LOAD_PARAMS) if args.members > 1 else None,
            "command": "python " + " ".join(sys.argv),
            "machine": {
                "cpus": os.cpu_count(),
                "python": sys.version.split()[0],
                "torch": torch.__version__,
                "torch_threads": torch.get_num_threads(),
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "platform": platform.platform(),
                "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
            },
            "target": {
                "fit_seconds": TARGET_FIT_SECONDS,
                "predict_seconds": TARGET_PREDICT_SECONDS,
            },
            "rows": rows,
        }
        args.json.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
