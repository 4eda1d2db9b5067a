"""RFM attributes and segments, kept up to date one event at a time.

Purchases and returns are recorded in a ledger (``customer_purchases``) and folded into each
profile's attributes incrementally (``segments_model.add_purchase``/``add_return``); a
cancellation or a merge rebuilds the profile's attributes from its ledger. Whenever a profile's
attributes change its segment memberships are re-evaluated (``customers.segment.entered`` /
``left``); a new or changed segment is evaluated against every profile. Recency moves with time
alone: ``next_review_at`` is the next day a score or a rule can flip, and ``review_due`` (run
periodically) re-evaluates the profiles that reached it.

Consumed event types (other contexts emit them; payload fields read, all optional unless said):

- ``orders.order.placed`` / ``orders.order.completed``: ``order_id`` (required), ``profile_id``
  (or ``customer_id``; skipped when absent: an anonymous order), ``channel``, ``store_id``,
  ``total`` as ``{"amount": "59.90", "currency": "EUR"}``, or ``total_minor`` + ``currency``
  (or ``total`` as a decimal string + ``currency``),
  ``occurred_at`` (ISO; default: the event's time). Either event counts the order once; the
  later one corrects the amount if it changed.
- ``orders.order.cancelled``, or ``orders.order.status_changed`` with ``status`` "cancelled":
  ``order_id``: the purchase no longer counts.
- ``returns.return.received``: ``return_id`` (required), ``profile_id``, ``order_id``,
  ``channel``, ``store_id``, ``refund`` (or ``refund_minor`` + ``currency``), ``occurred_at``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers import timeline
from omnicanal.customers.activity_tables import (
    CustomerAttributesRow,
    PurchaseLedgerRow,
    SegmentMemberRow,
    SegmentRow,
)
from omnicanal.customers.segments_model import (
    LedgerEntry,
    RfmScores,
    RfmState,
    Rule,
    apply,
    evaluate,
    facts,
    fold,
    membership_changes,
    next_review,
    parse_rule,
    rfm_scores,
    time_boundaries,
)
from omnicanal.customers.service import resolve, resolve_live
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.events.model import StoredEvent, to_jsonable
from omnicanal.shared.errors import Conflict, InvalidInput, NotFound
from omnicanal.shared.money import Money, check_currency
from omnicanal.storage.uow import UnitOfWork

ORDER_PLACED = "orders.order.placed"
ORDER_COMPLETED = "orders.order.completed"
ORDER_CANCELLED = "orders.order.cancelled"
ORDER_STATUS_CHANGED = "orders.order.status_changed"  # status "cancelled" cancels the purchase
RETURN_RECEIVED = "returns.return.received"
ATTRIBUTE_EVENTS = (
    ORDER_PLACED,
    ORDER_COMPLETED,
    ORDER_CANCELLED,
    ORDER_STATUS_CHANGED,
    RETURN_RECEIVED,
    "customers.profile.created",
    "customers.profile.merged",
)
_CLOCK_SKEW = timedelta(minutes=5)
_SEGMENTS_LOCK = 0x73656773  # "segs": a (re)definition excludes concurrent evaluations

Kind = Literal["purchase", "return"]


# ---------------------------------------------------------------------------------------------
# Reading payloads
# ---------------------------------------------------------------------------------------------


def money_from(data: Mapping[str, Any], key: str) -> Money | None:
    """``{key: {"amount": "59.90", "currency": "EUR"}}`` or ``{key_minor: 5990, "currency":
    "EUR"}``; None when neither is given. A float amount is refused, never rounded."""
    value = data.get(key)
    if isinstance(value, Mapping):
        amount, currency = value.get("amount"), value.get("currency")
        if isinstance(amount, str | int) and not isinstance(amount, bool):
            if not isinstance(currency, str):
                raise InvalidInput(f"{key}.currency is missing.", field=f"{key}.currency")
            return Money.of(amount, currency, field=f"{key}.amount")
        raise InvalidInput(
            f'{key}.amount must be a decimal string such as "59.90".', field=f"{key}.amount"
        )
    minor = data.get(f"{key}_minor")
    if isinstance(minor, int) and not isinstance(minor, bool):
        currency = data.get("currency")
        if not isinstance(currency, str):
            raise InvalidInput(f"{key}_minor comes with a currency.", field="currency")
        return Money(minor, check_currency(currency))
    if isinstance(value, str) and isinstance(data.get("currency"), str):
        return Money.of(value, str(data["currency"]), field=key)
    return None


def _text(data: Mapping[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _when(data: Mapping[str, Any], default: datetime) -> datetime:
    raw = data.get("occurred_at")
    if isinstance(raw, str):
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            return default
        if parsed.tzinfo is not None:
            return parsed
    return default


# ---------------------------------------------------------------------------------------------
# State <-> rows
# ---------------------------------------------------------------------------------------------


def state_of(row: CustomerAttributesRow | None) -> RfmState:
    if row is None:
        return RfmState()
    return RfmState(
        frequency=row.frequency,
        first_purchase_at=row.first_purchase_at,
        last_purchase_at=row.last_purchase_at,
        currency=row.currency,
        spent_minor=row.spent_minor,
        refunded_minor=row.refunded_minor,
        return_count=row.return_count,
        channels=tuple(row.channels or ()),
        other_currencies={c: dict(v) for c, v in (row.other_currencies or {}).items()},
    )


def _entry(row: PurchaseLedgerRow) -> LedgerEntry:
    amount = (
        Money(row.amount_minor, row.currency)
        if row.amount_minor is not None and row.currency
        else None
    )
    return LedgerEntry(
        kind=row.kind,
        occurred_at=row.occurred_at,
        channel=row.channel,
        amount=amount,
        cancelled=row.cancelled_at is not None,
    )


def ledger_state(session: Session, profile_id: str) -> RfmState:
    rows = session.scalars(
        select(PurchaseLedgerRow)
        .where(PurchaseLedgerRow.profile_id == profile_id)
        .order_by(PurchaseLedgerRow.seq)
    )
    return fold(_entry(r) for r in rows)


def _attributes_row(session: Session, profile_id: str) -> CustomerAttributesRow | None:
    return session.get(CustomerAttributesRow, profile_id)


def _save_state(
    uow: UnitOfWork, profile_id: str, state: RfmState, *, cause: str
) -> CustomerAttributesRow:
    now = uow.now()
    row = _attributes_row(uow.session, profile_id)
    if row is None:
        row = CustomerAttributesRow(profile_id=profile_id, updated_at=now)
        uow.session.add(row)
    row.frequency = state.frequency
    row.first_purchase_at = state.first_purchase_at
    row.last_purchase_at = state.last_purchase_at
    row.currency = state.currency
    row.spent_minor = state.spent_minor
    row.refunded_minor = state.refunded_minor
    row.return_count = state.return_count
    row.channels = list(state.channels)
    row.other_currencies = {c: dict(v) for c, v in state.other_currencies.items()}
    row.updated_at = now
    _set_scores(row, rfm_scores(state, now=now))
    uow.session.flush()
    uow.emit(_changed_event(profile_id, state, rfm_scores(state, now=now), cause=cause))
    return row


def _set_scores(row: CustomerAttributesRow, scores: RfmScores) -> bool:
    before = (row.r_score, row.f_score, row.m_score)
    row.r_score, row.f_score, row.m_score = scores.recency, scores.frequency, scores.monetary
    return before != (row.r_score, row.f_score, row.m_score)


def _changed_event(
    profile_id: str, state: RfmState, scores: RfmScores, *, cause: str
) -> ev.AttributesChanged:
    monetary = state.monetary
    return ev.AttributesChanged(
        profile_id=profile_id,
        frequency=state.frequency,
        last_purchase_at=state.last_purchase_at.isoformat() if state.last_purchase_at else None,
        monetary=(
            {"amount": str(monetary.amount), "currency": monetary.currency} if monetary else None
        ),
        return_count=state.return_count,
        r_score=scores.recency,
        f_score=scores.frequency,
        m_score=scores.monetary,
        cause=cause,
    )


# ---------------------------------------------------------------------------------------------
# Segments: evaluation of one profile
# ---------------------------------------------------------------------------------------------


def lock_segments(session: Session, *, exclusive: bool) -> None:
    """PostgreSQL: evaluations share a lock a (re)definition takes alone, so a profile updated
    while a segment is being computed is never left out. Writers of attributes take it first,
    before any row lock, so the two never deadlock. SQLite serialises writers anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    session.execute(text(f"SELECT {fn}(:key)"), {"key": _SEGMENTS_LOCK})


