"""Request body limits belong to the route, never to the Content-Type the client declares.

A real server is attacked as an outsider would: 60 MB posts to the unauthenticated login route,
with a Content-Length and chunked, one at a time and eight at once; the server must answer 413
before the body is sent and its peak memory must barely move. In-process, every route with a
body is walked, and the identity-document routes must take a full 5 MiB document.
"""

from __future__ import annotations

import base64
import select
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx
import pytest
from edge_server import Server, serving
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import MASTER_KEY_TEXT, row_counts
from keyturn.cloud.body_limits import JSON_BODY_LIMIT, LIMIT_EXTENSION
from keyturn.cloud.privacy.verification import MAX_DOCUMENT_BYTES
from worlds import Site

MB = 1_000_000
ATTACK_BYTES = 60 * MB
CHUNK = b"\0" * (256 * 1024)
LOGIN = "/api/v1/auth/login"
# What a refused sender may have pushed before it saw the answer: the socket buffers of
# loopback, never the body.
MAX_SENT_BEFORE_ANSWER = 16 * MB
MAX_RSS_GROWTH_KB = 50 * 1024
TIMEOUT_S = 60.0


# -- a real server ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`keyturn serve` on SQLite on a free loopback port; stopped after the module."""
    with serving(tmp_path_factory.mktemp("served"), MASTER_KEY_TEXT) as running:
        yield running


@dataclass
class Outcome:
    sent: int
    status: int | None
    content_type: str | None


def _attack(port: int, *, chunked: bool, total: int = ATTACK_BYTES) -> Outcome:
    """POST `total` bytes of octet-stream to the login route; stop as soon as an answer comes."""
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (
        f"POST {LOGIN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n"
    ).encode()
    answer = b""
    sent = 0
    body_left = total
    terminated = not chunked
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        pending = memoryview(b"")
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            if not pending and body_left > 0:
                size = min(len(CHUNK), body_left)
                body_left -= size
                piece = CHUNK[:size]
                pending = memoryview((b"%x\r\n" % size) + piece + b"\r\n" if chunked else piece)
            elif not pending and not terminated:
                pending = memoryview(b"0\r\n\r\n")
                terminated = True
            readable, writable, _ = select.select([sock], [sock] if pending else [], [], TIMEOUT_S)
            if readable:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                answer += data
                if not data or b"\r\n\r\n" in answer:
                    break
            elif writable:
                try:
                    written = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    break
                sent += written
                pending = pending[written:]
    status_line, _, rest = answer.partition(b"\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(b":") for line in rest.split(b"\r\n"))
    }
    status = int(status_line.split()[1]) if status_line.startswith(b"HTTP/") else None
    content_type = headers.get(b"content-type")
    return Outcome(sent, status, content_type.decode() if content_type else None)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_login_refuses_a_60_mb_octet_stream_before_it_is_sent(
    server: Server, chunked: bool
) -> None:
    outcome = _attack(server.port, chunked=chunked)

    assert outcome.status == 413
    assert outcome.content_type == "application/problem+json"
    assert outcome.sent < MAX_SENT_BEFORE_ANSWER


def test_eight_concurrent_60_mb_posts_barely_move_the_servers_memory(server: Server) -> None:
    # Warm the route up first, so its first use is not counted as growth.
    httpx.post(f"http://127.0.0.1:{server.port}{LOGIN}", json={"email": "a@b.org", "password": "x"})
    before = server.peak_rss_kb()

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = list(pool.map(lambda i: _attack(server.port, chunked=i % 2 == 1), range(8)))

    growth = server.peak_rss_kb() - before
    print(f"peak RSS {before} KiB before, grew {growth} KiB under 8 x 60 MB posts")
    assert [outcome.status for outcome in outcomes] == [413] * 8
    assert growth < MAX_RSS_GROWTH_KB


# -- every route, in process -----------------------------------------------------------------


