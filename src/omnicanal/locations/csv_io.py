"""Locations CSV, upserted by code. See ``shared.tabular``.

Columns (``code``, ``name``, ``kind``, ``latitude``, ``longitude`` required):

    code,name,kind,address_line1,postcode,city,country,latitude,longitude,timezone,
    capabilities,daily_order_capacity,opening_hours,status,territory

``capabilities``: ``pickup|ship``; ``opening_hours``:
``mon=09:00-19:00;tue=09:00-12:00,14:00-19:00`` (a day left out is closed);
``daily_order_capacity`` empty means no limit. Optional columns left out of the file keep
their defaults (new location) or current values (known code).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.locations import service
from omnicanal.locations.model import Location, format_hours, parse_hours_text
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.shared.tabular import CsvRow, ImportRejected, ImportReport
from omnicanal.storage.uow import UnitOfWork

COLUMNS = [
    "code",
    "name",
    "kind",
    "address_line1",
    "postcode",
    "city",
    "country",
    "latitude",
    "longitude",
    "timezone",
    "capabilities",
    "daily_order_capacity",
    "opening_hours",
    "status",
    "territory",
]
REQUIRED = ["code", "name", "kind", "latitude", "longitude"]
CHUNK = 500


def _number(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{name} {text!r} is not a number such as 48.8566.") from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name} {text!r} is not a finite number.")
    return value


def _capacity(text: str) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidInput(f"daily_order_capacity {text!r} is not a whole number.") from None


CELL_PARSERS: dict[str, Any] = {
    "latitude": lambda v: _number(v, "latitude"),
    "longitude": lambda v: _number(v, "longitude"),
    "capabilities": lambda v: [c.strip() for c in v.split("|") if c.strip()],
    "daily_order_capacity": _capacity,
    "opening_hours": parse_hours_text,
    "territory": lambda v: v or None,
}
DEFAULTED = {"timezone", "country", "status"}
# fields the whole-location validation reports, mapped back to their column
_MODEL_FIELDS = set(COLUMNS)


def _check_header(rows: list[CsvRow]) -> set[str]:
    if not rows:
        return set(COLUMNS)
    present = {k for k in rows[0].values if k != "__extra__"}
    report = ImportReport(kind="locations", rows=len(rows))
    for name in REQUIRED:
        if name not in present:
            report.error(1, name, f"missing required column {name!r}")
    for name in sorted(present - set(COLUMNS)):
        report.error(1, name or "(empty)", f"unknown column {name!r}; known: {', '.join(COLUMNS)}")
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    return present


def _cells(row: CsvRow, present: set[str], report: ImportReport) -> dict[str, Any] | None:
    """The row's values (only the columns present), each cell checked; None if any is bad."""
    ok = True
    if "__extra__" in row.values:
        report.error(row.line, None, "the row has more cells than the header has columns")
        ok = False
    values: dict[str, Any] = {}
    for name in COLUMNS:
        if name not in present:
            continue
        text = row.get(name)
        if not text and name in DEFAULTED:
            continue  # the default (new location) or the current value (known code)
        try:
            values[name] = CELL_PARSERS[name](text) if name in CELL_PARSERS else text
        except InvalidInput as exc:
            report.error(row.line, name, exc.detail)
            ok = False
    return values if ok else None


def _validated(
    line: int, values: dict[str, Any], existing: LocationRow | None, report: ImportReport
) -> Location | None:
    try:
        if existing is not None:
            values = {k: v for k, v in values.items() if k != "code"}
            return service.to_model(existing).with_changes(values)
        return Location.parse(**values)
    except InvalidInput as exc:
        field = exc.field if exc.field in _MODEL_FIELDS else (exc.field or "").split(".")[0]
        report.error(line, field or None, exc.detail)
        return None
    except TypeError as exc:  # pragma: no cover - a required column is always present
        report.error(line, None, str(exc))
        return None


def import_locations(uow: UnitOfWork, rows: list[CsvRow]) -> ImportReport:
    """Upsert locations by code; all or nothing."""
    report = ImportReport(kind="locations", rows=len(rows))
    present = _check_header(rows)
    parsed: list[tuple[int, dict[str, Any]]] = []
    seen: dict[str, int] = {}
    for row in rows:
        values = _cells(row, present, report)
        if values is None:
            continue
        code = str(values.get("code", ""))
        if code in seen:
            report.error(row.line, "code", f"code {code} already on line {seen[code]}")
            continue
        seen[code] = row.line
        parsed.append((row.line, values))
    session = uow.session
    existing = _existing(session, list(seen))
    locations: list[tuple[Location, LocationRow | None]] = []
    for line, values in parsed:
        current = existing.get(str(values["code"]).strip())
        location = _validated(line, values, current, report)
        if location is not None:
            locations.append((location, current))
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    now = uow.now()
    for location, current in locations:
        if current is None:
            new = service.new_row(location, location_id=new_id("loc"), now=now)
            session.add(new)
            uow.emit(service.created_event(new))
            report.created += 1
        else:
            changed = service.apply(current, location)
            if changed:
                current.updated_at = now
                uow.emit(service.updated_event(current, changed))
                report.updated += 1
    session.flush()
    return report


def _existing(session: Session, codes: list[str]) -> dict[str, LocationRow]:
    found: dict[str, LocationRow] = {}
    cleaned = [c.strip() for c in codes]
    for start in range(0, len(cleaned), CHUNK):
        batch = cleaned[start : start + CHUNK]
        for row in session.scalars(select(LocationRow).where(LocationRow.code.in_(batch))):
            found[row.code] = row
    return found


def _coordinate(value: float) -> str:
    return repr(float(value))


def export_locations(session: Session) -> tuple[list[str], Iterator[list[str]]]:
    stmt = select(LocationRow).order_by(LocationRow.code).execution_options(yield_per=1000)

    def rows() -> Iterator[list[str]]:
        for row in session.scalars(stmt):
            loc = service.to_model(row)
            yield [
                loc.code,
                loc.name,
                loc.kind.value,
                loc.address_line1,
                loc.postcode,
                loc.city,
                loc.country,
                _coordinate(loc.latitude),
                _coordinate(loc.longitude),
                loc.timezone,
                "|".join(loc.capabilities),
                "" if loc.daily_order_capacity is None else str(loc.daily_order_capacity),
                format_hours(loc.opening_hours),
                loc.status.value,
                loc.territory or "",
            ]

    return list(COLUMNS), rows()
