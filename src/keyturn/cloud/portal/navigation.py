"""The portal's sections of a property, each with the action that opens it: the one list the
navigation is drawn from, so a section the caller may not open is not shown."""

from __future__ import annotations

from dataclasses import dataclass

from keyturn.cloud.auth.permissions import Action
from keyturn.cloud.web.gate import Viewer


@dataclass(frozen=True)
class Section:
    label: str
    path: str  # below /portal/properties/{property_id}
    action: Action


SECTIONS = (
    Section("Overview", "", Action.PROPERTY_READ),
    Section("Alerts", "/alerts", Action.DEVICES_READ),
    Section("People", "/people", Action.PEOPLE_READ),
    Section("Keys", "/keys", Action.KEYS_READ),
    Section("Guests and codes", "/guests", Action.GUESTS_INVITE),
    Section("History", "/history", Action.HISTORY_READ),
    Section("Doors and locks", "/devices", Action.DEVICES_READ),
    Section("Data requests", "/requests", Action.DSAR_REVIEW),
    Section("Retention", "/retention", Action.RETENTION_READ),
    Section("Audit record", "/audit", Action.AUDIT_READ),
)


@dataclass(frozen=True)
class Link:
    label: str
    href: str


def property_path(property_id: str, below: str = "") -> str:
    return f"/portal/properties/{property_id}{below}"


def sections_for(viewer: Viewer) -> list[Link]:
    """The sections of the viewer's property they may open, in menu order."""
    if viewer.prop is None:
        return []
    return [
        Link(section.label, property_path(viewer.prop.id, section.path))
        for section in SECTIONS
        if viewer.can(section.action)
    ]
