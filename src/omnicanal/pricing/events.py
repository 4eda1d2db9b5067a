"""Pricing events. Amounts are decimal strings ("19.99") with their currency; the subject is
the SKU, so a SKU's price history reads them together with ``catalog.price.changed``."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class OverrideCreated(Event):
    type = "pricing.override.created"
    override_id: str
    sku: str
    currency: str
    amount: str
    channel: str | None
    store_id: str | None
    territory: str | None
    valid_from: str
    valid_until: str | None
    reason: str | None  # None: imported without a justification
    owner: str | None
    note: str
    source: str  # api | import

    @property
    def subject(self) -> str | None:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class OverrideChanged(Event):
    type = "pricing.override.changed"
    override_id: str
    sku: str
    currency: str
    changed: list[str]
    amount: str
    previous_amount: str
    channel: str | None
    store_id: str | None
    territory: str | None
    valid_from: str
    valid_until: str | None
    reason: str | None
    owner: str | None
    note: str

    @property
    def subject(self) -> str | None:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class DifferenceUnjustified(Event):
    """The audit found a price no valid justification covers (emitted once per change)."""

    type = "pricing.difference.unjustified"
    key: str
    sku: str
    currency: str
    source: str  # override | observation
    base_amount: str
    amount: str
    expected_amount: str
    channels: list[str] = field(default_factory=list)
    store_id: str | None
    territory: str | None
    override_id: str | None
    observation_id: str | None
    problem: str
    audited_at: str

    @property
    def subject(self) -> str | None:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class DifferenceCleared(Event):
    """A difference the audit had flagged is gone (approved, ended, or the channel fixed)."""

    type = "pricing.difference.cleared"
    key: str
    sku: str
    currency: str
    audited_at: str

    @property
    def subject(self) -> str | None:
        return self.sku
