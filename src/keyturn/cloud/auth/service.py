"""Logging in and out, cookie sessions, API tokens and the TOTP factor, as functions of a session.

Views stay thin: they pass the clock's `now`, the master key and the config in, and commit.
A login attempt is committed here as a failure before its password is checked (the throttle
must count it even if the request dies), and cleared or taken back once it turns out not to be.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from keyturn.cloud.auth import opaque, throttle, totp
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import (
    Conflict,
    InsufficientScope,
    InvalidCredentials,
    InvalidTotpCode,
    NotFound,
    PasswordNotConfirmed,
    TotpCodeRequired,
    Unauthenticated,
)
from keyturn.cloud.auth.passwords import hash_password, needs_rehash, verify_password
from keyturn.cloud.auth.permissions import (
    ALL_SCOPES,
    CredentialKind,
    Principal,
    Scope,
    expand_scopes,
)
from keyturn.cloud.models import Account, ApiToken, AuthSession, Person, RoleMembership, TotpFactor

LOGIN_TOKEN_NAME = "login"  # noqa: S105 - a label
# A session's last use is written at most this often, so busy pages cost no write each.
SESSION_TOUCH_EVERY = timedelta(minutes=1)


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, verified for unknown emails so they take as long."""
    return hash_password(opaque.new_secret())


@dataclass(frozen=True)
class NewSession:
    """A cookie session just opened: the row, and the two secrets for the cookies."""

    row: AuthSession
    secret: str
    csrf_token: str


def log_in(
    session: Session,
    config: AuthConfig,
    master_key: bytes,
    email: str,
    password: str,
    totp_code: str | None,
    address: str,
    now: datetime,
) -> Account:
    """The account whose email and password (and TOTP code, if enrolled) these are.

    Unknown email, wrong password and disabled account give the same InvalidCredentials
    after the same argon2 work; throttling comes first and counts every attempt.
    """
    key = opaque.email_digest(email)
    attempt = throttle.reserve(session, config, key, address, now)
    account = session.execute(
        select(Account).join(Person).where(Person.email == email.strip().lower())
    ).scalar_one_or_none()
    stored = account.password_hash if account is not None else None
    matches = verify_password(stored or _dummy_hash(), password)
    if account is None or stored is None or not matches or account.disabled:
        _fail(session, InvalidCredentials())
    assert account is not None
    assert stored is not None
    if account.totp_secret_sealed is not None:
        if not totp_code:
            # The password was right: asking for the code is no failure.
            throttle.forgive(session, attempt)
            session.commit()
            raise TotpCodeRequired("send the current code from your authenticator as totp_code")
        sealed = account.totp_secret_sealed
        if not _accept_code(session, master_key, account, sealed, totp_code, now):
            _fail(session, TotpCodeRequired("the code is not correct"))
    throttle.clear(session, key)
    if needs_rehash(stored):
        account.password_hash = hash_password(password)
    return account


@dataclass(frozen=True)
class SignedIn:
    """A login that succeeded: whose it is, and the cookie session or bearer token it opened."""

    person_id: str
    cookie: NewSession | None
    token: tuple[ApiToken, str] | None


def sign_in(
    *,
    session: Session,
    config: AuthConfig,
    master_key: bytes,
    email: str,
    password: str,
    totp_code: str | None,
    address: str,
    as_token: bool,
    now: datetime,
) -> SignedIn:
    """`log_in`, then a cookie session for the account or, `as_token`, a login token."""
    account = log_in(session, config, master_key, email, password, totp_code, address, now)
    if as_token:
        return SignedIn(account.person_id, None, issue_login_token(session, config, account, now))
    return SignedIn(account.person_id, open_session(session, config, account, address, now), None)


def confirm_password(
    *,
    session: Session,
    config: AuthConfig,
    account_id: str,
    password: str,
    address: str,
    now: datetime,
) -> None:
    """Refuse (PasswordNotConfirmed, 403) unless this is the signed-in account's password.

    Asked again before a step that shows a secret; throttled as a login is, in a scope of its
    own, so guessing here counts as guessing at the sign-in page would. The attempt is
    committed as a failure first and taken back when the password is right.
    """
    account = session.get_one(Account, account_id)
    attempt = throttle.count_attempt(
        session,
        scope="confirm-password",
        email_digest=opaque.digest("account:" + account.id),
        address=address,
        per_account=config.max_failures_per_account,
        per_address=config.max_failures_per_address,
        window=timedelta(seconds=config.failure_window_s),
        now=now,
    )
    stored = account.password_hash
    if not verify_password(stored or _dummy_hash(), password) or account.disabled:
        _fail(session, PasswordNotConfirmed("type the password you sign in with"))
    throttle.forgive(session, attempt)


