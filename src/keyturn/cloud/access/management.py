"""Keys, grants and a person's credentials (phones, personal doorcodes, keycards) at a property.

Every function takes objects already known to belong to the property, or checks ids named in
a request body against it (422 unknown-reference), so no property sees another's objects.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.capabilities import require_capability_somewhere
from keyturn.cloud.access.codes import IssuedCode, issue_personal_code
from keyturn.cloud.access.mobile_keys import IssuedKey, issue_for_phone, phone_of
from keyturn.cloud.access.rollout import publish
from keyturn.cloud.access.service import schedule_from_json
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    GrantKind,
    Key,
    Keycard,
    MobileKeyRegistration,
    key_doors,
)
from keyturn.cloud.privacy import audit
from keyturn.cloud.problems import ProblemError
from keyturn.cloud.refusals import InvalidReference, NotYours
from keyturn.crypto.keys import VerifyKey
from keyturn.rules.errors import InvalidGrant
from keyturn.rules.grants import (
    resident_status_start,
    validate_courier_doors,
    validate_doors_added,
)
from keyturn.rules.types import CredentialType, DoorKind


class NoDoorcodeKey(ProblemError):
    status = 409
    kind = "no-doorcode-key"
    title = "The person holds no live key with doorcodes for this door"


class InvalidPhoneKey(ProblemError):
    status = 422
    kind = "invalid-phone-key"
    title = "public_key must be a raw 32-byte Ed25519 key in base64url"


# Keys


def doors_at(session: Session, property_id: str, door_ids: Sequence[str]) -> list[Door]:
    """The doors named in a request, all at this property, else 422 unknown-reference."""
    wanted = sorted(set(door_ids))
    found = list(
        session.scalars(select(Door).where(Door.id.in_(wanted), Door.property_id == property_id))
    )
    missing = sorted(set(wanted) - {door.id for door in found})
    if missing:
        raise InvalidReference(f"no door {', '.join(missing)} at this property")
    return sorted(found, key=lambda door: door.id)


def schedule_json(windows: Sequence[Any]) -> dict[str, Any]:
    """`Key.schedule_json` for the windows, checked by the access service's parser."""
    data = {"windows": [dict(window) for window in windows]}
    schedule_from_json(data)
    return data


def create_key(
    session: Session,
    property_id: str,
    name: str,
    door_ids: Sequence[str],
    windows: Sequence[Any],
    may_share: bool,
    provides_doorcodes: bool,
) -> Key:
    key = Key(
        property_id=property_id,
        name=name,
        schedule_json=schedule_json(windows),
        may_share=may_share,
        provides_doorcodes=provides_doorcodes,
    )
    key.doors = doors_at(session, property_id, door_ids)
    session.add(key)
    session.flush()
    return key


def update_key(session: Session, key: Key, changes: dict[str, Any]) -> Key:
    """Change a key; a key held by couriers still may never open a residence door (A8), and
    a key that carries resident status gains none (V2)."""
    if "door_ids" in changes:
        doors = doors_at(session, key.property_id, changes.pop("door_ids"))
        if _has_kind(session, key.id, GrantKind.COURIER):
            validate_courier_doors({door.id: door.kind for door in doors})
        before = set(key_door_ids(key))
        validate_doors_added(
            {door.id: door.kind for door in doors if door.id not in before},
            _carries_resident_status(session, key.id),
        )
        key.doors = doors
    if "windows" in changes:
        key.schedule_json = schedule_json(changes.pop("windows"))
    for name, value in changes.items():
        setattr(key, name, value)
    session.flush()
    return key


def _has_kind(session: Session, key_id: str, kind: GrantKind) -> bool:
    found = session.scalar(
        select(Grant.id).where(Grant.key_id == key_id, Grant.kind == kind).limit(1)
    )
    return found is not None


def _carries_resident_status(session: Session, key_id: str) -> bool:
    """Whether the key was ever granted with resident status, revoked or ended grants too."""
    found = session.scalar(
        select(Grant.id).where(Grant.key_id == key_id, Grant.resident.is_(True)).limit(1)
    )
    return found is not None


