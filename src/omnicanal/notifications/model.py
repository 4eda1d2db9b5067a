"""Notifications, pure: which message may go now, which waits, which never goes, and why.

The sender asks ``decide`` at send time with the facts it has just re-read (the order's current
status, what was returned, the customer's consent, what was already sent). A message whose
premise no longer holds is suppressed with a reason a person can read in the delivery log; an
SMS or push in quiet hours is postponed, never dropped. No I/O here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH = "push"


class Purpose(StrEnum):
    TRANSACTIONAL = "transactional"  # about an order or return the customer made: the contract
    MARKETING = "marketing"  # everything else: needs the channel's consent, counts in the caps


class Status(StrEnum):
    SCHEDULED = "scheduled"
    SENT = "sent"
    SUPPRESSED = "suppressed"
    FAILED = "failed"  # the provider refused it every time


class Template(StrEnum):
    ORDER_PLACED = "order_placed"
    READY_FOR_PICKUP = "ready_for_pickup"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COLLECTED = "collected"
    CANCELLED = "cancelled"
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"
    REVIEW_REQUEST = "review_request"
    BACK_IN_STOCK = "back_in_stock"
    ABANDONED_CART = "abandoned_cart"
    LOCAL_PROMOTION = "local_promotion"


PURPOSE: dict[Template, Purpose] = {
    Template.ORDER_PLACED: Purpose.TRANSACTIONAL,
    Template.READY_FOR_PICKUP: Purpose.TRANSACTIONAL,
    Template.SHIPPED: Purpose.TRANSACTIONAL,
    Template.DELIVERED: Purpose.TRANSACTIONAL,
    Template.COLLECTED: Purpose.TRANSACTIONAL,
    Template.CANCELLED: Purpose.TRANSACTIONAL,
    Template.RETURN_RECEIVED: Purpose.TRANSACTIONAL,
    Template.REFUND_ISSUED: Purpose.TRANSACTIONAL,
    # asking for something the contract does not need: consent, caps
    Template.REVIEW_REQUEST: Purpose.MARKETING,
    Template.BACK_IN_STOCK: Purpose.MARKETING,
    Template.ABANDONED_CART: Purpose.MARKETING,
    Template.LOCAL_PROMOTION: Purpose.MARKETING,
}

# Messages about items the customer has: never for an item returned or cancelled.
ABOUT_ITEMS = frozenset({Template.REVIEW_REQUEST})
# Messages that sell a product: never for a product the customer just returned.
SELLS_PRODUCTS = frozenset(
    {Template.BACK_IN_STOCK, Template.LOCAL_PROMOTION, Template.ABANDONED_CART}
)
# The group statuses under which each order message is true.
GROUP_PREMISE: dict[Template, frozenset[str]] = {
    Template.READY_FOR_PICKUP: frozenset({"ready_for_pickup"}),
    Template.SHIPPED: frozenset({"shipped"}),  # delivered meanwhile: "delivered" says it better
    Template.DELIVERED: frozenset({"delivered"}),
    Template.COLLECTED: frozenset({"collected"}),
    Template.CANCELLED: frozenset({"cancelled"}),
    Template.REVIEW_REQUEST: frozenset({"collected", "delivered"}),
}


@dataclass(frozen=True, slots=True)
class Rules:
    quiet_start: time = time(21, 0)  # SMS and push wait from 21:00 ...
    quiet_end: time = time(8, 0)  # ... to 08:00, customer's (store's) local time
    marketing_per_day: int = 1  # per customer, rolling 24 h, every channel
    marketing_per_week: int = 3  # per customer, rolling 7 days
    dedupe_window: timedelta = timedelta(hours=24)  # transactional: same template + subject
    marketing_dedupe_window: timedelta = timedelta(days=7)
    just_returned: timedelta = timedelta(days=30)  # no promotion for a product returned since


DEFAULT_RULES = Rules()


@dataclass(frozen=True, slots=True)
class Facts:
    """What the sender re-read at send time; ``None`` where it does not apply."""

    order_status: str | None = None
    group_status: str | None = None
    group_skus: frozenset[str] = frozenset()  # live units of the group the message is about
    returned_skus: frozenset[str] = frozenset()  # returned from this order
    recently_returned_skus: frozenset[str] = frozenset()  # by this customer, within the window
    message_skus: frozenset[str] = frozenset()  # the products a selling message shows
    subject_missing: bool = False
    cart_open: bool | None = None
    cart_unchanged: bool | None = None
    in_stock: bool | None = None
    promotion_active: bool | None = None
    has_recipient: bool = True


@dataclass(frozen=True, slots=True)
class Consent:
    """``customers.service.may_contact`` for the channel's purpose, or None for a guest."""

    allowed: bool
    reason: str


@dataclass(frozen=True, slots=True)
class History:
    """Messages already sent to this customer (or this order's contact)."""

    duplicate_sent_at: datetime | None = None  # same template + subject within the window
    marketing_sent: Sequence[datetime] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # "send" | "suppress" | "postpone"
    reason: str | None = None
    not_before: datetime | None = None

    @classmethod
    def send(cls) -> Verdict:
        return cls("send")

    @classmethod
    def suppress(cls, reason: str) -> Verdict:
        return cls("suppress", reason)


