"""J6 at checkout: an order pays the price book's price for its context and the promotions the
engine gives every channel alike; budgets are consumed by the order and come back when it is
cancelled; promotion bonus points reach the loyalty account."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.storage.database import Database
from tests.api.test_orders_journey import Channels
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


@pytest.fixture
def ch(client: TestClient, db: Database, make_key: MakeKey, net: Network) -> Channels:
    return Channels(client, db, make_key, net)


def order(ch: Channels, headers: dict[str, str], location_id: str, **extra: Any) -> Any:
    return ch.post(
        "/v1/orders",
        headers,
        {
            "method": "click_and_collect",
            "location_id": location_id,
            "lines": [{"sku": "SHOE-42", "quantity": 1}, {"sku": "SOCKS", "quantity": 2}],
            **extra,
        },
    )


def test_the_same_basket_costs_the_same_on_every_channel_and_a_justified_store_price_applies(
    ch: Channels, net: Network
) -> None:
    shoes = [{"sku": "SHOE-42", "quantity": 1}]
    web = order(ch, ch.web, net.bastille, lines=shoes).json()
    till = order(ch, ch.till, net.bastille, lines=shoes).json()
    assert web["total"] == till["total"] == {"amount": "89.90", "currency": "EUR"}
    override = ch.client.post(
        "/v1/pricing/overrides",
        headers=ch.admin,
        json={
            "sku": "SHOE-42",
            "currency": "EUR",
            "amount": "79.90",
            "store_id": net.rivoli,
            "reason": "local_competition",
            "owner": "Rivoli store manager",
        },
    )
    assert override.status_code == 201, override.text
    at_rivoli_till = order(ch, ch.till, net.rivoli, lines=shoes).json()
    assert at_rivoli_till["groups"][0]["lines"][0]["unit_price"]["amount"] == "79.90"
    on_web = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.bastille,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
        },
    ).json()
    assert on_web["total"]["amount"] == "89.90"


def test_promotions_apply_to_orders_with_their_budget_and_come_back_on_cancel(
    ch: Channels, net: Network, db: Database
) -> None:
    ch.post(
        "/v1/stock/receipts",
        ch.admin,
        {
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 10}, {"sku": "SOCKS", "quantity": 10}],
        },
    )
    promo = ch.client.post(
        "/v1/promotions",
        headers={**ch.admin, "Idempotency-Key": "promo-1"},
        json={
            "name": "Socks -50%, twice only",
            "currency": "EUR",
            "max_redemptions": 2,
            "conditions": {"skus": ["SOCKS"]},
            "actions": [
                {"kind": "percent_off", "percent": "50"},
                {"kind": "bonus_points", "points": 40},
            ],
        },
    )
    assert promo.status_code == 201, promo.text
    first = order(ch, ch.web, net.rivoli).json()
    assert first["discount"] == {"amount": "9.90", "currency": "EUR"}
    assert first["total"]["amount"] == "99.80"
    assert first["bonus_points"] == 40
    assert [p["name"] for p in first["promotions"]] == ["Socks -50%, twice only"]
    socks = next(li for li in first["groups"][0]["lines"] if li["sku"] == "SOCKS")
    assert socks["discount"]["amount"] == "9.90"
    second = order(ch, ch.till, net.rivoli).json()
    assert second["discount"]["amount"] == "9.90"  # the till gets the same promotion
    third = order(ch, ch.web, net.rivoli).json()
    assert third["discount"]["amount"] == "0.00"  # the two redemptions are used up
    cancelled = ch.post(f"/v1/orders/{first['id']}/cancel", ch.web, {"reason": "duplicate"})
    assert cancelled.status_code == 200
    fourth = order(ch, ch.web, net.rivoli).json()
    assert fourth["discount"]["amount"] == "9.90"  # the cancelled order gave its use back
    drain(db)
    placed = ch.client.get(
        "/v1/events", headers=ch.admin, params={"type": "orders.order.placed", "limit": 10}
    ).json()["data"]
    assert [e["data"]["bonus_points"] for e in placed] == [40, 40, 0, 40]


def test_promotion_bonus_points_reach_the_loyalty_account(
    ch: Channels, net: Network, db: Database
) -> None:
    customer = ch.post(
        "/v1/customers/identify",
        ch.web,
        {"identifiers": [{"kind": "email", "value": "zoe@example.com"}]},
    ).json()["profile_id"]
    ch.post(
        "/v1/promotions",
        ch.admin,
        {
            "name": "Double socks points",
            "conditions": {"skus": ["SOCKS"]},
            "actions": [{"kind": "bonus_points", "points": 25}],
        },
    )
    placed = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "customer_id": customer,
            "lines": [{"sku": "SOCKS", "quantity": 1}],
        },
    ).json()
    group = placed["groups"][0]["id"]
    code = ch.post(f"/v1/fulfilment-groups/{group}/ready", ch.till).json()["groups"][0][
        "pickup_code"
    ]
    ch.post(f"/v1/fulfilment-groups/{group}/hand-over", ch.till, {"pickup_code": code})
    drain(db)
    account = ch.client.get(
        "/v1/loyalty/accounts", headers=ch.web, params={"customer_id": customer}
    ).json()
    assert account["balance"] == 9 + 25  # 9.90 EUR earns 9 points, plus the promotion's 25


def test_the_cart_shows_what_the_order_will_cost(ch: Channels, net: Network) -> None:
    ch.post(
        "/v1/promotions",
        ch.admin,
        {
            "name": "Shoes -10%",
            "conditions": {"skus": ["SHOE-42"]},
            "actions": [{"kind": "percent_off", "percent": "10"}],
        },
    )
    cart = ch.post("/v1/carts", ch.web, {}).json()
    ch.post(f"/v1/carts/{cart['id']}/lines", ch.web, {"sku": "SHOE-42", "quantity": 1})
    shown = ch.client.get(f"/v1/carts/{cart['id']}", headers=ch.web).json()
    assert shown["subtotal"]["amount"] == "89.90"
    assert shown["discount"]["amount"] == "8.99"
    assert shown["total"]["amount"] == "80.91"
    assert [p["name"] for p in shown["promotions"]] == ["Shoes -10%"]
    on_app = ch.client.get(f"/v1/carts/{cart['id']}", headers=ch.till).json()
    assert on_app["total"] == shown["total"]  # the same answer at the till
    placed = ch.post(
        "/v1/orders",
        ch.web,
        {"cart_id": cart["id"], "method": "click_and_collect", "location_id": net.bastille},
    ).json()
    assert placed["total"] == shown["total"]
