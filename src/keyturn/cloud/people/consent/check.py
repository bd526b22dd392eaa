"""The one place that stops a credential from being collected without the consent the law asks
for (R5, R7): a check run after every flush of a cloud session (installed by
keyturn.cloud.sessions), on every path that writes.

A flush that collects a credential (a new or re-activated doorcode, keycard, phone
registration or temporary code) or changes a person's consent or minor flag has every live
credential of the people concerned checked against `rules.consent.collection_refusal`; a
refusal raises ConsentRequired, the transaction is rolled back and the API answers 409
`consent-required`. Consent and minor status are per portfolio (the person's Profile there):
a person with no profile with a portfolio has no consent on file there. Writes that bypass
the Session (Core statements on a Connection, bulk ORM statements) are NOT seen: every
writer of credentials must go through the unit of work.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, and_, inspect, or_, select
from sqlalchemy.orm import Session, UOWTransaction

from keyturn.cloud.errors import Refusal
from keyturn.cloud.models import (
    Door,
    Doorcode,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    Profile,
    Property,
    RoleMembership,
)
from keyturn.rules.consent import (
    CONSENT_JURISDICTIONS,
    ConsentChannel,
    ConsentFacts,
    ConsentRefusal,
    collection_refusal,
)
from keyturn.rules.types import Role

EXPLANATIONS = {
    ConsentRefusal.TENANT_CONSENT_MISSING: (
        "in New York City a tenant's credentials are collected only after the tenant's express "
        "consent is recorded: they agree in the app (POST /api/v1/account/consent) or a manager "
        "records their written consent"
    ),
    ConsentRefusal.GUARDIAN_WRITTEN_CONSENT_MISSING: (
        "in New York City a minor's credentials need a parent's or guardian's written consent, "
        "recorded by a manager with a reference to the document; the minor's own consent does "
        "not count"
    ),
}
CREDENTIALS = (Doorcode, Keycard, MobileKeyRegistration, OneTimeCode)
# The columns whose change can make a held credential need consent it lacks.
_WATCHED: dict[type[Any], tuple[str, ...]] = {
    Doorcode: ("person_id", "door_id", "revoked_at"),
    Keycard: ("person_id", "property_id", "active"),
    MobileKeyRegistration: ("person_id", "revoked_at"),
    OneTimeCode: ("issued_for", "revoked_at"),
    Profile: (
        "is_minor",
        "nyc_consent_at",
        "nyc_consent_document",
        "guardian_consent_at",
        "guardian_consent_document",
    ),
}
_PROFILE_CONSENT_COLUMNS = (
    Profile.person_id,
    Profile.portfolio_id,
    Profile.is_minor,
    Profile.nyc_consent_at,
    Profile.nyc_consent_document,
    Profile.guardian_consent_at,
    Profile.guardian_consent_document,
)
# Consents on file, by (person, portfolio); a pair that is missing has none.
Consents = Mapping[tuple[str, str], "PersonConsent"]


@dataclass(frozen=True, slots=True)
class Refused:
    """A person whose live credentials at a property lack the consent the rule asks for."""

    person_id: str
    property_id: str
    refusal: ConsentRefusal


class ConsentRequired(Refusal):
    """Reference data would be held without the consent R5 or R7 asks for; nothing is written."""

    status = 409
    kind = "consent-required"
    title = "Consent must be recorded before this person's credentials are collected"

    def __init__(self, refused: Refused) -> None:
        super().__init__(
            EXPLANATIONS[refused.refusal],
            members={
                "person_id": refused.person_id,
                "property_id": refused.property_id,
                "missing": refused.refusal.value,
            },
        )


@dataclass(frozen=True, slots=True)
class PersonConsent:
    """What is on file for one person: the minor flag and how each consent was given."""

    minor: bool
    tenant_consent: ConsentChannel | None
    guardian_consent: ConsentChannel | None

    def facts(
        self, jurisdiction: str, roles: frozenset[Role] = frozenset(), resident: bool = False
    ) -> ConsentFacts:
        return ConsentFacts(
            jurisdiction, roles, resident, self.minor, self.tenant_consent, self.guardian_consent
        )


NOTHING_ON_FILE = PersonConsent(minor=False, tenant_consent=None, guardian_consent=None)


def consent_of(person: Any) -> PersonConsent:
    """The consent on file in a Profile (or a row with its consent columns).

    A consent with a document reference was given in writing, one without in the app; a
    guardian's consent is only ever written, so one without a document does not count.
    """
    tenant = None
    if person.nyc_consent_at is not None:
        tenant = ConsentChannel.WRITTEN if person.nyc_consent_document else ConsentChannel.APP
    guardian = None
    if person.guardian_consent_at is not None and person.guardian_consent_document:
        guardian = ConsentChannel.WRITTEN
    return PersonConsent(bool(person.is_minor), tenant, guardian)


def holdings(connection: Connection, person_ids: Iterable[str]) -> dict[str, set[str]]:
    """Per person, the properties where they hold live reference data.

    A phone registration is not tied to a property: it counts at every property where its
    holder has a role or an unrevoked grant, since mobile keys for any of them bind to it.
    """
    wanted = sorted(set(person_ids))
    held: dict[str, set[str]] = defaultdict(set)
    if not wanted:
        return {}
    located = (
        select(Doorcode.person_id, Door.property_id)
        .join(Door, Door.id == Doorcode.door_id)
        .where(Doorcode.person_id.in_(wanted), Doorcode.revoked_at.is_(None)),
        select(Keycard.person_id, Keycard.property_id).where(
            Keycard.person_id.in_(wanted), Keycard.active.is_(True)
        ),
        select(OneTimeCode.issued_for, Door.property_id)
        .join(Door, Door.id == OneTimeCode.door_id)
        .where(OneTimeCode.issued_for.in_(wanted), OneTimeCode.revoked_at.is_(None)),
    )
    for query in located:
        for person_id, property_id in connection.execute(query):
            if person_id is not None:
                held[person_id].add(property_id)
    phones = sorted(
        connection.execute(
            select(MobileKeyRegistration.person_id)
            .where(
                MobileKeyRegistration.person_id.in_(wanted),
                MobileKeyRegistration.revoked_at.is_(None),
            )
            .distinct()
        ).scalars()
    )
    if phones:
        places = (
            _phone_usable(
                select(RoleMembership.person_id, RoleMembership.property_id)
                .join(Property, Property.id == RoleMembership.property_id)
                .where(RoleMembership.person_id.in_(phones), RoleMembership.in_force()),
                RoleMembership.person_id,
            ),
            _phone_usable(
                select(Grant.person_id, Key.property_id)
                .join(Key, Key.id == Grant.key_id)
                .join(Property, Property.id == Key.property_id)
                .where(Grant.person_id.in_(phones), Grant.revoked_at.is_(None)),
                Grant.person_id,
            ),
        )
        for usable in places:
            for person_id, property_id in connection.execute(usable):
                held[person_id].add(property_id)
    return dict(held)


def _phone_usable(query: Select[str, str], person_id: Any) -> Select[str, str]:
    """QUERY (joined to Property) kept where the person has a live phone that the property's
    portfolio has not barred (see Profile.phones_barred_before)."""
    return (
        query.join(
            MobileKeyRegistration,
            and_(
                MobileKeyRegistration.person_id == person_id,
                MobileKeyRegistration.revoked_at.is_(None),
            ),
        )
        .outerjoin(
            Profile,
            and_(Profile.person_id == person_id, Profile.portfolio_id == Property.portfolio_id),
        )
        .where(
            or_(
                Profile.phones_barred_before.is_(None),
                MobileKeyRegistration.registered_at > Profile.phones_barred_before,
            )
        )
    )


def standings(
    connection: Connection, person_ids: Iterable[str], property_ids: Iterable[str]
) -> dict[tuple[str, str], tuple[frozenset[Role], bool]]:
    """Per (person, property): their roles there and whether they hold resident status."""
    people, places = sorted(set(person_ids)), sorted(set(property_ids))
    roles: dict[tuple[str, str], set[Role]] = defaultdict(set)
    for person_id, property_id, role in connection.execute(
        select(RoleMembership.person_id, RoleMembership.property_id, RoleMembership.role).where(
            RoleMembership.person_id.in_(people),
            RoleMembership.property_id.in_(places),
            RoleMembership.in_force(),
        )
    ):
        roles[(person_id, property_id)].add(Role(role))
    resident = {
        (person_id, property_id)
        for person_id, property_id in connection.execute(
            select(Grant.person_id, Key.property_id)
            .join(Key, Key.id == Grant.key_id)
            .where(
                Grant.person_id.in_(people),
                Key.property_id.in_(places),
                Grant.resident.is_(True),
                Grant.revoked_at.is_(None),
            )
        )
    }
    return {
        (person_id, property_id): (
            frozenset(roles.get((person_id, property_id), ())),
            (person_id, property_id) in resident,
        )
        for person_id in people
        for property_id in places
    }


def consent_jurisdictions(
    connection: Connection, property_ids: Iterable[str]
) -> dict[str, tuple[str, str]]:
    """The properties among these whose jurisdiction asks for consent: their jurisdiction and
    portfolio."""
    wanted = sorted(set(property_ids))
    if not wanted:
        return {}
    rows = connection.execute(
        select(Property.id, Property.jurisdiction, Property.portfolio_id).where(
            Property.id.in_(wanted), Property.jurisdiction.in_(sorted(CONSENT_JURISDICTIONS))
        )
    )
    return {property_id: (jurisdiction, portfolio) for property_id, jurisdiction, portfolio in rows}


def consents_of(
    connection: Connection, person_ids: Iterable[str]
) -> dict[tuple[str, str], PersonConsent]:
    """Every consent on file for these people, by (person, portfolio)."""
    rows = connection.execute(
        select(*_PROFILE_CONSENT_COLUMNS).where(Profile.person_id.in_(sorted(set(person_ids))))
    )
    return {(row.person_id, row.portfolio_id): consent_of(row) for row in rows}


def refusals(
    connection: Connection,
    consents: Consents,
    held: Mapping[str, set[str]],
) -> list[Refused]:
    """Every (person, property) where held reference data lacks the consent the rule asks for,
    judged by the person's consent with that property's portfolio."""
    places = consent_jurisdictions(connection, set().union(*held.values()) if held else ())
    if not places:
        return []
    standing = standings(connection, held, places)
    found = []
    for person_id in sorted(held):
        for property_id in sorted(held[person_id] & places.keys()):
            jurisdiction, portfolio_id = places[property_id]
            roles, resident = standing[(person_id, property_id)]
            on_file = consents.get((person_id, portfolio_id), NOTHING_ON_FILE)
            refusal = collection_refusal(on_file.facts(jurisdiction, roles, resident))
            if refusal is not None:
                found.append(Refused(person_id, property_id, refusal))
    return found


def _owner(obj: Any) -> str | None:
    if isinstance(obj, OneTimeCode):
        return obj.issued_for
    person_id: str | None = obj.person_id
    return person_id


def _concerned(session: Session) -> set[str]:
    """The people whose held reference data this flush may have put in need of consent."""
    people = {_owner(obj) for obj in session.new if isinstance(obj, CREDENTIALS)}
    for obj in session.dirty:
        watched = _WATCHED.get(type(obj))
        if watched and any(inspect(obj).attrs[name].history.has_changes() for name in watched):
            people.add(_owner(obj))
    return {person_id for person_id in people if person_id is not None}


def check_consent(session: Session, _context: UOWTransaction) -> None:
    """Refuse the flush if it leaves any concerned person's credentials without consent."""
    people = _concerned(session)
    if not people:
        return
    connection = session.connection()
    found = refusals(connection, consents_of(connection, people), holdings(connection, people))
    if found:
        raise ConsentRequired(found[0])
