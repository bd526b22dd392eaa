"""Mobile keys at the door: single-use challenges, the verified-token cache, and the claim
convention that turns a token into an AccessEntry.

The token's schedule claim carries, besides the schedule, who the key belongs to; the
cloud builds it with `keyturn.protocol.mobile_claims.token_schedule_claim` and the lock
reads it with `entry_from_claims`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from keyturn.crypto.mobile_keys import MobileKeyClaims, new_challenge
from keyturn.lock.access import minute_of_day
from keyturn.rules.decide import AccessEntry
from keyturn.rules.schedule import Schedule, WeeklyWindow
from keyturn.rules.types import CredentialType

CHALLENGE_TTL_MS = 30_000
MAX_OUTSTANDING_CHALLENGES = 64
TOKEN_CACHE_SIZE = 512


class MalformedClaims(ValueError):
    """A correctly signed token whose schedule claim does not follow the convention."""


def entry_from_claims(claims: MobileKeyClaims) -> AccessEntry:
    """The AccessEntry of a verified token; its validity narrows the schedule's bounds."""
    raw = claims.schedule
    try:
        windows = tuple(
            WeeklyWindow(int(w[0]), minute_of_day(int(w[1])), minute_of_day(int(w[2])))
            for w in raw["windows"]
        )
        starts_at = _instant(raw.get("starts_at"))
        ends_at = _instant(raw.get("ends_at"))
        narrowed = _later(starts_at, claims.not_before), _earlier(ends_at, claims.expires)
        # Disjoint windows: keep the claim's bounds. The lock only decides while the token
        # itself is valid, and then these bounds refuse it with the right reason.
        if narrowed[1] > narrowed[0]:
            starts_at, ends_at = narrowed
        resident = raw.get("resident", False)
        if not isinstance(resident, bool):
            raise MalformedClaims("resident is a boolean")
        return AccessEntry(
            credential_id=_text(raw, "credential_id"),
            credential_type=CredentialType.MOBILE_KEY,
            subject=_text(raw, "subject"),
            key_id=claims.key_id,
            grant_id=_optional_text(raw, "grant_id"),
            granted_by=_optional_text(raw, "granted_by"),
            door_ids=frozenset(claims.door_ids),
            schedule=Schedule(windows=windows, starts_at=starts_at, ends_at=ends_at),
            resident=resident,
        )
    except MalformedClaims:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise MalformedClaims(f"mobile-key schedule claim: {exc}") from None


def _instant(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedClaims("times are integer epoch seconds")
    return datetime.fromtimestamp(value, UTC)


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if not isinstance(value, str) or not value:
        raise MalformedClaims(f"{name} is a non-empty string")
    return value


def _optional_text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is not None and not isinstance(value, str):
        raise MalformedClaims(f"{name} is a string")
    return value


def _later(bound: datetime | None, other: datetime) -> datetime:
    return other if bound is None else max(bound, other)


def _earlier(bound: datetime | None, other: datetime) -> datetime:
    return other if bound is None else min(bound, other)


class ChallengeBook:
    """Challenges the lock handed out; each answers one attempt within CHALLENGE_TTL_MS."""

    def __init__(self) -> None:
        self._outstanding: OrderedDict[bytes, int] = OrderedDict()

    def issue(self, now_ms: int) -> bytes:
        self.expire(now_ms)
        while len(self._outstanding) >= MAX_OUTSTANDING_CHALLENGES:
            self._outstanding.popitem(last=False)
        challenge = new_challenge()
        self._outstanding[challenge] = now_ms + CHALLENGE_TTL_MS
        return challenge

    def take(self, challenge: bytes, now_ms: int) -> bool:
        """Whether `challenge` is outstanding and fresh; it is used up either way."""
        expires = self._outstanding.pop(challenge, None)
        return expires is not None and now_ms < expires

    def expire(self, now_ms: int) -> None:
        stale = [c for c, expires in self._outstanding.items() if expires <= now_ms]
        for challenge in stale:
            del self._outstanding[challenge]


class TokenCache:
    """Tokens whose authority signature was verified, by SHA-256 of the token bytes.

    Only the signature check is saved: time, revocation, door and schedule are decided
    again at every attempt from the cached entry.
    """

    def __init__(self, size: int = TOKEN_CACHE_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[bytes, tuple[MobileKeyClaims, AccessEntry]] = OrderedDict()

    @staticmethod
    def digest(token: bytes) -> bytes:
        return hashlib.sha256(token).digest()

    def get(self, digest: bytes) -> tuple[MobileKeyClaims, AccessEntry] | None:
        return self._entries.get(digest)

    def put(self, digest: bytes, claims: MobileKeyClaims, entry: AccessEntry) -> None:
        self._entries[digest] = (claims, entry)
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def forget_subject(self, subject: str) -> None:
        """Drop the tokens of a purged person, so nothing of theirs stays in memory."""
        for digest in [d for d, (_, entry) in self._entries.items() if entry.subject == subject]:
            del self._entries[digest]
