"""A PMS sync at one property: read the connector, plan, and (unless it is a dry run) apply
the plan through the residency service; and the reviews of partial matches.

The whole sync is one transaction: a connector or file that fails changes nothing, and a sync
whose plan is empty writes nothing at all (no audit record, no publish).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.models import (
    Person,
    PmsLink,
    PmsReview,
    Profile,
    Property,
    ReviewState,
    RoleMembership,
    Unit,
)
from keyturn.cloud.people import service as people
from keyturn.cloud.people.pms.connectors import Connector, FileConnector, PmsFileRefused
from keyturn.cloud.people.pms.plan import Directory, Plan, Residency, lease_of, plan_sync
from keyturn.cloud.people.residency import service as residency
from keyturn.cloud.privacy import audit
from keyturn.errors import UserError
from keyturn.rules.types import Role

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SyncReport:
    """What a sync found and, unless it was a dry run, did."""

    plan: Plan
    dry_run: bool
    property_name: str
    time_zone: ZoneInfo

    @property
    def applied(self) -> bool:
        return not self.dry_run and not self.plan.empty

    def as_json(self) -> dict[str, Any]:
        p = self.plan
        return {
            "dry_run": self.dry_run,
            "applied": self.applied,
            "counts": p.counts(),
            "moves_in": [
                {
                    "name": m.lease.name,
                    "email": m.lease.email,
                    "unit": m.lease.unit,
                    "starts_at": _iso(m.lease.starts_at),
                    "ends_at": _iso(m.lease.ends_at),
                }
                for m in p.moves_in
            ],
            "lease_changes": [
                {
                    "name": c.residency.name,
                    "unit": c.residency.unit,
                    "was": [_iso(c.residency.starts_at), _iso(c.residency.ends_at)],
                    "now": [_iso(c.lease.starts_at), _iso(c.lease.ends_at)],
                }
                for c in p.lease_changes
            ],
            "moves_out": [
                {"name": m.residency.name, "unit": m.residency.unit, "reason": m.reason}
                for m in p.moves_out
            ],
            "reviews": [
                {
                    "pms_name": r.lease.name,
                    "known_name": r.known_name,
                    "email": r.lease.email,
                    "unit": r.lease.unit,
                    "new": new,
                }
                for new, reviews in ((True, p.reviews), (False, p.waiting))
                for r in reviews
            ],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def sync(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    connector: Connector,
    dry_run: bool,
    now: datetime,
    by: str | None = None,
    welcome: AuthConfig | None = None,
) -> SyncReport:
    """Read the PMS, plan the changes and apply them unless `dry_run`; `by` is the person who
    ran it (None for the scheduled job). With `welcome`, everyone who moves in is emailed (an
    invitation, or a notice to someone with an account).

    A unit the PMS names that this property lacks refuses the whole sync. Move-outs come first
    so a resident changing units never holds both; every applied sync is audited with its
    counts.
    """
    prop = session.get(Property, property_id)
    if prop is None:
        raise NotFound()
    units = dict(
        session.execute(select(Unit.label, Unit.id).where(Unit.property_id == property_id)).all()
    )
    residents = connector.residents()
    for resident in residents:
        if resident.unit not in units:
            raise PmsFileRefused(
                f"{resident.email}: no unit labelled {resident.unit!r} at this property"
            )
    leases = [lease_of(resident, ZoneInfo(prop.time_zone)) for resident in residents]
    plan = plan_sync(
        leases,
        _residencies(session, property_id, prop.portfolio_id),
        _directory(session, property_id, prop.portfolio_id, {lease.email for lease in leases}),
        now,
    )
    report = SyncReport(plan, dry_run, prop.name, ZoneInfo(prop.time_zone))
    if dry_run or plan.empty:
        return report
    for move in plan.moves_out:
        residency.move_out(
            session=session,
            master_key=master_key,
            property_id=property_id,
            membership_id=move.residency.membership_id,
            at=now,
            by=by,
            now=now,
        )
    for change in plan.lease_changes:
        residency.change_lease(
            session=session,
            master_key=master_key,
            property_id=property_id,
            membership_id=change.residency.membership_id,
            starts_at=change.lease.starts_at,
            ends_at=change.lease.ends_at,
            by=by,
            now=now,
        )
    for move_in in plan.moves_in:
        lease = move_in.lease
        person = session.scalars(select(Person).where(Person.email == lease.email)).first()
        if person is None:
            person = people.add_person(
                session=session, display_name=lease.name, email=lease.email, now=now
            )
        membership = residency.move_in(
            session=session,
            master_key=master_key,
            property_id=property_id,
            person_id=person.id,
            unit_id=units[lease.unit],
            starts_at=lease.starts_at,
            ends_at=lease.ends_at,
            by=by,
            now=now,
            welcome=welcome,
        )
        session.add(
            PmsLink(property_id=property_id, external_key=lease.key, membership_id=membership.id)
        )
    for review in plan.reviews:
        person_id = session.scalar(select(Person.id).where(Person.email == review.lease.email))
        assert person_id is not None
        session.add(
            PmsReview(
                property_id=property_id,
                external_key=review.lease.key,
                person_id=person_id,
                email=review.lease.email,
                pms_name=review.lease.name,
                known_name=review.known_name,
                unit_label=review.lease.unit,
                created_at=now,
            )
        )
    audit.record(
        session,
        now=now,
        actor_person_id=by,
        action="pms.sync",
        object_type="property",
        object_id=property_id,
        property_id=property_id,
        detail=plan.counts(),
    )
    session.flush()
    return report


def _residencies(session: Session, property_id: str, portfolio_id: str) -> list[Residency]:
    """The live residencies the sync created here, with the names and units they have now."""
    rows = session.execute(
        select(
            PmsLink.external_key,
            RoleMembership,
            Unit.label,
            Person.display_name,
            Profile.display_name,
        )
        .join(RoleMembership, RoleMembership.id == PmsLink.membership_id)
        .join(Unit, Unit.id == RoleMembership.unit_id)
        .join(Person, Person.id == RoleMembership.person_id)
        .outerjoin(
            Profile,
            (Profile.person_id == Person.id) & (Profile.portfolio_id == portfolio_id),
        )
        .where(PmsLink.property_id == property_id, RoleMembership.in_force())
        .order_by(PmsLink.external_key)
    ).all()
    return [
        Residency(
            membership.id,
            key,
            known or first,
            label,
            membership.starts_at,
            membership.ends_at,
        )
        for key, membership, label, first, known in rows
    ]


def _directory(
    session: Session, property_id: str, portfolio_id: str, emails: set[str]
) -> Directory:
    names = {
        email: known or first
        for email, first, known in session.execute(
            select(Person.email, Person.display_name, Profile.display_name)
            .outerjoin(
                Profile,
                (Profile.person_id == Person.id) & (Profile.portfolio_id == portfolio_id),
            )
            .where(Person.email.in_(emails))
        )
        if email is not None
    }
    linked = select(PmsLink.membership_id).where(PmsLink.property_id == property_id)
    manual = frozenset(
        (email, label)
        for email, label in session.execute(
            select(Person.email, Unit.label)
            .join(RoleMembership, RoleMembership.person_id == Person.id)
            .join(Unit, Unit.id == RoleMembership.unit_id)
            .where(
                RoleMembership.property_id == property_id,
                RoleMembership.role == Role.RESIDENT,
                RoleMembership.in_force(),
                RoleMembership.id.not_in(linked),
            )
        )
        if email is not None
    )
    decisions = {
        (key, name): ReviewState(state)
        for key, name, state in session.execute(
            select(PmsReview.external_key, PmsReview.pms_name, PmsReview.state).where(
                PmsReview.property_id == property_id
            )
        )
    }
    return Directory(names, manual, decisions)


def list_reviews(
    *, session: Session, property_id: str, state: ReviewState | None = None
) -> list[PmsReview]:
    """The property's reviews of partial matches, waiting ones first, oldest first."""
    query = select(PmsReview).where(PmsReview.property_id == property_id)
    if state is not None:
        query = query.where(PmsReview.state == state)
    rows = session.scalars(query.order_by(PmsReview.created_at, PmsReview.id))
    return sorted(rows, key=lambda review: review.state != ReviewState.PENDING)


