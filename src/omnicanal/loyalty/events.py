"""Loyalty events. The subject is the account id; references always carry their type."""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _PointsEvent(Event):
    account_id: str
    customer_id: str | None
    movement_id: str
    points: int  # signed, as in the ledger
    balance: int  # after the movement
    ref_type: str
    ref_id: str
    channel: str
    store_id: str | None = None

    @property
    def subject(self) -> str:
        return self.account_id


@dataclass(frozen=True, kw_only=True)
class PointsEarned(_PointsEvent):
    type = "loyalty.points.earned"
    tier: str
    expires_at: str


@dataclass(frozen=True, kw_only=True)
class PointsBurned(_PointsEvent):
    type = "loyalty.points.burned"
    redemption_id: str
    value: str  # decimal string
    currency: str


@dataclass(frozen=True, kw_only=True)
class PointsReversed(_PointsEvent):
    """An earn taken back (cancellation, return) or a burn given back (refund)."""

    type = "loyalty.points.reversed"
    unrecovered: int = 0  # points already spent that a reversal could not take back


@dataclass(frozen=True, kw_only=True)
class PointsExpired(_PointsEvent):
    type = "loyalty.points.expired"


@dataclass(frozen=True, kw_only=True)
class PointsAdjusted(_PointsEvent):
    type = "loyalty.points.adjusted"
    reason: str


@dataclass(frozen=True, kw_only=True)
class TierChanged(Event):
    type = "loyalty.tier.changed"
    account_id: str
    customer_id: str | None
    previous: str
    tier: str
    spend: str  # rolling spend, decimal string
    currency: str

    @property
    def subject(self) -> str:
        return self.account_id


@dataclass(frozen=True, kw_only=True)
class AccountsMerged(Event):
    """The accounts of merged profiles became one (lots moved, lineage kept on each movement)."""

    type = "loyalty.accounts.merged"
    account_id: str
    customer_id: str
    absorbed_account_ids: list[str]
    merge_id: str | None
    balance: int

    @property
    def subject(self) -> str:
        return self.account_id
