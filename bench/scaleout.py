"""Scale-out benchmarks (issue 8): measured, never asserted.

``python -m bench.scaleout [--quick] [--only unification|orders] [--seconds N] [--rate R]``

- ``unification``: **time to unification** under a sustained load, in-process bus vs NATS
  JetStream. Definition: a customer identification (``customers.service.identify`` in a unit of
  work, what ``POST /v1/customers/identify`` runs for a web login, an app session or a till
  sale identified by phone or loyalty card) commits a ``customers.profile.created`` or
  ``customers.profile.merged`` event; its time to unification is from the event's
  ``occurred_at`` (stamped in that transaction) to the ``processed_at`` of the
  ``customers.timeline`` and ``customers.attributes`` consumers' processed records for it: the
  moment the profile's timeline and attributes (RFM, segments) show the identification. Both
  stamps come from the same host clock. Load: 4 threads paced at ``--rate`` identifications
  per second (20) (the life cycle of ``bench.identify``: new visitors, second devices, merges at
  checkout, returning people at the till) for ``--seconds``; the server's event worker
  (``workers.event_dispatcher``: every consumer of the application) runs in the same process,
  in-process or relaying to NATS (``OMNICANAL_NATS_URL``, default ``nats://127.0.0.1:4222``,
  a stream of its own, deleted after). p50/p95/p99/max over the events of the measured window.
- ``orders``: ``POST /v1/orders`` throughput with 1 and 2 uvicorn worker processes (what
  ``omnicanal serve --workers N`` runs) on PostgreSQL ``omnicanal_bench_scaleout``, background
  workers on (the in-process event dispatcher applies the orders' events in each process),
  16 keep-alive clients placing the ``bench.orders`` mix (70 % home delivery, 30 % click &
  collect, 1-3 lines) for ``--seconds`` after a warm-up; orders/s and latency percentiles.

PostgreSQL: ``OMNICANAL_BENCH_PG_URL``'s server (default ``postgres@127.0.0.1:5432``); the
benchmark creates and uses ``omnicanal_bench_scaleout`` only. Raw JSON goes to
``bench/results/scaleout-*.json``, the tables to stdout and ``scaleout-*.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import nats
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import make_url

from bench.common import RESULTS, ROOT, free_port, log, machine, run_threads, save
from bench.identify import CHANNEL, People, advance, next_call
from bench.orders import http_place, load_shop, quantiles
from omnicanal.auth.service import create_key
from omnicanal.customers import service as customers
from omnicanal.customers.model import normalise_identifiers
from omnicanal.demo.seed import seed_retailer
from omnicanal.runtime import BackgroundRunner
from omnicanal.settings import Settings
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.migrate import fresh_schema
from omnicanal.workers import event_dispatcher

PG_SERVER = os.environ.get(
    "OMNICANAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/"
)
NATS_URL = os.environ.get("OMNICANAL_NATS_URL", "nats://127.0.0.1:4222")
DATABASE = "omnicanal_bench_scaleout"
RATE = 20.0  # identifications per second offered in the unification scenario (--rate)
THREADS = 4
CLIENTS = 16
UNIFYING = ("customers.profile.created", "customers.profile.merged")
WATCHED = ("customers.timeline", "customers.attributes")


def database_url() -> str:
    server = make_url(PG_SERVER)
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        found = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": DATABASE})
        if found.first() is None:
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    admin.dispose()
    return server.set(database=DATABASE).render_as_string(hide_password=False)


# -- time to unification --------------------------------------------------------------------------
def unification(url: str, *, transport: str, seconds: float, rate: float) -> dict[str, Any]:
    fresh_schema(url, stamp=True)
    stream = f"BENCH_{uuid.uuid4().hex[:8].upper()}"
    settings = Settings(
        database_url=url,
        nats_url=NATS_URL if transport == "nats" else None,
        nats_stream=stream,
        dispatcher_poll_seconds=0.5,
    )
    db = Database(url, pool_size=THREADS + 12)
    runner = BackgroundRunner([event_dispatcher(db, settings)])
    runner.start()
    people = People()

    def work(rng: random.Random, index: int) -> None:
        kind, person, raw = next_call(rng, people)
        with db.uow() as uow:
            customers.identify(
                uow,
                identifiers=normalise_identifiers(raw),
                channel=CHANNEL[kind],
                attributes={"given_name": "Camille"} if kind == "web-new" else None,
                occurred_at=datetime.now(UTC),
            )
        advance(kind, person, people)

    perf0, wall0 = time.perf_counter(), datetime.now(UTC)
    try:
        load, _ = run_threads(
            work, threads=THREADS, seconds=seconds, warmup=3.0, interval=THREADS / rate
        )
        since, until = (wall0 + timedelta(seconds=t - perf0) for t in load.window)
        caught_up = wait_caught_up(db, since, until)
        delays = {name: delays_ms(db, name, since, until) for name in WATCHED}
    finally:
        runner.stop(timeout=600)  # a round in progress finishes before the schema goes
        db.dispose()
        if transport == "nats":
            asyncio.run(delete_stream(stream))
    return {
        "transport": transport,
        "offered_per_second": rate,
        "identifications": load.summary(),
        "caught_up_after_load_s": caught_up,
        **{
            f"{name} time to unification": quantiles([d / 1000 for d in found])
            | {"max_ms": round(max(found), 1) if found else None}
            for name, found in delays.items()
        },
    }


def _unifying_events(db: Database, since: datetime, until: datetime) -> int:
    with db.engine.connect() as conn:
        return int(
            conn.execute(
                text(
                    "SELECT count(*) FROM outbox_events WHERE type IN :types "
                    "AND occurred_at BETWEEN :a AND :b"
                ).bindparams(bindparam("types", expanding=True)),
                {"types": list(UNIFYING), "a": since, "b": until},
            ).scalar()
            or 0
        )


def wait_caught_up(db: Database, since: datetime, until: datetime, limit: float = 120) -> float:
    """Seconds after the load until both watched consumers processed every unifying event."""
    started = time.perf_counter()
    wanted = _unifying_events(db, since, until)
    while time.perf_counter() - started < limit:
        if all(len(delays_ms(db, name, since, until)) >= wanted for name in WATCHED):
            break
        time.sleep(0.2)
    return round(time.perf_counter() - started, 2)


def delays_ms(db: Database, consumer: str, since: datetime, until: datetime) -> list[float]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT EXTRACT(EPOCH FROM (p.processed_at - e.occurred_at)) * 1000 "
                "FROM outbox_events e JOIN event_processed p ON p.event_id = e.id "
                "WHERE p.consumer = :c AND e.type IN :types AND e.occurred_at BETWEEN :a AND :b"
            ).bindparams(bindparam("types", expanding=True)),
            {"c": consumer, "types": UNIFYING, "a": since, "b": until},
        )
        return [float(r[0]) for r in rows]


async def delete_stream(stream: str) -> None:
    nc = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await nc.jetstream().delete_stream(stream)
    except nats.js.errors.NotFoundError:
        pass
    finally:
        await nc.close()


# -- order throughput with 1 and 2 API workers ----------------------------------------------------
def prepare_orders(url: str) -> str:
    """The demo network (24 stores, 2 warehouses) with 240 SKUs everywhere, 100,000 more units
    per level (one receipt movement each: the ledger still sums to the levels), capacities out of
    the way; returns a web key's secret."""
    fresh_schema(url, stamp=True)
    db = Database(url)
    try:
        seed_retailer(db, skus=240, density=1.0)
        now = datetime.now(UTC)
        with db.engine.begin() as conn:
            keys = conn.execute(text("SELECT sku, location_id FROM stock_levels")).all()
            conn.execute(
                text(
                    "INSERT INTO stock_movements (id, sku, location_id, kind, d_on_hand, "
                    "d_reserved, d_committed, d_damaged, d_incoming, reason, reference_type, "
                    "reference_id, actor, occurred_at) VALUES (:id, :sku, :loc, 'receipt', "
                    "100000, 0, 0, 0, 0, 'benchmark top-up', 'import', 'bench-scaleout', "
                    "'system', :now)"
                ),
                [{"id": new_id("mov"), "sku": s, "loc": loc, "now": now} for s, loc in keys],
            )
            conn.execute(text("UPDATE stock_levels SET on_hand = on_hand + 100000"))
            conn.execute(text("UPDATE locations SET daily_order_capacity = 1000000"))
            conn.execute(text("ANALYZE"))
        with db.uow() as uow:
            return create_key(uow, name="bench scaleout", channel="web").secret
    finally:
        db.dispose()


