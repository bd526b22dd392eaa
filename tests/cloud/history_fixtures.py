"""A building with people in every standing and events at each kind of door, for API tests.

Used by the history and webhook tests; the app is the real `create_app`, with the clock and
helpers of the auth tests (tokens straight from the service, no argon2 work).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from auth.auth_fixtures import (
    MASTER_KEY,
    MASTER_KEY_TEXT,
    T0,
    Clock,
    bearer,
    give_role,
    make_person,
    make_property,
    token_for,
)
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from keyturn.cloud.app import create_app
from keyturn.cloud.models import Door, Event, Grant, Key, Photo, Portfolio, Unit
from keyturn.crypto.sealed import encrypt_blob, new_data_key, seal
from keyturn.protocol.photos import photo_context
from keyturn.rules.types import CredentialType, DoorKind, Permission, Reason, Role
from keyturn.settings import Settings

__all__ = [
    "MASTER_KEY",
    "T0",
    "Clock",
    "World",
    "bearer",
    "give_role",
    "make_app",
    "make_person",
    "make_property",
    "make_world",
    "token_for",
]

_SEQ = itertools.count(1)
JPEG = b"\xff\xd8\xff\xe0 a small test photo \xff\xd9"


def make_app(
    engine: Engine, db_url: str, data_dir: Path, clock: Clock, **more_settings: Any
) -> FastAPI:
    settings = Settings(
        data_dir=data_dir, database_url=db_url, master_key=MASTER_KEY_TEXT, **more_settings
    )
    application = create_app(settings, engine)
    application.state.clock = clock
    return application


@dataclass
class World:
    """12 Elm St (entrance, gym, residences 1A and 2B) and a foreign building, 3 Oak Ave."""

    property_id: str
    other_property_id: str
    doors: dict[str, Door]
    people: dict[str, str]
    events: dict[str, Event] = field(default_factory=dict)


# Standing at 12 Elm St: a role, a manager permission, the residence doors held as resident.
STANDINGS: dict[str, tuple[Role | None, Permission | None, tuple[str, ...]]] = {
    "manager": (Role.PROPERTY_MANAGER, None, ()),
    "security": (Role.PROPERTY_MANAGER, Permission.SECURITY_VIEWER, ()),
    "owner": (Role.PORTFOLIO_MANAGER, None, ()),
    "staff": (Role.STAFF, None, ()),
    "resident": (Role.RESIDENT, None, ("1A",)),
    "coresident": (Role.RESIDENT, None, ("1A",)),
    "neighbour": (Role.RESIDENT, None, ("2B",)),
    "guest": (Role.GUEST, None, ()),
    "outsider": (None, None, ()),
}


def make_world(session: Session) -> World:
    """The building, its people and their resident grants; no events yet."""
    prop = make_property(session, Portfolio(name="Elm Holdings"), "12 Elm St")
    other = make_property(session, Portfolio(name="Oak Holdings"), "3 Oak Ave")
    doors: dict[str, Door] = {}
    for name, kind, where in (
        ("entrance", DoorKind.ENTRANCE, prop),
        ("gym", DoorKind.COMMON, prop),
        ("1A", DoorKind.RESIDENCE, prop),
        ("2B", DoorKind.RESIDENCE, prop),
        ("oak", DoorKind.ENTRANCE, other),
    ):
        unit = Unit(property_id=where.id, label=name) if kind == DoorKind.RESIDENCE else None
        doors[name] = Door(property=where, unit=unit, name=name, kind=kind, secret_sealed=b"x")
    session.add_all(doors.values())
    session.flush()
    keys = {}
    for label in ("1A", "2B"):
        keys[label] = Key(property_id=prop.id, name=f"Unit {label}", doors=[doors[label]])
    session.add_all(keys.values())
    people: dict[str, str] = {}
    for name, (role, permission, homes) in STANDINGS.items():
        person = make_person(session, f"{name}@example.org", name=name)
        people[name] = person.id
        if role is not None:
            unit = doors[homes[0]].unit_id if homes else None
            give_role(session, person.id, prop.id, role, unit_id=unit, permission=permission)
        for label in homes:
            session.add(
                Grant(
                    person_id=person.id,
                    key_id=keys[label].id,
                    starts_at=T0 - timedelta(days=30),
                    resident=True,
                )
            )
    session.add(
        Grant(
            person_id=people["guest"],
            key_id=keys["1A"].id,
            starts_at=T0 - timedelta(days=1),
            created_by=people["resident"],
        )
    )
    session.flush()
    return World(prop.id, other.id, doors, people)


def add_event(
    session: Session,
    world: World,
    name: str,
    door: str,
    subject: str | None,
    *,
    granted_by: str | None = None,
    by_resident: bool = False,
    minutes: int = 0,
    credential: CredentialType = CredentialType.MOBILE_KEY,
    reason: Reason = Reason.GRANTED,
) -> Event:
    """Store one attempt as ingest would, and remember it under `name`."""
    where = world.doors[door]
    event = Event(
        property_id=where.property_id,
        door_id=where.id,
        door_kind=where.kind,
        device_seq=next(_SEQ),
        occurred_at=T0 - timedelta(hours=1) + timedelta(minutes=minutes),
        credential_type=credential,
        subject_id=None if subject is None else world.people[subject],
        granted_by=None if granted_by is None else world.people[granted_by],
        by_resident=by_resident,
        reason=reason,
    )
    session.add(event)
    session.flush()
    world.events[name] = event
    return event


def add_photo(session: Session, data_dir: Path, event: Event, jpeg: bytes = JPEG) -> Photo:
    """A photo of the event, encrypted as a lock does and stored as the cloud does."""
    lock_photo_id = f"lock-{event.id[:8]}"
    data_key = new_data_key()
    photo = Photo(
        property_id=event.property_id,
        door_id=event.door_id,
        event_id=event.id,
        taken_at=event.occurred_at,
        storage_key=f"device-1/{event.id}",
        lock_photo_id=lock_photo_id,
    )
    session.add(photo)
    session.flush()
    photo.key_sealed = seal(MASTER_KEY, data_key, f"photo-key:{photo.id}".encode())
    path = data_dir / "photos" / photo.storage_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encrypt_blob(data_key, jpeg, photo_context(lock_photo_id)))
    event.photo_id = photo.id
    session.flush()
    return photo


def tokens(session: Session, world: World, **totp: bool) -> dict[str, str]:
    """A bearer token per person; name=True in `totp` marks that one as signed in with TOTP."""
    made = {
        name: token_for(session, person_id, totp_satisfied=totp.get(name, False))
        for name, person_id in world.people.items()
    }
    session.commit()
    return made


def all_pages(
    client: TestClient, token: str, property_id: str, **params: Any
) -> list[dict[str, Any]]:
    """Every item /events returns to this caller, following next_cursor to the end."""
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = dict(params, **({"cursor": cursor} if cursor else {}))
        answer = client.get(
            f"/api/v1/properties/{property_id}/events", params=query, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return seen
