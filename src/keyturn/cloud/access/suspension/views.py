"""HTTP routes of the lost or stolen phone (A6): suspend a person, read the suspension's rollout,
restore.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from keyturn.cloud.access.answers import locks_out
from keyturn.cloud.access.suspension import service as suspension
from keyturn.cloud.access.suspension.schemas import SuspendRequest, SuspensionOut
from keyturn.cloud.auth.deps import (
    Db,
    MasterKey,
    Now,
    requires,
)
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.problems import GUARDED, problem_responses

router = APIRouter(prefix="/api/v1", tags=["people"], responses=GUARDED)


def _suspension_out(state: suspension.Suspension, note: str) -> SuspensionOut:
    return SuspensionOut(
        person_id=state.person_id,
        suspended_at=state.suspended_at,
        revoked_phone_ids=state.revoked_phone_ids,
        temporary_code_emailed=state.temporary_code_emailed,
        temporary_code_doors=state.temporary_code_doors,
        note=note,
        locks=locks_out(state.locks),
    )


@router.post(
    "/properties/{property_id}/people/{person_id}/suspend",
    response_model=SuspensionOut,
    responses=problem_responses(409, meaning={409: "No free temporary code is left at a door"}),
)
def suspend(
    property_id: str,
    person_id: str,
    principal: Annotated[Principal, requires(Action.PEOPLE_SUSPEND)],
    db: Db,
    now: Now,
    master_key: MasterKey,
    body: SuspendRequest | None = None,
) -> SuspensionOut:
    """Lost or stolen phone (A6): suspend the person's building access at once.

    Every phone registration is revoked, the person's sessions end, every lock refuses their
    credentials from its next sync (`locks`), and a temporary doorcode is emailed to them.
    """
    request = body or SuspendRequest()
    state = suspension.suspend(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        suspended_by=principal.person_id,
        send_temporary_code=request.send_temporary_code,
        now=now,
    )
    db.commit()
    return _suspension_out(state, suspension.SUSPENDED_NOTE)


@router.get("/properties/{property_id}/people/{person_id}/suspension", response_model=SuspensionOut)
def read_suspension(
    property_id: str,
    person_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_SUSPEND)],
    db: Db,
) -> SuspensionOut:
    """Whether the person is suspended, and which locks have applied the suspension."""
    state = suspension.suspension_state(session=db, property_id=property_id, person_id=person_id)
    note = suspension.SUSPENDED_NOTE if state.suspended_at else "Not suspended."
    return _suspension_out(state, note)


@router.post("/properties/{property_id}/people/{person_id}/restore", response_model=SuspensionOut)
def restore(
    property_id: str,
    person_id: str,
    _principal: Annotated[Principal, requires(Action.PEOPLE_SUSPEND)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> SuspensionOut:
    """Lift the suspension; the person must enrol a new phone for mobile keys."""
    state = suspension.restore(
        session=db, master_key=master_key, property_id=property_id, person_id=person_id, now=now
    )
    db.commit()
    return _suspension_out(state, suspension.RESTORED_NOTE)
