"""Personal data: export everything held on a customer, erase it, and the retention sweeper.

Erasure removes personal fields from every customer table, blanks the ``personal`` key of every
kept event about the profile (and any string carrying one of its identifiers, whatever the
event), rewrites stored idempotent responses that echo them, and keeps a tombstone (id, dates)
so an erased person is never resurrected: their identifiers are gone, so an identify with the
old email creates a new, empty profile.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import String, cast, delete, or_, select
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers.model import DEFAULT_INACTIVE_RETENTION, ConsentStatus
from omnicanal.customers.service import consent_event, record_history, resolve
from omnicanal.customers.tables import (
    CustomerConsentHistoryRow,
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerProfileRow,
)
from omnicanal.customers.views import (
    absorbed_ids,
    consent_history,
    consents_of,
    identifiers_of,
    lineage,
)
from omnicanal.events.model import to_jsonable
from omnicanal.events.tables import OutboxEventRow
from omnicanal.idempotency.tables import IdempotencyRecordRow
from omnicanal.storage.uow import UnitOfWork

REDACTED = "[erased]"
_MIN_SCRUB_LENGTH = 4  # shorter strings are too likely to appear in unrelated text


# ---------------------------------------------------------------------------------------------
# What other modules hold on a person
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Holder:
    """A module keeping personal data keyed by profile id: its part of the export, and its
    erasure (run in the erasure's transaction, so the erasure is complete when it returns)."""

    name: str
    export: Callable[[Session, Sequence[str]], Any]
    erase: Callable[[UnitOfWork, Sequence[str]], int]
    # personal values this context copied (a delivery address, a contact name), to be scrubbed
    # from kept events and stored responses too
    values: Callable[[Session, Sequence[str]], set[str]] | None = None


def holders() -> list[Holder]:
    from omnicanal.customers import attributes, timeline
    from omnicanal.loyalty import personal_data as loyalty
    from omnicanal.notifications import views as notifications
    from omnicanal.orders import personal_data as orders
    from omnicanal.returns import personal_data as returns
    from omnicanal.service_desk import personal_data as service_desk
    from omnicanal.tills import personal_data as tills

    return [
        Holder("timeline", timeline.export_entries, timeline.erase_entries),
        Holder("attributes", attributes.export_attributes, attributes.erase_attributes),
        Holder("tickets", service_desk.export_tickets, service_desk.erase_tickets),
        Holder("notifications", notifications.export_messages, notifications.erase_messages),
        Holder("orders", orders.export_orders, orders.erase_orders, orders.personal_values),
        Holder("returns", returns.export_returns, returns.erase_returns),
        Holder("loyalty", loyalty.export_loyalty, loyalty.erase_loyalty),
        Holder("tills", tills.export_sales, tills.erase_sales),
    ]


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def _row(obj: Any, names: Iterable[str]) -> dict[str, Any]:
    return {n: to_jsonable(getattr(obj, n)) for n in names}


def _events_about(session: Session, ids: Sequence[str]) -> list[OutboxEventRow]:
    if not ids:
        return []
    text = cast(OutboxEventRow.data, String)
    cond = or_(OutboxEventRow.subject.in_(ids), *(text.like(f"%{i}%") for i in ids))
    return list(session.scalars(select(OutboxEventRow).where(cond).order_by(OutboxEventRow.seq)))


def export(session: Session, profile_id: str) -> dict[str, Any]:
    """Everything held on the person: profile with provenance, identifiers (device ids as their
    hashes), consents and their full history, merge lineage, events that mention them."""
    profile = resolve(session, profile_id)
    absorbed = absorbed_ids(session, profile.id)
    ids = [profile.id, *absorbed]
    held = {holder.name: holder.export(session, ids) for holder in holders()}
    return {
        **held,
        "profile": _row(
            profile,
            (
                "id",
                "status",
                "given_name",
                "family_name",
                "attributes",
                "created_channel",
                "created_at",
                "updated_at",
                "last_seen_at",
                "erased_at",
            ),
        ),
        "requested_id": profile_id,
        "absorbed_ids": absorbed,
        "identifiers": [
            _row(i, ("id", "kind", "value", "source_channel", "first_seen", "last_seen"))
            for i in identifiers_of(session, ids)
        ],
        "consents": [
            _row(
                c,
                (
                    "id",
                    "purpose",
                    "scope",
                    "status",
                    "legal_basis",
                    "source_channel",
                    "source_ref",
                    "captured_at",
                    "expires_at",
                ),
            )
            for c in consents_of(session, profile.id)
        ],
        "consent_history": [
            _row(
                h,
                (
                    "consent_id",
                    "profile_id",
                    "purpose",
                    "scope",
                    "status",
                    "legal_basis",
                    "source_channel",
                    "source_ref",
                    "captured_at",
                    "expires_at",
                    "recorded_at",
                    "note",
                ),
            )
            for h in consent_history(session, ids)
        ],
        "lineage": [
            _row(
                m,
                (
                    "id",
                    "survivor_id",
                    "absorbed_ids",
                    "caused_by",
                    "rule",
                    "source_channel",
                    "source_ref",
                    "at",
                ),
            )
            for m in lineage(session, ids)
        ],
        "events": [
            {
                "id": e.id,
                "type": e.type,
                "subject": e.subject,
                "occurred_at": e.occurred_at.isoformat(),
                "data": e.data,
            }
            for e in _events_about(session, ids)
        ],
    }


# ---------------------------------------------------------------------------------------------
# Erasure
# ---------------------------------------------------------------------------------------------


def redact(value: Any, secrets: Collection[str], exact: Collection[str] = ()) -> Any:
    """A copy of a JSON value with the ``personal`` key blanked, and every string that contains
    one of ``secrets`` or equals one of ``exact`` (short values such as a first name "Léa"),
    compared lower-cased, replaced by ``[erased]``."""
    if isinstance(value, dict):
        return {
            k: (None if k == ev.PERSONAL_KEY else redact(v, secrets, exact))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v, secrets, exact) for v in value]
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in exact or any(s in lowered for s in secrets):
            return REDACTED
    return value


