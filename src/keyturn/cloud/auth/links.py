"""Password reset, invitations and other emailed one-time links: random, stored hashed,
single use; `issue_link` and `spend_link` serve the links other domains mail.

A link's secret travels in the URL fragment, which browsers never send to servers or put in
Referer headers; the page posts it back to the API together with the new password.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from keyturn.cloud.auth import opaque, service, throttle
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import Conflict, InvalidLink, NotFound
from keyturn.cloud.auth.passwords import hash_password
from keyturn.cloud.mail.service import enqueue_mail
from keyturn.cloud.models import (
    Account,
    EmailLink,
    LinkPurpose,
    Person,
    Property,
    RoleMembership,
    Unit,
)
from keyturn.cloud.people.profiles import profile_in
from keyturn.rules.types import Role

RESET_SUBJECT = "Reset your Keyturn password"
INVITATION_SUBJECT = "You are invited to Keyturn"
ACCESS_SUBJECT = "You have access to a new building on Keyturn"


def request_password_reset(
    *, session: Session, config: AuthConfig, email: str, now: datetime
) -> None:
    """Email a reset link if a person has this address; say nothing either way.

    At most `max_reset_links_per_hour` links go to one person per hour, so the endpoint
    cannot be used to flood a mailbox.
    """
    person = session.execute(
        select(Person).where(Person.email == email.strip().lower())
    ).scalar_one_or_none()
    if person is None or person.email is None:
        return
    recent = session.execute(
        select(func.count(EmailLink.id)).where(
            EmailLink.person_id == person.id,
            EmailLink.purpose == LinkPurpose.PASSWORD_RESET,
            EmailLink.created_at > now - timedelta(hours=1),
        )
    ).scalar_one()
    if recent >= config.max_reset_links_per_hour:
        return
    secret = _new_link(
        session, person.id, LinkPurpose.PASSWORD_RESET, config.reset_link_lifetime_s, None, now
    )
    minutes = config.reset_link_lifetime_s // 60
    body = (
        f"Hello {person.display_name},\n\n"
        "Someone asked to reset the password of your Keyturn account. If it was you, open\n"
        f"this link within {minutes} minutes; it works once:\n\n"
        f"{config.public_url}/reset-password#token={secret}\n\n"
        "If it was not you, ignore this email: your password stays as it is.\n"
    )
    enqueue_mail(session, person.email, RESET_SUBJECT, body, person_id=person.id)


def reset_password(*, session: Session, secret: str, password: str, now: datetime) -> None:
    """Set the password through a reset link and end every session and token of the account."""
    person_id = _consume(session, secret, LinkPurpose.PASSWORD_RESET, now)
    account = _set_password(session, person_id, password, now)
    service.revoke_everything(session, account.id, now)
    person = session.get_one(Person, person_id)
    if person.email is not None:
        throttle.clear(session, opaque.email_digest(person.email))


def invite(
    *,
    session: Session,
    config: AuthConfig,
    inviter_id: str,
    property_id: str,
    email: str,
    display_name: str,
    role: Role,
    unit_id: str | None,
    now: datetime,
) -> RoleMembership:
    """Give a person (new or known by email) a role at the property, and email them.

    The portfolio keeps its own profile of the person, named `display_name` when it has none
    yet: a person already known elsewhere keeps the name and state other portfolios hold.
    Someone without a password gets a one-time link to set one; someone with an account
    gets a notice only. A resident's unit must belong to the property (else NotFound).
    """
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        if unit is None or unit.property_id != property_id:
            raise NotFound()
    prop = session.get_one(Property, property_id)
    person = session.execute(
        select(Person).where(Person.email == email.strip().lower())
    ).scalar_one_or_none()
    if person is None:
        person = Person(display_name=display_name, email=email, created_at=now)
        session.add(person)
        session.flush()
    profile = profile_in(
        session, person=person, portfolio_id=prop.portfolio_id, display_name=display_name, now=now
    )
    existing = session.execute(
        select(RoleMembership.id).where(
            RoleMembership.person_id == person.id,
            RoleMembership.property_id == property_id,
            RoleMembership.role == role,
            RoleMembership.in_force(),
            RoleMembership.unit_id.is_(None)
            if unit_id is None
            else RoleMembership.unit_id == unit_id,
        )
    ).first()
    if existing is not None:
        raise Conflict("this person already has that role at this property")
    membership = RoleMembership(
        person_id=person.id,
        property_id=property_id,
        role=role,
        unit_id=unit_id,
        invited_by=inviter_id,
        created_at=now,
    )
    session.add(membership)
    _welcome(session, config, person, profile.display_name, prop, inviter_id, now)
    return membership


def welcome(
    *,
    session: Session,
    config: AuthConfig,
    person_id: str,
    property_id: str,
    inviter_id: str | None,
    now: datetime,
) -> None:
    """Email a person who was just given a role at the property some other way (a move-in):
    a one-time link to choose a password if they have none, else a notice. Nothing for a
    person without an email."""
    person = session.get_one(Person, person_id)
    if person.email is None:
        return
    prop = session.get_one(Property, property_id)
    profile = profile_in(
        session,
        person=person,
        portfolio_id=prop.portfolio_id,
        display_name=person.display_name,
        now=now,
    )
    _welcome(session, config, person, profile.display_name, prop, inviter_id, now)


def _welcome(
    session: Session,
    config: AuthConfig,
    person: Person,
    name: str,
    prop: Property,
    inviter_id: str | None,
    now: datetime,
) -> None:
    account = session.execute(
        select(Account).where(Account.person_id == person.id)
    ).scalar_one_or_none()
    assert person.email is not None
    if account is not None and account.password_hash is not None:
        body = (
            f"Hello {name},\n\n"
            f"You now have a role at {prop.name} on Keyturn. Sign in as usual to see it.\n"
        )
        enqueue_mail(session, person.email, ACCESS_SUBJECT, body, person_id=person.id)
        return
    secret = _new_link(
        session, person.id, LinkPurpose.INVITATION, config.invitation_lifetime_s, inviter_id, now
    )
    days = config.invitation_lifetime_s // 86400
    body = (
        f"Hello {name},\n\n"
        f"You are invited to {prop.name} on Keyturn. Open this link within {days} days to\n"
        "choose your password; it works once:\n\n"
        f"{config.public_url}/invitation#token={secret}\n"
    )
    enqueue_mail(session, person.email, INVITATION_SUBJECT, body, person_id=person.id)


def accept_invitation(*, session: Session, secret: str, password: str, now: datetime) -> None:
    """Set the invited person's password through their link, creating their account."""
    person_id = _consume(session, secret, LinkPurpose.INVITATION, now)
    _set_password(session, person_id, password, now)


