"""The copy of a person's data (D1): one zip of JSON and CSV files plus their photos.

Access history comes through the one visibility filter and photos through the photo rule
(P4, as for a data request), so the copy shows exactly what the person may see.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.history.errors import PhotoErased, PhotoUnreadable
from keyturn.cloud.history.photos import open_photo
from keyturn.cloud.history.visibility import viewer_for, visible_events
from keyturn.cloud.models import (
    DataSubjectRequest,
    Doorcode,
    Event,
    Grant,
    Key,
    Keycard,
    MobileKeyRegistration,
    OneTimeCode,
    Person,
    Photo,
    RequestKind,
    RequestState,
    RoleMembership,
    SingleDayCode,
)
from keyturn.cloud.people.profiles import profiles_of
from keyturn.cloud.privacy.errors import WrongState
from keyturn.rules.photos import can_view_photo
from keyturn.rules.visibility import EventFacts, Viewer

SERVICE_PROVIDERS = """Categories of your information shared with service providers

- Email delivery: your email address and the text of messages we send you (codes,
  invitations, notices), so the mail provider can deliver them.
- Hosting and storage: everything in this copy is stored by the building's hosting
  provider, encrypted where it is sensitive (photos, documents, secrets).
- Locks: the building's locks hold your credentials (as keyed fingerprints, never the
  codes themselves) and a short journal of your entries until it reaches the cloud.
- Webhook subscribers chosen by the building's managers: door events they may see, with
  the same visibility rules as in the app.

Nothing is sold, and access history is never shared for marketing.
"""

EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "property_id",
    "door_id",
    "door_kind",
    "kind",
    "credential_type",
    "reason",
    "by_you",
    "granted_by_you",
    "photo_included",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _facts(event: Event) -> EventFacts:
    return EventFacts(
        property_id=event.property_id,
        door_id=event.door_id,
        door_kind=event.door_kind,
        subject_id=event.subject_id,
        granted_by=event.granted_by,
        by_resident=event.by_resident,
        occurred_at=event.occurred_at,
    )


def build_copy(
    session: Session, master_key: bytes, photo_dir: Path, person_id: str, now: datetime
) -> bytes:
    """The zip of everything D1 names, as of `now`; nothing is written to disk."""
    person = session.get(Person, person_id)
    if person is None:
        raise WrongState("the person no longer exists")
    viewer = viewer_for(session, person_id, now)
    events = list(session.scalars(visible_events(viewer)))
    photos = _photos_of(session, master_key, photo_dir, person_id, viewer, events)
    contact = {
        "id": person.id,
        "display_name": person.display_name,
        "email": person.email,
        "phone": person.phone,
        "created_at": _iso(person.created_at),
        "as_known_by_each_portfolio": [
            {
                "portfolio_id": profile.portfolio_id,
                "display_name": profile.display_name,
                "is_minor": profile.is_minor,
                "tenant_consent_at": _iso(profile.nyc_consent_at),
                "tenant_consent_document": profile.nyc_consent_document,
                "guardian_consent_at": _iso(profile.guardian_consent_at),
                "guardian_consent_document": profile.guardian_consent_document,
                "suspended_at": _iso(profile.suspended_at),
            }
            for profile in profiles_of(session, person_id=person_id)
        ],
    }
    permissions = _permissions(session, person_id)
    sharing = _sharing(session, person_id)
    history = [
        {
            "id": event.id,
            "occurred_at": _iso(event.occurred_at),
            "property_id": event.property_id,
            "door_id": event.door_id,
            "door_kind": event.door_kind.value,
            "kind": event.kind,
            "credential_type": event.credential_type.value if event.credential_type else None,
            "reason": event.reason.value if event.reason else None,
            "by_you": event.subject_id == person_id,
            "granted_by_you": event.granted_by == person_id,
            "photo_included": event.id in photos,
        }
        for event in events
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", _readme(now))
        archive.writestr("contact.json", _json(contact))
        archive.writestr("contact.csv", _csv(list(contact), [contact]))
        archive.writestr("permissions.json", _json(permissions))
        for name, rows in permissions.items():
            archive.writestr(f"permissions_{name}.csv", _csv(_columns(rows), rows))
        archive.writestr("access_history.json", _json(history))
        archive.writestr("access_history.csv", _csv(list(EVENT_COLUMNS), history))
        archive.writestr("sharing.json", _json(sharing))
        for name, rows in sharing.items():
            archive.writestr(f"sharing_{name}.csv", _csv(_columns(rows), rows))
        for event_id, (content_type, data) in sorted(photos.items()):
            suffix = "png" if content_type == "image/png" else "jpg"
            archive.writestr(f"photos/{event_id}.{suffix}", data)
        archive.writestr("service_providers.txt", SERVICE_PROVIDERS)
    return buffer.getvalue()


def _photos_of(
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    person_id: str,
    viewer: Viewer,
    visible: Sequence[Event],
) -> dict[str, tuple[str, bytes]]:
    """Photos of the person's own entries that P4 lets them see when they ask for their data."""
    own = {event.id: event for event in visible if event.subject_id == person_id}
    own.update(
        (event.id, event)
        for event in session.scalars(select(Event).where(Event.subject_id == person_id))
    )
    found: dict[str, tuple[str, bytes]] = {}
    for event in own.values():
        if event.photo_id is None or not can_view_photo(viewer, _facts(event), True):
            continue
        photo = session.get(Photo, event.photo_id)
        if photo is None:
            continue
        try:
            found[event.id] = (photo.content_type, open_photo(photo, master_key, photo_dir))
        except (PhotoErased, PhotoUnreadable):
            continue
    return found


