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
    # A replay of the last downlink proves nothing about the time now.
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


def test_old_signed_time_never_turns_the_clock_back() -> None:
    hardware = ManualClock(START)
    clock = LockClock(hardware)
    now = clock.millis()
    assert clock.learn(now + 600_000, direct=True) is not None
    assert clock.learn(now - 600_000, direct=True) is None
    assert clock.millis() == now + 600_000


def test_relayed_time_only_moves_a_certain_clock_forward() -> None:
    clock = LockClock(ManualClock(START))
    now = clock.millis()
    behind = clock.learn(now - 3_600_000, direct=False)
    assert behind is not None
    assert not behind.applied
    assert clock.millis() == now
    ahead = clock.learn(now + 120_000, direct=False)
    assert ahead is not None
    assert ahead.applied
    assert clock.millis() == now + 120_000


def test_relayed_time_resets_an_uncertain_clock_both_ways() -> None:
    clock = LockClock(ManualClock(START), uncertain=True)
    now = clock.millis()
    result = clock.learn(now - 3_600_000, direct=False)
    assert result is not None
    assert result.applied
    assert not clock.uncertain
    assert clock.millis() == now - 3_600_000
