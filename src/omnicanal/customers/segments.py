"""Segment definitions: create or change a rule, evaluate it against every profile, list
members. Per-profile re-evaluation as attributes change lives in ``attributes.refresh_profile``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers.activity_tables import (
    CustomerAttributesRow,
    SegmentMemberRow,
    SegmentRow,
)
from omnicanal.customers.attributes import (
    active_segments,
    lock_segments,
    state_of,
)
from omnicanal.customers.segments_model import (
    Rule,
    evaluate,
    facts,
    membership_changes,
    next_review,
    parse_rule,
    rfm_scores,
    rule_to_json,
    time_boundaries,
)
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.paging import keyset_page
from omnicanal.storage.uow import UnitOfWork

_BATCH = 1000


@dataclass(frozen=True, slots=True)
class Recomputed:
    entered: int
    left: int
    members: int


def _check_name(session: Session, name: str, *, except_id: str | None = None) -> str:
    clean = name.strip()
    if not 1 <= len(clean) <= 100:
        raise InvalidInput("A segment name has 1 to 100 characters.", field="name")
    found = session.scalars(select(SegmentRow).where(SegmentRow.name == clean)).first()
    if found is not None and found.id != except_id:
        raise Conflict(
            f"A segment named '{clean}' already exists ({found.id}); choose another name or "
            f"change that one with PUT /v1/segments/{found.id}.",
            code="segment-name-taken",
            field="name",
            segment_id=found.id,
        )
    return clean


def get_segment(session: Session, segment_id: str) -> SegmentRow:
    row = session.get(SegmentRow, segment_id)
    if row is None:
        raise NotFound(
            f"No segment {segment_id}; list them with GET /v1/segments.",
            code="segment-not-found",
            field="segment_id",
            segment_id=segment_id,
        )
    return row


def recompute(uow: UnitOfWork, segment: SegmentRow, rule: Rule, *, cause: str) -> Recomputed:
    """Evaluates ``rule`` against every active profile, in batches; members enter and leave
    with one event each. Also brings every profile's next review forward to the new rule's
    recency thresholds."""
    session = uow.session
    now = uow.now()
    others = [r for seg, r in active_segments(session) if seg.id != segment.id]
    boundaries = time_boundaries([*others, rule])
    matching: set[str] = set()
    after = ""
    while True:
        batch = session.execute(
            select(CustomerProfileRow.id, CustomerAttributesRow)
            .outerjoin(
                CustomerAttributesRow, CustomerAttributesRow.profile_id == CustomerProfileRow.id
            )
            .where(CustomerProfileRow.status == "active", CustomerProfileRow.id > after)
            .order_by(CustomerProfileRow.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            break
        for profile_id, attrs in batch:
            state = state_of(attrs)
            if evaluate(rule, facts(state, now=now)):
                matching.add(profile_id)
            if attrs is not None:
                scores = rfm_scores(state, now=now)
                attrs.r_score, attrs.f_score = scores.recency, scores.frequency
                attrs.m_score = scores.monetary
                attrs.next_review_at = next_review(
                    state.last_purchase_at, now=now, boundaries=boundaries
                )
        session.flush()
        after = batch[-1][0]
    current = set(
        session.scalars(
            select(SegmentMemberRow.profile_id).where(SegmentMemberRow.segment_id == segment.id)
        )
    )
    entered, left = membership_changes(current, matching)
    for start in range(0, len(left), _BATCH):
        chunk = left[start : start + _BATCH]
        session.execute(
            delete(SegmentMemberRow).where(
                SegmentMemberRow.segment_id == segment.id, SegmentMemberRow.profile_id.in_(chunk)
            )
        )
    for profile_id in left:
        uow.emit(ev.SegmentLeft(segment_id=segment.id, profile_id=profile_id, cause=cause))
    for profile_id in entered:
        session.add(SegmentMemberRow(segment_id=segment.id, profile_id=profile_id, entered_at=now))
        uow.emit(ev.SegmentEntered(segment_id=segment.id, profile_id=profile_id, cause=cause))
    segment.member_count = len(matching)
    segment.computed_at = now
    session.flush()
    return Recomputed(entered=len(entered), left=len(left), members=len(matching))


def define_segment(
    uow: UnitOfWork,
    *,
    name: str,
    rule: Mapping[str, Any],
    description: str | None = None,
    created_by: str | None = None,
) -> tuple[SegmentRow, Recomputed]:
    """A new segment, evaluated at once against every profile."""
    parsed = parse_rule(rule)
    session = uow.session
    lock_segments(session, exclusive=True)
    now = uow.now()
    row = SegmentRow(
        id=new_id("seg"),
        name=_check_name(session, name),
        description=description,
        rule=rule_to_json(parsed),
        member_count=0,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        computed_at=now,
    )
    session.add(row)
    session.flush()
    result = recompute(uow, row, parsed, cause="segment-created")
    uow.emit(
        ev.SegmentDefined(
            segment_id=row.id,
            name=row.name,
            rule=row.rule,
            member_count=row.member_count,
            change="created",
        )
    )
    return row, result


def redefine_segment(
    uow: UnitOfWork,
    segment_id: str,
    *,
    name: str | None = None,
    rule: Mapping[str, Any] | None = None,
    description: str | None = None,
) -> tuple[SegmentRow, Recomputed]:
    """Renames, re-describes or changes the rule of a segment; a new rule is evaluated against
    every profile at once (members leave and enter with events)."""
    parsed = parse_rule(rule) if rule is not None else None
    session = uow.session
    lock_segments(session, exclusive=True)
    row = get_segment(session, segment_id)
    if name is not None:
        row.name = _check_name(session, name, except_id=row.id)
    if description is not None:
        row.description = description
    result = Recomputed(entered=0, left=0, members=row.member_count)
    if parsed is not None:
        row.rule = rule_to_json(parsed)
        result = recompute(uow, row, parsed, cause="segment-updated")
    row.updated_at = uow.now()
    session.flush()
    uow.emit(
        ev.SegmentDefined(
            segment_id=row.id,
            name=row.name,
            rule=row.rule,
            member_count=row.member_count,
            change="updated",
        )
    )
    return row, result


def list_segments(
    session: Session, *, cursor: str | None, limit: int
) -> tuple[list[SegmentRow], str | None]:
    return keyset_page(
        session, select(SegmentRow), order_by=[SegmentRow.id], cursor=cursor, limit=limit
    )


def members_page(
    session: Session, segment_id: str, *, cursor: str | None, limit: int
) -> tuple[list[SegmentMemberRow], str | None]:
    get_segment(session, segment_id)
    stmt = select(SegmentMemberRow).where(SegmentMemberRow.segment_id == segment_id)
    return keyset_page(
        session, stmt, order_by=[SegmentMemberRow.profile_id], cursor=cursor, limit=limit
    )
