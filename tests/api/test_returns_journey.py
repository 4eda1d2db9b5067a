"""J4 return anywhere, over HTTP: a web order delivered at home from the warehouse is brought
back to the Rivoli store; the store's till takes it, the stock comes back at Rivoli (not at the
warehouse), the money goes back to the original payment (or the customer leaves with another
size), the loyalty points are reversed and the profile's timeline shows the return."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from omnicanal.customers.activity_tables import CustomerAttributesRow
from omnicanal.events.dispatch import drain
from omnicanal.events.tables import ConsumerFailureRow
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import Network
from tests.return_factories import PARIS, make_shop

JSON = {"Content-Type": "application/json"}


class Desk:
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
            headers={**headers, **JSON, "Idempotency-Key": f"j4-{self.keys}"},
            json=body if body is not None else {},
        )

    def stock(self, location_id: str, sku: str) -> dict[str, Any]:
        levels = self.client.get(f"/v1/stock/{sku}", headers=self.admin).json()["locations"]
        found = [level for level in levels if level["location_id"] == location_id]
        return found[0] if found else {"on_hand": 0, "available_to_promise": 0, "damaged": 0}

    def points(self, customer_id: str) -> int:
        found = self.client.get(
            "/v1/loyalty/accounts", headers=self.admin, params={"customer_id": customer_id}
        )
        assert found.status_code == 200, found.text
        balance: int = found.json()["balance"]
        return balance

    def web_order_delivered(self, lea: str, sku: str) -> str:
        placed = self.post(
            "/v1/orders",
            self.web,
            {
                "method": "home_delivery",
                "lines": [{"sku": sku, "quantity": 1}],
                "customer_id": lea,
                "shipping_address": PARIS,
                "payment": {"kind": "captured", "provider": "adyen", "reference": "psp_j4"},
            },
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        (group,) = order["groups"]
        assert self.post(f"/v1/fulfilment-groups/{group['id']}/ship", self.admin).status_code == 200
        delivered = self.post(f"/v1/fulfilment-groups/{group['id']}/deliver", self.admin)
        assert delivered.json()["status"] == "completed", delivered.text
        drain(self.db)  # loyalty earns for the completed order
        order_id: str = order["id"]
        return order_id


@pytest.fixture
def net(db: Database) -> Network:
    return make_shop(db)


@pytest.fixture
def desk(client: TestClient, db: Database, make_key: MakeKey, net: Network) -> Desk:
    return Desk(client, db, make_key, net)


@pytest.fixture
def lea(desk: Desk) -> str:
    found = desk.post(
        "/v1/customers/identify",
        desk.web,
        {
            "identifiers": [
                {"kind": "email", "value": "lea@example.com"},
                {"kind": "loyalty_card", "value": "LEA-0001"},
            ]
        },
    )
    assert found.status_code == 200, found.text
    profile_id: str = found.json()["profile_id"]
    return profile_id


def test_j4_web_order_returned_in_store_is_refunded_and_restocked_there(
    desk: Desk, net: Network, lea: str
) -> None:
    order_id = desk.web_order_delivered(lea, "RUN-42")
    assert desk.points(lea) == 60
    warehouse_before = desk.stock(net.warehouse, "RUN-42")["on_hand"]
    assert desk.stock(net.rivoli, "RUN-42")["on_hand"] == 0
    body = {
        "order_id": order_id,
        "location_id": net.rivoli,
        "lines": [{"sku": "RUN-42", "quantity": 1, "reason": "too_small", "condition": "sellable"}],
        "outcome": "refund",
        "csat_score": 5,
    }

    elsewhere = desk.post("/v1/returns", desk.other_till, body)
    assert elsewhere.status_code == 403  # Bastille's till takes returns at Bastille only

    taken = desk.post("/v1/returns", desk.till, body)
    assert taken.status_code == 201, taken.text
    ret = taken.json()
    assert ret["status"] == "completed"  # a standard return: approved at once
    assert ret["channel"] == "pos"
    assert ret["order_channel"] == "web"
    assert ret["money_refunded"] == {"amount": "60.00", "currency": "EUR"}
    assert ret["payment_reference"] == "psp_j4"
    assert ret["csat"] == {"score": 5, "comment": None}

    rivoli = desk.stock(net.rivoli, "RUN-42")
    assert (rivoli["on_hand"], rivoli["available_to_promise"]) == (1, 1)  # back on sale HERE
    assert desk.stock(net.warehouse, "RUN-42")["on_hand"] == warehouse_before

    order = desk.client.get(f"/v1/orders/{order_id}", headers=desk.web).json()
    refunds = [p for p in order["payments"] if p["kind"] == "refunded"]
    assert len(refunds) == 1
    assert refunds[0]["provider"] == "adyen"
    assert refunds[0]["reference"] == f"refund-{ret['id']}"

    drain(desk.db)
    assert desk.points(lea) == 0  # the 60 points of the returned pair are taken back
    with desk.db.read() as session:  # every consumer (loyalty, RFM, timeline…) took them
        assert session.scalars(select(ConsumerFailureRow)).all() == []
        attributes = session.get(CustomerAttributesRow, lea)
        assert attributes is not None
        assert (attributes.return_count, attributes.refunded_minor) == (1, 6000)

    timeline = desk.client.get(f"/v1/customers/{lea}/timeline", headers=desk.till).json()
    returns = [e for e in timeline["data"] if e["kind"] == "return"]
    assert {e["action"] for e in returns} >= {"requested", "received", "refund_issued"}
    received = next(e for e in returns if e["action"] == "received")
    assert received["store_id"] == net.rivoli
    assert received["payload"]["refund"] == {"amount": "60.00", "currency": "EUR"}

    events = desk.client.get(
        "/v1/events", headers=desk.admin, params={"subject": ret["id"], "limit": 50}
    ).json()["data"]
    assert [e["type"] for e in events] == [
        "returns.return.requested",
        "returns.refund.issued",
        "returns.return.received",
    ]
    payload = events[-1]["data"]
    assert payload["order_id"] == order_id
    assert payload["refund_minor"] == 6000
    assert payload["currency"] == "EUR"
    assert payload["profile_id"] == payload["customer_id"] == lea
    assert payload["store_id"] == net.rivoli
    assert payload["lines"] == [{"sku": "RUN-42", "quantity": 1, "condition": "sellable"}]
    issued = events[1]["data"]
    assert (issued["amount"], issued["amount_minor"]) == ("60.00", 6000)
    assert issued["payment_reference"] == "psp_j4"

    again = desk.post("/v1/returns", desk.till, body)
    assert again.status_code == 409
    assert again.json()["returnable"][0]["quantity"] == 0
    assert desk.stock(net.rivoli, "RUN-42")["on_hand"] == 1  # nothing changed

    queue = desk.client.get("/v1/returns", headers=desk.till, params={"order_id": order_id})
    assert [r["id"] for r in queue.json()["data"]] == [ret["id"]]


def test_j4_exchange_at_the_desk_for_the_size_the_store_has(
    desk: Desk, net: Network, lea: str
) -> None:
    order_id = desk.web_order_delivered(lea, "RUN-42")
    ideas = desk.client.get(
        "/v1/returns/suggestions",
        headers=desk.till,
        params={"location_id": net.rivoli, "skus": ["RUN-42"]},
    )
    assert ideas.status_code == 200, ideas.text
    same = ideas.json()["same_product"]
    assert [s["sku"] for s in same] == ["RUN-43"]  # 41 is not in this store, 42 comes back
    assert same[0]["attributes"]["size"] == "43"

    taken = desk.post(
        "/v1/returns",
        desk.till,
        {
            "order_id": order_id,
            "location_id": net.rivoli,
            "lines": [
                {"sku": "RUN-42", "quantity": 1, "reason": "too_small", "condition": "sellable"}
            ],
            "outcome": "exchange",
            "exchange_lines": [{"sku": "RUN-43", "quantity": 1}],
        },
    )
    assert taken.status_code == 201, taken.text
    ret = taken.json()
    assert ret["status"] == "completed"
    assert ret["money_refunded"]["amount"] == "0.00"
    assert ret["to_pay"]["amount"] == "0.00"
    new_order = desk.client.get(f"/v1/orders/{ret['exchange_order_id']}", headers=desk.till).json()
    assert new_order["status"] == "completed"  # handed over at the desk at once
    assert new_order["groups"][0]["location_id"] == net.rivoli
    assert desk.stock(net.rivoli, "RUN-42")["on_hand"] == 1
    assert desk.stock(net.rivoli, "RUN-43")["on_hand"] == 1  # 2 - the pair that left

    drain(desk.db)
    assert desk.points(lea) == 60  # 60 reversed on the return, 60 earned by the exchange

    suggestions = desk.client.get(f"/v1/returns/{ret['id']}/suggestions", headers=desk.till)
    assert "RUN-42" not in [s["sku"] for s in suggestions.json()["same_product"]]


def test_review_queue_for_an_opened_item_returned_on_a_whim(
    desk: Desk, net: Network, lea: str
) -> None:
    order_id = desk.web_order_delivered(lea, "RUN-42")
    taken = desk.post(
        "/v1/returns",
        desk.till,
        {
            "order_id": order_id,
            "location_id": net.rivoli,
            "lines": [
                {"sku": "RUN-42", "quantity": 1, "reason": "changed_mind", "condition": "opened"}
            ],
            "outcome": "store_credit",
        },
    )
    assert taken.status_code == 201, taken.text
    ret = taken.json()
    assert (ret["status"], ret["review_reasons"]) == ("in_review", ["condition_changed_mind"])
    assert desk.stock(net.rivoli, "RUN-42")["on_hand"] == 0  # nothing restocked yet

    queue = desk.client.get("/v1/returns", headers=desk.admin, params={"status": "in_review"})
    assert [r["id"] for r in queue.json()["data"]] == [ret["id"]]
    assert desk.post(f"/v1/returns/{ret['id']}/approve", desk.till).status_code == 403

    approved = desk.post(f"/v1/returns/{ret['id']}/approve", desk.admin, {"note": "box ok"})
    assert approved.status_code == 200, approved.text
    done = approved.json()
    assert done["status"] == "completed"
    assert done["credit_note"]["id"].startswith("crn_")
    assert done["credit_note"]["amount"] == {"amount": "60.00", "currency": "EUR"}
    rivoli = desk.stock(net.rivoli, "RUN-42")
    assert (rivoli["on_hand"], rivoli["available_to_promise"]) == (1, 0)  # kept aside
    twice = desk.post(f"/v1/returns/{ret['id']}/approve", desk.admin)
    assert twice.status_code == 409


@pytest.mark.parametrize(
    ("line", "status", "field"),
    [
        ({"sku": "CAP", "quantity": 1}, 422, "lines[0].sku"),
        ({"sku": "RUN-42", "quantity": 2}, 409, "lines"),
        ({"sku": "RUN-42", "quantity": 1, "reason": "bored"}, 422, None),
    ],
)
def test_bad_returns_are_refused_and_change_nothing(
    desk: Desk, net: Network, lea: str, line: dict[str, Any], status: int, field: str | None
) -> None:
    order_id = desk.web_order_delivered(lea, "RUN-42")
    body = {
        "order_id": order_id,
        "location_id": net.rivoli,
        "lines": [{"reason": "too_small", "condition": "sellable", **line}],
        "outcome": "refund",
    }
    refused = desk.post("/v1/returns", desk.till, body)
    assert refused.status_code == status, refused.text
    if field:
        assert refused.json()["field"] == field
    assert desk.stock(net.rivoli, "RUN-42")["on_hand"] == 0
    assert desk.client.get("/v1/returns", headers=desk.admin).json()["data"] == []
