from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.rules.decide import AccessEntry, Decision, LockState, Presentation, decide
from keyturn.rules.errors import NaiveDatetime
from keyturn.rules.schedule import ANY_TIME, Schedule, WeeklyWindow, single_day_schedule
from keyturn.rules.types import CredentialType, Reason

NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 5, 11, 14, 0, tzinfo=UTC)  # Monday 10:00 in New York
DOOR = "door-lobby"
OPEN = LockState()


def entry(kind: CredentialType = CredentialType.KEYCARD, **changes: object) -> AccessEntry:
    base = AccessEntry(
        credential_id="cred-1",
        credential_type=kind,
        subject="subj-1",
        key_id="key-1",
        grant_id="grant-1",
        granted_by="person-manager",
        door_ids=frozenset({DOOR, "door-gym"}),
        schedule=ANY_TIME,
        resident=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def attempt(
    found: AccessEntry | None,
    state: LockState = OPEN,
    now: datetime = NOW,
    kind: CredentialType | None = None,
) -> Decision:
    if kind is None:
        kind = found.credential_type if found is not None else CredentialType.KEYCARD
    return decide(Presentation(kind, found), state, DOOR, now, NY)


def test_matching_entry_is_granted_and_names_its_subject() -> None:
    decision = attempt(entry())
    assert decision.granted
    assert decision.reason == Reason.GRANTED
    assert decision.subject == "subj-1"


def test_unknown_credential_is_denied() -> None:
    decision = attempt(None)
    assert not decision.granted
    assert decision.reason == Reason.UNKNOWN_CREDENTIAL
    assert decision.subject is None


def test_entry_of_another_credential_type_counts_as_unknown() -> None:
    decision = attempt(entry(CredentialType.PERSONAL_DOORCODE), kind=CredentialType.KEYCARD)
    assert decision.reason == Reason.UNKNOWN_CREDENTIAL
    assert decision.entry is None


def test_wrong_door_is_denied() -> None:
    assert attempt(entry(door_ids=frozenset({"door-roof"}))).reason == Reason.WRONG_DOOR


def test_schedule_reasons_come_from_the_entry_schedule() -> None:
    later = Schedule(starts_at=NOW + timedelta(days=1))
    ended = Schedule(ends_at=NOW)
    weekends = Schedule((WeeklyWindow(5, time(0), time(0)),))
    assert attempt(entry(schedule=later)).reason == Reason.NOT_YET_VALID
    assert attempt(entry(schedule=ended)).reason == Reason.EXPIRED
    assert attempt(entry(schedule=weekends)).reason == Reason.OUTSIDE_SCHEDULE


def test_lockdown_denies_managed_credentials() -> None:
    decision = attempt(entry(), LockState(lockdown=True))
    assert decision.reason == Reason.LOCKDOWN
    assert decision.subject == "subj-1"


def test_decide_refuses_a_naive_time() -> None:
    with pytest.raises(NaiveDatetime):
        decide(Presentation(CredentialType.KEYCARD, entry()), OPEN, DOOR, datetime(2026, 5, 11), NY)


def test_rule_a2_mechanical_key_is_sensed_and_logged_as_granted() -> None:
    state = LockState(lockdown=True, keypad_locked_until=NOW + timedelta(hours=1))
    decision = attempt(None, state, kind=CredentialType.MECHANICAL_KEY)
    assert decision.granted
    assert decision.credential_type == CredentialType.MECHANICAL_KEY
    assert decision.subject is None


def test_rule_a9_mechanical_key_opens_even_during_lockdown_with_nothing_known() -> None:
    everything_refused = LockState(
        revoked_credential_ids=frozenset({"cred-1"}),
        suspended_subjects=frozenset({"subj-1"}),
        lockdown=True,
    )
    decision = attempt(None, everything_refused, kind=CredentialType.MECHANICAL_KEY)
    assert decision.reason == Reason.GRANTED


def test_rule_a7_keypad_lockout_refuses_doorcodes() -> None:
    state = LockState(keypad_locked_until=NOW + timedelta(seconds=30))
    for kind in (
        CredentialType.PERSONAL_DOORCODE,
        CredentialType.SINGLE_DAY_CODE,
        CredentialType.ONE_TIME_CODE,
    ):
        assert attempt(entry(kind), state).reason == Reason.KEYPAD_LOCKED_OUT
    assert attempt(None, state, kind=CredentialType.PERSONAL_DOORCODE).reason == (
        Reason.KEYPAD_LOCKED_OUT
    )


def test_rule_a7_other_credentials_work_during_keypad_lockout() -> None:
    state = LockState(keypad_locked_until=NOW + timedelta(minutes=30))
    assert attempt(entry(CredentialType.KEYCARD), state).granted
    assert attempt(entry(CredentialType.MOBILE_KEY), state).granted


def test_rule_a7_keypad_lockout_ends_at_locked_until() -> None:
    state = LockState(keypad_locked_until=NOW)
    assert attempt(entry(CredentialType.PERSONAL_DOORCODE), state).granted


def test_rule_a6_suspended_person_is_denied_with_every_credential() -> None:
    state = LockState(suspended_subjects=frozenset({"subj-1"}))
    for kind in CredentialType:
        if kind == CredentialType.MECHANICAL_KEY:
            continue
        assert attempt(entry(kind), state).reason == Reason.SUSPENDED


def test_rule_a4_single_day_code_opens_only_on_its_local_day() -> None:
    code = entry(
        CredentialType.SINGLE_DAY_CODE, schedule=single_day_schedule(date(2026, 11, 1), NY)
    )
    assert attempt(code, now=datetime(2026, 11, 1, 0, 0, tzinfo=NY)).granted
    assert attempt(code, now=datetime(2026, 11, 1, 23, 59, tzinfo=NY)).granted
    late = attempt(code, now=datetime(2026, 11, 2, 0, 0, tzinfo=NY))
    assert late.reason == Reason.EXPIRED
    early = attempt(code, now=datetime(2026, 10, 31, 23, 59, tzinfo=NY))
    assert early.reason == Reason.NOT_YET_VALID


def test_rule_a4_revoked_single_day_code_is_refused_once_the_lock_has_synced() -> None:
    code = entry(
        CredentialType.SINGLE_DAY_CODE,
        credential_id="sdc-1",
        schedule=single_day_schedule(date(2026, 5, 11), NY),
    )
    before_sync = LockState()
    after_sync = LockState(revoked_credential_ids=frozenset({"sdc-1"}))
    assert attempt(code, before_sync).granted
    assert attempt(code, after_sync).reason == Reason.REVOKED


def test_rule_a5_revoked_guest_mobile_key_is_refused_by_key_id() -> None:
    guest = entry(CredentialType.MOBILE_KEY, key_id="guest-key", resident=False)
    state = LockState(revoked_key_ids=frozenset({"guest-key"}))
    assert attempt(guest, state).reason == Reason.REVOKED
    assert attempt(replace(guest, key_id="other-key"), state).granted


CHECKED_KINDS = [kind for kind in CredentialType if kind != CredentialType.MECHANICAL_KEY]
ids = st.sampled_from(["a", "b", "c"])
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31), timezones=st.just(UTC)
)


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    start = draw(st.none() | moments)
    end = draw(st.none() | moments)
    if start is not None and end is not None and end <= start:
        start, end = end, start + timedelta(days=1)
    found = draw(st.lists(st.sampled_from([WeeklyWindow(d, time(8), time(20)) for d in range(7)])))
    return Schedule(tuple(found), start, end)


