"""Request and response bodies of the auth routes, strict about unknown fields and sizes.

Login accepts any password length up to a cap; new passwords must be 10 to 256 characters,
so argon2 never works on megabytes and nobody picks a trivially short one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from keyturn.cloud.auth.permissions import Action, CredentialKind, Scope
from keyturn.cloud.fields import (
    EXAMPLE_ID,
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    EXAMPLE_TOKEN_ID,
    Email,
    Id,
    Name,
    example_config,
    example_id,
    strict_config,
)
from keyturn.rules.types import Permission, Role

Password = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
NewPassword = Annotated[str, StringConstraints(min_length=10, max_length=256)]
TotpCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
LinkToken = Annotated[str, StringConstraints(min_length=16, max_length=128)]
EXAMPLE_LINK_TOKEN = "lt_3q2rX0c9bWJm0QqjZk7d1A"  # noqa: S105 - an example in the API description
EXAMPLE_TOKEN = {
    "id": EXAMPLE_TOKEN_ID,
    "name": "reporting",
    "scopes": ["read"],
    "created_at": EXAMPLE_TIME,
    "expires_at": None,
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginRequest(Strict):
    """Credentials; `mode` "token" returns a bearer token instead of setting cookies."""

    model_config = strict_config({"email": "ana@example.org", "password": "correct horse battery"})

    email: Email
    password: Password
    totp_code: TotpCode | None = None
    mode: Literal["cookie", "token"] = "cookie"


class SessionOut(BaseModel):
    model_config = example_config(
        {
            "kind": "session",
            "person_id": EXAMPLE_PERSON_ID,
            "expires_at": "2026-03-02T21:00:00Z",
            "csrf_token": "c2VjcmV0LWNzcmYtdG9rZW4",
        }
    )

    kind: Literal["session"] = "session"
    person_id: str
    expires_at: datetime
    csrf_token: str = Field(description="Send it back in the X-CSRF-Token header on writes")


class LoginTokenOut(BaseModel):
    model_config = example_config(
        {
            "kind": "token",
            "person_id": EXAMPLE_PERSON_ID,
            "access_token": "kt_zMZmSlhoMODbZ8G8r08Nm9XyhcBOGgNhrNliSVCQ1kw",
            "token_type": "bearer",
            "expires_at": "2026-03-02T21:00:00Z",
        }
    )

    kind: Literal["token"] = "token"
    person_id: str
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105
    expires_at: datetime


class MembershipOut(BaseModel):
    model_config = example_config(
        {"property_id": EXAMPLE_PROPERTY_ID, "role": "staff", "unit_id": None}
    )

    property_id: str
    role: Role
    unit_id: str | None


class MeOut(BaseModel):
    model_config = example_config(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "display_name": "Ana Ruiz",
            "email": "ana@example.org",
            "credential": "session",
            "scopes": ["read", "write", "admin"],
            "totp_enabled": True,
            "totp_satisfied": True,
            "memberships": [
                {"property_id": EXAMPLE_PROPERTY_ID, "role": "property_manager", "unit_id": None}
            ],
        }
    )

    person_id: str
    display_name: str
    email: str | None
    credential: CredentialKind
    scopes: list[Scope]
    totp_enabled: bool
    totp_satisfied: bool
    memberships: list[MembershipOut]


class TokenCreate(Strict):
    """A new API token; scopes are read < write < admin, each implying the ones before."""

    model_config = strict_config({"name": "reporting", "scopes": ["read"]})

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    scopes: Annotated[list[Scope], Field(min_length=1, max_length=3)]
    expires_in_days: Annotated[int, Field(ge=1, le=366)] | None = None


class TokenOut(BaseModel):
    model_config = example_config(EXAMPLE_TOKEN)

    id: str
    name: str
    scopes: list[Scope]
    created_at: datetime
    expires_at: datetime | None


class TokenCreated(TokenOut):
    model_config = example_config(
        {**EXAMPLE_TOKEN, "token": "kt_R27Xj1DbN5mcc8qwAXB01Ng26ESRG8Trfl8SphBtMSc"}
    )

    token: str = Field(description="The secret, shown only in this response")


class TotpEnrolmentOut(BaseModel):
    model_config = example_config(
        {
            "secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP",
            "otpauth_uri": "otpauth://totp/Keyturn:ana%40example.org?secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP&issuer=Keyturn",
        }
    )

    secret: str = Field(description="Base32, for typing into an authenticator app")
    otpauth_uri: str


class TotpCodeIn(Strict):
    model_config = strict_config({"code": "492039"})

    code: TotpCode


class PasswordResetRequest(Strict):
    model_config = strict_config({"email": "ana@example.org"})

    email: Email


class PasswordResetConfirm(Strict):
    model_config = strict_config({"token": EXAMPLE_LINK_TOKEN, "password": "a new long passphrase"})

    token: LinkToken
    password: NewPassword


# An invitation to a role, as POST /invitations and POST /people take it.
EXAMPLE_INVITATION = {
    "email": "bo@example.org",
    "display_name": "Bo",
    "role": "resident",
    "unit_id": EXAMPLE_ID,
}


class InvitationCreate(Strict):
    """Invite a person by email to a role here; residents name their unit, nobody else does."""

    model_config = strict_config(EXAMPLE_INVITATION)

    email: Email
    display_name: Name
    role: Literal[
        Role.PORTFOLIO_MANAGER,
        Role.PROPERTY_MANAGER,
        Role.STAFF,
        Role.RESIDENT,
        Role.SERVICE_PROVIDER,
        Role.COURIER,
    ]
    unit_id: Id | None = None

    @model_validator(mode="after")
    def _unit_only_for_residents(self) -> InvitationCreate:
        if (self.role == Role.RESIDENT) != (self.unit_id is not None):
            raise ValueError("a resident needs a unit_id, and only a resident has one")
        return self


class InvitationOut(BaseModel):
    model_config = example_config(
        {"person_id": EXAMPLE_PERSON_ID, "membership_id": example_id(0x0A)}
    )

    person_id: str
    membership_id: str


class InvitationAccept(Strict):
    model_config = strict_config({"token": EXAMPLE_LINK_TOKEN, "password": "a new long passphrase"})

    token: LinkToken
    password: NewPassword


class PropertyAccessOut(BaseModel):
    """The caller's standing at a property, so a client can show only what will work."""

    model_config = example_config(
        {
            "property_id": EXAMPLE_PROPERTY_ID,
            "roles": ["resident"],
            "permissions": [],
            "actions": ["property.read", "credentials.self"],
            "manager_totp_missing": False,
        }
    )

    property_id: str
    roles: list[Role]
    permissions: list[Permission]
    actions: list[Action]
    manager_totp_missing: bool = Field(
        description="True when manager powers are withheld until the caller uses TOTP"
    )
