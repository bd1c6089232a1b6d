"""Alembic environment of the BTUT results store.

Normally run by :meth:`data.store.ResultsStore.upgrade`, which passes an open connection in
``config.attributes["connection"]`` (already inside a transaction that holds the migration
lock). Without one it connects to ``sqlalchemy.url`` from the Alembic config, else to
:func:`data.store.default_url` (``BTUT_DB_URL`` / ``$BTUT_HOME/btut.sqlite``). Logging is
left to the caller: this file configures none.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from data.store import Base, _ensure_sqlite_dir, _make_engine, _parse_url, default_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or default_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL to stdout instead of executing it (``alembic upgrade --sql``)."""
    url = _parse_url(_url())
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=url.get_backend_name() == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against the given connection, or a new one to the configured URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = _parse_url(_url())
    _ensure_sqlite_dir(url)
    engine = _make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
