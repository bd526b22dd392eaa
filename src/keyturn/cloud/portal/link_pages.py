"""The pages emailed one-time links land on: resetting a password, accepting an invitation and
downloading the copy a data request asked for, over the same services as the API's public routes.

The link's token travels in the URL fragment, which never reaches the server: the form has a
`token` field that portal.js fills from the fragment and hides (without JS, a person pastes it).
These paths are outside /portal, so the forms answer their own refusals with pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from keyturn.cloud.auth import links
from keyturn.cloud.auth.deps import AppSettings, Config, Db, MasterKey, Now, public_route
from keyturn.cloud.auth.errors import InvalidLink
from keyturn.cloud.auth.schemas import (
    InvitationAccept,
    PasswordResetConfirm,
    PasswordResetRequest,
)
from keyturn.cloud.portal.templating import render
from keyturn.cloud.privacy import copy_links
from keyturn.cloud.privacy.errors import WrongState
from keyturn.cloud.privacy.public.schemas import CopyLinkIn

router = APIRouter(include_in_schema=False)
RESET_PATH = "/reset-password"
INVITATION_PATH = "/invitation"
DATA_COPY_PATH = "/data-copy"  # copy_links mails {public_url}/data-copy#token=...
LINK_IS_CREDENTIAL = "the emailed one-time link is the credential"
SIGN_IN = "/portal/sign-in"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
MISMATCH = "The two passwords are not the same. Type the same password twice."
FIELD_WORDS = {
    "token": "Paste the code from the link in your email (the part after token=).",
    "password": "Choose a password of at least 10 characters.",
    "email": "Give the email address of your account.",
}


def _messages(error: ValidationError) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in error.errors():
        name = str(item["loc"][-1]) if item["loc"] else "form"
        found.setdefault(name, [FIELD_WORDS.get(name, str(item["msg"]))])
    return found


def _page(
    request: Request,
    template: str,
    title: str,
    *,
    status_code: int = 200,
    errors: Mapping[str, list[str]] | None = None,
    **context: object,
) -> HTMLResponse:
    return render(
        request,
        template,
        viewer=None,
        title=title,
        status_code=status_code,
        headers=NO_STORE,
        errors=errors or {},
        **context,
    )


def _invalid_link(request: Request, *, invitation: bool, data_copy: bool = False) -> HTMLResponse:
    """The link's own answer when it is unknown, used or expired (InvalidLink's 400)."""
    return _page(
        request,
        "links/invalid.html",
        "This link has expired or was already used",
        status_code=400,
        invitation=invitation,
        data_copy=data_copy,
    )


# -- password reset -------------------------------------------------------------------------


@router.get(
    RESET_PATH, response_class=HTMLResponse, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def reset_form(request: Request) -> HTMLResponse:
    """Set a new password with the emailed link, or ask for a link by email."""
    return _page(request, "links/reset.html", "Reset your password")


@router.post(
    RESET_PATH + "/request",
    response_class=HTMLResponse,
    dependencies=[public_route("answers the same whether or not the email is known")],
)
def request_reset(
    request: Request,
    db: Db,
    now: Now,
    config: Config,
    email: Annotated[str, Form(max_length=400)] = "",
) -> HTMLResponse:
    """Email a reset link if the address is known; the answer never says whether it is."""
    try:
        body = PasswordResetRequest.model_validate({"email": email.strip()})
    except ValidationError as error:
        return _page(
            request,
            "links/reset.html",
            "Reset your password",
            status_code=422,
            errors=_messages(error),
            email=email,
        )
    links.request_password_reset(session=db, config=config, email=body.email, now=now)
    db.commit()
    return _page(request, "links/sent.html", "Check your email", email=body.email)


@router.post(
    RESET_PATH, response_class=HTMLResponse, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def reset_password(
    request: Request,
    db: Db,
    now: Now,
    token: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_repeat: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    """Set the new password; every session and token of the account ends."""
    try:
        body = PasswordResetConfirm.model_validate({"token": token.strip(), "password": password})
    except ValidationError as error:
        return _page(
            request,
            "links/reset.html",
            "Reset your password",
            status_code=422,
            errors=_messages(error),
            token=token,
        )
    if password != password_repeat:
        return _page(
            request,
            "links/reset.html",
            "Reset your password",
            status_code=422,
            errors={"password_repeat": [MISMATCH]},
            token=token,
        )
    try:
        links.reset_password(session=db, secret=body.token, password=body.password, now=now)
    except InvalidLink:
        db.rollback()
        return _invalid_link(request, invitation=False)
    db.commit()
    return _page(
        request, "links/done.html", "Your password is set", invitation=False, sign_in=SIGN_IN
    )


# -- invitation -----------------------------------------------------------------------------


@router.get(
    INVITATION_PATH, response_class=HTMLResponse, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def invitation_form(request: Request) -> HTMLResponse:
    """Accept an invitation by choosing a password."""
    return _page(request, "links/invitation.html", "Accept your invitation")


@router.post(
    INVITATION_PATH, response_class=HTMLResponse, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def accept_invitation(
    request: Request,
    db: Db,
    now: Now,
    token: Annotated[str, Form(max_length=400)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    password_repeat: Annotated[str, Form(max_length=1024)] = "",
) -> HTMLResponse:
    """Accept with a new password; then the person signs in as usual, which takes them to
    their own front end (the app, or the portal for a manager: `web.homes`)."""
    try:
        body = InvitationAccept.model_validate({"token": token.strip(), "password": password})
    except ValidationError as error:
        return _page(
            request,
            "links/invitation.html",
            "Accept your invitation",
            status_code=422,
            errors=_messages(error),
            token=token,
        )
    if password != password_repeat:
        return _page(
            request,
            "links/invitation.html",
            "Accept your invitation",
            status_code=422,
            errors={"password_repeat": [MISMATCH]},
            token=token,
        )
    try:
        links.accept_invitation(session=db, secret=body.token, password=body.password, now=now)
    except InvalidLink:
        db.rollback()
        return _invalid_link(request, invitation=True)
    db.commit()
    return _page(
        request, "links/done.html", "Your account is ready", invitation=True, sign_in=SIGN_IN
    )


# -- a data request's copy ------------------------------------------------------------------


@router.get(
    DATA_COPY_PATH, response_class=HTMLResponse, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def data_copy_form(request: Request) -> HTMLResponse:
    """Download the copy a reviewer approved (D1) with the emailed one-time link."""
    return _page(request, "links/data_copy.html", "Download your data")


@router.post(
    DATA_COPY_PATH, response_class=Response, dependencies=[public_route(LINK_IS_CREDENTIAL)]
)
def download_data_copy(
    request: Request,
    db: Db,
    now: Now,
    master_key: MasterKey,
    settings: AppSettings,
    token: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    """The zip, as POST /api/v1/data-requests/copy answers it; the link is spent and the
    request completed."""
    try:
        body = CopyLinkIn.model_validate({"token": token.strip()})
    except ValidationError as error:
        return _page(
            request,
            "links/data_copy.html",
            "Download your data",
            status_code=422,
            errors=_messages(error),
        )
    try:
        row, data = copy_links.take_copy(
            session=db,
            master_key=master_key,
            photo_dir=settings.photo_dir,
            secret=body.token,
            now=now,
        )
    except InvalidLink:
        db.rollback()
        return _invalid_link(request, invitation=False, data_copy=True)
    except WrongState:
        # Paused or refused after the link was mailed (D7): the link stays unspent.
        db.rollback()
        return _page(
            request,
            "links/copy_unavailable.html",
            "Your copy cannot be downloaded now",
            status_code=409,
        )
    db.commit()
    headers = {
        "Content-Disposition": f'attachment; filename="keyturn-data-{row.id[:8]}.zip"',
        **NO_STORE,
    }
    return Response(data, media_type="application/zip", headers=headers)
