"""When can I get in? A person's own access at a property, door by door, in their words.

Each door's answer is the rules core's `decide()` on the list the door's lock holds, with the
mobile key the person's phone can hold now (as `explain` decides it); only the words differ:
they speak to the holder ("your access starts ...") instead of to a manager.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.explain.holdings import (
    GrantFacts,
    PhoneFacts,
    door_and_holdings,
    held_list,
    mobile_key_entry,
    names_of,
)
from keyturn.cloud.access.explain.steps import decide_on
from keyturn.cloud.models import Grant, GrantKind, Key, Property
from keyturn.cloud.web.formatting import key_hours, local_time
from keyturn.rules.types import CredentialType, Reason

REFUSALS = {
    Reason.OUTSIDE_SCHEDULE: "outside your weekly hours: {hours}",
    Reason.SUSPENDED: "your building access is suspended; the building's management can say why",
    Reason.LOCKDOWN: "the building has locked this door down for now",
    Reason.REVOKED: "this door's lock has your access withdrawn",
    Reason.WRONG_DOOR: "this door's lock does not know your key for it yet",
    Reason.UNKNOWN_CREDENTIAL: "your phone holds no key for this door yet",
}
NEW_PHONE = "phone-to-enrol"  # stands in for the id of a phone not enrolled yet
DEFAULT_REFUSAL = "this door's lock would refuse you"


@dataclass(frozen=True, slots=True)
class DoorNow:
    """Whether the person could open one door right now, and if not, why in their words."""

    door_name: str
    reason: Reason
    words: str

    @property
    def opens(self) -> bool:
        return self.reason == Reason.GRANTED


@dataclass(frozen=True, slots=True)
class AccessHeld:
    """One key the person holds here: when it is valid and who gave it."""

    key_name: str
    kind: GrantKind
    starts_at: datetime
    ends_at: datetime | None
    hours: str  # the weekly schedule in words, in the property's zone
    given_by: str | None
    doors: tuple[DoorNow, ...]


@dataclass(frozen=True, slots=True)
class MyDoorsNow:
    property_name: str
    zone: ZoneInfo
    held: tuple[AccessHeld, ...]


def my_doors_now(
    *, session: Session, master_key: bytes, property_id: str, person_id: str, now: datetime
) -> MyDoorsNow:
    """The person's live and coming grants at the property, each door decided as its lock
    would decide the person's mobile key at `now`."""
    prop = session.get_one(Property, property_id)
    zone = ZoneInfo(prop.time_zone)
    grants = session.scalars(
        select(Grant)
        .join(Key, Key.id == Grant.key_id)
        .where(
            Key.property_id == property_id,
            Grant.person_id == person_id,
            Grant.revoked_at.is_(None),
            or_(Grant.ends_at.is_(None), Grant.ends_at > now),
        )
        .order_by(Grant.starts_at, Grant.id)
    ).all()
    givers = names_of(session, property_id, (g.created_by for g in grants if g.created_by))
    held = []
    for grant in grants:
        key = grant.key
        hours = key_hours(key.schedule_json or {})
        doors = tuple(
            _door_now(session, master_key, property_id, person_id, grant, door_id, hours, now)
            for door_id in sorted(door.id for door in key.doors)
        )
        held.append(
            AccessHeld(
                key_name=key.name,
                kind=grant.kind,
                starts_at=grant.starts_at,
                ends_at=grant.ends_at,
                hours=hours,
                given_by=_giver(givers, grant.created_by, person_id),
                doors=tuple(sorted(doors, key=lambda door: door.door_name)),
            )
        )
    return MyDoorsNow(property_name=prop.name, zone=zone, held=tuple(held))


def _giver(givers: dict[str, str], created_by: str | None, person_id: str) -> str | None:
    """Who gave the key, unless nobody known or the person themself."""
    if created_by is None or created_by == person_id:
        return None
    return givers.get(created_by)


def _door_now(
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    grant: Grant,
    door_id: str,
    hours: str,
    now: datetime,
) -> DoorNow:
    door, _, lock, mine = door_and_holdings(session, property_id, door_id, person_id)
    held = held_list(session, master_key, door, lock, now)
    facts = next(g for g in mine.grants if g.id == grant.id)
    entry = mobile_key_entry(facts, _phone(mine.phones, facts, now), door_id, now)
    reason = decide_on(CredentialType.MOBILE_KEY, entry, held.state, door, now)
    return DoorNow(door.name, reason, _words(reason, facts, hours, door.zone, now))


def _phone(phones: list[PhoneFacts], grant: GrantFacts, now: datetime) -> PhoneFacts:
    """The person's newest live phone; without one, the phone they would enrol now (the
    answer is about their rights, which do not wait for a phone)."""
    live = [phone for phone in phones if phone.revoked_at is None]
    if live:
        return max(live, key=lambda phone: phone.registered_at)
    return PhoneFacts(NEW_PHONE, grant.person_id, NEW_PHONE, now, None, None, None)


def _words(reason: Reason, grant: GrantFacts, hours: str, zone: ZoneInfo, now: datetime) -> str:
    if reason is Reason.GRANTED:
        return "You can open it now."
    if grant.starts_at > now:
        # Also a key not issued yet: the phone gets one at most a few days ahead of the start.
        return f"Not now: your access starts {local_time(grant.starts_at, zone, now)}."
    if reason is Reason.EXPIRED or (grant.ends_at is not None and grant.ends_at <= now):
        return f"Not now: your access ended {local_time(grant.ends_at, zone, now)}."
    return f"Not now: {REFUSALS.get(reason, DEFAULT_REFUSAL).format(hours=hours)}."
