"""Catalogue domain: products, variants (SKUs), channel assortment. Pure: no I/O.

Every validator raises ``InvalidInput`` naming the field at fault; callers pass ``field`` so the
name matches what the client sent (``variants[1].gtin`` in JSON, ``gtin`` in a CSV row).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import urlsplit

from omnicanal.shared.errors import InvalidInput

SKU_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
GTIN_LENGTHS = frozenset({8, 12, 13, 14})
MAX_TITLE = 300
MAX_BRAND = 120
MAX_CATEGORY = 200
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_KEY = 64
MAX_ATTRIBUTE_VALUE = 300
MAX_IMAGES = 30
MAX_IMAGE_URL = 2000


class Assortment(StrEnum):
    """Which channels may sell a product (the retailer's channel ranges)."""

    OMNICHANNEL = "omnichannel"
    STORE_ONLY = "store_only"
    ONLINE_ONLY = "online_only"


class ProductStatus(StrEnum):
    ACTIVE = "active"
    ARCHIVED = "archived"


# Channels that sell at a distance: the "online" range.
ONLINE_CHANNELS = frozenset({"web", "app", "marketplace", "callcenter"})
# Channels that are physically in a store.
STORE_CHANNELS = frozenset({"pos"})


def sellable_in_channel(assortment: str, channel: str, *, store_bound: bool = False) -> bool:
    """May ``channel`` sell a product of this ``assortment``?

    - ``omnichannel``: every channel.
    - ``store_only``: the till (``pos``) and any key bound to a store (an associate's tablet,
      whatever its channel, acts in the store); never web, app, marketplace or call centre.
    - ``online_only``: ``web``, ``app``, ``marketplace`` and ``callcenter``, store-bound or not
      (an associate may order an online-only item for home delivery through the app: the sale is
      online); never the till.
    - ``admin`` (head office) is not a sales channel and may act on every range.

    Unknown channels sell only the omnichannel range.
    """
    kind = Assortment(assortment)
    if kind is Assortment.OMNICHANNEL or channel == "admin":
        return True
    if kind is Assortment.STORE_ONLY:
        return channel in STORE_CHANNELS or store_bound
    return channel in ONLINE_CHANNELS


# --- field validators -------------------------------------------------------------------------


def check_sku(value: str, *, field: str = "sku") -> str:
    sku = value.strip()
    if not SKU_PATTERN.fullmatch(sku):
        raise InvalidInput(
            f"SKU {value!r} is invalid: use 1 to 64 characters among letters, digits, '.', '_' "
            "and '-'.",
            field=field,
        )
    return sku


def gtin_check_digit(body: str) -> int:
    """The GS1 mod-10 check digit of ``body`` (a GTIN without its last digit)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10


def is_valid_gtin(value: str) -> bool:
    return (
        value.isascii()
        and value.isdigit()
        and len(value) in GTIN_LENGTHS
        and gtin_check_digit(value[:-1]) == int(value[-1])
    )


def check_gtin(value: str | None, *, field: str = "gtin") -> str | None:
    """A GTIN-8/12/13/14 with a valid check digit, or None when empty."""
    if value is None or not value.strip():
        return None
    gtin = value.strip()
    if not (gtin.isascii() and gtin.isdigit()) or len(gtin) not in GTIN_LENGTHS:
        raise InvalidInput(
            f"GTIN {value!r} is invalid: a GTIN has 8, 12, 13 or 14 digits.", field=field
        )
    expected = gtin_check_digit(gtin[:-1])
    if expected != int(gtin[-1]):
        raise InvalidInput(
            f"GTIN {gtin} has a wrong check digit: expected {expected}, got {gtin[-1]}.",
            field=field,
        )
    return gtin


def check_title(value: str, *, field: str = "title") -> str:
    title = value.strip()
    if not title:
        raise InvalidInput("The title must not be empty.", field=field)
    if len(title) > MAX_TITLE:
        raise InvalidInput(f"The title is longer than {MAX_TITLE} characters.", field=field)
    return title


def check_optional_text(value: str | None, *, field: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters.", field=field)
    return text


def check_image(value: str, *, field: str = "images") -> str:
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.netloc or len(url) > MAX_IMAGE_URL:
        raise InvalidInput(
            f"Image {value!r} is not an http(s) URL such as https://cdn.example.com/a.jpg.",
            field=field,
        )
    if any(c.isspace() for c in url):
        raise InvalidInput(f"Image URL {value!r} contains spaces; encode them.", field=field)
    return url


def check_images(values: list[str], *, field: str = "images") -> list[str]:
    if len(values) > MAX_IMAGES:
        raise InvalidInput(f"At most {MAX_IMAGES} images are allowed.", field=field)
    return [check_image(v, field=f"{field}[{i}]") for i, v in enumerate(values)]


def check_attributes(values: Mapping[str, object], *, field: str = "attributes") -> dict[str, str]:
    """A flat map of text to text (size, colour, material...)."""
    if len(values) > MAX_ATTRIBUTES:
        raise InvalidInput(f"At most {MAX_ATTRIBUTES} attributes are allowed.", field=field)
    out: dict[str, str] = {}
    for key, value in values.items():
        name = key.strip() if isinstance(key, str) else ""
        if not name or len(name) > MAX_ATTRIBUTE_KEY:
            raise InvalidInput(
                f"Attribute name {key!r} must be 1 to {MAX_ATTRIBUTE_KEY} characters.",
                field=field,
            )
        if not isinstance(value, str):
            raise InvalidInput(
                f"Attribute {name!r} must be text, not {type(value).__name__}: attributes are "
                'a flat map such as {"size": "42", "colour": "black"}.',
                field=f"{field}.{name}",
            )
        if len(value) > MAX_ATTRIBUTE_VALUE:
            raise InvalidInput(
                f"Attribute {name!r} is longer than {MAX_ATTRIBUTE_VALUE} characters.",
                field=f"{field}.{name}",
            )
        out[name] = value.strip()
    return out


def check_assortment(value: str, *, field: str = "assortment") -> Assortment:
    try:
        return Assortment(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Unknown assortment {value!r}; use one of {', '.join(a.value for a in Assortment)}.",
            field=field,
        ) from None


def check_status(value: str, *, field: str = "status") -> ProductStatus:
    try:
        return ProductStatus(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Unknown status {value!r}; use one of {', '.join(s.value for s in ProductStatus)}.",
            field=field,
        ) from None


def default_variant_title(product_title: str, attributes: Mapping[str, str]) -> str:
    """'Runner 2' + {size: 42, colour: black} -> 'Runner 2 - 42 / black' (what a till prints)."""
    values = [v for v in attributes.values() if v]
    title = f"{product_title} - {' / '.join(values)}" if values else product_title
    return title[:MAX_TITLE]


# --- drafts: validated input for the use cases ------------------------------------------------


@dataclass(frozen=True, slots=True)
class VariantDraft:
    sku: str
    title: str | None = None  # None: derived from the product title and attributes
    gtin: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    status: ProductStatus = ProductStatus.ACTIVE

    @classmethod
    def parse(
        cls,
        *,
        sku: str,
        title: str | None = None,
        gtin: str | None = None,
        attributes: Mapping[str, object] | None = None,
        images: list[str] | None = None,
        status: str = "active",
        prefix: str = "",
    ) -> VariantDraft:
        return cls(
            sku=check_sku(sku, field=f"{prefix}sku"),
            title=check_title(title, field=f"{prefix}title") if title is not None else None,
            gtin=check_gtin(gtin, field=f"{prefix}gtin"),
            attributes=check_attributes(attributes or {}, field=f"{prefix}attributes"),
            images=check_images(images or [], field=f"{prefix}images"),
            status=check_status(status, field=f"{prefix}status"),
        )


@dataclass(frozen=True, slots=True)
class ProductDraft:
    title: str
    description: str = ""
    brand: str | None = None
    category: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    images: list[str] = field(default_factory=list)
    assortment: Assortment = Assortment.OMNICHANNEL
    status: ProductStatus = ProductStatus.ACTIVE
    ref: str | None = None  # the retailer's own product reference (style / model number)
    variants: tuple[VariantDraft, ...] = ()

    @classmethod
    def parse(
        cls,
        *,
        title: str,
        description: str | None = None,
        brand: str | None = None,
        category: str | None = None,
        attributes: Mapping[str, object] | None = None,
        images: list[str] | None = None,
        assortment: str = "omnichannel",
        status: str = "active",
        ref: str | None = None,
        variants: tuple[VariantDraft, ...] = (),
    ) -> ProductDraft:
        draft = cls(
            title=check_title(title),
            description=(description or "").strip(),
            brand=check_optional_text(brand, field="brand", max_length=MAX_BRAND),
            category=check_optional_text(category, field="category", max_length=MAX_CATEGORY),
            attributes=check_attributes(attributes or {}),
            images=check_images(images or []),
            assortment=check_assortment(assortment),
            status=check_status(status),
            ref=check_ref(ref),
            variants=variants,
        )
        check_unique_variants(variants)
        return draft


def check_ref(value: str | None, *, field: str = "ref") -> str | None:
    if value is None or not value.strip():
        return None
    ref = value.strip()
    if not SKU_PATTERN.fullmatch(ref):
        raise InvalidInput(
            f"Product reference {value!r} is invalid: use 1 to 64 characters among letters, "
            "digits, '.', '_' and '-'.",
            field=field,
        )
    return ref


def check_unique_variants(variants: tuple[VariantDraft, ...], *, prefix: str = "variants") -> None:
    """Two variants of one request may not share a SKU or a GTIN."""
    seen_sku: dict[str, int] = {}
    seen_gtin: dict[str, int] = {}
    for index, variant in enumerate(variants):
        if variant.sku in seen_sku:
            raise InvalidInput(
                f"SKU {variant.sku} appears twice (variants {seen_sku[variant.sku]} and {index}).",
                field=f"{prefix}[{index}].sku",
                sku=variant.sku,
            )
        seen_sku[variant.sku] = index
        if variant.gtin is not None:
            if variant.gtin in seen_gtin:
                raise InvalidInput(
                    f"GTIN {variant.gtin} appears twice (variants {seen_gtin[variant.gtin]} "
                    f"and {index}).",
                    field=f"{prefix}[{index}].gtin",
                    gtin=variant.gtin,
                )
            seen_gtin[variant.gtin] = index


@dataclass(frozen=True, slots=True)
class VariantInfo:
    """What other contexts (inventory, orders) need to know about a SKU."""

    sku: str
    product_id: str
    title: str
    assortment: Assortment
    status: ProductStatus  # archived when the variant or its product is archived

    @property
    def sellable(self) -> bool:
        return self.status is ProductStatus.ACTIVE

    def sellable_in(self, channel: str, *, store_bound: bool = False) -> bool:
        return self.sellable and sellable_in_channel(
            self.assortment, channel, store_bound=store_bound
        )


# --- changes (PATCH): only the fields given are validated and applied -------------------------

PRODUCT_FIELDS = (
    "title",
    "description",
    "brand",
    "category",
    "attributes",
    "images",
    "assortment",
    "status",
    "ref",
)
VARIANT_FIELDS = ("title", "gtin", "attributes", "images", "status")


def check_product_changes(changes: Mapping[str, object]) -> dict[str, object]:
    """Validate the fields of a partial product update; returns normalised values."""
    out: dict[str, object] = {}
    for name, value in changes.items():
        if name not in PRODUCT_FIELDS:
            raise InvalidInput(f"{name} cannot be changed on a product.", field=name)
        if name == "title":
            out[name] = check_title(_text(value, name))
        elif name == "description":
            out[name] = (_optional_text(value, name) or "").strip()
        elif name == "brand":
            out[name] = check_optional_text(
                _optional_text(value, name), field=name, max_length=MAX_BRAND
            )
        elif name == "category":
            out[name] = check_optional_text(
                _optional_text(value, name), field=name, max_length=MAX_CATEGORY
            )
        elif name == "attributes":
            out[name] = check_attributes(_mapping(value, name))
        elif name == "images":
            out[name] = check_images(_list(value, name))
        elif name == "assortment":
            out[name] = check_assortment(_text(value, name)).value
        elif name == "status":
            out[name] = check_status(_text(value, name)).value
        else:  # ref
            out[name] = check_ref(_optional_text(value, name))
    return out


def check_variant_changes(changes: Mapping[str, object]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in changes.items():
        if name == "sku":
            raise InvalidInput(
                "A SKU is immutable: every channel, order and stock level refers to it. Archive "
                "this variant and create a new one instead.",
                field="sku",
            )
        if name not in VARIANT_FIELDS:
            raise InvalidInput(f"{name} cannot be changed on a variant.", field=name)
        if name == "title":
            out[name] = check_title(_text(value, name))
        elif name == "gtin":
            out[name] = check_gtin(_optional_text(value, name))
        elif name == "attributes":
            out[name] = check_attributes(_mapping(value, name))
        elif name == "images":
            out[name] = check_images(_list(value, name))
        else:  # status
            out[name] = check_status(_text(value, name)).value
    return out


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be text.", field=name)
    return value


def _optional_text(value: object, name: str) -> str | None:
    return None if value is None else _text(value, name)


def _mapping(value: object, name: str) -> Mapping[str, object]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{name} must be an object of text values.", field=name)
    return value


def _list(value: object, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{name} must be a list of URLs.", field=name)
    return value
