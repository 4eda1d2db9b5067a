"""Returns domain: what may come back, what it is worth, who decides. Pure: no I/O.

A return names units of one order (of any channel) brought to one location (any store or
warehouse). ``eligible_quantity`` says how many units of a line may still come back and why not;
``refund_for`` prices them at what was paid (the line's discount shared per unit, so every unit
returned in any number of returns sums to exactly what the line cost); ``decide`` approves a
standard return at once or sends it to a person with the reasons.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from omnicanal.shared.errors import InvalidInput


class Reason(StrEnum):
    TOO_SMALL = "too_small"
    TOO_LARGE = "too_large"
    NOT_AS_DESCRIBED = "not_as_described"
    DAMAGED = "damaged"
    CHANGED_MIND = "changed_mind"
    WRONG_ITEM = "wrong_item"
    OTHER = "other"


class Condition(StrEnum):
    SELLABLE = "sellable"  # back on sale at the receiving location
    DAMAGED = "damaged"  # kept aside as damaged stock
    OPENED = "opened"  # packaging opened: kept aside until checked

    @property
    def sellable(self) -> bool:
        return self is Condition.SELLABLE


class Outcome(StrEnum):
    REFUND = "refund"  # to the original payment reference
    STORE_CREDIT = "store_credit"  # a credit note (crn_…)
    EXCHANGE = "exchange"  # a new order for the replacement items


class ReturnStatus(StrEnum):
    IN_REVIEW = "in_review"  # waiting for a person; nothing restocked or refunded yet
    COMPLETED = "completed"  # received, restocked, refunded / credited / exchanged
    REJECTED = "rejected"  # a person refused it; the items go back to the customer


class ReviewReason(StrEnum):
    CONDITION_CHANGED_MIND = "condition_changed_mind"
    LATE_WITHIN_GRACE = "late_within_grace"
    MISMATCHED_ITEM = "mismatched_item"
    ABOVE_THRESHOLD = "above_threshold"
    HIGH_VALUE_CUSTOMER = "high_value_customer"


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """The retailer's return settings (defaults documented in docs/returns.md)."""

    window_days: int = 30  # from collection or delivery
    grace_days: int = 14  # after the window: accepted, but a person decides
    review_above_minor: int = 50_000  # a refund above this (500.00) goes to a person
    high_value_m_score: int = 4  # RFM monetary score from which a customer is high-value
    high_value_segments: tuple[str, ...] = ("vip", "high_value")  # segment names, same effect


DEFAULT_POLICY = ReturnPolicy()
E = TypeVar("E", bound=StrEnum)


def check_choice(kind: type[E], value: str, *, field: str) -> E:
    try:
        return kind(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown {field.rsplit('.', 1)[-1]} {value!r}; use one of "
            f"{', '.join(m.value for m in kind)}.",
            field=field,
        ) from None


# -- eligibility -------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LineFacts:
    """What the order says about one line, as far as returns are concerned."""

    order_line_id: str
    sku: str
    ordered: int  # the line's quantity (the discount is shared over it)
    received_by_customer: int  # collected or delivered units (cancelled ones left out)
    already_returned: int  # in completed returns or returns waiting for review
    unit_price_minor: int
    discount_minor: int
    done_at: datetime | None  # when collected or delivered; None: not yet
    final_sale: bool = False


@dataclass(frozen=True, slots=True)
class Eligibility:
    returnable: int  # units that may still come back (0: none)
    late: bool  # past the window, within the grace period: a person decides
    problem: str | None  # why fewer (or none) may come back, for the error detail
    until: datetime | None  # last moment to return without review


def eligibility(
    facts: LineFacts, now: datetime, policy: ReturnPolicy = DEFAULT_POLICY
) -> Eligibility:
    if facts.final_sale:
        return Eligibility(
            0, False, f"{facts.sku} was sold as final sale: it cannot be returned.", None
        )
    if facts.done_at is None or facts.received_by_customer <= 0:
        return Eligibility(
            0,
            False,
            f"{facts.sku} has not been collected or delivered yet: cancel the order instead "
            "(POST /v1/orders/{id}/cancel).",
            None,
        )
    until = facts.done_at + timedelta(days=policy.window_days)
    grace_until = until + timedelta(days=policy.grace_days)
    if now > grace_until:
        return Eligibility(
            0,
            False,
            f"{facts.sku} was received on {facts.done_at.date()}: the {policy.window_days}-day "
            f"return window and its {policy.grace_days}-day grace period ended on "
            f"{grace_until.date()}.",
            until,
        )
    left = max(0, facts.received_by_customer - facts.already_returned)
    problem = None
    if left == 0:
        problem = f"Every unit of {facts.sku} received was already returned."
    return Eligibility(left, now > until, problem, until)


# -- money -------------------------------------------------------------------------------------
def paid_for_units(facts: LineFacts, units: int) -> int:
    """What the first ``units`` units of the line cost after the line's discount (integer minor
    units; the discount is spread so that all units sum to exactly the line's paid total)."""
    if facts.ordered <= 0:
        return 0
    units = max(0, min(units, facts.ordered))
    return units * facts.unit_price_minor - facts.discount_minor * units // facts.ordered


def refund_for(facts: LineFacts, quantity: int) -> int:
    """The paid price of ``quantity`` more units, after those already returned."""
    before = facts.already_returned
    return paid_for_units(facts, before + quantity) - paid_for_units(facts, before)


# -- the decision ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LineForReview:
    sku: str
    reason: Reason
    condition: Condition
    late: bool = False
    mismatched: bool = False  # the item brought back is not the one sold


@dataclass(frozen=True, slots=True)
class Decision:
    status: ReturnStatus
    reasons: tuple[ReviewReason, ...] = field(default_factory=tuple)

    @property
    def automatic(self) -> bool:
        return self.status is ReturnStatus.COMPLETED


def decide(
    lines: Sequence[LineForReview],
    *,
    refund_minor: int,
    customer_m_score: int | None = None,
    customer_segments: Sequence[str] = (),
    policy: ReturnPolicy = DEFAULT_POLICY,
) -> Decision:
    """Standard returns are approved at once; ambiguous ones and high-value customers go to a
    person, with every reason that applies (in a fixed order)."""
    reasons: list[ReviewReason] = []
    if any(
        line.condition is not Condition.SELLABLE and line.reason is Reason.CHANGED_MIND
        for line in lines
    ):
        reasons.append(ReviewReason.CONDITION_CHANGED_MIND)
    if any(line.late for line in lines):
        reasons.append(ReviewReason.LATE_WITHIN_GRACE)
    if any(line.mismatched for line in lines):
        reasons.append(ReviewReason.MISMATCHED_ITEM)
    if refund_minor > policy.review_above_minor:
        reasons.append(ReviewReason.ABOVE_THRESHOLD)
    high_m = customer_m_score is not None and customer_m_score >= policy.high_value_m_score
    if high_m or any(s in policy.high_value_segments for s in customer_segments):
        reasons.append(ReviewReason.HIGH_VALUE_CUSTOMER)
    if reasons:
        return Decision(ReturnStatus.IN_REVIEW, tuple(reasons))
    return Decision(ReturnStatus.COMPLETED)


def exchange_balance(returned_minor: int, new_order_minor: int) -> tuple[int, int]:
    """(refunded to the original payment, to pay at the desk) when an exchange costs less or
    more than what comes back."""
    if new_order_minor <= returned_minor:
        return returned_minor - new_order_minor, 0
    return 0, new_order_minor - returned_minor
