"""Several ``omnicanal serve`` worker processes on one PostgreSQL: J8 holds across processes, and a
kill -9 in the middle of an order load loses no acknowledged order and leaks no stock."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from sqlalchemy import func, select, text

from omnicanal.auth.service import create_key
from omnicanal.consumers import all_consumers
from omnicanal.events.tables import OutboxEventRow, ProcessedEventRow
from omnicanal.inventory.service import sweep_expired
from omnicanal.inventory.tables import ReservationRow, StockLevelRow
from omnicanal.orders.tables import OrderRow
from omnicanal.shared.clock import FrozenClock, SystemClock
from omnicanal.storage.database import Database
from tests.conftest import truncate_all
from tests.inventory_checks import assert_ledger_equals_levels, level_of
from tests.order_factories import Network, make_network
from tests.reliability.servers import Server

pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Shop:
    db: Database
    net: Network
    headers: dict[str, str]


@pytest.fixture
def shop_db(reliability_url: str) -> Iterator[Database]:
    database = Database(reliability_url, clock=SystemClock(), pool_size=5)
    with database.engine.begin() as conn:  # a killed server's sessions may linger a moment
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    truncate_all(database)
    yield database
    database.dispose()


def open_shop(db: Database, shoes_at_rivoli: int) -> Shop:
    net = make_network(
        db, {"rivoli": {"SHOE-42": shoes_at_rivoli}, "bastille": {}, "lyon": {}, "warehouse": {}}
    )
    with db.uow() as uow:
        created = create_key(uow, name="web shop", channel="web")
    return Shop(db, net, {"Authorization": f"Bearer {created.secret}"})


def click_and_collect(shop: Shop, quantity: int = 1) -> dict[str, Any]:
    return {
        "method": "click_and_collect",
        "location_id": shop.net.rivoli,
        "lines": [{"sku": "SHOE-42", "quantity": quantity}],
        "contact": {"email": "lea@example.com"},
    }


def orders_in_db(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(OrderRow)) or 0


def consumers_behind(db: Database) -> dict[str, tuple[int, int]]:
    """Consumers that have not applied every event they handle: name -> (applied, wanted)."""
    with db.read() as session:
        types = list(session.scalars(select(OutboxEventRow.type)))
        applied = dict(
            session.execute(
                select(ProcessedEventRow.consumer, func.count()).group_by(
                    ProcessedEventRow.consumer
                )
            ).all()
        )
    behind = {}
    for consumer in all_consumers():
        wanted = sum(1 for t in types if consumer.wants(t))
        if applied.get(consumer.name, 0) != wanted:
            behind[consumer.name] = (applied.get(consumer.name, 0), wanted)
    return behind


@pytest.mark.parametrize(("workers", "transport"), [(2, "in-process bus"), (4, "NATS JetStream")])
def test_j8_worker_processes_racing_for_the_last_ten_units_sell_exactly_ten(
    shop_db: Database, tmp_path: Path, request: pytest.FixtureRequest, workers: int, transport: str
) -> None:
    shop = open_shop(shop_db, shoes_at_rivoli=10)
    settings = {}
    if transport == "NATS JetStream":
        stream = request.getfixturevalue("stream")
        settings = {"nats_url": request.getfixturevalue("nats_url"), "nats_stream": stream}
    server = Server(shop_db.url, workers, tmp_path / "server.log", **settings).start()
    clients = 24
    barrier = threading.Barrier(clients)
    statuses: list[int] = []
    lock = threading.Lock()

    def buyer() -> None:
        with httpx2.Client(base_url=server.base, headers=shop.headers, timeout=60) as http:
            barrier.wait()
            while True:  # each buyer keeps buying until refused
                answer = http.post(
                    "/v1/orders",
                    json=click_and_collect(shop),
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )
                with lock:
                    statuses.append(answer.status_code)
                if answer.status_code != 201:
                    return

    try:
        threads = [threading.Thread(target=buyer) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        # and every consumer, whichever process ran it, applied every order's events once
        deadline = time.monotonic() + 90
        while consumers_behind(shop_db) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        server.stop()
    assert consumers_behind(shop_db) == {}
    assert statuses.count(201) == 10
    assert statuses.count(409) == clients  # every buyer ends refused: out of stock
    assert len(statuses) == 10 + clients
    rivoli = level_of(shop_db, "SHOE-42", shop.net.rivoli)
    assert (rivoli.on_hand, rivoli.committed + rivoli.reserved) == (10, 10)
    assert orders_in_db(shop_db) == 10
    assert_ledger_equals_levels(shop_db)


@dataclass
class Attempt:
    key: str
    path: str
    body: dict[str, Any]
    status: int | None = None  # None: no answer (the server died under it)
    result: dict[str, Any] | None = None


def test_kill_9_under_load_loses_no_acknowledged_order_and_leaks_no_stock(
    shop_db: Database, tmp_path: Path
) -> None:
    shop = open_shop(shop_db, shoes_at_rivoli=100_000)
    server = Server(shop_db.url, 2, tmp_path / "server.log").start()
    attempts: list[Attempt] = []
    lock = threading.Lock()
    stop = threading.Event()

    def channel(index: int) -> None:
        with httpx2.Client(base_url=server.base, headers=shop.headers, timeout=30) as http:
            n = 0
            while not stop.is_set():
                n += 1
                if n % 3 == 0:  # a cart hold that expires in a minute
                    body = {
                        "owner_type": "cart",
                        "owner_id": f"crt_{index}_{n}",
                        "location_id": shop.net.rivoli,
                        "lines": [{"sku": "SHOE-42", "quantity": 1}],
                        "ttl_minutes": 1,
                    }
                    attempt = Attempt(str(uuid.uuid4()), "/v1/reservations", body)
                else:
                    attempt = Attempt(str(uuid.uuid4()), "/v1/orders", click_and_collect(shop, 2))
                with lock:
                    attempts.append(attempt)
                send(http, attempt)

    threads = [threading.Thread(target=channel, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while acknowledged_so_far(attempts) < 40 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.kill()  # kill -9 of the master and both workers, requests in flight
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    acknowledged = {a.key: made(a) for a in attempts if a.status in (200, 201)}
    unanswered = [a for a in attempts if a.status is None]
    assert len(acknowledged) >= 40, Counter(a.status for a in attempts)
    assert all(a.status in (200, 201, None) for a in attempts)

    server.start()
    try:
        # every acknowledged order is there; every client retries what got no answer, and
        # replays a few acknowledged ones, with the same idempotency keys
        with httpx2.Client(base_url=server.base, headers=shop.headers, timeout=30) as http:
            for attempt in [*unanswered, *attempts[:20]]:
                send(http, attempt)
    finally:
        server.stop()
    assert all(a.status in (200, 201) for a in attempts)
    for attempt in attempts:
        if attempt.key in acknowledged:
            assert made(attempt) == acknowledged[attempt.key]  # the same answer, replayed

    order_ids = {a.result["id"] for a in attempts if a.path == "/v1/orders" and a.result}
    held = [a for a in attempts if a.path == "/v1/reservations"]
    with shop_db.read() as session:
        found = set(session.scalars(select(OrderRow.id)))
        cart_holds = session.scalar(
            select(func.count())
            .select_from(ReservationRow)
            .where(ReservationRow.owner_type == "cart")
        )
    assert found == order_ids  # each key made one order: none lost, none twice
    assert cart_holds == len(held)

    # an hour later the sweeper has given every cart hold back: nothing leaked past expiry
    later = Database(shop_db.url, clock=FrozenClock(SystemClock().now() + timedelta(hours=1)))
    try:
        while True:
            with later.uow() as uow:
                if not sweep_expired(uow):
                    break
    finally:
        later.dispose()
    with shop_db.read() as session:
        still_held = session.scalar(
            select(func.count())
            .select_from(ReservationRow)
            .where(ReservationRow.owner_type == "cart", ReservationRow.status == "active")
        )
        level = session.get(StockLevelRow, ("SHOE-42", shop.net.rivoli))
        assert level is not None
        active_units = session.scalar(
            select(func.coalesce(func.sum(ReservationRow.quantity), 0)).where(
                ReservationRow.status == "active"
            )
        )
    assert still_held == 0
    # the units held at the store are exactly the live holds: the orders' two units each
    assert level.reserved + level.committed == active_units == 2 * len(order_ids)
    assert_ledger_equals_levels(shop_db)


def acknowledged_so_far(attempts: list[Attempt]) -> int:
    return sum(1 for a in list(attempts) if a.status in (200, 201))


def made(attempt: Attempt) -> str:
    """The id of what the request made: the order, or the reservation."""
    assert attempt.result is not None
    if attempt.path == "/v1/orders":
        return str(attempt.result["id"])
    return str(attempt.result["reservations"][0]["id"])


def send(http: httpx2.Client, attempt: Attempt) -> None:
    try:
        answer = http.post(
            attempt.path, json=attempt.body, headers={"Idempotency-Key": attempt.key}
        )
    except httpx2.HTTPError:
        attempt.status = None
        return
    attempt.status = answer.status_code
    attempt.result = answer.json()
