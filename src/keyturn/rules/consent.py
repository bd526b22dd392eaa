"""Whether a person's reference data (the credentials a lock checks them against) may be
collected, given the property's jurisdiction, the person's standing and the consent on file.

New York City (R5, R7) asks for a tenant's express consent, in the app or in writing, and for
a parent's or guardian's written consent before a minor's credentials; elsewhere none is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from keyturn.rules.types import Role

NYC = "US-NY-NYC"
# Jurisdictions whose law wants consent recorded before reference data is collected.
CONSENT_JURISDICTIONS = frozenset({NYC})
# Standing that makes someone a visitor or a worker at the building rather than its tenant.
NON_TENANT_ROLES = frozenset(
    {
        Role.PORTFOLIO_MANAGER,
        Role.PROPERTY_MANAGER,
        Role.STAFF,
        Role.GUEST,
        Role.SERVICE_PROVIDER,
        Role.COURIER,
    }
)


class ConsentChannel(StrEnum):
    """How a consent reached the building: the person's own click in the app, or a document."""

    APP = "app"
    WRITTEN = "written"


class ConsentRefusal(StrEnum):
    """Why reference data may not be collected yet; the stable value the API reports."""

    TENANT_CONSENT_MISSING = "tenant_consent_missing"
    GUARDIAN_WRITTEN_CONSENT_MISSING = "guardian_written_consent_missing"


@dataclass(frozen=True, slots=True)
class ConsentFacts:
    """What the rule needs about one person at one property.

    `roles` are the person's roles there and `resident_status` whether any key there was
    granted to them as a resident; `tenant_consent` and `guardian_consent` say how each
    consent on file was given (None when there is none).
    """

    jurisdiction: str
    roles: frozenset[Role] = frozenset()
    resident_status: bool = False
    minor: bool = False
    tenant_consent: ConsentChannel | None = None
    guardian_consent: ConsentChannel | None = None


def consent_required_in(jurisdiction: str) -> bool:
    return jurisdiction in CONSENT_JURISDICTIONS


def is_tenant(roles: frozenset[Role], resident_status: bool) -> bool:
    """A resident, a holder of resident status, or someone with no role that says otherwise.

    The last case keeps the default safe: a person whose standing is unknown is treated as a
    tenant, so consent is asked rather than skipped.
    """
    return resident_status or Role.RESIDENT in roles or not roles & NON_TENANT_ROLES


def collection_refusal(facts: ConsentFacts) -> ConsentRefusal | None:
    """None when the person's reference data may be collected at the property, else why not.

    A minor needs a parent's or guardian's WRITTEN consent whatever their role (their own
    consent does not count); an adult tenant needs their own consent, given in the app or in
    writing; other adults (staff, managers, guests, couriers, service providers) need none.
    """
    if not consent_required_in(facts.jurisdiction):
        return None
    if facts.minor:
        if facts.guardian_consent is ConsentChannel.WRITTEN:
            return None
        return ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING
    if is_tenant(facts.roles, facts.resident_status) and facts.tenant_consent is None:
        return ConsentRefusal.TENANT_CONSENT_MISSING
    return None
