"""Bulk loader for a demo (or benchmark) retailer.

It writes rows directly with Core inserts for speed (tens of thousands of levels in seconds,
a million for the benchmarks) and keeps the inventory invariant: every stock level is backed by
one `receipt` movement in the ledger, so the ledger sums to the levels from the first second.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.demo.places import RELAY_POINTS, STORES, WAREHOUSES
from omnicanal.inventory.tables import StockLevelRow, StockMovementRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database

STORE_HOURS = {d: [["10:00", "19:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}
WAREHOUSE_HOURS = {d: [["06:00", "22:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}

# (family, category, brand pool, base price range EUR, size axis, colours)
FAMILIES: list[tuple[str, str, list[str], tuple[int, int], list[str], list[str]]] = [
    (
        "Running shoe",
        "shoes/running",
        ["Altura", "Kestrel", "Norvent"],
        (59, 169),
        ["38", "39", "40", "41", "42", "43", "44", "45"],
        ["black", "white", "blue"],
    ),
    (
        "Trail shoe",
        "shoes/trail",
        ["Altura", "Cimes"],
        (79, 189),
        ["39", "40", "41", "42", "43", "44"],
        ["grey", "orange"],
    ),
    (
        "City sneaker",
        "shoes/city",
        ["Lumen", "Passage"],
        (49, 129),
        ["36", "37", "38", "39", "40", "41", "42", "43"],
        ["white", "black", "beige"],
    ),
    (
        "T-shirt",
        "apparel/tops",
        ["Norvent", "Lumen", "Basique"],
        (12, 39),
        ["XS", "S", "M", "L", "XL", "XXL"],
        ["white", "navy", "red", "green"],
    ),
    (
        "Rain jacket",
        "apparel/jackets",
        ["Cimes", "Norvent"],
        (69, 249),
        ["S", "M", "L", "XL"],
        ["yellow", "black", "khaki"],
    ),
    (
        "Fleece",
        "apparel/mid-layers",
        ["Cimes", "Basique"],
        (25, 89),
        ["S", "M", "L", "XL"],
        ["grey", "navy"],
    ),
    (
        "Jeans",
        "apparel/bottoms",
        ["Passage", "Basique"],
        (39, 119),
        ["36", "38", "40", "42", "44"],
        ["indigo", "black"],
    ),
    (
        "Backpack",
        "accessories/bags",
        ["Cimes", "Passage"],
        (29, 149),
        ["20L", "30L"],
        ["black", "green"],
    ),
    (
        "Socks (3 pairs)",
        "accessories/socks",
        ["Basique"],
        (9, 19),
        ["35-38", "39-42", "43-46"],
        ["white", "black"],
    ),
    (
        "Cap",
        "accessories/headwear",
        ["Lumen", "Norvent"],
        (15, 35),
        ["one-size"],
        ["black", "navy", "beige"],
    ),
]
MODELS = [
    "Aube",
    "Brise",
    "Cap",
    "Delta",
    "Écume",
    "Falaise",
    "Galet",
    "Horizon",
    "Isard",
    "Jura",
    "Karst",
    "Lagune",
    "Mistral",
    "Nuage",
    "Orée",
    "Pic",
    "Quai",
    "Roc",
    "Sable",
    "Tramontane",
    "Ubac",
    "Vallon",
    "Wagram",
    "Yole",
    "Zénith",
]


@dataclass(frozen=True, slots=True)
class SeedReport:
    locations: int
    products: int
    variants: int
    levels: int
    units: int


def gtin13(body12: str) -> str:
    """A GTIN-13 with its GS1 mod-10 check digit (prefix 30 to 37: GS1 France)."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body12))
    return body12 + str((10 - total % 10) % 10)


def _locations(now: datetime, extra_stores: int, rng: random.Random) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(
        place: tuple[str, str, str, str, float, float],
        kind: str,
        caps: list[str],
        capacity: int | None,
        hours: dict[str, Any],
    ) -> None:
        code, name, city, postcode, lat, lon = place
        rows.append(
            {
                "id": new_id("loc"),
                "code": code,
                "name": name,
                "kind": kind,
                "status": "active",
                "address_line1": "",
                "postcode": postcode,
                "city": city,
                "country": "FR",
                "latitude": lat,
                "longitude": lon,
                "timezone": "Europe/Paris",
                "territory": "FR",
                "opening_hours": hours,
                "capabilities": caps,
                "daily_order_capacity": capacity,
                "created_at": now,
                "updated_at": now,
            }
        )

    for i, place in enumerate(STORES):
        caps = ["pickup", "ship_from_store", "reserve_and_try"] + (
            ["curbside"] if i % 3 == 0 else []
        )
        add(place, "store", caps, 40 + (i % 4) * 20, STORE_HOURS)
    for place in WAREHOUSES:
        add(place, "warehouse", ["ship"], 5000, WAREHOUSE_HOURS)
    for place in RELAY_POINTS:
        add(place, "relay_point", ["pickup"], None, STORE_HOURS)
    # Benchmarks ask for hundreds of locations: spread extra stores around the real ones.
    for n in range(extra_stores):
        code, _name, city, postcode, lat, lon = STORES[n % len(STORES)]
        add(
            (
                f"{code[:3]}-X{n:04d}",
                f"{city} store {n}",
                city,
                postcode,
                lat + rng.uniform(-0.3, 0.3),
                lon + rng.uniform(-0.3, 0.3),
            ),
            "store",
            ["pickup", "ship_from_store"],
            40,
            STORE_HOURS,
        )
    return rows


