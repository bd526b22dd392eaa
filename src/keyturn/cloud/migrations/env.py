"""Alembic environment for the cloud database, shared by `keyturn db` and the alembic CLI.

`keyturn.cloud.db` passes an open connection in `config.attributes`; the alembic CLI
(with migrations/alembic.ini) falls back to the configured KEYTURN_DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from keyturn.cloud.db import make_engine, migration_options, render_item
from keyturn.cloud.models import metadata
from keyturn.settings import load_settings

config = context.config


def _run(connection: Connection) -> None:
    context.configure(**migration_options(connection))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or load_settings().resolved_database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            _run(conn)
            conn.commit()
    finally:
        engine.dispose()


def run_offline() -> None:
    url = config.get_main_option("sqlalchemy.url") or load_settings().resolved_database_url
    context.configure(
        url=url,
        target_metadata=metadata,
        literal_binds=True,
        render_item=render_item,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
