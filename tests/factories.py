"""Test factories: every row a test world holds, made through the cloud's own services.

Each factory takes the session first and everything else by keyword, with defaults that make
a valid row, and flushes (the caller commits). Properties, units and doors come from the
properties service, locks from the devices service, people, roles and permissions from the
people service, accounts, tokens and TOTP from the auth service, keys and grants from the
keys service, credentials from the credentials service and `access/codes.py`, consent from
the consent service. Only what a lock's journal brings is written as rows, shaped as
ingestion stores it (`record_event`, `record_photo`): ingestion itself is tested through
the sync endpoint.
"""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.codes import IssuedCode, issue_personal_code
from keyturn.cloud.access.credentials.service import activate_keycard, enrol_phone
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.keys.service import create_key, new_grant
from keyturn.cloud.access.revocation import Credential, Revocation, revoke
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth import totp
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.permissions import ALL_SCOPES, Scope
from keyturn.cloud.db import Base
from keyturn.cloud.devices.service import create_provisioning_token, provision_device
from keyturn.cloud.models import (
    Account,
    Door,
    Event,
    Grant,
    GrantKind,
    Key,
    Keycard,
    MobileKeyRegistration,
    Person,
    Photo,
    Portfolio,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.cloud.people import service as people_service
from keyturn.cloud.people.consent import service as consent_service
from keyturn.cloud.properties.schemas import PropertyCreate
from keyturn.cloud.properties.service import (
    create_door,
    create_portfolio,
    create_property,
    create_unit,
)
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.sealed import encrypt_blob, new_data_key, seal
from keyturn.protocol.messages import DoorConfig
from keyturn.protocol.photos import photo_context
from keyturn.rules.types import CredentialType, DoorKind, Permission, Reason, Role

MASTER_KEY = bytes(range(32))
MASTER_KEY_TEXT = base64.urlsafe_b64encode(MASTER_KEY).decode()
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday, 04:00 in New York
PASSWORD = "correct horse battery staple"
JPEG = b"\xff\xd8\xff\xe0 a small test photo \xff\xd9"

_DEVICE_SEQ = itertools.count(1)


@dataclass
class Clock:
    """The app's clock in tests: starts at T0 and moves only when told."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


# Properties, units, doors and locks --------------------------------------------------------


def make_portfolio(session: Session, *, name: str = "Elm Holdings") -> Portfolio:
    return create_portfolio(session=session, name=name)


def make_property(
    session: Session,
    *,
    portfolio_id: str | None = None,
    portfolio_name: str = "Elm Holdings",
    name: str = "12 Elm St",
    time_zone: str = "America/New_York",
    jurisdiction: str = "default",
    **settings: Any,
) -> Property:
    """A property with its own authority key pair, in a new portfolio unless one is named."""
    if portfolio_id is None:
        portfolio_id = make_portfolio(session, name=portfolio_name).id
    fields = {"name": name, "time_zone": time_zone, "jurisdiction": jurisdiction, **settings}
    accepted = {key: value for key, value in fields.items() if key in PropertyCreate.model_fields}
    prop = create_property(
        session=session,
        master_key=MASTER_KEY,
        portfolio_id=portfolio_id,
        settings=PropertyCreate.model_validate(accepted),
    )
    # Columns the API sets through nested bodies (the lockout policy) or other routes
    # (a retention override) are set on the row, as those services would leave them.
    for column, value in fields.items():
        if column not in accepted:
            setattr(prop, column, value)
    session.flush()
    return prop


def make_unit(session: Session, *, property_id: str, label: str = "1A") -> Unit:
    return create_unit(session=session, property_id=property_id, label=label)


def make_door(
    session: Session,
    *,
    property_id: str,
    name: str = "Entrance",
    kind: DoorKind = DoorKind.ENTRANCE,
    unit_id: str | None = None,
) -> Door:
    """A door with its own sealed secret."""
    return create_door(
        session=session,
        master_key=MASTER_KEY,
        property_id=property_id,
        name=name,
        kind=kind,
        unit_id=unit_id,
    )


def provision_lock(
    session: Session,
    *,
    door_id: str,
    model: str = "keyturn-r1",
    now: datetime = T0,
    key: SigningKeyPair | None = None,
) -> DoorConfig:
    """A lock of `model` enrolled at the door as an installer does: token, then provisioning.

    `key` is the lock's own key pair, when the test plays the lock; a fresh one otherwise.
    """
    token = create_provisioning_token(session=session, door_id=door_id, model_name=model, now=now)
    return provision_device(
        session=session,
        master_key=MASTER_KEY,
        token=token,
        public_key=(key or SigningKeyPair.generate()).public_bytes(),
        model_name=model,
        now=now,
    )


# People, roles and accounts -----------------------------------------------------------------


def make_person(
    session: Session,
    *,
    email: str | None = None,
    name: str = "Test Person",
    phone: str | None = None,
    password: str | None = None,
    account: bool = True,
    now: datetime | None = None,
) -> Person:
    """A person and, unless `account` is False, their account (with a password if given)."""
    person = people_service.add_person(
        session=session, display_name=name, email=email, phone=phone, now=now
    )
    if account:
        auth_service.open_account(
            session=session, person_id=person.id, password=password, now=now or T0
        )
    return person


def give_role(
    session: Session,
    *,
    person_id: str,
    property_id: str,
    role: Role,
    unit_id: str | None = None,
    permission: Permission | None = None,
    key_ids: tuple[str, ...] = (),
    by: str | None = None,
) -> RoleMembership:
    """A role at the property and, for a property manager, one permission (KEYS_SPECIFIC
    covering `key_ids`)."""
    membership = people_service.add_role(
        session=session,
        property_id=property_id,
        person_id=person_id,
        role=role,
        unit_id=unit_id,
        by=by,
    )
    if permission is not None:
        people_service.give_permission(
            session=session,
            property_id=property_id,
            person_id=person_id,
            permission=permission,
            key_ids=key_ids,
            by=by,
        )
    return membership


def make_member(
    session: Session,
    *,
    email: str,
    property_id: str,
    role: Role | None,
    name: str = "Test Person",
    unit_id: str | None = None,
    permission: Permission | None = None,
    key_ids: tuple[str, ...] = (),
    phone: str | None = None,
    password: str | None = None,
    now: datetime | None = None,
) -> Person:
    """A person with an account and, unless `role` is None, that role at the property."""
    person = make_person(session, email=email, name=name, phone=phone, password=password, now=now)
    if role is not None:
        give_role(
            session,
            person_id=person.id,
            property_id=property_id,
            role=role,
            unit_id=unit_id,
            permission=permission,
            key_ids=key_ids,
        )
    return person


def account_id(session: Session, person_id: str) -> str:
    return session.execute(select(Account.id).where(Account.person_id == person_id)).scalar_one()


def token_for(
    session: Session,
    person_id: str,
    scopes: frozenset[Scope] = ALL_SCOPES,
    *,
    totp_satisfied: bool = False,
    expires_at: datetime | None = None,
    now: datetime = T0,
) -> str:
    """A bearer token for the person, made by the auth service at `now` (no password work)."""
    _row, secret = auth_service.issue_token(
        session=session,
        account_id=account_id(session, person_id),
        name="test",
        scopes=scopes,
        expires_at=expires_at,
        totp_satisfied=totp_satisfied,
        now=now,
    )
    session.flush()
    return secret


def enable_totp(session: Session, *, token: str, now: datetime) -> bytes:
    """Enrol and confirm a TOTP factor for the token's account; returns the secret.

    Confirmed with the code of the step before `now`, so every code from `now` on is unused.
    """
    principal = auth_service.principal_from_token(session=session, secret=token, now=now)
    enrolment = auth_service.begin_totp(
        session=session, config=AuthConfig(), master_key=MASTER_KEY, principal=principal, now=now
    )
    earlier = now - timedelta(seconds=totp.STEP_S)
    code = totp.code_at(enrolment.secret, earlier)
    auth_service.confirm_totp(
        session=session, master_key=MASTER_KEY, principal=principal, code=code, now=now
    )
    session.flush()
    return enrolment.secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def consent_in_app(session: Session, *, person_id: str, now: datetime = T0) -> None:
    """The person's own consent in the app, with every portfolio that knows them (R5)."""
    consent_service.record_in_app(
        session=session, person=session.get_one(Person, person_id), now=now
    )
    session.flush()


# Keys, grants and credentials ---------------------------------------------------------------


def make_key(
    session: Session,
    *,
    property_id: str,
    name: str = "Building",
    door_ids: tuple[str, ...] | list[str] = (),
    windows: tuple[dict[str, Any], ...] = (),
    may_share: bool = False,
    provides_doorcodes: bool = False,
    unit_id: str | None = None,
) -> Key:
    return create_key(
        session=session,
        property_id=property_id,
        name=name,
        door_ids=door_ids,
        windows=[Window.model_validate(window) for window in windows],
        may_share=may_share,
        provides_doorcodes=provides_doorcodes,
        unit_id=unit_id,
    )


def give_key(
    session: Session,
    *,
    key: Key,
    person_id: str,
    starts_at: datetime = T0,
    ends_at: datetime | None = None,
    resident: bool = False,
    by: str | None = None,
    kind: GrantKind = GrantKind.STANDARD,
    now: datetime | None = None,
) -> Grant:
    """A grant of the key, given at `now` (by default when it starts) by `by`."""
    return new_grant(
        session=session,
        key=key,
        person_id=person_id,
        starts_at=starts_at,
        ends_at=ends_at,
        resident=resident,
        created_by=by,
        kind=kind,
        now=now or starts_at,
    )


def give_doorcode(
    session: Session, *, person_id: str, door_id: str, now: datetime = T0
) -> IssuedCode:
    """A personal doorcode at the door (A3); any earlier one of the person there is revoked."""
    return issue_personal_code(
        session=session, master_key=MASTER_KEY, person_id=person_id, door_id=door_id, now=now
    )


def give_keycard(session: Session, *, property_id: str, person_id: str, card_uid: str) -> Keycard:
    return activate_keycard(
        session=session, property_id=property_id, person_id=person_id, card_uid=card_uid
    )


def give_phone(
    session: Session,
    *,
    person_id: str,
    phone: SigningKeyPair | None = None,
    now: datetime = T0,
) -> MobileKeyRegistration:
    """A phone enrolled for the person (a fresh key pair unless `phone` is given)."""
    public = (phone or SigningKeyPair.generate()).public_bytes()
    return enrol_phone(
        session=session,
        person_id=person_id,
        public_key=base64.urlsafe_b64encode(public).decode().rstrip("="),
        now=now,
    )


def revoke_credential(
    session: Session, *, property_id: str, credential: Credential, now: datetime
) -> Revocation:
    """Revoke a grant or credential as the API does: marked, and its doors published."""
    return revoke(
        session=session,
        master_key=MASTER_KEY,
        property_id=property_id,
        credential=credential,
        now=now,
    )


# What a lock's journal brings ---------------------------------------------------------------


def record_event(
    session: Session,
    *,
    door: Door,
    occurred_at: datetime,
    subject_id: str | None = None,
    granted_by: str | None = None,
    grant_id: str | None = None,
    credential_type: CredentialType = CredentialType.MOBILE_KEY,
    credential_id: str | None = None,
    by_resident: bool = False,
    reason: Reason = Reason.GRANTED,
    device_id: str | None = None,
    device_seq: int | None = None,
    received_at: datetime | None = None,
    detail: str | None = None,
) -> Event:
    """One attempt at the door, stored as ingestion stores a lock's journal entry."""
    event = Event(
        property_id=door.property_id,
        door_id=door.id,
        door_kind=door.kind,
        device_id=device_id,
        device_seq=next(_DEVICE_SEQ) if device_seq is None else device_seq,
        occurred_at=occurred_at,
        received_at=received_at or occurred_at,
        credential_type=credential_type,
        credential_id=credential_id,
        grant_id=grant_id,
        subject_id=subject_id,
        granted_by=granted_by,
        by_resident=by_resident,
        reason=reason,
        detail=detail,
    )
    session.add(event)
    session.flush()
    return event


def record_photo(session: Session, *, photo_dir: Path, event: Event, jpeg: bytes = JPEG) -> Photo:
    """The event's photo, encrypted as a lock does and stored (key sealed) as ingestion does."""
    lock_photo_id = f"lock-{event.id[:8]}"
    data_key = new_data_key()
    photo = Photo(
        property_id=event.property_id,
        door_id=event.door_id,
        event_id=event.id,
        taken_at=event.occurred_at,
        storage_key=f"{event.device_id or 'device-1'}/{event.id}",
        lock_photo_id=lock_photo_id,
        created_at=event.occurred_at,
    )
    session.add(photo)
    session.flush()
    photo.key_sealed = seal(MASTER_KEY, data_key, f"photo-key:{photo.id}".encode())
    path = photo_dir / photo.storage_key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encrypt_blob(data_key, jpeg, photo_context(lock_photo_id)))
    event.photo_id = photo.id
    session.flush()
    return photo


# Checks ---------------------------------------------------------------------------------------


def row_counts(session: Session) -> dict[str, int]:
    """Rows per table, to prove a refused request changed nothing."""
    session.expire_all()
    return {
        table.name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for table in Base.metadata.sorted_tables
    }
