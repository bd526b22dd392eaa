from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from keyturn.crypto.codes import single_day_code
from keyturn.lock.keypad import KeypadBuffer, SingleDayCodes
from keyturn.protocol.messages import LockoutSpec, ScheduleSpec, SingleDayRevocation
from keyturn.rules.types import CredentialType, Reason
from lock.harness import Harness

NY = ZoneInfo("America/New_York")
CODE = "4815162"


def _type(harness: Harness, code: str) -> list[object]:
    return [harness.lock.press_key(digit) for digit in code]


def test_digits_complete_a_code_at_the_property_length(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    results = _type(harness, CODE)
    assert results[:-1] == [None] * 6
    attempt = results[-1]
    assert attempt is not None
    assert attempt.granted


def test_a_pause_over_five_seconds_clears_the_buffer(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    _type(harness, "999")
    harness.clock.advance(5.001)
    results = _type(harness, CODE)
    assert results[:-1] == [None] * 6
    attempt = results[-1]
    assert attempt is not None
    assert attempt.granted
    _type(harness, "999")
    harness.clock.advance(4.999)
    attempt = _type(harness, CODE[:4])[-1]
    assert attempt is not None
    assert not attempt.granted


def test_a_pause_of_exactly_five_seconds_keeps_the_buffer() -> None:
    buffer = KeypadBuffer(3)
    assert buffer.press("1", 0) is None
    assert buffer.press("2", 5_000) is None
    assert buffer.press("3", 10_000) == "123"


def test_enter_submits_a_short_code_and_clear_empties() -> None:
    buffer = KeypadBuffer(7)
    buffer.press("1", 0)
    buffer.press("*", 1)
    assert buffer.pending == 0
    buffer.press("9", 2)
    assert buffer.press("#", 3) == "9"
    assert buffer.press("#", 4) is None
    with pytest.raises(ValueError, match="not a keypad key"):
        buffer.press("x", 5)


def test_personal_code_is_found_and_journalled_with_its_subject(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1", subject="alice", resident=True))
    attempt = harness.lock.enter_code(CODE)
    assert attempt.decision.reason is Reason.GRANTED
    (record,) = harness.lock.journal.entries(attempt.seq, attempt.seq)
    assert (record.subject, record.credential_id, record.by_resident) == ("alice", "c1", True)
    assert record.credential_type is CredentialType.PERSONAL_DOORCODE


def test_unknown_code_is_denied(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    assert harness.lock.enter_code("4815163").decision.reason is Reason.UNKNOWN_CREDENTIAL


def test_personal_code_outside_its_weekly_window_is_refused(harness: Harness) -> None:
    # Monday 09:00-10:00 local only; the harness starts Monday 10:00.
    window = ScheduleSpec(windows=(_window(0, 9 * 60, 10 * 60),))
    harness.push(harness.code(CODE, "c1", schedule=window))
    assert harness.lock.enter_code(CODE).decision.reason is Reason.OUTSIDE_SCHEDULE
    harness.clock.advance(-60)
    assert harness.lock.enter_code(CODE).granted


def _window(weekday: int, start: int, end: int) -> object:
    from keyturn.protocol.messages import WindowSpec

    return WindowSpec(weekday, start, end)


def _local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NY).astimezone(UTC)


def test_rule_a4_single_day_code_opens_only_on_its_local_day(harness: Harness) -> None:
    harness.push(single_day_slots=3)
    day = date(2026, 3, 2)
    code = single_day_code(harness.secret, day, 1, 7)
    harness.clock.set(_local(2026, 3, 2, 0, 0))
    attempt = harness.lock.enter_code(code)
    assert attempt.granted
    assert attempt.decision.entry is not None
    assert attempt.decision.entry.credential_id == "single-day:2026-03-02:1"
    harness.clock.set(_local(2026, 3, 2, 23, 59))
    assert harness.lock.enter_code(code).granted
    # Within the grace window after midnight the code is recognised, and refused as expired.
    harness.clock.set(_local(2026, 3, 3, 0, 5))
    assert harness.lock.enter_code(code).decision.reason is Reason.EXPIRED
    harness.clock.set(_local(2026, 3, 3, 0, 20))
    assert harness.lock.enter_code(code).decision.reason is Reason.UNKNOWN_CREDENTIAL


def test_rule_a4_tomorrows_code_is_not_yet_valid_before_midnight(harness: Harness) -> None:
    harness.push(single_day_slots=2)
    code = single_day_code(harness.secret, date(2026, 3, 3), 0, 7)
    harness.clock.set(_local(2026, 3, 2, 23, 50))
    assert harness.lock.enter_code(code).decision.reason is Reason.NOT_YET_VALID
    harness.clock.set(_local(2026, 3, 2, 23, 30))
    assert harness.lock.enter_code(code).decision.reason is Reason.UNKNOWN_CREDENTIAL


def test_rule_a4_single_day_slots_beyond_the_live_count_are_unknown(harness: Harness) -> None:
    harness.push(single_day_slots=2)
    code = single_day_code(harness.secret, date(2026, 3, 2), 2, 7)
    assert harness.lock.enter_code(code).decision.reason is Reason.UNKNOWN_CREDENTIAL


def test_rule_a4_single_day_revocation_takes_effect_once_synced(harness: Harness) -> None:
    harness.push(single_day_slots=2)
    code = single_day_code(harness.secret, date(2026, 3, 2), 0, 7)
    assert harness.lock.enter_code(code).granted
    revoked = (SingleDayRevocation("2026-03-02", 0),)
    harness.push(single_day_slots=2, single_day_revocations=revoked)
    assert harness.lock.enter_code(code).decision.reason is Reason.REVOKED
    other = single_day_code(harness.secret, date(2026, 3, 2), 1, 7)
    assert harness.lock.enter_code(other).granted


def test_single_day_table_spans_the_adjacent_day_only_near_midnight() -> None:
    codes = SingleDayCodes(b"k" * 32, 7, NY)
    codes.set_slots(1)
    noon = round(_local(2026, 3, 2, 12).timestamp() * 1000)
    late = round(_local(2026, 3, 2, 23, 46).timestamp() * 1000)
    early = round(_local(2026, 3, 2, 0, 14).timestamp() * 1000)
    assert codes.candidate_days(noon) == (date(2026, 3, 2),)
    assert codes.candidate_days(late) == (date(2026, 3, 2), date(2026, 3, 3))
    assert codes.candidate_days(early) == (date(2026, 3, 2), date(2026, 3, 1))


def test_one_time_code_expires_a_set_time_after_first_use(harness: Harness) -> None:
    spec = harness.code(CODE, "otc-1", kind=CredentialType.ONE_TIME_CODE, use_window_s=600)
    harness.push(spec)
    harness.clock.advance(3600)  # unused codes do not run down
    first = harness.lock.enter_code(CODE)
    assert first.granted
    assert first.decision.credential_type is CredentialType.ONE_TIME_CODE
    harness.clock.advance(599)
    harness.reopen()  # the first use survives a restart
    assert harness.lock.enter_code(CODE).granted
    harness.clock.advance(1)
    assert harness.lock.enter_code(CODE).decision.reason is Reason.EXPIRED


def test_a_new_full_list_does_not_give_a_used_one_time_code_a_fresh_window(
    harness: Harness,
) -> None:
    spec = harness.code(CODE, "otc-1", kind=CredentialType.ONE_TIME_CODE, use_window_s=600)
    other = harness.code("7305921", "otc-2", kind=CredentialType.ONE_TIME_CODE, use_window_s=600)
    harness.push(spec, other)
    assert harness.lock.enter_code(CODE).granted
    assert harness.lock.enter_code("7305921").granted
    harness.clock.advance(300)
    harness.push(spec)  # a full list that still holds otc-1 and drops otc-2
    harness.clock.advance(300)

    assert harness.lock.enter_code(CODE).decision.reason is Reason.EXPIRED
    harness.reopen()
    assert harness.lock.enter_code(CODE).decision.reason is Reason.EXPIRED
    harness.push(spec, other)  # listed again: a dropped code's use is not remembered
    assert harness.lock.enter_code("7305921").granted


def _brute_force(harness: Harness, count: int) -> list[Reason]:
    reasons = []
    for n in range(count):
        reasons.append(harness.lock.enter_code(f"{1000000 + n * 7919:07d}").decision.reason)
    return reasons


def test_rule_a7_five_wrong_codes_lock_the_keypad_for_a_minute(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"), harness.card("04A1B2C3", "card-1"))
    assert _brute_force(harness, 5) == [Reason.UNKNOWN_CREDENTIAL] * 5
    locked = harness.lock.enter_code(CODE)
    assert locked.decision.reason is Reason.KEYPAD_LOCKED_OUT
    kinds = [r.kind for r in harness.lock.journal.entries()]
    assert kinds.count("keypad_lockout") == 1
    # A7: another credential type still works during the lockout.
    assert harness.lock.present_card("04A1B2C3").granted
    harness.clock.advance(59)
    assert harness.lock.enter_code(CODE).decision.reason is Reason.KEYPAD_LOCKED_OUT
    harness.clock.advance(1)
    assert harness.lock.enter_code(CODE).granted


def test_rule_a7_lockout_doubles_on_each_repeat_up_to_an_hour(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    cooldowns = []
    for _ in range(8):
        _brute_force(harness, 5)
        until = harness.lock.keypad_locked_until
        assert until is not None
        cooldowns.append(until - harness.now())
        harness.clock.set(until)
    minutes = [c // timedelta(minutes=1) for c in cooldowns]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60]
    details = [r.detail for r in harness.lock.journal.entries() if r.kind == "keypad_lockout"]
    assert len(details) == 8
    assert details[-1] is not None
    assert "level=8" in details[-1]


def test_rule_a7_lockout_survives_a_restart(harness: Harness) -> None:
    harness.push(harness.code(CODE, "c1"))
    _brute_force(harness, 5)
    harness.reopen(power_lost=True)
    assert harness.lock.enter_code(CODE).decision.reason is Reason.KEYPAD_LOCKED_OUT


def test_rule_a7_codes_refused_for_their_schedule_are_not_guesses(tmp_path: Path) -> None:
    harness = Harness(tmp_path, lockout=LockoutSpec(max_failures=2))
    expired = ScheduleSpec(ends_at=int(harness.now().timestamp()) - 1)
    harness.push(harness.code(CODE, "c1", schedule=expired), harness.code("7395148", "c2"))
    for _ in range(3):
        assert harness.lock.enter_code(CODE).decision.reason is Reason.EXPIRED
    assert harness.lock.enter_code("7395148").granted
    harness.close()


def test_a_listed_code_wins_over_a_single_day_code_with_the_same_digits(
    harness: Harness,
) -> None:
    clash = single_day_code(harness.secret, date(2026, 3, 2), 0, 7)
    harness.push(harness.code(clash, "c-clash", subject="resident"), single_day_slots=2)
    attempt = harness.lock.enter_code(clash)
    assert attempt.decision.credential_type is CredentialType.PERSONAL_DOORCODE
    assert attempt.decision.subject == "resident"
    # Once the listed code is gone, the digits are the single-day code again.
    harness.push(single_day_slots=2)
    again = harness.lock.enter_code(clash)
    assert again.decision.credential_type is CredentialType.SINGLE_DAY_CODE
    assert again.granted
