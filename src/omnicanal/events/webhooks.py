"""Webhooks: endpoints subscribe to event types; deliveries are signed, retried, dead-lettered.

The ``webhooks.fanout`` consumer turns each published event into one delivery row per matching
active endpoint (in the consumer's transaction, so exactly once); the sender worker claims due
deliveries, POSTs the event envelope signed with HMAC-SHA256, and records the outcome:
delivered on any 2xx, else retried with exponential backoff until ``max_attempts``, then dead
(listed, and redeliverable by hand).

Signature: header ``Omnicanal-Signature: t=<unix seconds>,v1=<hex>`` where ``hex`` is
HMAC-SHA256(secret, f"{t}.{raw body}"). Receivers recompute it and reject stale timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx2
from sqlalchemy import select

from omnicanal import __version__
from omnicanal.events.consumers import Consumer, backoff, type_matches
from omnicanal.events.model import EVENT_TYPES, StoredEvent
from omnicanal.events.outbox import stored
from omnicanal.events.tables import OutboxEventRow, WebhookDeliveryRow, WebhookEndpointRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

SIGNATURE_HEADER = "Omnicanal-Signature"
SIGNATURE_TOLERANCE = timedelta(minutes=5)


# -- signing -----------------------------------------------------------------------------------
def sign(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: timedelta = SIGNATURE_TOLERANCE,
) -> bool:
    """What a receiver does: recompute the MAC, compare in constant time, refuse stale ones."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance.total_seconds():
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


# -- endpoints ---------------------------------------------------------------------------------
def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidInput(
            f"'{url}' is not an http(s) URL; give the full address of your endpoint, "
            "e.g. https://shop.example.com/hooks/omnicanal.",
            field="url",
        )
    return url


def check_event_types(patterns: Sequence[str]) -> list[str]:
    """Known types, ``prefix.*`` patterns that match at least one known type, or ``*``."""
    if not patterns:
        raise InvalidInput(
            "Subscribe to at least one event type (e.g. 'inventory.stock.*', or '*' for all).",
            field="event_types",
        )
    known = sorted(EVENT_TYPES)
    unknown = [p for p in patterns if not any(type_matches([p], t) for t in known)]
    if unknown:
        raise InvalidInput(
            f"Unknown event type(s) {', '.join(unknown)}. GET /v1/events/types lists them; "
            "a pattern such as 'inventory.stock.*' subscribes to a family.",
            field="event_types",
        )
    return sorted(set(patterns))


@dataclass(frozen=True)
class CreatedEndpoint:
    endpoint: WebhookEndpointRow
    secret: str


def create_endpoint(
    uow: UnitOfWork,
    *,
    url: str,
    event_types: Sequence[str],
    description: str | None = None,
    created_by: str | None = None,
) -> CreatedEndpoint:
    secret = "whsec_" + secrets.token_urlsafe(32)
    row = WebhookEndpointRow(
        id=new_id("whk"),
        url=check_url(url),
        description=description,
        event_types=check_event_types(event_types),
        secret=secret,
        active=True,
        created_by=created_by,
        created_at=uow.now(),
        disabled_at=None,
    )
    uow.session.add(row)
    uow.session.flush()
    return CreatedEndpoint(row, secret)


def get_endpoint(uow: UnitOfWork, endpoint_id: str) -> WebhookEndpointRow:
    row = uow.session.get(WebhookEndpointRow, endpoint_id)
    if row is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}.", endpoint_id=endpoint_id)
    return row


