"""Which downlinks a lock takes: the answer to the uplink it awaits, or the next push, never
with signed time older than it trusts; and how far each moves its clock."""

from __future__ import annotations

import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.lock.clock import TOLERANCE_MS
from keyturn.lock.errors import SyncRefused
from keyturn.lock.freshness import StaleDownlink
from keyturn.protocol.messages import Downlink
from keyturn.protocol.sealing import seal
from lock.harness import Harness

CODE = "4815162"


def test_a_downlink_bound_to_nothing_or_to_both_is_refused(harness: Harness) -> None:
    nonce = harness.receive(harness.lock.build_uplink()).nonce
    for answers, push_seq in ((None, None), (nonce, 1)):
        message = Downlink(harness.device_id, int(harness.now().timestamp()), 0, answers, push_seq)
        frame = seal(message, harness.authority, harness.sync_key, harness.device_id)
        with pytest.raises(StaleDownlink, match="answers one uplink or carries a push"):
            harness.lock.apply_downlink(frame)


def test_only_the_answer_to_the_latest_uplink_is_taken(harness: Harness) -> None:
    first = harness.answer(harness.lock.build_uplink())
    second = harness.answer(harness.lock.build_uplink())
    with pytest.raises(StaleDownlink, match="no uplink this lock awaits"):
        harness.lock.apply_downlink(first)
    harness.lock.apply_downlink(second)
    with pytest.raises(StaleDownlink, match="no uplink this lock awaits"):
        harness.lock.apply_downlink(second)


def test_a_refused_answer_leaves_the_uplink_awaited(harness: Harness) -> None:
    frame = harness.lock.build_uplink()
    stranger = harness.downlink(answers=b"\x00" * 16)
    with pytest.raises(StaleDownlink):
        harness.lock.apply_downlink(stranger)
    harness.lock.apply_downlink(harness.answer(frame))


def test_pushes_are_taken_in_sequence_with_gaps_and_the_sequence_survives_restart(
    harness: Harness,
) -> None:
    harness.push(harness.code(CODE, "c1"))
    late = harness.downlink()  # push 2, held back by its carrier
    harness.pushes = 4
    harness.push(harness.code(CODE, "c1"))  # push 5: 3 and 4 were lost, that is allowed
    for frame in (late, harness.downlink(push_seq=5)):
        with pytest.raises(StaleDownlink, match="not after push 5"):
            harness.lock.apply_downlink(frame)
    harness.reopen()
    with pytest.raises(StaleDownlink, match="not after push 5"):
        harness.lock.apply_downlink(harness.downlink(push_seq=5))
    harness.lock.apply_downlink(harness.downlink(push_seq=6))


def test_signed_time_older_than_the_trusted_one_is_refused_even_after_restart(
    harness: Harness,
) -> None:
    harness.clock.advance(3600)
    harness.sync()
    harness.reopen()
    before = harness.lock.clock.millis(), harness.lock.index.version
    old = harness.now() - timedelta(minutes=30)
    for frame in (
        harness.downlink(harness.access_list(harness.code(CODE, "c1")), issued_at=old),
        harness.answer(harness.lock.build_uplink(), issued_at=old),
    ):
        with pytest.raises(StaleDownlink, match="older than the lock trusts"):
            harness.lock.apply_downlink(frame)
    assert (harness.lock.clock.millis(), harness.lock.index.version) == before


def test_a_late_answer_moves_the_clock_only_within_what_it_proves(harness: Harness) -> None:
    frame = harness.lock.build_uplink()
    answer = harness.answer(frame)
    harness.clock.advance(4 * 24 * 3600)  # no newer uplink left: the answer is still awaited
    before = harness.lock.clock.millis()
    result = harness.lock.apply_downlink(answer)
    assert not result.time.applied
    assert harness.lock.clock.millis() == before


def test_an_answer_corrects_a_fast_clock_and_a_push_does_not(harness: Harness) -> None:
    truth = harness.now() - timedelta(hours=2)  # the lock's hardware runs two hours fast
    pushed = harness.lock.apply_downlink(harness.downlink(issued_at=truth))
    assert not pushed.time.applied
    answered = harness.lock.apply_downlink(
        harness.answer(harness.lock.build_uplink(), issued_at=truth)
    )
    assert answered.time.applied
    assert abs(harness.lock.clock.millis() - int(truth.timestamp() * 1000)) <= TOLERANCE_MS


_steps = st.lists(
    st.one_of(
        st.tuples(st.just("wait"), st.integers(1, 5 * 24 * 3600)),
        st.tuples(st.just("uplink"), st.just(0)),  # the cloud answers it; delivered later
        st.tuples(st.just("push"), st.just(0)),  # the cloud pushes; delivered later
        st.tuples(st.just("deliver"), st.integers(0, 30)),  # any frame made so far, again
        st.tuples(st.just("restart"), st.just(0)),
    ),
    min_size=1,
    max_size=20,
)


@settings(max_examples=60, deadline=None)
@given(steps=_steps, skew_s=st.integers(-3 * 3600, 3 * 3600))
def test_no_order_of_answers_and_pushes_moves_trusted_time_back(
    steps: list[tuple[str, int]], skew_s: int
) -> None:
    """The cloud signs true time; the lock's hardware is `skew_s` off it. Whatever a carrier
    delivers, in whatever order, the trusted time never goes back and the lock's clock never
    falls behind the truth or ahead of wherever it already was and the truth."""
    with tempfile.TemporaryDirectory() as tmp:
        harness = Harness(Path(tmp) / "lock")
        try:
            _drive(harness, steps, skew_s * 1000)
        finally:
            harness.close()


def _drive(harness: Harness, steps: list[tuple[str, int]], skew_ms: int) -> None:
    harness.clock.advance(skew_ms / 1000)
    frames: list[bytes] = []
    for step, value in steps:
        truth_ms = harness.clock.millis() - skew_ms
        issued_at = harness.now() - timedelta(milliseconds=skew_ms)
        before, trusted = harness.lock.clock.millis(), harness.lock.clock.last_signed_ms
        if step == "wait":
            harness.clock.advance(value)
            continue
        if step == "uplink":
            frames.append(harness.answer(harness.lock.build_uplink(), issued_at=issued_at))
        elif step == "push":
            frames.append(harness.downlink(issued_at=issued_at))
        elif step == "restart":
            harness.reopen()
        elif frames:
            with contextlib.suppress(SyncRefused):
                harness.lock.apply_downlink(frames[value % len(frames)])
        now = harness.lock.clock.millis()
        assert harness.lock.clock.last_signed_ms >= trusted
        assert now >= min(before, truth_ms - TOLERANCE_MS)
        assert now <= max(before, truth_ms + TOLERANCE_MS)
