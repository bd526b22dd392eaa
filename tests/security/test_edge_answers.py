"""What the API answers at its edge: a database outage, a data request for an unknown address,
forwarded addresses, wrong methods and loose input types.

Each test drives the real app as a client would; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest
from edge_server import serving
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from starlette.routing import compile_path

from factories import MASTER_KEY_TEXT, bearer
from keyturn.cloud.app import create_app
from keyturn.cloud.db import make_engine
from keyturn.cloud.fields import Agreed, AwareInstant, Day, Flag, Instant, QueryFlag
from keyturn.cloud.sessions import session_factory
from keyturn.settings import Settings, SettingsError, load_settings
from worlds import Site, make_site

PROBLEM = "application/problem+json"
LEAKS = ("Traceback", "sqlalchemy", "psycopg", "sqlite3", "OperationalError", 'File "')


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


# -- 10e: booleans are booleans, times are ISO 8601 text -------------------------------------

LOOSE = {
    "boolean": [0, 1, 0.0, "true", "false", "yes"],
    "date-time": [0, 0.5, 1_700_000_000, "0.5", "1700000000", "2026-03-02", True],
    "date": [0, 20260302, 1_700_000_000, "1700000000", "2026-03-02T00:00:00Z", True],
}
LOOSE_QUERY = {
    "boolean": ["0", "1", "yes", "no", "on", "off", "t", "True"],
    "date-time": ["0.5", "0", "1700000000", "2026-03-02", "1e9"],
}


def _kind(schema: dict[str, object]) -> str | None:
    options = [schema, *schema.get("anyOf", [])]  # type: ignore[misc]
    for option in options:
        if option.get("type") == "boolean" or option.get("const") is True:  # type: ignore[union-attr]
            return "boolean"
        if option.get("format") in ("date-time", "date"):  # type: ignore[union-attr]
            return str(option["format"])  # type: ignore[index]
    return None


def _typed_inputs(app: FastAPI) -> list[tuple[str, str, str, tuple[str, ...], str]]:
    """(method, path, where, field path, kind) of every boolean, date and date-time input."""
    document = app.openapi()
    components = document["components"]["schemas"]
    found = []

    def walk(schema: dict, where: tuple[str, ...], seen: frozenset[str]) -> Iterator[tuple]:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            if name not in seen:
                yield from walk(components[name], where, seen | {name})
            return
        if where and (kind := _kind(schema)):
            yield where, kind
        for name, sub in schema.get("properties", {}).items():
            yield from walk(sub, (*where, name), seen)
        for sub in schema.get("anyOf", []):
            if "$ref" in sub:
                yield from walk(sub, where, seen)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and (kind := _kind(parameter["schema"])):
                    found.append((method.upper(), path, "query", (parameter["name"],), kind))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                for field, kind in walk(body["schema"], (), frozenset()):
                    found.append((method.upper(), path, "body", field, kind))
    return found


def _nest(field: tuple[str, ...], value: object) -> dict[str, object]:
    body: object = value
    for name in reversed(field):
        body = {name: body}
    return body  # type: ignore[return-value]


def test_every_boolean_and_time_input_refuses_loose_values(
    app: FastAPI, client: TestClient, site: Site
) -> None:
    ids = {
        "property_id": site.property_id,
        "portfolio_id": site.personas.portfolio_id,
        "person_id": site.person("resident"),
        "key_id": site.resident_key_id,
    }
    inputs = _typed_inputs(app)
    assert len(inputs) >= 20  # the walk finds the fields it is meant to find
    for method, path, where, field, kind in inputs:
        url = re.sub(r"\{(\w+)\}", lambda m: ids.get(m.group(1), m.group(1)), path)
        for value in (LOOSE if where == "body" else LOOSE_QUERY)[kind]:
            if where == "body":
                answer = client.request(
                    method, url, json=_nest(field, value), headers=site.auth("portfolio_manager")
                )
            else:
                answer = client.request(
                    method,
                    url,
                    params={field[0]: value},
                    headers=site.auth("portfolio_manager"),
                )

            assert answer.status_code == 422, (method, path, field, value, answer.text[:200])
            refused = [tuple(error["loc"]) for error in answer.json()["errors"]]
            assert any(loc[: len(field) + 1] == (where, *field) for loc in refused), (
                method,
                path,
                field,
                value,
                refused,
            )


STRICT = {
    "Flag": TypeAdapter(Flag),
    "QueryFlag": TypeAdapter(QueryFlag),
    "Agreed": TypeAdapter(Agreed),
    "Instant": TypeAdapter(Instant),
    "AwareInstant": TypeAdapter(AwareInstant),
    "Day": TypeAdapter(Day),
}


@given(
    name=st.sampled_from(sorted(STRICT)),
    value=st.one_of(
        st.integers(),
        st.floats(allow_nan=False),
        st.integers().map(str),
        st.floats(allow_nan=False, allow_infinity=False).map(str),
    ),
)
def test_numbers_are_never_booleans_or_times(name: str, value: object) -> None:
    with pytest.raises(ValidationError):
        STRICT[name].validate_python(value)


# ISO 8601 offsets are whole minutes (zoneinfo's historic local mean times are not).
OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@given(moment=st.datetimes(timezones=OFFSETS), separator=st.sampled_from(["T", " "]))
def test_iso_8601_times_and_dates_are_read_as_written(moment: datetime, separator: str) -> None:
    text = moment.isoformat(sep=separator)

    assert STRICT["AwareInstant"].validate_python(text) == moment
    assert STRICT["Instant"].validate_python(text) == moment
    assert STRICT["Day"].validate_python(moment.date().isoformat()) == moment.date()


def test_well_formed_booleans_still_pass() -> None:
    assert STRICT["Flag"].validate_python(True) is True
    assert STRICT["Agreed"].validate_python(True) is True
    assert STRICT["QueryFlag"].validate_python("false") is False
    assert STRICT["QueryFlag"].validate_python("true") is True


# -- 10b: an agent's request answers the same whether the address has an account -----------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR42mP4DwABAQEAHLCMmQAAAABJRU5ErkJggg=="
VARYING = ("id", "received_at", "acknowledged_at", "acknowledge_by", "due_at", "answer_by")


def _agent_request(subject_email: str) -> dict[str, object]:
    document = {"content_type": "image/png", "data_base64": PNG}
    return {
        "kind": "deletion",
        "subject_email": subject_email,
        "letter": document,
        "identity": document,
    }


def _shape(body: dict[str, object]) -> dict[str, object]:
    """The answer without what differs between any two requests (ids, instants)."""
    kept = {k: v for k, v in body.items() if k not in VARYING}
    kept["documents"] = [d["kind"] for d in body["documents"]]  # type: ignore[attr-defined]
    return kept


def test_an_agent_cannot_tell_whether_an_address_has_an_account(
    client: TestClient, site: Site
) -> None:
    agent = site.auth("outsider")
    url = "/api/v1/account/data-requests/agent"

    known = client.post(url, json=_agent_request("resident@example.org"), headers=agent)
    unknown = client.post(url, json=_agent_request("nobody-here@example.org"), headers=agent)

    assert (known.status_code, unknown.status_code) == (201, 201)
    assert _shape(known.json()) == _shape(unknown.json())
    assert set(known.headers) == set(unknown.headers)
    listed = client.get("/api/v1/account/data-requests", headers=agent).json()["items"]
    assert sorted(_shape(item) == _shape(known.json()) for item in listed) == [True, True]
    for filed in (known, unknown):
        again = client.get(f"/api/v1/account/data-requests/{filed.json()['id']}", headers=agent)
        assert _shape(again.json()) == _shape(known.json())


def test_a_reviewer_refuses_an_agent_request_for_an_unknown_address(
    client: TestClient, db: Session, site: Site
) -> None:
    reviewer = site.auth("portfolio_manager")
    filed = client.post(
        "/api/v1/account/data-requests/agent",
        json=_agent_request("nobody-here@example.org"),
        headers=site.auth("resident"),  # the agent has a home; its reviewers take the request
    )
    request_id = filed.json()["id"]
    listed = client.get(f"{site.url}/data-requests", headers=reviewer).json()["items"]
    assert [item["id"] for item in listed] == [request_id]

    approve = client.post(f"/api/v1/data-requests/{request_id}/approve", headers=reviewer)
    assert approve.status_code == 409
    assert "no account" in approve.json()["detail"]
    refused = client.post(
        f"/api/v1/data-requests/{request_id}/refuse",
        json={"reason": "No account uses the address given"},
        headers=reviewer,
    )
    assert refused.status_code == 200
    assert refused.json()["state"] == "refused"
    assert refused.json()["documents"] == []
    seen = client.get(f"/api/v1/account/data-requests/{request_id}", headers=site.auth("resident"))
    assert seen.json()["refusal_reason"] == "No account uses the address given"
