"""The retention route and the history API under retention (R2, R4), over HTTP on both backends.

The route shows a property's policy, limit, deadlines and recorded log gaps to its managers;
the history API never returns a New York City event older than the policy.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import time_machine
from fastapi.testclient import TestClient
from retention_fixtures import NOW, NYC, add_gap, days
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from factories import Clock, bearer, give_role, token_for
from keyturn.cloud.models import Event, LogGap
from keyturn.cloud.privacy.retention.service import run_retention
from keyturn.cloud.sessions import session_factory
from keyturn.rules.types import Role
from worlds import (
    RetentionSite,
    add_aged_event,
    add_aged_person,
    add_retention_site,
    all_pages,
)


@pytest.fixture
def clock() -> Clock:
    """The app's clock at the retention tests' NOW."""
    return Clock(NOW)


def manager_token(session: Session, site: RetentionSite, name: str = "manager") -> str:
    person = add_aged_person(session, name)
    give_role(session, person_id=person, property_id=site.property_id, role=Role.PROPERTY_MANAGER)
    return token_for(session, person)


def test_rule_r2_history_api_shows_nothing_older_than_the_nyc_policy(
    session: Session, client: TestClient
) -> None:
    site = add_retention_site(session, "nyc", NYC)
    alice = add_aged_person(session, "alice")
    recent = add_aged_event(session, site, 1, days(89), subject=alice)
    add_aged_event(session, site, 2, days(91), subject=alice)
    add_aged_event(session, site, 3, days(400), subject=alice)
    token = manager_token(session, site)
    session.commit()

    # The history views read the wall clock for this filter; travel there.
    with time_machine.travel(NOW, tick=False):
        items = all_pages(client, token, site.property_id)

    assert [item["id"] for item in items] == [recent.id]
    assert session.scalar(select(func.count()).select_from(Event)) == 3


def test_rule_r4_log_gaps_are_kept_shown_and_never_filled(
    session: Session, client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    site = add_retention_site(session, "nyc", NYC, stored_through=3)
    add_gap(session, site, 4, 6)
    add_gap(session, site, 9, None)
    for seq, age in ((1, 200), (2, 200), (3, 10), (7, 200), (8, 10)):
        add_aged_event(session, site, seq, days(age))
    token = manager_token(session, site)
    session.commit()

    run_retention(session_factory(engine), NOW, photo_dir=tmp_path / "photos")
    status = client.get(f"/api/v1/properties/{site.property_id}/retention", headers=bearer(token))
    assert status.status_code == 200, status.text
    assert status.json()["log_gap_count"] == 2
    found = []
    cursor = None
    while True:  # one gap a page, so the cursor is followed
        params = {"limit": "1"} | ({"cursor": cursor} if cursor else {})
        answer = client.get(
            f"/api/v1/properties/{site.property_id}/log-gaps", params=params, headers=bearer(token)
        )
        assert answer.status_code == 200, answer.text
        found += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break
    assert sorted((gap["from_seq"], gap["to_seq"]) for gap in found) == [(4, 6), (9, None)]
    assert {gap["note"] for gap in found} == {"lock replaced before syncing"}
    session.expunge_all()
    assert session.scalar(select(func.count()).select_from(LogGap)) == 2
    # Old acknowledged entries went; nothing was invented inside or around the gaps.
    seqs = set(session.scalars(select(Event.device_seq)))
    assert seqs == {3, 7, 8}
    assert not seqs & {4, 5, 6, 9, 10}


def test_retention_route_reports_policy_limit_and_deadlines(
    session: Session, client: TestClient
) -> None:
    site = add_retention_site(session, "short", NYC, override=30)
    add_aged_event(session, site, 1, days(20))
    token = manager_token(session, site)
    session.commit()

    body = client.get(
        f"/api/v1/properties/{site.property_id}/retention", headers=bearer(token)
    ).json()

    assert (body["jurisdiction"], body["retention_days"], body["limit_days"]) == (NYC, 30, 90)
    assert (body["override_days"], body["override_refused"]) == (30, False)
    assert body["hidden_past_policy"] is True
    assert body["anonymise_before"].startswith((NOW - days(30)).date().isoformat())
    assert body["next_anonymisation_at"].startswith((NOW + days(10)).date().isoformat())


def test_retention_route_is_for_managers_only(session: Session, client: TestClient) -> None:
    site = add_retention_site(session, "elm")
    staff = add_aged_person(session, "staff")
    give_role(session, person_id=staff, property_id=site.property_id, role=Role.STAFF)
    token = token_for(session, staff)
    stranger = token_for(session, add_aged_person(session, "stranger"))
    session.commit()

    url = f"/api/v1/properties/{site.property_id}/retention"
    assert client.get(url, headers=bearer(token)).status_code == 403
    assert client.get(url, headers=bearer(stranger)).status_code == 404
    assert client.get(url).status_code == 401
