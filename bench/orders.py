"""Order benchmarks of the issue "One order management system": measured, never asserted.

``python -m bench.orders [--quick] [--only placement|checkout|routing]``
``[--backend postgres|sqlite|both] [--clients N]... [--workers N]...``

- ``placement``: ``POST /v1/orders`` alone against ``omnicanal serve`` (1 and 2 uvicorn worker
  processes), 8 and 16 client threads with keep-alive ``httpx2`` clients; in the same run the
  service layer in-process (no HTTP) and the raw-SQL ceiling of the same writes (psycopg /
  sqlite3 directly, same threads); orders/s, p50/p95/p99, CPU per order (server, client,
  PostgreSQL backends); then where one placement's time goes: one client in-process, timed
  by section of code (wall, SQL, statements) plus cProfile's top self times, and (PostgreSQL)
  a one-worker server under cProfile with per-thread CPU timers while 8 clients place orders.
- ``checkout``: a web shop's whole checkout over HTTP: open a cart, add 1-2 lines, ask the
  delivery options for the address (basket availability), choose a pickup store (click &
  collect) or keep home delivery, place the order with the payment reference; whole orders/s,
  p50/p95 per step.
- ``routing``: a simulated week of home-delivery orders over the demo network (24 stores,
  2 warehouses, demo stock), placed for real through ``orders.service.place_order`` so stock
  depletes; split rate, km, cost (``RoutingConfig`` cost model) and unfulfillable share against
  two baselines computed on the same orders: nearest store only, central warehouse only.

Data: (a)/(b) use the demo retailer with every SKU everywhere and 100,000 more units per
level (``omnicanal_bench_orders`` on the PostgreSQL at ``OMNICANAL_BENCH_PG_URL``, or
``var/bench/bench-orders.db``), reset before and after each scenario; (c) uses the demo data set
as seeded (``var/bench/bench-orders-routing*.db``, SQLite: routing quality does not depend on
the database). Results: printed as Markdown, raw JSON in ``bench/results/orders-*.json``.
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import hashlib
import json
import os
import pstats
import random
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import psutil  # type: ignore[import-untyped]
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from bench.common import (
    RESULTS,
    ROOT,
    Load,
    Refused,
    Work,
    database_url,
    free_port,
    log,
    machine,
    pg_reachable,
    postgres_version,
    run_threads,
    save,
    server,
)
from omnicanal.auth.service import KeyAuthenticator, create_key, hash_secret
from omnicanal.auth.tables import ApiKeyRow
from omnicanal.demo.seed import seed_retailer
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.routing import Demand, RoutingConfig, route
from omnicanal.orders.solver import solve
from omnicanal.orders.sourcing import load_candidates, routing_config
from omnicanal.orders.tables import FulfilmentGroupRow
from omnicanal.shared.errors import Conflict
from omnicanal.shared.geo import haversine_km
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.migrate import upgrade
from omnicanal.storage.registry import load_all_tables

Log = Callable[[str], None]
Lines = tuple[tuple[str, int], ...]

CLIENTS = (8, 16)
WORKERS = (1, 2)
HOME_SHARE = 0.7  # placement mix: 70 % home delivery, 30 % click & collect
ORDERS_DATA = "orders"  # omnicanal_bench_orders / var/bench/bench-orders.db
ORDERS_MARKER = "orders-v1"
TOP_UP = 100_000  # units added to every level: orders never run out during a run
KEY_SECRET = "ock_bench_orders_web"
KEY_SCOPES = [
    "catalog:read",
    "locations:read",
    "inventory:read",
    "carts:read",
    "carts:write",
    "orders:read",
    "orders:write",
]


# -- statistics -----------------------------------------------------------------------------------
def quantiles(samples: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of durations in seconds."""
    if not samples:
        return {"n": 0}
    ms = sorted(s * 1000 for s in samples)
    if len(ms) == 1:
        return {"p50_ms": round(ms[0], 1), "p95_ms": round(ms[0], 1), "p99_ms": round(ms[0], 1)}
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "n": len(ms),
    }


# -- data set for placement and checkout ----------------------------------------------------------
def _marker(db: Database) -> str | None:
    with db.engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT value FROM bench_marker")).first()
        except Exception:
            return None
    return str(row[0]) if row else None


def _schema_version() -> str:
    """The tables as the code declares them (columns, types, indexes) and the migration head:
    a data set made for other tables is made again."""
    from alembic.script import ScriptDirectory

    from omnicanal.storage.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    tables = load_all_tables().tables.values()
    described = sorted(
        [f"{t.name}.{c.name}:{c.type}" for t in tables for c in t.columns]
        + [f"{t.name}#{i.name}" for t in tables for i in t.indexes]
    )
    return f"{head}-{hashlib.sha1(chr(10).join(described).encode()).hexdigest()[:10]}"


def _schema(db: Database, url: str) -> None:
    """The tables the code declares (as the tests make them), stamped at the migration head so
    ``omnicanal serve`` finds nothing to migrate."""
    from alembic import command

    from omnicanal.storage.migrate import alembic_config

    load_all_tables().drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text("DROP TABLE IF EXISTS bench_marker"))
    load_all_tables().create_all(db.engine)
    command.stamp(alembic_config(url), "head")


def _set_marker(db: Database, value: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
        conn.execute(text("CREATE TABLE bench_marker (value VARCHAR(80))"))
        conn.execute(text("INSERT INTO bench_marker VALUES (:v)"), {"v": value})


def prepare_orders(backend: str, log: Log) -> str:
    """The demo retailer (24 stores, 2 warehouses, 2,400 SKUs) with every SKU at every location
    and 100,000 more units on every level (a receipt movement each, so the ledger still sums to
    the levels), and a daily capacity of 1,000,000 orders per location (so the capacity count
    still runs). Created once, reused; returns its URL."""
    url = database_url(backend, ORDERS_DATA)
    db = Database(url)
    try:
        marker = f"{ORDERS_MARKER}@{_schema_version()}"
        if _marker(db) == marker:
            log(f"  reusing {backend} data set {marker}")
            return url
        log(f"  loading {backend} data set {marker} (once)…")
        started = time.perf_counter()
        _schema(db, url)
        seed_retailer(db, density=1.0)
        now = db.clock.now()
        with db.engine.begin() as conn:
            keys = conn.execute(text("SELECT sku, location_id FROM stock_levels")).all()
            conn.execute(
                text(
                    "INSERT INTO stock_movements (id, sku, location_id, kind, d_on_hand, "
                    "d_reserved, d_committed, d_damaged, d_incoming, reason, reference_type, "
                    "reference_id, actor, occurred_at) VALUES (:id, :sku, :loc, 'receipt', :q, "
                    "0, 0, 0, 0, 'benchmark top-up', 'import', 'bench-orders', 'system', :now)"
                ),
                [
                    {"id": new_id("mov"), "sku": s, "loc": loc, "q": TOP_UP, "now": now}
                    for s, loc in keys
                ],
            )
            conn.execute(text("UPDATE stock_levels SET on_hand = on_hand + :q"), {"q": TOP_UP})
            conn.execute(text("UPDATE locations SET daily_order_capacity = 1000000"))
        _set_marker(db, marker)
        log(f"  loaded {len(keys)} levels in {time.perf_counter() - started:.0f}s")
        return url
    finally:
        db.dispose()


_ORDER_TABLES = (
    "order_lines",
    "order_payments",
    "fulfilment_groups",
    "orders",
    "cart_handoffs",
    "cart_lines",
    "carts",
)


def _top(db: Database, sql: str) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


@dataclass(frozen=True)
class Mark:
    movements: int
    events: int
    idempotency: int


def mark(db: Database) -> Mark:
    return Mark(
        _top(db, "SELECT MAX(seq) FROM stock_movements"),
        _top(db, "SELECT MAX(seq) FROM outbox_events"),
        _top(db, "SELECT MAX(id) FROM idempotency_records"),
    )


def reset(db: Database, since: Mark) -> None:
    """Undo a scenario: levels minus the deltas of the movements written after ``since``, those
    movements, their reservations, events and idempotency records; every order and cart."""
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE stock_levels SET on_hand = stock_levels.on_hand - d.on_hand, "
                "reserved = stock_levels.reserved - d.reserved, "
                "committed = stock_levels.committed - d.committed "
                "FROM (SELECT sku, location_id, SUM(d_on_hand) AS on_hand, "
                "SUM(d_reserved) AS reserved, SUM(d_committed) AS committed "
                "FROM stock_movements WHERE seq > :m GROUP BY sku, location_id) AS d "
                "WHERE stock_levels.sku = d.sku AND stock_levels.location_id = d.location_id"
            ),
            {"m": since.movements},
        )
        conn.execute(text("DELETE FROM reservations"))
        conn.execute(text("DELETE FROM stock_movements WHERE seq > :m"), {"m": since.movements})
        conn.execute(text("DELETE FROM outbox_events WHERE seq > :m"), {"m": since.events})
        conn.execute(
            text("DELETE FROM idempotency_records WHERE id > :m"), {"m": since.idempotency}
        )
        for table in _ORDER_TABLES:
            conn.execute(text(f"DELETE FROM {table}"))
    if db.is_postgres:  # dead rows slow the next run's index scans down: clear them now
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            tables = (
                *_ORDER_TABLES,
                "reservations",
                "stock_levels",
                "stock_movements",
                "outbox_events",
                "idempotency_records",
            )
            conn.execute(text(f"VACUUM (ANALYZE) {', '.join(tables)}"))


def bench_key(url: str) -> str:
    """The benchmark's web key (explicit scopes) in the data set's database; returns its secret."""
    db = Database(url)
    try:
        with db.uow() as uow:
            found = uow.session.scalar(
                select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == hash_secret(KEY_SECRET))
            )
            if found is None:
                create_key(
                    uow,
                    name="Benchmarks (orders, web)",
                    channel="web",
                    scopes=KEY_SCOPES,
                    secret=KEY_SECRET,
                )
    finally:
        db.dispose()
    return KEY_SECRET


# -- what a channel knows: SKUs, places, customers ------------------------------------------------
@dataclass(frozen=True)
class Place:
    id: str
    code: str
    kind: str
    lat: float
    lon: float
    capabilities: frozenset[str]
    capacity: int | None


