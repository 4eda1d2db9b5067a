"""``reservations``: reservations per second with 16 concurrent clients, and the raw-SQL ceiling
of the same transaction measured in the same run (``bench/ceiling.py``).

Cases, on the 1M-level data set:

- ``spread``: each reservation holds 1 unit of a random (SKU, store) pair that has stock;
- ``hot``: every client reserves 1 unit of one SKU at one store (given 100,000 units first);
- ``hot_restock``: the same, while a 17th client keeps receiving 5 units of that SKU there.

Service layer: ``inventory.service.reserve`` in ``db.uow()`` (the unit of work the API uses).
Ceiling: ``ceiling.reserve_raw_tx`` / ``receive_raw_tx`` (same rows, hand-written SQL). HTTP:
``POST /v1/reservations`` with an ``Idempotency-Key``, 16 clients, one server process.

Everything the scenario writes is undone at the end (levels minus the deltas of the movements
written after a mark, then those movements, events, reservations and idempotency records are
deleted), so the cached data set stays as loaded.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import text

from bench.ceiling import receive_raw_tx, reserve_raw_tx
from bench.common import DataSet, Load, Refused, ensure_key, prepare, run_threads, server
from omnicanal.inventory import service
from omnicanal.inventory.model import InsufficientStock
from omnicanal.inventory.service import Line
from omnicanal.storage.database import Database

FULL = DataSet(skus=5000, locations=200)
CLIENTS = 16
HOT_STOCK = 100_000
RESTOCK_UNITS = 5
OWNER = "bench-reservations"

Pair = tuple[str, str]  # (sku, location_id)
Pick = Callable[[random.Random], Pair]


@dataclass(frozen=True)
class Mark:
    movements: int
    events: int
    idempotency: int


def mark(db: Database) -> Mark:
    with db.engine.connect() as conn:

        def top(sql: str) -> int:
            return int(conn.execute(text(sql)).scalar() or 0)

        return Mark(
            top("SELECT MAX(seq) FROM stock_movements"),
            top("SELECT MAX(seq) FROM outbox_events"),
            top("SELECT MAX(id) FROM idempotency_records"),
        )


def restore(db: Database, since: Mark) -> None:
    """Undo every stock change made after ``since``: levels minus the movements' deltas."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE stock_levels SET on_hand = stock_levels.on_hand - d.on_hand, "
                "reserved = stock_levels.reserved - d.reserved, "
                "committed = stock_levels.committed - d.committed, "
                "damaged = stock_levels.damaged - d.damaged, "
                "incoming = stock_levels.incoming - d.incoming "
                "FROM (SELECT sku, location_id, SUM(d_on_hand) AS on_hand, "
                "SUM(d_reserved) AS reserved, SUM(d_committed) AS committed, "
                "SUM(d_damaged) AS damaged, SUM(d_incoming) AS incoming FROM stock_movements "
                "WHERE seq > :m GROUP BY sku, location_id) AS d "
                "WHERE stock_levels.sku = d.sku AND stock_levels.location_id = d.location_id"
            ),
            {"m": since.movements},
        )
        conn.execute(
            text(
                "DELETE FROM reservations WHERE id IN "
                "(SELECT reservation_id FROM stock_movements WHERE seq > :m)"
            ),
            {"m": since.movements},
        )
        conn.execute(text("DELETE FROM stock_movements WHERE seq > :m"), {"m": since.movements})
        conn.execute(text("DELETE FROM outbox_events WHERE seq > :m"), {"m": since.events})
        conn.execute(
            text("DELETE FROM idempotency_records WHERE id > :m"), {"m": since.idempotency}
        )


