"""Inventory use cases. The inventory service itself refuses an oversell: every change locks its
stock rows (``locks.py``), applies a domain operation (``model.py``), then writes the level, its
ledger movement and its events in the caller's unit of work.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import VariantRow
from omnicanal.events.model import Event
from omnicanal.inventory import events, writes
from omnicanal.inventory.locks import lock_levels
from omnicanal.inventory.model import (
    AlertKind,
    HoldKind,
    InsufficientStock,
    Movement,
    StockLevel,
    check_quantity,
    hold_back_for,
    stock_alert,
)
from omnicanal.inventory.tables import ReservationRow, StockLevelRow, StockMovementRow
from omnicanal.locations.tables import LocationRow
from omnicanal.settings import get_settings
from omnicanal.shared.errors import Conflict, Gone, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork

DEFAULT_TTL_MINUTES = {HoldKind.CART: None, HoldKind.TRY_IN_STORE: 48 * 60, HoldKind.ORDER: None}
ALERTS = {
    AlertKind.LOW: events.StockLow,
    AlertKind.OUT: events.StockOut,
    AlertKind.BACK_IN_STOCK: events.BackInStock,
}


@dataclass(frozen=True, slots=True)
class Line:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Reference:
    """Why stock moved: an order, a cart, a transfer, an import, a till ticket…"""

    type: str | None = None
    id: str | None = None
    reason: str | None = None


NO_REFERENCE = Reference()


# -- lookups ----------------------------------------------------------------------------------
def require_location(session: Session, location_id: str) -> LocationRow:
    location = session.get(LocationRow, location_id)
    if location is None:
        raise NotFound(
            f"No location {location_id!r}; list them with GET /v1/locations.",
            field="location_id",
            location_id=location_id,
        )
    if location.status != "active":
        raise Conflict(
            f"Location {location.code} is {location.status}; it holds no stock operations.",
            code="location-closed",
            location_id=location_id,
        )
    return location


def require_skus(session: Session, skus: Iterable[str]) -> None:
    wanted = set(skus)
    known = set(session.scalars(select(VariantRow.sku).where(VariantRow.sku.in_(wanted))))
    missing = sorted(wanted - known)
    if missing:
        raise NotFound(
            f"Unknown SKU {missing[0]!r}"
            + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; search the catalogue with GET /v1/variants?sku=….",
            field="sku",
            sku=missing[0],
        )


def check_lines(lines: Sequence[Line]) -> list[Line]:
    if not lines:
        raise InvalidInput("Give at least one line.", field="lines")
    seen: set[str] = set()
    for i, line in enumerate(lines):
        check_quantity(line.quantity, field_name=f"lines[{i}].quantity")
        if line.sku in seen:
            raise InvalidInput(
                f"SKU {line.sku} appears twice; give one line per SKU with the total quantity.",
                field=f"lines[{i}].sku",
            )
        seen.add(line.sku)
    return sorted(lines, key=lambda line: line.sku)


# -- writing a change -------------------------------------------------------------------------
def to_domain(row: StockLevelRow) -> StockLevel:
    return StockLevel(
        sku=row.sku,
        location_id=row.location_id,
        on_hand=row.on_hand,
        reserved=row.reserved,
        committed=row.committed,
        damaged=row.damaged,
        safety_stock=row.safety_stock,
        incoming=row.incoming,
        low_stock_threshold=row.low_stock_threshold,
    )


def record(
    uow: UnitOfWork,
    row: StockLevelRow,
    level: StockLevel,
    before_atp: int,
    movement: Movement | None,
    *,
    ref: Reference = NO_REFERENCE,
    reservation_id: str | None = None,
    actor: str | None = None,
) -> None:
    """Write the level back, append its ledger movement, emit the change and any alert."""
    now = uow.now()
    row.on_hand, row.reserved, row.committed = level.on_hand, level.reserved, level.committed
    row.damaged, row.incoming, row.safety_stock = level.damaged, level.incoming, level.safety_stock
    row.updated_at = now
    if movement is not None:
        uow.session.add(
            StockMovementRow(
                **_movement_row(
                    level, movement, now=now, ref=ref, reservation_id=reservation_id, actor=actor
                )
            )
        )
    for event in _change_events(level, before_atp, movement):
        uow.emit(event)


# -- reservations -----------------------------------------------------------------------------
def reserve(
    uow: UnitOfWork,
    *,
    owner_type: str,
    owner_id: str,
    location_id: str,
    lines: Sequence[Line],
    ttl_minutes: int | None = None,
    channel: str | None = None,
    actor: str | None = None,
) -> list[ReservationRow]:
    """Hold a basket at one location, all lines or none. Carts expire (default from settings),
    try-in-store holds after 48 h, orders only when given a TTL."""
    try:
        hold = HoldKind(owner_type)
    except ValueError:
        raise InvalidInput(
            f"owner_type must be one of {', '.join(h.value for h in HoldKind)}.", field="owner_type"
        ) from None
    if not owner_id:
        raise InvalidInput(
            "owner_id names the cart, order or visit holding the stock.", field="owner_id"
        )
    ordered = check_lines(lines)
    if ttl_minutes is not None and ttl_minutes <= 0:
        raise InvalidInput("ttl_minutes must be positive.", field="ttl_minutes")
    session = uow.session
    location = writes.location_facts(session, location_id)
    if location is None or location.status != "active":
        require_location(session, location_id)  # raises the actionable 404 / 409
    if hold is HoldKind.TRY_IN_STORE and "reserve_and_try" not in (location.capabilities or ()):
        raise Conflict(
            f"{location.name} does not offer reserve-and-try; choose a store with the "
            "'reserve_and_try' capability.",
            code="capability-missing",
            location_id=location_id,
        )
    levels = writes.lock_level_values(session, [(line.sku, location_id) for line in ordered])
    missing = [line for line in ordered if (line.sku, location_id) not in levels]
    if missing:
        require_skus(session, (line.sku for line in missing))  # unknown SKU: a 404 naming it
        raise InsufficientStock(missing[0].sku, location_id, missing[0].quantity, 0)
    now = uow.now()
    if ttl_minutes is None:
        ttl_minutes = (
            get_settings().default_reservation_ttl_minutes
            if hold is HoldKind.CART
            else DEFAULT_TTL_MINUTES[hold]
        )
    expires_at = now + timedelta(minutes=ttl_minutes) if ttl_minutes else None
    hold_back = hold_back_for(channel, location.kind)
    created: list[ReservationRow] = []
    movements: list[dict[str, object]] = []
    emitted: list[Event] = []
    for line in ordered:
        level = levels[(line.sku, location_id)]
        before = level.available_to_promise
        movement = level.reserve(line.quantity, hold, hold_back=hold_back)  # refuses oversell
        reservation = ReservationRow(
            id=new_id("res"),
            owner_type=hold.value,
            owner_id=owner_id,
            sku=line.sku,
            location_id=location_id,
            quantity=line.quantity,
            status="active",
            channel=channel,
            expires_at=expires_at,
            created_at=now,
            closed_at=None,
        )
        created.append(reservation)
        movements.append(
            _movement_row(
                level,
                movement,
                now=now,
                ref=Reference(hold.value, owner_id),
                reservation_id=reservation.id,
                actor=actor,
            )
        )
        emitted += _change_events(level, before, movement)
        emitted.append(
            events.ReservationCreated(
                reservation_id=reservation.id,
                owner_type=hold.value,
                owner_id=owner_id,
                sku=line.sku,
                location_id=location_id,
                quantity=line.quantity,
                expires_at=expires_at,
            )
        )
    writes.write_levels(session, [levels[(line.sku, location_id)] for line in ordered], now)
    writes.insert_rows(
        session,
        writes.RESERVATIONS,
        [{c.key: getattr(r, c.key) for c in writes.RESERVATIONS.columns} for r in created],
    )
    writes.insert_rows(session, writes.MOVEMENTS, movements)
    uow.emit_many(emitted)
    return created


def _movement_row(
    level: StockLevel,
    movement: Movement,
    *,
    now: datetime,
    ref: Reference,
    reservation_id: str | None,
    actor: str | None,
) -> dict[str, object]:
    return {
        "id": new_id("mov"),
        "sku": level.sku,
        "location_id": level.location_id,
        "kind": movement.kind.value,
        "d_on_hand": movement.d_on_hand,
        "d_reserved": movement.d_reserved,
        "d_committed": movement.d_committed,
        "d_damaged": movement.d_damaged,
        "d_incoming": movement.d_incoming,
        "reason": ref.reason,
        "reference_type": ref.type,
        "reference_id": ref.id,
        "reservation_id": reservation_id,
        "actor": actor,
        "occurred_at": now,
    }


def _change_events(level: StockLevel, before_atp: int, movement: Movement | None) -> list[Event]:
    """The level's change and any stock alert it crosses (as ``record`` emits them)."""
    atp = level.available_to_promise
    out: list[Event] = [
        events.StockChanged(
            sku=level.sku,
            location_id=level.location_id,
            movement=movement.kind.value if movement else "settings",
            on_hand=level.on_hand,
            reserved=level.reserved,
            committed=level.committed,
            damaged=level.damaged,
            available_to_promise=atp,
        )
    ]
    threshold = (
        level.low_stock_threshold
        if level.low_stock_threshold is not None
        else get_settings().default_low_stock_threshold
    )
    alert = stock_alert(before_atp, atp, threshold)
    if alert is not None:
        out.append(
            ALERTS[alert](
                sku=level.sku,
                location_id=level.location_id,
                available_to_promise=atp,
                threshold=threshold,
            )
        )
    return out


