"""Pricing tables: overrides, prices channels report charging, and the audit's open flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class PriceOverrideRow(Base):
    """A price for a SKU in a scope (channel, store, territory or a combination) and a window.

    ``reason`` and ``owner`` are null only for an override imported from a legacy system
    without a justification (``source`` = ``import``): it applies, and the audit flags it.
    """

    __tablename__ = "price_overrides"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str | None] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))
    territory: Mapped[str | None] = mapped_column(String(40))
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(String(40))
    owner: Mapped[str | None] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(20))  # api | import
    created_by: Mapped[str | None] = mapped_column(String(40))  # API key id
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_price_overrides_sku_currency", "sku", "currency", "valid_from"),
        Index("ix_price_overrides_currency_until", "currency", "valid_until"),
    )


class PriceObservationRow(Base):
    """A price a channel reports it charged (a till's sale line, a shelf label, a listing)."""

    __tablename__ = "price_observations"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(String(40))
    observed_at: Mapped[datetime]
    reference: Mapped[str | None] = mapped_column(String(120))  # the till's receipt or line
    reported_by: Mapped[str | None] = mapped_column(String(40))  # API key id
    recorded_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_price_observations_context", "sku", "currency", "channel", "store_id"),
        Index("ix_price_observations_observed_at", "observed_at"),
    )


class PricingFlagRow(Base):
    """An unjustified difference the audit has reported (``pricing.difference.unjustified``);
    kept so the next run stays silent until the difference changes or clears."""

    __tablename__ = "pricing_flags"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    signature: Mapped[str] = mapped_column(String(200))
    flagged_at: Mapped[datetime]
    cleared_at: Mapped[datetime | None]
