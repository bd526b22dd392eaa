// Signs a random challenge for door-1 with static/cose.js under Node's WebCrypto and prints
// what the Python test verifies (test_phone_pages.py).
import fs from "fs";

const source = fs.readFileSync(process.argv[2], "utf8");
const KeyturnCose = new Function(`${source}; return KeyturnCose;`)();
const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
const challenge = crypto.getRandomValues(new Uint8Array(16));
const signature = await KeyturnCose.signChallenge(pair.privateKey, raw, challenge, "door-1");
console.log(JSON.stringify({
  public: KeyturnCose.toBase64url(raw),
  challenge: KeyturnCose.toBase64url(challenge),
  signature: KeyturnCose.toBase64url(signature),
  private_extractable: pair.privateKey.extractable,
}));
