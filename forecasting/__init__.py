"""Probabilistic day-ahead forecasting: a heteroscedastic Student-t network, baselines,
and the availability rules and features they share.

Forecasters (``forecasting.models``): ``StudentTForecaster``, ``GaussianForecaster``,
``SeasonalNaiveForecaster``, ``TSOForecaster`` — ``fit(frame, target=...)``,
``predict(frame, days=..., quantiles=...)`` → ``mu``/``sigma``/``nu`` per interval,
``sample(n, seed=...)``. Information sets and features (``forecasting.features``):
``cutoff_for_day``, ``available_at``, ``day_ahead_features``. LEAR-style linear price
forecasts, the open EPF benchmark's LASSO model (``forecasting.lear``): ``lear_forecasts``,
``with_lear_column``. The torch losses
``student_t_nll`` and ``gaussian_nll`` (``forecasting.nets``) load torch on first use;
everything else imports without it.
"""

from forecasting.evaluation import ForecastEvaluation, evaluate_forecasters
from forecasting.features import (
    CUTOFF_HOUR,
    DayAheadFeatures,
    availability_horizon,
    available_at,
    column_kind,
    cutoff_for_day,
    day_ahead_features,
    information_set,
    market_days,
)
from forecasting.lear import LEAR_COLUMN, LEAR_WINDOWS, lear_forecasts, with_lear_column
from forecasting.metrics import (
    crps_ensemble,
    crps_normal,
    crps_student_t,
    diebold_mariano,
    pit_values,
    score_forecast,
)
from forecasting.models import (
    LOAD_PARAMS,
    PRICE_PARAMS,
    TSO_FORECAST_COLUMNS,
    BaseForecaster,
    BlendWarning,
    GaussianForecaster,
    SeasonalNaiveForecaster,
    StudentTForecaster,
    TSOForecaster,
    blend_location,
    combine_members,
    quantile_column,
    student_t_quantiles,
)


def __getattr__(name: str):
    # torch takes seconds to import: load it only when its losses are asked for
    if name in ("student_t_nll", "gaussian_nll"):
        from forecasting import nets

        return getattr(nets, name)
    raise AttributeError(f"module 'forecasting' has no attribute {name!r}")


__all__ = [
    "CUTOFF_HOUR",
    "LEAR_COLUMN",
    "LEAR_WINDOWS",
    "LOAD_PARAMS",
    "PRICE_PARAMS",
    "TSO_FORECAST_COLUMNS",
    "BaseForecaster",
    "BlendWarning",
    "DayAheadFeatures",
    "ForecastEvaluation",
    "GaussianForecaster",
    "SeasonalNaiveForecaster",
    "StudentTForecaster",
    "TSOForecaster",
    "availability_horizon",
    "available_at",
    "blend_location",
    "column_kind",
    "combine_members",
    "crps_ensemble",
    "crps_normal",
    "crps_student_t",
    "cutoff_for_day",
    "day_ahead_features",
    "diebold_mariano",
    "evaluate_forecasters",
    "gaussian_nll",
    "information_set",
    "lear_forecasts",
    "market_days",
    "pit_values",
    "quantile_column",
    "score_forecast",
    "student_t_nll",
    "student_t_quantiles",
    "with_lear_column",
]
