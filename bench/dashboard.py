"""``dashboard``: the KPI dashboard over a year of 1M orders, 22 stores, 5 channels.

The rollups (``analytics_daily``, ``analytics_monthly``) are loaded in bulk as the analytics
consumer would have left them after a year of 1M orders and till sales (numpy draws, seed 7:
channel mix, pickup or delivery, times to ready and pickup waits, no-shows, late deliveries,
returns, CSAT, identified customers), never by placing the orders. Then
``analytics.service.kpi_values`` is timed the way the console calls it (one read session):

- ``dashboard``: every KPI of ``definitions.DASHBOARD`` over the year, grouped by channel
  (one sample = the whole page's data);
- ``revenue_by_day``: revenue over the year grouped by day (365 groups);
- ``no_show_by_store``: the click & collect no-show rate over the year per store;
- ``basket_one_store_month``: the average basket of one store over one month;
- ``console_page``: the head-office dashboard page itself, ``GET /console/dashboard`` for the
  year grouped by channel, signed in, through the whole application in process (FastAPI's test
  client: session cookie, the ten KPI tiles, the chart rendered as SVG, the Jinja2 page).

``python -m bench.dashboard [--backend sqlite|postgres|both] [--orders N] [--samples N]``.
SQLite: ``var/bench/bench-dashboard.db``. PostgreSQL: ``OMNICANAL_BENCH_DASHBOARD_PG_URL``
(default ``postgresql+psycopg://postgres@127.0.0.1:5432/omnicanal_bench_dashboard``; create
that database once with ``psql -c 'CREATE DATABASE omnicanal_bench_dashboard'``). The load is
redone when the order count changes (a marker row remembers it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import create_engine, insert, text

from bench.common import ROOT, log, percentiles, save
from omnicanal.analytics.definitions import DASHBOARD
from omnicanal.analytics.service import kpi_values
from omnicanal.analytics.tables import DailyRollupRow, MonthlyRollupRow
from omnicanal.locations.tables import LocationRow
from omnicanal.storage.database import Database

PG_URL = os.environ.get(
    "OMNICANAL_BENCH_DASHBOARD_PG_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/omnicanal_bench_dashboard",
)
FIRST_DAY = date(2025, 12, 1)
DAYS = 365
STORES = [f"loc_bench{i:02d}" for i in range(22)]
WAREHOUSE = "loc_benchwh"
CHANNELS = ["pos", "web", "app", "callcenter", "marketplace"]
CHANNEL_MIX = [0.42, 0.33, 0.15, 0.05, 0.05]
IDENTIFIED = np.array([0.6, 0.8, 0.95, 0.9, 0.5])
START = datetime(2025, 12, 1, tzinfo=UTC)
END = START + timedelta(days=DAYS)


def _day_weights(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    days = np.arange(DAYS)
    weekday = np.array([(FIRST_DAY + timedelta(days=int(d))).weekday() for d in days])
    weights = 1.0 + 0.25 * (weekday == 5) + 0.1 * (weekday == 4) - 0.5 * (weekday == 6)
    weights += 0.6 * (days < 31)  # December
    weights *= rng.uniform(0.9, 1.1, DAYS)
    result: np.ndarray[Any, Any] = weights / weights.sum()
    return result


class Rollups:
    """Aggregates per-order facts into (metric, day, channel, store) rows of n and total."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        metric: str,
        day: np.ndarray[Any, Any],
        channel: np.ndarray[Any, Any],
        store: np.ndarray[Any, Any],  # index into STORES, -1 none, 22 the warehouse
        total: np.ndarray[Any, Any] | None = None,
        currency: str = "EUR",
    ) -> None:
        key = (day.astype(np.int64) * len(CHANNELS) + channel) * 24 + (store + 1)
        unique, inverse = np.unique(key, return_inverse=True)
        n = np.bincount(inverse)
        sums = (
            np.rint(np.bincount(inverse, weights=total)).astype(np.int64)
            if total is not None
            else np.zeros(len(unique), dtype=np.int64)
        )
        for k, count, amount in zip(unique.tolist(), n.tolist(), sums.tolist(), strict=True):
            rest, s = divmod(k, 24)
            d, c = divmod(rest, len(CHANNELS))
            store_id = "" if s == 0 else (WAREHOUSE if s == 23 else STORES[s - 1])
            self.rows.append(
                {
                    "metric": metric,
                    "day": FIRST_DAY + timedelta(days=d),
                    "channel": CHANNELS[c],
                    "store_id": store_id,
                    "currency": currency,
                    "n": count,
                    "total": amount,
                }
            )


