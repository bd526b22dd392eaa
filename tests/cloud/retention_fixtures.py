"""What the retention tests add to `worlds.RetentionSite`: the clock of the run, log gaps and
audit records of fixed age, and the state a run leaves (rows and photo files), to compare.

The sites, people, grants, credentials and events are the worlds' (`add_retention_site`,
`add_aged_person`, `add_aged_grant`, `add_aged_credentials`, `add_aged_event`).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from keyturn.cloud.models import AuditRecord, LogGap, metadata
from worlds import RETENTION_NOW, RetentionSite

NOW = RETENTION_NOW
NYC = "US-NY-NYC"
SNAPSHOT_TABLES = (
    "events",
    "photos",
    "grants",
    "doorcodes",
    "keycards",
    "mobile_key_registrations",
    "audit_records",
    "log_gaps",
)
Rows = dict[str, list[dict[str, Any]]]


def days(n: float) -> timedelta:
    return timedelta(days=n)


def add_gap(session: Session, site: RetentionSite, from_seq: int, to_seq: int | None) -> None:
    """Entries of the site's lock recorded as lost, as ingestion records a gap."""
    session.add(
        LogGap(
            device_id=site.device_id,
            door_id=site.door_id,
            from_seq=from_seq,
            to_seq=to_seq,
            detected_at=NOW - days(200),
            note="lock replaced before syncing",
        )
    )
    session.flush()


def add_audit(session: Session, record_id: str, expires: timedelta) -> None:
    """An audit record with a known id that expires `expires` after NOW."""
    session.add(
        AuditRecord(
            id=record_id,
            at=NOW - days(800),
            action="history.read",
            object_type="property",
            detail={},
            expires_at=NOW + expires,
        )
    )
    session.flush()


def snapshot(engine: Engine, photo_dir: Path) -> dict[str, Any]:
    """Every row of the tables retention touches, plus the photo files on disk."""
    state: dict[str, Any] = {}
    with engine.connect() as conn:
        for name in SNAPSHOT_TABLES:
            table = metadata.tables[name]
            rows = conn.execute(select(table).order_by(table.c.id)).mappings().all()
            # A sealed key differs between two builds (random nonce): compare its presence.
            state[name] = [
                {k: v is not None if k == "key_sealed" else v for k, v in row.items()}
                for row in rows
            ]
    state["files"] = sorted(
        str(path.relative_to(photo_dir)) for path in photo_dir.rglob("*") if path.is_file()
    )
    return state


def copy_rows(engine: Engine) -> Rows:
    """Every row of every table, to put back later as an identical copy of the database."""
    with engine.connect() as conn:
        return {
            table.name: [dict(row) for row in conn.execute(select(table)).mappings()]
            for table in metadata.sorted_tables
        }


def empty_database(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())


def restore_rows(engine: Engine, rows: Rows) -> None:
    """Make the database hold exactly `rows` again (see `copy_rows`)."""
    empty_database(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if rows[table.name]:
                conn.execute(insert(table), rows[table.name])
