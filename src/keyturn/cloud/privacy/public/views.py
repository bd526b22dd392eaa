"""HTTP routes of data requests from anyone: send the form, confirm it with the mailed code,
and download a copy through the one-time link mailed once a reviewer approved it.

All are public: the form is throttled and answers every sender alike; confirming needs the
mailed code and downloading the mailed link. Views are thin, as everywhere.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from keyturn.cloud.auth.deps import (
    AppSettings,
    Config,
    Db,
    MasterKey,
    Now,
    client_address,
    public_route,
)
from keyturn.cloud.privacy import copy_links
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.privacy.public import service
from keyturn.cloud.privacy.public.schemas import (
    CopyLinkIn,
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
    body: PublicRequestIn,
    request: Request,
    db: Db,
    now: Now,
    master_key: MasterKey,
    config: Config,
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
        public_url=config.public_url,
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


@router.post(
    "/data-requests/copy",
    response_class=Response,
    dependencies=[public_route("the one-time link mailed to the requester is the credential")],
    responses={
        200: {
            "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
            "description": "The copy as a zip (D1); the link is spent and the request completed",
        },
        **problem_responses(400, 409, 422),
    },
)
def download_copy_by_link(
    body: CopyLinkIn, settings: AppSettings, db: Db, now: Now, master_key: MasterKey
) -> Response:
    """The copy a reviewer approved for someone outside their account, by its mailed link."""
    row, data = copy_links.take_copy(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        secret=body.token,
        now=now,
    )
    db.commit()
    headers = {"Content-Disposition": f'attachment; filename="keyturn-data-{row.id[:8]}.zip"'}
    return Response(data, media_type="application/zip", headers=headers)
