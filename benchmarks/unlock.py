"""Unlock decisions on a real lock: mobile key (cached and first-seen token) and keypad codes
among 10,000 at the door, against the raw primitive, plus the lock's resident memory.

Decisions are measured without the journal write (a flushed SQLite commit costs more than
the whole budget; `keyturn bench sync` measures it). The mobile-key figures include
the challenge bookkeeping, the token cache, both COSE signature checks and decide().
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from _report import best_of_interleaved, report
from keyturn.crypto.codes import code_mac, door_secret, single_day_code
from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import issue_mobile_key, sign_challenge
from keyturn.lock.agent import Lock
from keyturn.lock.clock import ManualClock
from keyturn.lock.provision import create_identity, install_config
from keyturn.protocol.messages import (
    AccessList,
    CredentialSpec,
    DoorConfig,
    Downlink,
    LockoutSpec,
    ScheduleSpec,
)
from keyturn.protocol.mobile_claims import token_schedule_claim
from keyturn.protocol.sealing import seal
from keyturn.rules.types import Capability, CredentialType, DoorKind

CODES_AT_DOOR = 10_000
DOOR = "door-1"
DEVICE = "lock-1"
NOW = datetime(2026, 11, 26, 15, tzinfo=UTC)
MOBILE_CACHED_TARGET = 1.5
MOBILE_FIRST_TARGET = 2.5
KEYPAD_TARGET = 4.0
RSS_TARGET_MB = 80.0
BATCH = 60
ROUNDS = 25


class BenchDoor:
    """A provisioned lock plus the authority and secrets the cloud would hold for it."""

    def __init__(self, root: Path, like: BenchDoor | None = None) -> None:
        """A new lock; with `like`, one sharing that door's authority and secrets."""
        self.root = root
        self.authority = like.authority if like else SigningKeyPair.generate()
        self.secret = like.secret if like else door_secret()
        self.sync_key = like.sync_key if like else secrets.token_bytes(32)
        self.device_public = create_identity(root)
        install_config(
            root,
            DoorConfig(
                device_id=DEVICE,
                door_id=DOOR,
                door_kind=DoorKind.ENTRANCE,
                property_id="prop-1",
                time_zone="America/New_York",
                capabilities=tuple(Capability),
                code_length=7,
                lockout=LockoutSpec(),
                authority_public_key=self.authority.public_bytes(),
                door_secret=self.secret,
                sync_key=self.sync_key,
            ),
        )
        self.codes = [f"{n * 997 + 1000003:07d}" for n in range(CODES_AT_DOOR)]

    def specs(self) -> tuple[CredentialSpec, ...]:
        return tuple(
            CredentialSpec(
                credential_id=f"cred-{n:05d}",
                credential_type=CredentialType.PERSONAL_DOORCODE,
                lookup=code_mac(self.secret, code),
                subject=f"person-{n:05d}",
                key_id=f"key-{n % 50}",
                grant_id=f"grant-{n:05d}",
                granted_by=None,
                resident=n % 2 == 0,
                schedule=ScheduleSpec(),
            )
            for n, code in enumerate(self.codes)
        )

    def frame(self, version: int, slots: int = 0) -> bytes:
        access_list = AccessList(
            door_id=DOOR,
            version=version,
            base_version=None,
            issued_at=int(NOW.timestamp()),
            upserts=self.specs(),
            single_day_slots=slots,
        )
        downlink = Downlink(
            DEVICE, int(NOW.timestamp()), 0, push_seq=version, access_list=access_list
        )
        return seal(downlink, self.authority, self.sync_key, DEVICE)

    def token(self, phone: SigningKeyPair) -> bytes:
        claim = token_schedule_claim(ScheduleSpec(), "person-m", "mk-1", resident=True)
        start = NOW - timedelta(hours=1)
        return issue_mobile_key(
            self.authority,
            phone.public_bytes(),
            "key-m",
            [DOOR],
            start,
            NOW + timedelta(days=2),
            claim,
            start,
        )


