"""`keyturn bench api` at toy sizes: it runs end to end and prints one valid JSON line per figure.

Only SQLite, a couple of frames, a few thousand events and half-second load windows, so the
whole run (a building, locks, a uvicorn server and its load clients) stays quick.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REQUIRED = {"bench", "value", "unit", "baseline", "ratio", "target", "ok"}
TINY = {
    "KEYTURN_BENCH_BACKENDS": "sqlite",
    "KEYTURN_BENCH_EVENTS": "20000",
    "KEYTURN_BENCH_SYNC_EVENTS": "900",
    "KEYTURN_BENCH_QUERIES": "5",
    "KEYTURN_BENCH_LOAD_S": "0.5",
    "KEYTURN_BENCH_ROUNDS": "1",
}


def test_bench_api_prints_a_json_line_per_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update(TINY)
    result = subprocess.run(
        [sys.executable, "-m", "keyturn", "bench", "api"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [line["bench"] for line in lines] == [
        "api.ingest_via_sync_endpoint_sqlite_900_events",
        "api.events_first_page_manager_sqlite_20000_events",
        "api.events_first_page_resident_sqlite_20000_events",
        "api.mobile_keys_rate_uvicorn_sqlite",
        "api.mobile_keys_rate_uvicorn_sqlite_vs_async_bare",
    ]
    for line in lines:
        assert set(line) == REQUIRED, line
        assert line["value"] > 0
        assert line["baseline"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=1e-2)
        assert line["target"] == 2.0
        assert line["ok"] is (line["ratio"] <= line["target"])