@st.composite
def entries(draw: st.DrawFn) -> AccessEntry:
    return AccessEntry(
        credential_id=draw(ids),
        credential_type=draw(st.sampled_from(list(CredentialType))),
        subject=draw(ids),
        key_id=draw(st.none() | ids),
        grant_id=None,
        granted_by=None,
        door_ids=frozenset(draw(st.lists(st.sampled_from([DOOR, "door-x"])))),
        schedule=draw(schedules()),
        resident=draw(st.booleans()),
    )


@st.composite
def states(draw: st.DrawFn) -> LockState:
    return LockState(
        revoked_credential_ids=frozenset(draw(st.lists(ids))),
        revoked_key_ids=frozenset(draw(st.lists(ids))),
        suspended_subjects=frozenset(draw(st.lists(ids))),
        lockdown=draw(st.booleans()),
        keypad_locked_until=draw(st.none() | moments),
    )


def expected_reason(
    kind: CredentialType, found: AccessEntry | None, state: LockState, now: datetime
) -> Reason:
    """The documented order, written out as a list of (refused?, reason) pairs."""
    if kind == CredentialType.MECHANICAL_KEY:
        return Reason.GRANTED
    keypad_locked = state.keypad_locked_until is not None and now < state.keypad_locked_until
    checks: list[tuple[bool, Reason]] = [
        (kind.is_doorcode and keypad_locked, Reason.KEYPAD_LOCKED_OUT),
        (state.lockdown, Reason.LOCKDOWN),
        (found is None or found.credential_type != kind, Reason.UNKNOWN_CREDENTIAL),
    ]
    for refused, reason in checks:
        if refused:
            return reason
    assert found is not None
    schedule = found.schedule
    later_checks: list[tuple[bool, Reason]] = [
        (found.subject in state.suspended_subjects, Reason.SUSPENDED),
        (
            found.credential_id in state.revoked_credential_ids
            or found.key_id in state.revoked_key_ids,
            Reason.REVOKED,
        ),
        (DOOR not in found.door_ids, Reason.WRONG_DOOR),
        (schedule.starts_at is not None and now < schedule.starts_at, Reason.NOT_YET_VALID),
        (schedule.ends_at is not None and now >= schedule.ends_at, Reason.EXPIRED),
        (
            bool(schedule.windows)
            and not any(w.contains(now.astimezone(NY)) for w in schedule.windows),
            Reason.OUTSIDE_SCHEDULE,
        ),
    ]
    for refused, reason in later_checks:
        if refused:
            return reason
    return Reason.GRANTED


