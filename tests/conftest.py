"""Shared fixtures, in layers: storage, then the app on it. Every storage test runs once on
SQLite and once on PostgreSQL.

Storage: `db_url` is this test's database: empty, or already migrated when the test also
uses `engine` or `session`; migrated databases start from a template prepared once per
session. The app: `app` is the real app on that database with the test's `clock`, `client`
talks to it, `db` is a second session beside it, `site` the resource API's building in it.
The buildings come from tests/worlds.py (made with tests/factories.py); a live server is
the third layer (tests/security/conftest.py).
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from factories import Clock
from keyturn.cloud import db as storage
from keyturn.cloud import sessions
from keyturn.cloud.models import metadata
from worlds import Site, make_app, make_site

PG_URL_ENV = "KEYTURN_TEST_PG_URL"
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_DB_PREFIX = "keyturn_t_"
MIGRATED_FIXTURES = frozenset({"engine", "session"})


def _pg_admin_url() -> URL:
    url = make_url(os.environ.get(PG_URL_ENV) or DEFAULT_PG_URL)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return url


@functools.cache
def _pg_problem() -> str | None:
    """Why the PostgreSQL test server cannot be used, or None; checked once per session."""
    probe = create_engine(_pg_admin_url(), poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with probe.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    finally:
        probe.dispose()
    return None


def _require_pg() -> None:
    problem = _pg_problem()
    if problem is None:
        return
    message = f"PostgreSQL at {storage.masked(_pg_admin_url())} is unavailable: {problem}"
    if os.environ.get("CI") == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _pg_admin() -> Iterator[Engine]:
    """An autocommit engine on the maintenance database, for CREATE and DROP DATABASE."""
    _require_pg()
    admin = create_engine(_pg_admin_url(), isolation_level="AUTOCOMMIT", pool_size=1)
    yield admin
    admin.dispose()


def _pg_url(name: str) -> str:
    return _pg_admin_url().set(database=name).render_as_string(hide_password=False)


def _pg_create(admin: Engine, name: str, template: str | None = None) -> None:
    clause = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{clause}'))


def _pg_drop(admin: Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_SCHEMA_FINGERPRINT = text(
    """
    SELECT string_agg(item, ',' ORDER BY item) FROM (
        SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable AS item
        FROM information_schema.columns WHERE table_schema = 'public'
        UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = 'public'
        UNION ALL SELECT 'revision:' || version_num FROM alembic_version
    ) AS schema_items
    """
)


class _SharedPgDatabase:
    """One migrated PostgreSQL database per test session, emptied after each test.

    CREATE DATABASE costs a few hundred milliseconds with fsync on, deleting the rows of a
    small test costs about ten; a test that changed the schema gets the database rebuilt.
    """

    def __init__(self, admin: Engine) -> None:
        self.admin = admin
        self.name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:12]}"
        self.url = _pg_url(self.name)
        self._build()
        self.fingerprint = self._fingerprint()

    def _build(self) -> None:
        _pg_drop(self.admin, self.name)
        _pg_create(self.admin, self.name)
        storage.upgrade(self.url)

    def _fingerprint(self) -> str:
        probe = create_engine(self.url, poolclass=NullPool)
        try:
            with probe.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                return str(conn.execute(_SCHEMA_FINGERPRINT).scalar())
        finally:
            probe.dispose()

    def reset(self) -> None:
        """Delete every row; rebuild instead when the schema changed or rows stay locked."""
        probe = create_engine(self.url, poolclass=NullPool)
        try:
            with probe.begin() as conn:
                conn.execute(text("SET LOCAL lock_timeout = '5s'"))
                if conn.execute(_SCHEMA_FINGERPRINT).scalar() != self.fingerprint:
                    raise LookupError("schema changed")
                for table in reversed(metadata.sorted_tables):
                    conn.execute(table.delete())
        except (LookupError, DBAPIError):
            probe.dispose()
            self._build()
        finally:
            probe.dispose()

    def drop(self) -> None:
        _pg_drop(self.admin, self.name)


@pytest.fixture(scope="session")
def _pg_shared(_pg_admin: Engine) -> Iterator[_SharedPgDatabase]:
    shared = _SharedPgDatabase(_pg_admin)
    yield shared
    shared.drop()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite file migrated to head once, copied for every test that wants a migrated one."""
    path = tmp_path_factory.mktemp("template") / "keyturn.db"
    storage.upgrade(f"sqlite:///{path}")
    return path


def _wants_migrated(request: pytest.FixtureRequest) -> bool:
    return not MIGRATED_FIXTURES.isdisjoint(request.fixturenames)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """This test's database, on each backend in turn.

    Empty (never migrated) unless the test also uses `engine` or `session`: then it is the
    same database they use, already at the newest migration.
    """
    migrated = _wants_migrated(request)
    if request.param == "sqlite":
        path = tmp_path / "keyturn.db"
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    if migrated:
        shared: _SharedPgDatabase = request.getfixturevalue("_pg_shared")
        yield shared.url
        shared.reset()
        return
    admin: Engine = request.getfixturevalue("_pg_admin")
    name = f"{PG_DB_PREFIX}{uuid.uuid4().hex[:12]}"
    _pg_create(admin, name)
    try:
        yield _pg_url(name)
    finally:
        _pg_drop(admin, name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """An engine on `db_url`, whose database is at the newest migration."""
    migrated = storage.make_engine(db_url)
    yield migrated
    migrated.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session on the migrated database; whatever is left uncommitted is rolled back."""
    with sessions.session_factory(engine)() as opened:
        yield opened


# The app on this test's database ------------------------------------------------------------


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(engine: Engine, db_url: str, tmp_path: Path, clock: Clock) -> FastAPI:
    """The real app on the migrated database, its clock the test's `clock`."""
    return make_app(engine, db_url, tmp_path, clock)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session beside the app's, for arranging and checking rows; each block commits."""
    with sessions.session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def site(db: Session) -> Site:
    """The resource API's building (`worlds.Site`), committed."""
    built = make_site(db)
    db.commit()
    return built