def premise_violation(template: Template, facts: Facts) -> str | None:
    """Why the message would contradict the state now (or be unfair), or None if its premise
    still holds."""
    if facts.subject_missing:
        return "subject-not-found"
    if template in ABOUT_ITEMS and facts.group_skus & facts.returned_skus:
        return "item-returned"
    if template in SELLS_PRODUCTS and facts.message_skus & facts.recently_returned_skus:
        return "product-just-returned"
    return _order_premise(template, facts) or _offer_premise(template, facts)


def _order_premise(template: Template, facts: Facts) -> str | None:
    cancelled = facts.order_status == "cancelled" or facts.group_status == "cancelled"
    about_order = template in GROUP_PREMISE or template is Template.ORDER_PLACED
    if cancelled and about_order and template is not Template.CANCELLED:
        return "order-cancelled"
    premise = GROUP_PREMISE.get(template)
    status = facts.group_status
    if premise is not None and status is not None and status not in premise:
        return f"group-now-{status}"
    if template in ABOUT_ITEMS and status is not None and not facts.group_skus:
        return "item-cancelled"
    return None


def _offer_premise(template: Template, facts: Facts) -> str | None:
    if template is Template.ABANDONED_CART and facts.cart_open is False:
        return "cart-closed"
    if template is Template.ABANDONED_CART and facts.cart_unchanged is False:
        return "cart-changed"
    if template is Template.BACK_IN_STOCK and facts.in_stock is False:
        return "no-longer-in-stock"
    if template is Template.LOCAL_PROMOTION and facts.promotion_active is False:
        return "promotion-ended"
    return None


# refusals that a transactional SMS or push still honours: the customer said STOP on that channel
_EXPLICIT_REFUSALS = ("withdrawn", "denied")


def consent_violation(purpose: Purpose, channel: Channel, consent: Consent | None) -> str | None:
    """Marketing needs the channel's consent. A transactional message needs none (contract),
    but an erased profile is never contacted and an explicit STOP on SMS or push is honoured;
    an email about the customer's own order still goes after a marketing-email unsubscribe."""
    if consent is None:  # a guest order: the contact the customer gave for this order
        return None
    if consent.reason == "profile-erased":
        return "profile-erased"
    if purpose is Purpose.MARKETING:
        return None if consent.allowed else f"no-consent:{consent.reason}"
    if channel is not Channel.EMAIL and consent.reason.startswith(_EXPLICIT_REFUSALS):
        return f"unsubscribed:{consent.reason}"
    return None


def quiet_until(
    channel: Channel, at: datetime, tz: ZoneInfo, rules: Rules = DEFAULT_RULES
) -> datetime | None:
    """When an SMS or push due at ``at`` may go (quiet hours end), or None if it may go now."""
    if channel is Channel.EMAIL:
        return None
    local = at.astimezone(tz)
    clock = local.time()
    start, end = rules.quiet_start, rules.quiet_end
    quiet = (clock >= start or clock < end) if start > end else (start <= clock < end)
    if not quiet:
        return None
    day = local.date() if clock < end else local.date() + timedelta(days=1)
    resume = datetime.combine(day, end, tzinfo=tz)
    return resume.astimezone(at.tzinfo)


def cap_violation(
    purpose: Purpose, history: History, at: datetime, rules: Rules = DEFAULT_RULES
) -> str | None:
    if purpose is not Purpose.MARKETING:
        return None
    day = sum(1 for t in history.marketing_sent if at - t < timedelta(days=1))
    if day >= rules.marketing_per_day:
        return f"frequency-cap:{rules.marketing_per_day}-per-day"
    week = sum(1 for t in history.marketing_sent if at - t < timedelta(days=7))
    if week >= rules.marketing_per_week:
        return f"frequency-cap:{rules.marketing_per_week}-per-week"
    return None


def dedupe_window(purpose: Purpose, rules: Rules = DEFAULT_RULES) -> timedelta:
    return rules.marketing_dedupe_window if purpose is Purpose.MARKETING else rules.dedupe_window


def decide(
    template: Template,
    channel: Channel,
    *,
    facts: Facts,
    consent: Consent | None,
    history: History,
    at: datetime,
    tz: ZoneInfo,
    rules: Rules = DEFAULT_RULES,
) -> Verdict:
    """The send-time decision, in this order: premise (contradiction, unfairness), recipient,
    consent, duplicate, quiet hours (postpone), frequency caps."""
    purpose = PURPOSE[template]
    reason = premise_violation(template, facts)
    if reason:
        return Verdict.suppress(reason)
    if not facts.has_recipient:
        return Verdict.suppress(f"no-{channel.value}-address")
    reason = consent_violation(purpose, channel, consent)
    if reason:
        return Verdict.suppress(reason)
    last = history.duplicate_sent_at
    if last is not None and at - last < dedupe_window(purpose, rules):
        return Verdict.suppress("duplicate")
    resume = quiet_until(channel, at, tz, rules)
    if resume is not None:
        return Verdict("postpone", "quiet-hours", resume)
    reason = cap_violation(purpose, history, at, rules)
    if reason:
        return Verdict.suppress(reason)
    return Verdict.send()
