from __future__ import annotations

from datetime import timedelta

from keyturn.lock.clock import LockClock, ManualClock
from lock.harness import START, Harness

CODE = "4815162"


def test_signed_time_sets_the_offset_and_survives_restart(harness: Harness) -> None:
    truth = harness.now() + timedelta(minutes=7)
    result = harness.lock.apply_downlink(harness.downlink(issued_at=truth))
    assert result.time is not None
    assert result.time.drift_ms == 420_000
    assert harness.lock.clock.now() == truth
    assert harness.reopen().clock.now() == truth
    kinds = [r.kind for r in harness.lock.journal.entries()]
    assert kinds == ["clock_corrected"]


def test_small_drift_is_ignored(harness: Harness) -> None:
    result = harness.lock.apply_downlink(
        harness.downlink(issued_at=harness.now() + timedelta(seconds=2))
    )
    assert result.time is not None
    assert not result.time.applied
    assert harness.lock.clock.offset_ms == 0


def test_rule_a9_events_after_power_loss_are_clock_uncertain_until_signed_time(
    harness: Harness,
) -> None:
    harness.push(harness.code(CODE, "c1"))
    assert harness.lock.enter_code(CODE).decision.entry is not None
    harness.reopen(power_lost=True)
    harness.lock.turn_mechanical_key()
    attempt = harness.lock.enter_code(CODE)
    harness.reopen()  # a plain restart keeps the flag
    later = harness.lock.enter_code(CODE)
    # A push proves nothing about how long it travelled, so the clock stays uncertain.
    harness.lock.apply_downlink(harness.downlink())
    assert harness.lock.clock.uncertain
    harness.clock.advance(60)
    harness.sync()
    after_sync = harness.lock.enter_code(CODE)
    flags = {r.seq: r.clock_uncertain for r in harness.cloud_events.values()}
    assert flags[1] is False
    assert flags[attempt.seq]
    assert flags[later.seq]
    (record,) = harness.lock.journal.entries(after_sync.seq, after_sync.seq)
    assert not record.clock_uncertain
    kinds = [harness.cloud_events[s].kind for s in sorted(harness.cloud_events)]
    assert "power_restored" in kinds


def test_a_push_proves_only_that_now_is_at_least_its_signed_time() -> None:
    clock = LockClock(ManualClock(START))
    now = clock.millis()
    behind = clock.learn(now - 3_600_000, None)
    assert not behind.applied
    assert clock.millis() == now
    ahead = clock.learn(now + 120_000, None)
    assert ahead.applied
    assert ahead.drift_ms == 120_000
    assert clock.millis() == now + 120_000


def test_an_answer_brings_a_fast_clock_back_only_to_its_latest_end() -> None:
    clock = LockClock(ManualClock(START))
    now = clock.millis()
    result = clock.learn(now - 3_600_000, now - 3_000_000)
    assert result.applied
    assert result.drift_ms == -3_000_000
    assert clock.millis() == now - 3_000_000
    assert clock.last_signed_ms == now - 3_600_000


def test_only_an_answer_ends_the_uncertainty_of_a_power_loss() -> None:
    clock = LockClock(ManualClock(START), uncertain=True)
    now = clock.millis()
    clock.learn(now + 60_000, None)
    assert clock.uncertain
    result = clock.learn(now - 3_600_000, now - 3_590_000)
    assert result.applied
    assert result.was_uncertain
    assert not clock.uncertain
    assert clock.millis() == now - 3_590_000
