"""Catalogue use cases. Each takes the unit of work first and never commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.catalog import events
from omnicanal.catalog.model import (
    ProductDraft,
    VariantDraft,
    check_product_changes,
    check_variant_changes,
    default_variant_title,
)
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.uow import UnitOfWork

CHUNK = 500  # bound IN (...) lists: SQLite and PostgreSQL both cap bind parameters


def chunks(values: Iterable[str], size: int = CHUNK) -> Iterable[list[str]]:
    batch: list[str] = []
    for value in values:
        batch.append(value)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- uniqueness -------------------------------------------------------------------------------


def existing_skus(session: Session, skus: Iterable[str]) -> dict[str, VariantRow]:
    found: dict[str, VariantRow] = {}
    for batch in chunks(skus):
        for row in session.scalars(select(VariantRow).where(VariantRow.sku.in_(batch))):
            found[row.sku] = row
    return found


def gtin_owners(session: Session, gtins: Iterable[str]) -> dict[str, tuple[str, str]]:
    """GTIN -> (sku, product_id) for the GTINs already taken."""
    found: dict[str, tuple[str, str]] = {}
    for batch in chunks(gtins):
        stmt = select(VariantRow.gtin, VariantRow.sku, VariantRow.product_id).where(
            VariantRow.gtin.in_(batch)
        )
        for gtin, sku, product_id in session.execute(stmt):
            if gtin is not None:
                found[gtin] = (sku, product_id)
    return found


def _refuse_taken(session: Session, variants: tuple[VariantDraft, ...], prefix: str) -> None:
    taken = existing_skus(session, [v.sku for v in variants])
    for index, variant in enumerate(variants):
        if variant.sku in taken:
            owner = taken[variant.sku].product_id
            raise Conflict(
                f"SKU {variant.sku} already exists on product {owner}; a SKU identifies one "
                "variant in every channel.",
                code="duplicate-sku",
                field=f"{prefix}[{index}].sku" if prefix else "sku",
                sku=variant.sku,
                product_id=owner,
            )
    owners = gtin_owners(session, [v.gtin for v in variants if v.gtin])
    for index, variant in enumerate(variants):
        if variant.gtin is not None and variant.gtin in owners:
            sku, owner = owners[variant.gtin]
            raise _gtin_conflict(variant.gtin, sku, owner, f"{prefix}[{index}].gtin")


def _gtin_conflict(gtin: str, sku: str, product_id: str, field: str) -> Conflict:
    return Conflict(
        f"GTIN {gtin} already belongs to SKU {sku} of product {product_id}.",
        code="duplicate-gtin",
        field=field,
        gtin=gtin,
        sku=sku,
        product_id=product_id,
    )


def flush_unique(session: Session) -> None:
    """Flush under a savepoint: a concurrent writer that took the same SKU/GTIN/ref first turns
    into a 409 instead of a 500 (PostgreSQL READ COMMITTED lets both checks pass)."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            "Another request has just created a variant with the same SKU or GTIN, or a product "
            "with the same ref; read it back and retry if needed.",
            code="duplicate-identifier",
        ) from None


# --- products ---------------------------------------------------------------------------------


def _refuse_taken_ref(session: Session, ref: str | None, *, product_id: str | None) -> None:
    if ref is None:
        return
    owner = session.scalar(select(ProductRow.id).where(ProductRow.ref == ref))
    if owner is not None and owner != product_id:
        raise Conflict(
            f"Product reference {ref} already belongs to product {owner}.",
            code="duplicate-ref",
            field="ref",
            ref=ref,
            product_id=owner,
        )


def new_product_row(draft: ProductDraft, *, product_id: str, now: datetime) -> ProductRow:
    return ProductRow(
        id=product_id,
        ref=draft.ref,
        title=draft.title,
        title_lower=draft.title.lower(),
        description=draft.description,
        brand=draft.brand,
        category=draft.category,
        attributes=dict(draft.attributes),
        images=list(draft.images),
        assortment=draft.assortment.value,
        status=draft.status.value,
        created_at=now,
        updated_at=now,
    )


def new_variant_row(
    draft: VariantDraft, *, product_id: str, product_title: str, now: datetime
) -> VariantRow:
    title = draft.title or default_variant_title(product_title, draft.attributes)
    return VariantRow(
        id=new_id("var"),
        product_id=product_id,
        sku=draft.sku,
        gtin=draft.gtin,
        title=title,
        title_lower=title.lower(),
        attributes=dict(draft.attributes),
        images=list(draft.images),
        status=draft.status.value,
        created_at=now,
        updated_at=now,
    )


def product_created_event(row: ProductRow, skus: list[str]) -> events.ProductCreated:
    return events.ProductCreated(
        product_id=row.id,
        ref=row.ref,
        title=row.title,
        assortment=row.assortment,
        status=row.status,
        skus=skus,
    )


def variant_created_event(row: VariantRow) -> events.VariantCreated:
    return events.VariantCreated(
        sku=row.sku, product_id=row.product_id, gtin=row.gtin, title=row.title
    )