def generate(orders: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    day = rng.choice(DAYS, size=orders, p=_day_weights(rng))
    channel = rng.choice(len(CHANNELS), size=orders, p=CHANNEL_MIX)
    store_weights = rng.uniform(0.5, 1.5, len(STORES))
    store = rng.choice(len(STORES), size=orders, p=store_weights / store_weights.sum())
    pos = channel == 0
    selling = np.where(pos, store, -1)
    total = np.rint(rng.lognormal(mean=3.8, sigma=0.6, size=orders) * 100)
    identified = rng.random(orders) < IDENTIFIED[channel]
    out = Rollups()
    out.add("sale", day, channel, selling, total)
    out.add("sale.identified", day[identified], channel[identified], selling[identified],
            total[identified])  # fmt: skip
    remote = ~pos
    pickup = remote & (rng.random(orders) < 0.3)
    delivery = remote & ~pickup
    out.add("order.click_collect", day[pickup], channel[pickup], store[pickup])
    group_at = np.where(pickup, store, len(STORES))
    out.add("group.placed", day[remote], channel[remote], group_at[remote])
    back = remote & (rng.random(orders) < 0.01)
    out.add("group.backordered", day[back], channel[back], np.full(back.sum(), -1))
    ready = rng.exponential(2 * 3600, orders)
    out.add("cc.ready", day[pickup], channel[pickup], store[pickup], ready[pickup])
    no_show = pickup & (rng.random(orders) < 0.07)
    collected = pickup & ~no_show
    wait = rng.exponential(20 * 3600, orders)
    out.add("cc.collected", day[collected], channel[collected], store[collected], wait[collected])
    out.add("cc.no_show", day[no_show], channel[no_show], store[no_show])
    lead = rng.normal(40 * 3600, 10 * 3600, orders).clip(3600)
    late_by = (lead - 48 * 3600).clip(0)
    wh = np.full(orders, len(STORES))
    out.add("delivery.delivered", day[delivery], channel[delivery], wh[delivery], lead[delivery])
    out.add("delivery.promised", day[delivery], channel[delivery], wh[delivery], late_by[delivery])
    late = delivery & (late_by > 0)
    out.add("delivery.late", day[late], channel[late], wh[late], late_by[late])
    returned = rng.random(orders) < 0.08
    at_store = np.where(pos | (rng.random(orders) < 0.4), store, len(STORES))
    out.add("return", day[returned], channel[returned], at_store[returned], total[returned])
    rated = rng.random(orders) < 0.02
    score = rng.choice([1, 2, 3, 4, 5], size=orders, p=[0.05, 0.05, 0.1, 0.35, 0.45])
    out.add("csat", day[rated], channel[rated], selling[rated], score[rated].astype(float))
    new = identified & (rng.random(orders) < 0.2)
    out.add("customer.new", day[new], channel[new], selling[new])
    sessions = np.repeat(np.flatnonzero(channel == 1) if orders else np.array([], int), 30)
    out.add("session", day[sessions], channel[sessions], np.full(len(sessions), -1), None, "")
    return out.rows


def monthly(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The daily rows summed per calendar month, as ``rollup.bump`` keeps them."""
    sums: dict[tuple[Any, ...], list[int]] = {}
    for r in rows:
        key = (r["metric"], r["day"].replace(day=1), r["channel"], r["store_id"], r["currency"])
        found = sums.setdefault(key, [0, 0])
        found[0] += r["n"]
        found[1] += r["total"]
    names = ("metric", "month", "channel", "store_id", "currency")
    return [{**dict(zip(names, k, strict=True)), "n": v[0], "total": v[1]} for k, v in sums.items()]


def load(db: Database, orders: int) -> dict[str, Any]:
    marker = f"dashboard-v2-{orders}"  # v2: with the monthly rollups
    with db.engine.connect() as conn:
        try:
            found = conn.execute(text("SELECT value FROM bench_marker")).scalar()
        except Exception:
            found = None
    if found == marker:
        log(f"  reusing {db.dialect} rollups of {orders} orders")
        return {"reused": True}
    started = time.perf_counter()
    rows = generate(orders)
    generated = time.perf_counter() - started
    months = monthly(rows)
    meta = DailyRollupRow.metadata
    tables = [meta.tables[t] for t in ("locations", "analytics_daily", "analytics_monthly")]
    DailyRollupRow.metadata.drop_all(db.engine, tables=tables)
    DailyRollupRow.metadata.create_all(db.engine, tables=tables)
    now = datetime.now(UTC)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS bench_marker"))
        conn.execute(
            insert(LocationRow),
            [
                {
                    "id": s,
                    "code": s.upper(),
                    "name": s,
                    "kind": "warehouse" if s == WAREHOUSE else "store",
                    "latitude": 48.85,
                    "longitude": 2.35,
                    "capabilities": [],
                    "opening_hours": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for s in [*STORES, WAREHOUSE]
            ],
        )
        for i in range(0, len(rows), 20_000):
            conn.execute(insert(DailyRollupRow), rows[i : i + 20_000])
        conn.execute(insert(MonthlyRollupRow), months)
        conn.execute(text("ANALYZE"))
        conn.execute(text("CREATE TABLE bench_marker (value VARCHAR(40))"))
        conn.execute(text("INSERT INTO bench_marker VALUES (:v)"), {"v": marker})
    return {
        "reused": False,
        "daily_rows": len(rows),
        "monthly_rows": len(months),
        "generate_s": round(generated, 1),
        "load_s": round(time.perf_counter() - started - generated, 1),
    }


def _timed(db: Database, fn: Callable[[Any], object], samples: int) -> dict[str, float]:
    with db.read() as session:
        for _ in range(3):
            fn(session)
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            fn(session)
            times.append(time.perf_counter() - t)
    return percentiles(times)


def measure(db: Database, samples: int) -> dict[str, Any]:
    month = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))

    def dashboard(session: Any) -> object:
        return [
            kpi_values(session, kpi=k, start=START, end=END, group_by="channel") for k in DASHBOARD
        ]

    cases: dict[str, Callable[[Any], object]] = {
        "dashboard": dashboard,
        "revenue_by_day": lambda s: kpi_values(
            s, kpi="revenue", start=START, end=END, group_by="day"
        ),
        "no_show_by_store": lambda s: kpi_values(
            s, kpi="cc_no_show_rate", start=START, end=END, group_by="store"
        ),
        "basket_one_store_month": lambda s: kpi_values(
            s, kpi="average_basket", start=month[0], end=month[1], store_id=STORES[3]
        ),
    }
    results = {name: _timed(db, fn, samples) for name, fn in cases.items()}
    results["console_page"] = _page(db, samples)
    with db.read() as session:
        year = kpi_values(session, kpi="order_count", start=START, end=END)[0].value
    results["orders_in_rollups"] = {"value": int(year or 0)}
    return results


def _page(db: Database, samples: int) -> dict[str, float]:
    """The console's dashboard page, rendered through the application (in process)."""
    import re

    from fastapi.testclient import TestClient

    from omnicanal.api.app import create_app
    from omnicanal.console.tables import ConsoleUserRow
    from omnicanal.console.users import create_user
    from omnicanal.settings import Settings

    users = ConsoleUserRow.__table__
    ConsoleUserRow.metadata.create_all(db.engine, tables=[users])  # type: ignore[list-item]
    with db.engine.begin() as conn:
        conn.execute(users.delete())
    with db.uow() as uow:
        create_user(
            uow,
            email="bench@example.com",
            display_name="Bench",
            password="bench-password",
            role="head_office",
        )
    app = create_app(Settings(database_url=db.url, run_background_workers=False), db=db)
    path = f"/console/dashboard?start={START.date()}&end={END.date()}&group_by=channel"
    with TestClient(app) as client:
        form = client.get("/console/sign-in").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        if token is None:
            raise RuntimeError("no CSRF token on the sign-in page")
        client.post(
            "/console/sign-in",
            data={
                "email": "bench@example.com",
                "password": "bench-password",
                "csrf_token": token.group(1),
            },
        )
        first = client.get(path)
        if first.status_code != 200 or "<svg" not in first.text:
            raise RuntimeError(f"dashboard page: {first.status_code} {first.text[:300]}")
        for _ in range(3):
            client.get(path)
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            client.get(path)
            times.append(time.perf_counter() - t)
    return percentiles(times)


def backends(choice: str) -> list[tuple[str, str]]:
    wanted = ["sqlite", "postgres"] if choice == "both" else [choice]
    urls = []
    for backend in wanted:
        if backend == "sqlite":
            path = ROOT / "var" / "bench" / "bench-dashboard.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            urls.append(("sqlite", f"sqlite:///{path}"))
            continue
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            engine.dispose()
            urls.append(("postgres", PG_URL))
        except Exception as exc:
            log(f"PostgreSQL at {PG_URL} is not reachable, skipped: {exc}")
    return urls


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dashboard", description=__doc__)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    run: dict[str, Any] = {"orders": args.orders, "samples": args.samples, "results": {}}
    for backend, url in backends(args.backend):
        log(f"{backend}:")
        db = Database(url)
        try:
            loaded = load(db, args.orders)
            measured = measure(db, args.samples)
        finally:
            db.dispose()
        run["results"][backend] = {"load": loaded, **measured}
        for name, figures in measured.items():
            log(f"  {name}: {figures}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = save(f"dashboard-{stamp}", run)
    print(json.dumps(run, indent=2, default=str))
    log(f"saved {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
