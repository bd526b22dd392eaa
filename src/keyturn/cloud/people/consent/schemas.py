"""Request and response bodies of the consent routes (R5, R7) and the consent part of a person.

Requests refuse unknown fields; a written consent names its document and nothing about the
person who signed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from keyturn.cloud.access.schemas import LockStatusOut
from keyturn.cloud.fields import Agreed
from keyturn.rules.consent import ConsentChannel, ConsentRefusal

DocumentRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
EXAMPLE_PERSON_ID = "6f1c0a4e-0000-4000-8000-000000000002"
EXAMPLE_PROPERTY_ID = "6f1c0a4e-0000-4000-8000-000000000005"
EXAMPLE_PORTFOLIO_ID = "6f1c0a4e-0000-4000-8000-0000000000f0"
EXAMPLE_ON_FILE: dict[str, Any] = {
    "tenant_consent_at": "2026-03-02T09:00:00Z",
    "tenant_consent_via": "app",
    "tenant_consent_document": None,
    "guardian_consent_at": None,
    "guardian_consent_document": None,
}
EXAMPLE_AT_PROPERTY: dict[str, Any] = {
    **EXAMPLE_ON_FILE,
    "required": True,
    "collection_allowed": True,
    "missing": None,
}


def _example(example: dict[str, Any]) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class OwnConsentIn(BaseModel):
    """The caller's own express consent, given in the app: `consent` must be true."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"consent": True}]})

    consent: Agreed = Field(
        description="True: I agree that the building collects the credentials its locks check "
        "me against (doorcodes, keycards, phone keys), and nothing more"
    )


class WrittenConsentIn(BaseModel):
    """A consent on paper that a manager holds: the tenant's own, or a guardian's for a minor."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"kind": "guardian", "document": "Consent form 2026-014, office binder B"}]
        },
    )

    kind: Literal["tenant", "guardian"]
    document: DocumentRef = Field(description="Where the signed document is kept")


class ConsentOut(BaseModel):
    """The consents on file; `via` is `app` or `written` (a written one names its document)."""

    tenant_consent_at: datetime | None
    tenant_consent_via: ConsentChannel | None
    tenant_consent_document: str | None
    guardian_consent_at: datetime | None = Field(
        description="A parent's or guardian's written consent, needed for a minor in New York City"
    )
    guardian_consent_document: str | None


class ConsentAtPropertyOut(ConsentOut):
    """The consents on file and what this property's rules make of them."""

    model_config = _example(EXAMPLE_AT_PROPERTY)

    required: bool = Field(description="Whether this property needs consent from this person")
    collection_allowed: bool = Field(
        description="Whether credentials may be collected for this person here now"
    )
    missing: ConsentRefusal | None = Field(description="What must be recorded first, if anything")


class MissingConsentOut(BaseModel):
    model_config = _example(
        {"property_id": EXAMPLE_PROPERTY_ID, "missing": "guardian_written_consent_missing"}
    )

    property_id: str
    missing: ConsentRefusal


class PortfolioConsentOut(ConsentOut):
    """The consents one portfolio holds for the caller, and whether it knows them as a minor."""

    model_config = _example(
        {**EXAMPLE_ON_FILE, "portfolio_id": EXAMPLE_PORTFOLIO_ID, "is_minor": False}
    )

    portfolio_id: str
    is_minor: bool


class OwnConsentOut(BaseModel):
    """The caller's consents with each portfolio, and the properties where a credential would
    be refused now."""

    model_config = _example(
        {
            "portfolios": [
                {**EXAMPLE_ON_FILE, "portfolio_id": EXAMPLE_PORTFOLIO_ID, "is_minor": False}
            ],
            "missing_at": [],
        }
    )

    portfolios: list[PortfolioConsentOut]
    missing_at: list[MissingConsentOut]


class WithdrawalOut(BaseModel):
    """A withdrawn consent, the credentials it took away, and which locks have dropped them."""

    model_config = _example(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "tenant",
            "withdrawn_at": "2026-03-02T09:00:00Z",
            "revoked_doorcodes": 2,
            "removed_keycards": 1,
            "revoked_phones": 1,
            "revoked_temporary_codes": 0,
            "note": "Consent withdrawn. Credentials the rules no longer allow are revoked.",
            "locks": [],
        }
    )

    person_id: str
    kind: Literal["tenant", "guardian"]
    withdrawn_at: datetime
    revoked_doorcodes: int
    removed_keycards: int
    revoked_phones: int
    revoked_temporary_codes: int
    note: str
    locks: list[LockStatusOut]