@dataclass(frozen=True)
class Shop:
    skus: tuple[str, ...]  # sellable on the web, ordered
    places: tuple[Place, ...]

    @property
    def pickup_stores(self) -> list[Place]:
        return [p for p in self.places if "pickup" in p.capabilities and p.kind == "store"]

    def by_id(self) -> dict[str, Place]:
        return {p.id: p for p in self.places}


def load_shop(db: Database, assortments: Sequence[str] = ("omnichannel",)) -> Shop:
    with db.engine.connect() as conn:
        skus = tuple(
            r[0]
            for r in conn.execute(
                text(
                    "SELECT v.sku FROM variants v JOIN products p ON p.id = v.product_id "
                    "WHERE v.status = 'active' AND p.status = 'active' AND p.assortment IN "
                    f"({', '.join(repr(a) for a in assortments)}) ORDER BY v.sku"
                )
            )
        )
        rows = conn.execute(
            text(
                "SELECT id, code, kind, latitude, longitude, capabilities, daily_order_capacity "
                "FROM locations WHERE status = 'active' AND kind IN ('store', 'warehouse') "
                "ORDER BY code"
            )
        ).all()
    places = tuple(
        Place(
            r[0],
            r[1],
            r[2],
            float(r[3]),
            float(r[4]),
            frozenset(json.loads(r[5]) if isinstance(r[5], str) else r[5]),
            r[6],
        )
        for r in rows
    )
    return Shop(skus, places)


# (city, postcode, latitude, longitude, weight ~ thousands of online orders a year)
CITIES: list[tuple[str, str, float, float, int]] = [
    ("Paris", "75011", 48.8566, 2.3522, 1100),
    ("Lyon", "69003", 45.7640, 4.8357, 230),
    ("Marseille", "13001", 43.2965, 5.3698, 190),
    ("Toulouse", "31000", 43.6047, 1.4442, 140),
    ("Lille", "59000", 50.6292, 3.0573, 120),
    ("Bordeaux", "33000", 44.8378, -0.5792, 120),
    ("Nice", "06000", 43.7102, 7.2620, 100),
    ("Nantes", "44000", 47.2184, -1.5536, 100),
    ("Strasbourg", "67000", 48.5734, 7.7521, 80),
    ("Montpellier", "34000", 43.6108, 3.8767, 80),
    ("Rennes", "35000", 48.1173, -1.6778, 70),
    ("Grenoble", "38000", 45.1885, 5.7245, 70),
    ("Rouen", "76000", 49.4432, 1.0999, 65),
    ("Toulon", "83000", 43.1242, 5.9280, 60),
    ("Saint-Étienne", "42000", 45.4397, 4.3872, 50),
    ("Tours", "37000", 47.3941, 0.6848, 50),
    ("Metz", "57000", 49.1193, 6.1757, 45),
    ("Nancy", "54000", 48.6921, 6.1844, 45),
    ("Clermont-Ferrand", "63000", 45.7772, 3.0870, 45),
    ("Avignon", "84000", 43.9493, 4.8055, 45),
    ("Orléans", "45000", 47.9029, 1.9093, 45),
    ("Dijon", "21000", 47.3220, 5.0415, 40),
    ("Angers", "49000", 47.4784, -0.5632, 40),
    ("Caen", "14000", 49.1829, -0.3707, 40),
    ("Reims", "51100", 49.2583, 4.0317, 30),
    ("Le Havre", "76600", 49.4944, 0.1079, 30),
    ("Brest", "29200", 48.3904, -4.4861, 30),
    ("Limoges", "87000", 45.8336, 1.2611, 30),
    ("Amiens", "80000", 49.8941, 2.2958, 30),
    ("Perpignan", "66000", 42.6887, 2.8948, 30),
    ("Bayonne", "64100", 43.4929, -1.4748, 30),
    ("Besançon", "25000", 47.2378, 6.0241, 25),
    ("Poitiers", "86000", 46.5802, 0.3404, 25),
    ("Pau", "64000", 43.2951, -0.3708, 25),
    ("Mulhouse", "68100", 47.7508, 7.3359, 25),
    ("Annecy", "74000", 45.8992, 6.1294, 25),
    ("Nîmes", "30000", 43.8367, 4.3601, 25),
    ("Le Mans", "72000", 48.0061, 0.1996, 25),
    ("La Rochelle", "17000", 46.1603, -1.1511, 20),
    ("Quimper", "29000", 47.9960, -4.1020, 10),
]
_CITY_WEIGHTS = [c[4] for c in CITIES]
STREETS = ["rue de la République", "avenue Jean-Jaurès", "rue Victor-Hugo", "place du Marché"]


def customer_address(rng: random.Random) -> dict[str, Any]:
    """A customer somewhere in mainland France: 85 % in or around a city (weighted by size),
    15 % in the countryside further out (deterministic for the generator's seed)."""
    city, postcode, lat, lon, _ = rng.choices(CITIES, weights=_CITY_WEIGHTS)[0]
    spread = 0.6 if rng.random() < 0.15 else (0.15 if city == "Paris" else 0.08)
    return {
        "name": f"Client {rng.randrange(10**6):06d}",
        "line1": f"{rng.randint(1, 120)} {rng.choice(STREETS)}",
        "postcode": postcode,
        "city": city,
        "country": "FR",
        "latitude": round(max(42.4, min(51.0, rng.gauss(lat, spread))), 5),
        "longitude": round(max(-4.7, min(8.2, rng.gauss(lon, spread * 1.4))), 5),
    }


def small_basket(rng: random.Random, skus: Sequence[str]) -> Lines:
    """1-2 lines (60/40), 1 unit each (15 %: 2), SKUs uniform over the catalogue."""
    picked = rng.sample(skus, 1 if rng.random() < 0.6 else 2)
    return tuple(sorted((s, 2 if rng.random() < 0.15 else 1) for s in picked))


@dataclass(frozen=True)
class Planned:
    """One order a channel sends."""

    method: str  # home_delivery | click_and_collect
    lines: Lines
    address: dict[str, Any]
    location_id: str | None  # pickup store
    ref: str  # unique: the channel's order number and the PSP reference derive from it

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "method": self.method,
            "lines": [{"sku": s, "quantity": q} for s, q in self.lines],
            "contact": {"email": f"{self.ref}@example.fr", "name": self.address["name"]},
            "payment": {"kind": "authorised", "provider": "adyen", "reference": f"psp_{self.ref}"},
            "external_ref": f"WEB-{self.ref}",
        }
        if self.method == "home_delivery":
            body["shipping_address"] = self.address
        else:
            body["location_id"] = self.location_id
        return body

    def request(self) -> orders.OrderRequest:
        home = self.method == "home_delivery"
        return orders.OrderRequest(
            channel="web",
            currency="EUR",
            groups=[
                orders.GroupRequest(
                    method=Method(self.method),
                    lines=[orders.LineRequest(s, q) for s, q in self.lines],
                    location_id=self.location_id,
                )
            ],
            contact={"email": f"{self.ref}@example.fr", "name": self.address["name"]},
            shipping_address=self.address if home else None,
            external_ref=f"WEB-{self.ref}",
            payment=orders.PaymentRequest("authorised", "adyen", f"psp_{self.ref}"),
        )


def plan_order(rng: random.Random, shop: Shop) -> Planned:
    address = customer_address(rng)
    lines = small_basket(rng, shop.skus)
    ref = uuid.UUID(int=rng.getrandbits(128)).hex[:20] + uuid.uuid4().hex[:6]
    if rng.random() < HOME_SHARE:
        return Planned("home_delivery", lines, address, None, ref)
    store = rng.choice(shop.pickup_stores)
    return Planned("click_and_collect", lines, address, store.id, ref)


# -- CPU accounting -------------------------------------------------------------------------------
def _cpu(proc: Any) -> float:
    with suppress(psutil.Error):
        t = proc.cpu_times()
        return float(t.user + t.system)
    return 0.0


