"""The promotion engine, pure: a basket and the promotions in force in, a priced basket out.

No I/O, no clock, no database: every channel (web, app, till, call centre, marketplace) prices
through ``price_basket`` and so gets the same answer for the same basket, unless a promotion
names the channel. The rules, in order (docs/promotions.md says the same in prose):

1. Promotions are tried by ``priority`` (higher first), then by id (older first).
2. Each one is checked against the context (channel, store, territory, segments, tier, date
   window, coupon, first order, currency, subtotal threshold before any discount) and the lines
   it targets (SKUs / categories, minimum quantity). A promotion that does not apply changes
   nothing; the priced basket says why (``not_applied``).
3. Stacking: promotions apply one after the other, each on what is left of a line after those
   before it. An ``exclusive`` promotion takes the lines it targets: no later promotion touches
   them. A non-``stackable`` promotion never combines with another non-stackable one (the first
   in priority order wins). Nothing is ever discounted below zero.
4. Rounding: a promotion's amount is computed exactly (fractions), rounded once, half to even,
   to the minor unit, then split over its lines by the largest remainder (ties to the earlier
   line). So the line shares of a promotion add up to its amount, to the cent, always.
5. Line promotions lower the line's total; basket promotions (``scope = basket``) are listed
   apart, with the share of each line for refunds: total = Σ line totals - Σ basket discounts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money


class ActionKind(StrEnum):
    PERCENT_OFF = "percent_off"  # percent off the targeted lines, or off the basket
    AMOUNT_OFF = "amount_off"  # per targeted unit (scope lines), or once (scope basket)
    FIXED_PRICE = "fixed_price"  # each targeted unit sold at price_minor
    BUY_X_GET_Y = "buy_x_get_y"  # for every buy + get units, the get cheapest at percent off
    FREE_SHIPPING = "free_shipping"
    BONUS_POINTS = "bonus_points"  # loyalty points the loyalty context credits on the order


class Scope(StrEnum):
    LINES = "lines"
    BASKET = "basket"


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    scope: Scope = Scope.LINES
    percent: Decimal = Decimal(0)  # 0 < percent <= 100 (buy X get Y: 100 = free)
    amount_minor: int = 0
    price_minor: int = 0
    buy: int = 0
    get: int = 0
    points: int = 0


@dataclass(frozen=True, slots=True)
class Conditions:
    """All given conditions must hold; an empty set means "any"."""

    channels: frozenset[str] = frozenset()
    stores: frozenset[str] = frozenset()
    territories: frozenset[str] = frozenset()
    segments: frozenset[str] = frozenset()  # the customer is in at least one
    tiers: frozenset[str] = frozenset()
    skus: frozenset[str] = frozenset()  # targeted lines: SKU in skus or category in categories
    categories: frozenset[str] = frozenset()
    min_quantity: int = 0  # targeted units in the basket
    min_subtotal_minor: int = 0  # basket subtotal before discounts
    starts_at: datetime | None = None  # UTC, inclusive
    ends_at: datetime | None = None  # UTC, exclusive
    coupon: str | None = None  # upper case
    first_order: bool = False


@dataclass(frozen=True, slots=True)
class Promotion:
    id: str
    name: str
    actions: tuple[Action, ...]
    conditions: Conditions = field(default_factory=Conditions)
    priority: int = 0
    exclusive: bool = False
    stackable: bool = True
    currency: str | None = None  # amounts and thresholds are in it; None: percent-only


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    at: datetime
    channel: str
    store_id: str | None = None
    territory: str | None = None
    segments: frozenset[str] = frozenset()
    tier: str | None = None
    coupons: frozenset[str] = frozenset()  # upper case
    first_order: bool = False
    shipping_minor: int = 0


@dataclass(frozen=True, slots=True)
class Basket:
    currency: str
    lines: tuple[Line, ...]
    context: Context


@dataclass(frozen=True, slots=True)
class Discount:
    promotion_id: str
    name: str
    amount_minor: int
    explanation: str


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    category: str | None
    quantity: int
    unit_price_minor: int
    subtotal_minor: int
    discounts: tuple[Discount, ...]
    total_minor: int  # subtotal - line discounts (basket discounts are apart)
    basket_share_minor: int  # this line's share of the basket discounts (refunds)

    @property
    def discount_minor(self) -> int:
        return self.subtotal_minor - self.total_minor


@dataclass(frozen=True, slots=True)
class BasketDiscount:
    promotion_id: str
    name: str
    amount_minor: int
    explanation: str
    shares: tuple[int, ...]  # per line, in line order; they add up to amount_minor


@dataclass(frozen=True, slots=True)
class Applied:
    promotion_id: str
    name: str
    discount_minor: int
    bonus_points: int
    free_shipping: bool
    coupon: str | None


@dataclass(frozen=True, slots=True)
class NotApplied:
    promotion_id: str
    name: str
    reason: str


@dataclass(frozen=True, slots=True)
class PricedBasket:
    currency: str
    lines: tuple[PricedLine, ...]
    basket_discounts: tuple[BasketDiscount, ...]
    subtotal_minor: int  # before any discount
    discount_minor: int  # line + basket discounts
    total_minor: int  # goods, after discounts
    shipping_minor: int  # after free shipping
    shipping_discount_minor: int
    grand_total_minor: int  # total + shipping
    bonus_points: int
    free_shipping: bool
    applied: tuple[Applied, ...]
    not_applied: tuple[NotApplied, ...]


# ---------------------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------------------


def split(exact: Sequence[Fraction]) -> list[int]:
    """Round the exact total once (half to even), then share it by the largest remainder.

    Each share is within 1 of its exact value and never above the ceiling of it, so a share
    never exceeds a cap that its exact value respected."""
    total = round(sum(exact, Fraction(0)))
    floors = [int(x.numerator // x.denominator) for x in exact]
    extra = total - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:extra]:
        floors[i] += 1
    return floors


def _rate(percent: Decimal) -> Fraction:
    return Fraction(percent) / 100


def _money(minor: int, currency: str) -> str:
    return str(Money(minor, currency))


# ---------------------------------------------------------------------------------------------
# Conditions
# ---------------------------------------------------------------------------------------------


def _names(values: frozenset[str]) -> str:
    return ", ".join(sorted(values))


def context_refusal(p: Promotion, basket: Basket, subtotal: int) -> str | None:
    """Why the basket's context rules ``p`` out, or None."""
    c, ctx = p.conditions, basket.context
    if c.starts_at is not None and ctx.at < c.starts_at:
        return f"starts at {c.starts_at.isoformat()}"
    if c.ends_at is not None and ctx.at >= c.ends_at:
        return f"ended at {c.ends_at.isoformat()}"
    if p.currency is not None and p.currency != basket.currency:
        return f"applies to {p.currency} baskets only"
    if c.channels and ctx.channel not in c.channels:
        return f"only on channel(s) {_names(c.channels)}"
    if c.stores and ctx.store_id not in c.stores:
        return f"only in store(s) {_names(c.stores)}"
    if c.territories and ctx.territory not in c.territories:
        return f"only in territory(ies) {_names(c.territories)}"
    if c.segments and not c.segments & ctx.segments:
        return f"for customers in segment(s) {_names(c.segments)}"
    if c.tiers and ctx.tier not in c.tiers:
        return f"for loyalty tier(s) {_names(c.tiers)}"
    if c.coupon is not None and c.coupon not in ctx.coupons:
        return "needs its coupon code"
    if c.first_order and not ctx.first_order:
        return "for a customer's first order only"
    if subtotal < c.min_subtotal_minor:
        need = _money(c.min_subtotal_minor, basket.currency)
        return (
            f"needs a basket of at least {need} (this one is {_money(subtotal, basket.currency)})"
        )
    return None


