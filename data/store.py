"""Results store: simulation runs, their time series and metrics, in a SQL database.

SQLite file by default, PostgreSQL by URL, through SQLAlchemy 2.0. The schema is owned by
the Alembic migrations shipped in ``data/migrations`` and is brought to the newest revision
whenever a :class:`ResultsStore` is opened for writing. ``ResultsStore(url, read_only=True)``
neither creates nor migrates anything: it fails with :class:`StorageError` when the SQLite
file does not exist or the schema is not at the newest revision (``btut db upgrade``).

A run is identified by the SHA-256 of its canonical JSON configuration (:func:`config_hash`):
saving the same configuration twice stores it once. Every save is one transaction, so a
failed save leaves nothing behind.

URL resolution (first that is set): the ``url`` argument, the environment variable
``BTUT_DB_URL``, the SQLite file ``$BTUT_HOME/btut.sqlite`` (``BTUT_HOME`` defaults to
``~/.local/share/btut``). ``postgresql://`` without a driver means ``postgresql+psycopg://``
(install ``btut[postgres]``). Passwords never appear in messages: see
:attr:`ResultsStore.url_display`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import importlib.metadata
import json
import math
import numbers
import os
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Dialect,
    Double,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import DateTime, TypeDecorator

from data.checks import clip_path, is_regular, path_mode
from data.errors import (
    ConcurrentRunError,
    DataUnavailableError,
    InvalidParameterError,
    StorageError,
    StoreNotReadyError,
)

__all__ = [
    "Base",
    "ResultsStore",
    "Run",
    "RunInterval",
    "RunMetric",
    "RunType",
    "SavedRun",
    "StoredRun",
    "check_url",
    "config_hash",
    "default_url",
    "head_revision",
]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
"""Directory of the Alembic environment (``env.py``, ``versions/``) shipped with the package."""

WHOLE_MARKET = ""
"""``agent_type`` stored for whole-market rows (never NULL, so the primary key stays usable)."""

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before failing, in ms."""

_PROCESS_LOCKS: dict[tuple[str, str], threading.Lock] = {}
"""Locks of in-memory SQLite stores (one process can reach them)."""

#: Whether this session still holds the advisory lock with key (hi << 32 | lo).
_HELD_SQL = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
    "AND pid = pg_backend_pid() AND objsubid = 1 AND classid::bigint = :hi "
    "AND objid::bigint = :lo)"
)


@dataclass(frozen=True)
class HeldLock:
    """A lock held by :meth:`ResultsStore.exclusive`: ``check()`` raises
    :class:`~data.errors.StorageError` if it was lost (a PostgreSQL lock whose connection the
    server ended); file and process locks cannot be lost while held."""

    name: str
    _check: Callable[[], None] | None = field(default=None, repr=False)

    def check(self) -> None:
        if self._check is not None:
            self._check()


_MIGRATION_LOCK_KEY = 0x4254555453544F52  # "BTUTSTOR": PostgreSQL advisory lock for upgrades
_NAME_MAX = {"kind": 64, "zone": 64, "agent_type": 64, "quantity": 128, "metric": 128}
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "tzutc()", "UTC+00:00"})


# --------------------------------------------------------------------------------------
# ORM models (the schema itself is created by data/migrations, never by create_all)
# --------------------------------------------------------------------------------------


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamp.

    Binds aware datetimes only (converted to UTC; SQLite stores the UTC wall time) and
    always returns aware UTC datetimes, whatever the backend or session time zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base of the results-store tables."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_name)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Run(Base):
    """One stored run; ``config_hash`` (SHA-256 hex of the canonical config) is unique."""

    __tablename__ = "runs"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    zone: Mapped[str | None] = mapped_column(String(64))
    config_json: Mapped[str] = mapped_column(Text)
    config_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    btut_version: Mapped[str] = mapped_column(String(64))
    layout_json: Mapped[str] = mapped_column(Text)


class RunInterval(Base):
    """Long-form interval values: one row per (time, agent type, quantity).

    ``agent_type`` is ``""`` for whole-market rows; ``value`` NULL stands for NaN.
    """

    __tablename__ = "run_intervals"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    time_utc: Mapped[dt.datetime] = mapped_column(UTCDateTime, primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)


class RunType(Base):
    """Per-agent-type totals: one row per (agent type, quantity); NULL value is NaN."""

    __tablename__ = "run_types"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    agent_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)


class RunMetric(Base):
    """Scalar run metrics: a number in ``value`` or a string in ``text`` (both NULL = NaN)."""

    __tablename__ = "run_metrics"

    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[float | None] = mapped_column(Double)
    text: Mapped[str | None] = mapped_column(Text)


_STORE_TABLES = (Run, RunInterval, RunType, RunMetric)


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def _json_default(obj: Any) -> Any:
    """JSON fallback: numpy scalars as Python numbers, sets sorted, dates and the rest str."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Mapping):
        return dict(obj)
    if isinstance(obj, (set, frozenset)):
        try:
            return sorted(obj)
        except TypeError:
            return sorted(obj, key=repr)
    if isinstance(obj, (tuple, np.ndarray)):
        return list(obj)
    if isinstance(obj, decimal.Decimal) and not obj.is_finite():
        raise ValueError(f"Out of range decimal values are not JSON compliant: {obj}")
    cls = type(obj)
    if cls.__str__ is object.__str__ and cls.__repr__ is object.__repr__:
        # "<object object at 0x7f...>": a memory address, another hash every run
        raise TypeError(f"a {cls.__name__} has no stable text form")
    return str(obj)


def _canonical_json(config: Mapping[str, Any]) -> str:
    if not isinstance(config, Mapping):
        raise InvalidParameterError(f"config must be a mapping, got {type(config).__name__}")
    try:
        return json.dumps(
            dict(config),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=True,
            allow_nan=False,
            default=_json_default,
        )
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"config cannot be stored as canonical JSON: {exc}") from exc


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 hex digest (64 chars) of the canonical JSON of ``config``.

    Canonical: keys sorted, no whitespace, ASCII, dates and other non-JSON values as ``str``
    (numpy scalars as numbers, sets sorted). Key order therefore does not matter. NaN/inf
    and non-string keys that cannot be sorted raise :class:`InvalidParameterError`.
    """
    return hashlib.sha256(_canonical_json(config).encode("ascii")).hexdigest()


