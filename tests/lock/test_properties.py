"""The lock against a deliberately simple reference model, on random credentials, schedules,
clocks and presentations: they never disagree, and nothing is granted that should not be."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keyturn.crypto.keys import SigningKeyPair
from keyturn.protocol.messages import LockoutSpec, ScheduleSpec, WindowSpec
from keyturn.rules.types import CredentialType, Reason
from lock.harness import NO_CAMERA, START, Harness

NY = ZoneInfo("America/New_York")
HOUR = 3600
SUBJECTS = ["s0", "s1", "s2"]
KEYS = ["k0", "k1", "k2"]
KINDS = ["code", "card", "mobile"]


@dataclass(frozen=True)
class Credential:
    kind: str
    subject: str
    key_id: str
    windows: tuple[tuple[int, int, int], ...]
    starts_h: int | None
    ends_h: int | None
    doors: tuple[str, ...]
    token_from_h: int
    token_hours: int


@st.composite
def windows(draw: st.DrawFn) -> tuple[int, int, int]:
    weekday = draw(st.integers(0, 6))
    start = draw(st.integers(0, 1439))
    end = draw(st.integers(start + 1, 1440))
    return weekday, start, end


@st.composite
def credentials(draw: st.DrawFn) -> Credential:
    starts = draw(st.none() | st.integers(-48, 48))
    ends = draw(st.none() | st.integers(-48, 96))
    if starts is not None and ends is not None and ends <= starts:
        ends = starts + 1
    return Credential(
        kind=draw(st.sampled_from(KINDS)),
        subject=draw(st.sampled_from(SUBJECTS)),
        key_id=draw(st.sampled_from(KEYS)),
        windows=tuple(draw(st.lists(windows(), max_size=3))),
        starts_h=starts,
        ends_h=ends,
        doors=draw(st.sampled_from([("door-1",), ("door-2",), ("door-1", "door-2")])),
        token_from_h=draw(st.integers(-72, 24)),
        token_hours=draw(st.integers(1, 120)),
    )


@dataclass(frozen=True)
class Revocations:
    credentials: frozenset[int]
    keys: frozenset[str]
    subjects: frozenset[str]
    lockdown: bool


revocations = st.builds(
    Revocations,
    credentials=st.frozensets(st.integers(0, 5)),
    keys=st.frozensets(st.sampled_from(KEYS)),
    subjects=st.frozensets(st.sampled_from(SUBJECTS)),
    lockdown=st.sampled_from([False, False, False, True]),
)

# (credential index, or -1 for something unknown; minutes from START on the lock clock)
presentations = st.lists(
    st.tuples(st.integers(-1, 5), st.integers(-4 * 24 * 60, 6 * 24 * 60)), min_size=1, max_size=8
)


def _at(hours: int | None) -> int | None:
    return None if hours is None else int(START.timestamp()) + hours * HOUR


def reference(
    cred: Credential | None, index: int, revoked: Revocations | None, now: datetime
) -> Reason:
    """What should happen, written straight from RULES.md and DESIGN.md §3."""
    if revoked is not None and revoked.lockdown:
        return Reason.LOCKDOWN
    if cred is None:
        return Reason.UNKNOWN_CREDENTIAL
    if cred.kind != "mobile" and "door-1" not in cred.doors:
        return Reason.UNKNOWN_CREDENTIAL  # not on this door's list
    t = int(now.timestamp())
    if cred.kind == "mobile":
        token_start = int(START.timestamp()) + cred.token_from_h * HOUR
        if now.timestamp() >= token_start + cred.token_hours * HOUR:
            return Reason.UNKNOWN_CREDENTIAL  # an expired token is not read at all
        # A token not valid yet is refused as NOT_YET_VALID by its bounds below.
    if revoked is not None:
        if cred.subject in revoked.subjects:
            return Reason.SUSPENDED
        if index in revoked.credentials or cred.key_id in revoked.keys:
            return Reason.REVOKED
    if "door-1" not in cred.doors:
        return Reason.WRONG_DOOR
    starts, ends = _at(cred.starts_h), _at(cred.ends_h)
    if cred.kind == "mobile":
        token_start = int(START.timestamp()) + cred.token_from_h * HOUR
        token_end = token_start + cred.token_hours * HOUR
        starts = token_start if starts is None else max(starts, token_start)
        ends = token_end if ends is None else min(ends, token_end)
    if starts is not None and t < starts:
        return Reason.NOT_YET_VALID
    if ends is not None and now.timestamp() >= ends:
        return Reason.EXPIRED
    if not cred.windows:
        return Reason.GRANTED
    local = now.astimezone(NY)
    minute = local.hour * 60 + local.minute
    for weekday, start, end in cred.windows:
        if local.weekday() == weekday and start <= minute < end:
            return Reason.GRANTED
    return Reason.OUTSIDE_SCHEDULE


def _code(index: int) -> str:
    return f"{2000003 + index * 104729:07d}"


def _uid(index: int) -> str:
    return f"A0B1{index:04X}"


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    creds=st.lists(credentials(), max_size=6),
    revoked=revocations,
    before=presentations,
    after=presentations,
    drift_min=st.integers(-300, 300),
)
def test_lock_and_reference_model_never_disagree(
    creds: list[Credential],
    revoked: Revocations,
    before: list[tuple[int, int]],
    after: list[tuple[int, int]],
    drift_min: int,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(
            Path(tmp) / "lock",
            capabilities=NO_CAMERA,
            lockout=LockoutSpec(max_failures=1_000_000),
        )
        try:
            _run(harness, creds, revoked, before, after, drift_min)
        finally:
            harness.close()


def _run(
    harness: Harness,
    creds: list[Credential],
    revoked: Revocations,
    before: list[tuple[int, int]],
    after: list[tuple[int, int]],
    drift_min: int,
) -> None:
    # The lock learns signed time that differs from its hardware clock by drift_min.
    signed = START + timedelta(minutes=drift_min)
    harness.lock.apply_downlink(harness.answer(harness.lock.build_uplink(), issued_at=signed))
    # Codes and cards are listed for this door only, like the cloud builds its lists.
    specs = []
    phones: dict[int, tuple[SigningKeyPair, bytes]] = {}
    for i, cred in enumerate(creds):
        schedule = ScheduleSpec(
            windows=tuple(WindowSpec(*w) for w in cred.windows),
            starts_at=_at(cred.starts_h),
            ends_at=_at(cred.ends_h),
        )
        common = {"subject": cred.subject, "key_id": cred.key_id}
        if cred.kind != "mobile" and "door-1" not in cred.doors:
            continue
        if cred.kind == "code":
            specs.append(harness.code(_code(i), f"cred-{i}", schedule=schedule, **common))
        elif cred.kind == "card":
            specs.append(harness.card(_uid(i), f"cred-{i}", schedule=schedule, **common))
        else:
            phone = SigningKeyPair.generate()
            token_start = START + timedelta(hours=cred.token_from_h)
            token = harness.token(
                phone,
                subject=cred.subject,
                credential_id=f"cred-{i}",
                key_id=cred.key_id,
                door_ids=list(cred.doors),
                not_before=token_start,
                expires=token_start + timedelta(hours=cred.token_hours),
                schedule=schedule,
            )
            phones[i] = (phone, token)
    # The cloud pushes both lists at the time it signed above: its clock is the truth.
    harness.push(*specs, issued_at=signed)
    for cred_index, minutes in before:
        _present(harness, creds, phones, cred_index, minutes, None, drift_min)
    harness.push(
        *specs,
        issued_at=signed,
        revoked_credential_ids=tuple(f"cred-{i}" for i in revoked.credentials),
        revoked_key_ids=tuple(revoked.keys),
        suspended_subjects=tuple(revoked.subjects),
        lockdown=revoked.lockdown,
    )
    for cred_index, minutes in after:
        _present(harness, creds, phones, cred_index, minutes, revoked, drift_min)
    assert harness.lock.verify_journal() == harness.lock.journal.last_seq


def _present(
    harness: Harness,
    creds: list[Credential],
    phones: dict[int, tuple[SigningKeyPair, bytes]],
    cred_index: int,
    minutes: int,
    revoked: Revocations | None,
    drift_min: int,
) -> None:
    harness.clock.set(START + timedelta(minutes=minutes - drift_min))
    now = harness.lock.clock.now()
    cred = creds[cred_index] if 0 <= cred_index < len(creds) else None
    kind = KINDS[minutes % 3] if cred is None else cred.kind
    if kind == "code":
        attempt = harness.lock.enter_code(_code(cred_index) if cred else "3000017")
    elif kind == "card":
        attempt = harness.lock.present_card(_uid(cred_index) if cred else "FFFF0001")
    elif cred is not None:
        phone, token = phones[cred_index]
        attempt = harness.tap(phone, token)
    else:
        stranger = SigningKeyPair.generate()
        attempt = harness.tap(stranger, harness.token(stranger, signer=SigningKeyPair.generate()))
    expected = reference(cred, cred_index, revoked, now)
    assert attempt.decision.reason is expected, (cred, now, attempt)
    if attempt.granted:
        # Independent of the reference's order of checks: what a grant always implies.
        assert cred is not None
        assert "door-1" in cred.doors
        assert revoked is None or not (
            cred.subject in revoked.subjects
            or cred_index in revoked.credentials
            or cred.key_id in revoked.keys
            or revoked.lockdown
        )
        starts, ends = _at(cred.starts_h), _at(cred.ends_h)
        assert starts is None or now.timestamp() >= starts
        assert ends is None or now.timestamp() < ends
        assert (
            attempt.decision.credential_type
            is {
                "code": CredentialType.PERSONAL_DOORCODE,
                "card": CredentialType.KEYCARD,
                "mobile": CredentialType.MOBILE_KEY,
            }[cred.kind]
        )
    (record,) = harness.lock.journal.entries(attempt.seq, attempt.seq)
    assert record.reason is attempt.decision.reason
