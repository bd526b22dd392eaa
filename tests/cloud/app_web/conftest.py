"""The `portal` fixture serves the app's pages too: browsers signed in as the test's people."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from sqlalchemy.orm import Session

from factories import Clock
from portal_pages import Portal


@pytest.fixture
def browsers(app: FastAPI, db: Session, clock: Clock) -> Iterator[Portal]:
    opened = Portal(app, db, clock)
    yield opened
    for client in opened.opened:
        client.__exit__(None, None, None)