def active_segments(session: Session) -> list[tuple[SegmentRow, Rule]]:
    rows = session.scalars(select(SegmentRow).order_by(SegmentRow.id)).all()
    return [(row, parse_rule(row.rule)) for row in rows]


def _members_of_profile(session: Session, profile_id: str) -> dict[str, SegmentMemberRow]:
    rows = session.scalars(
        select(SegmentMemberRow).where(SegmentMemberRow.profile_id == profile_id)
    )
    return {row.segment_id: row for row in rows}


def _enter(uow: UnitOfWork, segment_id: str, profile_id: str, *, cause: str) -> None:
    uow.session.add(
        SegmentMemberRow(segment_id=segment_id, profile_id=profile_id, entered_at=uow.now())
    )
    uow.emit(ev.SegmentEntered(segment_id=segment_id, profile_id=profile_id, cause=cause))


def _leave(uow: UnitOfWork, member: SegmentMemberRow, *, cause: str) -> None:
    uow.session.delete(member)
    uow.emit(
        ev.SegmentLeft(segment_id=member.segment_id, profile_id=member.profile_id, cause=cause)
    )


def _count(session: Session, segment_id: str, delta: int) -> None:
    if delta:
        session.execute(
            update(SegmentRow)
            .where(SegmentRow.id == segment_id)
            .values(member_count=SegmentRow.member_count + delta)
        )


