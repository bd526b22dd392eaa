"""The doors a change reaches: those of one key, or of every key a person was granted here.

Revoking, suspending or withdrawing consent publishes exactly these doors' access lists.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Grant, Key, key_doors


def key_door_ids(key: Key) -> list[str]:
    return sorted(door.id for door in key.doors)


def person_door_ids(session: Session, property_id: str, person_id: str) -> list[str]:
    """Doors of this property on any key the person was ever granted (where locks know them)."""
    return sorted(
        set(
            session.scalars(
                select(key_doors.c.door_id)
                .join(Key, Key.id == key_doors.c.key_id)
                .join(Grant, Grant.key_id == Key.id)
                .where(Grant.person_id == person_id, Key.property_id == property_id)
            )
        )
    )
