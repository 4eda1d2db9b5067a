"""The pure cart model: the merge rule, pricing totals, handoff codes and expiry, hold policy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.carts.model import (
    HANDOFF_ALPHABET,
    MAX_LINE_QUANTITY,
    MAX_LINES,
    CartRef,
    Handoff,
    HandoffState,
    LineToPrice,
    ReservationPolicy,
    check_line_quantity,
    check_owner,
    choose_survivor_cart,
    format_handoff_code,
    handoff_expiry,
    merge_quantities,
    new_handoff_code,
    normalise_handoff_code,
    plan_merge,
    price_cart,
    quantity_after_add,
)
from omnicanal.shared.errors import Conflict, Forbidden, Gone, InvalidInput
from omnicanal.shared.money import Money

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EUR = "EUR"


# -- the merge rule -----------------------------------------------------------------------------
def test_the_same_sku_on_two_devices_keeps_the_larger_quantity_not_the_sum() -> None:
    desktop = {"SHOE-42": 1, "SOCKS": 2}
    phone = {"SHOE-42": 1, "CAP": 1}
    assert merge_quantities(phone, desktop) == {"CAP": 1, "SHOE-42": 1, "SOCKS": 2}
    assert merge_quantities({"SOCKS": 1}, {"SOCKS": 3}) == {"SOCKS": 3}


def test_the_plan_says_which_lines_move_which_grow_and_which_stay() -> None:
    plan = plan_merge({"SHOE-42": 1, "SOCKS": 3}, {"SHOE-42": 2, "SOCKS": 1, "CAP": 1})
    assert plan.moved == ("CAP",)
    assert plan.raised == {"SHOE-42": 2}
    assert plan.unchanged == ("SOCKS",)
    assert plan.changes_anything
    assert not plan_merge({"A": 2}, {"A": 1}).changes_anything


carts = st.dictionaries(
    st.sampled_from(["SHOE-42", "SHOE-43", "SOCKS", "CAP", "LACES", "BAG"]),
    st.integers(min_value=1, max_value=MAX_LINE_QUANTITY),
    max_size=6,
)


@given(a=carts, b=carts, c=carts)
def test_merging_is_commutative_associative_and_idempotent(
    a: dict[str, int], b: dict[str, int], c: dict[str, int]
) -> None:
    """Whichever device logs in first, and however often a merge is replayed, the customer ends
    with the same cart."""
    assert merge_quantities(a, b) == merge_quantities(b, a)
    assert merge_quantities(merge_quantities(a, b), c) == merge_quantities(
        a, merge_quantities(b, c)
    )
    once = merge_quantities(a, b)
    assert merge_quantities(once, b) == once
    assert merge_quantities(a, a) == dict(sorted(a.items()))


@given(kept=carts, incoming=carts)
def test_the_plan_applied_gives_the_merged_quantities_and_loses_nothing(
    kept: dict[str, int], incoming: dict[str, int]
) -> None:
    plan = plan_merge(kept, incoming)
    result = dict(kept)
    for sku in plan.moved:
        result[sku] = incoming[sku]
    result.update(plan.raised)
    assert dict(sorted(result.items())) == merge_quantities(kept, incoming)
    for sku, quantity in [*kept.items(), *incoming.items()]:
        assert result[sku] >= quantity  # never less than either device asked for
        assert result[sku] <= MAX_LINE_QUANTITY


def test_the_cart_the_customer_already_has_survives_else_the_oldest() -> None:
    old_anon = CartRef("crt_1", None, T0)
    theirs = CartRef("crt_2", "cus_A", T0 + timedelta(days=1))
    other = CartRef("crt_3", "cus_B", T0 - timedelta(days=1))
    assert choose_survivor_cart([old_anon, theirs, other], profile_id="cus_A") == theirs
    assert choose_survivor_cart([old_anon, other], profile_id="cus_A") == other
    tie = CartRef("crt_0", None, T0)
    assert choose_survivor_cart([old_anon, tie], profile_id=None) == tie


# -- quantities ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [0, -1, 100, True, 1.5])
def test_a_line_quantity_is_a_whole_number_from_1_to_99(bad: object) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_line_quantity(bad)  # type: ignore[arg-type]
    assert refused.value.field == "quantity"


def test_adding_grows_a_line_within_its_limit_and_a_cart_within_its_lines() -> None:
    assert quantity_after_add(None, 2, line_count=0) == 2
    assert quantity_after_add(2, 3, line_count=5) == 5
    with pytest.raises(InvalidInput) as too_many:
        quantity_after_add(98, 2, line_count=1)
    assert too_many.value.extensions["in_cart"] == 98
    with pytest.raises(Conflict) as full:
        quantity_after_add(None, 1, line_count=MAX_LINES)
    assert full.value.code == "cart-full"
    assert quantity_after_add(1, 1, line_count=MAX_LINES) == 2  # more of a SKU already there


def test_a_channel_acting_for_a_customer_only_touches_their_cart() -> None:
    check_owner("crt_1", "cus_A", None)  # an associate, or a channel not saying who
    check_owner("crt_1", "cus_A", "cus_A")
    with pytest.raises(Forbidden) as other:
        check_owner("crt_1", "cus_A", "cus_B")
    assert other.value.code == "cart-of-another-customer"
    with pytest.raises(Forbidden) as anonymous:
        check_owner("crt_1", None, "cus_B")
    assert anonymous.value.code == "cart-not-attached"
    check_owner("crt_1", None, "cus_B", anonymous_ok=True)


# -- pricing ------------------------------------------------------------------------------------
def test_a_cart_is_priced_at_todays_prices_in_integer_minor_units() -> None:
    priced = price_cart(
        EUR,
        [
            LineToPrice("SHOE-42", 2, Money(8999, EUR)),
            LineToPrice("SOCKS", 3, Money(1299, EUR)),
            LineToPrice("GONE", 1, Money(500, EUR)),
        ],
        {"SHOE-42": Money(7999, EUR), "SOCKS": Money(1299, EUR)},
    )
    shoe, socks, gone = priced.lines
    assert shoe.total == Money(15998, EUR)
    assert shoe.price_changed
    assert not socks.price_changed
    assert gone.unit_price is None
    assert gone.total is None
    assert not gone.price_changed
    assert priced.subtotal == Money(15998 + 3897, EUR)
    assert priced.item_count == 6
    assert priced.unpriced_skus == ["GONE"]
    assert str(priced.subtotal) == "198.95 EUR"


def test_an_empty_cart_costs_zero_in_its_currency() -> None:
    assert price_cart("JPY", [], {}).subtotal == Money(0, "JPY")


@given(
    lines=st.lists(
        st.tuples(st.integers(1, MAX_LINE_QUANTITY), st.integers(0, 10_000_000)), max_size=20
    )
)
def test_the_subtotal_is_the_exact_sum_of_the_lines(lines: list[tuple[int, int]]) -> None:
    to_price = [LineToPrice(f"SKU-{i}", q) for i, (q, _) in enumerate(lines)]
    prices = {f"SKU-{i}": Money(p, EUR) for i, (_, p) in enumerate(lines)}
    priced = price_cart(EUR, to_price, prices)
    assert priced.subtotal.minor == sum(q * p for q, p in lines)
    assert isinstance(priced.subtotal.minor, int)


def test_a_price_in_another_currency_is_a_bug_not_a_price() -> None:
    with pytest.raises(ValueError, match="GBP"):
        price_cart(EUR, [LineToPrice("A", 1)], {"A": Money(100, "GBP")})


# -- handoff codes ------------------------------------------------------------------------------
def test_a_handoff_code_is_short_unambiguous_and_forgiving_to_type() -> None:
    code = new_handoff_code()
    assert len(code) == 8
    assert set(code) <= set(HANDOFF_ALPHABET)
    assert format_handoff_code("K7Q2M9XD") == "K7Q2-M9XD"
    assert normalise_handoff_code(" k7q2-m9xd ") == "K7Q2M9XD"
    assert normalise_handoff_code("OIL0 1234") == "0110" + "1234"
    for bad in ("K7Q2", "K7Q2-M9XD-1", "K7Q2-M9X!", "UUUUUUUU"):
        with pytest.raises(InvalidInput) as refused:
            normalise_handoff_code(bad)
        assert refused.value.field == "code"


def test_a_handoff_expires_after_its_ttl_and_is_then_gone() -> None:
    expires = handoff_expiry(T0, None)
    assert expires == T0 + timedelta(minutes=15)
    handoff = Handoff("crt_1", expires, "pending")
    assert handoff.state(T0) is HandoffState.PENDING
    assert handoff.check_claim(T0 + timedelta(minutes=14), "cus_A") is False
    assert handoff.state(expires) is HandoffState.EXPIRED
    with pytest.raises(Gone) as gone:
        handoff.check_claim(expires, "cus_A")
    assert gone.value.code == "handoff-expired"
    for ttl in (0, -5, 24 * 60 + 1):
        with pytest.raises(InvalidInput):
            handoff_expiry(T0, ttl)


def test_a_handoff_code_works_once_and_a_retry_by_the_same_claimant_is_recognised() -> None:
    claimed = Handoff("crt_1", T0 + timedelta(minutes=15), "claimed", claimed_by="cus_A")
    assert claimed.check_claim(T0, "cus_A") is True
    with pytest.raises(Conflict) as taken:
        claimed.check_claim(T0, "cus_B")
    assert taken.value.code == "handoff-already-claimed"
    with pytest.raises(Gone) as replaced:
        Handoff("crt_1", T0 + timedelta(minutes=15), "replaced").check_claim(T0, "cus_A")
    assert replaced.value.code == "handoff-replaced"


# -- stock holds --------------------------------------------------------------------------------
def test_holds_follow_the_channel_policy() -> None:
    policy = ReservationPolicy()
    assert (
        policy.location_for(pickup_location_id=None, added_channel="web", added_store_id=None)
        is None
    )
    assert (
        policy.location_for(pickup_location_id=None, added_channel="pos", added_store_id="loc_S")
        == "loc_S"
    )
    assert (
        policy.location_for(pickup_location_id="loc_P", added_channel="web", added_store_id=None)
        == "loc_P"
    )
    assert (
        ReservationPolicy(channels=frozenset(), pickup=False).location_for(
            pickup_location_id="loc_P", added_channel="pos", added_store_id="loc_S"
        )
        is None
    )
