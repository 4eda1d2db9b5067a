"""identify against the real database: create, link, merge with lineage, races, consents."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from omnicanal.customers import service
from omnicanal.customers.model import (
    ConsentStatus,
    Identifier,
    LegalBasis,
    Purpose,
    normalise_identifiers,
)
from omnicanal.customers.tables import (
    CustomerConsentHistoryRow,
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerMergeRow,
    CustomerProfileRow,
    IdentityMetricRow,
)
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Gone, InvalidInput, NotFound
from omnicanal.storage.database import Database


def ids(*pairs: tuple[str, str]) -> list[Identifier]:
    return normalise_identifiers(list(pairs))


def identify(db: Database, *pairs: tuple[str, str], channel: str = "web", **kw: object) -> str:
    with db.uow() as uow:
        return service.identify(uow, identifiers=ids(*pairs), channel=channel, **kw).profile_id  # type: ignore[arg-type]


def event_types(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(OutboxEventRow.type).order_by(OutboxEventRow.seq)))


def test_first_identify_creates_then_matches_then_links(db: Database) -> None:
    with db.uow() as uow:
        first = service.identify(
            uow, identifiers=ids(("email", "Zoe@Example.fr")), channel="web", source_ref="o-1"
        )
    assert first.outcome == "created"
    with db.uow() as uow:
        again = service.identify(uow, identifiers=ids(("email", "zoe@example.fr")), channel="app")
    assert (again.outcome, again.profile_id) == ("matched", first.profile_id)
    with db.uow() as uow:
        linked = service.identify(
            uow,
            identifiers=ids(("email", "zoe@example.fr"), ("cookie", "ck-1")),
            channel="web",
        )
    assert (linked.outcome, linked.profile_id) == ("linked", first.profile_id)
    assert [li.kind for li in linked.linked] == ["cookie"]
    assert event_types(db) == [
        "customers.profile.created",
        "customers.identifier.linked",
        "customers.identifier.linked",
    ]
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CustomerProfileRow)) == 1
        assert s.scalar(select(func.count()).select_from(IdentityMetricRow)) == 3


def test_merge_keeps_the_oldest_moves_identifiers_and_consents_with_lineage(
    db: Database, clock: FrozenClock
) -> None:
    till = identify(db, ("phone", "0612345678"), channel="pos", attributes={"city": "Lyon"})
    with db.uow() as uow:
        service.set_consent(
            uow, till, purpose=Purpose.SMS, status=ConsentStatus.GRANTED, source_channel="pos"
        )
    clock.advance(hours=1)
    web = identify(
        db,
        ("email", "zoe@example.fr"),
        channel="web",
        attributes={"city": "Paris", "given_name": "Zozo"},
    )
    with db.uow() as uow:
        service.set_consent(
            uow, web, purpose=Purpose.SMS, status=ConsentStatus.WITHDRAWN, source_channel="web"
        )
        service.set_consent(
            uow,
            web,
            purpose=Purpose.MARKETING_EMAIL,
            status=ConsentStatus.GRANTED,
            source_channel="web",
        )
    clock.advance(hours=1)
    with db.uow() as uow:
        result = service.identify(
            uow,
            identifiers=ids(("email", "zoe@example.fr"), ("phone", "+33612345678")),
            channel="app",
            source_ref="app:session:42",
        )
    assert result.outcome == "merged"
    assert result.profile_id == till  # the oldest survives
    assert result.absorbed_ids == [web]
    with db.read() as s:
        absorbed = s.get(CustomerProfileRow, web)
        assert absorbed is not None
        assert (absorbed.status, absorbed.merged_into) == ("merged", till)
        assert absorbed.attributes == {}
        assert absorbed.given_name is None
        survivor = s.get(CustomerProfileRow, till)
        assert survivor is not None
        assert survivor.attributes["city"]["value"] == "Paris"  # most recent wins
        assert survivor.given_name == "Zozo"
        owners = set(s.scalars(select(CustomerIdentifierRow.profile_id)))
        assert owners == {till}
        consents = {c.purpose: c for c in s.scalars(select(CustomerConsentRow))}
        assert {c.profile_id for c in consents.values()} == {till}
        assert consents["sms"].status == "withdrawn"  # the later will of the two
        assert consents["marketing_email"].status == "granted"
        merge = s.scalars(select(CustomerMergeRow)).one()
        assert merge.survivor_id == till
        assert merge.absorbed_ids == [web]
        assert merge.source_channel == "app"
        assert merge.source_ref == "app:session:42"
        assert sorted((c["kind"], c["profile_id"]) for c in merge.caused_by) == [
            ("email", web),
            ("phone", till),
        ]
        merged_event = s.scalars(
            select(OutboxEventRow).where(OutboxEventRow.type == "customers.profile.merged")
        ).one()
        assert merged_event.subject == till
        assert merged_event.data["absorbed_ids"] == [web]
        # the absorbed profile's id still works everywhere
        assert service.resolve(s, web).id == till
        decision = service.may_contact(s, web, Purpose.SMS, "pos", clock.now())
        assert (decision.allowed, decision.reason) == (False, "withdrawn-everywhere")


def test_chained_merges_compress_to_the_final_survivor(db: Database, clock: FrozenClock) -> None:
    a = identify(db, ("phone", "0611111111"))
    clock.advance(seconds=1)
    b = identify(db, ("email", "b@example.fr"))
    clock.advance(seconds=1)
    c = identify(db, ("cookie", "ck-c"))
    identify(db, ("email", "b@example.fr"), ("cookie", "ck-c"))  # b absorbs c
    identify(db, ("email", "b@example.fr"), ("phone", "0611111111"))  # a absorbs b (and c)
    with db.read() as s:
        for pid in (b, c):
            row = s.get(CustomerProfileRow, pid)
            assert row is not None
            assert row.merged_into == a
        assert service.resolve(s, c).id == a
        assert s.scalar(select(func.count()).select_from(CustomerMergeRow)) == 2


def test_two_concurrent_identify_calls_never_share_an_identifier(db: Database) -> None:
    """Threads race on overlapping identifiers; they must end on one profile, no duplicates."""
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []
    shared = ("email", "race@example.fr")

    def worker(i: int) -> None:
        try:
            barrier.wait()
            pairs = [shared, ("cookie", f"ck-{i}")]
            if i % 2:
                pairs.append(("phone", "0699999999"))
            identify(db, *pairs, channel="web")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with db.read() as s:
        owners = set(s.scalars(select(CustomerIdentifierRow.profile_id)))
        assert len(owners) == 1
        active = s.scalars(
            select(CustomerProfileRow).where(CustomerProfileRow.status == "active")
        ).all()
        assert [p.id for p in active] == list(owners)
        assert s.scalar(select(func.count()).select_from(CustomerIdentifierRow)) == threads_n + 2
        assert s.scalar(select(func.count()).select_from(IdentityMetricRow)) == threads_n


def test_concurrent_calls_that_bridge_two_profiles_merge_them_once(db: Database) -> None:
    left = identify(db, ("email", "left@example.fr"))
    right = identify(db, ("phone", "0688888888"))
    threads_n = 6
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            barrier.wait()
            identify(db, ("email", "left@example.fr"), ("phone", "0688888888"), ("cookie", f"k{i}"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CustomerMergeRow)) == 1
        assert set(s.scalars(select(CustomerIdentifierRow.profile_id))) == {left}
        row = s.get(CustomerProfileRow, right)
        assert row is not None
        assert row.merged_into == left


def test_global_withdrawal_cascades_to_scoped_grants_with_history(
    db: Database, clock: FrozenClock
) -> None:
    pid = identify(db, ("email", "c@example.fr"))
    with db.uow() as uow:
        for scope in ("web", "pos"):
            service.set_consent(
                uow,
                pid,
                purpose=Purpose.MARKETING_EMAIL,
                status=ConsentStatus.GRANTED,
                scope=scope,
                source_channel=scope,
            )
    clock.advance(minutes=5)
    with db.uow() as uow:
        change = service.set_consent(
            uow,
            pid,
            purpose=Purpose.MARKETING_EMAIL,
            status=ConsentStatus.WITHDRAWN,
            source_channel="email",
            source_ref="unsubscribe-link",
        )
    assert len(change.cascaded) == 2
    with db.read() as s:
        statuses = set(
            s.scalars(select(CustomerConsentRow.status).where(CustomerConsentRow.profile_id == pid))
        )
        assert statuses == {"withdrawn"}
        notes = list(s.scalars(select(CustomerConsentHistoryRow.note)))
        assert notes.count("global withdrawn via email") == 2
        for channel in ("web", "pos", "app"):
            assert not service.may_contact(s, pid, Purpose.MARKETING_EMAIL, channel, clock.now())
            d = service.may_contact(s, pid, Purpose.MARKETING_EMAIL, channel, clock.now())
            assert d.reason == "withdrawn-everywhere"


def test_an_older_capture_arriving_late_is_kept_in_history_but_not_applied(
    db: Database, clock: FrozenClock
) -> None:
    pid = identify(db, ("email", "late@example.fr"))
    with db.uow() as uow:
        service.set_consent(
            uow, pid, purpose=Purpose.SMS, status=ConsentStatus.WITHDRAWN, source_channel="sms"
        )
    with db.uow() as uow:  # an offline till syncs a grant captured yesterday
        change = service.set_consent(
            uow,
            pid,
            purpose=Purpose.SMS,
            status=ConsentStatus.GRANTED,
            source_channel="pos",
            captured_at=clock.now() - timedelta(days=1),
        )
    assert not change.applied
    assert change.consent.status == "withdrawn"
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CustomerConsentHistoryRow)) == 2


def test_bad_consent_input_and_unknown_or_erased_customers(db: Database) -> None:
    pid = identify(db, ("email", "bad@example.fr"))
    with pytest.raises(InvalidInput) as err, db.uow() as uow:
        service.set_consent(
            uow, pid, purpose=Purpose.SMS, status=ConsentStatus.GRANTED, source_channel="fax"
        )
    assert err.value.field == "source_channel"
    with pytest.raises(InvalidInput) as err, db.uow() as uow:
        service.set_consent(
            uow,
            pid,
            purpose=Purpose.SMS,
            status=ConsentStatus.GRANTED,
            source_channel="web",
            scope="mars",
        )
    assert err.value.field == "scope"
    with pytest.raises(NotFound), db.uow() as uow:
        service.set_consent(
            uow,
            "cus_NOPE",
            purpose=Purpose.SMS,
            status=ConsentStatus.GRANTED,
            source_channel="web",
            legal_basis=LegalBasis.CONSENT,
        )
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(CustomerConsentRow)) == 0
    from omnicanal.customers.personal_data import erase

    with db.uow() as uow:
        erase(uow, pid, reason="test", channel="admin")
    with pytest.raises(Gone), db.uow() as uow:
        service.update_profile(uow, pid, set_values={"city": "Nice"}, channel="web")
