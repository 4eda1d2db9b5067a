"""Pure cart domain: line quantities, the merge rule, pricing, handoff codes, holds. No I/O.

A cart is bound to a customer (a profile id) or, until identification, to an anonymous token.
One open cart per profile and currency: every device of the customer reads and writes the same
cart. When two carts become one (login, a till handoff claimed, two profiles merged), the
quantities of a SKU present in both are merged by ``MERGE_RULE``: the larger one is kept.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from omnicanal.shared.errors import Conflict, Forbidden, Gone, InvalidInput
from omnicanal.shared.money import Money

MAX_LINE_QUANTITY = 99
MAX_LINES = 100
MERGE_RULE = "same-sku-keeps-the-larger-quantity"


class CartStatus(StrEnum):
    OPEN = "open"
    MERGED = "merged"  # absorbed into another cart (``merged_into``)
    ABANDONED = "abandoned"
    ORDERED = "ordered"  # turned into an order (``order_id``)


class MergeReason(StrEnum):
    LOGIN = "login"  # an anonymous cart attached to a customer who already had one
    HANDOFF = "handoff"  # a till's cart claimed by a customer who already had one
    PROFILE_MERGE = "profile_merge"  # two customer profiles found to be one person


# -- quantities ---------------------------------------------------------------------------------
def check_line_quantity(quantity: int, *, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(
            f"{field} must be a positive whole number, got {quantity!r}; remove a line with "
            "DELETE /v1/carts/{cart_id}/lines/{line_id}.",
            field=field,
        )
    if quantity > MAX_LINE_QUANTITY:
        raise InvalidInput(
            f"{field} may be at most {MAX_LINE_QUANTITY} per line, got {quantity}; larger "
            "quantities are a B2B order, not a cart.",
            field=field,
            max_quantity=MAX_LINE_QUANTITY,
        )
    return quantity


def quantity_after_add(current: int | None, adding: int, *, line_count: int) -> int:
    """The line's quantity once ``adding`` more are put in the cart (``current`` None: a new
    line, refused when the cart already has ``MAX_LINES``)."""
    check_line_quantity(adding)
    if current is None:
        if line_count >= MAX_LINES:
            raise Conflict(
                f"A cart holds at most {MAX_LINES} different SKUs; remove one first.",
                code="cart-full",
                max_lines=MAX_LINES,
            )
        return adding
    total = current + adding
    if total > MAX_LINE_QUANTITY:
        raise InvalidInput(
            f"The cart already has {current} of this SKU; adding {adding} would pass the "
            f"{MAX_LINE_QUANTITY} per line limit. Add at most {MAX_LINE_QUANTITY - current}.",
            field="quantity",
            max_quantity=MAX_LINE_QUANTITY,
            in_cart=current,
        )
    return total


# -- merging two carts --------------------------------------------------------------------------
def merge_quantities(kept: Mapping[str, int], incoming: Mapping[str, int]) -> dict[str, int]:
    """SKU -> quantity of the merged cart: every SKU of both, the larger quantity where both
    hold it. The same item in both carts is the customer adding it again on another device, so
    summing would silently double it; the larger quantity never loses what they asked for.
    Commutative, associative and idempotent: the order in which devices meet does not matter."""
    merged = dict(kept)
    for sku, quantity in incoming.items():
        merged[sku] = max(merged.get(sku, 0), quantity)
    return dict(sorted(merged.items()))


@dataclass(frozen=True, slots=True)
class MergePlan:
    """What merging ``incoming`` into ``kept`` does to the kept cart's lines."""

    moved: tuple[str, ...]  # only in the incoming cart: the line moves, provenance included
    raised: dict[str, int]  # in both, larger in the incoming cart: the kept line takes it
    unchanged: tuple[str, ...]  # in both, the kept line is at least as large

    @property
    def changes_anything(self) -> bool:
        return bool(self.moved or self.raised)


