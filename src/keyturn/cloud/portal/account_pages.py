"""The caller's own account: who they are, and their authenticator (TOTP) factor, over the
same auth services and Actions as the API's /auth/me and /auth/totp routes."""

from __future__ import annotations

from typing import Annotated

import segno
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from keyturn.cloud.auth import service
from keyturn.cloud.auth.deps import Config, Db, MasterKey
from keyturn.cloud.auth.errors import InvalidTotpCode
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.auth.schemas import TotpCodeIn
from keyturn.cloud.auth.totp import base32
from keyturn.cloud.portal.templating import render
from keyturn.cloud.web.gate import Viewer, page

router = APIRouter(prefix="/portal/account", include_in_schema=False)
ACCOUNT_PATH = "/portal/account"
GROUP = 4
DONE = {
    "totp-on": "Your authenticator is set up. Signing in now asks for its code.",
    "totp-off": "Your authenticator is removed. Signing in no longer asks for a code.",
}
WRONG_CODE = "That code is not correct. Codes change every 30 seconds: enter the current one."

Reading = Annotated[Viewer, page(Action.ACCOUNT_READ)]
Securing = Annotated[Viewer, page(Action.ACCOUNT_SECURITY)]


def _account_page(
    request: Request,
    viewer: Viewer,
    db: Db,
    *,
    done: str | None = None,
    message: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    caller = service.whoami(session=db, principal=viewer.principal)
    return render(
        request,
        "account/account.html",
        viewer=viewer,
        title="Your account",
        status_code=status_code,
        person=caller.person,
        totp_enabled=caller.totp_enabled,
        done=DONE.get(done or ""),
        message=message,
    )


@router.get("", response_class=HTMLResponse)
def account(request: Request, viewer: Reading, db: Db, done: str | None = None) -> HTMLResponse:
    """Your name, email and whether signing in asks for an authenticator code."""
    return _account_page(request, viewer, db, done=done)


def _grouped(secret: str) -> str:
    return " ".join(secret[i : i + GROUP] for i in range(0, len(secret), GROUP))


@router.post("/totp", response_class=HTMLResponse)
def begin_totp(
    request: Request, viewer: Securing, db: Db, config: Config, master_key: MasterKey
) -> HTMLResponse:
    """A new authenticator secret, pending until a code from it is confirmed."""
    enrolment = service.begin_totp(
        session=db, config=config, master_key=master_key, principal=viewer.principal, now=viewer.now
    )
    db.commit()
    qr = segno.make(enrolment.uri, error="m").svg_inline(
        scale=4, border=4, light="#fff", title="QR code for your authenticator app"
    )
    return render(
        request,
        "account/totp.html",
        viewer=viewer,
        title="Set up an authenticator",
        secret=_grouped(base32(enrolment.secret)),
        uri=enrolment.uri,
        qr=Markup(qr),  # noqa: S704 - segno's SVG of the URI: no markup from the caller
        headers={"Cache-Control": "no-store"},
    )


def _code(sent: str) -> str | None:
    try:
        return TotpCodeIn.model_validate({"code": "".join(sent.split())}).code
    except ValidationError:
        return None


@router.post("/totp/confirm")
def confirm_totp(
    request: Request,
    viewer: Securing,
    db: Db,
    master_key: MasterKey,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Enable the pending secret with a code from it; a wrong code asks to start again."""
    checked = _code(code)
    try:
        if checked is None:
            raise InvalidTotpCode()
        service.confirm_totp(
            session=db,
            master_key=master_key,
            principal=viewer.principal,
            code=checked,
            now=viewer.now,
        )
    except InvalidTotpCode:
        # The form's own answer (as sign-in's); nothing changed, as when the API refuses.
        # The pending secret cannot be shown again: the person starts over.
        db.rollback()
        message = WRONG_CODE + " Start the set-up again to see a new secret."
        return _account_page(request, viewer, db, message=message, status_code=400)
    db.commit()
    return RedirectResponse(f"{ACCOUNT_PATH}?done=totp-on", status_code=303)


@router.post("/totp/remove")
def remove_totp(
    request: Request,
    viewer: Securing,
    db: Db,
    master_key: MasterKey,
    code: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Remove the authenticator, proving it is at hand with a current code."""
    checked = _code(code)
    try:
        if checked is None:
            raise InvalidTotpCode()
        service.remove_totp(
            session=db,
            master_key=master_key,
            principal=viewer.principal,
            code=checked,
            now=viewer.now,
        )
    except InvalidTotpCode:
        db.rollback()
        return _account_page(request, viewer, db, message=WRONG_CODE, status_code=400)
    db.commit()
    return RedirectResponse(f"{ACCOUNT_PATH}?done=totp-off", status_code=303)
