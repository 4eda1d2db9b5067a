"""Webhooks against a real local HTTP receiver: signatures, retries with backoff, dead letters."""

from __future__ import annotations

from datetime import timedelta

import httpx2
import pytest
from sqlalchemy import select

from omnicanal.events import webhooks
from omnicanal.events.dispatch import drain
from omnicanal.events.tables import WebhookDeliveryRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, InvalidInput
from omnicanal.storage.database import Database
from tests.event_helpers import Pinged, ping, webhook_receiver

POLICY = webhooks.SenderPolicy(timeout=2, max_attempts=3, backoff_base=timedelta(seconds=10))


def subscribe(db: Database, url: str, types: list[str]) -> webhooks.CreatedEndpoint:
    with db.uow() as uow:
        return webhooks.create_endpoint(uow, url=url, event_types=types)


def deliveries(db: Database) -> list[WebhookDeliveryRow]:
    with db.read() as session:
        return list(
            session.scalars(select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.position))
        )


def test_given_a_subscription_when_events_happen_then_each_is_posted_once_and_signed(
    db: Database,
) -> None:
    with webhook_receiver() as receiver, httpx2.Client() as client:
        endpoint = subscribe(db, receiver.url, ["tests.*"])
        ping(db, 1, 2)
        drain(db)
        assert webhooks.send_due(db, client, POLICY) == 2
        assert webhooks.send_due(db, client, POLICY) == 0
    assert [r["json"]["data"]["n"] for r in receiver.requests] == [1, 2]
    first = receiver.requests[0]
    assert first["json"]["type"] == Pinged.type
    assert first["headers"]["omnicanal-event-type"] == Pinged.type
    signature = first["headers"]["omnicanal-signature"]
    assert webhooks.verify(
        endpoint.secret, signature, first["body"], now=db.clock.now().timestamp()
    )
    assert not webhooks.verify(
        "whsec_wrong", signature, first["body"], now=db.clock.now().timestamp()
    )
    assert not webhooks.verify(
        endpoint.secret, signature, first["body"] + b" ", now=db.clock.now().timestamp()
    )
    stale = db.clock.now().timestamp() + 3600
    assert not webhooks.verify(endpoint.secret, signature, first["body"], now=stale)
    assert [d.status for d in deliveries(db)] == ["delivered", "delivered"]


def test_only_matching_active_endpoints_get_deliveries(db: Database) -> None:
    subscribe(db, "http://127.0.0.1:9/a", ["inventory.stock.*"])
    paused = subscribe(db, "http://127.0.0.1:9/b", ["*"])
    with db.uow() as uow:
        webhooks.update_endpoint(uow, paused.endpoint.id, active=False)
    ping(db, 1)
    drain(db)
    assert deliveries(db) == []


def test_a_failing_endpoint_is_retried_with_backoff_then_dead_then_redelivered(
    db: Database, clock: FrozenClock
) -> None:
    with webhook_receiver([500, 503, 502]) as receiver, httpx2.Client() as client:
        subscribe(db, receiver.url, [Pinged.type])
        ping(db, 7)
        drain(db)
        assert webhooks.send_due(db, client, POLICY) == 1
        (delivery,) = deliveries(db)
        assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
            "pending",
            1,
            500,
        )
        assert delivery.next_attempt_at == clock.now() + timedelta(seconds=10)

        assert webhooks.send_due(db, client, POLICY) == 0  # not due yet
        clock.advance(seconds=10)
        assert webhooks.send_due(db, client, POLICY) == 1
        assert deliveries(db)[0].next_attempt_at == clock.now() + timedelta(seconds=20)
        clock.advance(seconds=20)
        assert webhooks.send_due(db, client, POLICY) == 1
        (dead,) = deliveries(db)
        assert (dead.status, dead.attempts, dead.last_status_code) == ("dead", 3, 502)
        assert "HTTP 502" in (dead.last_error or "")
        clock.advance(hours=1)
        assert webhooks.send_due(db, client, POLICY) == 0

        with db.uow() as uow:
            webhooks.redeliver(uow, dead.id)
        with pytest.raises(Conflict, match="still pending"), db.uow() as uow:
            webhooks.redeliver(uow, dead.id)
        assert webhooks.send_due(db, client, POLICY) == 1
    assert deliveries(db)[0].status == "delivered"
    assert len(receiver.requests) == 4
    assert len({r["headers"]["omnicanal-delivery-id"] for r in receiver.requests}) == 1


def test_an_unreachable_endpoint_counts_as_a_failed_attempt(db: Database) -> None:
    subscribe(db, "http://127.0.0.1:9/closed", [Pinged.type])  # port 9 (discard) is closed here
    ping(db, 1)
    drain(db)
    with httpx2.Client() as client:
        assert webhooks.send_due(db, client, POLICY) == 1
    (delivery,) = deliveries(db)
    assert delivery.status == "pending"
    assert delivery.last_status_code is None
    assert "ConnectError" in (delivery.last_error or "")


@pytest.mark.parametrize(
    ("url", "types", "field"),
    [
        ("ftp://example.com/x", ["*"], "url"),
        ("not a url", ["*"], "url"),
        ("https://example.com/x", [], "event_types"),
        ("https://example.com/x", ["orders.nothing.like.this"], "event_types"),
        ("https://example.com/x", ["nope.*"], "event_types"),
    ],
)
def test_bad_subscriptions_are_refused_and_change_nothing(
    db: Database, url: str, types: list[str], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught, db.uow() as uow:
        webhooks.create_endpoint(uow, url=url, event_types=types)
    assert caught.value.field == field
    with db.read() as session:
        assert session.scalars(select(WebhookDeliveryRow)).first() is None
