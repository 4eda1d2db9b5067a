"""Every KPI of BRIEF §5, defined once: code, titles, unit, formula and how it is computed.

A KPI is a ratio of linear combinations of rollup *metrics* (``metrics.py``): per metric x
UTC day (and month) x channel x store x currency, a count ``n`` and a sum ``total``. So any
period, channel, store or grouping is a handful of sums over pre-aggregated rows, never a scan
of orders. The analytics consumers (``consumers.py``) write the metrics from the other
contexts' events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from omnicanal.analytics.metrics import (
    IDENTITY_FLAGS,
    IDENTITY_PAIRS,
    METRICS,
    ONLINE_CHANNELS,
    Metric,
)


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

__all__ = [
    "DASHBOARD",
    "IDENTITY_FLAGS",
    "IDENTITY_PAIRS",
    "KPIS",
    "METRICS",
    "ONLINE_CHANNELS",
    "Kpi",
    "Metric",
    "Term",
    "Unit",
]
