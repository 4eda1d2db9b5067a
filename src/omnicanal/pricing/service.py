"""Pricing use cases: create, import, change and end overrides; record prices channels report;
resolve the price of a basket for a context. Writes take the caller's ``UnitOfWork`` and never
commit; ``resolve_prices`` only reads and takes a session (carts, orders and promotions call it
inside their own transactions)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import BasePriceRow, VariantRow
from omnicanal.locations.tables import LocationRow
from omnicanal.pricing import events as ev
from omnicanal.pricing.model import (
    Justification,
    PriceContext,
    PriceOverride,
    PriceQuote,
    PriceScope,
    Reason,
    Window,
    check_channel,
    check_territory,
    check_window,
    resolve,
)
from omnicanal.pricing.tables import PriceObservationRow, PriceOverrideRow
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

MAX_BASKET = 500


def amount_text(money: Money) -> str:
    from omnicanal.shared.money import exponent

    return f"{money.amount:.{exponent(money.currency)}f}"


# --- rows <-> domain --------------------------------------------------------------------------


def to_override(row: PriceOverrideRow) -> PriceOverride:
    justification = (
        Justification(reason=Reason(row.reason), owner=row.owner, note=row.note)
        if row.reason is not None and row.owner is not None
        else None
    )
    return PriceOverride(
        id=row.id,
        sku=row.sku,
        price=Money(row.amount_minor, row.currency),
        scope=PriceScope(channel=row.channel, store_id=row.store_id, territory=row.territory),
        window=Window(row.valid_from, row.valid_until),
        justification=justification,
    )


def in_force(at: datetime) -> Any:
    """SQL condition: the override's window contains ``at``."""
    return and_(
        PriceOverrideRow.valid_from <= at,
        or_(PriceOverrideRow.valid_until.is_(None), PriceOverrideRow.valid_until > at),
    )


def store_territory(session: Session, store_id: str) -> str | None:
    return session.scalar(select(LocationRow.territory).where(LocationRow.id == store_id))


# --- resolution -------------------------------------------------------------------------------


def resolve_prices(
    session: Session,
    skus: Collection[str],
    *,
    currency: str,
    channel: str,
    store_id: str | None = None,
    territory: str | None = None,
    at: datetime,
) -> dict[str, PriceQuote]:
    """The price each SKU of a basket costs for this context at ``at``, in at most three queries
    (the store's territory when not given, the base prices, the overrides in force).

    A store's own territory applies when ``territory`` is not given. Raises ``NotFound`` naming
    the SKUs that have no base price in ``currency`` (they cannot be sold in it).
    """
    check_channel(channel)
    wanted = sorted(set(skus))
    if len(wanted) > MAX_BASKET:
        raise InvalidInput(f"Resolve at most {MAX_BASKET} SKUs at once.", field="skus")
    if not wanted:
        return {}
    if territory is not None:
        territory = check_territory(territory)
    elif store_id is not None:
        territory = store_territory(session, store_id)
    bases = {
        row[0]: row[1]
        for row in session.execute(
            select(BasePriceRow.sku, BasePriceRow.amount_minor).where(
                BasePriceRow.sku.in_(wanted), BasePriceRow.currency == currency
            )
        )
    }
    missing = [sku for sku in wanted if sku not in bases]
    if missing:
        raise NotFound(
            f"No base price in {currency} for {', '.join(missing)}; set one with "
            f"PUT /v1/prices/{{sku}}/{currency}.",
            code="price-not-found",
            field="sku",
            skus=missing,
            currency=currency,
        )
    rows = session.scalars(
        select(PriceOverrideRow).where(
            PriceOverrideRow.sku.in_(wanted),
            PriceOverrideRow.currency == currency,
            in_force(at),
            or_(PriceOverrideRow.channel.is_(None), PriceOverrideRow.channel == channel),
            or_(PriceOverrideRow.store_id.is_(None), PriceOverrideRow.store_id == store_id),
            or_(PriceOverrideRow.territory.is_(None), PriceOverrideRow.territory == territory),
        )
    ).all()
    by_sku: dict[str, list[PriceOverride]] = {}
    for row in rows:
        by_sku.setdefault(row.sku, []).append(to_override(row))
    context = PriceContext(channel=channel, at=at, store_id=store_id, territory=territory)
    return {
        sku: resolve(sku, Money(bases[sku], currency), by_sku.get(sku, ()), context)
        for sku in wanted
    }


def resolve_price(
    session: Session,
    sku: str,
    *,
    currency: str,
    channel: str,
    store_id: str | None = None,
    territory: str | None = None,
    at: datetime,
) -> PriceQuote:
    """``resolve_prices`` for one SKU."""
    return resolve_prices(
        session,
        [sku],
        currency=currency,
        channel=channel,
        store_id=store_id,
        territory=territory,
        at=at,
    )[sku]


