"""Ed25519 key pairs for the property authority, the locks and the phones.

A key is named by a key id derived from its public key, so messages can say who signed
them without a registry; private bytes only leave through an explicit private_bytes().
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import cbor2
import cryptography.exceptions
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)
from cwt import COSEKey

from keyturn.crypto.errors import InvalidSignature

KEY_BYTES = 32
KEY_ID_BYTES = 16

# COSE labels (RFC 9052/9053): kty OKP = 1, crv Ed25519 = 6, alg EdDSA = -8.
COSE_KTY_OKP = 1
COSE_CRV_ED25519 = 6
COSE_ALG_EDDSA = -8


def key_id_bytes(public: bytes) -> bytes:
    """The raw key id: the first 16 bytes of SHA-256 over the raw public key."""
    return hashlib.sha256(public).digest()[:KEY_ID_BYTES]


class VerifyKey:
    """An Ed25519 public key that checks signatures."""

    __slots__ = ("_cose", "_key", "_public", "kid")

    def __init__(self, key: Ed25519PublicKey, public: bytes | None = None) -> None:
        self._key = key
        self._public = public or key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.kid = key_id_bytes(self._public)
        self._cose: Any = None

    @classmethod
    def from_bytes(cls, public: bytes) -> VerifyKey:
        """Load a raw 32-byte public key; raise ValueError if it is not one."""
        if not isinstance(public, bytes) or len(public) != KEY_BYTES:
            raise ValueError("an Ed25519 public key is 32 raw bytes")
        return cls(Ed25519PublicKey.from_public_bytes(public), public)

    @property
    def key_id(self) -> str:
        """The key id in hex (32 characters), stable for the life of the key."""
        return self.kid.hex()

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self._public

    def verify(self, signature: bytes, data: bytes) -> None:
        """Raise InvalidSignature unless signature is this key's Ed25519 signature of data."""
        try:
            self._key.verify(signature, data)
        except (cryptography.exceptions.InvalidSignature, TypeError, ValueError):
            raise InvalidSignature("signature does not verify") from None

    def cose_key(self) -> Any:
        """This key as a cwt COSEKey for verification, built once and reused."""
        if self._cose is None:
            self._cose = COSEKey.new(
                {
                    1: COSE_KTY_OKP,
                    2: self.kid,
                    3: COSE_ALG_EDDSA,
                    -1: COSE_CRV_ED25519,
                    -2: self._public,
                }
            )
        return self._cose

    def cose_key_map(self) -> dict[int, Any]:
        """This key as a COSE_Key map (RFC 9052 section 7): kty OKP, kid, alg EdDSA,
        key_ops verify, crv Ed25519 and x, as the cwt library writes it."""
        return dict(self.cose_key().to_dict())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return hmac.compare_digest(self._public, other._public)

    def __hash__(self) -> int:
        return hash(self._public)

    def __repr__(self) -> str:
        return f"VerifyKey(key_id={self.key_id!r})"


class SigningKeyPair:
    """An Ed25519 private key with its public half; the repr never shows the secret."""

    __slots__ = ("_cose", "_key", "public")

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key
        self.public = VerifyKey(key.public_key())
        self._cose: Any = None

    @classmethod
    def generate(cls) -> SigningKeyPair:
        """A fresh key pair from the operating system's random source."""
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, private: bytes) -> SigningKeyPair:
        """Load a raw 32-byte private key (the Ed25519 seed); raise ValueError otherwise."""
        if not isinstance(private, bytes) or len(private) != KEY_BYTES:
            raise ValueError("an Ed25519 private key is 32 raw bytes")
        return cls(Ed25519PrivateKey.from_private_bytes(private))

    @property
    def key_id(self) -> str:
        """The public key's id in hex."""
        return self.public.key_id

    @property
    def kid(self) -> bytes:
        """The public key's raw id, as carried in COSE headers."""
        return self.public.kid

    def public_bytes(self) -> bytes:
        """The raw 32-byte public key."""
        return self.public.public_bytes()

    def private_bytes(self) -> bytes:
        """The raw 32-byte private key; seal it before it touches a disk or a database."""
        return self._key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    def sign(self, data: bytes) -> bytes:
        """The 64-byte Ed25519 signature of data."""
        return self._key.sign(data)

    def cose_key(self) -> Any:
        """This key as a cwt COSEKey for signing, built once and reused."""
        if self._cose is None:
            self._cose = COSEKey.new(
                {
                    1: COSE_KTY_OKP,
                    2: self.kid,
                    3: COSE_ALG_EDDSA,
                    -1: COSE_CRV_ED25519,
                    -2: self.public_bytes(),
                    -4: self.private_bytes(),
                }
            )
        return self._cose

    def __repr__(self) -> str:
        return f"SigningKeyPair(key_id={self.key_id!r})"


# The three roles share one type; the names say which role a variable plays.
AuthorityKeyPair = SigningKeyPair
DeviceKeyPair = SigningKeyPair
PhoneKeyPair = SigningKeyPair


COSE_KEY_SET_MEDIA_TYPE = "application/cose-key-set"


def cose_key_set(keys: list[VerifyKey]) -> bytes:
    """The CBOR COSE_KeySet (RFC 9052 section 7): an array of COSE_Key maps."""
    return cbor2.dumps([key.cose_key_map() for key in keys])


def read_cose_key_set(encoded: bytes) -> list[VerifyKey]:
    """The Ed25519 keys of a COSE_KeySet, read back with the cwt library; ValueError if the
    set is not an array of OKP Ed25519 public keys."""
    try:
        items = cbor2.loads(encoded)
    except cbor2.CBORDecodeError as exc:
        raise ValueError(f"not CBOR: {exc}") from None
    if not isinstance(items, list):
        raise ValueError("a COSE_KeySet is a CBOR array")
    keys = []
    for item in items:
        if (
            not isinstance(item, dict)
            or item.get(1) != COSE_KTY_OKP
            or item.get(-1) != COSE_CRV_ED25519
        ):
            raise ValueError("only OKP Ed25519 keys are expected")
        cose = COSEKey.new(item)
        keys.append(VerifyKey.from_bytes(cose.to_dict()[-2]))
    return keys
