"""The one way to say an order's status to a person, in English and French.

The API (``status_text``), the console and every notification call ``describe``: the customer
reads the same words wherever they look.
"""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.orders.model import Method, OrderStatus

LOCALES = ("en", "fr")

_TEXT: dict[str, dict[OrderStatus, str]] = {
    "en": {
        OrderStatus.PLACED: "Order received",
        OrderStatus.BACKORDERED: "Waiting for stock",
        OrderStatus.ALLOCATED: "Confirmed",
        OrderStatus.PICKING: "Being prepared",
        OrderStatus.READY_FOR_PICKUP: "Ready for pickup",
        OrderStatus.SHIPPED: "Shipped",
        OrderStatus.COMPLETED: "Completed",
        OrderStatus.CANCELLED: "Cancelled",
        OrderStatus.NO_SHOW: "Not collected — released",
    },
    "fr": {
        OrderStatus.PLACED: "Commande reçue",
        OrderStatus.BACKORDERED: "En attente de stock",
        OrderStatus.ALLOCATED: "Confirmée",
        OrderStatus.PICKING: "En préparation",
        OrderStatus.READY_FOR_PICKUP: "Prête à être retirée",
        OrderStatus.SHIPPED: "Expédiée",
        OrderStatus.COMPLETED: "Terminée",
        OrderStatus.CANCELLED: "Annulée",
        OrderStatus.NO_SHOW: "Non retirée — remise en vente",
    },
}
_AT = {"en": "at", "fr": "à"}
_PARTIAL = {"en": "in part", "fr": "en partie"}
_COMPLETED_PICKUP = {"en": "Collected", "fr": "Retirée"}
_COMPLETED_SHIPPED = {"en": "Delivered", "fr": "Livrée"}


@dataclass(frozen=True, slots=True)
class StatusText:
    status: str
    locale: str
    text: str


def pick_locale(value: str | None) -> str:
    """``fr``, ``fr-FR``, an Accept-Language header… → a supported locale (English by default)."""
    if value:
        for part in value.replace(" ", "").split(","):
            lang = part.split(";")[0].split("-")[0].lower()
            if lang in LOCALES:
                return lang
    return "en"


def describe(
    status: OrderStatus,
    *,
    locale: str = "en",
    methods: frozenset[Method] = frozenset(),
    partial: bool = False,
    place: str | None = None,
) -> StatusText:
    lang = pick_locale(locale)
    text = _TEXT[lang][status]
    if status is OrderStatus.COMPLETED and methods:
        if all(m.is_pickup for m in methods):
            text = _COMPLETED_PICKUP[lang]
        elif not any(m.is_pickup for m in methods):
            text = _COMPLETED_SHIPPED[lang]
    if status is OrderStatus.READY_FOR_PICKUP and place:
        text = f"{text} {_AT[lang]} {place}"
    if partial and status not in {OrderStatus.CANCELLED, OrderStatus.NO_SHOW}:
        text = f"{text} ({_PARTIAL[lang]})"
    return StatusText(status.value, lang, text)
