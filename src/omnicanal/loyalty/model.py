"""Loyalty domain: the earn rules, tiers, expiry and the lots a burn consumes. Pure: no I/O.

One account per customer profile and one points ledger for every channel. The ledger is
append-only movements (earn, burn, reverse, expire, adjust); each earn is a *lot* with the
points it still holds and the date they expire; a burn takes the nearest-expiry lots first.
Points are whole numbers; money is integer minor units with a currency.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from fractions import Fraction

from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import exponent


class MovementKind(StrEnum):
    EARN = "earn"
    BURN = "burn"
    REVERSE = "reverse"  # an earn taken back (cancel, return) or a burn given back (refund)
    EXPIRE = "expire"
    ADJUST = "adjust"  # by head office, or the forfeit at erasure


class RefType(StrEnum):
    """What a movement's ``ref_id`` names. A reference is never a bare id: till sale "42" and
    web order "42" are two references (Odoo mixed them up)."""

    ORDER = "order"  # an omnicanal order (ord_…) or a channel's own order number
    TILL_SALE = "till_sale"  # a sale synced by a till, by the till's own ticket number
    RETURN = "return"  # a return (ret_… or the channel's return number)
    REDEMPTION = "redemption"  # lyr_…
    ADJUSTMENT = "adjustment"  # the caller's reference for a manual adjustment
    EXPIRY = "expiry"  # the lot (lym_…) that expired
    ERASURE = "erasure"  # the erased profile's account (lya_…)


PURCHASE_REF_TYPES = frozenset({RefType.ORDER, RefType.TILL_SALE})


class Tier(StrEnum):
    BASIC = "basic"
    SILVER = "silver"
    GOLD = "gold"
    PLATINUM = "platinum"


# Rolling spend over TIER_WINDOW, in EUR minor units, to reach each tier (checked highest first).
TIER_CURRENCY = "EUR"
TIER_WINDOW = timedelta(days=365)
TIER_THRESHOLDS: tuple[tuple[Tier, int], ...] = (
    (Tier.PLATINUM, 3000_00),
    (Tier.GOLD, 1000_00),
    (Tier.SILVER, 300_00),
)
TIER_MULTIPLIERS: Mapping[Tier, Fraction] = {
    Tier.BASIC: Fraction(1),
    Tier.SILVER: Fraction(5, 4),
    Tier.GOLD: Fraction(3, 2),
    Tier.PLATINUM: Fraction(2),
}

EXPIRY_MONTHS = 24
POINTS_PER_REDEEM_UNIT = 100  # 100 points = 1 unit of the currency (1.00 EUR): 1 point = 1 cent
MAX_POINTS_PER_MOVEMENT = 10_000_000


def tier_for_spend(spend_minor: int) -> Tier:
    for tier, threshold in TIER_THRESHOLDS:
        if spend_minor >= threshold:
            return tier
    return Tier.BASIC


@dataclass(frozen=True, slots=True)
class EarnLine:
    sku: str
    quantity: int
    unit_price_minor: int
    category: str | None = None

    @property
    def amount_minor(self) -> int:
        return self.quantity * self.unit_price_minor


@dataclass(frozen=True)
class EarnRules:
    """1 point per whole currency unit spent (1 per euro), times the category multiplier of each
    line (gift cards earn nothing), times the tier multiplier, rounded down; then the bonus points
    a promotion granted are added as given."""

    points_per_unit: int = 1
    category_multipliers: Mapping[str, Fraction] = field(
        default_factory=lambda: {"gift-cards": Fraction(0)}
    )
    tier_multipliers: Mapping[Tier, Fraction] = field(default_factory=lambda: TIER_MULTIPLIERS)


DEFAULT_RULES = EarnRules()


@dataclass(frozen=True, slots=True)
class EarnQuote:
    points: int
    base_points: int  # before the tier multiplier and the bonus
    eligible_minor: int  # the spend points were earned on
    tier: Tier
    multiplier: Fraction
    bonus_points: int


def check_points(points: int, *, field: str = "points") -> int:
    if isinstance(points, bool) or not isinstance(points, int) or points <= 0:
        raise InvalidInput(f"{field} must be a whole number of points, at least 1.", field=field)
    if points > MAX_POINTS_PER_MOVEMENT:
        raise InvalidInput(
            f"{field}: at most {MAX_POINTS_PER_MOVEMENT} points per movement.", field=field
        )
    return points


def quote_earn(
    *,
    lines: Sequence[EarnLine],
    amount_minor: int,
    currency: str,
    tier: Tier,
    bonus_points: int = 0,
    rules: EarnRules = DEFAULT_RULES,
) -> EarnQuote:
    """Points for a purchase. Without lines, ``amount_minor`` earns at the base rate; with lines,
    their amounts (capped at ``amount_minor``, the amount actually paid) do."""
    if amount_minor < 0:
        raise InvalidInput("amount must not be negative.", field="amount")
    if bonus_points < 0:
        raise InvalidInput("bonus_points must not be negative.", field="bonus_points")
    unit: int = 10 ** exponent(currency)
    if lines:
        weighted = sum(
            (
                line.amount_minor * rules.category_multipliers.get(line.category or "", Fraction(1))
                for line in lines
            ),
            Fraction(0),
        )
        gross = sum(line.amount_minor for line in lines)
        if gross > amount_minor and gross > 0:  # a discount was given: earn on what was paid
            weighted = weighted * Fraction(amount_minor, gross)
        eligible = Fraction(weighted)
    else:
        eligible = Fraction(amount_minor)
    base = eligible * rules.points_per_unit / unit
    multiplier = rules.tier_multipliers.get(tier, Fraction(1))
    points = int(base * multiplier) + bonus_points
    return EarnQuote(
        points=points,
        base_points=int(base),
        eligible_minor=int(eligible),
        tier=tier,
        multiplier=multiplier,
        bonus_points=bonus_points,
    )


def redemption_value_minor(points: int, currency: str) -> int:
    """The money ``points`` pay for: 100 points = 1 currency unit, rounded down."""
    unit: int = 10 ** exponent(currency)
    return points * unit // POINTS_PER_REDEEM_UNIT


def add_months(moment: datetime, months: int) -> datetime:
    """Same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    total = moment.month - 1 + months
    year, month = moment.year + total // 12, total % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expiry_of(earned_at: datetime, months: int = EXPIRY_MONTHS) -> datetime:
    return add_months(earned_at, months)


def share_of(points: int, part_minor: int, whole_minor: int) -> int:
    """The points that ``part`` of a purchase of ``whole`` earned (rounded down)."""
    if whole_minor <= 0 or part_minor <= 0:
        return 0
    return points * min(part_minor, whole_minor) // whole_minor


@dataclass(frozen=True, slots=True)
class Lot:
    """An earn movement seen as a lot: the points it still holds and when they expire."""

    id: str
    remaining: int
    expires_at: datetime


def take_from_lots(
    lots: Iterable[Lot], points: int, *, first: str | None = None
) -> list[tuple[str, int]]:
    """Which lots a burn of ``points`` consumes: nearest expiry first (then oldest id); a
    reversal takes from ``first`` (the lot the reversed purchase earned) before the others.
    Raises ``ValueError`` when the lots hold fewer points: the caller checks the balance first."""
    taken: list[tuple[str, int]] = []
    left = points
    for lot in sorted(lots, key=lambda lot: (lot.id != first, lot.expires_at, lot.id)):
        if left == 0:
            break
        if lot.remaining <= 0:
            continue
        used = min(lot.remaining, left)
        taken.append((lot.id, used))
        left -= used
    if left:
        raise ValueError(f"lots hold {points - left} points, {points} asked")
    return taken
