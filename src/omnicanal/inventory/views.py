"""Read side of inventory: levels, the ledger, and availability near a point.

Availability is on the hot path of every product page, so it avoids the ORM: active locations
are cached in-process for a few seconds (a few hundred rows, distances computed in Python), then
one indexed query reads the levels of the SKUs at the candidate locations.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from math import degrees
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from omnicanal.inventory.model import StockLevel, channel_available
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.geo import EARTH_RADIUS_KM, haversine_km
from omnicanal.storage.database import Database

STOCKED_KINDS = ("store", "warehouse")
MAX_RADIUS_KM = 1000.0


@dataclass(frozen=True, slots=True)
class Place:
    id: str
    code: str
    name: str
    kind: str
    city: str
    latitude: float
    longitude: float
    capabilities: frozenset[str]


class LocationDirectory:
    """Active locations, reloaded at most every ``ttl`` seconds (stores rarely move)."""

    def __init__(self, db: Database, ttl: float = 10.0) -> None:
        self._db = db
        self._ttl = ttl
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._places: list[Place] = []

    def places(self) -> list[Place]:
        with self._lock:
            if time.monotonic() - self._loaded_at > self._ttl:
                with self._db.read() as session:
                    rows = session.execute(
                        select(
                            LocationRow.id,
                            LocationRow.code,
                            LocationRow.name,
                            LocationRow.kind,
                            LocationRow.city,
                            LocationRow.latitude,
                            LocationRow.longitude,
                            LocationRow.capabilities,
                        ).where(LocationRow.status == "active")
                    ).all()
                self._places = [
                    Place(r[0], r[1], r[2], r[3], r[4], r[5], r[6], frozenset(r[7] or ()))
                    for r in rows
                ]
                self._loaded_at = time.monotonic()
            return self._places

    def forget(self) -> None:
        with self._lock:
            self._loaded_at = float("-inf")


_directories: WeakKeyDictionary[Database, LocationDirectory] = WeakKeyDictionary()


def directory(db: Database) -> LocationDirectory:
    found = _directories.get(db)
    if found is None:
        found = _directories[db] = LocationDirectory(db)
    return found


@dataclass(frozen=True, slots=True)
class LineAvailability:
    sku: str
    requested: int
    available: int


@dataclass(frozen=True, slots=True)
class PlaceAvailability:
    place: Place
    distance_km: float | None
    lines: list[LineAvailability]

    @property
    def can_supply_all(self) -> bool:
        return all(line.available >= line.requested for line in self.lines)


_t = StockLevelRow.__table__.c
# built once (expanding IN parameters): no statement construction or cache key per request
_LEVELS = select(
    _t.sku, _t.location_id, _t.on_hand, _t.reserved, _t.committed, _t.damaged, _t.safety_stock
).where(
    _t.sku.in_(bindparam("skus", expanding=True)),
    _t.location_id.in_(bindparam("location_ids", expanding=True)),
)


def _levels(
    session: Session, skus: Sequence[str], location_ids: Sequence[str]
) -> dict[tuple[str, str], StockLevel]:
    if not skus or not location_ids:
        return {}
    rows = session.execute(_LEVELS, {"skus": list(skus), "location_ids": list(location_ids)}).all()
    return {(r[0], r[1]): StockLevel(r[0], r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows}


def basket_availability(
    session: Session,
    places: Sequence[Place],
    lines: Sequence[tuple[str, int]],
    *,
    channel: str | None,
    own_store_id: str | None = None,
    distances: dict[str, float] | None = None,
) -> list[PlaceAvailability]:
    """Per location, how much of each line the channel may promise there."""
    skus = [sku for sku, _ in lines]
    levels = _levels(session, skus, [p.id for p in places])
    result = []
    for place in places:
        per_line = []
        for sku, quantity in lines:
            level = levels.get((sku, place.id))
            available = (
                channel_available(
                    level,
                    channel=channel,
                    location_kind=place.kind,
                    own_store=place.id == own_store_id,
                )
                if level
                else 0
            )
            per_line.append(LineAvailability(sku, quantity, available))
        result.append(PlaceAvailability(place, (distances or {}).get(place.id), per_line))
    return result


def availability_near(
    session: Session,
    places: Sequence[Place],
    *,
    lat: float,
    lon: float,
    radius_km: float,
    lines: Sequence[tuple[str, int]],
    channel: str | None,
    capability: str | None = None,
    include_partial: bool = False,
    limit: int = 20,
) -> list[PlaceAvailability]:
    """Locations within ``radius_km`` of the point that can supply every line, nearest first
    (with ``include_partial``, also those that have only part of it)."""
    if not -90 <= lat <= 90 or not -180 <= lon <= 180:
        raise InvalidInput("lat must be within ±90 and lon within ±180.", field="lat")
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise InvalidInput(f"radius_km must be in (0, {MAX_RADIUS_KM:g}].", field="radius_km")
    distances: dict[str, float] = {}
    candidates = []
    # A great-circle distance is at least the latitude difference times the Earth's radius, so
    # a place further north or south than this is out of range without any trigonometry.
    max_dlat = degrees(radius_km / EARTH_RADIUS_KM) + 1e-9
    for place in places:
        if place.kind not in STOCKED_KINDS:
            continue
        if capability and capability not in place.capabilities:
            continue
        if abs(place.latitude - lat) > max_dlat:
            continue
        distance = haversine_km(lat, lon, place.latitude, place.longitude)
        if distance <= radius_km:
            distances[place.id] = round(distance, 2)
            candidates.append(place)
    candidates.sort(key=lambda p: (distances[p.id], p.id))
    found = basket_availability(session, candidates, lines, channel=channel, distances=distances)
    wanted = [
        a
        for a in found
        if a.can_supply_all or (include_partial and any(line.available for line in a.lines))
    ]
    return wanted[:limit]


def level_rows_for_sku(session: Session, sku: str) -> list[tuple[StockLevelRow, LocationRow]]:
    return [
        (level, location)
        for level, location in session.execute(
            select(StockLevelRow, LocationRow)
            .join(LocationRow, LocationRow.id == StockLevelRow.location_id)
            .where(StockLevelRow.sku == sku)
            .order_by(LocationRow.kind, LocationRow.code)
        )
    ]


def level_public(row: StockLevelRow) -> dict[str, Any]:
    level = StockLevel(
        row.sku,
        row.location_id,
        row.on_hand,
        row.reserved,
        row.committed,
        row.damaged,
        row.safety_stock,
        row.incoming,
        row.low_stock_threshold,
    )
    return {
        "sku": row.sku,
        "location_id": row.location_id,
        "on_hand": row.on_hand,
        "reserved": row.reserved,
        "committed": row.committed,
        "damaged": row.damaged,
        "safety_stock": row.safety_stock,
        "incoming": row.incoming,
        "low_stock_threshold": row.low_stock_threshold,
        "sellable_on_shelf": max(0, level.free),
        "available_to_promise": level.available_to_promise,
        "updated_at": row.updated_at,
    }
