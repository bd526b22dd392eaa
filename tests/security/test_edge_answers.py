"""What the API answers at its edge: a database outage, a data request for an unknown address,
forwarded addresses, wrong methods and loose input types.

Each test drives the real app as a client would; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import re
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.routing import compile_path

sys.path[:0] = [str(Path(__file__).resolve().parents[1] / "cloud" / d) for d in ("api", "auth")]

from api_fixtures import Site, make_site  # noqa: E402
from auth_fixtures import MASTER_KEY_TEXT, bearer  # noqa: E402
from edge_server import serving  # noqa: E402

from keyturn.cloud.app import create_app  # noqa: E402
from keyturn.cloud.db import make_engine, session_factory  # noqa: E402
from keyturn.settings import Settings, SettingsError, load_settings  # noqa: E402

PROBLEM = "application/problem+json"
LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "OperationalError", 'File "')


@pytest.fixture
def app(engine: Engine, db_url: str, tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path, database_url=db_url, master_key=MASTER_KEY_TEXT)
    return create_app(settings, engine)


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


def _operations(app: FastAPI) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


# -- 10a: a database outage is a 503 problem with Retry-After, never a traceback --------------


class Cuttable:
    """A loopback TCP relay to the database that the test can cut: every connection through it
    drops at once and new ones are refused, as when the database host goes away."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        self.threads: list[threading.Thread] = []
        self._start(self._accept)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self.threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while True:
            try:
                inbound, _ = self.listener.accept()
            except OSError:
                return
            outbound = socket.create_connection(self.target, timeout=5)
            self.sockets += [inbound, outbound]
            self._start(self._pump, inbound, outbound)
            self._start(self._pump, outbound, inbound)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def cut(self) -> None:
        for sock in [self.listener, *self.sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in self.threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in self.threads)


def _assert_unavailable(answer: object) -> None:
    assert answer.status_code == 503, answer.text[:300]  # type: ignore[attr-defined]
    assert answer.headers["content-type"] == PROBLEM  # type: ignore[attr-defined]
    assert answer.json()["type"].endswith("/database-unavailable")  # type: ignore[attr-defined]
    assert int(answer.headers["retry-after"]) > 0  # type: ignore[attr-defined]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unreachable_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'no-such-dir' / 'keyturn.db'}"
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://postgres@127.0.0.1:{port}/keyturn"


def test_every_operation_answers_503_when_the_database_is_unreachable(
    unreachable_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=unreachable_url, master_key=MASTER_KEY_TEXT)
    unreachable = make_engine(unreachable_url)
    app = create_app(settings, unreachable)
    client = TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
    seen_503 = 0
    try:
        for method, path in _operations(app):
            url = path.replace("{", "").replace("}", "")
            answer = client.request(method, url, json={}, headers=bearer("some-token"))
            assert answer.status_code < 500 or answer.status_code == 503, (method, path)
            assert not any(leak in answer.text for leak in LEAKS), (method, path, answer.text)
            if answer.status_code == 503:
                _assert_unavailable(answer)
                seen_503 += 1
        _assert_unavailable(client.get("/api/v1/health"))
        _assert_unavailable(client.get("/api/v1/auth/me", headers=bearer("some-token")))
    finally:
        unreachable.dispose()
    assert seen_503 > 40


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_database_lost_mid_use_answers_503(engine: Engine, db_url: str, tmp_path: Path) -> None:
    real = make_url(db_url)
    relay = Cuttable(real.host or "127.0.0.1", real.port or 5432)
    through = real.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
    relayed = make_engine(through)
    settings = Settings(data_dir=tmp_path, database_url=through, master_key=MASTER_KEY_TEXT)
    client = TestClient(create_app(settings, relayed), raise_server_exceptions=False)
    try:
        with session_factory(engine)() as db:
            site = make_site(db)
            db.commit()
        people = f"{site.url}/people"
        assert client.get(people, headers=site.auth("portfolio_manager")).status_code == 200

        relay.cut()
        answers = [
            client.get(people, headers=site.auth("portfolio_manager")),
            client.post("/api/v1/auth/login", json={"email": "a@b.org", "password": "pw"}),
            client.get("/api/v1/health"),
        ]
    finally:
        relay.cut()
        relayed.dispose()
    for answer in answers:
        _assert_unavailable(answer)
        assert not any(leak in answer.text for leak in LEAKS)


# -- 10d: a 405 names every method the path takes ----------------------------------------------

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


def test_every_405_lists_exactly_the_methods_of_its_path(app: FastAPI, client: TestClient) -> None:
    paths = app.openapi()["paths"]
    templates = {
        compile_path(path)[0]: {method.upper() for method in operations}
        for path, operations in paths.items()
    }
    checked = 0
    for path in paths:
        url = re.sub(r"\{(\w+)\}", r"\1", path)
        # Several templates may serve one URL (/doorcodes/mine and /doorcodes/{doorcode_id}).
        allowed = set().union(*(m for regex, m in templates.items() if regex.match(url)))
        for method in sorted(set(METHODS) - allowed):
            answer = client.request(method, url)

            assert answer.status_code == 405, (method, url)
            listed = {part.strip() for part in answer.headers["allow"].split(",")}
            assert listed == allowed, (method, url)
            if method != "HEAD":
                assert answer.json()["type"].endswith("/method-not-allowed")
            checked += 1
    assert checked > 100


# -- 10c: X-Forwarded-For counts only from a configured proxy --------------------------------


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [
        (None, "127.0.0.1"),  # the default: no proxy is trusted, loopback included
        ("10.0.0.7, 192.168.0.0/16", "127.0.0.1"),  # proxies configured, the peer is not one
        ("10.0.0.7,127.0.0.0/8", "203.0.113.9"),  # the peer is a configured proxy
    ],
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    tmp_path: Path, trusted: str | None, recorded: str
) -> None:
    env = {"KEYTURN_TRUSTED_PROXIES": trusted} if trusted is not None else {}
    with serving(tmp_path, MASTER_KEY_TEXT, env) as server:
        answer = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"email": "nobody@example.org", "password": "not it"},
            headers={"X-Forwarded-For": "203.0.113.9"},
        )
    assert answer.status_code == 401
    engine = make_engine(f"sqlite:///{tmp_path / 'keyturn.db'}")
    try:
        with engine.connect() as conn:
            addresses = conn.execute(text("SELECT client_address FROM login_failures")).scalars()
            assert list(addresses) == [recorded]
    finally:
        engine.dispose()


@pytest.mark.parametrize("bad", ["*", "proxy.example.org", "10.0.0.1,nonsense", "300.1.1.1"])
def test_trusted_proxies_must_be_addresses_or_networks(bad: str) -> None:
    with pytest.raises(SettingsError, match="KEYTURN_TRUSTED_PROXIES"):
        load_settings(trusted_proxies=bad)
