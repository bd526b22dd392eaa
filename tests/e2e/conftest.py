"""The browser tests' fixtures come from tests/e2e/browser.py; the folder of their
screenshots is printed once at the end of the session."""

from __future__ import annotations

import pytest
from browser import chromium, page, portal_site, shots_taken

__all__ = ["chromium", "page", "portal_site"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if shots_taken:
        folder = shots_taken[0].parent.parent
        terminalreporter.write_line(f"browser screenshots ({len(shots_taken)}): {folder}")
