"""``ResultsStore(url, read_only=True)``: reads an existing store at the current schema and
creates, migrates or writes nothing (SQLite file and a real PostgreSQL server)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa

import data.store as store_module
from data.errors import DataUnavailableError, StorageError, StoreNotReadyError
from data.store import ResultsStore, head_revision

TABLES = {"runs", "run_intervals", "run_types", "run_metrics", "alembic_version"}
OUT_OF_RANGE = (2**63, -(2**63) - 1, 10**20, -(10**20))


@pytest.fixture
def raw_engine(store_url: str):
    engine = sa.create_engine(store_url)
    yield engine
    engine.dispose()


def _intervals() -> pd.DataFrame:
    index = pd.date_range("2024-03-30 22:00", periods=4, freq="h", tz="UTC", name="time_utc")
    return pd.DataFrame({"price": [1.0, 2.0, float("nan"), 4.0]}, index=index)


def _saved(url: str) -> int:
    with ResultsStore(url) as store:
        return store.save_run(
            kind="replay", zone="ES", config={"a": 1}, intervals=_intervals(), metrics={"m": 1.5}
        ).run_id


def _files(folder: Path) -> dict[str, str]:
    """Name -> SHA-256 of every entry of ``folder`` (what a read must leave untouched)."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(folder.iterdir())
    }


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def test_missing_sqlite_file_is_a_storage_error_and_nothing_is_created(tmp_path: Path) -> None:
    target = tmp_path / "not" / "there" / "typo.sqlite"
    missing = r"^no results store at .*typo\.sqlite \(nothing stored there yet"
    with pytest.raises(StoreNotReadyError, match=missing):  # a write would create it
        ResultsStore(f"sqlite:///{target}", read_only=True)
    assert list(tmp_path.iterdir()) == []
    folder = tmp_path / "dir.sqlite"
    folder.mkdir()
    with pytest.raises(StorageError, match="not a regular file") as info:
        ResultsStore(f"sqlite:///{folder}", read_only=True)
    assert not isinstance(info.value, StoreNotReadyError)  # a write would fail too
    assert list(folder.iterdir()) == []


