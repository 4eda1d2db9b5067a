"""``python -m bench.core_writes [sqlite|postgres]``: an experiment sizing a proposed change.

The reservation ratio omnicanal/ceiling is below its target because ``inventory.service.reserve``
spends most of its CPU in the ORM (three separate look-ups, then a unit-of-work flush of four
objects). This prototype keeps the domain (``StockLevel.reserve``, hold-backs, alerts, the event
classes) and writes the same rows with Core: one SELECT that checks the location and locks the
level, one UPDATE, executemany INSERTs for the reservation, the movement and the outbox events.
It is NOT omnicanal's code path (it leaves out the unknown-SKU message, which belongs on the error
path); it measures what such a rewrite of ``reserve`` could give, next to the service and the
ceiling, single-threaded (CPU per reservation) and with 16 clients (spread case).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from bench.common import log, prepare, run_threads
from bench.reservations import (
    CLIENTS,
    FULL,
    OWNER,
    mark,
    raw_reserve,
    restore,
    service_reserve,
    stocked_pairs,
)
from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory import events
from omnicanal.inventory.model import HoldKind, InsufficientStock, StockLevel, hold_back_for
from omnicanal.inventory.service import ALERTS
from omnicanal.inventory.tables import ReservationRow, StockLevelRow, StockMovementRow
from omnicanal.locations.tables import LocationRow
from omnicanal.settings import get_settings
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

_L = cast(Table, StockLevelRow.__table__)
_S = cast(Table, LocationRow.__table__)
_RESERVATIONS = cast(Table, ReservationRow.__table__)
_MOVEMENTS = cast(Table, StockMovementRow.__table__)
_OUTBOX = cast(Table, OutboxEventRow.__table__)
_LEVEL = (
    select(
        _L.c.on_hand,
        _L.c.reserved,
        _L.c.committed,
        _L.c.damaged,
        _L.c.safety_stock,
        _L.c.incoming,
        _L.c.low_stock_threshold,
        _S.c.status,
        _S.c.kind,
    )
    .join_from(_L, _S, _S.c.id == _L.c.location_id)
    .where(_L.c.sku == bindparam("sku"), _L.c.location_id == bindparam("loc"))
)
_LEVEL_PG = _LEVEL.with_for_update(of=_L)
_UPDATE = (
    update(_L)
    .where(_L.c.sku == bindparam("k_sku"), _L.c.location_id == bindparam("k_loc"))
    .values(reserved=bindparam("reserved"), updated_at=bindparam("now"))
)


def reserve_core(
    uow: UnitOfWork, *, owner_id: str, location_id: str, sku: str, quantity: int, pg: bool
) -> str:
    from omnicanal.inventory.model import stock_alert

    session, now = uow.session, uow.now()
    row = session.execute(_LEVEL_PG if pg else _LEVEL, {"sku": sku, "loc": location_id}).first()
    if row is None or row.status != "active":
        raise InsufficientStock(sku, location_id, quantity, 0)
    level = StockLevel(
        sku,
        location_id,
        row.on_hand,
        row.reserved,
        row.committed,
        row.damaged,
        row.safety_stock,
        row.incoming,
        row.low_stock_threshold,
    )
    before = level.available_to_promise
    movement = level.reserve(quantity, HoldKind.CART, hold_back=hold_back_for("web", row.kind))
    res_id, expires = new_id("res"), now + timedelta(minutes=30)
    session.execute(
        _UPDATE, {"k_sku": sku, "k_loc": location_id, "reserved": level.reserved, "now": now}
    )
    session.execute(
        insert(_RESERVATIONS),
        [
            {
                "id": res_id,
                "owner_type": "cart",
                "owner_id": owner_id,
                "sku": sku,
                "location_id": location_id,
                "quantity": quantity,
                "status": "active",
                "channel": "web",
                "expires_at": expires,
                "created_at": now,
            }
        ],
    )
    session.execute(
        insert(_MOVEMENTS),
        [
            {
                "id": new_id("mov"),
                "sku": sku,
                "location_id": location_id,
                "kind": movement.kind.value,
                "d_on_hand": movement.d_on_hand,
                "d_reserved": movement.d_reserved,
                "d_committed": movement.d_committed,
                "d_damaged": movement.d_damaged,
                "d_incoming": movement.d_incoming,
                "reference_type": "cart",
                "reference_id": owner_id,
                "reservation_id": res_id,
                "occurred_at": now,
            }
        ],
    )
    atp = level.available_to_promise
    emitted: list[Any] = [
        events.StockChanged(
            sku=sku,
            location_id=location_id,
            movement=movement.kind.value,
            on_hand=level.on_hand,
            reserved=level.reserved,
            committed=level.committed,
            damaged=level.damaged,
            available_to_promise=atp,
        ),
        events.ReservationCreated(
            reservation_id=res_id,
            owner_type="cart",
            owner_id=owner_id,
            sku=sku,
            location_id=location_id,
            quantity=quantity,
            expires_at=expires,
        ),
    ]
    threshold = level.low_stock_threshold
    if threshold is None:
        threshold = get_settings().default_low_stock_threshold
    alert = stock_alert(before, atp, threshold)
    if alert is not None:
        emitted.append(
            ALERTS[alert](
                sku=sku, location_id=location_id, available_to_promise=atp, threshold=threshold
            )
        )
    session.execute(
        insert(_OUTBOX),
        [
            {
                "id": new_id("evt"),
                "type": e.type,
                "subject": e.subject,
                "data": e.payload(),
                "occurred_at": now,
            }
            for e in emitted
        ],
    )
    uow.emitted.extend(emitted)
    return res_id


def main(backend: str) -> None:
    url = prepare(backend, FULL, log)
    db = Database(url, pool_size=CLIENTS + 4)
    before = mark(db)
    try:
        pairs = stocked_pairs(db, 50_000)

        def pick(rng: random.Random) -> tuple[str, str]:
            return pairs[rng.randrange(len(pairs))]

        def core(rng: random.Random, index: int) -> None:
            sku, location_id = pick(rng)
            with db.uow() as uow:
                reserve_core(
                    uow,
                    owner_id=f"{OWNER}-{index}",
                    location_id=location_id,
                    sku=sku,
                    quantity=1,
                    pg=db.is_postgres,
                )

        variants = {
            "service.reserve": service_reserve(db, pick),
            "prototype (Core writes)": core,
            "raw-SQL ceiling": raw_reserve(db, pick),
        }
        rng = random.Random(11)
        print(f"{backend}: single client, CPU and wall time per reservation")
        for name, work in variants.items():
            for _ in range(200):
                work(rng, 0)
            n, cpu, wall = 1500, time.process_time(), time.perf_counter()
            for _ in range(n):
                work(rng, 0)
            cpu_ms = (time.process_time() - cpu) / n * 1000
            wall_ms = (time.perf_counter() - wall) / n * 1000
            print(f"  {name:24} CPU {cpu_ms:.2f} ms, wall {wall_ms:.2f} ms")
        print(f"{backend}: {CLIENTS} clients, spread, 10 s")
        rates = {}
        for seed, (name, work) in enumerate(variants.items(), start=50):
            load, _ = run_threads(work, threads=CLIENTS, seconds=10, warmup=2, seed=seed)
            rates[name] = load.rate
            print(f"  {name:24} {load.rate:.0f} reservations/s ({load.errors} errors)")
        ceiling = rates["raw-SQL ceiling"]
        for name in ("service.reserve", "prototype (Core writes)"):
            print(f"  {name:24} {rates[name] / ceiling:.0%} of the ceiling")
    finally:
        restore(db, before)
        db.dispose()


if __name__ == "__main__":
    for chosen in sys.argv[1:] or ["sqlite", "postgres"]:
        main(chosen)
