"""A person's credentials at a property: phones and their mobile keys, personal doorcodes and
keycards.

Every function takes objects already known to belong to the property, or checks ids named in
a request body against it.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.capabilities import require_capability_somewhere
from keyturn.cloud.access.codes import IssuedCode, issue_personal_code
from keyturn.cloud.access.credentials.mobile_keys import IssuedKey, issue_for_phone, phone_of
from keyturn.cloud.access.errors import NotYours
from keyturn.cloud.access.keys.service import live_grants_at_door
from keyturn.cloud.access.rollout import publish
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    key_doors,
)
from keyturn.crypto.keys import VerifyKey
from keyturn.rules.types import CredentialType, DoorKind


class NoDoorcodeKey(Refusal):
    status = 409
    kind = "no-doorcode-key"
    title = "The person holds no live key with doorcodes for this door"


class InvalidPhoneKey(Refusal):
    status = 422
    kind = "invalid-phone-key"
    title = "public_key must be a raw 32-byte Ed25519 key in base64url"


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