def _permissions(session: Session, person_id: str) -> dict[str, list[dict[str, Any]]]:
    roles = session.scalars(select(RoleMembership).where(RoleMembership.person_id == person_id))
    grants = session.execute(
        select(Grant, Key.name, Key.property_id)
        .join(Key, Key.id == Grant.key_id)
        .where(Grant.person_id == person_id)
        .order_by(Grant.created_at)
    ).all()
    codes = session.scalars(select(Doorcode).where(Doorcode.person_id == person_id))
    cards = session.scalars(select(Keycard).where(Keycard.person_id == person_id))
    phones = session.scalars(
        select(MobileKeyRegistration).where(MobileKeyRegistration.person_id == person_id)
    )
    return {
        "roles": [
            {
                "property_id": r.property_id,
                "role": r.role.value,
                "unit_id": r.unit_id,
                "since": _iso(r.created_at),
            }
            for r in roles
        ],
        "grants": [
            {
                "id": g.id,
                "key": name,
                "property_id": property_id,
                "kind": g.kind.value,
                "resident": g.resident,
                "starts_at": _iso(g.starts_at),
                "ends_at": _iso(g.ends_at),
                "revoked_at": _iso(g.revoked_at),
            }
            for g, name, property_id in grants
        ],
        "doorcodes": [
            {
                "door_id": c.door_id,
                "created_at": _iso(c.created_at),
                "revoked_at": _iso(c.revoked_at),
            }
            for c in codes
        ],
        "keycards": [
            {"property_id": c.property_id, "card_uid": c.card_uid, "active": c.active}
            for c in cards
        ],
        "phones": [
            {
                "phone_key_id": p.phone_key_id,
                "registered_at": _iso(p.registered_at),
                "revoked_at": _iso(p.revoked_at),
            }
            for p in phones
        ],
    }


def _sharing(session: Session, person_id: str) -> dict[str, list[dict[str, Any]]]:
    invited = session.execute(
        select(Grant, Key.name)
        .join(Key, Key.id == Grant.key_id)
        .where(Grant.created_by == person_id, Grant.person_id != person_id)
        .order_by(Grant.created_at)
    ).all()
    single_day = session.scalars(select(SingleDayCode).where(SingleDayCode.created_by == person_id))
    one_time = session.scalars(select(OneTimeCode).where(OneTimeCode.created_by == person_id))
    return {
        "guests_invited": [
            {
                "grant_id": g.id,
                "kind": g.kind.value,
                "key": name,
                "starts_at": _iso(g.starts_at),
                "ends_at": _iso(g.ends_at),
                "revoked_at": _iso(g.revoked_at),
            }
            for g, name in invited
        ],
        "single_day_codes": [
            {
                "door_id": c.door_id,
                "date": c.local_date.isoformat(),
                "guest_label": c.guest_label,
                "created_at": _iso(c.created_at),
                "revoked_at": _iso(c.revoked_at),
            }
            for c in single_day
        ],
        "one_time_codes": [
            {
                "door_id": c.door_id,
                "valid_minutes": c.valid_minutes,
                "created_at": _iso(c.created_at),
                "first_used_at": _iso(c.first_used_at),
            }
            for c in one_time
        ],
    }


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True)


def _columns(rows: Sequence[dict[str, Any]]) -> list[str]:
    return list(rows[0]) if rows else ["(none)"]


def _csv(columns: Sequence[str], rows: Sequence[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _readme(now: datetime) -> str:
    return (
        f"Your Keyturn data, as of {now:%Y-%m-%d %H:%M} UTC.\n"
        "contact: your contact details; permissions: your roles, keys and credentials;\n"
        "access_history: the entries you may see; sharing: guests you invited and codes you\n"
        "created; photos: photos of you that you may see; service_providers.txt: what is\n"
        "shared with whom. Every file is JSON or CSV.\n"
    )


def deliver_copy(
    session: Session,
    master_key: bytes,
    photo_dir: Path,
    request: DataSubjectRequest,
    now: datetime,
    actor: str | None,
) -> bytes:
    """The zip for a verified copy request; the request is completed (answered) with it."""
    from keyturn.cloud.privacy import requests

    if request.kind != RequestKind.COPY or request.state not in (
        RequestState.VERIFIED,
        RequestState.IN_PROGRESS,
    ):
        raise WrongState(f"a {request.kind.value} request that is {request.state.value}")
    assert request.person_id is not None
    if request.state == RequestState.VERIFIED:
        requests.proceed(session, master_key, photo_dir, request, now, actor)
    data = build_copy(session, master_key, photo_dir, request.person_id, now)
    requests.complete(session, request, now, "copy delivered")
    return data
