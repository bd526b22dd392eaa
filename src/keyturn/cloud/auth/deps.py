"""FastAPI dependencies: the database session, the clock, the caller, and the route markers.

Every route declares either `requires(Action.X)` (authenticate, then `authorize`), its
one-hop form `gated(Action.X)` for the hottest `async def` routes, or `public_route("why")`;
`app_routes` reads the markers back and `unmarked_routes` lists routes
that have none, which the route walker test and reviewers rely on.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from keyturn.cloud.auth import service
from keyturn.cloud.auth.config import AuthConfig
from keyturn.cloud.auth.errors import CsrfFailed, NotFound, Unauthenticated
from keyturn.cloud.auth.opaque import digest
from keyturn.cloud.auth.permissions import POLICIES, Action, Principal, Standing, authorize
from keyturn.cloud.properties.write_locks import lock_property
from keyturn.settings import Settings

SESSION_COOKIE = "keyturn_session"
CSRF_COOKIE = "keyturn_csrf"
CSRF_HEADER = "X-CSRF-Token"
# Where a page's gate puts the CSRF token a plain HTML form sent (see `web.gate`).
FORM_CSRF_STATE = "keyturn_form_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ACTION_MARK = "keyturn_action"
PUBLIC_MARK = "keyturn_public"
RESOLVER_MARK = "keyturn_property_from"
PROPERTY_PARAM = "property_id"
KEY_PARAM = "key_id"
PERSON_PARAM = "person_id"
STANDING_STATE = "keyturn_standing"
STATIC_FILES = "static files (stylesheets, scripts, images); nothing private"
T = TypeVar("T")


PropertyResolver = Callable[[Session, Mapping[str, str]], str | None]


async def get_db(request: Request) -> AsyncIterator[Session]:
    """A session for this request; the view commits, anything uncommitted is rolled back.

    Opening a session does no I/O, so it happens on the event loop; closing one that still
    holds a connection rolls back on the database, so only then does it go to a worker thread.
    """
    session = request.app.state.sessions()
    try:
        yield session
    finally:
        if session.in_transaction():
            await run_in_threadpool(session.close)
        else:
            session.close()


# The dependencies below do no I/O, so they are `async def`: FastAPI runs a plain `def`
# dependency on a worker thread, and each hop costs more than the work itself.


async def get_now(request: Request) -> datetime:
    """The current time from the app's clock, which tests replace to travel in time."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_config(request: Request) -> AuthConfig:
    config: AuthConfig = request.app.state.auth_config
    return config


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_master_key(request: Request) -> bytes:
    """The master key, decoded once per settings object (the first time may read its file)."""
    state = request.app.state
    cached: tuple[Settings, bytes] | None = getattr(state, "master_key_of_settings", None)
    if cached is None or cached[0] is not state.settings:
        cached = (state.settings, bytes(state.settings.master_key_bytes()))
        state.master_key_of_settings = cached
    return cached[1]


