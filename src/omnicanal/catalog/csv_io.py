"""Catalogue CSV: products (one row per variant) and base prices. See ``shared.tabular``.

Products columns (``sku``, ``product_ref`` and ``product_title`` required, the others optional):

    sku,gtin,product_ref,product_title,variant_title,brand,category,description,assortment,
    status,attributes,images,variant_status,product_attributes,product_images

- Rows sharing a ``product_ref`` form one product; its product columns must agree across rows.
  ``product_ref`` is the retailer's product reference; an export writes the product id for a
  product created without one, and an import matches it against refs first, then ids.
- ``attributes`` (of the variant) and ``product_attributes``: ``size=42;colour=black``; a ``;``,
  ``=`` or ``%`` inside a value is written ``%3B``, ``%3D``, ``%25``.
- ``images`` and ``product_images``: ``url|url``.
- Upsert by SKU: a known SKU is updated, an unknown one created. A column absent from the file
  leaves that field unchanged; an empty cell clears it (or sets the default).
- A SKU never moves to another product, and stays unique; so does a GTIN.

Prices columns: ``sku,currency,amount`` (``"19.99"``); upsert by (sku, currency).

Every row is validated before anything is written; any error rejects the whole file.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.catalog import service
from omnicanal.catalog.model import (
    MAX_BRAND,
    MAX_CATEGORY,
    ProductDraft,
    VariantDraft,
    check_assortment,
    check_attributes,
    check_gtin,
    check_images,
    check_optional_text,
    check_ref,
    check_sku,
    check_status,
    check_title,
)
from omnicanal.catalog.tables import BasePriceRow, ProductRow, VariantRow
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money, exponent
from omnicanal.shared.tabular import CsvRow, ImportRejected, ImportReport
from omnicanal.storage.uow import UnitOfWork

PRODUCT_COLUMNS = [
    "sku",
    "gtin",
    "product_ref",
    "product_title",
    "variant_title",
    "brand",
    "category",
    "description",
    "assortment",
    "status",
    "attributes",
    "images",
    "variant_status",
    "product_attributes",
    "product_images",
]
PRODUCT_REQUIRED = ["sku", "product_ref", "product_title"]
# product column -> ProductRow attribute
PRODUCT_LEVEL = {
    "product_title": "title",
    "brand": "brand",
    "category": "category",
    "description": "description",
    "assortment": "assortment",
    "status": "status",
    "product_attributes": "attributes",
    "product_images": "images",
}
# variant column -> VariantRow attribute
VARIANT_LEVEL = {
    "gtin": "gtin",
    "variant_title": "title",
    "attributes": "attributes",
    "images": "images",
    "variant_status": "status",
}
PRICE_COLUMNS = ["sku", "currency", "amount"]


# --- cell formats -----------------------------------------------------------------------------

_ESCAPES = {"%": "%25", ";": "%3B", "=": "%3D"}


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(c, c) for c in text)


def _unescape(text: str) -> str:
    return (
        text.replace("%3B", ";")
        .replace("%3D", "=")
        .replace("%3b", ";")
        .replace("%3d", "=")
        .replace("%25", "%")
    )


def format_attributes(values: Mapping[str, Any]) -> str:
    return ";".join(f"{_escape(str(k))}={_escape(str(v))}" for k, v in values.items())


def parse_attributes(text: str, *, field: str) -> dict[str, str]:
    out: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, sep, value = part.partition("=")
        if not sep:
            raise InvalidInput(f"{part!r} is not name=value (e.g. size=42;colour=black).")
        name = _unescape(key.strip())
        if name in out:
            raise InvalidInput(f"Attribute {name!r} appears twice.")
        out[name] = _unescape(value.strip())
    return check_attributes(out, field=field)


def parse_images(text: str, *, field: str) -> list[str]:
    return check_images([p.strip() for p in text.split("|") if p.strip()], field=field)


def check_header(
    rows: list[CsvRow], *, kind: str, required: list[str], known: list[str]
) -> set[str]:
    """The columns of the file; refuses missing required and unknown columns (typos)."""
    if not rows:
        return set(known)
    present = {k for k in rows[0].values if k != "__extra__"}
    report = ImportReport(kind=kind, rows=len(rows))
    for name in required:
        if name not in present:
            report.error(1, name, f"missing required column {name!r}")
    for name in sorted(present - set(known)):
        report.error(1, name or "(empty)", f"unknown column {name!r}; known: {', '.join(known)}")
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    return present


class _Cells:
    """Reads cells of one row, recording each invalid one instead of stopping at the first."""

    def __init__(self, row: CsvRow, report: ImportReport) -> None:
        self.row = row
        self.report = report
        self.ok = True
        if "__extra__" in row.values:
            self.fail(None, "the row has more cells than the header has columns")

    def fail(self, name: str | None, message: str) -> None:
        self.report.error(self.row.line, name, message)
        self.ok = False

    def parse(self, name: str, parser: Any) -> Any:
        try:
            return parser(self.row.get(name))
        except InvalidInput as exc:
            self.fail(name, exc.detail)
            return None


# --- products ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _ProductLine:
    line: int
    sku: str
    ref: str
    product: dict[str, object]  # ProductRow attribute -> value (only the columns present)
    variant: dict[str, object]  # VariantRow attribute -> value (only the columns present)


def _parse_product_line(
    row: CsvRow, present: set[str], report: ImportReport
) -> _ProductLine | None:
    cells = _Cells(row, report)
    sku = cells.parse("sku", lambda v: check_sku(v))
    ref = cells.parse("product_ref", lambda v: check_ref(v) or _missing("product_ref"))
    parsers: dict[str, Any] = {
        "product_title": lambda v: check_title(v, field="product_title"),
        "brand": lambda v: check_optional_text(v, field="brand", max_length=MAX_BRAND),
        "category": lambda v: check_optional_text(v, field="category", max_length=MAX_CATEGORY),
        "description": lambda v: v,
        "assortment": lambda v: check_assortment(v or "omnichannel").value,
        "status": lambda v: check_status(v or "active").value,
        "product_attributes": lambda v: parse_attributes(v, field="product_attributes"),
        "product_images": lambda v: parse_images(v, field="product_images"),
        "gtin": lambda v: check_gtin(v),
        "variant_title": lambda v: check_title(v, field="variant_title") if v else None,
        "attributes": lambda v: parse_attributes(v, field="attributes"),
        "images": lambda v: parse_images(v, field="images"),
        "variant_status": lambda v: check_status(v or "active", field="variant_status").value,
    }
    product = {
        attr: cells.parse(col, parsers[col])
        for col, attr in PRODUCT_LEVEL.items()
        if col in present
    }
    variant = {
        attr: cells.parse(col, parsers[col])
        for col, attr in VARIANT_LEVEL.items()
        if col in present
    }
    if not cells.ok:
        return None
    return _ProductLine(row.line, sku, ref, product, variant)


def _missing(name: str) -> str:
    raise InvalidInput(f"{name} is required.")


@dataclass(slots=True)
class _Group:
    ref: str
    first: _ProductLine
    lines: list[_ProductLine] = field(default_factory=list)
    row: ProductRow | None = None  # the existing product, when the ref is known


def _group(lines: list[_ProductLine], report: ImportReport) -> dict[str, _Group]:
    groups: dict[str, _Group] = {}
    seen_sku: dict[str, int] = {}
    seen_gtin: dict[str, int] = {}
    for item in lines:
        if item.sku in seen_sku:
            report.error(item.line, "sku", f"SKU {item.sku} already on line {seen_sku[item.sku]}")
            continue
        seen_sku[item.sku] = item.line
        gtin = item.variant.get("gtin")
        if isinstance(gtin, str):
            if gtin in seen_gtin:
                report.error(item.line, "gtin", f"GTIN {gtin} already on line {seen_gtin[gtin]}")
                continue
            seen_gtin[gtin] = item.line
        group = groups.setdefault(item.ref, _Group(item.ref, item))
        for attr, value in item.product.items():
            if group.first.product[attr] != value:
                column = next(c for c, a in PRODUCT_LEVEL.items() if a == attr)
                report.error(
                    item.line,
                    column,
                    f"{column} differs from line {group.first.line} for product_ref "
                    f"{item.ref}: rows of one product must agree",
                )
        group.lines.append(item)
    return groups


def _resolve_products(session: Session, groups: dict[str, _Group]) -> None:
    """Attach the existing product of each group: by ref, else by id."""
    refs = list(groups)
    for batch in service.chunks(refs):
        for row in session.scalars(select(ProductRow).where(ProductRow.ref.in_(batch))):
            assert row.ref is not None
            groups[row.ref].row = row
    unknown = [ref for ref, g in groups.items() if g.row is None]
    for batch in service.chunks(unknown):
        for row in session.scalars(select(ProductRow).where(ProductRow.id.in_(batch))):
            groups[row.id].row = row


def _check_against_database(
    session: Session,
    groups: dict[str, _Group],
    variants: dict[str, VariantRow],
    report: ImportReport,
) -> None:
    for group in groups.values():
        target = group.row.id if group.row else None
        for item in group.lines:
            existing = variants.get(item.sku)
            if existing is not None and existing.product_id != target:
                report.error(
                    item.line,
                    "product_ref",
                    f"SKU {item.sku} belongs to product {existing.product_id}; a SKU cannot "
                    "move to another product",
                )
    # GTINs: unique across the catalogue once the file is applied
    final = {
        item.sku: item.variant["gtin"]
        for g in groups.values()
        for item in g.lines
        if "gtin" in item.variant
    }
    owners = service.gtin_owners(session, [g for g in final.values() if isinstance(g, str)])
    for group in groups.values():
        for item in group.lines:
            gtin = item.variant.get("gtin")
            if not isinstance(gtin, str) or gtin not in owners:
                continue
            owner_sku, owner_product = owners[gtin]
            if owner_sku != item.sku and final.get(owner_sku, gtin) == gtin:
                report.error(
                    item.line,
                    "gtin",
                    f"GTIN {gtin} already belongs to SKU {owner_sku} of product {owner_product}",
                )


def _draft_product(group: _Group) -> ProductDraft:
    values = group.first.product
    return ProductDraft(
        title=str(values["title"]),
        description=str(values.get("description") or ""),
        brand=values.get("brand"),  # type: ignore[arg-type]
        category=values.get("category"),  # type: ignore[arg-type]
        attributes=values.get("attributes") or {},  # type: ignore[arg-type]
        images=values.get("images") or [],  # type: ignore[arg-type]
        assortment=check_assortment(str(values.get("assortment") or "omnichannel")),
        status=check_status(str(values.get("status") or "active")),
        ref=group.ref,
    )


def _draft_variant(item: _ProductLine) -> VariantDraft:
    values = item.variant
    return VariantDraft(
        sku=item.sku,
        title=values.get("title"),  # type: ignore[arg-type]
        gtin=values.get("gtin"),  # type: ignore[arg-type]
        attributes=values.get("attributes") or {},  # type: ignore[arg-type]
        images=values.get("images") or [],  # type: ignore[arg-type]
        status=check_status(str(values.get("status") or "active")),
    )


def import_products(uow: UnitOfWork, rows: list[CsvRow]) -> ImportReport:
    """Upsert products and variants from CSV rows; all or nothing."""
    report = ImportReport(kind="products", rows=len(rows))
    present = check_header(rows, kind="products", required=PRODUCT_REQUIRED, known=PRODUCT_COLUMNS)
    parsed = [_parse_product_line(row, present, report) for row in rows]
    groups = _group([p for p in parsed if p is not None], report)
    session = uow.session
    _resolve_products(session, groups)
    variants = service.existing_skus(session, [i.sku for g in groups.values() for i in g.lines])
    _check_against_database(session, groups, variants, report)
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    _apply_products(uow, groups, variants, report)
    return report


def _apply_products(
    uow: UnitOfWork,
    groups: dict[str, _Group],
    variants: dict[str, VariantRow],
    report: ImportReport,
) -> None:
    session, now = uow.session, uow.now()
    # GTINs move between SKUs only after the old holders let go (the column is unique).
    moving = [
        variants[i.sku]
        for g in groups.values()
        for i in g.lines
        if i.sku in variants and "gtin" in i.variant and variants[i.sku].gtin != i.variant["gtin"]
    ]
    if moving:
        for row in moving:
            row.gtin = None
        session.flush()
    created_products: list[tuple[ProductRow, list[VariantRow]]] = []
    updated_variants: list[tuple[VariantRow, list[str]]] = []
    updated_products: list[tuple[ProductRow, list[str]]] = []
    for group in groups.values():
        product = group.row
        new_variants: list[VariantRow] = []
        if product is None:
            product = service.new_product_row(
                _draft_product(group), product_id=new_id("prd"), now=now
            )
            session.add(product)
            created_products.append((product, new_variants))
        else:
            changed = service.apply_product_changes(product, group.first.product)
            if changed:
                product.updated_at = now
                updated_products.append((product, changed))
        product_changed = bool(updated_products) and updated_products[-1][0] is product
        for item in group.lines:
            existing = variants.get(item.sku)
            if existing is None:
                variant = service.new_variant_row(
                    _draft_variant(item),
                    product_id=product.id,
                    product_title=product.title,
                    now=now,
                )
                session.add(variant)
                new_variants.append(variant)
                report.created += 1
                continue
            changed = _apply_variant(existing, item.variant)
            if changed:
                existing.updated_at = now
                updated_variants.append((existing, changed))
            # a row counts as updated when its variant, or the product it carries, changed
            if changed or (product_changed and item is group.first):
                report.updated += 1
        if group.row is not None and new_variants:
            created_products.append((product, new_variants))
    service.flush_unique(session)
    _emit_product_events(uow, groups, created_products, updated_products, updated_variants)


def _apply_variant(row: VariantRow, values: Mapping[str, object]) -> list[str]:
    changed = []
    for name, value in values.items():
        if name == "title" and value is None:
            continue  # an empty variant_title keeps the current (derived) title
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed.append(name)
    if "title" in changed:
        row.title_lower = row.title.lower()
    return changed


def _emit_product_events(
    uow: UnitOfWork,
    groups: dict[str, _Group],
    created: list[tuple[ProductRow, list[VariantRow]]],
    updated_products: list[tuple[ProductRow, list[str]]],
    updated_variants: list[tuple[VariantRow, list[str]]],
) -> None:
    from omnicanal.catalog import events

    known = {g.row.id for g in groups.values() if g.row is not None}
    for product, new_variants in created:
        if product.id not in known:
            uow.emit(service.product_created_event(product, [v.sku for v in new_variants]))
        for variant in new_variants:
            uow.emit(service.variant_created_event(variant))
    for product, changed in updated_products:
        uow.emit(service.product_updated_event(product, changed))
    for variant, changed in updated_variants:
        uow.emit(
            events.VariantUpdated(
                sku=variant.sku,
                product_id=variant.product_id,
                changed=changed,
                gtin=variant.gtin,
                title=variant.title,
                status=variant.status,
            )
        )


def export_products(session: Session) -> tuple[list[str], Iterator[list[str]]]:
    """Every variant with its product, by product then SKU; streams in batches."""
    stmt = (
        select(VariantRow, ProductRow)
        .join(ProductRow, ProductRow.id == VariantRow.product_id)
        .order_by(ProductRow.id, VariantRow.sku)
        .execution_options(yield_per=1000)
    )

    def rows() -> Iterator[list[str]]:
        for variant, product in session.execute(stmt):
            yield [
                variant.sku,
                variant.gtin or "",
                product.ref or product.id,
                product.title,
                variant.title,
                product.brand or "",
                product.category or "",
                product.description,
                product.assortment,
                product.status,
                format_attributes(variant.attributes),
                "|".join(variant.images),
                variant.status,
                format_attributes(product.attributes),
                "|".join(product.images),
            ]

    return list(PRODUCT_COLUMNS), rows()


# --- prices -----------------------------------------------------------------------------------


def _parse_price(cells: _Cells) -> Money | None:
    currency = cells.row.get("currency")
    amount = cells.row.get("amount")
    try:
        return service.check_price(amount, currency)
    except InvalidInput as exc:
        cells.fail(exc.field or "amount", exc.detail)
        return None


def import_prices(uow: UnitOfWork, rows: list[CsvRow]) -> ImportReport:
    """Upsert base prices by (sku, currency); all or nothing. Unknown SKUs reject the file."""
    report = ImportReport(kind="prices", rows=len(rows))
    check_header(rows, kind="prices", required=PRICE_COLUMNS, known=PRICE_COLUMNS)
    wanted: list[tuple[int, str, Money]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        cells = _Cells(row, report)
        sku = cells.parse("sku", lambda v: check_sku(v))
        price = _parse_price(cells)
        if not cells.ok or price is None:
            continue
        key = (sku, price.currency)
        if key in seen:
            report.error(row.line, "sku", f"{sku} in {price.currency} already on line {seen[key]}")
            continue
        seen[key] = row.line
        wanted.append((row.line, sku, price))
    session = uow.session
    skus = {sku for _, sku, _ in wanted}
    known: set[str] = set()
    for batch in service.chunks(skus):
        known.update(session.scalars(select(VariantRow.sku).where(VariantRow.sku.in_(batch))))
    for line, sku, _ in wanted:
        if sku not in known:
            report.error(line, "sku", f"unknown SKU {sku}; import the products first")
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        raise ImportRejected(report)
    _apply_prices(uow, wanted, report)
    return report


def _apply_prices(
    uow: UnitOfWork, wanted: list[tuple[int, str, Money]], report: ImportReport
) -> None:
    session = uow.session
    skus = {sku for _, sku, _ in wanted}
    current: dict[tuple[str, str], BasePriceRow] = {}
    for batch in service.chunks(skus):
        for price_row in session.scalars(select(BasePriceRow).where(BasePriceRow.sku.in_(batch))):
            current[(price_row.sku, price_row.currency)] = price_row
    now = uow.now()
    for _, sku, price in wanted:
        existing = current.get((sku, price.currency))
        if existing is None:
            session.add(
                BasePriceRow(
                    sku=sku, currency=price.currency, amount_minor=price.minor, updated_at=now
                )
            )
            old = None
            report.created += 1
        elif existing.amount_minor != price.minor:
            old = Money(existing.amount_minor, price.currency)
            existing.amount_minor = price.minor
            existing.updated_at = now
            report.updated += 1
        else:
            continue
        uow.emit(
            service.price_changed_event(
                service.PriceChange(sku=sku, price=price, old=old, updated_at=now)
            )
        )
    service.flush_unique(session)


def export_prices(session: Session) -> tuple[list[str], Iterator[list[str]]]:
    stmt = (
        select(BasePriceRow.sku, BasePriceRow.currency, BasePriceRow.amount_minor)
        .order_by(BasePriceRow.sku, BasePriceRow.currency)
        .execution_options(yield_per=1000)
    )

    def rows() -> Iterator[list[str]]:
        for sku, currency, minor in session.execute(stmt):
            amount = Money(minor, currency).amount
            yield [sku, currency, f"{amount:.{exponent(currency)}f}"]

    return list(PRICE_COLUMNS), rows()
