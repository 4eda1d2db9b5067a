"""Orders domain: fulfilment methods, the one state machine, pickup codes. Pure: no I/O.

An order holds one or more fulfilment groups (the units that leave one location by one method).
Each group follows one state machine; the order's status is derived from its groups, so the API,
the console and every message read the same truth.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from omnicanal.shared.errors import Conflict, InvalidInput


class Method(StrEnum):
    HOME_DELIVERY = "home_delivery"
    RELAY_POINT = "relay_point"
    CLICK_AND_COLLECT = "click_and_collect"
    SHIP_FROM_STORE = "ship_from_store"
    RESERVE_AND_TRY = "reserve_and_try"
    ENDLESS_AISLE = "endless_aisle"  # bought in a store, delivered at home
    CURBSIDE = "curbside"

    @property
    def is_pickup(self) -> bool:
        """The customer comes to a store: the store is chosen by the customer, not routed."""
        return self in PICKUP_METHODS

    @property
    def is_shipped(self) -> bool:
        return not self.is_pickup

    @property
    def needs_payment(self) -> bool:
        """Reserve-and-try holds units to try on; the customer pays at the till, or not."""
        return self is not Method.RESERVE_AND_TRY

    @property
    def capability(self) -> str:
        """The location capability this method needs at the location that serves it."""
        return METHOD_CAPABILITY[self]


PICKUP_METHODS = frozenset({Method.CLICK_AND_COLLECT, Method.RESERVE_AND_TRY, Method.CURBSIDE})
METHOD_CAPABILITY: dict[Method, str] = {
    Method.CLICK_AND_COLLECT: "pickup",
    Method.CURBSIDE: "pickup",
    Method.RESERVE_AND_TRY: "reserve_and_try",
    Method.SHIP_FROM_STORE: "ship_from_store",
    Method.HOME_DELIVERY: "ship",
    Method.RELAY_POINT: "ship",
    Method.ENDLESS_AISLE: "ship",
}


def check_method(value: str, *, field: str = "method") -> Method:
    try:
        return Method(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown fulfilment method {value!r}; use one of "
            f"{', '.join(m.value for m in Method)}.",
            field=field,
        ) from None


class GroupStatus(StrEnum):
    PLACED = "placed"
    BACKORDERED = "backordered"
    ALLOCATED = "allocated"
    PICKING = "picking"
    READY_FOR_PICKUP = "ready_for_pickup"
    SHIPPED = "shipped"
    COLLECTED = "collected"
    DELIVERED = "delivered"
    DECLINED = "declined"  # reserve-and-try: tried on, not bought
    NO_SHOW = "no_show"
    CANCELLED = "cancelled"

    @property
    def is_final(self) -> bool:
        return self in FINAL

    @property
    def holds_stock(self) -> bool:
        return self in {
            GroupStatus.ALLOCATED,
            GroupStatus.PICKING,
            GroupStatus.READY_FOR_PICKUP,
        }


FINAL = frozenset(
    {
        GroupStatus.COLLECTED,
        GroupStatus.DELIVERED,
        GroupStatus.DECLINED,
        GroupStatus.NO_SHOW,
        GroupStatus.CANCELLED,
    }
)
DONE = frozenset({GroupStatus.COLLECTED, GroupStatus.DELIVERED})
DROPPED = frozenset({GroupStatus.CANCELLED, GroupStatus.NO_SHOW, GroupStatus.DECLINED})

S = GroupStatus
_PICKUP_FLOW: dict[GroupStatus, frozenset[GroupStatus]] = {
    S.PLACED: frozenset({S.ALLOCATED, S.BACKORDERED, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.ALLOCATED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.PICKING, S.READY_FOR_PICKUP, S.CANCELLED}),
    S.PICKING: frozenset({S.READY_FOR_PICKUP, S.CANCELLED}),
    S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.NO_SHOW, S.CANCELLED}),
}
_TRY_FLOW: dict[GroupStatus, frozenset[GroupStatus]] = {
    **_PICKUP_FLOW,
    S.READY_FOR_PICKUP: frozenset({S.COLLECTED, S.DECLINED, S.NO_SHOW, S.CANCELLED}),
}
_SHIP_FLOW: dict[GroupStatus, frozenset[GroupStatus]] = {
    S.PLACED: frozenset({S.ALLOCATED, S.BACKORDERED, S.CANCELLED}),
    S.BACKORDERED: frozenset({S.ALLOCATED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.PICKING, S.SHIPPED, S.CANCELLED}),
    S.PICKING: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
}


def transitions(method: Method) -> Mapping[GroupStatus, frozenset[GroupStatus]]:
    if method is Method.RESERVE_AND_TRY:
        return _TRY_FLOW
    return _PICKUP_FLOW if method.is_pickup else _SHIP_FLOW


def allowed_next(method: Method, status: GroupStatus) -> list[GroupStatus]:
    return sorted(transitions(method).get(status, frozenset()), key=list(GroupStatus).index)


def check_transition(method: Method, current: GroupStatus, target: GroupStatus) -> None:
    """Refuse an illegal move with a 409 that says what is possible instead."""
    if target in transitions(method).get(current, frozenset()):
        return
    possible = allowed_next(method, current)
    instead = (
        f"From {current.value} it can go to: {', '.join(p.value for p in possible)}."
        if possible
        else f"{current.value} is final."
    )
    raise Conflict(
        f"A {method.value.replace('_', ' ')} group cannot go from {current.value} to "
        f"{target.value}. {instead}",
        code="illegal-transition",
        status=current.value,
        requested=target.value,
        allowed=[p.value for p in possible],
    )


class OrderStatus(StrEnum):
    PLACED = "placed"
    BACKORDERED = "backordered"
    ALLOCATED = "allocated"
    PICKING = "picking"
    READY_FOR_PICKUP = "ready_for_pickup"
    SHIPPED = "shipped"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"


_PROGRESS = [
    S.PLACED,
    S.BACKORDERED,
    S.ALLOCATED,
    S.PICKING,
    S.READY_FOR_PICKUP,
    S.SHIPPED,
]


@dataclass(frozen=True, slots=True)
class DerivedStatus:
    status: OrderStatus
    partial: bool  # some groups are further along (or dropped) than the status says


def derive_status(groups: Iterable[GroupStatus]) -> DerivedStatus:
    """The order's one status: its least advanced live group; completed when all live groups
    are done; no-show when none is live and one was not collected, else cancelled."""
    statuses = list(groups)
    if not statuses:
        raise ValueError("an order has at least one fulfilment group")
    live = [s for s in statuses if s not in DROPPED]
    if not live:
        # a declined try-on ends the order like a cancellation; an uncollected one is a no-show
        if any(s is S.NO_SHOW for s in statuses):
            return DerivedStatus(OrderStatus.NO_SHOW, partial=False)
        return DerivedStatus(OrderStatus.CANCELLED, partial=False)
    dropped = len(live) < len(statuses)
    open_groups = [s for s in live if s not in DONE]
    if not open_groups:
        return DerivedStatus(OrderStatus.COMPLETED, partial=dropped)
    least = min(open_groups, key=_PROGRESS.index)
    ahead = any(s is not least for s in live)
    return DerivedStatus(OrderStatus(least.value), partial=ahead or dropped)


# -- pickup codes -----------------------------------------------------------------------------
PICKUP_CODE_DIGITS = 6
MAX_CODE_ATTEMPTS = 5


def new_pickup_code() -> str:
    return f"{secrets.randbelow(10**PICKUP_CODE_DIGITS):0{PICKUP_CODE_DIGITS}d}"


def pickup_code_matches(expected: str, given: str) -> bool:
    normalised = "".join(ch for ch in given if ch.isdigit())
    return hmac.compare_digest(expected.encode(), normalised.encode())


# -- lines -------------------------------------------------------------------------------------
def check_line_quantity(quantity: int, *, field: str) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput(
            f"{field} must be a whole number of units, at least 1 (got {quantity!r}).",
            field=field,
        )
    if quantity > 999:
        raise InvalidInput(f"{field}: at most 999 units per line.", field=field)
    return quantity