def plan_merge(kept: Mapping[str, int], incoming: Mapping[str, int]) -> MergePlan:
    moved = tuple(sorted(sku for sku in incoming if sku not in kept))
    raised = {
        sku: incoming[sku] for sku in sorted(incoming) if sku in kept and incoming[sku] > kept[sku]
    }
    unchanged = tuple(sorted(sku for sku in incoming if sku in kept and sku not in raised))
    return MergePlan(moved=moved, raised=raised, unchanged=unchanged)


@dataclass(frozen=True, slots=True)
class CartRef:
    id: str
    profile_id: str | None
    created_at: datetime


def choose_survivor_cart(carts: Sequence[CartRef], *, profile_id: str | None) -> CartRef:
    """The cart that stays when several become one: the one already bound to ``profile_id``
    (the id the customer's other devices know), else the oldest (then the smallest id)."""
    if not carts:
        raise ValueError("no cart to choose from")
    bound = [c for c in carts if profile_id is not None and c.profile_id == profile_id]
    return min(bound or carts, key=lambda c: (c.created_at, c.id))


# -- who may touch a cart -----------------------------------------------------------------------
def check_owner(
    cart_id: str,
    cart_profile_id: str | None,
    acting_profile_id: str | None,
    *,
    anonymous_ok: bool = False,
) -> None:
    """A channel acting for a signed-in customer only touches that customer's cart (and, with
    ``anonymous_ok``, an anonymous cart it is about to bind to them)."""
    if acting_profile_id is None or cart_profile_id == acting_profile_id:
        return
    if cart_profile_id is None:
        if anonymous_ok:
            return
        raise Forbidden(
            f"Cart {cart_id} is anonymous; attach it to {acting_profile_id} first with "
            f"POST /v1/carts/{cart_id}/customer.",
            code="cart-not-attached",
            cart_id=cart_id,
        )
    raise Forbidden(
        f"Cart {cart_id} belongs to another customer; open {acting_profile_id}'s own cart with "
        "POST /v1/carts or GET /v1/carts?customer=….",
        code="cart-of-another-customer",
        cart_id=cart_id,
    )


# -- pricing ------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class LineToPrice:
    sku: str
    quantity: int
    price_at_add: Money | None = None


@dataclass(frozen=True, slots=True)
class PricedLine:
    sku: str
    quantity: int
    unit_price: Money | None  # None: the SKU has no price in the cart's currency any more
    price_at_add: Money | None

    @property
    def total(self) -> Money | None:
        return self.unit_price.times(self.quantity) if self.unit_price else None

    @property
    def price_changed(self) -> bool:
        return (
            self.unit_price is not None
            and self.price_at_add is not None
            and self.unit_price != self.price_at_add
        )


@dataclass(frozen=True, slots=True)
class PricedCart:
    currency: str
    lines: tuple[PricedLine, ...]

    @property
    def subtotal(self) -> Money:
        total = Money(0, self.currency)
        for line in self.lines:
            if line.total is not None:
                total += line.total
        return total

    @property
    def item_count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def unpriced_skus(self) -> list[str]:
        return [line.sku for line in self.lines if line.unit_price is None]


def price_cart(
    currency: str, lines: Sequence[LineToPrice], prices: Mapping[str, Money]
) -> PricedCart:
    """Price every line at today's price in the cart's currency (never the price at add time:
    a cart shows what the customer will pay, and says when that changed)."""
    priced = []
    for line in lines:
        price = prices.get(line.sku)
        if price is not None and price.currency != currency:
            raise ValueError(f"{line.sku} priced in {price.currency} for a {currency} cart")
        priced.append(PricedLine(line.sku, line.quantity, price, line.price_at_add))
    return PricedCart(currency, tuple(priced))


# -- handoff codes ------------------------------------------------------------------------------
HANDOFF_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
HANDOFF_CODE_LENGTH = 8  # 40 bits, single use, minutes long: not worth guessing
DEFAULT_HANDOFF_TTL_MINUTES = 15
MAX_HANDOFF_TTL_MINUTES = 24 * 60
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})


