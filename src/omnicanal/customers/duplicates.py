"""Probable duplicates: scan the live profiles, queue the pairs for review, accept or reject.

A scan scores in a read session (the matcher may run for seconds on a large base and must not
hold the write lock meanwhile), then records its pairs in one short write transaction:

- a new pair enters the queue as ``open`` (event ``customers.duplicate.found``);
- an ``open`` pair found again gets its new weights; one not found again leaves the queue (the
  queue is the latest scan's view);
- a ``rejected`` pair is never reopened, also once either side was merged into another profile:
  a rejection is about two people, whatever ids they carry now.

Accepting merges the two profiles with ``service.merge_profiles`` (oldest survives, lineage row,
``customers.profile.merged``); rejecting records who said no.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers import service
from omnicanal.customers.duplicate_tables import DuplicateCandidateRow
from omnicanal.customers.matching import (
    DEFAULT_THRESHOLD,
    SEED,
    MatchRecord,
    MatchRun,
    ScoredPair,
    find_probable_duplicates,
)
from omnicanal.customers.tables import CustomerIdentifierRow, CustomerProfileRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

Status = Literal["open", "accepted", "rejected"]
STATUSES: tuple[Status, ...] = ("open", "accepted", "rejected")
MATCHED_IDENTIFIERS = ("email", "phone", "loyalty_card")
MIN_THRESHOLD = 0.5  # below it the queue fills with pairs more likely two people than one

# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------


def live_match_records(session: Session) -> list[MatchRecord]:
    """Every active profile (neither merged nor erased) as the matcher sees it: names and
    attributes, and per identifier kind the one seen last (a typo in an email or a card number
    is a clue; an equal one never is, ``identify`` already merged those)."""
    attrs: dict[str, dict[str, Any]] = {}
    for profile_id, data in session.execute(
        select(CustomerProfileRow.id, CustomerProfileRow.attributes)
        .where(CustomerProfileRow.status == "active")
        .order_by(CustomerProfileRow.id)
    ):
        attrs[profile_id] = {name: value.get("value") for name, value in (data or {}).items()}
    latest: dict[tuple[str, str], str] = {}
    for profile_id, kind, value in session.execute(
        select(
            CustomerIdentifierRow.profile_id,
            CustomerIdentifierRow.kind,
            CustomerIdentifierRow.value,
        )
        .join(CustomerProfileRow, CustomerProfileRow.id == CustomerIdentifierRow.profile_id)
        .where(
            CustomerProfileRow.status == "active",
            CustomerIdentifierRow.kind.in_(MATCHED_IDENTIFIERS),
        )
        .order_by(CustomerIdentifierRow.last_seen, CustomerIdentifierRow.value)
    ):
        latest[(profile_id, kind)] = value  # ordered by last_seen: the last one stays
    return [
        MatchRecord(
            id=profile_id,
            given_name=values.get("given_name"),
            family_name=values.get("family_name"),
            birth_date=values.get("birth_date"),
            postal_code=values.get("postal_code"),
            city=values.get("city"),
            email=latest.get((profile_id, "email")),
            phone=latest.get((profile_id, "phone")),
            loyalty_card=latest.get((profile_id, "loyalty_card")),
        )
        for profile_id, values in attrs.items()
    ]


def check_threshold(threshold: float) -> float:
    if not MIN_THRESHOLD <= threshold < 1:
        raise InvalidInput(
            f"threshold is the match probability from which a pair is queued: between "
            f"{MIN_THRESHOLD} and 1 (excluded); the default is {DEFAULT_THRESHOLD}.",
            field="threshold",
        )
    return threshold


def score_live_profiles(
    session: Session, *, threshold: float = DEFAULT_THRESHOLD, seed: int = SEED
) -> MatchRun:
    """Runs the matcher over the live profiles; reads only."""
    check_threshold(threshold)
    return find_probable_duplicates(live_match_records(session), threshold=threshold, seed=seed)


@dataclass(slots=True)
class ScanReport:
    profiles: int
    fields: list[str]
    trained: bool
    threshold: float
    seconds: float
    found: int = 0  # pairs at or above the threshold
    opened: int = 0  # new in the queue
    rescored: int = 0  # already open, weights refreshed
    still_rejected: int = 0  # found again, but a reviewer said no: stays rejected
    withdrawn: int = 0  # open before, not found again (or a side is no longer live)
    opened_ids: list[str] = field(default_factory=list)


def _pair_key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def _survivors(session: Session, ids: set[str]) -> dict[str, str]:
    """Where each id lives now: itself, or the profile it was merged into (one hop: merges
    re-point older absorbed profiles to the latest survivor)."""
    out = {i: i for i in ids}
    for profile_id, merged_into in session.execute(
        select(CustomerProfileRow.id, CustomerProfileRow.merged_into).where(
            CustomerProfileRow.id.in_(sorted(ids)), CustomerProfileRow.merged_into.is_not(None)
        )
    ):
        if merged_into is not None:
            out[profile_id] = merged_into
    return out


def _explanation(pair: ScoredPair) -> list[dict[str, Any]]:
    return [
        {"field": a.field, "level": a.level, "match_weight": a.match_weight}
        for a in pair.agreements
    ]


def record_scan(uow: UnitOfWork, run: MatchRun) -> ScanReport:
    """Writes a scan's pairs into the review queue (see the module's docstring)."""
    session = uow.session
    now = uow.now()
    report = ScanReport(
        profiles=run.records,
        fields=list(run.fields),
        trained=run.trained,
        threshold=run.threshold,
        seconds=run.seconds,
        found=len(run.pairs),
    )
    ids = {i for p in run.pairs for i in (p.left_id, p.right_id)}
    live = set(
        session.scalars(
            select(CustomerProfileRow.id).where(
                CustomerProfileRow.id.in_(sorted(ids)), CustomerProfileRow.status == "active"
            )
        )
    )
    rows = list(
        session.scalars(
            select(DuplicateCandidateRow)
            .where(DuplicateCandidateRow.status.in_(("open", "rejected")))
            .order_by(DuplicateCandidateRow.id)
        )
    )
    rejected = [r for r in rows if r.status == "rejected"]
    now_at = _survivors(session, {i for r in rejected for i in (r.left_id, r.right_id)})
    refused = {_pair_key(now_at[r.left_id], now_at[r.right_id]) for r in rejected}
    open_rows = {(r.left_id, r.right_id): r for r in rows if r.status == "open"}
    seen: set[tuple[str, str]] = set()
    for pair in run.pairs:
        key = (pair.left_id, pair.right_id)
        if pair.left_id not in live or pair.right_id not in live:
            continue  # merged or erased since the scan read it
        if key in refused:
            report.still_rejected += 1
            continue
        seen.add(key)
        row = open_rows.get(key)
        if row is not None:
            row.match_weight = pair.match_weight
            row.match_probability = pair.match_probability
            row.explanation = _explanation(pair)
            row.scored_at = now
            report.rescored += 1
            continue
        row = DuplicateCandidateRow(
            id=new_id("dup"),
            left_id=pair.left_id,
            right_id=pair.right_id,
            match_weight=pair.match_weight,
            match_probability=pair.match_probability,
            explanation=_explanation(pair),
            status="open",
            found_at=now,
            scored_at=now,
        )
        session.add(row)
        report.opened += 1
        report.opened_ids.append(row.id)
        uow.emit(
            ev.DuplicateFound(
                candidate_id=row.id,
                left_id=row.left_id,
                right_id=row.right_id,
                match_weight=row.match_weight,
                match_probability=row.match_probability,
            )
        )
    stale = [row.id for key, row in open_rows.items() if key not in seen]
    if stale:
        session.execute(delete(DuplicateCandidateRow).where(DuplicateCandidateRow.id.in_(stale)))
    report.withdrawn = len(stale)
    session.flush()
    return report


def scan_for_duplicates(
    db: Database, *, threshold: float = DEFAULT_THRESHOLD, seed: int = SEED
) -> ScanReport:
    """Scores the live profiles in a read session, then records the pairs in one short write
    transaction (so the matcher never holds the write lock)."""
    with db.read() as session:
        run = score_live_profiles(session, threshold=threshold, seed=seed)
    with db.uow() as uow:
        return record_scan(uow, run)


# ---------------------------------------------------------------------------------------------
# Review
# ---------------------------------------------------------------------------------------------


def _not_found(candidate_id: str) -> NotFound:
    return NotFound(
        f"No duplicate candidate {candidate_id}; list them with GET /v1/customers/duplicates.",
        code="duplicate-candidate-not-found",
        field="candidate_id",
        candidate_id=candidate_id,
    )


def get_candidate(
    session: Session, candidate_id: str, *, lock: bool = False
) -> DuplicateCandidateRow:
    stmt = select(DuplicateCandidateRow).where(DuplicateCandidateRow.id == candidate_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalars(stmt).first()
    if row is None:
        raise _not_found(candidate_id)
    return row


def _decided(row: DuplicateCandidateRow, wanted: Status) -> bool:
    """True when the same decision was already taken (a retry); Conflict for the other one."""
    if row.status == wanted:
        return True
    if row.status != "open":
        raise Conflict(
            f"Candidate {row.id} was already {row.status} by {row.decided_by} at "
            f"{row.decided_at.isoformat() if row.decided_at else '?'}; a decision is final.",
            code="duplicate-already-decided",
            candidate_id=row.id,
            status=row.status,
        )
    return False


def _decide(
    uow: UnitOfWork,
    row: DuplicateCandidateRow,
    status: Status,
    *,
    decided_by: str,
    channel: str,
    note: str | None,
) -> None:
    row.status = status
    row.decided_by = decided_by
    row.decided_channel = channel
    row.decided_at = uow.now()
    row.note = note


@dataclass(frozen=True, slots=True)
class Acceptance:
    candidate: DuplicateCandidateRow
    merge: service.MergeOutcome | None  # None when the two were already one profile


def accept(
    uow: UnitOfWork,
    candidate_id: str,
    *,
    decided_by: str,
    channel: str,
    note: str | None = None,
) -> Acceptance:
    """The two profiles are one person: merge them (the oldest survives) with lineage naming
    this candidate. A side merged since the scan counts as its survivor; an erased side is 410."""
    session = uow.session
    row = get_candidate(session, candidate_id, lock=True)
    if _decided(row, "accepted"):
        return Acceptance(row, None)
    left = service.resolve_live(session, row.left_id)
    right = service.resolve_live(session, row.right_id)
    merge: service.MergeOutcome | None = None
    survivor_id = left.id
    if left.id != right.id:
        merge = service.merge_profiles(
            uow,
            [left.id, right.id],
            caused_by=[
                {
                    "kind": "probable_duplicate",
                    "candidate_id": row.id,
                    "profile_ids": [row.left_id, row.right_id],
                    "match_weight": row.match_weight,
                    "match_probability": row.match_probability,
                    "decided_by": decided_by,
                }
            ],
            channel=channel,
            source_ref=f"duplicate:{row.id}",
        )
        survivor_id = merge.survivor_id
        row.merge_id = merge.merge_id
    _decide(uow, row, "accepted", decided_by=decided_by, channel=channel, note=note)
    uow.emit(
        ev.DuplicateAccepted(
            candidate_id=row.id,
            left_id=row.left_id,
            right_id=row.right_id,
            merge_id=row.merge_id,
            survivor_id=survivor_id,
            decided_by=decided_by,
        )
    )
    session.flush()
    return Acceptance(row, merge)


def reject(
    uow: UnitOfWork,
    candidate_id: str,
    *,
    decided_by: str,
    channel: str,
    note: str | None = None,
) -> DuplicateCandidateRow:
    """The two profiles are two people: the pair leaves the queue for good."""
    row = get_candidate(uow.session, candidate_id, lock=True)
    if _decided(row, "rejected"):
        return row
    _decide(uow, row, "rejected", decided_by=decided_by, channel=channel, note=note)
    uow.emit(
        ev.DuplicateRejected(
            candidate_id=row.id, left_id=row.left_id, right_id=row.right_id, decided_by=decided_by
        )
    )
    uow.session.flush()
    return row


# ---------------------------------------------------------------------------------------------
# Read side
# ---------------------------------------------------------------------------------------------


def parse_status(value: str) -> Status:
    for status in STATUSES:
        if value == status:
            return status
    raise InvalidInput(
        f"Unknown status '{value}'; use one of {', '.join(STATUSES)}.", field="status"
    )


def list_candidates(
    session: Session,
    *,
    status: Status = "open",
    customer_id: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[DuplicateCandidateRow], str | None]:
    """The queue, strongest first (match weight descending, then id); keyset-paginated."""
    check_limit(limit)
    stmt = select(DuplicateCandidateRow).where(DuplicateCandidateRow.status == status)
    if customer_id is not None:
        stmt = stmt.where(
            or_(
                DuplicateCandidateRow.left_id == customer_id,
                DuplicateCandidateRow.right_id == customer_id,
            )
        )
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2 or not isinstance(values[0], int | float):
            decode_cursor("!")  # the same actionable error as a garbled cursor
        weight, last_id = float(values[0]), str(values[1])
        stmt = stmt.where(
            or_(
                DuplicateCandidateRow.match_weight < weight,
                and_(
                    DuplicateCandidateRow.match_weight == weight,
                    DuplicateCandidateRow.id > last_id,
                ),
            )
        )
    stmt = stmt.order_by(DuplicateCandidateRow.match_weight.desc(), DuplicateCandidateRow.id)
    rows = list(session.scalars(stmt.limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode_cursor([rows[-1].match_weight, rows[-1].id])


def profiles_by_id(session: Session, ids: Sequence[str]) -> dict[str, CustomerProfileRow]:
    return {
        p.id: p
        for p in session.scalars(
            select(CustomerProfileRow).where(CustomerProfileRow.id.in_(sorted(set(ids))))
        )
    }
