"""Sales into the rollups: orders and till sales, identified or not, and what a customer's
purchases say about acquisition, frequency and retention."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.analytics.model import day_of, month_start, next_month, previous_month
from omnicanal.analytics.rollup import Where, bump
from omnicanal.analytics.tables import CountedRow, CustomerFactRow, CustomerMonthRow


def claim(session: Session, ref: str) -> bool:
    """True the first time ``ref`` is seen: the caller counts it; False ever after."""
    if session.get(CountedRow, ref) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(CountedRow(ref=ref))
            session.flush()
    except IntegrityError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Sale:
    ref: str  # order:ord_… or till:tsl_…
    channel: str
    store_id: str
    customer_id: str | None
    identified: bool
    currency: str
    total_minor: int
    at: datetime


def count_sale(session: Session, sale: Sale) -> bool:
    """Adds the sale to ``sale`` (and ``sale.identified``) on its day, once per reference, and
    to the customer's acquisition and monthly activity."""
    if not claim(session, f"sale:{sale.ref}"):
        return False
    day = day_of(sale.at)
    where: Where = {"channel": sale.channel, "store_id": sale.store_id, "currency": sale.currency}
    bump(session, "sale", day, **where, total=sale.total_minor)
    if sale.identified:
        bump(session, "sale.identified", day, **where, total=sale.total_minor)
    if sale.customer_id:
        _customer(session, sale)
    return True


def uncount_sale(session: Session, sale: Sale) -> None:
    """An order cancelled whole: taken back from the day it was counted on."""
    if not claim(session, f"unsale:{sale.ref}"):
        return
    day = day_of(sale.at)
    where: Where = {"channel": sale.channel, "store_id": sale.store_id, "currency": sale.currency}
    bump(session, "sale", day, **where, n=-1, total=-sale.total_minor)
    if sale.identified:
        bump(session, "sale.identified", day, **where, n=-1, total=-sale.total_minor)


def _customer(session: Session, sale: Sale) -> None:
    assert sale.customer_id is not None
    where: Where = {"channel": sale.channel, "store_id": sale.store_id, "currency": sale.currency}
    found = session.get(CustomerFactRow, sale.customer_id)
    if found is None:
        session.add(
            CustomerFactRow(customer_id=sale.customer_id, first_purchase_at=sale.at, **where)
        )
        session.flush()
        bump(session, "customer.new", day_of(sale.at), **where)
    elif sale.at < found.first_purchase_at:  # a till sale synced late was the first
        bump(
            session,
            "customer.new",
            day_of(found.first_purchase_at),
            channel=found.channel,
            store_id=found.store_id,
            currency=found.currency,
            n=-1,
        )
        found.first_purchase_at = sale.at
        found.channel, found.store_id, found.currency = sale.channel, sale.store_id, sale.currency
        bump(session, "customer.new", day_of(sale.at), **where)
    _month(session, sale)


def _month(session: Session, sale: Sale) -> None:
    """The customer's first purchase of the month makes them active this month, at risk next
    month, and retained this month if they were active last month (in whichever order late
    till syncs bring the months)."""
    assert sale.customer_id is not None
    month = month_start(day_of(sale.at))
    if session.get(CustomerMonthRow, (sale.customer_id, month)) is not None:
        return
    row = CustomerMonthRow(
        customer_id=sale.customer_id,
        month=month,
        channel=sale.channel,
        store_id=sale.store_id,
        currency=sale.currency,
    )
    session.add(row)
    session.flush()
    bump(
        session,
        "customer.active",
        day_of(sale.at),
        channel=sale.channel,
        store_id=sale.store_id,
        currency=sale.currency,
    )
    _at_risk(session, row, next_month(month), "customer.retention_base")
    before = session.get(CustomerMonthRow, (sale.customer_id, previous_month(month)))
    if before is not None:
        _at_risk(session, before, month, "customer.retained")
    after = session.get(CustomerMonthRow, (sale.customer_id, next_month(month)))
    if after is not None:
        _at_risk(session, row, next_month(month), "customer.retained")


def _at_risk(session: Session, active: CustomerMonthRow, month: date, metric: str) -> None:
    bump(
        session,
        metric,
        month,
        channel=active.channel,
        store_id=active.store_id,
        currency=active.currency,
    )
