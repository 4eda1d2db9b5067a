"""Every fulfilment method through the HTTP API: reserve-and-try, endless aisle, several groups,
splits, back-orders, short picks, no-shows, routing settings."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.inventory.service import sweep_expired
from omnicanal.orders.fulfilment import sweep_no_shows
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.api.test_orders_journey import Channels
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network

PARIS = {
    "name": "Léa Martin",
    "line1": "1 rue de Rivoli",
    "postcode": "75001",
    "city": "Paris",
    "country": "FR",
    "latitude": 48.8566,
    "longitude": 2.3522,
}


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


@pytest.fixture
def ch(client: TestClient, db: Database, make_key: MakeKey, net: Network) -> Channels:
    return Channels(client, db, make_key, net)


def place(ch: Channels, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = ch.post("/v1/orders", headers, body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_reserve_and_try_holds_without_payment_then_the_customer_declines(
    ch: Channels, net: Network
) -> None:
    order = place(
        ch,
        ch.web,
        {
            "method": "reserve_and_try",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 2}],
        },
    )
    rivoli = ch.stock(net.rivoli, "SHOE-42")
    assert (rivoli["reserved"], rivoli["committed"]) == (2, 0)  # a hold, not a sale
    group = order["groups"][0]["id"]
    ch.post(f"/v1/fulfilment-groups/{group}/ready", ch.till)
    declined = ch.post(f"/v1/fulfilment-groups/{group}/decline", ch.till)
    assert declined.json()["groups"][0]["status"] == "declined"
    assert declined.json()["status"] == "cancelled"  # nothing bought: no live group is left
    assert ch.stock(net.rivoli, "SHOE-42")["available_to_promise"] == 2


def test_an_expired_try_in_store_hold_becomes_a_no_show(
    ch: Channels, net: Network, db: Database, clock: FrozenClock
) -> None:
    order = place(
        ch,
        ch.web,
        {
            "method": "reserve_and_try",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
        },
    )
    ch.post(f"/v1/fulfilment-groups/{order['groups'][0]['id']}/ready", ch.till)
    clock.advance(hours=49)
    with db.uow() as uow:
        assert sweep_expired(uow) == 1
    drain(db)
    after = ch.client.get(f"/v1/orders/{order['id']}", headers=ch.web).json()
    assert after["status"] == "no_show"
    assert ch.stock(net.rivoli, "SHOE-42")["available_to_promise"] == 2


def test_an_uncollected_click_and_collect_is_released_after_the_delay(
    ch: Channels, net: Network, db: Database, clock: FrozenClock
) -> None:
    order = place(
        ch,
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
        },
    )
    ch.post(f"/v1/fulfilment-groups/{order['groups'][0]['id']}/ready", ch.till)
    clock.advance(hours=71)
    with db.uow() as uow:
        assert sweep_no_shows(uow) == 0
    clock.advance(hours=2)
    with db.uow() as uow:
        assert sweep_no_shows(uow) == 1
    after = ch.client.get(f"/v1/orders/{order['id']}", headers=ch.web).json()
    assert after["status"] == "no_show"
    assert after["status_text"] == "Not collected — released"
    assert ch.stock(net.rivoli, "SHOE-42")["available_to_promise"] == 2


def test_a_short_pick_releases_what_was_not_found(ch: Channels, net: Network) -> None:
    order = place(
        ch,
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.bastille,
            "lines": [{"sku": "SHOE-42", "quantity": 3}],
        },
    )
    group = order["groups"][0]["id"]
    ready = ch.post(f"/v1/fulfilment-groups/{group}/ready", ch.admin, {"picked": {"SHOE-42": 2}})
    assert ready.status_code == 200, ready.text
    line = ready.json()["groups"][0]["lines"][0]
    assert (line["quantity"], line["quantity_cancelled"]) == (3, 1)
    bastille = ch.stock(net.bastille, "SHOE-42")
    assert (bastille["committed"], bastille["available_to_promise"]) == (2, 2)
    too_many = ch.post(f"/v1/fulfilment-groups/{group}/ready", ch.admin, {"picked": {"SHOE-42": 9}})
    assert too_many.status_code in (409, 422)


def test_endless_aisle_a_till_sells_what_its_store_lacks_for_home_delivery(
    ch: Channels, net: Network
) -> None:
    order = place(
        ch,
        ch.till,
        {
            "method": "endless_aisle",
            "lines": [{"sku": "CAP", "quantity": 1}],
            "shipping_address": PARIS,
            "payment": {"kind": "captured", "provider": "till", "reference": "T3-000981"},
        },
    )
    assert order["store_id"] == net.rivoli  # the till's store gets the sale
    assert order["channel"] == "pos"
    assert order["groups"][0]["location_id"] == net.warehouse


def test_several_groups_one_order_and_a_partial_status(ch: Channels, net: Network) -> None:
    order = place(
        ch,
        ch.web,
        {
            "groups": [
                {
                    "method": "click_and_collect",
                    "location_id": net.rivoli,
                    "lines": [{"sku": "SOCKS", "quantity": 1}],
                },
                {"method": "home_delivery", "lines": [{"sku": "CAP", "quantity": 2}]},
            ],
            "shipping_address": PARIS,
        },
    )
    pickup, delivery = sorted(order["groups"], key=lambda g: g["method"])
    assert pickup["method"] == "click_and_collect"
    ch.post(f"/v1/fulfilment-groups/{delivery['id']}/ship", ch.admin)
    after = ch.client.get(f"/v1/orders/{order['id']}", headers=ch.web).json()
    assert (after["status"], after["status_partial"]) == ("allocated", True)
    assert after["status_text"] == "Confirmed (in part)"


def test_no_single_location_has_the_basket_so_it_is_split_and_explained(
    ch: Channels, net: Network
) -> None:
    order = place(
        ch,
        ch.web,
        {
            "method": "ship_from_store",
            "lines": [{"sku": "SHOE-42", "quantity": 5}],
            "shipping_address": PARIS,
        },
    )
    assert len(order["groups"]) == 2  # no store has five pairs: split over two stores
    assert order["routing"]["split"] is True
    shipped = sum(li["quantity"] for g in order["groups"] for li in g["lines"])
    assert shipped == 5


def test_back_orders_only_where_the_retailer_allows_them(ch: Channels, net: Network) -> None:
    body = {
        "method": "home_delivery",
        "lines": [{"sku": "CAP", "quantity": 30}],
        "shipping_address": PARIS,
    }
    refused = ch.post("/v1/orders", ch.web, body)
    assert refused.status_code == 409
    assert refused.json()["short"] == {"CAP": 20}
    settings = ch.client.put("/v1/routing/config", headers=ch.admin, json={"allow_backorder": True})
    assert settings.json()["settings"]["allow_backorder"] is True
    order = place(ch, ch.web, body)
    assert order["status"] == "backordered"
    group = order["groups"][0]["id"]
    still = ch.post(f"/v1/fulfilment-groups/{group}/allocate", ch.admin)
    assert still.status_code == 409
    # a store's till may not route a web back-order (no location yet): not its store's order
    not_theirs = ch.post(f"/v1/fulfilment-groups/{group}/allocate", ch.till)
    assert not_theirs.status_code == 403
    assert not_theirs.json()["type"] == "/problems/wrong-store"
    ch.post(
        "/v1/stock/receipts",
        ch.admin,
        {"location_id": net.warehouse, "lines": [{"sku": "CAP", "quantity": 25}]},
    )
    allocated = ch.post(f"/v1/fulfilment-groups/{group}/allocate", ch.admin)
    assert allocated.status_code == 200, allocated.text
    assert allocated.json()["status"] == "allocated"
    assert ch.stock(net.warehouse, "CAP")["committed"] == 30


def test_routing_settings_are_validated_and_nothing_is_saved_on_error(ch: Channels) -> None:
    bad = ch.client.put("/v1/routing/config", headers=ch.admin, json={"split_penalty_minor": -5})
    assert bad.status_code == 422
    assert bad.json()["field"] == "split_penalty_minor"
    assert ch.client.get("/v1/routing/config", headers=ch.admin).json()["version"] == 0
    web_put = ch.client.put("/v1/routing/config", headers=ch.web, json={})
    assert web_put.status_code == 403
