"""What a person holds at a property and whether they are suspended, named for a page.

One read for the portal's credentials page: doors, cards and phones by what a person calls
them (door names, the last digits of a card), the ids kept only for the page's forms.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.credentials.service import doorcodes_of, keycards_of, phones_of
from keyturn.cloud.access.keys.service import live_grants
from keyturn.cloud.access.rollout import LockStatus
from keyturn.cloud.access.suspension.service import suspension_state
from keyturn.cloud.models import Door, Grant, Key, MobileKeyRegistration
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.people.service import person_at

SHOWN_CARD_DIGITS = 4


@dataclass(frozen=True, slots=True)
class DoorChoice:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class DoorcodeHeld:
    """The newest personal doorcode of the person at one door (never the code)."""

    door_id: str
    door_name: str
    issued_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class KeycardHeld:
    id: str
    masked_number: str
    active: bool
    added_at: datetime


@dataclass(frozen=True, slots=True)
class PhoneHeld:
    id: str
    enrolled_at: datetime
    revoked_at: datetime | None
    barred_here: bool  # live, but barred in this portfolio by a suspension


@dataclass(frozen=True, slots=True)
class SuspensionShown:
    since: datetime | None
    temporary_code_emailed: bool = False
    temporary_code_doors: list[str] = field(default_factory=list)
    locks: list[LockStatus] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CredentialsHeld:
    """A person's credentials at a property (None when not asked for) and their suspension."""

    person_name: str
    has_email: bool
    suspension: SuspensionShown
    doorcodes: list[DoorcodeHeld] | None = None
    doorcode_doors: list[DoorChoice] = field(default_factory=list)
    keycards: list[KeycardHeld] | None = None
    phones: list[PhoneHeld] | None = None


def masked_card(card_uid: str) -> str:
    """A card number with all but its last digits hidden: "•••• 5E80"."""
    return "•••• " + card_uid[-SHOWN_CARD_DIGITS:]


def credentials_held(
    *, session: Session, property_id: str, person_id: str, now: datetime, with_credentials: bool
) -> CredentialsHeld:
    """The person's suspension here and, `with_credentials`, their doorcodes, the doors a code
    can be issued at (their live keys with doorcodes here), keycards and phones."""
    person = person_at(session, property_id, person_id)
    profile = read_profile_at(session, person=person, property_id=property_id)
    state = suspension_state(session=session, property_id=property_id, person_id=person.id)
    names = {
        row.id: row.name
        for row in session.execute(
            select(Door.id, Door.name).where(Door.property_id == property_id)
        )
    }
    shown = SuspensionShown(
        since=state.suspended_at,
        temporary_code_emailed=state.temporary_code_emailed,
        temporary_code_doors=sorted(
            names.get(door, "another building") for door in state.temporary_code_doors
        ),
        locks=sorted(state.locks, key=lambda lock: lock.door_name),
    )
    held = CredentialsHeld(
        person_name=profile.display_name, has_email=person.email is not None, suspension=shown
    )
    if not with_credentials:
        return held
    newest: dict[str, DoorcodeHeld] = {}
    rows = session.scalars(
        doorcodes_of(session=session, property_id=property_id, person_id=person.id)
    )
    for row in rows:
        seen = newest.get(row.door_id)
        if seen is None or row.created_at > seen.issued_at:
            newest[row.door_id] = DoorcodeHeld(
                row.door_id, names[row.door_id], row.created_at, row.revoked_at
            )
    cards = session.scalars(
        keycards_of(session=session, property_id=property_id, person_id=person.id)
    )
    barred_before = profile.phones_barred_before
    phones = session.scalars(
        phones_of(person_id=person.id).order_by(MobileKeyRegistration.registered_at)
    )
    return CredentialsHeld(
        person_name=held.person_name,
        has_email=held.has_email,
        suspension=shown,
        doorcodes=sorted(newest.values(), key=lambda code: code.door_name),
        doorcode_doors=_doorcode_doors(session, property_id, person.id, now),
        keycards=[
            KeycardHeld(card.id, masked_card(card.card_uid), card.active, card.created_at)
            for card in sorted(cards, key=lambda card: card.created_at)
        ],
        phones=[
            PhoneHeld(
                phone.id,
                phone.registered_at,
                phone.revoked_at,
                barred_here=phone.revoked_at is None
                and barred_before is not None
                and phone.registered_at <= barred_before,
            )
            for phone in phones
        ],
    )


def _doorcode_doors(
    session: Session, property_id: str, person_id: str, now: datetime
) -> list[DoorChoice]:
    """The doors here where a live key of the person gives doorcodes, by name."""
    keys = live_grants(session, person_id, now).with_only_columns(Grant.key_id)
    doors = {
        door.id: door.name
        for key in session.scalars(
            select(Key).where(
                Key.id.in_(keys), Key.property_id == property_id, Key.provides_doorcodes
            )
        )
        for door in key.doors
    }
    return [
        DoorChoice(door_id, name) for door_id, name in sorted(doors.items(), key=lambda d: d[1])
    ]
