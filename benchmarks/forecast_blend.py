"""Weight of the networks' location blend (``StudentTForecaster(location_blend=...,
blend_weight=w)``, issue 5 item 4), scored on saved forecasts over a grid of weights.

The blend is ``mu = (1 - w)·mu_network + w·reference`` with the network's ``sigma`` and
``nu`` kept (``forecasting.blend_location``, the same function the forecaster calls;
training does not see the blend, so one run of the networks serves every weight). The
rule, fixed before the runs: on the **validation** period take the grid weight with the
lowest Student-t CRPS; the test period only reports it (``--chosen W``).

DE price, validation 2015 (fit 2012-01-09..2014-12-31, daily recalibration as in the
test; ``seed_m.pkl`` from ``forecast_price_selection.py final --candidate price_params
--models student_t --train 2012-01-09:2014-12-31 --test 2015-01-01:2015-12-31 --seed m
--save-forecasts seed_m.pkl``, the LEAR ensemble from ``forecast_lear.py score --test ...
--windows 56 84 1092 --save`` and ``merge``; the 1456-day window needs more history than
the file has before 2015)::

    python benchmarks/forecast_blend.py seed_0.pkl seed_1.pkl seed_2.pkl seed_3.pkl \\
        --zone DE --lear lear15.pkl --json out.json

ES load, validation 2016 (``forecast_model_selection.py --candidates load_params_ens4
--save-forecasts P``; the reference is the TSO's forecast, the location of the ``tso``
model)::

    python benchmarks/forecast_blend.py P_load_params_ens4.pkl --zone ES --tso --json out.json

Several runs are members of one ensemble (seeds 0..M-1, combined by
``forecasting.combine_members``); the other models of the first run are scored beside it
on the same intervals.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd
from forecast_price_selection import ensemble_forecast  # a sibling script (benchmarks/)

from data.zones import get_zone
from forecasting import blend_location
from forecasting.evaluation import score_forecasts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="saved forecasts (members of one ensemble)")
    ap.add_argument("--zone", required=True, help="for the local days of the DM test")
    ref = ap.add_mutually_exclusive_group(required=True)
    ref.add_argument("--lear", help="LEAR forecasts (forecast_lear.py score/merge --save)")
    ref.add_argument("--tso", action="store_true", help="the tso model's location")
    ap.add_argument("--weights", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    ap.add_argument(
        "--chosen",
        type=float,
        help="the weight chosen on the validation period (a test run: reported, not chosen)",
    )
    ap.add_argument("--json")
    args = ap.parse_args()

    runs = [pd.read_pickle(path) for path in args.runs]
    student_t = ensemble_forecast(runs)
    index = student_t.index
    others = {k: v for k, v in runs[0]["forecasts"].items() if k != "student_t"}
    if args.lear:
        lear = pd.read_pickle(args.lear)
        # the mean of the windows each interval has, as the forecaster takes it
        windows = lear[[c for c in lear.columns if c != "mean"]].reindex(index)
        reference = windows.mean(axis=1, skipna=True).to_numpy()
        what = f"LEAR ensemble, windows {[c for c in lear.columns if c != 'mean']}"
    else:
        if "tso" not in others:
            raise SystemExit("the first run has no tso forecasts")
        reference = others["tso"]["mu"].reindex(index).to_numpy()
        what = "TSO day-ahead forecast"
    n_missing = int((np.isfinite(student_t["mu"]) & ~np.isfinite(reference)).sum())
    forecasts = {"student_t": student_t}
    for w in args.weights:
        if w > 0:
            mu = blend_location(student_t["mu"].to_numpy(), reference, w)
            forecasts[f"blend_{w:g}"] = student_t.assign(mu=mu)
    forecasts.update(others)
    scores, observed = score_forecasts(runs[0]["observed"], forecasts, get_zone(args.zone).tz)
    print(f"reference: {what}; {n_missing} intervals without it keep the network's mu")
    head = ("crps", "mae", "rmse")
    print(f"{'model':14s} " + " ".join(f"{h:>9s}" for h in head) + "  cov80  cov95     DM p")
    for name, s in scores.items():
        p = "-" if s.dm_pvalue_vs_student_t is None else f"{s.dm_pvalue_vs_student_t:.3g}"
        print(
            f"{name:14s} {s.crps:9.4f} {s.mae:9.4f} {s.rmse:9.3f} {s.coverage_80:6.3f} "
            f"{s.coverage_95:6.3f} {p:>8s}"
        )
    by_weight = {0.0: scores["student_t"].crps}
    by_weight.update({w: scores[f"blend_{w:g}"].crps for w in args.weights if w > 0})
    lowest = min(by_weight, key=by_weight.get)
    print(f"lowest Student-t CRPS on these {len(observed)} intervals at weight {lowest:g}")
    if args.chosen is not None:
        print(f"weight chosen on the validation period: {args.chosen:g}")
    if args.json:
        out = {
            "zone": args.zone,
            "reference": what,
            "rule": "choose the grid weight with the lowest Student-t CRPS on the validation "
            "period; report it on the test period",
            "lowest_crps_weight": lowest,
            "weight_chosen_on_validation": args.chosen,
            "intervals_without_reference": n_missing,
            "models": {name: s.to_dict() for name, s in scores.items()},
            "runs": [r["summary"].get("command", r["summary"].get("candidate")) for r in runs],
            "command": "python " + " ".join(sys.argv),
        }
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
