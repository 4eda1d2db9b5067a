"""Timeline and RFM attributes against the real database, fed through the outbox and the
consumers: every context's events on one timeline, activity by device id, merges followed,
purchases counted once, segments entered and left, personal data exported and erased."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from omnicanal.carts.events import CartCreated, LineAdded
from omnicanal.customers import attributes, personal_data, segments, service, timeline
from omnicanal.customers.activity_tables import (
    CustomerAttributesRow,
    PurchaseLedgerRow,
    SegmentMemberRow,
    SegmentRow,
    TimelineEntryRow,
)
from omnicanal.customers.model import normalise_identifiers
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.customers.timeline import ActivityInput, TimelineKind
from omnicanal.events.dispatch import drain
from omnicanal.events.tables import OutboxEventRow
from omnicanal.service_desk import service as desk
from omnicanal.service_desk.model import TicketChannel
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, Gone, InvalidInput
from omnicanal.shared.ids import new_id
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database

LOYAL_AND_RECENT = {
    "all": [
        {"attr": "frequency", "op": ">=", "value": 2},
        {"attr": "recency_days", "op": "<=", "value": 90},
    ]
}


def identify(db: Database, *pairs: tuple[str, str], channel: str = "web") -> str:
    with db.uow() as uow:
        return service.identify(
            uow, identifiers=normalise_identifiers(list(pairs)), channel=channel
        ).profile_id


def emit_raw(
    db: Database, event_type: str, data: dict[str, Any], subject: str | None = None
) -> None:
    """An event of a context that does not exist yet (or that a test should not depend on),
    written to the outbox exactly as that context would."""
    with db.uow() as uow:
        uow.session.add(
            OutboxEventRow(
                id=new_id("evt"),
                type=event_type,
                subject=subject,
                data=data,
                occurred_at=uow.now(),
            )
        )


def order_placed(
    db: Database, customer_id: str | None, order_id: str, total: str, *, channel: str = "web",
    store_id: str | None = None, currency: str = "EUR",
) -> None:  # fmt: skip
    money = Money.of(total, currency)
    emit_raw(
        db,
        "orders.order.placed",
        {
            "order_id": order_id,
            "channel": channel,
            "customer_id": customer_id,
            "store_id": store_id,
            "currency": currency,
            "total": total,
            "total_minor": money.minor,
            "status": "placed",
            "lines": [{"sku": "TSH-BLU-M", "quantity": 1, "unit_price": total}],
        },
        subject=order_id,
    )


def entries(db: Database, profile_id: str, *kinds: TimelineKind) -> list[TimelineEntryRow]:
    with db.read() as session:
        return timeline.timeline_page(session, profile_id, kinds=kinds, limit=200).entries


def attrs(db: Database, profile_id: str) -> CustomerAttributesRow | None:
    with db.read() as session:
        return session.get(CustomerAttributesRow, profile_id)


def event_data(db: Database, event_type: str) -> list[dict[str, Any]]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxEventRow.data)
                .where(OutboxEventRow.type == event_type)
                .order_by(OutboxEventRow.seq)
            )
        )


# --- the timeline --------------------------------------------------------------------------------


def test_given_a_customer_active_in_every_channel_then_one_timeline_shows_it_all_newest_first(
    db: Database, clock: FrozenClock
) -> None:
    zoe = identify(db, ("phone", "0612345678"), channel="pos")
    clock.advance(minutes=1)
    with db.uow() as uow:
        uow.emit(CartCreated(cart_id="crt_1", profile_id=zoe, channel="web", currency="EUR"))
        uow.emit(
            LineAdded(
                cart_id="crt_1",
                profile_id=zoe,
                channel="pos",
                store_id="loc_lyon",
                currency="EUR",
                line_id="crl_1",
                sku="TSH-BLU-M",
                quantity=1,
                line_quantity=1,
            )
        )
        # an anonymous cart is nobody's timeline
        uow.emit(CartCreated(cart_id="crt_2", profile_id=None, channel="web", currency="EUR"))
    clock.advance(minutes=1)
    order_placed(db, zoe, "ord_1", "59.90", channel="web", store_id="loc_lyon")
    clock.advance(minutes=1)
    emit_raw(
        db,
        "returns.return.received",
        {
            "return_id": "ret_1",
            "order_id": "ord_1",
            "profile_id": zoe,
            "channel": "pos",
            "store_id": "loc_paris",
            "refund": {"amount": "59.90", "currency": "EUR"},
        },
    )
    clock.advance(minutes=1)
    with db.uow() as uow:
        ticket = desk.open_ticket(
            uow,
            subject="Where is my refund?",
            channel=TicketChannel.PHONE,
            source_channel="callcenter",
            customer_id=zoe,
        )
    clock.advance(minutes=1)
    emit_raw(
        db,
        "notifications.message.sent",
        {"message_id": "msg_1", "profile_id": zoe, "medium": "email", "purpose": "refund"},
    )
    emit_raw(db, "notifications.message.sent", {"message_id": "msg_2", "profile_id": "cus_nobody"})
    drain(db)

    rows = entries(db, zoe)
    assert [(r.kind, r.action) for r in rows] == [
        ("message", "sent"),
        ("ticket", "opened"),
        ("return", "received"),
        ("order", "placed"),
        ("cart", "line_added"),
        ("cart", "created"),
        ("profile", "created"),
    ]
    by_kind = {r.kind: r for r in rows}
    assert (by_kind["order"].channel, by_kind["order"].store_id) == ("web", "loc_lyon")
    assert by_kind["order"].ref == "ord_1"
    assert by_kind["order"].payload["total"] == "59.90"
    assert (by_kind["return"].channel, by_kind["return"].store_id) == ("pos", "loc_paris")
    assert by_kind["return"].payload["refund"] == {"amount": "59.90", "currency": "EUR"}
    assert by_kind["ticket"].ref == ticket.id
    assert by_kind["ticket"].channel == "callcenter"
    assert by_kind["ticket"].payload["medium"] == "phone"
    assert by_kind["ticket"].payload["subject"] == "Where is my refund?"
    assert by_kind["cart"].payload == {"currency": "EUR"}
    line = rows[4]
    assert (line.channel, line.store_id, line.ref, line.payload["sku"]) == (
        "pos",
        "loc_lyon",
        "crt_1",
        "TSH-BLU-M",
    )
    assert [r.kind for r in entries(db, zoe, TimelineKind.ORDER, TimelineKind.RETURN)] == [
        "return",
        "order",
    ]
    # pages of two walk the whole timeline once, in order
    seen: list[str] = []
    cursor = None
    with db.read() as session:
        while True:
            page = timeline.timeline_page(session, zoe, cursor=cursor, limit=2)
            seen += [e.id for e in page.entries]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == [r.id for r in rows]
    # a replayed drain changes nothing
    drain(db)
    assert len(entries(db, zoe)) == 7


def test_given_activity_by_device_id_when_the_app_logs_in_then_it_lands_on_the_web_profile(
    db: Database, clock: FrozenClock
) -> None:
    web = identify(db, ("email", "zoe@example.fr"), ("login_id", "zoe-77"))
    session_start = ActivityInput(
        kind=TimelineKind.SESSION,
        action="started",
        channel="app",
        session_id="s-1",
        payload={"device_type": "app"},
    )
    with db.uow() as uow:  # first launch: the device is not known yet
        first, _ = timeline.record_for_identifiers(
            uow, normalise_identifiers([("device_id", "ios-1")]), [session_start], channel="app"
        )
    assert first.outcome == "created"
    clock.advance(minutes=3)
    with db.uow() as uow:  # she logs in: device and login are one person
        login, _ = timeline.record_for_identifiers(
            uow,
            normalise_identifiers([("device_id", "ios-1"), ("login_id", "zoe-77")]),
            [
                ActivityInput(
                    kind=TimelineKind.VIEW,
                    action="viewed",
                    channel="app",
                    session_id="s-1",
                    ref="TSH-BLU-M",
                    payload={"sku": "TSH-BLU-M"},
                )
            ],
            channel="app",
        )
    assert login.outcome == "merged"
    assert login.profile_id == web  # the older profile survives
    clock.advance(minutes=3)
    with db.uow() as uow:  # later, the device alone is enough
        again, _ = timeline.record_for_identifiers(
            uow,
            normalise_identifiers([("device_id", "ios-1")]),
            [
                ActivityInput(
                    kind=TimelineKind.SEARCH,
                    action="searched",
                    channel="app",
                    session_id="s-2",
                    payload={"query": "trail shoes", "results": 12},
                )
            ],
            channel="app",
        )
    assert (again.outcome, again.profile_id) == ("matched", web)
    # before the consumer catches up, the survivor's timeline already includes the absorbed one's
    kinds = [(r.kind, r.session_id) for r in entries(db, web) if r.kind != "profile"]
    assert kinds == [("search", "s-2"), ("view", "s-1"), ("session", "s-1")]
    drain(db)
    with db.read() as session:
        owners = set(session.scalars(select(TimelineEntryRow.profile_id)))
    assert owners == {web}  # re-pointed on customers.profile.merged
    actions = [(r.kind, r.action) for r in entries(db, web, TimelineKind.PROFILE)]
    assert ("profile", "merged") in actions
    recorded = event_data(db, "customers.activity.recorded")
    assert [e["kind"] for e in recorded] == ["session", "view", "search"]
    assert recorded[2]["personal"] == {"payload": {"query": "trail shoes", "results": 12}}


def test_bad_activity_is_refused_and_changes_nothing(db: Database, clock: FrozenClock) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    cases = [
        (ActivityInput(kind=TimelineKind.ORDER, action="placed", channel="web"), "kind"),
        (ActivityInput(kind=TimelineKind.VIEW, action="started", channel="web"), "action"),
        (
            ActivityInput(
                kind=TimelineKind.VIEW,
                action="viewed",
                channel="web",
                occurred_at=clock.now() + timedelta(hours=1),
            ),
            "occurred_at",
        ),
        (
            ActivityInput(
                kind=TimelineKind.SEARCH,
                action="searched",
                channel="web",
                payload={"q": "x" * 3000},
            ),
            "payload",
        ),
    ]
    for activity, field in cases:
        with pytest.raises(InvalidInput) as info, db.uow() as uow:
            timeline.record_activities(uow, zoe, [activity])
        assert info.value.field == f"activities[0].{field}"
    with pytest.raises(InvalidInput), db.uow() as uow:
        timeline.record_activities(uow, zoe, [])
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(TimelineEntryRow)) == 0


# --- RFM ---------------------------------------------------------------------------------------


def test_given_order_events_then_rfm_counts_each_order_once_and_follows_cancellations_and_returns(
    db: Database, clock: FrozenClock
) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    order_placed(db, zoe, "ord_1", "120.00", channel="web")
    clock.advance(days=2)
    order_placed(db, zoe, "ord_2", "80.50", channel="pos", store_id="loc_lyon")
    order_placed(db, zoe, "ord_2", "80.50", channel="pos", store_id="loc_lyon")  # seen again
    order_placed(db, None, "ord_anon", "10.00")  # anonymous: nobody's attributes
    drain(db)
    row = attrs(db, zoe)
    assert row is not None
    assert (row.frequency, row.spent_minor, row.currency) == (2, 20050, "EUR")
    assert row.channels == ["pos", "web"]
    assert row.last_purchase_at == clock.now()
    assert (row.r_score, row.f_score, row.m_score) == (5, 2, 2)

    emit_raw(
        db,
        "orders.order.status_changed",
        {"order_id": "ord_1", "customer_id": zoe, "previous": "placed", "status": "cancelled"},
    )
    emit_raw(
        db,
        "returns.return.received",
        {"return_id": "ret_1", "order_id": "ord_2", "profile_id": zoe, "channel": "pos",
         "refund_minor": 3050, "currency": "EUR"},
    )  # fmt: skip
    drain(db)
    row = attrs(db, zoe)
    assert row is not None
    assert (row.frequency, row.spent_minor, row.refunded_minor, row.return_count) == (
        1,
        8050,
        3050,
        1,
    )
    changes = event_data(db, "customers.attributes.changed")
    assert [c["cause"] for c in changes] == ["purchase", "purchase", "cancellation", "return"]
    assert changes[-1]["monetary"] == {"amount": "50.00", "currency": "EUR"}
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(PurchaseLedgerRow)) == 3


def test_imported_history_counts_once_and_a_different_retry_is_a_conflict(
    db: Database, clock: FrozenClock
) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    fact = attributes.PurchaseInput(
        kind="purchase",
        ref="pos:LYON-3-000123",
        channel="pos",
        occurred_at=clock.now() - timedelta(days=400),
        amount=Money.of("35.00", "EUR"),
        store_id="loc_lyon",
    )
    with db.uow() as uow:
        assert attributes.record_purchase(uow, zoe, fact, cause="import").created
    with db.uow() as uow:
        assert not attributes.record_purchase(uow, zoe, fact, cause="import").created
    changed = attributes.PurchaseInput(
        kind="purchase",
        ref=fact.ref,
        channel="pos",
        occurred_at=fact.occurred_at,
        amount=Money.of("36.00", "EUR"),
    )
    with pytest.raises(Conflict) as info, db.uow() as uow:
        attributes.record_purchase(uow, zoe, changed, cause="import")
    assert info.value.code == "purchase-already-recorded"
    row = attrs(db, zoe)
    assert row is not None
    assert (row.frequency, row.spent_minor, row.r_score) == (1, 3500, 1)
    future = attributes.PurchaseInput(
        kind="purchase", ref="pos:X", channel="pos", occurred_at=clock.now() + timedelta(days=1)
    )
    with pytest.raises(InvalidInput), db.uow() as uow:
        attributes.record_purchase(uow, zoe, future, cause="import")


def test_given_two_buyers_merged_then_the_survivor_holds_both_histories(
    db: Database, clock: FrozenClock
) -> None:
    web = identify(db, ("email", "zoe@example.fr"))
    clock.advance(minutes=1)
    till = identify(db, ("phone", "0612345678"), channel="pos")
    order_placed(db, web, "ord_w", "100.00")
    order_placed(db, till, "ord_t", "250.00", channel="pos", store_id="loc_lyon")
    with db.uow() as uow:
        segments.define_segment(uow, name="Two purchases", rule=LOYAL_AND_RECENT)
        segments.define_segment(
            uow, name="Buyers", rule={"attr": "frequency", "op": ">=", "value": 1}
        )
    drain(db)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SegmentMemberRow)) == 2

    merged = identify(db, ("email", "zoe@example.fr"), ("phone", "0612345678"))
    assert merged == web
    drain(db)
    survivor = attrs(db, web)
    assert survivor is not None
    assert (survivor.frequency, survivor.spent_minor, survivor.channels) == (
        2,
        35000,
        ["pos", "web"],
    )
    assert attrs(db, till) is None
    with db.read() as session:
        members = session.execute(
            select(SegmentRow.name, SegmentMemberRow.profile_id)
            .join(SegmentMemberRow, SegmentMemberRow.segment_id == SegmentRow.id)
            .order_by(SegmentRow.name)
        ).all()
        counts = dict(session.execute(select(SegmentRow.name, SegmentRow.member_count)).all())
    assert [tuple(m) for m in members] == [("Buyers", web), ("Two purchases", web)]
    assert counts == {"Buyers": 1, "Two purchases": 1}
    left = event_data(db, "customers.segment.left")
    assert [(e["profile_id"], e["cause"]) for e in left] == [(till, "merged")]


# --- segments ------------------------------------------------------------------------------------


def test_a_new_segment_is_computed_for_everyone_then_kept_up_to_date_by_events_and_time(
    db: Database, clock: FrozenClock
) -> None:
    loyal = identify(db, ("email", "loyal@example.fr"))
    once = identify(db, ("email", "once@example.fr"))
    never = identify(db, ("email", "never@example.fr"))
    order_placed(db, loyal, "ord_1", "20.00")
    order_placed(db, loyal, "ord_2", "20.00")
    order_placed(db, once, "ord_3", "20.00")
    drain(db)
    with db.uow() as uow:
        seg, result = segments.define_segment(uow, name="Loyal and recent", rule=LOYAL_AND_RECENT)
        prospects, _ = segments.define_segment(
            uow, name="Prospects", rule={"attr": "frequency", "op": "=", "value": 0}
        )
    assert (result.entered, result.left, result.members) == (1, 0, 1)
    with db.read() as session:
        rows, cursor = segments.members_page(session, seg.id, cursor=None, limit=10)
        assert ([r.profile_id for r in rows], cursor) == ([loyal], None)
        rows, _ = segments.members_page(session, prospects.id, cursor=None, limit=10)
        assert [r.profile_id for r in rows] == [never]
    # a second purchase: she enters; a brand-new profile joins the prospects
    clock.advance(days=10)
    order_placed(db, once, "ord_4", "20.00", channel="app")
    newcomer = identify(db, ("email", "new@example.fr"))
    drain(db)
    entered = [(e["segment_id"], e["profile_id"], e["cause"]) for e in event_data(
        db, "customers.segment.entered")]  # fmt: skip
    assert (seg.id, loyal, "segment-created") in entered
    assert (seg.id, once, "purchase") in entered
    assert (prospects.id, newcomer, "created") in entered
    # 91 days after her last purchase, the loyal customer lapses: the review moves her out (the
    # other buyer is reviewed too: her recency score dropped on day 31)
    clock.advance(days=81)
    with db.uow() as uow:
        assert attributes.review_due(uow) == 2
    with db.uow() as uow:
        assert attributes.review_due(uow) == 0
    left = event_data(db, "customers.segment.left")
    assert [(e["segment_id"], e["profile_id"], e["cause"]) for e in left] == [
        (seg.id, loyal, "review")
    ]
    with db.read() as session:
        assert session.get(SegmentRow, seg.id).member_count == 1  # type: ignore[union-attr]
    # the rule changes: everyone is evaluated again
    with db.uow() as uow:
        _, again = segments.redefine_segment(
            uow, seg.id, rule={"attr": "frequency", "op": ">=", "value": 2}
        )
    assert (again.entered, again.left, again.members) == (1, 0, 2)
    with pytest.raises(Conflict), db.uow() as uow:
        segments.define_segment(uow, name="Prospects", rule=LOYAL_AND_RECENT)
    with pytest.raises(InvalidInput), db.uow() as uow:
        segments.define_segment(uow, name="Bad", rule={"attr": "age", "op": ">", "value": 1})


# --- personal data -------------------------------------------------------------------------------


def test_export_and_erasure_cover_timeline_attributes_segments_and_tickets(
    db: Database, clock: FrozenClock
) -> None:
    zoe = identify(db, ("email", "zoe.secret@example.fr"))
    other = identify(db, ("email", "other@example.fr"))
    with db.uow() as uow:
        timeline.record_activities(
            uow,
            zoe,
            [
                ActivityInput(
                    kind=TimelineKind.SEARCH,
                    action="searched",
                    channel="web",
                    payload={"query": "robe zoe-secret-query"},
                )
            ],
        )
        desk.open_ticket(
            uow,
            subject="Zoe secret subject",
            description="my address is 3 secret street",
            channel=TicketChannel.EMAIL,
            source_channel="web",
            customer_id=zoe,
        )
        segments.define_segment(
            uow, name="Buyers", rule={"attr": "frequency", "op": ">=", "value": 1}
        )
    order_placed(db, zoe, "ord_1", "10.00")
    order_placed(db, other, "ord_2", "10.00")
    drain(db)
    with db.read() as session:
        exported = personal_data.export(session, zoe)
    assert {e["kind"] for e in exported["timeline"]} >= {"search", "order", "ticket"}
    assert exported["attributes"]["rfm"][0]["frequency"] == 1
    assert exported["attributes"]["purchases"][0]["ref"] == "ord_1"
    assert exported["attributes"]["segments"][0]["name"] == "Buyers"
    assert exported["tickets"][0]["subject"] == "Zoe secret subject"

    with db.uow() as uow:
        report = personal_data.erase(uow, zoe, reason="request", channel="admin")
    assert report.details["timeline"] >= 3
    assert report.details["tickets"] == 1
    drain(db)  # late events about her write nothing new
    secrets = ("zoe-secret-query", "zoe secret subject", "secret street", "zoe.secret@")
    with db.read() as session:
        for table in (TimelineEntryRow, PurchaseLedgerRow, CustomerAttributesRow, SegmentMemberRow):
            assert (
                session.scalar(
                    select(func.count()).select_from(table).where(table.profile_id == zoe)
                )
                == 0
            ), table.__tablename__
        dumped = [
            str(tuple(r)).lower()
            for t in (TimelineEntryRow, OutboxEventRow)
            for r in session.execute(select(t.__table__))
        ]
        from omnicanal.service_desk.tables import TicketRow

        ticket = session.scalars(select(TicketRow)).one()
        assert (ticket.subject, ticket.description, ticket.status) == ("[erased]", None, "open")
        buyers = session.scalars(select(SegmentRow)).one()
        assert buyers.member_count == 1  # the other customer stays
    assert not [d for d in dumped for s in secrets if s in d]
    with pytest.raises(Gone), db.read() as session:
        timeline.timeline_page(session, zoe)


def test_given_purchases_racing_a_segment_definition_then_no_member_is_left_out(
    db: Database, clock: FrozenClock
) -> None:
    """The definition evaluates everyone while purchases keep arriving on other threads: at the
    end the members are exactly the buyers (an advisory lock on PostgreSQL, BEGIN IMMEDIATE on
    SQLite)."""
    import threading

    people = [identify(db, ("email", f"p{n}@example.fr")) for n in range(60)]
    with db.uow() as uow:  # a crowd of non-buyers makes the definition take a while
        uow.session.add_all(
            CustomerProfileRow(
                id=new_id("cus"),
                status="active",
                attributes={},
                created_channel="web",
                created_at=uow.now(),
                updated_at=uow.now(),
                last_seen_at=uow.now(),
            )
            for _ in range(3000)
        )
    errors: list[BaseException] = []
    start = threading.Barrier(4)

    def buy(chunk: list[str]) -> None:
        start.wait()
        for n, pid in enumerate(chunk):
            fact = attributes.PurchaseInput(
                kind="purchase",
                ref=f"pos:{pid}",
                channel="pos",
                occurred_at=clock.now(),
                amount=Money.of(f"{10 + n}.00", "EUR"),
            )
            try:
                with db.uow() as uow:
                    attributes.record_purchase(uow, pid, fact, cause="import")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

    def define() -> None:
        start.wait()
        try:
            with db.uow() as uow:
                segments.define_segment(
                    uow, name="Buyers", rule={"attr": "frequency", "op": ">=", "value": 1}
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=buy, args=(people[i::3],)) for i in range(3)]
    threads.append(threading.Thread(target=define))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.read() as session:
        members = set(session.scalars(select(SegmentMemberRow.profile_id)))
        count = session.scalars(select(SegmentRow.member_count)).one()
    assert members == set(people)
    assert count == len(people)