def _fail(session: Session, error: Exception) -> None:
    """Refuse the login; its attempt, committed by the throttle, stays as the failure."""
    session.rollback()
    raise error


def open_session(
    session: Session,
    config: AuthConfig,
    account: Account,
    address: str,
    now: datetime,
) -> NewSession:
    """A new cookie session for the account; its TOTP state is whether it had to show a code."""
    secret, csrf_token = opaque.new_secret(), opaque.new_secret()
    row = AuthSession(
        account_id=account.id,
        secret_digest=opaque.digest(secret),
        csrf_digest=opaque.digest(csrf_token),
        totp_satisfied=account.totp_secret_sealed is not None,
        client_address=address[:64],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(seconds=config.session_lifetime_s),
    )
    session.add(row)
    return NewSession(row, secret, csrf_token)


def open_account(
    *, session: Session, person_id: str, password: str | None = None, now: datetime
) -> Account:
    """The person's account, with a password or none yet (tokens only); one per person (409)."""
    if session.scalar(select(Account.id).where(Account.person_id == person_id)) is not None:
        raise Conflict("this person already has an account")
    account = Account(
        person_id=person_id,
        password_hash=hash_password(password) if password is not None else None,
        created_at=now,
    )
    session.add(account)
    session.flush()
    return account


def issue_token(
    session: Session,
    account_id: str,
    name: str,
    scopes: frozenset[Scope],
    expires_at: datetime | None,
    totp_satisfied: bool,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A new bearer token and its secret, which is returned here once and never stored."""
    secret = opaque.new_secret(opaque.TOKEN_PREFIX)
    row = ApiToken(
        account_id=account_id,
        name=name,
        secret_digest=opaque.digest(secret),
        scopes=sorted(scopes),
        totp_satisfied=totp_satisfied,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    return row, secret


def issue_login_token(
    session: Session, config: AuthConfig, account: Account, now: datetime
) -> tuple[ApiToken, str]:
    """The bearer token a login returns when asked for one: every scope, short-lived."""
    return issue_token(
        session,
        account.id,
        LOGIN_TOKEN_NAME,
        ALL_SCOPES,
        now + timedelta(seconds=config.login_token_lifetime_s),
        account.totp_secret_sealed is not None,
        now,
    )


def create_token(
    *,
    session: Session,
    principal: Principal,
    name: str,
    scopes: frozenset[Scope],
    expires_at: datetime | None,
    now: datetime,
) -> tuple[ApiToken, str]:
    """A token for the caller's account, never with more scopes than the caller holds."""
    missing = expand_scopes(scopes) - principal.scopes
    if missing:
        raise InsufficientScope(sorted(missing)[0])
    return issue_token(
        session, principal.account_id, name, scopes, expires_at, principal.totp_satisfied, now
    )


# Every bearer request runs this lookup, so it is built once (building costs more than running).
_LIVE_TOKEN = (
    select(
        ApiToken.id,
        ApiToken.account_id,
        ApiToken.scopes,
        ApiToken.totp_satisfied,
        ApiToken.expires_at,
        ApiToken.created_at,
        Account.person_id,
    )
    .join(Account, Account.id == ApiToken.account_id)
    .where(
        ApiToken.secret_digest == bindparam("digest"),
        ApiToken.revoked_at.is_(None),
        Account.disabled.is_(False),
    )
)


def principal_from_token(session: Session, secret: str, now: datetime) -> Principal:
    """The principal a bearer token stands for; Unauthenticated if unknown, revoked or expired."""
    found = session.execute(_LIVE_TOKEN, {"digest": opaque.digest(secret)}).one_or_none()
    if found is None or (found.expires_at is not None and found.expires_at <= now):
        raise Unauthenticated("the token is unknown, revoked or expired")
    return Principal(
        person_id=found.person_id,
        account_id=found.account_id,
        kind=CredentialKind.TOKEN,
        credential_id=found.id,
        scopes=expand_scopes(found.scopes),
        totp_satisfied=found.totp_satisfied,
        issued_at=found.created_at,
    )


@dataclass(frozen=True, slots=True)
class CookieCaller:
    """Who a cookie session stands for, the digest its CSRF token must match, and whether
    this use was recorded (a write the caller commits)."""

    principal: Principal
    csrf_digest: str
    touched: bool


# A live cookie session, read as columns: loading the ORM row costs more than the statement.
_LIVE_SESSION = (
    select(
        AuthSession.id,
        AuthSession.account_id,
        AuthSession.csrf_digest,
        AuthSession.totp_satisfied,
        AuthSession.created_at,
        AuthSession.last_seen_at,
        Account.person_id,
    )
    .join(Account, Account.id == AuthSession.account_id)
    .where(
        AuthSession.secret_digest == bindparam("digest"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
        AuthSession.last_seen_at > bindparam("idle_since"),
        Account.disabled.is_(False),
    )
)
_TOUCH_SESSION = (
    update(AuthSession)
    .where(AuthSession.id == bindparam("session"))
    .values(last_seen_at=bindparam("now"))
    .execution_options(synchronize_session=False)
)


def principal_from_cookie(
    session: Session, secret: str, now: datetime, idle: timedelta
) -> CookieCaller:
    """The caller a cookie session stands for; Unauthenticated once it has ended.

    A session unused for `idle` has ended; a used one records the use (at most once per
    SESSION_TOUCH_EVERY, so busy pages cost no write each), which the caller commits when
    `touched` so that reads keep a session alive too.
    """
    params = {"digest": opaque.digest(secret), "now": now, "idle_since": now - idle}
    found = session.execute(_LIVE_SESSION, params).one_or_none()
    if found is None:
        raise Unauthenticated("the session has ended; sign in again")
    touched = now - found.last_seen_at >= SESSION_TOUCH_EVERY
    if touched:
        session.execute(_TOUCH_SESSION, {"session": found.id, "now": now})
    principal = Principal(
        person_id=found.person_id,
        account_id=found.account_id,
        kind=CredentialKind.SESSION,
        credential_id=found.id,
        scopes=ALL_SCOPES,
        totp_satisfied=found.totp_satisfied,
        issued_at=found.created_at,
    )
    return CookieCaller(principal, found.csrf_digest, touched)


def log_out(*, session: Session, principal: Principal, now: datetime) -> None:
    """End the credential the caller used: its cookie session, or its bearer token."""
    table = AuthSession if principal.kind is CredentialKind.SESSION else ApiToken
    session.execute(
        update(table)
        .where(table.id == principal.credential_id, table.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def list_tokens(
    *, session: Session, account_id: str, after: str | None, limit: int, now: datetime
) -> list[ApiToken]:
    """The account's live tokens ordered by id, after the cursor id; limit + 1 to see more."""
    query = select(ApiToken).where(
        ApiToken.account_id == account_id,
        ApiToken.revoked_at.is_(None),
        (ApiToken.expires_at.is_(None)) | (ApiToken.expires_at > now),
    )
    if after is not None:
        query = query.where(ApiToken.id > after)
    return list(session.execute(query.order_by(ApiToken.id).limit(limit + 1)).scalars())


def revoke_token(*, session: Session, principal: Principal, token_id: str, now: datetime) -> None:
    """Revoke one of the caller's own tokens; another account's token is NotFound."""
    done = session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            ApiToken.account_id == principal.account_id,
            ApiToken.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFound()


def revoke_everything(session: Session, account_id: str, now: datetime) -> None:
    """End every session and token of the account, as after a password reset."""
    for table in (AuthSession, ApiToken):
        session.execute(
            update(table)
            .where(table.account_id == account_id, table.revoked_at.is_(None))
            .values(revoked_at=now)
        )


@dataclass(frozen=True)
class TotpEnrolment:
    secret: bytes
    uri: str


def begin_totp(
    *, session: Session, config: AuthConfig, master_key: bytes, principal: Principal, now: datetime
) -> TotpEnrolment:
    """A fresh pending TOTP secret for the caller, waiting for a code to confirm it."""
    account = session.get_one(Account, principal.account_id)
    if account.totp_secret_sealed is not None:
        raise Conflict("a TOTP factor is already enabled; remove it first")
    secret = totp.new_secret()
    factor = _factor(session, account.id, now)
    factor.pending_secret_sealed = totp.seal_secret(master_key, account.id, secret)
    email = session.get_one(Person, account.person_id).email or account.person_id
    return TotpEnrolment(secret, totp.provisioning_uri(secret, email, config.totp_issuer))


def confirm_totp(
    *, session: Session, master_key: bytes, principal: Principal, code: str, now: datetime
) -> None:
    """Enable the pending secret once a code from it checks; the caller's credential counts."""
    account = session.get_one(Account, principal.account_id)
    factor = _factor(session, account.id, now)
    pending = factor.pending_secret_sealed
    if pending is None or account.totp_secret_sealed is not None:
        raise Conflict("no TOTP enrolment is pending; start one with POST /api/v1/auth/totp")
    if not _accept_code(session, master_key, account, pending, code, now):
        raise InvalidTotpCode()
    account.totp_secret_sealed = pending
    factor.pending_secret_sealed = None
    _mark_totp_satisfied(session, principal)


def remove_totp(
    *, session: Session, master_key: bytes, principal: Principal, code: str, now: datetime
) -> None:
    """Disable the TOTP factor, which needs a current code from it."""
    account = session.get_one(Account, principal.account_id)
    sealed = account.totp_secret_sealed
    if sealed is None:
        raise Conflict("no TOTP factor is enabled")
    if not _accept_code(session, master_key, account, sealed, code, now):
        raise InvalidTotpCode()
    account.totp_secret_sealed = None


def enable_totp_at_setup(
    *, session: Session, config: AuthConfig, master_key: bytes, account: Account, now: datetime
) -> TotpEnrolment:
    """Enable a new TOTP factor on an account nobody has logged into yet (`keyturn setup`).

    No code confirms it here: the caller shows the secret once to the person at the console.
    """
    if account.totp_secret_sealed is not None:
        raise Conflict("a TOTP factor is already enabled; remove it first")
    secret = totp.new_secret()
    _factor(session, account.id, now)
    account.totp_secret_sealed = totp.seal_secret(master_key, account.id, secret)
    email = session.get_one(Person, account.person_id).email or account.person_id
    return TotpEnrolment(secret, totp.provisioning_uri(secret, email, config.totp_issuer))


def _accept_code(
    session: Session, master_key: bytes, account: Account, sealed: bytes, code: str, now: datetime
) -> bool:
    """Whether the code is right and its step is used here first: a code works once only."""
    factor = _factor(session, account.id, now)
    secret = totp.unseal_secret(master_key, account.id, sealed)
    step = totp.matching_step(secret, code, now, factor.last_used_step)
    if step is None:
        return False
    session.flush()
    # Conditional, so of concurrent requests with one code exactly one updates the row.
    used = session.execute(
        update(TotpFactor)
        .where(
            TotpFactor.id == factor.id,
            or_(TotpFactor.last_used_step.is_(None), TotpFactor.last_used_step < step),
        )
        .values(last_used_step=step)
    )
    return bool(used.rowcount == 1)  # type: ignore[attr-defined]


def _factor(session: Session, account_id: str, now: datetime) -> TotpFactor:
    factor = session.execute(
        select(TotpFactor).where(TotpFactor.account_id == account_id)
    ).scalar_one_or_none()
    if factor is None:
        factor = TotpFactor(account_id=account_id, created_at=now)
        session.add(factor)
    return factor


def _mark_totp_satisfied(session: Session, principal: Principal) -> None:
    table = AuthSession if principal.kind is CredentialKind.SESSION else ApiToken
    session.execute(
        update(table).where(table.id == principal.credential_id).values(totp_satisfied=True)
    )


@dataclass(frozen=True)
class Whoami:
    """The caller as their account sees them: the person, the TOTP factor, every role."""

    person: Person
    totp_enabled: bool
    memberships: list[RoleMembership]


def whoami(*, session: Session, principal: Principal) -> Whoami:
    person = session.get_one(Person, principal.person_id)
    account = session.get_one(Account, principal.account_id)
    memberships = session.execute(
        select(RoleMembership)
        .where(RoleMembership.person_id == person.id, RoleMembership.in_force())
        .order_by(RoleMembership.property_id, RoleMembership.role)
    ).scalars()
    return Whoami(person, account.totp_secret_sealed is not None, list(memberships))
