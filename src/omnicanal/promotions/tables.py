from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class PromotionRow(Base):
    """A promotion: conditions + actions (JSON, checked by ``model.check_promotion``), its place
    in the stacking order, and its counters (consumed by conditional UPDATEs at redemption)."""

    __tablename__ = "promotions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | paused | archived
    store_id: Mapped[str | None] = mapped_column(String(40), index=True)  # a store's own promotion
    currency: Mapped[str | None] = mapped_column(String(3))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    exclusive: Mapped[bool] = mapped_column(default=False)
    stackable: Mapped[bool] = mapped_column(default=True)
    coupon_code: Mapped[str | None] = mapped_column(String(64), index=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    conditions: Mapped[dict[str, Any]]
    actions: Mapped[dict[str, Any]]  # {"items": [...]}
    max_redemptions: Mapped[int | None] = mapped_column(Integer)
    max_per_customer: Mapped[int | None] = mapped_column(Integer)
    budget_minor: Mapped[int | None] = mapped_column(BigInteger)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    spent_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_promotions_status_priority", "status", "priority"),)


class RedemptionRow(Base):
    """One promotion used by one order; ``released`` when the order is cancelled."""

    __tablename__ = "promotion_redemptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    promotion_id: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    bonus_points: Mapped[int] = mapped_column(Integer, default=0)
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="recorded")  # recorded | released
    created_at: Mapped[datetime]
    released_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("promotion_id", "order_id", name="uq_promotion_redemptions_order"),
        Index("ix_promotion_redemptions_customer", "promotion_id", "customer_id", "status"),
    )