def key_door_ids(key: Key) -> list[str]:
    return sorted(door.id for door in key.doors)


# Grants


def grant_at(session: Session, key: Key, grant_id: str) -> Grant:
    grant = session.get(Grant, grant_id)
    if grant is None or grant.key_id != key.id:
        raise NotFound()
    return grant


def create_grant(
    session: Session,
    key: Key,
    person_id: str,
    starts_at: datetime,
    ends_at: datetime | None,
    resident: bool,
    created_by: str,
    kind: GrantKind = GrantKind.STANDARD,
    *,
    now: datetime,
) -> Grant:
    """Grant the key to a person from `starts_at` to an optional `ends_at`.

    Resident status (V2) is never given to oneself and begins no earlier than `now`, when it
    is given; each grant of it is audited: who gave it, to whom, for which key and doors.
    """
    if resident:
        starts_at = resident_status_start(
            giver_id=created_by, holder_id=person_id, starts_at=starts_at, now=now
        )
    if ends_at is not None and ends_at <= starts_at:
        since = " (resident status starts now at the earliest)" if resident else ""
        raise InvalidGrant(f"a grant must end after it starts{since}")
    grant = Grant(
        person_id=person_id,
        key_id=key.id,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        resident=resident,
        created_by=created_by,
    )
    session.add(grant)
    session.flush()
    if resident:
        audit.record(
            session,
            now=now,
            actor_person_id=created_by,
            action="grant.resident_status",
            object_type="grant",
            object_id=grant.id,
            property_id=key.property_id,
            detail={
                "person_id": person_id,
                "key_id": key.id,
                "door_ids": key_door_ids(key),
                "starts_at": starts_at.isoformat(),
                "ends_at": ends_at.isoformat() if ends_at is not None else None,
            },
        )
    return grant


def live_grants(session: Session, person_id: str, now: datetime) -> Select[Grant]:
    """The person's grants that are in force at `now`."""
    return select(Grant).where(
        Grant.person_id == person_id,
        Grant.revoked_at.is_(None),
        Grant.starts_at <= now,
        or_(Grant.ends_at.is_(None), Grant.ends_at > now),
    )


def live_grants_at_door(
    session: Session, person_id: str, door_id: str, now: datetime
) -> list[tuple[Grant, Key]]:
    rows = session.execute(
        live_grants(session, person_id, now)
        .add_columns(Key)
        .join(Key, Key.id == Grant.key_id)
        .join(key_doors, key_doors.c.key_id == Key.id)
        .where(key_doors.c.door_id == door_id)
    ).all()
    return [(grant, key) for grant, key in rows]


def check_door_is_callers(
    session: Session, person_id: str, door: Door, now: datetime, *, residence_needs_resident: bool
) -> None:
    """Refuse (403 not-yours) a door the caller holds no live grant for.

    At a residence door the grant must carry resident status when asked, so a guest cannot
    hand out codes to someone else's flat.
    """
    grants = live_grants_at_door(session, person_id, door.id, now)
    if residence_needs_resident and door.kind == DoorKind.RESIDENCE:
        grants = [(grant, key) for grant, key in grants if grant.resident]
    if not grants:
        raise NotYours(f"you hold no live key for door {door.name!r}")


# Phones