def refresh_profile(uow: UnitOfWork, profile_id: str, *, cause: str) -> tuple[list[str], list[str]]:
    """Re-evaluates every segment for one (live) profile from its stored attributes; updates
    its scores and next review. Returns (entered, left) segment ids."""
    session = uow.session
    lock_segments(session, exclusive=False)
    now = uow.now()
    segments = active_segments(session)
    row = _attributes_row(session, profile_id)
    state = state_of(row)
    values = facts(state, now=now)
    if row is not None:
        _set_scores(row, rfm_scores(state, now=now))
        row.next_review_at = next_review(
            state.last_purchase_at, now=now, boundaries=time_boundaries(r for _, r in segments)
        )
    current = _members_of_profile(session, profile_id)
    matching = [seg.id for seg, rule in segments if evaluate(rule, values)]
    entered, left = membership_changes(current, matching)
    for segment_id in entered:
        _enter(uow, segment_id, profile_id, cause=cause)
        _count(session, segment_id, 1)
    for segment_id in left:
        _leave(uow, current[segment_id], cause=cause)
        _count(session, segment_id, -1)
    session.flush()
    return entered, left


def _drop_memberships(uow: UnitOfWork, profile_ids: Sequence[str], *, cause: str) -> int:
    members = uow.session.scalars(
        select(SegmentMemberRow)
        .where(SegmentMemberRow.profile_id.in_(profile_ids))
        .order_by(SegmentMemberRow.segment_id, SegmentMemberRow.profile_id)
    ).all()
    for member in members:
        _leave(uow, member, cause=cause)
        _count(uow.session, member.segment_id, -1)
    uow.session.flush()
    return len(members)


# ---------------------------------------------------------------------------------------------
# Purchases and returns
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurchaseInput:
    kind: Kind
    ref: str  # an order or return id, or "<channel>:<reference>" for imported history
    channel: str
    occurred_at: datetime
    amount: Money | None = None
    store_id: str | None = None
    order_ref: str | None = None
    source: str = "import"


@dataclass(frozen=True, slots=True)
class Recorded:
    row: PurchaseLedgerRow
    created: bool