def targets(p: Promotion, line: Line) -> bool:
    c = p.conditions
    if not c.skus and not c.categories:
        return True
    return line.sku in c.skus or (line.category is not None and line.category in c.categories)


# ---------------------------------------------------------------------------------------------
# Actions
# ---------------------------------------------------------------------------------------------


def _explain(a: Action, currency: str) -> str:
    if a.kind is ActionKind.PERCENT_OFF:
        return f"{a.percent.normalize():f}% off" + (
            " the basket" if a.scope is Scope.BASKET else ""
        )
    if a.kind is ActionKind.AMOUNT_OFF:
        each = " the basket" if a.scope is Scope.BASKET else " each"
        return f"{_money(a.amount_minor, currency)} off{each}"
    if a.kind is ActionKind.FIXED_PRICE:
        return f"at {_money(a.price_minor, currency)} each"
    if a.kind is ActionKind.BUY_X_GET_Y:
        off = "free" if a.percent == 100 else f"{a.percent.normalize():f}% off"
        return f"buy {a.buy} get {a.get} {off} (cheapest)"
    if a.kind is ActionKind.FREE_SHIPPING:
        return "free shipping"
    return f"{a.points} bonus points"


def _line_exact(
    a: Action, lines: Sequence[Line], left: Sequence[int], idx: list[int]
) -> list[Fraction]:
    """The exact discount of a line action on each targeted line (each ≤ what is left)."""
    if a.kind is ActionKind.PERCENT_OFF:
        rate = _rate(a.percent)
        return [left[i] * rate for i in idx]
    if a.kind is ActionKind.AMOUNT_OFF:
        return [Fraction(min(left[i], a.amount_minor * lines[i].quantity)) for i in idx]
    if a.kind is ActionKind.FIXED_PRICE:
        return [Fraction(max(0, left[i] - a.price_minor * lines[i].quantity)) for i in idx]
    # buy X get Y: the cheapest units (by what is left per unit) get the discount
    units = sum(lines[i].quantity for i in idx)
    free = units // (a.buy + a.get) * a.get
    by_price = sorted(idx, key=lambda i: (Fraction(left[i], lines[i].quantity), i))
    taken: dict[int, int] = {}
    for i in by_price:
        if free <= 0:
            break
        taken[i] = min(free, lines[i].quantity)
        free -= taken[i]
    rate = _rate(a.percent)
    return [Fraction(left[i] * taken.get(i, 0), lines[i].quantity) * rate for i in idx]


