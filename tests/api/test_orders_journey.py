"""J1 click & collect, one truth: at every step the web key, the store's till key and the event
stream tell the same status; stock is held at the pickup store and leaves it at hand-over."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


class Channels:
    def __init__(self, client: TestClient, db: Database, make_key: MakeKey, net: Network) -> None:
        self.client = client
        self.db = db
        self.web = make_key("web")
        self.till = make_key("pos", store_id=net.rivoli)
        self.other_till = make_key("pos", store_id=net.bastille)
        self.admin = make_key("admin")
        self.keys = 0

    def post(self, path: str, headers: dict[str, str], body: Any = None) -> Any:
        self.keys += 1
        return self.client.post(
            path,
            headers={**headers, **JSON, "Idempotency-Key": f"k-{self.keys}"},
            json=body if body is not None else {},
        )

    def status_everywhere(self, order_id: str) -> tuple[str, str, str]:
        web = self.client.get(f"/v1/orders/{order_id}", headers=self.web).json()["status"]
        till = self.client.get(f"/v1/orders/{order_id}", headers=self.till).json()["status"]
        drain(self.db)
        events = self.client.get(
            "/v1/events", headers=self.admin, params={"subject": order_id, "limit": 200}
        ).json()["data"]
        last = [
            e["data"].get("order_status") or e["data"].get("status")
            for e in events
            if e["type"].startswith("orders.") and e["type"] != "orders.pickup.code_rejected"
        ][-1]
        return web, till, last

    def stock(self, location_id: str, sku: str) -> dict[str, Any]:
        levels = self.client.get(f"/v1/stock/{sku}", headers=self.admin).json()["locations"]
        return next(level for level in levels if level["location_id"] == location_id)


@pytest.fixture
def ch(client: TestClient, db: Database, make_key: MakeKey, net: Network) -> Channels:
    return Channels(client, db, make_key, net)


def test_j1_click_and_collect_one_truth(ch: Channels, net: Network) -> None:
    placed = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
            "contact": {"email": "lea@example.com"},
            "payment": {"kind": "authorised", "provider": "adyen", "reference": "psp_8812"},
            "external_ref": "WEB-1001",
        },
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    order_id = order["id"]
    (group,) = order["groups"]
    assert group["location_id"] == net.rivoli  # held at the pickup store, not "the first one"
    assert order["total"] == {"amount": "89.90", "currency": "EUR"}
    assert order["payments"][0]["reference"] == "psp_8812"
    assert ch.status_everywhere(order_id) == ("allocated", "allocated", "allocated")
    rivoli = ch.stock(net.rivoli, "SHOE-42")
    assert (rivoli["on_hand"], rivoli["committed"]) == (2, 1)

    pick_list = ch.client.get(f"/v1/locations/{net.rivoli}/pick-list", headers=ch.till).json()
    assert [p["order_id"] for p in pick_list["data"]] == [order_id]
    assert pick_list["data"][0]["lines"] == [
        {"sku": "SHOE-42", "title": "Trail shoe SHOE-42", "quantity": 1}
    ]
    assert (
        ch.client.get(f"/v1/locations/{net.rivoli}/pick-list", headers=ch.other_till).status_code
        == 403
    )
    assert ch.post(f"/v1/fulfilment-groups/{group['id']}/picking", ch.other_till).status_code == 403

    assert ch.post(f"/v1/fulfilment-groups/{group['id']}/picking", ch.till).status_code == 200
    assert ch.status_everywhere(order_id) == ("picking", "picking", "picking")

    ready = ch.post(f"/v1/fulfilment-groups/{group['id']}/ready", ch.till)
    assert ready.status_code == 200, ready.text
    code = ready.json()["groups"][0]["pickup_code"]
    assert len(code) == 6
    assert ch.status_everywhere(order_id) == ("ready_for_pickup",) * 3
    web_view = ch.client.get(f"/v1/orders/{order_id}", headers=ch.web).json()
    assert web_view["groups"][0]["pickup_code"] is None  # the code goes to the customer only
    assert web_view["status_text"] == "Ready for pickup at PAR-RIVOLI"
    french = ch.client.get(
        f"/v1/orders/{order_id}", headers={**ch.web, "Accept-Language": "fr-FR,fr;q=0.9"}
    ).json()
    assert french["status_text"] == "Prête à être retirée à PAR-RIVOLI"
    queue = ch.client.get(f"/v1/locations/{net.rivoli}/pickups", headers=ch.till).json()["data"]
    assert [q["order_id"] for q in queue] == [order_id]

    wrong = "000000" if code != "000000" else "111111"
    refused = ch.post(
        f"/v1/fulfilment-groups/{group['id']}/hand-over", ch.till, {"pickup_code": wrong}
    )
    assert refused.status_code == 409
    assert refused.json()["attempts_left"] == 4
    assert ch.stock(net.rivoli, "SHOE-42")["on_hand"] == 2  # nothing left the store

    handed = ch.post(
        f"/v1/fulfilment-groups/{group['id']}/hand-over", ch.till, {"pickup_code": code}
    )
    assert handed.status_code == 200, handed.text
    assert ch.status_everywhere(order_id) == ("completed", "completed", "completed")
    assert handed.json()["status_text"] == "Collected"
    rivoli = ch.stock(net.rivoli, "SHOE-42")
    assert (rivoli["on_hand"], rivoli["committed"]) == (1, 0)  # the pair left Rivoli

    again = ch.post(
        f"/v1/fulfilment-groups/{group['id']}/hand-over", ch.till, {"pickup_code": code}
    )
    assert again.status_code == 409
    assert "already handed over" in again.json()["detail"]
    late_cancel = ch.post(f"/v1/orders/{order_id}/cancel", ch.web, {"reason": "changed my mind"})
    assert late_cancel.status_code == 409
    assert "return" in late_cancel.json()["detail"]

    timeline = ch.client.get(f"/v1/orders/{order_id}/timeline", headers=ch.web).json()["data"]
    assert [e["type"] for e in timeline] == [
        "orders.order.placed",
        "orders.group.picking",
        "orders.order.status_changed",
        "orders.group.ready_for_pickup",
        "orders.order.status_changed",
        "orders.pickup.code_rejected",
        "orders.group.collected",
        "orders.order.status_changed",
    ]


def test_a_retried_placement_creates_nothing_twice(ch: Channels, net: Network) -> None:
    body = {
        "method": "click_and_collect",
        "location_id": net.rivoli,
        "lines": [{"sku": "SHOE-42", "quantity": 1}],
    }
    headers = {**ch.till, **JSON, "Idempotency-Key": "till-7-ticket-42"}
    first = ch.client.post("/v1/orders", headers=headers, json=body)
    second = ch.client.post("/v1/orders", headers=headers, json=body)
    assert first.status_code == second.status_code == 201
    assert second.headers["Idempotent-Replayed"] == "true"
    assert first.json()["id"] == second.json()["id"]
    assert ch.stock(net.rivoli, "SHOE-42")["committed"] == 1
    without_key = ch.client.post("/v1/orders", headers={**ch.till, **JSON}, json=body)
    assert without_key.status_code == 422  # tills must send a key

    by_ref = {**body, "external_ref": "MKT-77"}
    one = ch.post("/v1/orders", ch.web, by_ref).json()
    two = ch.post("/v1/orders", ch.web, by_ref).json()
    assert one["id"] == two["id"]
    assert two["replayed"] is True
    assert ch.stock(net.rivoli, "SHOE-42")["committed"] == 2


def test_home_delivery_is_routed_and_explained_then_shipped(ch: Channels, net: Network) -> None:
    paris = {
        "name": "Léa Martin",
        "line1": "1 rue de Rivoli",
        "postcode": "75001",
        "city": "Paris",
        "country": "FR",
        "latitude": 48.8566,
        "longitude": 2.3522,
    }
    placed = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "home_delivery",
            "lines": [{"sku": "SHOE-42", "quantity": 1}, {"sku": "CAP", "quantity": 1}],
            "shipping_address": paris,
        },
    )
    assert placed.status_code == 201, placed.text
    order = placed.json()
    (group,) = order["groups"]
    assert group["location_id"] == net.warehouse  # only the warehouse has both and can ship
    assert order["routing"] == {"brokered": True, "split": False, "first_rule": True, "groups": 1}
    shipped = ch.post(
        f"/v1/fulfilment-groups/{group['id']}/ship",
        ch.admin,
        {"carrier": "colissimo", "tracking_number": "6A123"},
    )
    assert shipped.json()["status"] == "shipped"
    assert ch.stock(net.warehouse, "CAP")["on_hand"] == 9
    delivered = ch.post(f"/v1/fulfilment-groups/{group['id']}/deliver", ch.admin)
    assert delivered.json()["status_text"] == "Delivered"
    metrics = ch.client.get("/v1/routing/metrics", headers=ch.admin).json()
    assert metrics["brokered_rate"] == 1.0
    assert metrics["split_rate"] == 0.0


def test_cancellation_gives_the_units_back_at_once(ch: Channels, net: Network) -> None:
    order = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.bastille,
            "lines": [{"sku": "SHOE-42", "quantity": 3}],
        },
    ).json()
    assert ch.stock(net.bastille, "SHOE-42")["available_to_promise"] == 1
    cancelled = ch.post(f"/v1/orders/{order['id']}/cancel", ch.web, {"reason": "duplicate"})
    assert cancelled.json()["status"] == "cancelled"
    assert ch.stock(net.bastille, "SHOE-42")["available_to_promise"] == 4
    twice = ch.post(f"/v1/orders/{order['id']}/cancel", ch.web, {"reason": "duplicate"})
    assert twice.status_code == 409


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (
            {"method": "click_and_collect", "lines": [{"sku": "SHOE-42", "quantity": 1}]},
            422,
            "groups[0].location_id",
        ),
        ({"method": "teleport", "lines": [{"sku": "SHOE-42", "quantity": 1}]}, 422, None),
        ({"method": "home_delivery", "lines": [{"sku": "SHOE-42", "quantity": 0}]}, 422, None),
        (
            {"method": "home_delivery", "lines": [{"sku": "SHOE-42", "quantity": 1}]},
            422,
            "shipping_address",
        ),
        ({"lines": [{"sku": "SHOE-42", "quantity": 1}]}, 422, "method"),
    ],
)
def test_bad_orders_are_refused_and_change_nothing(
    ch: Channels, net: Network, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = ch.post("/v1/orders", ch.web, body)
    assert response.status_code == status, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    if field:
        assert problem["field"] == field
    assert ch.client.get("/v1/orders", headers=ch.admin).json()["data"] == []


def test_unknown_sku_and_empty_pickup_store_say_what_to_do_instead(
    ch: Channels, net: Network
) -> None:
    unknown = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "NOPE", "quantity": 1}],
        },
    )
    assert unknown.status_code == 404
    assert unknown.json()["sku"] == "NOPE"
    short = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 3}],
        },
    )
    assert short.status_code == 409
    problem = short.json()
    assert problem["type"] == "/problems/location-cannot-fulfil"
    assert problem["location_id"] == net.rivoli
    assert [a["code"] for a in problem["alternatives"]] == ["PAR-BASTILLE", "LYO-PARTDIEU"]
    assert "PAR-BASTILLE" in problem["detail"]
    warehouse_pickup = ch.post(
        "/v1/orders",
        ch.web,
        {
            "method": "click_and_collect",
            "location_id": net.warehouse,
            "lines": [{"sku": "SOCKS", "quantity": 1}],
        },
    )
    assert warehouse_pickup.status_code == 409
    assert "pickup" in warehouse_pickup.json()["detail"]
    assert ch.stock(net.rivoli, "SHOE-42")["committed"] == 0
    assert ch.client.get("/v1/orders", headers=ch.admin).json()["data"] == []


def test_an_order_from_a_cart_takes_over_its_holds_without_a_gap_or_a_double(
    ch: Channels, net: Network
) -> None:
    cart = ch.post("/v1/carts", ch.web, {}).json()
    ch.post(f"/v1/carts/{cart['id']}/lines", ch.web, {"sku": "SHOE-42", "quantity": 2})
    held = ch.client.put(
        f"/v1/carts/{cart['id']}/pickup", headers=ch.web, json={"location_id": net.rivoli}
    )
    assert held.status_code == 200, held.text
    rivoli = ch.stock(net.rivoli, "SHOE-42")
    assert (rivoli["reserved"], rivoli["available_to_promise"]) == (2, 0)

    order = ch.post(
        "/v1/orders",
        ch.web,
        {"cart_id": cart["id"], "method": "click_and_collect", "location_id": net.rivoli},
    )
    assert order.status_code == 201, order.text
    assert order.json()["cart_id"] == cart["id"]
    assert [(li["sku"], li["quantity"]) for li in order.json()["groups"][0]["lines"]] == [
        ("SHOE-42", 2)
    ]
    rivoli = ch.stock(net.rivoli, "SHOE-42")
    assert (rivoli["reserved"], rivoli["committed"], rivoli["available_to_promise"]) == (0, 2, 0)
    closed = ch.client.get(f"/v1/carts/{cart['id']}", headers=ch.web).json()
    assert closed["status"] == "ordered"
    again = ch.post(
        "/v1/orders",
        ch.web,
        {"cart_id": cart["id"], "method": "click_and_collect", "location_id": net.rivoli},
    )
    assert again.status_code in (404, 409, 410)
