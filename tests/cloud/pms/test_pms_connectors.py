"""The PMS file connector: CSV and JSON exports read back exactly as written, and anything
else is refused whole with the line and field named, never with another exception."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keyturn.cloud.people.pms.connectors import (
    FileConnector,
    PmsFileRefused,
    PmsResident,
    dump_csv,
    dump_json,
    parse_csv,
    parse_json,
    write_file,
)

_text = (
    st.text(
        st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)
_emails = st.builds(
    "{}@{}.example".format,
    st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,15}", fullmatch=True).filter(
        lambda local: ".." not in local and not local.endswith(".")
    ),
    st.from_regex(r"[a-z][a-z0-9]{0,10}", fullmatch=True),
)
_offsets = st.integers(-12 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
_dates = st.dates(date(2000, 1, 1), date(2100, 1, 1))
_datetimes = st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=_offsets).map(
    lambda moment: moment.replace(microsecond=0)
)


@st.composite
def _resident(draw: st.DrawFn) -> PmsResident:
    as_dates = draw(st.booleans())
    start = draw(_dates if as_dates else _datetimes)
    length = draw(st.none() | st.integers(1, 4000))
    end = None
    if length is not None:
        end = start + (timedelta(days=length) if as_dates else timedelta(hours=length))
    return PmsResident(
        name=draw(_text),
        email=draw(_emails),
        unit=draw(_text),
        lease_start=start,
        lease_end=end,
        external_id=draw(st.none() | _text),
    )


_residents = st.lists(
    _resident(),
    max_size=8,
    unique_by=(lambda resident: resident.key, lambda resident: (resident.email, resident.unit)),
)


@given(_residents)
@settings(max_examples=150, deadline=None)
def test_csv_reads_back_what_was_written(residents: list[PmsResident]) -> None:
    assert parse_csv(dump_csv(residents)) == residents


@given(_residents)
@settings(max_examples=150, deadline=None)
def test_json_reads_back_what_was_written(residents: list[PmsResident]) -> None:
    assert parse_json(dump_json(residents)) == residents


@given(st.text(max_size=400))
@settings(max_examples=300, deadline=None)
def test_garbage_csv_is_refused_with_our_error_only(text: str) -> None:
    with contextlib.suppress(PmsFileRefused):
        parse_csv(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    ["name", "email", "unit", "lease_start", "lease_end", "external_id"]
                )
                | st.text(max_size=5),
                inner,
                max_size=6,
            )
        ),
        max_leaves=12,
    )
)
@settings(max_examples=300, deadline=None)
def test_garbage_json_is_refused_with_our_error_only(document: object) -> None:
    with contextlib.suppress(PmsFileRefused):
        parse_json(json.dumps(document))


@given(st.binary(max_size=200))
@settings(max_examples=100, deadline=None)
def test_garbage_json_text_is_refused_with_our_error_only(raw: bytes) -> None:
    with contextlib.suppress(PmsFileRefused):
        parse_json(raw.decode("utf-8", "replace"))


HEADER = "name,email,unit,lease_start,lease_end\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name,email\n", "line 1: the header must name name, email, unit, lease_start"),
        ("name,email,unit,lease_start,colour\n", "line 1: unknown field 'colour'"),
        (HEADER + "Ann,ann@x.example,A1,2026-13-01,\n", "line 2, field lease_start"),
        (HEADER + "Ann,ann@x.example,A1,2026-03-01T10:00,\n", "needs its UTC offset"),
        (HEADER + "Ann,not-an-email,A1,2026-03-01,\n", "line 2, field email"),
        (HEADER + "Ann,ann@x.example,,2026-03-01,\n", "line 2, field unit: missing"),
        (HEADER + "Ann,ann@x.example,A1,2026-03-01,2026-02-01\n", "line 2, field lease_end"),
        (HEADER + "Ann,ann@x.example,A1\n", "line 2: expected 5 columns, found 3"),
        (
            HEADER + "Ann,ann@x.example,A1,2026-03-01,\nBo,ANN@x.example,A2,2026-03-01,\n",
            "line 3: the same resident as line 2",
        ),
        (
            "external_id,name,email,unit,lease_start\nL1,Ann,a@x.example,A1,2026-03-01\n"
            "L2,Ann,a@x.example,A1,2026-04-01\n",
            "line 3: a@x.example already has a lease of unit A1 at line 2",
        ),
    ],
)
def test_a_bad_csv_row_refuses_the_file_naming_line_and_field(text: str, message: str) -> None:
    with pytest.raises(PmsFileRefused) as refused:
        parse_csv(text, source="export.csv")
    assert message in str(refused.value)
    assert str(refused.value).startswith("export.csv")


def test_json_errors_name_the_item_and_field() -> None:
    with pytest.raises(PmsFileRefused, match=r"item 2, field name: must be text"):
        parse_json(
            '[{"name": "Ann", "email": "a@x.example", "unit": "A1", "lease_start": "2026-03-01"},'
            ' {"name": 7, "email": "b@x.example", "unit": "A1", "lease_start": "2026-03-01"}]'
        )
    with pytest.raises(PmsFileRefused, match="a list of objects"):
        parse_json('{"name": "Ann"}')


def test_file_connector_chooses_the_format_by_extension(tmp_path: Path) -> None:
    residents = [
        PmsResident("Ann Lee", "ann@x.example", "A1", date(2026, 3, 1), None, "L-1"),
        PmsResident(
            "Bo Chen",
            "bo@x.example",
            "B2",
            datetime(2026, 3, 1, 9, tzinfo=UTC),
            datetime(2027, 3, 1, 9, tzinfo=UTC),
        ),
    ]
    for name in ("export.csv", "export.JSON"):
        write_file(tmp_path / name, residents)
        assert list(FileConnector(tmp_path / name).residents()) == residents
    with pytest.raises(PmsFileRefused, match=r"must end in \.csv or \.json"):
        FileConnector(tmp_path / "export.xlsx").residents()
    with pytest.raises(PmsFileRefused, match="cannot read the file"):
        FileConnector(tmp_path / "missing.csv").residents()
