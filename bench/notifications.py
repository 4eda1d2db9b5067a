"""Notification benchmark: time from the triggering event to the message handed to the provider.

``python -m bench.notifications [--backend sqlite|postgres|both] [--n 200] [--burst 200]``

What is timed, per message: from the commit of the unit of work that emitted the trigger
(``orders.order.placed`` from ``place_order``, or ``orders.group.ready_for_pickup`` from
``mark_ready``) to the moment the provider's ``send`` is called, through the whole pipeline the
server runs: the dispatcher publishes the event, every in-process consumer sees it (the
notification trigger schedules the message), then ``send_due`` re-reads the order, decides
(consent, premise, dedupe, quiet hours, caps), renders the template and hands it over.

- ``single``: one event at a time, the workers run back to back (no poll interval counted:
  in the server the dispatcher is woken by the commit; the sender polls every
  ``notifications_sender_interval_seconds``, 2 s by default, which adds up to that).
- ``burst``: ``--burst`` orders placed at once, then the workers drain: per-message latency
  (queueing included) and messages/s.
Providers: the in-process log provider, and SMTP to a local aiosmtpd server (real sockets).

Data: the demo retailer (200 SKUs, stock everywhere), fresh tables in
``var/bench/bench-notifications.db`` or the PostgreSQL database ``omnicanal_bench_notifications``
at ``OMNICANAL_BENCH_PG_URL``'s server. Results: Markdown on stdout, JSON in
``bench/results/notifications-<backend>.json``.
"""

from __future__ import annotations

import argparse
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from bench.common import (
    PG_ADMIN_URL,
    ROOT,
    cpu_busy,
    log,
    machine,
    percentiles,
    postgres_version,
    save,
)
from omnicanal.demo.seed import seed_retailer
from omnicanal.events.dispatch import Dispatcher
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.notifications.model import Channel
from omnicanal.notifications.providers import LogProvider, Outgoing, Provider, SmtpProvider
from omnicanal.notifications.sender import send_due
from omnicanal.orders import fulfilment
from omnicanal.orders.model import Method
from omnicanal.orders.service import GroupRequest, LineRequest, OrderRequest, place_order
from omnicanal.storage.database import Database
from omnicanal.storage.registry import load_all_tables


@dataclass
class Stamped:
    """Wraps a provider: notes when each message was handed over."""

    inner: Provider
    handed: dict[str, float] = field(default_factory=dict)
    name: str = "stamped"

    def send(self, message: Outgoing) -> str:
        self.handed[message.message_id] = time.perf_counter()
        return self.inner.send(message)


def _url(backend: str) -> str:
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / "bench-notifications.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    name = "omnicanal_bench_notifications"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _fresh(url: str) -> Database:
    metadata = load_all_tables()
    engine = create_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    engine.dispose()
    db = Database(url)
    seed_retailer(db, skus=200, density=1.0)
    return db


def _store_and_sku(db: Database) -> tuple[str, str]:
    with db.read() as session:
        row = session.execute(
            select(StockLevelRow.location_id, StockLevelRow.sku)
            .join(LocationRow, LocationRow.id == StockLevelRow.location_id)
            .where(LocationRow.kind == "store", StockLevelRow.on_hand >= 5)
            .order_by(StockLevelRow.on_hand.desc())
            .limit(1)
        ).one()
    with db.uow() as uow:  # enough units and capacity for every order of the run
        from omnicanal.inventory import service as inventory

        location = uow.session.get(LocationRow, row[0])
        assert location is not None
        location.daily_order_capacity = 1_000_000

        inventory.receive(uow, location_id=row[0], lines=[inventory.Line(row[1], 100_000)])
    return row[0], row[1]


class Pipeline:
    def __init__(self, db: Database, providers: dict[Channel, Provider]) -> None:
        self.db = db
        self.providers = providers
        self.dispatcher = Dispatcher(db)
        self.dispatch_s: list[float] = []
        self.send_s: list[float] = []

    def run_workers(self) -> None:
        started = time.perf_counter()
        while self.dispatcher.run_once():
            pass
        dispatched = time.perf_counter()
        while send_due(self.db, self.providers, limit=500):
            pass
        self.dispatch_s.append(dispatched - started)
        self.send_s.append(time.perf_counter() - dispatched)


