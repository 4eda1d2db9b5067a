"""``promotions``: pricing a 20-line basket against 200 active promotions.

Three levels, each timed per call (p50 / p99 / mean over ``--n`` calls after a warm-up):

- ``engine``: the pure ``price_basket`` (no I/O): the cost of the rules themselves;
- ``service``: ``promotions.service.quote`` in one read session: catalogue prices and categories,
  the customer's segments, the cached active promotions, the engine; also with the cache
  dropped before every call (``service_cold``: the promotions loaded and parsed each time);
- ``http``: ``POST /v1/promotions/quote`` through the ASGI app (``TestClient``, in process: the
  routing, validation, auth and JSON costs, not the network).

The database is a fresh SQLite file (or ``--url``). Results go to docs/benchmarks-promotions.md.

    .venv/bin/python -m bench.promotions [--n 2000] [--url postgresql+psycopg://...]
"""

from __future__ import annotations

import argparse
import platform
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine

from omnicanal.api.app import create_app
from omnicanal.auth.service import create_key
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.promotions import service
from omnicanal.promotions.model import (
    Action,
    ActionKind,
    Basket,
    Conditions,
    Context,
    Line,
    Promotion,
    Scope,
    price_basket,
)
from omnicanal.settings import Settings
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.registry import load_all_tables

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "benchmarks-promotions.md"
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
CATEGORIES = [f"cat-{i}" for i in range(20)]
SKUS = [f"SKU-{i:04d}" for i in range(400)]
LINES = 20
PROMOTIONS = 200


def _action(rng: random.Random, i: int) -> Action:
    k = i % 6
    if k == 0:
        return Action(ActionKind.PERCENT_OFF, percent=Decimal(rng.choice([5, 10, 15, 20, 30])))
    if k == 1:
        return Action(ActionKind.AMOUNT_OFF, amount_minor=rng.choice([100, 200, 500]))
    if k == 2:
        return Action(ActionKind.BUY_X_GET_Y, buy=2, get=1, percent=Decimal(100))
    if k == 3:
        return Action(ActionKind.PERCENT_OFF, scope=Scope.BASKET, percent=Decimal(5))
    if k == 4:
        return Action(ActionKind.FIXED_PRICE, price_minor=rng.choice([990, 1990]))
    return Action(ActionKind.BONUS_POINTS, points=100)


def _conditions(rng: random.Random, i: int) -> Conditions:
    c = Conditions(
        categories=frozenset(rng.sample(CATEGORIES, 2)) if i % 3 else frozenset(),
        skus=frozenset(rng.sample(SKUS, 10)) if i % 3 == 0 else frozenset(),
        min_quantity=rng.choice([0, 0, 2]),
        starts_at=NOW - timedelta(days=1),
        ends_at=NOW + timedelta(days=7),
    )
    return replace(c, channels=frozenset({"pos"})) if i % 10 == 0 else c


def drafts(rng: random.Random) -> list[service.PromotionDraft]:
    out = []
    for i in range(PROMOTIONS):
        out.append(
            service.PromotionDraft(
                name=f"Promotion {i}",
                actions=(_action(rng, i),),
                conditions=_conditions(rng, i),
                priority=rng.randint(0, 20),
                exclusive=i % 17 == 0,
                stackable=i % 5 != 0,
                currency="EUR",
                max_redemptions=100_000 if i % 4 == 0 else None,
            )
        )
    return out


