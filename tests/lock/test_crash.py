from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from keyturn.protocol.messages import LockoutSpec
from keyturn.rules.types import Reason
from lock.harness import Harness

DRIVER = Path(__file__).with_name("crash_driver.py")
CODE = "4815162"
CARD = "C0FFEE01"
GRANTS_BEFORE_KILL = 40
TIMEOUT_S = 60


def _read_grants(proc: subprocess.Popen[str], wanted: int) -> list[int]:
    assert proc.stdout is not None
    granted: list[int] = []
    deadline = time.monotonic() + TIMEOUT_S
    while len(granted) < wanted:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"driver reported only {len(granted)} grants"
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            line = proc.stdout.readline()
            assert line, "driver exited early"
            granted.append(int(line.split()[1]))
    return granted


def test_kill_9_mid_traffic_loses_no_granted_entry(tmp_path: Path) -> None:
    harness = Harness(tmp_path / "lock", lockout=LockoutSpec(max_failures=1_000_000))
    harness.push(harness.code(CODE, "c1", subject="p1"), harness.card(CARD, "k1", subject="p2"))
    harness.close()
    proc = subprocess.Popen(
        [sys.executable, str(DRIVER), str(tmp_path / "lock"), CODE, CARD],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        granted = _read_grants(proc, GRANTS_BEFORE_KILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=TIMEOUT_S)
        # Anything printed before the kill landed was committed too.
        assert proc.stdout is not None
        granted += [int(line.split()[1]) for line in proc.stdout.read().splitlines()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    lock = harness.reopen()
    records = list(lock.journal.entries())
    assert lock.verify_journal() == len(records) == lock.journal.last_seq
    assert [r.seq for r in records] == list(range(1, len(records) + 1))
    by_seq = {r.seq: r for r in records}
    for seq in granted:
        assert by_seq[seq].reason is Reason.GRANTED
    assert len(records) >= max(granted)
    # The lock carries on from where it stopped.
    assert lock.enter_code(CODE).seq == len(records) + 1
    assert lock.verify_journal() == len(records) + 1
    # Photo files whose entry never committed are gone; every recorded photo opens.
    recorded = {r.photo_id for r in lock.journal.entries() if r.photo_id is not None}
    on_disk = {p.stem for p in (tmp_path / "lock" / "photos").glob("*.bin")}
    assert on_disk == recorded
    for photo_id in list(recorded)[:5]:
        assert lock.photos.read(photo_id).startswith(b"\xff\xd8")
    harness.close()
