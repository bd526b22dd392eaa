"""Mobile keys at the door: single-use challenges and the verified-token cache.

The token's schedule claim carries, besides the schedule, who the key belongs to; the
cloud builds it with `keyturn.protocol.mobile_claims.token_schedule_claim` and the lock
reads it with `keyturn.protocol.mobile_claims.entry_from_claims`.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

from keyturn.crypto.mobile_keys import MobileKeyClaims, new_challenge
from keyturn.rules.decide import AccessEntry

CHALLENGE_TTL_MS = 30_000
MAX_OUTSTANDING_CHALLENGES = 64
TOKEN_CACHE_SIZE = 512


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
