"""HTTP routes for consent to collect reference data (R5, R7): a person's own consent in the
app, and the written consents (a tenant's, a guardian's for a minor) that managers record.

Each recording and withdrawal is audited; a withdrawal revokes what the rules no longer allow.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter

from keyturn.cloud.access.answers import locks_out
from keyturn.cloud.auth.deps import Db, MasterKey, Now, requires
from keyturn.cloud.auth.permissions import Action, Principal
from keyturn.cloud.models import Profile
from keyturn.cloud.people.consent import service as consent
from keyturn.cloud.people.consent.check import PersonConsent
from keyturn.cloud.people.consent.schemas import (
    ConsentAtPropertyOut,
    ConsentOut,
    MissingConsentOut,
    OwnConsentIn,
    OwnConsentOut,
    PortfolioConsentOut,
    WithdrawalOut,
    WrittenConsentIn,
)
from keyturn.cloud.people.consent.service import ConsentAt, ConsentKind, OwnConsents, Withdrawal

router = APIRouter(tags=["consent"])


def _on_file(profile: Profile, on_file: PersonConsent) -> dict[str, Any]:
    return ConsentOut(
        tenant_consent_at=profile.nyc_consent_at,
        tenant_consent_via=on_file.tenant_consent,
        tenant_consent_document=profile.nyc_consent_document,
        guardian_consent_at=profile.guardian_consent_at,
        guardian_consent_document=profile.guardian_consent_document,
    ).model_dump()


def consent_at_out(profile: Profile, state: ConsentAt) -> ConsentAtPropertyOut:
    """The consent part of a person as one property sees it."""
    return ConsentAtPropertyOut(
        **_on_file(profile, state.on_file),
        required=state.required,
        collection_allowed=state.missing is None,
        missing=state.missing,
    )


def _own_out(own: OwnConsents) -> OwnConsentOut:
    return OwnConsentOut(
        portfolios=[
            PortfolioConsentOut(
                **_on_file(profile, on_file),
                portfolio_id=profile.portfolio_id,
                is_minor=profile.is_minor,
            )
            for profile, on_file in own.portfolios
        ],
        missing_at=[
            MissingConsentOut(property_id=found.property_id, missing=found.refusal)
            for found in own.missing
        ],
    )


def _withdrawal_out(done: Withdrawal) -> WithdrawalOut:
    return WithdrawalOut(
        person_id=done.person_id,
        kind=done.kind.value,
        withdrawn_at=done.withdrawn_at,
        revoked_doorcodes=done.revoked_doorcodes,
        removed_keycards=done.removed_keycards,
        revoked_phones=done.revoked_phones,
        revoked_temporary_codes=done.revoked_temporary_codes,
        note=consent.WITHDRAWN_NOTE,
        locks=locks_out(done.locks),
    )


@router.get("/account/consent", response_model=OwnConsentOut)
def read_own_consent(
    principal: Annotated[Principal, requires(Action.ACCOUNT_READ)], db: Db
) -> OwnConsentOut:
    """The caller's consents on file with each portfolio that knows them, and where a
    credential would be refused for lack of one."""
    return _own_out(consent.own_consents(session=db, person_id=principal.person_id))


@router.post("/account/consent", response_model=OwnConsentOut)
def give_own_consent(
    _body: OwnConsentIn,
    principal: Annotated[Principal, requires(Action.CONSENT_SELF)],
    db: Db,
    now: Now,
) -> OwnConsentOut:
    """Give express consent in the app to the collection of one's credentials (R5).

    Needed before a New York City building collects a tenant's doorcodes, keycards or phone
    keys; it is given to every portfolio where the caller has a role. A minor's own consent
    is recorded but does not count: a manager records a parent's or guardian's written
    consent instead (R7).
    """
    own = consent.give_own_consent(session=db, person_id=principal.person_id, now=now)
    db.commit()
    return _own_out(own)


@router.delete("/account/consent", response_model=WithdrawalOut)
def withdraw_own_consent(
    principal: Annotated[Principal, requires(Action.CONSENT_SELF)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> WithdrawalOut:
    """Withdraw one's own consent: credentials it allowed are revoked at once (see `locks`)."""
    done = consent.withdraw_own_consent(
        session=db, master_key=master_key, person_id=principal.person_id, now=now
    )
    db.commit()
    return _withdrawal_out(done)


@router.post(
    "/properties/{property_id}/people/{person_id}/consent", response_model=ConsentAtPropertyOut
)
def record_written_consent(
    property_id: str,
    person_id: str,
    body: WrittenConsentIn,
    principal: Annotated[Principal, requires(Action.CONSENT_RECORD)],
    db: Db,
    now: Now,
) -> ConsentAtPropertyOut:
    """Record a written consent the building holds: the tenant's own, or for a minor a
    parent's or guardian's (the only consent that lets a minor's credentials be collected in
    New York City). `document` says where the signed paper is; nothing about the signer is kept.
    """
    here = consent.record_written_consent(
        session=db,
        property_id=property_id,
        person_id=person_id,
        kind=ConsentKind(body.kind),
        document=body.document,
        recorded_by=principal.person_id,
        now=now,
    )
    db.commit()
    return consent_at_out(here.profile, here.state)


@router.delete(
    "/properties/{property_id}/people/{person_id}/consent/{kind}", response_model=WithdrawalOut
)
def withdraw_consent(
    property_id: str,
    person_id: str,
    kind: Literal["tenant", "guardian"],
    principal: Annotated[Principal, requires(Action.CONSENT_RECORD)],
    db: Db,
    now: Now,
    master_key: MasterKey,
) -> WithdrawalOut:
    """Record that a consent was withdrawn (in writing or in person): credentials it allowed
    are revoked at once, and each lock drops them at its next sync (`locks`)."""
    done = consent.withdraw_consent(
        session=db,
        master_key=master_key,
        property_id=property_id,
        person_id=person_id,
        kind=ConsentKind(kind),
        withdrawn_by=principal.person_id,
        now=now,
    )
    db.commit()
    return _withdrawal_out(done)
