"""The pure unlock decision for a keypad code among 10,000 at a door, against one raw HMAC-SHA256.

The decision includes the code's keyed MAC, the lookup by MAC and decide(); the baseline is
one HMAC-SHA256 over the same code with the same library, measured in the same run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import per_call_seconds, report
from keyturn.crypto.codes import code_mac
from keyturn.rules.decide import AccessEntry, LockState, Presentation, decide
from keyturn.rules.schedule import ANY_TIME
from keyturn.rules.types import CredentialType

CODES_AT_DOOR = 10_000
TARGET_RATIO = 4.0


def main() -> None:
    secret = secrets.token_bytes(32)
    door = "door-1"
    tz = ZoneInfo("America/New_York")
    now = datetime(2026, 11, 26, 15, tzinfo=UTC)
    entries = {}
    codes = []
    for n in range(CODES_AT_DOOR):
        code = f"{secrets.randbelow(10**7):07d}"
        codes.append(code)
        entries[code_mac(secret, code)] = AccessEntry(
            credential_id=f"c{n}",
            credential_type=CredentialType.PERSONAL_DOORCODE,
            subject=f"s{n}",
            key_id="k",
            grant_id=None,
            granted_by=None,
            door_ids=frozenset({door}),
            schedule=ANY_TIME,
            resident=True,
        )
    state = LockState()
    code = codes[CODES_AT_DOOR // 2]

    def keypad_decision() -> object:
        entry = entries.get(code_mac(secret, code))
        return decide(Presentation(CredentialType.PERSONAL_DOORCODE, entry), state, door, now, tz)

    assert keypad_decision().granted  # type: ignore[attr-defined]
    raw = code.encode()
    baseline = per_call_seconds(lambda: hmac.new(secret, raw, hashlib.sha256).digest())
    value = per_call_seconds(keypad_decision)
    report("decide.keypad_10k_codes", value, "s/decision", baseline, TARGET_RATIO)


if __name__ == "__main__":
    main()
