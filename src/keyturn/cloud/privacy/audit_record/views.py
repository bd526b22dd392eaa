"""The audit record route: a property's entries, newest first, for its portfolio manager.

The view parses the filters, calls the service (which audits the read) and commits once.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from keyturn.cloud.auth.deps import Db, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.fields import AwareInstant
from keyturn.cloud.paging import Page
from keyturn.cloud.privacy.audit_record.schemas import AuditEntryOut, AuditPageOut
from keyturn.cloud.privacy.audit_record.service import (
    MAX_PAGE,
    AuditFilter,
    read_audit_record,
)
from keyturn.cloud.problems import GUARDED, problem_responses

ID_MAX = 64
CURSOR_MAX = 512

router = APIRouter(prefix="/api/v1", tags=["privacy"], responses=GUARDED)


@router.get(
    "/properties/{property_id}/audit",
    response_model=AuditPageOut,
    responses=problem_responses(
        400,
        422,
        meaning={
            400: "The cursor was not issued by this service",
            422: "A filter is malformed or contradictory",
        },
    ),
)
def list_audit_record(
    property_id: str,
    principal: Annotated[Principal, requires(Action.AUDIT_READ)],
    db: Db,
    now: Now,
    actor: Annotated[
        str | None, Query(max_length=ID_MAX, description="Only acts of this person (an id)")
    ] = None,
    action: Annotated[
        str | None,
        Query(max_length=ID_MAX, description="An action code (history.read) or family (dsar)"),
    ] = None,
    since: Annotated[
        AwareInstant | None, Query(description="RFC 3339 with offset; inclusive")
    ] = None,
    until: Annotated[
        AwareInstant | None, Query(description="RFC 3339 with offset; exclusive")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=CURSOR_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> AuditPageOut:
    """Who did what here and when, newest first: disclosures (history, photos, exports) and
    administrative acts, in words. Reading it is recorded too, and shows in the next read."""
    page = read_audit_record(
        session=db,
        reader_person_id=principal.person_id,
        property_id=property_id,
        filters=AuditFilter(actor_person_id=actor, action=action, since=since, until=until),
        cursor=cursor,
        limit=limit,
        now=now,
    )
    db.commit()
    return Page[AuditEntryOut](
        items=[AuditEntryOut.model_validate(asdict(entry)) for entry in page.entries],
        next_cursor=page.next_cursor,
    )