# --- overrides --------------------------------------------------------------------------------


def _check_target(session: Session, *, sku: str, price: Money, scope: PriceScope) -> None:
    if session.scalar(select(VariantRow.id).where(VariantRow.sku == sku)) is None:
        raise NotFound(f"No variant with SKU {sku}; create it first.", field="sku", sku=sku)
    base = session.get(BasePriceRow, (sku, price.currency))
    if base is None:
        raise InvalidInput(
            f"{sku} has no base price in {price.currency}; an override sits on top of one: set "
            f"it first with PUT /v1/prices/{sku}/{price.currency}.",
            code="base-price-missing",
            field="currency",
            sku=sku,
        )
    if price.minor < 0:
        raise InvalidInput("A price cannot be negative.", field="amount")
    if scope.store_id is not None:
        kind = session.scalar(select(LocationRow.kind).where(LocationRow.id == scope.store_id))
        if kind != "store":
            raise InvalidInput(
                f"{scope.store_id} is not a store; list stores with GET /v1/locations?kind=store.",
                field="store_id",
                store_id=scope.store_id,
            )


def _created_event(row: PriceOverrideRow) -> ev.OverrideCreated:
    return ev.OverrideCreated(
        override_id=row.id,
        sku=row.sku,
        currency=row.currency,
        amount=amount_text(Money(row.amount_minor, row.currency)),
        channel=row.channel,
        store_id=row.store_id,
        territory=row.territory,
        valid_from=row.valid_from.isoformat(),
        valid_until=row.valid_until.isoformat() if row.valid_until else None,
        reason=row.reason,
        owner=row.owner,
        note=row.note,
        source=row.source,
    )