def serve(url: str, workers: int) -> tuple[str, subprocess.Popen[bytes]]:
    port = free_port()
    out = ROOT / "var" / "bench" / "scaleout-server.log"
    out.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "OMNICANAL_DATABASE_URL": url, "OMNICANAL_DB_POOL_SIZE": "10"}
    env.pop("OMNICANAL_NATS_URL", None)
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "uvicorn", "omnicanal.api.app:create_app", "--factory"),
                *("--port", str(port), "--workers", str(workers), "--log-level", "warning"),
                *("--timeout-worker-healthcheck", "120"),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                time.sleep(3.0 * workers)  # the other workers finish starting
                return base, proc
        except httpx2.HTTPError:
            time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError(f"server did not start; see {out}")


def orders(url: str, *, seconds: float) -> dict[str, Any]:
    secret = prepare_orders(url)
    db = Database(url)
    try:
        shop = load_shop(db)
    finally:
        db.dispose()
    rows = []
    for workers in (1, 2):
        log(f"  orders: {workers} worker(s), {CLIENTS} clients, {seconds:.0f} s")
        base, proc = serve(url, workers)
        try:
            work = http_place(base, secret, shop)
            rng = random.Random(0)
            for _ in range(20):
                work(rng, 0)
            load, _ = run_threads(work, threads=CLIENTS, seconds=seconds, warmup=3.0)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)
        rows.append(
            {
                "workers": workers,
                "clients": CLIENTS,
                "orders_per_second": round(load.rate, 1),
                "errors": load.errors,
                **quantiles(load.latencies),
                **({"first_error": load.first_error} if load.first_error else {}),
            }
        )
    return {"seconds": seconds, "rows": rows}