@dataclass
class _State:
    lines: tuple[Line, ...]
    line_discounts: list[list[Discount]]
    line_total: list[int]
    left: list[int]  # line total minus basket shares: what later promotions may still take
    taken_by: dict[int, str]  # line index -> exclusive promotion that holds it
    basket_discounts: list[BasketDiscount] = field(default_factory=list)
    applied: list[Applied] = field(default_factory=list)
    not_applied: list[NotApplied] = field(default_factory=list)
    non_stackable: Promotion | None = None
    points: int = 0
    free_shipping: bool = False


def _apply(p: Promotion, st: _State, idx: list[int], currency: str) -> tuple[int, int, bool]:
    """Apply ``p``'s actions on lines ``idx``; returns (discount, points, free shipping)."""
    discount, points, free_shipping = 0, 0, False
    for a in p.actions:
        if a.kind is ActionKind.FREE_SHIPPING:
            free_shipping = True
            continue
        if a.kind is ActionKind.BONUS_POINTS:
            points += a.points
            continue
        text = _explain(a, currency)
        if a.scope is Scope.BASKET and a.kind in (ActionKind.PERCENT_OFF, ActionKind.AMOUNT_OFF):
            base = sum(st.left[i] for i in idx)
            if base == 0:
                continue
            if a.kind is ActionKind.PERCENT_OFF:
                amount = round(base * _rate(a.percent))
            else:
                amount = min(a.amount_minor, base)
            shares = split([Fraction(amount * st.left[i], base) for i in idx])
            full = [0] * len(st.lines)
            for i, share in zip(idx, shares, strict=True):
                full[i] = share
                st.left[i] -= share
            if amount:
                st.basket_discounts.append(BasketDiscount(p.id, p.name, amount, text, tuple(full)))
            discount += amount
            continue
        shares = split(_line_exact(a, st.lines, st.left, idx))
        for i, share in zip(idx, shares, strict=True):
            if share:
                st.line_discounts[i].append(Discount(p.id, p.name, share, text))
                st.line_total[i] -= share
                st.left[i] -= share
        discount += sum(shares)
    return discount, points, free_shipping


