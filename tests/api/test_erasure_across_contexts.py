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


def scan(db: Database, personal: list[str] = PERSONAL) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    with db.read() as session:
        for table in Base.metadata.sorted_tables:
            for row in session.execute(select(table)):
                text = str(tuple(row)).lower()
                found += [(table.name, v) for v in personal if v.lower() in text]
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


def test_an_erased_customer_stays_erased(
    client: TestClient, db: Database, make_key: MakeKey, admin: dict[str, str]
) -> None:
    """After erasure: her till sale no longer names her, the events a bus kept and redelivers
    resurrect nothing, and her old email identifies a new, empty profile."""
    from omnicanal.consumers import all_consumers
    from omnicanal.events.dispatch import drain
    from omnicanal.events.outbox import stored
    from omnicanal.events.tables import OutboxEventRow
    from omnicanal.shared.errors import DomainError
    from omnicanal.tills.tables import TillSaleRow

    net = make_network(db)
    web, till = make_key("web"), make_key("pos", store_id=net.rivoli)
    nina = client.post(
        "/v1/customers/identify",
        headers=web,
        json={
            "identifiers": [
                {"kind": "email", "value": "nina.rossi@example.fr"},
                {"kind": "phone", "value": "+33611223344"},
                {"kind": "loyalty_card", "value": "NINA-7788"},
            ],
            "attributes": {"given_name": "Nina", "family_name": "Rossi"},
        },
    ).json()["profile_id"]
    synced = client.post(
        "/v1/tills/sales:batch",
        headers={**till, "Idempotency-Key": str(uuid.uuid4())},
        json={
            "store_id": net.rivoli,
            "till_id": "T1",
            "sales": [
                {
                    "sale_id": "R-0001",
                    "sold_at": "2026-11-22T16:00:00+01:00",
                    "card": "NINA-7788",
                    "lines": [{"sku": "SOCKS", "quantity": 2, "unit_price": "9.90"}],
                }
            ],
        },
    )
    assert synced.status_code == 200, synced.text
    assert synced.json()["sales"][0]["customer_id"] == nina
    drain(db)  # published and consumed, as the background dispatcher does
    with db.read() as session:  # what a bus (or a webhook receiver) holds before the erasure
        kept = [stored(row) for row in session.scalars(select(OutboxEventRow))]
    assert any(e.type == "tills.sale.recorded" for e in kept)

    erased = client.post(
        f"/v1/customers/{nina}/erase",
        json={"reason": "customer request"},
        headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert erased.status_code == 200, erased.text
    drain(db)
    assert client.get(f"/v1/customers/{nina}", headers=admin).status_code == 410
    assert scan(db) == []
    assert nina in {e.data.get("customer_id") for e in kept}

    # every consumer gets every kept event again, as an at-least-once bus may redeliver them
    for consumer in all_consumers():
        for event in kept:
            if not consumer.wants(event.type):
                continue
            try:
                with db.uow() as uow:
                    consumer.handle(uow, event)
            except DomainError:
                pass  # refused: a redelivery of what was erased changes nothing
    assert scan(db, [*PERSONAL, "NINA7788", "NINA-7788", "Nina"]) == []
    assert client.get(f"/v1/customers/{nina}", headers=admin).status_code == 410
    with db.read() as session:
        assert session.scalars(select(TillSaleRow.customer_id)).all() == [None]

    again = client.post(
        "/v1/customers/identify",
        headers=web,
        json={"identifiers": [{"kind": "email", "value": "nina.rossi@example.fr"}]},
    )
    assert again.status_code == 200, again.text
    fresh = again.json()["profile_id"]
    assert fresh != nina
    profile = client.get(f"/v1/customers/{fresh}", headers=admin).json()
    assert profile.get("given_name") is None
    assert (
        client.get("/v1/orders", headers=admin, params={"customer_id": fresh}).json()["data"] == []
    )
    points = client.get("/v1/loyalty/accounts", headers=admin, params={"customer_id": fresh})
    assert points.status_code == 404
    assert client.get(f"/v1/customers/{nina}", headers=admin).status_code == 410