def _locked_reservation(uow: UnitOfWork, reservation_id: str) -> ReservationRow:
    reservation = uow.session.get(
        ReservationRow, reservation_id, with_for_update=True, populate_existing=True
    )
    if reservation is None:
        raise NotFound(f"No reservation {reservation_id!r}.", field="reservation_id")
    if reservation.status != "active":
        raise Conflict(
            f"Reservation {reservation_id} is already {reservation.status}; nothing to do.",
            code="reservation-closed",
            reservation_status=reservation.status,
        )
    return reservation


def _close(uow: UnitOfWork, reservation: ReservationRow, status: str, actor: str | None) -> None:
    hold = HoldKind(reservation.owner_type)
    key = (reservation.sku, reservation.location_id)
    row = lock_levels(uow.session, [key])[key]
    level = to_domain(row)
    before = level.available_to_promise
    if status == "fulfilled":
        movement = level.fulfil(reservation.quantity, hold)
        event_type: type[events._ReservationEvent] = events.ReservationFulfilled
    else:
        movement = level.release(reservation.quantity, hold, expired=status == "expired")
        event_type = (
            events.ReservationExpired if status == "expired" else events.ReservationReleased
        )
    reservation.status = status
    reservation.closed_at = uow.now()
    record(
        uow,
        row,
        level,
        before,
        movement,
        ref=Reference(reservation.owner_type, reservation.owner_id),
        reservation_id=reservation.id,
        actor=actor,
    )
    uow.emit(
        event_type(
            reservation_id=reservation.id,
            owner_type=reservation.owner_type,
            owner_id=reservation.owner_id,
            sku=reservation.sku,
            location_id=reservation.location_id,
            quantity=reservation.quantity,
        )
    )