def _place(db: Database, store: str, sku: str, n: int) -> tuple[str, str, float]:
    with db.uow() as uow:
        placed = place_order(
            uow,
            OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    GroupRequest(Method.CLICK_AND_COLLECT, [LineRequest(sku, 1)], location_id=store)
                ],
                contact={"email": f"bench{n}@example.com", "name": "Bench"},
            ),
        )
        order_id = placed.order.id
    committed = time.perf_counter()
    from omnicanal.orders.tables import FulfilmentGroupRow

    with db.read() as session:
        group_id = session.scalars(
            select(FulfilmentGroupRow.id).where(FulfilmentGroupRow.order_id == order_id)
        ).one()
    return order_id, group_id, committed


def _latencies(db: Database, stamped: Stamped, committed: dict[str, float]) -> list[float]:
    from omnicanal.notifications.tables import NotificationMessageRow

    with db.read() as session:
        rows = session.execute(
            select(
                NotificationMessageRow.id,
                NotificationMessageRow.order_id,
                NotificationMessageRow.template,
            )
        ).all()
    out = []
    for message_id, order_id, template in rows:
        key = f"{order_id}:{template}"
        if message_id in stamped.handed and key in committed:
            out.append(stamped.handed[message_id] - committed[key])
    return out


def single(db: Database, store: str, sku: str, provider: Provider, n: int) -> dict[str, Any]:
    stamped = Stamped(provider)
    pipeline = Pipeline(
        db, {Channel.EMAIL: stamped, Channel.SMS: LogProvider(), Channel.PUSH: LogProvider()}
    )
    committed: dict[str, float] = {}
    for i in range(n):
        order_id, group_id, t0 = _place(db, store, sku, i)
        committed[f"{order_id}:order_placed"] = t0
        pipeline.run_workers()
        with db.uow() as uow:
            fulfilment.mark_ready(uow, group_id)
        committed[f"{order_id}:ready_for_pickup"] = time.perf_counter()
        pipeline.run_workers()
    result = percentiles(_latencies(db, stamped, committed))
    result["dispatcher_p50_ms"] = percentiles(pipeline.dispatch_s)["p50_ms"]
    result["sender_p50_ms"] = percentiles(pipeline.send_s)["p50_ms"]
    return result


def burst(db: Database, store: str, sku: str, provider: Provider, n: int) -> dict[str, Any]:
    stamped = Stamped(provider)
    pipeline = Pipeline(
        db, {Channel.EMAIL: stamped, Channel.SMS: LogProvider(), Channel.PUSH: LogProvider()}
    )
    before = len(stamped.handed)
    committed: dict[str, float] = {}
    started = time.perf_counter()
    for i in range(n):
        order_id, _, t0 = _place(db, store, sku, 10_000 + i)
        committed[f"{order_id}:order_placed"] = t0
    placed_at = time.perf_counter()
    pipeline.run_workers()
    drained = time.perf_counter()
    result = percentiles(_latencies(db, stamped, committed))
    result["messages_per_s"] = round((len(stamped.handed) - before) / (drained - placed_at), 1)
    result["placing_s"] = round(placed_at - started, 2)
    return result


def _smtp_server() -> tuple[Any, int]:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def run(backend: str, n: int, n_burst: int) -> dict[str, Any]:
    controller, port = _smtp_server()
    providers: dict[str, Callable[[], Provider]] = {
        "log": LogProvider,
        "smtp": lambda: SmtpProvider("127.0.0.1", port, "bench@example.com"),
    }
    results: dict[str, Any] = {
        "backend": backend,
        "machine": machine(),
        "cpu_busy_before": cpu_busy(2),
    }
    if backend == "postgres":
        results["postgres"] = postgres_version()
    try:
        for name, make in providers.items():
            db = _fresh(_url(backend))
            store, sku = _store_and_sku(db)
            log(f"{backend} {name}: single x{n}")
            results[f"single_{name}"] = single(db, store, sku, make(), n)
            log(f"{backend} {name}: burst x{n_burst}")
            results[f"burst_{name}"] = burst(db, store, sku, make(), n_burst)
            db.dispose()
    finally:
        controller.stop()
    save(f"notifications-{backend}", results)
    return results


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--burst", type=int, default=200)
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(
        "| backend | provider | scenario | p50 ms | p99 ms | n | msg/s | dispatch / send p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for backend in backends:
        result = run(backend, args.n, args.burst)
        for provider in ("log", "smtp"):
            for scenario in ("single", "burst"):
                r = result[f"{scenario}_{provider}"]
                print(
                    f"| {backend} | {provider} | {scenario} | {r['p50_ms']} | {r['p99_ms']} | "
                    f"{r['n']} | {r.get('messages_per_s', '')} | "
                    f"{r.get('dispatcher_p50_ms', '')} / {r.get('sender_p50_ms', '')} |"
                )


if __name__ == "__main__":
    main()