def decode_phone_key(text: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(text.encode() + b"=" * (-len(text) % 4))
        return VerifyKey.from_bytes(raw).public_bytes()
    except (ValueError, binascii.Error):
        raise InvalidPhoneKey() from None


def enrol_phone(
    session: Session, person_id: str, public_key: str, now: datetime
) -> MobileKeyRegistration:
    """Register a phone's public key; the same key can never be enrolled twice (409)."""
    raw = decode_phone_key(public_key)
    key_id = VerifyKey.from_bytes(raw).key_id
    if session.scalar(
        select(MobileKeyRegistration.id).where(MobileKeyRegistration.phone_key_id == key_id)
    ):
        raise Conflict("this phone key is already enrolled (or was revoked): use a new key pair")
    registration = MobileKeyRegistration(
        person_id=person_id, phone_public_key=raw, phone_key_id=key_id, registered_at=now
    )
    session.add(registration)
    session.flush()
    return registration


def own_phone(session: Session, person_id: str, registration_id: str) -> MobileKeyRegistration:
    found = session.get(MobileKeyRegistration, registration_id)
    if found is None or found.person_id != person_id:
        raise NotFound()
    return found


def mobile_keys(
    session: Session,
    master_key: bytes,
    person_id: str,
    registration_id: str,
    property_id: str,
    now: datetime,
) -> list[IssuedKey]:
    """Fresh tokens for the person's own phone, for this property's grants only."""
    phone = phone_of(session, registration_id)
    if phone is None or phone.person_id != person_id:
        raise NotFound()
    return issue_for_phone(session, master_key, phone, now, property_id=property_id)


# Personal doorcodes and keycards


def issue_doorcode(
    session: Session,
    master_key: bytes,
    person_id: str,
    door: Door,
    now: datetime,
    *,
    residence_only: bool,
) -> IssuedCode:
    """Issue (or reset) a person's code at a door their live key gives doorcodes for (A3).

    `residence_only` is the self-service rule: a resident resets the code of their own
    residence door, never a shared door's.
    """
    grants = [
        (grant, key)
        for grant, key in live_grants_at_door(session, person_id, door.id, now)
        if key.provides_doorcodes
    ]
    if residence_only and (
        door.kind != DoorKind.RESIDENCE or not any(grant.resident for grant, _ in grants)
    ):
        raise NotYours("you may reset only the code of your own residence door")
    if not grants:
        raise NoDoorcodeKey(f"no live key with doorcodes opens {door.name!r} for this person")
    return issue_personal_code(session, master_key, person_id, door.id, now)


def doorcode_at(session: Session, property_id: str, doorcode_id: str) -> Doorcode:
    found = session.execute(
        select(Doorcode)
        .join(Door, Door.id == Doorcode.door_id)
        .where(Doorcode.id == doorcode_id, Door.property_id == property_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return found


def activate_keycard(session: Session, property_id: str, person_id: str, card_uid: str) -> Keycard:
    """Activate a card by its identifier for a person; a card held by someone else is 409.

    Refused with MissingCapability (409) when every door of the person's keys here is bound
    to a lock without a card reader: such a card could open nothing.
    """
    doors = session.scalars(
        select(Door).where(Door.id.in_(person_door_ids(session, property_id, person_id)))
    ).all()
    require_capability_somewhere(doors, CredentialType.KEYCARD)
    uid = card_uid.upper()
    card = session.scalars(
        select(Keycard).where(Keycard.property_id == property_id, Keycard.card_uid == uid)
    ).first()
    if card is not None and card.person_id != person_id:
        raise Conflict("this card is registered to someone else; deactivate it there first")
    if card is None:
        card = Keycard(person_id=person_id, property_id=property_id, card_uid=uid)
        session.add(card)
    card.active = True
    session.flush()
    return card


def issue_keycard(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    card_uid: str,
    now: datetime,
) -> Keycard:
    """`activate_keycard`, published at once to every door of the person's keys here."""
    card = activate_keycard(session, property_id, person_id, card_uid)
    publish(session, master_key, person_door_ids(session, property_id, person_id), now)
    return card


def person_door_ids(session: Session, property_id: str, person_id: str) -> list[str]:
    """Doors of this property on any key the person was ever granted (where locks know them)."""
    return sorted(
        set(
            session.scalars(
                select(key_doors.c.door_id)
                .join(Key, Key.id == key_doors.c.key_id)
                .join(Grant, Grant.key_id == Key.id)
                .where(Grant.person_id == person_id, Key.property_id == property_id)
            )
        )
    )
