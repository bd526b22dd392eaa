"""The browser tests' harness: a real `keyturn serve` with a real SMTP server behind it, a
building seeded through the project's services, reference locks that reach the server over
HTTP, and Debian's Chromium driven by Playwright.

`check_page` holds every page to the same bar: no critical or serious axe violation, no
request to another origin, no raw id in the text a person reads. `shoot` keeps a full-page
screenshot under .keyturn/e2e-screens/<test>/ (the session prints the folder once).
"""

from __future__ import annotations

import os
import re
import shutil
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Dialog,
    Page,
    Playwright,
    Request,
    expect,
    sync_playwright,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session

import live_server
from factories import (
    PASSWORD,
    consent_in_app,
    give_doorcode,
    give_key,
    make_door,
    make_key,
    make_member,
    make_property,
    make_unit,
)
from keyturn.cloud.auth.deps import CSRF_COOKIE
from keyturn.cloud.db import utcnow
from keyturn.cloud.devices.service import create_provisioning_token
from keyturn.cloud.models import Key
from keyturn.cloud.people.managers import service as managers_service
from keyturn.cloud.people.managers.service import KeyLevel, Powers
from keyturn.cloud.sessions import session_factory
from keyturn.lock.agent import DownlinkResult, Lock
from keyturn.lock.clock import HardwareClock
from keyturn.lock.provision import provision_with_cloud
from keyturn.lock.sync import HttpTransport, sync_once
from keyturn.rules.consent import consent_required_in
from keyturn.rules.types import DoorKind, Role
from portal_pages import UUID
from smtp_server import Mailbox, smtp_server

CHROMIUM = Path("/usr/bin/chromium")
SCREENS = Path(__file__).resolve().parents[2] / ".keyturn" / "e2e-screens"
MAIL_TIMEOUT_S = 15.0
SEVERE = frozenset({"critical", "serious"})
WAIT_MS = 15_000  # for the page and its assertions: the machine may be busy
_axe = Axe()
expect.set_options(timeout=WAIT_MS)


# The building -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Login:
    name: str
    email: str
    password: str = PASSWORD


@dataclass
class PortalWorld:
    """12 Elm St (New York's time zone): units 4B and 5C, an entrance, a gym and 4B's door; a unit
    key for 4B (entrance and 4B's door, with doorcodes) and a gym key; a resident of 5C with a
    code; a property manager with every power, one with limited keys, a security viewer."""

    property_id: str
    property_name: str
    unit_id: str
    door_names: dict[str, str]  # door id -> name
    unit_key_id: str
    gym_key_id: str
    manager: Login
    limited_manager: Login
    security_viewer: Login
    owner: Login  # the portfolio manager: every section
    neighbour_id: str
    neighbour_code: str  # Sam's code at the gym

    def door_id(self, name: str) -> str:
        return next(door for door, known in self.door_names.items() if known == name)


