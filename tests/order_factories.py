"""A small retailer for order tests: stores, a warehouse, priced SKUs with stock."""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.catalog.tables import BasePriceRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.service import Line
from omnicanal.storage.database import Database
from tests.inventory_factories import make_location, make_skus


@dataclass(frozen=True)
class Network:
    rivoli: str
    bastille: str
    lyon: str
    warehouse: str


PRICES = {"SHOE-42": 8990, "SOCKS": 990, "CAP": 2500}


def make_network(db: Database, stock: dict[str, dict[str, int]] | None = None) -> Network:
    net = Network(
        rivoli=make_location(db, "PAR-RIVOLI", lat=48.8606, lon=2.3470),
        bastille=make_location(db, "PAR-BASTILLE", lat=48.8532, lon=2.3691),
        lyon=make_location(db, "LYO-PARTDIEU", lat=45.7609, lon=4.8563),
        warehouse=make_location(
            db, "WH-SARAN", lat=47.9510, lon=1.8760, kind="warehouse", capabilities=("ship",)
        ),
    )
    make_skus(db, *PRICES)
    now = db.clock.now()
    with db.uow() as uow:
        for sku, minor in PRICES.items():
            uow.session.add(
                BasePriceRow(sku=sku, currency="EUR", amount_minor=minor, updated_at=now)
            )
    levels = stock or {
        "rivoli": {"SHOE-42": 2, "SOCKS": 5},
        "bastille": {"SHOE-42": 4, "SOCKS": 1},
        "lyon": {"SHOE-42": 3},
        "warehouse": {"SHOE-42": 20, "SOCKS": 50, "CAP": 10},
    }
    with db.uow() as uow:
        for name, lines in levels.items():
            if not any(lines.values()):
                continue
            inventory.receive(
                uow,
                location_id=getattr(net, name),
                lines=[Line(sku, qty) for sku, qty in lines.items() if qty],
            )
    return net
