"""Catalogue read side: searches, details and the SKU lookup other contexts call."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from omnicanal.catalog.model import (
    Assortment,
    ProductStatus,
    VariantInfo,
    check_assortment,
    check_status,
)
from omnicanal.catalog.service import chunks
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.money import Money, check_currency
from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor


@dataclass(frozen=True, slots=True)
class PriceView:
    sku: str
    price: Money
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class VariantView:
    id: str
    sku: str
    product_id: str
    gtin: str | None
    title: str
    attributes: dict[str, str]
    images: list[str]
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProductView:
    id: str
    ref: str | None
    title: str
    description: str
    brand: str | None
    category: str | None
    attributes: dict[str, str]
    images: list[str]
    assortment: str
    status: str
    created_at: datetime
    updated_at: datetime
    variants: list[VariantView] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class VariantDetail:
    variant: VariantView
    product: ProductView  # without its variants: a summary
    prices: list[PriceView]


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    items: list[T]
    next_cursor: str | None


def _variant_view(row: VariantRow) -> VariantView:
    return VariantView(
        id=row.id,
        sku=row.sku,
        product_id=row.product_id,
        gtin=row.gtin,
        title=row.title,
        attributes=dict(row.attributes),
        images=list(row.images),
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _product_view(row: ProductRow, variants: list[VariantView]) -> ProductView:
    return ProductView(
        id=row.id,
        ref=row.ref,
        title=row.title,
        description=row.description,
        brand=row.brand,
        category=row.category,
        attributes=dict(row.attributes),
        images=list(row.images),
        assortment=row.assortment,
        status=row.status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        variants=variants,
    )


def _with_variants(session: Session, rows: Sequence[ProductRow]) -> list[ProductView]:
    """One query for the variants of a whole page of products (no N+1)."""
    by_product: dict[str, list[VariantView]] = {r.id: [] for r in rows}
    if rows:
        stmt = (
            select(VariantRow)
            .where(VariantRow.product_id.in_(list(by_product)))
            .order_by(VariantRow.product_id, VariantRow.created_at, VariantRow.sku)
        )
        for variant in session.scalars(stmt):
            by_product[variant.product_id].append(_variant_view(variant))
    return [_product_view(r, by_product[r.id]) for r in rows]


def get_product(session: Session, product_id: str) -> ProductView:
    row = session.get(ProductRow, product_id)
    if row is None:
        raise NotFound(f"No product {product_id}.", field="product_id", product_id=product_id)
    return _with_variants(session, [row])[0]


def _contains(column: Any, text: str) -> ColumnElement[bool]:
    """Case-insensitive substring match; the caller's % and _ are literal."""
    result: ColumnElement[bool] = column.contains(text.lower(), autoescape=True)
    return result


def _page(items: list[T], limit: int, key: Any) -> Listing[T]:
    if len(items) > limit:
        items = items[:limit]
        return Listing(items, encode_cursor(key(items[-1])))
    return Listing(items, None)