def make_portal_world(
    session: Session, *, now: datetime, jurisdiction: str = "default"
) -> PortalWorld:
    """The building as of `now` (the live server's clock is the host's), committed. In New
    York's time; by default in the default jurisdiction, with no consent step between an
    invitation and a credential (New York City's, US-NY-NYC, has one: R5)."""
    prop = make_property(session, name="12 Elm St", doorcode_length=6, jurisdiction=jurisdiction)
    unit = make_unit(session, property_id=prop.id, label="4B")
    other_unit = make_unit(session, property_id=prop.id, label="5C")
    entrance = make_door(session, property_id=prop.id, name="Main entrance", kind=DoorKind.ENTRANCE)
    gym = make_door(session, property_id=prop.id, name="Gym", kind=DoorKind.COMMON)
    home = make_door(
        session, property_id=prop.id, name="4B door", kind=DoorKind.RESIDENCE, unit_id=unit.id
    )
    make_door(
        session,
        property_id=prop.id,
        name="5C door",
        kind=DoorKind.RESIDENCE,
        unit_id=other_unit.id,
    )
    unit_key = make_key(
        session,
        property_id=prop.id,
        name="Residents 4B",
        door_ids=[entrance.id, home.id],
        may_share=True,
        provides_doorcodes=True,
        unit_id=unit.id,
    )
    gym_key = make_key(session, property_id=prop.id, name="Gym access", door_ids=[gym.id])
    logins = {
        "manager": Login("Morgan Reyes", "morgan@example.test"),
        "limited": Login("Lee Chen", "lee@example.test"),
        "viewer": Login("Vic Osei", "vic@example.test"),
    }
    powers = {
        "manager": Powers(keys=KeyLevel.FULL, device_management=True, security_viewer=True),
        "limited": Powers(keys=KeyLevel.LIMITED),
        "viewer": Powers(security_viewer=True),
    }
    for role, login in logins.items():
        person = make_member(
            session,
            email=login.email,
            name=login.name,
            password=login.password,
            property_id=prop.id,
            role=Role.PROPERTY_MANAGER,
            now=now,
        )
        managers_service.write_powers(
            session=session, property_id=prop.id, person_id=person.id, powers=powers[role], by=None
        )
    owner = Login("Pat Owner", "pat@example.test")
    make_member(
        session,
        email=owner.email,
        name=owner.name,
        password=owner.password,
        property_id=prop.id,
        role=Role.PORTFOLIO_MANAGER,
        now=now,
    )
    neighbour = make_member(
        session,
        email="sam@example.test",
        name="Sam Ortiz",
        property_id=prop.id,
        role=Role.RESIDENT,
        unit_id=other_unit.id,
        now=now,
    )
    give_key(session, key=gym_key, person_id=neighbour.id, starts_at=now - timedelta(days=3))
    if consent_required_in(jurisdiction):
        consent_in_app(session, person_id=neighbour.id, now=now)
    code = give_doorcode(session, person_id=neighbour.id, door_id=gym.id, now=now).code
    session.commit()
    return PortalWorld(
        property_id=prop.id,
        property_name=prop.name,
        unit_id=unit.id,
        door_names={door.id: door.name for door in (entrance, gym, home)},
        unit_key_id=unit_key.id,
        gym_key_id=gym_key.id,
        manager=logins["manager"],
        limited_manager=logins["limited"],
        security_viewer=logins["viewer"],
        owner=owner,
        neighbour_id=neighbour.id,
        neighbour_code=code,
    )


def add_resident(
    session: Session,
    world: PortalWorld,
    login: Login,
    *,
    key_id: str,
    now: datetime,
    resident: bool = False,
) -> str:
    """`login` as a resident of 4B who can sign in, holding the key since a day ago (with
    resident status at its doors if `resident`); committed. Their person id."""
    person = make_member(
        session,
        email=login.email,
        name=login.name,
        password=login.password,
        property_id=world.property_id,
        role=Role.RESIDENT,
        unit_id=world.unit_id,
        now=now,
    )
    give_key(
        session,
        key=session.get_one(Key, key_id),
        person_id=person.id,
        starts_at=now - timedelta(days=1),
        resident=resident,
    )
    session.commit()
    return person.id


# The running site: server, mail, locks ---------------------------------------------------------


@dataclass
class PortalSite:
    """The live server on this test's database, its SMTP server's mailbox, and its locks."""

    server: live_server.LiveServer
    world: PortalWorld
    mailbox: Mailbox
    engine: Engine
    folder: Path
    locks: dict[str, Lock] = field(default_factory=dict)  # door name -> lock

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def overview(self) -> str:
        return f"/portal/properties/{self.world.property_id}"

    def install_lock(self, door_name: str, clock: HardwareClock | None = None) -> Lock:
        """A reference lock at the door, provisioned over HTTP as an installer does; on the
        host's clock, or on `clock` (a ManualClock that a near-field test hook moves)."""
        with session_factory(self.engine)() as session, session.begin():
            token = create_provisioning_token(
                session=session,
                door_id=self.world.door_id(door_name),
                model_name="keyturn-r1",
                now=utcnow(),
            )
        folder = self.folder / "locks" / door_name.replace(" ", "-")
        provision_with_cloud(folder, self.url, token)
        lock = self.locks[door_name] = Lock.open(folder, hardware_clock=clock)
        return lock

    def sync(self, door_name: str) -> DownlinkResult:
        """One sync of the door's lock with the server, over HTTP."""
        transport = HttpTransport(self.url, timeout_s=10.0)
        try:
            return sync_once(self.locks[door_name], transport)
        finally:
            transport.close()

    def sync_all(self, door_name: str) -> None:
        """Sync the door's lock until its whole journal is in the cloud."""
        lock = self.locks[door_name]
        transport = HttpTransport(self.url, timeout_s=10.0)
        try:
            for _ in range(10):
                if lock.journal.last_seq <= sync_once(lock, transport).journal_floor:
                    return
        finally:
            transport.close()
        raise AssertionError(f"the journal of the lock at {door_name} did not drain")

    def mail_to(
        self, address: str, *, after: int = 0, containing: re.Pattern[str] | None = None
    ) -> EmailMessage:
        """The first message to `address` (whose text matches `containing`, if given) among
        those that arrived after the first `after`; waits for it (queued mail is sent every
        fraction of a second)."""

        def arrived() -> EmailMessage | None:
            for message in self.mailbox.messages[after:]:
                to = str(message["To"])
                if to != address and not to.endswith(f"<{address}>"):
                    continue
                if containing is None or containing.search(text_of(message)):
                    return message
            return None

        found = live_server.wait_for(arrived, timeout_s=MAIL_TIMEOUT_S, what=f"mail to {address}")
        assert isinstance(found, EmailMessage)
        return found

    def close(self) -> None:
        for lock in self.locks.values():
            lock.close()


