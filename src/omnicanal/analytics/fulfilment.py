"""Orders, their fulfilment groups, carts and returns into the rollups.

Payloads read (see docs/kpis.md):

- ``orders.order.placed``: order_id, channel, store_id, customer_id, currency, total_minor,
  cart_id, groups[] (group_id, method, location_id, status); the event's time is placement.
- ``orders.order.status_changed``: order_id, status (``cancelled`` takes the sale back).
- ``orders.group.<status>``: group_id, order_id, method, location_id; ``promised_by`` when the
  payload has it, else the promise read from the orders tables.
- ``carts.*``: cart_id, channel; ``carts.cart.merged``: absorbed_cart_id.
- ``returns.return.received``: return_id, order_id, order_channel, channel, store_id,
  resolution, refund_minor, currency.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.analytics.definitions import ONLINE_CHANNELS
from omnicanal.analytics.model import day_of
from omnicanal.analytics.rollup import Where, bump
from omnicanal.analytics.sales import Sale, claim, count_sale, uncount_sale
from omnicanal.analytics.tables import NO_STORE, CartFactRow, GroupFactRow, OrderFactRow
from omnicanal.events.model import StoredEvent
from omnicanal.orders.model import PICKUP_METHODS
from omnicanal.shared.clock import as_utc

PICKUP = frozenset(m.value for m in PICKUP_METHODS)


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return str(value) if value not in (None, "") else None


def _when(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return as_utc(value)
    if isinstance(value, str) and value:
        return as_utc(datetime.fromisoformat(value))
    return None


def _seconds(later: datetime, earlier: datetime) -> int:
    return max(0, round((later - earlier).total_seconds()))


def _sale_of(order: OrderFactRow) -> Sale:
    return Sale(
        ref=f"order:{order.order_id}",
        channel=order.channel,
        store_id=order.store_id,
        customer_id=order.customer_id,
        identified=order.customer_id is not None,
        currency=order.currency,
        total_minor=order.total_minor,
        at=order.placed_at,
    )


def order_placed(session: Session, event: StoredEvent) -> None:
    data = event.data
    order_id = str(data["order_id"])
    if session.get(OrderFactRow, order_id) is not None:
        return
    groups = [g for g in data.get("groups") or [] if isinstance(g, dict)]
    pickup_stores = [
        str(g.get("location_id"))
        for g in groups
        if g.get("method") in PICKUP and g.get("location_id")
    ]
    order = OrderFactRow(
        order_id=order_id,
        channel=str(data.get("channel") or "unknown"),
        store_id=_text(data, "store_id") or NO_STORE,
        customer_id=_text(data, "customer_id"),
        currency=str(data["currency"]),
        total_minor=int(data.get("total_minor") or 0),
        placed_at=event.occurred_at,
        pickup=any(g.get("method") in PICKUP for g in groups),
        cancelled=False,
    )
    session.add(order)
    for g in groups:
        if session.get(GroupFactRow, str(g["group_id"])) is None:
            session.add(
                GroupFactRow(
                    group_id=str(g["group_id"]),
                    order_id=order_id,
                    method=str(g.get("method") or ""),
                    location_id=_text(g, "location_id") or NO_STORE,
                    ready_at=None,
                    closed=False,
                )
            )
    session.flush()
    count_sale(session, _sale_of(order))
    day = day_of(order.placed_at)
    own: Where = {"channel": order.channel, "store_id": order.store_id}
    cart_id = _text(data, "cart_id")
    if cart_id:
        bump(session, "order.cart", day, **own)
        cart = session.get(CartFactRow, cart_id)
        if cart is not None and any(c != order.channel for c in cart.channels):
            bump(session, "order.cart_cross_channel", day, **own)
    if order.pickup:
        bump(session, "order.click_collect", day, channel=order.channel, store_id=pickup_stores[0])
    for g in groups:
        where: Where = {"channel": order.channel, "store_id": _text(g, "location_id")}
        bump(session, "group.placed", day, **where)
        if g.get("status") == "backordered":
            bump(session, "group.backordered", day, **where)


def order_status_changed(session: Session, event: StoredEvent) -> None:
    if event.data.get("status") != "cancelled":
        return
    order = session.get(OrderFactRow, str(event.data["order_id"]))
    if order is None or order.cancelled:
        return
    order.cancelled = True
    uncount_sale(session, _sale_of(order))


def _group(session: Session, data: dict[str, Any]) -> GroupFactRow | None:
    group = session.get(GroupFactRow, str(data["group_id"]))
    if group is None:  # a group made after placement (a re-route): known from its event
        if session.get(OrderFactRow, str(data["order_id"])) is None:
            return None
        group = GroupFactRow(
            group_id=str(data["group_id"]),
            order_id=str(data["order_id"]),
            method=str(data.get("method") or ""),
            location_id=_text(data, "location_id") or NO_STORE,
            ready_at=None,
            closed=False,
        )
        session.add(group)
        session.flush()
    elif group.location_id == NO_STORE and _text(data, "location_id"):
        group.location_id = str(data["location_id"])  # a backorder allocated since
    return group


def _promised_by(session: Session, data: dict[str, Any], group_id: str) -> datetime | None:
    if "promised_by" in data:
        return _when(data["promised_by"])
    from omnicanal.orders.tables import FulfilmentGroupRow

    found = session.scalar(
        select(FulfilmentGroupRow.promised_by).where(FulfilmentGroupRow.id == group_id)
    )
    return as_utc(found) if found is not None else None


def group_changed(session: Session, event: StoredEvent) -> None:
    status = event.type.rsplit(".", 1)[-1]
    if status == "cancelled":
        found = session.get(GroupFactRow, str(event.data["group_id"]))
        if found is not None:
            found.closed = True
        return
    if status not in ("ready_for_pickup", "collected", "no_show", "declined", "delivered"):
        return
    group = _group(session, event.data)
    if group is None:
        return
    order = session.get_one(OrderFactRow, group.order_id)
    at = event.occurred_at
    where: Where = {"channel": order.channel, "store_id": group.location_id}
    if status == "ready_for_pickup":
        if group.ready_at is None:
            group.ready_at = at
            bump(session, "cc.ready", day_of(at), **where, total=_seconds(at, order.placed_at))
    elif not group.closed:
        group.closed = True
        _closed(session, event, status, group, order, where)


def _closed(
    session: Session,
    event: StoredEvent,
    status: str,
    group: GroupFactRow,
    order: OrderFactRow,
    where: Where,
) -> None:
    at = event.occurred_at
    day = day_of(at)
    if status == "collected":
        bump(session, "cc.collected", day, **where, total=_seconds(at, group.ready_at or at))
    elif status == "no_show":
        bump(session, "cc.no_show", day, **where)
    elif status == "declined":
        bump(session, "cc.declined", day, **where)
    else:
        bump(session, "delivery.delivered", day, **where, total=_seconds(at, order.placed_at))
        promised = _promised_by(session, event.data, group.group_id)
        if promised is not None:
            late = _seconds(at, promised)
            bump(session, "delivery.promised", day, **where, total=late)
            if at > promised:
                bump(session, "delivery.late", day, **where, total=late)


def cart_touched(session: Session, event: StoredEvent) -> None:
    data = event.data
    cart_id = _text(data, "cart_id")
    if cart_id is None:
        return
    cart = session.get(CartFactRow, cart_id)
    if cart is None:
        cart = CartFactRow(cart_id=cart_id, channels=[])
        session.add(cart)
    channels = set(cart.channels or [])
    channel = _text(data, "channel")
    if channel:
        channels.add(channel)
    absorbed_id = _text(data, "absorbed_cart_id")
    if absorbed_id:
        absorbed = session.get(CartFactRow, absorbed_id)
        if absorbed is not None:
            channels.update(absorbed.channels or [])
    if channels != set(cart.channels or []):
        cart.channels = sorted(channels)  # a new list: JSON columns track assignment
    session.flush()


def return_received(session: Session, event: StoredEvent) -> None:
    data = event.data
    if not claim(session, f"return:{data['return_id']}"):
        return
    day = day_of(event.occurred_at)
    order_channel = str(data.get("order_channel") or data.get("channel") or "unknown")
    where: Where = {"channel": order_channel, "store_id": _text(data, "store_id")}
    bump(
        session,
        "return",
        day,
        channel=order_channel,
        store_id=where.get("store_id"),
        currency=str(data.get("currency") or ""),
        total=int(data.get("refund_minor") or 0),
    )
    order = session.get(OrderFactRow, str(data["order_id"]))
    if order is not None and order.pickup:
        bump(session, "return.click_collect", day, **where)
    if order_channel in ONLINE_CHANNELS and data.get("channel") == "pos":
        bump(session, "return.online_to_store", day, **where)
    resolution = data.get("resolution")
    if resolution == "exchange":
        bump(session, "return.exchange", day, **where)
    elif resolution in ("refund", "store_credit"):
        bump(session, "return.refund", day, **where)
