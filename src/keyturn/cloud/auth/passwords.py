"""Password hashing with argon2id, the only place passwords are hashed or checked.

Parameters are argon2-cffi's defaults (RFC 9106 low-memory profile); `needs_rehash` lets
a login upgrade old hashes when those defaults move.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when the password matches; comparison happens inside argon2 in constant time."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
