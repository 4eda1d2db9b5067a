"""Catalogue events: what channels subscribe to in order to keep their copies in step."""

from __future__ import annotations

from dataclasses import dataclass, field

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class ProductCreated(Event):
    type = "catalog.product.created"
    product_id: str
    ref: str | None
    title: str
    assortment: str
    status: str
    skus: list[str] = field(default_factory=list)

    @property
    def subject(self) -> str | None:
        return self.product_id


@dataclass(frozen=True, kw_only=True)
class ProductUpdated(Event):
    type = "catalog.product.updated"
    product_id: str
    changed: list[str]  # names of the fields that changed
    title: str
    assortment: str
    status: str

    @property
    def subject(self) -> str | None:
        return self.product_id


@dataclass(frozen=True, kw_only=True)
class VariantCreated(Event):
    type = "catalog.variant.created"
    sku: str
    product_id: str
    gtin: str | None
    title: str

    @property
    def subject(self) -> str | None:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class VariantUpdated(Event):
    type = "catalog.variant.updated"
    sku: str
    product_id: str
    changed: list[str]
    gtin: str | None
    title: str
    status: str

    @property
    def subject(self) -> str | None:
        return self.sku


@dataclass(frozen=True, kw_only=True)
class PriceChanged(Event):
    """A base price was set or changed; amounts are decimal strings ("19.99")."""

    type = "catalog.price.changed"
    sku: str
    currency: str
    old_amount: str | None  # None when the SKU had no price in this currency
    new_amount: str

    @property
    def subject(self) -> str | None:
        return self.sku
