"""Cart tables: carts, their lines (one per SKU) and handoff codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base

_OPEN = text("status = 'open'")


class CartRow(Base):
    """A cart bound to a profile (``profile_id``) or, until identification, to an anonymous
    token. At most one open cart per profile and currency, and per token and currency."""

    __tablename__ = "carts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    profile_id: Mapped[str | None] = mapped_column(ForeignKey("customer_profiles.id"))
    anonymous_token: Mapped[str | None] = mapped_column(String(128))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open|merged|abandoned|ordered
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("carts.id"))
    channel: Mapped[str] = mapped_column(String(20))  # the channel that opened it
    store_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))  # the till's store
    pickup_location_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)  # +1 on every change
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('open', 'merged', 'abandoned', 'ordered')", name="status"),
        CheckConstraint(
            "(status = 'merged') = (merged_into IS NOT NULL)", name="merged_has_target"
        ),
        Index(
            "uq_carts_open_profile_currency",
            "profile_id",
            "currency",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index(
            "uq_carts_open_token_currency",
            "anonymous_token",
            "currency",
            unique=True,
            sqlite_where=_OPEN,
            postgresql_where=_OPEN,
        ),
        Index("ix_carts_profile", "profile_id", "status"),
        Index("ix_carts_merged_into", "merged_into"),
    )


class CartLineRow(Base):
    """One SKU in a cart, with who put it there (channel, store, key) and any stock it holds."""

    __tablename__ = "cart_lines"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"))
    sku: Mapped[str] = mapped_column(ForeignKey("variants.sku"))
    quantity: Mapped[int] = mapped_column(Integer)
    # the price when first added: the cart is priced at today's price and says when it changed
    price_at_add_minor: Mapped[int | None] = mapped_column(BigInteger)
    added_channel: Mapped[str] = mapped_column(String(20))
    added_store_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))
    added_by: Mapped[str | None] = mapped_column(String(40))  # API key id
    added_at: Mapped[datetime]
    changed_channel: Mapped[str] = mapped_column(String(20))
    changed_store_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))
    updated_at: Mapped[datetime]
    # the inventory reservation this line holds (owner_type "cart", owner_id the cart id)
    reservation_id: Mapped[str | None] = mapped_column(String(40))
    reserved_location_id: Mapped[str | None] = mapped_column(String(40))
    reserved_quantity: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        UniqueConstraint("cart_id", "sku", name="uq_cart_lines_cart_sku"),
        CheckConstraint("quantity > 0", name="positive_quantity"),
        CheckConstraint("reserved_quantity >= 0", name="reserved_not_negative"),
    )


class CartHandoffRow(Base):
    """A short code sent from a till to the customer's phone to finish the cart there."""

    __tablename__ = "cart_handoffs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    cart_id: Mapped[str] = mapped_column(ForeignKey("carts.id"))
    status: Mapped[str] = mapped_column(String(12))  # pending | claimed | replaced
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str | None] = mapped_column(ForeignKey("locations.id"))
    created_by: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(128))  # profile id or session token
    claimed_channel: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'claimed', 'replaced')", name="status"),
        Index("ix_cart_handoffs_cart", "cart_id", "status"),
    )