def _find(session: Session, kind: str, ref: str) -> PurchaseLedgerRow | None:
    return session.scalars(
        select(PurchaseLedgerRow).where(
            PurchaseLedgerRow.kind == kind, PurchaseLedgerRow.ref == ref
        )
    ).first()


def _same_amount(row: PurchaseLedgerRow, fact: PurchaseInput) -> bool:
    amount = (fact.amount.minor, fact.amount.currency) if fact.amount else (None, None)
    return (row.amount_minor, row.currency) == amount


def _seen_again(uow: UnitOfWork, existing: PurchaseLedgerRow, fact: PurchaseInput) -> Recorded:
    """The same (kind, ref) again: an import retried with the same values changes nothing, with
    other values it is a conflict; an order event seen again (placed, then completed) corrects
    the amount if it changed."""
    if fact.source == "import":
        if _same_amount(existing, fact) and existing.occurred_at == fact.occurred_at:
            return Recorded(existing, created=False)
        raise Conflict(
            f"{fact.kind.capitalize()} {fact.ref} is already recorded with other values; a "
            "correction is a return, or a new reference.",
            code="purchase-already-recorded",
            field="ref",
            ref=fact.ref,
        )
    if fact.amount is None or _same_amount(existing, fact):
        return Recorded(existing, created=False)
    existing.amount_minor = fact.amount.minor
    existing.currency = fact.amount.currency
    uow.session.flush()
    profile_id = existing.profile_id
    _save_state(uow, profile_id, ledger_state(uow.session, profile_id), cause="correction")
    refresh_profile(uow, profile_id, cause="correction")
    return Recorded(existing, created=False)


def _on_timeline(uow: UnitOfWork, row: PurchaseLedgerRow) -> None:
    """Imported history has no order or return events: it goes on the timeline from here."""
    is_return = row.kind == "return"
    payload: dict[str, Any] = {"imported": True}
    if row.amount_minor is not None and row.currency:
        amount = Money(row.amount_minor, row.currency)
        payload["refund" if is_return else "total"] = {
            "amount": str(amount.amount),
            "currency": amount.currency,
        }
    if row.order_ref:
        payload["order_ref"] = row.order_ref
    timeline.record_entry(
        uow,
        timeline.EntryDraft(
            profile_id=row.profile_id,
            kind=timeline.TimelineKind.RETURN if is_return else timeline.TimelineKind.ORDER,
            action="returned" if is_return else "purchased",
            occurred_at=row.occurred_at,
            channel=row.channel,
            store_id=row.store_id,
            ref=row.ref,
            payload=payload,
        ),
        source="import",
    )


def record_purchase(
    uow: UnitOfWork, profile_id: str, fact: PurchaseInput, *, cause: str
) -> Recorded:
    """Counts one purchase or return in the profile's attributes, once per (kind, ref)."""
    session = uow.session
    lock_segments(session, exclusive=False)  # before any row lock: no deadlock with a definition
    profile = resolve_live(session, profile_id, lock=True)
    if fact.occurred_at > uow.now() + _CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future.", field="occurred_at")
    existing = _find(session, fact.kind, fact.ref)
    if existing is not None:
        return _seen_again(uow, existing, fact)
    row = PurchaseLedgerRow(
        profile_id=profile.id,
        kind=fact.kind,
        ref=fact.ref,
        order_ref=fact.order_ref,
        channel=fact.channel,
        store_id=fact.store_id,
        amount_minor=fact.amount.minor if fact.amount else None,
        currency=fact.amount.currency if fact.amount else None,
        occurred_at=fact.occurred_at,
        recorded_at=uow.now(),
        source=fact.source,
    )
    session.add(row)
    session.flush()
    if fact.source == "import":
        _on_timeline(uow, row)
    state = apply(state_of(_attributes_row(session, profile.id)), _entry(row))
    _save_state(uow, profile.id, state, cause=cause)
    refresh_profile(uow, profile.id, cause=cause)
    return Recorded(row, created=True)


