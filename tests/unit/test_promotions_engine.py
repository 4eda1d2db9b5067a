"""The promotion engine: every action, stacking, exclusivity, rounding, and its properties."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnicanal.promotions.model import (
    Action,
    ActionKind,
    Basket,
    Conditions,
    Context,
    Line,
    PricedBasket,
    Promotion,
    Scope,
    check_promotion,
    price_basket,
    split,
)
from omnicanal.shared.errors import InvalidInput

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
K = ActionKind


def basket(*lines: Line, channel: str = "web", **context: object) -> Basket:
    return Basket("EUR", lines, Context(at=AT, channel=channel, **context))  # type: ignore[arg-type]


def promo(pid: str, *actions: Action, **kwargs: object) -> Promotion:
    return Promotion(id=pid, name=f"promo {pid}", actions=actions, **kwargs)  # type: ignore[arg-type]


def pct(percent: str, scope: Scope = Scope.LINES) -> Action:
    return Action(K.PERCENT_OFF, scope=scope, percent=Decimal(percent))


SHOES = Line("SHOE-42", 1, 8990, "shoes")
SOCKS = Line("SOCKS", 3, 990, "socks")
CAP = Line("CAP", 1, 2500, "accessories")


def test_percent_off_a_category_explains_each_line() -> None:
    p = promo("p1", pct("20"), conditions=Conditions(categories=frozenset({"shoes"})))
    priced = price_basket(basket(SHOES, SOCKS), [p])
    shoe, socks = priced.lines
    assert shoe.discounts[0].amount_minor == 1798
    assert shoe.discounts[0].promotion_id == "p1"
    assert shoe.discounts[0].explanation == "20% off"
    assert shoe.total_minor == 7192
    assert socks.discounts == ()
    assert priced.total_minor == 7192 + 2970
    assert [a.promotion_id for a in priced.applied] == ["p1"]


def test_rounding_once_per_promotion_then_largest_remainder_adds_up() -> None:
    # 3 lines of 0.33 at 50%: exact 0.165 each = 0.495 -> 0.50 (half even of 49.5 is 50)
    lines = [Line(f"S{i}", 1, 33) for i in range(3)]
    priced = price_basket(basket(*lines), [promo("p", pct("50"))])
    shares = [line.discounts[0].amount_minor for line in priced.lines if line.discounts]
    assert sum(shares) == priced.applied[0].discount_minor == 50
    assert shares == [17, 17, 16]
    assert split([]) == []


def test_amount_off_basket_is_shared_over_lines_for_refunds() -> None:
    a = Action(K.AMOUNT_OFF, scope=Scope.BASKET, amount_minor=1000)
    priced = price_basket(basket(SHOES, SOCKS), [promo("p", a, currency="EUR")])
    (d,) = priced.basket_discounts
    assert d.amount_minor == 1000
    assert sum(d.shares) == 1000
    assert [line.basket_share_minor for line in priced.lines] == list(d.shares)
    assert priced.total_minor == 8990 + 2970 - 1000
    assert sum(line.total_minor for line in priced.lines) - 1000 == priced.total_minor


def test_never_below_zero_even_with_a_large_amount_off() -> None:
    a = Action(K.AMOUNT_OFF, scope=Scope.LINES, amount_minor=50_000)
    b = Action(K.AMOUNT_OFF, scope=Scope.BASKET, amount_minor=50_000)
    priced = price_basket(
        basket(SOCKS), [promo("a", a, currency="EUR"), promo("b", b, currency="EUR")]
    )
    assert priced.total_minor == 0
    assert priced.lines[0].total_minor == 0
    assert [n.promotion_id for n in priced.not_applied] == ["b"]  # nothing left to take


def test_fixed_price_and_buy_x_get_y_cheapest_free() -> None:
    fixed = promo(
        "fixed",
        Action(K.FIXED_PRICE, price_minor=500),
        currency="EUR",
        conditions=Conditions(skus=frozenset({"SOCKS"})),
    )
    priced = price_basket(basket(SOCKS), [fixed])
    assert priced.total_minor == 1500
    three_for_two = promo("b2g1", Action(K.BUY_X_GET_Y, buy=2, get=1, percent=Decimal(100)))
    priced = price_basket(basket(SHOES, CAP, Line("SOCKS", 1, 990)), [three_for_two])
    assert priced.total_minor == 8990 + 2500  # the socks, the cheapest, are free
    assert priced.lines[2].discounts[0].explanation == "buy 2 get 1 free (cheapest)"
    refused = price_basket(basket(SHOES, CAP), [three_for_two])
    assert refused.not_applied[0].reason == "needs 3 of its items (the basket has 2)"


def test_free_shipping_and_bonus_points_are_outputs() -> None:
    p = promo("ship", Action(K.FREE_SHIPPING), Action(K.BONUS_POINTS, points=200))
    priced = price_basket(basket(SHOES, shipping_minor=490), [p])
    assert priced.free_shipping
    assert priced.shipping_minor == 0
    assert priced.shipping_discount_minor == 490
    assert priced.bonus_points == 200
    assert priced.grand_total_minor == 8990


def test_priority_then_exclusive_holds_its_lines() -> None:
    exclusive = promo(
        "a",
        pct("30"),
        priority=10,
        exclusive=True,
        conditions=Conditions(skus=frozenset({"SHOE-42"})),
    )
    general = promo("b", pct("10"), priority=1)
    priced = price_basket(basket(SHOES, CAP), [general, exclusive])
    assert [d.promotion_id for d in priced.lines[0].discounts] == ["a"]
    assert [d.promotion_id for d in priced.lines[1].discounts] == ["b"]
    only_shoes = price_basket(basket(SHOES), [general, exclusive])
    assert only_shoes.not_applied[0].reason == "its lines are held by exclusive promotion a"


def test_two_non_stackable_promotions_do_not_combine_the_first_wins() -> None:
    a = promo("a", pct("10"), priority=5, stackable=False)
    b = promo("b", pct("15"), priority=1, stackable=False)
    c = promo("c", pct("5"))  # stackable: applies on what is left
    priced = price_basket(basket(CAP), [a, b, c])
    assert [x.promotion_id for x in priced.applied] == ["a", "c"]
    assert priced.not_applied[0].reason == "does not combine with a (promo a)"
    assert priced.total_minor == 2500 - 250 - 112  # 5% of 22.50 = 1.125 -> 1.12 (half even)


@pytest.mark.parametrize(
    ("conditions", "context", "reason"),
    [
        (Conditions(channels=frozenset({"pos"})), {}, "only on channel(s) pos"),
        (Conditions(stores=frozenset({"loc_A"})), {"store_id": "loc_B"}, "only in store(s) loc_A"),
        (
            Conditions(territories=frozenset({"FR"})),
            {"territory": "BE"},
            "only in territory(ies) FR",
        ),
        (Conditions(segments=frozenset({"seg_vip"})), {}, "for customers in segment(s) seg_vip"),
        (Conditions(tiers=frozenset({"gold"})), {"tier": "silver"}, "for loyalty tier(s) gold"),
        (Conditions(coupon="WELCOME"), {"coupons": frozenset({"OTHER"})}, "needs its coupon code"),
        (Conditions(first_order=True), {}, "for a customer's first order only"),
        (Conditions(starts_at=AT + timedelta(days=1)), {}, "starts at 2026-11-28T10:00:00+00:00"),
        (Conditions(ends_at=AT), {}, "ended at 2026-11-27T10:00:00+00:00"),
        (
            Conditions(min_quantity=2, skus=frozenset({"CAP"})),
            {},
            "needs 2 of its items (the basket has 1)",
        ),
        (Conditions(skus=frozenset({"NOPE"})), {}, "no line of the basket is one of its products"),
        (
            Conditions(min_subtotal_minor=5000),
            {},
            "needs a basket of at least 50.00 EUR (this one is 25.00 EUR)",
        ),
    ],
)
def test_each_condition_says_why_it_did_not_apply(
    conditions: Conditions, context: dict[str, object], reason: str
) -> None:
    p = promo("p", pct("10"), conditions=conditions, currency="EUR")
    priced = price_basket(basket(CAP, **context), [p])
    assert priced.total_minor == 2500
    assert priced.not_applied[0].reason == reason


def test_conditions_met_apply() -> None:
    c = Conditions(
        channels=frozenset({"pos"}),
        stores=frozenset({"loc_A"}),
        segments=frozenset({"seg_vip"}),
        tiers=frozenset({"gold"}),
        coupon="WELCOME",
        first_order=True,
        starts_at=AT,
        ends_at=AT + timedelta(1),
    )
    ctx = {
        "store_id": "loc_A",
        "segments": frozenset({"seg_vip", "x"}),
        "tier": "gold",
        "coupons": frozenset({"WELCOME"}),
        "first_order": True,
    }
    priced = price_basket(basket(CAP, channel="pos", **ctx), [promo("p", pct("10"), conditions=c)])
    assert priced.applied[0].coupon == "WELCOME"
    assert priced.total_minor == 2250


def test_definitions_are_checked() -> None:
    with pytest.raises(InvalidInput) as err:
        check_promotion(promo("p", pct("120")))
    assert err.value.field == "actions[0]"
    with pytest.raises(InvalidInput):
        check_promotion(promo("p", Action(K.AMOUNT_OFF, amount_minor=100)))  # no currency
    with pytest.raises(InvalidInput):
        check_promotion(promo("p", Action(K.BUY_X_GET_Y, buy=0, get=1, percent=Decimal(100))))
    with pytest.raises(InvalidInput):
        check_promotion(promo("p", pct("5"), conditions=Conditions(starts_at=AT, ends_at=AT)))


# -- properties ---------------------------------------------------------------------------------
SKUS = ["A", "B", "C", "D"]
CATS = ["shoes", "socks"]
lines_st = st.lists(
    st.builds(
        Line,
        sku=st.sampled_from(SKUS),
        quantity=st.integers(1, 5),
        unit_price_minor=st.integers(0, 20_000),
        category=st.sampled_from(CATS),
    ),
    min_size=1,
    max_size=6,
)
action_st = st.one_of(
    st.builds(
        Action,
        kind=st.just(K.PERCENT_OFF),
        scope=st.sampled_from(list(Scope)),
        percent=st.decimals(1, 100, places=1),
    ),
    st.builds(
        Action,
        kind=st.just(K.AMOUNT_OFF),
        scope=st.sampled_from(list(Scope)),
        amount_minor=st.integers(1, 30_000),
    ),
    st.builds(Action, kind=st.just(K.FIXED_PRICE), price_minor=st.integers(0, 10_000)),
    st.builds(
        Action,
        kind=st.just(K.BUY_X_GET_Y),
        buy=st.integers(1, 3),
        get=st.integers(1, 2),
        percent=st.sampled_from([Decimal(50), Decimal(100)]),
    ),
    st.builds(Action, kind=st.just(K.FREE_SHIPPING)),
    st.builds(Action, kind=st.just(K.BONUS_POINTS), points=st.integers(1, 500)),
)
conditions_st = st.builds(
    Conditions,
    channels=st.sampled_from([frozenset(), frozenset({"pos"}), frozenset({"web"})]),
    skus=st.sampled_from([frozenset(), frozenset({"A"}), frozenset({"B", "C"})]),
    categories=st.sampled_from([frozenset(), frozenset({"shoes"})]),
    min_quantity=st.integers(0, 4),
    min_subtotal_minor=st.sampled_from([0, 5_000, 50_000]),
    coupon=st.sampled_from([None, "SAVE"]),
)


@st.composite
def promotions_st(draw: st.DrawFn, channel_free: bool = False) -> list[Promotion]:
    n = draw(st.integers(0, 5))
    out = []
    for i in range(n):
        conditions = draw(conditions_st)
        if channel_free:
            conditions = replace(conditions, channels=frozenset())
        out.append(
            Promotion(
                id=f"p{i}",
                name=f"promo {i}",
                actions=tuple(draw(st.lists(action_st, min_size=1, max_size=2))),
                conditions=conditions,
                priority=draw(st.integers(0, 3)),
                exclusive=draw(st.booleans()),
                stackable=draw(st.booleans()),
                currency="EUR",
            )
        )
    return out


def _invariants(priced: PricedBasket) -> None:
    assert priced.total_minor >= 0
    assert all(line.total_minor >= 0 for line in priced.lines)
    basket_off = sum(d.amount_minor for d in priced.basket_discounts)
    assert sum(line.total_minor for line in priced.lines) - basket_off == priced.total_minor
    for line in priced.lines:
        assert line.subtotal_minor - sum(d.amount_minor for d in line.discounts) == line.total_minor
        assert 0 <= line.basket_share_minor <= line.total_minor
    for d in priced.basket_discounts:
        assert sum(d.shares) == d.amount_minor
    assert sum(a.discount_minor for a in priced.applied) == priced.discount_minor
    assert priced.grand_total_minor == priced.total_minor + priced.shipping_minor


@settings(max_examples=300, deadline=None)
@given(lines_st, promotions_st(), st.booleans(), st.integers(0, 900))
def test_totals_add_up_and_are_never_negative(
    lines: list[Line], promotions: list[Promotion], coupon: bool, shipping: int
) -> None:
    coupons = frozenset({"SAVE"}) if coupon else frozenset()
    _invariants(price_basket(basket(*lines, coupons=coupons, shipping_minor=shipping), promotions))


@settings(max_examples=200, deadline=None)
@given(lines_st, promotions_st(channel_free=True), st.booleans())
def test_web_and_pos_get_the_same_answer_unless_a_promotion_names_the_channel(
    lines: list[Line], promotions: list[Promotion], coupon: bool
) -> None:
    coupons = frozenset({"SAVE"}) if coupon else frozenset()
    web = price_basket(basket(*lines, channel="web", coupons=coupons), promotions)
    pos = price_basket(basket(*lines, channel="pos", coupons=coupons), promotions)
    assert web == pos


@settings(max_examples=200, deadline=None)
@given(lines_st, promotions_st(), action_st)
def test_a_promotion_that_does_not_apply_changes_nothing(
    lines: list[Line], promotions: list[Promotion], action: Action
) -> None:
    absent = Promotion(
        id="p_absent",
        name="needs a coupon",
        actions=(action,),
        currency="EUR",
        conditions=Conditions(coupon="NEVER-GIVEN"),
        exclusive=True,
        stackable=False,
        priority=9,
    )
    without = price_basket(basket(*lines), promotions)
    with_it = price_basket(basket(*lines), [*promotions, absent])
    assert replace(with_it, not_applied=without.not_applied) == without
    assert with_it.not_applied[0].promotion_id == "p_absent"
