"""Till sync records: every upload (batch), every sale recorded once by (store, till, sale id),
and the stock conflicts found when a till sold more than the store held."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType


class TillSyncBatchRow(Base):
    """One upload of a till's offline sales and what became of them (an audit trail)."""

    __tablename__ = "till_sync_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(40))
    till_id: Mapped[str] = mapped_column(String(30))
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    received: Mapped[int] = mapped_column(Integer)
    recorded: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime]

    __table_args__ = (Index("ix_till_sync_batches_till", "store_id", "till_id", "received_at"),)


class TillSaleRow(Base):
    """A till's sale, recorded once. ``fingerprint`` (a hash of the normalised sale) tells a
    resent sale (same body: a duplicate) from a different sale under a reused number."""

    __tablename__ = "till_sales"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(40))
    till_id: Mapped[str] = mapped_column(String(30))
    sale_id: Mapped[str] = mapped_column(String(36))
    fingerprint: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    sold_at: Mapped[datetime]
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    identified: Mapped[bool]
    customer_id: Mapped[str | None] = mapped_column(String(40))  # blanked at erasure
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)  # sku, quantity, unit_price
    payments: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)  # provider, reference
    short_units: Mapped[int] = mapped_column(Integer, default=0)
    loyalty_purchase_id: Mapped[str | None] = mapped_column(String(40))
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    api_key_id: Mapped[str | None] = mapped_column(String(40))
    recorded_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("store_id", "till_id", "sale_id"),
        Index("ix_till_sales_store_sold", "store_id", "sold_at"),
        Index("ix_till_sales_customer", "customer_id"),
    )


class TillStockConflictRow(Base):
    """A till sold ``sold`` units of a SKU, the store held only ``sold - short_by``: what it held
    was taken off stock (never below zero), the rest waits here for a count or a late receipt."""

    __tablename__ = "till_stock_conflicts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    till_sale_id: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str] = mapped_column(String(40))
    till_id: Mapped[str] = mapped_column(String(30))
    sale_id: Mapped[str] = mapped_column(String(36))
    sku: Mapped[str] = mapped_column(String(64))
    sold: Mapped[int] = mapped_column(Integer)
    short_by: Mapped[int] = mapped_column(Integer)
    sold_at: Mapped[datetime]
    created_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(String(500))
    resolved_by: Mapped[str | None] = mapped_column(String(40))

    __table_args__ = (
        CheckConstraint("short_by > 0 AND short_by <= sold", name="short_within_sold"),
        Index("ix_till_stock_conflicts_store", "store_id", "resolved_at", "created_at", "id"),
    )
