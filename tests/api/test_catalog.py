"""Catalogue through the HTTP API: products, variants, prices, search, scopes, bad input."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey

GTIN_A = "4006381333931"  # valid EAN-13
GTIN_B = "73513537"  # valid EAN-8


def shoe(sku: str = "RUN2-42", gtin: str | None = GTIN_A, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Runner 2 trail shoe",
        "brand": "Trailco",
        "category": "shoes/trail",
        "images": ["https://cdn.example.com/run2.jpg"],
        "variants": [{"sku": sku, "gtin": gtin, "attributes": {"size": "42", "colour": "black"}}],
        **extra,
    }


def counts(db: Database) -> tuple[int, int, int, int]:
    with db.read() as s:
        return tuple(  # type: ignore[return-value]
            int(s.scalar(select(func.count()).select_from(t)) or 0)
            for t in (ProductRow, VariantRow, BasePriceRow, OutboxEventRow)
        )


def test_create_then_read_a_product_and_its_variant(
    client: TestClient, admin: dict[str, str], db: Database
) -> None:
    created = client.post("/v1/products", json=shoe(), headers=admin)
    assert created.status_code == 201, created.text
    product = created.json()
    assert product["id"].startswith("prd_")
    assert product["variants"][0]["sku"] == "RUN2-42"
    assert product["variants"][0]["title"] == "Runner 2 trail shoe - 42 / black"
    again = client.get(f"/v1/products/{product['id']}", headers=admin)
    assert again.json() == product
    with db.read() as s:
        types = list(s.scalars(select(OutboxEventRow.type).order_by(OutboxEventRow.seq)))
    assert types == ["catalog.product.created", "catalog.variant.created"]


def test_variant_detail_has_product_summary_and_prices(
    client: TestClient, admin: dict[str, str]
) -> None:
    client.post("/v1/products", json=shoe(), headers=admin)
    put = client.put("/v1/prices/RUN2-42/EUR", json={"amount": "89.90"}, headers=admin)
    assert put.status_code == 200, put.text
    assert put.json()["amount"] == "89.90"
    detail = client.get("/v1/variants/RUN2-42", headers=admin).json()
    assert detail["product"]["title"] == "Runner 2 trail shoe"
    assert detail["prices"] == [
        {"sku": "RUN2-42", "currency": "EUR", "amount": "89.90", "updated_at": put.json()["updated_at"]}
    ]
