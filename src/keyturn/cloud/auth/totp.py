"""TOTP second factor (RFC 6238): six digits, SHA-1, 30-second steps, one step of drift.

Secrets rest sealed under the master key with the context "totp:<account id>"; a code is
accepted only for a step later than the last accepted one, so no code works twice.
"""

from __future__ import annotations

import base64
import hmac
import secrets
from datetime import datetime

from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

from keyturn.crypto.sealed import seal, unseal

SECRET_BYTES = 20
DIGITS = 6
STEP_S = 30
DRIFT_STEPS = 1


def new_secret() -> bytes:
    return secrets.token_bytes(SECRET_BYTES)


def seal_secret(master_key: bytes, account_id: str, secret: bytes) -> bytes:
    return seal(master_key, secret, _context(account_id))


def unseal_secret(master_key: bytes, account_id: str, sealed: bytes) -> bytes:
    return unseal(master_key, sealed, _context(account_id))


def base32(secret: bytes) -> str:
    """The secret as authenticator apps want it typed: base32 without padding."""
    return base64.b32encode(secret).decode().rstrip("=")


def provisioning_uri(secret: bytes, account_name: str, issuer: str) -> str:
    return _totp(secret).get_provisioning_uri(account_name, issuer)


def code_at(secret: bytes, when: datetime) -> str:
    return _totp(secret).generate(int(when.timestamp())).decode()


def matching_step(secret: bytes, code: str, when: datetime, after_step: int | None) -> int | None:
    """The time step the code belongs to (now ± drift, later than after_step), or None."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    now_step = int(when.timestamp()) // STEP_S
    found = None
    totp = _totp(secret)
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        expected = totp.generate(step * STEP_S)
        # Compare every candidate, so timing does not reveal which step matched.
        if hmac.compare_digest(expected, code.encode()) and (
            after_step is None or step > after_step
        ):
            found = step
    return found


def _totp(secret: bytes) -> TOTP:
    return TOTP(secret, DIGITS, SHA1(), STEP_S, enforce_key_length=False)  # noqa: S303


def _context(account_id: str) -> bytes:
    return f"totp:{account_id}".encode()
