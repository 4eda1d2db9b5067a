"""Location use cases. Each takes the unit of work first and never commits."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.locations import events
from omnicanal.locations.model import (
    Capability,
    Location,
    LocationKind,
    LocationStatus,
)
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import Conflict, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork

FIELDS = (
    "name",
    "kind",
    "latitude",
    "longitude",
    "timezone",
    "address_line1",
    "postcode",
    "city",
    "country",
    "territory",
    "opening_hours",
    "capabilities",
    "daily_order_capacity",
    "status",
)


def to_model(row: LocationRow) -> Location:
    """The pure location a row holds (for ``is_open_at`` and other rules)."""
    return Location(
        code=row.code,
        name=row.name,
        kind=LocationKind(row.kind),
        latitude=row.latitude,
        longitude=row.longitude,
        timezone=row.timezone,
        address_line1=row.address_line1,
        postcode=row.postcode,
        city=row.city,
        country=row.country,
        territory=row.territory,
        opening_hours={d: [(s[0], s[1]) for s in spans] for d, spans in row.opening_hours.items()},
        capabilities=[Capability(c).value for c in row.capabilities],
        daily_order_capacity=row.daily_order_capacity,
        status=LocationStatus(row.status),
    )


def _stored(location: Location, name: str) -> Any:
    value = getattr(location, name)
    if name == "opening_hours":
        return {d: [list(s) for s in spans] for d, spans in value.items()}
    if name in {"kind", "status"}:
        return value.value
    if name == "capabilities":
        return list(value)
    return value


def new_row(location: Location, *, location_id: str, now: datetime) -> LocationRow:
    row = LocationRow(id=location_id, code=location.code, created_at=now, updated_at=now)
    for name in FIELDS:
        setattr(row, name, _stored(location, name))
    return row


def apply(row: LocationRow, location: Location) -> list[str]:
    """Copy ``location`` onto ``row``; the names of the fields that changed."""
    changed = []
    for name in FIELDS:
        value = _stored(location, name)
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    return changed


def created_event(row: LocationRow) -> events.LocationCreated:
    return events.LocationCreated(
        location_id=row.id,
        code=row.code,
        name=row.name,
        kind=row.kind,
        status=row.status,
        capabilities=list(row.capabilities),
    )


def updated_event(row: LocationRow, changed: list[str]) -> events.LocationUpdated:
    return events.LocationUpdated(
        location_id=row.id,
        code=row.code,
        changed=changed,
        status=row.status,
        capabilities=list(row.capabilities),
    )


def _flush(session: Session, code: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            f"Location code {code} was just taken by another request.",
            code="duplicate-location-code",
            field="code",
        ) from None


def create_location(uow: UnitOfWork, *, location: Location) -> str:
    """Create a location; 409 when its code is already used."""
    owner = uow.session.scalar(select(LocationRow.id).where(LocationRow.code == location.code))
    if owner is not None:
        raise Conflict(
            f"Location code {location.code} already belongs to location {owner}.",
            code="duplicate-location-code",
            field="code",
            location_id=owner,
        )
    row = new_row(location, location_id=new_id("loc"), now=uow.now())
    uow.session.add(row)
    _flush(uow.session, location.code)
    uow.emit(created_event(row))
    return row.id


def get_row(session: Session, location_id: str) -> LocationRow:
    row = session.get(LocationRow, location_id)
    if row is None:
        raise NotFound(f"No location {location_id}.", field="location_id", location_id=location_id)
    return row


def update_location(uow: UnitOfWork, location_id: str, *, changes: Mapping[str, object]) -> None:
    """Change the given fields (the whole location is validated again); the code is immutable."""
    row = get_row(uow.session, location_id)
    location = to_model(row).with_changes(changes)
    changed = apply(row, location)
    if changed:
        row.updated_at = uow.now()
        uow.emit(updated_event(row, changed))
