"""Consumers that keep the KPI read models up to date.

Each handler adds to the daily rollups (``rollup.bump``) and keeps the little state it needs in
the ``analytics_*`` fact tables; every addition is guarded by a fact row (an order, a group's
state, a ``CountedRow`` claim), so a redelivered event adds nothing twice even outside the
framework's exactly-once guarantee. One consumer reads every family in outbox order: an order
needs its cart's channels, a return its order, a till identification its profile, already seen.
"""

from __future__ import annotations

from datetime import datetime

from omnicanal.analytics import fulfilment, identity
from omnicanal.analytics.model import day_of
from omnicanal.analytics.rollup import Where, bump
from omnicanal.analytics.sales import Sale, claim, count_sale
from omnicanal.analytics.tables import NO_STORE
from omnicanal.events.consumers import Consumer
from omnicanal.events.model import StoredEvent
from omnicanal.shared.clock import as_utc
from omnicanal.storage.uow import UnitOfWork

TILL_SALE = "tills.sale.recorded"


def on_order_event(uow: UnitOfWork, event: StoredEvent) -> None:
    session = uow.session
    if event.type == "orders.order.placed":
        fulfilment.order_placed(session, event)
        data = event.data
        if data.get("channel") == identity.TILL_CHANNEL and data.get("customer_id"):
            _seen_at_till(uow, str(data["customer_id"]), event.occurred_at)
    elif event.type == "orders.order.status_changed":
        fulfilment.order_status_changed(session, event)
    elif event.type.startswith("orders.group."):
        fulfilment.group_changed(session, event)


def on_till_sale(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    sold_at = as_utc(datetime.fromisoformat(str(data["sold_at"])))
    customer_id = str(data["customer_id"]) if data.get("customer_id") else None
    channel = str(data.get("channel") or identity.TILL_CHANNEL)
    count_sale(
        uow.session,
        Sale(
            ref=f"till:{data['till_sale_id']}",
            channel=channel,
            store_id=str(data.get("store_id") or NO_STORE),
            customer_id=customer_id,
            identified=bool(data.get("identified")) or customer_id is not None,
            currency=str(data["currency"]),
            total_minor=int(data["total_minor"]),
            at=sold_at,
        ),
    )
    if customer_id:
        _seen_at_till(uow, customer_id, sold_at)


def _seen_at_till(uow: UnitOfWork, customer_id: str, at: datetime) -> None:
    identity.add_flags(uow.session, customer_id, {"till"}, channel=identity.TILL_CHANNEL, at=at)


def on_cart_event(uow: UnitOfWork, event: StoredEvent) -> None:
    fulfilment.cart_touched(uow.session, event)


def on_return_received(uow: UnitOfWork, event: StoredEvent) -> None:
    fulfilment.return_received(uow.session, event)


def on_customer_event(uow: UnitOfWork, event: StoredEvent) -> None:
    session = uow.session
    if event.type == "customers.profile.created":
        identity.profile_created(session, event)
    elif event.type == "customers.identifier.linked":
        identity.identifier_linked(session, event)
    elif event.type == "customers.profile.merged":
        identity.profile_merged(session, event)
    elif event.type == "customers.attributes.changed":
        identity.attributes_changed(session, event)
    elif event.type == "customers.activity.recorded":
        _session_started(uow, event)


def _session_started(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if data.get("kind") != "session" or data.get("action") != "started":
        return
    if not claim(uow.session, f"session:{data.get('activity_id') or event.id}"):
        return
    started = data.get("occurred_at")
    at = as_utc(datetime.fromisoformat(started)) if isinstance(started, str) else None
    bump(
        uow.session,
        "session",
        day_of(at or event.occurred_at),
        channel=str(data.get("channel") or "unknown"),
        store_id=data.get("store_id"),
    )


def on_csat(uow: UnitOfWork, event: StoredEvent) -> None:
    data = event.data
    if not claim(uow.session, f"csat:{event.id}"):
        return
    score = int(data["score"])
    day = day_of(event.occurred_at)
    where: Where = {
        "channel": str(data.get("channel") or "unknown"),
        "store_id": data.get("store_id"),
    }
    bump(uow.session, "csat", day, **where, total=score)
    if score >= 4:
        bump(uow.session, "csat.satisfied", day, **where)
    if score == 5:
        bump(uow.session, "csat.promoter", day, **where)
    if score <= 3:
        bump(uow.session, "csat.detractor", day, **where)


HANDLERS = {
    "orders.order.placed": on_order_event,
    "orders.order.status_changed": on_order_event,
    TILL_SALE: on_till_sale,
    "returns.return.received": on_return_received,
    "customers.profile.created": on_customer_event,
    "customers.identifier.linked": on_customer_event,
    "customers.profile.merged": on_customer_event,
    "customers.attributes.changed": on_customer_event,
    "customers.activity.recorded": on_customer_event,
    "tickets.csat.recorded": on_csat,
}


def on_event(uow: UnitOfWork, event: StoredEvent) -> None:
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(uow, event)
    elif event.type.startswith("orders.group."):
        on_order_event(uow, event)
    elif event.type.startswith("carts."):
        on_cart_event(uow, event)


CONSUMERS: list[Consumer] = [
    Consumer("analytics.kpis", (*HANDLERS, "orders.group.*", "carts.*"), on_event),
]
