"""The demo building's visitors and paperwork, so every portal page has something to show:
guests with phone keys, a courier, a courier code, a dog walker, a single-day code, more
managers (limited keys, security viewer) and a data request waiting for its reviewer.

Everything is made through the cloud's own services, as the manager or a resident would,
once, when the building is created.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from keyturn.cloud.access.credentials.service import enrol_phone
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.schemas import GuestInvite, SingleDayCreate, VisitorCreate
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.permissions import ALL_SCOPES, CredentialKind, Principal
from keyturn.cloud.models import Door, Key, Person, Property
from keyturn.cloud.people.managers.service import KeyLevel, Powers
from keyturn.cloud.privacy.models import RequestKind
from keyturn.cloud.privacy.requests import file_request
from keyturn.crypto.keys import SigningKeyPair
from keyturn.rules.types import DoorKind

GUESTS = (("Nia Guest", "nia.guest"), ("Omar Guest", "omar.guest"))
COURIER = ("Parcel Courier", "parcels")
DOG_WALKER = ("Quinn Dog Walker", "walker")
COURIER_CODE_MINUTES = 60 * 24
# Extra managers: (name, the role shown next to their login, their powers).
MANAGERS = (
    ("Lee Limited", "property_manager (limited keys)", Powers(keys=KeyLevel.LIMITED)),
    ("Vic Viewer", "property_manager (security viewer)", Powers(security_viewer=True)),
)


@dataclass(frozen=True, slots=True)
class Household:
    """A resident who hosts the guests and files a data request, and their unit's key."""

    resident: Person
    unit_key: Key


def acting_as(person_id: str) -> Principal:
    """A principal for work the demo does in someone's name (no login behind it)."""
    return Principal(
        person_id=person_id,
        account_id="demo",
        kind=CredentialKind.TOKEN,
        credential_id="demo-builder",
        scopes=ALL_SCOPES,
        totp_satisfied=True,
    )


def add_visitors(
    session: Session,
    master_key: bytes,
    prop: Property,
    *,
    manager_id: str,
    household: Household,
    doors: list[Door],
    email_domain: str,
    now: datetime,
) -> None:
    """Guests of the household (each with a phone), a courier with a key and a day's courier
    code, a dog walker on weekday lunchtimes, a single-day code, a pending data request."""
    config = AuthConfig()
    manager = acting_as(manager_id)
    host = acting_as(household.resident.id)
    shared = [door.id for door in doors if door.kind != DoorKind.RESIDENCE]
    for name, local in GUESTS:
        grant = sharing.invite_guest(
            session=session,
            config=config,
            principal=host,
            property_id=prop.id,
            invite=GuestInvite(
                email=f"{local}@{email_domain}",
                display_name=name,
                key_id=household.unit_key.id,
                starts_at=now,
                ends_at=now + timedelta(days=14),
            ),
            now=now,
        )
        phone = SigningKeyPair.generate().public_bytes()
        enrol_phone(
            session=session,
            person_id=grant.person_id,
            public_key=base64.urlsafe_b64encode(phone).decode().rstrip("="),
            now=now,
        )
    courier_name, courier_local = COURIER
    sharing.add_courier(
        session=session,
        config=config,
        principal=manager,
        property_id=prop.id,
        visitor=VisitorCreate(
            email=f"{courier_local}@{email_domain}", display_name=courier_name, door_ids=shared
        ),
        now=now,
    )
    sharing.create_courier_codes(
        session=session,
        master_key=master_key,
        property_id=prop.id,
        created_by=manager_id,
        door_ids=shared[:1],
        valid_minutes=COURIER_CODE_MINUTES,
        now=now,
    )
    walker_name, walker_local = DOG_WALKER
    sharing.add_service_provider(
        session=session,
        config=config,
        principal=manager,
        property_id=prop.id,
        visitor=VisitorCreate(
            email=f"{walker_local}@{email_domain}",
            display_name=walker_name,
            door_ids=shared[:1],
            windows=[Window(weekday=day, start="12:00", end="13:00") for day in range(5)],
        ),
        now=now,
    )
    sharing.create_single_day_codes(
        session=session,
        master_key=master_key,
        principal=host,
        property_id=prop.id,
        request=SingleDayCreate(
            local_date=now.astimezone(prop.zone).date(),
            door_ids=shared[:1],
            guest_label="Plumber",
        ),
        now=now,
    )
    file_request(
        session=session,
        master_key=master_key,
        person_id=household.resident.id,
        kind=RequestKind.COPY,
        now=now,
    )
