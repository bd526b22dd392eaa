"""Recording, withdrawing and reading the consent to collect a person's reference data (R5, R7).

Consent is kept per portfolio, in the person's Profile there: a manager records or withdraws
it for their own portfolio only; the person's own consent in the app applies to every
portfolio that knows them. Every recording and withdrawal goes to the audit record. A
withdrawal revokes the credentials the rule no longer allows in the same transaction (in the
portfolios it concerns), so the flush check always holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.access.doors import person_door_ids
from keyturn.cloud.access.rollout import LockStatus, lock_status, publish
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    OneTimeCode,
    Person,
    Profile,
    Property,
    RoleMembership,
)
from keyturn.cloud.people.consent.check import (
    PersonConsent,
    Refused,
    consent_of,
    consents_of,
    holdings,
    refusals,
    standings,
)
from keyturn.cloud.people.profiles import (
    bar_phones,
    portfolios_of,
    profile_at,
    profile_in,
    profiles_of,
    read_profile_at,
)
from keyturn.cloud.people.service import person_at
from keyturn.cloud.privacy import audit
from keyturn.rules.consent import (
    ConsentRefusal,
    collection_refusal,
    consent_required_in,
    is_tenant,
)

WITHDRAWN_NOTE = (
    "Consent withdrawn. Credentials the rules no longer allow in this portfolio are revoked "
    "(keycards removed, phones barred here); each lock drops them at its next sync, see "
    "`locks`. Revoked codes are deleted by the retention job within the property's retention "
    "period."
)


class ConsentKind(StrEnum):
    """Whose consent: the tenant's own, or a parent's or guardian's for a minor."""

    TENANT = "tenant"
    GUARDIAN = "guardian"


@dataclass(frozen=True, slots=True)
class ConsentAt:
    """A person's consent as it matters at one property."""

    on_file: PersonConsent
    required: bool
    missing: ConsentRefusal | None


@dataclass
class Withdrawal:
    """What withdrawing a consent took away, and how far the locks have got."""

    person_id: str
    kind: ConsentKind
    withdrawn_at: datetime
    revoked_doorcodes: int = 0
    removed_keycards: int = 0
    revoked_phones: int = 0
    revoked_temporary_codes: int = 0
    locks: list[LockStatus] = field(default_factory=list)


def consent_at(session: Session, person: Person, property_id: str) -> ConsentAt:
    """Whether the property needs consent for this person, and what is missing if anything."""
    jurisdiction = session.get_one(Property, property_id).jurisdiction
    roles, resident = standings(session.connection(), [person.id], [property_id])[
        (person.id, property_id)
    ]
    on_file = consent_of(read_profile_at(session, person=person, property_id=property_id))
    required = consent_required_in(jurisdiction) and (on_file.minor or is_tenant(roles, resident))
    missing = collection_refusal(on_file.facts(jurisdiction, roles, resident))
    return ConsentAt(on_file, required, missing)


def _places(session: Session, person_id: str) -> set[str]:
    return set(
        session.execute(
            select(RoleMembership.property_id).where(RoleMembership.person_id == person_id)
        ).scalars()
    )


def own_profiles(session: Session, person: Person) -> list[Profile]:
    """The person's profile with every portfolio where they have a role, a grant or a
    credential (made if missing): the portfolios that know them."""
    granted = set(
        session.execute(
            select(Key.property_id)
            .join(Grant, Grant.key_id == Key.id)
            .where(Grant.person_id == person.id)
        ).scalars()
    )
    held = holdings(session.connection(), [person.id]).get(person.id, set())
    places = _places(session, person.id) | granted | held
    portfolios = sorted(set(portfolios_of(session, places).values()))
    return [profile_in(session, person=person, portfolio_id=found) for found in portfolios]


def missing_anywhere(session: Session, person: Person) -> list[Refused]:
    """Every property where the person has a role and collection would be refused now."""
    connection = session.connection()
    return refusals(
        connection, consents_of(connection, [person.id]), {person.id: _places(session, person.id)}
    )


def record_in_app(session: Session, person: Person, now: datetime) -> bool:
    """The person's own express consent, given in the app, with every portfolio that knows
    them and has none on file; False if there was none to give."""
    given = False
    for profile in own_profiles(session, person):
        if profile.nyc_consent_at is not None:
            continue
        profile.nyc_consent_at = now
        profile.nyc_consent_document = None
        given = True
    if given:
        _audit(
            session, person.id, "consent.recorded", person.id, None, now, ConsentKind.TENANT, "app"
        )
    return given