def _catalogue(
    now: datetime, target_skus: int, rng: random.Random
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    products: list[dict[str, Any]] = []
    variants: list[dict[str, Any]] = []
    prices: list[dict[str, Any]] = []
    n = 0
    while len(variants) < target_skus:
        family, category, brands, (lo, hi), sizes, colours = FAMILIES[n % len(FAMILIES)]
        model = MODELS[(n // len(FAMILIES)) % len(MODELS)]
        generation = n // (len(FAMILIES) * len(MODELS))
        title = f"{family} {model}" + (f" {generation + 1}" if generation else "")
        brand = brands[n % len(brands)]
        product_id = new_id("prd")
        products.append(
            {
                "id": product_id,
                "title": title,
                "title_lower": title.lower(),
                "description": f"{title} by {brand}.",
                "brand": brand,
                "category": category,
                "attributes": {"family": family},
                "images": [],
                "assortment": "online_only"
                if n % 29 == 28
                else ("store_only" if n % 31 == 30 else "omnichannel"),
                "status": "active",
                "created_at": now,
                "updated_at": now,
            }
        )
        price_minor = rng.randint(lo, hi) * 100 + rng.choice([0, 50, 90, 99])
        for colour in colours:
            for size in sizes:
                if len(variants) >= target_skus:
                    break
                sku = f"{category.split('/')[1][:3].upper()}-{n:05d}-{colour[:3].upper()}-{size}"
                variant_title = f"{title} {colour} {size}"
                variants.append(
                    {
                        "id": new_id("var"),
                        "product_id": product_id,
                        "sku": sku,
                        "gtin": gtin13(f"3{rng.randrange(10**11):011d}"),
                        "title": variant_title,
                        "title_lower": variant_title.lower(),
                        "attributes": {"colour": colour, "size": size},
                        "images": [],
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                prices.append(
                    {"sku": sku, "currency": "EUR", "amount_minor": price_minor, "updated_at": now}
                )
        n += 1
    return products, variants, prices


SHOWCASE_SKUS = 24


def _stock(
    now: datetime,
    skus: list[str],
    locations: list[dict[str, Any]],
    density: float,
    rng: random.Random,
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for location in locations:
        if location["kind"] == "relay_point":
            continue
        warehouse = location["kind"] == "warehouse"
        for index, sku in enumerate(skus):
            # the first products (the README tour's) are on every store's shelf
            showcase = index < SHOWCASE_SKUS
            if not warehouse and not showcase and rng.random() > density:
                continue
            if warehouse:
                on_hand = rng.randint(20, 300)
            elif showcase:
                on_hand = rng.choice([3, 4, 5, 6, 8, 12])
            else:
                on_hand = rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12])
            level = {
                "sku": sku,
                "location_id": location["id"],
                "on_hand": on_hand,
                "reserved": 0,
                "committed": 0,
                "damaged": 0,
                "safety_stock": 0 if warehouse else 1,
                "incoming": 0,
                "low_stock_threshold": None,
                "updated_at": now,
            }
            movement = {
                "id": new_id("mov"),
                "sku": sku,
                "location_id": location["id"],
                "kind": "receipt",
                "d_on_hand": on_hand,
                "d_reserved": 0,
                "d_committed": 0,
                "d_damaged": 0,
                "d_incoming": 0,
                "reason": "opening stock",
                "reference_type": "import",
                "reference_id": "demo-seed",
                "reservation_id": None,
                "actor": "system",
                "occurred_at": now,
            }
            yield level, movement


def _bulk(db: Database, table: type[Any], rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    with db.engine.begin() as conn:
        conn.execute(insert(table), rows)


def is_seeded(db: Database) -> bool:
    with db.read() as session:
        return bool(session.scalar(select(func.count()).select_from(LocationRow)))


def seed_retailer(
    db: Database,
    *,
    skus: int = 2400,
    extra_stores: int = 0,
    density: float = 0.75,
    seed: int = 42,
    batch: int = 20_000,
) -> SeedReport:
    """Load locations, catalogue, base prices and opening stock. Deterministic for a seed."""
    rng = random.Random(seed)
    now = db.clock.now()
    locations = _locations(now, extra_stores, rng)
    products, variants, prices = _catalogue(now, skus, rng)
    _bulk(db, LocationRow, locations)
    _bulk(db, ProductRow, products)
    for start in range(0, len(variants), batch):
        _bulk(db, VariantRow, variants[start : start + batch])
        _bulk(db, BasePriceRow, prices[start : start + batch])
    levels: list[dict[str, Any]] = []
    movements: list[dict[str, Any]] = []
    level_count = units = 0
    for level, movement in _stock(now, [v["sku"] for v in variants], locations, density, rng):
        levels.append(level)
        movements.append(movement)
        level_count += 1
        units += level["on_hand"]
        if len(levels) >= batch:
            _flush_stock(db, levels, movements)
    _flush_stock(db, levels, movements)
    return SeedReport(len(locations), len(products), len(variants), level_count, units)


def _flush_stock(
    db: Database, levels: list[dict[str, Any]], movements: list[dict[str, Any]]
) -> None:
    with db.engine.begin() as conn:
        if levels:
            conn.execute(insert(StockLevelRow), levels)
            conn.execute(insert(StockMovementRow), movements)
    levels.clear()
    movements.clear()
