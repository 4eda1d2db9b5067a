"""Cart use cases: open, add/change/remove lines, attach a customer (merge at login), hand off
from a till to a phone and claim, abandon, and follow customer merges.

Every function takes the caller's ``UnitOfWork`` and never commits; events go to the outbox in
the same transaction.

Locks, always in this order so two requests never wait on each other in a circle:
customer profile (binding a cart to a customer: ``resolve_live(lock=True)``) → cart rows →
handoff rows → stock rows (inside ``inventory.service``). Every change to a cart's lines locks the
cart row first, so two devices adding at the same moment queue and neither line is lost
(PostgreSQL ``FOR UPDATE``; SQLite write transactions are ``BEGIN IMMEDIATE`` already).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypedDict

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.carts import events as ev
from omnicanal.carts.model import (
    DEFAULT_RESERVATION_POLICY,
    MERGE_RULE,
    CartRef,
    CartStatus,
    Handoff,
    HandoffState,
    MergeReason,
    ReservationPolicy,
    check_line_quantity,
    check_owner,
    choose_survivor_cart,
    handoff_expiry,
    new_handoff_code,
    normalise_handoff_code,
    plan_merge,
    quantity_after_add,
)
from omnicanal.carts.tables import CartHandoffRow, CartLineRow, CartRow
from omnicanal.catalog.tables import BasePriceRow
from omnicanal.catalog.views import variant_info
from omnicanal.customers.service import resolve, resolve_live
from omnicanal.inventory import service as inventory
from omnicanal.inventory.tables import ReservationRow
from omnicanal.shared.errors import Conflict, DomainError, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import check_currency
from omnicanal.storage.uow import UnitOfWork

_TOKEN = re.compile(r"^[A-Za-z0-9._~-]{16,128}$")
_MERGE_HOPS = 20


@dataclass(frozen=True, slots=True)
class Actor:
    """Who changes a cart: the channel, the store of a store-bound key, the API key."""

    channel: str
    store_id: str | None = None
    key_id: str | None = None


class _About(TypedDict):
    cart_id: str
    profile_id: str | None
    channel: str
    store_id: str | None
    currency: str


def _event_base(cart: CartRow, actor: Actor) -> _About:
    return {
        "cart_id": cart.id,
        "profile_id": cart.profile_id,
        "channel": actor.channel,
        "store_id": actor.store_id,
        "currency": cart.currency,
    }


# -- finding and locking ------------------------------------------------------------------------
def _cart_not_found(cart_id: str) -> NotFound:
    return NotFound(
        f"No cart {cart_id!r}; open one with POST /v1/carts or find the customer's with "
        "GET /v1/carts?customer=….",
        code="cart-not-found",
        field="cart_id",
        cart_id=cart_id,
    )


def _get_cart(session: Session, cart_id: str, *, lock: bool) -> CartRow:
    stmt = select(CartRow).where(CartRow.id == cart_id).execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise _cart_not_found(cart_id)
    return row


def live_cart(session: Session, cart_id: str, *, lock: bool = True) -> CartRow:
    """The open cart ``cart_id`` names now: itself, or the cart it was merged into (a device
    that still holds the anonymous cart's id after login lands on the customer's cart).
    Only the open cart is locked: merged carts never change again."""
    current = cart_id
    for _ in range(_MERGE_HOPS):
        row = _get_cart(session, current, lock=False)
        if row.status == CartStatus.MERGED.value and row.merged_into:
            current = row.merged_into
            continue
        if lock:
            row = _get_cart(session, current, lock=True)
            if row.status == CartStatus.MERGED.value:
                continue  # merged while we waited for the lock: follow it
        if row.status != CartStatus.OPEN.value:
            raise Conflict(
                f"Cart {cart_id} was {row.status} at {row.closed_at}; open a new one with "
                "POST /v1/carts.",
                code="cart-closed",
                cart_id=cart_id,
                cart_status=row.status,
            )
        return row
    raise Conflict(f"The merge chain of cart {cart_id} does not end; report this.")


def open_cart_of(
    session: Session,
    *,
    currency: str,
    profile_id: str | None = None,
    token: str | None = None,
    lock: bool = False,
) -> CartRow | None:
    stmt = select(CartRow).where(
        CartRow.status == CartStatus.OPEN.value, CartRow.currency == currency
    )
    if profile_id is not None:
        stmt = stmt.where(CartRow.profile_id == profile_id)
    else:
        stmt = stmt.where(CartRow.anonymous_token == token)
    stmt = stmt.execution_options(populate_existing=True)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def _lines(session: Session, cart_id: str) -> dict[str, CartLineRow]:
    rows = session.scalars(
        select(CartLineRow)
        .where(CartLineRow.cart_id == cart_id)
        .order_by(CartLineRow.sku)
        .execution_options(populate_existing=True)
    )
    return {row.sku: row for row in rows}


def _line(session: Session, cart: CartRow, line_id: str) -> CartLineRow:
    row = session.get(CartLineRow, line_id, populate_existing=True)
    if row is None or row.cart_id != cart.id:
        raise NotFound(
            f"Cart {cart.id} has no line {line_id!r}; GET /v1/carts/{cart.id} lists its lines.",
            code="cart-line-not-found",
            field="line_id",
            line_id=line_id,
        )
    return row


def _acting_profile(session: Session, customer_id: str | None) -> str | None:
    return None if customer_id is None else resolve_live(session, customer_id).id


def _touch(uow: UnitOfWork, cart: CartRow) -> None:
    cart.version += 1
    cart.updated_at = uow.now()


def check_token(token: str, *, field: str = "anonymous_token") -> str:
    if not _TOKEN.match(token):
        raise InvalidInput(
            "An anonymous token is 16 to 128 characters of letters, digits and . _ ~ - "
            "(a session or first-party cookie id); omit it to get one.",
            field=field,
        )
    return token


def new_token() -> str:
    return secrets.token_urlsafe(24)


# -- opening a cart -----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Opened:
    cart: CartRow
    created: bool


def _check_pickup(session: Session, location_id: str) -> None:
    location = inventory.require_location(session, location_id)
    if "pickup" not in (location.capabilities or []):
        raise Conflict(
            f"{location.name} does not offer click & collect; choose a store with the 'pickup' "
            "capability (GET /v1/availability?capability=pickup).",
            code="capability-missing",
            field="pickup_location_id",
            location_id=location_id,
        )


def open_cart(
    uow: UnitOfWork,
    *,
    actor: Actor,
    currency: str = "EUR",
    customer_id: str | None = None,
    anonymous_token: str | None = None,
    pickup_location_id: str | None = None,
) -> Opened:
    """The customer's (or the session's) open cart in ``currency``, created if there is none:
    every device of one customer gets the same cart."""
    session = uow.session
    code = check_currency(currency)
    if customer_id is not None and anonymous_token is not None:
        raise InvalidInput(
            "Give customer_id (a signed-in customer) or anonymous_token (a session), not both.",
            field="anonymous_token",
        )
    if pickup_location_id is not None:
        _check_pickup(session, pickup_location_id)
    profile_id: str | None = None
    token: str | None = None
    if customer_id is not None:
        profile_id = resolve_live(session, customer_id, lock=True).id  # serialises per customer
        existing = open_cart_of(session, currency=code, profile_id=profile_id)
    else:
        token = check_token(anonymous_token) if anonymous_token is not None else new_token()
        existing = open_cart_of(session, currency=code, token=token)
    if existing is not None:
        return Opened(existing, created=False)
    now = uow.now()
    cart = CartRow(
        id=new_id("crt"),
        profile_id=profile_id,
        anonymous_token=token,
        currency=code,
        status=CartStatus.OPEN.value,
        channel=actor.channel,
        store_id=actor.store_id,
        pickup_location_id=pickup_location_id,
        version=1,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(cart)
            session.flush()
    except IntegrityError:
        # another request opened the session's cart a moment ago: it is the one
        existing = open_cart_of(session, currency=code, profile_id=profile_id, token=token)
        if existing is None:
            raise
        return Opened(existing, created=False)
    uow.emit(ev.CartCreated(**_event_base(cart, actor), pickup_location_id=pickup_location_id))
    return Opened(cart, created=True)


# -- lines --------------------------------------------------------------------------------------
def _sellable(session: Session, sku: str, actor: Actor) -> None:
    info = variant_info(session, [sku]).get(sku)
    if info is None:
        raise NotFound(
            f"Unknown SKU {sku!r}; search the catalogue with GET /v1/variants?sku=….",
            code="unknown-sku",
            field="sku",
            sku=sku,
        )
    if not info.sellable:
        raise Conflict(
            f"{sku} is archived and no longer sold.", code="sku-not-sellable", field="sku", sku=sku
        )
    if not info.sellable_in(actor.channel, store_bound=actor.store_id is not None):
        where = "in store only" if info.assortment.value == "store_only" else "online only"
        raise InvalidInput(
            f"{sku} is sold {where} ({info.assortment.value}); the {actor.channel} channel "
            "cannot add it to a cart. A store associate can add store-only items at the till.",
            code="not-sold-on-channel",
            field="sku",
            sku=sku,
            assortment=info.assortment.value,
            channel=actor.channel,
        )


def _price_minor(session: Session, sku: str, currency: str) -> int:
    price = session.get(BasePriceRow, (sku, currency))
    if price is None:
        raise Conflict(
            f"{sku} has no {currency} price yet, so it cannot be sold in a {currency} cart; "
            f"set one with PUT /v1/prices/{sku}/{currency}.",
            code="no-price",
            field="sku",
            sku=sku,
            currency=currency,
        )
    return price.amount_minor


def add_line(
    uow: UnitOfWork,
    cart_id: str,
    *,
    sku: str,
    quantity: int,
    actor: Actor,
    customer_id: str | None = None,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> CartRow:
    """Put ``quantity`` of ``sku`` in the cart (more of it when it is already there); the line
    records the channel and store that added it, and holds stock when the policy says so."""
    session = uow.session
    check_line_quantity(quantity)
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    _sellable(session, sku, actor)
    price = _price_minor(session, sku, cart.currency)
    lines = _lines(session, cart.id)
    line = lines.get(sku)
    total = quantity_after_add(line.quantity if line else None, quantity, line_count=len(lines))
    now = uow.now()
    if line is None:
        line = CartLineRow(
            id=new_id("crl"),
            cart_id=cart.id,
            sku=sku,
            quantity=total,
            price_at_add_minor=price,
            added_channel=actor.channel,
            added_store_id=actor.store_id,
            added_by=actor.key_id,
            added_at=now,
            changed_channel=actor.channel,
            changed_store_id=actor.store_id,
            updated_at=now,
            reserved_quantity=0,
        )
        session.add(line)
    else:
        line.quantity = total
        line.changed_channel, line.changed_store_id = actor.channel, actor.store_id
        line.updated_at = now
    session.flush()
    _sync_hold(uow, cart, line, actor=actor, policy=policy)
    _touch(uow, cart)
    uow.emit(
        ev.LineAdded(
            **_event_base(cart, actor),
            line_id=line.id,
            sku=sku,
            quantity=quantity,
            line_quantity=total,
        )
    )
    return cart


def change_line(
    uow: UnitOfWork,
    cart_id: str,
    line_id: str,
    *,
    quantity: int,
    actor: Actor,
    customer_id: str | None = None,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> CartRow:
    """Set a line's quantity (remove it with ``remove_line``)."""
    session = uow.session
    check_line_quantity(quantity)
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    line = _line(session, cart, line_id)
    previous = line.quantity
    if quantity == previous:
        return cart
    if quantity > previous:
        _sellable(session, line.sku, actor)  # more of a store-only item only in store
    line.quantity = quantity
    line.changed_channel, line.changed_store_id = actor.channel, actor.store_id
    line.updated_at = uow.now()
    session.flush()
    _sync_hold(uow, cart, line, actor=actor, policy=policy, best_effort=quantity < previous)
    _touch(uow, cart)
    uow.emit(
        ev.LineChanged(
            **_event_base(cart, actor),
            line_id=line.id,
            sku=line.sku,
            previous_quantity=previous,
            line_quantity=quantity,
        )
    )
    return cart


