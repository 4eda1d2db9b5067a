"""Recommendations over HTTP: a till posts its sales, the associate asks accessories for the
customer's cart (in stock at the till's store), the offers skip what the customer returned."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.inventory_factories import make_location

URL = "/v1/recommendations"
PURCHASES = "/v1/recommendations/purchases"


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def shop(client: TestClient, admin: dict[str, str], db: Database) -> dict[str, str]:
    """Shoes, socks, a cap; the store has shoes and socks but no caps."""
    store = make_location(db, "PAR-RIVOLI")
    for title, sku, price in (
        ("Trail shoe", "SHOE-42", "89.99"),
        ("Merino socks", "SOCKS-M", "12.99"),
        ("Cap", "CAP", "25.00"),
    ):
        ok(
            client.post(
                "/v1/products",
                json={"title": title, "assortment": "omnichannel", "variants": [{"sku": sku}]},
                headers=admin,
            ),
            201,
        )
        ok(client.put(f"/v1/prices/{sku}/EUR", json={"amount": price}, headers=admin))
    ok(
        client.post(
            "/v1/stock/receipts",
            json={
                "location_id": store,
                "lines": [{"sku": "SHOE-42", "quantity": 4}, {"sku": "SOCKS-M", "quantity": 20}],
            },
            headers=admin,
        )
    )
    return {"store": store}


def sales(store: str, customer_id: str | None = None) -> dict[str, Any]:
    baskets = [["SHOE-42", "SOCKS-M"], ["SHOE-42", "CAP"], ["SHOE-42", "CAP", "SOCKS-M"]]
    return {
        "purchases": [
            {
                "external_ref": f"R-{n}",
                "store_id": store,
                "occurred_at": "2026-11-20T10:00:00Z",
                "customer_id": customer_id,
                "lines": [{"sku": sku} for sku in skus],
            }
            for n, skus in enumerate(baskets)
        ]
    }


def test_till_history_then_bought_with_cart_accessories_in_stock_and_offers(
    client: TestClient, make_key: MakeKey, shop: dict[str, str]
) -> None:
    till = make_key("pos", store_id=shop["store"])
    web = make_key("web")
    first = ok(client.post(PURCHASES, json=sales(shop["store"]), headers=idem(till)))
    assert first == {"recorded": 3, "already_known": 0}
    again = ok(client.post(PURCHASES, json=sales(shop["store"]), headers=idem(till)))
    assert again == {"recorded": 0, "already_known": 3}

    found = ok(client.get(URL, params={"sku": "SHOE-42"}, headers=web))
    assert [item["sku"] for item in found["items"]] == ["CAP", "SOCKS-M"]
    assert found["items"][0]["title"] == "Cap"
    assert found["based_on"] == ["SHOE-42"]

    # at the till: a cart with shoes; caps are not in stock in this store, socks are
    cart = ok(client.post("/v1/carts", json={}, headers=idem(till)), 201)
    ok(client.post(f"/v1/carts/{cart['id']}/lines", json={"sku": "SHOE-42"}, headers=idem(till)))
    accessories = ok(client.get(URL, params={"cart_id": cart["id"]}, headers=till))
    assert accessories["store_id"] == shop["store"]
    assert [item["sku"] for item in accessories["items"]] == ["SOCKS-M"]


def test_offers_never_include_a_returned_sku(
    client: TestClient, make_key: MakeKey, admin: dict[str, str], shop: dict[str, str], db: Database
) -> None:
    from omnicanal.recommendations import service

    till = make_key("pos", store_id=shop["store"])
    body = {"identifiers": [{"kind": "email", "value": "zoe@example.com"}]}
    zoe = ok(client.post("/v1/customers/identify", json=body, headers=idem(admin)))["profile_id"]
    ok(client.post(PURCHASES, json=sales(shop["store"]), headers=idem(till)))
    mine = {
        "purchases": [
            {
                "external_ref": "Z-1",
                "occurred_at": "2025-01-01T10:00:00Z",
                "customer_id": zoe,
                "lines": [{"sku": "SHOE-42"}, {"sku": "CAP"}],
            }
        ]
    }
    ok(client.post(PURCHASES, json=mine, headers=idem(till)))
    offers = ok(client.get(URL, params={"customer_id": zoe}, headers=till))
    assert [item["sku"] for item in offers["items"]] == ["SOCKS-M"]
    with db.uow() as uow:
        service.record_return(
            uow, return_id="ret_1", skus=[("SOCKS-M", None)], at=db.clock.now(), customer_id=zoe
        )
    offers = ok(client.get(URL, params={"customer_id": zoe}, headers=till))
    assert offers["items"] == []


def test_bad_queries_scopes_and_channels(
    client: TestClient, make_key: MakeKey, shop: dict[str, str], db: Database
) -> None:
    web = make_key("web")
    both = client.get(URL, params={"sku": "A", "cart_id": "crt_x"}, headers=web)
    assert both.status_code == 422
    assert client.get(URL, headers=web).status_code == 422
    missing = client.get(URL, params={"cart_id": "crt_nope"}, headers=web)
    assert missing.status_code == 404
    reader = make_key("web", scopes=["catalog:read"])
    denied = client.get(URL, params={"sku": "A"}, headers=reader)
    assert denied.status_code == 403
    # a web key reads but does not post till sales; another store's till cannot post for this one
    assert (client.post(PURCHASES, json=sales(shop["store"]), headers=idem(web))).status_code == 403
    other_till = make_key("pos", store_id=make_location(db, "LYO-PARTDIEU"))
    assert (
        client.post(
            "/v1/recommendations/purchases", json=sales(shop["store"]), headers=idem(other_till)
        )
    ).status_code == 403
    for channel in ("web", "app", "pos", "callcenter", "marketplace"):
        key = make_key(channel)
        assert client.get(URL, params={"sku": "A"}, headers=key).status_code == 200
