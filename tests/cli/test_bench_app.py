"""`keyturn bench app` is listed, and without the lock's near-field service it fails saying
so (never a silent skip and never a figure of nothing)."""

from __future__ import annotations

import runpy
import sys

import pytest

from keyturn.cli.bench import available, benchmarks_dir
from keyturn.errors import UserError


def test_bench_app_is_listed() -> None:
    assert "Chromium" in available()["app"]


def test_bench_app_fails_clearly_without_the_near_field_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = runpy.run_path(str(benchmarks_dir() / "app.py"), run_name="keyturn_bench")
    monkeypatch.setitem(sys.modules, "keyturn.lock.near_field", None)  # an import that fails
    with pytest.raises(UserError, match="near-field service"):
        module["main"]()
