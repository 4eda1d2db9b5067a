"""Loyalty tables: accounts, the append-only points ledger (earns are lots), which lots each
debit took, redemptions, and every completed purchase (identified or anonymous) for the KPIs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class LoyaltyAccountRow(Base):
    """One per customer profile. ``balance`` is the sum of the account's movements, kept on the
    row so a burn checks and debits it under the row lock; ``merged`` accounts point at the
    survivor's; ``erased`` ones lost their profile id."""

    __tablename__ = "loyalty_accounts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active|merged|erased
    merged_into: Mapped[str | None] = mapped_column(String(40))
    balance: Mapped[int] = mapped_column(BigInteger, default=0)
    tier: Mapped[str] = mapped_column(String(10), default="basic")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    tier_since: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("balance >= 0", name="balance_not_negative"),
        CheckConstraint("status IN ('active', 'merged', 'erased')", name="status"),
    )


class LoyaltyMovementRow(Base):
    """One ledger movement, never deleted. ``points`` is signed (earn +, burn/expire -, reverse
    and adjust either). An earn is a lot: ``remaining`` counts down as debits take from it.
    ``dedup_key`` makes a retried earn, burn or reversal a replay of the first one."""

    __tablename__ = "loyalty_movements"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("loyalty_accounts.id"))
    origin_account_id: Mapped[str] = mapped_column(String(40))  # before any merge: lineage
    kind: Mapped[str] = mapped_column(String(10))
    points: Mapped[int] = mapped_column(BigInteger)
    ref_type: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(40))
    remaining: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime | None]
    dedup_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    detail: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]

    __table_args__ = (
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        Index("ix_loyalty_movements_account", "account_id", "created_at", "id"),
        Index("ix_loyalty_movements_ref", "ref_type", "ref_id"),
        Index("ix_loyalty_movements_lots", "account_id", "remaining", "expires_at"),
        Index("ix_loyalty_movements_expiry", "expires_at", "remaining"),
    )


class LoyaltyLotUseRow(Base):
    """Which lots a debit (burn, reverse, expire, adjust) took, so a refund puts them back."""

    __tablename__ = "loyalty_lot_uses"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    movement_id: Mapped[str] = mapped_column(ForeignKey("loyalty_movements.id"), index=True)
    lot_id: Mapped[str] = mapped_column(ForeignKey("loyalty_movements.id"), index=True)
    points: Mapped[int] = mapped_column(BigInteger)


class LoyaltyRedemptionRow(Base):
    """Points spent as a payment (or a reward); the channel records ``id`` on its order as a
    payment reference with provider ``loyalty``, which links the two."""

    __tablename__ = "loyalty_redemptions"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("loyalty_accounts.id"), index=True)
    movement_id: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(10))  # payment | reward
    reward: Mapped[str | None] = mapped_column(String(100))
    points: Mapped[int] = mapped_column(BigInteger)
    value_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(40))
    order_id: Mapped[str | None] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | refunded
    created_at: Mapped[datetime]
    refunded_at: Mapped[datetime | None]


class LoyaltyPurchaseRow(Base):
    """Every completed purchase, identified or not (orders and till syncs): the identification
    rate and the baskets of identified vs anonymous customers; the rolling spend of tiers."""

    __tablename__ = "loyalty_purchases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    ref_type: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[str] = mapped_column(String(100))
    store_id: Mapped[str | None] = mapped_column(String(40))
    identified: Mapped[bool]
    customer_id: Mapped[str | None] = mapped_column(String(40))
    account_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    earn_movement_id: Mapped[str | None] = mapped_column(String(40))
    points_earned: Mapped[int] = mapped_column(BigInteger, default=0)
    occurred_at: Mapped[datetime]
    recorded_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("channel", "ref_type", "ref_id"),
        Index("ix_loyalty_purchases_channel_occurred", "channel", "occurred_at"),
        Index("ix_loyalty_purchases_account_occurred", "account_id", "occurred_at"),
    )


class LoyaltyRefundRow(Base):
    """A return (or refund) already applied: a redelivered return event changes nothing."""

    __tablename__ = "loyalty_refunds"

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    ref_type: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[str] = mapped_column(String(100))
    purchase_id: Mapped[str] = mapped_column(String(40))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    points_reversed: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("ref_type", "ref_id"),)
