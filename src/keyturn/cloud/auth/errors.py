"""The errors authentication and authorisation raise, each one problem type with a fixed status.

Not-found is deliberately the same problem as an unknown URL, so another property's objects
cannot be told apart from objects that do not exist.
"""

from __future__ import annotations

from keyturn.cloud.errors import Refusal


class Unauthenticated(Refusal):
    status = 401
    kind = "unauthenticated"
    title = "Authentication is required"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="keyturn"'})


class InvalidCredentials(Unauthenticated):
    """Wrong email, wrong password, unknown email or disabled account: one answer for all."""

    kind = "invalid-credentials"
    title = "The email or password is not correct"


class TotpCodeRequired(Unauthenticated):
    kind = "totp-code-required"
    title = "This account needs a TOTP code to sign in"


class Forbidden(Refusal):
    status = 403
    kind = "forbidden"
    title = "You may not do this"


class CsrfFailed(Forbidden):
    kind = "csrf"
    title = "The CSRF token is missing or does not match"


class InsufficientScope(Forbidden):
    kind = "insufficient-scope"
    title = "This token's scopes do not allow this"

    def __init__(self, needed: str) -> None:
        super().__init__(
            f"this needs a token with the {needed!r} scope",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{needed}"'},
        )


class TotpRequired(Forbidden):
    kind = "totp-required"
    title = "Managers of this property must use a second factor"


class PasswordNotConfirmed(Refusal):
    """A signed-in person's password, asked again before a sensitive step, was not right.

    Not a 401 (the session stands; a front end would send the person to sign in again) nor a
    403 (the permission check allowed the step): the request itself was wrong.
    """

    status = 400
    kind = "password-not-confirmed"
    title = "The password is not correct"


class NotFound(Refusal):
    status = 404
    kind = "not-found"
    title = "No such resource"


class Conflict(Refusal):
    status = 409
    kind = "conflict"
    title = "The request conflicts with the current state"


class InvalidLink(Refusal):
    """An emailed link that is unknown, used, expired or for another purpose: one answer."""

    status = 400
    kind = "invalid-link"
    title = "This link is not valid; it may have expired or been used already"


class InvalidTotpCode(Refusal):
    status = 400
    kind = "invalid-totp-code"
    title = "The TOTP code is not correct"


class Throttled(Refusal):
    status = 429
    kind = "throttled"
    title = "Too many failed attempts; try again later"

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            f"try again in {retry_after_s} seconds",
            headers={"Retry-After": str(retry_after_s)},
        )
        self.retry_after_s = retry_after_s
