"""HTTP routes of authentication: login, logout, tokens, TOTP, password reset, invitations.

Each route is thin and marked with `requires(...)` or `public_route(...)`; the services do
the work and the view commits.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Request, Response

from keyturn.cloud.auth import links, service
from keyturn.cloud.auth.cookies import clear_session_cookies, set_session_cookies
from keyturn.cloud.auth.deps import (
    Config,
    Db,
    MasterKey,
    Now,
    client_address,
    public_route,
    requires,
)
from keyturn.cloud.auth.permissions import (
    Action,
    CredentialKind,
    Principal,
    allowed_actions,
    standing_at,
)
from keyturn.cloud.auth.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationOut,
    LoginRequest,
    LoginTokenOut,
    MembershipOut,
    MeOut,
    PasswordResetConfirm,
    PasswordResetRequest,
    PropertyAccessOut,
    SessionOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    TotpCodeIn,
    TotpEnrolmentOut,
)
from keyturn.cloud.auth.totp import base32
from keyturn.cloud.paging import DEFAULT_PAGE, Cursor, Limit, Page
from keyturn.cloud.people import service as people
from keyturn.cloud.problems import GUARDED, problem_responses
from keyturn.rules.types import Role

router = APIRouter(prefix="/api/v1", tags=["auth"])

# Account routes need a caller but name no property, so they never answer 404 for one.
SIGNED_IN = problem_responses(401, 403)
SIGNED_IN_WITH_INPUT = problem_responses(401, 403, 422)
TOTP_CODE_CHECKED = problem_responses(
    400,
    401,
    403,
    409,
    422,
    meaning={400: "The TOTP code is not correct", 409: "No enrolment or factor to act on"},
)
LINK_CHECKED = problem_responses(
    400, 422, meaning={400: "The link is unknown, used, expired or for another purpose"}
)


@router.post(
    "/auth/login",
    response_model=SessionOut | LoginTokenOut,
    dependencies=[public_route("login checks the password itself and is throttled")],
    responses=problem_responses(
        401,
        422,
        429,
        meaning={401: "Wrong credentials, or a TOTP code is needed", 429: "Throttled"},
    ),
)
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    db: Db,
    now: Now,
    config: Config,
    master_key: MasterKey,
) -> SessionOut | LoginTokenOut:
    """Sign in with email, password and, when enrolled, a TOTP code.

    By default this sets an HttpOnly session cookie and a CSRF cookie; with `mode` "token"
    it returns a short-lived bearer token with every scope instead.
    """
    signed = service.sign_in(
        session=db,
        config=config,
        master_key=master_key,
        email=body.email,
        password=body.password,
        totp_code=body.totp_code,
        address=client_address(request),
        as_token=body.mode == "token",
        now=now,
    )
    db.commit()
    if signed.token is not None:
        token, secret = signed.token
        assert token.expires_at is not None
        return LoginTokenOut(
            person_id=signed.person_id, access_token=secret, expires_at=token.expires_at
        )
    opened = signed.cookie
    assert opened is not None
    set_session_cookies(response, request, config, opened)
    return SessionOut(
        person_id=signed.person_id, expires_at=opened.row.expires_at, csrf_token=opened.csrf_token
    )


@router.post("/auth/logout", status_code=204, response_class=Response, responses=SIGNED_IN)
def logout(
    principal: Annotated[Principal, requires(Action.ACCOUNT_READ)], db: Db, now: Now
) -> Response:
    """End the session or token used for this request, and clear the cookies."""
    service.log_out(session=db, principal=principal, now=now)
    db.commit()
    response = Response(status_code=204)
    if principal.kind is CredentialKind.SESSION:
        clear_session_cookies(response)
    return response


@router.get("/auth/me", response_model=MeOut, responses=SIGNED_IN)
def me(principal: Annotated[Principal, requires(Action.ACCOUNT_READ)], db: Db) -> MeOut:
    """The caller: who they are, how they authenticated, and their roles per property."""
    caller = service.whoami(session=db, principal=principal)
    return MeOut(
        person_id=caller.person.id,
        display_name=caller.person.display_name,
        email=caller.person.email,
        credential=principal.kind,
        scopes=sorted(principal.scopes),
        totp_enabled=caller.totp_enabled,
        totp_satisfied=principal.totp_satisfied,
        memberships=[
            MembershipOut(property_id=m.property_id, role=m.role, unit_id=m.unit_id)
            for m in caller.memberships
        ],
    )


@router.get("/auth/tokens", response_model=Page[TokenOut], responses=SIGNED_IN_WITH_INPUT)
def list_tokens(
    principal: Annotated[Principal, requires(Action.ACCOUNT_READ)],
    db: Db,
    now: Now,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_PAGE,
) -> Page[TokenOut]:
    """The caller's live API tokens, without their secrets, a page at a time."""
    rows = service.list_tokens(
        session=db, account_id=principal.account_id, after=cursor, limit=limit, now=now
    )
    page = [_token_out(row) for row in rows[:limit]]
    return Page[TokenOut](items=page, next_cursor=page[-1].id if len(rows) > limit else None)


@router.post(
    "/auth/tokens", response_model=TokenCreated, status_code=201, responses=SIGNED_IN_WITH_INPUT
)
def create_token(
    body: TokenCreate,
    principal: Annotated[Principal, requires(Action.ACCOUNT_MANAGE)],
    db: Db,
    now: Now,
) -> TokenCreated:
    """Create a scoped API token; its secret is in this response and nowhere else, ever."""
    expires_at = now + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    row, secret = service.create_token(
        session=db,
        principal=principal,
        name=body.name,
        scopes=frozenset(body.scopes),
        expires_at=expires_at,
        now=now,
    )
    db.commit()
    return TokenCreated(**_token_out(row).model_dump(), token=secret)