def cancel_purchase(uow: UnitOfWork, ref: str) -> bool:
    """An order cancelled: it stops counting (kept in the ledger, marked). False if unknown."""
    row = _find(uow.session, "purchase", ref)
    if row is None or row.cancelled_at is not None:
        return False
    profile = resolve(uow.session, row.profile_id, lock=True)
    if profile.status == "erased":
        return False
    row.cancelled_at = uow.now()
    uow.session.flush()
    _save_state(uow, profile.id, ledger_state(uow.session, profile.id), cause="cancellation")
    refresh_profile(uow, profile.id, cause="cancellation")
    return True


# ---------------------------------------------------------------------------------------------
# The consumer
# ---------------------------------------------------------------------------------------------


def _live_profile(session: Session, profile_id: str | None) -> str | None:
    if profile_id is None:
        return None
    try:
        profile = resolve(session, profile_id)
    except NotFound:
        return None
    return profile.id if profile.status == "active" else None


def _fact_from_event(event: StoredEvent) -> PurchaseInput | None:
    data = event.data
    if event.type == RETURN_RECEIVED:
        ref = _text(data, "return_id")
        kind: Kind = "return"
        amount = money_from(data, "refund")
    else:
        ref = _text(data, "order_id")
        kind = "purchase"
        amount = money_from(data, "total")
    if ref is None:
        return None
    return PurchaseInput(
        kind=kind,
        ref=ref,
        channel=_text(data, "channel") or "unknown",
        occurred_at=_when(data, event.occurred_at),
        amount=amount,
        store_id=_text(data, "store_id", "store"),
        order_ref=_text(data, "order_id") if kind == "return" else None,
        source=event.type,
    )


def _on_merged(uow: UnitOfWork, event: StoredEvent) -> None:
    survivor = _text(event.data, "survivor_id")
    absorbed = [i for i in event.data.get("absorbed_ids") or [] if isinstance(i, str)]
    if survivor is None or not absorbed:
        return
    session = uow.session
    session.execute(
        update(PurchaseLedgerRow)
        .where(PurchaseLedgerRow.profile_id.in_(absorbed))
        .values(profile_id=survivor)
    )
    session.execute(
        delete(CustomerAttributesRow).where(CustomerAttributesRow.profile_id.in_(absorbed))
    )
    _drop_memberships(uow, absorbed, cause="merged")
    live = _live_profile(session, survivor)
    if live is None:
        return
    _save_state(uow, live, ledger_state(session, live), cause="merge")
    refresh_profile(uow, live, cause="merge")


def on_event(uow: UnitOfWork, event: StoredEvent) -> None:
    """``customers.attributes``: purchases, returns and cancellations into RFM attributes and
    segment memberships; merges fold the absorbed profiles' history into the survivor's."""
    session = uow.session
    lock_segments(session, exclusive=False)  # before any row lock: no deadlock with a definition
    if event.type == "customers.profile.merged":
        _on_merged(uow, event)
        return
    if event.type == "customers.profile.created":
        live = _live_profile(session, _text(event.data, "profile_id"))
        if live is not None and session.scalar(select(func.count()).select_from(SegmentRow)):
            refresh_profile(uow, live, cause="created")
        return
    if event.type == ORDER_STATUS_CHANGED:
        if event.data.get("status") == "cancelled":
            ref = _text(event.data, "order_id")
            if ref is not None:
                cancel_purchase(uow, ref)
        return
    if event.type == ORDER_CANCELLED:
        ref = _text(event.data, "order_id")
        if ref is not None:
            cancel_purchase(uow, ref)
        return
    fact = _fact_from_event(event)
    live = _live_profile(session, _text(event.data, "profile_id", "customer_id"))
    if fact is None or live is None:
        return  # anonymous, or a person since erased
    record_purchase(uow, live, fact, cause="return" if fact.kind == "return" else "purchase")


# ---------------------------------------------------------------------------------------------
# Time passing
# ---------------------------------------------------------------------------------------------


