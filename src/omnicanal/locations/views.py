"""Locations read side: lists, search, 'near me'."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session

from omnicanal.locations.model import (
    Capability,
    Location,
    check_kind,
    check_latitude,
    check_longitude,
    check_status,
)
from omnicanal.locations.service import get_row, to_model
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.geo import haversine_km
from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor

MAX_RADIUS_KM = 2000.0
DEFAULT_RADIUS_KM = 50.0
KM_PER_DEGREE = 111.195


@dataclass(frozen=True, slots=True)
class LocationView:
    id: str
    location: Location
    created_at: datetime
    updated_at: datetime
    distance_km: float | None = None


@dataclass(frozen=True, slots=True)
class LocationListing:
    items: list[LocationView]
    next_cursor: str | None


def _view(row: LocationRow, distance_km: float | None = None) -> LocationView:
    return LocationView(
        id=row.id,
        location=to_model(row),
        created_at=row.created_at,
        updated_at=row.updated_at,
        distance_km=distance_km,
    )


def get_location(session: Session, location_id: str) -> LocationView:
    return _view(get_row(session, location_id))


def parse_near(value: str) -> tuple[float, float]:
    """'48.86,2.35' -> (48.86, 2.35)."""
    parts = value.split(",")
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            f"near={value!r} is not 'latitude,longitude' such as 48.8566,2.3522.", field="near"
        ) from None
    return check_latitude(lat, field="near"), check_longitude(lon, field="near")


def list_locations(
    session: Session,
    *,
    kind: str | None = None,
    capability: str | None = None,
    city: str | None = None,
    status: str | None = None,
    q: str | None = None,
    near: str | None = None,
    radius_km: float | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> LocationListing:
    """Locations by id, or by distance from ``near`` within ``radius_km`` (default 50 km)."""
    check_limit(limit)
    stmt = select(LocationRow)
    if kind:
        stmt = stmt.where(LocationRow.kind == check_kind(kind).value)
    if status:
        stmt = stmt.where(LocationRow.status == check_status(status).value)
    if capability:
        try:
            cap = Capability(capability)
        except ValueError:
            raise InvalidInput(
                f"Unknown capability {capability!r}; use one of "
                f"{', '.join(c.value for c in Capability)}.",
                field="capability",
            ) from None
        # capabilities is a JSON list of known words: a quoted-word match is exact
        stmt = stmt.where(cast(LocationRow.capabilities, String).contains(f'"{cap.value}"'))
    if city:
        stmt = stmt.where(func.lower(LocationRow.city) == city.strip().lower())
    if q and q.strip():
        text = q.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(LocationRow.name).contains(text, autoescape=True),
                func.lower(LocationRow.code).contains(text, autoescape=True),
                func.lower(LocationRow.city).contains(text, autoescape=True),
                func.lower(LocationRow.postcode).contains(text, autoescape=True),
            )
        )
    if near is not None:
        return _nearby(session, stmt, near, radius_km, cursor, limit)
    if radius_km is not None:
        raise InvalidInput("radius_km needs near=latitude,longitude.", field="radius_km")
    if cursor:
        after = decode_cursor(cursor)
        if len(after) != 1 or not isinstance(after[0], str):
            raise InvalidInput("Malformed cursor for this list.", field="cursor")
        stmt = stmt.where(LocationRow.id > after[0])
    rows = list(session.scalars(stmt.order_by(LocationRow.id).limit(limit + 1)))
    next_cursor = encode_cursor([rows[limit - 1].id]) if len(rows) > limit else None
    return LocationListing([_view(r) for r in rows[:limit]], next_cursor)


def _nearby(
    session: Session,
    stmt: Any,
    near: str,
    radius_km: float | None,
    cursor: str | None,
    limit: int,
) -> LocationListing:
    lat, lon = parse_near(near)
    radius = DEFAULT_RADIUS_KM if radius_km is None else radius_km
    if not (math.isfinite(radius) and 0 < radius <= MAX_RADIUS_KM):
        raise InvalidInput(
            f"radius_km must be more than 0 and at most {MAX_RADIUS_KM:g}.", field="radius_km"
        )
    # A bounding box the indexes can use, then the exact great-circle distance.
    dlat = radius / KM_PER_DEGREE
    stmt = stmt.where(LocationRow.latitude.between(lat - dlat, lat + dlat))
    cos_lat = math.cos(math.radians(lat))
    if cos_lat > 0.01:
        dlon = radius / (KM_PER_DEGREE * cos_lat)
        if lon - dlon >= -180 and lon + dlon <= 180:  # else the box wraps: skip the filter
            stmt = stmt.where(LocationRow.longitude.between(lon - dlon, lon + dlon))
    found = []
    for row in session.scalars(stmt):
        distance = haversine_km(lat, lon, row.latitude, row.longitude)
        if distance <= radius:
            found.append((round(distance, 3), row.id, row))
    found.sort(key=lambda item: (item[0], item[1]))
    if cursor:
        after = decode_cursor(cursor)
        if len(after) != 2 or not isinstance(after[0], int | float):
            raise InvalidInput("Malformed cursor for this list.", field="cursor")
        key = (float(after[0]), str(after[1]))
        found = [f for f in found if (f[0], f[1]) > key]
    page = found[:limit]
    next_cursor = encode_cursor([page[-1][0], page[-1][1]]) if len(found) > limit else None
    return LocationListing([_view(row, distance) for distance, _, row in page], next_cursor)
