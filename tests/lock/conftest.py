from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lock.harness import Harness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    built = Harness(tmp_path / "lock")
    yield built
    built.close()
