"""Issuing doorcodes: personal codes, one-time short codes and single-day codes (A3, A4).

Codes are returned once to the caller and kept only as MACs under the door's secret;
single-day codes are not stored at all, only their (door, local date, slot) ledger row.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.capabilities import require_capability
from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import Door, Doorcode, OneTimeCode, Property, SingleDayCode
from keyturn.cloud.properties.service import door_secret_of
from keyturn.crypto.codes import code_mac, single_day_code
from keyturn.protocol.messages import EventRecord
from keyturn.rules.doorcodes import generate_code
from keyturn.rules.types import CredentialType, Reason

Draw = Callable[[int], int]


class CodeRefused(Refusal):
    """A code cannot be issued or revoked as asked; the message says why."""

    status = 422
    kind = "code-refused"
    title = "The code cannot be issued or revoked as asked"


@dataclass(frozen=True, slots=True)
class IssuedCode:
    """A code shown once to whoever asked for it; `record_id` names its row, at `door_id`."""

    record_id: str
    door_id: str
    code: str


class _TakenAtDoor:
    """The codes already live at a door, tested by MAC so no code is ever read back."""

    def __init__(self, session: Session, door_id: str, secret: bytes) -> None:
        self._secret = secret
        personal = select(Doorcode.code_mac).where(
            Doorcode.door_id == door_id, Doorcode.revoked_at.is_(None)
        )
        one_time = select(OneTimeCode.code_mac).where(
            OneTimeCode.door_id == door_id, OneTimeCode.revoked_at.is_(None)
        )
        self._macs = set(session.scalars(personal)) | set(session.scalars(one_time))

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code_mac(self._secret, code) in self._macs


def _door(session: Session, door_id: str, credential: CredentialType) -> tuple[Door, Property]:
    """The door and its property, if the door's lock has a keypad (or no lock is bound yet)."""
    door = session.get(Door, door_id)
    if door is None:
        raise CodeRefused(f"no door {door_id}")
    require_capability(door, credential)
    prop = session.get(Property, door.property_id)
    assert prop is not None
    return door, prop


def issue_personal_code(
    session: Session,
    master_key: bytes,
    person_id: str,
    door_id: str,
    now: datetime,
    draw: Draw = secrets.randbelow,
) -> IssuedCode:
    """A new personal code for one person at one door; any earlier one there is revoked."""
    door, prop = _door(session, door_id, CredentialType.PERSONAL_DOORCODE)
    secret = door_secret_of(door, master_key)
    for old in session.scalars(
        select(Doorcode).where(
            Doorcode.person_id == person_id,
            Doorcode.door_id == door_id,
            Doorcode.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now
    session.flush()
    code = generate_code(prop.doorcode_length, draw, _TakenAtDoor(session, door_id, secret))
    row = Doorcode(
        person_id=person_id, door_id=door_id, code_mac=code_mac(secret, code), created_at=now
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, door_id, code)


def issue_one_time_code(
    session: Session,
    master_key: bytes,
    door_id: str,
    created_by: str | None,
    valid_minutes: int,
    now: datetime,
    draw: Draw = secrets.randbelow,
) -> IssuedCode:
    """A short code that works for `valid_minutes` after its first use (couriers, visits)."""
    if not 1 <= valid_minutes <= 24 * 60:
        raise CodeRefused("a one-time code lasts 1 to 1440 minutes after first use")
    door, prop = _door(session, door_id, CredentialType.ONE_TIME_CODE)
    secret = door_secret_of(door, master_key)
    code = generate_code(prop.doorcode_length, draw, _TakenAtDoor(session, door_id, secret))
    row = OneTimeCode(
        door_id=door_id,
        created_by=created_by,
        code_mac=code_mac(secret, code),
        valid_minutes=valid_minutes,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return IssuedCode(row.id, door_id, code)


def create_single_day_code(
    session: Session,
    master_key: bytes,
    door_id: str,
    local_date: date,
    created_by: str | None,
    now: datetime,
    guest_label: str | None = None,
) -> IssuedCode:
    """The next free slot's code for one local day at one door (A4): the lock derives it too."""
    door, prop = _door(session, door_id, CredentialType.SINGLE_DAY_CODE)
    if local_date < now.astimezone(prop.zone).date():
        raise CodeRefused("a single-day code cannot be made for a day that has passed")
    used = session.scalar(
        select(func.max(SingleDayCode.slot)).where(
            SingleDayCode.door_id == door_id, SingleDayCode.local_date == local_date
        )
    )
    slot = 0 if used is None else used + 1
    row = SingleDayCode(
        door_id=door_id,
        created_by=created_by,
        local_date=local_date,
        slot=slot,
        guest_label=guest_label,
        created_at=now,
    )
    session.add(row)
    session.flush()
    code = single_day_code(door_secret_of(door, master_key), local_date, slot, prop.doorcode_length)
    return IssuedCode(row.id, door_id, code)


def is_single_day_code(session: Session, master_key: bytes, row: SingleDayCode, code: str) -> bool:
    """Whether `code` is this row's code (derived again, as the lock does; constant time)."""
    door = session.get_one(Door, row.door_id)
    prop = session.get_one(Property, door.property_id)
    derived = single_day_code(
        door_secret_of(door, master_key), row.local_date, row.slot, prop.doorcode_length
    )
    return hmac.compare_digest(derived.encode(), code.strip().encode())


def revoke_single_day_code(session: Session, record_id: str, now: datetime) -> SingleDayCode:
    """Record the revocation; each lock honours it only from its next sync (A4)."""
    row = session.get(SingleDayCode, record_id)
    if row is None:
        raise CodeRefused(f"no single-day code {record_id}")
    if row.revoked_at is None:
        row.revoked_at = now
    return row


def record_one_time_uses(session: Session, door_id: str, records: Iterable[EventRecord]) -> int:
    """Learn from a lock's upload when each of the door's one-time codes was first used.

    The earliest granted use wins, whatever order uploads arrive in; the next access list
    then carries the code's end, so a lock that never saw the use (or a full list applied
    anywhere) cannot start a fresh window. Returns how many codes learned an earlier use.
    """
    firsts: dict[str, int] = {}
    for record in records:
        if (
            record.credential_type is CredentialType.ONE_TIME_CODE
            and record.reason is Reason.GRANTED
            and record.credential_id is not None
        ):
            known = firsts.get(record.credential_id)
            if known is None or record.occurred_at < known:
                firsts[record.credential_id] = record.occurred_at
    if not firsts:
        return 0
    learned = 0
    # Through the ORM, so the door's access-list revision moves (access/revisions.py).
    codes = session.scalars(
        select(OneTimeCode).where(OneTimeCode.id.in_(firsts), OneTimeCode.door_id == door_id)
    )
    for code in codes:
        first = datetime.fromtimestamp(firsts[code.id] / 1000, UTC)
        if code.first_used_at is None or first < code.first_used_at:
            code.first_used_at = first
            learned += 1
    return learned
