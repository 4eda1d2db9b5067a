"""Pure inventory domain: a stock level, the movements that change it, and its invariants.

Buckets of one SKU at one location:
- ``on_hand``: units physically there (including reserved, committed and damaged ones);
- ``reserved``: held for carts and try-in-store; ``committed``: ordered, not yet shipped/collected;
- ``damaged``: there but not sellable; ``safety_stock``: a buffer never promised to remote
  channels; ``incoming``: expected from transfers, not yet there.

``free = on_hand - reserved - committed - damaged`` is what a till can sell off the shelf;
``available_to_promise = free - safety_stock`` (never below 0) is what any channel may reserve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from omnicanal.shared.errors import Conflict, InvalidInput


class MovementKind(StrEnum):
    RECEIPT = "receipt"
    SALE = "sale"
    ADJUSTMENT = "adjustment"
    DAMAGE = "damage"
    WRITE_OFF = "write_off"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_EXPECTED = "transfer_expected"
    TRANSFER_IN = "transfer_in"
    RETURN = "return"
    RESERVATION = "reservation"
    RELEASE = "release"
    EXPIRY = "expiry"


class HoldKind(StrEnum):
    """Who holds units: carts and try-in-store count as reserved, orders as committed."""

    CART = "cart"
    ORDER = "order"
    TRY_IN_STORE = "try_in_store"

    @property
    def bucket(self) -> str:
        return "committed" if self is HoldKind.ORDER else "reserved"


class AlertKind(StrEnum):
    LOW = "low"
    OUT = "out"
    BACK_IN_STOCK = "back_in_stock"


class InsufficientStock(Conflict):
    code = "insufficient-stock"
    title = "Not enough stock"

    def __init__(self, sku: str, location_id: str, requested: int, available: int) -> None:
        super().__init__(
            f"Only {available} unit(s) of {sku} can be promised at {location_id}; "
            f"{requested} requested. Reserve at most {available}, or look for another location "
            "with /v1/availability.",
            sku=sku,
            location_id=location_id,
            requested=requested,
            available=available,
        )


class InvariantViolated(Exception):
    """A movement would break a stock invariant: a bug, never a user error."""


def check_quantity(quantity: int, *, field_name: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(
            f"{field_name} must be a positive whole number, got {quantity!r}.", field=field_name
        )
    return quantity


@dataclass(frozen=True, slots=True)
class Movement:
    kind: MovementKind
    d_on_hand: int = 0
    d_reserved: int = 0
    d_committed: int = 0
    d_damaged: int = 0
    d_incoming: int = 0


def _hold_delta(kind: MovementKind, hold: HoldKind, quantity: int, **more: int) -> Movement:
    if hold.bucket == "committed":
        return Movement(kind, d_committed=quantity, **more)
    return Movement(kind, d_reserved=quantity, **more)


@dataclass(slots=True)
class StockLevel:
    sku: str
    location_id: str
    on_hand: int = 0
    reserved: int = 0
    committed: int = 0
    damaged: int = 0
    safety_stock: int = 0
    incoming: int = 0
    low_stock_threshold: int | None = None
    history: list[Movement] = field(default_factory=list, repr=False, compare=False)

    @property
    def free(self) -> int:
        return self.on_hand - self.reserved - self.committed - self.damaged

    @property
    def available_to_promise(self) -> int:
        return max(0, self.free - self.safety_stock)

    # -- the one place where quantities change --------------------------------------------
    def apply(self, movement: Movement) -> Movement:
        self.on_hand += movement.d_on_hand
        self.reserved += movement.d_reserved
        self.committed += movement.d_committed
        self.damaged += movement.d_damaged
        self.incoming += movement.d_incoming
        buckets = (self.on_hand, self.reserved, self.committed, self.damaged, self.incoming)
        if min(buckets) < 0 or self.free < 0:
            raise InvariantViolated(f"{movement} breaks {self.sku}@{self.location_id}: {self}")
        self.history.append(movement)
        return movement

    def _short(self, requested: int, available: int) -> InsufficientStock:
        return InsufficientStock(self.sku, self.location_id, requested, available)

    # -- holds ------------------------------------------------------------------------------
    def reserve(self, quantity: int, hold: HoldKind, *, hold_back: int = 0) -> Movement:
        """Hold units for a cart, an order or a try-in-store; never beyond what can be promised
        (minus a channel's extra hold-back)."""
        check_quantity(quantity)
        promisable = max(0, self.available_to_promise - hold_back)
        if quantity > promisable:
            raise self._short(quantity, promisable)
        return self.apply(_hold_delta(MovementKind.RESERVATION, hold, quantity))

    def release(self, quantity: int, hold: HoldKind, *, expired: bool = False) -> Movement:
        kind = MovementKind.EXPIRY if expired else MovementKind.RELEASE
        return self.apply(_hold_delta(kind, hold, -check_quantity(quantity)))

    def fulfil(self, quantity: int, hold: HoldKind) -> Movement:
        """Held units leave: shipped or handed over. The hold turns into a sale."""
        q = check_quantity(quantity)
        return self.apply(_hold_delta(MovementKind.SALE, hold, -q, d_on_hand=-q))

    # -- physical movements -------------------------------------------------------------------
    def sell(self, quantity: int) -> Movement:
        """A till sale off the shelf: may use safety stock, never units held for others."""
        q = check_quantity(quantity)
        if q > self.free:
            raise self._short(q, max(0, self.free))
        return self.apply(Movement(MovementKind.SALE, d_on_hand=-q))

    def receive(self, quantity: int) -> Movement:
        return self.apply(Movement(MovementKind.RECEIPT, d_on_hand=check_quantity(quantity)))

    def count(self, counted: int) -> Movement:
        """A stock take: on hand becomes ``counted``, as an adjustment of the difference."""
        if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
            raise InvalidInput(f"A counted quantity must be ≥ 0, got {counted!r}.", field="on_hand")
        return self.adjust(counted - self.on_hand)

    def adjust(self, delta: int) -> Movement:
        floor = self.reserved + self.committed + self.damaged
        if self.on_hand + delta < floor:
            raise Conflict(
                f"{self.sku} at {self.location_id} cannot go to {self.on_hand + delta} on hand: "
                f"{floor} unit(s) are reserved, committed or damaged. Release them first.",
                code="below-held-stock",
                sku=self.sku,
                location_id=self.location_id,
                held=floor,
            )
        return self.apply(Movement(MovementKind.ADJUSTMENT, d_on_hand=delta))

    def mark_damaged(self, quantity: int) -> Movement:
        q = check_quantity(quantity)
        if q > self.free:
            raise self._short(q, max(0, self.free))
        return self.apply(Movement(MovementKind.DAMAGE, d_damaged=q))

    def write_off(self, quantity: int) -> Movement:
        q = check_quantity(quantity)
        if q > self.damaged:
            raise Conflict(
                f"Only {self.damaged} damaged unit(s) of {self.sku} to write off at "
                f"{self.location_id}.",
                code="not-enough-damaged",
                available=self.damaged,
            )
        return self.apply(Movement(MovementKind.WRITE_OFF, d_on_hand=-q, d_damaged=-q))

    def take_return(self, quantity: int, *, sellable: bool) -> Movement:
        q = check_quantity(quantity)
        return self.apply(
            Movement(MovementKind.RETURN, d_on_hand=q, d_damaged=0 if sellable else q)
        )

    def transfer_out(self, quantity: int) -> Movement:
        q = check_quantity(quantity)
        if q > self.free:
            raise self._short(q, max(0, self.free))
        return self.apply(Movement(MovementKind.TRANSFER_OUT, d_on_hand=-q))

    def expect(self, quantity: int) -> Movement:
        return self.apply(
            Movement(MovementKind.TRANSFER_EXPECTED, d_incoming=check_quantity(quantity))
        )

    def transfer_in(self, received: int, expected: int) -> Movement:
        if received < 0 or received > expected:
            raise InvalidInput(
                f"Received quantity must be between 0 and the {expected} shipped.",
                field="received_quantity",
            )
        return self.apply(
            Movement(MovementKind.TRANSFER_IN, d_on_hand=received, d_incoming=-expected)
        )


def stock_alert(before_atp: int, after_atp: int, threshold: int) -> AlertKind | None:
    """The alert a change of available-to-promise crosses into, if any."""
    if after_atp == before_atp:
        return None
    if after_atp == 0 and before_atp > 0:
        return AlertKind.OUT
    if after_atp <= threshold < before_atp:
        return AlertKind.LOW
    if before_atp == 0 and after_atp > 0:
        return AlertKind.BACK_IN_STOCK
    return None


# -- channel availability ---------------------------------------------------------------------
STORE_HOLD_BACK: dict[str, int] = {"marketplace": 1}
"""Units a channel leaves on store shelves on top of safety stock (marketplaces oversell)."""


def channel_available(
    level: StockLevel, *, channel: str | None, location_kind: str, own_store: bool = False
) -> int:
    """What one channel may promise here.

    - a till (pos) at its own store sells off the shelf: ``free`` (safety stock included);
    - remote channels get available-to-promise, and at stores some hold back extra units.
    """
    if channel == "pos" and own_store:
        return max(0, level.free)
    hold_back = STORE_HOLD_BACK.get(channel or "", 0) if location_kind == "store" else 0
    return max(0, level.available_to_promise - hold_back)


def hold_back_for(channel: str | None, location_kind: str) -> int:
    return STORE_HOLD_BACK.get(channel or "", 0) if location_kind == "store" else 0