# The request-scoped values every view takes, named once for all domains.
Db = Annotated[Session, Depends(get_db)]
Now = Annotated[datetime, Depends(get_now)]
MasterKey = Annotated[bytes, Depends(get_master_key)]
Config = Annotated[AuthConfig, Depends(get_config)]
AppSettings = Annotated[Settings, Depends(get_settings)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def current_principal(request: Request, db: Session, now: datetime) -> Principal:
    """Who is calling: a bearer token if one is sent, else the session cookie (CSRF-checked).

    `requires` calls it in the same worker-thread hop as the permission check.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise Unauthenticated("send 'Authorization: Bearer <token>'")
        return service.principal_from_token(db, secret.strip(), now)
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        raise Unauthenticated()
    config: AuthConfig = request.app.state.auth_config
    idle = timedelta(seconds=config.session_idle_s)
    caller = service.principal_from_cookie(db, cookie, now, idle)
    if request.method not in SAFE_METHODS:
        _check_csrf(request, caller.csrf_digest)
    if caller.touched:
        # Nothing else is in this transaction yet: the session's last use is kept even if
        # the route itself only reads. An untouched use wrote nothing, so nothing to commit.
        db.commit()
    return caller.principal


def _check_csrf(request: Request, csrf_digest: str) -> None:
    """Double submit bound to the session: header (or form field) equals cookie, and is the
    session's token."""
    form_token: str = getattr(request.state, FORM_CSRF_STATE, "")
    sent = (request.headers.get(CSRF_HEADER) or form_token).encode()
    cookie = request.cookies.get(CSRF_COOKIE, "").encode()
    if not sent or not hmac.compare_digest(sent, cookie):
        raise CsrfFailed(f"send the {CSRF_COOKIE} cookie's value in the {CSRF_HEADER} header")
    if not hmac.compare_digest(digest(sent.decode()).encode(), csrf_digest.encode()):
        raise CsrfFailed("the CSRF token belongs to another session")


def checked_principal(
    request: Request,
    db: Session,
    now: datetime,
    action: Action,
    property_from: PropertyResolver | None,
    writes: bool,
) -> Principal:
    """Authenticate the caller and authorise `action`: the one check `requires`, `gated` and
    the portal's `page` run.

    The property is the `property_id` path parameter, or what `property_from` finds from the
    other path parameters (None answers 404); the key, if any, is the `key_id` parameter,
    and the person acted on, if any, the `person_id` parameter. A request that `writes` at a
    property then holds the property's row lock until it ends, so writers at one building go
    one at a time (see `properties.write_locks`).
    """
    principal = current_principal(request, db, now)
    params = request.path_params
    property_id = params.get(PROPERTY_PARAM)
    if property_from is not None:
        property_id = property_from(db, params)
        if property_id is None:
            raise NotFound()
    standing = authorize(
        db,
        principal,
        action,
        property_id,
        key_id=params.get(KEY_PARAM),
        subject_id=params.get(PERSON_PARAM),
    )
    if standing is not None:
        setattr(request.state, STANDING_STATE, standing)
    if writes and property_id is not None:
        lock_property(db, property_id)
    return principal


def requires(action: Action, *, property_from: PropertyResolver | None = None) -> Any:
    """A dependency that authenticates the caller and authorises `action`, returning them.

    Use as `principal: Annotated[Principal, requires(Action.X)]` or in `dependencies=[...]`;
    see `checked_principal` for where the property and key come from.
    """

    def check(
        request: Request,
        db: Annotated[Session, Depends(get_db)],
        now: Annotated[datetime, Depends(get_now)],
    ) -> Principal:
        writes = request.method not in SAFE_METHODS
        return checked_principal(request, db, now, action, property_from, writes)

    setattr(check, ACTION_MARK, action)
    setattr(check, RESOLVER_MARK, property_from is not None)
    return Depends(check)


@dataclass(frozen=True)
class Gate:
    """`requires`' check, held for a route that runs it together with its own work.

    FastAPI runs a sync dependency and a sync route on a worker thread each; a hop costs
    more than authenticating does, so the hottest routes are `async def` and hand the check
    and their database work to `run` together. Nothing reaches `work` without the check.
    On SQLite (in-process, no network wait) both run on the event loop; with a database
    server they go to one worker thread, so the loop serves others during round trips.
    """

    request: Request
    db: Session
    now: datetime
    action: Action
    property_from: PropertyResolver | None
    autocommit: bool

    async def run(self, work: Callable[[Principal], T]) -> T:
        """What `work` returns for the checked caller, both in the same step."""

        on_loop: bool = self.request.app.state.db_work_on_loop

        def checked() -> T:
            if self.autocommit and not on_loop:
                self.db.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            # In autocommit mode a row lock would end with its own statement: nothing to hold.
            writes = self.request.method not in SAFE_METHODS and not self.autocommit
            principal = checked_principal(
                self.request, self.db, self.now, self.action, self.property_from, writes
            )
            return work(principal)

        if on_loop:
            return checked()
        return await run_in_threadpool(checked)


def gated(
    action: Action, *, property_from: PropertyResolver | None = None, autocommit: bool = False
) -> Any:
    """`requires(action)` for an `async def` route: a Gate whose `run` checks, then works.

    Use as `gate: Annotated[Gate, gated(Action.X)]`; the route walker reads the same mark.
    `autocommit` runs each statement as its own transaction on a database server, for work
    that reads and writes at most one statement: at READ COMMITTED a transaction of reads
    sees nothing more consistent, a single INSERT is atomic on its own, and the server is
    spared the BEGIN and COMMIT round trips (SQLite has none to spare).
    """

    async def gate(
        request: Request,
        db: Annotated[Session, Depends(get_db)],
        now: Annotated[datetime, Depends(get_now)],
    ) -> Gate:
        return Gate(request, db, now, action, property_from, autocommit)

    setattr(gate, ACTION_MARK, action)
    setattr(gate, RESOLVER_MARK, property_from is not None)
    return Depends(gate)


def checked_standing(
    request: Request, principal: Principal, property_id: str | None = None
) -> Standing | None:
    """The standing `requires` just checked for this caller at this property (at whichever
    property it checked, without one), if it did.

    Views that need the caller's roles pass it on rather than have them read again.
    """
    standing: Standing | None = getattr(request.state, STANDING_STATE, None)
    if standing is None or property_id not in (None, standing.property_id):
        return None
    if standing.person_id != principal.person_id:
        return None
    return standing


def public_route(reason: str) -> Any:
    """A marker dependency for routes anyone may call; the reason says why that is safe."""

    async def public() -> None:  # async: it does nothing, so no worker-thread hop
        return None

    setattr(public, PUBLIC_MARK, reason)
    return Depends(public)


@dataclass(frozen=True)
class RouteInfo:
    """One route as the app serves it: full path, methods, and its marker (if an API route)."""

    path: str
    methods: frozenset[str]
    policy: Action | str | None
    is_api_route: bool
    resolves_property: bool = False
    in_schema: bool = True  # False for the front ends' pages, which the OpenAPI leaves out


def app_routes(app: FastAPI) -> list[RouteInfo]:
    """Every route of the app with its effective path, including routes of included routers."""
    found = []
    for context in _route_contexts(app):
        route = getattr(context, "original_route", context)
        path = str(getattr(context, "path", None) or getattr(route, "path", route))
        methods = frozenset(getattr(context, "methods", None) or ())
        if isinstance(route, APIRoute):
            dependant = getattr(context, "dependant", route.dependant)
            check = _find_marked(dependant)
            policy = _mark_of(check) if check is not None else None
            resolves = bool(getattr(check, RESOLVER_MARK, False))
            found.append(RouteInfo(path, methods, policy, True, resolves, route.include_in_schema))
        else:
            # Static files are public by nature: a mount of them is marked as such.
            served = getattr(route, "app", None)
            policy = STATIC_FILES if isinstance(served, StaticFiles) else None
            found.append(
                RouteInfo(path, frozenset({"GET", "HEAD"}) if policy else methods, policy, False)
            )
    return found


def _route_contexts(app: FastAPI) -> list[Any]:
    try:  # FastAPI ≥ 0.16x keeps included routers lazily; this yields their routes.
        from fastapi.routing import iter_route_contexts
    except ImportError:  # pragma: no cover - older FastAPI flattens routes on include
        return list(app.routes)
    return list(iter_route_contexts(app.routes))


def _mark_of(call: Callable[..., Any]) -> Action | str | None:
    mark = getattr(call, ACTION_MARK, None) or getattr(call, PUBLIC_MARK, None)
    return mark if isinstance(mark, str) else None


def _find_marked(dependant: Dependant) -> Callable[..., Any] | None:
    """The first marked dependency in the route's dependency tree, depth first."""
    for sub in dependant.dependencies:
        if sub.call is not None and _mark_of(sub.call) is not None:
            return sub.call
        nested = _find_marked(sub)
        if nested is not None:
            return nested
    return None


def unmarked_routes(app: FastAPI) -> list[str]:
    """Routes without a marker, and property routes whose path names no property."""
    built_in = {app.openapi_url, app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url}
    problems = []
    for route in app_routes(app):
        where = f"{','.join(sorted(route.methods))} {route.path}"
        if not route.is_api_route:
            if route.path not in built_in and route.policy is None:
                problems.append(f"{where}: not an API route and not a built-in")
        elif route.policy is None:
            problems.append(f"{where}: no requires(...) or public_route(...)")
        elif (
            isinstance(route.policy, Action)
            and not POLICIES[route.policy].account_only
            and "{" + PROPERTY_PARAM + "}" not in route.path
            and not route.resolves_property
        ):
            problems.append(f"{where}: {route.policy} needs {{{PROPERTY_PARAM}}} or property_from")
    return problems
