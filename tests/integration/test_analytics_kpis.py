"""KPIs from the events of the real services: a week of a small shop, drained through the
analytics consumer, against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from omnicanal.analytics.consumers import CONSUMERS
from omnicanal.analytics.service import kpi_values
from omnicanal.analytics.tables import DailyRollupRow, MonthlyRollupRow
from omnicanal.customers import service as customers
from omnicanal.customers.model import normalise_identifiers
from omnicanal.events.dispatch import drain
from omnicanal.events.outbox import stored
from omnicanal.events.tables import OutboxEventRow
from omnicanal.orders import fulfilment
from omnicanal.orders import service as orders
from omnicanal.orders.model import Method
from omnicanal.orders.tables import FulfilmentGroupRow
from omnicanal.returns import service as returns
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from omnicanal.tills.events import SaleRecorded, SoldLine
from tests.order_factories import Network
from tests.return_factories import PARIS, make_shop

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)


def place(
    db: Database,
    method: Method,
    lines: list[tuple[str, int]],
    *,
    channel: str = "web",
    location_id: str | None = None,
    customer_id: str | None = None,
) -> tuple[str, str]:
    with db.uow() as uow:
        placed = orders.place_order(
            uow,
            orders.OrderRequest(
                channel=channel,
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        method=method,
                        lines=[orders.LineRequest(sku, qty) for sku, qty in lines],
                        location_id=location_id,
                    )
                ],
                customer_id=customer_id,
                shipping_address=None if method.is_pickup else PARIS,
                contact={"email": "lea@example.com"},
            ),
        )
        order_id = placed.order.id
        group_id = uow.session.scalars(
            select(FulfilmentGroupRow.id).where(FulfilmentGroupRow.order_id == order_id)
        ).one()
    return order_id, group_id


def till_sale(db: Database, net: Network, n: int, total_minor: int, customer: str | None) -> None:
    with db.uow() as uow:
        uow.emit(
            SaleRecorded(
                till_sale_id=f"tsl_test{n}",
                store_id=net.rivoli,
                till_id="T1",
                sale_id=str(n),
                channel="pos",
                sold_at=db.clock.now().isoformat(),
                currency="EUR",
                total_minor=total_minor,
                customer_id=customer,
                identified=customer is not None,
                lines=(SoldLine(sku="SOCKS", quantity=1, unit_price_minor=total_minor),),
            )
        )


def value(db: Database, kpi: str, **filters: object) -> Decimal | None:
    with db.read() as session:
        found = kpi_values(session, kpi=kpi, start=NOV, end=DEC, **filters)  # type: ignore[arg-type]
    assert len(found) == 1
    return found[0].value


def grouped(db: Database, kpi: str, group_by: str) -> dict[str | None, Decimal | None]:
    with db.read() as session:
        found = kpi_values(session, kpi=kpi, start=NOV, end=DEC, group_by=group_by)
    return {v.group: v.value for v in found}


@pytest.fixture
def week(db: Database, clock: FrozenClock) -> Network:
    """Monday 23 November 2026, 09:00 UTC: five orders, three till sales, then the week."""
    net = make_shop(db)
    with db.uow() as uow:
        lea = customers.identify(
            uow,
            identifiers=normalise_identifiers([("email", "lea@example.com")]),
            channel="web",
        ).profile_id
    o1, g1 = place(db, Method.HOME_DELIVERY, [("RUN-42", 1)], customer_id=lea)  # 60.00
    _o2, g2 = place(db, Method.CLICK_AND_COLLECT, [("RUN-43", 1)], location_id=net.rivoli)
    _o3, g3 = place(
        db, Method.CLICK_AND_COLLECT, [("SOCKS", 2)], channel="app", location_id=net.rivoli
    )  # 19.80
    o4, _g4 = place(db, Method.HOME_DELIVERY, [("CAP", 1)])  # 25.00, cancelled
    _o5, g5 = place(db, Method.HOME_DELIVERY, [("RUN-42", 1)])  # 60.00, late
    till_sale(db, net, 1, 3000, lea)
    till_sale(db, net, 2, 1000, None)
    till_sale(db, net, 3, 2000, None)
    with db.uow() as uow:
        fulfilment.cancel(uow, o4, reason="changed my mind")
    clock.advance(hours=2)
    with db.uow() as uow:
        fulfilment.start_picking(uow, g2)
        fulfilment.mark_ready(uow, g2)
    clock.advance(hours=2)
    with db.uow() as uow:
        fulfilment.start_picking(uow, g3)
        fulfilment.mark_ready(uow, g3)
    clock.advance(hours=1)
    with db.uow() as uow:
        code = uow.session.get_one(FulfilmentGroupRow, g2).pickup_code
        assert code is not None
        fulfilment.hand_over(uow, g2, pickup_code=code)
        fulfilment.ship(uow, g1)
        fulfilment.ship(uow, g5)
    clock.advance(hours=25)  # T0 + 30 h: within the warehouse's 48 h promise
    with db.uow() as uow:
        fulfilment.deliver(uow, g1)
    clock.advance(hours=20)  # T0 + 50 h: 2 h late
    with db.uow() as uow:
        fulfilment.deliver(uow, g5)
    clock.advance(hours=1)
    with db.uow() as uow:
        fulfilment.no_show(uow, g3)
    clock.advance(hours=1)
    with db.uow() as uow:
        returns.request_return(
            uow,
            returns.ReturnRequest(
                order_id=o1,
                location_id=net.rivoli,
                lines=[
                    returns.ReturnLineRequest(
                        quantity=1, reason="too_small", condition="sellable", sku="RUN-42"
                    )
                ],
                outcome="refund",
                channel="pos",
            ),
        )
    drain(db)
    return net


def test_sales_per_channel(db: Database, week: Network) -> None:
    assert value(db, "revenue") == Decimal("259.80")
    assert grouped(db, "revenue", "channel") == {
        "app": Decimal("19.80"),
        "pos": Decimal("60.00"),
        "web": Decimal("180.00"),
    }
    assert value(db, "order_count") == 7
    assert value(db, "order_count", channel="web") == 3
    assert value(db, "average_basket") == Decimal("37.11")  # 259.80 / 7
    assert value(db, "average_basket", channel="pos") == Decimal("20.00")
    assert value(db, "revenue", store_id=week.rivoli) == Decimal("60.00")  # the till sales


def test_months_and_edge_days_add_up(db: Database, week: Network) -> None:
    """Whole months come from the monthly rollups, the edge days from the daily ones."""
    with db.read() as session:
        wide = kpi_values(
            session,
            kpi="revenue",
            start=datetime(2026, 10, 15, tzinfo=UTC),
            end=datetime(2027, 1, 10, tzinfo=UTC),
        )
        edge = kpi_values(
            session,
            kpi="order_count",
            start=datetime(2026, 11, 23, 10, tzinfo=UTC),
            end=datetime(2026, 11, 24, tzinfo=UTC),
        )
    assert wide[0].value == Decimal("259.80")
    assert edge[0].value == 7


def test_identified_and_anonymous(db: Database, week: Network) -> None:
    assert value(db, "till_identification_rate") == Decimal("0.333333")
    assert value(db, "till_identification_rate", channel="web") is None  # a till KPI
    assert value(db, "average_basket_identified") == Decimal("45.00")  # (60 + 30) / 2
    assert value(db, "average_basket_anonymous") == Decimal("33.96")  # 169.80 / 5
    assert value(db, "new_customers") == 1
    assert value(db, "purchase_frequency") == Decimal("2.000000")


def test_click_and_collect(db: Database, week: Network) -> None:
    assert value(db, "cc_time_to_ready") == Decimal("10800.00")  # (2 h + 4 h) / 2
    assert value(db, "cc_pickup_wait") == Decimal("10800.00")  # ready at +2 h, handed at +5 h
    assert value(db, "cc_no_show_rate") == Decimal("0.500000")
    assert grouped(db, "cc_no_show_rate", "store") == {week.rivoli: Decimal("0.500000")}
    assert grouped(db, "cc_no_show_rate", "channel") == {
        "app": Decimal("1.000000"),
        "web": Decimal("0.000000"),
    }


def test_delivery(db: Database, week: Network) -> None:
    assert value(db, "delivery_lead_time") == Decimal("144000.00")  # (30 h + 50 h) / 2
    assert value(db, "late_delivery_rate") == Decimal("0.500000")
    assert grouped(db, "delivery_lead_time", "day") == {
        "2026-11-24": Decimal("108000.00"),
        "2026-11-25": Decimal("180000.00"),
    }
    assert value(db, "reservation_failure_rate") == Decimal("0.000000")  # 5 groups held


def test_returns(db: Database, week: Network) -> None:
    assert value(db, "return_rate") == Decimal("0.142857")  # 1 / 7
    assert value(db, "return_rate", channel="web") == Decimal("0.333333")
    assert value(db, "online_order_store_return_rate") == Decimal("1.000000")
    assert value(db, "exchange_refund_ratio") == Decimal("0.000000")
    assert value(db, "click_collect_return_rate") == Decimal("0.000000")


def rollups(db: Database) -> list[tuple[object, ...]]:
    with db.read() as session:
        rows = session.scalars(select(DailyRollupRow)).all()
        monthly = session.scalars(select(MonthlyRollupRow)).all()
    return sorted(
        [(r.metric, r.day, r.channel, r.store_id, r.currency, r.n, r.total) for r in rows]
        + [(r.metric, r.month, r.channel, r.store_id, r.currency, r.n, r.total) for r in monthly],
        key=repr,
    )


def test_every_event_handled_twice_adds_nothing_twice(db: Database, week: Network) -> None:
    """Beyond the framework's exactly-once: each event given to the handler again directly."""
    before = rollups(db)
    assert len(before) > 40
    with db.read() as session:
        events = [stored(row) for row in session.scalars(select(OutboxEventRow))]
    (consumer,) = CONSUMERS
    replayed = 0
    for event in events:
        if consumer.wants(event.type):
            with db.uow() as uow:
                consumer.handle(uow, event)
            replayed += 1
    assert replayed > 30
    assert rollups(db) == before