@dataclass(slots=True)
class ErasureReport:
    profile_id: str
    erased_ids: list[str]
    erased_at: str
    already_erased: bool = False
    identifiers_removed: int = 0
    consents_removed: int = 0
    events_redacted: int = 0
    stored_responses_redacted: int = 0
    lineage_rows_redacted: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def _json_forms(value: str) -> set[str]:
    """The forms a value takes inside stored JSON text (SQLite escapes non-ASCII)."""
    return {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1]}


def _erase_held(uow: UnitOfWork, ids: Sequence[str], report: ErasureReport) -> None:
    for holder in holders():
        report.details[holder.name] = holder.erase(uow, ids)
    uow.session.flush()


def _personal_values(
    session: Session,
    profile: CustomerProfileRow,
    identifiers: Sequence[CustomerIdentifierRow],
    ids: Sequence[str],
) -> set[str]:
    values = {i.value for i in identifiers}
    for name in ("given_name", "family_name"):
        value = getattr(profile, name)
        if value:
            values.add(value)
    for data in (profile.attributes or {}).values():
        values.add(str(data.get("value", "")))
    for holder in holders():
        if holder.values is not None:
            values |= holder.values(session, ids)
    return values


def erase(uow: UnitOfWork, profile_id: str, *, reason: str, channel: str) -> ErasureReport:
    """Erases the person ``profile_id`` names (a merged id erases its survivor and every profile
    merged into it). Idempotent: erasing a tombstone reports it and changes nothing."""
    session = uow.session
    profile = resolve(session, profile_id, lock=True)
    now = uow.now()
    if profile.status == "erased":
        return ErasureReport(
            profile_id=profile.id,
            erased_ids=[profile.id],
            erased_at=(profile.erased_at or now).isoformat(),
            already_erased=True,
        )
    ids = [profile.id, *absorbed_ids(session, profile.id)]
    identifiers = identifiers_of(session, ids)
    # values to hunt down wherever they were copied: identifiers anywhere, names and
    # attributes only where the row is known to be about this person
    identifier_values = {i.value for i in identifiers}
    personal_values = _personal_values(session, profile, identifiers, ids)
    secrets = {v.lower() for v in personal_values if len(v) >= _MIN_SCRUB_LENGTH}
    exact = {v.strip().lower() for v in personal_values if v.strip()}
    report = ErasureReport(profile_id=profile.id, erased_ids=ids, erased_at=now.isoformat())

    report.identifiers_removed = len(identifiers)
    session.execute(delete(CustomerIdentifierRow).where(CustomerIdentifierRow.profile_id.in_(ids)))
    consents = session.scalars(
        select(CustomerConsentRow).where(CustomerConsentRow.profile_id.in_(ids))
    ).all()
    report.consents_removed = len(consents)
    session.execute(delete(CustomerConsentRow).where(CustomerConsentRow.profile_id.in_(ids)))
    session.execute(
        delete(CustomerConsentHistoryRow).where(CustomerConsentHistoryRow.profile_id.in_(ids))
    )
    # the merge lineage holds ids and kinds only; a free-text reference is scrubbed if needed
    for merge in lineage(session, ids):
        if merge.source_ref and redact(merge.source_ref, secrets, exact) != merge.source_ref:
            merge.source_ref = REDACTED
            report.lineage_rows_redacted += 1
    for row in session.scalars(
        select(CustomerProfileRow)
        .where(CustomerProfileRow.id.in_(ids))
        .order_by(CustomerProfileRow.id)
        .execution_options(populate_existing=True)
    ):
        row.status = "erased"
        row.merged_into = None
        row.given_name = None
        row.family_name = None
        row.attributes = {}
        row.erased_at = now
        row.updated_at = now
    session.flush()
    _erase_held(uow, ids, report)

    # kept events: every event about these ids, and any event carrying one of the identifiers
    text = cast(OutboxEventRow.data, String)
    id_match = [OutboxEventRow.subject.in_(ids), *(text.like(f"%{i}%") for i in ids)]
    forms = sorted(
        {f for v in identifier_values if len(v) >= _MIN_SCRUB_LENGTH for f in _json_forms(v)}
    )
    value_match = [text.like(f"%{form}%") for form in forms]
    for event in session.scalars(
        select(OutboxEventRow).where(or_(*id_match, *value_match)).order_by(OutboxEventRow.seq)
    ):
        cleaned = redact(event.data, secrets, exact)
        if cleaned != event.data:
            cleaned["erased"] = True
            event.data = cleaned
            report.events_redacted += 1
    # stored API responses (Idempotency-Key replays) echo profiles: rewrite them too
    body = cast(IdempotencyRecordRow.response_body, String)
    for record in session.scalars(
        select(IdempotencyRecordRow).where(
            or_(*(body.like(f"%{i}%") for i in ids), *(body.like(f"%{f}%") for f in forms))
        )
    ):
        cleaned = redact(record.response_body, secrets, exact)
        if cleaned != record.response_body:
            record.response_body = cleaned
            report.stored_responses_redacted += 1
    uow.emit(
        ev.ProfileErased(
            profile_id=profile.id, erased_ids=ids, erased_at=now.isoformat(), reason=reason
        )
    )
    report.details.update({"reason": reason, "channel": channel})
    return report


