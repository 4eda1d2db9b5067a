"""A simulated day of a retailer (``omnicanal simulate``), on SQLite and PostgreSQL: events per
second sustained through the outbox and every consumer, and the wall time.

    .venv/bin/python -m bench.simulate                      # 50 stores, 5,000 customers, 1 day
    .venv/bin/python -m bench.simulate --backend sqlite --customers 1000

Each backend starts from an empty database (``var/bench/simulate.db``; the PostgreSQL database
``bench_sim``, whose tables are dropped and created again), so the retailer is set up by the
simulation itself. Results go to ``bench/results/simulate-<UTC time>.json`` and a Markdown
table on standard output.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import code_under_test, cpu_busy, log, machine, postgres_version, save
from omnicanal.shared.clock import FrozenClock
from omnicanal.simulation.engine import Simulation
from omnicanal.simulation.model import PARIS, SimulationParams
from omnicanal.simulation.summary import summarise
from omnicanal.storage.database import Database
from omnicanal.storage.registry import load_all_tables

SQLITE_PATH = Path("var/bench/simulate.db")
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_sim"


def fresh(backend: str, pg_url: str) -> str:
    """An empty database with every table."""
    if backend == "sqlite":
        SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{SQLITE_PATH}{suffix}").unlink(missing_ok=True)
        url = f"sqlite:///{SQLITE_PATH}"
    else:
        url = pg_url
    engine = create_engine(url)
    metadata = load_all_tables()
    metadata.drop_all(engine)
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    metadata.create_all(engine)
    engine.dispose()
    return url


def measure(backend: str, params: SimulationParams, pg_url: str) -> dict[str, Any]:
    url = fresh(backend, pg_url)
    db = Database(url, clock=FrozenClock())
    busy_before = cpu_busy(2)
    started = time.perf_counter()
    cpu_started = time.process_time()
    try:
        run = Simulation(db, params).run()
        summary = summarise(db, run)
    finally:
        db.dispose()
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started  # this process only (PostgreSQL works apart)
    orders = sum(summary.orders.values())
    return {
        "backend": backend,
        "visits": run.visits,
        "orders": orders,
        "till_sales": sum(summary.till_sales.values()),
        "events": summary.events,
        "simulation_wall_seconds": round(run.wall_seconds, 1),
        "events_per_second": round(summary.events_per_second, 1),
        "total_wall_seconds": round(wall, 1),
        "process_cpu_seconds": round(cpu, 1),
        "events_per_cpu_second": round(summary.events / cpu, 1) if cpu else None,
        "simulated_days": params.days,
        "set_up": vars(run.set_up) if run.set_up else None,
        "pickups": summary.pickups,
        "returns": summary.returns,
        "cpu_busy_before": busy_before,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--days", type=int, default=1)
    parser.add_argument("--visits-per-customer", type=float, default=0.1)
    parser.add_argument("--skus", type=int, default=600)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    params = SimulationParams(
        stores=args.stores,
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        visits_per_customer=args.visits_per_customer,
        skus=args.skus,
        start=datetime(2026, 11, 24, tzinfo=PARIS),  # a Tuesday: an ordinary day
    ).check()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    for backend in backends:
        log(f"simulating on {backend}: {params.stores} stores, {params.customers} customers")
        results.append(measure(backend, params, args.pg_url))
        log(f"  {results[-1]}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save(
        f"simulate-{stamp}",
        {
            "scenario": "simulate",
            "params": {k: str(v) for k, v in vars(params).items()},
            "machine": machine(),
            "postgres": postgres_version(),
            "code": code_under_test(),
            "results": results,
        },
    )
    print(
        f"\n`python -m bench.simulate` ({params.stores} stores, {params.customers} customers, "
        f"{params.days} day(s), {params.visits_per_customer} visits/customer/day)\n"
    )
    print(
        "| database | visits | orders | till sales | events | events/s | wall time "
        "| CPU (this process) | CPU busy before |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['backend']} | {r['visits']} | {r['orders']} | {r['till_sales']} | "
            f"{r['events']} | {r['events_per_second']} | {r['simulation_wall_seconds']} s | "
            f"{r['process_cpu_seconds']} s | {r['cpu_busy_before']:.0%} |"
        )
    log(f"saved {path}")


if __name__ == "__main__":
    main()
