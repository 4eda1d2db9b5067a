"""J5 loyalty everywhere, over HTTP: points earned online are spent at the till, points earned
at the till are spent on the web, and a till retrying an offline sync (even concurrently)
never doubles them."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.order_factories import Network, make_network

JSON = {"Content-Type": "application/json"}
CARD = "LEA-0001"


class Loyalty:
    def __init__(self, client: TestClient, db: Database, make_key: MakeKey, net: Network) -> None:
        self.client = client
        self.db = db
        self.web = make_key("web")
        self.till = make_key("pos", store_id=net.rivoli)
        self.admin = make_key("admin")
        self.keys = 0

    def post(self, path: str, headers: dict[str, str], body: Any = None) -> Any:
        self.keys += 1
        return self.client.post(
            path,
            headers={**headers, **JSON, "Idempotency-Key": f"j5-{self.keys}"},
            json=body if body is not None else {},
        )

    def account(self, headers: dict[str, str], **params: str) -> dict[str, Any]:
        found = self.client.get("/v1/loyalty/accounts", headers=headers, params=params)
        assert found.status_code == 200, found.text
        body: dict[str, Any] = found.json()
        return body

    def till_sync(self, ref: str, amount: str, card: str | None = CARD) -> Any:
        body: dict[str, Any] = {
            "external_ref": ref,
            "amount": amount,
            "lines": [{"sku": "SOCKS", "quantity": 1, "unit_price": amount}],
        }
        if card:
            body["card"] = card
        return self.post("/v1/loyalty/earn", self.till, body)


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


@pytest.fixture
def j5(client: TestClient, db: Database, make_key: MakeKey, net: Network) -> Loyalty:
    return Loyalty(client, db, make_key, net)


@pytest.fixture
def lea(j5: Loyalty) -> str:
    found = j5.post(
        "/v1/customers/identify",
        j5.web,
        {
            "identifiers": [
                {"kind": "email", "value": "lea@example.com"},
                {"kind": "loyalty_card", "value": CARD},
            ]
        },
    )
    assert found.status_code == 200, found.text
    profile_id: str = found.json()["profile_id"]
    return profile_id


def test_j5_points_earned_online_are_spent_at_the_till(j5: Loyalty, net: Network, lea: str) -> None:
    placed = j5.post(
        "/v1/orders",
        j5.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SHOE-42", "quantity": 1}],
            "customer_id": lea,
            "payment": {"kind": "authorised", "provider": "adyen", "reference": "psp_1"},
        },
    )
    assert placed.status_code == 201, placed.text
    group = placed.json()["groups"][0]["id"]
    drain(j5.db)
    assert (
        j5.client.get(
            "/v1/loyalty/accounts", headers=j5.web, params={"customer_id": lea}
        ).status_code
        == 404
    )
    assert j5.post(f"/v1/fulfilment-groups/{group}/picking", j5.till).status_code == 200
    code = j5.post(f"/v1/fulfilment-groups/{group}/ready", j5.till).json()["groups"][0][
        "pickup_code"
    ]
    handed = j5.post(f"/v1/fulfilment-groups/{group}/hand-over", j5.till, {"pickup_code": code})
    assert handed.json()["status"] == "completed"
    drain(j5.db)  # the order completed: the loyalty consumer earns

    at_till = j5.account(j5.till, card="lea 0001")  # the till scans the card
    assert at_till["customer_id"] == lea
    assert at_till["balance"] == 89  # 89.90 EUR: 1 point per euro
    assert at_till["value"] == {"amount": "0.89", "currency": "EUR"}
    account_id = at_till["id"]
    movements = j5.client.get(
        f"/v1/loyalty/accounts/{account_id}/movements", headers=j5.till
    ).json()["data"]
    assert [(m["kind"], m["points"], m["reference"]["type"]) for m in movements] == [
        ("earn", 89, "order")
    ]

    too_much = j5.post(f"/v1/loyalty/accounts/{account_id}/redemptions", j5.till, {"points": 90})
    assert too_much.status_code == 409
    assert too_much.json()["balance"] == 89
    elsewhere = j5.post(
        f"/v1/loyalty/accounts/{account_id}/redemptions",
        j5.till,
        {"points": 10, "store_id": net.bastille},
    )
    assert elsewhere.status_code == 403

    spent = j5.post(f"/v1/loyalty/accounts/{account_id}/redemptions", j5.till, {"points": 80})
    assert spent.status_code == 201, spent.text
    redemption = spent.json()
    assert redemption["value"] == {"amount": "0.80", "currency": "EUR"}
    assert redemption["store_id"] == net.rivoli
    assert redemption["payment"]["provider"] == "loyalty"
    assert redemption["payment"]["reference"].startswith("lyr_")
    assert redemption["balance"] == 9
    assert j5.account(j5.web, customer_id=lea)["balance"] == 9


def test_j5_points_earned_at_the_till_are_spent_on_the_web_and_retries_never_double(
    j5: Loyalty, net: Network, lea: str
) -> None:
    first = j5.till_sync("RIV-T3-000042", "59.90")
    assert first.status_code == 201, first.text
    assert (first.json()["movement"]["points"], first.json()["replayed"]) == (59, False)
    again = j5.till_sync("RIV-T3-000042", "59.90")  # a new Idempotency-Key: the reference decides
    assert again.json()["replayed"] is True
    assert again.json()["movement"]["id"] == first.json()["movement"]["id"]

    answers: list[Any] = []

    def retry() -> None:
        answers.append(j5.till_sync("RIV-T3-000043", "20.00"))

    threads = [threading.Thread(target=retry) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers]
    assert sorted(a.json()["replayed"] for a in answers) == [False, True, True, True, True]
    assert len({a.json()["movement"]["id"] for a in answers}) == 1

    on_web = j5.account(j5.web, customer_id=lea)
    assert on_web["balance"] == 59 + 20
    spent = j5.post(f"/v1/loyalty/accounts/{on_web['id']}/redemptions", j5.web, {"points": 79})
    assert spent.status_code == 201, spent.text
    payment = spent.json()["payment"]

    # the web records the redemption on its order as a loyalty payment; cancelling gives it back
    placed = j5.post(
        "/v1/orders",
        j5.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SOCKS", "quantity": 1}],
            "customer_id": lea,
        },
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    recorded = j5.post(f"/v1/orders/{order_id}/payments", j5.web, payment)
    assert recorded.status_code == 201, recorded.text
    drain(j5.db)
    assert j5.account(j5.web, customer_id=lea)["balance"] == 0
    cancelled = j5.post(f"/v1/orders/{order_id}/cancel", j5.web, {"reason": "changed my mind"})
    assert cancelled.status_code == 200, cancelled.text
    drain(j5.db)
    assert j5.account(j5.web, customer_id=lea)["balance"] == 79
    refunded = j5.client.get(f"/v1/loyalty/redemptions/{payment['reference']}", headers=j5.web)
    assert (refunded.json()["status"], refunded.json()["order_id"]) == ("refunded", order_id)


def test_till_sale_42_and_web_order_42_are_two_references(j5: Loyalty, lea: str) -> None:
    till = j5.till_sync("42", "10.00")
    web = j5.post(
        "/v1/loyalty/earn",
        j5.web,
        {"ref_type": "order", "external_ref": "42", "amount": "30.00", "customer_id": lea},
    )
    assert till.status_code == web.status_code == 201
    assert till.json()["movement"]["reference"] == {"type": "till_sale", "id": "42"}
    assert web.json()["movement"]["reference"] == {"type": "order", "id": "42"}
    assert j5.account(j5.web, customer_id=lea)["balance"] == 40
    assert (
        j5.post(
            "/v1/loyalty/earn",
            j5.web,
            {"channel": "pos", "external_ref": "43", "amount": "1.00", "customer_id": lea},
        ).status_code
        == 403
    )


def test_identification_rate_and_baskets_at_the_till(j5: Loyalty, net: Network, lea: str) -> None:
    assert j5.till_sync("A-1", "60.00").status_code == 201
    assert j5.till_sync("A-2", "20.00", card=None).status_code == 201
    assert j5.till_sync("A-3", "30.00", card=None).status_code == 201
    figures = j5.client.get(
        "/v1/loyalty/identification",
        headers=j5.admin,
        params={"channel": "pos", "store_id": net.rivoli},
    )
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert (body["purchases"], body["identification_rate"]) == (3, "0.3333")
    assert body["identified"]["average_basket"] == {"amount": "60.00", "currency": "EUR"}
    assert body["anonymous"]["average_basket"] == {"amount": "25.00", "currency": "EUR"}
    empty = j5.client.get(
        "/v1/loyalty/identification", headers=j5.admin, params={"channel": "web"}
    ).json()
    assert (empty["purchases"], empty["identification_rate"]) == (0, None)


def test_keys_without_loyalty_scopes_are_refused(j5: Loyalty, make_key: MakeKey) -> None:
    market = make_key("marketplace")
    refused = j5.client.get("/v1/loyalty/identification", headers=market)
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "loyalty:read"


def test_points_paid_when_placing_an_order_come_back_when_it_is_cancelled(
    j5: Loyalty, net: Network, lea: str
) -> None:
    assert j5.till_sync("RIV-T3-9", "25.00").status_code == 201
    account_id = j5.account(j5.web, customer_id=lea)["id"]
    spent = j5.post(f"/v1/loyalty/accounts/{account_id}/redemptions", j5.web, {"points": 25})
    payment = spent.json()["payment"]
    placed = j5.post(
        "/v1/orders",
        j5.web,
        {
            "method": "click_and_collect",
            "location_id": net.rivoli,
            "lines": [{"sku": "SOCKS", "quantity": 1}],
            "customer_id": lea,
            "payment": payment,
        },
    )
    assert placed.status_code == 201, placed.text
    assert j5.account(j5.web, customer_id=lea)["balance"] == 0
    cancelled = j5.post(f"/v1/orders/{placed.json()['id']}/cancel", j5.web, {"reason": "oops"})
    assert cancelled.status_code == 200, cancelled.text
    drain(j5.db)
    assert j5.account(j5.web, customer_id=lea)["balance"] == 25