@cache
def _btut_version() -> str:
    try:
        return importlib.metadata.version("btut")
    except importlib.metadata.PackageNotFoundError:
        return "0+unknown"


def default_url() -> str:
    """The store URL used when none is given: ``BTUT_DB_URL`` or ``$BTUT_HOME/btut.sqlite``."""
    env_url = os.environ.get("BTUT_DB_URL", "").strip()
    if env_url:
        return env_url
    home = os.environ.get("BTUT_HOME", "").strip()
    base = Path(home).expanduser() if home else Path.home() / ".local" / "share" / "btut"
    return f"sqlite:///{base / 'btut.sqlite'}"


_SECRET_QUERY_KEYS = frozenset({"password", "passwd", "sslpassword"})
"""Query parameters of a database URL that hold a secret (libpq reads ``?password=``)."""


def _parse_url(url: str | URL) -> URL:
    if not isinstance(url, str | URL):  # a Path, a number: nothing secret to hide
        raise InvalidParameterError(
            f"the database URL must be a string such as sqlite:///PATH or "
            f"postgresql://USER@HOST/DB, got a {type(url).__name__}"
        )
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        # The parser's message quotes the whole URL, password included: never show it.
        raise InvalidParameterError(
            "could not parse the database URL (value hidden); give one such as "
            "sqlite:///PATH or postgresql://USER@HOST/DB"
        ) from None
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _secret_keys(url: URL) -> list[str]:
    """The query parameters of ``url`` that hold a password (libpq's ``?password=...``)."""
    return [k for k in url.query if k.lower() in _SECRET_QUERY_KEYS]


def _display(url: URL) -> str:
    """``url`` with its password, in the authority or the query, shown as ``***``."""
    shown = url.update_query_dict(dict.fromkeys(_secret_keys(url), "***"))
    return shown.render_as_string(hide_password=True).replace("%2A%2A%2A", "***")


def check_url(url: str | None = None) -> str:
    """Parse a results-store URL (default ``default_url()``) without connecting or creating
    anything: a one-line ``InvalidParameterError`` for one that cannot be parsed. Returns
    the URL with its password hidden (also one given as a query parameter)."""
    return _display(_parse_url(url if url is not None else default_url()))


def _days_and_agents(config_json: str) -> tuple[str, int | None]:
    """``(days, agents)`` of a stored configuration for listings ("" / None when absent)."""
    try:
        cfg = json.loads(config_json)
    except (TypeError, ValueError):
        return "", None
    if not isinstance(cfg, dict):
        return "", None
    days = cfg.get("days")
    if isinstance(days, list) and days:
        text = str(days[0]) if len(days) == 1 else f"{days[0]} to {days[-1]}"
    elif cfg.get("start") and cfg.get("end"):
        text = f"{cfg['start']} to {cfg['end']} (excl.)"
    elif isinstance(cfg.get("test"), str):  # a forecast evaluation: its test period
        text = f"test {cfg['test'].replace(':', ' to ')}"
    else:
        text = ""
    agents = cfg.get("agents")
    return text, agents if isinstance(agents, int) and not isinstance(agents, bool) else None


def _sqlite_file(url: URL) -> Path | None:
    database = url.database
    if not url.drivername.startswith("sqlite") or not database:
        return None
    if database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _sqlite_uri_file(url: URL) -> Path | None:
    """The file behind a SQLite ``file:`` database (``sqlite:///file:PATH?uri=true``), or
    None for an in-memory one; without ``uri=true`` SQLite takes the name literally."""
    database = url.database or ""
    if not url.drivername.startswith("sqlite") or not database.startswith("file:"):
        return None
    if str(url.query.get("uri", "")).lower() not in ("true", "1", "yes", "on"):
        return Path(database)
    if url.query.get("mode") == "memory" or database.startswith("file::memory:"):
        return None
    path = urllib.parse.urlsplit(database).path if database.startswith("file://") else database[5:]
    return Path(urllib.parse.unquote(path)) if path else None


def is_in_memory(url: str) -> bool:
    """Whether ``url`` names an in-memory SQLite database (gone when the process ends)."""
    try:
        parsed = make_url(url)
    except Exception:  # a malformed URL is the store's to report
        return False
    if not parsed.drivername.startswith("sqlite"):
        return False
    return _sqlite_file(parsed) is None and _sqlite_uri_file(parsed) is None


