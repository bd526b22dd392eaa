"""Where PMS residents come from: a one-method seam (`Connector.residents`) and the file
connector that reads a CSV or JSON export.

A file is read whole or refused whole: one bad row refuses the run (the error names the line
and field), because a skipped row would look like a resident who left and move them out.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Protocol

from keyturn.cloud.errors import Refusal
from keyturn.cloud.mail.addresses import check_address
from keyturn.errors import UserError

REQUIRED_FIELDS = ("name", "email", "unit", "lease_start")
OPTIONAL_FIELDS = ("external_id", "lease_end")
FIELDS = ("external_id", "name", "email", "unit", "lease_start", "lease_end")
MAX_TEXT = 200
MAX_ROWS = 20000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

LeaseMoment = date | datetime


class PmsFileRefused(Refusal):
    """A PMS file that cannot be read whole; the detail names the line and field."""

    status = 422
    kind = "pms-file-refused"
    title = "The PMS file was refused"


@dataclass(frozen=True, slots=True)
class PmsResident:
    """One resident as the PMS lists them: a lease of a unit (by its label) from a start to an
    optional end. A bare date is a local calendar day at the property; a datetime is aware."""

    name: str
    email: str
    unit: str
    lease_start: LeaseMoment
    lease_end: LeaseMoment | None = None
    external_id: str | None = None

    @property
    def key(self) -> str:
        """What the PMS knows this lease by: its own id, else the resident's email."""
        return f"id:{self.external_id}" if self.external_id else f"email:{self.email}"


class Connector(Protocol):
    """Reads the residents a PMS lists now; raises a UserError when it cannot."""

    def residents(self) -> Sequence[PmsResident]: ...


@dataclass(frozen=True)
class FileConnector:
    """A PMS export on disk: `.csv` (a header row naming the fields) or `.json` (a list of
    objects); other extensions are refused."""

    path: Path

    def residents(self) -> Sequence[PmsResident]:
        suffix = self.path.suffix.lower()
        if suffix not in (".csv", ".json"):
            raise PmsFileRefused(f"{self.path.name}: the file must end in .csv or .json")
        try:
            text = self.path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise PmsFileRefused(f"{self.path.name}: cannot read the file: {reason}") from None
        parse = parse_csv if suffix == ".csv" else parse_json
        return parse(text, source=self.path.name)


def parse_csv(text: str, *, source: str = "file") -> list[PmsResident]:
    """Residents of a CSV export whose first line names the columns (any order)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip().lower() for cell in next(reader, [])]
        _check_columns(header, source)
        rows: list[tuple[int, dict[str, Any]]] = []
        for cells in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise PmsFileRefused(
                    f"{source} line {line}: expected {len(header)} columns, found {len(cells)}"
                )
            rows.append((line, dict(zip(header, cells, strict=True))))
    except csv.Error as exc:
        raise PmsFileRefused(f"{source} line {reader.line_num}: {exc}") from None
    return _residents(rows, source, "line")


def parse_json(text: str, *, source: str = "file") -> list[PmsResident]:
    """Residents of a JSON export: a list of objects with the fields as keys."""
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        detail = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise PmsFileRefused(f"{source}: not JSON: {detail}") from None
    if not isinstance(document, list):
        raise PmsFileRefused(f"{source}: the file must hold a list of objects")
    rows: list[tuple[int, dict[str, Any]]] = []
    for number, item in enumerate(document, start=1):
        if not isinstance(item, dict):
            raise PmsFileRefused(f"{source} item {number}: not an object")
        _check_columns(list(item), source, where=f" item {number}", need_all=False)
        rows.append((number, item))
    return _residents(rows, source, "item")


def dump_csv(residents: Iterable[PmsResident]) -> str:
    """The CSV export `parse_csv` reads back as the same residents."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for resident in residents:
        writer.writerow(["" if value is None else value for value in _values(resident)])
    return out.getvalue()


def dump_json(residents: Iterable[PmsResident]) -> str:
    """The JSON export `parse_json` reads back as the same residents."""
    return json.dumps(
        [dict(zip(FIELDS, _values(resident), strict=True)) for resident in residents], indent=1
    )


