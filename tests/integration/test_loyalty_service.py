"""Loyalty services on the real database: earn once per (channel, reference), burn nearest
expiry first, reverse on cancellation and return, expire, follow merges and erasure; random
operation sequences keep balance = sum of movements = points in lots, never negative."""

from __future__ import annotations

import contextlib
import itertools
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from omnicanal.customers.model import Identifier
from omnicanal.customers.service import identify
from omnicanal.events.dispatch import drain
from omnicanal.events.tables import OutboxEventRow
from omnicanal.loyalty import service
from omnicanal.loyalty.model import RefType
from omnicanal.loyalty.tables import LoyaltyMovementRow, LoyaltyPurchaseRow
from omnicanal.orders.events import OrderStatusChanged, PaymentRecorded
from omnicanal.returns.events import ReturnReceived
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database

EUR = "EUR"


def return_received(return_id: str, order_id: str, refund_minor: int) -> ReturnReceived:
    """The returns context's event, with what loyalty reads (return_id, order_id, refund)."""
    return ReturnReceived(
        return_id=return_id,
        order_id=order_id,
        customer_id=None,
        profile_id=None,
        channel="pos",
        order_channel="web",
        store_id="loc_test",
        location_id="loc_test",
        status="received",
        resolution="refund",
        refund_minor=refund_minor,
        currency=EUR,
        refund={"amount": str(Money(refund_minor, EUR).amount), "currency": EUR},
        money_refunded_minor=refund_minor,
        item_count=1,
    )


def customer(db: Database, email: str) -> str:
    with db.uow() as uow:
        return identify(uow, identifiers=[Identifier("email", email)], channel="web").profile_id


def sale(
    db: Database,
    ref: str,
    minor: int,
    *,
    customer_id: str | None = None,
    card: str | None = None,
    channel: str = "pos",
    ref_type: RefType = RefType.TILL_SALE,
    store_id: str | None = "loc_store",
) -> service.PurchaseOutcome:
    with db.uow() as uow:
        return service.record_purchase(
            uow,
            channel=channel,
            ref_type=ref_type,
            ref_id=ref,
            amount=Money(minor, EUR),
            customer_id=customer_id,
            card=card,
            store_id=store_id,
        )


def redeem(db: Database, account_id: str, points: int, channel: str = "web") -> str:
    with db.uow() as uow:
        return service.redeem(
            uow, account_id=account_id, points=points, currency=EUR, channel=channel
        ).id


def balance(db: Database, account_id: str) -> int:
    with db.read() as session:
        check = service.check_ledger(session, account_id)
    assert check.consistent, check
    return check.balance


def test_a_retried_till_sync_earns_once_and_till_sale_42_is_not_web_order_42(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    first = sale(db, "42", 5990, customer_id=lea)
    again = sale(db, "42", 5990, customer_id=lea)
    assert first.movement is not None
    assert again.movement is not None
    assert (again.replayed, again.movement.id) == (True, first.movement.id)
    assert first.movement.points == 59
    web = sale(db, "42", 2000, customer_id=lea, channel="web", ref_type=RefType.ORDER)
    assert web.movement is not None
    assert web.movement.id != first.movement.id
    assert first.account is not None
    assert balance(db, first.account.id) == 79
    with db.read() as session:
        refs = session.execute(
            select(
                LoyaltyMovementRow.channel, LoyaltyMovementRow.ref_type, LoyaltyMovementRow.ref_id
            ).order_by(LoyaltyMovementRow.id)
        ).all()
    assert [tuple(r) for r in refs] == [("pos", "till_sale", "42"), ("web", "order", "42")]


def test_concurrent_retries_of_one_sync_earn_once(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    results: list[service.PurchaseOutcome] = []
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            results.append(sale(db, "T1-0001", 12000, customer_id=lea))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.purchase.id for r in results}) == 1
    assert sum(not r.replayed for r in results) == 1
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(LoyaltyMovementRow)) == 1
        assert session.scalar(select(func.count()).select_from(LoyaltyPurchaseRow)) == 1


def test_a_card_scanned_at_the_till_names_the_profile_and_the_account(db: Database) -> None:
    outcome = sale(db, "T1-1", 1000, card="1234 5678")
    assert outcome.account is not None
    with db.read() as session:
        found = service.find_account(session, card="12345678")
    assert found.id == outcome.account.id


