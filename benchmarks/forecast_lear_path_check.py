"""How far is ``forecasting.lear``'s penalty grid from the benchmark's exact LARS path?

The open benchmark (epftoolbox) chooses each hour's LASSO penalty with scikit-learn's
``LassoLarsIC(criterion="aic")`` on unit-norm inputs, over every knot of the LARS path,
then refits ``Lasso(alpha)``. ``forecasting.lear.lasso_aic(unit_norm=True)`` scores the
same AIC, ``n·MSE/var(y) + 2·df`` (scikit-learn's form before 1.1), on a 12-point geometric
grid and refits by FISTA. This script runs ``lear_forecasts`` twice on the same days:
once as it is, once with ``lasso_aic`` replaced by the exact path (``lars_path``, the old
criterion, ``Lasso`` refit with ``max_iter=2500`` as the benchmark), and reports each
window's and the ensemble's MAE under both and their mean absolute difference.

Needs scikit-learn, which BTUT does not depend on (``pip install scikit-learn``)::

    python benchmarks/forecast_lear_path_check.py --days 2015-01-01:2015-12-31 --every 9 \\
        --json benchmarks/results/forecast_lear_path_check_DE_2015.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

import forecasting.lear as lear
from data import load_market_data
from forecasting.evaluation import parse_period
from forecasting.metrics import mae

TARGET = "price_eur_per_mwh"


def lars_lasso_aic(X: np.ndarray, Y: np.ndarray, **kwargs) -> tuple:
    """``lasso_aic(unit_norm=True)`` as the benchmark computes it: ``(B, b0, alphas)``."""
    from sklearn.linear_model import Lasso, lars_path

    if not kwargs.get("unit_norm"):
        raise ValueError("the check covers the benchmark penalty only")
    n = X.shape[0]
    Xc = X - X.mean(axis=0)
    norms = np.sqrt((Xc**2).sum(axis=0))
    Xn = Xc / np.where(norms > 0, norms, 1.0)
    B = np.zeros((X.shape[1], Y.shape[1]))
    b0, alphas = np.zeros(Y.shape[1]), np.zeros(Y.shape[1])
    eps = np.finfo(np.float64).eps
    for h in range(Y.shape[1]):
        yc = Y[:, h] - Y[:, h].mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            path_alphas, _, coefs = lars_path(Xn, yc, method="lasso", max_iter=2500)
            mse = np.mean((yc[:, None] - Xn @ coefs) ** 2, axis=0)
            aic = n * mse / (np.var(yc) + eps) + 2 * (np.abs(coefs) > eps).sum(axis=0)
            alphas[h] = path_alphas[int(np.argmin(aic))]
            fit = Lasso(alpha=alphas[h], max_iter=2500).fit(X, Y[:, h])
        B[:, h], b0[h] = fit.coef_, fit.intercept_
    return B, b0, alphas


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", default="2015-01-01:2015-12-31")
    ap.add_argument("--every", type=int, default=9, help="every k-th day of --days")
    ap.add_argument("--windows", default="56,84,1092")
    ap.add_argument("--json")
    ap.add_argument("--save", help="pickle both runs' forecasts here")
    args = ap.parse_args()
    first, last = parse_period(args.days, "--days")
    windows = tuple(int(w) for w in args.windows.split(","))
    frame = load_market_data("DE", "2012-01-09", last + pd.Timedelta(days=1))
    days = pd.date_range(first, last, freq="D")[:: args.every].date
    runs, cpu = {}, {}
    for name, fitter in (("grid", lear.lasso_aic), ("lars_path", lars_lasso_aic)):
        lear.lasso_aic = fitter
        t0 = time.process_time()
        runs[name] = lear.lear_forecasts(frame, TARGET, days=days, windows=windows)
        cpu[name] = time.process_time() - t0
    if args.save:
        pd.to_pickle(runs, args.save)
    y = frame[TARGET].reindex(runs["grid"].index)
    rows = []
    for col in runs["grid"].columns:
        a, b = runs["grid"][col], runs["lars_path"][col]
        both = y.notna() & a.notna() & b.notna()  # a long window lacks the first days
        rows.append(
            {
                "forecast": col,
                "n_intervals": int(both.sum()),
                "mae_grid": mae(y[both], a[both]),
                "mae_lars_path": mae(y[both], b[both]),
                "mean_abs_difference": float(np.mean(np.abs(a[both] - b[both]))),
            }
        )
    table = pd.DataFrame(rows).set_index("forecast")
    print(f"DE {args.days}, every {args.every}th day ({len(days)} days)")
    print(table.round(4).to_string())
    print(f"CPU s: grid {cpu['grid']:.1f}, lars_path {cpu['lars_path']:.1f}")
    if args.json:
        import sklearn

        record = {
            "zone": "DE",
            "days": args.days,
            "every": args.every,
            "n_days": len(days),
            "windows": list(windows),
            "sklearn": sklearn.__version__,
            "cpu_s": cpu,
            "rows": table.reset_index().to_dict(orient="records"),
            "command": " ".join(["python", *sys.argv]),
        }
        with open(args.json, "w") as fh:
            json.dump(record, fh, indent=1)


if __name__ == "__main__":
    main()
