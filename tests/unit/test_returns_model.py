"""Returns domain: what may come back, what it is worth, who decides."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.returns.model import (
    Condition,
    LineFacts,
    LineForReview,
    Outcome,
    Reason,
    ReturnPolicy,
    ReturnStatus,
    ReviewReason,
    check_choice,
    decide,
    eligibility,
    exchange_balance,
    paid_for_units,
    refund_for,
)
from omnicanal.shared.errors import InvalidInput

DELIVERED = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def facts(**changes: object) -> LineFacts:
    base: dict[str, object] = {
        "order_line_id": "orl_1",
        "sku": "RUN-42",
        "ordered": 3,
        "received_by_customer": 3,
        "already_returned": 0,
        "unit_price_minor": 1000,
        "discount_minor": 100,
        "done_at": DELIVERED,
        "final_sale": False,
    }
    base.update(changes)
    return LineFacts(**base)  # type: ignore[arg-type]


def line(**changes: object) -> LineForReview:
    base: dict[str, object] = {
        "sku": "RUN-42",
        "reason": Reason.TOO_SMALL,
        "condition": Condition.SELLABLE,
    }
    base.update(changes)
    return LineForReview(**base)  # type: ignore[arg-type]


def test_within_the_window_every_unit_received_may_come_back() -> None:
    verdict = eligibility(facts(), DELIVERED + timedelta(days=29))
    assert (verdict.returnable, verdict.late, verdict.problem) == (3, False, None)
    assert verdict.until == DELIVERED + timedelta(days=30)


def test_after_the_window_the_grace_period_sends_it_to_a_person_then_it_ends() -> None:
    late = eligibility(facts(), DELIVERED + timedelta(days=31))
    assert (late.returnable, late.late) == (3, True)
    over = eligibility(facts(), DELIVERED + timedelta(days=45))
    assert over.returnable == 0
    assert "grace period ended" in (over.problem or "")
    strict = eligibility(facts(), DELIVERED + timedelta(days=31), ReturnPolicy(grace_days=0))
    assert strict.returnable == 0


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        ({"final_sale": True}, "final sale"),
        ({"done_at": None, "received_by_customer": 0}, "not been collected or delivered"),
        ({"already_returned": 3}, "already returned"),
    ],
)
def test_nothing_may_come_back(changes: dict[str, object], why: str) -> None:
    verdict = eligibility(facts(**changes), DELIVERED + timedelta(days=1))
    assert verdict.returnable == 0
    assert why in (verdict.problem or "")


def test_only_what_is_left_after_earlier_returns() -> None:
    assert eligibility(facts(already_returned=2), DELIVERED).returnable == 1


def test_refund_is_the_paid_price_with_the_discount_shared_per_unit() -> None:
    # 3 x 10.00 with 1.00 off the line: 29.00 paid in all
    assert refund_for(facts(), 1) == 1000 - 33
    assert refund_for(facts(already_returned=1), 1) == 1000 - 34 + 1  # 2000-66 - (1000-33)
    assert refund_for(facts(), 3) == 2900


@given(
    ordered=st.integers(1, 20),
    unit=st.integers(0, 100_000),
    data=st.data(),
)
def test_units_returned_one_by_one_sum_to_exactly_what_the_line_cost(
    ordered: int, unit: int, data: st.DataObject
) -> None:
    discount = data.draw(st.integers(0, ordered * unit))
    total = 0
    for returned in range(ordered):
        total += refund_for(
            facts(
                ordered=ordered,
                unit_price_minor=unit,
                discount_minor=discount,
                already_returned=returned,
            ),
            1,
        )
        assert total <= ordered * unit
    assert total == ordered * unit - discount
    assert (
        paid_for_units(
            facts(ordered=ordered, unit_price_minor=unit, discount_minor=discount), ordered
        )
        == total
    )


def test_a_standard_return_is_approved_at_once() -> None:
    decision = decide([line()], refund_minor=6000)
    assert decision.status is ReturnStatus.COMPLETED
    assert decision.automatic
    assert decision.reasons == ()


@pytest.mark.parametrize(
    ("lines", "kwargs", "reason"),
    [
        ([line(reason=Reason.CHANGED_MIND, condition=Condition.OPENED)], {}, "condition"),
        ([line(reason=Reason.CHANGED_MIND, condition=Condition.DAMAGED)], {}, "condition"),
        ([line(late=True)], {}, "late"),
        ([line(mismatched=True)], {}, "mismatch"),
        ([line()], {"refund_minor": 50_001}, "threshold"),
        ([line()], {"customer_m_score": 4}, "high_value"),
        ([line()], {"customer_segments": ["vip"]}, "high_value"),
    ],
)
def test_ambiguous_returns_and_high_value_customers_go_to_a_person(
    lines: list[LineForReview], kwargs: dict[str, object], reason: str
) -> None:
    args: dict[str, object] = {"refund_minor": 6000, **kwargs}
    decision = decide(lines, **args)  # type: ignore[arg-type]
    assert decision.status is ReturnStatus.IN_REVIEW
    expected = {
        "condition": ReviewReason.CONDITION_CHANGED_MIND,
        "late": ReviewReason.LATE_WITHIN_GRACE,
        "mismatch": ReviewReason.MISMATCHED_ITEM,
        "threshold": ReviewReason.ABOVE_THRESHOLD,
        "high_value": ReviewReason.HIGH_VALUE_CUSTOMER,
    }[reason]
    assert decision.reasons == (expected,)


def test_damaged_for_a_real_reason_or_a_modest_customer_is_not_ambiguous() -> None:
    damaged = line(reason=Reason.DAMAGED, condition=Condition.DAMAGED)
    assert decide([damaged], refund_minor=50_000, customer_m_score=3).automatic


def test_every_reason_that_applies_is_given_in_order() -> None:
    decision = decide(
        [line(late=True, reason=Reason.CHANGED_MIND, condition=Condition.OPENED)],
        refund_minor=90_000,
        customer_m_score=5,
    )
    assert decision.reasons == (
        ReviewReason.CONDITION_CHANGED_MIND,
        ReviewReason.LATE_WITHIN_GRACE,
        ReviewReason.ABOVE_THRESHOLD,
        ReviewReason.HIGH_VALUE_CUSTOMER,
    )


def test_exchange_balance_refunds_a_cheaper_exchange_and_charges_a_dearer_one() -> None:
    assert exchange_balance(6000, 6000) == (0, 0)
    assert exchange_balance(6000, 4500) == (1500, 0)
    assert exchange_balance(6000, 7000) == (0, 1000)


def test_choices_are_checked_with_the_list_of_valid_ones() -> None:
    assert check_choice(Outcome, "exchange", field="outcome") is Outcome.EXCHANGE
    with pytest.raises(InvalidInput) as refused:
        check_choice(Reason, "bored", field="lines[0].reason")
    assert refused.value.field == "lines[0].reason"
    assert "too_small" in refused.value.detail