class HandoffState(StrEnum):
    PENDING = "pending"
    CLAIMED = "claimed"
    EXPIRED = "expired"
    REPLACED = "replaced"  # a newer code was sent for the same cart


def new_handoff_code() -> str:
    return "".join(secrets.choice(HANDOFF_ALPHABET) for _ in range(HANDOFF_CODE_LENGTH))


def format_handoff_code(code: str) -> str:
    """``K7Q2M9XD`` -> ``K7Q2-M9XD``: easier to read aloud or type from a receipt."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}"


def normalise_handoff_code(raw: str, *, field: str = "code") -> str:
    """What a person types: any case, spaces or dashes, O for 0 and I or L for 1."""
    code = raw.strip().upper().replace("-", "").replace(" ", "").translate(_LOOKALIKES)
    if len(code) != HANDOFF_CODE_LENGTH or any(ch not in HANDOFF_ALPHABET for ch in code):
        raise InvalidInput(
            f"A handoff code has {HANDOFF_CODE_LENGTH} letters and digits, such as K7Q2-M9XD; "
            "check the code on the receipt or the message.",
            field=field,
        )
    return code


def handoff_expiry(now: datetime, ttl_minutes: int | None) -> datetime:
    ttl = DEFAULT_HANDOFF_TTL_MINUTES if ttl_minutes is None else ttl_minutes
    if isinstance(ttl, bool) or not 1 <= ttl <= MAX_HANDOFF_TTL_MINUTES:
        raise InvalidInput(
            f"ttl_minutes must be between 1 and {MAX_HANDOFF_TTL_MINUTES}.", field="ttl_minutes"
        )
    return now + timedelta(minutes=ttl)


@dataclass(frozen=True, slots=True)
class Handoff:
    cart_id: str
    expires_at: datetime
    status: str  # pending | claimed | replaced, as stored; expiry is derived from the time
    claimed_by: str | None = None  # the claiming profile id or anonymous token

    def state(self, now: datetime) -> HandoffState:
        if self.status != HandoffState.PENDING.value:
            return HandoffState(self.status)
        return HandoffState.EXPIRED if now >= self.expires_at else HandoffState.PENDING

    def check_claim(self, now: datetime, claimant: str) -> bool:
        """May ``claimant`` claim it now? True when they already did (a retried claim),
        False when it is theirs to claim; raises when it is gone or someone else's."""
        state = self.state(now)
        if state is HandoffState.CLAIMED:
            if self.claimed_by == claimant:
                return True
            raise Conflict(
                "This handoff code was already used; ask the store associate to send the cart "
                "again.",
                code="handoff-already-claimed",
            )
        if state is HandoffState.EXPIRED:
            raise Gone(
                f"This handoff code expired at {self.expires_at.isoformat()}; ask the store "
                "associate to send the cart again.",
                code="handoff-expired",
                expired_at=self.expires_at.isoformat(),
            )
        if state is HandoffState.REPLACED:
            raise Gone(
                "A newer code was sent for this cart; use the latest message.",
                code="handoff-replaced",
            )
        return False


# -- stock holds --------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReservationPolicy:
    """When cart lines hold stock (inventory reservations owned by the cart).

    - a cart with a pickup store (click & collect) holds every line there;
    - a line added by a ``channels`` key bound to a store (a till) is held at that store: the
      customer is standing next to the shelf;
    - anything else (a web or app cart for delivery) holds nothing until the order.
    Holds expire after ``ttl_minutes`` (None: the inventory default for carts).
    """

    channels: frozenset[str] = frozenset({"pos"})
    pickup: bool = True
    ttl_minutes: int | None = None

    def location_for(
        self,
        *,
        pickup_location_id: str | None,
        added_channel: str,
        added_store_id: str | None,
    ) -> str | None:
        if self.pickup and pickup_location_id is not None:
            return pickup_location_id
        if added_channel in self.channels and added_store_id is not None:
            return added_store_id
        return None


DEFAULT_RESERVATION_POLICY = ReservationPolicy()