@dataclass(frozen=True, slots=True)
class ConsentHere:
    """A person's consents on file with one property's portfolio, and what the property makes
    of them."""

    profile: Profile
    state: ConsentAt


@dataclass(frozen=True, slots=True)
class OwnConsents:
    """The caller's consents with each portfolio that knows them, and where a credential
    would be refused now for lack of one."""

    portfolios: list[tuple[Profile, PersonConsent]]
    missing: list[Refused]


def own_consents(*, session: Session, person_id: str) -> OwnConsents:
    session.flush()
    person = session.get_one(Person, person_id)
    return OwnConsents(
        [(profile, consent_of(profile)) for profile in profiles_of(session, person_id=person.id)],
        missing_anywhere(session, person),
    )


def own_consent_at(*, session: Session, person_id: str, property_id: str) -> ConsentHere:
    """The caller's consents on file with this property's portfolio and what the property
    makes of them (required here, and what is missing), for the person's own page."""
    session.flush()
    person = session.get_one(Person, person_id)
    profile = read_profile_at(session, person=person, property_id=property_id)
    return ConsentHere(profile, consent_at(session, person, property_id))


def give_own_consent(*, session: Session, person_id: str, now: datetime) -> OwnConsents:
    """`record_in_app` for the caller, and their consents as they now stand."""
    record_in_app(session, session.get_one(Person, person_id), now)
    return own_consents(session=session, person_id=person_id)


def record_written_consent(
    *,
    session: Session,
    property_id: str,
    person_id: str,
    kind: ConsentKind,
    document: str,
    recorded_by: str,
    now: datetime,
) -> ConsentHere:
    """A written consent a manager holds, kept with the person's profile at the manager's
    portfolio: the tenant's own, or a guardian's for a minor.

    `document` says where the signed paper or file is; nothing else about the signer (their
    name, their relation to the minor) is collected (R7).
    """
    return record_written(
        session=session,
        person=person_at(session, property_id, person_id),
        property_id=property_id,
        kind=kind,
        document=document,
        recorded_by=recorded_by,
        now=now,
    )


def record_written(
    *,
    session: Session,
    person: Person,
    property_id: str,
    kind: ConsentKind,
    document: str,
    recorded_by: str,
    now: datetime,
) -> ConsentHere:
    """`record_written_consent` for a person already found (or, in setup, known by no role)."""
    profile = profile_at(session, person=person, property_id=property_id)
    if kind is ConsentKind.TENANT:
        profile.nyc_consent_at, profile.nyc_consent_document = now, document
    else:
        profile.guardian_consent_at, profile.guardian_consent_document = now, document
    _audit(
        session,
        profile.person_id,
        "consent.recorded",
        recorded_by,
        property_id,
        now,
        kind,
        "written",
        document,
    )
    session.flush()
    return ConsentHere(profile, consent_at(session, person, property_id))


def withdraw_own_consent(
    *, session: Session, master_key: bytes, person_id: str, now: datetime
) -> Withdrawal:
    """The caller withdraws their own consent, with every portfolio that knows them."""
    return _withdraw(
        session=session,
        master_key=master_key,
        person=session.get_one(Person, person_id),
        kind=ConsentKind.TENANT,
        actor_id=person_id,
        property_id=None,
        now=now,
    )


def withdraw_consent(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    kind: ConsentKind,
    withdrawn_by: str,
    now: datetime,
) -> Withdrawal:
    """A manager records that a person of this property withdrew a consent (in writing or in
    person), with this property's portfolio only."""
    return _withdraw(
        session=session,
        master_key=master_key,
        person=person_at(session, property_id, person_id),
        kind=kind,
        actor_id=withdrawn_by,
        property_id=property_id,
        now=now,
    )


