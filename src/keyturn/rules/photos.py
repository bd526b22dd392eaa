"""When a lock takes a photo (P1-P3) and who may look at it (P4).

Both rules live here only: the lock asks `should_take_photo` after every decision, and the
cloud filters photos with `PHOTO_RULE`, which compiles to SQL like the visibility rule.
"""

from __future__ import annotations

from keyturn.rules.types import CredentialType, DoorKind
from keyturn.rules.visibility import (
    EVENT,
    RESIDENCE,
    VIEWER,
    WHILE_RESIDENT_THERE,
    And,
    Eq,
    EventFacts,
    Expr,
    In,
    Ne,
    Or,
    Viewer,
    evaluate,
)


def should_take_photo(
    door_kind: DoorKind, has_camera: bool, credential_type: CredentialType, granted: bool
) -> bool:
    """Whether the lock photographs this attempt.

    Only models with a camera (P1); never for a mechanical key. Every failed doorcode
    attempt, at any door. At a residence door otherwise only an entry with a single-day
    code (P2). At other doors an entry with a mobile key or any doorcode (P3); a keycard is
    not on P3's list, so keycard entries are not photographed anywhere.
    """
    if not has_camera or credential_type == CredentialType.MECHANICAL_KEY:
        return False
    if credential_type.is_doorcode and not granted:
        return True
    if not granted:
        return False
    if door_kind == DoorKind.RESIDENCE:
        return credential_type == CredentialType.SINGLE_DAY_CODE
    return credential_type == CredentialType.MOBILE_KEY or credential_type.is_doorcode


_PERSONNEL = In(EVENT.property_id, VIEWER.security_viewer_property_ids)

# P4: security viewers of the property anywhere; at a residence door, those who held resident
# status there when the photo was taken (the same periods as its history, V2).
PHOTO_RULE: Expr = Or((_PERSONNEL, WHILE_RESIDENT_THERE))

# P4: answering a data request also shows people their own photos at non-residence doors.
PHOTO_RULE_FOR_DATA_REQUEST: Expr = Or(
    (
        _PERSONNEL,
        WHILE_RESIDENT_THERE,
        And((Ne(EVENT.door_kind, RESIDENCE), Eq(EVENT.subject_id, VIEWER.person_id))),
    )
)


def can_view_photo(viewer: Viewer, facts: EventFacts, for_data_request: bool) -> bool:
    """Whether `viewer` may see the photo of the event described by `facts`."""
    rule = PHOTO_RULE_FOR_DATA_REQUEST if for_data_request else PHOTO_RULE
    return evaluate(rule, facts, viewer)
