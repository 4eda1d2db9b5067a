"""The rollup metrics the KPIs are built from: what one unit of ``n`` is, what ``total`` sums,
what the channel and store dimensions mean, which day a fact is dated, and its source events.
The analytics consumers write them (``consumers.py``); ``definitions.py`` combines them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Metric:
    code: str
    counts: str  # what one unit of ``n`` is
    total: str | None  # what ``total`` sums, if anything
    channel: str  # what the channel dimension means for this metric
    store: str  # what the store dimension means
    day: str  # which day a fact is dated
    sources: tuple[str, ...]  # event types


ONLINE_CHANNELS = ("web", "app", "callcenter", "marketplace")

_ORDER = "orders.order.placed"
_TILL = "tills.sale.recorded"
_SALE_SOURCES = (_ORDER, "orders.order.status_changed", _TILL)
_GROUP = "orders.group.*"
_RETURN = "returns.return.received"
_PLACED_DAY = "the day the order was placed (the till sale was made)"
_SELLING_STORE = "the selling store (a till, an endless-aisle order); none for remote orders"

_METRIC_LIST = [
    Metric(
        "sale",
        "a sale: an order (minus those cancelled whole) or a till sale",
        "its total after promotions, minor units",
        "the channel sold on",
        _SELLING_STORE,
        _PLACED_DAY,
        _SALE_SOURCES,
    ),
    Metric(
        "sale.identified",
        "a sale to a known customer (a profile id or a loyalty card)",
        "its total, minor units",
        "the channel sold on",
        _SELLING_STORE,
        _PLACED_DAY,
        _SALE_SOURCES,
    ),
    Metric(
        "order.cart",
        "an order placed from a cart",
        None,
        "the order's channel",
        _SELLING_STORE,
        _PLACED_DAY,
        (_ORDER, "carts.*"),
    ),
    Metric(
        "order.cart_cross_channel",
        "an order whose cart was touched on another channel than the order's",
        None,
        "the order's channel",
        _SELLING_STORE,
        _PLACED_DAY,
        (_ORDER, "carts.*"),
    ),
    Metric(
        "order.click_collect",
        "an order with at least one pickup group (click & collect, curbside, reserve-and-try)",
        None,
        "the order's channel",
        "the pickup store (of its first pickup group)",
        _PLACED_DAY,
        (_ORDER,),
    ),
    Metric(
        "session",
        "a session started (site, app or store visit) on the customer timeline",
        None,
        "the session's channel",
        "the store of a store visit",
        "the day the session started",
        ("customers.activity.recorded",),
    ),
    Metric(
        "return",
        "a return received (units back in stock, customer settled)",
        "the value taken back, minor units",
        "the channel the returned order was placed on",
        "the receiving store or warehouse",
        "the day the return was received",
        (_RETURN,),
    ),
    Metric(
        "return.click_collect",
        "a return of an order that had a pickup group",
        None,
        "the order's channel",
        "the receiving location",
        "the day the return was received",
        (_RETURN, _ORDER),
    ),
    Metric(
        "return.online_to_store",
        "a return of an online order (web, app, call centre, marketplace) taken at a store desk",
        None,
        "the order's channel",
        "the receiving store",
        "the day the return was received",
        (_RETURN,),
    ),
    Metric(
        "return.exchange",
        "a return settled by an exchange",
        None,
        "the order's channel",
        "the receiving location",
        "the day the return was received",
        (_RETURN,),
    ),
    Metric(
        "return.refund",
        "a return settled by a refund (money or store credit)",
        None,
        "the order's channel",
        "the receiving location",
        "the day the return was received",
        (_RETURN,),
    ),
    Metric(
        "cc.ready",
        "a pickup group made ready",
        "seconds from the order placed to ready for pickup",
        "the order's channel",
        "the pickup store",
        "the day it was ready",
        (_ORDER, "orders.group.ready_for_pickup"),
    ),
    Metric(
        "cc.collected",
        "a pickup group handed over",
        "seconds from ready to handed over (the pickup wait)",
        "the order's channel",
        "the pickup store",
        "the day it was handed over",
        ("orders.group.ready_for_pickup", "orders.group.collected"),
    ),
    Metric(
        "cc.no_show",
        "a pickup group not collected in time",
        None,
        "the order's channel",
        "the pickup store",
        "the day it was released",
        ("orders.group.no_show",),
    ),
    Metric(
        "cc.declined",
        "a reserve-and-try group tried on and not bought (the customer came)",
        None,
        "the order's channel",
        "the pickup store",
        "the day it was declined",
        ("orders.group.declined",),
    ),
    Metric(
        "delivery.delivered",
        "a delivered group (home delivery, relay point, ship-from-store, endless aisle)",
        "seconds from the order placed to delivered",
        "the order's channel",
        "the serving location",
        "the day it was delivered",
        (_ORDER, "orders.group.delivered"),
    ),
    Metric(
        "delivery.promised",
        "a delivered group that had a promise date",
        "seconds late (0 when on time)",
        "the order's channel",
        "the serving location",
        "the day it was delivered",
        ("orders.group.delivered",),
    ),
    Metric(
        "delivery.late",
        "a delivered group delivered after its promise date",
        "seconds late",
        "the order's channel",
        "the serving location",
        "the day it was delivered",
        ("orders.group.delivered",),
    ),
    Metric(
        "group.placed",
        "a fulfilment group at order placement",
        None,
        "the order's channel",
        "the location holding its stock (none when backordered)",
        _PLACED_DAY,
        (_ORDER,),
    ),
    Metric(
        "group.backordered",
        "a fulfilment group no location could hold stock for at placement",
        None,
        "the order's channel",
        "none",
        _PLACED_DAY,
        (_ORDER,),
    ),
    Metric(
        "csat",
        "a CSAT answer (1-5)",
        "the scores",
        "the ticket's contact channel (phone, email, chat, store)",
        "the ticket's store",
        "the day it was recorded",
        ("tickets.csat.recorded",),
    ),
    Metric(
        "csat.satisfied",
        "a CSAT answer of 4 or 5",
        None,
        "the ticket's contact channel",
        "the ticket's store",
        "the day it was recorded",
        ("tickets.csat.recorded",),
    ),
    Metric(
        "csat.promoter",
        "a CSAT answer of 5",
        None,
        "the ticket's contact channel",
        "the ticket's store",
        "the day it was recorded",
        ("tickets.csat.recorded",),
    ),
    Metric(
        "csat.detractor",
        "a CSAT answer of 1 to 3",
        None,
        "the ticket's contact channel",
        "the ticket's store",
        "the day it was recorded",
        ("tickets.csat.recorded",),
    ),
    Metric(
        "profile.unified",
        "a profile merge",
        "seconds from the newer of the merged profiles' creation to the merge",
        "the channel that merged",
        "none",
        "the day of the merge",
        ("customers.profile.created", "customers.profile.merged"),
    ),
    Metric(
        "profile.updated",
        "a profile's attributes updated after a purchase",
        "seconds from the purchase to the profile update",
        "none (all)",
        "none",
        "the day of the update",
        ("customers.attributes.changed",),
    ),
    Metric(
        "customer.new",
        "a customer's first identified purchase",
        None,
        "the channel of that purchase",
        "its selling store",
        "the day of that purchase",
        _SALE_SOURCES,
    ),
    Metric(
        "customer.active",
        "a customer's first identified purchase in a calendar month",
        None,
        "the channel of that purchase",
        "its selling store",
        "the day of that purchase",
        _SALE_SOURCES,
    ),
    Metric(
        "customer.retention_base",
        "a customer active in the previous month (at risk of churning this month)",
        None,
        "the channel of their first purchase in the previous month",
        "its selling store",
        "the first day of the month",
        _SALE_SOURCES,
    ),
    Metric(
        "customer.retained",
        "a customer active in the previous month who buys again this month",
        None,
        "the channel of their first purchase in the previous month",
        "its selling store",
        "the first day of the month",
        _SALE_SOURCES,
    ),
    Metric(
        "spend",
        "marketing spend recorded per channel and period (spread evenly over its days)",
        "the spend, minor units",
        "the channel the spend acquires for",
        "the store, for local marketing",
        "every day of the spend's period",
        ("POST /v1/kpis/spend",),
    ),
]

IDENTITY_FLAGS = ("email", "phone", "loyalty_card", "cookie", "login_id", "till")
IDENTITY_PAIRS = (("email", "loyalty_card"), ("phone", "till"), ("cookie", "login_id"))
_IDENTITY_SOURCES = (
    "customers.profile.created",
    "customers.identifier.linked",
    "customers.profile.merged",
)
for _flag in (*IDENTITY_FLAGS, *(f"{a}+{b}" for a, b in IDENTITY_PAIRS)):
    _METRIC_LIST.append(
        Metric(
            f"identity.{_flag}",
            f"a live profile holding {_flag.replace('+', ' and ')} (till: identified at a till)",
            None,
            "the channel the profile was created on",
            "none",
            "the day the profile was created (a cohort, kept current through merges)",
            _IDENTITY_SOURCES,
        )
    )

METRICS: dict[str, Metric] = {m.code: m for m in _METRIC_LIST}
