"""Analytics read models and pilot flags.

``analytics_daily`` holds every KPI's inputs pre-aggregated per metric x UTC day x channel x
store x currency; the other ``analytics_*`` fact tables are the little state the consumers need
to date, attribute and de-duplicate what they add to it (an order's channel and time when its
group becomes ready, a customer's first purchase, a profile's identifiers).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType

NO_STORE = ""  # the store dimension of facts that have none (a web order, a merge)
NO_CURRENCY = ""


class DailyRollupRow(Base):
    __tablename__ = "analytics_daily"

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_analytics_daily_store_metric_day", "store_id", "metric", "day"),)


class MonthlyRollupRow(Base):
    """The same sums per calendar month (``month`` is its first day): a year is 12 rows per
    series instead of 365, so whole months inside a period are read from here."""

    __tablename__ = "analytics_monthly"

    metric: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    store_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    n: Mapped[int] = mapped_column(BigInteger, default=0)
    total: Mapped[int] = mapped_column(BigInteger, default=0)


class OrderFactRow(Base):
    """What later events about an order need: when, where, whose, how much, how collected."""

    __tablename__ = "analytics_orders"

    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    placed_at: Mapped[datetime]
    pickup: Mapped[bool] = mapped_column(Boolean)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)


class GroupFactRow(Base):
    __tablename__ = "analytics_groups"

    group_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40))
    method: Mapped[str] = mapped_column(String(30))
    location_id: Mapped[str] = mapped_column(String(40))
    ready_at: Mapped[datetime | None]
    closed: Mapped[bool] = mapped_column(Boolean, default=False)  # collected, delivered, ...


class CartFactRow(Base):
    """The channels a cart was touched on, to tell a cross-channel journey at order time."""

    __tablename__ = "analytics_carts"

    cart_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channels: Mapped[list[str]] = mapped_column(JsonType, default=list)


class CountedRow(Base):
    """A fact counted once (an order or till sale, a return, a CSAT answer, a merge), whatever
    redeliveries or replays say."""

    __tablename__ = "analytics_counted"

    ref: Mapped[str] = mapped_column(String(80), primary_key=True)  # order:ord_… | till:tsl_…


class CustomerFactRow(Base):
    """A customer's first identified purchase: acquisition (``customer.new``) is dated by it."""

    __tablename__ = "analytics_customers"

    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_purchase_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))


class CustomerMonthRow(Base):
    """A customer's first purchase of a month and where it was: retention's denominator."""

    __tablename__ = "analytics_customer_months"

    customer_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))


class ProfileFactRow(Base):
    """A profile's creation cohort and the identity flags currently counted for it."""

    __tablename__ = "analytics_profiles"

    profile_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]
    flags: Mapped[list[str]] = mapped_column(JsonType, default=list)
    merged_into: Mapped[str | None] = mapped_column(String(40))


class MarketingSpendRow(Base):
    __tablename__ = "analytics_marketing_spend"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    channel: Mapped[str] = mapped_column(String(20))
    store_id: Mapped[str] = mapped_column(String(40))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(String(300), default="")
    recorded_at: Mapped[datetime]


class PilotRow(Base):
    __tablename__ = "analytics_pilots"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    feature: Mapped[str] = mapped_column(String(80), index=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class PilotStoreRow(Base):
    __tablename__ = "analytics_pilot_stores"

    pilot_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("analytics_pilots.id", ondelete="CASCADE"), primary_key=True
    )
    store_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    role: Mapped[str] = mapped_column(String(10))  # pilot | control

    __table_args__ = (Index("ix_analytics_pilot_stores_store", "store_id", "role"),)