def issue_link(
    *,
    session: Session,
    person_id: str,
    purpose: LinkPurpose,
    lifetime_s: int,
    created_by: str | None,
    now: datetime,
) -> tuple[str, str]:
    """A new one-time link for the person: its id and its secret, which only the mail holds."""
    secret = _new_link(session, person_id, purpose, lifetime_s, created_by, now)
    session.flush()
    link_id = session.execute(
        select(EmailLink.id).where(EmailLink.secret_digest == opaque.digest(secret))
    ).scalar_one()
    return link_id, secret


def spend_link(*, session: Session, secret: str, purpose: LinkPurpose, now: datetime) -> str:
    """Spend a live link of this purpose and return its id; InvalidLink for any other."""
    _consume(session, secret, purpose, now)
    return session.execute(
        select(EmailLink.id).where(EmailLink.secret_digest == opaque.digest(secret))
    ).scalar_one()


def _new_link(
    session: Session,
    person_id: str,
    purpose: LinkPurpose,
    lifetime_s: int,
    created_by: str | None,
    now: datetime,
) -> str:
    secret = opaque.new_secret()
    session.add(
        EmailLink(
            person_id=person_id,
            purpose=purpose,
            secret_digest=opaque.digest(secret),
            created_by=created_by,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime_s),
        )
    )
    return secret


def _consume(session: Session, secret: str, purpose: LinkPurpose, now: datetime) -> str:
    """Spend a link in one conditional UPDATE, so two racing uses cannot both succeed."""
    secret_digest = opaque.digest(secret)
    spent = session.execute(
        update(EmailLink)
        .where(
            EmailLink.secret_digest == secret_digest,
            EmailLink.purpose == purpose,
            EmailLink.used_at.is_(None),
            EmailLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidLink()
    return session.execute(
        select(EmailLink.person_id).where(EmailLink.secret_digest == secret_digest)
    ).scalar_one()


def _set_password(session: Session, person_id: str, password: str, now: datetime) -> Account:
    account = session.execute(
        select(Account).where(Account.person_id == person_id)
    ).scalar_one_or_none()
    if account is None:
        account = Account(person_id=person_id, created_at=now)
        session.add(account)
    account.password_hash = hash_password(password)
    session.flush()
    return account