def batch_seconds(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def raw_verify_batch() -> Callable[[], float]:
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = secrets.token_bytes(64)
    signature = key.sign(message)
    return lambda: batch_seconds(lambda: public.verify(signature, message), BATCH)


def mobile_batch(lock: Lock, phone: SigningKeyPair, tokens: list[bytes]) -> Callable[[], float]:
    """One batch of BATCH decisions on fresh challenges, each answered with the next token
    of `tokens` (cycling): one token means cached, many distinct ones mean first-seen."""
    used = 0

    def run() -> float:
        nonlocal used
        answers = []
        for _ in range(BATCH):
            challenge = lock.issue_challenge()
            signature = sign_challenge(phone, challenge, DOOR)
            answers.append((challenge, tokens[used % len(tokens)], signature))
            used += 1
        start = time.perf_counter()
        for challenge, token, signature in answers:
            decision = lock.decide_mobile_key(challenge, token, signature)
        elapsed = (time.perf_counter() - start) / BATCH
        assert decision.granted
        return elapsed

    return run


def rss_child(root: str, frame_path: str) -> None:
    """Run in a subprocess: a whole lock with 10,000 credentials; prints peak RSS in MB.

    Peak RSS is VmHWM: getrusage's ru_maxrss would include the parent's peak, which a child
    inherits across fork and exec on Linux.
    """
    clock = ManualClock(NOW)
    lock = Lock.open(Path(root), clock)
    lock.apply_downlink(Path(frame_path).read_bytes())
    lock.close()
    lock = Lock.open(Path(root), clock)
    assert lock.index.version == 1
    assert len(lock.index.by_lookup) == CODES_AT_DOOR
    for code in ("1000003", "9999999"):
        lock.enter_code(code)
    status = Path("/proc/self/status").read_text()
    peak_kb = next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM"))
    print(int(peak_kb) / 1024)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        door = BenchDoor(Path(tmp) / "lock")
        clock = ManualClock(NOW)
        lock = Lock.open(door.root, clock)
        lock.apply_downlink(door.frame(1, slots=CODES_AT_DOOR))
        phone = SigningKeyPair.generate()

        verify = raw_verify_batch()
        cached = mobile_batch(lock, phone, [door.token(phone)])
        base, value = best_of_interleaved(verify, cached, ROUNDS)
        report("unlock.mobile_key_cached_token", value, "s/decision", base, MOBILE_CACHED_TARGET)
        first = mobile_batch(lock, phone, [door.token(phone) for _ in range(ROUNDS * BATCH)])
        base, value = best_of_interleaved(verify, first, ROUNDS)
        report("unlock.mobile_key_first_seen_token", value, "s/decision", base, MOBILE_FIRST_TARGET)

        personal = door.codes[CODES_AT_DOOR // 2]
        single_day = single_day_code(door.secret, date(2026, 11, 26), CODES_AT_DOOR // 2, 7)
        assert lock.decide_code(personal).granted
        assert lock.decide_code(single_day).credential_type is CredentialType.SINGLE_DAY_CODE
        assert lock.decide_code(single_day).granted
        raw = personal.encode()

        def hmac_batch() -> float:
            return batch_seconds(lambda: hmac.new(door.secret, raw, hashlib.sha256).digest(), 2000)

        for name, code in (("personal_10k_codes", personal), ("single_day_10k_slots", single_day)):
            base, value = best_of_interleaved(
                hmac_batch,
                lambda code=code: batch_seconds(lambda: lock.decide_code(code), 2000),
                ROUNDS,
            )
            report(f"unlock.keypad_{name}", value, "s/decision", base, KEYPAD_TARGET)
        lock.close()

        rss_door = BenchDoor(Path(tmp) / "rss-lock")
        frame_path = Path(tmp) / "frame.bin"
        frame_path.write_bytes(rss_door.frame(1))
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", str(rss_door.root), str(frame_path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        report("unlock.lock_rss_10k_credentials", float(out.split()[-1]), "MB", 1.0, RSS_TARGET_MB)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--rss-child"]:
        rss_child(sys.argv[2], sys.argv[3])
    else:
        main()
