"""What a PMS sync changes, decided from what the PMS lists and what the property knows: a
pure function, no I/O, so a dry run and a real run see the same plan.

A lease the PMS lists is matched to a residency by the lease's key (the PMS's id, else the
email). Only residencies the sync itself created are ever changed or ended by it; a person
the property knows by the same email under another name waits for a manager's review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from keyturn.cloud.models import ReviewState
from keyturn.cloud.people.pms.connectors import LeaseMoment, PmsResident


@dataclass(frozen=True, slots=True)
class Lease:
    """A PMS resident with the lease's bounds as instants."""

    key: str
    name: str
    email: str
    unit: str
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True, slots=True)
class Residency:
    """A live residency the sync created, as the property holds it now."""

    membership_id: str
    key: str
    name: str
    unit: str
    starts_at: datetime | None
    ends_at: datetime | None


@dataclass(frozen=True)
class Directory:
    """What the property knows besides the sync's own residencies.

    `names`: the name each known email goes by in this portfolio; `manual`: (email, unit) of
    residents placed by hand, whom the sync leaves alone; `decisions`: the review of each
    (lease key, PMS name) already recorded.
    """

    names: Mapping[str, str] = field(default_factory=dict)
    manual: frozenset[tuple[str, str]] = frozenset()
    decisions: Mapping[tuple[str, str], ReviewState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MoveIn:
    lease: Lease
    known_person: bool


@dataclass(frozen=True, slots=True)
class LeaseChange:
    residency: Residency
    lease: Lease


@dataclass(frozen=True, slots=True)
class MoveOut:
    residency: Residency
    reason: str  # "absent", "lease ended" or "unit changed"


@dataclass(frozen=True, slots=True)
class Review:
    lease: Lease
    known_name: str


@dataclass
class Plan:
    """The changes a sync makes, and what it leaves for now (waiting reviews, unchanged)."""

    moves_in: list[MoveIn] = field(default_factory=list)
    lease_changes: list[LeaseChange] = field(default_factory=list)
    moves_out: list[MoveOut] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    waiting: list[Review] = field(default_factory=list)
    rejected: list[Lease] = field(default_factory=list)
    unchanged: int = 0

    @property
    def empty(self) -> bool:
        """True when applying the plan would write nothing."""
        return not (self.moves_in or self.lease_changes or self.moves_out or self.reviews)

    def counts(self) -> dict[str, int]:
        return {
            "moves_in": len(self.moves_in),
            "lease_changes": len(self.lease_changes),
            "moves_out": len(self.moves_out),
            "new_reviews": len(self.reviews),
            "waiting_for_review": len(self.waiting),
            "rejected": len(self.rejected),
            "unchanged": self.unchanged,
        }


def lease_of(resident: PmsResident, tz: ZoneInfo) -> Lease:
    """The resident's lease as instants: a start date is that local day's first instant, an
    end date the first instant after that local day (the lease covers its last day)."""
    start = _instant(resident.lease_start, tz, after_day=False)
    end = None if resident.lease_end is None else _instant(resident.lease_end, tz, after_day=True)
    return Lease(resident.key, resident.name, resident.email, resident.unit, start, end)


def _instant(moment: LeaseMoment, tz: ZoneInfo, *, after_day: bool) -> datetime:
    if isinstance(moment, datetime):
        return moment
    day = moment + timedelta(days=1) if after_day else moment
    return datetime.combine(day, time(0), tzinfo=tz)


def same_name(a: str, b: str) -> bool:
    """Names match when they differ only in case and spacing."""
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def plan_sync(
    leases: Sequence[Lease],
    residencies: Sequence[Residency],
    directory: Directory,
    now: datetime,
) -> Plan:
    """Compare the PMS's leases with the sync's live residencies and decide every change.

    A lease whose key has no residency moves its resident in, unless it has already ended,
    the same person lives there by hand, or the email belongs to someone known by another
    name (a review, until accepted). A residency whose lease is gone or has ended moves out;
    a changed unit is a move-out and a move-in; a changed start or end is a lease change.
    """
    plan = Plan()
    current = {residency.key: residency for residency in residencies}
    for lease in leases:
        ended = lease.ends_at is not None and lease.ends_at <= now
        residency = current.pop(lease.key, None)
        if residency is not None:
            if ended:
                plan.moves_out.append(MoveOut(residency, "lease ended"))
            elif residency.unit != lease.unit:
                plan.moves_out.append(MoveOut(residency, "unit changed"))
                plan.moves_in.append(MoveIn(lease, known_person=True))
            elif (residency.starts_at, residency.ends_at) != (lease.starts_at, lease.ends_at):
                plan.lease_changes.append(LeaseChange(residency, lease))
            else:
                plan.unchanged += 1
            continue
        if ended or (lease.email, lease.unit) in directory.manual:
            plan.unchanged += 1
            continue
        known_name = directory.names.get(lease.email)
        if known_name is not None and not same_name(known_name, lease.name):
            decision = directory.decisions.get((lease.key, lease.name))
            if decision is None:
                plan.reviews.append(Review(lease, known_name))
                continue
            if decision is ReviewState.PENDING:
                plan.waiting.append(Review(lease, known_name))
                continue
            if decision is ReviewState.REJECTED:
                plan.rejected.append(lease)
                continue
        plan.moves_in.append(MoveIn(lease, known_person=known_name is not None))
    plan.moves_out.extend(MoveOut(residency, "absent") for residency in current.values())
    return plan
