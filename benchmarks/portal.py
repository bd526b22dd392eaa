"""Portal pages against the JSON calls they stand for: the history page and the overview.

History: the first page of /portal/properties/{id}/history (50 rows, names, photo rule, log
gaps, HTML) against the API's /events for the same page and viewer (limit=50), for a manager
and for a resident, over KEYTURN_BENCH_EVENTS bulk-loaded events (median server time; target
ratio <= 1.5); beside each, for information, the same against /events called with the page's
own cookie session. Overview: the overview page of a KEYTURN_BENCH_OVERVIEW_DOORS-door property
(500) with lock health and open alerts, against the JSON calls it replaces summed (every page
of /doors, /devices/{id}/health of every lock, /lockdown; target <= 1.5). Both are run in
process on the real app (benchmarks/api.py's AsgiClient and building), on SQLite and
PostgreSQL. KEYTURN_BENCH_EVENTS, KEYTURN_BENCH_QUERIES, KEYTURN_BENCH_ROUNDS,
KEYTURN_BENCH_OVERVIEW_DOORS and KEYTURN_BENCH_BACKENDS scale it down; KEYTURN_BENCH_PORTAL
(history,overview) picks the figures.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sqlalchemy import select
from sqlalchemy.orm import Session

import api
from _report import report
from _seed import EVENTS, load_events, scratch_databases
from keyturn.cloud import db, sessions
from keyturn.cloud.app import create_app
from keyturn.cloud.auth import service as auth_service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.deps import SESSION_COOKIE
from keyturn.cloud.models import Account, Device

QUERIES = int(os.environ.get("KEYTURN_BENCH_QUERIES", "200"))
ROUNDS = int(os.environ.get("KEYTURN_BENCH_ROUNDS", "10"))
BACKENDS = api.BACKENDS
OVERVIEW_DOORS = int(os.environ.get("KEYTURN_BENCH_OVERVIEW_DOORS", "500"))
FIGURES = tuple(os.environ.get("KEYTURN_BENCH_PORTAL", "history,overview").split(","))
PAGE_ROWS = 50
TARGET = 1.5
WARMUP = 5
ROW = re.compile(rb"<tr>\s*<td>")
# The building's locks' uplink frames are only for api.py's ingest figure: keep them few.
api.SYNC_EVENTS = min(api.SYNC_EVENTS, 500)

Call = Callable[[], Awaitable[None]]


def _cookie(url: str, person_id_of: Callable[[Session], str]) -> str:
    """A cookie session for the person, as the sign-in page opens one."""
    engine = db.make_engine(url)
    try:
        with sessions.session_factory(engine)() as session:
            person_id = person_id_of(session)
            account = session.scalars(select(Account).where(Account.person_id == person_id)).one()
            opened = auth_service.open_session(
                session=session, config=AuthConfig(), account=account, address="bench", now=api.NOW
            )
            session.commit()
    finally:
        engine.dispose()
    return f"{SESSION_COOKIE}={opened.secret}"


def _person_of_token(token: str) -> Callable[[Session], str]:
    def find(session: Session) -> str:
        return auth_service.principal_from_token(session, token, api.NOW).person_id

    return find


def _interleaved(
    client: api.AsgiClient, value: Call, baseline: Call, rounds: int
) -> tuple[float, float]:
    """Median server time of each, taking turns on the one event loop."""

    async def timed() -> tuple[float, float]:
        times: dict[str, list[float]] = {"value": [], "baseline": []}
        for n in range(WARMUP + rounds):
            started = time.perf_counter()
            await value()
            middle = time.perf_counter()
            await baseline()
            if n >= WARMUP:
                times["value"].append(middle - started)
                times["baseline"].append(time.perf_counter() - middle)
        return statistics.median(times["value"]), statistics.median(times["baseline"])

    return client.run(timed)


def bench_history(backend: str, url: str, world: api.World, folder: Path) -> None:
    engine = db.make_engine(url)
    try:
        client = api.AsgiClient(create_app(api.settings_for(url, folder), engine))
        for who, token in (("manager", world.manager_token), ("resident", world.resident_token)):
            cookie = _cookie(url, _person_of_token(token))
            page_path = f"/portal/properties/{world.property_id}/history"
            json_path = f"/api/v1/properties/{world.property_id}/events"

            async def page(cookie: str = cookie, path: str = page_path) -> None:
                status, body = await client.request("GET", path, headers={"Cookie": cookie})
                assert status == 200, body[:500]
                assert len(ROW.findall(body)) == PAGE_ROWS, "the page lists 50 rows"

            async def events(
                token: str = token, path: str = json_path, cookie: str | None = None
            ) -> None:
                credential = {"Cookie": cookie} if cookie else {"Authorization": f"Bearer {token}"}
                status, body = await client.request(
                    "GET", path, params={"limit": str(PAGE_ROWS)}, headers=credential
                )
                assert status == 200, body[:500]
                assert len(json.loads(body)["items"]) == PAGE_ROWS

            async def events_by_cookie(
                events: Callable[..., Awaitable[None]] = events, cookie: str = cookie
            ) -> None:
                await events(cookie=cookie)

            value, baseline = _interleaved(client, page, events, QUERIES)
            report(
                f"portal.history_page_{who}_{backend}_{EVENTS}_events",
                value,
                "s",
                baseline,
                TARGET,
            )
            # For information: /events with the same cookie session as the page, so the
            # difference is the page's own work and not the kind of credential.
            value, baseline = _interleaved(client, page, events_by_cookie, QUERIES)
            report(
                f"portal.history_page_{who}_{backend}_{EVENTS}_events_vs_cookie_api",
                value,
                "s",
                baseline,
                TARGET,
            )
        client.close()
    finally:
        engine.dispose()


def bench_overview(backend: str, url: str, world: api.World, folder: Path) -> None:
    engine = db.make_engine(url)
    try:
        with sessions.session_factory(engine)() as session:
            devices = list(
                session.scalars(select(Device.id).where(Device.property_id == world.property_id))
            )
        client = api.AsgiClient(create_app(api.settings_for(url, folder), engine))
        cookie = _cookie(url, _person_of_token(world.manager_token))
        bearer = {"Authorization": f"Bearer {world.manager_token}"}
        base = f"/api/v1/properties/{world.property_id}"

        async def page() -> None:
            status, body = await client.request(
                "GET", f"/portal/properties/{world.property_id}", headers={"Cookie": cookie}
            )
            assert status == 200, body[:500]
            assert body.count(b"<tr>") >= OVERVIEW_DOORS

        async def json_calls() -> None:
            cursor: str | None = None
            doors = 0
            while True:
                params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
                status, body = await client.request(
                    "GET", f"{base}/doors", params=params, headers=bearer
                )
                assert status == 200, body[:500]
                answer = json.loads(body)
                doors += len(answer["items"])
                cursor = answer.get("next_cursor")
                if not cursor:
                    break
            assert doors == OVERVIEW_DOORS
            for device_id in devices:
                status, body = await client.request(
                    "GET", f"/api/v1/devices/{device_id}/health", headers=bearer
                )
                assert status == 200, body[:500]
            status, body = await client.request("GET", f"{base}/lockdown", headers=bearer)
            assert status == 200, body[:500]

        value, baseline = _interleaved(client, page, json_calls, ROUNDS)
        report(
            f"portal.overview_{OVERVIEW_DOORS}_doors_{backend}_{EVENTS}_events",
            value,
            "s",
            baseline,
            TARGET,
        )
        client.close()
    finally:
        engine.dispose()


def measure(backend: str) -> None:
    with scratch_databases(backend) as scratch, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "history" in FIGURES:
            history_url = scratch.create("history")
            world = api.make_world(history_url, folder / "locks")
            load_events(history_url, api.history_rows(world))
            bench_history(backend, history_url, world, folder)
        if "overview" not in FIGURES:
            return
        doors = api.DOORS
        api.DOORS = OVERVIEW_DOORS
        try:
            overview_url = scratch.create("overview")
            big = api.make_world(overview_url, folder / "big-locks")
        finally:
            api.DOORS = doors
        load_events(overview_url, api.history_rows(big))
        bench_overview(backend, overview_url, big, folder)


def main() -> None:
    for backend in BACKENDS:
        measure(backend)


if __name__ == "__main__":
    main()
