"""Recommendation tables: every basket bought on any channel (its SKUs), every returned SKU
per customer, and the version of the co-purchase data (bumped with each change so an
in-process model knows when it is stale)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class RecoBasketRow(Base):
    """One purchase: an order, a till sale or an imported history line. ``source`` and
    ``source_ref`` (the order id, the till's receipt id) make recording it again a no-op;
    ``customer_id`` is null for an anonymous basket. A cancelled order's basket is kept with
    ``active`` false so it no longer counts."""

    __tablename__ = "reco_baskets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    source: Mapped[str] = mapped_column(String(10))  # order | till | import
    source_ref: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(40))
    store_id: Mapped[str | None] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("source", "source_ref"),
        Index("ix_reco_baskets_customer_at", "customer_id", "at"),
    )


class RecoBasketItemRow(Base):
    """One SKU of a basket (quantities do not matter to co-purchase: bought or not)."""

    __tablename__ = "reco_basket_items"

    basket_id: Mapped[str] = mapped_column(
        ForeignKey("reco_baskets.id", ondelete="CASCADE"), primary_key=True
    )
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)


class RecoReturnRow(Base):
    """A SKU a customer returned: never offered to that customer again."""

    __tablename__ = "reco_returns"

    return_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(String(40), index=True)
    order_id: Mapped[str | None] = mapped_column(String(40))
    condition: Mapped[str | None] = mapped_column(String(20))
    at: Mapped[datetime]


class RecoVersionRow(Base):
    """One row: ``version`` counts changes to the baskets; ``stamp`` is a fresh id at each
    change, so a cache never mistakes a rebuilt (or emptied) database for the one it read."""

    __tablename__ = "reco_versions"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)
    stamp: Mapped[str] = mapped_column(String(40))
    updated_at: Mapped[datetime]
