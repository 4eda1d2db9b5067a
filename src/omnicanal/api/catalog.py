"""/v1 routes for the catalogue: products, variants (SKUs) and base prices."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.catalog import service, views
from omnicanal.catalog.model import Assortment, ProductDraft, ProductStatus, VariantDraft
from omnicanal.shared.money import Money, check_currency, exponent
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["catalog"])

Reader = Annotated[Principal, Depends(require("catalog:read"))]
Writer = Annotated[Write, Depends(writer("catalog:write"))]

SKU_DOC = "1 to 64 characters among letters, digits, '.', '_' and '-'. Immutable."
Attributes = dict[str, str]


# --- schemas ----------------------------------------------------------------------------------


class VariantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(description=SKU_DOC, examples=["RUN2-42-BLK"])
    title: str | None = Field(
        default=None, description="Defaults to the product title and attribute values."
    )
    gtin: str | None = Field(default=None, description="GTIN-8/12/13/14 (EAN/UPC barcode).")
    attributes: Attributes = Field(default_factory=dict, examples=[{"size": "42"}])
    images: list[str] = Field(default_factory=list)
    status: ProductStatus = ProductStatus.ACTIVE

    def draft(self, prefix: str = "") -> VariantDraft:
        return VariantDraft.parse(
            sku=self.sku,
            title=self.title,
            gtin=self.gtin,
            attributes=self.attributes,
            images=self.images,
            status=self.status.value,
            prefix=prefix,
        )


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(examples=["Runner 2 trail shoe"])
    ref: str | None = Field(
        default=None, description="Your own product reference (style/model number); unique."
    )
    description: str = ""
    brand: str | None = None
    category: str | None = Field(default=None, examples=["shoes/trail"])
    attributes: Attributes = Field(default_factory=dict)
    images: list[str] = Field(default_factory=list)
    assortment: Assortment = Field(
        default=Assortment.OMNICHANNEL,
        description="omnichannel, store_only (till and store-bound keys) or online_only "
        "(web, app, marketplace, call centre).",
    )
    status: ProductStatus = ProductStatus.ACTIVE
    variants: list[VariantCreate] = Field(default_factory=list, max_length=500)

    def draft(self) -> ProductDraft:
        return ProductDraft.parse(
            title=self.title,
            description=self.description,
            brand=self.brand,
            category=self.category,
            attributes=self.attributes,
            images=self.images,
            assortment=self.assortment.value,
            status=self.status.value,
            ref=self.ref,
            variants=tuple(v.draft(f"variants[{i}].") for i, v in enumerate(self.variants)),
        )


class ProductUpdate(BaseModel):
    """Only the fields sent change; ``null`` clears an optional field."""

    model_config = ConfigDict(extra="forbid")

    title: str | None = None
    ref: str | None = None
    description: str | None = None
    brand: str | None = None
    category: str | None = None
    attributes: Attributes | None = None
    images: list[str] | None = None
    assortment: Assortment | None = None
    status: ProductStatus | None = None


class VariantUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str | None = Field(default=None, description="Immutable: sending another SKU is a 422.")
    title: str | None = None
    gtin: str | None = None
    attributes: Attributes | None = None
    images: list[str] | None = None
    status: ProductStatus | None = None


class VariantPublic(BaseModel):
    id: str
    sku: str
    product_id: str
    gtin: str | None
    title: str
    attributes: Attributes
    images: list[str]
    status: str
    created_at: datetime
    updated_at: datetime


class ProductSummary(BaseModel):
    id: str
    ref: str | None
    title: str
    description: str
    brand: str | None
    category: str | None
    attributes: Attributes
    images: list[str]
    assortment: str
    status: str
    created_at: datetime
    updated_at: datetime


class ProductPublic(ProductSummary):
    variants: list[VariantPublic]


class PriceSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: str = Field(
        description='A decimal string such as "19.99", with at most the currency\'s decimals.',
        examples=["19.99"],
    )

    @field_validator("amount", mode="before")
    @classmethod
    def _decimal_string(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError(
                'send the amount as a decimal string such as "19.99", not a JSON number '
                "(binary floats cannot hold cents exactly)"
            )
        return value


class PricePublic(BaseModel):
    sku: str
    currency: str
    amount: str = Field(examples=["19.99"])
    updated_at: datetime


class PriceChangedPublic(PricePublic):
    previous_amount: str | None
    changed: bool


class VariantDetailPublic(VariantPublic):
    product: ProductSummary
    prices: list[PricePublic]


# --- mapping ----------------------------------------------------------------------------------


def amount_text(money: Money) -> str:
    return f"{money.amount:.{exponent(money.currency)}f}"


def _variant(v: views.VariantView) -> VariantPublic:
    return VariantPublic(
        id=v.id,
        sku=v.sku,
        product_id=v.product_id,
        gtin=v.gtin,
        title=v.title,
        attributes=v.attributes,
        images=v.images,
        status=v.status,
        created_at=v.created_at,
        updated_at=v.updated_at,
    )


def _summary_fields(p: views.ProductView) -> dict[str, Any]:
    return {
        "id": p.id,
        "ref": p.ref,
        "title": p.title,
        "description": p.description,
        "brand": p.brand,
        "category": p.category,
        "attributes": p.attributes,
        "images": p.images,
        "assortment": p.assortment,
        "status": p.status,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _product(p: views.ProductView) -> ProductPublic:
    return ProductPublic(**_summary_fields(p), variants=[_variant(v) for v in p.variants])


def _price(p: views.PriceView) -> PricePublic:
    return PricePublic(
        sku=p.sku, currency=p.price.currency, amount=amount_text(p.price), updated_at=p.updated_at
    )


# --- products ---------------------------------------------------------------------------------


@router.post("/products", status_code=201, response_model=ProductPublic)
def create_product(body: ProductCreate, write: Writer) -> object:
    """Create a product with its variants. 409 when a SKU or GTIN is already taken."""
    draft = body.draft()

    def use_case(uow: UnitOfWork) -> ProductPublic:
        product_id = service.create_product(uow, draft=draft)
        return _product(views.get_product(uow.session, product_id))

    return write.run(use_case, status_code=201)


@router.get("/products", response_model=Page[ProductPublic])
def list_products(
    db: DbDep,
    _: Reader,
    q: Annotated[str | None, Query(description="Text in the title or brand.")] = None,
    sku: Annotated[str | None, Query(description="Products having this SKU.")] = None,
    gtin: Annotated[str | None, Query(description="Products having this GTIN.")] = None,
    category: str | None = None,
    assortment: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    with db.read() as session:
        listing = views.list_products(
            session,
            q=q,
            sku=sku,
            gtin=gtin,
            category=category,
            assortment=assortment,
            status=status,
            cursor=cursor,
            limit=limit,
        )
    return Page[ProductPublic](
        data=[_product(p) for p in listing.items], next_cursor=listing.next_cursor
    )


@router.get("/products/{product_id}", response_model=ProductPublic)
def get_product(product_id: str, db: DbDep, _: Reader) -> object:
    with db.read() as session:
        return _product(views.get_product(session, product_id))


@router.patch("/products/{product_id}", response_model=ProductPublic)
def update_product(product_id: str, body: ProductUpdate, write: Writer) -> object:
    changes = body.model_dump(exclude_unset=True, mode="json")

    def use_case(uow: UnitOfWork) -> ProductPublic:
        service.update_product(uow, product_id, changes=changes)
        return _product(views.get_product(uow.session, product_id))

    return write.run(use_case)


@router.post("/products/{product_id}/variants", status_code=201, response_model=VariantPublic)
def add_variant(product_id: str, body: VariantCreate, write: Writer) -> object:
    draft = body.draft()

    def use_case(uow: UnitOfWork) -> VariantPublic:
        sku = service.add_variant(uow, product_id, draft=draft)
        return _variant(views.get_variant(uow.session, sku).variant)

    return write.run(use_case, status_code=201)


# --- variants ---------------------------------------------------------------------------------


@router.get("/variants", response_model=Page[VariantPublic])
def list_variants(
    db: DbDep,
    _: Reader,
    q: Annotated[
        str | None, Query(description="Text in the SKU, variant or product title, brand.")
    ] = None,
    sku: Annotated[str | None, Query(description="SKU prefix.")] = None,
    gtin: Annotated[str | None, Query(description="Exact GTIN: a scanned barcode.")] = None,
    product_id: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    with db.read() as session:
        listing = views.list_variants(
            session,
            q=q,
            sku=sku,
            gtin=gtin,
            product_id=product_id,
            status=status,
            cursor=cursor,
            limit=limit,
        )
    return Page[VariantPublic](
        data=[_variant(v) for v in listing.items], next_cursor=listing.next_cursor
    )


def _detail(d: views.VariantDetail) -> VariantDetailPublic:
    return VariantDetailPublic(
        **_variant(d.variant).model_dump(),
        product=ProductSummary(**_summary_fields(d.product)),
        prices=[_price(p) for p in d.prices],
    )


@router.get("/variants/{sku}", response_model=VariantDetailPublic)
def get_variant(sku: str, db: DbDep, _: Reader) -> object:
    """A variant with its product summary and its base prices."""
    with db.read() as session:
        return _detail(views.get_variant(session, sku))


@router.patch("/variants/{sku}", response_model=VariantDetailPublic)
def update_variant(sku: str, body: VariantUpdate, write: Writer) -> object:
    changes = body.model_dump(exclude_unset=True, mode="json")
    if changes.get("sku") == sku:
        del changes["sku"]  # restating the SKU is harmless

    def use_case(uow: UnitOfWork) -> VariantDetailPublic:
        service.update_variant(uow, sku, changes=changes)
        return _detail(views.get_variant(uow.session, sku))

    return write.run(use_case)


# --- prices -----------------------------------------------------------------------------------


@router.put("/prices/{sku}/{currency}", response_model=PriceChangedPublic)
def set_price(sku: str, currency: str, body: PriceSet, write: Writer) -> object:
    """Set the base price of a SKU in a currency (the one price every channel sells at)."""
    code = check_currency(currency)
    price = service.check_price(body.amount, code)

    def use_case(uow: UnitOfWork) -> PriceChangedPublic:
        change = service.set_price(uow, sku=sku, price=price)
        return PriceChangedPublic(
            sku=sku,
            currency=code,
            amount=amount_text(change.price),
            updated_at=change.updated_at,
            previous_amount=amount_text(change.old) if change.old else None,
            changed=change.changed,
        )

    return write.run(use_case)


@router.get("/prices", response_model=Page[PricePublic])
def list_prices(
    db: DbDep,
    _: Reader,
    sku: str | None = None,
    currency: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> object:
    with db.read() as session:
        listing = views.list_prices(session, sku=sku, currency=currency, cursor=cursor, limit=limit)
    return Page[PricePublic](
        data=[_price(p) for p in listing.items], next_cursor=listing.next_cursor
    )
