"""Hypothesis stateful test: no sequence of order commands breaks stock or status invariants."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from sqlalchemy import select

from omnicanal.inventory.tables import ReservationRow
from omnicanal.orders import fulfilment, service
from omnicanal.orders.model import GroupStatus, Method, derive_status
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import DomainError
from omnicanal.storage.database import Database
from tests.conftest import truncate_all
from tests.inventory_checks import assert_ledger_equals_levels
from tests.order_factories import make_network

ADDRESS = {
    "name": "x",
    "line1": "y",
    "postcode": "75001",
    "city": "Paris",
    "country": "FR",
    "latitude": 48.86,
    "longitude": 2.35,
}


class Lifecycle(RuleBasedStateMachine):
    db: Database
    clock: FrozenClock
    seen: dict[str, int]

    def __init__(self) -> None:
        super().__init__()
        truncate_all(self.db)
        self.net = make_network(self.db)
        self.stores = [self.net.rivoli, self.net.bastille, self.net.lyon]
        self.groups: list[str] = []
        self.orders: list[str] = []

    def attempt(self, action: object) -> None:
        try:
            with self.db.uow() as uow:
                action(uow)  # type: ignore[operator]
            self.seen["done"] += 1
        except DomainError:
            self.seen["refused"] += 1  # and by the invariants, it changed nothing

    @rule(
        method=st.sampled_from(list(Method)),
        store=st.integers(0, 2),
        sku=st.sampled_from(["SHOE-42", "SOCKS", "CAP"]),
        qty=st.integers(1, 3),
        channel=st.sampled_from(["web", "pos", "marketplace"]),
    )
    def place(self, method: Method, store: int, sku: str, qty: int, channel: str) -> None:
        location = (
            self.stores[store] if method.is_pickup or method is Method.SHIP_FROM_STORE else None
        )
        request = service.OrderRequest(
            channel=channel,
            currency="EUR",
            store_id=self.stores[store]
            if channel == "pos" or method is Method.ENDLESS_AISLE
            else None,
            shipping_address=ADDRESS,
            groups=[
                service.GroupRequest(
                    method=method,
                    lines=[service.LineRequest(sku, qty)],
                    location_id=location,
                    relay_point_id=None,
                )
            ],
        )
        if method is Method.RELAY_POINT:
            return  # no relay point in this network
        placed: list[str] = []

        def run(uow: object) -> None:
            order = service.place_order(uow, request)  # type: ignore[arg-type]
            placed.append(order.order.id)

        self.attempt(run)
        if placed:
            self.seen["orders"] += 1
            self.orders.append(placed[0])
            with self.db.read() as s:
                self.groups += list(
                    s.scalars(
                        select(FulfilmentGroupRow.id).where(
                            FulfilmentGroupRow.order_id == placed[0]
                        )
                    )
                )

    @rule(
        i=st.integers(0, 50),
        action=st.sampled_from(["picking", "ready", "ship", "deliver", "decline", "no_show"]),
    )
    def move(self, i: int, action: str) -> None:
        if not self.groups:
            return
        group_id = self.groups[i % len(self.groups)]
        moves = {
            "picking": lambda uow: fulfilment.start_picking(uow, group_id),
            "ready": lambda uow: fulfilment.mark_ready(uow, group_id),
            "ship": lambda uow: fulfilment.ship(uow, group_id),
            "deliver": lambda uow: fulfilment.deliver(uow, group_id),
            "decline": lambda uow: fulfilment.decline(uow, group_id),
            "no_show": lambda uow: fulfilment.no_show(uow, group_id),
        }
        self.attempt(moves[action])

    @rule(i=st.integers(0, 50), right=st.booleans())
    def hand_over(self, i: int, right: bool) -> None:
        if not self.groups:
            return
        group_id = self.groups[i % len(self.groups)]
        with self.db.read() as s:
            code = s.get(FulfilmentGroupRow, group_id).pickup_code  # type: ignore[union-attr]
        given = code if right and code else "999999x"
        self.attempt(lambda uow: fulfilment.hand_over(uow, group_id, pickup_code=given))

    @rule(i=st.integers(0, 50))
    def cancel(self, i: int) -> None:
        if not self.orders:
            return
        order_id = self.orders[i % len(self.orders)]
        self.attempt(lambda uow: fulfilment.cancel(uow, order_id, reason="test"))

    @rule(hours=st.integers(1, 80))
    def time_passes(self, hours: int) -> None:
        from omnicanal.inventory.service import sweep_expired

        self.clock.advance(hours=hours)
        with self.db.uow() as uow:
            fulfilment.sweep_no_shows(uow)
        with self.db.uow() as uow:
            sweep_expired(uow)
        from omnicanal.events.dispatch import drain

        drain(self.db)

    @invariant()
    def stock_and_status_agree(self) -> None:
        assert_ledger_equals_levels(self.db)
        with self.db.read() as s:
            groups = list(s.scalars(select(FulfilmentGroupRow)))
            lines = defaultdict(list)
            for line in s.scalars(select(OrderLineRow)):
                lines[line.group_id].append(line)
            active = defaultdict(int)
            for r in s.scalars(select(ReservationRow).where(ReservationRow.status == "active")):
                active[r.owner_id] += r.quantity
            by_order = defaultdict(list)
            for g in groups:
                by_order[g.order_id].append(GroupStatus(g.status))
                live_units = sum(li.quantity - li.quantity_cancelled for li in lines[g.id])
                if GroupStatus(g.status).holds_stock:
                    expected = live_units
                    if g.method == "reserve_and_try" and active[g.id] == 0:
                        expected = 0  # hold expired; the consumer will close the group
                    assert active[g.id] == expected, (g.id, g.status)
                else:
                    assert active[g.id] == 0, (g.id, g.status)
            for order in s.scalars(select(OrderRow)):
                assert order.status == derive_status(by_order[order.id]).status.value


def test_no_command_sequence_breaks_the_invariants(db: Database, clock: FrozenClock) -> None:
    Lifecycle.db = db
    Lifecycle.clock = clock
    Lifecycle.seen = defaultdict(int)
    run_state_machine_as_test(
        Lifecycle,
        settings=settings(
            max_examples=12,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    # the machine really exercised the lifecycle, not only refusals
    assert Lifecycle.seen["orders"] > 3
    assert Lifecycle.seen["done"] > Lifecycle.seen["orders"]
