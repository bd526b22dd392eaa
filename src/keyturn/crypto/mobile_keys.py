"""Mobile keys: short-lived CWTs (RFC 8392) that bind a phone's public key to doors and times.

The lock checks the authority's signature and the validity window against the time it is
given, then a fresh challenge signed by the phone key named in `cnf` (RFC 8747).
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import cbor2
from cwt import Claims

from keyturn.crypto._sign1 import parse_sign1, sign1, verify_sign1
from keyturn.crypto.errors import ExpiredToken, InvalidSignature, TokenNotYetValid
from keyturn.crypto.keys import (
    COSE_CRV_ED25519,
    COSE_KTY_OKP,
    KEY_BYTES,
    SigningKeyPair,
    VerifyKey,
)

MOBILE_KEY_AAD = b"keyturn/mobile-key/v1"
CHALLENGE_AAD_PREFIX = b"keyturn/challenge/v1\x00"
CHALLENGE_BYTES = 16
TOKEN_ID_BYTES = 16

# Claim keys of the token's CBOR map. Registered: exp/nbf/iat are NumericDate seconds (exp
# exclusive), cti is 16 random bytes, cnf holds {1: COSE_Key} of the phone's Ed25519 key.
# Private use (below -65536, RFC 8392 section 9.1): Keyturn key id (text), door ids (array
# of text), schedule (a map of JSON-able data that only keyturn.rules interprets).
CLAIM_EXP = 4
CLAIM_NBF = 5
CLAIM_IAT = 6
CLAIM_CTI = 7
CLAIM_CNF = 8
CNF_COSE_KEY = 1
CLAIM_KEY_ID = -65537
CLAIM_DOOR_IDS = -65538
CLAIM_SCHEDULE = -65539


@dataclass(frozen=True)
class MobileKeyClaims:
    """What a verified mobile key says; times are timezone-aware UTC."""

    token_id: str
    key_id: str
    door_ids: tuple[str, ...]
    phone_public: bytes
    schedule: Mapping[str, Any]
    not_before: datetime
    expires: datetime
    issued_at: datetime
    issuer_key_id: str

    def allows_door(self, door_id: str) -> bool:
        """Whether door_id is one of the token's doors."""
        return door_id in self.door_ids


def token_window(
    not_before: datetime, expires: datetime, issued_at: datetime
) -> tuple[datetime, datetime]:
    """The [nbf, exp) a token asked for [not_before, expires) holds: whole seconds (CWT
    NumericDate), the one place this rounding is done, so callers can report what the token
    says.

    expires is rounded down. not_before is rounded down when that lands no later than
    issued_at (a key fetched now is valid from the start of this second, so a phone can use
    it at once), and up otherwise: rounding never opens the window before the moment of
    issue, so a grant that starts in the future is never valid before it starts.
    """
    start = _timestamp(not_before)
    down = math.floor(start)
    nbf = down if down <= _timestamp(issued_at) else math.ceil(start)
    exp = math.floor(_timestamp(expires))
    return datetime.fromtimestamp(nbf, UTC), datetime.fromtimestamp(exp, UTC)


def issue_mobile_key(
    authority: SigningKeyPair,
    phone_public: bytes,
    key_id: str,
    door_ids: list[str],
    not_before: datetime,
    expires: datetime,
    schedule: Mapping[str, Any],
    issued_at: datetime,
) -> bytes:
    """A mobile-key token for the phone holding phone_public, signed by the authority.

    The window is [not_before, expires) in whole seconds, rounded by `token_window`.
    """
    VerifyKey.from_bytes(phone_public)
    window_start, window_end = token_window(not_before, expires, issued_at)
    nbf = int(window_start.timestamp())
    exp = int(window_end.timestamp())
    if exp <= nbf:
        raise ValueError("expires must be at least a second after not_before")
    if not door_ids or not all(isinstance(door, str) for door in door_ids):
        raise ValueError("door_ids must be a non-empty list of strings")
    claims: dict[int, Any] = {
        CLAIM_EXP: exp,
        CLAIM_NBF: nbf,
        CLAIM_IAT: math.floor(_timestamp(issued_at)),
        CLAIM_CTI: secrets.token_bytes(TOKEN_ID_BYTES),
        CLAIM_CNF: {
            CNF_COSE_KEY: {1: COSE_KTY_OKP, -1: COSE_CRV_ED25519, -2: phone_public},
        },
        CLAIM_KEY_ID: key_id,
        CLAIM_DOOR_IDS: list(door_ids),
        CLAIM_SCHEDULE: dict(schedule),
    }
    Claims.validate(claims)
    return sign1(cbor2.dumps(claims), authority, MOBILE_KEY_AAD)


