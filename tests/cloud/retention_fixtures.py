"""Buildings, people, events and photos with fixed ids and times, for the retention tests.

Every row gets an explicit id and timestamp, so two databases built from the same plan hold
identical rows and their states after a retention run can be compared column by column.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import (
    Account,
    AuditRecord,
    Device,
    DeviceModel,
    Door,
    Doorcode,
    Event,
    Grant,
    Key,
    Keycard,
    LogGap,
    MobileKeyRegistration,
    Person,
    Photo,
    Portfolio,
    Profile,
    Property,
    metadata,
)
from keyturn.crypto.sealed import encrypt_blob, new_data_key, seal
from keyturn.protocol.photos import photo_context
from keyturn.rules.types import CredentialType, DoorKind, Reason

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=3000)
MASTER_KEY = bytes(range(32))
JPEG = b"\xff\xd8\xff\xe0 a photo at the door \xff\xd9"
NYC = "US-NY-NYC"
SNAPSHOT_TABLES = (
    "events",
    "photos",
    "grants",
    "doorcodes",
    "keycards",
    "mobile_key_registrations",
    "audit_records",
    "log_gaps",
)


@dataclass(frozen=True)
class Site:
    """One property with one entrance door, its lock and one key to the door."""

    name: str
    property_id: str
    door_id: str
    device_id: str
    key_id: str


def days(n: float) -> timedelta:
    return timedelta(days=n)


def add_site(
    session: Session,
    name: str,
    jurisdiction: str = "default",
    *,
    override: int | None = None,
    stored_through: int = 1_000_000,
) -> Site:
    """A property with a lock whose watermark is `stored_through` (every entry acknowledged)."""
    session.add(Portfolio(id=f"pf-{name}", name=f"{name} holdings", created_at=LONG_AGO))
    session.add(
        Property(
            id=f"p-{name}",
            portfolio_id=f"pf-{name}",
            name=name,
            time_zone="America/New_York",
            jurisdiction=jurisdiction,
            retention_days_override=override,
            authority_public_key=b"\x01" * 32,
            authority_private_key_sealed=b"\x02" * 60,
            created_at=LONG_AGO,
        )
    )
    session.flush()
    door = Door(
        id=f"d-{name}",
        property_id=f"p-{name}",
        name="entrance",
        kind=DoorKind.ENTRANCE,
        secret_sealed=b"x",
        created_at=LONG_AGO,
    )
    session.add(door)
    session.add(DeviceModel(id=f"m-{name}", name=f"model {name}", created_at=LONG_AGO))
    session.flush()
    session.add(
        Device(
            id=f"dev-{name}",
            property_id=f"p-{name}",
            door_id=door.id,
            model_id=f"m-{name}",
            public_key=b"k",
            sync_key_sealed=b"s",
            stored_through_seq=stored_through,
            provisioned_at=LONG_AGO,
        )
    )
    session.add(
        Key(
            id=f"k-{name}",
            property_id=f"p-{name}",
            name="entrance",
            doors=[door],
            created_at=LONG_AGO,
        )
    )
    session.flush()
    return Site(name, f"p-{name}", door.id, f"dev-{name}", f"k-{name}")


def add_person(session: Session, name: str) -> str:
    """A person with no role, who consents long ago to each site that gets a grant or a
    credential of theirs (R5: an NYC site may hold their data)."""
    session.add(
        Person(
            id=f"person-{name}",
            display_name=name,
            email=f"{name}@example.org",
            created_at=LONG_AGO,
        )
    )
    session.flush()
    session.add(Account(id=f"acct-{name}", person_id=f"person-{name}", created_at=LONG_AGO))
    session.flush()
    return f"person-{name}"


def add_grant(
    session: Session,
    site: Site,
    person_id: str,
    *,
    ended: timedelta | None = None,
    revoked: timedelta | None = None,
) -> str:
    """A grant that started long ago and ended (or was revoked) `ended` before NOW."""
    grant_id = f"g-{site.name}-{person_id}"
    _consented(session, site, person_id)
    session.add(
        Grant(
            id=grant_id,
            person_id=person_id,
            key_id=site.key_id,
            starts_at=LONG_AGO,
            ends_at=None if ended is None else NOW - ended,
            revoked_at=None if revoked is None else NOW - revoked,
            created_at=LONG_AGO,
        )
    )
    session.flush()
    return grant_id


def _consented(session: Session, site: Site, person_id: str) -> None:
    portfolio_id = f"pf-{site.name}"
    known = session.scalar(
        select(Profile.id).where(
            Profile.person_id == person_id, Profile.portfolio_id == portfolio_id
        )
    )
    if known is None:
        session.add(
            Profile(
                person_id=person_id,
                portfolio_id=portfolio_id,
                display_name=person_id,
                nyc_consent_at=LONG_AGO,
                created_at=LONG_AGO,
            )
        )
        session.flush()


def add_credentials(session: Session, site: Site, person_id: str) -> dict[str, str]:
    """A doorcode and a keycard at the site and a registered phone, all made long ago."""
    _consented(session, site, person_id)
    ids = {
        "doorcode": f"dc-{site.name}-{person_id}",
        "keycard": f"kc-{site.name}-{person_id}",
        "phone": f"ph-{site.name}-{person_id}",
    }
    session.add(
        Doorcode(
            id=ids["doorcode"],
            person_id=person_id,
            door_id=site.door_id,
            code_mac=ids["doorcode"].encode(),
            created_at=LONG_AGO,
        )
    )
    session.add(
        Keycard(
            id=ids["keycard"],
            person_id=person_id,
            property_id=site.property_id,
            card_uid=hashlib.sha1(ids["keycard"].encode()).hexdigest()[:8].upper(),
            created_at=LONG_AGO,
        )
    )
    session.add(
        MobileKeyRegistration(
            id=ids["phone"],
            person_id=person_id,
            phone_public_key=b"p" * 32,
            phone_key_id=ids["phone"],
            registered_at=LONG_AGO,
        )
    )
    session.flush()
    return ids


def add_event(
    session: Session,
    site: Site,
    seq: int,
    age: timedelta,
    *,
    subject: str | None = None,
    grant_id: str | None = None,
    reason: Reason = Reason.GRANTED,
) -> Event:
    """An attempt at the site's door `age` before NOW, carrying every link to a person."""
    event = Event(
        id=f"e-{site.name}-{seq:06d}",
        property_id=site.property_id,
        door_id=site.door_id,
        door_kind=DoorKind.ENTRANCE,
        device_id=site.device_id,
        device_seq=seq,
        occurred_at=NOW - age,
        received_at=NOW - age,
        credential_type=CredentialType.KEYCARD,
        credential_id=f"card-{seq}",
        grant_id=grant_id,
        subject_id=subject,
        granted_by=subject,
        by_resident=True,
        reason=reason,
        detail="front door" if subject else None,
    )
    session.add(event)
    session.flush()
    return event


