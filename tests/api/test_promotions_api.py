"""J6 through HTTP: head office defines promotions, a store its own, every channel quotes the
same basket and gets the same answer unless a promotion names the channel."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network

BASKET = {"lines": [{"sku": "SHOE-42", "quantity": 1}, {"sku": "SOCKS", "quantity": 3}]}


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


def idem(headers: dict[str, str]) -> dict[str, str]:
    return {**headers, "Idempotency-Key": str(uuid.uuid4())}


def create(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/promotions", json=body, headers=idem(headers))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def quote(client: TestClient, headers: dict[str, str], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/promotions/quote", json={**BASKET, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_j6_web_and_till_get_the_same_price_unless_a_rule_names_the_channel(
    client: TestClient, admin: dict[str, str], make_key: MakeKey, net: Network
) -> None:
    shoes = create(
        client,
        admin,
        {
            "name": "Shoes -20%",
            "priority": 10,
            "conditions": {"categories": ["shoes"], "skus": []},
            "actions": [{"kind": "percent_off", "percent": "20"}],
        },
    )
    assert shoes["id"].startswith("prm_")
    web, pos = make_key("web"), make_key("pos", store_id=net.rivoli)
    on_web, at_till = quote(client, web), quote(client, pos)
    assert on_web == at_till
    line = on_web["lines"][0]
    assert line["discounts"][0]["promotion_id"] == shoes["id"]
    assert line["discounts"][0]["explanation"] == "20% off"
    # make_skus gives every test SKU the category "shoes": 20% of 89.90 + 3 x 9.90
    assert on_web["total"] == "95.68"
    # a till-only promotion: the exception is visible and explained on the web
    till_only = create(
        client,
        admin,
        {
            "name": "Till week",
            "currency": "EUR",
            "conditions": {"channels": ["pos"]},
            "actions": [{"kind": "amount_off", "scope": "basket", "amount": "5.00"}],
        },
    )
    assert quote(client, pos)["total"] == "90.68"
    not_applied = quote(client, web)["not_applied"]
    assert {
        "promotion_id": till_only["id"],
        "name": "Till week",
        "reason": "only on channel(s) pos",
    } in not_applied


def test_a_store_key_defines_its_own_store_promotion_only(
    client: TestClient, make_key: MakeKey, net: Network
) -> None:
    rivoli = make_key("pos", store_id=net.rivoli, scopes=["promotions:manage", "promotions:read"])
    mine = create(
        client,
        rivoli,
        {"name": "Rivoli opening", "actions": [{"kind": "percent_off", "percent": "10"}]},
    )
    assert mine["store_id"] == net.rivoli
    refused = client.post(
        "/v1/promotions",
        json={"name": "x", "store_id": net.lyon, "actions": [{"kind": "free_shipping"}]},
        headers=idem(rivoli),
    )
    assert refused.status_code == 403
    assert refused.json()["type"] == "/problems/wrong-store"
    lyon_till = make_key("pos", store_id=net.lyon)
    assert quote(client, lyon_till)["applied"] == []
    assert len(quote(client, rivoli)["applied"]) == 1
    # a till key without promotions:manage cannot define promotions at all
    plain = client.post(
        "/v1/promotions", json={"name": "x", "actions": []}, headers=idem(lyon_till)
    )
    assert plain.status_code == 403


def test_patch_list_get_and_coupon(client: TestClient, admin: dict[str, str], net: Network) -> None:
    promo = create(
        client,
        admin,
        {
            "name": "Welcome",
            "currency": "EUR",
            "max_redemptions": 100,
            "budget": "500.00",
            "conditions": {"coupon": "welcome10", "first_order": True},
            "actions": [
                {"kind": "amount_off", "scope": "basket", "amount": "10"},
                {"kind": "bonus_points", "points": 100},
            ],
        },
    )
    assert promo["conditions"]["coupon"] == "WELCOME10"
    assert promo["limits"]["budget"] == "500.00"
    web = admin
    without = quote(client, web, first_order=True)
    assert without["applied"] == []
    with_coupon = quote(client, web, first_order=True, coupons=["Welcome10"])
    assert with_coupon["discount"] == "10.00"
    assert with_coupon["bonus_points"] == 100
    coupon = client.get("/v1/promotions/coupons/welcome10", headers=admin).json()
    assert coupon["valid"] is True
    assert client.get("/v1/promotions/coupons/NOPE", headers=admin).status_code == 404
    patched = client.patch(
        f"/v1/promotions/{promo['id']}", json={"status": "paused", "priority": 5}, headers=admin
    )
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["version"]) == ("paused", 2)
    assert client.get("/v1/promotions/coupons/WELCOME10", headers=admin).json()["valid"] is False
    assert quote(client, web, first_order=True, coupons=["WELCOME10"])["applied"] == []
    page = client.get("/v1/promotions?limit=1", headers=admin).json()
    assert [p["id"] for p in page["data"]] == [promo["id"]]
    assert client.get(f"/v1/promotions/{promo['id']}", headers=admin).json()["name"] == "Welcome"
    assert client.get("/v1/promotions/prm_NOPE", headers=admin).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "actions": [{"kind": "amount_off", "amount": "5"}]}, "actions[0].amount"),
        ({"name": "x", "actions": [{"kind": "percent_off", "percent": "0"}]}, None),
        (
            {
                "name": "x",
                "currency": "EUR",
                "actions": [{"kind": "amount_off", "amount": "5.001"}],
            },
            "actions[0].amount",
        ),
        (
            {"name": "x", "actions": [{"kind": "buy_x_get_y", "buy": 2, "percent": "100"}]},
            "actions[0]",
        ),
    ],
)
def test_bad_definitions_are_422_and_change_nothing(
    client: TestClient, admin: dict[str, str], body: dict[str, Any], field: str | None
) -> None:
    response = client.post("/v1/promotions", json=body, headers=admin)
    assert response.status_code == 422, response.text
    if field:
        assert response.json()["field"] == field
    assert client.get("/v1/promotions", headers=admin).json()["data"] == []


def test_quote_errors_name_the_line(client: TestClient, make_key: MakeKey, net: Network) -> None:
    response = client.post(
        "/v1/promotions/quote",
        json={"lines": [{"sku": "NOPE", "quantity": 1}]},
        headers=make_key("web"),
    )
    assert response.status_code == 422
    assert response.json()["field"] == "lines[0].sku"
