"""Shared test fixtures: a real, throw-away PostgreSQL server.

``postgres_url`` starts one server per test session (``initdb`` + ``pg_ctl`` found on PATH or
under ``/usr/lib/postgresql/*/bin``), listening on 127.0.0.1 on a free port with trust auth,
and stops it at the end. As root the server runs as the ``postgres`` OS user (PostgreSQL
refuses to run as root). Without server binaries the tests skip, or fail when ``CI`` is set.
``fresh_postgres_url`` gives each test its own empty database on that server.

Property tests (hypothesis) are seeded: the ``btut`` profile derandomizes them, so every run
tries the same examples (hypothesis' own "ci" profile does so only when it detects CI, and
only in recent versions). ``HYPOTHESIS_PROFILE=explore`` draws new examples, to look for new
failures.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

settings.register_profile("btut", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "btut"))

PG_USER = "postgres"
PG_TEST_DB = "btut_test"


@pytest.fixture(autouse=True)
def _own_default_store(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test touches the user's results store: the default store (``$BTUT_HOME``) is a
    folder of the test's own, created only when something is stored there."""
    monkeypatch.delenv("BTUT_DB_URL", raising=False)
    home = tmp_path_factory.getbasetemp() / "btut_home" / uuid.uuid4().hex
    monkeypatch.setenv("BTUT_HOME", str(home))


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"PostgreSQL tests cannot run on CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _find_pg_bindir() -> Path | None:
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    for cand in candidates:
        if (Path(cand) / "pg_ctl").exists() and (Path(cand) / "initdb").exists():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Runner:
    """Runs server commands as the current user, or as ``postgres`` when we are root."""

    def __init__(self) -> None:
        self.as_other = os.geteuid() == 0
        self.prefix: list[str] = []
        self.uid = os.geteuid()
        self.gid = os.getegid()
        if self.as_other:
            try:
                entry = pwd.getpwnam(PG_USER)
            except KeyError:
                _missing(f"running as root and there is no {PG_USER!r} OS user to run PostgreSQL")
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
            runuser = shutil.which("runuser")
            if runuser:
                self.prefix = [runuser, "-u", PG_USER, "--"]
            else:  # pragma: no cover - every Linux with util-linux has runuser
                self.prefix = ["sudo", "-n", "-u", PG_USER, "--"]

    def run(
        self, args: list[str], cwd: Path, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.prefix, *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, "LC_ALL": "C", "LANG": "C"},
            check=False,
        )

    def own(self, path: Path) -> None:
        if self.as_other:
            os.chown(path, self.uid, self.gid)


def _fail_start(what: str, proc: subprocess.CompletedProcess[str], log: Path | None) -> None:
    tail = ""
    if log is not None and log.exists():
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
    pytest.fail(
        f"could not start the test PostgreSQL server ({what}, exit {proc.returncode}):\n"
        f"{proc.stdout}\n{proc.stderr}\n{tail}",
        pytrace=False,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[tuple[str, int]]:
    """(host, port) of a running throw-away PostgreSQL server, started once per session."""
    bindir = _find_pg_bindir()
    if bindir is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not found on PATH or /usr/lib")
    runner = _Runner()
    # /tmp: reachable by the postgres user, and short enough for the Unix socket path.
    root = Path(tempfile.mkdtemp(prefix="btut-pg-", dir="/tmp" if Path("/tmp").is_dir() else None))
    os.chmod(root, 0o755)
    datadir, sockdir, log = root / "data", root / "sock", root / "server.log"
    for path in (datadir, sockdir):
        path.mkdir(mode=0o700)
        runner.own(path)
    log.touch()
    runner.own(log)
    port = 0
    started = False
    try:
        proc = runner.run(
            [
                str(bindir / "initdb"),
                "-D",
                str(datadir),
                "-A",
                "trust",
                "-U",
                PG_USER,
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
            cwd=root,
        )
        if proc.returncode != 0:
            _fail_start("initdb", proc, None)
        for _attempt in range(3):  # the free port can be taken between probe and bind
            port = _free_port()
            options = f"-h 127.0.0.1 -p {port} -k {sockdir} -F -c max_connections=100"
            proc = runner.run(
                [
                    str(bindir / "pg_ctl"),
                    "-D",
                    str(datadir),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "30",
                    "start",
                ],
                cwd=root,
            )
            if proc.returncode == 0:
                started = True
                break
        if not started:
            _fail_start("pg_ctl start", proc, log)
        _admin_execute("127.0.0.1", port, "postgres", f'CREATE DATABASE "{PG_TEST_DB}"')
        yield "127.0.0.1", port
    finally:
        if started:
            runner.run(
                [str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"], root
            )
        shutil.rmtree(root, ignore_errors=True)


def _admin_execute(host: str, port: int, dbname: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(
        host=host, port=port, user=PG_USER, dbname=dbname, autocommit=True, connect_timeout=10
    ) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def postgres_url(postgres_server: tuple[str, int]) -> str:
    """SQLAlchemy URL of the session's ``btut_test`` database (shared by all tests)."""
    host, port = postgres_server
    return f"postgresql+psycopg://{PG_USER}@{host}:{port}/{PG_TEST_DB}"


@pytest.fixture
def fresh_postgres_url(postgres_server: tuple[str, int]) -> Iterator[str]:
    """SQLAlchemy URL of a new, empty database, dropped after the test."""
    host, port = postgres_server
    name = f"btut_t_{uuid.uuid4().hex[:16]}"
    _admin_execute(host, port, PG_TEST_DB, f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://{PG_USER}@{host}:{port}/{name}"
    finally:
        with contextlib.suppress(Exception):
            _admin_execute(host, port, PG_TEST_DB, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def quarter_hourly() -> Callable[[Any], Any]:
    """``quarter_hourly(frame)``: the same real days on 15-minute intervals, each hour's value
    (MW, EUR/MWh) on its four quarters, attrs kept."""
    import numpy as np
    import pandas as pd

    def convert(hourly: pd.DataFrame) -> pd.DataFrame:
        idx = pd.DatetimeIndex(
            [t + pd.Timedelta(minutes=15 * q) for t in hourly.index for q in range(4)],
            name=hourly.index.name,
        )
        columns = {c: np.repeat(hourly[c].to_numpy(), 4) for c in hourly.columns}
        frame = pd.DataFrame(columns, index=idx)
        frame.attrs.update(hourly.attrs)
        return frame

    return convert


def _end_advisory_lock_sessions(url: str) -> int:
    """pg_terminate_backend every other session holding an advisory lock (as a server
    restart or ``idle_session_timeout`` would end it); the number ended."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    with psycopg.connect(
        host=u.host, port=u.port, user=u.username, dbname=u.database, autocommit=True
    ) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND pid <> pg_backend_pid()"
        ).fetchall()
    return sum(bool(r[0]) for r in rows)


@pytest.fixture
def end_advisory_locks() -> Callable[[str], int]:
    """``f(url)``: end every other session holding an advisory lock on that server; the
    number ended."""
    return _end_advisory_lock_sessions
