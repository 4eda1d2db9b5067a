"""Probable duplicates against the real database: scan, accept (merge with lineage), reject
(remembered), and only live profiles ever compared."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from omnicanal.customers import duplicates, personal_data, service
from omnicanal.customers.duplicate_tables import DuplicateCandidateRow
from omnicanal.customers.model import normalise_identifiers
from omnicanal.customers.tables import (
    CustomerIdentifierRow,
    CustomerMergeRow,
    CustomerProfileRow,
)
from omnicanal.events.tables import OutboxEventRow
from omnicanal.shared.clock import FrozenClock
from omnicanal.shared.errors import Conflict, Gone, NotFound
from omnicanal.storage.database import Database

ZOE = {"given_name": "Zoé", "family_name": "Martin", "birth_date": "1990-04-12"}
ZOE_AT_THE_TILL = {"given_name": "Zoe", "family_name": "Matrin", "birth_date": "1990-04-12"}


def identify(db: Database, kind: str, value: str, channel: str = "web", **attributes: str) -> str:
    with db.uow() as uow:
        return service.identify(
            uow,
            identifiers=normalise_identifiers([(kind, value)]),
            channel=channel,
            attributes=attributes,
        ).profile_id


def given_zoe_twice_and_others(db: Database, clock: FrozenClock) -> tuple[str, str]:
    """Zoé online (email) and, later, at a till in Lyon (phone, a typo in her name); and
    three other people."""
    web = identify(db, "email", "zoe.martin@example.fr", city="Lyon", postal_code="69003", **ZOE)
    clock.advance(days=3)
    till = identify(
        db, "phone", "06 12 34 56 78", "pos", city="Lyon", postal_code="69003", **ZOE_AT_THE_TILL
    )
    identify(db, "email", "paul@example.fr", given_name="Paul", family_name="Durand")
    identify(db, "email", "lea@example.fr", given_name="Léa", family_name="Bernard", city="Lyon")
    identify(
        db, "email", "zoe.m@example.fr", given_name="Zoé", family_name="Martin",
        birth_date="2001-08-30", city="Marseille",
    )  # fmt: skip
    return web, till


def queue(db: Database, status: duplicates.Status = "open") -> list[DuplicateCandidateRow]:
    with db.read() as s:
        rows, _ = duplicates.list_candidates(s, status=status, cursor=None, limit=200)
    return rows


def events(db: Database, prefix: str) -> list[OutboxEventRow]:
    with db.read() as s:
        return list(
            s.scalars(
                select(OutboxEventRow)
                .where(OutboxEventRow.type.like(f"{prefix}%"))
                .order_by(OutboxEventRow.seq)
            )
        )


def test_a_scan_queues_the_probable_pair_with_its_reasons(db: Database, clock: FrozenClock) -> None:
    web, till = given_zoe_twice_and_others(db, clock)
    report = duplicates.scan_for_duplicates(db)
    assert (report.profiles, report.found, report.opened) == (5, 1, 1)
    assert not report.trained
    [row] = queue(db)
    assert (row.left_id, row.right_id) == tuple(sorted((web, till)))
    assert row.status == "open"
    assert row.match_probability >= 0.9
    assert row.found_at == clock.now()
    levels = {e["field"]: e["level"] for e in row.explanation}
    assert levels["given_name"] == "exact"
    assert levels["birth_date"] == "exact"
    assert levels["family_name"] != "different"
    assert levels["email"] == "missing"  # only one of the two has an email
    # ids, levels and weights only: the queue holds no personal value
    assert "Martin" not in str(row.explanation)
    assert "zoe" not in str(row.explanation)
    [found] = events(db, "customers.duplicate.")
    assert found.type == "customers.duplicate.found"
    assert found.data["candidate_id"] == row.id

    # a second scan refreshes the same pair, it does not queue it twice
    clock.advance(hours=1)
    again = duplicates.scan_for_duplicates(db)
    assert (again.opened, again.rescored, again.withdrawn) == (0, 1, 0)
    [same] = queue(db)
    assert same.id == row.id
    assert same.scored_at == clock.now()
    assert len(events(db, "customers.duplicate.")) == 1


def test_accepting_merges_with_lineage_naming_the_candidate(
    db: Database, clock: FrozenClock
) -> None:
    web, till = given_zoe_twice_and_others(db, clock)
    duplicates.scan_for_duplicates(db)
    [row] = queue(db)
    clock.advance(hours=2)
    with db.uow() as uow:
        accepted = duplicates.accept(
            uow, row.id, decided_by="key_REVIEWER", channel="admin", note="same card holder"
        )
    assert accepted.merge is not None
    assert accepted.merge.survivor_id == web  # the oldest survives, as in identify
    assert accepted.merge.absorbed_ids == [till]
    with db.read() as s:
        decided = s.get(DuplicateCandidateRow, row.id)
        assert decided is not None
        assert (decided.status, decided.decided_by, decided.decided_channel) == (
            "accepted",
            "key_REVIEWER",
            "admin",
        )
        assert decided.decided_at == clock.now()
        assert decided.merge_id == accepted.merge.merge_id
        absorbed = s.get(CustomerProfileRow, till)
        assert absorbed is not None
        assert (absorbed.status, absorbed.merged_into) == ("merged", web)
        owners = {
            i.kind: i.profile_id
            for i in s.scalars(
                select(CustomerIdentifierRow).where(
                    CustomerIdentifierRow.value.in_(["zoe.martin@example.fr", "+33612345678"])
                )
            )
        }
        assert owners == {"email": web, "phone": web}
        merge = s.get(CustomerMergeRow, accepted.merge.merge_id)
        assert merge is not None
        assert (merge.survivor_id, merge.absorbed_ids) == (web, [till])
        assert merge.source_ref == f"duplicate:{row.id}"
        [cause] = merge.caused_by
        assert cause["kind"] == "probable_duplicate"
        assert cause["candidate_id"] == row.id
        assert cause["decided_by"] == "key_REVIEWER"
        assert service.resolve(s, till).id == web
    types = [e.type for e in events(db, "customers.")]
    assert types[-2:] == ["customers.profile.merged", "customers.duplicate.accepted"]
    assert events(db, "customers.profile.merged")[-1].data["absorbed_ids"] == [till]

    # a retry answers the same; the contrary decision is refused
    with db.uow() as uow:
        retry = duplicates.accept(uow, row.id, decided_by="key_REVIEWER", channel="admin")
    assert retry.merge is None
    assert retry.candidate.status == "accepted"
    with pytest.raises(Conflict, match="already accepted"), db.uow() as uow:
        duplicates.reject(uow, row.id, decided_by="key_OTHER", channel="admin")
    # the merged profile is no longer compared: the queue stays empty
    report = duplicates.scan_for_duplicates(db)
    assert (report.profiles, report.found) == (4, 0)
    assert queue(db) == []


def test_a_rejection_is_remembered_across_scans_and_merges(
    db: Database, clock: FrozenClock
) -> None:
    card_holder = identify(db, "loyalty_card", "FID-0001", "pos")  # older than everybody
    clock.advance(days=1)
    _web, till = given_zoe_twice_and_others(db, clock)
    duplicates.scan_for_duplicates(db)
    [row] = queue(db)
    with db.uow() as uow:
        duplicates.reject(uow, row.id, decided_by="key_REVIEWER", channel="callcenter")
    assert queue(db) == []
    assert [r.id for r in queue(db, "rejected")] == [row.id]
    assert events(db, "customers.duplicate.")[-1].type == "customers.duplicate.rejected"

    report = duplicates.scan_for_duplicates(db)
    assert (report.found, report.opened, report.still_rejected) == (1, 0, 1)
    assert queue(db) == []

    # the till profile is merged (identity graph) into the older card holder's: the pair is
    # now (web, card holder), and the reviewer's "no" still holds for it
    clock.advance(days=1)
    with db.uow() as uow:
        merged = service.identify(
            uow,
            identifiers=normalise_identifiers(
                [("phone", "0612345678"), ("loyalty_card", "FID-0001")]
            ),
            channel="pos",
        )
    assert merged.profile_id == card_holder
    assert merged.absorbed_ids == [till]
    report = duplicates.scan_for_duplicates(db)
    assert (report.found, report.still_rejected, report.opened) == (1, 1, 0)
    assert queue(db) == []
    # a retry of the same decision is harmless; accepting now is refused
    with db.uow() as uow:
        duplicates.reject(uow, row.id, decided_by="key_REVIEWER", channel="callcenter")
    with pytest.raises(Conflict, match="already rejected"), db.uow() as uow:
        duplicates.accept(uow, row.id, decided_by="key_REVIEWER", channel="admin")


def test_erased_and_merged_profiles_are_never_candidates(db: Database, clock: FrozenClock) -> None:
    _web, till = given_zoe_twice_and_others(db, clock)
    duplicates.scan_for_duplicates(db)
    [row] = queue(db)
    with db.uow() as uow:
        personal_data.erase(uow, till, reason="asked", channel="admin")
    # a decision on a pair whose side is gone is refused, and changes nothing
    with pytest.raises(Gone), db.uow() as uow:
        duplicates.accept(uow, row.id, decided_by="key_REVIEWER", channel="admin")
    report = duplicates.scan_for_duplicates(db)
    assert report.profiles == 4  # the tombstone is not compared
    assert (report.found, report.withdrawn) == (0, 1)
    assert queue(db) == []

    # a profile merged by the identity graph is not compared either, only its survivor
    clock.advance(days=1)
    again = identify(
        db, "phone", "07 81 22 33 44", "pos", city="Lyon", postal_code="69003", **ZOE_AT_THE_TILL
    )
    with db.uow() as uow:
        service.identify(
            uow,
            identifiers=normalise_identifiers(
                [("email", "zoe.martin@example.fr"), ("phone", "0781223344")]
            ),
            channel="web",
        )
    with db.read() as s:
        records = duplicates.live_match_records(s)
    assert again not in {r.id for r in records}
    assert till not in {r.id for r in records}
    assert duplicates.scan_for_duplicates(db).found == 0


def test_the_queue_lists_strongest_first_page_by_page(db: Database, clock: FrozenClock) -> None:
    for i, (family, typo) in enumerate(
        [("Martin", "Matrin"), ("Bernard", "Bernrad"), ("Durand", "Durant")]
    ):
        for name in (family, typo):
            identify(
                db, "email", f"{name.lower()}{i}@example.fr", given_name="Camille",
                family_name=name, birth_date=f"198{i}-0{i + 1}-1{i}", postal_code=f"7500{i}",
            )  # fmt: skip
            clock.advance(minutes=1)
    assert duplicates.scan_for_duplicates(db).opened == 3
    with db.read() as s:
        first, cursor = duplicates.list_candidates(s, cursor=None, limit=2)
        assert cursor is not None
        rest, end = duplicates.list_candidates(s, cursor=cursor, limit=2)
        assert end is None
    weights = [r.match_weight for r in [*first, *rest]]
    assert len(weights) == 3
    assert weights == sorted(weights, reverse=True)
    with db.read() as s:
        [one] = duplicates.list_candidates(s, customer_id=first[0].right_id, cursor=None, limit=10)[
            0
        ]
    assert one.id == first[0].id


def test_unknown_candidate(db: Database) -> None:
    with pytest.raises(NotFound), db.uow() as uow:
        duplicates.accept(uow, "dup_NOPE", decided_by="key_X", channel="admin")
