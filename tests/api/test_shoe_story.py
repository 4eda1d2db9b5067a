"""The shoe story: a click & collect order placed on the web. At every step the email the
customer receives (a real SMTP server), the web key and the store's till key say the same words;
and when the order is cancelled while its "ready" message still waits, no "ready for pickup"
goes out: the cancellation does."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from omnicanal.events.dispatch import drain
from omnicanal.notifications.model import Channel
from omnicanal.notifications.providers import LogProvider, SmtpProvider
from omnicanal.notifications.sender import send_due
from omnicanal.storage.database import Database
from tests.conftest import MakeKey
from tests.notification_helpers import Inbox, smtp  # noqa: F401
from tests.order_factories import Network, make_network

JSON = {"Content-Type": "application/json"}


class Story:
    def __init__(
        self, client: TestClient, db: Database, make_key: MakeKey, net: Network, port: int
    ) -> None:
        self.client, self.db, self.net = client, db, net
        self.web = make_key("web")
        self.till = make_key("pos", store_id=net.rivoli)
        self.callcenter = make_key("callcenter")
        self.sms = LogProvider()
        self.providers = {
            Channel.EMAIL: SmtpProvider("127.0.0.1", port, "Omnicanal <shop@example.com>"),
            Channel.SMS: self.sms,
            Channel.PUSH: LogProvider(),
        }
        self.keys = 0

    def post(self, path: str, headers: dict[str, str], body: Any = None) -> Any:
        self.keys += 1
        response = self.client.post(
            path,
            headers={**headers, **JSON, "Idempotency-Key": f"shoe-{self.keys}"},
            json=body if body is not None else {},
        )
        assert response.status_code < 300, response.text
        return response.json()

    def send(self) -> int:
        drain(self.db)
        return send_due(self.db, self.providers)

    def status_texts(self, order_id: str) -> tuple[str, str]:
        web = self.client.get(f"/v1/orders/{order_id}", headers=self.web).json()
        till = self.client.get(f"/v1/orders/{order_id}", headers=self.till).json()
        return web["status_text"], till["status_text"]

    def identify(self, email: str) -> str:
        found = self.post(
            "/v1/customers/identify", self.web, {"identifiers": [{"kind": "email", "value": email}]}
        )
        return str(found["profile_id"])

    def place(self, customer_id: str | None = None, **contact: str) -> dict[str, Any]:
        placed: dict[str, Any] = self.post(
            "/v1/orders",
            self.web,
            {
                "method": "click_and_collect",
                "location_id": self.net.rivoli,
                "lines": [{"sku": "SHOE-42", "quantity": 1}],
                "contact": {"email": "lea@example.com", **contact},
                "external_ref": "WEB-2001",
                "customer_id": customer_id,
            },
        )
        return placed


@pytest.fixture
def story(
    client: TestClient,
    db: Database,
    make_key: MakeKey,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> Story:
    return Story(client, db, make_key, make_network(db), smtp[1])


def test_every_step_the_email_the_web_and_the_till_agree(
    story: Story,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox = smtp[0]
    lea = story.identify("lea@example.com")
    order = story.place(lea, name="Léa")
    (group,) = order["groups"]

    assert story.send() == 1
    (placed,) = inbox.messages
    web, till = story.status_texts(order["id"])
    assert web == till == "Confirmed"
    assert placed["To"] == "lea@example.com"
    assert placed["Subject"] == f"Order WEB-2001: {web}"
    assert f"Status: {web}" in inbox.text(placed)

    story.post(f"/v1/fulfilment-groups/{group['id']}/picking", story.till)
    ready = story.post(f"/v1/fulfilment-groups/{group['id']}/ready", story.till)
    code = ready["groups"][0]["pickup_code"]
    assert story.send() == 1
    ready_mail = inbox.messages[-1]
    web, till = story.status_texts(order["id"])
    assert web == till == "Ready for pickup at PAR-RIVOLI"
    assert ready_mail["Subject"] == f"Order WEB-2001: {web}"
    body = inbox.text(ready_mail)
    assert f"Status: {web}" in body
    assert f"Pickup code: {code}" in body  # read from the group at send time

    story.post(f"/v1/fulfilment-groups/{group['id']}/hand-over", story.till, {"pickup_code": code})
    assert story.send() == 1
    collected = inbox.messages[-1]
    web, till = story.status_texts(order["id"])
    assert web == till == "Collected"
    assert f"Status: {web}" in inbox.text(collected)
    assert len(inbox.messages) == 3

    log = story.client.get(
        f"/v1/customers/{order['customer_id']}/messages", headers=story.callcenter
    )
    assert order["customer_id"] == lea
    assert log.status_code == 200, log.text
    logged = [(m["template"], m["status"]) for m in log.json()["data"]]
    assert sorted(logged) == [
        ("collected", "sent"),
        ("order_placed", "sent"),
        ("ready_for_pickup", "sent"),
        ("review_request", "scheduled"),  # a week after collection, if she consents
    ]


def test_cancelled_before_the_sender_runs_no_ready_message_goes_out(
    story: Story,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox = smtp[0]
    order = story.place(phone="+33612345678")
    (group,) = order["groups"]
    story.send()
    story.post(f"/v1/fulfilment-groups/{group['id']}/ready", story.till)
    drain(story.db)  # "ready" scheduled (email and SMS), not sent yet
    story.post(f"/v1/orders/{order['id']}/cancel", story.web, {"reason": "changed my mind"})

    assert story.send() == 3  # ready (email), ready (SMS), cancelled
    subjects = [m["Subject"] for m in inbox.messages]
    assert subjects == ["Order WEB-2001: Confirmed", "Order WEB-2001: Cancelled"]
    assert "Ready" not in inbox.text(inbox.messages[-1])
    assert story.sms.sent == []
    web, till = story.status_texts(order["id"])
    assert web == till == "Cancelled"

    suppressed = story.client.get(
        "/v1/notifications",
        headers=story.callcenter,
        params={"status": "suppressed", "order_id": order["id"]},
    ).json()["data"]
    assert sorted((m["template"], m["channel"], m["reason"]) for m in suppressed) == [
        ("ready_for_pickup", "email", "order-cancelled"),
        ("ready_for_pickup", "sms", "order-cancelled"),
    ]


def test_a_back_in_stock_subscription_is_refused_out_of_range_and_taken_in_range(
    story: Story,
) -> None:
    lea = story.identify("lea@example.com")
    body = {"customer_id": lea, "sku": "CAP", "near": {"lat": 48.857, "lon": 2.352}}
    too_far = story.client.post(
        "/v1/notifications/back-in-stock",
        headers={**story.web, "Idempotency-Key": "bis-1"},
        json={**body, "near": {**body["near"], "radius_km": 500}},
    )
    assert too_far.status_code == 422
    taken = story.post(
        "/v1/notifications/back-in-stock",
        story.web,
        {**body, "near": {**body["near"], "radius_km": 3}},
    )
    assert (taken["sku"], taken["status"], taken["customer_id"]) == ("CAP", "active", lea)
    till_cannot = story.client.post(
        "/v1/notifications/back-in-stock",
        headers={**story.till, "Idempotency-Key": "bis-2"},
        json={**body, "near": {**body["near"], "radius_km": 3}},
    )
    assert till_cannot.status_code == 403
    log = story.client.get(f"/v1/customers/{lea}/messages", headers=story.callcenter)
    assert log.status_code == 200
    assert log.json() == {"data": [], "next_cursor": None}
    assert story.client.get("/v1/notifications", headers=story.web).status_code == 403