def test_sqlite_file_uris_are_checked_as_the_file_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sqlite:///file:PATH?uri=true`` (SQLite URI filenames) names a file as a path does:
    a missing one is the same error and nothing is created; an existing one is read."""
    monkeypatch.chdir(tmp_path)
    for url in (
        f"sqlite:///file:{tmp_path}/a.db?mode=ro&uri=true",
        f"sqlite:///file://{tmp_path}/a.db?uri=true",
        "sqlite:///file:a.db?uri=true",
        "sqlite:///file:a.db",  # without uri=true SQLite takes the name literally
    ):
        with pytest.raises(StorageError, match=r"no results store at .*a\.db"):
            ResultsStore(url, read_only=True)
    assert list(tmp_path.iterdir()) == []
    run_id = _saved(f"sqlite:///{tmp_path}/a.db")
    for url in (f"sqlite:///file:{tmp_path}/a.db?mode=ro&uri=true", "sqlite:///file:a.db?uri=true"):
        with ResultsStore(url, read_only=True) as store:
            assert store.get_run(run_id).metrics == {"m": 1.5}


def test_empty_database_is_not_migrated(store_url: str, raw_engine: sa.Engine) -> None:
    path = store_module._sqlite_file(sa.engine.make_url(store_url))
    if path is not None:
        path.touch()  # an empty file is an empty SQLite database
    with pytest.raises(StoreNotReadyError, match="btut db upgrade") as info:
        ResultsStore(store_url, read_only=True)
    assert "\n" not in str(info.value)
    assert _tables(raw_engine) == set()
    if path is not None:
        assert path.stat().st_size == 0 and [p.name for p in path.parent.iterdir()] == [path.name]


def test_older_schema_asks_for_an_upgrade_and_is_left_as_is(
    store_url: str, raw_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _saved(store_url)
    current = head_revision()
    monkeypatch.setattr(store_module, "head_revision", lambda: "9999_newer_head")
    with pytest.raises(StoreNotReadyError, match=rf"revision {current}, older .*`btut db upgrade`"):
        ResultsStore(store_url, read_only=True)
    with raw_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == current


def test_unknown_schema_revision_is_a_storage_error(store_url: str, raw_engine: sa.Engine) -> None:
    _saved(store_url)
    with raw_engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'zzzz_future'"))
    with pytest.raises(StorageError, match="zzzz_future, unknown to this BTUT") as info:
        ResultsStore(store_url, read_only=True)
    assert not isinstance(info.value, StoreNotReadyError)  # no migration makes it current


def test_reads_work_and_change_nothing(store_url: str, raw_engine: sa.Engine) -> None:
    run_id = _saved(store_url)
    path = store_module._sqlite_file(sa.engine.make_url(store_url))
    before = _files(path.parent) if path is not None else None
    with ResultsStore(store_url, read_only=True) as store:
        assert store.read_only and store.schema_revision() == head_revision()
        assert store.list_runs()["run_id"].tolist() == [run_id]
        assert store.kinds() == ["replay"]
        run = store.get_run(run_id)
        assert run.metrics == {"m": 1.5}
        back = run.intervals_frame()
        assert back is not None and back["price"].isna().tolist() == [False, False, True, False]
        with pytest.raises(DataUnavailableError):
            store.get_run(run_id + 1)
    if path is not None:  # same bytes, and no -wal/-shm left behind
        assert _files(path.parent) == before
    assert _tables(raw_engine) == TABLES


def test_write_methods_refuse_on_a_read_only_store(store_url: str, raw_engine: sa.Engine) -> None:
    _saved(store_url)
    path = store_module._sqlite_file(sa.engine.make_url(store_url))
    before = _files(path.parent) if path is not None else None
    with ResultsStore(store_url, read_only=True) as store:
        with pytest.raises(StorageError, match="read-only"):
            store.save_run(kind="replay", config={"b": 2})
        with pytest.raises(StorageError, match="read-only"):
            store.upgrade()
        with pytest.raises(StorageError, match="read-only"):
            with store.exclusive("job"):
                pytest.fail("a read-only store took a lock")
        # the connections themselves are read-only too (query_only / READ ONLY transaction)
        with pytest.raises(StorageError):
            try:
                with store.engine.begin() as conn:
                    conn.execute(sa.text("CREATE TABLE sneaky (a INTEGER)"))
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(str(exc)) from exc
    if path is not None:
        assert _files(path.parent) == before
    assert _tables(raw_engine) == TABLES


def test_writable_open_still_creates_and_migrates(tmp_path: Path) -> None:
    target = tmp_path / "new" / "btut.sqlite"
    with ResultsStore(f"sqlite:///{target}") as store:
        assert store.schema_revision() == head_revision() and not store.read_only
    with ResultsStore(f"sqlite:///{target}", read_only=True) as store:
        assert store.list_runs().empty and store.kinds() == []


@pytest.mark.parametrize("run_id", OUT_OF_RANGE)
def test_ids_outside_the_id_column_range_are_unknown_runs(store_url: str, run_id: int) -> None:
    """Run ids are INTEGER: 64-bit in SQLite, 32-bit in PostgreSQL; beyond that the driver
    failed (OverflowError / "integer out of range") instead of "no run with id"."""
    _saved(store_url)
    top = 2**63 - 1 if store_url.startswith("sqlite") else 2**31 - 1
    for read_only in (False, True):
        with ResultsStore(store_url, read_only=read_only) as store:
            for missing in (run_id, top + 1, -top - 2, top, -top - 1):
                with pytest.raises(DataUnavailableError, match=f"^no run with id {missing} in "):
                    store.get_run(missing)


@pytest.mark.parametrize(
    ("writable", "mode"),
    [
        ({"file": True, "folder": True}, "?mode=rw"),
        ({"file": False, "folder": True}, "?mode=ro"),  # a store of another user
        ({"file": False, "folder": False}, "?mode=ro&immutable=1"),  # a read-only mount
    ],
)
def test_a_store_the_user_may_not_write_is_still_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writable: dict[str, bool], mode: str
) -> None:
    """Reading needs no write access: a store on a read-only mount or of another user was
    'could not read ... unable to open database file' (mode=rw) before. Root may write
    anything, so the permissions are what os.access says here; the WAL store (written as
    usual) is then read through each URI for real."""
    path = tmp_path / "s.sqlite"
    url = f"sqlite:///{path}"
    run_id = _saved(url)
    real_access = store_module.os.access

    def access(p: Any, how: int) -> bool:
        if Path(p) == path and how == store_module.os.W_OK:
            return writable["file"]
        if Path(p) == tmp_path and how == store_module.os.W_OK:
            return writable["folder"]
        return real_access(p, how)

    monkeypatch.setattr(store_module.os, "access", access)
    assert store_module._read_only_uri(path).endswith(mode)
    with ResultsStore(url, read_only=True) as store:
        assert store.list_runs()["run_id"].tolist() == [run_id]
        assert store.get_run(run_id).metrics["m"] == 1.5


def test_a_read_only_copy_whose_log_holds_unapplied_writes_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store whose last run is still only in its ``-wal`` (a writer killed before the
    checkpoint), on a read-only mount: ``immutable=1`` ignored the log, so ``db runs``
    listed the older runs only and ``db show`` said "no run with id" of the newest."""
    import shutil
    import sqlite3

    src = tmp_path / "src"
    src.mkdir()
    url = f"sqlite:///{src / 's.sqlite'}"
    _saved(url)
    holder = sqlite3.connect(src / "s.sqlite")  # keeps the log: no checkpoint at close
    try:
        holder.execute("SELECT count(*) FROM runs").fetchall()
        with ResultsStore(url) as store:
            store.save_run(kind="replay", zone="ES", config={"a": 2}, intervals=_intervals())
        assert (src / "s.sqlite-wal").stat().st_size > 0
        ro = tmp_path / "ro"
        ro.mkdir()
        for name in ("s.sqlite", "s.sqlite-wal"):  # as copied to an archive: no -shm
            shutil.copy(src / name, ro / name)
    finally:
        holder.close()
    real_access = store_module.os.access

    def access(p: Any, how: int) -> bool:  # a read-only mount (root may write anything)
        if Path(p).parent == ro or Path(p) == ro:
            return how != store_module.os.W_OK and real_access(p, how)
        return real_access(p, how)

    monkeypatch.setattr(store_module.os, "access", access)
    with pytest.raises(StorageError, match=r"its write-ahead log s\.sqlite-wal may hold writes"):
        ResultsStore(f"sqlite:///{ro / 's.sqlite'}", read_only=True)
    monkeypatch.undo()
    with ResultsStore(f"sqlite:///{ro / 's.sqlite'}", read_only=True) as store:  # writable
        assert len(store.list_runs()) == 2
