"""The portal's gate: the API's own permission check for a page, and what the page may show.

A page declares `viewer: Annotated[Viewer, page(Action.X)]`. Its dependency runs
`deps.checked_principal`, the check every API route runs, after taking the CSRF token of a
plain HTML form from its `csrf_token` field; the Viewer it returns carries the actions the
caller may perform at the property, which templates use to hide what the check would refuse.
A page whose speed counts (history) declares `gate: Annotated[PageGate, gated_page(Action.X)]`
instead and hands its work to `gate.run`, which checks, then works, in one step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any, TypeVar
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from keyturn.cloud.auth.deps import (
    ACTION_MARK,
    FORM_CSRF_STATE,
    PROPERTY_PARAM,
    RESOLVER_MARK,
    SAFE_METHODS,
    Gate,
    PropertyResolver,
    checked_standing,
    gated,
    get_db,
    get_now,
)
from keyturn.cloud.auth.errors import NotFound
from keyturn.cloud.auth.permissions import Action, Principal, allowed_actions, standing_at

FORM_CSRF_FIELD = "csrf_token"
UTC_ZONE = ZoneInfo("UTC")
T = TypeVar("T")


@dataclass(frozen=True)
class PropertyShown:
    """The property a page is about, as its header shows it."""

    id: str
    name: str
    time_zone: str
    jurisdiction: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


@dataclass(frozen=True)
class Viewer:
    """The checked caller of a page, the property it is about, and what they may do there."""

    principal: Principal
    now: datetime
    prop: PropertyShown | None = None
    actions: frozenset[Action] = field(default_factory=frozenset)
    manager_totp_missing: bool = False

    def can(self, action: Action | str) -> bool:
        """Whether the permission check would let this caller perform the action here; for
        choosing what to show only (a forged request is refused by the check itself)."""
        return Action(action) in self.actions

    @property
    def zone(self) -> ZoneInfo:
        return self.prop.zone if self.prop is not None else UTC_ZONE


async def _form_csrf(request: Request) -> None:
    """Keep the CSRF field of a submitted form where the check looks for it."""
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    sent = form.get(FORM_CSRF_FIELD)
    if isinstance(sent, str):
        setattr(request.state, FORM_CSRF_STATE, sent)


def _viewer(request: Request, db: Session, now: datetime, principal: Principal) -> Viewer:
    standing = checked_standing(request, principal)
    path_property = request.path_params.get(PROPERTY_PARAM)
    if standing is None and isinstance(path_property, str):
        # An account action (own consent, own data requests) on a page about a property: the
        # page is the caller's only at a property where they have a role, as every other is.
        standing = standing_at(db, principal.person_id, path_property)
        if standing is None:
            raise NotFound()
    if standing is None:
        return Viewer(principal=principal, now=now)
    # The check read the property's name, zone and jurisdiction with the roles.
    facts = standing.facts
    shown = PropertyShown(standing.property_id, facts.name, facts.time_zone, facts.jurisdiction)
    return Viewer(
        principal=principal,
        now=now,
        prop=shown,
        actions=frozenset(allowed_actions(standing, principal)),
        manager_totp_missing=standing.effective_for(principal) != standing,
    )


@dataclass(frozen=True)
class PageGate:
    """`page`'s check, held for a page that runs it together with its own work: the API's
    `deps.Gate` (one worker-thread step for the check and the work on a database server, the
    event loop on SQLite; `autocommit` as there), with the form's CSRF field read first and
    the Viewer handed to the work."""

    gate: Gate

    @property
    def db(self) -> Session:
        return self.gate.db

    async def run(self, work: Callable[[Viewer], T]) -> T:
        """What `work` returns for the checked caller's Viewer, both in the same step."""
        request, db, now = self.gate.request, self.gate.db, self.gate.now
        await _form_csrf(request)
        return await self.gate.run(lambda principal: work(_viewer(request, db, now, principal)))


def gated_page(
    action: Action, *, property_from: PropertyResolver | None = None, autocommit: bool = False
) -> Any:
    """`page(action)` for a page that runs the check and its work in one step: a PageGate.

    Use as `gate: Annotated[PageGate, gated_page(Action.X)]`, then
    `return await gate.run(lambda viewer: ...)`; the route walker finds `gated`'s mark inside.
    """
    checked = gated(action, property_from=property_from, autocommit=autocommit)

    # A default, not Annotated: the annotation is a string here, and FastAPI could not find
    # `checked`, a local, when it evaluates it.
    async def page_gate(gate: Gate = checked) -> PageGate:
        return PageGate(gate)

    return Depends(page_gate)


def _itself(viewer: Viewer) -> Viewer:
    return viewer


def page(action: Action, *, property_from: PropertyResolver | None = None) -> Any:
    """A dependency that runs the API's check for `action` and returns the page's Viewer.

    Use as `viewer: Annotated[Viewer, page(Action.X)]`; the route walker reads the same mark
    as on API routes, and the property comes from the same path parameters.
    """

    async def check(
        request: Request,
        db: Annotated[Session, Depends(get_db)],
        now: Annotated[datetime, Depends(get_now)],
    ) -> Viewer:
        gate = Gate(request, db, now, action, property_from, autocommit=False)
        return await PageGate(gate).run(_itself)

    setattr(check, ACTION_MARK, action)
    setattr(check, RESOLVER_MARK, property_from is not None)
    return Depends(check)