def _ensure_sqlite_dir(url: URL) -> None:
    """Create the parent directory of a SQLite database file (no-op for other URLs)."""
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _enable_wal(cursor: Any) -> None:
    """Switch a SQLite file to WAL (persistent), retrying while another opener holds it.

    SQLite answers "database is locked" at once, without the busy handler, when two
    connections switch a new file at the same time. WAL only lets readers run during a write;
    if the switch keeps failing the default rollback journal stays, which is just as safe.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode")
            if str(cursor.fetchone()[0]).lower() == "wal":
                return
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {row[0] for row in cursor.fetchall()}
            if tables and "alembic_version" not in tables:
                return  # another application's database: left as it is (refused later)
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            message = str(exc).lower()
            if "locked" not in message and "busy" not in message:
                raise
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)


def _read_only_uri(path: Path) -> str:
    """The URI a reader opens the SQLite store ``path`` with (it exists).

    ``mode=rw`` where the file and its folder are writable: an error instead of a new file,
    and no ``-wal``/``-shm`` files left behind (``mode=ro`` leaves them). A store the user
    may not write (a shared or archived file, a read-only mount) is ``mode=ro``, which needs
    its ``-shm`` file to exist or to be creatable in the folder; else ``immutable=1`` (no
    one can be writing a store that no one may write to), which reads the file as it is,
    and so is refused (:class:`StorageError`) when a non-empty ``-wal`` file is there: it
    may hold writes the file lacks (a writer killed before its checkpoint), and without the
    ``-shm`` index nothing tells whether it does.
    """
    base = path.absolute().as_uri()
    folder_writable = os.access(path.parent, os.W_OK)
    if os.access(path, os.W_OK) and folder_writable:
        return f"{base}?mode=rw"
    shm = path.with_name(path.name + "-shm")
    if folder_writable or shm.exists():
        return f"{base}?mode=ro"
    wal = path.with_name(path.name + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        # immutable=1 ignores the write-ahead log: the last runs written would be missing
        raise StorageError(
            f"cannot read the results store {clip_path(path)} here: its write-ahead log "
            f"{wal.name} may hold writes not yet in the file (without a writable folder "
            "there is no telling, and they would be missed); open it once where its folder "
            f"is writable, or copy the file and its {wal.name} to such a folder"
        )
    return f"{base}?mode=ro&immutable=1"


def _make_engine(url: URL, *, read_only: bool = False) -> Engine:
    """Engine with the SQLite pragmas (foreign keys, busy timeout, WAL) and BEGIN control.

    SQLite transactions are opened by SQLAlchemy: ``BEGIN IMMEDIATE`` on connections with the
    execution option ``btut_write=True`` (so two writers queue on the busy timeout instead of
    deadlocking), plain ``BEGIN`` otherwise.

    ``read_only``: a SQLite file is opened as :func:`_read_only_uri` says and with
    ``PRAGMA query_only``, without switching it to WAL; PostgreSQL sessions are
    ``READ ONLY``.
    """
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    backend = url.get_backend_name()
    if backend == "postgresql" and "connect_timeout" not in url.query:
        kwargs["connect_args"] = {"connect_timeout": 10}
    if backend == "sqlite" and url.database in (None, "", ":memory:"):
        # One shared connection, so every session sees the same in-memory database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    sqlite_path = _sqlite_file(url) if backend == "sqlite" else None
    if read_only and sqlite_path is not None:
        uri = _read_only_uri(sqlite_path)
        kwargs["creator"] = lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)
    engine = create_engine(url, **kwargs)
    if read_only and engine.dialect.name == "postgresql":
        engine = engine.execution_options(postgresql_readonly=True)
    if engine.dialect.name == "sqlite":
        is_file = sqlite_path is not None

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, connection_record: Any) -> None:
            dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA foreign_keys = ON")
                if read_only:
                    cursor.execute("PRAGMA query_only = ON")
                elif is_file:
                    _enable_wal(cursor)
            finally:
                cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            write = conn.get_execution_options().get("btut_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _alembic_config() -> Any:
    """Alembic config pointing at the shipped migrations (alembic is imported lazily)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest schema revision shipped with this BTUT version."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships 0001
        raise StorageError("no schema migrations found in the package")
    return head


def _check_name(what: str, value: Any) -> str:
    limit = _NAME_MAX[what]
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidParameterError(
            f"{what} must be a non-empty string of at most {limit} characters, got {value!r}"
        )
    return value


def _is_utc(tz: Any) -> bool:
    return tz is not None and str(tz) in _UTC_NAMES


def _float_list(values: pd.Series) -> list[float | None]:
    """Column as Python floats with NaN (and pandas NA) replaced by None (stored as NULL)."""
    arr = values.to_numpy(dtype="float64", na_value=np.nan)
    return [None if math.isnan(v) else v for v in arr.tolist()]


def _check_numeric(what: str, frame: pd.DataFrame, columns: list[str]) -> None:
    for col in columns:
        dtype = frame[col].dtype
        if (
            not pd.api.types.is_numeric_dtype(dtype)
            or pd.api.types.is_bool_dtype(dtype)
            or pd.api.types.is_complex_dtype(dtype)
        ):
            raise InvalidParameterError(
                f"{what} column {col!r} must be numeric (int or float), got dtype {dtype}"
            )


