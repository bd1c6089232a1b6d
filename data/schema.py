"""Canonical column names (units in the names) and index name of BTUT market frames."""

from __future__ import annotations

import pandas as pd

INDEX_NAME = "time_utc"

#: Accepted values of ``resolution=`` (``load_market_data``, ``fetch_entsoe``): the API's
#: own step, or hourly / quarter-hourly.
RESOLUTIONS: tuple[str, ...] = ("native", "60min", "15min")

#: Canonical columns, in display order. A frame holds only those its source has.
CANONICAL_COLUMNS: dict[str, str] = {
    "price_eur_per_mwh": "realised day-ahead price, EUR/MWh",
    "price_forecast_eur_per_mwh": "TSO's day-ahead price forecast, EUR/MWh",
    "load_mw": "actual total load, MW (interval average)",
    "load_forecast_mw": "TSO's day-ahead load forecast, MW",
    "solar_mw": "actual solar generation, MW",
    "solar_forecast_mw": "day-ahead solar forecast, MW",
    "wind_mw": "actual wind generation (onshore + offshore), MW",
    "wind_forecast_mw": "day-ahead wind forecast, MW",
    "renewables_forecast_mw": "day-ahead solar + wind forecast, MW",
}

#: Columns some benchmark files carry besides the canonical ones.
EXTRA_COLUMNS: dict[str, str] = {
    "price_usd_per_mwh": "day-ahead price, USD/MWh (PJM)",
    "system_load_forecast_mw": "system-wide day-ahead load forecast, MW (PJM)",
    "fr_generation_forecast_mw": "French day-ahead generation forecast, MW (epftoolbox BE)",
    "fr_load_forecast_mw": "French day-ahead load forecast, MW (epftoolbox BE)",
}

PRICE_COLUMNS = ("price_eur_per_mwh", "price_forecast_eur_per_mwh", "price_usd_per_mwh")


def order_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns in canonical order, extras after them."""
    known = [c for c in (*CANONICAL_COLUMNS, *EXTRA_COLUMNS) if c in frame.columns]
    rest = [c for c in frame.columns if c not in known]
    return frame[known + rest]
