"""Till sync events. A sale is recorded once whatever the retries, so each event means one sale.

Consumers (analytics: revenue per channel, identification rate at the till) read
``tills.sale.recorded``: money in integer minor units with the sale's currency, ``sold_at`` the
till's own UTC time of the sale (not the sync time), ``customer_id`` null for an anonymous sale.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class SoldLine:
    sku: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True, kw_only=True)
class SaleRecorded(Event):
    """A till's sale, recorded once (its stock sale movement and loyalty purchase with it)."""

    type = "tills.sale.recorded"
    till_sale_id: str  # tsl_…, ours
    store_id: str
    till_id: str
    sale_id: str  # the till's own number for the sale
    channel: str  # the syncing key's channel (pos)
    sold_at: str  # ISO 8601, UTC
    currency: str
    total_minor: int  # sum of quantity * unit price
    customer_id: str | None  # the identified profile (card or customer id), else null
    identified: bool  # a card or a customer was given (true even if erased since)
    lines: tuple[SoldLine, ...]
    short_units: int = 0  # units the till sold that the store did not hold (see conflicts)

    @property
    def subject(self) -> str:
        return self.till_sale_id


@dataclass(frozen=True, kw_only=True)
class StockConflict(Event):
    """A till sold more of a SKU than the store held: what could be taken off stock was, the
    rest (``short_by``) waits for a count or a late receipt."""

    type = "tills.stock.conflict"
    conflict_id: str  # tsc_…
    till_sale_id: str
    store_id: str
    till_id: str
    sale_id: str
    sku: str
    sold: int  # units on the till's ticket
    recorded: int  # units taken off the store's stock
    short_by: int  # sold - recorded, > 0
    sold_at: str

    @property
    def subject(self) -> str:
        return self.conflict_id


@dataclass(frozen=True, kw_only=True)
class StockConflictResolved(Event):
    type = "tills.stock.conflict_resolved"
    conflict_id: str
    store_id: str
    sku: str
    short_by: int
    note: str

    @property
    def subject(self) -> str:
        return self.conflict_id
