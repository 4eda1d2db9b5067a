"""Pure till-sync domain: a till's sale, its fingerprint, what the store could take off stock."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Outcome(StrEnum):
    RECORDED = "recorded"  # new: stock, loyalty, recommendations and events written
    DUPLICATE = "duplicate"  # the same sale again: nothing changed
    CONFLICT = "conflict"  # the same (store, till, sale id) with another body: nothing changed
    REJECTED = "rejected"  # the sale cannot be recorded as it is (unknown SKU…): nothing changed


@dataclass(frozen=True, slots=True)
class SaleLine:
    sku: str
    quantity: int
    unit_price_minor: int


@dataclass(frozen=True, slots=True)
class Payment:
    provider: str  # card, cash, gift_card, loyalty…
    reference: str  # the payment provider's own reference
    amount_minor: int


@dataclass(frozen=True, slots=True)
class TillSale:
    """A sale as the till rang it up, validated (positive quantities, UTC-aware time)."""

    sale_id: str
    sold_at: datetime
    currency: str
    lines: tuple[SaleLine, ...]
    payments: tuple[Payment, ...] = ()
    customer_id: str | None = None
    card: str | None = None

    @property
    def total_minor(self) -> int:
        return sum(line.quantity * line.unit_price_minor for line in self.lines)

    @property
    def paid_with_points_minor(self) -> int:
        return sum(p.amount_minor for p in self.payments if p.provider == "loyalty")

    def quantities(self) -> dict[str, int]:
        """Units per SKU (a SKU rung up on two lines counts once, with both quantities)."""
        out: dict[str, int] = {}
        for line in self.lines:
            out[line.sku] = out.get(line.sku, 0) + line.quantity
        return dict(sorted(out.items()))

    def fingerprint(self) -> str:
        """The same sale resent (whatever the JSON formatting) has the same fingerprint."""
        canonical = {
            "sale_id": self.sale_id,
            "sold_at": self.sold_at.isoformat(),
            "currency": self.currency,
            "lines": [[x.sku, x.quantity, x.unit_price_minor] for x in self.lines],
            "payments": [[p.provider, p.reference, p.amount_minor] for p in self.payments],
            "customer_id": self.customer_id,
            "card": self.card,
        }
        raw = json.dumps(canonical, separators=(",", ":"), sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True, slots=True)
class Shortfall:
    sku: str
    sold: int
    short_by: int

    @property
    def recorded(self) -> int:
        return self.sold - self.short_by


@dataclass(frozen=True, slots=True)
class StockSplit:
    """What a sale takes off the store's shelf, and what it sold beyond what the store held."""

    take: dict[str, int] = field(default_factory=dict)  # sku -> units off the shelf (> 0)
    short: tuple[Shortfall, ...] = ()


def split_stock(sold: dict[str, int], on_shelf: dict[str, int]) -> StockSplit:
    """``on_shelf``: units the till may sell per SKU (on hand less those held for others).

    The till already handed the goods over, so the sale stands; stock never goes below what is
    held for others, and the difference is reported, not hidden."""
    take: dict[str, int] = {}
    short: list[Shortfall] = []
    for sku, quantity in sorted(sold.items()):
        available = max(0, on_shelf.get(sku, 0))
        taken = min(quantity, available)
        if taken > 0:
            take[sku] = taken
        if taken < quantity:
            short.append(Shortfall(sku=sku, sold=quantity, short_by=quantity - taken))
    return StockSplit(take=take, short=tuple(short))
