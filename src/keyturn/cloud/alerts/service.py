"""Open alerts of a property, derived from what its locks already report.

Nothing is stored: an alert is a door event a lock journaled (forced open, held ajar, battery
low, keypad locked out) in the last ALERT_WINDOW, a lock whose battery is low now, a lock not
heard from for LATE_SYNC, or a log gap recorded in the window. `open_alerts` lists them newest
first with door names; notification code calls it with `since` for the alerts that appeared
after its last look (issue 11's rules plug in there). `change_marker` is a cheap summary of
what the alerts, the doors table and the first page of history are drawn from.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import Device, Door, Event, LogGap, Property
from keyturn.protocol.event_kinds import EventKind

ALERT_WINDOW = timedelta(hours=24)
LATE_SYNC = timedelta(hours=6)
LOW_BATTERY_PCT = 20
ALERTING_EVENTS = (
    EventKind.FORCED_OPEN,
    EventKind.DOOR_AJAR,
    EventKind.BATTERY_LOW,
    EventKind.KEYPAD_LOCKOUT,
)


class AlertKind(StrEnum):
    FORCED_OPEN = "forced_open"
    DOOR_AJAR = "door_ajar"
    BATTERY_LOW = "battery_low"  # the lock journaled its battery dropping
    KEYPAD_LOCKOUT = "keypad_lockout"
    LOW_BATTERY = "low_battery"  # the lock's last reported level is low
    NOT_SYNCED = "not_synced"
    LOG_GAP = "log_gap"


WORDS = {
    AlertKind.FORCED_OPEN: "Door forced open",
    AlertKind.DOOR_AJAR: "Door held open",
    AlertKind.BATTERY_LOW: "Lock reported a low battery",
    AlertKind.KEYPAD_LOCKOUT: "Keypad locked out after wrong codes",
    AlertKind.LOW_BATTERY: "Battery low",
    AlertKind.NOT_SYNCED: "Lock not heard from",
    AlertKind.LOG_GAP: "Lock lost entries",
}


@dataclass(frozen=True, slots=True)
class Alert:
    """One open alert: what, at which door, since when; `battery_pct` for battery alerts."""

    kind: AlertKind
    door_id: str | None
    door_name: str
    at: datetime | None
    battery_pct: int | None = None

    @property
    def words(self) -> str:
        return WORDS[self.kind]


def open_alerts(
    *, session: Session, property_id: str, now: datetime, since: datetime | None = None
) -> list[Alert]:
    """The property's open alerts as of `now`, newest first (a lock never heard from last).

    With `since`, only those that arose after it (for notifications).
    """
    window_start = now - ALERT_WINDOW
    doors = {
        door_id: name
        for door_id, name in session.execute(
            select(Door.id, Door.name).where(Door.property_id == property_id)
        )
    }

    def door_name(door_id: str | None) -> str:
        return doors.get(door_id, "a removed door") if door_id else "no door"

    alerts: list[Alert] = []
    events = session.execute(
        select(Event.kind, Event.door_id, Event.occurred_at).where(
            Event.property_id == property_id,
            Event.occurred_at >= window_start,
            Event.occurred_at <= now,
            Event.kind.in_([str(kind) for kind in ALERTING_EVENTS]),
        )
    )
    for kind, door_id, occurred_at in events:
        alerts.append(Alert(AlertKind(kind), door_id, door_name(door_id), occurred_at))
    locks = session.execute(
        select(Device.door_id, Device.battery_pct, Device.last_sync_at).where(
            Device.property_id == property_id, Device.retired_at.is_(None)
        )
    )
    for lock_door, battery_pct, last_sync_at in locks:
        if battery_pct is not None and battery_pct <= LOW_BATTERY_PCT:
            alerts.append(
                Alert(
                    AlertKind.LOW_BATTERY,
                    lock_door,
                    door_name(lock_door),
                    last_sync_at,
                    battery_pct,
                )
            )
        if last_sync_at is None or now - last_sync_at > LATE_SYNC:
            alerts.append(
                Alert(AlertKind.NOT_SYNCED, lock_door, door_name(lock_door), last_sync_at)
            )
    gaps = session.execute(
        select(LogGap.door_id, LogGap.detected_at)
        .join(Device, Device.id == LogGap.device_id)
        .where(Device.property_id == property_id, LogGap.detected_at >= window_start)
    )
    for gap_door, detected_at in gaps:
        alerts.append(Alert(AlertKind.LOG_GAP, gap_door, door_name(gap_door), detected_at))
    if since is not None:
        alerts = [alert for alert in alerts if alert.at is not None and alert.at > since]
    alerts.sort(key=lambda alert: (alert.at is not None, alert.at or now, alert.kind), reverse=True)
    return alerts


def change_marker(*, session: Session, property_id: str) -> str:
    """A short text that changes whenever the property's events, locks, log gaps, doors or
    lockdown may have changed: a new event arrives by a sync, which moves its lock's
    `last_sync_at`. Cheap (indexed maxima and counts), for the portal's live regions' ETags.
    """
    newest_event = session.scalar(
        select(func.max(Event.occurred_at)).where(Event.property_id == property_id)
    )
    locks = session.execute(
        select(func.count(), func.max(Device.last_sync_at), func.sum(Device.battery_pct)).where(
            Device.property_id == property_id
        )
    ).one()
    gaps = session.execute(
        select(func.count(), func.max(LogGap.detected_at))
        .join(Device, Device.id == LogGap.device_id)
        .where(Device.property_id == property_id)
    ).one()
    doors = session.execute(
        select(func.count(), func.max(Door.name)).where(Door.property_id == property_id)
    ).one()
    lockdown = session.execute(
        select(Property.lockdown, Property.lockdown_changed_at).where(Property.id == property_id)
    ).one()
    text = repr((newest_event, tuple(locks), tuple(gaps), tuple(doors), tuple(lockdown)))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
