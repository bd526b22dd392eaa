"""tasks.py's Chromium step: what it would run, without running it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _tasks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tasks", ROOT / "tasks.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_nothing_is_installed_when_chromium_is_there(tmp_path: Path) -> None:
    present = tmp_path / "chromium"
    present.touch()
    assert _tasks().chromium_install_steps(present, is_root=True) == []


def test_root_installs_debian_chromium_and_updates_the_lists_only_to_retry(tmp_path: Path) -> None:
    steps = _tasks().chromium_install_steps(tmp_path / "missing", is_root=True)
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    assert steps == [install, ["apt-get", "update", "-q"], install]


def test_another_user_goes_through_sudo_without_a_prompt(tmp_path: Path) -> None:
    steps = _tasks().chromium_install_steps(tmp_path / "missing", is_root=False)
    assert all(step[:2] == ["sudo", "-n"] for step in steps)
    assert not any("playwright" in part for step in steps for part in step)


def test_apt_runs_without_questions() -> None:
    assert _tasks().APT_ENV == {"DEBIAN_FRONTEND": "noninteractive"}
