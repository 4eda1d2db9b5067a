"""Pure RFM and segments: incremental equals a full fold, fixed-threshold scores, the rule
language (valid trees, refused ones naming the node), evaluation, time boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.customers.segments_model import (
    MAX_CONDITIONS,
    AllOf,
    Condition,
    LedgerEntry,
    RfmState,
    add_purchase,
    add_return,
    apply,
    evaluate,
    facts,
    fold,
    membership_changes,
    next_review,
    parse_rule,
    rfm_scores,
    rule_to_json,
    time_boundaries,
)
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LOYAL_AND_RECENT = {
    "all": [
        {"attr": "frequency", "op": ">=", "value": 3},
        {"attr": "recency_days", "op": "<=", "value": 90},
    ]
}


def purchase(days_ago: float, amount: str | None = "50.00", *, channel: str = "web",
             currency: str = "EUR", cancelled: bool = False) -> LedgerEntry:  # fmt: skip
    money = Money.of(amount, currency) if amount is not None else None
    return LedgerEntry(
        "purchase", T0 - timedelta(days=days_ago), channel, money, cancelled=cancelled
    )


def refund(amount: str, *, days_ago: float = 1) -> LedgerEntry:
    return LedgerEntry("return", T0 - timedelta(days=days_ago), "pos", Money.of(amount, "EUR"))


# --- state ---------------------------------------------------------------------------------------


def test_purchases_and_returns_add_up_in_minor_units() -> None:
    state = fold([purchase(200, "19.99"), purchase(10, "80.01", channel="pos"), refund("19.99")])
    assert state.frequency == 2
    assert (state.spent_minor, state.refunded_minor, state.net_minor) == (10000, 1999, 8001)
    assert state.monetary == Money(8001, "EUR")
    assert state.first_purchase_at == T0 - timedelta(days=200)
    assert state.last_purchase_at == T0 - timedelta(days=10)
    assert state.channels == ("pos", "web")
    assert state.return_count == 1


def test_another_currency_is_kept_apart_never_converted() -> None:
    state = fold([purchase(5, "100.00"), purchase(3, "40.00", currency="CHF")])
    assert state.currency == "EUR"
    assert state.spent_minor == 10000
    assert state.other_currencies == {"CHF": {"spent": 4000, "refunded": 0}}
    assert state.frequency == 2  # it still counts as a purchase


def test_a_cancelled_purchase_and_an_unpriced_one() -> None:
    state = fold([purchase(5, cancelled=True), purchase(2, None)])
    assert state.frequency == 1
    assert state.currency is None
    assert state.monetary is None


entries = st.lists(
    st.builds(
        LedgerEntry,
        kind=st.sampled_from(["purchase", "return"]),
        occurred_at=st.integers(0, 800).map(lambda d: T0 - timedelta(days=d)),
        channel=st.sampled_from(["web", "app", "pos"]),
        amount=st.one_of(
            st.none(),
            st.builds(Money, st.integers(0, 10**7), st.sampled_from(["EUR", "EUR", "CHF"])),
        ),
        cancelled=st.booleans(),
    ),
    max_size=30,
)


@given(entries)
def test_incremental_updates_equal_a_fold_of_the_ledger(ledger: list[LedgerEntry]) -> None:
    state = RfmState()
    for entry in ledger:
        state = add_purchase(state, entry) if entry.kind == "purchase" else add_return(state, entry)
    assert state == fold(ledger)
    assert state.frequency == sum(1 for e in ledger if e.kind == "purchase" and not e.cancelled)


@given(entries, entries)
def test_recency_frequency_and_channels_do_not_depend_on_order(
    a: list[LedgerEntry], b: list[LedgerEntry]
) -> None:
    one, other = fold([*a, *b]), fold([*b, *a])
    assert (one.frequency, one.last_purchase_at, one.first_purchase_at, one.channels) == (
        other.frequency,
        other.last_purchase_at,
        other.first_purchase_at,
        other.channels,
    )
    assert one.return_count == other.return_count


# --- scores --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0, 5), (30, 5), (31, 4), (90, 4), (91, 3), (180, 3), (181, 2), (365, 2), (366, 1)],
)
def test_recency_score_by_days_since_last_purchase(days: int, expected: int) -> None:
    assert rfm_scores(fold([purchase(days)]), now=T0).recency == expected


@pytest.mark.parametrize(("count", "expected"), [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (10, 5)])
def test_frequency_score(count: int, expected: int) -> None:
    state = fold([purchase(1, "1.00") for _ in range(count)])
    assert rfm_scores(state, now=T0).frequency == expected


@pytest.mark.parametrize(
    ("spent", "expected"),
    [("99.99", 1), ("100.00", 2), ("299.99", 2), ("300.00", 3), ("800.00", 4), ("2000.00", 5)],
)
def test_monetary_score_on_net_spent(spent: str, expected: int) -> None:
    assert rfm_scores(fold([purchase(1, spent)]), now=T0).monetary == expected


def test_refunds_lower_the_monetary_score_and_a_non_buyer_has_no_scores() -> None:
    state = fold([purchase(1, "350.00"), refund("300.00")])
    assert rfm_scores(state, now=T0).monetary == 1
    none = rfm_scores(RfmState(), now=T0)
    assert (none.recency, none.frequency, none.monetary, none.code) == (None, None, None, None)
    assert rfm_scores(fold([purchase(10, "900.00")] * 5), now=T0).code == "545"


# --- rules ---------------------------------------------------------------------------------------


def test_the_example_rule_parses_and_round_trips() -> None:
    rule = parse_rule(LOYAL_AND_RECENT)
    assert rule == AllOf((Condition("frequency", ">=", 3), Condition("recency_days", "<=", 90)))
    assert rule_to_json(rule) == LOYAL_AND_RECENT
    assert parse_rule(rule_to_json(rule)) == rule


def test_amounts_are_decimals_written_as_strings() -> None:
    rule = parse_rule({"attr": "monetary", "op": ">=", "value": "500.00"})
    assert rule == Condition("monetary", ">=", Decimal("500.00"))
    assert rule_to_json(rule) == {"attr": "monetary", "op": ">=", "value": "500.00"}
    assert parse_rule({"attr": "monetary", "op": ">", "value": 500}) == Condition(
        "monetary", ">", Decimal(500)
    )


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"attr": "salary", "op": ">", "value": 1}, "rule.attr"),
        ({"attr": "frequency", "op": "~", "value": 1}, "rule.op"),
        ({"attr": "frequency", "op": "contains", "value": 1}, "rule.op"),
        ({"attr": "frequency", "op": ">="}, "rule.value"),
        ({"attr": "frequency", "op": ">=", "value": "3"}, "rule.value"),
        ({"attr": "frequency", "op": ">=", "value": True}, "rule.value"),
        ({"attr": "monetary", "op": ">=", "value": 99.99}, "rule.value"),
        ({"attr": "monetary", "op": ">=", "value": "1.0001"}, "rule.value"),
        ({"attr": "channels", "op": "contains_any", "value": []}, "rule.value"),
        ({"attr": "frequency", "op": "in", "value": [1, "2"]}, "rule.value[1]"),
        ({"all": []}, "rule.all"),
        ({"all": [LOYAL_AND_RECENT, {"any": [{"x": 1}]}]}, "rule.all[1].any[0]"),
        ({"all": [], "any": []}, "rule"),
        ({"not": {"attr": "frequency", "op": "=", "value": 0}, "x": 1}, "rule"),
        ({"attr": "frequency", "op": "=", "value": 0, "extra": 1}, "rule"),
        ([], "rule"),
    ],
)
def test_bad_rules_are_refused_naming_the_node(rule: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_rule(rule)
    assert info.value.field == field
    assert info.value.code == "invalid-segment-rule"


def test_rules_are_bounded_in_depth_and_size() -> None:
    deep: dict[str, Any] = {"attr": "frequency", "op": "=", "value": 1}
    for _ in range(6):
        deep = {"not": deep}
    with pytest.raises(InvalidInput, match="nest at most"):
        parse_rule(deep)
    wide = {
        "any": [{"attr": "frequency", "op": "=", "value": i} for i in range(MAX_CONDITIONS + 1)]
    }
    with pytest.raises(InvalidInput, match="at most 50 conditions"):
        parse_rule(wide)


def test_evaluation_over_facts() -> None:
    loyal = parse_rule(LOYAL_AND_RECENT)
    omni = parse_rule(
        {
            "all": [
                {"attr": "channels", "op": "contains", "value": "pos"},
                {"attr": "channel_count", "op": ">=", "value": 2},
                {"not": {"attr": "return_count", "op": ">", "value": 1}},
            ]
        }
    )
    prospects = parse_rule({"attr": "recency_days", "op": "exists", "value": False})
    big = parse_rule({"any": [{"attr": "m_score", "op": "in", "value": [4, 5]}]})
    regular = fold([purchase(100), purchase(60, channel="pos"), purchase(20, "900.00")])
    lapsed = fold([purchase(120), purchase(100), purchase(95)])
    nobody = RfmState()
    at = facts(regular, now=T0)
    assert evaluate(loyal, at)
    assert evaluate(omni, at)
    assert evaluate(big, at)
    assert not evaluate(prospects, at)
    assert not evaluate(loyal, facts(lapsed, now=T0))
    assert not evaluate(omni, facts(lapsed, now=T0))
    empty = facts(nobody, now=T0)
    assert evaluate(prospects, empty)
    assert not evaluate(loyal, empty)  # an absent recency matches no comparison
    assert not evaluate(big, empty)
    assert empty["monetary"] == Decimal(0)


def test_time_boundaries_and_next_review() -> None:
    days = time_boundaries([parse_rule(LOYAL_AND_RECENT)])
    assert {31, 91, 181, 366} <= days  # the recency score's own steps
    assert {90, 91} <= days
    last = T0 - timedelta(days=40)
    assert next_review(last, now=T0, boundaries=days) == last + timedelta(days=90)
    assert next_review(T0 - timedelta(days=400), now=T0, boundaries=days) is None
    assert next_review(None, now=T0, boundaries=days) is None
    # reviewed at that moment, the rule has flipped
    rule = parse_rule(LOYAL_AND_RECENT)
    state = fold([purchase(40), purchase(40), purchase(40)])
    assert evaluate(rule, facts(state, now=last + timedelta(days=90, seconds=-1)))
    assert not evaluate(rule, facts(state, now=last + timedelta(days=91)))


@given(
    st.integers(0, 500),
    st.integers(1, 400),
    st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
    st.integers(0, 1000),
)
def test_a_rule_never_flips_between_boundaries(
    days_ago: int, value: int, op: str, hours: int
) -> None:
    """Evaluated at ``now`` and at any moment before the next review, the answer is the same."""
    rule = parse_rule({"attr": "recency_days", "op": op, "value": value})
    state = apply(RfmState(), purchase(days_ago))
    bounds = time_boundaries([rule])
    review = next_review(state.last_purchase_at, now=T0, boundaries=bounds)
    later = T0 + timedelta(hours=hours)
    if review is not None and later >= review:
        return
    assert evaluate(rule, facts(state, now=T0)) == evaluate(rule, facts(state, now=later))


def test_membership_changes() -> None:
    assert membership_changes(["a", "b"], ["b", "c"]) == (["c"], ["a"])
