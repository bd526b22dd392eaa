"""A retention sweep over 1,000,000 events of mixed jurisdictions and ages, against a raw
chunked DELETE/UPDATE of the same rows, on SQLite and PostgreSQL.

Each backend gets one generated database (bulk insert: executemany on SQLite, COPY on
PostgreSQL) copied afresh before every timed pass, so the job and the baseline start from
identical rows. Figures: sweep time against the baseline (throughput >= 70% means a time
ratio <= 1/0.7) and the longest single transaction of the sweep (< 1 s). Set
KEYTURN_BENCH_EVENTS to scale down, KEYTURN_BENCH_PG_URL to point at another server.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import Engine, delete, select, update

from _report import best_of_interleaved, report
from _seed import EVENTS, ScratchDatabases, load_events, scratch_databases
from keyturn.cloud import db, sessions
from keyturn.cloud.models import Event
from keyturn.cloud.privacy.retention.policies import retention_for
from keyturn.cloud.privacy.retention.service import CHUNK_SIZE, run_retention

ROUNDS = int(os.environ.get("KEYTURN_BENCH_ROUNDS", "1"))
NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
PROPERTIES = (("US-NY-NYC", None), ("default", None), ("US-NY-NYC", 30), ("default", 365))
PEOPLE = 200
MAX_AGE_DAYS = 1200
MIN_THROUGHPUT = 0.7
MAX_TRANSACTION_S = 1.0


def reference_rows() -> dict[str, list[dict[str, object]]]:
    """Portfolio, properties, doors, device model, devices and people for the events."""
    rows: dict[str, list[dict[str, object]]] = {
        "portfolios": [{"id": "pf", "name": "bench", "created_at": NOW}],
        "device_models": [{"id": "m", "name": "bench", "capabilities": [], "created_at": NOW}],
        "people": [
            {"id": f"person-{n}", "display_name": f"p{n}", "created_at": NOW, "is_minor": False}
            for n in range(PEOPLE)
        ],
    }
    rows["properties"] = [
        {
            "id": f"p{n}",
            "portfolio_id": "pf",
            "name": f"p{n}",
            "time_zone": "America/New_York",
            "jurisdiction": jurisdiction,
            "retention_days_override": override,
            "authority_public_key": b"k",
            "authority_private_key_sealed": b"k",
            "created_at": NOW,
        }
        for n, (jurisdiction, override) in enumerate(PROPERTIES)
    ]
    rows["doors"] = [
        {
            "id": f"d{n}",
            "property_id": f"p{n}",
            "name": "entrance",
            "kind": "entrance",
            "secret_sealed": b"x",
            "created_at": NOW,
        }
        for n in range(len(PROPERTIES))
    ]
    rows["devices"] = [
        {
            "id": f"dev{n}",
            "property_id": f"p{n}",
            "door_id": f"d{n}",
            "model_id": "m",
            "public_key": b"k",
            "sync_key_sealed": b"s",
            "stored_through_seq": EVENTS + 1,
            "provisioned_at": NOW,
        }
        for n in range(len(PROPERTIES))
    ]
    return rows


def event_rows() -> Iterator[tuple[object, ...]]:
    """EVENTS attempts spread over the properties and over MAX_AGE_DAYS, with people."""
    rng = random.Random(7)
    for seq in range(1, EVENTS + 1):
        n = seq % len(PROPERTIES)
        at = NOW - timedelta(seconds=rng.randrange(MAX_AGE_DAYS * 86400))
        person = f"person-{rng.randrange(PEOPLE)}"
        yield (
            str(uuid.UUID(int=rng.getrandbits(128))),
            f"p{n}",
            f"d{n}",
            "entrance",
            f"dev{n}",
            seq,
            "attempt",
            at,
            at,
            False,
            "keycard",
            f"card-{seq % 5000}",
            person,
            person,
            False,
            "granted",
        )


def insert_reference(engine: Engine) -> None:
    from keyturn.cloud.models import metadata

    with engine.begin() as conn:
        for name, rows in reference_rows().items():
            conn.execute(metadata.tables[name].insert(), rows)


def fill(url: str) -> None:
    """A migrated database with the reference rows and EVENTS bulk-loaded events."""
    db.upgrade(url)
    engine = db.make_engine(url)
    insert_reference(engine)
    engine.dispose()
    load_events(url, event_rows())


def raw_sweep(engine: Engine) -> tuple[int, float]:
    """The baseline: per property, chunked DELETE then chunked UPDATE of the same rows."""
    changed, longest = 0, 0.0
    for n, (jurisdiction, override) in enumerate(PROPERTIES):
        retention = retention_for(jurisdiction, override, NOW)
        passes: list[tuple[Callable[[object], object], datetime]] = [
            (lambda sub: delete(Event).where(Event.id.in_(sub)), retention.delete_before),
            (
                lambda sub: (
                    update(Event)
                    .where(Event.id.in_(sub))
                    .values(
                        subject_id=None,
                        granted_by=None,
                        credential_id=None,
                        grant_id=None,
                        photo_id=None,
                        detail=None,
                        anonymised_at=NOW,
                    )
                ),
                retention.anonymise_before,
            ),
        ]
        for statement, before in passes:
            cursor = datetime.min.replace(tzinfo=UTC)
            while True:
                sub = (
                    select(Event.id)
                    .where(
                        Event.property_id == f"p{n}",
                        Event.anonymised_at.is_(None),
                        Event.occurred_at < before,
                        Event.occurred_at >= cursor,
                    )
                    .order_by(Event.occurred_at)
                    .limit(CHUNK_SIZE)
                )
                started = time.perf_counter()
                with engine.begin() as conn:
                    done = (
                        conn.execute(
                            statement(sub).returning(Event.occurred_at)  # type: ignore[attr-defined]
                        )
                        .scalars()
                        .all()
                    )
                longest = max(longest, time.perf_counter() - started)
                changed += len(done)
                if len(done) < CHUNK_SIZE:
                    break
                cursor = max(done)
    return changed, longest


def measure(backend: str, fresh: Callable[[], Engine]) -> None:
    """Time the job and the baseline, each on a fresh copy, and print the figures."""
    figures: dict[str, tuple[int, float]] = {}

    def timed(name: str, work: Callable[[Engine], tuple[int, float]]) -> float:
        engine = fresh()
        try:
            started = time.perf_counter()
            changed, longest = work(engine)
            elapsed = time.perf_counter() - started
        finally:
            engine.dispose()
        figures[name] = (changed, max(longest, figures.get(name, (0, 0.0))[1]))
        return elapsed

    def job(engine: Engine) -> tuple[int, float]:
        with tempfile.TemporaryDirectory() as photos:
            result = run_retention(sessions.session_factory(engine), NOW, photo_dir=Path(photos))
        changed = result.total("events_deleted") + result.total("events_anonymised")
        return changed, result.longest_transaction_s

    baseline, value = best_of_interleaved(
        lambda: timed("raw", raw_sweep), lambda: timed("job", job), ROUNDS
    )
    assert figures["raw"][0] == figures["job"][0], figures
    report(
        f"retention.sweep_{backend}_{EVENTS}_events",
        value,
        "s",
        baseline,
        round(1 / MIN_THROUGHPUT, 3),
    )
    report(
        f"retention.longest_transaction_{backend}", figures["job"][1], "s", MAX_TRANSACTION_S, 1.0
    )


def main() -> None:
    for backend in ("sqlite", "postgresql"):
        with scratch_databases(backend) as scratch:
            fill(scratch.create("template"))

            def fresh(scratch: ScratchDatabases = scratch) -> Engine:
                return db.make_engine(scratch.copy("template", "work"))

            measure(backend, fresh)


if __name__ == "__main__":
    main()