def _check_columns(what: str, frame: pd.DataFrame) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise InvalidParameterError(
            f"{what} must be a pandas DataFrame, got {type(frame).__name__}"
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise InvalidParameterError(f"{what} must have flat (single-level) columns")
    columns = list(frame.columns)
    if len(set(columns)) != len(columns):
        raise InvalidParameterError(f"{what} has duplicate column names")
    for col in columns:
        _check_name("quantity", col)
    return columns


@dataclass(frozen=True)
class _Prepared:
    """Validated rows, ready to insert once the run id is known."""

    intervals: list[dict[str, Any]]
    per_type: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    layout: dict[str, Any]


def _prepare_intervals(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    columns = _check_columns("intervals", frame)
    index = frame.index
    if not isinstance(index, pd.DatetimeIndex):
        raise InvalidParameterError(
            f"intervals index must be a DatetimeIndex (time_utc), got {type(index).__name__}"
        )
    if index.tz is None:
        raise InvalidParameterError("intervals index is naive; it must be tz-aware UTC")
    if not _is_utc(index.tz):
        raise InvalidParameterError(
            f"intervals index must be UTC, got {index.tz}; use .tz_convert('UTC')"
        )
    if index.hasnans:
        raise InvalidParameterError("intervals index contains NaT")
    nanos = index.as_unit("ns").asi8
    if (nanos % 1000 != 0).any():
        raise InvalidParameterError("intervals timestamps must have at most microsecond precision")

    has_type = "agent_type" in columns
    quantities = [c for c in columns if c != "agent_type"]
    if not quantities:
        raise InvalidParameterError("intervals needs at least one numeric quantity column")
    _check_numeric("intervals", frame, quantities)

    n = len(frame)
    if has_type:
        agent_types: list[str] = []
        for value in frame["agent_type"].tolist():
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                agent_types.append(WHOLE_MARKET)
            else:
                agent_types.append(_check_name("agent_type", value))
    else:
        agent_types = [WHOLE_MARKET] * n
    keys = pd.MultiIndex.from_arrays([index, agent_types])
    if keys.has_duplicates:
        what = "(time_utc, agent_type) pairs" if has_type else "timestamps"
        raise InvalidParameterError(f"intervals has duplicate {what}")

    times = index.to_pydatetime().tolist()
    rows: list[dict[str, Any]] = []
    for quantity in quantities:
        values = _float_list(frame[quantity])
        rows.extend(
            {"time_utc": t, "agent_type": a, "quantity": quantity, "value": v}
            for t, a, v in zip(times, agent_types, values, strict=True)
        )
    layout = {
        "columns": columns,
        "unit": index.unit,
        "freq": index.freqstr,
        "has_agent_type": has_type,
    }
    return rows, layout


def _prepare_per_type(frame: pd.DataFrame) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    columns = _check_columns("per_type", frame)
    if not columns:
        raise InvalidParameterError("per_type needs at least one numeric quantity column")
    _check_numeric("per_type", frame, columns)
    if isinstance(frame.index, pd.MultiIndex):
        raise InvalidParameterError("per_type index must be the agent types (one level)")
    agent_types = [_check_name("agent_type", a) for a in frame.index.tolist()]
    if len(set(agent_types)) != len(agent_types):
        raise InvalidParameterError("per_type has duplicate agent types in its index")
    rows: list[dict[str, Any]] = []
    for quantity in columns:
        values = _float_list(frame[quantity])
        rows.extend(
            {"agent_type": a, "quantity": quantity, "value": v}
            for a, v in zip(agent_types, values, strict=True)
        )
    return rows, {"columns": columns}


def _prepare_metrics(metrics: Mapping[str, float | str]) -> list[dict[str, Any]]:
    if not isinstance(metrics, Mapping):
        raise InvalidParameterError(f"metrics must be a mapping, got {type(metrics).__name__}")
    rows: list[dict[str, Any]] = []
    for name, value in metrics.items():
        _check_name("metric", name)
        if isinstance(value, str):
            rows.append({"name": name, "value": None, "text": value})
        elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            try:
                number = float(value)
            except OverflowError:  # an int beyond float (10**400)
                digits = len(str(abs(value)))
                raise InvalidParameterError(
                    f"metric {name!r} is too large for a float: an integer of {digits} digits"
                ) from None
            rows.append(
                {"name": name, "value": None if math.isnan(number) else number, "text": None}
            )
        else:
            raise InvalidParameterError(
                f"metric {name!r} must be a number or a string, got {type(value).__name__}"
            )
    return rows


# --------------------------------------------------------------------------------------
# Public records
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SavedRun:
    """Outcome of :meth:`ResultsStore.save_run`; ``created`` is False if it already existed."""

    run_id: int
    config_hash: str
    created: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class StoredRun:
    """A run read back from the store; the time series load lazily from the store.

    ``config`` is the canonical JSON decoded (dates etc. come back as strings),
    ``created_utc`` is aware UTC, ``metrics`` maps name to float (NaN for missing) or str.
    """

    run_id: int
    kind: str
    zone: str | None
    config: dict[str, Any]
    config_hash: str
    created_utc: dt.datetime
    btut_version: str
    metrics: dict[str, float | str]
    _layout: dict[str, Any] = field(repr=False, compare=False)
    _store: ResultsStore = field(repr=False, compare=False)

    def intervals_frame(self) -> pd.DataFrame | None:
        """Interval values, wide: index ``time_utc`` (UTC), one float64 column per quantity.

        Rows are sorted by (time_utc, agent_type), whole-market rows first; if the saved frame
        had an ``agent_type`` column it is restored (NaN for whole-market rows). Columns keep
        the saved order. None if the run was saved without intervals.
        """
        layout = self._layout.get("intervals")
        if layout is None:
            return None
        return self._store._intervals_frame(self.run_id, layout)

    def per_type_frame(self) -> pd.DataFrame | None:
        """Per-type values: index ``agent_type`` (sorted), one float64 column per quantity.

        None if the run was saved without ``per_type``.
        """
        layout = self._layout.get("per_type")
        if layout is None:
            return None
        return self._store._per_type_frame(self.run_id, layout)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (no time series); NaN metrics become None."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "zone": self.zone,
            "config": self.config,
            "config_hash": self.config_hash,
            "created_utc": self.created_utc.isoformat(),
            "btut_version": self.btut_version,
            "metrics": {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in self.metrics.items()
            },
        }


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------


def _driver_hint(drivername: str, module: str | None) -> str:
    """What to install for a database driver that is missing (``btut[postgres]`` brings
    psycopg 3, which ``postgresql://`` means; not psycopg2)."""
    if drivername in ("postgresql", "postgresql+psycopg"):
        return "install btut[postgres] (psycopg 3)"
    package = f"the {module} package" if module else "its driver"
    if drivername.startswith("postgresql+"):
        return f"install {package}, or use postgresql:// with btut[postgres] (psycopg 3)"
    return f"install {package}"


class ResultsStore:
    """Runs, interval series, per-type values and metrics in a SQL database.

    Opening a store connects and upgrades the schema to the newest shipped migration
    (creating a missing SQLite file and its directory). With ``read_only=True`` nothing is
    created, migrated or written: a SQLite file that does not exist, an empty database or a
    schema older than the newest revision raise :class:`~data.errors.StoreNotReadyError` (run
    ``btut db upgrade``), and the write methods (:meth:`save_run`, :meth:`upgrade`,
    :meth:`exclusive`) refuse. Failures to reach or write the database raise
    :class:`StorageError` (one line, password hidden). Use as a context manager or call
    :meth:`close` to release connections.
    """

    def __init__(self, url: str | None = None, *, read_only: bool = False) -> None:
        self._url = _parse_url(url if url is not None else default_url())
        # the password may also come as a query parameter (libpq's ?password=...)
        self._secrets = [str(self._url.password)] if self._url.password else []
        for key in _secret_keys(self._url):
            value = self._url.query[key]
            self._secrets += [value] if isinstance(value, str) else list(value)
        self.url_display: str = _display(self._url)
        """The URL with the password replaced by ``***``: safe to print or log."""
        self.read_only: bool = bool(read_only)
        """True if opened with ``read_only=True``: nothing is created, migrated or written."""
        path = _sqlite_file(self._url)
        if self.read_only:
            path = path if path is not None else _sqlite_uri_file(self._url)
            mode = None if path is None else path_mode(path, "results store", StorageError)
            if path is not None and mode is None:
                raise StoreNotReadyError(
                    f"no results store at {clip_path(path)} (nothing stored there yet: a "
                    "replay, a backtest or `btut db upgrade` creates it)"
                )
            if path is not None and not is_regular(mode):
                raise StorageError(f"no results store at {clip_path(path)} (not a regular file)")
        else:
            try:
                _ensure_sqlite_dir(self._url)
            except OSError as exc:
                raise StorageError(
                    self._one_line(
                        f"cannot create the directory of {self.url_display}: {self._hide(str(exc))}"
                    )
                ) from None
        try:
            self.engine: Engine = _make_engine(self._url, read_only=self.read_only)
        except ModuleNotFoundError as exc:
            raise StorageError(
                f"database driver for {self._url.drivername!r} is not installed ({exc}); "
                + _driver_hint(self._url.drivername, exc.name)
            ) from None
        except (ArgumentError, SQLAlchemyError) as exc:
            raise self._storage_error("open", exc) from None
        self._write_engine = self.engine.execution_options(btut_write=True)
        try:
            if self.read_only:
                self._check_schema()
            else:
                self.upgrade()
        except BaseException:
            self.engine.dispose()
            raise

    # ---- plumbing -----------------------------------------------------------------

    def __repr__(self) -> str:
        return f"ResultsStore({self.url_display!r})"

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close all pooled connections (the store can still be used; it reconnects)."""
        self.engine.dispose()

    def _hide(self, detail: str) -> str:
        """A driver's or the OS's text with the password replaced by ``***``; hidden whole for
        a password of under 4 characters (replacing every "a" would garble it)."""
        for password in self._secrets:
            if not password or password not in detail:
                continue
            if len(password) < 4:
                return "(details hidden: they hold the password)"
            detail = detail.replace(password, "***")
        return detail

    @staticmethod
    def _one_line(message: str) -> str:
        return " ".join(message.split())

    def _storage_error(self, action: str, exc: BaseException) -> StorageError:
        orig = getattr(exc, "orig", None) or exc
        detail = str(orig).strip().splitlines()[0] if str(orig).strip() else ""
        message = f"could not {action} the results store {self.url_display}: {type(orig).__name__}"
        if detail:
            message += f": {self._hide(detail)}"
        return StorageError(self._one_line(message))

    def _safe_cause(self, exc: BaseException) -> BaseException | None:
        """``exc``, or None if its text (or its causes') holds the password."""
        seen: BaseException | None = exc
        while self._secrets and seen is not None:
            if any(p in str(seen) or p in repr(seen) for p in self._secrets if p):
                return None
            seen = seen.__cause__ or seen.__context__
        return exc

    # ---- locks ----------------------------------------------------------------------

    @contextmanager
    def exclusive(
        self, name: str, *, wait: bool = False, timeout_s: float | None = None
    ) -> Iterator[HeldLock]:
        """Hold the store-wide lock ``name`` for the ``with`` block (one holder at a time,
        across processes and machines sharing the store).

        PostgreSQL: a session advisory lock on a dedicated connection; SQLite file: an
        ``flock`` on ``<database>.<hash of name>.lock`` beside the file; in-memory SQLite: a
        process lock. All are released by the operating system or the server when the holder
        dies, even by ``kill -9``, so a killed job never leaves a stale lock. ``wait=False``
        raises :class:`ConcurrentRunError` at once when another holder has it; ``wait=True``
        polls until it is free (at most ``timeout_s`` seconds, None = forever).

        Yields a :class:`HeldLock`: call its ``check()`` between steps of long work. A
        PostgreSQL lock lives as long as its connection, which the server can end (a restart,
        ``pg_terminate_backend``, ``idle_session_timeout``); ``check()`` then raises
        :class:`StorageError` instead of going on without the lock.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameterError(f"lock name must be a non-empty string, got {name!r}")
        self._refuse_write("take a lock")
        if timeout_s is not None and (
            isinstance(timeout_s, bool)
            or not isinstance(timeout_s, numbers.Real)
            or not timeout_s >= 0  # NaN too
        ):
            raise InvalidParameterError(
                f"timeout_s must be a number of seconds >= 0 or None, got {timeout_s!r}"
            )
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        deadline = None if timeout_s is None else time.monotonic() + float(timeout_s)

        def busy() -> ConcurrentRunError:
            return ConcurrentRunError(
                f"{name} is already running on {self.url_display} (another process holds its "
                "lock); wait for it to finish or run again with --wait"
            )

        def pause() -> None:
            if not wait or (deadline is not None and time.monotonic() > deadline):
                raise busy()
            time.sleep(0.2)

        if self.engine.dialect.name == "postgresql":
            try:
                conn = self.engine.connect()
            except SQLAlchemyError as exc:
                raise self._storage_error("lock", exc) from self._safe_cause(exc)
            try:
                sql = text("SELECT pg_try_advisory_lock(:key)")
                try:
                    while not conn.execute(sql, {"key": key}).scalar():
                        conn.rollback()
                        pause()
                    conn.commit()
                except SQLAlchemyError as exc:
                    raise self._storage_error("lock", exc) from self._safe_cause(exc)
                hi, lo = (key >> 32) & 0xFFFFFFFF, key & 0xFFFFFFFF  # how pg_locks shows it

                def check() -> None:
                    try:
                        held = conn.execute(_HELD_SQL, {"hi": hi, "lo": lo}).scalar()
                        conn.commit()
                    except SQLAlchemyError as exc:
                        reason = f"its connection to the server ended ({type(exc).__name__})"
                        raise self._lost(name, reason) from None
                    if not held:
                        raise self._lost(name, "the server no longer holds it")

                try:
                    yield HeldLock(name, check)
                finally:
                    try:
                        conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                        conn.commit()
                    except SQLAlchemyError:
                        conn.invalidate()  # closing the session releases the lock anyway
            finally:
                conn.close()
            return
        path = _sqlite_file(self._url)
        if path is None:
            lock = _PROCESS_LOCKS.setdefault((self.url_display, name), threading.Lock())
            while not lock.acquire(blocking=False):
                pause()
            try:
                yield HeldLock(name, None)
            finally:
                lock.release()
            return
        import fcntl

        # the real file's name: a store reached through a symlink shares its lock
        path = path.resolve()
        lock_path = path.with_name(f"{path.name}.{key & 0xFFFFFFFFFFFF:012x}.lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StorageError(f"cannot create the lock file {lock_path}: {exc}") from None
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    pause()
            try:
                yield HeldLock(name, None)  # flock is held while the descriptor is open
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _lost(self, name: str, reason: str) -> StorageError:
        return StorageError(
            self._one_line(
                f"lost the lock of {name} on {self.url_display}: {reason}; stopped so that no "
                "other run works alongside; run again to resume"
            )
        )

    def _refuse_write(self, action: str) -> None:
        if self.read_only:
            raise StorageError(
                f"cannot {action}: the results store {self.url_display} was opened read-only"
            )

    # ---- schema ---------------------------------------------------------------------

    def _check_schema(self) -> None:
        """Read-only open: the schema must be at the newest shipped revision."""
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        self._check_reachable(self.engine)  # unreachable is that, as when opened to write
        revision = self.schema_revision()
        head = head_revision()
        if revision == head:
            return
        if revision is None:
            self._refuse_foreign()
            raise StoreNotReadyError(
                f"{self.url_display} has no results-store schema yet; "
                "run `btut db upgrade` to create it"
            )
        try:
            known = ScriptDirectory.from_config(_alembic_config()).get_revision(revision)
        except CommandError:
            known = None
        if known is None:
            raise StorageError(
                f"the results store {self.url_display} is at schema revision {revision}, "
                "unknown to this BTUT (was it written by a newer BTUT?)"
            )
        raise StoreNotReadyError(
            f"the results store {self.url_display} is at schema revision {revision}, older "
            f"than this BTUT's {head}; run `btut db upgrade` to migrate it"
        )

    def upgrade(self) -> None:
        """Apply every pending Alembic migration (no-op at head); safe to run concurrently."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext
        from alembic.util import CommandError

        self._refuse_write("upgrade the schema")
        cfg = _alembic_config()
        self._check_reachable(self._write_engine)  # unreachable is that, not a failed upgrade
        try:
            with self._write_engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                    )
                if MigrationContext.configure(conn).get_current_revision() is None:
                    self._refuse_foreign(conn)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except CommandError as exc:
            raise StorageError(
                self._one_line(
                    f"cannot upgrade the schema of {self.url_display}: {self._hide(str(exc))} "
                    "(was it written by a newer BTUT?)"
                )
            ) from None
        except SQLAlchemyError as exc:
            raise self._storage_error("upgrade", exc) from self._safe_cause(exc)
        finally:
            cfg.attributes.pop("connection", None)

    def _check_reachable(self, engine: Engine) -> None:
        """StorageError "could not connect to" when ``engine`` cannot open a connection."""
        try:
            engine.connect().close()
        except SQLAlchemyError as exc:
            raise self._storage_error("connect to", exc) from self._safe_cause(exc)

    def _refuse_foreign(self, conn: Any = None) -> None:
        """StorageError when a database without a BTUT schema version already holds a table
        of the store's names (another application's ``runs``): not a store to migrate.
        ``conn``: an open connection to look through (default: a new one)."""
        from sqlalchemy import inspect

        if conn is not None:
            present = set(inspect(conn).get_table_names())
        else:
            try:
                with self.engine.connect() as new:
                    present = set(inspect(new).get_table_names())
            except SQLAlchemyError as exc:
                raise self._storage_error("read", exc) from self._safe_cause(exc)
        clash = sorted(present & {m.__tablename__ for m in _STORE_TABLES})
        if clash:
            raise StorageError(
                f"{self.url_display} is not a BTUT results store: it holds table(s) "
                f"{', '.join(clash)} without a BTUT schema version; use another database"
            )

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None if never migrated)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as conn:
                return MigrationContext.configure(conn).get_current_revision()
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)

    # ---- write ----------------------------------------------------------------------

    def save_run(
        self,
        *,
        kind: str,
        config: Mapping[str, Any],
        zone: str | None = None,
        intervals: pd.DataFrame | None = None,
        per_type: pd.DataFrame | None = None,
        metrics: Mapping[str, float | str] | None = None,
    ) -> SavedRun:
        """Store one run in a single transaction; idempotent on the config hash.

        ``intervals``: index tz-aware UTC DatetimeIndex (``time_utc``), numeric columns are
        quantities; an optional ``agent_type`` column (str, missing = whole market) makes
        per-type rows. ``per_type``: index = agent types, numeric columns = quantities.
        NaN values are stored as NULL and read back as NaN; ints come back as float64.
        ``metrics``: name -> number or string.

        If a run with the same :func:`config_hash` exists (also when another process saves it
        concurrently) nothing is written and that run is returned with ``created=False``.
        Raises :class:`InvalidParameterError` before touching the database, and
        :class:`StorageError` (nothing written) if the database fails.
        """
        self._refuse_write("save a run")
        _check_name("kind", kind)
        if zone is not None:
            _check_name("zone", zone)
        canonical = _canonical_json(config)
        digest = hashlib.sha256(canonical.encode("ascii")).hexdigest()
        prepared = self._prepare(intervals, per_type, metrics)
        try:
            return self._write(kind, zone, canonical, digest, prepared)
        except IntegrityError as exc:
            existing = self._run_id_for_hash(digest)
            if existing is not None:
                return SavedRun(existing, digest, created=False)
            raise self._storage_error("write to", exc) from self._safe_cause(exc)
        except SQLAlchemyError as exc:
            raise self._storage_error("write to", exc) from self._safe_cause(exc)

    @staticmethod
    def _prepare(
        intervals: pd.DataFrame | None,
        per_type: pd.DataFrame | None,
        metrics: Mapping[str, float | str] | None,
    ) -> _Prepared:
        layout: dict[str, Any] = {"intervals": None, "per_type": None}
        interval_rows: list[dict[str, Any]] = []
        type_rows: list[dict[str, Any]] = []
        if intervals is not None:
            interval_rows, layout["intervals"] = _prepare_intervals(intervals)
        if per_type is not None:
            type_rows, layout["per_type"] = _prepare_per_type(per_type)
        metric_rows = _prepare_metrics(metrics) if metrics is not None else []
        return _Prepared(interval_rows, type_rows, metric_rows, layout)

    def _write(
        self, kind: str, zone: str | None, canonical: str, digest: str, prepared: _Prepared
    ) -> SavedRun:
        with Session(self._write_engine) as session, session.begin():
            existing = session.scalar(select(Run.id).where(Run.config_hash == digest))
            if existing is not None:
                return SavedRun(existing, digest, created=False)
            run = Run(
                kind=kind,
                zone=zone,
                config_json=canonical,
                config_hash=digest,
                created_utc=dt.datetime.now(dt.UTC),
                btut_version=_btut_version(),
                layout_json=json.dumps(prepared.layout, sort_keys=True),
            )
            session.add(run)
            session.flush()
            run_id = run.id
            for model, rows in (
                (RunInterval, prepared.intervals),
                (RunType, prepared.per_type),
                (RunMetric, prepared.metrics),
            ):
                if rows:
                    session.execute(insert(model), [{**row, "run_id": run_id} for row in rows])
        return SavedRun(run_id, digest, created=True)

    # ---- read -----------------------------------------------------------------------

    def _run_id_for_hash(self, digest: str) -> int | None:
        try:
            with self.engine.connect() as conn:
                return conn.scalar(select(Run.id).where(Run.config_hash == digest))
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)

    def get_run(self, run_id: int) -> StoredRun:
        """The run with this id; :class:`DataUnavailableError` if there is none."""
        if isinstance(run_id, bool) or not isinstance(run_id, numbers.Integral):
            raise InvalidParameterError(f"run_id must be an integer, got {run_id!r}")
        run_id = int(run_id)
        # Run.id is INTEGER: 64-bit in SQLite, 32-bit in PostgreSQL. No row has an id outside
        # that range, and the driver would fail on it (OverflowError, "integer out of range").
        bits = 64 if self.engine.dialect.name == "sqlite" else 32
        if not -(2 ** (bits - 1)) <= run_id < 2 ** (bits - 1):
            raise DataUnavailableError(f"no run with id {run_id} in {self.url_display}")
        try:
            with Session(self.engine) as session:
                run = session.get(Run, run_id)
                if run is None:
                    raise DataUnavailableError(f"no run with id {run_id} in {self.url_display}")
                metric_rows = session.execute(
                    select(RunMetric.name, RunMetric.value, RunMetric.text)
                    .where(RunMetric.run_id == run_id)
                    .order_by(RunMetric.name)
                ).all()
                metrics: dict[str, float | str] = {}
                for name, value, txt in metric_rows:
                    metrics[name] = (
                        txt if txt is not None else (math.nan if value is None else value)
                    )
                return StoredRun(
                    run_id=run.id,
                    kind=run.kind,
                    zone=run.zone,
                    config=json.loads(run.config_json),
                    config_hash=run.config_hash,
                    created_utc=run.created_utc,
                    btut_version=run.btut_version,
                    metrics=metrics,
                    _layout=json.loads(run.layout_json),
                    _store=self,
                )
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)

    def find_run(self, config: Mapping[str, Any]) -> StoredRun | None:
        """The run saved with this config (same :func:`config_hash`), or None."""
        run_id = self._run_id_for_hash(config_hash(config))
        return None if run_id is None else self.get_run(run_id)

    def list_runs(self, kind: str | None = None) -> pd.DataFrame:
        """One row per run, by id: run_id, kind, zone, days, agents, config_hash, created_utc
        (UTC). ``days`` and ``agents`` come from the run's configuration where it has them
        (``days``: its first and last day, ``start`` to ``end`` exclusive, or a forecast
        evaluation's test period; else empty)."""
        stmt = select(
            Run.id, Run.kind, Run.zone, Run.config_json, Run.config_hash, Run.created_utc
        ).order_by(Run.id)
        if kind is not None:
            if not isinstance(kind, str):  # a list was a StorageError, 123 no rows
                raise InvalidParameterError(f"kind must be a string, got {kind!r}")
            stmt = stmt.where(Run.kind == kind)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)
        columns = ["run_id", "kind", "zone", "days", "agents", "config_hash", "created_utc"]
        listed = [(r[0], r[1], r[2], *_days_and_agents(r[3]), r[4], r[5]) for r in rows]
        frame = pd.DataFrame(listed, columns=columns)
        # ints, None where the config has none (not floats with NaN)
        frame["agents"] = pd.Series([r[4] for r in listed], index=frame.index, dtype=object)
        frame["run_id"] = frame["run_id"].astype("int64")
        frame["created_utc"] = pd.to_datetime(frame["created_utc"], utc=True)
        return frame

    def kinds(self) -> list[str]:
        """The distinct kinds of the stored runs, sorted."""
        try:
            with self.engine.connect() as conn:
                return sorted(conn.scalars(select(Run.kind).distinct()).all())
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)

    def count_rows(self) -> dict[str, int]:
        """Number of rows in each store table (for checks and reports)."""
        try:
            with self.engine.connect() as conn:
                return {
                    model.__tablename__: conn.scalar(select(func.count()).select_from(model)) or 0
                    for model in (Run, RunInterval, RunType, RunMetric)
                }
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)

    def _intervals_frame(self, run_id: int, layout: dict[str, Any]) -> pd.DataFrame:
        stmt = select(
            RunInterval.time_utc, RunInterval.agent_type, RunInterval.quantity, RunInterval.value
        ).where(RunInterval.run_id == run_id)
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)
        columns: list[str] = layout["columns"]
        quantities = [c for c in columns if c != "agent_type"]
        unit: str = layout["unit"]
        long = pd.DataFrame(
            [tuple(r) for r in rows], columns=["time_utc", "agent_type", "quantity", "value"]
        )
        long["value"] = long["value"].astype("float64")
        long["time_utc"] = pd.to_datetime(long["time_utc"], utc=True)
        wide = long.pivot(index=["time_utc", "agent_type"], columns="quantity", values="value")
        wide = wide.reindex(columns=quantities).sort_index()
        times = pd.DatetimeIndex(wide.index.get_level_values("time_utc"), name="time_utc")
        times = times.tz_convert("UTC").as_unit(unit)
        if layout.get("freq"):
            try:
                times = pd.DatetimeIndex(times, freq=layout["freq"])
            except ValueError:  # pragma: no cover - stored rows always match the saved freq
                pass
        out = pd.DataFrame({q: wide[q].to_numpy(dtype="float64") for q in quantities}, index=times)
        if layout["has_agent_type"]:
            agents = [None if a == WHOLE_MARKET else a for a in wide.index.get_level_values(1)]
            # Same dtype inference as DataFrame construction; .array assigns by position.
            out["agent_type"] = pd.Series(agents).array
        return out[columns]

    def _per_type_frame(self, run_id: int, layout: dict[str, Any]) -> pd.DataFrame:
        stmt = select(RunType.agent_type, RunType.quantity, RunType.value).where(
            RunType.run_id == run_id
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(stmt).all()
        except SQLAlchemyError as exc:
            raise self._storage_error("read", exc) from self._safe_cause(exc)
        columns: list[str] = layout["columns"]
        long = pd.DataFrame([tuple(r) for r in rows], columns=["agent_type", "quantity", "value"])
        long["value"] = long["value"].astype("float64")
        wide = long.pivot(index="agent_type", columns="quantity", values="value")
        wide = wide.reindex(columns=columns).sort_index()
        index = pd.Index([str(a) for a in wide.index], name="agent_type")
        return pd.DataFrame({q: wide[q].to_numpy(dtype="float64") for q in columns}, index=index)
