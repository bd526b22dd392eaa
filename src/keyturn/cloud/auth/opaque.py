"""Opaque secrets handed to clients (session ids, API tokens, link tokens) and their digests.

Each secret is 256 bits from the OS random generator, so SHA-256 suffices to store it: no
one can search a 2^256 space, and a fast digest lets every request find its row by index
where a password hash (argon2) would cost tens of milliseconds per request.
"""

from __future__ import annotations

import hashlib
import secrets

SECRET_BYTES = 32
TOKEN_PREFIX = "kt_"  # noqa: S105 - marks API tokens, so secret scanners and people recognise them


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(SECRET_BYTES)


def digest(secret: str) -> str:
    """The hex SHA-256 of a secret, the only form in which it is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def email_digest(email: str) -> str:
    """The digest of a case-folded email, for throttling without keeping the address."""
    return digest("email:" + email.strip().lower())
