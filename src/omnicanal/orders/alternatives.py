"""When a location cannot serve a group: the locations that can, nearest first."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from omnicanal.locations.tables import LocationRow
from omnicanal.orders.routing import Demand, has_whole_basket
from omnicanal.orders.service import GroupRequest
from omnicanal.orders.sourcing import load_candidates


def alternatives_for(
    session: Session,
    group: GroupRequest,
    lines: dict[str, int],
    *,
    channel: str,
    near: str | None,
    limit: int = 5,
) -> list[dict[str, Any]]:
    origin = session.get(LocationRow, near) if near else None
    destination = (origin.latitude, origin.longitude) if origin else None
    candidates = load_candidates(
        session, sorted(lines), channel=channel, destination=destination, day=""
    )
    demand = Demand(group.method, lines)
    fitting = [
        c
        for c in candidates
        if c.location_id != near
        and group.method.capability in c.capabilities
        and has_whole_basket(c, demand)
    ]
    fitting.sort(key=lambda c: (c.distance_km if c.distance_km is not None else 0.0, c.code))
    return [
        {
            "location_id": c.location_id,
            "code": c.code,
            "kind": c.kind,
            "distance_km": None if c.distance_km is None else round(c.distance_km, 1),
        }
        for c in fitting[:limit]
    ]
