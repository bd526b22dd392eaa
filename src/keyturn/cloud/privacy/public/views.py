"""HTTP routes of the public data-request form: send it, then confirm it with the code.

Both are public: the form is throttled and answers every sender alike, and confirming needs
the code mailed to the address given; views are thin, as everywhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from keyturn.cloud.auth.deps import Db, MasterKey, Now, client_address, public_route
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.privacy.public import service
from keyturn.cloud.privacy.public.schemas import (
    PublicCodeIn,
    PublicRequestConfirmed,
    PublicRequestIn,
    PublicRequestSent,
)
from keyturn.cloud.problems import problem_responses

router = APIRouter(prefix="/api/v1", tags=["data requests"])
SENT = "A code was sent to the address given; confirm the request with it."


@router.post(
    "/data-requests/public",
    response_model=PublicRequestSent,
    status_code=202,
    dependencies=[
        public_route("anyone may ask about their data; throttled, and says nothing of anyone")
    ],
    responses=problem_responses(422, 429),
)
def send_public_request(
    body: PublicRequestIn, request: Request, db: Db, now: Now, master_key: MasterKey
) -> PublicRequestSent:
    """Ask for a copy or the deletion of one's data without an account (D1, D2).

    Every sender gets this same answer, and a code by mail: the address is known or not,
    the building named or not. Nothing reaches a reviewer until the code confirms it.
    """
    row, _code = service.submit(
        session=db,
        master_key=master_key,
        email=body.email,
        name=body.name,
        kind=body.kind,
        property_named=body.property,
        message=body.message,
        client=client_address(request),
        now=now,
    )
    db.commit()
    return PublicRequestSent(id=row.id, detail=SENT, code_expires_at=row.expires_at)


@router.post(
    "/data-requests/public/{request_id}/verify",
    response_model=PublicRequestConfirmed,
    dependencies=[public_route("the code mailed to the sender's address is the credential")],
    responses=problem_responses(
        404,
        422,
        429,
        meaning={
            404: "No form waits with this id (unknown, already confirmed, or long expired)",
            422: "The code does not match, or has expired",
            429: "The code's tries are used up; send the form again",
        },
    ),
)
def confirm_public_request(
    request_id: str, body: PublicCodeIn, db: Db, now: Now, master_key: MasterKey
) -> PublicRequestConfirmed:
    """Confirm the form with the mailed code; the request goes to the building's reviewers."""
    row = service.confirm(
        session=db, master_key=master_key, public_request_id=request_id, code=body.code, now=now
    )
    db.commit()
    return PublicRequestConfirmed(
        id=row.id,
        kind=row.kind,
        state=row.state,
        received_at=row.received_at,
        answer_by=workflow.answer_by(row),
    )