def review_due(uow: UnitOfWork, *, batch: int = 500) -> int:
    """Re-evaluates profiles whose recency crossed a boundary (a score or a rule's threshold).
    Call it periodically until it returns 0."""
    lock_segments(uow.session, exclusive=False)
    now = uow.now()
    rows = uow.session.scalars(
        select(CustomerAttributesRow)
        .where(CustomerAttributesRow.next_review_at <= now)
        .order_by(CustomerAttributesRow.next_review_at, CustomerAttributesRow.profile_id)
        .limit(batch)
    ).all()
    for row in rows:
        before = (row.r_score, row.f_score, row.m_score)
        refresh_profile(uow, row.profile_id, cause="review")
        if before != (row.r_score, row.f_score, row.m_score):
            state = state_of(row)
            uow.emit(
                _changed_event(row.profile_id, state, rfm_scores(state, now=now), cause="review")
            )
    return len(rows)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AttributesView:
    profile: CustomerProfileRow
    state: RfmState
    scores: RfmScores
    updated_at: datetime | None
    segments: list[tuple[SegmentRow, datetime]]


def attributes_view(session: Session, profile_id: str, *, now: datetime) -> AttributesView:
    profile = resolve_live(session, profile_id)
    row = _attributes_row(session, profile.id)
    state = state_of(row)
    memberships = session.execute(
        select(SegmentRow, SegmentMemberRow.entered_at)
        .join(SegmentMemberRow, SegmentMemberRow.segment_id == SegmentRow.id)
        .where(SegmentMemberRow.profile_id == profile.id)
        .order_by(SegmentRow.name)
    ).all()
    return AttributesView(
        profile=profile,
        state=state,
        scores=rfm_scores(state, now=now),
        updated_at=row.updated_at if row else None,
        segments=[(seg, at) for seg, at in memberships],
    )


def scores_of(session: Session, profile_id: str, *, now: datetime) -> RfmScores:
    """The profile's RFM scores now (all None for a non-buyer or an unknown id)."""
    live = _live_profile(session, profile_id)
    if live is None:
        return RfmScores(None, None, None)
    return rfm_scores(state_of(_attributes_row(session, live)), now=now)


# ---------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------


def export_attributes(session: Session, ids: Sequence[str]) -> dict[str, Any]:
    attributes = session.scalars(
        select(CustomerAttributesRow).where(CustomerAttributesRow.profile_id.in_(ids))
    ).all()
    ledger = session.scalars(
        select(PurchaseLedgerRow)
        .where(PurchaseLedgerRow.profile_id.in_(ids))
        .order_by(PurchaseLedgerRow.seq)
    ).all()
    members = session.execute(
        select(SegmentMemberRow.segment_id, SegmentRow.name, SegmentMemberRow.entered_at)
        .join(SegmentRow, SegmentRow.id == SegmentMemberRow.segment_id)
        .where(SegmentMemberRow.profile_id.in_(ids))
        .order_by(SegmentRow.name)
    ).all()
    attr_fields = (
        "profile_id",
        "frequency",
        "first_purchase_at",
        "last_purchase_at",
        "currency",
        "spent_minor",
        "refunded_minor",
        "return_count",
        "channels",
        "r_score",
        "f_score",
        "m_score",
        "updated_at",
    )
    ledger_fields = (
        "kind",
        "ref",
        "order_ref",
        "channel",
        "store_id",
        "amount_minor",
        "currency",
        "occurred_at",
        "source",
        "cancelled_at",
    )
    return {
        "rfm": [{n: to_jsonable(getattr(a, n)) for n in attr_fields} for a in attributes],
        "purchases": [{n: to_jsonable(getattr(r, n)) for n in ledger_fields} for r in ledger],
        "segments": [
            {"segment_id": sid, "name": name, "entered_at": at.isoformat()}
            for sid, name, at in members
        ],
    }


def erase_attributes(uow: UnitOfWork, ids: Sequence[str]) -> int:
    """Attributes, purchase history and memberships of an erased person go (the orders context
    keeps what accounting needs); leaving each segment is announced with ids only."""
    session = uow.session
    left = _drop_memberships(uow, ids, cause="erased")
    result = session.execute(delete(PurchaseLedgerRow).where(PurchaseLedgerRow.profile_id.in_(ids)))
    session.execute(delete(CustomerAttributesRow).where(CustomerAttributesRow.profile_id.in_(ids)))
    return left + int(getattr(result, "rowcount", 0) or 0)
