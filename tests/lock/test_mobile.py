from __future__ import annotations

from datetime import timedelta

import pytest

from keyturn.crypto.keys import SigningKeyPair
from keyturn.crypto.mobile_keys import issue_mobile_key, sign_challenge
from keyturn.lock.mobile import CHALLENGE_TTL_MS, ChallengeBook, TokenCache
from keyturn.protocol.messages import ScheduleSpec, WindowSpec
from keyturn.protocol.mobile_claims import token_schedule_claim
from keyturn.rules.types import CredentialType, Reason
from lock.harness import Harness

PHONE = SigningKeyPair.generate()


def test_mobile_key_grants_and_journals_the_holder(harness: Harness) -> None:
    token = harness.token(PHONE, subject="bob", credential_id="mk-bob", resident=True)
    attempt = harness.tap(PHONE, token)
    assert attempt.granted
    (record,) = harness.lock.journal.entries(attempt.seq, attempt.seq)
    assert record.credential_type is CredentialType.MOBILE_KEY
    assert (record.subject, record.credential_id, record.by_resident) == ("bob", "mk-bob", True)


def test_replayed_challenge_answer_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE)
    challenge = harness.lock.issue_challenge()
    signature = sign_challenge(PHONE, challenge, harness.door_id)
    assert harness.lock.present_mobile_key(challenge, token, signature).granted
    replay = harness.lock.present_mobile_key(challenge, token, signature)
    assert replay.decision.reason is Reason.UNKNOWN_CREDENTIAL
    assert replay.detail == "challenge_not_outstanding"


def test_answer_to_a_challenge_the_lock_never_issued_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE)
    challenge = bytes(16)
    attempt = harness.lock.present_mobile_key(
        challenge, token, sign_challenge(PHONE, challenge, harness.door_id)
    )
    assert not attempt.granted


def test_stale_challenge_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE)
    challenge = harness.lock.issue_challenge()
    harness.clock.advance(CHALLENGE_TTL_MS / 1000)
    attempt = harness.lock.present_mobile_key(
        challenge, token, sign_challenge(PHONE, challenge, harness.door_id)
    )
    assert attempt.detail == "challenge_not_outstanding"
    assert not attempt.granted


def test_token_for_another_door_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE, door_ids=["door-2"])
    assert harness.tap(PHONE, token).decision.reason is Reason.WRONG_DOOR


def test_challenge_signed_for_another_door_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE, door_ids=["door-1", "door-2"])
    attempt = harness.tap(PHONE, token, door_id="door-2")
    assert attempt.detail == "challenge_signature_invalid"
    assert not attempt.granted


def test_stolen_token_without_the_phone_key_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE)
    thief = SigningKeyPair.generate()
    assert harness.tap(thief, token).detail == "challenge_signature_invalid"


def test_token_signed_by_another_authority_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE, signer=SigningKeyPair.generate())
    assert harness.tap(PHONE, token).detail == "token_invalid"


def test_expired_token_is_denied_first_seen_and_cached_alike(harness: Harness) -> None:
    start = harness.now() - timedelta(hours=2)
    token = harness.token(PHONE, not_before=start, expires=start + timedelta(hours=3))
    assert harness.tap(PHONE, token).granted
    harness.clock.advance(3600)
    cached = harness.tap(PHONE, token)
    fresh = harness.token(PHONE, not_before=start, expires=start + timedelta(hours=3))
    first_seen = harness.tap(PHONE, fresh)
    assert cached.detail == first_seen.detail == "token_expired"
    assert cached.decision.reason is first_seen.decision.reason is Reason.UNKNOWN_CREDENTIAL


def test_token_not_yet_valid_is_denied(harness: Harness) -> None:
    token = harness.token(PHONE, not_before=harness.now() + timedelta(minutes=5))
    attempt = harness.tap(PHONE, token)
    assert attempt.detail == "token_not_yet_valid"
    assert attempt.decision.reason is Reason.NOT_YET_VALID
    assert not attempt.granted


def test_a_key_fetched_this_second_opens_at_once_and_later_first_seen_and_cached(
    harness: Harness,
) -> None:
    harness.clock.advance(0.7)  # the cloud issues in the middle of a second
    fetched = harness.now()
    token = issue_mobile_key(
        harness.authority,
        PHONE.public_bytes(),
        "key-mk",
        [harness.door_id],
        fetched,
        fetched + timedelta(hours=1),
        token_schedule_claim(ScheduleSpec(), "person-1", "mk-1"),
        fetched,
    )
    assert harness.tap(PHONE, token).granted
    harness.clock.advance(0.2)
    assert harness.tap(PHONE, token).granted


