"""A person's credentials at a property: phones and their mobile keys, personal doorcodes and
keycards.

Every function checks the ids it is given against the property: an object of another
property answers 404, an id named in a request body 422 unknown-reference.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.capabilities import require_capability_somewhere
from keyturn.cloud.access.codes import IssuedCode, issue_personal_code
from keyturn.cloud.access.credentials.mobile_keys import IssuedKey, issue_for_phone, phone_of
from keyturn.cloud.access.doors import person_door_ids
from keyturn.cloud.access.errors import NotYours
from keyturn.cloud.access.keys.service import doors_at, live_grants_at_door
from keyturn.cloud.access.revocation import Revocation, revoke
from keyturn.cloud.access.rollout import publish
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Conflict, NotFound
from keyturn.cloud.auth.service import confirm_password
from keyturn.cloud.errors import Refusal
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    Device,
    Door,
    Doorcode,
    Keycard,
    MobileKeyRegistration,
    Property,
)
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.people.service import person_at
from keyturn.cloud.properties.service import in_property
from keyturn.crypto.keys import VerifyKey
from keyturn.rules.types import CredentialType, DoorKind


class NoDoorcodeKey(Refusal):
    status = 409
    kind = "no-doorcode-key"
    title = "The person holds no live key with doorcodes for this door"


class NoEmailAddress(Refusal):
    status = 409
    kind = "no-email-address"
    title = "The person has no email address to send a doorcode to"


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


def phones_of(*, person_id: str) -> Select[MobileKeyRegistration]:
    """The person's enrolled phones, revoked ones included."""
    return select(MobileKeyRegistration).where(MobileKeyRegistration.person_id == person_id)