def update_endpoint(
    uow: UnitOfWork,
    endpoint_id: str,
    *,
    url: str | None = None,
    event_types: Sequence[str] | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> WebhookEndpointRow:
    row = get_endpoint(uow, endpoint_id)
    if url is not None:
        row.url = check_url(url)
    if event_types is not None:
        row.event_types = check_event_types(event_types)
    if description is not None:
        row.description = description
    if active is not None and active != row.active:
        row.active = active
        row.disabled_at = None if active else uow.now()
    return row


def rotate_secret(uow: UnitOfWork, endpoint_id: str) -> CreatedEndpoint:
    row = get_endpoint(uow, endpoint_id)
    row.secret = "whsec_" + secrets.token_urlsafe(32)
    return CreatedEndpoint(row, row.secret)


# -- fan-out (a consumer) ----------------------------------------------------------------------
def fan_out(uow: UnitOfWork, event: StoredEvent) -> None:
    assert event.position is not None
    endpoints = uow.session.scalars(
        select(WebhookEndpointRow).where(WebhookEndpointRow.active.is_(True))
    ).all()
    for endpoint in endpoints:
        if type_matches(endpoint.event_types, event.type):
            uow.session.add(
                WebhookDeliveryRow(
                    id=new_id("dlv"),
                    endpoint_id=endpoint.id,
                    event_id=event.id,
                    event_type=event.type,
                    position=event.position,
                    status="pending",
                    attempts=0,
                    next_attempt_at=uow.now(),
                    last_status_code=None,
                    last_error=None,
                    created_at=uow.now(),
                    delivered_at=None,
                )
            )


FANOUT = Consumer("webhooks.fanout", ("*",), fan_out)


# -- sending -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SenderPolicy:
    timeout: float = 5.0
    max_attempts: int = 8
    backoff_base: timedelta = timedelta(seconds=10)
    batch_size: int = 20


@dataclass(frozen=True)
class _Claimed:
    delivery_id: str
    url: str
    secret: str
    body: bytes
    event: StoredEvent


def _claim(db: Database, policy: SenderPolicy) -> list[_Claimed]:
    """Take due deliveries with a lease, so another process does not send them meanwhile."""
    claimed: list[_Claimed] = []
    with db.uow() as uow:
        now = uow.now()
        stmt = (
            select(WebhookDeliveryRow)
            .where(
                WebhookDeliveryRow.status == "pending",
                WebhookDeliveryRow.next_attempt_at <= now,
            )
            .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.position)
            .limit(policy.batch_size)
        )
        if db.is_postgres:
            stmt = stmt.with_for_update(skip_locked=True)
        due = list(uow.session.scalars(stmt))
        if not due:
            return []
        endpoints = {
            e.id: e
            for e in uow.session.scalars(
                select(WebhookEndpointRow).where(
                    WebhookEndpointRow.id.in_({d.endpoint_id for d in due})
                )
            )
        }
        events = {
            e.id: stored(e)
            for e in uow.session.scalars(
                select(OutboxEventRow).where(OutboxEventRow.id.in_({d.event_id for d in due}))
            )
        }
        lease = timedelta(seconds=policy.timeout * 2 + 30)
        for delivery in due:
            delivery.next_attempt_at = now + lease
            endpoint = endpoints[delivery.endpoint_id]
            event = events[delivery.event_id]
            body = json.dumps(event.envelope(), separators=(",", ":")).encode()
            claimed.append(_Claimed(delivery.id, endpoint.url, endpoint.secret, body, event))
    return claimed


def send_due(db: Database, client: httpx2.Client, policy: SenderPolicy) -> int:
    """Send one batch of due deliveries; returns how many were attempted."""
    batch = _claim(db, policy)
    for item in batch:
        status_code: int | None = None
        error: str | None = None
        try:
            response = client.post(
                item.url,
                content=item.body,
                headers=_headers(item, int(db.clock.now().timestamp())),
                timeout=policy.timeout,
            )
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}: {response.text[:500]}"
        except httpx2.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        _record(db, item.delivery_id, status_code, error, policy)
    return len(batch)


def _headers(item: _Claimed, timestamp: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"omnicanal-webhooks/{__version__}",
        "Omnicanal-Event-Id": item.event.id,
        "Omnicanal-Event-Type": item.event.type,
        "Omnicanal-Delivery-Id": item.delivery_id,
        SIGNATURE_HEADER: sign(item.secret, item.body, timestamp),
    }


def _record(
    db: Database,
    delivery_id: str,
    status_code: int | None,
    error: str | None,
    policy: SenderPolicy,
) -> None:
    with db.uow() as uow:
        delivery = uow.session.get(WebhookDeliveryRow, delivery_id)
        assert delivery is not None
        now = uow.now()
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error
        if error is None:
            delivery.status = "delivered"
            delivery.delivered_at = now
        elif delivery.attempts >= policy.max_attempts:
            delivery.status = "dead"
        else:
            delivery.next_attempt_at = now + backoff(policy.backoff_base, delivery.attempts)


def redeliver(uow: UnitOfWork, delivery_id: str) -> WebhookDeliveryRow:
    """Send a dead (or delivered) event again, with a fresh series of attempts."""
    delivery = uow.session.get(WebhookDeliveryRow, delivery_id)
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}.", delivery_id=delivery_id)
    if delivery.status == "pending":
        raise Conflict(
            f"Delivery {delivery_id} is still pending (attempt {delivery.attempts + 1} is due "
            f"at {delivery.next_attempt_at.isoformat()}); wait for it or for it to be dead.",
            status="pending",
        )
    endpoint = get_endpoint(uow, delivery.endpoint_id)
    if not endpoint.active:
        raise Conflict(
            f"Endpoint {endpoint.id} is disabled; enable it (PATCH active=true) first.",
            endpoint_id=endpoint.id,
        )
    delivery.status = "pending"
    delivery.attempts = 0
    delivery.next_attempt_at = uow.now()
    delivery.delivered_at = None
    return delivery


def deliveries_filter(
    *, endpoint_id: str | None = None, status: str | None = None, event_id: str | None = None
) -> list[Any]:
    conditions: list[Any] = []
    if endpoint_id:
        conditions.append(WebhookDeliveryRow.endpoint_id == endpoint_id)
    if status:
        if status not in {"pending", "delivered", "dead"}:
            raise InvalidInput(
                "status is one of pending, delivered, dead.", field="status", given=status
            )
        conditions.append(WebhookDeliveryRow.status == status)
    if event_id:
        conditions.append(WebhookDeliveryRow.event_id == event_id)
    return conditions
