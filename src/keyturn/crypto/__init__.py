"""Keyturn's cryptography: key pairs, signed COSE envelopes, mobile-key tokens, code MACs
and secrets sealed under the master key.

Everything is built on `cryptography` and `cwt`; this package only fixes the formats,
labels and checks so that the lock and the cloud agree byte for byte.
"""

from __future__ import annotations

from keyturn.crypto.codes import code_mac, codes_equal, door_secret, single_day_code
from keyturn.crypto.envelopes import open_signed, seal_signed
from keyturn.crypto.errors import (
    CryptoError,
    ExpiredToken,
    InvalidSignature,
    SealError,
    TokenNotValidNow,
    TokenNotYetValid,
)
from keyturn.crypto.keys import (
    AuthorityKeyPair,
    DeviceKeyPair,
    PhoneKeyPair,
    SigningKeyPair,
    VerifyKey,
)
from keyturn.crypto.mobile_keys import (
    MobileKeyClaims,
    issue_mobile_key,
    new_challenge,
    read_mobile_key,
    sign_challenge,
    token_window,
    verify_challenge,
    verify_mobile_key,
)
from keyturn.crypto.sealed import decrypt_blob, encrypt_blob, new_data_key, seal, unseal

__all__ = [
    "AuthorityKeyPair",
    "CryptoError",
    "DeviceKeyPair",
    "ExpiredToken",
    "InvalidSignature",
    "MobileKeyClaims",
    "PhoneKeyPair",
    "SealError",
    "SigningKeyPair",
    "TokenNotValidNow",
    "TokenNotYetValid",
    "VerifyKey",
    "code_mac",
    "codes_equal",
    "decrypt_blob",
    "door_secret",
    "encrypt_blob",
    "issue_mobile_key",
    "new_challenge",
    "new_data_key",
    "open_signed",
    "read_mobile_key",
    "seal",
    "seal_signed",
    "sign_challenge",
    "single_day_code",
    "token_window",
    "unseal",
    "verify_challenge",
    "verify_mobile_key",
]