def add_photo(session: Session, photo_dir: Path, event: Event) -> Photo:
    """The event's photo, sealed and encrypted as ingest stores it."""
    photo_id = f"ph-{event.id}"
    lock_photo_id = f"lock-{event.id}"
    data_key = new_data_key()
    photo = Photo(
        id=photo_id,
        event_id=event.id,
        property_id=event.property_id,
        door_id=event.door_id,
        taken_at=event.occurred_at,
        storage_key=f"{event.device_id}/{photo_id}",
        lock_photo_id=lock_photo_id,
        key_sealed=seal(MASTER_KEY, data_key, f"photo-key:{photo_id}".encode()),
        created_at=event.occurred_at,
    )
    session.add(photo)
    path = photo_dir / photo.storage_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encrypt_blob(data_key, JPEG, photo_context(lock_photo_id)))
    event.photo_id = photo_id
    session.flush()
    return photo


def add_gap(session: Session, site: Site, from_seq: int, to_seq: int | None) -> None:
    session.add(
        LogGap(
            id=f"gap-{site.name}-{from_seq}",
            device_id=site.device_id,
            door_id=site.door_id,
            from_seq=from_seq,
            to_seq=to_seq,
            detected_at=NOW - days(200),
            note="lock replaced before syncing",
        )
    )
    session.flush()


def add_audit(session: Session, record_id: str, expires: timedelta) -> None:
    session.add(
        AuditRecord(
            id=record_id,
            at=NOW - days(800),
            action="history.read",
            object_type="property",
            detail={},
            expires_at=NOW + expires,
        )
    )
    session.flush()


def snapshot(engine: Engine, photo_dir: Path) -> dict[str, Any]:
    """Every row of the tables retention touches, plus the photo files on disk."""
    state: dict[str, Any] = {}
    with engine.connect() as conn:
        for name in SNAPSHOT_TABLES:
            table = metadata.tables[name]
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
            # A sealed key differs between two builds (random nonce): compare its presence.
            state[name] = [
                {k: v is not None if k == "key_sealed" else v for k, v in row.items()}
                for row in rows
            ]
    state["files"] = sorted(
        str(path.relative_to(photo_dir)) for path in photo_dir.rglob("*") if path.is_file()
    )
    return state


def empty_database(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())
