"""HTTP routes of the sharing flows: guests (A5), single-day codes (A4), one-time and courier
codes, couriers and service providers (A8).

A resident acts only on their own doors and sees only what they created; managers who may
share keys act on the whole property (the service asks `permissions.acts_for_property`).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from sqlalchemy.orm import Session

from keyturn.cloud.access.answers import code_out, locks_out, revocation_out
from keyturn.cloud.access.credentials.schemas import CodeIssued
from keyturn.cloud.access.doors import key_door_ids
from keyturn.cloud.access.keys.schemas import Window
from keyturn.cloud.access.schemas import RevocationOut
from keyturn.cloud.access.sharing import service as sharing
from keyturn.cloud.access.sharing.schemas import (
    CodesIssued,
    CourierCodesCreate,
    GuestInvite,
    GuestOut,
    OneTimeCreate,
    SingleDayCreate,
    SingleDayIssued,
    SingleDayOut,
    VisitorCreate,
    VisitorOut,
)
from keyturn.cloud.auth.deps import Config, Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Grant, Person, SingleDayCode
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.problems import GUARDED, problem_responses

router = APIRouter(prefix="/api/v1", tags=["guests and codes"], responses=GUARDED)
NO_FREE_CODE = problem_responses(
    409,
    meaning={
        409: "No free code is left at a door, or a door's lock has no keypad "
        "(`missing-capability`, naming `capability` and `door_id`)"
    },
)


# Guests (A5)


def _guest_out(db: Session, grant: Grant) -> GuestOut:
    person = db.get_one(Person, grant.person_id)
    return GuestOut(
        grant_id=grant.id,
        person_id=person.id,
        display_name=person.display_name,
        email=person.email,
        key_id=grant.key_id,
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        revoked_at=grant.revoked_at,
    )


@router.post(
    "/properties/{property_id}/guests",
    response_model=GuestOut,
    status_code=201,
    responses=problem_responses(409, meaning={409: "The guest already holds this key"}),
)
def invite_guest(
    property_id: str,
    body: GuestInvite,
    principal: Annotated[Principal, requires(Action.GUESTS_INVITE)],
    db: Db,
    now: Now,
    config: Config,
) -> GuestOut:
    """Invite a guest by email with a mobile key on a key the caller may share (A5).

    The start may be at most a year ahead; the end and weekly windows are optional. The
    guest gets an email and enrols a phone to receive their mobile key.
    """
    grant = sharing.invite_guest(
        session=db,
        config=config,
        principal=principal,
        property_id=property_id,
        invite=body,
        now=now,
    )
    db.commit()
    return _guest_out(db, grant)


@router.get("/properties/{property_id}/guests", response_model=Page[GuestOut])
def list_guests(
    property_id: str,
    principal: Annotated[Principal, requires(Action.GUESTS_INVITE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[GuestOut]:
    """The guests the caller invited here (managers: every guest of the property)."""
    query = sharing.guests_of(session=db, principal=principal, property_id=property_id)
    return paged(db, query, Grant.id, cursor, limit, lambda grant: _guest_out(db, grant))


@router.delete("/properties/{property_id}/guests/{grant_id}", response_model=RevocationOut)
def revoke_guest(
    property_id: str,
    grant_id: str,
    principal: Annotated[Principal, requires(Action.GUESTS_INVITE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a guest's access; every lock of the key's doors drops it at its next sync."""
    revocation = sharing.revoke_guest(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        grant_id=grant_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation)


# Single-day codes (A4)


def _single_day_out(db: Session, row: SingleDayCode) -> SingleDayOut:
    return SingleDayOut(
        id=row.id,
        door_id=row.door_id,
        local_date=row.local_date,
        slot=row.slot,
        guest_label=row.guest_label,
        created_by=row.created_by,
        created_at=row.created_at,
        revoked_at=row.revoked_at,
        locks=locks_out(sharing.single_day_locks(db, row)),
    )