@settings(deadline=None, max_examples=400)
@given(
    kind=st.sampled_from(list(CredentialType)),
    found=st.none() | entries(),
    state=states(),
    now=moments,
)
def test_decision_follows_the_documented_order(
    kind: CredentialType, found: AccessEntry | None, state: LockState, now: datetime
) -> None:
    decision = decide(Presentation(kind, found), state, DOOR, now, NY)
    assert decision.reason == expected_reason(kind, found, state, now)
    assert decision.granted == (decision.reason == Reason.GRANTED)
    assert decision.credential_type == kind


@settings(deadline=None, max_examples=300)
@given(
    kind=st.sampled_from(CHECKED_KINDS), found=st.none() | entries(), state=states(), now=moments
)
def test_a_grant_implies_every_condition_holds(
    kind: CredentialType, found: AccessEntry | None, state: LockState, now: datetime
) -> None:
    decision = decide(Presentation(kind, found), state, DOOR, now, NY)
    if not decision.granted:
        return
    assert found is not None
    assert decision.entry == found
    assert not state.lockdown
    assert found.subject not in state.suspended_subjects
    assert found.credential_id not in state.revoked_credential_ids
    assert found.key_id is None or found.key_id not in state.revoked_key_ids
    assert DOOR in found.door_ids
    assert found.schedule.allows(now, NY)


@settings(deadline=None, max_examples=200)
@given(found=entries(), state=states(), now=moments)
def test_rule_a7_keypad_lockout_never_touches_other_credential_types(
    found: AccessEntry, state: LockState, now: datetime
) -> None:
    kind = found.credential_type
    unlocked = replace(state, keypad_locked_until=None)
    with_lockout = decide(Presentation(kind, found), state, DOOR, now, NY)
    without = decide(Presentation(kind, found), unlocked, DOOR, now, NY)
    if kind.is_doorcode:
        assert with_lockout.reason in (without.reason, Reason.KEYPAD_LOCKED_OUT)
    else:
        assert with_lockout == without