def remove_line(
    uow: UnitOfWork,
    cart_id: str,
    line_id: str,
    *,
    actor: Actor,
    customer_id: str | None = None,
) -> CartRow:
    """Take a line out of the cart; the stock it held goes back on sale."""
    session = uow.session
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    line = _line(session, cart, line_id)
    _release_hold(uow, line, actor)
    session.delete(line)
    session.flush()
    _touch(uow, cart)
    uow.emit(
        ev.LineRemoved(
            **_event_base(cart, actor), line_id=line.id, sku=line.sku, quantity=line.quantity
        )
    )
    return cart


def abandon(
    uow: UnitOfWork, cart_id: str, *, actor: Actor, customer_id: str | None = None
) -> CartRow:
    """Close the cart without an order; every hold it had goes back on sale."""
    session = uow.session
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    for line in _lines(session, cart.id).values():
        _release_hold(uow, line, actor)
    now = uow.now()
    cart.status = CartStatus.ABANDONED.value
    cart.closed_at = now
    cart.anonymous_token = None
    _touch(uow, cart)
    _replace_pending_handoffs(uow, cart.id)
    uow.emit(ev.CartAbandoned(**_event_base(cart, actor)))
    return cart


def check_out(
    uow: UnitOfWork,
    cart_id: str,
    *,
    order_id: str,
    actor: Actor,
    customer_id: str | None = None,
) -> CheckedOut:
    """The cart becomes order ``order_id``: returns its lines and releases its holds (in the
    order's transaction, so the order's own holds replace them with no gap and no double)."""
    session = uow.session
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    lines = sorted(_lines(session, cart.id).values(), key=lambda line: line.sku)
    if not lines:
        raise InvalidInput(f"Cart {cart_id} is empty: add lines before ordering.", field="cart_id")
    for line in lines:
        _release_hold(uow, line, actor)
    cart.status = CartStatus.ORDERED.value
    cart.closed_at = uow.now()
    cart.anonymous_token = None
    _touch(uow, cart)
    _replace_pending_handoffs(uow, cart.id)
    uow.emit(
        ev.CartOrdered(
            **_event_base(cart, actor),
            order_id=order_id,
            lines=[{"sku": line.sku, "quantity": line.quantity} for line in lines],
        )
    )
    return CheckedOut(
        lines=[(line.sku, line.quantity) for line in lines], profile_id=cart.profile_id
    )


