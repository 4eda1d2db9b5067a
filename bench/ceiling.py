"""The raw-SQL ceiling of one reservation: the same rows written, no ORM, no domain, no API.

Per reservation, like ``inventory.service.reserve`` for one line: check the location is active
and the SKU exists, lock/read the level, check availability, bump ``reserved``, insert the
reservation, its ledger movement and its two outbox events (``inventory.stock.changed`` and
``inventory.reservation.created``) — one transaction. ``receive_raw`` is the same for a receipt
(the restock in the hot-SKU scenario). Hand-written statements, executed through SQLAlchemy Core
``text()`` on the same engine (so SQLite still starts ``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from omnicanal.storage.database import Database

_LOCATION = text("SELECT status FROM locations WHERE id = :loc")
_SKU = text("SELECT 1 FROM variants WHERE sku = :sku")
_LEVEL = (
    "SELECT on_hand, reserved, committed, damaged, safety_stock FROM stock_levels "
    "WHERE sku = :sku AND location_id = :loc"
)
_LOCK_PG = text(_LEVEL + " FOR UPDATE")
_LOCK_SQLITE = text(_LEVEL)  # BEGIN IMMEDIATE already serialises writers
_RESERVE = text(
    "UPDATE stock_levels SET reserved = reserved + :q, updated_at = :now "
    "WHERE sku = :sku AND location_id = :loc"
)
_RECEIVE = text(
    "UPDATE stock_levels SET on_hand = on_hand + :q, updated_at = :now "
    "WHERE sku = :sku AND location_id = :loc"
)
_RESERVATION = text(
    "INSERT INTO reservations (id, owner_type, owner_id, sku, location_id, quantity, status, "
    "channel, expires_at, created_at) VALUES (:id, 'cart', :owner, :sku, :loc, :q, 'active', "
    "'web', :exp, :now)"
)
_MOVEMENT = text(
    "INSERT INTO stock_movements (id, sku, location_id, kind, d_on_hand, d_reserved, "
    "d_committed, d_damaged, d_incoming, reference_type, reference_id, reservation_id, "
    "occurred_at) VALUES (:id, :sku, :loc, :kind, :d_on_hand, :d_reserved, 0, 0, 0, :ref_type, "
    ":ref_id, :res, :now)"
)
_EVENT = text(
    "INSERT INTO outbox_events (id, type, subject, data, occurred_at) VALUES "
    "(:id, :type, :subject, :data, :now)"
)


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:26].upper()}"


def _level(conn: Connection, sku: str, location_id: str, pg: bool) -> Any:
    location = conn.execute(_LOCATION, {"loc": location_id}).first()
    if location is None or location[0] != "active":
        return None
    if conn.execute(_SKU, {"sku": sku}).first() is None:
        return None
    return conn.execute(_LOCK_PG if pg else _LOCK_SQLITE, {"sku": sku, "loc": location_id}).first()


def _events(conn: Connection, now: datetime, *events: tuple[str, str, dict[str, Any]]) -> None:
    conn.execute(
        _EVENT,
        [
            {"id": _id("evt"), "type": t, "subject": s, "data": json.dumps(d), "now": now}
            for t, s, d in events
        ],
    )


def _changed(sku: str, location_id: str, movement: str, row: Any) -> dict[str, Any]:
    on_hand, reserved, committed, damaged, safety = row
    return {
        "sku": sku,
        "location_id": location_id,
        "movement": movement,
        "on_hand": on_hand,
        "reserved": reserved,
        "committed": committed,
        "damaged": damaged,
        "available_to_promise": max(0, on_hand - reserved - committed - damaged - safety),
    }


def reserve_raw(
    conn: Connection, sku: str, location_id: str, quantity: int, pg: bool, owner: str
) -> bool:
    now = datetime.now(UTC)
    row = _level(conn, sku, location_id, pg)
    if row is None:
        return False
    on_hand, reserved, committed, damaged, safety = row
    if on_hand - reserved - committed - damaged - safety < quantity:
        return False
    params = {"q": quantity, "now": now, "sku": sku, "loc": location_id}
    conn.execute(_RESERVE, params)
    res_id = _id("res")
    expires = now + timedelta(minutes=30)
    conn.execute(_RESERVATION, {**params, "id": res_id, "owner": owner, "exp": expires})
    conn.execute(
        _MOVEMENT,
        {
            **params,
            "id": _id("mov"),
            "kind": "reservation",
            "d_on_hand": 0,
            "d_reserved": quantity,
            "ref_type": "cart",
            "ref_id": owner,
            "res": res_id,
        },
    )
    after = (on_hand, reserved + quantity, committed, damaged, safety)
    _events(
        conn,
        now,
        ("inventory.stock.changed", sku, _changed(sku, location_id, "reservation", after)),
        (
            "inventory.reservation.created",
            res_id,
            {
                "reservation_id": res_id,
                "owner_type": "cart",
                "owner_id": owner,
                "sku": sku,
                "location_id": location_id,
                "quantity": quantity,
                "expires_at": expires.isoformat(),
            },
        ),
    )
    return True


def receive_raw(conn: Connection, sku: str, location_id: str, quantity: int, pg: bool) -> bool:
    now = datetime.now(UTC)
    row = _level(conn, sku, location_id, pg)
    if row is None:
        return False
    params = {"q": quantity, "now": now, "sku": sku, "loc": location_id}
    conn.execute(_RECEIVE, params)
    conn.execute(
        _MOVEMENT,
        {
            **params,
            "id": _id("mov"),
            "kind": "receipt",
            "d_on_hand": quantity,
            "d_reserved": 0,
            "ref_type": None,
            "ref_id": None,
            "res": None,
        },
    )
    on_hand, *rest = row
    after = (on_hand + quantity, *rest)
    changed = _changed(sku, location_id, "receipt", after)
    _events(conn, now, ("inventory.stock.changed", sku, changed))
    return True


def reserve_raw_tx(
    db: Database, sku: str, location_id: str, quantity: int, owner: str = "bench-ceiling"
) -> bool:
    with db.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE through the same engine hooks
        return reserve_raw(conn, sku, location_id, quantity, db.is_postgres, owner)


def receive_raw_tx(db: Database, sku: str, location_id: str, quantity: int) -> bool:
    with db.engine.begin() as conn:
        return receive_raw(conn, sku, location_id, quantity, db.is_postgres)
