"""Identity, journeys, sessions, satisfaction and retention KPIs from the real customers,
carts, orders and service-desk services, against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from omnicanal.analytics.service import kpi_values
from omnicanal.carts import service as carts
from omnicanal.customers import service as customers
from omnicanal.customers.model import normalise_identifiers
from omnicanal.customers.timeline import ActivityInput, TimelineKind, record_activities
from omnicanal.events.dispatch import drain
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.service_desk import service as desk
from omnicanal.service_desk.model import TicketChannel, TicketStatus
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.order_factories import make_network
from tests.return_factories import PARIS

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def identify(db: Database, *pairs: tuple[str, str], channel: str) -> str:
    with db.uow() as uow:
        return customers.identify(
            uow, identifiers=normalise_identifiers(list(pairs)), channel=channel
        ).profile_id


def value(db: Database, kpi: str, start: datetime = NOV, end: datetime = DEC) -> Decimal | None:
    with db.read() as session:
        found = kpi_values(session, kpi=kpi, start=start, end=end)
    assert len(found) == 1
    return found[0].value


def test_identity_match_rates_and_time_to_unification(db: Database, clock: FrozenClock) -> None:
    lea = identify(db, ("email", "lea@example.com"), channel="web")
    identify(db, ("email", "lea@example.com"), ("loyalty_card", "CARD-1"), channel="pos")
    identify(db, ("email", "tom@example.com"), channel="web")  # email, no card
    identify(db, ("loyalty_card", "CARD-2"), channel="pos")  # seen at a till, no phone
    identify(db, ("cookie", "ck-1"), channel="web")
    identify(db, ("cookie", "ck-2"), channel="web")  # never logs in
    clock.advance(hours=1)
    identify(db, ("cookie", "ck-1"), ("login_id", "u-1"), channel="web")
    phone = identify(db, ("phone", "+33612345678"), channel="pos")
    clock.advance(hours=2)
    merged = identify(db, ("phone", "+33612345678"), ("email", "lea@example.com"), channel="web")
    assert merged in (lea, phone)
    drain(db)
    # emails: Léa (card) and Tom (none) -> 1/2
    assert value(db, "match_rate_email_card") == Decimal("0.500000")
    # seen at a till: Léa (phone since the merge) and CARD-2 (none) -> 1/2; the absorbed
    # phone profile no longer counts on its own
    assert value(db, "match_rate_phone_till") == Decimal("0.500000")
    assert value(db, "match_rate_cookie_login") == Decimal("0.500000")
    # the phone profile existed 2 h before it was unified with Léa's
    assert value(db, "time_to_unification") == Decimal("7200.00")


def test_cart_on_one_channel_order_on_another(db: Database) -> None:
    net = make_network(db)
    lea = identify(db, ("email", "lea@example.com"), channel="web")
    for channel, sku in (("web", "SOCKS"), ("app", "CAP")):
        with db.uow() as uow:
            cart = carts.open_cart(uow, actor=carts.Actor("web"), customer_id=lea).cart
            carts.add_line(uow, cart.id, sku=sku, quantity=1, actor=carts.Actor("web"))
        with db.uow() as uow:
            orders.place_order(  # the web cart ordered in the app, then one on the web
                uow,
                orders.OrderRequest(
                    channel=channel,
                    currency="EUR",
                    groups=[orders.GroupRequest(method=Method.HOME_DELIVERY, lines=[])],
                    cart_id=cart.id,
                    customer_id=lea,
                    shipping_address=PARIS,
                ),
            )
    with db.uow() as uow:
        orders.place_order(
            uow,
            orders.OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        method=Method.CLICK_AND_COLLECT,
                        lines=[orders.LineRequest("SOCKS", 1)],
                        location_id=net.rivoli,
                    )
                ],
            ),
        )
    drain(db)
    assert value(db, "cross_channel_cart_rate") == Decimal("0.500000")  # 1 of 2 cart orders
    assert value(db, "order_count") == 3
    # one customer, two identified orders this month: 2 purchases per active customer-month
    assert value(db, "purchase_frequency") == Decimal("2.000000")


def test_sessions_and_satisfaction(db: Database, clock: FrozenClock) -> None:
    make_network(db)
    lea = identify(db, ("email", "lea@example.com"), channel="web")
    with db.uow() as uow:
        record_activities(
            uow,
            lea,
            [
                ActivityInput(kind=TimelineKind.SESSION, action="started", channel="web"),
                ActivityInput(kind=TimelineKind.SESSION, action="ended", channel="web"),
                ActivityInput(kind=TimelineKind.SESSION, action="started", channel="web"),
                ActivityInput(kind=TimelineKind.SESSION, action="started", channel="web"),
                ActivityInput(kind=TimelineKind.SESSION, action="started", channel="web"),
            ],
        )
        orders.place_order(
            uow,
            orders.OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        method=Method.HOME_DELIVERY, lines=[orders.LineRequest("SOCKS", 1)]
                    )
                ],
                customer_id=lea,
                shipping_address=PARIS,
            ),
        )
    for score in (5, 4, 2, 5):
        with db.uow() as uow:
            ticket = desk.open_ticket(
                uow,
                subject="Where is my parcel?",
                channel=TicketChannel.PHONE,
                source_channel="callcenter",
                customer_id=lea,
            )
            desk.change_status(
                uow, ticket.id, status=TicketStatus.RESOLVED, source_channel="callcenter"
            )
            desk.record_csat(uow, ticket.id, score=score, source_channel="callcenter")
    drain(db)
    assert value(db, "session_conversion") == Decimal("0.250000")  # 1 order, 4 sessions
    assert value(db, "csat_score") == Decimal("4.00")  # 16 / 4
    assert value(db, "csat_rate") == Decimal("0.750000")
    assert value(db, "nps") == Decimal("25.00")  # 100 x (2 promoters - 1 detractor) / 4


def test_monthly_retention_and_churn(db: Database, clock: FrozenClock) -> None:
    """Three customers buy in November; two of them again in December."""
    make_network(db)
    buyers = [identify(db, ("email", f"c{i}@example.com"), channel="web") for i in range(3)]

    def buy(customer: str) -> None:
        with db.uow() as uow:
            orders.place_order(
                uow,
                orders.OrderRequest(
                    channel="web",
                    currency="EUR",
                    groups=[
                        orders.GroupRequest(
                            method=Method.HOME_DELIVERY, lines=[orders.LineRequest("SOCKS", 1)]
                        )
                    ],
                    customer_id=customer,
                    shipping_address=PARIS,
                ),
            )

    for customer in buyers:
        buy(customer)
    clock.advance(days=10)  # 3 December
    buy(buyers[0])
    buy(buyers[1])
    buy(buyers[1])
    drain(db)
    january = datetime(2027, 1, 1, tzinfo=UTC)
    assert value(db, "retention_rate", DEC, january) == Decimal("0.666667")
    assert value(db, "churn_rate", DEC, january) == Decimal("0.333333")
    assert value(db, "retention_rate") is None  # no one was active in October
    assert value(db, "new_customers") == 3
    assert value(db, "new_customers", DEC, january) == 0
