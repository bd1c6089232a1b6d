"""Tests of data.store.ResultsStore on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import hashlib
import importlib.metadata
import inspect as pyinspect
import json
import math
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import make_url

import data.store as store_module
from data.errors import (
    ConcurrentRunError,
    DataUnavailableError,
    InvalidParameterError,
    StorageError,
    StoreNotReadyError,
)
from data.store import ResultsStore, config_hash

REPO_ROOT = Path(__file__).resolve().parents[2]
TABLES = ("runs", "run_intervals", "run_types", "run_metrics")
PASSWORD = "s3cret"


# ---------------------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------------------


@pytest.fixture
def store(store_url: str):
    with ResultsStore(store_url) as opened:
        yield opened


@pytest.fixture
def raw_engine(store_url: str):
    """An engine that bypasses ResultsStore, to check what is really in the database."""
    engine = sa.create_engine(store_url)
    yield engine
    engine.dispose()


def row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def canonical(config: dict) -> str:
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)


def dst_intervals(seed: int = 1) -> pd.DataFrame:
    """Two German market days around the spring DST switch (96 + 92 quarter hours), UTC."""
    local = pd.date_range(
        "2024-03-30", "2024-04-01", freq="15min", tz="Europe/Berlin", inclusive="left"
    )
    index = local.tz_convert("UTC").rename("time_utc")
    rng = np.random.default_rng(seed)
    n = len(index)
    price = 70.0 + 40.0 * rng.standard_normal(n)
    price[40:48] = -np.abs(price[40:48]) - 0.01  # midday negative prices
    load = 52_000.0 + 7_000.0 * rng.random(n)
    pv = np.clip(20_000.0 * np.sin(np.linspace(0, 4 * np.pi, n)), 0, None) / 3.0
    frame = pd.DataFrame({"price_eur_mwh": price, "load_mw": load, "pv_mw": pv}, index=index)
    frame.iloc[5, 0] = np.nan
    frame.iloc[77, 2] = np.nan
    frame.iloc[10, 1] = 1e-300
    frame.iloc[11, 1] = 1.7976931348623157e308
    return frame


def per_type_frame() -> pd.DataFrame:
    index = pd.Index(["battery", "ev", "heat_pump", "pv"], name="agent_type")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"energy_kwh": rng.random(4) * 1e4 / 7, "cost_eur": -rng.random(4) / 3}, index=index
    )
    frame.iloc[1, 1] = np.nan
    return frame


def assert_bitwise_equal(left: pd.DataFrame, right: pd.DataFrame) -> None:
    a = left.to_numpy(dtype="float64")
    b = right.to_numpy(dtype="float64")
    assert np.array_equal(np.isnan(a), np.isnan(b))
    mask = ~np.isnan(a)
    assert np.array_equal(a[mask].view(np.uint64), b[mask].view(np.uint64))


# ---------------------------------------------------------------------------------------
# schema
# ---------------------------------------------------------------------------------------


def test_upgrade_from_empty_database_creates_schema_at_head(store_url, raw_engine):
    assert sa.inspect(raw_engine).get_table_names() == []

    store = ResultsStore(store_url)

    insp = sa.inspect(raw_engine)
    assert set(insp.get_table_names()) == {*TABLES, "alembic_version"}
    script = ScriptDirectory.from_config(_script_config())
    with raw_engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars().all()
    assert versions == [script.get_current_head()]
    assert store.schema_revision() == script.get_current_head()

    uniques = [u["column_names"] for u in insp.get_unique_constraints("runs")]
    assert ["config_hash"] in uniques
    assert insp.get_pk_constraint("run_intervals")["constrained_columns"] == [
        "run_id",
        "time_utc",
        "agent_type",
        "quantity",
    ]
    for table in TABLES[1:]:
        (fk,) = insp.get_foreign_keys(table)
        assert fk["referred_table"] == "runs"
        assert fk["options"].get("ondelete") == "CASCADE"

    # The ORM models and the migrations describe the same schema.
    with raw_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, store_module.Base.metadata) == []

    store.upgrade()  # at head: a no-op
    assert store.schema_revision() == script.get_current_head()
    store.close()


def _script_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(REPO_ROOT / "data" / "migrations"))
    return cfg


def test_cascade_delete_is_enforced(store, raw_engine):
    saved = store.save_run(
        kind="replay", config={"x": 1}, intervals=dst_intervals(), metrics={"m": 1.0}
    )
    with store.engine.begin() as conn:  # store connections have foreign keys on (SQLite too)
        conn.execute(sa.text("DELETE FROM runs WHERE id = :id"), {"id": saved.run_id})
    assert row_counts(raw_engine) == dict.fromkeys(TABLES, 0)


# ---------------------------------------------------------------------------------------
# round trip
# ---------------------------------------------------------------------------------------


def test_save_and_get_round_trip_is_exact(store, raw_engine):
    intervals = dst_intervals()
    per_type = per_type_frame()
    config = {
        "zone": "DE_LU",
        "start": dt.date(2024, 3, 30),
        "end": dt.date(2024, 4, 1),
        "seed": 7,
        "agents": {"pv": 120, "ev": 30},
    }
    metrics = {"welfare_eur": 12345.678901234567, "n_agents": 150, "solver": "highs"}
    metrics["gap"] = math.nan
    before = dt.datetime.now(dt.UTC)

    saved = store.save_run(
        kind="replay",
        config=config,
        zone="DE_LU",
        intervals=intervals,
        per_type=per_type,
        metrics=metrics,
    )
    after = dt.datetime.now(dt.UTC)

    assert saved.created is True
    assert saved.config_hash == hashlib.sha256(canonical(config).encode()).hexdigest()
    assert saved.to_dict() == {
        "run_id": saved.run_id,
        "config_hash": saved.config_hash,
        "created": True,
    }

    got = store.get_run(saved.run_id)
    assert (got.run_id, got.kind, got.zone) == (saved.run_id, "replay", "DE_LU")
    assert got.config == json.loads(canonical(config))
    assert got.config_hash == saved.config_hash
    assert before <= got.created_utc <= after
    assert got.created_utc.utcoffset() == dt.timedelta(0)
    assert got.btut_version == importlib.metadata.version("btut")

    out = got.intervals_frame()
    pd.testing.assert_frame_equal(out, intervals, check_exact=True, check_freq=True)
    assert_bitwise_equal(out, intervals)
    assert len(out) == 96 + 92  # the DST day kept its 23 hours
    out_types = got.per_type_frame()
    pd.testing.assert_frame_equal(out_types, per_type, check_exact=True)
    assert_bitwise_equal(out_types, per_type)

    assert set(got.metrics) == set(metrics)
    assert got.metrics["welfare_eur"] == metrics["welfare_eur"]
    assert got.metrics["n_agents"] == float(metrics["n_agents"])
    assert got.metrics["solver"] == "highs"
    assert math.isnan(got.metrics["gap"])
    json.dumps(got.to_dict(), allow_nan=False)  # JSON-ready

    # Long form in the database: one row per value, NaN stored as NULL.
    with raw_engine.connect() as conn:
        n_null = conn.execute(
            sa.text("SELECT COUNT(*) FROM run_intervals WHERE value IS NULL")
        ).scalar_one()
        agent_types = conn.execute(sa.text("SELECT DISTINCT agent_type FROM run_intervals"))
        assert agent_types.scalars().all() == [store_module.WHOLE_MARKET]
    assert n_null == int(intervals.isna().sum().sum())
    assert row_counts(raw_engine) == {
        "runs": 1,
        "run_intervals": intervals.size,
        "run_types": per_type.size,
        "run_metrics": len(metrics),
    }

    listed = store.list_runs()
    assert listed.columns.tolist() == [
        "run_id",
        "kind",
        "zone",
        "days",
        "agents",
        "config_hash",
        "created_utc",
    ]
    assert listed.to_dict("records") == [
        {
            "run_id": saved.run_id,
            "kind": "replay",
            "zone": "DE_LU",
            "days": "2024-03-30 to 2024-04-01 (excl.)",
            "agents": None,  # a mapping, not a count
            "config_hash": saved.config_hash,
            "created_utc": pd.Timestamp(got.created_utc),
        }
    ]


def test_microsecond_timestamps_round_trip_and_finer_ones_are_refused(store):
    """Both backends keep microseconds (SQLite as text, PostgreSQL's timestamptz): a saved
    index comes back exactly; a nanosecond could not and is refused in one line (a check at
    the millisecond instead refused these valid timestamps, and no test saw it)."""
    index = pd.DatetimeIndex(
        ["2024-01-01 00:00:00.000250", "2024-01-01 00:15:00.999999"], tz="UTC", name="time_utc"
    )
    frame = pd.DataFrame({"load_kwh": [1.5, 2.5]}, index=index)
    saved = store.save_run(kind="replay", config={"us": 1}, intervals=frame)
    back = store.get_run(saved.run_id).intervals_frame()
    assert back.index.equals(index)
    np.testing.assert_array_equal(back["load_kwh"].to_numpy(), [1.5, 2.5])
    finer = pd.DatetimeIndex(["2024-01-01 00:00:00.000000001"], tz="UTC", name="time_utc")
    with pytest.raises(InvalidParameterError, match="at most microsecond precision"):
        store.save_run(
            kind="replay", config={"ns": 1}, intervals=pd.DataFrame({"x": [1.0]}, index=finer)
        )


def test_round_trip_of_per_type_interval_rows(store):
    times = pd.date_range("2024-10-26 22:00", periods=6, freq="h", tz="UTC", name="time_utc")
    index = times.repeat(3)
    frame = pd.DataFrame(
        {
            "agent_type": [None, "ev", "pv"] * len(times),
            "energy_kwh": np.sqrt(np.arange(3 * len(times)) + 2.0),
        },
        index=index,
    )
    saved = store.save_run(kind="replay", config={"per": "type"}, intervals=frame)

    out = store.get_run(saved.run_id).intervals_frame()

    pd.testing.assert_frame_equal(out, frame, check_exact=True)
    assert store.get_run(saved.run_id).per_type_frame() is None


def test_find_run_ignores_key_order_and_returns_none_when_absent(store):
    config = {"a": 1, "b": {"y": [1, 2], "x": "z"}}
    saved = store.save_run(kind="replay", config=config)
    reordered = {"b": {"x": "z", "y": [1, 2]}, "a": 1}

    found = store.find_run(reordered)

    assert found is not None and found.run_id == saved.run_id
    assert store.find_run({"a": 2}) is None
    assert found.intervals_frame() is None


# ---------------------------------------------------------------------------------------
# idempotence
# ---------------------------------------------------------------------------------------


def test_same_config_is_stored_once_and_a_new_config_creates_a_run(store, raw_engine):
    config = {"zone": "DE_LU", "day": "2024-03-31", "seed": 1}
    first = store.save_run(
        kind="replay", config=config, intervals=dst_intervals(), metrics={"w": 1.0}
    )
    counts = row_counts(raw_engine)

    again = store.save_run(
        kind="replay",
        config=dict(reversed(config.items())),
        intervals=dst_intervals(seed=2),
        metrics={"w": 2.0, "other": 3.0},
    )

    assert again.run_id == first.run_id and again.config_hash == first.config_hash
    assert (first.created, again.created) == (True, False)
    assert row_counts(raw_engine) == counts
    assert store.get_run(first.run_id).metrics == {"w": 1.0}

    other = store.save_run(kind="sweep", config={**config, "seed": 2}, metrics={"w": 5.0})

    assert other.created is True and other.run_id != first.run_id
    assert other.config_hash != first.config_hash
    assert row_counts(raw_engine) == {
        **counts,
        "runs": counts["runs"] + 1,
        "run_metrics": counts["run_metrics"] + 1,
    }
    assert store.list_runs()["run_id"].tolist() == sorted([first.run_id, other.run_id])
    assert store.list_runs(kind="sweep")["run_id"].tolist() == [other.run_id]


# ---------------------------------------------------------------------------------------
# atomicity and validation
# ---------------------------------------------------------------------------------------


def test_failure_mid_write_leaves_nothing(store, raw_engine):
    seen: list[str] = []
    dbapi = store.engine.dialect.loaded_dbapi

    def fail_on_metrics(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split()[:3]).lower())
        if statement.lstrip().lower().startswith("insert into run_metrics"):
            raise dbapi.OperationalError("injected failure")

    sa.event.listen(store.engine, "before_cursor_execute", fail_on_metrics)
    try:
        with pytest.raises(StorageError, match="injected failure"):
            store.save_run(
                kind="replay",
                config={"atomic": True},
                intervals=dst_intervals(),
                per_type=per_type_frame(),
                metrics={"w": 1.0},
            )
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", fail_on_metrics)

    # The failure really happened after the other inserts of the same transaction.
    inserts = list(dict.fromkeys(s for s in seen if s.startswith("insert into")))  # in order
    assert inserts == [
        "insert into runs",
        "insert into run_intervals",
        "insert into run_types",
        "insert into run_metrics",
    ]
    assert row_counts(raw_engine) == dict.fromkeys(TABLES, 0)

    retry = store.save_run(kind="replay", config={"atomic": True}, metrics={"w": 1.0})
    assert retry.created is True
    assert store.get_run(retry.run_id).metrics == {"w": 1.0}


def _naive(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.tz_localize(None)


def _with_string_column(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(region=["north"] * len(frame))


INVALID_INPUTS = {
    "naive index": ({"intervals": _naive(dst_intervals())}, "naive"),
    "string column": ({"intervals": _with_string_column(dst_intervals())}, "region"),
    "non-UTC index": ({"intervals": dst_intervals().tz_convert("Europe/Berlin")}, "UTC"),
    "duplicate timestamps": (
        {"intervals": pd.concat([dst_intervals().iloc[:3], dst_intervals().iloc[:1]])},
        "duplicate",
    ),
    "per_type string column": (
        {"per_type": per_type_frame().assign(kind=["a", "b", "c", "d"])},
        "kind",
    ),
    "bool column": ({"intervals": dst_intervals().assign(flag=True)}, "flag"),
    "duplicate agent types": (
        {"per_type": per_type_frame().set_axis(["pv", "ev", "pv", "heat_pump"], axis=0)},
        "duplicate",
    ),
    "metric of wrong type": ({"metrics": {"w": [1.0]}}, "'w'"),
    "empty kind": ({"kind": ""}, "kind"),
    "NaN in config": ({"config": {"alpha": math.nan}}, "config"),
}


def test_invalid_input_raises_and_writes_nothing(store, raw_engine, subtests):
    for case, (bad, fragment) in INVALID_INPUTS.items():
        with subtests.test(msg=case):
            kwargs = {"kind": "replay", "config": {"case": case}, **bad}

            with pytest.raises(InvalidParameterError) as excinfo:
                store.save_run(**kwargs)

            assert fragment in str(excinfo.value)
            assert "\n" not in str(excinfo.value)
            assert row_counts(raw_engine) == dict.fromkeys(TABLES, 0)


def test_unknown_run_id_raises_data_unavailable(store):
    with pytest.raises(DataUnavailableError, match=r"\b1\b"):
        store.get_run(1)
    saved = store.save_run(kind="replay", config={"k": 1})
    missing = saved.run_id + 1000

    with pytest.raises(DataUnavailableError, match=rf"\b{missing}\b"):
        store.get_run(missing)
    with pytest.raises(InvalidParameterError):
        store.get_run("1")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# URLs and credentials
# ---------------------------------------------------------------------------------------


def test_url_display_hides_password(store_url):
    url = make_url(store_url)
    if url.get_backend_name() == "postgresql":  # trust auth: the password is sent, not needed
        url = url.set(password=PASSWORD)
    with ResultsStore(url.render_as_string(hide_password=False)) as store:
        saved = store.save_run(kind="replay", config={"p": 1})
        assert store.get_run(saved.run_id).run_id == saved.run_id
        shown = [store.url_display, repr(store), str(store)]
    assert all(PASSWORD not in text for text in shown)
    assert store.url_display == url.render_as_string(hide_password=True)
    if url.password is not None:
        assert "***" in store.url_display


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_unreachable_database_raises_storage_error_without_password(backend, tmp_path):
    if backend == "postgresql":
        url = f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on 1
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a directory")
        url = f"sqlite:///{blocker / 'sub' / 'btut.sqlite'}"

    with pytest.raises(StorageError) as excinfo:
        ResultsStore(url)

    texts = [str(excinfo.value), repr(excinfo.value)]
    cause: BaseException | None = excinfo.value.__cause__
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__
    assert all(PASSWORD not in t for t in texts)
    assert "\n" not in str(excinfo.value)
    assert "could not" in str(excinfo.value) or "cannot" in str(excinfo.value)


def test_a_password_in_the_query_is_hidden_too():
    """libpq also takes the password as ``?password=``: it was printed in the error line of
    every command with ``--db``."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:1/x?password={PASSWORD}&sslpassword=key-pass"
    with pytest.raises(StorageError) as excinfo:
        ResultsStore(url)  # nothing listens on 1
    texts = [str(excinfo.value), repr(excinfo.value)]
    cause: BaseException | None = excinfo.value.__cause__
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__
    assert not [t for t in texts if PASSWORD in t or "key-pass" in t]
    assert "x?password=***&sslpassword=***" in str(excinfo.value)
    with pytest.raises(InvalidParameterError) as bad:
        ResultsStore(f"postgresql+psycopg://u@host:notaport/db?password={PASSWORD}")
    assert PASSWORD not in str(bad.value)


def test_short_password_hides_the_driver_detail_not_the_message():
    """A one-character password would turn every such letter of the message into ***: the
    driver's text is hidden whole instead, and BTUT's own words stay readable."""
    with pytest.raises(StorageError) as excinfo:
        ResultsStore("postgresql+psycopg://postgres:o@127.0.0.1:1/x")  # nothing listens on 1
    message = str(excinfo.value)
    assert message.startswith(
        "could not connect to the results store postgresql+psycopg://postgres:***@127.0.0.1:1/x"
    )
    assert message.endswith("(details hidden: they hold the password)")


def test_an_unreachable_server_is_said_to_be_unreachable(tmp_path):
    """Nothing listens on port 1: the message said "could not upgrade the results store"
    (opening a store upgrades its schema first), as if a migration had failed."""
    for read_only in (False, True):
        with pytest.raises(StorageError, match=r"^could not connect to the results") as e:
            ResultsStore("postgresql+psycopg://postgres@127.0.0.1:1/x", read_only=read_only)
        # not "not there yet": opening it to write fails the same way
        assert not isinstance(e.value, StoreNotReadyError)


def test_unparsable_url_error_hides_password():
    with pytest.raises(InvalidParameterError) as excinfo:
        ResultsStore(f"postgresql+psycopg://u:{PASSWORD}@host:notaport/db")
    assert PASSWORD not in str(excinfo.value)
    assert excinfo.value.__cause__ is None


def test_url_from_environment(store_url, raw_engine, monkeypatch):
    monkeypatch.setenv("BTUT_DB_URL", store_url)

    with ResultsStore() as store:
        store.save_run(kind="replay", config={"env": 1})
        assert store.url_display == make_url(store_url).render_as_string(hide_password=True)

    assert row_counts(raw_engine)["runs"] == 1


def test_default_url_is_sqlite_under_btut_home(tmp_path, monkeypatch):
    monkeypatch.delenv("BTUT_DB_URL", raising=False)
    home = tmp_path / "home" / "not" / "yet"
    monkeypatch.setenv("BTUT_HOME", str(home))

    with ResultsStore() as store:
        store.save_run(kind="replay", config={"default": 1})

    assert (home / "btut.sqlite").is_file()
    monkeypatch.delenv("BTUT_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    with ResultsStore() as store:
        assert store.url_display.endswith("/user/.local/share/btut/btut.sqlite")
    assert (tmp_path / "user" / ".local" / "share" / "btut" / "btut.sqlite").is_file()


# ---------------------------------------------------------------------------------------
# config hash
# ---------------------------------------------------------------------------------------


def test_config_hash_is_sha256_of_canonical_json():
    config = {"b": [1, 2.5, "x"], "a": {"d": dt.date(2024, 3, 31), "c": None}}

    digest = config_hash(config)

    assert digest == hashlib.sha256(canonical(config).encode()).hexdigest()
    assert config_hash(dict(reversed(config.items()))) == digest
    assert config_hash({"b": [1, 2.5, "x"], "a": {"d": "2024-03-31", "c": None}}) == digest
    assert config_hash({**config, "b": [1, 2.5, "y"]}) != digest
    assert config_hash({"n": np.int64(3)}) == config_hash({"n": 3})
    with pytest.raises(InvalidParameterError):
        config_hash({"x": math.inf})
    with pytest.raises(InvalidParameterError):
        config_hash([("a", 1)])  # type: ignore[arg-type]
    # a value whose only text is a memory address hashed differently every run; a decimal
    # NaN passed where a float NaN is refused
    with pytest.raises(InvalidParameterError, match="object has no stable text form"):
        config_hash({"a": object()})
    with pytest.raises(InvalidParameterError, match="decimal"):
        config_hash({"a": decimal.Decimal("NaN")})
    assert config_hash({"a": decimal.Decimal("1.5")}) == config_hash({"a": "1.5"})


# ---------------------------------------------------------------------------------------
# concurrency
# ---------------------------------------------------------------------------------------


def worker_frame(seed: int) -> pd.DataFrame:
    """The intervals a concurrent writer saves for ``seed`` (rebuilt by the test to check)."""
    index = pd.date_range("2024-10-26 22:00", periods=24, freq="h", tz="UTC", name="time_utc")
    base = np.sqrt(np.arange(24) + seed + 1.0)
    return pd.DataFrame({"price_eur_mwh": base * 10.0, "load_mw": base / 7.0}, index=index)


WORKER_SCRIPT = """
import json, sys, time
from pathlib import Path
import numpy as np
import pandas as pd
from data.store import ResultsStore

{frame_source}

url, worker, n_runs, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
Path(f"{{go}}.ready{{worker}}").touch()
deadline = time.monotonic() + 60
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("timed out waiting for the go file")
    time.sleep(0.002)
store = ResultsStore(url)  # both processes migrate the empty database at the same time
shared = store.save_run(kind="shared", config={{"shared": True}}, intervals=worker_frame(0))
runs = [
    store.save_run(
        kind="sweep",
        config={{"worker": worker, "i": i}},
        intervals=worker_frame(100 * worker + i + 1),
        metrics={{"i": i}},
    )
    for i in range(n_runs)
]
print(json.dumps({{"shared": shared.to_dict(), "runs": [r.to_dict() for r in runs]}}))
"""


def test_writer_racing_between_check_and_insert_gets_the_existing_run(store_url, raw_engine):
    """A second writer saves the same config just before the first one inserts its row.

    PostgreSQL lets it commit; the first writer's INSERT then violates the unique hash and
    must return that run. SQLite must not let it in at all (BEGIN IMMEDIATE): it waits for
    the first writer and then finds its run.
    """
    config = {"race": True}
    first, second = ResultsStore(store_url), ResultsStore(store_url)
    outcome: dict[str, object] = {}

    def save_second() -> None:
        outcome["second"] = second.save_run(kind="replay", config=config, metrics={"by": 2.0})

    racer = threading.Thread(target=save_second)

    def race(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().lower().startswith("insert into runs") and not racer.is_alive():
            racer.start()
            racer.join(timeout=0.3 if conn.dialect.name == "sqlite" else 10)
            outcome["blocked"] = racer.is_alive()

    sa.event.listen(first.engine, "before_cursor_execute", race)
    try:
        saved_first = first.save_run(kind="replay", config=config, metrics={"by": 1.0})
    finally:
        sa.event.remove(first.engine, "before_cursor_execute", race)
        racer.join(timeout=30)
        first.close()
        second.close()

    saved_second = outcome["second"]
    assert isinstance(saved_second, store_module.SavedRun)
    assert outcome["blocked"] is (make_url(store_url).get_backend_name() == "sqlite")
    assert saved_first.run_id == saved_second.run_id
    assert sorted([saved_first.created, saved_second.created]) == [False, True]
    counts = row_counts(raw_engine)
    assert (counts["runs"], counts["run_metrics"]) == (1, 1)


def test_concurrent_writers_lose_and_duplicate_nothing(store_url, raw_engine, tmp_path):
    n_runs = 20
    script = WORKER_SCRIPT.format(frame_source=textwrap.dedent(pyinspect.getsource(worker_frame)))
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, str(w), str(n_runs), str(go)],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in (1, 2)
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(Path(f"{go}.ready{w}").exists() for w in (1, 2)):
            assert time.monotonic() < deadline, "writers did not start"
            assert all(p.poll() is None for p in procs), procs[0].stderr
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=120) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
    results = [json.loads(out) for out, _err in outputs]

    shared = [r["shared"] for r in results]
    assert shared[0]["run_id"] == shared[1]["run_id"]
    assert sorted(s["created"] for s in shared) == [False, True]
    runs = [run for r in results for run in r["runs"]]
    assert all(run["created"] for run in runs)
    ids = [run["run_id"] for run in runs]
    assert len(set(ids)) == 2 * n_runs
    assert shared[0]["run_id"] not in ids

    frame_rows = worker_frame(0).size
    assert row_counts(raw_engine) == {
        "runs": 2 * n_runs + 1,
        "run_intervals": (2 * n_runs + 1) * frame_rows,
        "run_types": 0,
        "run_metrics": 2 * n_runs,
    }
    with ResultsStore(store_url) as store:
        assert sorted(store.list_runs(kind="sweep")["run_id"]) == sorted(ids)
        for worker, result in zip((1, 2), results, strict=True):
            for i, run in enumerate(result["runs"]):
                got = store.get_run(run["run_id"])
                assert got.config == {"worker": worker, "i": i}
                assert got.metrics == {"i": float(i)}
                expected = worker_frame(100 * worker + i + 1)
                pd.testing.assert_frame_equal(got.intervals_frame(), expected, check_exact=True)
        shared_run = store.get_run(shared[0]["run_id"])
        pd.testing.assert_frame_equal(shared_run.intervals_frame(), worker_frame(0))


# ---------------------------------------------------------------------------------------
# exclusive locks (cron safety of backtests)
# ---------------------------------------------------------------------------------------

LOCK_HOLDER = """
import sys, time
from pathlib import Path
from data.store import ResultsStore
url, name, ready = sys.argv[1], sys.argv[2], Path(sys.argv[3])
with ResultsStore(url) as store, store.exclusive(name):
    ready.touch()
    time.sleep(600)
"""


def _start_holder(store_url: str, name: str, ready: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, store_url, name, str(ready)],
        cwd=REPO_ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not ready.exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "lock holder did not start"
        time.sleep(0.02)
    return proc


def test_exclusive_lock_excludes_other_processes_and_dies_with_its_holder(
    store, store_url, tmp_path
):
    from data.errors import ConcurrentRunError

    holder = _start_holder(store_url, "backtest ES 2017-06", tmp_path / "ready")
    try:
        with pytest.raises(ConcurrentRunError, match="already running") as info:
            with store.exclusive("backtest ES 2017-06"):
                pytest.fail("the lock was taken twice")
        assert info.value.exit_code == 75 and "\n" not in str(info.value)
        t0 = time.monotonic()
        with pytest.raises(ConcurrentRunError):
            with store.exclusive("backtest ES 2017-06", wait=True, timeout_s=0.5):
                pytest.fail("the lock was taken twice")
        assert time.monotonic() - t0 >= 0.5
        # another name is another lock
        with store.exclusive("backtest ES 2017-07"):
            pass
        holder.kill()  # SIGKILL: no cleanup runs in the holder
        holder.wait(timeout=30)
        with store.exclusive("backtest ES 2017-06", wait=True, timeout_s=30):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()


def test_exclusive_lock_is_released_after_the_block_and_on_errors(store):
    with pytest.raises(RuntimeError):
        with store.exclusive("job"):
            raise RuntimeError("boom")
    with store.exclusive("job"):
        pass
    with store.exclusive("job"):
        pass


@pytest.mark.postgres
def test_a_postgres_lock_whose_connection_ended_says_it_is_lost(
    fresh_postgres_url, end_advisory_locks
):
    """The session advisory lock went with its connection, and the holder went on as if it
    held it (an audit: a second backtest of the same period then ran beside the first)."""
    with ResultsStore(fresh_postgres_url) as store:
        with store.exclusive("backtest ES 2017-06") as held:
            held.check()  # held: nothing to say
            with pytest.raises(ConcurrentRunError):  # and it excludes, as before
                with (
                    ResultsStore(fresh_postgres_url) as other,
                    other.exclusive("backtest ES 2017-06"),
                ):
                    pytest.fail("the lock was taken twice")
            assert end_advisory_locks(fresh_postgres_url) == 1
            with pytest.raises(StorageError, match="lost the lock of backtest ES 2017-06") as info:
                held.check()
            assert "\n" not in str(info.value) and info.value.exit_code == 5
        with store.exclusive("backtest ES 2017-06") as again:  # free again
            again.check()


def test_a_sqlite_store_reached_through_a_symlink_shares_its_lock(tmp_path):
    """The lock file was named after the path given, so a symlink to the store was a second
    lock and two backtests of one period ran together."""
    real = tmp_path / "real.sqlite"
    (tmp_path / "links").mkdir()
    alias = tmp_path / "links" / "alias.sqlite"
    alias.symlink_to(real)
    with ResultsStore(f"sqlite:///{real}") as a, ResultsStore(f"sqlite:///{alias}") as b:
        with a.exclusive("backtest ES 2017-06") as held:
            held.check()  # a file lock cannot be lost while held
            with pytest.raises(ConcurrentRunError), b.exclusive("backtest ES 2017-06"):
                pytest.fail("the lock was taken twice")
    assert not list((tmp_path / "links").glob("*.lock"))


# ---------------------------------------------------------------------------------------
# canonical JSON and UTC binding by hand (mutation round 3)
# ---------------------------------------------------------------------------------------


def test_config_hash_of_sets_and_non_ascii_text_by_hand():
    letters = "qwertyuiopasdfghjklzxcvbnm"
    # a set hashes as its sorted list, whatever its (hash-seed dependent) iteration order
    expected = '{"s":[' + ",".join(f'"{c}"' for c in sorted(letters)) + "]}"
    assert config_hash({"s": set(letters)}) == hashlib.sha256(expected.encode()).hexdigest()
    assert config_hash({"s": frozenset(letters)}) == config_hash({"s": sorted(letters)})
    # non-ASCII text is escaped (\u00fc), not encoded as UTF-8
    digest = hashlib.sha256(b'{"zone":"Z\\u00fcrich"}').hexdigest()
    assert config_hash({"zone": "Zürich"}) == digest


def test_utc_column_binds_the_utc_wall_time_in_sqlite():
    from sqlalchemy.dialects import postgresql, sqlite

    col = store_module.UTCDateTime()
    cet = dt.timezone(dt.timedelta(hours=1))
    local = dt.datetime(2024, 3, 31, 1, 30, tzinfo=cet)
    assert col.process_bind_param(local, sqlite.dialect()) == dt.datetime(2024, 3, 31, 0, 30)
    bound = col.process_bind_param(local, postgresql.dialect())
    assert bound == local and bound.utcoffset() == dt.timedelta(0)
    with pytest.raises(ValueError, match="naive"):
        col.process_bind_param(dt.datetime(2024, 3, 31, 0, 30), sqlite.dialect())


def test_nan_metrics_are_stored_as_null():
    rows = store_module._prepare_metrics({"a": math.nan, "b": 2, "c": "text"})
    assert rows == [
        {"name": "a", "value": None, "text": None},
        {"name": "b", "value": 2.0, "text": None},
        {"name": "c", "value": None, "text": "text"},
    ]
    assert isinstance(rows[1]["value"], float)


def test_odd_arguments_are_one_line_parameter_errors(store, tmp_path):
    """Found by an API audit: OverflowError, ValueError, a StorageError about parameter
    binding (and no rows for kind=123), and 'could not parse ... (value hidden)' for a Path."""
    with pytest.raises(InvalidParameterError, match="metric 'a' is too large for a float"):
        store_module._prepare_metrics({"a": 10**400})
    with pytest.raises(InvalidParameterError, match="timeout_s must be a number of seconds"):
        with store.exclusive("job", wait=True, timeout_s="x"):
            pass
    for kind in (["replay"], 123):
        with pytest.raises(InvalidParameterError, match="kind must be a string"):
            store.list_runs(kind=kind)
    with pytest.raises(InvalidParameterError, match="must be a string such as sqlite:///PATH"):
        ResultsStore(tmp_path / "runs.sqlite")  # type: ignore[arg-type]


def test_listing_names_each_runs_days_and_agents(store):
    """`btut db runs` finds a day's run again without `db show` on every id."""
    configs = [
        {"days": ["2017-06-14"], "agents": 10_000},
        {"days": ["2017-06-12", "2017-06-13", "2017-06-18"], "agents": 7},
        {"test": "2017-01-01:2017-01-14", "train": "2016-01-01:2016-12-31"},
        {"agents": True, "x": 1},
    ]
    for i, config in enumerate(configs):
        store.save_run(kind="replay", config={**config, "i": i})
    listed = store.list_runs()[["days", "agents"]].to_dict("records")
    assert listed == [
        {"days": "2017-06-14", "agents": 10_000},
        {"days": "2017-06-12 to 2017-06-18", "agents": 7},
        {"days": "test 2017-01-01 to 2017-01-14", "agents": None},
        {"days": "", "agents": None},
    ]


def test_another_applications_database_is_refused_and_left_as_it_is(tmp_path):
    """A SQLite file with its own `runs` table (found by a CLI audit): `db upgrade` failed
    on 'table runs already exists' after switching the file to WAL, and `db runs` advised
    `db upgrade`. Now both refuse it by name and the file is byte for byte unchanged."""
    import sqlite3

    path = tmp_path / "other.sqlite"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE runs (a INTEGER)")
        conn.commit()
    before = path.read_bytes()
    url = f"sqlite:///{path}"
    for read_only in (False, True):
        with pytest.raises(StorageError, match="is not a BTUT results store: it holds table"):
            with ResultsStore(url, read_only=read_only) as store:
                store.upgrade() if not read_only else store.list_runs()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.sqlite"]