def text_of(message: EmailMessage) -> str:
    """The plain-text body a person reads."""
    body = message.get_body(preferencelist=("plain",))
    assert body is not None, message
    return str(body.get_content())


def mail_settings(port: int) -> dict[str, str]:
    """A server's settings to send its mail, at once, to the test SMTP server on `port`."""
    return {
        "KEYTURN_MAIL_TRANSPORT": "smtp",
        "KEYTURN_MAIL_FROM": "Keyturn <noreply@keyturn.test>",
        "KEYTURN_SMTP_HOST": "127.0.0.1",
        "KEYTURN_SMTP_PORT": str(port),
        "KEYTURN_SMTP_TLS": "none",
        "KEYTURN_OUTBOUND_INTERVAL_S": "0.2",
    }


@pytest.fixture
def portal_site(db_url: str, engine: Engine, tmp_path: Path) -> Iterator[PortalSite]:
    """The building in this test's database (SQLite, then PostgreSQL), served by a real
    `keyturn serve` that sends its mail to a real SMTP server; both always stopped."""
    with session_factory(engine)() as session:
        world = make_portal_world(session, now=utcnow())
    mailbox = Mailbox()
    with (
        smtp_server(mailbox) as smtp_port,
        live_server.serving(db_url, tmp_path / "server", mail_settings(smtp_port)) as server,
    ):
        site = PortalSite(server, world, mailbox, engine, tmp_path)
        try:
            yield site
        finally:
            site.close()


# The browser --------------------------------------------------------------------------------------


@dataclass
class Watch:
    """What one page did: every request it made, its console errors, where its shots go."""

    origin: str
    screens: Path
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def foreign_requests(self) -> list[str]:
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob", "about") and _origin(url) != self.origin
        ]


_watches: weakref.WeakKeyDictionary[Page, Watch] = weakref.WeakKeyDictionary()
shots_taken: list[Path] = []


def _file_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's Chromium (installed by `python3 tasks.py test`), headless, for the session."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: `python3 tasks.py test` installs it with apt-get"
        if os.environ.get("CI") == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        browser = _launch(playwright)
        yield browser
        browser.close()


def _launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)


@contextmanager
def open_page(
    browser: Browser, site: PortalSite, test_name: str, **context_options: object
) -> Iterator[Page]:
    """A page in a fresh browser context (its own cookies) on the site, watched; closed after."""
    context = browser.new_context(base_url=site.url, **context_options)  # type: ignore[arg-type]
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        watch = Watch(site.url, SCREENS / _file_name(test_name))
        page.on("request", watch.on_request)
        page.on("console", watch.on_console)
        page.on("pageerror", lambda error: watch.console_errors.append(str(error)))
        _watches[page] = watch
        yield page
    finally:
        context.close()


@pytest.fixture
def page(
    chromium: Browser, portal_site: PortalSite, request: pytest.FixtureRequest
) -> Iterator[Page]:
    with open_page(chromium, portal_site, request.node.name) as opened:
        yield opened


def watch_of(page: Page) -> Watch:
    return _watches[page]


