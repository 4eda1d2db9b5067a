"""Notification tables: messages (scheduled → sent | suppressed | failed, the delivery log),
back-in-stock subscriptions, and the returned items the suppression rules need."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType


class NotificationMessageRow(Base):
    """One message. Triggers write it ``scheduled`` with the ids it is about (never a copy of
    the order's state); the sender re-reads that state at send time. ``recipient`` and the
    rendered ``title`` are written when it goes out (personal data: erased with the profile)."""

    __tablename__ = "notification_messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(40))  # None: a guest order's contact
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    group_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(10))  # email | sms | push
    purpose: Mapped[str] = mapped_column(String(15))  # transactional | marketing
    template: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(60))  # what it is about: group, cart, sku…
    dedupe_key: Mapped[str] = mapped_column(String(200))
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")
    reason: Mapped[str | None] = mapped_column(String(200))
    not_before: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str | None] = mapped_column(String(5))
    recipient: Mapped[str | None] = mapped_column(String(320))
    title: Mapped[str | None] = mapped_column(String(300))
    provider: Mapped[str | None] = mapped_column(String(40))
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str | None] = mapped_column(Text)
    trigger: Mapped[str | None] = mapped_column(String(80))  # the event type that scheduled it
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_notification_messages_due", "status", "not_before"),
        Index("ix_notification_messages_customer", "customer_id", "id"),
        Index("ix_notification_messages_dedupe", "dedupe_key", "status"),
        Index("ix_notification_messages_status", "status", "id"),
    )


class BackInStockSubscriptionRow(Base):
    """ "Tell me when SKU is back in a store near here": fulfilled once, by the first store within
    the radius that has it again."""

    __tablename__ = "notification_back_in_stock"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    radius_km: Mapped[float] = mapped_column(Float)
    channel: Mapped[str] = mapped_column(String(10), default="email")
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | fulfilled | erased
    location_id: Mapped[str | None] = mapped_column(String(40))  # the store that had it
    message_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    fulfilled_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_notification_back_in_stock_sku", "sku", "status"),)


class NotificationReturnedItemRow(Base):
    """Items returned, kept from ``returns.return.received`` so the rules can say "no review, no
    promotion for what was just returned" without depending on the returns tables."""

    __tablename__ = "notification_returned_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    return_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    returned_at: Mapped[datetime]
