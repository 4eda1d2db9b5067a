"""Promotions against the real database: quotes from the catalogue, redemptions that hold their
limits when orders race for the last ones, releases on cancellation, local store promotions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from omnicanal.customers.activity_tables import SegmentMemberRow
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.events.tables import OutboxEventRow
from omnicanal.promotions import service
from omnicanal.promotions.model import Action, ActionKind, Conditions, PricedBasket, Scope
from omnicanal.promotions.tables import PromotionRow, RedemptionRow
from omnicanal.shared.errors import Conflict, Forbidden, InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.storage.database import Database
from tests.order_factories import make_network

TEN_PERCENT = Action(ActionKind.PERCENT_OFF, percent=Decimal(10))


@pytest.fixture(autouse=True)
def _catalogue(db: Database) -> None:
    make_network(db, stock={"warehouse": {"SHOE-42": 1}})  # SHOE-42 89.90, SOCKS 9.90, CAP 25.00


def define(db: Database, name: str = "Ten off", **kwargs: Any) -> str:
    kwargs.setdefault("actions", (TEN_PERCENT,))
    with db.uow() as uow:
        row = service.create_promotion(
            uow, service.PromotionDraft(name=name, **kwargs), actor="test"
        )
        return row.id


def basket(channel: str = "web", **kwargs: Any) -> service.BasketInput:
    lines = kwargs.pop("lines", (service.LineInput("SHOE-42", 1), service.LineInput("SOCKS", 2)))
    return service.BasketInput(currency="EUR", lines=lines, channel=channel, **kwargs)


def quote(db: Database, b: service.BasketInput) -> PricedBasket:
    with db.read() as session:
        return service.quote(session, b, at=db.clock.now())


def test_a_quote_prices_from_the_catalogue_and_explains_each_line(db: Database) -> None:
    pid = define(db, conditions=Conditions(skus=frozenset({"SHOE-42"})))
    priced = quote(db, basket())
    shoe, socks = priced.lines
    assert (shoe.unit_price_minor, shoe.category) == (8990, "shoes")
    assert shoe.discounts[0].promotion_id == pid
    assert shoe.discounts[0].amount_minor == 899
    assert socks.discounts == ()
    assert priced.total_minor == 8990 - 899 + 1980
    # the caller's price wins (pricing resolves them), and the answer is the same on the till
    given = basket(lines=(service.LineInput("SHOE-42", 1, unit_price_minor=5000),))
    assert quote(db, given).total_minor == 4500
    assert quote(db, basket("pos")) == priced


def test_a_changed_promotion_is_seen_by_the_next_quote(db: Database) -> None:
    pid = define(db)
    assert quote(db, basket()).applied
    with db.uow() as uow:
        service.change_promotion(uow, pid, {"status": "paused"})
    priced = quote(db, basket())
    assert priced.applied == ()
    assert priced.discount_minor == 0


def test_customer_segments_come_from_the_profile(db: Database) -> None:
    now = db.clock.now()
    customer = new_id("cus")
    with db.uow() as uow:
        uow.session.add(
            CustomerProfileRow(
                id=customer,
                status="active",
                attributes={},
                created_channel="web",
                created_at=now,
                updated_at=now,
                last_seen_at=now,
            )
        )
        uow.session.add(SegmentMemberRow(segment_id="seg_VIP", profile_id=customer, entered_at=now))
    define(db, conditions=Conditions(segments=frozenset({"seg_VIP"})))
    assert quote(db, basket()).applied == ()
    assert len(quote(db, basket(customer_id=customer)).applied) == 1


def test_unknown_sku_and_missing_price_are_clear(db: Database) -> None:
    with pytest.raises(InvalidInput) as err:
        quote(db, basket(lines=(service.LineInput("NOPE", 1),)))
    assert err.value.field == "lines[0].sku"
    with pytest.raises(InvalidInput, match="no base price in USD"):
        quote(
            db,
            service.BasketInput(
                currency="USD", lines=(service.LineInput("CAP", 1),), channel="web"
            ),
        )


def redeem(db: Database, priced: PricedBasket, order_id: str, customer: str | None = None) -> None:
    with db.uow() as uow:
        service.redeem(uow, priced, order_id=order_id, customer_id=customer)


def test_redeem_then_release_on_cancellation_gives_the_use_back(db: Database) -> None:
    pid = define(db, max_redemptions=1, currency="EUR", budget_minor=10_000)
    priced = quote(db, basket())
    redeem(db, priced, "ord_1")
    redeem(db, priced, "ord_1")  # a retried placement consumes nothing more
    with pytest.raises(Conflict) as err:
        redeem(db, priced, "ord_2")
    assert err.value.extensions["promotion_id"] == pid
    assert "all 1 redemptions taken" in err.value.detail
    assert quote(db, basket()).not_applied[0].reason == "used up: all 1 redemptions taken"
    with db.uow() as uow:
        released = service.release(uow, "ord_1")
        assert [r.status for r in released] == ["released"]
    with db.uow() as uow:
        assert service.release(uow, "ord_1") == []
    redeem(db, priced, "ord_2")
    with db.read() as session:
        row = session.get(PromotionRow, pid)
        assert row is not None
        assert (row.redemptions, row.spent_minor) == (1, priced.discount_minor)
        types = session.scalars(select(OutboxEventRow.type).order_by(OutboxEventRow.seq)).all()
    assert types.count("promotions.redemption.recorded") == 2
    assert types.count("promotions.redemption.released") == 1
    assert types.count("promotions.budget.exhausted") == 2


def test_per_customer_limit(db: Database) -> None:
    define(db, max_per_customer=1)
    priced = quote(db, basket(customer_id=None))
    redeem(db, priced, "ord_1", "cus_A")
    with pytest.raises(Conflict, match="already used"):
        redeem(db, priced, "ord_2", "cus_A")
    redeem(db, priced, "ord_3", "cus_B")


def test_local_promotion_belongs_to_its_store(db: Database) -> None:
    with db.uow() as uow:
        row = service.create_promotion(
            uow,
            service.PromotionDraft(name="Rivoli days", actions=(TEN_PERCENT,)),
            acting_store="loc_RIVOLI",
            actor="pos",
        )
        assert row.store_id == "loc_RIVOLI"
    with db.uow() as uow, pytest.raises(Forbidden):
        service.change_promotion(uow, row.id, {"priority": 3}, acting_store="loc_OTHER")
    assert quote(db, basket("pos", store_id="loc_RIVOLI")).applied
    other = quote(db, basket("pos", store_id="loc_LYON"))
    assert other.not_applied[0].reason == "only in store(s) loc_RIVOLI"


def race(n: int, attempt: Callable[[int], None]) -> tuple[list[int], list[int]]:
    barrier = threading.Barrier(n)
    won: list[int] = []
    refused: list[int] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            attempt(i)
            won.append(i)
        except Conflict:
            refused.append(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    return won, refused


def test_orders_racing_for_the_last_redemptions_never_exceed_the_limit(db: Database) -> None:
    pid = define(db, max_redemptions=5)
    priced = quote(db, basket())
    won, refused = race(16, lambda i: redeem(db, priced, f"ord_{i}"))
    assert (len(won), len(refused)) == (5, 11)
    with db.read() as session:
        assert session.scalar(select(PromotionRow.redemptions).where(PromotionRow.id == pid)) == 5
        assert session.scalar(select(func.count()).select_from(RedemptionRow)) == 5
        exhausted = session.scalar(
            select(func.count()).where(OutboxEventRow.type == "promotions.budget.exhausted")
        )
    assert exhausted == 1


def test_orders_racing_for_a_money_budget_never_spend_more_than_it(db: Database) -> None:
    a = Action(ActionKind.AMOUNT_OFF, scope=Scope.BASKET, amount_minor=1000)
    pid = define(db, actions=(a,), currency="EUR", budget_minor=3500)
    priced = quote(db, basket())
    won, _ = race(12, lambda i: redeem(db, priced, f"ord_{i}"))
    assert len(won) == 3
    with db.read() as session:
        spent = session.scalar(select(PromotionRow.spent_minor).where(PromotionRow.id == pid))
    assert spent == 3000


def test_one_customer_racing_from_several_channels_gets_one_use(db: Database) -> None:
    define(db, max_per_customer=1, max_redemptions=100)
    priced = quote(db, basket())
    won, _ = race(10, lambda i: redeem(db, priced, f"ord_{i}", "cus_SAME"))
    assert len(won) == 1
    with db.read() as session:
        assert session.scalar(select(func.sum(PromotionRow.redemptions))) == 1


def test_definition_errors_change_nothing(db: Database) -> None:
    with pytest.raises(InvalidInput) as err:
        define(db, actions=(Action(ActionKind.AMOUNT_OFF, amount_minor=500),))
    assert err.value.field == "actions[0]"
    with pytest.raises(InvalidInput):
        define(
            db,
            conditions=Conditions(starts_at=db.clock.now(), ends_at=db.clock.now() - timedelta(1)),
        )
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PromotionRow)) == 0
