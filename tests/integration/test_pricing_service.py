"""Pricing against the real database: a basket resolved in a bounded number of queries,
overrides created, approved and ended, the audit and its idempotent flags, price history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update

from omnicanal.catalog.service import set_price
from omnicanal.events.tables import OutboxEventRow
from omnicanal.locations.tables import LocationRow
from omnicanal.pricing import audit, service, views
from omnicanal.pricing.model import Justification, PriceScope, Reason
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database
from tests.inventory_factories import make_location, make_skus

CLEARANCE = Justification(reason=Reason.CLEARANCE, owner="Merchandising", note="end of season")
COMPETITION = Justification(reason=Reason.LOCAL_COMPETITION, owner="Ajaccio store manager")


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


@pytest.fixture
def shop(db: Database) -> dict[str, str]:
    skus = make_skus(db, "RUN2-42", "RUN2-43", "SOCK-1")
    with db.uow() as uow:
        for sku, minor in zip(skus, (8990, 8990, 1290), strict=True):
            set_price(uow, sku=sku, price=eur(minor))
    ajaccio = make_location(db, "AJA-CENTRE")
    paris = make_location(db, "PAR-RIVOLI")
    with db.uow() as uow:
        uow.session.execute(
            update(LocationRow).where(LocationRow.id == ajaccio).values(territory="FR-COR")
        )
    return {"ajaccio": ajaccio, "paris": paris}


@contextmanager
def count_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_basket_resolves_in_at_most_three_queries_whatever_its_size(
    db: Database, shop: dict[str, str], clock: FrozenClock
) -> None:
    with db.uow() as uow:
        service.create_override(
            uow,
            sku="RUN2-42",
            price=eur(7990),
            scope=PriceScope(territory="FR-COR"),
            justification=COMPETITION,
        )
        service.create_override(
            uow,
            sku="SOCK-1",
            price=eur(990),
            scope=PriceScope(store_id=shop["ajaccio"], channel="pos"),
            justification=CLEARANCE,
            valid_until=clock.now() + timedelta(days=7),
        )
    with db.read() as session, count_queries(db) as statements:
        quotes = service.resolve_prices(
            session,
            ["RUN2-42", "RUN2-43", "SOCK-1"],
            currency="EUR",
            channel="pos",
            store_id=shop["ajaccio"],
            at=clock.now(),
        )
    assert len(statements) <= 3  # the store's territory, base prices, overrides
    assert {sku: q.price.minor for sku, q in quotes.items()} == {
        "RUN2-42": 7990,  # the store's territory applies
        "RUN2-43": 8990,
        "SOCK-1": 990,
    }
    sock = quotes["SOCK-1"].override
    assert sock is not None
    assert sock.reason is Reason.CLEARANCE
    with db.read() as session:
        web = service.resolve_prices(
            session, ["RUN2-42", "SOCK-1"], currency="EUR", channel="web", at=clock.now()
        )
    assert {sku: q.price.minor for sku, q in web.items()} == {"RUN2-42": 8990, "SOCK-1": 1290}


def test_a_sku_without_base_price_in_the_currency_is_named(
    db: Database, shop: dict[str, str], clock: FrozenClock
) -> None:
    with db.read() as session, pytest.raises(NotFound) as err:
        service.resolve_prices(session, ["RUN2-42"], currency="CHF", channel="web", at=clock.now())
    assert err.value.extensions["skus"] == ["RUN2-42"]
    with db.uow() as uow, pytest.raises(InvalidInput) as refused:
        service.create_override(
            uow,
            sku="RUN2-42",
            price=Money(7000, "CHF"),
            scope=PriceScope(channel="web"),
            justification=COMPETITION,
        )
    assert refused.value.field == "currency"


def test_an_episodic_override_must_end_and_ending_one_restores_the_base_price(
    db: Database, shop: dict[str, str], clock: FrozenClock
) -> None:
    with db.uow() as uow, pytest.raises(InvalidInput) as err:
        service.create_override(
            uow,
            sku="RUN2-42",
            price=eur(5990),
            scope=PriceScope(channel="web"),
            justification=CLEARANCE,
        )
    assert err.value.field == "valid_until"
    with db.uow() as uow:
        row = service.create_override(
            uow,
            sku="RUN2-42",
            price=eur(5990),
            scope=PriceScope(channel="web"),
            justification=CLEARANCE,
            valid_until=clock.now() + timedelta(days=30),
        )
        override_id = row.id
    clock.advance(days=1)
    with db.uow() as uow:
        service.update_override(uow, override_id, changes={"valid_until": clock.now()})
    with db.read() as session:
        quote = service.resolve_price(
            session, "RUN2-42", currency="EUR", channel="web", at=clock.now()
        )
        assert quote.price == eur(8990)
        assert quote.override is None
        entries, _ = views.price_history(session, "RUN2-42")
    assert [e.type for e in entries] == [
        "catalog.price.changed",
        "pricing.override.created",
        "pricing.override.changed",
    ]
    assert entries[-1].data["changed"] == ["valid_until"]


def test_the_audit_flags_an_unjustified_difference_once_until_it_changes_or_clears(
    db: Database, shop: dict[str, str], clock: FrozenClock
) -> None:
    with db.uow() as uow:
        justified = service.create_override(
            uow,
            sku="RUN2-42",
            price=eur(7990),
            scope=PriceScope(store_id=shop["ajaccio"]),
            justification=COMPETITION,
        ).id
        legacy = service.import_override(
            uow,
            sku="RUN2-43",
            price=eur(9490),
            scope=PriceScope(channel="marketplace"),
            note="from the old PIM",
        ).id
    with db.read() as session:
        report = audit.audit(session, at=clock.now())
    assert [(e.sku, len(e.differences)) for e in report.entries] == [
        ("RUN2-42", 1),
        ("RUN2-43", 1),
    ]
    store_difference = report.entries[0].differences[0]
    assert store_difference.justified
    assert store_difference.override is not None
    assert store_difference.override.id == justified
    assert store_difference.territory == "FR-COR"
    assert [d.override.id for d in report.unjustified if d.override] == [legacy]

    def unjustified_events() -> list[OutboxEventRow]:
        with db.read() as session:
            return list(
                session.scalars(
                    select(OutboxEventRow)
                    .where(OutboxEventRow.type.like("pricing.difference.%"))
                    .order_by(OutboxEventRow.seq)
                )
            )

    with db.uow() as uow:
        first = audit.run_audit(uow)
    assert (first.unjustified, first.flagged, first.cleared) == (1, 1, 0)
    with db.uow() as uow:
        again = audit.run_audit(uow)
    assert (again.flagged, again.cleared) == (0, 0)
    assert [e.type for e in unjustified_events()] == ["pricing.difference.unjustified"]

    clock.advance(minutes=5)
    with db.uow() as uow:
        service.update_override(uow, legacy, changes={"amount": eur(9590)})
    with db.uow() as uow:
        changed = audit.run_audit(uow)
    assert changed.flagged == 1

    with db.uow() as uow:  # approving it gives it a justification
        service.update_override(
            uow, legacy, changes={"reason": "marketplace_fee", "owner": "Marketplace team"}
        )
    with db.uow() as uow:
        approved = audit.run_audit(uow)
    assert (approved.unjustified, approved.flagged, approved.cleared) == (0, 0, 1)
    kinds = [e.type for e in unjustified_events()]
    assert kinds == [
        "pricing.difference.unjustified",
        "pricing.difference.unjustified",
        "pricing.difference.cleared",
    ]
    assert unjustified_events()[0].data["override_id"] == legacy


def test_a_till_charging_another_price_without_a_rule_is_caught(
    db: Database, shop: dict[str, str], clock: FrozenClock
) -> None:
    with db.uow() as uow:
        service.record_observation(
            uow, sku="SOCK-1", price=eur(1290), channel="pos", store_id=shop["paris"]
        )
        service.record_observation(
            uow, sku="SOCK-1", price=eur(1190), channel="pos", store_id=shop["ajaccio"]
        )
    with db.read() as session:
        report = audit.audit(session, at=clock.now())
    [entry] = report.entries
    [difference] = entry.differences
    assert difference.store_id == shop["ajaccio"]
    assert (difference.price, difference.expected) == (eur(1190), eur(1290))
    assert not difference.justified
    # the till reports the right price again: the difference is gone
    clock.advance(minutes=1)
    with db.uow() as uow:
        service.record_observation(
            uow, sku="SOCK-1", price=eur(1290), channel="pos", store_id=shop["ajaccio"]
        )
    with db.read() as session:
        assert audit.audit(session, at=clock.now()).entries == []
    # an observation older than the current base price says nothing of today
    with db.uow() as uow:
        service.record_observation(
            uow, sku="RUN2-43", price=eur(100), channel="web", observed_at=clock.now()
        )
    clock.advance(minutes=1)
    with db.uow() as uow:
        set_price(uow, sku="RUN2-43", price=eur(9290))
    with db.read() as session:
        assert audit.audit(session, at=clock.now()).entries == []


def test_the_audit_pages_by_sku(db: Database, shop: dict[str, str], clock: FrozenClock) -> None:
    with db.uow() as uow:
        for sku in ("RUN2-42", "RUN2-43", "SOCK-1"):
            service.create_override(
                uow,
                sku=sku,
                price=eur(100),
                scope=PriceScope(channel="app"),
                justification=COMPETITION,
            )
    seen: list[str] = []
    cursor: str | None = None
    with db.read() as session:
        while True:
            page = audit.audit(session, at=clock.now(), cursor=cursor, limit=2)
            seen += [e.sku for e in page.entries]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ["RUN2-42", "RUN2-43", "SOCK-1"]
