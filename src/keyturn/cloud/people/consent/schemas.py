"""Request and response bodies of the consent routes (R5, R7) and the consent part of a person.

Requests refuse unknown fields; a written consent names its document and nothing about the
person who signed it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from keyturn.cloud.access.schemas import LockStatusOut
from keyturn.cloud.fields import (
    EXAMPLE_PERSON_ID,
    EXAMPLE_PROPERTY_ID,
    EXAMPLE_TIME,
    Agreed,
    example_config,
    example_id,
    strict_config,
)
from keyturn.rules.consent import ConsentChannel, ConsentRefusal

DocumentRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# A portfolio of the caller's own consents, numbered apart from the properties' examples.
EXAMPLE_OWN_PORTFOLIO_ID = example_id(0xF0)
EXAMPLE_ON_FILE: dict[str, Any] = {
    "tenant_consent_at": EXAMPLE_TIME,
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


class OwnConsentIn(BaseModel):
    """The caller's own express consent, given in the app: `consent` must be true."""

    model_config = strict_config({"consent": True})

    consent: Agreed = Field(
        description="True: I agree that the building collects the credentials its locks check "
        "me against (doorcodes, keycards, phone keys), and nothing more"
    )


class WrittenConsentIn(BaseModel):
    """A consent on paper that a manager holds: the tenant's own, or a guardian's for a minor."""

    model_config = strict_config(
        {"kind": "guardian", "document": "Consent form 2026-014, office binder B"}
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

    model_config = example_config(EXAMPLE_AT_PROPERTY)

    required: bool = Field(description="Whether this property needs consent from this person")
    collection_allowed: bool = Field(
        description="Whether credentials may be collected for this person here now"
    )
    missing: ConsentRefusal | None = Field(description="What must be recorded first, if anything")


class MissingConsentOut(BaseModel):
    model_config = example_config(
        {"property_id": EXAMPLE_PROPERTY_ID, "missing": "guardian_written_consent_missing"}
    )

    property_id: str
    missing: ConsentRefusal


class PortfolioConsentOut(ConsentOut):
    """The consents one portfolio holds for the caller, and whether it knows them as a minor."""

    model_config = example_config(
        {**EXAMPLE_ON_FILE, "portfolio_id": EXAMPLE_OWN_PORTFOLIO_ID, "is_minor": False}
    )

    portfolio_id: str
    is_minor: bool


class OwnConsentOut(BaseModel):
    """The caller's consents with each portfolio, and the properties where a credential would
    be refused now."""

    model_config = example_config(
        {
            "portfolios": [
                {**EXAMPLE_ON_FILE, "portfolio_id": EXAMPLE_OWN_PORTFOLIO_ID, "is_minor": False}
            ],
            "missing_at": [],
        }
    )

    portfolios: list[PortfolioConsentOut]
    missing_at: list[MissingConsentOut]


class WithdrawalOut(BaseModel):
    """A withdrawn consent, the credentials it took away, and which locks have dropped them."""

    model_config = example_config(
        {
            "person_id": EXAMPLE_PERSON_ID,
            "kind": "tenant",
            "withdrawn_at": EXAMPLE_TIME,
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
