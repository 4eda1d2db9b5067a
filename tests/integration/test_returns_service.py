"""Returns against the real database: eligibility, the decision, restock at the receiving
location through the ledger, settlement, events in the same transaction, suggestions."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from omnicanal.customers.activity_tables import CustomerAttributesRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.inventory.tables import StockLevelRow, StockMovementRow
from omnicanal.orders.tables import OrderLineRow, OrderPaymentRow, OrderRow
from omnicanal.returns import service, views
from omnicanal.returns.tables import CreditNoteRow, ReturnRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, InvalidInput
from omnicanal.storage.database import Database
from tests.order_factories import Network
from tests.return_factories import delivered_order, make_shop


@pytest.fixture
def net(db: Database) -> Network:
    return make_shop(db)


def ask(
    db: Database,
    order_id: str,
    location_id: str,
    *,
    sku: str = "RUN-42",
    quantity: int = 1,
    reason: str = "too_small",
    condition: str = "sellable",
    outcome: str = "refund",
    exchange: Sequence[tuple[str, int]] = (),
    received_sku: str | None = None,
) -> ReturnRow:
    with db.uow() as uow:
        return service.request_return(
            uow,
            service.ReturnRequest(
                order_id=order_id,
                location_id=location_id,
                lines=[
                    service.ReturnLineRequest(
                        quantity=quantity,
                        reason=reason,
                        condition=condition,
                        sku=sku,
                        received_sku=received_sku,
                    )
                ],
                outcome=outcome,
                channel="pos",
                exchange_lines=[service.ExchangeLine(s, q) for s, q in exchange],
                actor="key_test",
            ),
        )


def level(db: Database, location_id: str, sku: str) -> tuple[int, int]:
    with db.read() as session:
        row = session.get(StockLevelRow, (sku, location_id))
        return (row.on_hand, row.damaged) if row else (0, 0)


def events_of(db: Database, subject: str) -> list[OutboxEventRow]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxEventRow)
                .where(OutboxEventRow.subject == subject)
                .order_by(OutboxEventRow.seq)
            )
        )


def count_returns(db: Database) -> int:
    with db.read() as session:
        return len(list(session.scalars(select(ReturnRow.id))))


def test_an_online_order_returned_at_a_store_adds_stock_at_that_store(
    db: Database, net: Network
) -> None:
    order_id = delivered_order(db, [("RUN-42", 2)])
    warehouse = level(db, net.warehouse, "RUN-42")
    ret = ask(db, order_id, net.bastille, quantity=1)
    damaged = ask(db, order_id, net.bastille, reason="damaged", condition="damaged")
    assert ret.status == damaged.status == "completed"
    assert level(db, net.bastille, "RUN-42") == (2, 1)  # one on sale, one kept aside
    assert level(db, net.warehouse, "RUN-42") == warehouse  # not where it was shipped from
    with db.read() as session:
        movements = list(
            session.scalars(
                select(StockMovementRow).where(StockMovementRow.reference_type == "return")
            )
        )
    assert {(m.location_id, m.reference_id) for m in movements} == {
        (net.bastille, ret.id),
        (net.bastille, damaged.id),
    }


def test_the_refund_is_the_paid_price_to_the_original_payment(db: Database, net: Network) -> None:
    order_id = delivered_order(db, [("RUN-42", 3)])
    with db.uow() as uow:  # as if a promotion took 1.00 off the line
        line = uow.session.scalars(
            select(OrderLineRow).where(OrderLineRow.order_id == order_id)
        ).one()
        line.discount_minor = 100
    first = ask(db, order_id, net.rivoli)
    second = ask(db, order_id, net.rivoli, quantity=2)
    assert (first.refund_minor, second.refund_minor) == (5967, 11933)  # 179.00 in all
    with db.read() as session:
        refunds = list(
            session.scalars(
                select(OrderPaymentRow)
                .where(OrderPaymentRow.order_id == order_id, OrderPaymentRow.kind == "refunded")
                .order_by(OrderPaymentRow.amount_minor)
            )
        )
    assert [(p.provider, p.amount_minor) for p in refunds] == [("adyen", 5967), ("adyen", 11933)]
    assert refunds[0].reference == f"refund-{first.id}"
    issued = next(e for e in events_of(db, first.id) if e.type == "returns.refund.issued")
    assert issued.data["payment_reference"] == "psp_web_1"
    assert issued.data["amount"] == "59.67"


@pytest.mark.parametrize(
    ("lines", "sku", "quantity", "days", "why"),
    [
        ([("TEE-FINAL", 1)], "TEE-FINAL", 1, 1, "final sale"),
        ([("RUN-42", 1)], "RUN-42", 2, 1, "Only 1 unit"),
        ([("RUN-42", 1)], "RUN-42", 1, 45, "grace period ended"),
    ],
)
def test_ineligible_returns_say_what_is_possible_and_change_nothing(
    db: Database,
    net: Network,
    clock: FrozenClock,
    lines: list[tuple[str, int]],
    sku: str,
    quantity: int,
    days: int,
    why: str,
) -> None:
    order_id = delivered_order(db, lines)
    clock.advance(days=days)
    before = level(db, net.rivoli, sku)
    with pytest.raises(Conflict) as refused:
        ask(db, order_id, net.rivoli, sku=sku, quantity=quantity)
    assert why in refused.value.detail
    assert refused.value.extensions["returnable"][0]["sku"] == sku
    assert level(db, net.rivoli, sku) == before
    assert count_returns(db) == 0
    with db.read() as session:
        kinds = session.scalars(select(OutboxEventRow.type)).all()
    assert not [k for k in kinds if k.startswith("returns.")]


def test_units_not_yet_delivered_cannot_come_back(db: Database, net: Network) -> None:
    from omnicanal.orders import service as orders
    from omnicanal.orders.model import Method

    with db.uow() as uow:
        order_id = orders.place_order(
            uow,
            orders.OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    orders.GroupRequest(
                        Method.CLICK_AND_COLLECT, [orders.LineRequest("RUN-43", 1)], net.rivoli
                    )
                ],
            ),
        ).order.id
    with pytest.raises(Conflict) as refused:
        ask(db, order_id, net.rivoli, sku="RUN-43")
    assert "not been collected or delivered" in refused.value.detail


def test_late_within_grace_waits_for_review_then_a_rejection_frees_the_units(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    clock.advance(days=35)
    ret = ask(db, order_id, net.rivoli)
    assert (ret.status, ret.review_reasons) == ("in_review", ["late_within_grace"])
    assert level(db, net.rivoli, "RUN-42") == (0, 0)
    with pytest.raises(Conflict):
        ask(db, order_id, net.rivoli)  # the unit is already waiting in a return
    with db.uow() as uow:
        rejected = service.reject(uow, ret.id, reviewer="key_admin", reason="worn")
    assert rejected.status == "rejected"
    assert [e.type for e in events_of(db, ret.id)] == [
        "returns.return.requested",
        "returns.return.in_review",
        "returns.return.rejected",
    ]
    with db.uow() as uow, pytest.raises(Conflict):
        service.approve(uow, ret.id, reviewer="key_admin")
    again = ask(db, order_id, net.rivoli)  # may be asked again
    assert again.status == "in_review"


def test_a_high_value_customer_is_seen_by_a_person(db: Database, net: Network) -> None:
    from omnicanal.customers.tables import CustomerProfileRow

    now = db.clock.now()
    with db.uow() as uow:
        uow.session.add(
            CustomerProfileRow(
                id="cus_vip",
                status="active",
                created_channel="web",
                last_seen_at=now,
                created_at=now,
                updated_at=now,
            )
        )
        uow.session.add(
            CustomerAttributesRow(profile_id="cus_vip", m_score=5, channels=[], updated_at=now)
        )
    order_id = delivered_order(db, [("RUN-42", 1)], customer_id="cus_vip")
    ret = ask(db, order_id, net.rivoli)
    assert ret.review_reasons == ["high_value_customer"]
    with db.uow() as uow:
        approved = service.approve(uow, ret.id, reviewer="key_admin", note="fine")
    assert approved.status == "completed"
    assert level(db, net.rivoli, "RUN-42") == (1, 0)
    received = next(e for e in events_of(db, ret.id) if e.type == "returns.return.received")
    assert received.data["customer_id"] == "cus_vip"
    assert received.data["refund"] == {"amount": "60.00", "currency": "EUR"}


def test_a_mismatched_item_is_restocked_as_what_came_back_after_review(
    db: Database, net: Network
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    ret = ask(db, order_id, net.rivoli, received_sku="RUN-41")
    assert ret.review_reasons == ["mismatched_item"]
    with db.uow() as uow:
        service.approve(uow, ret.id, reviewer="key_admin")
    assert level(db, net.rivoli, "RUN-41") == (1, 0)
    assert level(db, net.rivoli, "RUN-42") == (0, 0)


def test_store_credit_is_a_credit_note(db: Database, net: Network) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    ret = ask(db, order_id, net.rivoli, outcome="store_credit")
    with db.read() as session:
        note = session.scalars(select(CreditNoteRow)).one()
        refunds = session.scalars(
            select(OrderPaymentRow).where(OrderPaymentRow.kind == "refunded")
        ).all()
    assert note.id == ret.credit_note_id
    assert note.id.startswith("crn_")
    assert (note.amount_minor, note.currency) == (6000, "EUR")
    assert refunds == []
    received = next(e for e in events_of(db, ret.id) if e.type == "returns.return.received")
    assert received.data["refund_minor"] == 6000  # the value taken back from the purchase
    assert received.data["money_refunded_minor"] == 0


def test_an_exchange_the_store_lacks_is_delivered_at_home_and_a_cheaper_one_refunds(
    db: Database, net: Network
) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    ret = ask(db, order_id, net.lyon, outcome="exchange", exchange=[("SOCKS", 2)])
    with db.read() as session:
        new_order = session.get(OrderRow, ret.exchange_order_id)
        assert new_order is not None
        assert new_order.shipping_address is not None  # the original address
        assert new_order.status == "allocated"
    assert ret.money_refunded_minor == 6000 - 2 * 990
    assert ret.to_pay_minor == 0
    types = [e.type for e in events_of(db, ret.id)]
    assert types == [
        "returns.return.requested",
        "returns.exchange.created",
        "returns.refund.issued",
        "returns.return.received",
    ]


def test_a_dearer_exchange_leaves_the_difference_to_pay_at_the_till(
    db: Database, net: Network
) -> None:
    order_id = delivered_order(db, [("SOCKS", 1)])
    ret = ask(db, order_id, net.rivoli, sku="SOCKS", outcome="exchange", exchange=[("SOCKS", 2)])
    assert (ret.money_refunded_minor, ret.to_pay_minor) == (0, 990)
    with db.read() as session:
        new_order = session.get(OrderRow, ret.exchange_order_id)
        assert new_order is not None
        assert new_order.status == "ready_for_pickup"  # handed over once the till took 9.90


def test_an_exchange_needs_its_lines(db: Database, net: Network) -> None:
    order_id = delivered_order(db, [("RUN-42", 1)])
    with pytest.raises(InvalidInput) as refused:
        ask(db, order_id, net.rivoli, outcome="exchange")
    assert refused.value.field == "exchange_lines"


def test_suggestions_same_product_in_this_store_then_bought_with_never_the_returned(
    db: Database, net: Network, monkeypatch: pytest.MonkeyPatch
) -> None:
    from omnicanal.recommendations import service as recommendations

    calls: list[tuple[list[str], list[str]]] = []

    def bought_with(
        session: Session, skus: Sequence[str], *, limit: int = 5, exclude: Collection[str] = ()
    ) -> list[tuple[str, float]]:
        calls.append((list(skus), sorted(exclude)))
        return [("SOCKS", 0.9), ("CAP", 0.5)]

    monkeypatch.setattr(recommendations, "bought_with", bought_with)
    order_id = delivered_order(db, [("RUN-42", 1)])
    ret = ask(db, order_id, net.rivoli)
    with db.read() as session:
        ideas: dict[str, Any] = views.suggestions(session, ret.id)
    assert [s["sku"] for s in ideas["same_product"]] == ["RUN-43"]  # RUN-41: none at Rivoli
    assert [(s["sku"], s["available_here"]) for s in ideas["bought_with"]] == [
        ("SOCKS", 5),
        ("CAP", 0),
    ]
    assert calls == [(["RUN-42"], ["RUN-42", "RUN-43"])]
    assert ideas["bought_with_available"] is True


def test_suggestions_without_any_history_are_the_same_product_only(
    db: Database, net: Network
) -> None:
    with db.read() as session:
        ideas = views.suggest_for(session, net.bastille, ["RUN-43"])
    assert ideas["same_product"] == []  # Bastille has no running shoe
    assert ideas["bought_with"] == []
