from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base


class ProductRow(Base):
    __tablename__ = "products"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # the retailer's own product reference (style/model number); CSV rows sharing it form one
    # product. Optional: exports fall back to the id.
    ref: Mapped[str | None] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_lower: Mapped[str] = mapped_column(String(300), index=True)  # for server-side search
    description: Mapped[str] = mapped_column(Text, default="")
    brand: Mapped[str | None] = mapped_column(String(120))
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    attributes: Mapped[dict[str, Any]]
    images: Mapped[list[str]] = mapped_column(JSON)
    # omnichannel | store_only | online_only
    assortment: Mapped[str] = mapped_column(String(20), default="omnichannel")
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | archived
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class VariantRow(Base):
    """A sellable unit. Its SKU is the one identifier every channel uses."""

    __tablename__ = "variants"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    product_id: Mapped[str] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    gtin: Mapped[str | None] = mapped_column(String(14), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_lower: Mapped[str] = mapped_column(String(300), index=True)
    attributes: Mapped[dict[str, Any]]
    images: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | archived
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class BasePriceRow(Base):
    """The base price of a SKU in a currency, in minor units (cents)."""

    __tablename__ = "base_prices"

    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]

    __table_args__ = (Index("ix_base_prices_currency", "currency"),)