def decide_review(
    *,
    session: Session,
    property_id: str,
    review_id: str,
    accept: bool,
    by: str | None,
    now: datetime,
) -> PmsReview:
    """Accept (the next sync moves the known person in) or reject (the sync leaves the lease
    alone while the PMS keeps that name); a decision may be changed later. Audited."""
    review = session.get(PmsReview, review_id)
    if review is None or review.property_id != property_id:
        raise NotFound()
    review.state = ReviewState.ACCEPTED if accept else ReviewState.REJECTED
    review.decided_at = now
    review.decided_by = by
    audit.record(
        session,
        now=now,
        actor_person_id=by,
        action="pms.review",
        object_type="pms_review",
        object_id=review.id,
        property_id=property_id,
        detail={"decision": review.state.value, "person_id": review.person_id},
    )
    session.flush()
    return review


def sync_sources(
    sessions: sessionmaker[Session],
    master_key: bytes,
    sources: Mapping[str, Path],
    now: datetime,
    connector_for: Callable[[Path], Connector] = FileConnector,
    welcome: AuthConfig | None = None,
) -> dict[str, Any]:
    """The scheduled sync: each configured property in its own transaction. A property whose
    source fails is logged in one line and left unchanged; the others go on."""
    outcome: dict[str, Any] = {}
    for property_id, path in sources.items():
        try:
            with sessions.begin() as session:
                report = sync(
                    session=session,
                    master_key=master_key,
                    property_id=property_id,
                    connector=connector_for(path),
                    dry_run=False,
                    now=now,
                    welcome=welcome,
                )
            outcome[property_id] = report.plan.counts()
        except UserError as exc:
            log.warning("pms sync of property %s refused: %s", property_id, exc)
            outcome[property_id] = {"error": str(exc)}
    return outcome
