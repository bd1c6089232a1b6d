"""BTUT data layer: real ENTSO-E market data, validation, the results store, the errors.

Lowest layer of BTUT: imports no other BTUT package; third-party: pandas, numpy,
sqlalchemy and alembic (the store), entsoe-py and requests (the API, lazily).
"""

from data.errors import (
    BTUTError,
    ConcurrentRunError,
    DataUnavailableError,
    DataValidationError,
    InvalidParameterError,
    MissingCredentialsError,
    NoRouteError,
    NotFittedError,
    SolverError,
    StorageError,
    StoreNotReadyError,
)
from data.loader import BUNDLED_FILES, bundled_coverage, check_index, load_market_data
from data.schema import CANONICAL_COLUMNS, INDEX_NAME
from data.validation import ValidationReport, validate_market_data
from data.zones import Zone, get_zone, zones


def __getattr__(name: str):
    # The store pulls in SQLAlchemy and Alembic; import it on first use only.
    if name in ("ResultsStore", "config_hash"):
        from data import store

        return getattr(store, name)
    raise AttributeError(f"module 'data' has no attribute {name!r}")


__all__ = [
    "BUNDLED_FILES",
    "CANONICAL_COLUMNS",
    "INDEX_NAME",
    "BTUTError",
    "ConcurrentRunError",
    "DataUnavailableError",
    "DataValidationError",
    "InvalidParameterError",
    "MissingCredentialsError",
    "NoRouteError",
    "NotFittedError",
    "ResultsStore",
    "SolverError",
    "StorageError",
    "StoreNotReadyError",
    "ValidationReport",
    "Zone",
    "bundled_coverage",
    "check_index",
    "config_hash",
    "get_zone",
    "load_market_data",
    "validate_market_data",
    "zones",
]
