"""HTTP routes of residencies: move a person in, change the lease dates, move them out (now or
at a date) with per-lock status, and list a property's residencies."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.orm import Session

from keyturn.cloud.access.answers import locks_out
from keyturn.cloud.access.rollout import PENDING_NOTE
from keyturn.cloud.auth.deps import Config, Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.fields import Id
from keyturn.cloud.models import RoleMembership, Unit
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page, paged
from keyturn.cloud.people.profiles import read_profile_at
from keyturn.cloud.people.residency import service
from keyturn.cloud.people.residency.schemas import (
    LeaseChange,
    MoveIn,
    MoveOutOut,
    MoveOutRequest,
    ResidencyOut,
    RevokedOut,
)
from keyturn.cloud.problems import GUARDED, problem_responses

router = APIRouter(prefix="/api/v1", tags=["people"], responses=GUARDED)

SCHEDULED_NOTE = (
    "Move-out scheduled: the residency's keys end at `ends_at`, and the residency ends then "
    "(the server's job revokes what depended on it). `locks` shows which locks know the end."
)


def residency_out(db: Session, row: RoleMembership, now: datetime) -> ResidencyOut:
    assert row.unit_id is not None
    profile = read_profile_at(db, person=row.person, property_id=row.property_id)
    return ResidencyOut(
        id=row.id,
        person_id=row.person_id,
        display_name=profile.display_name,
        email=row.person.email,
        property_id=row.property_id,
        unit_id=row.unit_id,
        unit_label=db.get_one(Unit, row.unit_id).label,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        ended_at=row.ended_at,
        state=service.residency_state(row, now),
        created_at=row.created_at,
    )


def move_out_out(report: service.MoveOut) -> MoveOutOut:
    revoked = report.revoked
    return MoveOutOut(
        membership_id=report.membership_id,
        person_id=report.person_id,
        unit_id=report.unit_id,
        ends_at=report.ends_at,
        scheduled=report.scheduled,
        revoked=RevokedOut(
            grants=list(revoked.grants),
            shared_grants=list(revoked.shared_grants),
            doorcodes=list(revoked.doorcodes),
            keycards=list(revoked.keycards),
            phones=list(revoked.phones),
            single_day_codes=list(revoked.single_day_codes),
            one_time_codes=list(revoked.one_time_codes),
        ),
        note=SCHEDULED_NOTE if report.scheduled else PENDING_NOTE,
        locks=locks_out(report.locks),
    )


@router.get("/properties/{property_id}/residencies", response_model=Page[ResidencyOut])
def list_residencies(
    property_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    unit: Annotated[Id | None, Query(description="Only this unit's residencies")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[ResidencyOut]:
    """Every residency here (ended ones too), with its dates and state."""
    return paged(
        db,
        service.residencies_at(property_id, unit),
        RoleMembership.id,
        cursor,
        limit,
        lambda row: residency_out(db, row, now),
    )


@router.post(
    "/properties/{property_id}/residencies",
    response_model=ResidencyOut,
    status_code=201,
    responses=problem_responses(
        409, meaning={409: "The person already lives in the unit, or the unit has no key"}
    ),
)
def move_in(
    property_id: str,
    body: MoveIn,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    config: Config,
) -> ResidencyOut:
    """Move a person into a unit: the resident role with the lease dates, and the unit's key
    with resident status over the same window, published to its locks at once; the person is
    emailed an invitation (or a notice, if they already have an account)."""
    person = service.resident_for_move_in(
        session=db,
        property_id=property_id,
        person_id=body.person_id,
        email=body.email,
        display_name=body.display_name,
        now=now,
    )
    membership = service.move_in_as(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        person_id=person.id,
        unit_id=body.unit_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        now=now,
        config=config,
    )
    db.commit()
    return residency_out(db, membership, now)


@router.patch(
    "/properties/{property_id}/residencies/{membership_id}",
    response_model=ResidencyOut,
    responses=problem_responses(409, meaning={409: "The residency has already ended"}),
)
def change_lease(
    property_id: str,
    membership_id: str,
    body: LeaseChange,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> ResidencyOut:
    """New lease dates; the residency's keys follow them. An end already past moves the
    resident out now."""
    membership = service.change_lease_as(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        membership_id=membership_id,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        now=now,
    )
    db.commit()
    return residency_out(db, membership, now)


@router.post(
    "/properties/{property_id}/residencies/{membership_id}/move-out",
    response_model=MoveOutOut,
    responses=problem_responses(409, meaning={409: "The residency has already ended"}),
)
def move_out(
    property_id: str,
    membership_id: str,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    body: MoveOutRequest | None = None,
) -> MoveOutOut:
    """Move the resident out: at a later `at` it is scheduled; otherwise the residency ends
    now and its keys, the doorcodes at the unit, what the resident shared from the unit's key
    and (with no other role here) everything they hold here are revoked, with each lock's
    progress in `locks`."""
    report = service.move_out_as(
        session=db,
        master_key=master_key,
        principal=principal,
        property_id=property_id,
        membership_id=membership_id,
        at=(body or MoveOutRequest()).at,
        now=now,
    )
    db.commit()
    return move_out_out(report)
