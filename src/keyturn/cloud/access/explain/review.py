"""The access review: everyone whose credential opens a door at one instant, and through which key.

The same decisions as explain, over the whole of the lock's list; audited as a disclosure.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from keyturn.cloud.access.explain.answers import (
    LOCAL_FORMAT,
    PERSONAL_TYPES,
    TYPE_WORDS,
    AccessReview,
    ReviewRow,
)
from keyturn.cloud.access.explain.holdings import (
    GRANTS_AT_DOOR,
    PHONES,
    GrantFacts,
    HeldList,
    PhoneFacts,
    connection_of,
    door_facts,
    held_list,
    mobile_key_entry,
    names_of,
)
from keyturn.cloud.access.explain.steps import decide_on
from keyturn.cloud.privacy import audit
from keyturn.rules.types import CredentialType, Reason


def access_review(
    *,
    session: Session,
    master_key: bytes,
    property_id: str,
    door_id: str,
    at: datetime,
    now: datetime,
    viewer_id: str | None = None,
) -> AccessReview:
    """Every person whose credential opens the door at `at`, and through which key.

    The same decisions as `explain`, for every entry of the lock's list and every mobile key
    the holders of grants at the door can hold. Audited as a disclosure of people's rights.
    """
    door, _name, lock = door_facts(session, property_id, door_id, None)
    held = held_list(session, master_key, door, lock, now)
    grants = [
        GrantFacts(*row)
        for row in connection_of(session).execute(GRANTS_AT_DOOR, {"door": door_id})
    ]
    holders = sorted({grant.person_id for grant in grants})
    phones_of: dict[str, list[PhoneFacts]] = {}
    if holders:
        for row in connection_of(session).execute(
            PHONES, {"portfolio": door.portfolio_id, "people": holders}
        ):
            phone = PhoneFacts(*row)
            phones_of.setdefault(phone.person_id, []).append(phone)
    keys = {grant.key_id: grant.key_name for grant in grants}
    rows: list[tuple[str, CredentialType, str, str, str | None, str | None, bool]] = []
    for spec in held.access_list.upserts:
        if spec.credential_type not in PERSONAL_TYPES:
            continue
        entry = held.entry(spec.credential_id, door_id)
        if decide_on(spec.credential_type, entry, held.state, door, at) is not Reason.GRANTED:
            continue
        label = TYPE_WORDS[spec.credential_type]
        rows.append(
            (
                spec.subject,
                spec.credential_type,
                spec.credential_id,
                label,
                spec.key_id,
                spec.grant_id,
                spec.resident,
            )
        )
    for grant in grants:
        for phone in phones_of.get(grant.person_id, ()):
            entry = mobile_key_entry(grant, phone, door_id, at)
            reason = decide_on(CredentialType.MOBILE_KEY, entry, held.state, door, at)
            if reason is not Reason.GRANTED:
                continue
            rows.append(
                (
                    grant.person_id,
                    CredentialType.MOBILE_KEY,
                    phone.phone_key_id,
                    "mobile key",
                    grant.key_id,
                    grant.id,
                    grant.resident,
                )
            )
    names = names_of(session, property_id, [row[0] for row in rows])
    people = sorted(
        (
            ReviewRow(
                person_id=subject,
                person_name=names[subject],
                credential_type=kind,
                credential_id=credential_id,
                label=label,
                key_id=key_id,
                key_name=keys.get(key_id) if key_id else None,
                grant_id=grant_id,
                resident=resident,
            )
            for subject, kind, credential_id, label, key_id, grant_id, resident in rows
            if subject in names
        ),
        key=lambda row: (
            row.person_name,
            row.person_id,
            row.credential_type.value,
            row.credential_id,
        ),
    )
    audit.write(
        session,
        now=now,
        actor_person_id=viewer_id,
        action="access.review",
        object_type="door",
        object_id=door_id,
        property_id=property_id,
        detail={"at": at.isoformat(), "people": len({row.person_id for row in people})},
    )
    return AccessReview(
        property_id=property_id,
        door_id=door_id,
        door_name=door.name,
        door_kind=door.kind,
        at=at,
        local_time=at.astimezone(door.zone).strftime(LOCAL_FORMAT),
        lock=held.lock,
        people=tuple(people),
        notes=_review_notes(held),
    )


def _review_notes(held: HeldList) -> tuple[str, ...]:
    codes = sum(
        1
        for spec in held.access_list.upserts
        if spec.credential_type is CredentialType.ONE_TIME_CODE
    )
    notes = []
    if codes:
        notes.append(
            f"{codes} one-time code(s) on the lock's list also open the door; they name no person."
        )
    if held.access_list.single_day_slots:
        notes.append(
            "Single-day codes handed out for today also open the door; they name no person."
        )
    notes.append("Mechanical keys always turn the cylinder; the lock only records them.")
    return tuple(notes)
