"""My privacy at a property: consent to the credentials the building collects (R5, R7), my
data requests (a copy, D1; a deletion, D2, D4) with their state and deadlines (D9) and who
acts for me (D3), and the public page where a code mailed for the request form is entered.

Every step calls the service the API's route calls, with the same Action; the request pages
show only the caller's own requests (as subject or as agent), as the API does.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from keyturn.cloud.app_web.templating import APP_PREFIX, render
from keyturn.cloud.auth.deps import AppSettings, Db, MasterKey, Now, public_route
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.models import RequestKind
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.privacy import own_requests
from keyturn.cloud.privacy import requests as workflow
from keyturn.cloud.privacy.public import service as public_requests
from keyturn.cloud.privacy.public.schemas import PublicCodeIn
from keyturn.cloud.privacy.schemas import VerifyIn
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix=f"{APP_PREFIX}/properties/{{property_id}}", include_in_schema=False)
public = APIRouter(prefix=APP_PREFIX, include_in_schema=False)
ZIP = "application/zip"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
DONE_WORDS = {
    "given": "Your consent is recorded.",
    "withdrawn": "Your consent is withdrawn. The credentials it allowed are being removed.",
    "filed": "Your request is filed. We mailed a code to your account's address.",
    "sent": "A new code is on its way to your account's address.",
    "verified": "Thank you: your request is verified.",
    "checked": "We checked again.",
}
FIELD_WORDS = {
    "code": "Type the code from the email.",
    "email": "Give your account's email address.",
    "display_name": "Give your name as your account shows it.",
}


def _base(property_id: str) -> str:
    return f"{APP_PREFIX}/properties/{property_id}/privacy"


def _done(request: Request) -> str | None:
    return DONE_WORDS.get(request.query_params.get("done", ""))


def _messages(error: ValidationError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][-1]) if item["loc"] else "form"
        found.setdefault(name, [FIELD_WORDS.get(name, str(item["msg"]))])
    return found


# -- overview and consent ----------------------------------------------------------------------


@router.get("/privacy", response_class=HTMLResponse)
def privacy_home(
    request: Request, property_id: str, viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)], db: Db
) -> HTMLResponse:
    """Consent, a copy, a deletion, and my requests with their state."""
    shown = own_requests.own_requests_shown(
        session=db, person_id=viewer.principal.person_id, now=viewer.now
    )
    return render(
        request,
        "privacy/home.html",
        viewer=viewer,
        title="Privacy",
        pid=property_id,
        requests=shown,
        done=_done(request),
    )


@router.get("/privacy/consent", response_class=HTMLResponse)
def consent_page(
    request: Request,
    property_id: str,
    viewer: Annotated[Viewer, page(Action.ACCOUNT_READ)],
    db: Db,
) -> HTMLResponse:
    """My consent on file with this building, whether it needs one, and what is missing."""
    here = consent.own_consent_at(
        session=db, person_id=viewer.principal.person_id, property_id=property_id
    )
    return render(
        request,
        "privacy/consent.html",
        viewer=viewer,
        title="Consent",
        pid=property_id,
        here=here,
        done=_done(request),
    )


@router.post("/privacy/consent")
def give_consent(
    property_id: str, viewer: Annotated[Viewer, page(Action.CONSENT_SELF)], db: Db, now: Now
) -> Response:
    """Give express consent in the app (R5), as POST /account/consent does."""
    consent.give_own_consent(session=db, person_id=viewer.principal.person_id, now=now)
    db.commit()
    return RedirectResponse(f"{_base(property_id)}/consent?done=given", status_code=303)


@router.post("/privacy/consent/withdraw")
def withdraw_consent(
    property_id: str,
    viewer: Annotated[Viewer, page(Action.CONSENT_SELF)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """Withdraw my consent: what it allowed is revoked, as DELETE /account/consent does."""
    consent.withdraw_own_consent(
        session=db, master_key=master_key, person_id=viewer.principal.person_id, now=now
    )
    db.commit()
    return RedirectResponse(f"{_base(property_id)}/consent?done=withdrawn", status_code=303)


# -- asking for a copy or a deletion -----------------------------------------------------------


@router.get("/privacy/copy", response_class=HTMLResponse)
def copy_form(
    request: Request, property_id: str, viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)]
) -> HTMLResponse:
    """What a copy holds and how it is sent, and the button to ask for it."""
    return render(
        request, "privacy/copy.html", viewer=viewer, title="A copy of your data", pid=property_id
    )


@router.get("/privacy/deletion", response_class=HTMLResponse)
def deletion_form(
    request: Request, property_id: str, viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)], db: Db
) -> HTMLResponse:
    """What must be removed before my data can be deleted (D4), and the button to ask."""
    waiting_on = own_requests.deletion_preconditions(
        session=db, person_id=viewer.principal.person_id, now=viewer.now
    )
    return render(
        request,
        "privacy/deletion.html",
        viewer=viewer,
        title="Delete your data",
        pid=property_id,
        waiting_on=waiting_on,
    )


def _file(
    property_id: str, viewer: Viewer, db: Db, master_key: bytes, kind: RequestKind
) -> Response:
    filed = workflow.file_request(
        session=db,
        master_key=master_key,
        person_id=viewer.principal.person_id,
        kind=kind,
        now=viewer.now,
    )
    db.commit()
    url = f"{_base(property_id)}/requests/{filed.request.id}?done=filed"
    return RedirectResponse(url, status_code=303)


@router.post("/privacy/copy")
def file_copy(
    property_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Ask for a copy (D1), as POST /account/data-requests does; a code is mailed."""
    return _file(property_id, viewer, db, master_key, RequestKind.COPY)


