"""Transient database conflicts: how they are recognised, retried, and answered when they
persist, so that a caller always knows whether a write happened."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import IntegrityError

from keyturn.cloud.access import revocation
from keyturn.cloud.app import create_app
from keyturn.cloud.db import TransientConflict
from keyturn.cloud.models import AccessListVersion, Grant, Key
from keyturn.cloud.retries import ATTEMPTS, install_retries
from keyturn.cloud.sessions import session_factory
from keyturn.settings import Settings
from worlds import LiveWorld

# Concurrency against a live server: run alone, not beside other tests (tasks.py).
pytestmark = pytest.mark.serial


def _conflict() -> TransientConflict:
    return TransientConflict("UPDATE ...", None, Exception("deadlock detected"))


# Recognised where the database reports them


def test_a_taken_access_list_version_is_transient_not_a_name_in_use(
    engine: Engine, make_world: Callable[..., LiveWorld]
) -> None:
    world = make_world(doors=1)
    with session_factory(engine)() as session:
        door_id = world.door_ids[0]
        newest = session.scalar(
            select(func.max(AccessListVersion.version)).where(AccessListVersion.door_id == door_id)
        )
        session.add(AccessListVersion(door_id=door_id, version=newest, content_hash=b"x"))
        with pytest.raises(TransientConflict):
            session.flush()
        session.rollback()
        session.add(Key(property_id=world.property_id, name="All doors 0"))
        with pytest.raises(IntegrityError) as refused:
            session.flush()
        assert not isinstance(refused.value, TransientConflict)


def test_a_lock_wait_that_gives_up_is_transient(engine: Engine) -> None:
    """PostgreSQL's lock timeout and SQLite's "database is locked" alike."""
    give_up_at_once = {
        "sqlite": "PRAGMA busy_timeout = 0",
        "postgresql": "SET lock_timeout = '1ms'",
    }[engine.dialect.name]
    touch = text("UPDATE alembic_version SET version_num = version_num")
    with engine.connect() as holder, engine.connect() as waiter:
        holder.execute(touch)
        waiter.execute(text(give_up_at_once))
        with pytest.raises(TransientConflict):
            waiter.execute(touch)
        waiter.rollback()
        holder.rollback()


# Retried by the app, then answered plainly


@pytest.fixture
def flaky_app() -> Iterator[tuple[TestClient, list[bytes]]]:
    """An app whose route fails with a conflict until its third attempt, echoing its body."""
    app = FastAPI()
    seen: list[bytes] = []

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, str]:
        seen.append(await request.body())
        if len(seen) < 3:
            raise _conflict()
        return {"body": seen[-1].decode()}

    @app.post("/never")
    async def never(request: Request) -> dict[str, str]:
        seen.append(await request.body())
        raise _conflict()

    install_retries(app)
    with TestClient(app) as client:
        yield client, seen


def test_a_request_that_met_a_conflict_runs_again_with_its_body(
    flaky_app: tuple[TestClient, list[bytes]],
) -> None:
    client, seen = flaky_app
    answer = client.post("/echo", content=b'{"name": "Gym"}')
    assert answer.status_code == 200
    assert answer.json() == {"body": '{"name": "Gym"}'}
    assert seen == [b'{"name": "Gym"}'] * 3


def test_a_request_that_keeps_meeting_conflicts_is_told_nothing_changed(
    flaky_app: tuple[TestClient, list[bytes]],
) -> None:
    client, seen = flaky_app
    answer = client.post("/never", content=b"{}")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["type"].endswith("/busy")
    assert "nothing was changed" in answer.json()["title"]
    assert len(seen) == ATTEMPTS


def test_a_revocation_that_keeps_meeting_conflicts_leaves_the_grant_live(
    engine: Engine,
    db_url: str,
    tmp_path: Path,
    make_world: Callable[..., LiveWorld],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The revocation is written and its version published before the conflict: all undone."""
    world = make_world(doors=2, residents=1)
    grant_id = world.grant_ids[world.residents[0]]
    settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=world.master_key_text)
    with session_factory(engine)() as session:
        versions_before = session.scalar(select(func.count()).select_from(AccessListVersion))

    calls: list[object] = []

    def conflict(*args: object) -> None:
        calls.append(args)
        raise _conflict()

    monkeypatch.setattr(revocation, "lock_status", conflict)
    with TestClient(create_app(settings, engine)) as client:
        answer = client.delete(
            f"{world.url}/keys/{world.key_ids[0]}/grants/{grant_id}", headers=world.auth
        )

    assert answer.status_code == 503
    assert answer.headers["retry-after"]
    # Run again each time, not answered "database unavailable" by the OperationalError handler.
    assert answer.json()["type"].endswith("/busy")
    assert len(calls) == ATTEMPTS
    with session_factory(engine)() as session:
        assert session.get_one(Grant, grant_id).revoked_at is None
        versions = session.scalar(select(func.count()).select_from(AccessListVersion))
        assert versions == versions_before
