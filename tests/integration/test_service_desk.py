"""Service desk against the real database: tickets linked to profiles by id, email or phone;
the status lifecycle with CSAT; priority from customer value and age; merges followed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from omnicanal.customers import attributes, personal_data, service
from omnicanal.customers.model import Identifier, normalise_identifiers
from omnicanal.customers.tables import CustomerIdentifierRow
from omnicanal.events.dispatch import drain
from omnicanal.events.tables import OutboxEventRow
from omnicanal.service_desk import service as desk
from omnicanal.service_desk import views
from omnicanal.service_desk.model import Priority, TicketChannel, TicketStatus
from omnicanal.service_desk.tables import TicketRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, Gone, InvalidInput, NotFound
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database

S = TicketStatus


def ids(*pairs: tuple[str, str]) -> list[Identifier]:
    return normalise_identifiers(list(pairs))


def identify(db: Database, *pairs: tuple[str, str], channel: str = "web") -> str:
    with db.uow() as uow:
        return service.identify(uow, identifiers=ids(*pairs), channel=channel).profile_id


def open_ticket(db: Database, **kw: Any) -> TicketRow:
    kw.setdefault("subject", "Parcel never arrived")
    kw.setdefault("channel", TicketChannel.EMAIL)
    kw.setdefault("source_channel", "callcenter")
    with db.uow() as uow:
        return desk.open_ticket(uow, **kw)


def move(db: Database, ticket_id: str, status: TicketStatus, **kw: Any) -> TicketRow:
    with db.uow() as uow:
        return desk.change_status(uow, ticket_id, status=status, source_channel="callcenter", **kw)


def rate(db: Database, ticket_id: str, score: int, comment: str | None = None) -> TicketRow:
    with db.uow() as uow:
        return desk.record_csat(uow, ticket_id, score=score, comment=comment, source_channel="web")


def make_vip(db: Database, profile_id: str, clock: FrozenClock) -> None:
    """Ten recent purchases of 300 EUR: R5 F5 M5."""
    for n in range(10):
        fact = attributes.PurchaseInput(
            kind="purchase",
            ref=f"pos:T-{n}",
            channel="pos",
            occurred_at=clock.now() - timedelta(days=n),
            amount=Money.of("300.00", "EUR"),
        )
        with db.uow() as uow:
            attributes.record_purchase(uow, profile_id, fact, cause="import")


def types(db: Database, prefix: str) -> list[str]:
    with db.read() as session:
        return list(
            session.scalars(
                select(OutboxEventRow.type)
                .where(OutboxEventRow.type.like(f"{prefix}%"))
                .order_by(OutboxEventRow.seq)
            )
        )


def test_a_ticket_from_an_unknown_email_creates_the_profile_and_a_known_phone_links_to_it(
    db: Database,
) -> None:
    first = open_ticket(db, identifiers=ids(("email", "Zoe@Example.fr")))
    with db.read() as session:
        owner = session.scalars(
            select(CustomerIdentifierRow.profile_id).where(
                CustomerIdentifierRow.value == "zoe@example.fr"
            )
        ).one()
    assert first.profile_id == owner
    till = identify(db, ("phone", "0612345678"), channel="pos")
    second = open_ticket(
        db, identifiers=ids(("phone", "06 12 34 56 78")), channel=TicketChannel.PHONE
    )
    assert second.profile_id == till
    # email and phone together: the two profiles are one person (merged, with lineage)
    third = open_ticket(db, identifiers=ids(("email", "zoe@example.fr"), ("phone", "0612345678")))
    assert third.profile_id == first.profile_id  # the older profile survives
    drain(db)
    with db.read() as session:
        assert session.get(TicketRow, second.id).profile_id == first.profile_id  # type: ignore[union-attr]
        rows, _ = views.list_tickets(
            session, views.TicketFilter(customer_id=till), cursor=None, limit=10
        )
    assert [r.id for r in rows] == [first.id, second.id, third.id]


def test_who_the_ticket_is_for_must_be_clear(db: Database) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    with pytest.raises(InvalidInput, match="not both"):
        open_ticket(db, customer_id=zoe, identifiers=ids(("email", "zoe@example.fr")))
    with pytest.raises(InvalidInput, match="Say who"):
        open_ticket(db)
    with pytest.raises(InvalidInput) as info:
        open_ticket(db, customer_id=zoe, channel=TicketChannel.STORE)
    assert info.value.field == "store_id"
    with pytest.raises(InvalidInput) as info:
        open_ticket(db, customer_id=zoe, subject="   ")
    assert info.value.field == "subject"
    with pytest.raises(NotFound):
        open_ticket(db, customer_id="cus_unknown")
    with db.uow() as uow:
        personal_data.erase(uow, zoe, reason="request", channel="admin")
    with pytest.raises(Gone):
        open_ticket(db, customer_id=zoe)
    with db.read() as session:
        assert session.scalars(select(TicketRow)).all() == []


def test_the_lifecycle_with_csat_once_per_resolution_and_reopening(
    db: Database, clock: FrozenClock
) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    ticket = open_ticket(db, customer_id=zoe, order_id="ord_1")
    with pytest.raises(Conflict, match="once it is resolved"):
        rate(db, ticket.id, 5)
    with pytest.raises(Conflict) as info:
        move(db, ticket.id, S.CLOSED)
    assert info.value.code == "ticket-transition-not-allowed"
    move(db, ticket.id, S.PENDING, note="asked the carrier")
    move(db, ticket.id, S.OPEN)
    clock.advance(hours=2)
    resolved = move(db, ticket.id, S.RESOLVED)
    assert (resolved.resolved_at, resolved.resolution_count) == (clock.now(), 1)
    rated = rate(db, ticket.id, 2, "slow")
    assert (rated.csat_score, rated.csat_comment, rated.csat_resolution) == (2, "slow", 1)
    with pytest.raises(Conflict, match="already rated"):
        rate(db, ticket.id, 5)
    move(db, ticket.id, S.CLOSED)
    clock.advance(days=1)
    reopened = move(db, ticket.id, S.OPEN)
    assert (reopened.reopen_count, reopened.cycle_opened_at) == (1, clock.now())
    assert (reopened.resolved_at, reopened.closed_at) == (None, None)
    move(db, ticket.id, S.RESOLVED)
    again = rate(db, ticket.id, 5)
    assert (again.csat_score, again.csat_resolution, again.resolution_count) == (5, 2, 2)
    assert types(db, "tickets.") == [
        "tickets.ticket.opened",
        "tickets.ticket.status_changed",
        "tickets.ticket.status_changed",
        "tickets.ticket.status_changed",
        "tickets.csat.recorded",
        "tickets.ticket.status_changed",
        "tickets.ticket.status_changed",
        "tickets.ticket.status_changed",
        "tickets.csat.recorded",
    ]
    with db.read() as session:
        reopen_event = session.scalars(
            select(OutboxEventRow.data)
            .where(OutboxEventRow.type == "tickets.ticket.status_changed")
            .order_by(OutboxEventRow.seq)
        ).all()[4]
    assert (reopen_event["from_status"], reopen_event["reopened"]) == ("closed", True)
    with pytest.raises(NotFound):
        move(db, "tkt_nope", S.PENDING)


def test_priority_follows_customer_value_and_the_age_of_the_ticket(
    db: Database, clock: FrozenClock
) -> None:
    vip = identify(db, ("email", "vip@example.fr"))
    make_vip(db, vip, clock)
    nobody = identify(db, ("email", "new@example.fr"))
    vip_ticket = open_ticket(db, customer_id=vip)
    new_ticket = open_ticket(db, customer_id=nobody)
    assert (vip_ticket.priority, vip_ticket.value_points) == ("high", 7)
    assert (new_ticket.priority, new_ticket.value_points) == ("low", 0)
    assert vip_ticket.priority_review_at == clock.now() + timedelta(hours=4)

    clock.advance(hours=4)
    with db.uow() as uow:
        assert desk.reprioritise_due(uow) == 2
    with db.read() as session:
        assert session.get(TicketRow, vip_ticket.id).priority == "urgent"  # type: ignore[union-attr]
        urgent, _ = views.list_tickets(
            session, views.TicketFilter(priority=[Priority.URGENT]), cursor=None, limit=10
        )
    assert [t.id for t in urgent] == [vip_ticket.id]

    # the newcomer buys a lot: her open ticket climbs through the attributes event
    fact = attributes.PurchaseInput(
        kind="purchase",
        ref="web:W-1",
        channel="web",
        occurred_at=clock.now(),
        amount=Money.of("2500.00", "EUR"),
    )
    with db.uow() as uow:
        attributes.record_purchase(uow, nobody, fact, cause="import")
    drain(db)
    with db.read() as session:
        climbed = session.get(TicketRow, new_ticket.id)
    assert climbed is not None
    assert (climbed.priority, climbed.value_points) == ("high", 6)
    with db.read() as session:
        reasons = session.scalars(
            select(OutboxEventRow.data).where(OutboxEventRow.type == "tickets.ticket.reprioritised")
        ).all()
    assert [(r["ticket_id"], r["cause"]) for r in reasons] == [
        (vip_ticket.id, "age"),
        (new_ticket.id, "customer-value"),
    ]
    # a resolved ticket stops climbing
    move(db, vip_ticket.id, S.RESOLVED)
    with db.read() as session:
        assert session.get(TicketRow, vip_ticket.id).priority_review_at is None  # type: ignore[union-attr]


def test_a_customer_quoting_a_ticket_id_with_their_email_or_phone(db: Database) -> None:
    ticket = open_ticket(db, identifiers=ids(("email", "zoe@example.fr"), ("phone", "0612345678")))
    identify(db, ("email", "other@example.fr"))
    with db.read() as session:
        found = views.find_by_contact(session, ticket.id, ids(("email", "ZOE@example.fr")))
        assert found.id == ticket.id
        both = ids(("email", "zoe@example.fr"), ("phone", "+33612345678"))
        assert views.find_by_contact(session, ticket.id, both).id == ticket.id
        for wrong in (("email", "other@example.fr"), ("email", "unknown@example.fr")):
            with pytest.raises(NotFound):
                views.find_by_contact(session, ticket.id, ids(wrong))


def test_the_queue_filters_and_pages(db: Database) -> None:
    zoe = identify(db, ("email", "zoe@example.fr"))
    made = [
        open_ticket(db, customer_id=zoe, channel=TicketChannel.CHAT),
        open_ticket(db, customer_id=zoe, channel=TicketChannel.STORE, store_id="loc_lyon"),
        open_ticket(db, customer_id=zoe, channel=TicketChannel.PHONE),
    ]
    move(db, made[2].id, S.PENDING)
    with db.read() as session:

        def listed(**kw: Any) -> list[str]:
            rows, _ = views.list_tickets(session, views.TicketFilter(**kw), cursor=None, limit=50)
            return [r.id for r in rows]

        assert listed(status=[S.OPEN]) == [made[0].id, made[1].id]
        assert listed(channel=TicketChannel.STORE) == [made[1].id]
        assert listed(store_id="loc_lyon") == [made[1].id]
        assert listed(status=[S.PENDING], customer_id=zoe) == [made[2].id]
        first, cursor = views.list_tickets(session, views.TicketFilter(), cursor=None, limit=2)
        rest, end = views.list_tickets(session, views.TicketFilter(), cursor=cursor, limit=2)
    assert [t.id for t in [*first, *rest]] == [t.id for t in made]
    assert end is None