@router.post(
    "/properties/{property_id}/single-day-codes",
    response_model=SingleDayIssued,
    status_code=201,
    responses=NO_FREE_CODE,
)
def create_single_day_codes(
    property_id: str,
    body: SingleDayCreate,
    principal: Annotated[Principal, requires(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> SingleDayIssued:
    """Codes for one local day at the resident's door (and, if asked, the entrance) (A4).

    Each code is shown only here; the lock verifies it offline, from midnight to midnight.
    """
    issued = sharing.create_single_day_codes(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        request=body,
        now=now,
    )
    db.commit()
    return SingleDayIssued(
        local_date=issued.local_date,
        codes=[code_out(code) for code in issued.codes],
        note=issued.note,
    )


@router.get("/properties/{property_id}/single-day-codes", response_model=Page[SingleDayOut])
def list_single_day_codes(
    property_id: str,
    principal: Annotated[Principal, requires(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[SingleDayOut]:
    """The single-day codes the caller made here (managers: all), without the codes."""
    query = sharing.single_day_codes_of(session=db, principal=principal, property_id=property_id)
    return paged(db, query, SingleDayCode.id, cursor, limit, lambda r: _single_day_out(db, r))


@router.get("/properties/{property_id}/single-day-codes/{code_id}", response_model=SingleDayOut)
def read_single_day_code(
    property_id: str,
    code_id: str,
    principal: Annotated[Principal, requires(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
) -> SingleDayOut:
    """One single-day code and, once revoked, which locks have applied the revocation."""
    row = sharing.single_day_code(
        session=db, principal=principal, property_id=property_id, code_id=code_id
    )
    return _single_day_out(db, row)


@router.delete("/properties/{property_id}/single-day-codes/{code_id}", response_model=RevocationOut)
def revoke_single_day_code(
    property_id: str,
    code_id: str,
    principal: Annotated[Principal, requires(Action.CODES_SINGLE_DAY_CREATE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a single-day code: it may STILL WORK at a lock until that lock syncs (A4).

    The answer says so in `note` and lists per lock whether it has applied the revocation.
    """
    revocation = sharing.revoke_single_day_code(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        code_id=code_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation, sharing.SINGLE_DAY_REVOKED_NOTE)


# One-time codes and couriers (A8)


@router.post(
    "/properties/{property_id}/one-time-codes",
    response_model=CodeIssued,
    status_code=201,
    responses=NO_FREE_CODE,
)
def create_one_time_code(
    property_id: str,
    body: OneTimeCreate,
    principal: Annotated[Principal, requires(Action.CODES_ONE_TIME_CREATE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> CodeIssued:
    """A short code for one door, valid for minutes after its first use, from the lock's sync.

    A resident may make one only for a door of their own keys.
    """
    issued = sharing.create_one_time_code(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        door_id=body.door_id,
        valid_minutes=body.valid_minutes,
        now=now,
    )
    db.commit()
    return code_out(issued)


@router.delete("/properties/{property_id}/one-time-codes/{code_id}", response_model=RevocationOut)
def revoke_one_time_code(
    property_id: str,
    code_id: str,
    principal: Annotated[Principal, requires(Action.CODES_ONE_TIME_CREATE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a one-time (or courier) code; its lock drops it at its next sync."""
    revocation = sharing.revoke_one_time_code(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        code_id=code_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation)


@router.post(
    "/properties/{property_id}/courier-codes",
    response_model=CodesIssued,
    status_code=201,
    responses=NO_FREE_CODE,
)
def create_courier_codes(
    property_id: str,
    body: CourierCodesCreate,
    principal: Annotated[Principal, requires(Action.COURIERS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> CodesIssued:
    """Courier codes for the entrance, package room and doors the manager chooses (A8).

    A residence door among them is refused with 422 invalid-grant and nothing is issued.
    """
    issued = sharing.create_courier_codes(
        session=db,
        master_key=master_key,
        property_id=property_id,
        created_by=principal.person_id,
        door_ids=body.door_ids,
        valid_minutes=body.valid_minutes,
        now=now,
    )
    db.commit()
    return CodesIssued(codes=[code_out(code) for code in issued])


def _visitor_out(grant: Grant) -> VisitorOut:
    windows = (grant.key.schedule_json or {}).get("windows", [])
    return VisitorOut(
        grant_id=grant.id,
        key_id=grant.key_id,
        person_id=grant.person_id,
        kind=grant.kind,
        door_ids=key_door_ids(grant.key),
        windows=[Window(**window) for window in windows],
        starts_at=grant.starts_at,
        ends_at=grant.ends_at,
        revoked_at=grant.revoked_at,
    )


@router.post("/properties/{property_id}/couriers", response_model=VisitorOut, status_code=201)
def add_courier(
    property_id: str,
    body: VisitorCreate,
    principal: Annotated[Principal, requires(Action.COURIERS_MANAGE)],
    db: Db,
    now: Now,
    config: Config,
) -> VisitorOut:
    """A courier with a key of their own, never for residence doors (A8, 422 otherwise)."""
    grant = sharing.add_courier(
        session=db,
        config=config,
        principal=principal,
        property_id=property_id,
        visitor=body,
        now=now,
    )
    db.commit()
    return _visitor_out(grant)


@router.get("/properties/{property_id}/couriers", response_model=Page[VisitorOut])
def list_couriers(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.COURIERS_MANAGE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[VisitorOut]:
    """Every courier key granted at this property."""
    query = sharing.couriers_of(property_id=property_id)
    return paged(db, query, Grant.id, cursor, limit, _visitor_out)


@router.delete("/properties/{property_id}/couriers/{grant_id}", response_model=RevocationOut)
def revoke_courier(
    property_id: str,
    grant_id: str,
    _principal: Annotated[Principal, requires(Action.COURIERS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Revoke a courier's key; locks drop it at their next sync."""
    revocation = sharing.revoke_courier(
        session=db, master_key=master_key, property_id=property_id, grant_id=grant_id, now=now
    )
    db.commit()
    return revocation_out(revocation)


@router.post(
    "/properties/{property_id}/service-providers", response_model=VisitorOut, status_code=201
)
def add_service_provider(
    property_id: str,
    body: VisitorCreate,
    principal: Annotated[Principal, requires(Action.SERVICE_PROVIDERS_MANAGE)],
    db: Db,
    now: Now,
    config: Config,
) -> VisitorOut:
    """Book a service provider on a recurring weekly schedule (a resident: for their doors)."""
    grant = sharing.add_service_provider(
        session=db,
        config=config,
        principal=principal,
        property_id=property_id,
        visitor=body,
        now=now,
    )
    db.commit()
    return _visitor_out(grant)


@router.get("/properties/{property_id}/service-providers", response_model=Page[VisitorOut])
def list_service_providers(
    property_id: str,
    principal: Annotated[Principal, requires(Action.SERVICE_PROVIDERS_MANAGE)],
    db: Db,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[VisitorOut]:
    """The service providers the caller booked here (managers: all)."""
    query = sharing.service_providers_of(session=db, principal=principal, property_id=property_id)
    return paged(db, query, Grant.id, cursor, limit, _visitor_out)


@router.delete(
    "/properties/{property_id}/service-providers/{grant_id}", response_model=RevocationOut
)
def revoke_service_provider(
    property_id: str,
    grant_id: str,
    principal: Annotated[Principal, requires(Action.SERVICE_PROVIDERS_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> RevocationOut:
    """Cancel a service provider's booking; locks drop it at their next sync."""
    revocation = sharing.revoke_service_provider(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        grant_id=grant_id,
        now=now,
    )
    db.commit()
    return revocation_out(revocation)