def test_a_key_not_yet_valid_is_refused_as_such_then_opens_when_its_time_comes(
    harness: Harness,
) -> None:
    token = harness.token(PHONE, not_before=harness.now() + timedelta(seconds=30))
    assert harness.tap(PHONE, token).decision.reason is Reason.NOT_YET_VALID
    assert harness.tap(PHONE, token).decision.reason is Reason.NOT_YET_VALID  # cached
    thief = SigningKeyPair.generate()
    stolen = harness.tap(thief, token)
    assert (stolen.detail, stolen.decision.reason) == (
        "challenge_signature_invalid",
        Reason.UNKNOWN_CREDENTIAL,
    )
    harness.clock.advance(30)
    assert harness.tap(PHONE, token).granted


def test_a_key_before_its_nbf_is_never_granted_by_a_grant_window_outside_the_token(
    harness: Harness,
) -> None:
    # The claim's grant bounds lie before the token's window (disjoint): the schedule keeps
    # the claim's bounds, which contain now, yet the token is not valid yet.
    now = int(harness.now().timestamp())
    schedule = ScheduleSpec(starts_at=now - 3600, ends_at=now + 60)
    token = harness.token(PHONE, not_before=harness.now() + timedelta(minutes=5), schedule=schedule)
    assert harness.tap(PHONE, token).decision.reason is Reason.NOT_YET_VALID


def test_cached_token_still_honours_a_revocation(harness: Harness) -> None:
    token = harness.token(PHONE, key_id="key-7")
    assert harness.tap(PHONE, token).granted
    harness.push(revoked_key_ids=("key-7",))
    assert harness.tap(PHONE, token).decision.reason is Reason.REVOKED


def test_rule_a6_suspended_person_is_refused_on_every_credential(harness: Harness) -> None:
    token = harness.token(PHONE, subject="lost-phone")
    code = harness.code("4815162", "c1", subject="lost-phone")
    card = harness.card("DEADBEEF", "card-1", subject="lost-phone")
    harness.push(code, card, suspended_subjects=("lost-phone",))
    assert harness.tap(PHONE, token).decision.reason is Reason.SUSPENDED
    assert harness.lock.enter_code("4815162").decision.reason is Reason.SUSPENDED
    assert harness.lock.present_card("deadbeef").decision.reason is Reason.SUSPENDED


def test_token_schedule_claim_is_applied(harness: Harness) -> None:
    # Tuesdays only; the harness starts on a Monday.
    schedule = ScheduleSpec(windows=(WindowSpec(1, 0, 1440),))
    token = harness.token(PHONE, schedule=schedule)
    assert harness.tap(PHONE, token).decision.reason is Reason.OUTSIDE_SCHEDULE
    harness.clock.advance(86400)
    assert harness.tap(PHONE, token).granted


def test_token_cache_forgets_the_least_recently_added() -> None:
    cache = TokenCache(size=2)
    claims_entry = []
    for token in (b"a", b"b", b"c"):
        cached = (object(), object())
        claims_entry.append(cached)
        cache.put(TokenCache.digest(token), *cached)  # type: ignore[arg-type]
    assert cache.get(TokenCache.digest(b"a")) is None
    assert cache.get(TokenCache.digest(b"c")) == claims_entry[2]


def test_challenges_are_single_use_and_bounded() -> None:
    book = ChallengeBook()
    first = book.issue(0)
    assert book.take(first, 1)
    assert not book.take(first, 2)
    many = [book.issue(0) for _ in range(100)]
    assert not book.take(many[0], 1)
    assert book.take(many[-1], 1)


def test_cache_hit_skips_the_token_signature_check(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyturn.lock.agent as agent

    token = harness.token(PHONE)
    calls = []
    real = agent.read_mobile_key
    monkeypatch.setattr(agent, "read_mobile_key", lambda *a: calls.append(1) or real(*a))
    assert harness.tap(PHONE, token).granted
    assert harness.tap(PHONE, token).granted
    assert len(calls) == 1
