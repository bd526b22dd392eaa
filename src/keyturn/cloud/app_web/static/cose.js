// The few CBOR shapes (RFC 8949) a phone signs: a COSE_Sign1 (RFC 9052) over a lock's
// challenge, with alg EdDSA and the key's id in the protected header, in the deterministic
// encoding the lock accepts (keyturn.crypto._sign1). Not a general CBOR encoder.
"use strict";

const KeyturnCose = (() => {
  const SIGN1_TAG = 18;
  const HEADER_ALG = 1;
  const HEADER_KID = 4;
  const ALG_EDDSA = -8;
  const KID_BYTES = 16;
  const CHALLENGE_AAD_PREFIX = "keyturn/challenge/v1\u0000";

  // A major type and its argument, with the shortest length (deterministic encoding).
  function head(major, value) {
    const top = major << 5;
    if (value < 24) return Uint8Array.of(top | value);
    if (value < 0x100) return Uint8Array.of(top | 24, value);
    if (value < 0x10000) return Uint8Array.of(top | 25, value >> 8, value & 0xff);
    if (value < 0x100000000) {
      return Uint8Array.of(top | 26, value >>> 24, (value >> 16) & 0xff, (value >> 8) & 0xff, value & 0xff);
    }
    throw new RangeError("too long for this encoder");
  }

  function concat(parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const part of parts) {
      out.set(part, at);
      at += part.length;
    }
    return out;
  }

  const int = (n) => (n >= 0 ? head(0, n) : head(1, -1 - n));
  const bstr = (bytes) => concat([head(2, bytes.length), bytes]);
  const tstr = (text) => {
    const bytes = new TextEncoder().encode(text);
    return concat([head(3, bytes.length), bytes]);
  };
  const array = (items) => concat([head(4, items.length), ...items]);
  const tag = (n, item) => concat([head(6, n), item]);
  const EMPTY_MAP = Uint8Array.of(0xa0);

  // {1: -8, 4: kid}: keys in ascending order, as deterministic encoding sorts them.
  function protectedHeader(kid) {
    return concat([head(5, 2), int(HEADER_ALG), int(ALG_EDDSA), int(HEADER_KID), bstr(kid)]);
  }

  // The key id: the first 16 bytes of SHA-256 over the raw public key (keyturn.crypto.keys).
  async function keyId(rawPublic) {
    const digest = await crypto.subtle.digest("SHA-256", rawPublic);
    return new Uint8Array(digest).slice(0, KID_BYTES);
  }

  // The phone's answer to a challenge: COSE_Sign1 over it, bound to the door by external_aad.
  async function signChallenge(privateKey, rawPublic, challenge, doorId) {
    const protectedBytes = protectedHeader(await keyId(rawPublic));
    const aad = new TextEncoder().encode(CHALLENGE_AAD_PREFIX + doorId);
    const toSign = array([tstr("Signature1"), bstr(protectedBytes), bstr(aad), bstr(challenge)]);
    const signature = new Uint8Array(await crypto.subtle.sign("Ed25519", privateKey, toSign));
    return tag(SIGN1_TAG, array([bstr(protectedBytes), EMPTY_MAP, bstr(challenge), bstr(signature)]));
  }

  function toBase64url(bytes) {
    let text = "";
    for (const byte of bytes) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromBase64url(text) {
    const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(plain, (c) => c.charCodeAt(0));
  }

  return { signChallenge, keyId, toBase64url, fromBase64url };
})();
