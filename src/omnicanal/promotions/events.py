"""Promotion events. The subject is the promotion id; redemptions also name the order."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _PromotionEvent(Event):
    promotion_id: str

    @property
    def subject(self) -> str:
        return self.promotion_id


@dataclass(frozen=True, kw_only=True)
class PromotionCreated(_PromotionEvent):
    type = "promotions.promotion.created"
    name: str
    status: str
    store_id: str | None
    definition: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class PromotionChanged(_PromotionEvent):
    """The definition or status changed; ``changes`` names the fields, ``version`` counts."""

    type = "promotions.promotion.changed"
    name: str
    status: str
    store_id: str | None
    version: int
    changes: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class RedemptionRecorded(_PromotionEvent):
    """An order used the promotion: the loyalty context credits ``bonus_points`` from here."""

    type = "promotions.redemption.recorded"
    redemption_id: str
    order_id: str
    customer_id: str | None
    currency: str
    amount_minor: int
    bonus_points: int
    coupon_code: str | None


@dataclass(frozen=True, kw_only=True)
class RedemptionReleased(_PromotionEvent):
    """The order was cancelled: the use and the budget are given back."""

    type = "promotions.redemption.released"
    redemption_id: str
    order_id: str
    customer_id: str | None
    currency: str
    amount_minor: int
    bonus_points: int


@dataclass(frozen=True, kw_only=True)
class BudgetExhausted(_PromotionEvent):
    """The last redemption or the last of the money budget was taken."""

    type = "promotions.budget.exhausted"
    name: str
    redemptions: int
    max_redemptions: int | None
    spent_minor: int
    budget_minor: int | None