def shoot(page: Page, name: str) -> Path:
    """A full-page screenshot under the test's folder of .keyturn/e2e-screens."""
    watch = _watches[page]
    if not any(shot.parent == watch.screens for shot in shots_taken):
        shutil.rmtree(watch.screens, ignore_errors=True)
    number = sum(shot.parent == watch.screens for shot in shots_taken) + 1
    path = watch.screens / f"{number:02d}-{_file_name(name)}.png"
    page.screenshot(path=str(path), full_page=True)
    shots_taken.append(path)
    return path


def check_page(page: Page, *, locks: Iterable[str] = ()) -> None:
    """The bar every page meets: no critical or serious axe violation, nothing fetched from
    another origin, no raw id in the text a person reads. `locks`: the near-field services
    (their URLs) this page's browser has talked to as a phone does, the only other origins
    allowed (the app's doors page; its policy lets it reach loopback)."""
    results = _axe.run(page)
    severe = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"at {[node['target'] for node in violation['nodes']][:3]}"
        for violation in results.response["violations"]
        if violation.get("impact") in SEVERE
    ]
    assert severe == [], f"{page.url}: accessibility\n" + "\n".join(severe)
    allowed = {_origin(url) for url in locks}
    foreign = [url for url in watch_of(page).foreign_requests() if _origin(url) not in allowed]
    assert foreign == [], f"{page.url}: requests to another origin: {foreign}"
    text = page.inner_text("body")
    assert UUID.findall(text) == [], f"{page.url}: raw ids on screen: {UUID.findall(text)}"


def sign_in(page: Page, login: Login) -> None:
    """Through the form, as a person does."""
    page.goto("/portal/sign-in")
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/portal/(?!sign-in)"))


def sign_in_to_app(page: Page, login: Login, *, checked: bool = False) -> None:
    """Through the sign-in form, to the app's first page, as a resident or guest does; with
    `checked`, both pages are held to check_page."""
    page.goto("/portal/sign-in?next=/app/")
    if checked:
        check_page(page)
    page.get_by_label("Email").fill(login.email)
    page.get_by_label("Password").fill(login.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/app/$"))
    if checked:
        check_page(page)


def confirm_dialogs(page: Page) -> list[str]:
    """Accept every confirm() the page asks (the portal and the app ask before destructive
    forms); the list collects their questions."""
    asked: list[str] = []

    def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    return asked


def csrf_cookie(page: Page) -> str:
    """The CSRF cookie's value, which a page's forms carry as csrf_token."""
    return next(c["value"] for c in page.context.cookies() if c["name"] == CSRF_COOKIE)


def walk(
    page: Page,
    starts: list[str],
    *,
    within: str,
    not_pages: tuple[str, ...],
    limit: int,
    shot_name: Callable[[str], str],
) -> dict[str, int]:
    """Every page under `within` three links deep from `starts`, as a person clicking through
    would reach it: each answers 200 and meets check_page, with a screenshot named by
    `shot_name(path)`; links holding any of `not_pages` (files, sign-out) are not followed.
    The paths walked, with their statuses."""
    seen: dict[str, int] = {}
    queue = [(start, 0) for start in starts]
    while queue and len(seen) < limit:
        href, depth = queue.pop(0)
        path = href.split("?")[0]
        if path in seen:
            continue
        response = page.goto(href)
        assert response is not None
        seen[path] = response.status
        assert response.status == 200, f"{href} answered {response.status}"
        check_page(page)
        shoot(page, shot_name(path))
        if depth < 3:
            hrefs = page.eval_on_selector_all(
                "a[href]", "links => links.map(a => a.getAttribute('href'))"
            )
            queue.extend(
                (href.split("#")[0], depth + 1)
                for href in hrefs
                if isinstance(href, str)
                and href.startswith(within)
                and not any(part in href for part in not_pages)
            )
    return seen


# Controlled by the app's service worker, with this page's copy in its cache. An async
# function: page.evaluate awaits its promise, where wait_for_function takes the promise
# itself as a truthy answer and returns at once.
OFFLINE_READY = """async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener(
            "controllerchange", r, {once: true}));
    }
    return (await caches.match(location.pathname)) !== undefined;
}"""


def keep_for_offline(page: Page) -> None:
    """Wait until the app's service worker controls the page and keeps its copy; a page that
    came before the worker took over is loaded once more, now through it."""
    if not page.evaluate(OFFLINE_READY):
        page.reload()
    assert page.evaluate(OFFLINE_READY), "the service worker does not keep this page"
