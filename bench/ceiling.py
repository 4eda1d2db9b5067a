"""The raw-SQL ceiling of one reservation: the same rows written, no ORM, no domain, no API.

Per reservation: lock/read the level, check availability, bump `reserved`, insert the
reservation, its ledger movement and its outbox event — one transaction, like the service.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from omnicanal.storage.database import Database


def reserve_raw(conn: Connection, sku: str, location_id: str, quantity: int, pg: bool) -> bool:
    now = datetime.now(UTC)
    lock = " FOR UPDATE" if pg else ""
    row = conn.execute(
        text(
            "SELECT on_hand - reserved - committed - damaged - safety_stock FROM stock_levels "
            f"WHERE sku = :sku AND location_id = :loc{lock}"
        ),
        {"sku": sku, "loc": location_id},
    ).first()
    if row is None or row[0] < quantity:
        return False
    conn.execute(
        text(
            "UPDATE stock_levels SET reserved = reserved + :q, updated_at = :now "
            "WHERE sku = :sku AND location_id = :loc"
        ),
        {"q": quantity, "now": now, "sku": sku, "loc": location_id},
    )
    res_id = f"res_{uuid.uuid4().hex[:26]}"
    conn.execute(
        text(
            "INSERT INTO reservations (id, owner_type, owner_id, sku, location_id, quantity, "
            "status, channel, expires_at, created_at) VALUES (:id, 'cart', :owner, :sku, :loc, "
            ":q, 'active', 'web', :exp, :now)"
        ),
        {
            "id": res_id,
            "owner": "crt_bench",
            "sku": sku,
            "loc": location_id,
            "q": quantity,
            "exp": now + timedelta(minutes=30),
            "now": now,
        },
    )
    conn.execute(
        text(
            "INSERT INTO stock_movements (id, sku, location_id, kind, d_on_hand, d_reserved, "
            "d_committed, d_damaged, d_incoming, reservation_id, occurred_at) VALUES "
            "(:id, :sku, :loc, 'reservation', 0, :q, 0, 0, 0, :res, :now)"
        ),
        {
            "id": f"mov_{uuid.uuid4().hex[:26]}",
            "sku": sku,
            "loc": location_id,
            "q": quantity,
            "res": res_id,
            "now": now,
        },
    )
    payload: dict[str, Any] = {
        "reservation_id": res_id,
        "sku": sku,
        "location_id": location_id,
        "quantity": quantity,
    }
    conn.execute(
        text(
            "INSERT INTO outbox_events (id, type, subject, data, occurred_at) VALUES "
            "(:id, 'inventory.reservation.created', :subject, :data, :now)"
        ),
        {
            "id": f"evt_{uuid.uuid4().hex[:26]}",
            "subject": res_id,
            "data": json.dumps(payload),
            "now": now,
        },
    )
    return True


def reserve_raw_tx(db: Database, sku: str, location_id: str, quantity: int) -> bool:
    with db.engine.begin() as conn:  # SQLite: BEGIN IMMEDIATE through the same engine hooks
        return reserve_raw(conn, sku, location_id, quantity, db.is_postgres)
