"""Test data for inventory: locations and SKUs written as rows (no catalogue API needed)."""

from __future__ import annotations

import itertools

from omnicanal.catalog.tables import ProductRow, VariantRow
from omnicanal.locations.tables import LocationRow
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database

_counter = itertools.count()

HOURS = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


def make_location(
    db: Database,
    code: str | None = None,
    *,
    lat: float = 48.8606,
    lon: float = 2.3470,
    kind: str = "store",
    capabilities: tuple[str, ...] = ("pickup", "ship_from_store", "reserve_and_try"),
    status: str = "active",
) -> str:
    location_id = new_id("loc")
    now = db.clock.now()
    with db.uow() as uow:
        uow.session.add(
            LocationRow(
                id=location_id,
                code=code or f"LOC-{next(_counter)}",
                name=code or "Store",
                kind=kind,
                status=status,
                address_line1="",
                postcode="75001",
                city="Paris",
                country="FR",
                latitude=lat,
                longitude=lon,
                timezone="Europe/Paris",
                territory="FR",
                opening_hours=HOURS,
                capabilities=list(capabilities),
                daily_order_capacity=50,
                created_at=now,
                updated_at=now,
            )
        )
    return location_id


def make_skus(db: Database, *skus: str) -> list[str]:
    now = db.clock.now()
    product_id = new_id("prd")
    with db.uow() as uow:
        uow.session.add(
            ProductRow(
                id=product_id,
                title="Trail shoe",
                title_lower="trail shoe",
                description="",
                brand="Cimes",
                category="shoes",
                attributes={},
                images=[],
                assortment="omnichannel",
                status="active",
                created_at=now,
                updated_at=now,
            )
        )
        uow.session.flush()
        for sku in skus:
            uow.session.add(
                VariantRow(
                    id=new_id("var"),
                    product_id=product_id,
                    sku=sku,
                    gtin=None,
                    title=f"Trail shoe {sku}",
                    title_lower=f"trail shoe {sku}".lower(),
                    attributes={},
                    images=[],
                    created_at=now,
                    updated_at=now,
                )
            )
    return list(skus)