def _add_override(
    uow: UnitOfWork,
    *,
    sku: str,
    price: Money,
    scope: PriceScope,
    window: Window,
    justification: Justification | None,
    source: str,
    created_by: str | None,
) -> PriceOverrideRow:
    _check_target(uow.session, sku=sku, price=price, scope=scope)
    now = uow.now()
    row = PriceOverrideRow(
        id=new_id("pov"),
        sku=sku,
        currency=price.currency,
        amount_minor=price.minor,
        channel=scope.channel,
        store_id=scope.store_id,
        territory=scope.territory,
        valid_from=window.valid_from,
        valid_until=window.valid_until,
        reason=justification.reason.value if justification else None,
        owner=justification.owner if justification else None,
        note=justification.note if justification else "",
        source=source,
        created_by=created_by,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.emit(_created_event(row))
    return row


def create_override(
    uow: UnitOfWork,
    *,
    sku: str,
    price: Money,
    scope: PriceScope,
    justification: Justification,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    created_by: str | None = None,
) -> PriceOverrideRow:
    """A justified price for ``scope``; ``valid_from`` defaults to now. Only the reasons in
    ``OPEN_ENDED_REASONS`` may leave ``valid_until`` open."""
    window = check_window(Window(valid_from or uow.now(), valid_until), justification.reason)
    return _add_override(
        uow,
        sku=sku,
        price=price,
        scope=scope,
        window=window,
        justification=justification,
        source="api",
        created_by=created_by,
    )


def import_override(
    uow: UnitOfWork,
    *,
    sku: str,
    price: Money,
    scope: PriceScope,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    note: str = "",
    created_by: str | None = None,
) -> PriceOverrideRow:
    """Record a price difference a legacy system already applies, with no justification: it
    applies (it is what is being charged) and the audit flags it as unjustified until someone
    approves it (``update_override`` with reason and owner) or ends it."""
    window = check_window(Window(valid_from or uow.now(), valid_until), None)
    row = _add_override(
        uow,
        sku=sku,
        price=price,
        scope=scope,
        window=window,
        justification=None,
        source="import",
        created_by=created_by,
    )
    row.note = note.strip()[:500]
    return row


def load_override(session: Session, override_id: str, *, lock: bool = False) -> PriceOverrideRow:
    stmt = select(PriceOverrideRow).where(PriceOverrideRow.id == override_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None:
        raise NotFound(
            f"No price override {override_id}; list them with GET /v1/pricing/overrides?sku=.",
            code="override-not-found",
            field="override_id",
            override_id=override_id,
        )
    return row


def _set(row: PriceOverrideRow, changed: list[str], name: str, value: object) -> None:
    if getattr(row, name) != value:
        setattr(row, name, value)
        changed.append("amount" if name == "amount_minor" else name)


def _checked_amount(row: PriceOverrideRow, price: Money) -> int:
    if price.currency != row.currency:
        raise InvalidInput(
            f"This override is in {row.currency}; create another for {price.currency}.",
            field="currency",
        )
    if price.minor < 0:
        raise InvalidInput("A price cannot be negative.", field="amount")
    return price.minor


def _justification_after(row: PriceOverrideRow, changes: dict[str, Any]) -> Justification | None:
    if {"reason", "owner", "note"} & set(changes):
        return Justification.parse(
            reason=changes.get("reason", row.reason),
            owner=changes.get("owner", row.owner),
            note=changes.get("note", row.note),
        )
    if row.reason is not None and row.owner is not None:
        return Justification(Reason(row.reason), row.owner, row.note)
    return None


UPDATABLE = frozenset({"amount", "valid_from", "valid_until", "reason", "owner", "note"})


def update_override(
    uow: UnitOfWork, override_id: str, *, changes: dict[str, Any]
) -> PriceOverrideRow:
    """Change an override's price, window or justification; end it by setting ``valid_until``
    (now or later). The scope and currency are fixed: create another override instead.

    ``changes`` holds the fields sent: ``amount`` (``Money``), ``valid_from``/``valid_until``
    (aware datetimes, ``valid_until`` None reopens it), ``reason``, ``owner``, ``note``.
    Approving an imported override means giving it a reason and an owner.
    """
    unknown = sorted(set(changes) - UPDATABLE)
    if unknown:
        raise InvalidInput(
            f"Cannot change {', '.join(unknown)}: the SKU, currency and scope of an override are "
            "fixed; end it (valid_until) and create another.",
            field=unknown[0],
        )
    row = load_override(uow.session, override_id, lock=True)
    previous = Money(row.amount_minor, row.currency)
    changed: list[str] = []
    if "amount" in changes:
        _set(row, changed, "amount_minor", _checked_amount(row, changes["amount"]))
    justification = _justification_after(row, changes)
    window = check_window(
        Window(
            changes.get("valid_from", row.valid_from),
            changes.get("valid_until", row.valid_until),
        ),
        justification.reason if justification else None,
    )
    _set(row, changed, "valid_from", window.valid_from)
    _set(row, changed, "valid_until", window.valid_until)
    if justification is not None:
        _set(row, changed, "reason", justification.reason.value)
        _set(row, changed, "owner", justification.owner)
        _set(row, changed, "note", justification.note)
    if changed:
        row.updated_at = uow.now()
        uow.session.flush()
        uow.emit(
            ev.OverrideChanged(
                override_id=row.id,
                sku=row.sku,
                currency=row.currency,
                changed=changed,
                amount=amount_text(Money(row.amount_minor, row.currency)),
                previous_amount=amount_text(previous),
                channel=row.channel,
                store_id=row.store_id,
                territory=row.territory,
                valid_from=row.valid_from.isoformat(),
                valid_until=row.valid_until.isoformat() if row.valid_until else None,
                reason=row.reason,
                owner=row.owner,
                note=row.note,
            )
        )
    return row


# --- observations -----------------------------------------------------------------------------


def record_observation(
    uow: UnitOfWork,
    *,
    sku: str,
    price: Money,
    channel: str,
    store_id: str | None = None,
    observed_at: datetime | None = None,
    reference: str | None = None,
    reported_by: str | None = None,
) -> PriceObservationRow:
    """A channel reports the price it charged (a till's sale line); the audit compares it with
    what the rules gave that context at that instant."""
    check_channel(channel)
    now = uow.now()
    when = observed_at or now
    if when.tzinfo is None:
        raise InvalidInput("observed_at needs a time zone (UTC: ...Z).", field="observed_at")
    if when > now:
        raise InvalidInput(
            "observed_at is in the future; send when it was charged.", field="observed_at"
        )
    if price.minor < 0:
        raise InvalidInput("A price cannot be negative.", field="amount")
    if uow.session.scalar(select(VariantRow.id).where(VariantRow.sku == sku)) is None:
        raise NotFound(f"No variant with SKU {sku}.", field="sku", sku=sku)
    row = PriceObservationRow(
        id=new_id("pob"),
        sku=sku,
        currency=price.currency,
        amount_minor=price.minor,
        channel=channel,
        store_id=store_id,
        observed_at=when,
        reference=reference,
        reported_by=reported_by,
        recorded_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    return row


def overrides_of(
    session: Session, skus: Iterable[str], *, currency: str | None = None
) -> list[PriceOverride]:
    """Every override of ``skus`` (any window), for the audit."""
    stmt = select(PriceOverrideRow).where(PriceOverrideRow.sku.in_(sorted(set(skus))))
    if currency is not None:
        stmt = stmt.where(PriceOverrideRow.currency == currency)
    return [to_override(row) for row in session.scalars(stmt)]
