"""Races an attacker or a busy building can start against a real `keyturn serve` process.

Each test fires its requests together (a barrier releases them at once) from threads with
their own connections, then checks the answers against what the database holds afterwards.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import Engine, Select, func, select
from sqlalchemy.orm import Session

from keyturn.cloud.auth import opaque, totp
from keyturn.cloud.db import utcnow
from keyturn.cloud.models import AccessListVersion, Doorcode, Grant, Key, Keycard, LoginFailure
from keyturn.cloud.sessions import session_factory
from keyturn.protocol.access_lists import content_from_bytes
from keyturn.protocol.messages import CredentialSpec
from worlds import LiveWorld

# Concurrency against a live server: run alone, not beside other tests (tasks.py).
pytestmark = pytest.mark.serial

if TYPE_CHECKING:
    from live_server import LiveServer

REQUEST_TIMEOUT_S = 90.0
BARRIER_TIMEOUT_S = 30.0
ACCOUNT_LIMIT = 5
LOGIN = "/api/v1/auth/login"

Send = Callable[[httpx.Client], httpx.Response]


def fire(server: LiveServer, requests: Sequence[Send]) -> list[httpx.Response]:
    """Send every request at once, each from its own thread and connection."""
    barrier = threading.Barrier(len(requests))

    def run(send: Send) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
            barrier.wait(timeout=BARRIER_TIMEOUT_S)
            return send(client)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(run, requests))


def login(world: LiveWorld, password: str, code: str | None = None) -> Send:
    body = {"email": world.manager_email, "password": password, "mode": "token"}
    if code is not None:
        body["totp_code"] = code
    return lambda client: client.post(LOGIN, json=body)


def failures_recorded(engine: Engine, world: LiveWorld) -> int:
    with session_factory(engine)() as session:
        digest = opaque.email_digest(world.manager_email)
        query = select(func.count()).where(LoginFailure.email_digest == digest)
        return int(session.scalar(query) or 0)


def test_concurrent_wrong_passwords_are_checked_at_most_the_limit(
    live_server: Callable[..., LiveServer], make_world: Callable[..., LiveWorld], engine: Engine
) -> None:
    world = make_world()
    server = live_server(max_failures_per_account=ACCOUNT_LIMIT, max_failures_per_address=1000)

    answers = fire(server, [login(world, "wrong password")] * 30)

    statuses = Counter(answer.status_code for answer in answers)
    assert set(statuses) <= {401, 429}, statuses
    assert statuses[401] <= ACCOUNT_LIMIT, statuses
    assert failures_recorded(engine, world) <= ACCOUNT_LIMIT
    for answer in answers:
        if answer.status_code == 429:
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) > 0
    with httpx.Client(base_url=server.url, timeout=REQUEST_TIMEOUT_S) as client:
        assert login(world, world.password)(client).status_code == 429


def test_one_totp_code_opens_one_login_of_many_at_once(
    live_server: Callable[..., LiveServer], make_world: Callable[..., LiveWorld]
) -> None:
    world = make_world(with_totp=True)
    assert world.totp_secret is not None
    # Limits high enough that every login reaches the TOTP check.
    server = live_server(max_failures_per_account=100, max_failures_per_address=100)
    code = totp.code_at(world.totp_secret, utcnow())

    answers = fire(server, [login(world, world.password, code)] * 10)

    statuses = Counter(answer.status_code for answer in answers)
    assert statuses == {200: 1, 401: 9}, statuses


# Concurrent writes at one building

Happened = Callable[[Session], bool]


@dataclass(frozen=True)
class Write:
    """One request of the mix, and how to tell from the database whether it took effect."""

    kind: str
    send: Send
    happened: Happened
    revokes: str | None = None  # the grant or doorcode id a revocation names


@dataclass(frozen=True)
class Revoked:
    """A revocation answered 2xx at one door, from the version its answer says carries it."""

    kind: str
    revokes: str
    required_version: int

    def names(self, spec: CredentialSpec) -> bool:
        if self.kind == "grant revocation":
            return spec.grant_id == self.revokes
        return spec.credential_id == self.revokes


def _post(url: str, body: dict[str, object], auth: dict[str, str]) -> Send:
    return lambda client: client.post(url, json=body, headers=auth)


def _delete(url: str, auth: dict[str, str]) -> Send:
    return lambda client: client.delete(url, headers=auth)


def _exists(query: Select[tuple[str]]) -> Happened:
    return lambda session: session.scalars(query).first() is not None


def _mixed_writes(world: LiveWorld) -> list[Write]:
    """New keys, grants, doorcodes and cards, and revocations of grants, codes and cards,
    interleaved. Each resident is named by one kind of write only, so that each write's
    effect can be read back alone.
    """
    people, doors, url, auth = world.residents, world.door_ids, world.url, world.auth
    revoke_grants, new_grants, revoke_codes = people[:30], people[30:60], people[60:85]
    new_cards, revoke_cards = people[85:105], people[105:125]
    groups: list[list[Write]] = [
        [
            Write(
                "key",
                _post(
                    f"{url}/keys",
                    {"name": f"Race key {n}", "door_ids": [doors[n % 4], doors[(n * 3 + 1) % 4]]},
                    auth,
                ),
                _exists(select(Key.id).where(Key.name == f"Race key {n}")),
            )
            for n in range(25)
        ],
        [
            Write(
                "grant",
                _post(f"{url}/keys/{world.key_ids[1]}/grants", {"person_id": person}, auth),
                _exists(
                    select(Grant.id).where(
                        Grant.person_id == person, Grant.key_id == world.key_ids[1]
                    )
                ),
            )
            for person in new_grants
        ],
        [
            Write(
                "code",
                _post(f"{url}/people/{person}/doorcodes", {"door_id": doors[1 + n % 3]}, auth),
                _exists(
                    select(Doorcode.id).where(
                        Doorcode.person_id == person, Doorcode.door_id == doors[1 + n % 3]
                    )
                ),
            )
            for n, person in enumerate(new_grants)
        ],
        [
            Write(
                "card",
                _post(f"{url}/people/{person}/keycards", {"card_uid": f"05{n:06X}"}, auth),
                _exists(select(Keycard.id).where(Keycard.card_uid == f"05{n:06X}")),
            )
            for n, person in enumerate(new_cards)
        ],
        [
            Write(
                "grant revocation",
                _delete(f"{url}/keys/{world.key_ids[0]}/grants/{world.grant_ids[person]}", auth),
                _exists(
                    select(Grant.id).where(
                        Grant.id == world.grant_ids[person], Grant.revoked_at.is_not(None)
                    )
                ),
                world.grant_ids[person],
            )
            for person in revoke_grants
        ],
        [
            Write(
                "code revocation",
                _delete(f"{url}/doorcodes/{world.doorcode_ids[person]}", auth),
                _exists(
                    select(Doorcode.id).where(
                        Doorcode.id == world.doorcode_ids[person], Doorcode.revoked_at.is_not(None)
                    )
                ),
                world.doorcode_ids[person],
            )
            for person in revoke_codes
        ],
        [
            Write(
                "card revocation",
                _delete(f"{url}/keycards/{world.keycard_ids[person]}", auth),
                _exists(
                    select(Keycard.id).where(
                        Keycard.id == world.keycard_ids[person], Keycard.active.is_(False)
                    )
                ),
                world.keycard_ids[person],
            )
            for person in revoke_cards
        ],
    ]
    longest = max(len(group) for group in groups)
    return [group[n] for n in range(longest) for group in groups if n < len(group)]


def _check_versions(session: Session, world: LiveWorld, revoked: dict[str, list[Revoked]]) -> None:
    """Per door: versions 1..n without gaps or repeats, and no version from the one that
    carries a revocation on still holding what was revoked (a list built from a stale view)."""
    for door_id in world.door_ids:
        versions = list(
            session.execute(
                select(AccessListVersion.version, AccessListVersion.content)
                .where(AccessListVersion.door_id == door_id)
                .order_by(AccessListVersion.version)
            )
        )
        assert [version for version, _ in versions] == list(range(1, len(versions) + 1))
        for version, content in versions:
            if content is None:
                continue
            held = content_from_bytes(content).upserts
            for revocation in revoked.get(door_id, []):
                if version >= revocation.required_version:
                    assert not any(revocation.names(spec) for spec in held), (version, revocation)


def test_concurrent_writes_at_one_building_happen_or_change_nothing(
    live_server: Callable[..., LiveServer], make_world: Callable[..., LiveWorld], engine: Engine
) -> None:
    world = make_world(residents=125)
    server = live_server()
    writes = _mixed_writes(world)
    assert len(writes) == 180

    answers = fire(server, [write.send for write in writes])

    counts = Counter(f"{write.kind} {answer.status_code}" for write, answer in zip(writes, answers))
    outcome = ", ".join(f"{count} x {what}" for what, count in sorted(counts.items()))
    assert all(answer.status_code < 500 for answer in answers), outcome
    with session_factory(engine)() as session:
        for write, answer in zip(writes, answers, strict=True):
            assert write.happened(session) == answer.is_success, (write.kind, answer.text)
    assert all(answer.is_success for answer in answers), outcome
    revoked: dict[str, list[Revoked]] = {}
    for write, answer in zip(writes, answers, strict=True):
        if write.revokes is not None:
            locks = answer.json()["locks"]
            assert locks
            for lock in locks:
                assert lock["required_version"] is not None
                revocation = Revoked(write.kind, write.revokes, lock["required_version"])
                revoked.setdefault(lock["door_id"], []).append(revocation)
    with session_factory(engine)() as session:
        _check_versions(session, world, revoked)
