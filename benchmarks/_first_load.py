"""The app's first load from its service worker's cache with the cloud stopped, measured on
`keyturn demo` as a resident meets it: sign in, open the doors page (the worker keeps it),
take the cloud offline the documented way (SIGUSR1), reload. No target: the figure says how
long the page takes to come back, and that it does."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

STARTUP_S = 180.0
WAIT_MS = 30_000
# The page is controlled by the app's service worker and its copy is in the worker's cache
# (an async function: page.evaluate awaits it, wait_for_function would not).
OFFLINE_READY = """async () => {
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
        await new Promise((r) => navigator.serviceWorker.addEventListener(
            "controllerchange", r, {once: true}));
    }
    return (await caches.match(location.pathname)) !== undefined;
}"""


def _wait(condition: Any, what: str, timeout_s: float) -> Any:
    """Poll `condition` until it answers something true, at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _cloud_answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def first_load_from_cache(playwright: Any, chromium: str) -> dict[str, Any]:
    """Seconds from reload to the doors page's load event, served by the worker offline."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        out = folder / "demo.out"
        env = {**os.environ, "KEYTURN_DATA_DIR": str(folder / "data"), "COLUMNS": "200"}
        with out.open("w") as log:
            demo = subprocess.Popen(
                [sys.executable, "-m", "keyturn", "demo", "--port", "0", "--rate", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        try:
            text = _wait(
                lambda: "kill -USR1" in (t := out.read_text()) and t, "the demo to start", STARTUP_S
            )
            doors_url = re.search(r"Doors\s+(\S+/phone)", text)
            assert doors_url is not None, text
            base = doors_url.group(1).split("/app/")[0]
            logins = json.loads((folder / "data" / "demo-logins.json").read_text())
            resident = next(login for login in logins if login["role"] == "resident")
            browser = playwright.chromium.launch(executable_path=chromium, headless=True)
            page = browser.new_page(base_url=base)
            page.set_default_timeout(WAIT_MS)
            page.goto("/portal/sign-in?next=/app/")
            page.get_by_label("Email").fill(resident["email"])
            page.get_by_label("Password").fill(resident["password"])
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(re.compile(r"/app/$"))
            page.goto(doors_url.group(1))
            if not page.evaluate(OFFLINE_READY):
                page.reload()  # the worker took over after this page came: now it keeps it
            assert page.evaluate(OFFLINE_READY), "the worker does not keep the doors page"
            demo.send_signal(signal.SIGUSR1)  # the cloud stops listening; the locks go on
            _wait(lambda: not _cloud_answers(base), "the cloud to stop", 30.0)
            started = time.perf_counter()
            page.reload(wait_until="load")
            elapsed = time.perf_counter() - started
            page.get_by_role("heading", name="Your doors").wait_for()
            served = page.evaluate(
                "() => performance.getEntriesByType('navigation')[0].duration / 1000"
            )
            browser.close()
            return {"reload_s": elapsed, "navigation_s": served}
        finally:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(60)
            except subprocess.TimeoutExpired:
                demo.kill()