class CpuMeter:
    """CPU seconds spent during the measured window by the server processes, this process (the
    clients, or everything in-process), the PostgreSQL backends of our database, and the whole
    machine (other people's work included)."""

    def __init__(self, server_pid: int | None, pg_url: str | None) -> None:
        self.server_pid = server_pid
        self.pg_dsn = _psycopg_dsn(pg_url) if pg_url else None
        self.pg_db = make_url(pg_url).database if pg_url else None
        self.me = psutil.Process()
        self.marks: list[dict[str, Any]] = []

    def _pg_pids(self) -> list[int]:
        if not self.pg_dsn:
            return []
        import psycopg

        with psycopg.connect(self.pg_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (self.pg_db,),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def snapshot(self) -> None:
        server = 0.0
        if self.server_pid:
            with suppress(psutil.Error):
                parent = psutil.Process(self.server_pid)
                server = sum(_cpu(p) for p in [parent, *parent.children(recursive=True)])
        pg: dict[int, float] = {}
        for pid in self._pg_pids():
            with suppress(psutil.Error):
                pg[pid] = _cpu(psutil.Process(pid))
        total = psutil.cpu_times()
        busy = sum(total) - total.idle - getattr(total, "iowait", 0.0)
        self.marks.append(
            {
                "t": time.perf_counter(),
                "server": server,
                "me": _cpu(self.me),
                "pg": pg,
                "busy": busy,
            }
        )

    def schedule(self, at: Sequence[float]) -> threading.Thread:
        def run() -> None:
            for moment in at:
                time.sleep(max(0.0, moment - time.perf_counter()))
                self.snapshot()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        return thread

    def per_order(self, done: int) -> dict[str, Any]:
        if len(self.marks) < 2 or not done:
            return {}
        a, b = self.marks[0], self.marks[-1]
        seconds = b["t"] - a["t"]
        pg = sum(b["pg"][p] - a["pg"].get(p, 0.0) for p in b["pg"])
        ours = (b["server"] - a["server"]) + (b["me"] - a["me"]) + pg

        def ms(x: float) -> float:
            return round(1000 * x / done, 2)

        busy = b["busy"] - a["busy"]
        return {
            "server_cpu_ms": ms(b["server"] - a["server"]),
            "client_cpu_ms": ms(b["me"] - a["me"]),
            "pg_cpu_ms": ms(pg),
            "machine_busy": round(busy / (seconds * (os.cpu_count() or 1)), 2),
            "others_busy": round(max(0.0, busy - ours) / (seconds * (os.cpu_count() or 1)), 2),
        }


def measured(
    work: Work,
    *,
    threads: int,
    seconds: float,
    warmup: float,
    meter: CpuMeter,
    seed: int,
) -> Load:
    start = time.perf_counter() + 0.2
    meter.schedule([start + warmup, start + warmup + seconds])
    load, _ = run_threads(work, threads=threads, seconds=seconds, warmup=warmup, seed=seed)
    time.sleep(0.05)
    return load


def _row(load: Load, meter: CpuMeter) -> dict[str, Any]:
    out: dict[str, Any] = {
        "per_second": round(load.rate, 1),
        "ok": load.ok,
        "refused": load.refused,
        "errors": load.errors,
        **quantiles(load.latencies),
        **meter.per_order(load.ok),
    }
    if load.first_error:
        out["first_error"] = load.first_error
    return out


def _psycopg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# -- (a) placement: HTTP, service layer -----------------------------------------------------------
def _client(clients: dict[int, httpx2.Client], index: int, base: str, secret: str) -> httpx2.Client:
    client = clients.get(index)
    if client is None:
        headers = {"Authorization": f"Bearer {secret}"}
        client = clients[index] = httpx2.Client(base_url=base, headers=headers, timeout=120)
    return client


def warm(base: str, secret: str, shop: Shop, n: int = 20) -> None:
    """A fresh server builds its routes, statement caches and connections on first use."""
    work = http_place(base, secret, shop)
    rng = random.Random(0)
    for _ in range(n):
        work(rng, 0)


def http_place(base: str, secret: str, shop: Shop) -> Work:
    clients: dict[int, httpx2.Client] = {}

    def work(rng: random.Random, index: int) -> None:
        client = _client(clients, index, base, secret)
        response = client.post(
            "/v1/orders",
            json=plan_order(rng, shop).body(),
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        if response.status_code != 201:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    return work


def service_place(db: Database, shop: Shop) -> Work:
    def work(rng: random.Random, index: int) -> None:
        with db.uow() as uow:
            orders.place_order(uow, plan_order(rng, shop).request())

    return work


# -- (a) placement: the raw-SQL ceiling -----------------------------------------------------------
_NAMED = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")
C_PRICES = (
    "SELECT v.sku, v.title, p.assortment, b.amount_minor FROM variants v "
    "JOIN products p ON p.id = v.product_id "
    "LEFT JOIN base_prices b ON b.sku = v.sku AND b.currency = 'EUR' "
    "WHERE v.sku IN ({skus}) AND v.status = 'active' AND p.status = 'active'"
)
C_CANDIDATES = (
    "SELECT s.sku, s.location_id, "
    "s.on_hand - s.reserved - s.committed - s.damaged - s.safety_stock, "
    "l.code, l.kind, l.latitude, l.longitude, l.capabilities, l.daily_order_capacity "
    "FROM stock_levels s JOIN locations l ON l.id = s.location_id "
    "WHERE s.sku IN ({skus}) AND l.status = 'active' AND l.kind IN ('store', 'warehouse'){only}"
)
C_CAPACITY = (
    "SELECT location_id, count(*) FROM fulfilment_groups WHERE location_id IN ({locs}) "
    "AND allocated_on = :day AND status <> 'cancelled' GROUP BY location_id"
)
C_LOCK = (
    "SELECT sku, on_hand, reserved, committed, damaged, safety_stock FROM stock_levels "
    "WHERE location_id = :loc AND sku IN ({skus}) ORDER BY sku{lock}"
)
C_COMMIT = (
    "UPDATE stock_levels SET committed = committed + :q, updated_at = :now "
    "WHERE sku = :sku AND location_id = :loc"
)
C_ORDER = (
    "INSERT INTO orders (id, channel, store_id, customer_id, external_ref, cart_id, currency, "
    "subtotal_minor, total_minor, discount_minor, bonus_points, promotions, status, "
    "status_partial, locale, contact, shipping_address, routing, created_at, updated_at) VALUES "
    "(:id, 'web', NULL, NULL, :ref, NULL, 'EUR', :total, :total, 0, 0, '[]', 'allocated', "
    ":false, 'en', :contact, :address, :routing, :now, :now)"
)
C_GROUP = (
    "INSERT INTO fulfilment_groups (id, order_id, method, status, location_id, allocated_on, "
    "code_attempts, promised_by, routing, created_at, updated_at) VALUES (:id, :order_id, "
    ":method, 'allocated', :loc, :day, 0, :promised, :routing, :now, :now)"
)
C_RESERVATION = (
    "INSERT INTO reservations (id, owner_type, owner_id, sku, location_id, quantity, status, "
    "channel, expires_at, created_at) VALUES (:id, 'order', :owner, :sku, :loc, :q, 'active', "
    "'web', NULL, :now)"
)
C_MOVEMENT = (
    "INSERT INTO stock_movements (id, sku, location_id, kind, d_on_hand, d_reserved, "
    "d_committed, d_damaged, d_incoming, reference_type, reference_id, reservation_id, actor, "
    "occurred_at) VALUES (:id, :sku, :loc, 'reservation', 0, 0, :q, 0, 0, 'order', :owner, :res, "
    ":actor, :now)"
)
C_LINE = (
    "INSERT INTO order_lines (id, order_id, group_id, sku, title, quantity, quantity_cancelled, "
    "unit_price_minor, discount_minor, reservation_id) VALUES (:id, :order_id, :group_id, :sku, "
    ":title, :q, 0, :price, 0, :res)"
)
C_PAYMENT = (
    "INSERT INTO order_payments (id, order_id, kind, provider, reference, amount_minor, "
    "currency, created_at) VALUES (:id, :order_id, 'authorised', 'adyen', :reference, :total, "
    "'EUR', :now)"
)
C_EVENT = (
    "INSERT INTO outbox_events (id, type, subject, data, occurred_at) VALUES "
    "(:id, :type, :subject, :data, :now)"
)
C_IDEMPOTENCY = (
    "INSERT INTO idempotency_records (api_key_id, idempotency_key, request_hash, method, path, "
    "status_code, response_body, created_at) VALUES (:key_id, :key, :hash, 'POST', "
    "'/v1/orders', 201, :body, :now)"
)
HANDLING = RoutingConfig().handling


def _amount(minor: int) -> dict[str, str]:
    return {"amount": f"{minor / 100:.2f}", "currency": "EUR"}


class Ceiling:
    """The same rows as one placement, hand-written SQL, no ORM, no domain objects, no HTTP:
    read prices and the routing candidates, count today's groups at the limited candidates,
    pick the cheapest location holding the whole basket (handling + distance), lock its levels,
    bump ``committed``; insert the order, its group (with the routing explanation), one
    reservation, ledger movement and order line per line, the payment, the outbox events
    (``inventory.stock.changed`` + ``inventory.reservation.created`` per line,
    ``orders.order.placed``) and the idempotency record holding the response. One transaction
    per order; PostgreSQL through psycopg (one connection per client thread), SQLite through
    sqlite3 (``BEGIN IMMEDIATE``)."""

    def __init__(self, url: str, key_id: str) -> None:
        self.url = url
        self.pg = make_url(url).get_backend_name() == "postgresql"
        self.key_id = key_id
        self.conns: dict[int, Any] = {}

    # dialect plumbing
    def _sql(self, sql: str) -> str:
        return _NAMED.sub(r"%(\1)s", sql) if self.pg else sql

    def _json(self, value: Any) -> Any:
        if self.pg:
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return json.dumps(value)

    def _ts(self, value: datetime) -> Any:
        return value if self.pg else value.strftime("%Y-%m-%d %H:%M:%S.%f")

    def _conn(self, index: int) -> Any:
        conn = self.conns.get(index)
        if conn is None:
            if self.pg:
                import psycopg

                conn = psycopg.connect(_psycopg_dsn(self.url))
            else:
                path = make_url(self.url).database
                conn = sqlite3.connect(
                    str(path), isolation_level=None, check_same_thread=False, timeout=60
                )
                for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
                    conn.execute(f"PRAGMA {pragma}")
            self.conns[index] = conn
        return conn

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()
        self.conns.clear()

    @staticmethod
    def _in(prefix: str, values: Sequence[str]) -> tuple[str, dict[str, str]]:
        names = [f"{prefix}{i}" for i in range(len(values))]
        return ", ".join(f":{n}" for n in names), dict(zip(names, values, strict=True))

    def work(self, shop: Shop) -> Work:
        def work(rng: random.Random, index: int) -> None:
            self.place(index, plan_order(rng, shop))

        return work

    def place(self, index: int, o: Planned) -> None:
        conn = self._conn(index)
        cur = conn.cursor()
        if not self.pg:
            cur.execute("BEGIN IMMEDIATE")
        try:
            self._place(cur, o)
        except BaseException:
            conn.rollback() if self.pg else cur.execute("ROLLBACK")
            raise
        conn.commit() if self.pg else cur.execute("COMMIT")

    def _place(self, cur: Any, o: Planned) -> None:
        now = datetime.now(UTC)
        ts = self._ts(now)
        day = now.date().isoformat()
        skus = [s for s, _ in o.lines]
        wanted = dict(o.lines)
        marks, params = self._in("s", skus)
        cur.execute(self._sql(C_PRICES.format(skus=marks)), params)
        priced = {r[0]: (r[1], int(r[3])) for r in cur.fetchall() if r[2] != "store_only"}
        if len(priced) != len(skus):
            raise RuntimeError(f"unpriced SKU in {skus}")
        only = " AND s.location_id = :only" if o.location_id else ""
        cur.execute(
            self._sql(C_CANDIDATES.format(skus=marks, only=only)),
            {**params, "only": o.location_id} if o.location_id else params,
        )
        stock: dict[str, dict[str, int]] = defaultdict(dict)
        info: dict[str, Any] = {}
        for sku, loc, atp, code, kind, lat, lon, caps, capacity in cur.fetchall():
            stock[loc][sku] = max(0, int(atp))
            info[loc] = (code, kind, lat, lon, caps, capacity)
        limited = [loc for loc, i in info.items() if i[5] is not None]
        used: dict[str, int] = {}
        if limited:
            lmarks, lparams = self._in("l", limited)
            cur.execute(self._sql(C_CAPACITY.format(locs=lmarks)), {**lparams, "day": day})
            used = {r[0]: int(r[1]) for r in cur.fetchall()}
        need = "ship" if o.method == "home_delivery" else "pickup"
        dest = (o.address["latitude"], o.address["longitude"])
        notes: list[dict[str, Any]] = []
        best: tuple[int, str, str] | None = None
        for loc, (code, kind, lat, lon, caps, capacity) in info.items():
            capabilities = json.loads(caps) if isinstance(caps, str) else caps
            km = haversine_km(dest[0], dest[1], lat, lon) if o.method == "home_delivery" else None
            whole = all(stock[loc].get(s, 0) >= q for s, q in wanted.items())
            eligible = need in capabilities and (capacity is None or capacity > used.get(loc, 0))
            cost = HANDLING(kind) + (round(km * 2) if km is not None else 0)
            notes.append(
                {
                    "location_id": loc,
                    "code": code,
                    "kind": kind,
                    "distance_km": None if km is None else round(km, 1),
                    "score_minor": cost if eligible else None,
                    "whole_basket": whole,
                    "dropped_by": None if eligible else "eligibility",
                    "why": None if eligible else f"no '{need}' capability",
                }
            )
            if eligible and whole and (best is None or (cost, code) < best[:2]):
                best = (cost, code, loc)
        if best is None:
            raise Refused
        loc = best[2]
        lock = " FOR UPDATE" if self.pg else ""
        cur.execute(self._sql(C_LOCK.format(skus=marks, lock=lock)), {**params, "loc": loc})
        levels = {r[0]: r[1:] for r in cur.fetchall()}
        for sku, q in wanted.items():
            on_hand, reserved, committed, damaged, safety = levels[sku]
            if on_hand - reserved - committed - damaged - safety < q:
                raise Refused
        cur.executemany(
            self._sql(C_COMMIT),
            [{"q": q, "now": ts, "sku": s, "loc": loc} for s, q in sorted(wanted.items())],
        )
        order_id, group_id = new_id("ord"), new_id("ful")
        total = sum(priced[s][1] * q for s, q in wanted.items())
        figures = {"brokered": o.location_id is None, "split": False, "first_rule": True}
        hours = 2 if o.method != "home_delivery" else (48 if info[loc][1] == "warehouse" else 24)
        explanation = {
            "rule": "single_location",
            "reason": f"{best[1]} has the whole basket at the lowest cost ({best[0]})",
            "short": {},
            "assignments": [{"location_id": loc, "lines": wanted}],
            "candidates": sorted(notes, key=lambda n: (n["score_minor"] is None, n["code"])),
        }
        cur.execute(
            self._sql(C_ORDER),
            {
                "id": order_id,
                "ref": f"WEB-{o.ref}",
                "total": total,
                "false": False,
                "contact": self._json({"email": f"{o.ref}@example.fr"}),
                "address": self._json(o.address) if o.method == "home_delivery" else None,
                "routing": self._json({**figures, "groups": 1}),
                "now": ts,
            },
        )
        cur.execute(
            self._sql(C_GROUP),
            {
                "id": group_id,
                "order_id": order_id,
                "method": o.method,
                "loc": loc,
                "day": day,
                "promised": self._ts(now + timedelta(hours=hours)),
                "routing": self._json(explanation),
                "now": ts,
            },
        )
        held = {s: new_id("res") for s in wanted}
        cur.executemany(
            self._sql(C_RESERVATION),
            [
                {"id": held[s], "owner": group_id, "sku": s, "loc": loc, "q": q, "now": ts}
                for s, q in wanted.items()
            ],
        )
        cur.executemany(
            self._sql(C_MOVEMENT),
            [
                {
                    "id": new_id("mov"),
                    "sku": s,
                    "loc": loc,
                    "q": q,
                    "owner": group_id,
                    "res": held[s],
                    "actor": self.key_id,
                    "now": ts,
                }
                for s, q in wanted.items()
            ],
        )
        lines = [
            {
                "id": new_id("orl"),
                "order_id": order_id,
                "group_id": group_id,
                "sku": s,
                "title": priced[s][0],
                "q": q,
                "price": priced[s][1],
                "res": held[s],
            }
            for s, q in sorted(wanted.items())
        ]
        cur.executemany(self._sql(C_LINE), lines)
        payment_id = new_id("pay")
        cur.execute(
            self._sql(C_PAYMENT),
            {
                "id": payment_id,
                "order_id": order_id,
                "reference": f"psp_{o.ref}",
                "total": total,
                "now": ts,
            },
        )
        events: list[tuple[str, str, dict[str, Any]]] = []
        for s, q in sorted(wanted.items()):
            on_hand, reserved, committed, damaged, safety = levels[s]
            events.append(
                (
                    "inventory.stock.changed",
                    s,
                    {
                        "sku": s,
                        "location_id": loc,
                        "movement": "reservation",
                        "on_hand": on_hand,
                        "reserved": reserved,
                        "committed": committed + q,
                        "damaged": damaged,
                        "available_to_promise": on_hand - reserved - committed - q - damaged,
                    },
                )
            )
            events.append(
                (
                    "inventory.reservation.created",
                    held[s],
                    {
                        "reservation_id": held[s],
                        "owner_type": "order",
                        "owner_id": group_id,
                        "sku": s,
                        "location_id": loc,
                        "quantity": q,
                        "expires_at": None,
                    },
                )
            )
        events.append(
            (
                "orders.order.placed",
                order_id,
                {
                    "order_id": order_id,
                    "channel": "web",
                    "customer_id": None,
                    "store_id": None,
                    "external_ref": f"WEB-{o.ref}",
                    "currency": "EUR",
                    "total": f"{total / 100:.2f}",
                    "total_minor": total,
                    "status": "allocated",
                    "lines": [
                        {
                            "sku": line["sku"],
                            "quantity": line["q"],
                            "unit_price_minor": line["price"],
                            "group_id": group_id,
                        }
                        for line in lines
                    ],
                    "groups": [
                        {
                            "group_id": group_id,
                            "method": o.method,
                            "location_id": loc,
                            "status": "allocated",
                        }
                    ],
                    "routing": {**figures, "groups": 1},
                },
            )
        )
        cur.executemany(
            self._sql(C_EVENT),
            [
                {"id": new_id("evt"), "type": t, "subject": s, "data": self._json(d), "now": ts}
                for t, s, d in events
            ],
        )
        body = {
            "id": order_id,
            "channel": "web",
            "external_ref": f"WEB-{o.ref}",
            "status": "allocated",
            "status_text": "Being prepared",
            "subtotal": _amount(total),
            "total": _amount(total),
            "contact": {"email": f"{o.ref}@example.fr"},
            "shipping_address": o.address if o.method == "home_delivery" else None,
            "routing": {**figures, "groups": 1},
            "created_at": now.isoformat(),
            "groups": [
                {
                    "id": group_id,
                    "method": o.method,
                    "status": "allocated",
                    "location_id": loc,
                    "location_name": best[1],
                    "promised_by": (now + timedelta(hours=hours)).isoformat(),
                    "lines": [
                        {
                            "id": line["id"],
                            "sku": line["sku"],
                            "title": line["title"],
                            "quantity": line["q"],
                            "unit_price": _amount(line["price"]),
                        }
                        for line in lines
                    ],
                }
            ],
            "payments": [
                {
                    "id": payment_id,
                    "kind": "authorised",
                    "provider": "adyen",
                    "reference": f"psp_{o.ref}",
                    "amount": _amount(total),
                    "created_at": now.isoformat(),
                }
            ],
        }
        cur.execute(
            self._sql(C_IDEMPOTENCY),
            {
                "key_id": self.key_id,
                "key": str(uuid.uuid4()),
                "hash": uuid.uuid4().hex + uuid.uuid4().hex,
                "body": self._json({"body": body}),
                "now": ts,
            },
        )


# -- (a) profile of one client --------------------------------------------------------------------
PROFILED = {
    "api.orders.place_order (endpoint, whole)": ("api/orders.py", "place_order"),
    "Write.run (idempotency + unit of work)": ("api/deps.py", "run"),
    "idempotency replay lookup (own transaction)": ("api/deps.py", "_replay"),
    "orders.service.place_order": ("orders/service.py", "place_order"),
    "sourcing.decide (candidates + rules + optimiser)": ("orders/sourcing.py", "decide"),
    "sourcing.load_candidates": ("orders/sourcing.py", "load_candidates"),
    "routing.route (pure)": ("orders/routing.py", "route"),
    "inventory.service.reserve": ("inventory/service.py", "reserve"),
    "service._price_lines": ("orders/service.py", "_price_lines"),
    "service.record_payment": ("orders/service.py", "record_payment"),
    "views.order_views (response, 4 SELECTs)": ("orders/views.py", "order_views"),
    "uow.emit -> outbox rows": ("storage/uow.py", "emit"),
    "Event.payload (asdict + to_jsonable)": ("events/model.py", "payload"),
    "Decision.explanation": ("orders/routing.py", "explanation"),
    "Session.flush (ORM unit of work)": ("orm/session.py", "flush"),
    "Session.commit": ("orm/session.py", "commit"),
    "jsonable_encoder (response body)": ("fastapi/encoders.py", "jsonable_encoder"),
    "JSONResponse.render": ("starlette/responses.py", "render"),
    "new_id": ("shared/ids.py", "new_id"),
    "uvicorn HTTP protocol (httptools)": ("protocols/http/httptools_impl.py", "run_asgi"),
    "FastAPI dependencies (auth, writer: body + fingerprint)": (
        "fastapi/dependencies/utils.py",
        "solve_dependencies",
    ),
    "request body validation (pydantic)": ("fastapi/dependencies/utils.py", "request_body_to_args"),
    "threadpool hop (anyio run_sync)": ("anyio/to_thread.py", "run_sync"),
    "telemetry middleware": ("fastapi/telemetry/_asgi.py", "__call__"),
}


SECTIONS: list[tuple[str, str, str]] = [
    # (module or class, attribute, label): the pieces of one placement, timed where called;
    # names missing from the code at hand are skipped
    ("omnicanal.api.deps:Write", "_replay", "idempotency replay lookup (own read transaction)"),
    ("omnicanal.orders.service", "place_order", "place_order itself (checks, external_ref, rows)"),
    ("omnicanal.orders.service", "_price_lines", "prices + sellability"),
    ("omnicanal.orders.service", "price_skus", "prices + sellability"),
    ("omnicanal.orders.service", "apply_promotions", "promotions"),
    ("omnicanal.orders.service", "routing_config", "routing settings row"),
    ("omnicanal.orders.service", "decide", "routing decision (glue)"),
    ("omnicanal.orders.sourcing", "load_candidates", "routing candidates (levels x locations)"),
    ("omnicanal.orders.sourcing", "_capacity_used", "daily capacity count"),
    ("omnicanal.orders.sourcing", "route", "routing rules + choice (pure)"),
    ("omnicanal.orders.service", "hold_group", "hold (glue)"),
    ("omnicanal.inventory.service", "reserve", "inventory.reserve (own code)"),
    ("omnicanal.inventory.service", "require_location", "reserve: location check"),
    ("omnicanal.inventory.service", "require_skus", "reserve: SKU check"),
    ("omnicanal.inventory.service", "lock_levels", "reserve: lock levels FOR UPDATE"),
    ("omnicanal.inventory.service", "record", "reserve: level + ledger row + stock event"),
    ("omnicanal.orders.service", "record_payment", "payment (dedupe SELECT + row)"),
    ("omnicanal.storage.uow:UnitOfWork", "emit", "events -> outbox rows (payload)"),
    ("omnicanal.orders.views", "order_views", "response view (4 SELECTs)"),
    ("omnicanal.api.deps", "jsonable_encoder", "response encoding (jsonable_encoder)"),
    ("omnicanal.idempotency.service", "record", "idempotency record (row)"),
    ("sqlalchemy.orm:Session", "flush", "ORM flush (INSERTs, UPDATEs)"),
    ("sqlalchemy.orm:Session", "commit", "commit"),
]


class Sections:
    """Exclusive wall time, SQL time and statements per section of code (``SECTIONS``):
    wrappers on the functions where they are looked up, a stack for nesting, the engine's
    cursor events for SQL. Cheap enough not to distort the picture (unlike cProfile)."""

    def __init__(self) -> None:
        self.stack: list[list[Any]] = []
        self.totals: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        self._undo: list[tuple[Any, str, Any]] = []

    def enter(self, label: str) -> None:
        self.stack.append([label, time.perf_counter(), 0.0])

    def leave(self) -> None:
        label, started, children = self.stack.pop()
        spent = time.perf_counter() - started
        self.totals[label][0] += spent - children
        if self.stack:
            self.stack[-1][2] += spent

    def statement(self, seconds: float) -> None:
        label = self.stack[-1][0] if self.stack else "(outside)"
        self.totals[label][1] += seconds
        self.totals[label][2] += 1

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.enter(label)
            try:
                return fn(*args, **kwargs)
            finally:
                self.leave()

        return wrapper

    def install(self, db: Database) -> None:
        import importlib

        for where, attr, label in SECTIONS:
            module_name, _, class_name = where.partition(":")
            target: Any = importlib.import_module(module_name)
            if class_name:
                target = getattr(target, class_name)
            original = getattr(target, "__dict__", {}).get(attr)
            if original is None:
                continue  # not in this version of the code
            self._undo.append((target, attr, original))
            setattr(target, attr, self.wrap(label, original))
        dialect = db.engine.dialect
        ping = dialect.do_ping
        self._undo.append((dialect, "do_ping", None))
        dialect.do_ping = self.wrap("pool pre-ping (a round trip per checkout)", ping)  # type: ignore[method-assign]
        started: dict[int, float] = {}

        def before(conn: Any, cursor: Any, *_: Any) -> None:
            started[id(cursor)] = time.perf_counter()

        def after(conn: Any, cursor: Any, *_: Any) -> None:
            self.statement(time.perf_counter() - started.pop(id(cursor), time.perf_counter()))

        event.listen(db.engine, "before_cursor_execute", before)
        event.listen(db.engine, "after_cursor_execute", after)
        self._undo.append((db.engine, "__events__", (before, after)))

    def uninstall(self) -> None:
        for target, attr, original in reversed(self._undo):
            if attr == "__events__":
                event.remove(target, "before_cursor_execute", original[0])
                event.remove(target, "after_cursor_execute", original[1])
            elif original is None:
                del target.__dict__[attr]  # the instance attribute hid the class's method
            else:
                setattr(target, attr, original)
        self._undo.clear()

    def table(self, n: int) -> list[dict[str, Any]]:
        rows = [
            {
                "section": label,
                "ms": round(1000 * wall / n, 2),
                "python_ms": round(1000 * (wall - sql) / n, 2),
                "sql_ms": round(1000 * sql / n, 2),
                "statements": round(count / n, 1),
            }
            for label, (wall, sql, count) in self.totals.items()
        ]
        return sorted(rows, key=lambda r: -r["ms"])


def profile_placement(url: str, shop: Shop, n: int, log: Log) -> dict[str, Any]:
    """One client, in-process, calling the endpoint function itself (pydantic body, Write.run
    with an Idempotency-Key, the use case, the response) n times: wall, SQL time and statements
    per order by section of code (``Sections``), then cProfile's top self times."""
    from omnicanal.api.deps import Write
    from omnicanal.api.orders import OrderCreate
    from omnicanal.api.orders import place_order as endpoint
    from omnicanal.idempotency.service import request_fingerprint

    db = Database(url, pool_size=4)
    principal = KeyAuthenticator(db).authenticate(bench_key(url))
    rng = random.Random(99)
    sections = Sections()

    def once() -> None:
        body = plan_order(rng, shop).body()
        raw = json.dumps(body).encode()
        sections.enter("endpoint, Write.run, unit of work (rest)")
        try:
            write = Write(
                db=db,
                principal=principal,
                key=str(uuid.uuid4()),
                fingerprint=request_fingerprint("POST", "/v1/orders", raw),
                method="POST",
                path="/v1/orders",
            )
            response = endpoint(OrderCreate.model_validate_json(raw), write, None)
        finally:
            sections.leave()
        if response.status_code != 201:  # type: ignore[attr-defined]
            raise RuntimeError(response.body)  # type: ignore[attr-defined]

    try:
        for _ in range(30):
            once()
        log(f"  placement/profile: {n} orders, one client, by section")
        sections.totals.clear()
        sections.install(db)
        try:
            started = time.perf_counter()
            for _ in range(n):
                once()
            wall = time.perf_counter() - started
        finally:
            sections.uninstall()
        table = sections.table(n)
        log(f"  placement/profile: {n} orders under cProfile")
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(n):
            once()
        profiler.disable()
    finally:
        db.dispose()
    sql = sum(r["sql_ms"] for r in table)
    return {
        "orders": n,
        "wall_ms_per_order": round(1000 * wall / n, 2),
        "sql_ms_per_order": round(sql, 2),
        "statements_per_order": round(sum(r["statements"] for r in table), 1),
        "python_ms_per_order": round(1000 * wall / n - sql, 2),
        "sections": table,
        "top_self_ms_per_order": _profile_summary(pstats.Stats(profiler), n)[
            "top_self_ms_per_order"
        ],
    }


def _profile_summary(stats: pstats.Stats, n: int) -> dict[str, Any]:
    """Per-order cumulative time of the functions in ``PROFILED`` and the top self times."""
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    cumulative: dict[str, float] = {}
    for label, (path_part, name) in PROFILED.items():
        found = [
            ct
            for (filename, _l, function), (_cc, _nc, _tt, ct, _callers) in raw.items()
            if function == name and filename.endswith(path_part)
        ]
        cumulative[label] = round(1000 * max(found, default=0.0) / n, 2)
    by_self = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:30]
    return {
        "cumulative_ms_per_order": cumulative,
        "top_self_ms_per_order": [
            {
                "function": f"{_short(filename)}:{line}({function})",
                "self_ms": round(1000 * tt / n, 3),
                "calls_per_order": round(nc / n, 1),
            }
            for (filename, line, function), (_cc, nc, tt, _ct, _callers) in by_self
        ],
    }


def serve_profiled(port: int, out: str) -> None:
    """``omnicanal serve`` with one worker, every thread under its own cProfile (timer: the
    thread's CPU time, so time blocked on the database or the GIL is not counted); on SIGTERM
    the merged statistics are written to ``out`` (``--serve-profiled``, used by the bench)."""
    import uvicorn

    profiles: list[cProfile.Profile] = []
    lock = threading.Lock()

    def install(*_: Any) -> None:
        sys.setprofile(None)
        profiler = cProfile.Profile(time.thread_time)  # CPU time: waits cost nothing
        with lock:
            profiles.append(profiler)
        profiler.enable()

    import omnicanal.api.app  # noqa: F401  (imports are not what we measure)

    threading.setprofile(install)
    main_profile = cProfile.Profile(time.thread_time)
    profiles.append(main_profile)
    upgrade(os.environ["OMNICANAL_DATABASE_URL"])
    config = uvicorn.Config(
        "omnicanal.api.app:create_app",
        factory=True,
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    # uvicorn re-raises the signal it stopped on once it has shut down: let that be a no-op here
    signal.signal(signal.SIGTERM, lambda *_: None)

    def clear(*_: Any) -> None:  # SIGUSR1: the warm-up is over, forget it
        with lock:
            for profiler in profiles:
                profiler.clear()

    signal.signal(signal.SIGUSR1, clear)
    main_profile.enable()
    uvicorn.Server(config).run()
    main_profile.disable()
    with lock:
        stats = pstats.Stats(profiles[0])
        for other in profiles[1:]:
            with suppress(TypeError):  # a thread that never ran Python
                stats.add(other)
    stats.dump_stats(out)


def profile_server(url: str, shop: Shop, secret: str, seconds: float, log: Log) -> dict[str, Any]:
    """HTTP placements by 8 clients against a profiled one-worker server (same process layout
    as ``omnicanal serve --workers 1``): where the server's time goes, per order."""
    out = ROOT / "var" / "bench" / "orders-server.prof"
    out.unlink(missing_ok=True)
    port = free_port()
    env = {**os.environ, "OMNICANAL_DATABASE_URL": url, "OMNICANAL_RUN_BACKGROUND_WORKERS": "false"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.orders", "--serve-profiled", str(port), str(out)],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with suppress(httpx2.HTTPError):
                if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        warm(base, secret, shop)
        log(f"  placement/server profile: 8 clients, {seconds:.0f} s, server under cProfile")
        start = time.perf_counter() + 0.2
        warmup = 3.0

        def forget() -> None:
            time.sleep(max(0.0, start + warmup - time.perf_counter()))
            proc.send_signal(signal.SIGUSR1)

        threading.Thread(target=forget, daemon=True).start()
        load, _ = run_threads(
            http_place(base, secret, shop), threads=8, seconds=seconds, warmup=warmup
        )
    finally:
        proc.terminate()
        proc.wait(60)
    done = load.ok + load.refused + load.errors  # requests served after SIGUSR1, about
    stats = pstats.Stats(str(out))
    total = sum(v[2] for v in stats.stats.values())  # type: ignore[attr-defined]
    return {
        "orders": done,
        "profiled_server_ms_per_order": round(1000 * total / max(1, done), 2),
        **_profile_summary(stats, max(1, done)),
    }


def _short(filename: str) -> str:
    for marker in ("site-packages/", "src/", "lib/python3.11/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


# -- (a) the scenario -----------------------------------------------------------------------------
def _durations(quick: bool) -> tuple[float, float]:
    return (6.0, 3.0) if quick else (15.0, 5.0)


def run_placement(
    backend: str, *, quick: bool, log: Log, clients: Sequence[int], workers: Sequence[int]
) -> dict[str, Any]:
    url = prepare_orders(backend, log)
    seconds, warmup = _durations(quick)
    pg_url = url if backend == "postgres" else None
    secret = bench_key(url)
    admin = Database(url, pool_size=max(clients) + 4)
    shop = load_shop(admin)
    key_id = KeyAuthenticator(admin).authenticate(secret).key_id
    before = mark(admin)
    reset(admin, before)
    out: dict[str, Any] = {"seconds": seconds, "warmup": warmup, "mix": _mix_text(len(shop.skus))}
    seeds = iter(range(1, 1000))
    try:
        rows: list[dict[str, Any]] = []
        if backend == "sqlite":
            workers = [1]  # one writer process: SQLite serialises writers anyway
        for count in workers:
            with server(url, workers=count) as (base, proc):
                warm(base, secret, shop, 20 * count)
                for threads in clients:
                    log(f"  placement/{backend}: HTTP, {count} worker(s), {threads} clients")
                    meter = CpuMeter(proc.pid, pg_url)
                    load = measured(
                        http_place(base, secret, shop),
                        threads=threads,
                        seconds=seconds,
                        warmup=warmup,
                        meter=meter,
                        seed=next(seeds),
                    )
                    rows.append(
                        {"path": "HTTP", "workers": count, "clients": threads, **_row(load, meter)}
                    )
            reset(admin, before)
        for threads in clients:
            log(f"  placement/{backend}: service layer in-process, {threads} threads")
            meter = CpuMeter(None, pg_url)
            load = measured(
                service_place(admin, shop),
                threads=threads,
                seconds=seconds,
                warmup=warmup,
                meter=meter,
                seed=next(seeds),
            )
            rows.append({"path": "service", "clients": threads, **_row(load, meter)})
            reset(admin, before)
        for threads in clients:
            log(f"  placement/{backend}: raw-SQL ceiling, {threads} threads")
            ceiling = Ceiling(url, key_id)
            meter = CpuMeter(None, pg_url)
            try:
                load = measured(
                    ceiling.work(shop),
                    threads=threads,
                    seconds=seconds,
                    warmup=warmup,
                    meter=meter,
                    seed=next(seeds),
                )
            finally:
                ceiling.close()
            rows.append({"path": "ceiling", "clients": threads, **_row(load, meter)})
            reset(admin, before)
        for r in rows:
            _system_cpu(r, http=r["path"] == "HTTP")
        out["rows"] = rows
        ceilings = {r["clients"]: r["per_second"] for r in rows if r["path"] == "ceiling"}
        for r in rows:
            if r["path"] != "ceiling" and ceilings.get(r["clients"]):
                r["ratio_to_ceiling"] = round(r["per_second"] / ceilings[r["clients"]], 3)
        out["profile"] = profile_placement(url, shop, 150 if quick else 400, log)
        reset(admin, before)
        if backend == "postgres":
            out["server_profile"] = profile_server(url, shop, secret, 5 if quick else 10, log)
    finally:
        reset(admin, before)
        admin.dispose()
    return out


def _system_cpu(row: dict[str, Any], *, http: bool) -> None:
    """CPU per order of the system under test (the server and PostgreSQL over HTTP; this process
    and PostgreSQL in-process), and the rate it would allow on this machine's cores, idle."""
    if "pg_cpu_ms" not in row:
        return
    mine = row["server_cpu_ms"] if http else row["client_cpu_ms"]
    total = mine + row["pg_cpu_ms"]
    row["system_cpu_ms"] = round(total, 1)
    row["idle_cores_estimate_per_second"] = (
        round((os.cpu_count() or 1) * 1000 / total) if total else None
    )


def _mix_text(skus: int) -> str:
    return (
        f"{HOME_SHARE:.0%} home delivery (random French address), "
        f"{1 - HOME_SHARE:.0%} click & collect (random store); 1-2 lines (60/40), 1 unit each "
        f"(15 %: 2); uniform over the {skus:,} omnichannel SKUs; contact, external_ref, authorised "
        "payment reference; Idempotency-Key"
    )


# -- (b) checkout ---------------------------------------------------------------------------------
STEPS = ("open_cart", "add_line", "delivery_options", "choose_pickup", "place_order")
PICKUP_WISH = 0.35  # customers who would rather collect, if a store near them has the basket


class Checkout:
    """One web-shop checkout per operation, over HTTP with the shop's key:

    1. ``POST /v1/carts`` (anonymous session; the API makes its token);
    2. ``POST /v1/carts/{id}/lines`` once per line (1-2 lines);
    3. the address has no endpoint: the shop keeps it in its session and sends it with the
       order. The delivery options page asks ``POST /v1/availability/basket`` (lat/lon of the
       address, 30 km, capability ``pickup``) which stores near the customer have the basket;
    4. 35 % of customers pick the nearest such store (``PUT /v1/carts/{id}/pickup``, which holds
       the lines there); the others, or when no store is near, keep home delivery;
    5. ``POST /v1/orders`` with ``cart_id``, the method, the address or the store, the contact
       and the PSP's authorised payment reference (no separate endpoint exists to record a
       payment before the order), with an ``Idempotency-Key``.
    """

    def __init__(self, base: str, secret: str, shop: Shop) -> None:
        self.base, self.secret, self.shop = base, secret, shop
        self.clients: dict[int, httpx2.Client] = {}
        self.steps: dict[int, list[tuple[str, float, float]]] = defaultdict(list)
        self.pickups: dict[int, int] = defaultdict(int)
        self.requests: dict[int, int] = defaultdict(int)

    def _call(
        self, index: int, step: str, method: str, path: str, expect: int, **kwargs: Any
    ) -> Any:
        client = _client(self.clients, index, self.base, self.secret)
        t0 = time.perf_counter()
        response = client.request(method, path, **kwargs)
        t1 = time.perf_counter()
        if response.status_code != expect:
            raise RuntimeError(f"{step} {response.status_code}: {response.text[:300]}")
        self.steps[index].append((step, t0, t1))
        self.requests[index] += 1
        return response.json()

    def work(self, rng: random.Random, index: int) -> None:
        address = customer_address(rng)
        lines = small_basket(rng, self.shop.skus)
        ref = uuid.uuid4().hex[:24]
        cart = self._call(index, "open_cart", "POST", "/v1/carts", 201, json={})
        cart_id = cart["id"]
        for sku, quantity in lines:
            self._call(
                index,
                "add_line",
                "POST",
                f"/v1/carts/{cart_id}/lines",
                200,
                json={"sku": sku, "quantity": quantity},
            )
        options = self._call(
            index,
            "delivery_options",
            "POST",
            "/v1/availability/basket",
            200,
            json={
                "lines": [{"sku": s, "quantity": q} for s, q in lines],
                "lat": address["latitude"],
                "lon": address["longitude"],
                "radius_km": 30,
                "capability": "pickup",
                "include_partial": False,
            },
        )
        stores = [p for p in options["data"] if p["can_supply_all"]]
        body: dict[str, Any] = {
            "cart_id": cart_id,
            "contact": {"email": f"{ref}@example.fr", "name": address["name"]},
            "payment": {"kind": "authorised", "provider": "adyen", "reference": f"psp_{ref}"},
            "external_ref": f"WEB-{ref}",
        }
        if stores and rng.random() < PICKUP_WISH:
            store_id = stores[0]["location"]["id"]
            self._call(
                index,
                "choose_pickup",
                "PUT",
                f"/v1/carts/{cart_id}/pickup",
                200,
                json={"location_id": store_id},
            )
            body |= {"method": "click_and_collect", "location_id": store_id}
            self.pickups[index] += 1
        else:
            body |= {"method": "home_delivery", "shipping_address": address}
        self._call(
            index,
            "place_order",
            "POST",
            "/v1/orders",
            201,
            json=body,
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )

    def step_stats(self, window: tuple[float, float]) -> dict[str, Any]:
        per_step: dict[str, list[float]] = defaultdict(list)
        for samples in self.steps.values():
            for step, t0, t1 in samples:
                if window[0] <= t0 and t1 <= window[1]:
                    per_step[step].append(t1 - t0)
        return {step: quantiles(per_step[step]) for step in STEPS if per_step[step]}


def run_checkout(
    backend: str, *, quick: bool, log: Log, clients: Sequence[int], workers: Sequence[int]
) -> dict[str, Any]:
    url = prepare_orders(backend, log)
    seconds, warmup = _durations(quick)
    pg_url = url if backend == "postgres" else None
    secret = bench_key(url)
    admin = Database(url, pool_size=4)
    shop = load_shop(admin)
    before = mark(admin)
    reset(admin, before)
    rows: list[dict[str, Any]] = []
    seeds = iter(range(100, 1000))
    try:
        for count in [1] if backend == "sqlite" else workers:
            with server(url, workers=count) as (base, proc):
                warm(base, secret, shop, 20 * count)
                for threads in clients:
                    log(f"  checkout/{backend}: {count} worker(s), {threads} clients")
                    checkout = Checkout(base, secret, shop)
                    meter = CpuMeter(proc.pid, pg_url)
                    load = measured(
                        checkout.work,
                        threads=threads,
                        seconds=seconds,
                        warmup=warmup,
                        meter=meter,
                        seed=next(seeds),
                    )
                    rows.append(
                        {
                            "workers": count,
                            "clients": threads,
                            **_row(load, meter),
                            "requests_per_order": round(_requests_per_order(checkout), 2),
                            "pickup_share": round(_pickup_share(checkout), 2),
                            "steps": checkout.step_stats(load.window),
                        }
                    )
                    _system_cpu(rows[-1], http=True)
                    for client in checkout.clients.values():
                        client.close()
            reset(admin, before)
    finally:
        reset(admin, before)
        admin.dispose()
    return {"seconds": seconds, "warmup": warmup, "rows": rows}


def _requests_per_order(checkout: Checkout) -> float:
    placed = sum(1 for v in checkout.steps.values() for s in v if s[0] == "place_order")
    return sum(checkout.requests.values()) / max(1, placed)


def _pickup_share(checkout: Checkout) -> float:
    placed = sum(1 for v in checkout.steps.values() for s in v if s[0] == "place_order")
    return sum(checkout.pickups.values()) / max(1, placed)


# -- (c) routing quality over a simulated week ----------------------------------------------------
ROUTING_PER_DAY = 500
ROUTING_START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
POPULARITY = 0.8  # Zipf exponent of SKU popularity (a few best sellers, a long tail)
CENTRAL = "WH-SARAN"  # Orléans-Saran: the central warehouse of the demo network


class SetClock:
    """The simulated week's clock: each order is placed at its own time (capacity is per day)."""

    def __init__(self, start: datetime) -> None:
        self.value = start

    def now(self) -> datetime:
        return self.value


@dataclass(frozen=True)
class WeekOrder:
    at: datetime
    lines: Lines
    address: dict[str, Any]

    @property
    def destination(self) -> tuple[float, float]:
        return (self.address["latitude"], self.address["longitude"])


Parcels = list[str]  # the location of each parcel of one order; None: unfulfillable


def prepare_routing(log: Log) -> Path:
    """The demo data set exactly as ``omnicanal demo`` seeds it (density 0.75, seed 42)."""
    path = ROOT / "var" / "bench" / "bench-orders-routing.db"
    url = f"sqlite:///{path}"
    db = Database(url)
    try:
        marker = f"routing-v1@{_schema_version()}"
        if _marker(db) == marker:
            log(f"  reusing the demo data set {path.name}")
            return path
        log("  seeding the demo data set (once)…")
        _schema(db, url)
        seed_retailer(db)
        _set_marker(db, marker)
    finally:
        db.dispose()
    return path


def _copy_sqlite(source: Path, target: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def week_of_orders(shop: Shop, *, days: int, per_day: int, seed: int = 2024) -> list[WeekOrder]:
    """Home-delivery orders: customers across France (``customer_address``), 1-4 lines
    (45/30/15/10 %), 1 unit (15 %: 2), SKUs drawn by a Zipf(0.8) popularity over the web
    catalogue, times spread over 07:00-23:00 each day. Deterministic for ``seed``."""
    rng = random.Random(seed)
    ranked = list(shop.skus)
    rng.shuffle(ranked)
    cumulative: list[float] = []
    total = 0.0
    for k in range(len(ranked)):
        total += 1 / (k + 1) ** POPULARITY
        cumulative.append(total)
    out: list[WeekOrder] = []
    for day in range(days):
        for hour in sorted(rng.uniform(7, 23) for _ in range(per_day)):
            count = rng.choices([1, 2, 3, 4], weights=[45, 30, 15, 10])[0]
            picked: set[str] = set()
            while len(picked) < count:
                picked.add(ranked[bisect.bisect(cumulative, rng.random() * total)])
            lines = tuple(sorted((s, 2 if rng.random() < 0.15 else 1) for s in picked))
            at = ROUTING_START + timedelta(days=day, hours=hour)
            out.append(WeekOrder(at, lines, customer_address(rng)))
    return out


def stock_snapshot(db: Database, shop: Shop) -> dict[str, dict[str, int]]:
    """What the web channel may promise at every store and warehouse, before the week."""
    with db.read() as session:
        candidates = load_candidates(
            session, list(shop.skus), channel="web", destination=None, day="2000-01-01"
        )
    return {c.location_id: dict(c.stock) for c in candidates}


def baselines(
    week: Sequence[WeekOrder], snapshot: Mapping[str, Mapping[str, int]], shop: Shop
) -> dict[str, list[Parcels | None]]:
    """Two naive strategies on the same orders, each depleting its own copy of the stock:
    nearest store only (the nearest store holding any of the lines takes what it has, the
    next nearest the rest, and so on) and central warehouse only (all or nothing)."""
    stores = [p for p in shop.places if p.kind == "store"]
    central = next(p for p in shop.places if p.code == CENTRAL)
    near_stock = {loc: dict(s) for loc, s in snapshot.items()}
    central_stock = dict(snapshot.get(central.id, {}))
    nearest: list[Parcels | None] = []
    warehouse: list[Parcels | None] = []
    for o in week:
        lat, lon = o.destination
        need = dict(o.lines)
        taken: list[tuple[str, dict[str, int]]] = []
        for store in sorted(stores, key=lambda p: haversine_km(lat, lon, p.lat, p.lon)):
            have = near_stock.get(store.id, {})
            take = {s: min(q, have.get(s, 0)) for s, q in need.items() if have.get(s, 0) > 0}
            if take:
                taken.append((store.id, take))
                for s, q in take.items():
                    need[s] -= q
                need = {s: q for s, q in need.items() if q > 0}
            if not need:
                break
        if need:
            nearest.append(None)
        else:
            for loc, take in taken:
                for s, q in take.items():
                    near_stock[loc][s] -= q
            nearest.append([loc for loc, _ in taken])
        if all(central_stock.get(s, 0) >= q for s, q in o.lines):
            for s, q in o.lines:
                central_stock[s] -= q
            warehouse.append([central.id])
        else:
            warehouse.append(None)
    return {"nearest store only": nearest, "central warehouse only": warehouse}


def place_week(
    template: Path,
    week: Sequence[WeekOrder],
    *,
    stores_ship: bool,
    log: Log,
) -> tuple[list[Parcels | None], dict[str, Any]]:
    """Place every order for real (``orders.service.place_order``) on a fresh copy of the demo
    data set, the clock set to the order's time. Before each placement the same decision is
    taken alone (``load_candidates`` + ``route`` with the HiGHS ``solve``) to time it."""
    work = template.with_name(f"bench-orders-routing-{'stores' if stores_ship else 'demo'}.db")
    _copy_sqlite(template, work)
    clock = SetClock(week[0].at)
    db = Database(f"sqlite:///{work}", clock=clock, pool_size=2)
    if stores_ship:
        with db.engine.begin() as conn:
            rows = conn.execute(
                text("SELECT id, capabilities FROM locations WHERE kind = 'store'")
            ).all()
            for location_id, caps in rows:
                conn.execute(
                    text("UPDATE locations SET capabilities = :c WHERE id = :i"),
                    {"c": json.dumps([*json.loads(caps), "ship"]), "i": location_id},
                )
    results: list[Parcels | None] = []
    rules: Counter[str] = Counter()
    decide_s: list[float] = []
    place_s: list[float] = []
    mismatches = 0
    try:
        with db.read() as session:
            config = routing_config(session)
        for i, o in enumerate(week):
            clock.value = o.at
            lines = dict(o.lines)
            t0 = time.perf_counter()
            with db.read() as session:
                candidates = load_candidates(
                    session,
                    sorted(lines),
                    channel="web",
                    destination=o.destination,
                    day=o.at.date().isoformat(),
                )
                decision = route(
                    candidates, Demand(Method.HOME_DELIVERY, lines), config, solver=solve
                )
            t1 = time.perf_counter()
            request = orders.OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        Method.HOME_DELIVERY, [orders.LineRequest(s, q) for s, q in o.lines]
                    )
                ],
                shipping_address=o.address,
                payment=orders.PaymentRequest("authorised", "adyen", f"psp_week_{i}"),
            )
            try:
                with db.uow() as uow:
                    placed = orders.place_order(uow, request)
                    groups = uow.session.scalars(
                        select(FulfilmentGroupRow.location_id).where(
                            FulfilmentGroupRow.order_id == placed.order.id
                        )
                    ).all()
                parcels: Parcels | None = [str(g) for g in groups]
            except Conflict as refused:
                if refused.code != "no-stock":
                    raise
                parcels = None
            t2 = time.perf_counter()
            decide_s.append(t1 - t0)
            place_s.append(t2 - t1)
            rules[decision.rule] += 1
            planned = sorted(a.location_id for a in decision.assignments)
            if (parcels is None and planned) or (
                parcels is not None and sorted(parcels) != planned
            ):
                mismatches += 1
            results.append(parcels)
            if (i + 1) % 500 == 0:
                log(f"    {i + 1}/{len(week)} orders")
    finally:
        db.dispose()
    timings = {
        "decision": quantiles(decide_s),
        "placement": quantiles(place_s),
        "rules": dict(rules),
        "decision_differs_from_placement": mismatches,
    }
    return results, timings


def order_cost(places: Mapping[str, Place], parcels: Parcels, dest: tuple[float, float]) -> int:
    config = RoutingConfig()
    cost = config.split_penalty_minor * (len(parcels) - 1)
    for loc in parcels:
        p = places[loc]
        km = haversine_km(dest[0], dest[1], p.lat, p.lon)
        cost += config.handling(p.kind) + round(km * config.cost_per_km_minor)
    return cost


def summarise(
    week: Sequence[WeekOrder],
    outcome: Sequence[Parcels | None],
    places: Mapping[str, Place],
    common: set[int],
) -> dict[str, Any]:
    fulfilled = [i for i, p in enumerate(outcome) if p is not None]
    per_day: Counter[tuple[str, date]] = Counter()
    km: dict[int, float] = {}
    cost: dict[int, int] = {}
    store_parcels = parcels = 0
    for i in fulfilled:
        got = outcome[i]
        assert got is not None
        dest = week[i].destination
        km[i] = sum(haversine_km(*dest, places[loc].lat, places[loc].lon) for loc in got)
        cost[i] = order_cost(places, got, dest)
        parcels += len(got)
        store_parcels += sum(1 for loc in got if places[loc].kind == "store")
        for loc in got:
            per_day[(loc, week[i].at.date())] += 1
    over = sum(max(0, n - (places[loc].capacity or n)) for (loc, _day), n in per_day.items())
    split = sum(1 for i in fulfilled if len(outcome[i] or []) > 1)
    n = max(1, len(fulfilled))
    return {
        "orders": len(week),
        "unfulfillable_share": round(1 - len(fulfilled) / len(week), 4),
        "split_rate": round(split / n, 4),
        "parcels_per_order": round(parcels / n, 3),
        "km_per_order": round(sum(km.values()) / n, 1),
        "cost_eur_per_order": round(sum(cost.values()) / n / 100, 2),
        "store_parcel_share": round(store_parcels / max(1, parcels), 3),
        "parcels_over_store_capacity": over,
        "common_orders": len(common),
        "common_km_per_order": round(sum(km[i] for i in common) / max(1, len(common)), 1),
        "common_cost_eur_per_order": round(
            sum(cost[i] for i in common) / max(1, len(common)) / 100, 2
        ),
    }


def run_routing(*, quick: bool, log: Log) -> dict[str, Any]:
    template = prepare_routing(log)
    days = 1 if quick else 7
    db = Database(f"sqlite:///{template}", pool_size=2)
    try:
        shop = load_shop(db, ("omnichannel", "online_only"))
        snapshot = stock_snapshot(db, shop)
    finally:
        db.dispose()
    places = shop.by_id()
    week = week_of_orders(shop, days=days, per_day=ROUTING_PER_DAY)
    log(f"  routing: {len(week)} orders over {days} day(s); baselines")
    outcomes = baselines(week, snapshot, shop)
    timings: dict[str, Any] = {}
    for label, stores_ship in (
        ("omnicanal (demo capabilities: home delivery from warehouses)", False),
        ("omnicanal (stores may ship too)", True),
    ):
        log(f"  routing: {label}")
        outcomes[label], timings[label] = place_week(
            template, week, stores_ship=stores_ship, log=log
        )
    common = {i for i in range(len(week)) if all(o[i] is not None for o in outcomes.values())}
    lines = [len(o.lines) for o in week]
    return {
        "orders": len(week),
        "days": days,
        "orders_per_day": ROUTING_PER_DAY,
        "lines_per_order": round(sum(lines) / len(lines), 2),
        "units_per_order": round(sum(q for o in week for _, q in o.lines) / len(week), 2),
        "skus": len(shop.skus),
        "cost_model": RoutingConfig().as_dict(),
        "strategies": {
            label: summarise(week, outcome, places, common) for label, outcome in outcomes.items()
        },
        "timings": timings,
    }


# -- report ---------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def _placement_md(run: dict[str, Any], out: list[str]) -> None:
    for backend, result in run.get("placement", {}).items():
        out.append(f"\n### Placement, {backend} ({result['seconds']:.0f} s per row)\n")
        out.append(
            "| path | workers | clients | orders/s | p50 ms | p95 ms | p99 ms | server CPU ms "
            "| client CPU ms | PG CPU ms | system CPU ms | idle-cores estimate/s | machine busy "
            "| others busy | errors | ratio |"
        )
        out.append("|---" * 16 + "|")
        for r in result["rows"]:
            out.append(
                "| "
                + " | ".join(
                    _cell(r.get(k))
                    for k in (
                        "path",
                        "workers",
                        "clients",
                        "per_second",
                        "p50_ms",
                        "p95_ms",
                        "p99_ms",
                        "server_cpu_ms",
                        "client_cpu_ms",
                        "pg_cpu_ms",
                        "system_cpu_ms",
                        "idle_cores_estimate_per_second",
                        "machine_busy",
                        "others_busy",
                        "errors",
                        "ratio_to_ceiling",
                    )
                )
                + " |"
            )
        profile = result.get("profile")
        if profile:
            out.append(
                f"\nOne client, in-process endpoint, {profile['orders']} orders: "
                f"{profile['wall_ms_per_order']} ms/order = {profile['sql_ms_per_order']} ms "
                f"in {profile['statements_per_order']} SQL statements + "
                f"{profile['python_ms_per_order']} ms Python.\n"
            )
            out.append(
                "| section | ms/order | Python ms (and BEGIN/COMMIT/ROLLBACK/ping waits) "
                "| SQL ms | statements |"
            )
            out.append("|---|---|---|---|---|")
            for r in profile["sections"]:
                out.append(
                    f"| {r['section']} | {r['ms']} | {r['python_ms']} | {r['sql_ms']} "
                    f"| {r['statements']} |"
                )
            out.append("\n| cProfile top self time | ms/order | calls/order |\n|---|---|---|")
            for item in profile["top_self_ms_per_order"][:15]:
                out.append(
                    f"| `{item['function']}` | {item['self_ms']} | {item['calls_per_order']} |"
                )
        server = result.get("server_profile")
        if server:
            out.append(
                f"\nServer under cProfile (CPU time per thread), 8 clients, {server['orders']} "
                f"orders: {server['profiled_server_ms_per_order']} ms CPU/order profiled.\n"
            )
            out.append("| cumulative CPU (profiled) | ms/order |\n|---|---|")
            for label, ms in server["cumulative_ms_per_order"].items():
                out.append(f"| {label} | {ms} |")
            out.append("\n| top self CPU (profiled) | ms/order | calls/order |\n|---|---|---|")
            for item in server["top_self_ms_per_order"][:15]:
                out.append(
                    f"| `{item['function']}` | {item['self_ms']} | {item['calls_per_order']} |"
                )


def _checkout_md(run: dict[str, Any], out: list[str]) -> None:
    for backend, result in run.get("checkout", {}).items():
        out.append(f"\n### Checkout, {backend} ({result['seconds']:.0f} s per row)\n")
        header = (
            "| workers | clients | whole orders/s | p50 ms | p95 ms | requests/order | C&C share "
            "| "
            + " | ".join(f"{s} p50/p95" for s in STEPS)
            + " | server CPU ms | PG CPU ms | idle-cores estimate/s | others busy | errors |"
        )
        out.append(header)
        out.append("|---" * (header.count("|") - 1) + "|")
        for r in result["rows"]:
            steps = r.get("steps", {})
            cells = [
                r["workers"],
                r["clients"],
                r["per_second"],
                r.get("p50_ms"),
                r.get("p95_ms"),
                r["requests_per_order"],
                r["pickup_share"],
                *[
                    f"{steps[s]['p50_ms']}/{steps[s]['p95_ms']}" if s in steps else ""
                    for s in STEPS
                ],
                r.get("server_cpu_ms"),
                r.get("pg_cpu_ms"),
                r.get("idle_cores_estimate_per_second"),
                r.get("others_busy"),
                r["errors"],
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")


def _routing_md(run: dict[str, Any], out: list[str]) -> None:
    routing = run.get("routing")
    if routing:
        out.append(
            f"\n### Routing: {routing['orders']} home-delivery orders over {routing['days']} "
            f"day(s), {routing['lines_per_order']} lines/order\n"
        )
        out.append(
            "| strategy | unfulfillable | split rate | parcels/order | km/order | cost €/order "
            "| store parcels | parcels over store capacity | km/order (common) | "
            "cost €/order (common) |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for label, s in routing["strategies"].items():
            cells = [
                label,
                f"{s['unfulfillable_share']:.1%}",
                f"{s['split_rate']:.1%}",
                s["parcels_per_order"],
                s["km_per_order"],
                s["cost_eur_per_order"],
                f"{s['store_parcel_share']:.0%}",
                s["parcels_over_store_capacity"],
                s["common_km_per_order"],
                s["common_cost_eur_per_order"],
            ]
            out.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        for label, t in routing["timings"].items():
            out.append(
                f"\n{label}: decision p50 {t['decision'].get('p50_ms')} ms / p95 "
                f"{t['decision'].get('p95_ms')} ms; placement p50 {t['placement'].get('p50_ms')}"
                f" ms / p95 {t['placement'].get('p95_ms')} ms; rules {t['rules']}; decision "
                f"differs from placement: {t['decision_differs_from_placement']}"
            )


def markdown(run: dict[str, Any]) -> str:
    out: list[str] = []
    _placement_md(run, out)
    _checkout_md(run, out)
    _routing_md(run, out)
    return "\n".join(out) + "\n"


def _git() -> dict[str, Any]:
    def run(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    return {"head": run("rev-parse", "--short", "HEAD"), "dirty": bool(run("status", "--short"))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.orders", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short loads (about 10 s a row)")
    parser.add_argument(
        "--only", action="append", choices=["placement", "checkout", "routing"], metavar="NAME"
    )
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="postgres")
    parser.add_argument("--clients", type=int, action="append", help="default: 8 and 16")
    parser.add_argument("--workers", type=int, action="append", help="default: 1 and 2")
    parser.add_argument(
        "--serve-profiled", nargs=2, metavar=("PORT", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.serve_profiled:
        serve_profiled(int(args.serve_profiled[0]), args.serve_profiled[1])
        return 0
    chosen = args.only or ["placement", "checkout", "routing"]
    clients = args.clients or list(CLIENTS)
    workers = args.workers or list(WORKERS)
    wanted = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    if "postgres" in wanted and not pg_reachable():
        log("PostgreSQL is not reachable: SQLite only.")
        wanted = [b for b in wanted if b != "postgres"] or ["sqlite"]
    started = datetime.now(UTC)
    run: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m bench.orders " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "postgres": postgres_version() if "postgres" in wanted else None,
        "git": _git(),
    }
    for name in ("placement", "checkout"):
        if name in chosen:
            fn = run_placement if name == "placement" else run_checkout
            for backend in wanted:
                log(f"{name} on {backend}{' (quick)' if args.quick else ''}")
                run.setdefault(name, {})[backend] = fn(
                    backend, quick=args.quick, log=log, clients=clients, workers=workers
                )
    if "routing" in chosen:
        log(f"routing{' (quick)' if args.quick else ''}")
        run["routing"] = run_routing(quick=args.quick, log=log)
    run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    run["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = save(f"orders-{stamp}", run)
    save("orders-latest", run)
    tables = markdown(run)
    (RESULTS / f"orders-{stamp}.md").write_text(tables)
    print(tables)
    log(f"raw results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