def release(uow: UnitOfWork, reservation_id: str, *, actor: str | None = None) -> ReservationRow:
    reservation = _locked_reservation(uow, reservation_id)
    _close(uow, reservation, "released", actor)
    return reservation


def fulfil(uow: UnitOfWork, reservation_id: str, *, actor: str | None = None) -> ReservationRow:
    """The held units leave the location (shipped or handed over): a sale in the ledger."""
    reservation = _locked_reservation(uow, reservation_id)
    if reservation.expires_at is not None and reservation.expires_at <= uow.now():
        raise Gone(
            f"Reservation {reservation_id} expired at {reservation.expires_at.isoformat()}; its "
            "units went back on sale. Reserve again (the stock may be gone).",
            code="reservation-expired",
            expired_at=reservation.expires_at.isoformat(),
        )
    _close(uow, reservation, "fulfilled", actor)
    return reservation


def sweep_expired(uow: UnitOfWork, *, limit: int = 500) -> int:
    """Release every active reservation past its expiry (at most ``limit`` per call)."""
    stmt = (
        select(ReservationRow)
        .where(ReservationRow.status == "active", ReservationRow.expires_at <= uow.now())
        .order_by(ReservationRow.sku, ReservationRow.location_id, ReservationRow.id)
        .limit(limit)
    )
    if uow.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    due = list(uow.session.scalars(stmt))
    for reservation in due:
        _close(uow, reservation, "expired", "system")
    return len(due)


# -- physical stock ---------------------------------------------------------------------------
def _each_level(
    uow: UnitOfWork, location_id: str, lines: Sequence[Line], *, create: bool
) -> list[tuple[Line, StockLevelRow]]:
    ordered = check_lines(lines)
    require_location(uow.session, location_id)
    require_skus(uow.session, (line.sku for line in ordered))
    rows = lock_levels(uow.session, [(line.sku, location_id) for line in ordered], create=create)
    result = []
    for line in ordered:
        row = rows.get((line.sku, location_id))
        if row is None:
            raise InsufficientStock(line.sku, location_id, line.quantity, 0)
        result.append((line, row))
    return result