def _try(p: Promotion, basket: Basket, st: _State, subtotal: int) -> str | None:
    """Apply ``p`` if it can; returns why it did not, or None when it applied."""
    refusal = context_refusal(p, basket, subtotal)
    if refusal:
        return refusal
    targeted = [i for i, line in enumerate(st.lines) if targets(p, line)]
    if not targeted:
        return "no line of the basket is one of its products"
    idx = [i for i in targeted if i not in st.taken_by]
    if not idx:
        holder = st.taken_by[targeted[0]]
        return f"its lines are held by exclusive promotion {holder}"
    units = sum(st.lines[i].quantity for i in idx)
    c = p.conditions
    if units < c.min_quantity:
        return f"needs {c.min_quantity} of its items (the basket has {units})"
    if not p.stackable and st.non_stackable is not None:
        return f"does not combine with {st.non_stackable.id} ({st.non_stackable.name})"
    buy_get = [a for a in p.actions if a.kind is ActionKind.BUY_X_GET_Y]
    if buy_get and units < buy_get[0].buy + buy_get[0].get:
        return f"needs {buy_get[0].buy + buy_get[0].get} of its items (the basket has {units})"
    discount, points, free_shipping = _apply(p, st, idx, basket.currency)
    if discount == 0 and points == 0 and not free_shipping:
        return "gives nothing on this basket (already at or below its price)"
    if p.exclusive:
        for i in idx:
            st.taken_by[i] = p.id
    if not p.stackable:
        st.non_stackable = p
    st.points += points
    st.free_shipping = st.free_shipping or free_shipping
    st.applied.append(Applied(p.id, p.name, discount, points, free_shipping, c.coupon))
    return None


def price_basket(basket: Basket, promotions: Sequence[Promotion]) -> PricedBasket:
    """Price ``basket`` with ``promotions`` (any order: they are sorted by priority, then id)."""
    lines = basket.lines
    subtotals = [line.unit_price_minor * line.quantity for line in lines]
    subtotal = sum(subtotals)
    st = _State(
        lines=lines,
        line_discounts=[[] for _ in lines],
        line_total=list(subtotals),
        left=list(subtotals),
        taken_by={},
    )
    for p in sorted(promotions, key=lambda p: (-p.priority, p.id)):
        reason = _try(p, basket, st, subtotal)
        if reason is not None:
            st.not_applied.append(NotApplied(p.id, p.name, reason))
    priced = tuple(
        PricedLine(
            sku=line.sku,
            category=line.category,
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            subtotal_minor=subtotals[i],
            discounts=tuple(st.line_discounts[i]),
            total_minor=st.line_total[i],
            basket_share_minor=st.line_total[i] - st.left[i],
        )
        for i, line in enumerate(lines)
    )
    basket_off = sum(d.amount_minor for d in st.basket_discounts)
    total = sum(st.line_total) - basket_off
    shipping_in = basket.context.shipping_minor
    shipping = 0 if st.free_shipping else shipping_in
    return PricedBasket(
        currency=basket.currency,
        lines=priced,
        basket_discounts=tuple(st.basket_discounts),
        subtotal_minor=subtotal,
        discount_minor=subtotal - total,
        total_minor=total,
        shipping_minor=shipping,
        shipping_discount_minor=shipping_in - shipping,
        grand_total_minor=total + shipping,
        bonus_points=st.points,
        free_shipping=st.free_shipping,
        applied=tuple(st.applied),
        not_applied=tuple(st.not_applied),
    )


def discounts_by_promotion(priced: PricedBasket) -> Mapping[str, int]:
    return {a.promotion_id: a.discount_minor for a in priced.applied}


# ---------------------------------------------------------------------------------------------
# Definitions: checked once when saved, stored as JSON
# ---------------------------------------------------------------------------------------------