def seed(db: Database, rng: random.Random) -> None:
    with db.uow() as uow:
        for n, sku in enumerate(SKUS):
            product = new_id("prd")
            uow.session.add(
                ProductRow(
                    id=product,
                    title=sku,
                    title_lower=sku.lower(),
                    description="",
                    category=CATEGORIES[n % len(CATEGORIES)],
                    attributes={},
                    images=[],
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            uow.session.flush()
            uow.session.add(
                VariantRow(
                    id=new_id("var"),
                    product_id=product,
                    sku=sku,
                    title=sku,
                    title_lower=sku.lower(),
                    attributes={},
                    images=[],
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            uow.session.flush()
            uow.session.add(
                BasePriceRow(
                    sku=sku, currency="EUR", amount_minor=rng.randint(500, 20_000), updated_at=NOW
                )
            )
    with db.uow() as uow:
        for draft in drafts(rng):
            service.create_promotion(uow, draft, actor="bench")


def timed(fn: Callable[[], object], n: int) -> dict[str, float]:
    for _ in range(min(50, n)):
        fn()
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    cuts = statistics.quantiles(samples, n=100)
    return {"p50": cuts[49], "p99": cuts[98], "mean": statistics.fmean(samples)}


def run(url: str | None, n: int) -> dict[str, dict[str, float]]:
    rng = random.Random(7)
    tmp = tempfile.TemporaryDirectory()
    url = url or f"sqlite:///{tmp.name}/bench-promotions.db"
    engine = create_engine(url)
    metadata = load_all_tables()
    metadata.drop_all(engine)
    metadata.create_all(engine)
    engine.dispose()
    db = Database(url, clock=FrozenClock(NOW))
    seed(db, rng)
    skus = rng.sample(SKUS, LINES)
    quantities = [rng.randint(1, 3) for _ in skus]
    basket_input = service.BasketInput(
        currency="EUR",
        lines=tuple(service.LineInput(s, q) for s, q in zip(skus, quantities, strict=True)),
        channel="web",
    )
    results: dict[str, dict[str, float]] = {}

    with db.read() as session:
        active = service.active_promotions(session)
        first = service.quote(session, basket_input, at=NOW)
    promotions: list[Promotion] = list(active.promotions)
    lines = tuple(Line(pl.sku, pl.quantity, pl.unit_price_minor, pl.category) for pl in first.lines)
    basket = Basket("EUR", lines, Context(at=NOW, channel="web"))
    results["engine"] = timed(lambda: price_basket(basket, promotions), n)

    def quote() -> object:
        with db.read() as session:
            return service.quote(session, basket_input, at=NOW)

    def quote_cold() -> object:
        service.invalidate_cache()
        return quote()

    results["service"] = timed(quote, n)
    results["service_cold"] = timed(quote_cold, max(50, n // 10))

    settings = Settings(database_url=url, run_background_workers=False, api_key_cache_seconds=60)
    with db.uow() as uow:
        secret = create_key(uow, name="bench web", channel="web").secret
    body = {"lines": [{"sku": s, "quantity": q} for s, q in zip(skus, quantities, strict=True)]}
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings, db=db)) as client:

        def http() -> object:
            response = client.post("/v1/promotions/quote", json=body, headers=headers)
            assert response.status_code == 200, response.text
            return response

        results["http"] = timed(http, n)
    applied = len(first.applied)
    results["basket"] = {
        "applied": float(applied),
        "not_applied": float(len(first.not_applied)),
        "discount_pct": 100.0 * first.discount_minor / max(1, first.subtotal_minor),
    }
    db.dispose()
    tmp.cleanup()
    return results


def report(results: dict[str, dict[str, float]], url: str | None, n: int) -> str:
    backend = "PostgreSQL" if url and url.startswith("postgresql") else "SQLite (file)"
    rows = "\n".join(
        f"| {level} | {r['p50']:.3f} | {r['p99']:.3f} | {r['mean']:.3f} |"
        for level, r in results.items()
        if level != "basket"
    )
    b = results["basket"]
    return f"""# Benchmark: promotions (quote a 20-line basket, 200 active promotions)

Command: `.venv/bin/python -m bench.promotions --n {n}` ({backend}; {
        platform.processor() or platform.machine()
    }, Python {platform.python_version()}, 2 shared cores, other work running).

The basket: {LINES} lines (1-3 units each) drawn from 400 SKUs in 20 categories; 200 promotions,
all active in the window: percent off a category or 10 SKUs, amount off, 3-for-2, 5 % off the
basket, fixed prices, bonus points; 1 in 10 till-only; random priorities,
1 in 17 exclusive, 1 in 5 non-stackable.
On this basket {b["applied"]:.0f} promotions applied, {b["not_applied"]:.0f} did not (each with
its reason), {b["discount_pct"]:.1f} % off in total.

| level | p50 ms | p99 ms | mean ms |
|---|---|---|---|
{rows}

- `engine`: `model.price_basket` alone, the rules (pure Python, no I/O).
- `service`: `service.quote` in a read session: catalogue prices + categories (one query), the
  active promotions from the in-process cache (5 s, dropped on every change), the engine.
- `service_cold`: the same with the cache dropped before each call (200 rows loaded and parsed).
- `http`: `POST /v1/promotions/quote` through the ASGI app in process (TestClient): auth,
  validation, the quote, the JSON with explanations for every line and every promotion.

Reading: `engine` is the cost of the rules; `service` - `engine` is the read session and the
catalogue query (prices + categories of the 20 SKUs); `http` - `service` is auth, validation and
the JSON. Without the cache every quote would pay `service_cold`: hence the cache.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--url", default=None, help="a database URL (default: SQLite in /tmp)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    results = run(args.url, args.n)
    text = report(results, args.url, args.n)
    print(text)
    if not args.no_write:
        REPORT.write_text(text)
        print(f"written to {REPORT}")


if __name__ == "__main__":
    main()
