"""`keyturn bench portal` at toy sizes: it runs end to end and prints one JSON line per figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REQUIRED = {"bench", "value", "unit", "baseline", "ratio", "target", "ok"}
TINY = {
    "KEYTURN_BENCH_BACKENDS": "sqlite",
    "KEYTURN_BENCH_EVENTS": "5000",
    "KEYTURN_BENCH_QUERIES": "3",
    "KEYTURN_BENCH_ROUNDS": "1",
    "KEYTURN_BENCH_OVERVIEW_DOORS": "50",
}


def test_bench_portal_prints_a_json_line_per_figure() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update(TINY)
    result = subprocess.run(
        [sys.executable, "-m", "keyturn", "bench", "portal"],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [line["bench"] for line in lines] == [
        "portal.history_page_manager_sqlite_5000_events",
        "portal.history_page_manager_sqlite_5000_events_vs_cookie_api",
        "portal.history_page_resident_sqlite_5000_events",
        "portal.history_page_resident_sqlite_5000_events_vs_cookie_api",
        "portal.overview_50_doors_sqlite_5000_events",
    ]
    for line in lines:
        assert set(line) == REQUIRED, line
        assert line["value"] > 0
        assert line["baseline"] > 0
        assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=1e-2)
        assert line["target"] == 1.5
