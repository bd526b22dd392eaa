"""Login races replayed step by step: a second login runs inside the first one, at the
moment a race would let it slip through, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.auth import opaque, service, totp
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.db import utcnow
from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import LoginFailure
from keyturn.cloud.sessions import session_factory
from worlds import LiveWorld

# Concurrency against a live server: run alone, not beside other tests (tasks.py).
pytestmark = pytest.mark.serial

ADDRESS = "198.51.100.7"
SIGNED_IN = "signed in"


def attempt(
    sessions: sessionmaker[Session],
    config: AuthConfig,
    world: LiveWorld,
    password: str,
    code: str | None = None,
) -> str:
    """One login in its own session, as the view runs it: the outcome's name."""
    with sessions() as session:
        try:
            service.log_in(
                session,
                config,
                world.master_key,
                world.manager_email,
                password,
                code,
                ADDRESS,
                utcnow(),
            )
        except Refusal as refused:
            return type(refused).__name__
        session.commit()
        return SIGNED_IN


def test_a_login_during_another_ones_password_check_finds_it_counted(
    engine: Engine, make_world: Callable[..., LiveWorld], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world()
    config = AuthConfig(max_failures_per_account=1, max_failures_per_address=100)
    sessions = session_factory(engine)
    meanwhile: list[str] = []
    check_password = service.verify_password

    def second_login_meanwhile(stored: str, password: str) -> bool:
        monkeypatch.setattr(service, "verify_password", check_password)
        meanwhile.append(attempt(sessions, config, world, "also wrong"))
        return check_password(stored, password)

    monkeypatch.setattr(service, "verify_password", second_login_meanwhile)

    first = attempt(sessions, config, world, "wrong")

    # The limit is one failure: the first attempt used it, so the second is never checked.
    assert (first, meanwhile) == ("InvalidCredentials", ["Throttled"])
    with sessions() as session:
        digest = opaque.email_digest(world.manager_email)
        counted = session.scalar(select(func.count()).where(LoginFailure.email_digest == digest))
    assert counted == 1


def test_a_totp_code_used_while_another_login_holds_it_opens_only_one(
    engine: Engine, make_world: Callable[..., LiveWorld], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_world(with_totp=True)
    assert world.totp_secret is not None
    config = AuthConfig(max_failures_per_account=100, max_failures_per_address=100)
    sessions = session_factory(engine)
    code = totp.code_at(world.totp_secret, utcnow())
    meanwhile: list[str] = []
    match_step = totp.matching_step

    def second_login_meanwhile(*args: Any) -> int | None:
        # The first login has read the last used step and found the code good.
        monkeypatch.setattr(totp, "matching_step", match_step)
        meanwhile.append(attempt(sessions, config, world, world.password, code))
        return match_step(*args)

    monkeypatch.setattr(totp, "matching_step", second_login_meanwhile)

    first = attempt(sessions, config, world, world.password, code)

    assert (first, meanwhile) == ("TotpCodeRequired", [SIGNED_IN])
