"""Issuing mobile keys: short-lived tokens bound to a registered phone, one per live grant.

A token's key id is its grant's id and its credential id is the phone's key id, so revoking
the grant or the phone reaches every lock through the access list's revocations. A portfolio
where the holder is suspended, or that barred the phone, gets no key for its doors.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import and_, bindparam, or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import grant_schedule, subject_for
from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import Grant, Key, MobileKeyRegistration, Profile, Property, key_doors
from keyturn.cloud.properties.service import open_authority
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import issue_mobile_key, token_window
from keyturn.protocol.mobile_claims import token_schedule_claim

DEFAULT_TTL = timedelta(days=3)


class MobileKeyRefused(Refusal):
    """The phone or its holder may not receive mobile keys now; the message says why."""

    status = 409
    kind = "mobile-key-refused"
    title = "No mobile key can be issued to this phone"


class PhoneRegistration(Protocol):
    """What issuance reads of a phone's registration: the ORM row, or a `Phone` read for it."""

    @property
    def id(self) -> str: ...
    @property
    def person_id(self) -> str: ...
    @property
    def phone_key_id(self) -> str: ...
    @property
    def phone_public_key(self) -> bytes: ...
    @property
    def registered_at(self) -> datetime: ...
    @property
    def revoked_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone registration's columns, read without the ORM for the hot issuance route."""

    id: str
    person_id: str
    phone_key_id: str
    phone_public_key: bytes
    registered_at: datetime
    revoked_at: datetime | None


_PHONE = select(
    MobileKeyRegistration.id,
    MobileKeyRegistration.person_id,
    MobileKeyRegistration.phone_key_id,
    MobileKeyRegistration.phone_public_key,
    MobileKeyRegistration.registered_at,
    MobileKeyRegistration.revoked_at,
).where(MobileKeyRegistration.id == bindparam("registration"))


def phone_of(session: Session, registration_id: str) -> Phone | None:
    """The registration `registration_id`, or None."""
    found = session.execute(_PHONE, {"registration": registration_id}).first()
    return None if found is None else Phone(*found)


@dataclass(frozen=True, slots=True)
class IssuedKey:
    grant_id: str
    door_ids: tuple[str, ...]
    not_before: datetime
    expires: datetime
    token: bytes


# The statements of every issuance, built once: building a statement costs more than running it.
# Each live grant once per door of its key (once with no door if the key has none), with its
# property's sealed authority key, which signs the token, and the holder's suspension and
# phone bar in the property's portfolio: one statement for all of it.
_LIVE_GRANTS = (
    select(
        Grant,
        Key,
        Property.authority_private_key_sealed,
        key_doors.c.door_id,
        Profile.suspended_at,
        Profile.phones_barred_before,
    )
    .join(Key, Key.id == Grant.key_id)
    .join(Property, Property.id == Key.property_id)
    .outerjoin(
        Profile,
        and_(Profile.person_id == Grant.person_id, Profile.portfolio_id == Property.portfolio_id),
    )
    .outerjoin(key_doors, key_doors.c.key_id == Key.id)
    .where(
        Grant.person_id == bindparam("person"),
        Grant.revoked_at.is_(None),
        Grant.starts_at < bindparam("horizon"),
        or_(Grant.ends_at.is_(None), Grant.ends_at > bindparam("now")),
    )
    .order_by(Grant.id)
)
_LIVE_GRANTS_AT = _LIVE_GRANTS.where(Key.property_id == bindparam("property"))


def issue_for_phone(
    session: Session,
    master_key: bytes,
    registration: PhoneRegistration,
    now: datetime,
    ttl: timedelta = DEFAULT_TTL,
    *,
    property_id: str | None = None,
) -> list[IssuedKey]:
    """Tokens for every grant of the phone's holder that is live within the next `ttl`.

    With `property_id`, only for the grants of keys at that property. Grants in a portfolio
    where the holder is suspended, or that barred this phone, get none; when that leaves
    nothing at all, MobileKeyRefused says why.
    """
    if registration.revoked_at is not None:
        raise MobileKeyRefused("this phone's registration was revoked; enrol the phone again")
    horizon = now + ttl
    params = {"person": registration.person_id, "horizon": horizon, "now": now}
    if property_id is None:
        rows = session.execute(_LIVE_GRANTS, params).all()
    else:
        rows = session.execute(_LIVE_GRANTS_AT, {**params, "property": property_id}).all()
    live: dict[str, tuple[Grant, Key, bytes]] = {}
    doors_of: dict[str, set[str]] = {}
    refusal = None
    for grant, key, sealed_authority, door_id, suspended_at, barred_before in rows:
        if suspended_at is not None:
            refusal = "building access of this person is suspended"
            continue
        if barred_before is not None and registration.registered_at <= barred_before:
            refusal = "this phone may no longer be used here; enrol a new phone"
            continue
        live.setdefault(grant.id, (grant, key, sealed_authority))
        doors = doors_of.setdefault(key.id, set())
        if door_id is not None:
            doors.add(door_id)
    if refusal is not None and not live:
        raise MobileKeyRefused(refusal)
    authorities: dict[str, SigningKeyPair] = {}
    issued = []
    for grant, key, sealed_authority in live.values():
        if key.property_id not in authorities:
            authorities[key.property_id] = open_authority(
                master_key, key.property_id, sealed_authority
            )
        not_before = max(now, grant.starts_at)
        expires = horizon if grant.ends_at is None else min(horizon, grant.ends_at)
        door_ids = tuple(sorted(doors_of.get(key.id, ())))
        claim = token_schedule_claim(
            grant_schedule(key, grant),
            subject=subject_for(grant.person_id),
            credential_id=registration.phone_key_id,
            grant_id=grant.id,
            granted_by=grant.created_by,
            resident=grant.resident,
        )
        token = issue_mobile_key(
            authorities[key.property_id],
            registration.phone_public_key,
            key_id=grant.id,
            door_ids=list(door_ids),
            not_before=not_before,
            expires=expires,
            schedule=claim,
            issued_at=now,
        )
        # Report the window the token holds, rounded as the token rounds it.
        window_start, window_end = token_window(not_before, expires, now)
        issued.append(IssuedKey(grant.id, door_ids, window_start, window_end, token))
    return issued
