"""The retailer a simulation runs in: set up from the demo seed when the database is empty,
then read once (stores, relay points, the catalogue, what each store holds)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.demo import seed as demo
from omnicanal.demo.places import STORES as DEMO_STORES
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.geo import haversine_km
from omnicanal.simulation.model import HomeStore
from omnicanal.storage.database import Database


@dataclass(frozen=True)
class Place:
    id: str
    code: str
    name: str
    city: str
    postcode: str
    latitude: float
    longitude: float
    capabilities: frozenset[str]

    def home(self) -> HomeStore:
        return HomeStore(self.code, self.city, self.postcode, self.latitude, self.longitude)


@dataclass(frozen=True)
class Sku:
    sku: str
    product_id: str
    price_minor: int
    category: str
    online: bool  # sold on the web, the app and marketplaces
    in_store: bool  # sold at the tills


@dataclass
class World:
    stores: list[Place]
    relay_points: list[Place]
    skus: list[Sku]  # in popularity order (best-sellers first)
    siblings: dict[str, list[str]]  # product id -> its SKUs (other sizes and colours)
    shelves: dict[str, list[str]]  # store id -> SKUs it held at the start, popularity order
    accessories: dict[str, list[str]] = field(default_factory=dict)  # store id -> cheap add-ons
    by_sku: dict[str, Sku] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_sku = {s.sku: s for s in self.skus}

    def nearest(self, places: list[Place], lat: float, lon: float) -> list[Place]:
        return sorted(
            places, key=lambda p: (haversine_km(lat, lon, p.latitude, p.longitude), p.code)
        )


@dataclass(frozen=True)
class SetUp:
    stores: int
    skus: int
    levels: int
    units: int


def set_up_retailer(db: Database, *, stores: int, skus: int, seed: int) -> SetUp | None:
    """An empty database gets the demo retailer cut to ``stores`` stores (extra ones around the
    demo cities beyond its 24) and ``skus`` SKUs; a database with locations is used as it is."""
    if demo.is_seeded(db):
        return None
    rng = random.Random(seed)
    now = db.clock.now()
    extra = max(0, stores - len(DEMO_STORES))
    locations = demo._locations(now, extra, rng)
    kept = _first_stores(locations, stores)
    products, variants, prices = demo._catalogue(now, skus, rng)
    demo._bulk(db, LocationRow, kept)
    demo._bulk(db, ProductRow, products)
    demo._bulk(db, VariantRow, variants)
    demo._bulk(db, BasePriceRow, prices)
    levels: list[dict[str, Any]] = []
    movements: list[dict[str, Any]] = []
    count = units = 0
    for level, movement in demo._stock(now, [v["sku"] for v in variants], kept, 0.75, rng):
        levels.append(level)
        movements.append(movement)
        count += 1
        units += level["on_hand"]
        if len(levels) >= 20_000:
            demo._flush_stock(db, levels, movements)
    demo._flush_stock(db, levels, movements)
    return SetUp(stores=stores, skus=len(variants), levels=count, units=units)


def _first_stores(locations: list[dict[str, Any]], stores: int) -> list[dict[str, Any]]:
    kept: list[dict[str, Any]] = []
    seen = 0
    for row in locations:
        if row["kind"] == "store":
            seen += 1
            if seen > stores:
                continue
        kept.append(row)
    return kept


def _place(row: LocationRow) -> Place:
    return Place(
        id=row.id,
        code=row.code,
        name=row.name,
        city=row.city,
        postcode=row.postcode,
        latitude=row.latitude,
        longitude=row.longitude,
        capabilities=frozenset(row.capabilities or ()),
    )


def load_world(db: Database, *, stores: int, seed: int) -> World:
    """The first ``stores`` active stores by code (all of them when fewer exist)."""
    with db.read() as session:
        rows = session.scalars(
            select(LocationRow).where(LocationRow.status == "active").order_by(LocationRow.code)
        ).all()
        chosen = [_place(r) for r in rows if r.kind == "store"][:stores]
        relays = [_place(r) for r in rows if r.kind == "relay_point"]
        catalogue = session.execute(
            select(
                VariantRow.sku,
                VariantRow.product_id,
                BasePriceRow.amount_minor,
                ProductRow.category,
                ProductRow.assortment,
            )
            .join(ProductRow, ProductRow.id == VariantRow.product_id)
            .join(BasePriceRow, BasePriceRow.sku == VariantRow.sku)
            .where(
                BasePriceRow.currency == "EUR",
                ProductRow.status == "active",
                VariantRow.status == "active",
            )
            .order_by(VariantRow.sku)
        ).all()
        ids = [p.id for p in chosen]
        held = session.execute(
            select(StockLevelRow.location_id, StockLevelRow.sku)
            .where(
                StockLevelRow.location_id.in_(ids),
                StockLevelRow.on_hand > StockLevelRow.safety_stock,
            )
            .order_by(StockLevelRow.location_id, StockLevelRow.sku)
        ).all()
    if not chosen:
        raise ValueError("the database has no active store to simulate")
    skus = [
        Sku(
            sku=sku,
            product_id=product_id,
            price_minor=int(price),
            category=category or "",
            online=assortment != "store_only",
            in_store=assortment != "online_only",
        )
        for sku, product_id, price, category, assortment in catalogue
    ]
    # popularity: a seeded shuffle of the products (named by their first SKU, not their id:
    # ids differ from one set-up to the next), their SKUs together
    first: dict[str, str] = {}
    for s in skus:
        first.setdefault(s.product_id, s.sku)
    products = sorted(first, key=first.__getitem__)
    random.Random(f"{seed}:popularity").shuffle(products)
    rank = {p: i for i, p in enumerate(products)}
    skus.sort(key=lambda s: (rank[s.product_id], s.sku))
    siblings: dict[str, list[str]] = {}
    for s in skus:
        siblings.setdefault(s.product_id, []).append(s.sku)
    order = {s.sku: i for i, s in enumerate(skus)}
    shelves: dict[str, list[str]] = {p.id: [] for p in chosen}
    for location_id, sku in held:
        if sku in order:
            shelves[location_id].append(sku)
    for shelf in shelves.values():
        shelf.sort(key=order.__getitem__)
    by_sku = {s.sku: s for s in skus}
    accessories = {
        store: [s for s in shelf if by_sku[s].category.startswith("accessories/")]
        for store, shelf in shelves.items()
    }
    return World(chosen, relays, skus, siblings, shelves, accessories)