def verify_mobile_key(token: bytes, authority_public: VerifyKey, now: datetime) -> MobileKeyClaims:
    """The claims of a token signed by the authority and valid at now.

    Raises InvalidSignature for a bad or malformed token, ExpiredToken or TokenNotYetValid
    for a good token outside its window. The clock is never read here.
    """
    claims = read_mobile_key(token, authority_public)
    moment = _timestamp(now)
    if moment < claims.not_before.timestamp():
        raise TokenNotYetValid("mobile key is not valid yet")
    if moment >= claims.expires.timestamp():
        raise ExpiredToken("mobile key has expired")
    return claims


def read_mobile_key(token: bytes, authority_public: VerifyKey) -> MobileKeyClaims:
    """The claims of a token signed by the authority, whatever its validity window.

    Raises InvalidSignature for a bad or malformed token. The caller must check the window
    (`verify_mobile_key` does); a lock uses this to say why it refuses a key that is not
    valid yet.
    """
    _, payload = verify_sign1(token, authority_public, MOBILE_KEY_AAD)
    return _parse_claims(payload, authority_public.key_id)


def new_challenge() -> bytes:
    """A fresh random challenge for the phone to sign, made by the lock per attempt."""
    return secrets.token_bytes(CHALLENGE_BYTES)


def sign_challenge(phone_key: SigningKeyPair, challenge: bytes, door_id: str) -> bytes:
    """The phone's proof of possession: a COSE_Sign1 over challenge, bound to door_id."""
    _check_challenge(challenge)
    return sign1(challenge, phone_key, _challenge_aad(door_id))


def signed_challenge(signature: bytes) -> bytes:
    """The challenge a phone's answer says it signed, read but not verified.

    A near-field answer carries only the token and the signature; the lock reads the challenge
    from the signature's payload and then checks everything with `verify_challenge`. Raises
    InvalidSignature when the answer is not a COSE_Sign1 message in our one byte form.
    """
    return parse_sign1(signature)[1]


def verify_challenge(
    claims: MobileKeyClaims, challenge: bytes, door_id: str, signature: bytes
) -> None:
    """Raise InvalidSignature unless the token's phone key signed this challenge for door_id.

    Whether door_id is one of the token's doors is the access rules' question
    (see MobileKeyClaims.allows_door), not this function's.
    """
    _check_challenge(challenge)
    phone = VerifyKey.from_bytes(claims.phone_public)
    _, signed = verify_sign1(signature, phone, _challenge_aad(door_id))
    if not hmac.compare_digest(signed, challenge):
        raise InvalidSignature("signature is over another challenge")


def _parse_claims(payload: bytes, issuer_key_id: str) -> MobileKeyClaims:
    try:
        raw = cbor2.loads(payload)
        Claims.validate(raw)
        phone_key = raw[CLAIM_CNF][CNF_COSE_KEY]
        phone_public = phone_key[-2]
        valid_cose_key = (
            phone_key.get(1) == COSE_KTY_OKP
            and phone_key.get(-1) == COSE_CRV_ED25519
            and isinstance(phone_public, bytes)
            and len(phone_public) == KEY_BYTES
        )
        doors = raw[CLAIM_DOOR_IDS]
        schedule = raw[CLAIM_SCHEDULE]
        key_id = raw[CLAIM_KEY_ID]
        claims = MobileKeyClaims(
            token_id=raw[CLAIM_CTI].hex(),
            key_id=key_id,
            door_ids=tuple(doors),
            phone_public=phone_public,
            schedule=MappingProxyType(schedule),
            not_before=datetime.fromtimestamp(raw[CLAIM_NBF], UTC),
            expires=datetime.fromtimestamp(raw[CLAIM_EXP], UTC),
            issued_at=datetime.fromtimestamp(raw[CLAIM_IAT], UTC),
            issuer_key_id=issuer_key_id,
        )
    # A signed token should never be malformed; if one is, it is refused like a forgery.
    except Exception:
        raise InvalidSignature("mobile key claims are malformed") from None
    well_typed = (
        valid_cose_key
        and isinstance(key_id, str)
        and isinstance(doors, list)
        and all(isinstance(door, str) for door in doors)
        and isinstance(schedule, dict)
    )
    if not well_typed:
        raise InvalidSignature("mobile key claims are malformed")
    return claims


def _challenge_aad(door_id: str) -> bytes:
    return CHALLENGE_AAD_PREFIX + door_id.encode()


def _check_challenge(challenge: bytes) -> None:
    if not isinstance(challenge, bytes) or len(challenge) < CHALLENGE_BYTES:
        raise ValueError(f"a challenge is at least {CHALLENGE_BYTES} bytes")


def _timestamp(moment: datetime) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return moment.timestamp()
