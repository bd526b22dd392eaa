"""How commands read an instant: with its offset, as written, or not at all (one clear line)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keyturn.cli.arguments import instant
from keyturn.errors import UserError

OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
MOMENTS = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31), timezones=OFFSETS
)


@given(MOMENTS)
def test_an_instant_with_an_offset_reads_back_as_itself(moment: datetime) -> None:
    read = instant(moment.isoformat())

    assert read == moment
    assert read.utcoffset() == moment.utcoffset()


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2999, 12, 31)))
def test_an_instant_without_an_offset_is_refused(moment: datetime) -> None:
    with pytest.raises(UserError, match="no time zone"):
        instant(moment.isoformat())


@given(st.text(max_size=40))
def test_any_text_is_an_aware_instant_or_one_clear_refusal(text: str) -> None:
    read: datetime | str
    try:
        read = instant(text, "--since")
    except UserError as refusal:
        read = str(refusal)
    if isinstance(read, str):
        assert read.startswith("--since: ")
        assert "\n" not in read.replace(repr(text), "")
    else:
        assert read.tzinfo is not None


def test_z_means_utc() -> None:
    assert instant("2027-03-01T00:00:00Z") == datetime(2027, 3, 1, tzinfo=UTC)
