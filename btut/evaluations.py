"""Forecast evaluations in the results store: found again with ``btut db runs``.

``btut forecast evaluate`` saves each evaluation as a run of kind ``forecast_evaluation``
(one transaction, after the evaluation succeeded; idempotent on the configuration like a
replay):

* configuration: zone, target, train and test periods, source (and a CSV's SHA-256),
  every model's class and parameters as fitted first (defaults included), recalibration,
  seed and the BTUT version (its hash identifies the run);
* metrics: ``<model>.<score>`` for every model and score of the ``--json`` object (``crps``,
  ``mae``, ``rmse``, ``coverage_80``, ``coverage_95``, ``dm_pvalue_vs_student_t``,
  ``n_intervals``, ``fit_s``), and ``elapsed_s``; a null DM p-value is not stored;
* intervals (``time_utc``): the observed ``<target>`` and each model's ``<model>_mu``,
  ``<model>_sigma`` and ``<model>_nu`` (location-scale Student-t per interval; ``_nu`` is left
  out for a normal model, whose ν is infinite).

``btut.load_run(run_id)`` reads one back; :func:`scores_of` turns its metrics into the
per-model table again.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from data.store import SavedRun

KIND = "forecast_evaluation"


def evaluation_config(
    *,
    zone: str,
    target: str,
    train: tuple[Any, Any],
    test: tuple[Any, Any],
    source: str | None,
    models: Mapping[str, Any],
    recalibrate: int | None,
    warm_epochs: int,
    seed: int,
) -> dict[str, Any]:
    """The stored configuration of an evaluation (its hash identifies the run). ``models``:
    name -> forecaster; each is recorded with its class and *all* its parameters, so a new
    default is a new configuration."""
    from btut.replaying import _code_version, _file_digest

    digest = _file_digest(source)  # a replay's: the same file is the same data
    return {
        "kind": KIND,
        "zone": zone,
        "target": target,
        "train": f"{train[0]}:{train[1]}",
        "test": f"{test[0]}:{test[1]}",
        # a file is identified by its bytes, not by the path it was named by (as a replay's)
        "source": "file" if digest else source,
        "source_sha256": digest,
        "models": {
            name: {"class": type(model).__name__, "params": _plain(model.get_params())}
            for name, model in models.items()
        },
        "recalibrate_every_days": recalibrate,
        "warm_epochs": warm_epochs if recalibrate is not None else None,
        "seed": seed,
        "code_version": _code_version(),
    }


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def evaluation_metrics(result: Any) -> dict[str, float]:
    """``<model>.<score>`` -> value for a ``forecasting.evaluation.ForecastEvaluation``."""
    metrics: dict[str, float] = {"elapsed_s": float(result.elapsed_s)}
    for name, score in result.scores.items():
        for key, value in score.to_dict().items():
            if value is not None:
                metrics[f"{name}.{key}"] = float(value)
    return metrics


def evaluation_intervals(result: Any) -> pd.DataFrame:
    """Observed values and every model's (mu, sigma, nu) per test interval, UTC index."""
    columns: dict[str, pd.Series] = {result.target: result.observed}
    for name, frame in result.forecasts.items():
        for param in ("mu", "sigma", "nu"):
            values = frame[param].astype(float)
            if param == "nu" and np.isinf(values.to_numpy()).all():
                continue  # a normal head: nu is infinite everywhere
            if param == "nu" and np.isinf(values.to_numpy()).any():
                raise ValueError(f"{name}: nu mixes finite and infinite values")
            columns[f"{name}_{param}"] = values
    frame = pd.DataFrame(columns).sort_index()
    frame.index = frame.index.tz_convert("UTC")
    frame.index.name = "time_utc"
    return frame


def save_evaluation(
    result: Any, config: dict[str, Any], db: str | None, *, source_path: str | None = None
) -> SavedRun:
    """Store ``result`` under ``config`` in the store at ``db`` (default store);
    ``source_path``: the source file's path, kept with the run (not part of its identity)."""
    from data.store import ResultsStore

    metrics: dict[str, float | str] = dict(evaluation_metrics(result))
    if source_path is not None:
        metrics["source_path"] = source_path
    with ResultsStore(db) as store:
        return store.save_run(
            kind=KIND,
            zone=result.zone,
            config=config,
            intervals=evaluation_intervals(result),
            metrics=metrics,
        )


def scores_of(metrics: dict[str, Any]) -> pd.DataFrame:
    """The per-model score table (one row per model) from a stored run's metrics."""
    rows: dict[str, dict[str, float | None]] = {}
    for key, value in metrics.items():
        model, dot, score = key.partition(".")
        if dot:
            number = float(value)
            rows.setdefault(model, {})[score] = None if math.isnan(number) else number
    return pd.DataFrame(rows).T
