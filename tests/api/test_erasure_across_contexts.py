"""Erasure reaches every context: after it, no table holds the customer's email, phone, name
or address — orders included (kept for the accounts, without the personal fields)."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.storage.base import Base
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import make_network

PERSONAL = ["nina.rossi@example.fr", "Nina Rossi", "12 rue des Lilas", "+33611223344"]


def scan(db: Database) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                text = str(tuple(row)).lower()
                found += [(table.name, v) for v in PERSONAL if v.lower() in text]
    return found


def test_erasure_blanks_orders_and_exports_them_first(
    client: TestClient, db: Database, make_key: MakeKey, admin: dict[str, str]
) -> None:
    net = make_network(db)
    web = make_key("web")
    nina = client.post(
        "/v1/customers/identify",
        headers=web,
        json={
            "identifiers": [
                {"kind": "email", "value": "nina.rossi@example.fr"},
                {"kind": "phone", "value": "+33611223344"},
            ]
        },
    ).json()["profile_id"]
    placed = client.post(
        "/v1/orders",
        headers={**web, "Idempotency-Key": str(uuid.uuid4())},
        json={
            "method": "home_delivery",
            "customer_id": nina,
            "lines": [{"sku": "CAP", "quantity": 1}],
            "contact": {"email": "nina.rossi@example.fr", "name": "Nina Rossi"},
            "shipping_address": {
                "name": "Nina Rossi",
                "line1": "12 rue des Lilas",
                "postcode": "69003",
                "city": "Lyon",
                "country": "FR",
            },
        },
    )
    assert placed.status_code == 201, placed.text
    assert net.warehouse == placed.json()["groups"][0]["location_id"]
    exported = client.get(f"/v1/customers/{nina}/export", headers=admin).json()
    assert "orders" in str(exported)
    assert "12 rue des Lilas" in str(exported)
    assert {t for t, _ in scan(db)} >= {"orders", "customer_identifiers"}

    erased = client.post(
        f"/v1/customers/{nina}/erase",
        json={"reason": "customer request"},
        headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert erased.status_code == 200, erased.text
    assert scan(db) == []
    order = client.get(f"/v1/orders/{placed.json()['id']}", headers=admin).json()
    assert order["total"]["amount"] == "25.00"  # the order stays for the accounts
    assert order["contact"] == {}
