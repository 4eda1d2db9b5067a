"""Channels, scopes and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Channel(StrEnum):
    WEB = "web"
    APP = "app"
    POS = "pos"
    CALLCENTER = "callcenter"
    MARKETPLACE = "marketplace"
    ADMIN = "admin"


# Scopes are "<resource>:<action>"; "*" grants everything (head-office admin keys).
SCOPES: dict[str, str] = {
    "catalog:read": "read products, variants and prices",
    "catalog:write": "create and change products, variants and prices; import catalogue CSV",
    "locations:read": "read stores, warehouses and relay points",
    "locations:write": "create and change locations",
    "inventory:read": "read stock levels, availability and the movement ledger",
    "inventory:reserve": "reserve, release and fulfil stock",
    "inventory:write": "receive, adjust and transfer stock; import stock CSV",
    "customers:read": "find customers, read profiles, consents, lineage; export personal data",
    "customers:write": "identify customers, change profiles and consents",
    "customers:erase": "erase a customer's personal data (right to erasure)",
    "carts:read": "read carts; find a customer's cart by id, phone, email or card",
    "carts:write": "open carts, change lines, attach customers, hand off and claim carts",
    "orders:read": "read orders, their status, timeline and payments",
    "orders:write": "place and cancel orders, record payment references",
    "orders:fulfil": "store operations: pick lists, ready, hand-over, ship, no-show",
    "routing:manage": "change the routing settings (costs, split penalty, backorders)",
    "segments:manage": "define customer segments (rules over RFM attributes)",
    "tickets:read": "read customer service tickets",
    "tickets:write": "open tickets, change their status, record satisfaction (CSAT)",
    "events:read": "read the event feed, event types and consumer status",
    "events:manage": "replay an event a consumer parked after repeated failures",
    "webhooks:manage": "register webhooks, read deliveries, redeliver",
    "keys:manage": "create and revoke API keys",
    "loyalty:read": "read loyalty accounts, balances, movements and identification figures",
    "loyalty:write": "earn (till sync), redeem, refund and adjust loyalty points",
    "pricing:read": "resolve prices, read overrides, price history and the price audit",
    "pricing:observe": "report the prices a till or channel charged (for the price audit)",
    "pricing:manage": "create, change and end price overrides; run the price audit",
    "promotions:read": "quote baskets with the promotions in force; read promotions, coupons",
    "promotions:manage": "create and change promotions (a store-bound key: its store's own)",
    "notifications:read": "read the message delivery log (sent and suppressed, with reasons)",
    "notifications:write": "subscribe customers to back-in-stock alerts",
    "returns:read": "read returns, their review queue and exchange suggestions",
    "returns:write": "request returns of any channel's orders (a store-bound key: at its store)",
    "returns:review": "approve or reject returns waiting in the review queue",
    "recommendations:read": "read items bought together, accessories for a cart, offers",
    "recommendations:write": "record till and imported purchases for recommendations",
    "tills:sync": "send a till's offline sales batch (a store-bound key: its store's tills)",
    "kpis:read": "read the KPIs per channel, store and period, and pilot comparisons",
    "kpis:write": "record marketing spend per channel and period (acquisition cost per channel)",
    "pilots:manage": "flag features per store (pilot stores) and define control groups",
}

_READ = [
    "catalog:read",
    "locations:read",
    "inventory:read",
    "pricing:read",
    "pricing:observe",
    "promotions:read",
    "recommendations:read",
]
_CUSTOMERS = ["customers:read", "customers:write"]
_TICKETS = ["tickets:read", "tickets:write"]
_CARTS = ["carts:read", "carts:write"]
_ORDERS = ["orders:read", "orders:write"]
_LOYALTY = ["loyalty:read", "loyalty:write"]
_RETURNS = ["returns:read", "returns:write"]
DEFAULT_SCOPES: dict[Channel, list[str]] = {
    Channel.WEB: [
        *_READ,
        "inventory:reserve",
        *_CUSTOMERS,
        *_TICKETS,
        *_CARTS,
        *_ORDERS,
        *_LOYALTY,
        *_RETURNS,
        "notifications:write",
    ],
    Channel.APP: [
        *_READ,
        "inventory:reserve",
        *_CUSTOMERS,
        *_TICKETS,
        *_CARTS,
        *_ORDERS,
        *_LOYALTY,
        *_RETURNS,
        "notifications:write",
    ],
    Channel.POS: [
        *_READ,
        "inventory:reserve",
        "inventory:write",
        *_CUSTOMERS,
        *_TICKETS,
        *_CARTS,
        *_ORDERS,
        "orders:fulfil",
        "recommendations:write",  # till sales' lines
        "tills:sync",
        *_LOYALTY,
        *_RETURNS,
        "notifications:read",
    ],
    Channel.CALLCENTER: [
        *_READ,
        "inventory:reserve",
        *_CUSTOMERS,
        *_TICKETS,
        *_CARTS,
        *_ORDERS,
        *_LOYALTY,
        *_RETURNS,
        "notifications:read",
    ],
    # a marketplace links its buyers (identify) but does not search the customer base; it
    # forwards its buyers' complaints as tickets without reading the service desk
    Channel.MARKETPLACE: [
        *_READ,
        "inventory:reserve",
        "customers:write",
        "tickets:write",
        *_ORDERS,
    ],
    Channel.ADMIN: ["*"],
}


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = [s for s in scopes if s != "*" and s not in SCOPES]
    if unknown:
        from omnicanal.shared.errors import InvalidInput

        raise InvalidInput(
            f"Unknown scope(s) {', '.join(unknown)}; known scopes: {', '.join(SCOPES)} or '*'.",
            field="scopes",
        )
    return sorted(set(scopes))


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    name: str
    channel: Channel
    scopes: frozenset[str]
    store_id: str | None = None  # a store-associate key acts for this store only

    def has_scope(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes

    def may_act_on_store(self, location_id: str) -> bool:
        return self.store_id is None or self.store_id == location_id
