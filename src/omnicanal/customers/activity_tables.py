"""Customer read models kept by consumers: the cross-channel timeline, the purchase ledger that
feeds RFM attributes, the attributes themselves, segments and their members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class TimelineEntryRow(Base):
    """One thing a customer did or met in a channel: a session, a product view, a search, a
    cart change, an order, a return, a ticket, a message. Fed by events (``source_event_id``)
    or by the activity ingestion API. Entries of absorbed profiles are re-pointed to the
    survivor on a merge. ``seq`` orders entries of the same instant as they were recorded."""

    __tablename__ = "customer_timeline"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    profile_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(20))  # session | view | search | cart | order | …
    action: Mapped[str] = mapped_column(String(40))  # started | viewed | line_added | placed | …
    channel: Mapped[str | None] = mapped_column(String(30))
    store_id: Mapped[str | None] = mapped_column(String(40))
    session_id: Mapped[str | None] = mapped_column(String(100))
    ref: Mapped[str | None] = mapped_column(String(100))  # cart, order, ticket id; a SKU
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(10))  # event | api | import
    source_event_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    source_event_type: Mapped[str | None] = mapped_column(String(80))

    __table_args__ = (
        Index("ix_customer_timeline_profile", "profile_id", "occurred_at", "seq"),
        Index("ix_customer_timeline_kind", "kind", "occurred_at"),
        Index("ix_customer_timeline_session", "session_id"),
    )


class PurchaseLedgerRow(Base):
    """Every purchase and return counted in a profile's RFM attributes, in recording order.
    ``ref`` is unique per kind (an order id, or ``<channel>:<reference>`` for imported history),
    so a replayed event or a retried import never counts twice."""

    __tablename__ = "customer_purchases"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(10))  # purchase | return
    ref: Mapped[str] = mapped_column(String(120))
    order_ref: Mapped[str | None] = mapped_column(String(120))  # a return's order
    channel: Mapped[str] = mapped_column(String(30))
    store_id: Mapped[str | None] = mapped_column(String(40))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(80))  # the event type, or "import"
    cancelled_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("kind", "ref", name="uq_customer_purchases_kind_ref"),
        CheckConstraint("kind IN ('purchase', 'return')", name="purchase_kind"),
        CheckConstraint(
            "(amount_minor IS NULL) = (currency IS NULL)", name="purchase_amount_currency"
        ),
        Index("ix_customer_purchases_profile", "profile_id", "seq"),
    )


class CustomerAttributesRow(Base):
    """A profile's RFM attributes and scores, updated with each purchase or return. Money in
    integer minor units of ``currency``; ``next_review_at`` is when the passing of time alone
    changes a recency score or a segment's answer."""

    __tablename__ = "customer_attributes"

    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    frequency: Mapped[int] = mapped_column(Integer, default=0)
    first_purchase_at: Mapped[datetime | None]
    last_purchase_at: Mapped[datetime | None]
    currency: Mapped[str | None] = mapped_column(String(3))
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    return_count: Mapped[int] = mapped_column(Integer, default=0)
    channels: Mapped[list[str]] = mapped_column(JsonType, default=list)
    other_currencies: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    r_score: Mapped[int | None] = mapped_column(Integer)
    f_score: Mapped[int | None] = mapped_column(Integer)
    m_score: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[datetime]
    next_review_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_customer_attributes_review", "next_review_at"),)


class SegmentRow(Base):
    """A segment defined by a rule over attributes (``segments_model.parse_rule``)."""

    __tablename__ = "customer_segments"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str | None] = mapped_column(String(500))
    rule: Mapped[dict[str, Any]] = mapped_column(JsonType)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    computed_at: Mapped[datetime]


class SegmentMemberRow(Base):
    __tablename__ = "customer_segment_members"

    segment_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    entered_at: Mapped[datetime]

    __table_args__ = (Index("ix_customer_segment_members_profile", "profile_id"),)
