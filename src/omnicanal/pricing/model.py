"""Pricing domain: price overrides on top of the catalogue's base price, and the one rule that
decides what a given channel, store or territory pays. Pure: no I/O.

Precedence (most specific scope wins): an override naming a store beats one naming a territory,
which beats one naming a channel; an override naming more dimensions beats one naming fewer at
the same top level (store+channel > store > territory+channel > territory > channel). Among
overrides of equal specificity the latest ``valid_from`` wins, then the latest id (ids sort by
creation time). No applicable override: the base price.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money

# The sales channels a price is quoted on (admin keys are head office, not a channel).
SALES_CHANNELS = ("web", "app", "pos", "callcenter", "marketplace")
TERRITORY_PATTERN = re.compile(r"[A-Z0-9-]{1,40}")
MAX_NOTE = 500
MAX_OWNER = 120


class Reason(StrEnum):
    """Why a price differs from the base price (documented in docs/pricing.md)."""

    CLEARANCE = "clearance"  # end of line, sell the remaining stock
    LOCAL_COMPETITION = "local_competition"  # match a competitor near a store or in a territory
    MARKETPLACE_FEE = "marketplace_fee"  # pass a marketplace's commission on
    STORE_CLOSING = "store_closing"  # a store sells off before it closes
    PRICE_TEST = "price_test"  # a time-boxed test of another price


# Structural reasons may stay in force until someone ends them; the others are episodes and
# must say when they end.
OPEN_ENDED_REASONS = frozenset({Reason.LOCAL_COMPETITION, Reason.MARKETPLACE_FEE})


def check_channel(value: str, *, field: str = "channel") -> str:
    if value not in SALES_CHANNELS:
        raise InvalidInput(
            f"Unknown sales channel {value!r}; use one of {', '.join(SALES_CHANNELS)}.",
            field=field,
        )
    return value


def check_territory(value: str, *, field: str = "territory") -> str:
    code = value.strip().upper()
    if not TERRITORY_PATTERN.fullmatch(code):
        raise InvalidInput(
            f"Territory {value!r} is invalid: use 1 to 40 capital letters, digits and '-' "
            "(e.g. FR-COR), as on the store's location.",
            field=field,
        )
    return code


@dataclass(frozen=True, slots=True)
class PriceScope:
    """Where an override applies: any combination of a channel, a store and a territory."""

    channel: str | None = None
    store_id: str | None = None
    territory: str | None = None

    @classmethod
    def parse(
        cls, *, channel: str | None, store_id: str | None, territory: str | None
    ) -> PriceScope:
        if channel is None and store_id is None and territory is None:
            raise InvalidInput(
                "An override needs a scope: a channel, a store_id, a territory or a "
                "combination; to change the price everywhere, set the base price with "
                "PUT /v1/prices/{sku}/{currency}.",
                field="channel",
            )
        return cls(
            channel=check_channel(channel) if channel is not None else None,
            store_id=store_id.strip() if store_id is not None else None,
            territory=check_territory(territory) if territory is not None else None,
        )

    @property
    def specificity(self) -> tuple[bool, bool, bool]:
        """Compared lexicographically: store, then territory, then channel."""
        return (self.store_id is not None, self.territory is not None, self.channel is not None)

    def matches(self, context: PriceContext) -> bool:
        return (
            (self.channel is None or self.channel == context.channel)
            and (self.store_id is None or self.store_id == context.store_id)
            and (self.territory is None or self.territory == context.territory)
        )

    @property
    def label(self) -> str:
        parts = [
            f"{name}={value}"
            for name, value in (
                ("store", self.store_id),
                ("territory", self.territory),
                ("channel", self.channel),
            )
            if value is not None
        ]
        return "+".join(parts) or "base"


@dataclass(frozen=True, slots=True)
class Justification:
    reason: Reason
    owner: str  # who decided: a person or a team, as the retailer names them
    note: str = ""

    @classmethod
    def parse(cls, *, reason: str | None, owner: str | None, note: str | None) -> Justification:
        if reason is None:
            raise InvalidInput(
                "A price override must say why: reason is one of "
                f"{', '.join(r.value for r in Reason)}.",
                field="reason",
            )
        try:
            parsed = Reason(reason)
        except ValueError:
            raise InvalidInput(
                f"Unknown reason {reason!r}; use one of {', '.join(r.value for r in Reason)} "
                "and explain further in note.",
                field="reason",
            ) from None
        who = (owner or "").strip()
        if not who or len(who) > MAX_OWNER:
            raise InvalidInput(
                f"A price override must name its owner (who decided it), 1 to {MAX_OWNER} "
                "characters.",
                field="owner",
            )
        text = (note or "").strip()
        if len(text) > MAX_NOTE:
            raise InvalidInput(f"note is limited to {MAX_NOTE} characters.", field="note")
        return cls(reason=parsed, owner=who, note=text)


@dataclass(frozen=True, slots=True)
class Window:
    """``valid_from <= at < valid_until``; ``valid_until`` None is open-ended."""

    valid_from: datetime
    valid_until: datetime | None = None

    def contains(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_until is None or at < self.valid_until)


def check_window(window: Window, reason: Reason | None) -> Window:
    for name, value in (("valid_from", window.valid_from), ("valid_until", window.valid_until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (UTC: ...Z).", field=name)
    if window.valid_until is not None and window.valid_until <= window.valid_from:
        raise InvalidInput("valid_until must be after valid_from.", field="valid_until")
    if window.valid_until is None and reason is not None and reason not in OPEN_ENDED_REASONS:
        raise InvalidInput(
            f"An override for {reason.value} must end: give valid_until. Only "
            f"{', '.join(sorted(r.value for r in OPEN_ENDED_REASONS))} may be open-ended.",
            field="valid_until",
        )
    return window


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """A price for one SKU in one scope. ``justification`` None: imported from a legacy system
    without one; it applies (it is what is being charged) but the audit flags it."""

    id: str
    sku: str
    price: Money
    scope: PriceScope
    window: Window
    justification: Justification | None

    @property
    def justified(self) -> bool:
        return self.justification is not None


@dataclass(frozen=True, slots=True)
class PriceContext:
    """Who is buying through what: the inputs of a price."""

    channel: str
    at: datetime
    store_id: str | None = None
    territory: str | None = None


@dataclass(frozen=True, slots=True)
class AppliedOverride:
    id: str
    scope: PriceScope
    reason: Reason | None
    owner: str | None
    window: Window
    justified: bool

    @classmethod
    def of(cls, override: PriceOverride) -> AppliedOverride:
        j = override.justification
        return cls(
            id=override.id,
            scope=override.scope,
            reason=j.reason if j else None,
            owner=j.owner if j else None,
            window=override.window,
            justified=override.justified,
        )


@dataclass(frozen=True, slots=True)
class PriceQuote:
    sku: str
    price: Money  # what this context pays
    base: Money
    override: AppliedOverride | None  # None: the base price

    @property
    def amount(self) -> Money:
        return self.price

    @property
    def differs(self) -> bool:
        return self.price != self.base


def precedence(override: PriceOverride) -> tuple[tuple[bool, bool, bool], datetime, str]:
    return (override.scope.specificity, override.window.valid_from, override.id)


def applicable(
    overrides: Iterable[PriceOverride], *, sku: str, currency: str, context: PriceContext
) -> list[PriceOverride]:
    return [
        o
        for o in overrides
        if o.sku == sku
        and o.price.currency == currency
        and o.window.contains(context.at)
        and o.scope.matches(context)
    ]


def resolve(
    sku: str, base: Money, overrides: Iterable[PriceOverride], context: PriceContext
) -> PriceQuote:
    """The price ``context`` pays for ``sku``: the most specific override in force, else base."""
    candidates = applicable(overrides, sku=sku, currency=base.currency, context=context)
    if not candidates:
        return PriceQuote(sku=sku, price=base, base=base, override=None)
    winner = max(candidates, key=precedence)
    return PriceQuote(sku=sku, price=winner.price, base=base, override=AppliedOverride.of(winner))


# --- consistency audit ------------------------------------------------------------------------


class DifferenceSource(StrEnum):
    OVERRIDE = "override"  # a rule makes this context pay another price than the base
    OBSERVATION = "observation"  # a channel reported charging a price the rules do not give


@dataclass(frozen=True, slots=True)
class Observation:
    """A price a channel (a till, a shelf label, a marketplace listing) reports it charged."""

    id: str
    sku: str
    price: Money
    channel: str
    store_id: str | None
    territory: str | None  # the store's, looked up when the observation is audited
    observed_at: datetime


@dataclass(frozen=True, slots=True)
class Difference:
    """One context whose price is not the base price, and whether a justification covers it."""

    sku: str
    base: Money
    price: Money  # what the context pays (override) or was charged (observation)
    expected: Money  # what the rules say it should pay
    source: DifferenceSource
    store_id: str | None
    territory: str | None
    channels: tuple[str, ...]
    override: AppliedOverride | None
    justified: bool
    problem: str | None  # why it is not justified; None when it is
    observation_id: str | None = None
    observed_at: datetime | None = None

    @property
    def currency(self) -> str:
        return self.base.currency

    @property
    def key(self) -> str:
        """Stable identity of the difference: the audit flags it once until it changes."""
        if self.source is DifferenceSource.OBSERVATION:
            where = f"{self.channels[0]}|{self.store_id or '-'}"
        else:
            where = f"{self.override.id if self.override else '-'}|{self.store_id or '-'}"
            where += f"|{self.territory or '-'}"
        return f"{self.source.value}|{self.sku}|{self.currency}|{where}"

    @property
    def signature(self) -> str:
        """What the flag says; a change of any part is flagged again."""
        return (
            f"{self.price.minor}|{self.expected.minor}|{self.base.minor}|"
            f"{','.join(self.channels)}|{int(self.justified)}"
        )


def override_differences(
    sku: str,
    base: Money,
    overrides: Iterable[PriceOverride],
    *,
    at: datetime,
    store_territories: dict[str, str | None],
) -> list[Difference]:
    """Every context (channel x the stores and territories overrides name) whose price at ``at``
    is not the base price, with the override that decides it; contexts that resolve alike are
    listed once with their channels."""
    active = [
        o
        for o in overrides
        if o.sku == sku and o.price.currency == base.currency and o.window.contains(at)
    ]
    places: set[tuple[str | None, str | None]] = {(None, None)}
    for o in active:
        store = o.scope.store_id
        territory = o.scope.territory or (store_territories.get(store) if store else None)
        places.add((store, territory))
    grouped: dict[tuple[str | None, str | None, str, int], list[str]] = {}
    quotes: dict[tuple[str | None, str | None, str, int], PriceQuote] = {}
    for store, territory in sorted(places, key=lambda p: (p[0] or "", p[1] or "")):
        for channel in SALES_CHANNELS:
            context = PriceContext(channel=channel, at=at, store_id=store, territory=territory)
            quote = resolve(sku, base, active, context)
            if quote.override is None or not quote.differs:
                continue
            group = (store, territory, quote.override.id, quote.price.minor)
            grouped.setdefault(group, []).append(channel)
            quotes[group] = quote
    found = []
    for group, channels in grouped.items():
        quote = quotes[group]
        applied = quote.override
        assert applied is not None
        found.append(
            Difference(
                sku=sku,
                base=base,
                price=quote.price,
                expected=quote.price,
                source=DifferenceSource.OVERRIDE,
                store_id=group[0],
                territory=group[1],
                channels=tuple(channels),
                override=applied,
                justified=applied.justified,
                problem=None
                if applied.justified
                else "imported without a justification; approve it (PATCH reason, owner and "
                "valid_until) or end it",
            )
        )
    return found


def observation_difference(
    observation: Observation, base: Money, overrides: Iterable[PriceOverride]
) -> Difference | None:
    """The observation's price against what the rules gave its context at that instant."""
    context = PriceContext(
        channel=observation.channel,
        at=observation.observed_at,
        store_id=observation.store_id,
        territory=observation.territory,
    )
    quote = resolve(observation.sku, base, overrides, context)
    if observation.price == quote.price:
        return None
    return Difference(
        sku=observation.sku,
        base=base,
        price=observation.price,
        expected=quote.price,
        source=DifferenceSource.OBSERVATION,
        store_id=observation.store_id,
        territory=observation.territory,
        channels=(observation.channel,),
        override=quote.override,
        justified=False,
        problem=f"charged {observation.price} where the rules give {quote.price}; no rule "
        "covers this price",
        observation_id=observation.id,
        observed_at=observation.observed_at,
    )