def enrol_phone(
    *, session: Session, person_id: str, public_key: str, now: datetime
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


@dataclass(frozen=True, slots=True)
class KeyDoor:
    """A door a phone's keys open, with where its lock's near-field service was last seen."""

    id: str
    name: str
    kind: DoorKind
    near_field_url: str | None


@dataclass(frozen=True, slots=True)
class PhoneKeys:
    keys: list[IssuedKey]
    doors: list[KeyDoor]


def mobile_keys(
    *,
    session: Session,
    master_key: bytes,
    person_id: str,
    registration_id: str,
    property_id: str,
    now: datetime,
) -> PhoneKeys:
    """Fresh tokens for the person's own phone, for this property's grants only, and the
    doors they open by name (a phone shows the names and reaches the locks at their URLs)."""
    phone = phone_of(session, registration_id)
    if phone is None or phone.person_id != person_id:
        raise NotFound()
    issued = issue_for_phone(session, master_key, phone, now, property_id=property_id)
    door_ids = {door_id for key in issued for door_id in key.door_ids}
    rows = session.execute(
        select(Door.id, Door.name, Door.kind, Device.near_field_url)
        .outerjoin(Device, (Device.door_id == Door.id) & Device.retired_at.is_(None))
        .where(Door.id.in_(door_ids), Door.property_id == property_id)
        .order_by(Door.name)
    ).all()
    return PhoneKeys(issued, [KeyDoor(*row) for row in rows])


def revoke_phone(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    registration_id: str,
    now: datetime,
) -> Revocation:
    """Revoke one of the person's own phones; locks refuse its mobile keys from their next sync."""
    found = session.get(MobileKeyRegistration, registration_id)
    if found is None or found.person_id != person_id:
        raise NotFound()
    return revoke(
        session=session, master_key=master_key, property_id=property_id, credential=found, now=now
    )


def reset_own_doorcode(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    door_id: str,
    now: datetime,
) -> IssuedCode:
    """A resident issues or resets their own residence-door code, never a shared door's."""
    door = in_property(session, Door, door_id, property_id)
    return _issue_doorcode(session, master_key, person_id, door, now, residence_only=True)


def reset_own_doorcode_confirmed(
    *,
    session: Session,
    config: AuthConfig,
    master_key: bytes,
    property_id: str,
    person_id: str,
    account_id: str,
    password: str,
    door_id: str,
    address: str,
    now: datetime,
) -> IssuedCode:
    """`reset_own_doorcode` once the person has typed their password again (the app's form).

    Codes are kept only as MACs, so a forgotten code cannot be shown: a new one replaces it.
    """
    confirm_password(
        session=session,
        config=config,
        account_id=account_id,
        password=password,
        address=address,
        now=now,
    )
    return reset_own_doorcode(
        session=session,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        door_id=door_id,
        now=now,
    )


def doorcodes_of(*, session: Session, property_id: str, person_id: str) -> Select[Doorcode]:
    """A person's personal doorcodes at this property (rows only, never the codes)."""
    person = person_at(session, property_id, person_id)
    return (
        select(Doorcode)
        .join(Door, Door.id == Doorcode.door_id)
        .where(Doorcode.person_id == person.id, Door.property_id == property_id)
    )


def issue_doorcode(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    door_id: str,
    now: datetime,
) -> IssuedCode:
    """Issue or reset a person's code at a door their key gives doorcodes for (A3)."""
    person = person_at(session, property_id, person_id)
    door = doors_at(session, property_id, [door_id])[0]
    return _issue_doorcode(session, master_key, person.id, door, now, residence_only=False)


@dataclass(frozen=True, slots=True)
class DoorcodeEmailed:
    """What the caller learns of a doorcode sent by email: where, and to whom; never the code."""

    door_id: str
    door_name: str
    person_name: str


def email_doorcode(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    door_id: str,
    now: datetime,
) -> DoorcodeEmailed:
    """Issue or reset a person's code at a door (as `issue_doorcode`) and email it to them.

    The code goes into the person's mail only, so whoever asked never sees it; a person with
    no email address is refused before any code is made (NoEmailAddress, 409).
    """
    person = person_at(session, property_id, person_id)
    if person.email is None:
        raise NoEmailAddress("add the person's email address first: doorcodes are emailed")
    issued = issue_doorcode(
        session=session,
        master_key=master_key,
        property_id=property_id,
        person_id=person.id,
        door_id=door_id,
        now=now,
    )
    door = session.get_one(Door, issued.door_id)
    prop = session.get_one(Property, property_id)
    name = read_profile_at(session, person=person, property_id=property_id).display_name
    body = (
        f"Hello {name},\n\n"
        f"Here is your new personal doorcode for {door.name} at {prop.name}:\n\n"
        f"  {issued.code}\n\n"
        "It works once the door's lock has synced; any earlier code of yours at this door no "
        "longer does.\nKeep it to yourself: it is yours alone, and this email is the only "
        "place it is written.\n"
    )
    enqueue_mail(
        session,
        person.email,
        f"Your doorcode for {door.name} at {prop.name}",
        body,
        person_id=person.id,
    )
    return DoorcodeEmailed(door.id, door.name, name)


def _issue_doorcode(
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


def revoke_doorcode(
    *, session: Session, master_key: bytes, property_id: str, doorcode_id: str, now: datetime
) -> Revocation:
    """Revoke a personal doorcode; its lock drops it at its next sync."""
    found = session.execute(
        select(Doorcode)
        .join(Door, Door.id == Doorcode.door_id)
        .where(Doorcode.id == doorcode_id, Door.property_id == property_id)
    ).scalar_one_or_none()
    if found is None:
        raise NotFound()
    return revoke(
        session=session, master_key=master_key, property_id=property_id, credential=found, now=now
    )


def keycards_of(*, session: Session, property_id: str, person_id: str) -> Select[Keycard]:
    """A person's keycards at this property, active or not."""
    person = person_at(session, property_id, person_id)
    return select(Keycard).where(Keycard.person_id == person.id, Keycard.property_id == property_id)


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
    """Activate a card for a person of this property, published at once to every door of
    their keys here; it works from each lock's next sync."""
    person = person_at(session, property_id, person_id)
    card = activate_keycard(session, property_id, person.id, card_uid)
    publish(session, master_key, person_door_ids(session, property_id, person.id), now)
    return card


def deactivate_keycard(
    *, session: Session, master_key: bytes, property_id: str, keycard_id: str, now: datetime
) -> Revocation:
    """Deactivate a card; locks refuse it from their next sync."""
    card = in_property(session, Keycard, keycard_id, property_id)
    return revoke(
        session=session, master_key=master_key, property_id=property_id, credential=card, now=now
    )