def write_file(path: Path, residents: Iterable[PmsResident]) -> None:
    """Write residents as the file connector reads them, CSV or JSON by the path's extension."""
    dump = dump_json if path.suffix.lower() == ".json" else dump_csv
    path.write_text(dump(residents), encoding="utf-8")


def _values(resident: PmsResident) -> tuple[str | None, ...]:
    return (
        resident.external_id,
        resident.name,
        resident.email,
        resident.unit,
        resident.lease_start.isoformat(),
        resident.lease_end.isoformat() if resident.lease_end is not None else None,
    )


def _check_columns(
    names: Sequence[str], source: str, *, where: str = " line 1", need_all: bool = True
) -> None:
    unknown = [name for name in names if name not in FIELDS]
    if unknown:
        raise PmsFileRefused(
            f"{source}{where}: unknown field {unknown[0]!r}; the fields are {', '.join(FIELDS)}"
        )
    if len(set(names)) != len(names):
        raise PmsFileRefused(f"{source}{where}: a field is named twice")
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    if need_all and missing:
        raise PmsFileRefused(f"{source}{where}: the header must name {', '.join(REQUIRED_FIELDS)}")


def _residents(
    rows: Sequence[tuple[int, Mapping[str, Any]]], source: str, unit_of_place: str
) -> list[PmsResident]:
    if len(rows) > MAX_ROWS:
        raise PmsFileRefused(f"{source}: at most {MAX_ROWS} residents per file")
    residents: list[PmsResident] = []
    seen: dict[str, int] = {}
    homes: dict[tuple[str, str], int] = {}
    for number, row in rows:
        where = f"{source} {unit_of_place} {number}"
        resident = _resident(row, where)
        first = seen.setdefault(resident.key, number)
        if first != number:
            raise PmsFileRefused(
                f"{where}: the same resident as {unit_of_place} {first} "
                f"({'external_id' if resident.external_id else 'email'} repeated)"
            )
        first = homes.setdefault((resident.email, resident.unit), number)
        if first != number:
            raise PmsFileRefused(
                f"{where}: {resident.email} already has a lease of unit {resident.unit} "
                f"at {unit_of_place} {first}"
            )
        residents.append(resident)
    return residents


def _resident(row: Mapping[str, Any], where: str) -> PmsResident:
    for name in REQUIRED_FIELDS:
        if row.get(name) in (None, ""):
            raise PmsFileRefused(f"{where}, field {name}: missing")
    name = _text(row, "name", where)
    try:
        email = check_address(_text(row, "email", where))
    except UserError as exc:
        raise PmsFileRefused(f"{where}, field email: {exc}") from None
    start = _moment(row, "lease_start", where)
    assert start is not None
    end = _moment(row, "lease_end", where)
    if end is not None and (type(end) is not type(start) or end <= start):
        raise PmsFileRefused(
            f"{where}, field lease_end: must be after lease_start and written the same way "
            "(both dates or both date-times)"
        )
    external_id = _text(row, "external_id", where, optional=True) or None
    return PmsResident(name, email, _text(row, "unit", where), start, end, external_id)


def _text(row: Mapping[str, Any], field: str, where: str, *, optional: bool = False) -> str:
    value = row.get(field)
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise PmsFileRefused(f"{where}, field {field}: must be text")
    value = value.strip()
    if not value and not optional:
        raise PmsFileRefused(f"{where}, field {field}: missing")
    if len(value) > MAX_TEXT:
        raise PmsFileRefused(f"{where}, field {field}: longer than {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise PmsFileRefused(f"{where}, field {field}: contains a control character")
    return value


def _moment(row: Mapping[str, Any], field: str, where: str) -> LeaseMoment | None:
    text = _text(row, field, where, optional=True)
    if not text:
        return None
    try:
        if len(text) == len("YYYY-MM-DD"):
            return date.fromisoformat(text)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise PmsFileRefused(
            f"{where}, field {field}: {text!r} is not a date (2026-03-01) "
            "or a date-time with its offset (2026-03-01T12:00:00+00:00)"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise PmsFileRefused(f"{where}, field {field}: a date-time needs its UTC offset")
    return moment