def test_burn_beyond_the_balance_is_refused_with_the_balance(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    account = sale(db, "T1-1", 10000, customer_id=lea).account
    assert account is not None
    with pytest.raises(Conflict) as refused:
        redeem(db, account.id, 101)
    assert refused.value.extensions["balance"] == 100
    redeem(db, account.id, 100)
    assert balance(db, account.id) == 0


def test_burn_uses_nearest_expiry_first_and_expiry_sweeps_what_is_left(
    db: Database, clock: FrozenClock
) -> None:
    lea = customer(db, "lea@example.com")
    old = sale(db, "T1-1", 10000, customer_id=lea)
    clock.advance(days=30)
    sale(db, "T1-2", 20000, customer_id=lea)
    assert old.account is not None
    assert old.movement is not None
    redeem(db, old.account.id, 150)
    with db.read() as session:
        lots = dict(
            session.execute(
                select(LoyaltyMovementRow.ref_id, LoyaltyMovementRow.remaining).where(
                    LoyaltyMovementRow.kind == "earn"
                )
            ).all()
        )
    assert lots == {"T1-1": 0, "T1-2": 150}
    clock.advance(days=365 * 2 - 29)  # the first lot's date passed, not the second's
    with db.uow() as uow:
        assert service.expire_due(uow) == 0  # the first lot was spent: nothing to expire
    clock.advance(days=30)
    with db.uow() as uow:
        assert service.expire_due(uow) == 1
    with db.uow() as uow:
        assert service.expire_due(uow) == 0
    assert balance(db, old.account.id) == 0


def test_tiers_follow_rolling_spend_and_multiply_the_next_earns(
    db: Database, clock: FrozenClock
) -> None:
    lea = customer(db, "lea@example.com")
    first = sale(db, "T1-1", 100000, customer_id=lea)
    assert first.account is not None
    assert first.account.tier == "gold"
    assert first.movement is not None
    assert first.movement.points == 1000
    second = sale(db, "T1-2", 10000, customer_id=lea)
    assert second.movement is not None
    assert second.movement.points == 150
    with db.read() as session:
        kinds = [
            e.type
            for e in session.scalars(select(OutboxEventRow).order_by(OutboxEventRow.position))
            if e.type.startswith("loyalty.")
        ]
    assert kinds.count("loyalty.tier.changed") == 1
    clock.advance(days=366)
    third = sale(db, "T1-3", 1000, customer_id=lea)
    assert third.account is not None
    assert third.account.tier == "basic"


def test_a_return_reverses_its_share_and_lowers_the_tier(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    bought = sale(db, "ord_X1", 120000, customer_id=lea, channel="web", ref_type=RefType.ORDER)
    assert bought.account is not None
    assert bought.account.tier == "gold"
    with db.uow() as uow:
        uow.emit(return_received("ret_1", "ord_X1", 30000))
        uow.emit(return_received("ret_1", "ord_X1", 30000))
    drain(db)
    assert balance(db, bought.account.id) == 1200 - 300  # once, though sent twice
    with db.read() as session:
        account = service.get_account(session, bought.account.id)
        assert account.tier == "silver"  # 900 EUR net in the last 12 months


def test_a_reversal_after_the_points_were_spent_never_goes_negative(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    bought = sale(db, "ord_X1", 10000, customer_id=lea, channel="web", ref_type=RefType.ORDER)
    assert bought.account is not None
    redeem(db, bought.account.id, 80)
    with db.uow() as uow:
        outcome = service.cancel_order(uow, "ord_X1")
    assert (outcome.points, outcome.unrecovered) == (20, 80)
    assert balance(db, bought.account.id) == 0


def test_cancelling_an_order_paid_with_points_gives_them_back(db: Database) -> None:
    lea = customer(db, "lea@example.com")
    account = sale(db, "T1-1", 50000, customer_id=lea).account
    assert account is not None
    redemption = redeem(db, account.id, 300)
    common = {"order_id": "ord_W1", "channel": "web", "customer_id": lea, "store_id": None}
    with db.uow() as uow:
        uow.emit(
            PaymentRecorded(
                **common,
                payment_id="pay_1",
                kind="captured",
                provider="loyalty",
                reference=redemption,
                amount="3.00",
                currency=EUR,
            )
        )
        uow.emit(
            OrderStatusChanged(**common, previous="allocated", status="cancelled", partial=False)
        )
    drain(db)
    assert balance(db, account.id) == 500
    with db.read() as session:
        row = service.get_redemption(session, redemption)
        assert (row.status, row.order_id) == ("refunded", "ord_W1")


def test_merged_profiles_share_one_account_with_lineage(db: Database, clock: FrozenClock) -> None:
    lea = customer(db, "lea@example.com")
    web = sale(db, "ord_1", 10000, customer_id=lea, channel="web", ref_type=RefType.ORDER)
    clock.advance(minutes=5)
    till = sale(db, "T1-1", 5000, card="CARD0001")
    assert web.account is not None
    assert till.account is not None
    with db.uow() as uow:  # the till learns the card holder's email: one person
        identify(
            uow,
            identifiers=[
                Identifier("email", "lea@example.com"),
                Identifier("loyalty_card", "CARD0001"),
            ],
            channel="pos",
        )
    drain(db)
    with db.read() as session:
        merged = service.find_account(session, card="CARD0001")
        assert merged.id == service.find_account(session, customer_id=lea).id
        assert merged.balance == 150
        origins = set(
            session.scalars(
                select(LoyaltyMovementRow.origin_account_id).where(
                    LoyaltyMovementRow.account_id == merged.id
                )
            )
        )
        assert origins == {web.account.id, till.account.id}
        assert service.get_account(session, till.account.id).id == merged.id or (
            service.get_account(session, web.account.id).id == merged.id
        )
    assert balance(db, merged.id) == 150


def test_erasure_keeps_the_ledger_without_the_profile(db: Database) -> None:
    from omnicanal.customers.personal_data import erase

    lea = customer(db, "lea@example.com")
    account = sale(db, "T1-1", 10000, customer_id=lea).account
    assert account is not None
    with db.uow() as uow:
        erase(uow, lea, reason="customer request", channel="admin")
    drain(db)
    with db.read() as session:
        check = service.check_ledger(session, account.id)
        assert check.consistent
        assert check.balance == 0
        assert (
            session.scalar(
                select(func.count())
                .select_from(LoyaltyPurchaseRow)
                .where(LoyaltyPurchaseRow.customer_id == lea)
            )
            == 0
        )
        assert session.scalar(select(func.count()).select_from(LoyaltyMovementRow)) == 2


# -- property: random operations keep the ledger whole ------------------------------------------

_run = itertools.count()
OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["earn", "retry", "burn", "refund", "cancel", "return", "expire", "adjust"]
        ),
        st.integers(min_value=1, max_value=400),
    ),
    min_size=3,
    max_size=25,
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=OPS)
def test_random_operations_keep_balance_equal_to_movements_and_lots_never_negative(
    db: Database, clock: FrozenClock, ops: list[tuple[str, int]]
) -> None:
    n = next(_run)
    who = customer(db, f"p{n}@example.com")
    account_id = sale(db, f"P{n}-0", 10000, customer_id=who).account.id  # type: ignore[union-attr]
    sales: list[str] = [f"P{n}-0"]
    redemptions: list[str] = []
    for i, (op, x) in enumerate(ops):
        ref = f"P{n}-{i + 1}"
        if op == "earn":
            sale(db, ref, x * 100, customer_id=who, channel="web", ref_type=RefType.ORDER)
            sales.append(ref)
        elif op == "retry" and sales:
            sale(db, sales[-1], x * 100, customer_id=who, channel="web", ref_type=RefType.ORDER)
        elif op == "burn":
            try:
                redemptions.append(redeem(db, account_id, x))
            except Conflict:
                assert x > balance(db, account_id)
        elif op == "refund" and redemptions:
            with db.uow() as uow:
                service.refund_redemption(
                    uow, redemptions[x % len(redemptions)], channel="web", reason="t"
                )
        elif op in ("cancel", "return") and sales:
            target = sales[x % len(sales)]
            with db.uow() as uow:
                service.reverse_purchase(
                    uow,
                    purchase_ref_type=RefType.ORDER,
                    purchase_ref_id=target,
                    refund_minor=None if op == "cancel" else x * 10,
                    ref_type=RefType.RETURN,
                    ref_id=f"{target}-{op}-{i}",
                    reason=op,
                )
        elif op == "expire":
            clock.advance(days=x * 3)
            with db.uow() as uow:
                service.expire_due(uow)
        elif op == "adjust":
            with db.uow() as uow, contextlib.suppress(Conflict):
                service.adjust(
                    uow,
                    account_id=account_id,
                    points=x if i % 2 else -x,
                    reason="goodwill",
                    reference=ref,
                    channel="admin",
                )
        balance(db, account_id)  # balance = movements = lots, never negative
