"""Till offline sync: each sale of a batch recorded once, in its own transaction, with its stock
sale movement, loyalty purchase, recommendations basket and events; stock conflicts reported.

A till that was offline resends batches (the network dropped the answer) and sends them out of
order (two tills of a store, a till restored from backup). A sale is keyed by (store, till, the
till's sale id): the first arrival records it, any later one is a ``duplicate`` (same body) or a
``conflict`` (another body under a reused number), and neither changes anything. One transaction
per sale: a sale that cannot be recorded (unknown SKU) does not hold back the rest of the day.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import VariantRow
from omnicanal.inventory import service as inventory
from omnicanal.inventory.locks import lock_levels
from omnicanal.locations.tables import LocationRow
from omnicanal.loyalty import service as loyalty
from omnicanal.loyalty.model import EarnLine, RefType
from omnicanal.recommendations import service as recommendations
from omnicanal.shared.errors import Conflict, DomainError, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork
from omnicanal.tills import events
from omnicanal.tills.model import Outcome, TillSale, split_stock
from omnicanal.tills.tables import TillSaleRow, TillStockConflictRow, TillSyncBatchRow

CLOCK_SKEW = timedelta(minutes=5)  # a till's clock runs a little ahead
MAX_SALE_AGE = loyalty.MAX_SYNC_AGE  # older sales are settled by head office, not a till sync
# Loyalty's (channel, till_sale, ref) key: the till's sale id is unique per store and till only.
_LOYALTY_REF = "{store_id}/{till_id}/{sale_id}"


@dataclass(frozen=True, slots=True)
class Till:
    store_id: str
    till_id: str
    channel: str  # the syncing key's channel
    api_key_id: str | None = None


@dataclass(frozen=True, slots=True)
class ConflictNote:
    id: str
    sku: str
    sold: int
    recorded: int
    short_by: int


@dataclass(frozen=True, slots=True)
class SaleResult:
    index: int
    sale_id: str
    outcome: Outcome
    till_sale_id: str | None = None
    stock_conflicts: tuple[ConflictNote, ...] = ()
    customer_id: str | None = None
    points_earned: int = 0
    problem: DomainError | None = None  # why a sale was rejected or conflicts


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    till: Till
    sales: list[SaleResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for s in self.sales if s.outcome is outcome)


# -- checks -----------------------------------------------------------------------------------
def require_store(session: Session, store_id: str) -> LocationRow:
    store = session.get(LocationRow, store_id)
    if store is None or store.kind != "store":
        raise NotFound(
            f"No store {store_id!r}; tills sync to a store (GET /v1/locations?kind=store).",
            field="store_id",
            store_id=store_id,
        )
    if store.status != "active":
        raise Conflict(
            f"Store {store.code} is {store.status}; its tills' sales cannot be recorded.",
            code="location-closed",
            field="store_id",
            store_id=store_id,
        )
    return store


def _check_skus(session: Session, sale: TillSale) -> None:
    """Every SKU must be in the catalogue; fields are relative to the sale."""
    skus = {line.sku for line in sale.lines}
    known = set(session.scalars(select(VariantRow.sku).where(VariantRow.sku.in_(skus))))
    for j, line in enumerate(sale.lines):
        if line.sku not in known:
            raise InvalidInput(
                f"Unknown SKU {line.sku!r}; the sale is not recorded. Correct it on the till "
                "(GET /v1/variants?sku=…) and resend it under the same sale id.",
                code="unknown-sku",
                field=f"lines[{j}].sku",
                sku=line.sku,
            )


def _check_time(sale: TillSale, uow: UnitOfWork) -> None:
    now = uow.now()
    if sale.sold_at > now + CLOCK_SKEW:
        raise InvalidInput(
            f"sold_at {sale.sold_at.isoformat()} is in the future; check the till's clock.",
            field="sold_at",
        )
    if sale.sold_at < now - MAX_SALE_AGE:
        raise InvalidInput(
            f"sold_at is more than {MAX_SALE_AGE.days} days ago; such sales are entered by head "
            "office (stock adjustment and loyalty adjustment), not by a till sync.",
            field="sold_at",
        )


# -- one sale ---------------------------------------------------------------------------------
def find_sale(session: Session, till: Till, sale_id: str) -> TillSaleRow | None:
    return session.scalars(
        select(TillSaleRow).where(
            TillSaleRow.store_id == till.store_id,
            TillSaleRow.till_id == till.till_id,
            TillSaleRow.sale_id == sale_id,
        )
    ).first()


def _earlier_outcome(session: Session, row: TillSaleRow, sale: TillSale, index: int) -> SaleResult:
    if row.fingerprint == sale.fingerprint():
        return SaleResult(
            index=index,
            sale_id=sale.sale_id,
            outcome=Outcome.DUPLICATE,
            till_sale_id=row.id,
            stock_conflicts=_conflict_notes(session, row.id),
            customer_id=row.customer_id,
            points_earned=row.points_earned,
        )
    return SaleResult(
        index=index,
        sale_id=sale.sale_id,
        outcome=Outcome.CONFLICT,
        till_sale_id=row.id,
        problem=Conflict(
            f"Sale {sale.sale_id} of till {row.till_id} was already recorded ({row.id}) with "
            "other lines, payments, time or customer; nothing was changed. A new sale needs a "
            "new sale id; a correction goes through a return or a stock adjustment.",
            code="till-sale-conflict",
            field="sale_id",
            till_sale_id=row.id,
        ),
    )


def _conflict_notes(session: Session, till_sale_id: str) -> tuple[ConflictNote, ...]:
    rows = session.scalars(
        select(TillStockConflictRow)
        .where(TillStockConflictRow.till_sale_id == till_sale_id)
        .order_by(TillStockConflictRow.sku)
    )
    return tuple(
        ConflictNote(
            id=r.id, sku=r.sku, sold=r.sold, recorded=r.sold - r.short_by, short_by=r.short_by
        )
        for r in rows
    )


def record_sale(
    uow: UnitOfWork, *, till: Till, sale: TillSale, index: int = 0, batch_id: str | None = None
) -> SaleResult:
    """Record one sale once; a known (store, till, sale id) changes nothing."""
    session = uow.session
    found = find_sale(session, till, sale.sale_id)
    if found is not None:
        return _earlier_outcome(session, found, sale, index)
    _check_skus(session, sale)
    _check_time(sale, uow)
    now = uow.now()
    row = TillSaleRow(
        id=new_id("tsl"),
        store_id=till.store_id,
        till_id=till.till_id,
        sale_id=sale.sale_id,
        fingerprint=sale.fingerprint(),
        batch_id=batch_id,
        channel=till.channel,
        sold_at=sale.sold_at,
        currency=sale.currency,
        total_minor=sale.total_minor,
        identified=sale.customer_id is not None or sale.card is not None,
        customer_id=None,
        lines=[
            {"sku": x.sku, "quantity": x.quantity, "unit_price_minor": x.unit_price_minor}
            for x in sale.lines
        ],
        payments=[
            {"provider": p.provider, "reference": p.reference, "amount_minor": p.amount_minor}
            for p in sale.payments
        ],
        short_units=0,
        points_earned=0,
        api_key_id=till.api_key_id,
        recorded_at=now,
    )
    session.add(row)
    session.flush()  # claims (store, till, sale id): a concurrent resend waits, then fails

    notes = _take_stock(uow, till=till, sale=sale, row=row)
    _earn(uow, till=till, sale=sale, row=row)
    recommendations.record_purchase(
        uow,
        recommendations.Purchase(
            source="till",
            source_ref=_LOYALTY_REF.format(
                store_id=till.store_id, till_id=till.till_id, sale_id=sale.sale_id
            ),
            channel=till.channel,
            skus=list(sale.quantities().items()),
            at=sale.sold_at,
            customer_id=row.customer_id,
            store_id=till.store_id,
        ),
    )
    uow.emit(
        events.SaleRecorded(
            till_sale_id=row.id,
            store_id=till.store_id,
            till_id=till.till_id,
            sale_id=sale.sale_id,
            channel=till.channel,
            sold_at=sale.sold_at.isoformat(),
            currency=sale.currency,
            total_minor=row.total_minor,
            customer_id=row.customer_id,
            identified=row.identified,
            lines=tuple(
                events.SoldLine(sku=x.sku, quantity=x.quantity, unit_price_minor=x.unit_price_minor)
                for x in sale.lines
            ),
            short_units=row.short_units,
        )
    )
    return SaleResult(
        index=index,
        sale_id=sale.sale_id,
        outcome=Outcome.RECORDED,
        till_sale_id=row.id,
        stock_conflicts=notes,
        customer_id=row.customer_id,
        points_earned=row.points_earned,
    )


def _take_stock(
    uow: UnitOfWork, *, till: Till, sale: TillSale, row: TillSaleRow
) -> tuple[ConflictNote, ...]:
    """Take the sold units off the store's shelf, as far as it holds them (the inventory service
    refuses anything below what is held for others); report the rest as conflicts."""
    sold = sale.quantities()
    levels = lock_levels(uow.session, [(sku, till.store_id) for sku in sold])
    on_shelf = {sku: inventory.to_domain(level).free for (sku, _), level in levels.items()}
    split = split_stock(sold, on_shelf)
    if split.take:
        inventory.sell_at_till(
            uow,
            location_id=till.store_id,
            lines=[inventory.Line(sku, quantity) for sku, quantity in split.take.items()],
            ref=inventory.Reference(type="till_sale", id=row.id, reason=f"till {till.till_id}"),
            actor=till.api_key_id,
        )
    now = uow.now()
    notes = []
    for short in split.short:
        conflict = TillStockConflictRow(
            id=new_id("tsc"),
            till_sale_id=row.id,
            store_id=till.store_id,
            till_id=till.till_id,
            sale_id=sale.sale_id,
            sku=short.sku,
            sold=short.sold,
            short_by=short.short_by,
            sold_at=sale.sold_at,
            created_at=now,
        )
        uow.session.add(conflict)
        uow.emit(
            events.StockConflict(
                conflict_id=conflict.id,
                till_sale_id=row.id,
                store_id=till.store_id,
                till_id=till.till_id,
                sale_id=sale.sale_id,
                sku=short.sku,
                sold=short.sold,
                recorded=short.recorded,
                short_by=short.short_by,
                sold_at=sale.sold_at.isoformat(),
            )
        )
        notes.append(
            ConflictNote(
                id=conflict.id,
                sku=short.sku,
                sold=short.sold,
                recorded=short.recorded,
                short_by=short.short_by,
            )
        )
    row.short_units = sum(s.short_by for s in split.short)
    return tuple(notes)


def _earn(uow: UnitOfWork, *, till: Till, sale: TillSale, row: TillSaleRow) -> None:
    """Every sale is a loyalty purchase (anonymous ones count for the identification rate); an
    identified one earns, once per (channel, till_sale, store/till/sale id)."""
    paid = max(0, sale.total_minor - sale.paid_with_points_minor)
    outcome = loyalty.record_purchase(
        uow,
        channel=till.channel,
        ref_type=RefType.TILL_SALE,
        ref_id=_LOYALTY_REF.format(
            store_id=till.store_id, till_id=till.till_id, sale_id=sale.sale_id
        ),
        amount=Money(paid, sale.currency),
        lines=[
            EarnLine(sku=x.sku, quantity=x.quantity, unit_price_minor=x.unit_price_minor)
            for x in sale.lines
        ],
        customer_id=sale.customer_id,
        card=sale.card,
        store_id=till.store_id,
        occurred_at=sale.sold_at,
    )
    row.loyalty_purchase_id = outcome.purchase.id
    row.customer_id = outcome.account.customer_id if outcome.account else None
    row.points_earned = outcome.movement.points if outcome.movement else 0


# -- a batch ----------------------------------------------------------------------------------
_FIELD_OF = {"occurred_at": "sold_at", "external_ref": "sale_id", "amount": "lines"}


def _in_sale(index: int, error: DomainError) -> DomainError:
    """Name the field inside the batch: ``lines[0].sku`` of sale 3 is ``sales[3].lines[0].sku``."""
    inner = _FIELD_OF.get(error.field or "", error.field)
    error.field = f"sales[{index}].{inner}" if inner else f"sales[{index}]"
    return error


def sync_batch(db: Database, *, till: Till, sales: Sequence[TillSale]) -> BatchResult:
    """Each sale in its own transaction, in the order sent (the order does not matter: a sale's
    stock and points do not depend on the sales around it)."""
    with db.read() as session:
        require_store(session, till.store_id)
    result = BatchResult(batch_id=new_id("tsb"), till=till)
    for index, sale in enumerate(sales):
        result.sales.append(
            _sync_one(db, till=till, sale=sale, index=index, batch_id=result.batch_id)
        )
    return result


def _sync_one(db: Database, *, till: Till, sale: TillSale, index: int, batch_id: str) -> SaleResult:
    try:
        with db.uow() as uow:
            done = record_sale(uow, till=till, sale=sale, index=index, batch_id=batch_id)
    except DomainError as error:
        return SaleResult(
            index=index,
            sale_id=sale.sale_id,
            outcome=Outcome.REJECTED,
            problem=_in_sale(index, error),
        )
    except IntegrityError:
        # the same sale, resent concurrently, won the claim: answer as its resend
        with db.read() as session:
            found = find_sale(session, till, sale.sale_id)
            if found is None:
                raise
            return _earlier_outcome(session, found, sale, index)
    if done.problem is not None:
        _in_sale(index, done.problem)
    return done


def record_batch(uow: UnitOfWork, result: BatchResult) -> TillSyncBatchRow:
    row = TillSyncBatchRow(
        id=result.batch_id,
        store_id=result.till.store_id,
        till_id=result.till.till_id,
        api_key_id=result.till.api_key_id,
        received=len(result.sales),
        recorded=result.count(Outcome.RECORDED),
        duplicates=result.count(Outcome.DUPLICATE),
        conflicts=result.count(Outcome.CONFLICT),
        rejected=result.count(Outcome.REJECTED),
        received_at=uow.now(),
    )
    uow.session.add(row)
    return row


# -- conflicts --------------------------------------------------------------------------------
def get_conflict(session: Session, conflict_id: str) -> TillStockConflictRow:
    row = session.get(TillStockConflictRow, conflict_id)
    if row is None:
        raise NotFound(
            f"No till stock conflict {conflict_id!r}; list them with GET /v1/tills/conflicts.",
            conflict_id=conflict_id,
        )
    return row


def resolve_conflict(
    uow: UnitOfWork, conflict_id: str, *, note: str, actor: str | None
) -> TillStockConflictRow:
    """Head office or the store settled it (a count, a late receipt): mark it, once."""
    row = uow.session.get(TillStockConflictRow, conflict_id, with_for_update=True)
    if row is None:
        get_conflict(uow.session, conflict_id)
    assert row is not None
    if row.resolved_at is not None:
        return row  # resolved already: a retry changes nothing
    row.resolved_at = uow.now()
    row.resolution_note = note
    row.resolved_by = actor
    uow.emit(
        events.StockConflictResolved(
            conflict_id=row.id, store_id=row.store_id, sku=row.sku, short_by=row.short_by, note=note
        )
    )
    return row


# -- merges and erasure ----------------------------------------------------------------------
def follow_merge(uow: UnitOfWork, *, survivor_id: str, absorbed_ids: Sequence[str]) -> None:
    if absorbed_ids:
        uow.session.execute(
            update(TillSaleRow)
            .where(TillSaleRow.customer_id.in_(list(absorbed_ids)))
            .values(customer_id=survivor_id)
        )


def forget_customers(uow: UnitOfWork, customer_ids: Sequence[str]) -> int:
    """An erased customer's till sales stay for the accounts, anonymous (``identified`` kept)."""
    if not customer_ids:
        return 0
    done = uow.session.execute(
        update(TillSaleRow)
        .where(TillSaleRow.customer_id.in_(list(customer_ids)))
        .values(customer_id=None)
    )
    return int(getattr(done, "rowcount", 0) or 0)
