"""Scheduling messages (what triggers do) and back-in-stock subscriptions.

A trigger writes a ``scheduled`` row naming what the message is about (order, group, cart,
SKU, promotion) and when it may go; it copies no state. ``sender.send_due`` decides at send time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, exists, or_, select

from omnicanal.carts.tables import CartLineRow, CartRow
from omnicanal.customers.service import resolve_live
from omnicanal.inventory.service import require_skus
from omnicanal.locations.tables import LocationRow
from omnicanal.notifications.model import PURPOSE, Channel, Status, Template
from omnicanal.notifications.tables import (
    BackInStockSubscriptionRow,
    NotificationMessageRow,
    NotificationReturnedItemRow,
)
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.geo import haversine_km
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

MAX_RADIUS_KM = 200.0
ABANDONED_LOOKBACK = timedelta(days=7)  # older carts are not chased


def dedupe_key(template: Template, subject_id: str, recipient_key: str, channel: Channel) -> str:
    return f"{template.value}:{subject_id}:{recipient_key}:{channel.value}"


def schedule(
    uow: UnitOfWork,
    *,
    template: Template,
    channel: Channel,
    subject_id: str,
    customer_id: str | None = None,
    order_id: str | None = None,
    group_id: str | None = None,
    data: dict[str, Any] | None = None,
    locale: str | None = None,
    not_before: datetime | None = None,
    trigger: str | None = None,
) -> NotificationMessageRow | None:
    """A message to decide at ``not_before`` (now by default). None when the same message is
    already waiting (a trigger seen twice schedules once)."""
    key = dedupe_key(template, subject_id, customer_id or order_id or "-", channel)
    waiting = uow.session.scalar(
        select(NotificationMessageRow.id).where(
            NotificationMessageRow.dedupe_key == key,
            NotificationMessageRow.status == Status.SCHEDULED.value,
        )
    )
    if waiting is not None:
        return None
    now = uow.now()
    row = NotificationMessageRow(
        id=new_id("msg"),
        customer_id=customer_id,
        order_id=order_id,
        group_id=group_id,
        channel=channel.value,
        purpose=PURPOSE[template].value,
        template=template.value,
        subject_id=subject_id,
        dedupe_key=key,
        data=data or {},
        status=Status.SCHEDULED.value,
        not_before=not_before or now,
        attempts=0,
        locale=locale,
        trigger=trigger,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    return row


# ---------------------------------------------------------------------------------------------
# Triggers
# ---------------------------------------------------------------------------------------------

GROUP_TEMPLATES: dict[str, Template] = {
    "ready_for_pickup": Template.READY_FOR_PICKUP,
    "shipped": Template.SHIPPED,
    "delivered": Template.DELIVERED,
    "collected": Template.COLLECTED,
    "cancelled": Template.CANCELLED,
}


def order_placed(uow: UnitOfWork, *, order_id: str, customer_id: str | None, trigger: str) -> None:
    schedule(
        uow,
        template=Template.ORDER_PLACED,
        channel=Channel.EMAIL,
        subject_id=order_id,
        customer_id=customer_id,
        order_id=order_id,
        trigger=trigger,
    )


def group_changed(
    uow: UnitOfWork,
    *,
    order_id: str,
    group_id: str,
    status: str,
    customer_id: str | None,
    at: datetime,
    review_delay: timedelta,
    trigger: str,
) -> None:
    """Ready, shipped, delivered, collected, cancelled: an email (and an SMS for "ready" when
    the order gave a phone); delivered or collected also schedules the review request."""
    template = GROUP_TEMPLATES.get(status)
    if template is None:
        return
    order = uow.session.get(OrderRow, order_id)
    channels = [Channel.EMAIL]
    if template is Template.READY_FOR_PICKUP and order is not None and order.contact.get("phone"):
        channels.append(Channel.SMS)
    for channel in channels:
        schedule(
            uow,
            template=template,
            channel=channel,
            subject_id=group_id,
            customer_id=customer_id,
            order_id=order_id,
            group_id=group_id,
            trigger=trigger,
        )
    if template in (Template.DELIVERED, Template.COLLECTED) and customer_id:
        schedule(
            uow,
            template=Template.REVIEW_REQUEST,
            channel=Channel.EMAIL,
            subject_id=group_id,
            customer_id=customer_id,
            order_id=order_id,
            group_id=group_id,
            not_before=at + review_delay,
            trigger=trigger,
        )


def return_received(uow: UnitOfWork, data: dict[str, Any], *, trigger: str) -> None:
    """Keeps what was returned (for the rules) and tells the customer the return arrived."""
    return_id = str(data.get("return_id") or "")
    order_id = _opt(data.get("order_id"))
    customer_id = _opt(data.get("customer_id")) or _opt(data.get("profile_id"))
    if not return_id:
        return
    for line in data.get("lines") or []:
        if not isinstance(line, dict) or not line.get("sku"):
            continue
        uow.session.add(
            NotificationReturnedItemRow(
                return_id=return_id,
                order_id=order_id,
                customer_id=customer_id,
                sku=str(line["sku"]),
                quantity=int(line.get("quantity") or 1),
                returned_at=uow.now(),
            )
        )
    if order_id is None and customer_id is None:
        return
    schedule(
        uow,
        template=Template.RETURN_RECEIVED,
        channel=Channel.EMAIL,
        subject_id=return_id,
        customer_id=customer_id,
        order_id=order_id,
        data={
            "return_id": return_id,
            "refund_minor": data.get("refund_minor"),
            "currency": data.get("currency"),
        },
        trigger=trigger,
    )


def refund_issued(uow: UnitOfWork, data: dict[str, Any], *, trigger: str) -> None:
    return_id = str(data.get("return_id") or "")
    order_id = _opt(data.get("order_id"))
    customer_id = _opt(data.get("customer_id")) or _opt(data.get("profile_id"))
    if not return_id or (order_id is None and customer_id is None):
        return
    schedule(
        uow,
        template=Template.REFUND_ISSUED,
        channel=Channel.EMAIL,
        subject_id=return_id,
        customer_id=customer_id,
        order_id=order_id,
        data={
            "return_id": return_id,
            "amount": data.get("amount"),
            "amount_minor": data.get("amount_minor"),
            "currency": data.get("currency"),
        },
        trigger=trigger,
    )


def back_in_stock(uow: UnitOfWork, *, sku: str, location_id: str, trigger: str) -> int:
    """Fulfils the active subscriptions for ``sku`` whose circle holds the store."""
    location = uow.session.get(LocationRow, location_id)
    if location is None or location.kind != "store":
        return 0
    subs = uow.session.scalars(
        select(BackInStockSubscriptionRow)
        .where(BackInStockSubscriptionRow.sku == sku, BackInStockSubscriptionRow.status == "active")
        .order_by(BackInStockSubscriptionRow.id)
    ).all()
    done = 0
    for sub in subs:
        km = haversine_km(sub.latitude, sub.longitude, location.latitude, location.longitude)
        if km > sub.radius_km:
            continue
        row = schedule(
            uow,
            template=Template.BACK_IN_STOCK,
            channel=Channel(sub.channel),
            subject_id=f"{sku}@{location_id}",
            customer_id=sub.customer_id,
            data={"sku": sku, "location_id": location_id, "distance_km": round(km, 1)},
            trigger=trigger,
        )
        sub.status = "fulfilled"
        sub.location_id = location_id
        sub.message_id = row.id if row else None
        sub.fulfilled_at = uow.now()
        done += 1
    return done


def local_promotion(
    uow: UnitOfWork, *, promotion_id: str, store_id: str, name: str, trigger: str
) -> int:
    """A store's own promotion, to the customers who bought at that store (consent is checked
    at send time, like every marketing message)."""
    sold_there = or_(
        OrderRow.store_id == store_id,
        exists().where(
            FulfilmentGroupRow.order_id == OrderRow.id,
            FulfilmentGroupRow.location_id == store_id,
        ),
    )
    customers = uow.session.scalars(
        select(distinct(OrderRow.customer_id))
        .where(OrderRow.customer_id.is_not(None), sold_there)
        .limit(5000)
    ).all()
    for customer_id in customers:
        schedule(
            uow,
            template=Template.LOCAL_PROMOTION,
            channel=Channel.EMAIL,
            subject_id=promotion_id,
            customer_id=customer_id,
            data={"promotion_id": promotion_id, "store_id": store_id, "name": name},
            trigger=trigger,
        )
    return len(customers)


def schedule_abandoned_carts(
    db: Database,
    *,
    now: datetime | None = None,
    idle: timedelta = timedelta(hours=24),
    limit: int = 500,
) -> int:
    """The periodic check: each open cart of a known customer untouched for ``idle`` gets one
    reminder per version of the cart (marketing: consent and caps at send time)."""
    with db.uow() as uow:
        at = now or uow.now()
        carts = uow.session.execute(
            select(CartRow.id, CartRow.profile_id, CartRow.version)
            .where(
                CartRow.status == "open",
                CartRow.profile_id.is_not(None),
                CartRow.updated_at <= at - idle,
                CartRow.updated_at > at - idle - ABANDONED_LOOKBACK,
                exists().where(CartLineRow.cart_id == CartRow.id),
            )
            .order_by(CartRow.updated_at, CartRow.id)
            .limit(limit)
        ).all()
        scheduled = 0
        for cart_id, profile_id, version in carts:
            subject = f"{cart_id}@{version}"
            key = dedupe_key(Template.ABANDONED_CART, subject, str(profile_id), Channel.EMAIL)
            seen = uow.session.scalar(
                select(NotificationMessageRow.id).where(NotificationMessageRow.dedupe_key == key)
            )
            if seen is not None:
                continue
            schedule(
                uow,
                template=Template.ABANDONED_CART,
                channel=Channel.EMAIL,
                subject_id=subject,
                customer_id=str(profile_id),
                data={"cart_id": cart_id, "version": version},
                not_before=at,
                trigger="notifications.abandoned-cart-check",
            )
            scheduled += 1
        return scheduled


# ---------------------------------------------------------------------------------------------
# Back-in-stock subscriptions
# ---------------------------------------------------------------------------------------------


def subscribe_back_in_stock(
    uow: UnitOfWork,
    *,
    customer_id: str,
    sku: str,
    latitude: float,
    longitude: float,
    radius_km: float,
    channel: Channel = Channel.EMAIL,
) -> BackInStockSubscriptionRow:
    if not 0 < radius_km <= MAX_RADIUS_KM:
        raise InvalidInput(
            f"radius_km must be above 0 and at most {MAX_RADIUS_KM:g} km.", field="near.radius_km"
        )
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput(
            "near.lat must be in [-90, 90] and near.lon in [-180, 180].", field="near"
        )
    profile = resolve_live(uow.session, customer_id)
    require_skus(uow.session, [sku])
    existing = uow.session.scalar(
        select(BackInStockSubscriptionRow).where(
            BackInStockSubscriptionRow.customer_id == profile.id,
            BackInStockSubscriptionRow.sku == sku,
            BackInStockSubscriptionRow.status == "active",
        )
    )
    if existing is not None:  # one circle per customer and SKU: the latest wins
        existing.latitude, existing.longitude, existing.radius_km = latitude, longitude, radius_km
        existing.channel = channel.value
        return existing
    row = BackInStockSubscriptionRow(
        id=new_id("sub"),
        customer_id=profile.id,
        sku=sku,
        latitude=latitude,
        longitude=longitude,
        radius_km=radius_km,
        channel=channel.value,
        status="active",
        created_at=uow.now(),
    )
    uow.session.add(row)
    return row


def _opt(value: Any) -> str | None:
    return None if value in (None, "") else str(value)
