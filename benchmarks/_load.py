"""A small HTTP load generator for the api benchmark: one keep-alive connection, one request
after another, for a fixed window that every client process starts at the same moment.

It imports nothing of Keyturn, so each client process starts fast and costs the machine
little next to the server it measures.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time

TOKEN_ENV = "KEYTURN_BENCH_TOKEN"


def drive(port: int, path: str, token: str, start_at: float, seconds: float) -> dict[str, float]:
    """POST `path` with the bearer token until the window ends; requests done and time taken."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Length": "0"}
    # Open the connection before the window, so connecting is not counted.
    conn.connect()
    while time.time() < start_at:
        time.sleep(0.001)
    started = time.perf_counter()
    deadline = started + seconds
    done = 0
    while time.perf_counter() < deadline:
        conn.request("POST", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise SystemExit(f"HTTP {response.status} from {path}: {body[:200]!r}")
        done += 1
    elapsed = time.perf_counter() - started
    conn.close()
    return {"requests": done, "seconds": elapsed}


if __name__ == "__main__":
    # The token comes by environment, not argv, so it does not show in the process list.
    port, path, start_at, seconds = sys.argv[1:5]
    result = drive(int(port), path, os.environ[TOKEN_ENV], float(start_at), float(seconds))
    print(json.dumps(result), flush=True)
