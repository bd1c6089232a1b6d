"""LEAR-style linear forecasts of DE day-ahead prices (``forecasting.lear``): the open
benchmark's linear model, reproduced on the bundled epftoolbox file, and as an input of
the Student-t network (issue 5, item 4).

``column``: LEAR forecasts (mean over ``--windows``, default 56 and 84 days) for every
interval of the market days ``--days``, each day fitted on the days before it, saved as
a pickled Series (``forecasting.lear.LEAR_COLUMN``); runs in parallel over day ranges::

    python benchmarks/forecast_lear.py column --days 2012-01-09:2014-12-31 --out a.pkl
    python benchmarks/forecast_lear.py column --days 2015-01-01:2017-12-31 --out b.pkl

``score``: the LEAR ensemble (windows 56, 84, 1092, 1456, recalibrated daily) on a test
period, each window's and the ensemble's MAE and RMSE, with the wall time::

    python benchmarks/forecast_lear.py score --test 2016-01-04:2017-12-31 --json out.json

(``--save F`` keeps the per-interval forecasts; ``merge F1 F2 ... --json out.json``
joins runs over other periods or windows, e.g. the 2016 and 2017 halves of the test
period run as parallel processes, and scores the joined forecasts.)
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
from forecasting.evaluation import parse_period
from forecasting.lear import LEAR_COLUMN, LEAR_WINDOWS, PENALTIES, lear_forecasts
from forecasting.metrics import mae, rmse

TARGET = "price_eur_per_mwh"
FIRST_DAY = dt.date(2012, 1, 9)  # the bundled file's first day


def _days(period: tuple[dt.date, dt.date]) -> list[np.datetime64]:
    return list(np.arange(period[0], period[1] + dt.timedelta(days=1), dtype="datetime64[D]"))


def _progress(t0: float):
    def report(done: int, total: int) -> None:
        if done % 60 == 0 or done == total:
            print(f"{done}/{total} days, {time.perf_counter() - t0:.0f} s", flush=True)

    return report


def _frame(last: dt.date) -> pd.DataFrame:
    """The bundled DE data from its first day through ``last``."""
    return load_market_data("DE", FIRST_DAY, last + dt.timedelta(days=1))


def _scores(fc: pd.DataFrame, frame: pd.DataFrame) -> dict:
    """MAE, RMSE and count of each forecast column on the intervals it forecasts; printed."""
    y = frame[TARGET].reindex(fc.index).to_numpy()
    rows = {}
    print(f"{'model':10s} {'mae':>7s} {'rmse':>7s} {'n':>6s}")
    for col in fc.columns:
        point = fc[col].to_numpy()
        ok = np.isfinite(point - y)
        rows[col] = {
            "mae": mae(y[ok], point[ok]),
            "rmse": rmse(y[ok], point[ok]),
            "n_intervals": int(ok.sum()),
        }
        print(f"{col:10s} {rows[col]['mae']:7.3f} {rows[col]['rmse']:7.3f} {ok.sum():6d}")
    return rows


def _forecast(args: argparse.Namespace, days: str) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """LEAR forecasts of ``--windows`` and ``--penalty`` for the market ``days``, the data
    they came from and the wall time."""
    period = parse_period(days)
    frame = _frame(period[1])
    t0 = time.perf_counter()
    fc = lear_forecasts(
        frame,
        TARGET,
        days=_days(period),
        windows=tuple(args.windows),
        penalty=args.penalty,
        progress=_progress(t0),
    )
    return fc, frame, time.perf_counter() - t0


def column(args: argparse.Namespace) -> None:
    fc, _, wall = _forecast(args, args.days)
    series = fc["mean"].rename(LEAR_COLUMN)
    series.attrs = {"windows": list(args.windows), "days": args.days, "penalty": args.penalty}
    series.to_pickle(args.out)
    print(f"{len(series)} intervals, {series.isna().sum()} NaN, {wall:.0f} s")


def score(args: argparse.Namespace) -> None:
    fc, frame, wall = _forecast(args, args.test)
    rows = _scores(fc, frame)
    print(f"wall {wall:.0f} s")
    meta = {"test": args.test, "windows": list(args.windows), "penalty": args.penalty}
    if args.save:
        fc.attrs = {**meta, "wall_s": wall}
        fc.to_pickle(args.save)
    if args.json:
        out = {
            "zone": "DE",
            "target": TARGET,
            **meta,
            "scores": rows,
            "wall_s": wall,
            "command": "python " + " ".join(sys.argv),
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def merge(args: argparse.Namespace) -> None:
    """Join ``score --save`` outputs (other periods: rows; other windows: columns), average
    the windows again (the available ones) and score the joined forecasts."""
    parts = [pd.read_pickle(path) for path in args.files]
    penalties = {p.attrs.get("penalty", "aic (before --penalty)") for p in parts}
    if len(penalties) > 1:
        raise SystemExit(f"the files were made with different penalties: {sorted(penalties)}")
    by_windows: dict[tuple, list[pd.DataFrame]] = {}
    for part in parts:
        cols = tuple(c for c in part.columns if c != "mean")
        by_windows.setdefault(cols, []).append(part[list(cols)])
    fc = pd.concat([pd.concat(v).sort_index() for v in by_windows.values()], axis=1)
    if fc.index.duplicated().any() or fc.columns.duplicated().any():
        raise SystemExit("the files overlap")
    # the 1456-day window lacks the test's first 7 days (the file starts 1456 days before
    # the test, the first 7 of them build the lags): there the mean of the other windows
    windows_used = fc.notna().sum(axis=1)
    fc["mean"] = fc.mean(axis=1, skipna=True)
    short = int((windows_used < len(fc.columns) - 1).sum())
    print(f"{short} of {len(fc)} intervals average fewer than all {len(fc.columns) - 1} windows")
    frame = _frame(fc.index.max().tz_convert("Europe/Berlin").date())
    rows = _scores(fc, frame)
    if args.save:
        fc.to_pickle(args.save)
    if args.json:
        out = {
            "zone": "DE",
            "target": TARGET,
            "scores": rows,
            "intervals_with_fewer_windows": short,
            "penalty": penalties.pop(),
            "parts": [p.attrs for p in parts],
            "command": "python " + " ".join(sys.argv),
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("column")
    c.add_argument("--days", required=True)
    c.add_argument("--windows", type=int, nargs="+", default=[56, 84])
    c.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--test", default="2016-01-04:2017-12-31")
    s.add_argument("--windows", type=int, nargs="+", default=list(LEAR_WINDOWS))
    s.add_argument("--json")
    s.add_argument("--save")
    for sp in (c, s):
        sp.add_argument(
            "--penalty", choices=PENALTIES, default="benchmark", help="see lear_day_forecasts"
        )
    m = sub.add_parser("merge")
    m.add_argument("files", nargs="+")
    m.add_argument("--json")
    m.add_argument("--save")
    args = ap.parse_args()
    {"column": column, "score": score, "merge": merge}[args.cmd](args)


if __name__ == "__main__":
    main()