def list_products(
    session: Session,
    *,
    q: str | None = None,
    sku: str | None = None,
    gtin: str | None = None,
    category: str | None = None,
    assortment: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listing[ProductView]:
    """Products by id (creation order), filtered server-side; keyset-paginated."""
    check_limit(limit)
    stmt = select(ProductRow)
    if q and q.strip():
        text = q.strip()
        stmt = stmt.where(
            or_(
                _contains(ProductRow.title_lower, text),
                _contains(func.lower(ProductRow.brand), text),
            )
        )
    if sku:
        stmt = stmt.where(
            exists().where(and_(VariantRow.product_id == ProductRow.id, VariantRow.sku == sku))
        )
    if gtin:
        stmt = stmt.where(
            exists().where(
                and_(VariantRow.product_id == ProductRow.id, VariantRow.gtin == gtin.strip())
            )
        )
    if category:
        stmt = stmt.where(ProductRow.category == category)
    if assortment:
        stmt = stmt.where(ProductRow.assortment == check_assortment(assortment).value)
    if status:
        stmt = stmt.where(ProductRow.status == check_status(status).value)
    if cursor:
        (after,) = _cursor(cursor, 1)
        stmt = stmt.where(ProductRow.id > after)
    rows = session.scalars(stmt.order_by(ProductRow.id).limit(limit + 1)).all()
    page = _page(list(rows), limit, lambda r: [r.id])
    return Listing(_with_variants(session, page.items), page.next_cursor)


def _cursor(cursor: str, size: int) -> list[str]:
    values = decode_cursor(cursor)
    if len(values) != size or not all(isinstance(v, str) for v in values):
        raise InvalidInput(
            "The cursor is not one this list returned; pass next_cursor from the previous page.",
            field="cursor",
        )
    return [str(v) for v in values]


def list_variants(
    session: Session,
    *,
    q: str | None = None,
    sku: str | None = None,
    gtin: str | None = None,
    product_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listing[VariantView]:
    """Variants by SKU. ``sku`` is a prefix (a till typing), ``gtin`` exact (a barcode scan),
    ``q`` case-insensitive text in the variant or product title, the SKU or the brand."""
    check_limit(limit)
    stmt = select(VariantRow)
    if q and q.strip():
        text = q.strip()
        stmt = stmt.join(ProductRow, ProductRow.id == VariantRow.product_id).where(
            or_(
                _contains(VariantRow.title_lower, text),
                _contains(func.lower(VariantRow.sku), text),
                _contains(ProductRow.title_lower, text),
                _contains(func.lower(ProductRow.brand), text),
            )
        )
    if sku:
        stmt = stmt.where(VariantRow.sku.startswith(sku.strip(), autoescape=True))
    if gtin:
        stmt = stmt.where(VariantRow.gtin == gtin.strip())
    if product_id:
        stmt = stmt.where(VariantRow.product_id == product_id)
    if status:
        stmt = stmt.where(VariantRow.status == check_status(status).value)
    if cursor:
        (after,) = _cursor(cursor, 1)
        stmt = stmt.where(VariantRow.sku > after)
    rows = session.scalars(stmt.order_by(VariantRow.sku).limit(limit + 1)).all()
    page = _page(list(rows), limit, lambda r: [r.sku])
    return Listing([_variant_view(r) for r in page.items], page.next_cursor)


def _price_view(row: BasePriceRow) -> PriceView:
    return PriceView(
        sku=row.sku, price=Money(row.amount_minor, row.currency), updated_at=row.updated_at
    )


def get_variant(session: Session, sku: str) -> VariantDetail:
    row = session.scalar(select(VariantRow).where(VariantRow.sku == sku))
    if row is None:
        raise NotFound(f"No variant with SKU {sku}.", field="sku", sku=sku)
    product = session.get(ProductRow, row.product_id)
    assert product is not None
    prices = session.scalars(
        select(BasePriceRow).where(BasePriceRow.sku == sku).order_by(BasePriceRow.currency)
    ).all()
    return VariantDetail(
        variant=_variant_view(row),
        product=_product_view(product, []),
        prices=[_price_view(p) for p in prices],
    )


def get_price(session: Session, sku: str, currency: str) -> PriceView | None:
    row = session.get(BasePriceRow, (sku, currency))
    return _price_view(row) if row else None


def list_prices(
    session: Session,
    *,
    sku: str | None = None,
    currency: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> Listing[PriceView]:
    """Base prices by (SKU, currency)."""
    check_limit(limit)
    stmt = select(BasePriceRow)
    if sku:
        stmt = stmt.where(BasePriceRow.sku == sku)
    if currency:
        stmt = stmt.where(BasePriceRow.currency == check_currency(currency))
    if cursor:
        after_sku, after_currency = _cursor(cursor, 2)
        stmt = stmt.where(
            or_(
                BasePriceRow.sku > after_sku,
                and_(BasePriceRow.sku == after_sku, BasePriceRow.currency > after_currency),
            )
        )
    rows = session.scalars(
        stmt.order_by(BasePriceRow.sku, BasePriceRow.currency).limit(limit + 1)
    ).all()
    page = _page(list(rows), limit, lambda r: [r.sku, r.currency])
    return Listing([_price_view(r) for r in page.items], page.next_cursor)


def variant_info(session: Session, skus: Iterable[str]) -> dict[str, VariantInfo]:
    """What inventory and orders need about SKUs, in one query per 500 SKUs.

    Unknown SKUs are simply absent from the result: the caller decides whether that is a 404
    (``missing = set(skus) - result.keys()``). ``status`` is archived when the variant or its
    product is archived; check ``info.sellable_in(channel)`` before selling.
    """
    found: dict[str, VariantInfo] = {}
    for batch in chunks(dict.fromkeys(skus)):
        stmt = (
            select(
                VariantRow.sku,
                VariantRow.product_id,
                VariantRow.title,
                VariantRow.status,
                ProductRow.assortment,
                ProductRow.status,
            )
            .join(ProductRow, ProductRow.id == VariantRow.product_id)
            .where(VariantRow.sku.in_(batch))
        )
        for sku, product_id, title, v_status, assortment, p_status in session.execute(stmt):
            archived = ProductStatus.ARCHIVED.value in (v_status, p_status)
            found[sku] = VariantInfo(
                sku=sku,
                product_id=product_id,
                title=title,
                assortment=Assortment(assortment),
                status=ProductStatus.ARCHIVED if archived else ProductStatus.ACTIVE,
            )
    return found