def _withdraw(
    *,
    session: Session,
    master_key: bytes,
    person: Person,
    kind: ConsentKind,
    actor_id: str,
    property_id: str | None,
    now: datetime,
) -> Withdrawal:
    """Clear one consent and revoke every credential the rule no longer allows.

    A manager (`property_id` given) withdraws it with that property's portfolio only; the
    person themself (no `property_id`) with every portfolio. Where a property of those
    portfolios now refuses collection, the person's doorcodes and temporary codes there are
    revoked, their keycards there deleted, and their phones barred in that portfolio (a phone
    serves every property of a portfolio). Each lock drops them at its next sync.
    Withdrawing a consent that is not on file changes nothing and is not audited.
    """
    outcome = Withdrawal(person.id, kind, now)
    if property_id is None:
        concerned = profiles_of(session, person_id=person.id)
    else:
        concerned = [profile_at(session, person=person, property_id=property_id)]
    concerned = [profile for profile in concerned if _on_file(profile, kind) is not None]
    if not concerned:
        return outcome
    portfolios = {profile.portfolio_id for profile in concerned}
    # Nothing may flush before the revocations: the check would refuse the half-done state.
    with session.no_autoflush:
        for profile in concerned:
            if kind is ConsentKind.TENANT:
                profile.nyc_consent_at, profile.nyc_consent_document = None, None
            else:
                profile.guardian_consent_at, profile.guardian_consent_document = None, None
        connection = session.connection()
        consents = {
            **consents_of(connection, [person.id]),
            **{(person.id, profile.portfolio_id): consent_of(profile) for profile in concerned},
        }
        held = holdings(connection, [person.id])
        # The person's places in the portfolios this withdrawal concerns.
        portfolio_at = portfolios_of(
            session, held.get(person.id, set()) | _places(session, person.id)
        )
        places = {place for place, found in portfolio_at.items() if found in portfolios}
        refused = {
            found.property_id
            for found in refusals(connection, consents, held)
            if found.property_id in places
        }
        if refused:
            _revoke(
                session,
                person.id,
                refused,
                {portfolio_at[place] for place in refused},
                outcome,
                now,
            )
    detail = {
        "revoked_doorcodes": outcome.revoked_doorcodes,
        "removed_keycards": outcome.removed_keycards,
        "revoked_phones": outcome.revoked_phones,
        "revoked_temporary_codes": outcome.revoked_temporary_codes,
    }
    _audit(session, person.id, "consent.withdrawn", actor_id, property_id, now, kind, extra=detail)
    if refused:
        doors = sorted(
            {door for place in places for door in person_door_ids(session, place, person.id)}
        )
        publish(session, master_key, doors, now)
        outcome.locks = lock_status(session, doors, now)
    session.flush()
    return outcome


def _on_file(profile: Profile, kind: ConsentKind) -> datetime | None:
    return profile.nyc_consent_at if kind is ConsentKind.TENANT else profile.guardian_consent_at


def _revoke(
    session: Session,
    person_id: str,
    places: set[str],
    portfolios: set[str],
    outcome: Withdrawal,
    now: datetime,
) -> None:
    """Revoke the person's credentials at PLACES, and bar their phones in PORTFOLIOS (those of
    the places)."""
    at_places = select(Door.id).where(Door.property_id.in_(sorted(places)))
    for code in session.scalars(
        select(Doorcode).where(
            Doorcode.person_id == person_id,
            Doorcode.door_id.in_(at_places),
            Doorcode.revoked_at.is_(None),
        )
    ):
        code.revoked_at = now
        outcome.revoked_doorcodes += 1
    # A card has no revocation time that retention could age out: remove it outright.
    for card in session.scalars(
        select(Keycard).where(
            Keycard.person_id == person_id, Keycard.property_id.in_(sorted(places))
        )
    ):
        session.delete(card)
        outcome.removed_keycards += 1
    for temporary in session.scalars(
        select(OneTimeCode).where(
            OneTimeCode.issued_for == person_id,
            OneTimeCode.door_id.in_(at_places),
            OneTimeCode.revoked_at.is_(None),
        )
    ):
        temporary.revoked_at = now
        outcome.revoked_temporary_codes += 1
    for portfolio_id in sorted(portfolios):
        outcome.revoked_phones += len(
            bar_phones(session, person_id=person_id, portfolio_id=portfolio_id, now=now)
        )


def _audit(
    session: Session,
    person_id: str,
    action: str,
    actor_id: str | None,
    property_id: str | None,
    now: datetime,
    kind: ConsentKind,
    via: str | None = None,
    document: str | None = None,
    extra: dict[str, int] | None = None,
) -> None:
    detail: dict[str, object] = {"consent": kind.value}
    if via is not None:
        detail["via"] = via
    if document is not None:
        detail["document"] = document
    detail.update(extra or {})
    audit.record(
        session,
        now=now,
        actor_person_id=actor_id,
        action=action,
        object_type="person",
        object_id=person_id,
        property_id=property_id,
        detail=detail,
    )