def create_product(uow: UnitOfWork, *, draft: ProductDraft) -> str:
    """Create a product with its variants; 409 when a SKU, GTIN or ref is already taken."""
    session = uow.session
    _refuse_taken_ref(session, draft.ref, product_id=None)
    _refuse_taken(session, draft.variants, "variants")
    now = uow.now()
    product = new_product_row(draft, product_id=new_id("prd"), now=now)
    session.add(product)
    variants = [
        new_variant_row(v, product_id=product.id, product_title=product.title, now=now)
        for v in draft.variants
    ]
    session.add_all(variants)
    flush_unique(session)
    uow.emit(product_created_event(product, [v.sku for v in variants]))
    for variant in variants:
        uow.emit(variant_created_event(variant))
    return product.id


def get_product_row(session: Session, product_id: str) -> ProductRow:
    row = session.get(ProductRow, product_id)
    if row is None:
        raise NotFound(f"No product {product_id}.", field="product_id", product_id=product_id)
    return row


def apply_product_changes(row: ProductRow, changes: Mapping[str, object]) -> list[str]:
    """Set the changed fields on ``row``; returns the names of those that really changed."""
    changed = []
    for name, value in changes.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    if "title" in changed:
        row.title_lower = row.title.lower()
    return changed


def product_updated_event(row: ProductRow, changed: list[str]) -> events.ProductUpdated:
    return events.ProductUpdated(
        product_id=row.id,
        changed=changed,
        title=row.title,
        assortment=row.assortment,
        status=row.status,
    )


def update_product(uow: UnitOfWork, product_id: str, *, changes: Mapping[str, object]) -> None:
    """Change the given fields; emits ``catalog.product.updated`` when something changed."""
    values = check_product_changes(changes)
    row = get_product_row(uow.session, product_id)
    if "ref" in values:
        _refuse_taken_ref(uow.session, values["ref"], product_id=product_id)  # type: ignore[arg-type]
    changed = apply_product_changes(row, values)
    if changed:
        row.updated_at = uow.now()
        flush_unique(uow.session)
        uow.emit(product_updated_event(row, changed))


# --- variants ---------------------------------------------------------------------------------


def add_variant(uow: UnitOfWork, product_id: str, *, draft: VariantDraft) -> str:
    product = get_product_row(uow.session, product_id)
    _refuse_taken(uow.session, (draft,), "")
    variant = new_variant_row(
        draft, product_id=product.id, product_title=product.title, now=uow.now()
    )
    uow.session.add(variant)
    flush_unique(uow.session)
    uow.emit(variant_created_event(variant))
    return variant.sku


def get_variant_row(session: Session, sku: str) -> VariantRow:
    row = session.scalar(select(VariantRow).where(VariantRow.sku == sku))
    if row is None:
        raise NotFound(f"No variant with SKU {sku}.", field="sku", sku=sku)
    return row


def update_variant(uow: UnitOfWork, sku: str, *, changes: Mapping[str, object]) -> None:
    values = check_variant_changes(changes)
    row = get_variant_row(uow.session, sku)
    gtin = values.get("gtin")
    if isinstance(gtin, str) and gtin != row.gtin:
        owners = gtin_owners(uow.session, [gtin])
        if gtin in owners:
            owner_sku, owner_product = owners[gtin]
            raise _gtin_conflict(gtin, owner_sku, owner_product, "gtin")
    changed = []
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    if not changed:
        return
    if "title" in changed:
        row.title_lower = row.title.lower()
    row.updated_at = uow.now()
    flush_unique(uow.session)
    uow.emit(
        events.VariantUpdated(
            sku=row.sku,
            product_id=row.product_id,
            changed=changed,
            gtin=row.gtin,
            title=row.title,
            status=row.status,
        )
    )


# --- prices -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PriceChange:
    sku: str
    price: Money
    old: Money | None
    updated_at: datetime

    @property
    def changed(self) -> bool:
        return self.old != self.price


def check_price(amount: str, currency: str, *, field: str = "amount") -> Money:
    """A base price: a decimal string with no more decimals than the currency has, ≥ 0."""
    price = Money.of(amount, currency, field=field)
    if price.minor < 0:
        raise InvalidInput(f"A price cannot be negative ({amount}).", field=field)
    return price


def set_price(uow: UnitOfWork, *, sku: str, price: Money) -> PriceChange:
    """Set the base price of ``sku`` in ``price.currency``; emits ``catalog.price.changed`` when
    the amount differs from the current one (setting the same price again is a no-op)."""
    session = uow.session
    if session.scalar(select(VariantRow.id).where(VariantRow.sku == sku)) is None:
        raise NotFound(f"No variant with SKU {sku}; create it first.", field="sku", sku=sku)
    row = session.get(BasePriceRow, (sku, price.currency), with_for_update=True)
    now = uow.now()
    old = Money(row.amount_minor, price.currency) if row is not None else None
    if row is None:
        row = BasePriceRow(
            sku=sku, currency=price.currency, amount_minor=price.minor, updated_at=now
        )
        session.add(row)
    elif row.amount_minor != price.minor:
        row.amount_minor = price.minor
        row.updated_at = now
    change = PriceChange(sku=sku, price=price, old=old, updated_at=row.updated_at)
    if change.changed:
        flush_unique(session)
        uow.emit(price_changed_event(change))
    return change


def price_changed_event(change: PriceChange) -> events.PriceChanged:
    return events.PriceChanged(
        sku=change.sku,
        currency=change.price.currency,
        old_amount=str(change.old.amount) if change.old else None,
        new_amount=str(change.price.amount),
    )
