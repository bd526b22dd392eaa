"""The lost or stolen phone (A6): suspend a person's building access in one portfolio, and
restore it.

Suspension bars the person's phones and sign-ins in that portfolio, revokes its temporary
codes, publishes every affected door at once and can mail a temporary doorcode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.capabilities import lacking
from keyturn.cloud.access.codes import (
    IssuedCode,
)
from keyturn.cloud.access.doors import person_door_ids
from keyturn.cloud.access.keys.service import live_grants
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.access.sharing.service import issue_one_time_codes
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    Door,
    Grant,
    Key,
    OneTimeCode,
    Person,
    Property,
)
from keyturn.cloud.people.profiles import (
    bar_phones,
    barred_phones,
    profile_at,
    properties_in,
    read_profile_at,
)
from keyturn.cloud.people.service import person_at
from keyturn.rules.types import CredentialType

# A lost-phone temporary code opens the doors for a day from its first use (the longest a
# one-time code may run); a new suspension or a restore replaces or revokes it.
TEMPORARY_CODE_MINUTES = 1440


SUSPENDED_NOTE = (
    "Building access is suspended in this portfolio: the person's phones are barred here, "
    "their earlier sign-ins can do nothing here, and every lock of the portfolio refuses their "
    "credentials from its next sync (see `locks`). Restoring access requires enrolling a new "
    "phone."
)


RESTORED_NOTE = (
    "Suspension lifted; doorcodes and keycards work again from each lock's next sync. The old "
    "phones stay barred here: enrol a new phone to receive mobile keys."
)


@dataclass
class Suspension:
    """A person's suspension as the API reports it."""

    person_id: str
    suspended_at: datetime | None
    revoked_phone_ids: list[str] = field(default_factory=list)
    temporary_code_emailed: bool = False
    temporary_code_doors: list[str] = field(default_factory=list)
    locks: list[LockStatus] = field(default_factory=list)


def _live_temporary_codes(session: Session, person_id: str, portfolio_id: str) -> list[OneTimeCode]:
    """The person's live temporary codes at the doors of this portfolio only."""
    here = select(Door.id).where(
        Door.property_id.in_(properties_in(session, portfolio_id=portfolio_id))
    )
    return list(
        session.scalars(
            select(OneTimeCode).where(
                OneTimeCode.issued_for == person_id,
                OneTimeCode.revoked_at.is_(None),
                OneTimeCode.door_id.in_(here),
            )
        )
    )


def _portfolio_door_ids(session: Session, portfolio_id: str, person_id: str) -> list[str]:
    """Every door of the portfolio where the person holds something a lock knows of."""
    return sorted(
        {
            door
            for place in properties_in(session, portfolio_id=portfolio_id)
            for door in person_door_ids(session, place, person_id)
        }
    )


def suspend(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    suspended_by: str,
    send_temporary_code: bool,
    now: datetime,
) -> Suspension:
    """Suspend a person of this property at once, in its portfolio only: the profile flagged,
    the phones barred and earlier sign-ins refused there, its locks told. The person's other
    portfolios, their phones and sessions there, are untouched.

    The temporary doorcode is a one-time code per door of the person's live keys here whose
    lock has a keypad (or no lock yet), made for the person (issued_for) but with its own
    subject, so the suspension of the person's subject does not block it; it is emailed to
    the person and never shown to the manager.
    """
    prop = session.get_one(Property, property_id)
    person = person_at(session, property_id, person_id)
    profile = profile_at(session, person=person, property_id=prop.id)
    if profile.suspended_at is None:
        profile.suspended_at = now
    phones = bar_phones(session, person_id=person.id, portfolio_id=prop.portfolio_id, now=now)
    profile.sign_ins_barred_before = now
    for old in _live_temporary_codes(session, person.id, prop.portfolio_id):
        old.revoked_at = now
    door_ids = _portfolio_door_ids(session, prop.portfolio_id, person.id)
    emailed, code_doors = False, []
    if send_temporary_code and person.email is not None:
        doors = [
            door
            for door in _live_doors(session, prop.id, person.id, now)
            if lacking(door, CredentialType.ONE_TIME_CODE) is None
        ]
        if doors:
            codes = issue_one_time_codes(
                session=session,
                master_key=master_key,
                doors=doors,
                created_by=suspended_by,
                valid_minutes=TEMPORARY_CODE_MINUTES,
                now=now,
                issued_for=person.id,
            )
            _mail_temporary_code(session, person, prop, doors, codes)
            emailed, code_doors = True, [door.id for door in doors]
    publish(session, master_key, door_ids, now)
    return Suspension(
        person.id,
        profile.suspended_at,
        phones,
        emailed,
        code_doors,
        lock_status(session, door_ids, now),
    )


def _live_doors(session: Session, property_id: str, person_id: str, now: datetime) -> list[Door]:
    keys = live_grants(session, person_id, now).with_only_columns(Grant.key_id)
    return sorted(
        {
            door
            for key in session.scalars(
                select(Key).where(Key.id.in_(keys), Key.property_id == property_id)
            )
            for door in key.doors
        },
        key=lambda door: door.name,
    )


def _mail_temporary_code(
    session: Session,
    person: Person,
    prop: Property,
    doors: Sequence[Door],
    codes: Sequence[IssuedCode],
) -> None:
    assert person.email is not None
    lines = "\n".join(
        f"  {door.name}: {code.code}" for door, code in zip(doors, codes, strict=True)
    )
    body = (
        f"Hello {person.display_name},\n\n"
        f"Your building access at {prop.name} was suspended because your phone was reported "
        "lost or stolen.\nUntil you enrol a new phone, these temporary doorcodes open your "
        "doors once each lock has synced;\neach works for 24 hours from its first use:\n\n"
        f"{lines}\n\nDo not share them. Ask your building manager to restore your access.\n"
    )
    enqueue_mail(
        session, person.email, f"Temporary doorcode for {prop.name}", body, person_id=person.id
    )


def restore(
    *, session: Session, master_key: bytes, property_id: str, person_id: str, now: datetime
) -> Suspension:
    """Lift the suspension; temporary codes are revoked and old phones stay barred."""
    prop = session.get_one(Property, property_id)
    person = person_at(session, property_id, person_id)
    profile = profile_at(session, person=person, property_id=prop.id)
    profile.suspended_at = None
    for code in _live_temporary_codes(session, person.id, prop.portfolio_id):
        code.revoked_at = now
    door_ids = _portfolio_door_ids(session, prop.portfolio_id, person.id)
    publish(session, master_key, door_ids, now)
    return Suspension(person.id, None, locks=lock_status(session, door_ids, now))


def suspension_state(*, session: Session, property_id: str, person_id: str) -> Suspension:
    """Whether a person of this property is suspended, and which locks have applied it."""
    prop = session.get_one(Property, property_id)
    person = person_at(session, property_id, person_id)
    profile = read_profile_at(session, person=person, property_id=prop.id)
    since = profile.suspended_at
    if since is None:
        return Suspension(person.id, None)
    temporary = _live_temporary_codes(session, person.id, prop.portfolio_id)
    door_ids = _portfolio_door_ids(session, prop.portfolio_id, person.id)
    return Suspension(
        person.id,
        since,
        barred_phones(session, profile=profile),
        bool(temporary),
        sorted({code.door_id for code in temporary}),
        lock_status(session, door_ids, since),
    )
