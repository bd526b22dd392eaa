"""The lock as a process: text commands on stdin (`code 1234567`, `card 04A2B3`, `key`,
`door open`), one JSON line out per command, and a sync with the cloud every so often.

It stands in for the lock's hardware inputs; the CLI's `keyturn lock run` is a thin shell
around `serve`.
"""

from __future__ import annotations

import gc
import json
import select
import threading
import time
from typing import Any, TextIO

from keyturn.lock.agent import Attempt, Lock
from keyturn.lock.errors import LockError
from keyturn.lock.sync import Transport, sync_once
from keyturn.protocol.messages import EventRecord

TICK_S = 1.0
HELP = (
    "commands: code DIGITS | press KEY | card UID | key | door open | door close | "
    "battery PCT | challenge | mobile CHALLENGE_HEX TOKEN_HEX SIGNATURE_HEX | sync | "
    "status | verify | quit"
)


def attempt_json(attempt: Attempt) -> dict[str, Any]:
    decision = attempt.decision
    return {
        "event": "attempt",
        "seq": attempt.seq,
        "granted": attempt.granted,
        "reason": decision.reason.value,
        "credential_type": decision.credential_type.value,
        "subject": decision.subject,
        "photo_id": attempt.photo_id,
        "detail": attempt.detail,
    }


def record_json(record: EventRecord) -> dict[str, Any]:
    return {"event": record.kind, "seq": record.seq, "detail": record.detail}


def status_json(lock: Lock) -> dict[str, Any]:
    status = lock.device_status()
    locked = lock.keypad_locked_until
    return {
        "event": "status",
        "device_id": lock.device_id,
        "door_id": lock.door_id,
        "lock_time": lock.clock.now().isoformat(),
        "clock_uncertain": lock.clock.uncertain,
        "access_list_version": status.access_list_version,
        "firmware_version": status.firmware_version,
        "battery_pct": status.battery_pct,
        "last_seq": status.last_seq,
        "journal_floor": status.journal_floor,
        "keypad_locked_until": locked.isoformat() if locked else None,
    }


def handle(lock: Lock, line: str, transport: Transport | None) -> list[dict[str, Any]]:
    """Run one command line; the JSON objects to print."""
    words = line.split()
    if not words:
        return []
    command, args = words[0].lower(), words[1:]
    try:
        return _dispatch(lock, command, args, transport)
    except (LockError, ValueError) as exc:
        return [{"event": "error", "error": str(exc)}]


def _dispatch(
    lock: Lock, command: str, args: list[str], transport: Transport | None
) -> list[dict[str, Any]]:
    if command == "code" and len(args) == 1:
        return [attempt_json(lock.enter_code(args[0]))]
    if command == "press" and len(args) == 1:
        attempt = lock.press_key(args[0])
        return [] if attempt is None else [attempt_json(attempt)]
    if command == "card" and len(args) == 1:
        return [attempt_json(lock.present_card(args[0]))]
    if command == "key" and not args:
        return [attempt_json(lock.turn_mechanical_key())]
    if command == "door" and args == ["open"]:
        record = lock.door_opened()
        return [record_json(record)] if record else [{"event": "door_open"}]
    if command == "door" and args == ["close"]:
        lock.door_closed()
        return [{"event": "door_closed"}]
    if command == "battery" and len(args) == 1:
        record = lock.report_battery(int(args[0]))
        return [record_json(record)] if record else [{"event": "battery", "pct": int(args[0])}]
    if command == "challenge" and not args:
        return [{"event": "challenge", "challenge": lock.issue_challenge().hex()}]
    if command == "mobile" and len(args) == 3:
        challenge, token, signature = (bytes.fromhex(arg) for arg in args)
        return [attempt_json(lock.present_mobile_key(challenge, token, signature))]
    if command == "sync" and not args:
        return [_sync(lock, transport)]
    if command == "status" and not args:
        return [status_json(lock)]
    if command == "verify" and not args:
        return [{"event": "journal_verified", "entries": lock.verify_journal()}]
    return [{"event": "error", "error": f"unknown command; {HELP}"}]


def _sync(lock: Lock, transport: Transport | None) -> dict[str, Any]:
    if transport is None:
        return {"event": "error", "error": "no cloud to sync with"}
    try:
        result = sync_once(lock, transport)
    except LockError as exc:
        return {"event": "sync_failed", "error": str(exc)}
    applied = result.access_list
    return {
        "event": "synced",
        "access_list_version": lock.index.version,
        "access_list_refused": applied.refusal if applied and not applied.applied else None,
        "journal_floor": result.journal_floor,
        "purged": list(result.purged_requests),
        "firmware": result.firmware,
    }


def serve(
    lock: Lock,
    commands: TextIO,
    out: TextIO,
    transport: Transport | None = None,
    sync_every_s: float = 60.0,
    guard: threading.RLock | None = None,
) -> None:
    """Read commands until `quit` or end of input, ticking and syncing in between.

    `guard` is held around every use of the lock, so another thread (the near-field service)
    can share it.
    """
    guard = guard if guard is not None else threading.RLock()
    # The access list lives as long as the process: keep the collector off its objects.
    gc.freeze()
    next_sync = time.monotonic()

    def emit(items: list[dict[str, Any]]) -> None:
        for item in items:
            out.write(json.dumps(item) + "\n")
        out.flush()

    while True:
        now = time.monotonic()
        if transport is not None and now >= next_sync:
            with guard:
                synced = _sync(lock, transport)
            emit([synced])
            next_sync = now + sync_every_s
        wait = TICK_S if transport is None else max(0.0, min(TICK_S, next_sync - now))
        ready, _, _ = select.select([commands], [], [], wait)
        if ready:
            line = commands.readline()
            if not line or line.strip().lower() == "quit":
                return
            with guard:
                answers = handle(lock, line, transport)
            emit(answers)
        with guard:
            ticked = lock.tick()
        emit([record_json(record) for record in ticked])