# ---------------------------------------------------------------------------------------------
# Retention
# ---------------------------------------------------------------------------------------------


@dataclass(slots=True)
class SweepResult:
    erased_ids: list[str] = field(default_factory=list)
    lapsed_consent_ids: list[str] = field(default_factory=list)


def sweep_retention(
    uow: UnitOfWork,
    *,
    inactive_for: timedelta = DEFAULT_INACTIVE_RETENTION,
    batch: int = 200,
) -> SweepResult:
    """Erases active profiles not seen for ``inactive_for``; lapses granted consents past their
    expiry. Runs in batches; call it again until it returns nothing (a ``Periodic`` can)."""
    session = uow.session
    now = uow.now()
    result = SweepResult()
    stale = session.scalars(
        select(CustomerProfileRow.id)
        .where(
            CustomerProfileRow.status == "active",
            CustomerProfileRow.last_seen_at < now - inactive_for,
        )
        .order_by(CustomerProfileRow.last_seen_at, CustomerProfileRow.id)
        .limit(batch)
    ).all()
    for profile_id in stale:
        erase(uow, profile_id, reason="retention period elapsed", channel="system")
        result.erased_ids.append(profile_id)
    expired = session.scalars(
        select(CustomerConsentRow)
        .where(
            CustomerConsentRow.status == ConsentStatus.GRANTED.value,
            CustomerConsentRow.expires_at <= now,
        )
        .order_by(CustomerConsentRow.expires_at, CustomerConsentRow.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    for consent in expired:
        consent.status = ConsentStatus.LAPSED.value
        consent.updated_at = now
        note = "expired: lapsed by the retention sweeper"
        record_history(uow, consent, note=note)
        uow.emit(consent_event(consent, note))
        result.lapsed_consent_ids.append(consent.id)
    return result
