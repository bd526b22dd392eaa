"""Login, logout and throttling over HTTP on both backends.

Unknown emails and wrong passwords must be indistinguishable, and the lockout must live in
the database and lift when the window has passed (the app's clock is moved, never slept).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import PASSWORD, Clock, make_person
from keyturn.cloud.auth.deps import CSRF_COOKIE, SESSION_COOKIE
from keyturn.cloud.auth.opaque import digest
from keyturn.cloud.models import Account, ApiToken, AuthSession, LoginFailure

LOGIN = "/api/v1/auth/login"
EMAIL = "ana@example.org"


def _ana(db: Session) -> None:
    make_person(db, email=EMAIL, password=PASSWORD, name="Ana")
    db.commit()


def _login(client: TestClient, email: str = EMAIL, password: str = PASSWORD, **extra: object):
    return client.post(LOGIN, json={"email": email, "password": password, **extra})


def test_login_sets_an_httponly_lax_secure_session_cookie_stored_hashed(
    client: TestClient, db: Session
) -> None:
    _ana(db)

    answer = _login(client, email="  ANA@example.org ")

    assert answer.status_code == 200
    body = answer.json()
    assert body["kind"] == "session"
    cookies = answer.headers.get_list("set-cookie")
    session_cookie = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    csrf_cookie = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" in session_cookie
    assert "Secure" in session_cookie
    assert "samesite=lax" in session_cookie.lower()
    assert "HttpOnly" not in csrf_cookie
    secret = session_cookie.split(";")[0].split("=", 1)[1]
    stored = db.execute(select(AuthSession)).scalar_one()
    assert stored.secret_digest == digest(secret)
    assert secret not in stored.secret_digest
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["email"] == EMAIL
    assert me.json()["credential"] == "session"


def test_cookie_is_not_secure_over_plain_http_in_auto_mode(app, db: Session) -> None:
    _ana(db)
    with TestClient(app, base_url="http://testserver") as plain:
        answer = _login(plain)
    session_cookie = next(
        c for c in answer.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
    )
    assert "Secure" not in session_cookie


def test_login_can_return_a_bearer_token_instead(client: TestClient, db: Session) -> None:
    _ana(db)

    answer = _login(client, mode="token")

    assert answer.status_code == 200
    assert "set-cookie" not in answer.headers
    token = answer.json()["access_token"]
    assert token.startswith("kt_")
    assert db.execute(select(ApiToken.secret_digest)).scalar_one() == digest(token)
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["scopes"] == ["admin", "read", "write"]


def test_wrong_password_and_unknown_email_get_the_same_answer(
    client: TestClient, db: Session
) -> None:
    _ana(db)

    wrong = _login(client, password="not the password")
    unknown = _login(client, email="nobody@example.org")

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["type"].endswith("/invalid-credentials")
    assert wrong.headers["content-type"] == "application/problem+json"
    assert "set-cookie" not in wrong.headers
    assert db.execute(select(func.count()).select_from(AuthSession)).scalar_one() == 0


def test_a_disabled_account_cannot_log_in_and_looks_like_a_wrong_password(
    client: TestClient, db: Session
) -> None:
    _ana(db)
    db.execute(Account.__table__.update().values(disabled=True))
    db.commit()

    answer = _login(client)

    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/invalid-credentials")


def test_lockout_after_n_failures_then_release_after_the_window(
    client: TestClient, db: Session, clock: Clock
) -> None:
    _ana(db)
    for _ in range(3):
        assert _login(client, password="wrong password").status_code == 401
        clock.advance(seconds=10)

    locked = _login(client)  # even the right password waits

    assert locked.status_code == 429
    assert locked.json()["type"].endswith("/throttled")
    assert int(locked.headers["Retry-After"]) == 600 - 30
    clock.advance(seconds=600 - 30 - 1)
    assert _login(client).status_code == 429
    clock.advance(seconds=2)
    assert _login(client).status_code == 200
    assert db.execute(select(func.count()).select_from(LoginFailure)).scalar_one() == 0


def test_unknown_emails_are_locked_out_the_same_way(client: TestClient) -> None:
    for _ in range(3):
        _login(client, email="ghost@example.org")

    answer = _login(client, email="ghost@example.org")

    assert answer.status_code == 429


def test_one_address_trying_many_accounts_is_throttled(client: TestClient, db: Session) -> None:
    _ana(db)
    for n in range(6):
        assert _login(client, email=f"user{n}@example.org").status_code == 401

    answer = _login(client)

    assert answer.status_code == 429
    assert "Retry-After" in answer.headers


def test_failures_are_stored_in_the_database_without_the_email(
    client: TestClient, db: Session
) -> None:
    _login(client, email="ghost@example.org")

    stored = db.execute(select(LoginFailure)).scalar_one()

    assert "ghost" not in stored.email_digest
    assert stored.client_address == "testclient"


def test_logout_ends_the_session(client: TestClient, db: Session) -> None:
    _ana(db)
    csrf = _login(client).json()["csrf_token"]

    bye = client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})

    assert bye.status_code == 204
    assert db.execute(select(AuthSession.revoked_at)).scalar_one() is not None
    client.cookies.clear()
    assert client.get("/api/v1/auth/me").status_code == 401


def test_an_expired_session_is_refused_however_busy(
    client: TestClient, db: Session, clock: Clock
) -> None:
    _ana(db)
    _login(client)
    for _ in range(12 * 3 - 1):  # used every 20 minutes, up to 11 h 40 min
        clock.advance(minutes=20)
        assert client.get("/api/v1/auth/me").status_code == 200
    clock.advance(minutes=20, seconds=1)

    answer = client.get("/api/v1/auth/me")

    assert answer.status_code == 401
    assert answer.json()["type"].endswith("/unauthenticated")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_session_records_its_use_at_most_once_a_minute(
    client: TestClient, db: Session, clock: Clock
) -> None:
    _ana(db)
    _login(client)
    opened = db.execute(select(AuthSession.last_seen_at)).scalar_one()
    clock.advance(seconds=59)
    assert client.get("/api/v1/auth/me").status_code == 200
    db.expire_all()
    assert db.execute(select(AuthSession.last_seen_at)).scalar_one() == opened
    clock.advance(seconds=1)

    assert client.get("/api/v1/auth/me").status_code == 200

    db.expire_all()
    seen = db.execute(select(AuthSession.last_seen_at)).scalar_one()
    assert seen == opened + timedelta(minutes=1)


def test_a_session_left_idle_ends(client: TestClient, db: Session, clock: Clock) -> None:
    _ana(db)
    _login(client)
    clock.advance(minutes=29)
    assert client.get("/api/v1/auth/me").status_code == 200
    clock.advance(minutes=29)
    assert client.get("/api/v1/auth/me").status_code == 200
    clock.advance(minutes=30)

    answer = client.get("/api/v1/auth/me")

    assert answer.status_code == 401
    assert db.execute(select(AuthSession.revoked_at)).scalar_one() is None