@dataclass(frozen=True)
class CheckedOut:
    lines: list[tuple[str, int]]
    profile_id: str | None


def choose_pickup(
    uow: UnitOfWork,
    cart_id: str,
    *,
    location_id: str | None,
    actor: Actor,
    customer_id: str | None = None,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> CartRow:
    """Click & collect at ``location_id`` (None: back to delivery). With the default policy
    every line is then held at that store, all or nothing: a line the store cannot supply is a
    409 ``insufficient-stock`` naming it, and the cart stays as it was."""
    session = uow.session
    acting = _acting_profile(session, customer_id)
    cart = live_cart(session, cart_id)
    check_owner(cart.id, cart.profile_id, acting)
    if location_id is not None:
        _check_pickup(session, location_id)
    if cart.pickup_location_id == location_id:
        return cart
    cart.pickup_location_id = location_id
    for line in _lines(session, cart.id).values():
        _sync_hold(uow, cart, line, actor=actor, policy=policy)
    _touch(uow, cart)
    uow.emit(ev.PickupChosen(**_event_base(cart, actor), pickup_location_id=location_id))
    return cart


# -- stock holds --------------------------------------------------------------------------------
def _hold_active(session: Session, reservation_id: str | None) -> bool:
    if reservation_id is None:
        return False
    status = session.scalar(
        select(ReservationRow.status).where(ReservationRow.id == reservation_id)
    )
    return status == "active"


def _release_hold(uow: UnitOfWork, line: CartLineRow, actor: Actor) -> None:
    if line.reservation_id is not None:
        try:
            inventory.release(uow, line.reservation_id, actor=actor.key_id)
        except Conflict as exc:
            if exc.code != "reservation-closed":
                raise  # already expired by the sweeper: nothing left to give back
    line.reservation_id = None
    line.reserved_location_id = None
    line.reserved_quantity = 0


def _rehold(
    uow: UnitOfWork,
    cart: CartRow,
    line: CartLineRow,
    location_id: str | None,
    *,
    actor: Actor,
    policy: ReservationPolicy,
) -> None:
    _release_hold(uow, line, actor)
    if location_id is None:
        return
    [reservation] = inventory.reserve(
        uow,
        owner_type="cart",
        owner_id=cart.id,
        location_id=location_id,
        lines=[inventory.Line(line.sku, line.quantity)],
        ttl_minutes=policy.ttl_minutes,
        channel=actor.channel,
        actor=actor.key_id,
    )
    line.reservation_id = reservation.id
    line.reserved_location_id = location_id
    line.reserved_quantity = line.quantity


def _sync_hold(
    uow: UnitOfWork,
    cart: CartRow,
    line: CartLineRow,
    *,
    actor: Actor,
    policy: ReservationPolicy,
    best_effort: bool = False,
) -> None:
    """Make the line hold what the policy wants: its whole quantity at the pickup store or the
    till's store, or nothing. Release then reserve the new quantity (the units just released
    count as available again). ``best_effort``: a shortage keeps the previous hold instead of
    refusing the change (merges at login never fail on stock)."""
    location = policy.location_for(
        pickup_location_id=cart.pickup_location_id,
        added_channel=line.added_channel,
        added_store_id=line.added_store_id,
    )
    if location is None and line.reservation_id is None:
        return
    if (
        location == line.reserved_location_id
        and line.reserved_quantity == line.quantity
        and _hold_active(uow.session, line.reservation_id)
    ):
        return
    if not best_effort:
        _rehold(uow, cart, line, location, actor=actor, policy=policy)
        return
    try:
        with uow.session.begin_nested():
            _rehold(uow, cart, line, location, actor=actor, policy=policy)
    except DomainError:
        uow.session.refresh(line)  # the savepoint's changes are gone: the old hold stays


# -- binding to a customer, merging -------------------------------------------------------------
def attach_customer(
    uow: UnitOfWork,
    cart_id: str,
    *,
    customer_id: str,
    actor: Actor,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> CartRow:
    """At login: the anonymous cart becomes the customer's, or merges into the cart they
    already have in that currency (which is returned). Attaching again changes nothing."""
    session = uow.session
    profile_id = resolve_live(session, customer_id, lock=True).id
    cart = live_cart(session, cart_id)
    if cart.profile_id == profile_id:
        return cart
    check_owner(cart.id, cart.profile_id, profile_id, anonymous_ok=True)
    return _bind(uow, cart, profile_id, actor=actor, reason=MergeReason.LOGIN, policy=policy)


def _bind(
    uow: UnitOfWork,
    cart: CartRow,
    profile_id: str,
    *,
    actor: Actor,
    reason: MergeReason,
    policy: ReservationPolicy,
) -> CartRow:
    """Bind an anonymous cart to a customer (whose profile row the caller has locked)."""
    theirs = open_cart_of(uow.session, currency=cart.currency, profile_id=profile_id, lock=True)
    if theirs is None:
        cart.profile_id = profile_id
        cart.anonymous_token = None  # bound to the customer now, not to a device
        _touch(uow, cart)
        uow.emit(ev.CartAttached(**_event_base(cart, actor)))
        return cart
    merge_carts(uow, survivor=theirs, absorbed=cart, actor=actor, reason=reason, policy=policy)
    return theirs


def merge_carts(
    uow: UnitOfWork,
    *,
    survivor: CartRow,
    absorbed: CartRow,
    actor: Actor,
    reason: MergeReason,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> None:
    """Fold ``absorbed`` into ``survivor`` (both locked, same currency) by ``MERGE_RULE``:
    SKUs only in ``absorbed`` move with their provenance; a SKU in both keeps the larger
    quantity. The absorbed cart's holds are released and the survivor re-holds what the policy
    wants, as far as stock allows."""
    session = uow.session
    if survivor.currency != absorbed.currency:
        raise ValueError("carts of different currencies never merge")
    kept = _lines(session, survivor.id)
    incoming = _lines(session, absorbed.id)
    plan = plan_merge(
        {s: x.quantity for s, x in kept.items()}, {s: x.quantity for s, x in incoming.items()}
    )
    now = uow.now()
    touched: list[CartLineRow] = []
    for sku, line in incoming.items():
        _release_hold(uow, line, actor)
        if sku in plan.moved:
            line.cart_id = survivor.id
            line.updated_at = now
            touched.append(line)
            continue
        if sku in plan.raised:
            target = kept[sku]
            target.quantity = plan.raised[sku]
            target.changed_channel = line.changed_channel
            target.changed_store_id = line.changed_store_id
            target.updated_at = now
            touched.append(target)
        session.delete(line)
    absorbed.status = CartStatus.MERGED.value
    absorbed.merged_into = survivor.id
    absorbed.closed_at = now
    absorbed.anonymous_token = None
    _touch(uow, absorbed)
    session.flush()
    for line in touched:
        _sync_hold(uow, survivor, line, actor=actor, policy=policy, best_effort=True)
    _touch(uow, survivor)
    _replace_pending_handoffs(uow, absorbed.id)
    final = {s: x.quantity for s, x in _lines(session, survivor.id).items()}
    uow.emit(
        ev.CartMerged(
            **_event_base(survivor, actor),
            absorbed_cart_id=absorbed.id,
            absorbed_profile_id=absorbed.profile_id,
            reason=reason.value,
            rule=MERGE_RULE,
            moved_skus=list(plan.moved),
            raised=plan.raised,
            lines=final,
        )
    )


def follow_profile_merge(
    uow: UnitOfWork, *, survivor_id: str, absorbed_ids: Sequence[str], channel: str
) -> list[str]:
    """Carts follow a customer merge: per currency, the open carts of the absorbed profiles
    merge into the survivor's (or the oldest becomes the survivor's); closed carts are re-pointed
    so the history stays with the person. Returns the survivor's open cart ids. Idempotent."""
    session = uow.session
    survivor = resolve(session, survivor_id, lock=True).id  # a later merge may have moved it on
    absorbed = sorted(set(absorbed_ids) - {survivor})
    if not absorbed:
        return []
    actor = Actor(channel=channel)
    carts = list(
        session.scalars(
            select(CartRow)
            .where(
                CartRow.profile_id.in_([survivor, *absorbed]),
                CartRow.status == CartStatus.OPEN.value,
            )
            .order_by(CartRow.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )
    by_currency: dict[str, list[CartRow]] = {}
    for cart in carts:
        by_currency.setdefault(cart.currency, []).append(cart)
    kept_ids = []
    for group in by_currency.values():
        refs = [CartRef(c.id, c.profile_id, c.created_at) for c in group]
        keep_id = choose_survivor_cart(refs, profile_id=survivor).id
        keep = next(c for c in group if c.id == keep_id)
        if keep.profile_id != survivor:
            previous = keep.profile_id
            keep.profile_id = survivor
            _touch(uow, keep)
            session.flush()
            assert previous is not None
            uow.emit(ev.CartReassigned(**_event_base(keep, actor), previous_profile_id=previous))
        for other in group:
            if other.id != keep.id:
                merge_carts(
                    uow,
                    survivor=keep,
                    absorbed=other,
                    actor=actor,
                    reason=MergeReason.PROFILE_MERGE,
                )
        kept_ids.append(keep.id)
    session.execute(
        update(CartRow).where(CartRow.profile_id.in_(absorbed)).values(profile_id=survivor)
    )
    return sorted(kept_ids)


# -- handoff: from the till to the customer's phone ---------------------------------------------
def hand_off(
    uow: UnitOfWork,
    cart_id: str,
    *,
    actor: Actor,
    ttl_minutes: int | None = None,
) -> CartHandoffRow:
    """A short code (and link) the customer uses to open this cart on their phone. A newer
    code replaces the previous one."""
    session = uow.session
    cart = live_cart(session, cart_id)
    count = session.scalar(select(func.count()).where(CartLineRow.cart_id == cart.id))
    if not count:
        raise Conflict(
            f"Cart {cart.id} is empty; add what the customer chose before sending it.",
            code="cart-empty",
            cart_id=cart.id,
        )
    now = uow.now()
    expires_at = handoff_expiry(now, ttl_minutes)
    _replace_pending_handoffs(uow, cart.id)
    for attempt in range(5):
        handoff = CartHandoffRow(
            id=new_id("hof"),
            code=new_handoff_code(),
            cart_id=cart.id,
            status=HandoffState.PENDING.value,
            channel=actor.channel,
            store_id=actor.store_id,
            created_by=actor.key_id,
            created_at=now,
            expires_at=expires_at,
        )
        try:
            with session.begin_nested():
                session.add(handoff)
                session.flush()
            break
        except IntegrityError:
            if attempt == 4:  # five 40-bit collisions in a row: something else is wrong
                raise
    _touch(uow, cart)
    uow.emit(
        ev.CartHandedOff(
            **_event_base(cart, actor), handoff_id=handoff.id, expires_at=expires_at.isoformat()
        )
    )
    return handoff


def _replace_pending_handoffs(uow: UnitOfWork, cart_id: str) -> None:
    """A code only ever opens the cart it was sent for, while that cart is open."""
    uow.session.execute(
        update(CartHandoffRow)
        .where(CartHandoffRow.cart_id == cart_id, CartHandoffRow.status == "pending")
        .values(status=HandoffState.REPLACED.value)
    )


def _handoff_by_code(session: Session, code: str, *, lock: bool) -> CartHandoffRow:
    stmt = (
        select(CartHandoffRow)
        .where(CartHandoffRow.code == code)
        .execution_options(populate_existing=True)
    )
    if lock:
        stmt = stmt.with_for_update()
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            "No cart was sent with this code; check it, or ask the store associate to send the "
            "cart again.",
            code="handoff-not-found",
            field="code",
        )
    return row


@dataclass(frozen=True, slots=True)
class Claimed:
    cart: CartRow
    handoff: CartHandoffRow


def claim_handoff(
    uow: UnitOfWork,
    code: str,
    *,
    actor: Actor,
    customer_id: str | None = None,
    anonymous_token: str | None = None,
    policy: ReservationPolicy = DEFAULT_RESERVATION_POLICY,
) -> Claimed:
    """Open a handed-off cart on the phone: it becomes the claiming customer's (merged into
    the cart they already have) or the claiming session's. A code works once, until it expires."""
    session = uow.session
    wanted = normalise_handoff_code(code)
    if (customer_id is None) == (anonymous_token is None):
        raise InvalidInput(
            "Give customer_id (the signed-in customer) or anonymous_token (the app or browser "
            "session) to claim the cart.",
            field="customer_id",
        )
    profile_id = resolve_live(session, customer_id, lock=True).id if customer_id else None
    claimant = profile_id or check_token(anonymous_token or "")
    peek = _handoff_by_code(session, wanted, lock=False)
    cart = live_cart(session, peek.cart_id)  # lock order: profile, cart, then handoff
    handoff = _handoff_by_code(session, wanted, lock=True)
    now = uow.now()
    state = Handoff(handoff.cart_id, handoff.expires_at, handoff.status, handoff.claimed_by)
    if state.check_claim(now, claimant):
        return Claimed(cart, handoff)  # claimed already by this customer or session
    handed_off = cart.id
    if profile_id is not None:
        check_owner(cart.id, cart.profile_id, profile_id, anonymous_ok=True)
        if cart.profile_id is None:
            cart = _bind(
                uow, cart, profile_id, actor=actor, reason=MergeReason.HANDOFF, policy=policy
            )
    elif cart.profile_id is None:
        # the phone's session owns it now; if that session already had a cart, they merge
        theirs = open_cart_of(session, currency=cart.currency, token=claimant, lock=True)
        if theirs is not None and theirs.id != cart.id:
            merge_carts(
                uow,
                survivor=theirs,
                absorbed=cart,
                actor=actor,
                reason=MergeReason.HANDOFF,
                policy=policy,
            )
            cart = theirs
        else:
            cart.anonymous_token = claimant
    # a cart already bound to a customer stays theirs: the code proves the phone is theirs
    handoff.status = HandoffState.CLAIMED.value
    handoff.claimed_at = now
    handoff.claimed_by = claimant
    handoff.claimed_channel = actor.channel
    _touch(uow, cart)
    uow.emit(
        ev.CartClaimed(
            **_event_base(cart, actor), handoff_id=handoff.id, handed_off_cart_id=handed_off
        )
    )
    return Claimed(cart, handoff)