# -- report ---------------------------------------------------------------------------------------
def markdown(run: dict[str, Any]) -> str:
    out = []
    if "unification" in run:
        out.append("\n### Time to unification (identify → consumer applied), PostgreSQL\n")
        out.append(
            "| transport | offered/s | done/s | consumer | p50 ms | p95 ms | p99 ms | max ms "
            "| caught up after load s |"
        )
        out.append("|---|---|---|---|---|---|---|---|---|")
        for r in run["unification"]:
            for name in WATCHED:
                q = r[f"{name} time to unification"]
                out.append(
                    f"| {r['transport']} | {r['offered_per_second']} "
                    f"| {r['identifications']['per_second']} | {name} | {q.get('p50_ms')} "
                    f"| {q.get('p95_ms')} | {q.get('p99_ms')} | {q.get('max_ms')} "
                    f"| {r['caught_up_after_load_s']} |"
                )
    if "orders" in run:
        out.append(f"\n### POST /v1/orders, PostgreSQL ({run['orders']['seconds']:.0f} s a row)\n")
        out.append("| API workers | clients | orders/s | p50 ms | p95 ms | p99 ms | errors |")
        out.append("|---|---|---|---|---|---|---|")
        for r in run["orders"]["rows"]:
            out.append(
                f"| {r['workers']} | {r['clients']} | {r['orders_per_second']} "
                f"| {r.get('p50_ms')} | {r.get('p95_ms')} | {r.get('p99_ms')} | {r['errors']} |"
            )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaleout", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="15 s loads instead of 60 s")
    parser.add_argument("--seconds", type=float, help="measured seconds per load")
    parser.add_argument("--only", action="append", choices=["unification", "orders"])
    parser.add_argument(
        "--rate", type=float, default=RATE, help=f"identifications/s offered (default {RATE:.0f})"
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    chosen = args.only or ["unification", "orders"]
    url = database_url()
    started = datetime.now(UTC)
    run: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "command": "python -m bench.scaleout " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
    }
    if "unification" in chosen:
        run["unification"] = []
        for transport in ("in-process", "nats"):
            log(f"unification over {transport}: {args.rate:.0f}/s for {seconds:.0f} s")
            run["unification"].append(
                unification(url, transport=transport, seconds=seconds, rate=args.rate)
            )
    if "orders" in chosen:
        log("orders: 1 vs 2 API workers")
        run["orders"] = orders(url, seconds=seconds)
    run["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    run["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    path = save(f"scaleout-{stamp}", run)
    tables = markdown(run)
    (RESULTS / f"scaleout-{stamp}.md").write_text(tables)
    print(tables)
    log(f"raw results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