@router.post("/privacy/deletion")
def file_deletion(
    property_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Ask for deletion (D2), as POST /account/data-requests does; a code is mailed."""
    return _file(property_id, viewer, db, master_key, RequestKind.DELETION)


# -- one request ------------------------------------------------------------------------------


def _request_page(
    request: Request,
    property_id: str,
    viewer: Viewer,
    db: Db,
    request_id: str,
    *,
    status_code: int = 200,
    errors: dict[str, list[str]] | None = None,
    form: dict[str, str] | None = None,
) -> HTMLResponse:
    shown = own_requests.own_request_shown(
        session=db, person_id=viewer.principal.person_id, request_id=request_id, now=viewer.now
    )
    return render(
        request,
        "privacy/request.html",
        viewer=viewer,
        title=shown.kind_words,
        status_code=status_code,
        pid=property_id,
        item=shown,
        done=_done(request),
        errors=errors or {},
        form=form or {},
    )


@router.get("/privacy/requests/{request_id}", response_class=HTMLResponse)
def request_page(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
) -> HTMLResponse:
    """Its state, its deadlines, who filed it, what it waits for, and its next step."""
    return _request_page(request, property_id, viewer, db, request_id)


@router.post("/privacy/requests/{request_id}/verify", response_class=HTMLResponse)
def verify_request(
    request: Request,
    property_id: str,
    request_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
    settings: AppSettings,
    code: Annotated[str, Form(max_length=64)] = "",
    email: Annotated[str, Form(max_length=400)] = "",
    display_name: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """The mailed code and my account's details (D2), as the API's verify step."""
    try:
        body = VerifyIn.model_validate(
            {"code": code.strip(), "email": email.strip(), "display_name": display_name}
        )
    except ValidationError as error:
        form = {"email": email, "display_name": display_name}
        return _request_page(
            request,
            property_id,
            viewer,
            db,
            request_id,
            status_code=422,
            errors=_messages(error),
            form=form,
        )
    workflow.verify_own_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=viewer.principal.person_id,
        request_id=request_id,
        code=body.code,
        email=body.email,
        display_name=body.display_name,
        now=viewer.now,
    )
    db.commit()
    url = f"{_base(property_id)}/requests/{request_id}?done=verified"
    return RedirectResponse(url, status_code=303)


@router.post("/privacy/requests/{request_id}/code")
def resend_code(
    property_id: str,
    request_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
) -> Response:
    """Mail a new code for a request still being verified."""
    workflow.resend_own_code(
        session=db,
        master_key=master_key,
        person_id=viewer.principal.person_id,
        request_id=request_id,
        now=viewer.now,
    )
    db.commit()
    url = f"{_base(property_id)}/requests/{request_id}?done=sent"
    return RedirectResponse(url, status_code=303)


@router.post("/privacy/requests/{request_id}/proceed")
def proceed_request(
    property_id: str,
    request_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
    settings: AppSettings,
) -> Response:
    """Check again whether a waiting deletion can run now (D4)."""
    workflow.proceed_own_request(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=viewer.principal.person_id,
        request_id=request_id,
        now=viewer.now,
    )
    db.commit()
    url = f"{_base(property_id)}/requests/{request_id}?done=checked"
    return RedirectResponse(url, status_code=303)


@router.post("/privacy/requests/{request_id}/copy")
def download_copy(
    request_id: str,
    viewer: Annotated[Viewer, page(Action.DSAR_SUBMIT)],
    db: Db,
    master_key: MasterKey,
    settings: AppSettings,
) -> Response:
    """The copy as a zip (D1), as the API's download; taking it completes the request."""
    row, data = workflow.own_copy(
        session=db,
        master_key=master_key,
        photo_dir=settings.photo_dir,
        person_id=viewer.principal.person_id,
        request_id=request_id,
        now=viewer.now,
    )
    db.commit()
    headers = {
        "Content-Disposition": f'attachment; filename="keyturn-data-{row.id[:8]}.zip"',
        "Cache-Control": "no-store",
    }
    return Response(data, media_type=ZIP, headers=headers)


# -- the public form's mailed code ------------------------------------------------------------

CONFIRM_PATH = public_requests.CONFIRM_PAGE.removeprefix(APP_PREFIX)
CODE_IS_CREDENTIAL = "the code mailed to the sender's address is the credential"


@public.get(
    CONFIRM_PATH, response_class=HTMLResponse, dependencies=[public_route(CODE_IS_CREDENTIAL)]
)
def confirm_form(request: Request, request_id: str) -> HTMLResponse:
    """Where the mail sent for the public request form lands: enter the code."""
    return render(
        request,
        "privacy/confirm.html",
        viewer=None,
        title="Confirm your data request",
        request_id=request_id,
        errors={},
        headers=NO_STORE,
    )


@public.post(
    CONFIRM_PATH, response_class=HTMLResponse, dependencies=[public_route(CODE_IS_CREDENTIAL)]
)
def confirm_request(
    request: Request,
    request_id: str,
    db: Db,
    now: Now,
    master_key: MasterKey,
    code: Annotated[str, Form(max_length=64)] = "",
) -> HTMLResponse:
    """Confirm the form with the mailed code, as the API's public verify step."""
    try:
        body = PublicCodeIn.model_validate({"code": code.strip()})
    except ValidationError as error:
        return render(
            request,
            "privacy/confirm.html",
            viewer=None,
            title="Confirm your data request",
            status_code=422,
            request_id=request_id,
            errors=_messages(error),
            headers=NO_STORE,
        )
    row = public_requests.confirm(
        session=db, master_key=master_key, public_request_id=request_id, code=body.code, now=now
    )
    db.commit()
    return render(
        request,
        "privacy/confirmed.html",
        viewer=None,
        title="Your request is confirmed",
        kind=row.kind.value,
        received_at=row.received_at,
        answer_by=workflow.answer_by(row),
        headers=NO_STORE,
    )
