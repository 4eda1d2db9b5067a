"""Cart events. Every one is about a cart (the subject) and says whose cart it is
(``profile_id``, None while anonymous) and where the change came from (``channel``,
``store_id``), so a customer timeline can show "added in store Paris Rivoli". No personal data:
anonymous tokens and handoff codes never leave the carts tables."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _CartEvent(Event):
    cart_id: str
    profile_id: str | None
    channel: str
    store_id: str | None = None
    currency: str

    @property
    def subject(self) -> str:
        return self.cart_id


@dataclass(frozen=True, kw_only=True)
class CartCreated(_CartEvent):
    type = "carts.cart.created"
    pickup_location_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class LineAdded(_CartEvent):
    type = "carts.line.added"
    line_id: str
    sku: str
    quantity: int  # added now
    line_quantity: int  # in the cart after the change


@dataclass(frozen=True, kw_only=True)
class LineChanged(_CartEvent):
    type = "carts.line.changed"
    line_id: str
    sku: str
    previous_quantity: int
    line_quantity: int


@dataclass(frozen=True, kw_only=True)
class LineRemoved(_CartEvent):
    type = "carts.line.removed"
    line_id: str
    sku: str
    quantity: int


@dataclass(frozen=True, kw_only=True)
class CartAttached(_CartEvent):
    """An anonymous cart bound to a customer who had no open cart: it becomes theirs."""

    type = "carts.cart.attached"


@dataclass(frozen=True, kw_only=True)
class CartMerged(_CartEvent):
    """``absorbed_cart_id`` folded into ``cart_id`` by ``rule``; ``lines`` is the result."""

    type = "carts.cart.merged"
    absorbed_cart_id: str
    absorbed_profile_id: str | None
    reason: str  # login | handoff | profile_merge
    rule: str
    moved_skus: list[str] = field(default_factory=list)
    raised: dict[str, int] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class CartReassigned(_CartEvent):
    """A cart moved to the surviving profile of a customer merge (no cart to merge into)."""

    type = "carts.cart.reassigned"
    previous_profile_id: str


@dataclass(frozen=True, kw_only=True)
class CartHandedOff(_CartEvent):
    type = "carts.cart.handed_off"
    handoff_id: str
    expires_at: str


@dataclass(frozen=True, kw_only=True)
class CartClaimed(_CartEvent):
    """A handoff code claimed: ``cart_id`` is the cart the customer now holds (their own cart
    when the handed-off one was merged into it)."""

    type = "carts.cart.claimed"
    handoff_id: str
    handed_off_cart_id: str


@dataclass(frozen=True, kw_only=True)
class PickupChosen(_CartEvent):
    """Click & collect at ``pickup_location_id`` (None: back to delivery)."""

    type = "carts.cart.pickup_chosen"
    pickup_location_id: str | None


@dataclass(frozen=True, kw_only=True)
class CartOrdered(_CartEvent):
    """The cart became an order; its holds were released for the order's own."""

    type = "carts.cart.ordered"
    order_id: str
    lines: list[dict[str, object]]


@dataclass(frozen=True, kw_only=True)
class CartAbandoned(_CartEvent):
    type = "carts.cart.abandoned"
