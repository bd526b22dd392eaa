"""A person's profile with one portfolio: found or made, by person and property or portfolio.

Every per-person state a manager may change is read and written through these, so it is
always the profile of the acting property's portfolio that changes, never another's.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from keyturn.cloud.models import MobileKeyRegistration, Person, Profile, Property


def known_name(
    person_id: ColumnElement[str] | InstrumentedAttribute[str], portfolio_id: Any
) -> ColumnElement[str]:
    """SQL for the name a portfolio knows a person by: its profile's, else the account's.

    `person_id` is the person's id column of the enclosing query, which must also hold
    `Person`; `portfolio_id` is a column, a subquery or a bound parameter.
    """
    return func.coalesce(
        select(Profile.display_name)
        .where(Profile.person_id == person_id, Profile.portfolio_id == portfolio_id)
        .scalar_subquery(),
        Person.display_name,
    )


def portfolio_of(session: Session, property_id: str) -> str:
    """The portfolio a property belongs to."""
    return session.execute(
        select(Property.portfolio_id).where(Property.id == property_id)
    ).scalar_one()


def portfolios_of(session: Session, property_ids: Iterable[str]) -> dict[str, str]:
    """The portfolio of each of these properties, read in one query."""
    wanted = sorted(set(property_ids))
    if not wanted:
        return {}
    rows = session.execute(
        select(Property.id, Property.portfolio_id).where(Property.id.in_(wanted))
    )
    return {property_id: portfolio_id for property_id, portfolio_id in rows}


def _blank(person: Person, portfolio_id: str, display_name: str | None = None) -> Profile:
    """A profile with nothing on file, named as given or as the person was first known."""
    return Profile(
        person_id=person.id,
        portfolio_id=portfolio_id,
        display_name=display_name or person.display_name,
        is_minor=False,
    )


def _found(session: Session, person_id: str, portfolio_id: str) -> Profile | None:
    return session.scalars(
        select(Profile).where(Profile.person_id == person_id, Profile.portfolio_id == portfolio_id)
    ).first()


def profile_in(
    session: Session,
    *,
    person: Person,
    portfolio_id: str,
    display_name: str | None = None,
    now: datetime | None = None,
) -> Profile:
    """The person's profile with the portfolio, made (named `display_name`) if they have none."""
    found = _found(session, person.id, portfolio_id)
    if found is not None:
        return found
    profile = _blank(person, portfolio_id, display_name)
    if now is not None:
        profile.created_at = now
    session.add(profile)
    session.flush()
    return profile


def read_profile_at(session: Session, *, person: Person, property_id: str) -> Profile:
    """The person's profile with this property's portfolio, for reading: one with nothing on
    file (never saved) if the portfolio has none yet."""
    portfolio_id = portfolio_of(session, property_id)
    return _found(session, person.id, portfolio_id) or _blank(person, portfolio_id)


def profile_at(session: Session, *, person: Person, property_id: str) -> Profile:
    """The person's profile with the portfolio of this property, made if they have none."""
    return profile_in(session, person=person, portfolio_id=portfolio_of(session, property_id))


def profiles_of(session: Session, *, person_id: str) -> list[Profile]:
    """Every profile of the person, one per portfolio that knows them."""
    return list(
        session.scalars(
            select(Profile).where(Profile.person_id == person_id).order_by(Profile.portfolio_id)
        )
    )


def bar_phones(session: Session, *, person_id: str, portfolio_id: str, now: datetime) -> list[str]:
    """Bar every phone the person registered until now from the portfolio's doors; the ids of
    the live phones this bars (their registrations stay, for the person's other portfolios)."""
    profile = profile_in(
        session, person=session.get_one(Person, person_id), portfolio_id=portfolio_id
    )
    before = profile.phones_barred_before
    profile.phones_barred_before = now if before is None else max(before, now)
    return list(
        session.scalars(
            select(MobileKeyRegistration.id)
            .where(
                MobileKeyRegistration.person_id == person_id,
                MobileKeyRegistration.revoked_at.is_(None),
                MobileKeyRegistration.registered_at <= now,
                *(() if before is None else (MobileKeyRegistration.registered_at > before,)),
            )
            .order_by(MobileKeyRegistration.id)
        )
    )


def barred_phones(session: Session, *, profile: Profile) -> list[str]:
    """The ids of the person's live phones that the profile's portfolio has barred."""
    if profile.phones_barred_before is None:
        return []
    return list(
        session.scalars(
            select(MobileKeyRegistration.id)
            .where(
                MobileKeyRegistration.person_id == profile.person_id,
                MobileKeyRegistration.revoked_at.is_(None),
                MobileKeyRegistration.registered_at <= profile.phones_barred_before,
            )
            .order_by(MobileKeyRegistration.id)
        )
    )


def properties_in(session: Session, *, portfolio_id: str) -> list[str]:
    """The ids of the portfolio's properties."""
    return list(
        session.scalars(
            select(Property.id).where(Property.portfolio_id == portfolio_id).order_by(Property.id)
        )
    )