@router.delete(
    "/auth/tokens/{token_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(401, 403, 404, 422),
)
def revoke_token(
    token_id: str,
    principal: Annotated[Principal, requires(Action.ACCOUNT_MANAGE)],
    db: Db,
    now: Now,
) -> Response:
    """Revoke one of the caller's tokens; it stops working at once."""
    service.revoke_token(session=db, principal=principal, token_id=token_id, now=now)
    db.commit()
    return Response(status_code=204)


@router.post(
    "/auth/totp",
    response_model=TotpEnrolmentOut,
    status_code=201,
    responses=problem_responses(401, 403, 409, meaning={409: "A TOTP factor is already enabled"}),
)
def begin_totp(
    principal: Annotated[Principal, requires(Action.ACCOUNT_SECURITY)],
    db: Db,
    now: Now,
    config: Config,
    master_key: MasterKey,
) -> TotpEnrolmentOut:
    """Start TOTP enrolment: a new secret for the authenticator app, pending confirmation."""
    enrolment = service.begin_totp(
        session=db, config=config, master_key=master_key, principal=principal, now=now
    )
    db.commit()
    return TotpEnrolmentOut(secret=base32(enrolment.secret), otpauth_uri=enrolment.uri)


@router.post(
    "/auth/totp/confirm", status_code=204, response_class=Response, responses=TOTP_CODE_CHECKED
)
def confirm_totp(
    body: TotpCodeIn,
    principal: Annotated[Principal, requires(Action.ACCOUNT_SECURITY)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """Confirm enrolment with a code; from now on login needs a code too."""
    service.confirm_totp(
        session=db, master_key=master_key, principal=principal, code=body.code, now=now
    )
    db.commit()
    return Response(status_code=204)


@router.post(
    "/auth/totp/remove", status_code=204, response_class=Response, responses=TOTP_CODE_CHECKED
)
def remove_totp(
    body: TotpCodeIn,
    principal: Annotated[Principal, requires(Action.ACCOUNT_SECURITY)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> Response:
    """Remove the TOTP factor, proving possession with a current code."""
    service.remove_totp(
        session=db, master_key=master_key, principal=principal, code=body.code, now=now
    )
    db.commit()
    return Response(status_code=204)


@router.post(
    "/auth/password-reset",
    status_code=202,
    response_class=Response,
    responses=problem_responses(422),
    dependencies=[public_route("answers the same whether or not the email is known")],
)
def request_password_reset(
    body: PasswordResetRequest, db: Db, now: Now, config: Config
) -> Response:
    """Email a one-time reset link if the address is known; the answer never says."""
    links.request_password_reset(session=db, config=config, email=body.email, now=now)
    db.commit()
    return Response(status_code=202)


@router.post(
    "/auth/password-reset/confirm",
    status_code=204,
    response_class=Response,
    responses=LINK_CHECKED,
    dependencies=[public_route("the emailed one-time link is the credential")],
)
def confirm_password_reset(body: PasswordResetConfirm, db: Db, now: Now) -> Response:
    """Set a new password with the emailed link; every session and token of the account ends."""
    links.reset_password(session=db, secret=body.token, password=body.password, now=now)
    db.commit()
    return Response(status_code=204)


@router.post(
    "/auth/invitations/accept",
    status_code=204,
    response_class=Response,
    responses=LINK_CHECKED,
    dependencies=[public_route("the emailed one-time link is the credential")],
)
def accept_invitation(body: InvitationAccept, db: Db, now: Now) -> Response:
    """Accept an invitation by choosing a password; then sign in as usual."""
    links.accept_invitation(session=db, secret=body.token, password=body.password, now=now)
    db.commit()
    return Response(status_code=204)


@router.post(
    "/properties/{property_id}/invitations",
    response_model=InvitationOut,
    status_code=201,
    responses={**GUARDED, **problem_responses(409)},
)
def invite(
    property_id: str,
    body: InvitationCreate,
    principal: Annotated[Principal, requires(Action.PEOPLE_MANAGE)],
    db: Db,
    now: Now,
    config: Config,
) -> InvitationOut:
    """Invite a person by email to a role at this property; appointing managers is admin work."""
    membership = people.invite_person(
        session=db,
        config=config,
        principal=principal,
        property_id=property_id,
        email=body.email,
        display_name=body.display_name,
        role=Role(body.role),
        unit_id=body.unit_id,
        now=now,
    )
    db.commit()
    return InvitationOut(person_id=membership.person_id, membership_id=membership.id)


@router.get("/properties/{property_id}/access", response_model=PropertyAccessOut, responses=GUARDED)
def property_access(
    property_id: str,
    principal: Annotated[Principal, requires(Action.PROPERTY_READ)],
    db: Db,
) -> PropertyAccessOut:
    """The caller's roles, permissions and allowed actions at this property."""
    standing = standing_at(db, principal.person_id, property_id)
    assert standing is not None  # requires() has already answered 404 otherwise
    return PropertyAccessOut(
        property_id=property_id,
        roles=sorted(standing.roles),
        permissions=sorted(standing.permissions),
        actions=allowed_actions(standing, principal),
        manager_totp_missing=standing.effective_for(principal) != standing,
    )


def _token_out(row: object) -> TokenOut:
    return TokenOut.model_validate(row, from_attributes=True)
