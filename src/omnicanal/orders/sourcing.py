"""Where a fulfilment group gets its stock: candidates from the database, the routing decision.

"Where does a click & collect order get its stock?" — here: the pickup store the customer chose
is the only candidate, checked by the same rules as any other (capability, capacity, stock), and
``orders.service`` reserves at the location this decision names.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.inventory.model import StockLevel, channel_available
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.orders.model import Method
from omnicanal.orders.routing import Candidate, Decision, Demand, RoutingConfig, route
from omnicanal.orders.tables import FulfilmentGroupRow, RoutingConfigRow
from omnicanal.shared.geo import haversine_km

STOCKED = ("store", "warehouse")


def routing_config(session: Session) -> RoutingConfig:
    row = session.get(RoutingConfigRow, 1)
    return RoutingConfig.parse(row.settings) if row else RoutingConfig()


def _capacity_used(session: Session, location_ids: Sequence[str], day: str) -> dict[str, int]:
    if not location_ids:
        return {}
    rows = session.execute(
        select(FulfilmentGroupRow.location_id, func.count())
        .where(
            FulfilmentGroupRow.location_id.in_(list(location_ids)),
            FulfilmentGroupRow.allocated_on == day,
            FulfilmentGroupRow.status != "cancelled",
        )
        .group_by(FulfilmentGroupRow.location_id)
    ).all()
    return {str(r[0]): int(r[1]) for r in rows}


def load_candidates(
    session: Session,
    skus: Sequence[str],
    *,
    channel: str,
    destination: tuple[float, float] | None,
    day: str,
    only_location: str | None = None,
    own_store_id: str | None = None,
    capability: str | None = None,
) -> list[Candidate]:
    """Every active store and warehouse holding any of ``skus`` (or just ``only_location``).
    With ``capability``, today's orders are counted only where the location has it: the others
    are dropped by the eligibility rule before their capacity is looked at."""
    t = StockLevelRow.__table__.c
    loc = LocationRow.__table__.c
    stmt = (
        select(
            t.sku,
            t.location_id,
            t.on_hand,
            t.reserved,
            t.committed,
            t.damaged,
            t.safety_stock,
            loc.code,
            loc.kind,
            loc.capabilities,
            loc.territory,
            loc.latitude,
            loc.longitude,
            loc.daily_order_capacity,
        )
        .join(LocationRow.__table__, loc.id == t.location_id)
        .where(t.sku.in_(list(skus)), loc.status == "active", loc.kind.in_(STOCKED))
    )
    if only_location:
        stmt = stmt.where(t.location_id == only_location)
    stock: dict[str, dict[str, int]] = defaultdict(dict)
    info: dict[str, Any] = {}
    for r in session.execute(stmt):
        level = StockLevel(
            r.sku, r.location_id, r.on_hand, r.reserved, r.committed, r.damaged, r.safety_stock
        )
        stock[r.location_id][r.sku] = channel_available(
            level, channel=channel, location_kind=r.kind, own_store=r.location_id == own_store_id
        )
        info[r.location_id] = r
    if only_location and only_location not in info:
        row = session.get(LocationRow, only_location)
        if row is not None and row.status == "active":
            info[only_location] = row
    limited = [
        lid
        for lid, r in info.items()
        if r.daily_order_capacity is not None
        and (capability is None or capability in (r.capabilities or ()))
    ]
    used = _capacity_used(session, limited, day)
    candidates = []
    for location_id, r in info.items():
        distance = (
            haversine_km(destination[0], destination[1], r.latitude, r.longitude)
            if destination
            else None
        )
        capacity = (
            None
            if r.daily_order_capacity is None
            else r.daily_order_capacity - used.get(location_id, 0)
        )
        candidates.append(
            Candidate(
                location_id=location_id,
                code=r.code,
                kind=r.kind,
                capabilities=frozenset(r.capabilities or ()),
                territory=r.territory,
                distance_km=distance,
                stock=dict(stock.get(location_id, {})),
                capacity_left=capacity,
            )
        )
    return sorted(candidates, key=lambda c: c.location_id)


def decide(
    session: Session,
    *,
    method: Method,
    lines: Mapping[str, int],
    channel: str,
    now: datetime,
    config: RoutingConfig,
    location_id: str | None = None,
    destination: tuple[float, float] | None = None,
    territory: str | None = None,
    own_store_id: str | None = None,
) -> Decision:
    """Route one requested group: fixed location for pickups (and a chosen ship-from-store),
    rules then optimiser for deliveries."""
    from omnicanal.orders.solver import solve

    candidates = load_candidates(
        session,
        sorted(lines),
        channel=channel,
        destination=destination,
        day=now.date().isoformat(),
        only_location=location_id,
        own_store_id=own_store_id,
        capability=method.capability,
    )
    fixed = location_id is not None
    effective = config
    if fixed:
        # one location was chosen: no split, no optimiser, no backorder
        effective = replace(config, allow_split=False, allow_backorder=False)
    return route(candidates, Demand(method, dict(lines), territory), effective, solver=solve)