def stocked_pairs(db: Database, n: int, min_available: int = 5) -> list[Pair]:
    """Random (SKU, store) pairs with at least ``min_available`` units to promise."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.sku, s.location_id FROM stock_levels s "
                "JOIN locations l ON l.id = s.location_id AND l.kind = 'store' "
                "WHERE s.on_hand - s.reserved - s.committed - s.damaged - s.safety_stock >= :m "
                "ORDER BY random() LIMIT :n"
            ),
            {"m": min_available, "n": n},
        ).all()
    return [(r[0], r[1]) for r in rows]


def hot_pair(db: Database) -> Pair:
    with db.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT s.sku, s.location_id FROM stock_levels s "
                "JOIN locations l ON l.id = s.location_id WHERE l.code = 'PAR-RIVOLI' "
                "ORDER BY s.sku LIMIT 1"
            )
        ).one()
    return row[0], row[1]


# -- the work of one client ------------------------------------------------------------------
def service_reserve(db: Database, pick: Pick) -> Callable[[random.Random, int], None]:
    def work(rng: random.Random, index: int) -> None:
        sku, location_id = pick(rng)
        try:
            with db.uow() as uow:
                service.reserve(
                    uow,
                    owner_type="cart",
                    owner_id=f"{OWNER}-{index}",
                    location_id=location_id,
                    lines=[Line(sku, 1)],
                    channel="web",
                )
        except InsufficientStock:
            raise Refused from None

    return work


def service_receive(db: Database, pair: Pair) -> Callable[[random.Random, int], None]:
    def work(rng: random.Random, index: int) -> None:
        with db.uow() as uow:
            service.receive(uow, location_id=pair[1], lines=[Line(pair[0], RESTOCK_UNITS)])

    return work


def raw_reserve(db: Database, pick: Pick) -> Callable[[random.Random, int], None]:
    def work(rng: random.Random, index: int) -> None:
        sku, location_id = pick(rng)
        if not reserve_raw_tx(db, sku, location_id, 1, owner=f"{OWNER}-{index}"):
            raise Refused

    return work


def raw_receive(db: Database, pair: Pair) -> Callable[[random.Random, int], None]:
    def work(rng: random.Random, index: int) -> None:
        receive_raw_tx(db, pair[0], pair[1], RESTOCK_UNITS)

    return work


def http_reserve(base: str, secret: str, pick: Pick) -> Callable[[random.Random, int], None]:
    clients: dict[int, httpx2.Client] = {}

    def work(rng: random.Random, index: int) -> None:
        client = clients.get(index)
        if client is None:
            headers = {"Authorization": f"Bearer {secret}"}
            client = clients[index] = httpx2.Client(base_url=base, headers=headers, timeout=60)
        sku, location_id = pick(rng)
        response = client.post(
            "/v1/reservations",
            json={
                "owner_type": "cart",
                "owner_id": f"{OWNER}-{index}",
                "location_id": location_id,
                "lines": [{"sku": sku, "quantity": 1}],
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if response.status_code == 409:
            raise Refused
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    return work


# -- the scenario ----------------------------------------------------------------------------
def _row(load: Load, others: dict[str, Load] | None = None) -> dict[str, Any]:
    out = load.summary()
    for name, other in (others or {}).items():
        out[name] = other.summary()
    return out


def _ratio(ours: float, ceiling: float) -> float | None:
    return round(ours / ceiling, 3) if ceiling else None


def run(
    backend: str, *, quick: bool, log: Callable[[str], None], http: bool = True
) -> dict[str, Any]:
    url = prepare(backend, FULL, log)
    seconds, warmup = (3.0, 1.0) if quick else (10.0, 2.0)
    db = Database(url, pool_size=CLIENTS + 4)
    before = mark(db)
    out: dict[str, Any] = {"data_set": FULL.name, "clients": CLIENTS, "seconds": seconds}
    try:
        pairs = stocked_pairs(db, 50_000)
        hot = hot_pair(db)
        out["hot"] = {"sku": hot[0], "location_id": hot[1]}

        def spread(rng: random.Random) -> Pair:
            return pairs[rng.randrange(len(pairs))]

        def one(rng: random.Random) -> Pair:
            return hot

        with db.uow() as uow:
            service.receive(uow, location_id=hot[1], lines=[Line(hot[0], HOT_STOCK)])

        seeds = iter(range(1, 100))

        def measure(name: str, work: Any, extra: Any = None) -> dict[str, Any]:
            log(f"  reservations/{backend}: {name}")
            load, others = run_threads(
                work,
                threads=CLIENTS,
                seconds=seconds,
                warmup=warmup,
                extra=extra,
                seed=next(seeds),  # each measurement picks its own pairs
            )
            return _row(load, others)

        cases: dict[str, dict[str, Any]] = {}
        for case, pick in (("spread", spread), ("hot", one)):
            cases[case] = {
                "service": measure(f"{case} service", service_reserve(db, pick)),
                "ceiling": measure(f"{case} ceiling", raw_reserve(db, pick)),
            }
        cases["hot_restock"] = {
            "service": measure(
                "hot+restock service",
                service_reserve(db, one),
                {"restock": (service_receive(db, hot), 1)},
            ),
            "ceiling": measure(
                "hot+restock ceiling",
                raw_reserve(db, one),
                {"restock": (raw_receive(db, hot), 1)},
            ),
        }
        for numbers in cases.values():
            numbers["ratio"] = _ratio(
                numbers["service"]["per_second"], numbers["ceiling"]["per_second"]
            )
        if http:
            secret = ensure_key(url)
            with server(url) as (base, _proc):
                for case, pick in (("spread", spread), ("hot", one)):
                    cases[case]["http"] = measure(f"{case} HTTP", http_reserve(base, secret, pick))
                    cases[case]["http_ratio"] = _ratio(
                        cases[case]["http"]["per_second"], cases[case]["ceiling"]["per_second"]
                    )
        out["cases"] = cases
        out["target_ratio"] = 0.5
    finally:
        log(f"  reservations/{backend}: restoring the data set")
        restore(db, before)
        db.dispose()
    return out
