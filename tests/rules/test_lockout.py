from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.rules.errors import InvalidLockoutPolicy
from keyturn.rules.lockout import (
    KeypadLockout,
    LockoutPolicy,
    brute_force_margin,
    guess_interval,
    is_locked,
    record_failure,
)

T0 = datetime(2026, 5, 11, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy()
MINUTE = timedelta(minutes=1)


def fail_times(
    times: list[datetime], state: KeypadLockout = KeypadLockout()
) -> tuple[KeypadLockout, list[datetime | None]]:
    results: list[datetime | None] = []
    for now in times:
        state, until = record_failure(state, now, POLICY)
        results.append(until)
    return state, results


def burst(start: datetime, count: int = 5) -> list[datetime]:
    return [start + timedelta(seconds=i) for i in range(count)]


def test_rule_a7_five_wrong_codes_within_ten_minutes_lock_the_keypad_for_a_minute() -> None:
    state, results = fail_times(burst(T0))
    assert results[:4] == [None] * 4
    fifth = T0 + timedelta(seconds=4)
    assert results[4] == fifth + MINUTE
    assert is_locked(state, fifth + timedelta(seconds=59))
    assert not is_locked(state, fifth + MINUTE)


def test_rule_a7_wrong_codes_spread_over_more_than_ten_minutes_do_not_lock() -> None:
    times = [T0 + i * timedelta(minutes=2, seconds=30) for i in range(12)]
    state, results = fail_times(times)
    assert results == [None] * 12
    assert not is_locked(state, times[-1])


def test_rule_a7_repeat_lockouts_double_up_to_one_hour() -> None:
    state = KeypadLockout()
    now = T0
    cooldowns = []
    for _ in range(9):
        state, results = fail_times(burst(now), state)
        until = results[-1]
        assert until is not None
        cooldowns.append(until - (now + timedelta(seconds=4)))
        now = until
    assert [c // MINUTE for c in cooldowns] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_rule_a7_wrong_code_during_lockout_is_ignored() -> None:
    state, results = fail_times(burst(T0))
    locked_until = results[-1]
    again, until = record_failure(state, T0 + timedelta(seconds=30), POLICY)
    assert again == state
    assert until == locked_until


def test_rule_a7_escalation_resets_after_a_quiet_hour() -> None:
    state, results = fail_times(burst(T0))
    first_end = results[-1]
    assert first_end is not None
    quiet_end = first_end + POLICY.max_cooldown
    _, results = fail_times(burst(quiet_end - timedelta(seconds=5)), state)
    assert results[-1] == quiet_end - timedelta(seconds=1) + 2 * MINUTE
    _, results = fail_times(burst(quiet_end), state)
    assert results[-1] == quiet_end + timedelta(seconds=4) + MINUTE


def test_cooldown_is_capped_even_for_huge_levels() -> None:
    assert POLICY.cooldown(1) == MINUTE
    assert POLICY.cooldown(3) == 4 * MINUTE
    assert POLICY.cooldown(10_000) == timedelta(hours=1)


def test_policy_refuses_settings_that_do_not_limit_guessing() -> None:
    with pytest.raises(InvalidLockoutPolicy):
        LockoutPolicy(max_failures=0)
    with pytest.raises(InvalidLockoutPolicy):
        LockoutPolicy(window=timedelta(0))
    with pytest.raises(InvalidLockoutPolicy):
        LockoutPolicy(first_cooldown=timedelta(hours=2))


def test_default_guess_interval_is_staying_just_under_the_threshold() -> None:
    assert guess_interval(POLICY) == timedelta(seconds=150)


def test_guess_interval_considers_lockout_cycles_when_the_window_is_long() -> None:
    policy = LockoutPolicy(window=timedelta(days=1))
    # Five lockouts (1+2+4+8+16 min) then a quiet hour: 25 guesses in 91 minutes.
    assert guess_interval(policy) == timedelta(minutes=91) / 25


def test_staying_under_the_threshold_never_locks_and_matches_guess_interval() -> None:
    interval = guess_interval(POLICY)
    times = [T0 + i * interval for i in range(200)]
    state, results = fail_times(times)
    assert results == [None] * 200
    assert not is_locked(state, times[-1])


def test_brute_force_margin_for_default_policy() -> None:
    margin = brute_force_margin(7, 1, POLICY)
    space = 10**7 - 1110
    assert margin == timedelta(seconds=(space + 1) / 2 * 150)
    assert timedelta(days=365 * 23) < margin < timedelta(days=365 * 24)


def test_brute_force_margin_shrinks_with_more_live_codes_and_grows_with_length() -> None:
    assert brute_force_margin(7, 100, POLICY) < brute_force_margin(7, 10, POLICY)
    assert brute_force_margin(5, 10, POLICY) < brute_force_margin(7, 10, POLICY)
    strict = LockoutPolicy(max_failures=3)
    assert brute_force_margin(7, 10, strict) > brute_force_margin(7, 10, POLICY)


def test_brute_force_margin_without_live_codes_is_unbounded() -> None:
    assert brute_force_margin(7, 0, POLICY) == timedelta.max


attempt_gaps = st.lists(st.integers(min_value=0, max_value=30 * 60), min_size=1, max_size=60).map(
    lambda gaps: [timedelta(seconds=g) for g in gaps]
)


@settings(deadline=None, max_examples=300)
@given(gaps=attempt_gaps)
def test_rule_a7_lockout_starts_exactly_at_the_fifth_counted_failure_in_a_window(
    gaps: list[timedelta],
) -> None:
    state = KeypadLockout()
    now = T0
    counted: list[datetime] = []
    for gap in gaps:
        now += gap
        locked_before = is_locked(state, now)
        state, until = record_failure(state, now, POLICY)
        if locked_before:
            continue
        counted = [t for t in counted if now - t < POLICY.window] + [now]
        if len(counted) >= POLICY.max_failures:
            assert until is not None
            assert POLICY.first_cooldown <= until - now <= POLICY.max_cooldown
            assert is_locked(state, now)
            counted = []
        else:
            assert until is None
            assert not is_locked(state, now)
