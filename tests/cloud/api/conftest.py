"""Fixtures of the resource API tests: the real app on each backend, and a building with locks.

The building extends the auth tests' personas with real secrets, doors, a resident key and
two provisioned locks; `sync` records what a lock's successful sync records.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "auth")]

from api_fixtures import Site, make_site  # noqa: E402
from auth_fixtures import MASTER_KEY_TEXT, Clock  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import Engine  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from keyturn.cloud.app import create_app  # noqa: E402
from keyturn.cloud.sessions import session_factory  # noqa: E402
from keyturn.settings import Settings  # noqa: E402


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(engine: Engine, db_url: str, tmp_path: Path, clock: Clock) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=MASTER_KEY_TEXT)
    application = create_app(settings, engine)
    application.state.clock = clock
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    with session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def site(db: Session) -> Site:
    built = make_site(db)
    db.commit()
    return built