def _body_operations(app: FastAPI) -> list[tuple[str, str, int]]:
    """(method, path, limit) of every operation with a request body, from the OpenAPI document."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                limit = operation.get(LIMIT_EXTENSION, JSON_BODY_LIMIT)
                found.append((method.upper(), path, limit))
    return found


def _chunks(total: int) -> Iterator[bytes]:
    left = total
    while left > 0:
        yield CHUNK[: min(left, len(CHUNK))]
        left -= len(CHUNK)


@pytest.mark.parametrize(
    "content_type", ["application/octet-stream", "application/msgpack", "image/png", "text/plain"]
)
def test_every_route_keeps_its_own_limit_whatever_the_content_type(
    client: TestClient, app: FastAPI, db: Session, content_type: str
) -> None:
    operations = _body_operations(app)
    assert len(operations) > 30
    before = row_counts(db)

    for method, path, limit in operations:
        url = path.replace("{", "").replace("}", "")
        headers = {"Content-Type": content_type}
        answers = [client.request(method, url, content=_chunks(limit + 1), headers=headers)]
        if limit <= 16 << 20:  # a declared length too (the sync route's would be 64 MiB here)
            answers.append(
                client.request(method, url, content=b"\0" * (limit + 1), headers=headers)
            )

        for answer in answers:
            assert answer.status_code == 413, (method, path, answer.text[:200])
            assert answer.json()["type"].endswith("/body-too-large")
    assert row_counts(db) == before


def test_only_the_upload_routes_take_more_than_json(app: FastAPI) -> None:
    bigger = {(method, path) for method, path, limit in _body_operations(app) if limit > 1 << 20}

    assert bigger == {
        ("POST", "/api/v1/sync"),
        ("POST", "/api/v1/account/data-requests/agent"),
        ("POST", "/api/v1/account/data-requests/{request_id}/documents"),
    }


def _document(size: int, content_type: str = "application/pdf") -> dict[str, str]:
    data = b"%PDF-1.4\n" + b"\0" * (size - 9)
    return {"content_type": content_type, "data_base64": base64.b64encode(data).decode()}


def test_an_agent_files_with_two_full_size_documents(client: TestClient, site: Site) -> None:
    body = {
        "kind": "copy",
        "subject_email": "resident@example.org",
        "letter": _document(MAX_DOCUMENT_BYTES),
        "identity": _document(MAX_DOCUMENT_BYTES, "image/png"),
    }

    filed = client.post(
        "/api/v1/account/data-requests/agent", json=body, headers=site.auth("outsider")
    )

    assert filed.status_code == 201, filed.text[:300]
    assert len(filed.json()["documents"]) == 2


def test_a_full_size_government_id_is_accepted_and_one_byte_more_is_not(
    client: TestClient, site: Site
) -> None:
    filed = client.post(
        "/api/v1/account/data-requests", json={"kind": "copy"}, headers=site.auth("resident")
    )
    url = f"/api/v1/account/data-requests/{filed.json()['id']}/documents"

    full = client.post(url, json=_document(MAX_DOCUMENT_BYTES), headers=site.auth("resident"))
    over = client.post(url, json=_document(MAX_DOCUMENT_BYTES + 1), headers=site.auth("resident"))

    assert full.status_code == 200, full.text[:300]
    assert over.status_code == 422
    assert len(full.json()["documents"]) == 1


def test_the_document_examples_are_whole_documents(app: FastAPI) -> None:
    schemas = app.openapi()["components"]["schemas"]
    examples = [
        document
        for name in ("AgentRequestCreate", "GovernmentIdIn", "DocumentIn")
        for example in schemas[name]["examples"]
        for document in (
            [example["letter"], example["identity"]] if "letter" in example else [example]
        )
    ]

    assert len(examples) == 4
    for document in examples:
        data = base64.b64decode(document["data_base64"], validate=True)
        if document["content_type"] == "application/pdf":
            _check_pdf(data)
        else:
            _check_image(data, document["content_type"])


def _check_image(data: bytes, content_type: str) -> None:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        assert Image.MIME[image.format] == content_type
        image.verify()


def _check_pdf(data: bytes) -> None:
    """Header, trailer, and a cross-reference table whose offsets point at its objects."""
    assert data.startswith(b"%PDF-1.")
    assert data.rstrip().endswith(b"%%EOF")
    xref_at = int(data.rsplit(b"startxref", 1)[1].split()[0])
    table = data[xref_at:].split(b"trailer", 1)[0].split(b"\n")
    assert table[0] == b"xref"
    first, count = (int(part) for part in table[1].split())
    entries = [line for line in table[2:] if line.strip()]
    assert len(entries) == count
    for number, entry in enumerate(entries[1:], start=first + 1):
        offset = int(entry.split()[0])
        assert data[offset:].startswith(b"%d 0 obj" % number)