def receive(
    uow: UnitOfWork,
    *,
    location_id: str,
    lines: Sequence[Line],
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> list[StockLevelRow]:
    """Goods received (delivery from a supplier): on hand goes up."""
    changed = []
    for line, row in _each_level(uow, location_id, lines, create=True):
        level = to_domain(row)
        before = level.available_to_promise
        record(uow, row, level, before, level.receive(line.quantity), ref=ref, actor=actor)
        changed.append(row)
    return changed


def sell_at_till(
    uow: UnitOfWork,
    *,
    location_id: str,
    lines: Sequence[Line],
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> list[StockLevelRow]:
    """A till sale off the shelf, all lines or none; never takes units held for others."""
    changed = []
    for line, row in _each_level(uow, location_id, lines, create=False):
        level = to_domain(row)
        before = level.available_to_promise
        record(uow, row, level, before, level.sell(line.quantity), ref=ref, actor=actor)
        changed.append(row)
    return changed


def mark_damaged(
    uow: UnitOfWork,
    *,
    location_id: str,
    lines: Sequence[Line],
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> list[StockLevelRow]:
    changed = []
    for line, row in _each_level(uow, location_id, lines, create=False):
        level = to_domain(row)
        before = level.available_to_promise
        record(uow, row, level, before, level.mark_damaged(line.quantity), ref=ref, actor=actor)
        changed.append(row)
    return changed


def write_off(
    uow: UnitOfWork,
    *,
    location_id: str,
    lines: Sequence[Line],
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> list[StockLevelRow]:
    changed = []
    for line, row in _each_level(uow, location_id, lines, create=False):
        level = to_domain(row)
        before = level.available_to_promise
        record(uow, row, level, before, level.write_off(line.quantity), ref=ref, actor=actor)
        changed.append(row)
    return changed


def take_return(
    uow: UnitOfWork,
    *,
    location_id: str,
    lines: Sequence[Line],
    sellable: bool,
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> list[StockLevelRow]:
    """Units brought back to this location: back on sale, or kept aside as damaged."""
    changed = []
    for line, row in _each_level(uow, location_id, lines, create=True):
        level = to_domain(row)
        before = level.available_to_promise
        movement = level.take_return(line.quantity, sellable=sellable)
        record(uow, row, level, before, movement, ref=ref, actor=actor)
        changed.append(row)
    return changed


def adjust(
    uow: UnitOfWork,
    *,
    location_id: str,
    sku: str,
    counted: int | None = None,
    delta: int | None = None,
    ref: Reference = NO_REFERENCE,
    actor: str | None = None,
) -> StockLevelRow:
    """Correct on hand: to a counted quantity (stock take) or by a signed delta."""
    if (counted is None) == (delta is None):
        raise InvalidInput(
            "Give either counted (a stock take) or delta (a correction).", field="counted"
        )
    require_location(uow.session, location_id)
    require_skus(uow.session, [sku])
    row = lock_levels(uow.session, [(sku, location_id)], create=True)[(sku, location_id)]
    level = to_domain(row)
    before = level.available_to_promise
    movement = level.count(counted) if counted is not None else level.adjust(delta or 0)
    if movement.d_on_hand == 0:
        return row  # nothing to correct: no empty movement in the ledger
    record(uow, row, level, before, movement, ref=ref, actor=actor)
    return row


def set_level_settings(
    uow: UnitOfWork,
    *,
    location_id: str,
    sku: str,
    safety_stock: int | None = None,
    low_stock_threshold: int | None = None,
    clear_threshold: bool = False,
) -> StockLevelRow:
    if safety_stock is not None and safety_stock < 0:
        raise InvalidInput("safety_stock must be ≥ 0.", field="safety_stock")
    if low_stock_threshold is not None and low_stock_threshold < 0:
        raise InvalidInput("low_stock_threshold must be ≥ 0.", field="low_stock_threshold")
    require_location(uow.session, location_id)
    require_skus(uow.session, [sku])
    row = lock_levels(uow.session, [(sku, location_id)], create=True)[(sku, location_id)]
    level = to_domain(row)
    before = level.available_to_promise
    if safety_stock is not None:
        level.safety_stock = safety_stock
    if low_stock_threshold is not None or clear_threshold:
        row.low_stock_threshold = None if clear_threshold else low_stock_threshold
        level.low_stock_threshold = row.low_stock_threshold
    record(uow, row, level, before, None)
    return row
