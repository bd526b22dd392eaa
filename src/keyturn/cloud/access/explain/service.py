"""Why can (or can't) this person open this door at that time, and who can: the lock's answer.

Both questions are answered by running the rules core's `decide()` on the very entries and
revocations the door's lock holds (the list version it last applied, kept by the cloud as
content), never by a second reading of the rules; the steps only put the facts decide() was
given into a manager's words, in the check order of its docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from keyturn.cloud.access.access_lists import subject_for
from keyturn.cloud.access.credentials.mobile_keys import DEFAULT_TTL
from keyturn.cloud.access.explain.answers import (
    PERSONAL_TYPES,
    AccessReview,
    CredentialAnswer,
    Explanation,
)
from keyturn.cloud.access.explain.holdings import (
    DoorFacts,
    door_and_holdings,
    held_list,
    mobile_key_entry,
)
from keyturn.cloud.access.explain.review import access_review
from keyturn.cloud.access.explain.steps import Words, credential_answer, not_listed
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.models import Door, Person
from keyturn.cloud.properties.service import property_by_reference
from keyturn.rules.types import CredentialType

__all__ = ["AccessReview", "Explanation", "access_review", "explain", "find_by_names"]


def explain(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    person_id: str,
    door_id: str,
    at: datetime,
    now: datetime,
) -> Explanation:
    """Whether the person's credentials open the door at `at`, one answer per credential.

    Decided by the rules core on the list the door's lock holds; 404 for a door or person
    that is not at this property. Not audited: it shows one person's rights at one door, which
    the same managers read unaudited in that person's grants and credentials (an access
    review, which lists everyone at a door, is).
    """
    door, person_name, lock, mine = door_and_holdings(session, property_id, door_id, person_id)
    if person_name is None:
        raise NotFound()
    held = held_list(session, master_key, door, lock, now)
    grants, codes, cards, phones = mine.grants, mine.doorcodes, mine.keycards, mine.phones
    names = {person_id: person_name, **mine.granters}
    keys = {grant.key_id: grant.key_name for grant in grants}
    words = Words(door, at, names, keys)
    live_grant = any(g.revoked_at is None and (g.ends_at is None or g.ends_at > at) for g in grants)
    answers: list[CredentialAnswer] = []
    for phone in phones:
        if phone.revoked_at is not None and phone.revoked_at + DEFAULT_TTL <= at:
            continue
        enrolled = phone.registered_at.astimezone(door.zone).date().isoformat()
        for grant in grants:
            entry = mobile_key_entry(grant, phone, door_id, at)
            # Said only when the phone holds no key: a known credential is worded from its entry.
            unknown = "" if entry is not None else _no_mobile_key(enrolled, grant.key_id, words)
            label = f"mobile key on the phone enrolled {enrolled} (key “{grant.key_name}”)"
            answers.append(
                credential_answer(
                    CredentialType.MOBILE_KEY,
                    phone.phone_key_id,
                    label,
                    entry,
                    grant.key_id,
                    unknown,
                    held,
                    words,
                )
            )
    # Live codes and active cards, then those the cloud revoked that the lock still holds.
    listed = held.index.of_subject(subject_for(person_id))
    kept = {code_id for code_id, _ in codes} | {card_id for card_id, _ in cards}
    gone = [spec for spec in listed if spec.credential_id not in kept]
    doorcodes = [(code_id, "personal doorcode") for code_id, _ in codes] + [
        (spec.credential_id, "personal doorcode (revoked since)")
        for spec in gone
        if spec.credential_type is CredentialType.PERSONAL_DOORCODE
    ]
    keycards = [(card_id, f"keycard …{card_uid[-4:]}") for card_id, card_uid in cards] + [
        (spec.credential_id, "keycard (deactivated since)")
        for spec in gone
        if spec.credential_type is CredentialType.KEYCARD
    ]
    for kind, what, held_here in (
        (CredentialType.PERSONAL_DOORCODE, "doorcode", doorcodes),
        (CredentialType.KEYCARD, "keycard", keycards),
    ):
        for credential_id, label in held_here:
            entry = held.entry(credential_id, door_id)
            if entry is None:
                unknown = not_listed(what, held, credential_id, live_grant, words)
            else:
                unknown = ""  # a credential the lock knows is worded from its entry
            key_id = entry.key_id if entry else None
            answers.append(
                credential_answer(kind, credential_id, label, entry, key_id, unknown, held, words)
            )
    held_types = {answer.credential_type for answer in answers}
    missing = tuple(
        _missing(kind, bool(phones), bool(grants), door)
        for kind in PERSONAL_TYPES
        if kind not in held_types
    )
    return Explanation(
        property_id=property_id,
        person_id=person_id,
        person_name=person_name,
        door_id=door_id,
        door_name=door.name,
        door_kind=door.kind,
        at=at,
        local_time=words.when(at),
        time_zone=door.zone.key,
        lock=held.lock,
        credentials=tuple(answers),
        missing=missing,
        notes=_notes(answers),
    )


def _no_mobile_key(enrolled: str, key_id: str, words: Words) -> str:
    """Why a phone holds no mobile key of a grant at the instant asked about."""
    return (
        f"The phone enrolled on {enrolled} holds no mobile key for key "
        f"{words.key(key_id)} that is valid at {words.local}: keys are issued "
        "for live grants only, at most "
        f"{DEFAULT_TTL.days} days ahead, and end with their grant."
    )


def _missing(kind: CredentialType, phones: bool, grants: bool, door: DoorFacts) -> str:
    if kind is CredentialType.MOBILE_KEY:
        if not phones:
            return "No mobile key: no phone is enrolled."
        return f"No mobile key: no grant of a key that opens {door.name}."
    if kind is CredentialType.PERSONAL_DOORCODE:
        return f"No personal doorcode at {door.name}."
    return "No keycard at this property."


def _notes(answers: Sequence[CredentialAnswer]) -> tuple[str, ...]:
    notes = []
    if any(a.credential_type.is_doorcode for a in answers):
        notes.append(
            "A doorcode is also refused while the keypad cools down after wrong codes; only "
            "the lock knows when that happens."
        )
    if any(a.after_sync is not None and a.after_sync != a.reason for a in answers):
        notes.append("After the lock's next sync, some answers change (see after_sync).")
    return tuple(notes)


# -- names, for the command line -------------------------------------------------------------------


def find_by_names(
    *, session: Session, property_ref: str, door_ref: str, person_ref: str | None = None
) -> tuple[str, str, str | None]:
    """(property id, door id, person id) from ids or names: a property's id or name, a door's
    id or name there, a person's id or email; NotFound says which one is unknown."""
    property_id = property_by_reference(session, property_ref).id
    door_ids = session.scalars(
        select(Door.id).where(
            Door.property_id == property_id, or_(Door.id == door_ref, Door.name == door_ref)
        )
    ).all()
    if len(door_ids) != 1:
        raise NotFound(f"no single door {door_ref!r} at this property")
    if person_ref is None:
        return property_id, door_ids[0], None
    person_id = session.scalar(
        select(Person.id).where(
            or_(Person.id == person_ref, Person.email == person_ref.strip().lower())
        )
    )
    if person_id is None:
        raise NotFound(f"no person {person_ref!r}")
    return property_id, door_ids[0], person_id
