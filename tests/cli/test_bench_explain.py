"""`keyturn bench explain` at a toy size: it runs end to end and prints one valid JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REQUIRED = {"bench", "value", "unit", "baseline", "ratio", "target", "ok"}


def test_bench_explain_prints_its_json_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYTURN_")}
    env.update({"KEYTURN_BENCH_BACKENDS": "sqlite", "KEYTURN_BENCH_EXPLAIN_PEOPLE": "20"})
    result = subprocess.run(
        [sys.executable, "-m", "keyturn", "bench", "explain"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    (line,) = [json.loads(text) for text in result.stdout.splitlines() if text.strip()]
    assert set(line) == REQUIRED
    assert line["bench"] == "explain.one_person_sqlite_20_people"
    assert line["value"] > 0
    assert line["baseline"] > 0
    assert line["ratio"] == pytest.approx(line["value"] / line["baseline"], rel=1e-2)
    assert line["target"] == 2.0
    assert line["ok"] is (line["ratio"] <= line["target"])
