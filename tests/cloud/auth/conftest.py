"""Fixtures of the auth tests: the app with tight sign-in limits, and the personas' building.

The app is the root conftest's real `create_app`; only its auth settings are replaced here.
"""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from keyturn.cloud.auth.config import AuthConfig
from worlds import Personas, make_personas


@pytest.fixture
def auth_config() -> AuthConfig:
    return AuthConfig(max_failures_per_account=3, max_failures_per_address=6, failure_window_s=600)


@pytest.fixture
def app(app: FastAPI, auth_config: AuthConfig) -> FastAPI:
    app.state.auth_config = auth_config
    return app


@pytest.fixture
def personas(db: Session) -> Personas:
    built = make_personas(db)
    db.commit()
    return built