def check_action(a: Action, *, currency: str | None, field: str) -> Action:
    def bad(detail: str) -> InvalidInput:
        return InvalidInput(detail, field=field)

    if a.kind in (ActionKind.PERCENT_OFF, ActionKind.BUY_X_GET_Y) and not 0 < a.percent <= 100:
        raise bad("percent must be above 0 and at most 100 (100 = free).")
    money = {ActionKind.AMOUNT_OFF: a.amount_minor, ActionKind.FIXED_PRICE: a.price_minor}
    if a.kind in money:
        if currency is None:
            raise bad(f"A {a.kind.value} action is an amount: give the promotion's currency.")
        if money[a.kind] < 0 or (a.kind is ActionKind.AMOUNT_OFF and money[a.kind] == 0):
            raise bad("The amount must be positive.")
    if a.kind is ActionKind.BUY_X_GET_Y:
        if a.buy < 1 or a.get < 1:
            raise bad("buy and get must both be at least 1 (buy 2 get 1 = 3 for 2).")
        if a.scope is Scope.BASKET:
            raise bad("buy X get Y works on lines; use scope 'lines'.")
    if a.kind is ActionKind.FIXED_PRICE and a.scope is Scope.BASKET:
        raise bad("A fixed price is per item; use scope 'lines'.")
    if a.kind is ActionKind.BONUS_POINTS and a.points < 1:
        raise bad("bonus_points needs points of at least 1.")
    return a


def check_conditions(c: Conditions, *, currency: str | None) -> Conditions:
    if c.starts_at is not None and c.ends_at is not None and c.ends_at <= c.starts_at:
        raise InvalidInput("ends_at must be after starts_at.", field="conditions.ends_at")
    for name in ("starts_at", "ends_at"):
        value = getattr(c, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a UTC offset (e.g. Z).", field=f"conditions.{name}")
    if c.min_quantity < 0 or c.min_subtotal_minor < 0:
        raise InvalidInput("Minimums cannot be negative.", field="conditions")
    if c.min_subtotal_minor and currency is None:
        raise InvalidInput(
            "A subtotal threshold is an amount: give the promotion's currency.",
            field="conditions.min_subtotal",
        )
    return c


def check_promotion(p: Promotion) -> Promotion:
    if not p.actions:
        raise InvalidInput("A promotion needs at least one action.", field="actions")
    for n, a in enumerate(p.actions):
        check_action(a, currency=p.currency, field=f"actions[{n}]")
    check_conditions(p.conditions, currency=p.currency)
    return p


def action_to_json(a: Action) -> dict[str, object]:
    return {
        "kind": a.kind.value,
        "scope": a.scope.value,
        "percent": str(a.percent),
        "amount_minor": a.amount_minor,
        "price_minor": a.price_minor,
        "buy": a.buy,
        "get": a.get,
        "points": a.points,
    }


def action_from_json(data: Mapping[str, object]) -> Action:
    def num(key: str) -> int:
        value = data.get(key, 0)
        return value if isinstance(value, int) else 0

    return Action(
        kind=ActionKind(str(data["kind"])),
        scope=Scope(str(data.get("scope", "lines"))),
        percent=Decimal(str(data.get("percent", "0"))),
        amount_minor=num("amount_minor"),
        price_minor=num("price_minor"),
        buy=num("buy"),
        get=num("get"),
        points=num("points"),
    )


_SETS = ("channels", "stores", "territories", "segments", "tiers", "skus", "categories")


def conditions_to_json(c: Conditions) -> dict[str, object]:
    data: dict[str, object] = {name: sorted(getattr(c, name)) for name in _SETS}
    data.update(
        min_quantity=c.min_quantity,
        min_subtotal_minor=c.min_subtotal_minor,
        first_order=c.first_order,
    )
    return data


def conditions_from_json(
    data: Mapping[str, object],
    *,
    starts_at: datetime | None,
    ends_at: datetime | None,
    coupon: str | None,
) -> Conditions:
    def texts(key: str) -> frozenset[str]:
        value = data.get(key) or []
        return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()

    def num(key: str) -> int:
        value = data.get(key, 0)
        return value if isinstance(value, int) else 0

    return Conditions(
        channels=texts("channels"),
        stores=texts("stores"),
        territories=texts("territories"),
        segments=texts("segments"),
        tiers=texts("tiers"),
        skus=texts("skus"),
        categories=texts("categories"),
        min_quantity=num("min_quantity"),
        min_subtotal_minor=num("min_subtotal_minor"),
        starts_at=starts_at,
        ends_at=ends_at,
        coupon=coupon,
        first_order=bool(data.get("first_order", False)),
    )


def normalise_coupon(code: str) -> str:
    return code.strip().upper()
