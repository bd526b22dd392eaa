"""Signing in (to the portal or the app) and out of the portal: a form over the API's own
login service. A person goes back to the page that sent them here, or else to their own front
end (`web.homes`).

Before a session exists the form carries a token that must match a cookie set with the form
(login CSRF); the session it opens is the API's cookie session, with its own CSRF token.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from keyturn.cloud.auth import service
from keyturn.cloud.auth.cookies import clear_session_cookies, set_session_cookies
from keyturn.cloud.auth.deps import (
    SESSION_COOKIE,
    Config,
    Db,
    MasterKey,
    Now,
    client_address,
    current_principal,
    public_route,
)
from keyturn.cloud.auth.errors import Throttled, Unauthenticated
from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.portal.templating import PORTAL_PREFIX, SIGN_IN_PATH, render
from keyturn.cloud.web.gate import FORM_CSRF_FIELD, Viewer, page
from keyturn.cloud.web.homes import home_of

router = APIRouter(include_in_schema=False)
PRE_SESSION_COOKIE = "keyturn_signin"


def safe_next(target: str | None) -> str:
    """The page asked for after signing in, if it is a path of this site ("" if none is, then
    the person goes to their own front end); never another origin."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return ""
    return target


def _form(
    request: Request, *, next_path: str, email: str = "", message: str | None = None, code: bool
) -> HTMLResponse:
    token = request.cookies.get(PRE_SESSION_COOKIE) or secrets.token_urlsafe(24)
    answer = render(
        request,
        "sign_in.html",
        viewer=None,
        title="Sign in",
        status_code=200 if message is None else 401,
        next_path=next_path,
        email=email,
        message=message,
        ask_code=code,
        sign_in_token=token,
    )
    answer.set_cookie(PRE_SESSION_COOKIE, token, httponly=True, samesite="strict")
    return answer


@router.get(SIGN_IN_PATH, dependencies=[public_route("the sign-in form itself")])
def sign_in_form(request: Request, db: Db, now: Now, next: str | None = None) -> Response:
    """The form; someone already signed in goes on to the page asked for, or else home."""
    target = safe_next(next)
    if request.cookies.get(SESSION_COOKIE):
        try:
            principal = current_principal(request, db, now)
        except Unauthenticated:
            pass  # expired or signed out: the form
        else:
            home = target or home_of(session=db, person_id=principal.person_id)
            return RedirectResponse(home, status_code=303)
    return _form(request, next_path=target, code=False)


@router.post(
    SIGN_IN_PATH, dependencies=[public_route("login checks the password itself and is throttled")]
)
def sign_in(
    request: Request,
    db: Db,
    now: Now,
    config: Config,
    master_key: MasterKey,
    email: Annotated[str, Form(max_length=320)],
    password: Annotated[str, Form(max_length=1024)],
    sign_in_token: Annotated[str, Form(alias=FORM_CSRF_FIELD, max_length=200)] = "",
    totp_code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Sign in with the API's login service; a wrong password or a missing code re-asks."""
    target = safe_next(next)
    expected = request.cookies.get(PRE_SESSION_COOKIE, "")
    if not expected or not hmac.compare_digest(expected.encode(), sign_in_token.encode()):
        return _form(
            request,
            next_path=target,
            email=email,
            message="The form expired. Please sign in again.",
            code=False,
        )
    try:
        signed = service.sign_in(
            session=db,
            config=config,
            master_key=master_key,
            email=email,
            password=password,
            totp_code=totp_code.strip() or None,
            address=client_address(request),
            as_token=False,
            now=now,
        )
    except (Unauthenticated, Throttled) as refused:
        # The form's own answer: the API gives the same refusal as a problem.
        needs_code = refused.kind == "totp-code-required"
        message = _why(refused, code_sent=bool(totp_code.strip()))
        return _form(request, next_path=target, email=email, message=message, code=needs_code)
    target = target or home_of(session=db, person_id=signed.person_id)
    db.commit()
    assert signed.cookie is not None
    answer = RedirectResponse(target, status_code=303)
    set_session_cookies(answer, request, config, signed.cookie)
    answer.delete_cookie(PRE_SESSION_COOKIE)
    return answer


def _why(refused: Unauthenticated | Throttled, *, code_sent: bool) -> str:
    if isinstance(refused, Throttled):
        return f"Too many failed attempts. Try again in {refused.retry_after_s} seconds."
    if refused.kind == "totp-code-required":
        if code_sent:
            return "That code is not correct. Enter the current code from your authenticator app."
        return "Enter the 6-digit code from your authenticator app."
    return "The email or password is not correct."


@router.post(PORTAL_PREFIX + "/sign-out")
def sign_out(viewer: Annotated[Viewer, page(Action.ACCOUNT_READ)], db: Db, now: Now) -> Response:
    """End this session and go back to the sign-in page."""
    service.log_out(session=db, principal=viewer.principal, now=now)
    db.commit()
    answer = RedirectResponse(SIGN_IN_PATH, status_code=303)
    clear_session_cookies(answer)
    return answer
