"""Order tables: orders, their fulfilment groups and lines, payments, the routing settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType


class OrderRow(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(40))  # the store that sold it (pos)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    external_ref: Mapped[str | None] = mapped_column(String(100))  # the channel's own number
    cart_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    subtotal_minor: Mapped[int] = mapped_column(BigInteger)
    total_minor: Mapped[int] = mapped_column(BigInteger)  # subtotal - discount
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    bonus_points: Mapped[int] = mapped_column(Integer, default=0)  # from promotions, for loyalty
    promotions: Mapped[list[dict[str, Any]]] = mapped_column(JsonType, default=list)
    status: Mapped[str] = mapped_column(String(20))  # derived from the groups, kept for queries
    status_partial: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[str] = mapped_column(String(5), default="en")
    # personal data (blanked by erasure)
    contact: Mapped[dict[str, Any]]  # {"email", "phone", "name"} for guests and messages
    shipping_address: Mapped[dict[str, Any] | None]
    routing: Mapped[dict[str, Any]]  # figures: brokered, split, first_rule, groups
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("channel", "external_ref"),
        Index("ix_orders_status_created", "status", "created_at"),
        Index("ix_orders_channel_created", "channel", "created_at"),
    )


class FulfilmentGroupRow(Base):
    """The units of an order that leave one location by one method; one state machine."""

    __tablename__ = "fulfilment_groups"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    location_id: Mapped[str | None] = mapped_column(String(40))  # the location serving it
    relay_point_id: Mapped[str | None] = mapped_column(String(40))
    allocated_on: Mapped[str | None] = mapped_column(String(10))  # yyyy-mm-dd, for capacity
    pickup_code: Mapped[str | None] = mapped_column(String(12))
    code_attempts: Mapped[int] = mapped_column(Integer, default=0)
    promised_by: Mapped[datetime | None]
    ready_at: Mapped[datetime | None]
    shipped_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]  # collected / delivered / cancelled / no-show
    no_show_at: Mapped[datetime | None]  # when an uncollected pickup is released
    carrier: Mapped[str | None] = mapped_column(String(60))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    routing: Mapped[dict[str, Any]]  # the decision: candidates, scores, why the winner
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_fulfilment_groups_location_status", "location_id", "status"),
        Index("ix_fulfilment_groups_capacity", "location_id", "allocated_on"),
        Index("ix_fulfilment_groups_no_show", "status", "no_show_at"),
    )


class OrderLineRow(Base):
    __tablename__ = "order_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    group_id: Mapped[str] = mapped_column(ForeignKey("fulfilment_groups.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer)
    quantity_cancelled: Mapped[int] = mapped_column(Integer, default=0)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    discount_minor: Mapped[int] = mapped_column(BigInteger, default=0)  # its promotions' share
    reservation_id: Mapped[str | None] = mapped_column(String(40))


class OrderPaymentRow(Base):
    """A payment as the PSP knows it: references only, never card data."""

    __tablename__ = "order_payments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # authorised | captured | refunded | voided
    provider: Mapped[str] = mapped_column(String(60))
    reference: Mapped[str] = mapped_column(String(200))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("order_id", "kind", "reference"),)


class RoutingConfigRow(Base):
    """The retailer's routing settings: one row, replaced as a whole, versioned."""

    __tablename__ = "routing_config"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    settings: Mapped[dict[str, Any]]
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime]
