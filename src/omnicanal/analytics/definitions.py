"""Every KPI of BRIEF §5, defined once: code, titles, unit, formula and how it is computed.

A KPI is a ratio of linear combinations of daily rollup *metrics* (``analytics_daily``: per
metric x UTC day x channel x store x currency, a count ``n`` and a sum ``total``), so any period,
channel, store or grouping is a handful of sums over pre-aggregated rows, never a scan of orders.
The metrics are written by the analytics consumers (``consumers.py``) from the other contexts'
events; ``METRICS`` says what each one counts, its dimensions and its source events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Unit(StrEnum):
    COUNT = "count"
    MONEY = "money"  # minor units in the rollups, a decimal amount with its currency out
    RATIO = "ratio"  # 0..1
    SECONDS = "seconds"
    SCORE = "score"


Field = Literal["n", "total"]


@dataclass(frozen=True, slots=True)
class Term:
    """``coef x Σ metric.field`` over the rows selected by the filters."""

    metric: str
    field: Field = "n"
    coef: int = 1


@dataclass(frozen=True, slots=True)
class Metric:
    code: str
    counts: str  # what one unit of ``n`` is
    total: str | None  # what ``total`` sums, if anything
    channel: str  # what the channel dimension means for this metric
    store: str  # what the store dimension means
    day: str  # which day a fact is dated
    sources: tuple[str, ...]  # event types


@dataclass(frozen=True)
class Kpi:
    code: str
    title_en: str
    title_fr: str
    unit: Unit
    formula: str
    description: str
    numerator: tuple[Term, ...]
    denominator: tuple[Term, ...] = ()  # empty: the numerator is the value
    channels: tuple[str, ...] | None = None  # the KPI only exists on these channels
    limitations: str = ""  # what the system does not record, and what stands in for it
    filters: tuple[str, ...] = ("channel", "store", "period")

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(t.metric for t in (*self.numerator, *self.denominator))

    @property
    def sources(self) -> tuple[str, ...]:
        found: list[str] = []
        for code in sorted(self.metrics):
            for source in METRICS[code].sources:
                if source not in found:
                    found.append(source)
        return tuple(found)


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


def _n(metric: str, coef: int = 1) -> Term:
    return Term(metric, "n", coef)


def _total(metric: str, coef: int = 1) -> Term:
    return Term(metric, "total", coef)


_SALES_NOTE = (
    "Orders count on the day they are placed, less orders cancelled whole; a partial "
    "cancellation does not change the total. Till sales count once synced."
)

_KPI_LIST = [
    Kpi(
        "revenue",
        "Revenue",
        "Chiffre d'affaires",
        Unit.MONEY,
        "Σ sale totals (after promotions)",
        "Sales of every channel in the period: orders placed (less those cancelled whole) and "
        "till sales. Gross of returns (see return_rate).",
        (_total("sale"),),
        limitations=_SALES_NOTE,
    ),
    Kpi(
        "order_count",
        "Orders",
        "Nombre de commandes",
        Unit.COUNT,
        "count(sales)",
        "Orders placed (less those cancelled whole) and till sales.",
        (_n("sale"),),
        limitations=_SALES_NOTE,
    ),
    Kpi(
        "average_basket",
        "Average basket",
        "Panier moyen",
        Unit.MONEY,
        "Σ sale totals / count(sales)",
        "Average sale value per channel.",
        (_total("sale"),),
        (_n("sale"),),
    ),
    Kpi(
        "session_conversion",
        "Session conversion",
        "Taux de transformation des sessions",
        Unit.RATIO,
        "count(sales) / count(sessions started)",
        "Sales per session started, per channel (site, app, store visit).",
        (_n("sale"),),
        (_n("session"),),
        limitations="Sessions are known only when a channel records them on a profile "
        "(customers.activity.recorded, kind session, action started); anonymous sessions that "
        "never identify are not recorded, so the rate is an upper bound.",
    ),
    Kpi(
        "cross_channel_cart_rate",
        "Cross-channel carts",
        "Paniers cross-canal",
        Unit.RATIO,
        "count(orders from a cart touched on another channel) / count(orders from a cart)",
        "Share of cart orders whose cart was started or changed on another channel than the "
        "one the order was placed on (cart on desktop, order in the app; associate adds in "
        "store).",
        (_n("order.cart_cross_channel"),),
        (_n("order.cart"),),
    ),
    Kpi(
        "online_order_store_return_rate",
        "Online orders returned in store",
        "Commandes en ligne retournées en magasin",
        Unit.RATIO,
        "count(returns of online orders taken at a store) / count(returns)",
        "Share of returns that are online orders (web, app, call centre, marketplace) brought "
        "back to a store desk.",
        (_n("return.online_to_store"),),
        (_n("return"),),
    ),
    Kpi(
        "return_rate",
        "Return rate",
        "Taux de retour",
        Unit.RATIO,
        "count(returns received) / count(sales)",
        "Returns received in the period per sale in the period, per channel of the returned order.",
        (_n("return"),),
        (_n("sale"),),
        limitations="Returns are dated the day received, sales the day placed: over short "
        "periods the two do not concern the same orders.",
    ),
    Kpi(
        "click_collect_return_rate",
        "Click & collect return rate",
        "Taux de retour click & collect",
        Unit.RATIO,
        "count(returns of pickup orders) / count(pickup orders)",
        "Return rate of orders with a pickup group.",
        (_n("return.click_collect"),),
        (_n("order.click_collect"),),
    ),
    Kpi(
        "exchange_refund_ratio",
        "Exchanges per refund",
        "Ratio échanges / remboursements",
        Unit.RATIO,
        "count(returns settled by exchange) / count(returns refunded in money or credit)",
        "How many returns end in an exchange for each one that ends in a refund.",
        (_n("return.exchange"),),
        (_n("return.refund"),),
    ),
    Kpi(
        "cc_time_to_ready",
        "Click & collect time to ready",
        "Délai de préparation click & collect",
        Unit.SECONDS,
        "Σ (ready - placed) / count(groups made ready)",
        "Average time from the order to its pickup group being ready at the store.",
        (_total("cc.ready"),),
        (_n("cc.ready"),),
    ),
    Kpi(
        "cc_pickup_wait",
        "Click & collect pickup wait",
        "Délai de retrait click & collect",
        Unit.SECONDS,
        "Σ (handed over - ready) / count(groups handed over)",
        "Average time a ready order waits at the store for its customer.",
        (_total("cc.collected"),),
        (_n("cc.collected"),),
    ),
    Kpi(
        "cc_no_show_rate",
        "Click & collect no-show rate",
        "Taux de non-retrait",
        Unit.RATIO,
        "count(no-shows) / count(handed over + declined + no-shows)",
        "Share of pickup groups never collected, among those closed in the period.",
        (_n("cc.no_show"),),
        (_n("cc.collected"), _n("cc.declined"), _n("cc.no_show")),
    ),
    Kpi(
        "delivery_lead_time",
        "Delivery lead time",
        "Délai de livraison",
        Unit.SECONDS,
        "Σ (delivered - placed) / count(groups delivered)",
        "Average time from the order to delivery (home, relay point, ship-from-store, endless "
        "aisle).",
        (_total("delivery.delivered"),),
        (_n("delivery.delivered"),),
    ),
    Kpi(
        "late_delivery_rate",
        "Late deliveries",
        "Taux de livraisons en retard",
        Unit.RATIO,
        "count(delivered after the promise date) / count(delivered with a promise date)",
        "Share of deliveries that arrived after the date promised at order time.",
        (_n("delivery.late"),),
        (_n("delivery.promised"),),
    ),
    Kpi(
        "reservation_failure_rate",
        "Reservation failure rate",
        "Taux d'échec de réservation",
        Unit.RATIO,
        "count(groups backordered at placement) / count(groups placed)",
        "Share of fulfilment groups for which no location could hold the stock when the order "
        "was placed.",
        (_n("group.backordered"),),
        (_n("group.placed"),),
        limitations="A reservation refused outright (409 on POST /v1/reservations, an order "
        "refused as unroutable) changes nothing and emits no event, so it is not counted: only "
        "orders accepted as backorders are.",
    ),
    Kpi(
        "till_identification_rate",
        "Identification rate at the till",
        "Taux d'identification en caisse",
        Unit.RATIO,
        "count(identified till sales) / count(till sales)",
        "Share of till sales where the customer was identified (phone, email, loyalty card).",
        (_n("sale.identified"),),
        (_n("sale"),),
        channels=("pos",),
    ),
    Kpi(
        "average_basket_identified",
        "Average basket, identified customers",
        "Panier moyen des clients identifiés",
        Unit.MONEY,
        "Σ identified sale totals / count(identified sales)",
        "Average sale value when the customer is known.",
        (_total("sale.identified"),),
        (_n("sale.identified"),),
    ),
    Kpi(
        "average_basket_anonymous",
        "Average basket, anonymous customers",
        "Panier moyen des clients anonymes",
        Unit.MONEY,
        "(Σ sale totals - Σ identified sale totals) / (count(sales) - count(identified sales))",
        "Average sale value when the customer is not known.",
        (_total("sale"), _total("sale.identified", -1)),
        (_n("sale"), _n("sale.identified", -1)),
    ),
    Kpi(
        "match_rate_email_card",
        "Identity match: email ↔ loyalty card",
        "Rapprochement e-mail ↔ carte de fidélité",
        Unit.RATIO,
        "count(profiles with an email and a card) / count(profiles with an email)",
        "Share of profiles with an email that are also linked to a loyalty card, per cohort of "
        "profile creation.",
        (_n("identity.email+loyalty_card"),),
        (_n("identity.email"),),
    ),
    Kpi(
        "match_rate_phone_till",
        "Identity match: phone ↔ till",
        "Rapprochement téléphone ↔ caisse",
        Unit.RATIO,
        "count(profiles seen at a till with a phone) / count(profiles seen at a till)",
        "Share of customers identified at a till whose profile holds a phone number.",
        (_n("identity.phone+till"),),
        (_n("identity.till"),),
        limitations="'Seen at a till' is a profile created or given an identifier by the pos "
        "channel, or an identified till sale.",
    ),
    Kpi(
        "match_rate_cookie_login",
        "Identity match: cookie ↔ login",
        "Rapprochement cookie ↔ compte",
        Unit.RATIO,
        "count(profiles with a cookie and a login) / count(profiles with a cookie)",
        "Share of first-party cookies that are linked to a logged-in account.",
        (_n("identity.cookie+login_id"),),
        (_n("identity.cookie"),),
    ),
    Kpi(
        "time_to_unification",
        "Time to unification",
        "Délai d'unification",
        Unit.SECONDS,
        "Σ (merge - creation of the newer merged profile) / count(merges)",
        "How long two profiles of one customer stayed apart before being merged.",
        (_total("profile.unified"),),
        (_n("profile.unified"),),
    ),
    Kpi(
        "time_to_profile_update",
        "Time to profile update",
        "Délai de mise à jour du profil",
        Unit.SECONDS,
        "Σ (profile attributes updated - purchase) / count(updates after a purchase)",
        "How long a purchase takes to reach the customer profile (RFM attributes).",
        (_total("profile.updated"),),
        (_n("profile.updated"),),
        filters=("period",),
    ),
    Kpi(
        "new_customers",
        "New customers",
        "Nouveaux clients",
        Unit.COUNT,
        "count(first identified purchases)",
        "Customers whose first identified purchase falls in the period.",
        (_n("customer.new"),),
    ),
    Kpi(
        "purchase_frequency",
        "Purchase frequency",
        "Fréquence d'achat",
        Unit.RATIO,
        "count(identified sales) / count(customer-months active)",
        "Purchases per active customer per month.",
        (_n("sale.identified"),),
        (_n("customer.active"),),
    ),
    Kpi(
        "retention_rate",
        "Retention (monthly)",
        "Taux de rétention (mensuel)",
        Unit.RATIO,
        "count(customers active last month who buy this month) / count(active last month)",
        "Monthly retention; a period counts the months whose first day it contains.",
        (_n("customer.retained"),),
        (_n("customer.retention_base"),),
        limitations="Monthly: days other than the 1st carry no value with group_by=day. "
        "Profile merges after the purchases are not re-attributed.",
    ),
    Kpi(
        "churn_rate",
        "Churn (monthly)",
        "Taux d'attrition (mensuel)",
        Unit.RATIO,
        "1 - retention",
        "Share of last month's active customers who did not buy this month.",
        (_n("customer.retention_base"), _n("customer.retained", -1)),
        (_n("customer.retention_base"),),
        limitations="As retention_rate.",
    ),
    Kpi(
        "csat_score",
        "CSAT",
        "Satisfaction (CSAT)",
        Unit.SCORE,
        "Σ CSAT scores / count(answers)",
        "Average satisfaction score (1-5) of service tickets.",
        (_total("csat"),),
        (_n("csat"),),
        limitations="The channel is the ticket's contact channel (phone, email, chat, store).",
    ),
    Kpi(
        "csat_rate",
        "Satisfied customers",
        "Clients satisfaits",
        Unit.RATIO,
        "count(CSAT 4-5) / count(answers)",
        "Share of CSAT answers of 4 or 5.",
        (_n("csat.satisfied"),),
        (_n("csat"),),
    ),
    Kpi(
        "nps",
        "NPS (from CSAT)",
        "NPS (depuis le CSAT)",
        Unit.SCORE,
        "100 x (count(CSAT 5) - count(CSAT 1-3)) / count(answers)",
        "Net promoter score, -100..100, on the CSAT scale: 5 promoter, 4 passive, 1-3 detractor.",
        (_n("csat.promoter", 100), _n("csat.detractor", -100)),
        (_n("csat"),),
        limitations="No 0-10 'would you recommend us' survey is recorded; the CSAT answers "
        "stand in for it.",
    ),
    Kpi(
        "acquisition_cost",
        "Acquisition cost",
        "Coût d'acquisition",
        Unit.MONEY,
        "Σ marketing spend / count(new customers)",
        "Marketing spend per new customer, per channel, where spend is recorded "
        "(POST /v1/kpis/spend).",
        (_total("spend"),),
        (_n("customer.new"),),
        limitations="Only as good as the spend recorded; spend is spread evenly over the days "
        "of its period.",
    ),
]

KPIS: dict[str, Kpi] = {k.code: k for k in _KPI_LIST}

# What the console dashboard shows (bench/dashboard.py times these).
DASHBOARD: tuple[str, ...] = (
    "revenue",
    "order_count",
    "average_basket",
    "return_rate",
    "cc_time_to_ready",
    "cc_pickup_wait",
    "cc_no_show_rate",
    "late_delivery_rate",
    "till_identification_rate",
    "csat_score",
)


def _check() -> None:
    for kpi in KPIS.values():
        unknown = kpi.metrics - METRICS.keys()
        assert not unknown, f"{kpi.code} reads unknown metrics {sorted(unknown)}"


_check()

__all__ = ["DASHBOARD", "KPIS", "METRICS", "Kpi", "Metric", "Term", "Unit"]
