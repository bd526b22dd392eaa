"""Fixtures of the auth tests: an app on each backend with a movable clock, and a building.

The app is the real `create_app`; only its clock and auth settings are replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from auth_fixtures import MASTER_KEY_TEXT, Building, Clock, make_building
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from keyturn.cloud.app import create_app
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.sessions import session_factory
from keyturn.settings import Settings


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(max_failures_per_account=3, max_failures_per_address=6, failure_window_s=600)


@pytest.fixture
def app(
    engine: Engine, db_url: str, tmp_path: Path, clock: Clock, auth_config: AuthConfig
) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=MASTER_KEY_TEXT)
    application = create_app(settings, engine)
    application.state.clock = clock
    application.state.auth_config = auth_config
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="https://testserver") as test_client:
        yield test_client


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session for arranging and checking rows; each block commits what it arranges."""
    with session_factory(engine)() as opened:
        yield opened


@pytest.fixture
def building(db: Session) -> Building:
    built = make_building(db)
    db.commit()
    return built
