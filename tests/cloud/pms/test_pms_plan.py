"""The PMS sync's plan: what changes for each lease, and that applying a plan then planning
again changes nothing (running a sync twice is the same as running it once)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.cloud.people.pms.connectors import PmsResident
from keyturn.cloud.people.pms.plan import (
    Directory,
    Lease,
    Plan,
    Residency,
    ReviewState,
    lease_of,
    plan_sync,
)

NOW = datetime(2026, 3, 2, 15, tzinfo=UTC)
DAY = timedelta(days=1)
NY = ZoneInfo("America/New_York")


def _lease(key: str = "email:ann@x.example", **changes: object) -> Lease:
    base = Lease(key, "Ann Lee", "ann@x.example", "A1", NOW - 30 * DAY, None)
    return replace(base, **changes)  # type: ignore[arg-type]


def _residency(lease: Lease, membership_id: str = "m1") -> Residency:
    return Residency(
        membership_id, lease.key, lease.name, lease.unit, lease.starts_at, lease.ends_at
    )


def test_a_new_email_moves_in_and_a_known_lease_is_unchanged() -> None:
    lease = _lease()
    plan = plan_sync([lease], [], Directory(), NOW)
    assert [(m.lease, m.known_person) for m in plan.moves_in] == [(lease, False)]
    again = plan_sync([lease], [_residency(lease)], Directory(), NOW)
    assert again.empty
    assert again.unchanged == 1


def test_a_changed_end_is_a_lease_change_and_an_ended_lease_moves_out() -> None:
    lease = _lease()
    held = _residency(lease)
    changed = replace(lease, ends_at=NOW + 60 * DAY)
    assert [c.lease for c in plan_sync([changed], [held], Directory(), NOW).lease_changes] == [
        changed
    ]
    ended = replace(lease, ends_at=NOW - DAY)
    plan = plan_sync([ended], [held], Directory(), NOW)
    assert [(m.residency, m.reason) for m in plan.moves_out] == [(held, "lease ended")]
    assert plan_sync([ended], [], Directory(), NOW).empty  # never moved in again


def test_absent_moves_out_and_a_new_unit_is_a_move_out_and_a_move_in() -> None:
    held = _residency(_lease())
    assert [m.reason for m in plan_sync([], [held], Directory(), NOW).moves_out] == ["absent"]
    moved = _lease(unit="B7")
    plan = plan_sync([moved], [held], Directory(), NOW)
    assert [m.reason for m in plan.moves_out] == ["unit changed"]
    assert [m.lease for m in plan.moves_in] == [moved]


def test_same_email_another_name_waits_for_review_until_accepted() -> None:
    lease = _lease(name="Ann Smith")
    known = {"ann@x.example": "Ann Lee"}
    plan = plan_sync([lease], [], Directory(names=known), NOW)
    assert [(r.lease, r.known_name) for r in plan.reviews] == [(lease, "Ann Lee")]
    assert not plan.moves_in
    for state, field in (
        (ReviewState.PENDING, "waiting"),
        (ReviewState.REJECTED, "rejected"),
        (ReviewState.ACCEPTED, "moves_in"),
    ):
        decided = Directory(names=known, decisions={(lease.key, lease.name): state})
        plan = plan_sync([lease], [], decided, NOW)
        assert len(getattr(plan, field)) == 1, state
        assert plan.empty is (state is not ReviewState.ACCEPTED)
    assert plan_sync([_lease(name=" ann  LEE ")], [], Directory(names=known), NOW).moves_in


def test_a_resident_placed_by_hand_is_left_alone() -> None:
    lease = _lease()
    plan = plan_sync([lease], [], Directory(manual=frozenset({(lease.email, lease.unit)})), NOW)
    assert plan.empty
    assert plan.unchanged == 1


def test_lease_dates_are_local_days_at_the_property() -> None:
    resident = PmsResident("Ann", "a@x.example", "A1", date(2026, 3, 1), date(2026, 3, 31))
    lease = lease_of(resident, NY)
    assert lease.starts_at == datetime(2026, 3, 1, 5, tzinfo=UTC)  # local midnight, EST
    assert lease.ends_at == datetime(2026, 4, 1, 4, tzinfo=UTC)  # after the 31st, EDT


# Running twice changes nothing: a plain model of what applying a plan leaves behind.

_ids = itertools.count()


def _applied(
    plan: Plan, residencies: list[Residency], directory: Directory
) -> tuple[list[Residency], Directory]:
    gone = {m.residency.membership_id for m in plan.moves_out}
    changed = {c.residency.membership_id: c.lease for c in plan.lease_changes}
    after = [
        replace(
            r,
            starts_at=changed[r.membership_id].starts_at,
            ends_at=changed[r.membership_id].ends_at,
        )
        if r.membership_id in changed
        else r
        for r in residencies
        if r.membership_id not in gone
    ]
    names = dict(directory.names)
    for move in plan.moves_in:
        names.setdefault(move.lease.email, move.lease.name)
        after.append(_residency(move.lease, f"m{next(_ids)}"))
    decisions = dict(directory.decisions)
    for review in plan.reviews:
        decisions[(review.lease.key, review.lease.name)] = ReviewState.PENDING
    return after, Directory(names, directory.manual, decisions)


_names = st.sampled_from(["Ann Lee", "Bo Chen", "ann lee", "Cy Diaz"])
_emails = st.sampled_from(["ann@x.example", "bo@x.example", "cy@x.example", "di@x.example"])
_units = st.sampled_from(["A1", "A2", "B1"])
_moments = st.integers(-60, 60).map(lambda days: NOW + days * DAY)


@st.composite
def _leases(draw: st.DrawFn) -> Lease:
    email = draw(_emails)
    key = draw(st.sampled_from([f"email:{email}", "id:1", "id:2", "id:3"]))
    start = draw(_moments)
    end = draw(st.none() | st.integers(1, 90).map(lambda days: start + days * DAY))
    return Lease(key, draw(_names), email, draw(_units), start, end)


@st.composite
def _worlds(draw: st.DrawFn) -> tuple[list[Lease], list[Residency], Directory]:
    leases = draw(st.lists(_leases(), max_size=6, unique_by=lambda lease: lease.key))
    held = draw(st.lists(_leases(), max_size=4, unique_by=lambda lease: lease.key))
    residencies = [_residency(lease, f"held{n}") for n, lease in enumerate(held)]
    names = draw(st.dictionaries(_emails, _names, max_size=4))
    manual = draw(st.frozensets(st.tuples(_emails, _units), max_size=3))
    decisions = draw(
        st.dictionaries(
            st.tuples(st.sampled_from([lease.key for lease in leases] or ["id:9"]), _names),
            st.sampled_from(list(ReviewState)),
            max_size=3,
        )
    )
    return leases, residencies, Directory(names, manual, decisions)


@given(_worlds())
@settings(max_examples=400, deadline=None)
def test_applying_a_plan_then_planning_again_changes_nothing(
    world: tuple[list[Lease], list[Residency], Directory],
) -> None:
    leases, residencies, directory = world
    plan = plan_sync(leases, residencies, directory, NOW)
    after, known = _applied(plan, residencies, directory)
    again = plan_sync(leases, after, known, NOW)
    assert again.empty, again
    assert len(again.waiting) == len(plan.waiting) + len(plan.reviews)
