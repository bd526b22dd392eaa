"""A small building in simulated time: every lock decision matches the oracle, and every
journal entry ends up in the cloud or inside a recorded log gap."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from keyturn.sim.oracle import STANDING_SLOTS, Oracle, Truth
from keyturn.sim.run import SimConfig, simulate

NY = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 2, 15, tzinfo=UTC)  # a Monday, 10:00 in New York


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    workdir = tmp_path_factory.mktemp("sim")
    return simulate(SimConfig(doors=8, residents=20, days=4, seed=3), workdir)


def test_locks_never_disagree_with_the_oracle(summary: dict[str, Any]) -> None:
    assert summary["attempts"] > 200
    assert summary["oracle_disagreements"] == 0, summary["disagreement_examples"]


def test_rule_r4_every_event_is_in_the_cloud_or_in_a_recorded_gap(summary: dict[str, Any]) -> None:
    assert summary["lost_events"] > 0  # the lock that died before syncing
    assert summary["log_gaps_recorded"] >= 1
    assert summary["unaccounted_events"] == 0
    assert summary["events_in_cloud"] + summary["lost_events"] == summary["events_generated"]


def test_duplicated_uploads_store_nothing_twice(summary: dict[str, Any]) -> None:
    assert summary["duplicate_uploads_sent"] > 0
    assert summary["duplicate_events"] == 0


def test_the_run_covers_the_hard_cases(summary: dict[str, Any]) -> None:
    reasons = summary["denied_by_reason"]
    for reason in ("suspended", "keypad_locked_out", "outside_schedule", "unknown_credential"):
        assert reasons.get(reason, 0) > 0, reason
    assert summary["relay_syncs"] > 0
    assert summary["power_cuts"] > 0
    assert summary["lost_phone_suspensions"] == 1  # through the real A6 flow
    assert summary["photos"] > 0
    assert summary["photos_in_cloud"] == summary["photos"]


def test_residents_move_in_and_out_and_no_lock_admits_them_after_syncing_it(
    summary: dict[str, Any],
) -> None:
    assert summary["move_outs"] >= 1
    assert summary["scheduled_move_outs"] >= 1  # ended by end_due_residencies at its time
    assert summary["move_ins"] >= 1  # through the PMS sync
    assert summary["pms_syncs"] == 4
    assert summary["pms_reviews"] == 1  # the same email under another name
    assert summary["granted_after_move_out_sync"] == 0
    assert summary["denied_by_reason"].get("revoked", 0) > 0


def test_the_same_seed_repeats_the_same_run(tmp_path: Path, summary: dict[str, Any]) -> None:
    again = simulate(SimConfig(doors=8, residents=20, days=4, seed=3), tmp_path)
    for key in (
        "attempts",
        "granted",
        "denied_by_reason",
        "events_generated",
        "lost_events",
        "move_outs",
        "move_ins",
    ):
        assert again[key] == summary[key]


def test_simulate_command_prints_json_and_exits_zero() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keyturn",
            "simulate",
            "--doors",
            "5",
            "--residents",
            "6",
            "--days",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in (
        "attempts",
        "granted",
        "denied_by_reason",
        "photos",
        "events_generated",
        "events_in_cloud",
        "lost_events",
        "log_gaps_recorded",
        "duplicate_events",
        "oracle_disagreements",
        "lost_phone_suspensions",
        "move_outs",
        "move_ins",
        "granted_after_move_out_sync",
    ):
        assert key in summary


# The oracle is the yardstick, so it gets its own checks.


def _truth(**changes: Any) -> Truth:
    base = Truth("personal", "p", frozenset({"d"}), T0 - timedelta(days=1))
    for name, value in changes.items():
        setattr(base, name, value)
    return base


def test_oracle_needs_a_sync_for_listed_credentials_but_not_for_tokens() -> None:
    oracle = Oracle(NY)
    before_sync = T0 - timedelta(days=2)
    assert not oracle.expects_grant(_truth(), "d", T0, before_sync)
    assert oracle.expects_grant(_truth(kind="mobile"), "d", T0, before_sync)
    assert oracle.expects_grant(_truth(), "d", T0, T0)


def test_oracle_honours_revocation_only_once_the_lock_knows() -> None:
    oracle = Oracle(NY)
    revoked = _truth(revoked_at=T0 - timedelta(hours=1))
    assert oracle.expects_grant(revoked, "d", T0, T0 - timedelta(hours=2))
    assert not oracle.expects_grant(revoked, "d", T0, T0)
    oracle.suspend("p", T0 - timedelta(hours=1))
    assert not oracle.expects_grant(_truth(), "d", T0, T0)
    oracle.lift("p", T0 + timedelta(hours=1))
    assert oracle.expects_grant(_truth(), "d", T0 + timedelta(hours=2), T0 + timedelta(hours=2))


def test_rule_a6_oracle_bars_old_phones_for_good_and_revokes_temporary_codes() -> None:
    oracle = Oracle(NY)
    suspended_at, restored_at = T0 - timedelta(hours=2), T0
    old_phone = _truth(kind="mobile", phone_registered_at=T0 - timedelta(days=3))
    earlier_code = _truth(kind="one_time", holder=None, issued_for="p", window=timedelta(days=1))
    oracle.truths.append(earlier_code)
    oracle.suspend("p", suspended_at)
    mailed_code = _truth(
        kind="one_time", holder=None, issued_for="p", created_at=suspended_at, window=timedelta(1)
    )
    oracle.truths.append(mailed_code)
    during = suspended_at + timedelta(hours=1)
    assert not oracle.expects_grant(old_phone, "d", during, during)
    assert not oracle.expects_grant(_truth(), "d", during, during)
    assert not oracle.expects_grant(earlier_code, "d", during, during)
    assert oracle.expects_grant(mailed_code, "d", during, during)
    assert oracle.expects_grant(old_phone, "d", during, suspended_at - timedelta(minutes=1))

    oracle.lift("p", restored_at)
    later = restored_at + timedelta(hours=1)
    new_phone = _truth(kind="mobile", phone_registered_at=restored_at)
    assert oracle.expects_grant(_truth(), "d", later, later)
    assert oracle.expects_grant(new_phone, "d", later, later)
    assert not oracle.expects_grant(old_phone, "d", later, later)
    assert not oracle.expects_grant(mailed_code, "d", later, later)


def test_oracle_schedules_days_and_one_time_windows() -> None:
    oracle = Oracle(NY)
    walker = _truth(kind="mobile", weekdays=frozenset(range(5)), hours=(time(9), time(17)))
    assert oracle.expects_grant(walker, "d", T0, T0)  # Monday 10:00
    assert not oracle.expects_grant(walker, "d", T0 + timedelta(hours=8), T0)  # 18:00
    assert not oracle.expects_grant(walker, "d", T0 + timedelta(days=5), T0)  # Saturday
    guest = _truth(kind="single_day", day=date(2026, 3, 2), slot=0)
    assert oracle.expects_grant(guest, "d", T0, None)
    assert not oracle.expects_grant(guest, "d", T0 + timedelta(days=1), None)
    late_slot = _truth(kind="single_day", day=date(2026, 3, 2), slot=STANDING_SLOTS, created_at=T0)
    assert not oracle.expects_grant(
        late_slot, "d", T0 + timedelta(minutes=5), T0 - timedelta(hours=1)
    )
    courier = _truth(kind="one_time", window=timedelta(minutes=30), first_use=T0)
    assert oracle.expects_grant(courier, "d", T0 + timedelta(minutes=29), T0)
    assert not oracle.expects_grant(courier, "d", T0 + timedelta(minutes=31), T0)
    assert not oracle.expects_grant(None, "d", T0, T0)
    assert not oracle.expects_grant(_truth(), "other-door", T0, T0)


def test_oracle_lets_a_lock_decide_either_way_after_a_move_out_until_it_syncs() -> None:
    oracle = Oracle(NY)
    code = _truth()
    moved = T0 - timedelta(hours=1)
    oracle.move_out("p", moved, frozenset({"d"}))
    before_sync = T0 - timedelta(hours=2)
    assert oracle.expects_grant(code, "d", T0, before_sync)
    assert oracle.either_is_honest(code, "d", T0, before_sync)
    assert not oracle.expects_grant(code, "d", T0, T0)
    assert not oracle.either_is_honest(code, "d", T0, T0)
    assert oracle.moved_out_at("p", "d", T0) == moved


def test_oracle_a_move_out_ahead_counts_only_from_its_time() -> None:
    oracle = Oracle(NY)
    at = T0 + timedelta(hours=3)
    guest = _truth(kind="single_day", holder=None, made_by="p", day=date(2026, 3, 2), slot=0)
    oracle.truths.append(guest)
    oracle.move_out("p", at, frozenset({"d"}))
    assert oracle.expects_grant(_truth(), "d", T0, T0)
    assert not oracle.either_is_honest(_truth(), "d", T0, T0)
    assert oracle.moved_out_at("p", "d", T0) is None
    later = at + timedelta(minutes=5)
    assert oracle.either_is_honest(_truth(), "d", later, T0)
    assert not oracle.expects_grant(_truth(), "d", later, later)
    assert not oracle.expects_grant(guest, "d", later, later)  # the guest codes they made
    assert oracle.expects_grant(_truth(holder="q"), "d", later, later)
