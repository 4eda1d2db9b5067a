"""Customer use cases: identify (link and merge), profile changes, consents, may-contact.

Every function takes the caller's ``UnitOfWork`` and never commits, so another context (an order
capture, a till sync) can identify its customer inside its own transaction.

Concurrency: one identifier belongs to one profile by a unique (kind, value) index. ``identify``
locks the profiles it touches (``FOR UPDATE``, in id order, following merge chains) and inserts
new identifiers in sorted order inside a savepoint; when a concurrent call wins the race for an
identifier the savepoint is rolled back and the call resolves again, now finding the winner's
profile and linking to it (or merging). On SQLite, write transactions are already serialised.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers.model import (
    ALL_CHANNELS,
    CONSENT_SOURCES,
    DEFAULT_CONSENT_VALIDITY,
    MARKETING_PURPOSES,
    NAME_FIELDS,
    ConsentState,
    ConsentStatus,
    Decision,
    FieldValue,
    Identifier,
    LegalBasis,
    ProfileRef,
    Purpose,
    Trust,
    choose_survivor,
    decide,
    kind_pairs,
    merge_attributes,
    merge_consent,
    observe,
    parse_scope,
    source_trust,
)
from omnicanal.customers.tables import (
    CustomerConsentHistoryRow,
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerMergeRow,
    CustomerProfileRow,
    IdentityMetricRow,
)
from omnicanal.events.model import Event
from omnicanal.shared.errors import Conflict, Gone, InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.storage.uow import UnitOfWork

MAX_IDENTIFIERS = 20
_ATTEMPTS = 5
_CLOCK_SKEW = timedelta(minutes=5)
SURVIVOR_RULE = "oldest-profile-then-id"


# ---------------------------------------------------------------------------------------------
# Resolution
# ---------------------------------------------------------------------------------------------


def _not_found(profile_id: str) -> NotFound:
    return NotFound(
        f"No customer {profile_id}; find customers with GET /v1/customers?email=|phone=|card=.",
        code="customer-not-found",
        field="customer_id",
        customer_id=profile_id,
    )


def resolve(session: Session, profile_id: str, *, lock: bool = False) -> CustomerProfileRow:
    """The profile ``profile_id`` names now: itself, or the survivor it was merged into."""
    current = profile_id
    for _ in range(20):
        stmt = select(CustomerProfileRow).where(CustomerProfileRow.id == current)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        row = session.scalars(stmt).first()
        if row is None:
            raise _not_found(profile_id)
        if row.status != "merged" or row.merged_into is None:
            return row
        current = row.merged_into
    raise Conflict(f"The merge chain of {profile_id} does not end; report this.")


def resolve_live(session: Session, profile_id: str, *, lock: bool = False) -> CustomerProfileRow:
    row = resolve(session, profile_id, lock=lock)
    if row.status == "erased":
        raise Gone(
            f"Customer {profile_id} was erased at {row.erased_at}; their data is gone.",
            code="customer-erased",
            customer_id=profile_id,
            erased_at=row.erased_at.isoformat() if row.erased_at else None,
        )
    return row


def attributes_of(row: CustomerProfileRow) -> dict[str, FieldValue]:
    return {name: FieldValue.from_json(data) for name, data in (row.attributes or {}).items()}


def _write_attributes(row: CustomerProfileRow, attrs: Mapping[str, FieldValue]) -> None:
    row.attributes = {name: fv.to_json() for name, fv in sorted(attrs.items())}
    row.given_name = attrs["given_name"].value if "given_name" in attrs else None
    row.family_name = attrs["family_name"].value if "family_name" in attrs else None


# ---------------------------------------------------------------------------------------------
# identify
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkedIdentifier:
    id: str
    kind: str


Outcome = Literal["created", "matched", "linked", "merged"]


@dataclass(slots=True)
class IdentifyResult:
    profile_id: str
    outcome: Outcome
    linked: list[LinkedIdentifier] = field(default_factory=list)
    merge_id: str | None = None
    absorbed_ids: list[str] = field(default_factory=list)
    matched_kinds: list[str] = field(default_factory=list)
    known: list[Identifier] = field(default_factory=list)  # identifiers already held before
    time_to_unification_ms: float = 0.0


class _Retry(Exception):
    pass


def _is_unique_violation(exc: IntegrityError) -> bool:
    code = getattr(exc.orig, "sqlstate", None)
    return code == "23505" or (code is None and "UNIQUE constraint failed" in str(exc.orig))


def _is_deadlock(exc: OperationalError) -> bool:
    return getattr(exc.orig, "sqlstate", None) in {"40P01", "40001"}


def identify(
    uow: UnitOfWork,
    *,
    identifiers: Sequence[Identifier],
    channel: str,
    attributes: Mapping[str, str | None] | None = None,
    source_ref: str | None = None,
    occurred_at: datetime | None = None,
) -> IdentifyResult:
    """Resolves normalised identifiers to one profile: creates it, links new identifiers, merges
    the profiles they pointed to. Records the match kinds and the time to unification."""
    started = time.perf_counter()
    received_at = uow.now()
    idents = sorted(set(identifiers))
    if not idents:
        raise InvalidInput("Give at least one identifier.", field="identifiers")
    if len(idents) > MAX_IDENTIFIERS:
        raise InvalidInput(f"At most {MAX_IDENTIFIERS} identifiers per call.", field="identifiers")
    if occurred_at is not None and occurred_at > received_at + _CLOCK_SKEW:
        raise InvalidInput("occurred_at is in the future.", field="occurred_at")
    events: list[Event] = []
    result: IdentifyResult | None = None
    for attempt in range(_ATTEMPTS):
        events.clear()
        try:
            with uow.session.begin_nested():
                result = _identify_once(
                    uow,
                    idents,
                    channel=channel,
                    attributes=attributes or {},
                    source_ref=source_ref,
                    events=events,
                )
            break
        except IntegrityError as exc:
            if not _is_unique_violation(exc) or attempt == _ATTEMPTS - 1:
                raise
        except OperationalError as exc:
            if not _is_deadlock(exc) or attempt == _ATTEMPTS - 1:
                raise
    assert result is not None
    for event in events:
        uow.emit(event)
    unified_at = uow.now()
    lag = max(0.0, ((received_at - (occurred_at or received_at)).total_seconds()) * 1000)
    result.time_to_unification_ms = round(lag + (time.perf_counter() - started) * 1000, 3)
    uow.session.add(
        IdentityMetricRow(
            profile_id=result.profile_id,
            channel=channel,
            outcome=result.outcome,
            kinds=sorted({i.base_kind.value for i in idents}),
            matched_kinds=result.matched_kinds,
            pairs=kind_pairs(result.known, idents),
            occurred_at=occurred_at or received_at,
            received_at=received_at,
            unified_at=unified_at,
            time_to_unification_ms=result.time_to_unification_ms,
        )
    )
    return result


def _identifier_rows(session: Session, idents: Sequence[Identifier]) -> list[CustomerIdentifierRow]:
    cond = or_(
        *(
            and_(CustomerIdentifierRow.kind == i.kind, CustomerIdentifierRow.value == i.value)
            for i in idents
        )
    )
    stmt = (
        select(CustomerIdentifierRow)
        .where(cond)
        .order_by(CustomerIdentifierRow.kind, CustomerIdentifierRow.value)
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def _lock_profiles(session: Session, ids: Iterable[str]) -> list[CustomerProfileRow]:
    stmt = (
        select(CustomerProfileRow)
        .where(CustomerProfileRow.id.in_(sorted(set(ids))))
        .order_by(CustomerProfileRow.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return list(session.scalars(stmt))


def _lock_owners(
    session: Session, idents: Sequence[Identifier]
) -> tuple[list[CustomerIdentifierRow], dict[str, CustomerProfileRow]]:
    """Locks every profile owning one of ``idents`` (following merge chains) and returns the
    identifier rows as they are once those locks are held, with the live owners."""
    locked: dict[str, CustomerProfileRow] = {}
    for _ in range(10):
        rows = _identifier_rows(session, idents)
        pending = {r.profile_id for r in rows} - set(locked)
        if not pending:
            live = {pid: p for pid, p in locked.items() if p.status == "active"}
            return rows, live
        while pending:
            follow: set[str] = set()
            for profile in _lock_profiles(session, pending):
                locked[profile.id] = profile
                if profile.status == "merged" and profile.merged_into not in locked:
                    assert profile.merged_into is not None
                    follow.add(profile.merged_into)
            pending = follow
    raise _Retry()


def _identify_once(
    uow: UnitOfWork,
    idents: Sequence[Identifier],
    *,
    channel: str,
    attributes: Mapping[str, str | None],
    source_ref: str | None,
    events: list[Event],
) -> IdentifyResult:
    session = uow.session
    now = uow.now()
    rows, owners = _lock_owners(session, idents)
    known = {Identifier(r.kind, r.value): r for r in rows}
    matched_kinds = sorted({i.base_kind.value for i in known})
    merge_id: str | None = None
    absorbed: list[str] = []
    outcome: Outcome
    if not owners:
        survivor = CustomerProfileRow(
            id=new_id("cus"),
            status="active",
            attributes={},
            created_channel=channel,
            created_at=now,
            updated_at=now,
            last_seen_at=now,
        )
        session.add(survivor)
        session.flush()
        outcome = "created"
    else:
        refs = [ProfileRef(p.id, p.created_at) for p in owners.values()]
        survivor = owners[choose_survivor(refs).id]
        others = [p for pid, p in sorted(owners.items()) if pid != survivor.id]
        if others:
            caused_by = [
                {"identifier_id": r.id, "kind": r.kind, "profile_id": r.profile_id} for r in rows
            ]
            merge_id = _merge(
                uow,
                survivor,
                others,
                caused_by=caused_by,
                channel=channel,
                source_ref=source_ref,
                events=events,
            )
            absorbed = [p.id for p in others]
            outcome = "merged"
        else:
            outcome = "matched"
    linked: list[LinkedIdentifier] = []
    new_rows: list[CustomerIdentifierRow] = []
    for ident in idents:
        row = known.get(ident)
        if row is not None:
            row.last_seen = now
            continue
        new = CustomerIdentifierRow(
            id=new_id("idn"),
            kind=ident.kind,
            value=ident.value,
            profile_id=survivor.id,
            source_channel=channel,
            first_seen=now,
            last_seen=now,
        )
        session.add(new)
        session.flush()  # one at a time, in sorted order: a lost race fails here, deadlock-free
        linked.append(LinkedIdentifier(new.id, new.kind))
        new_rows.append(new)
    if linked and outcome == "matched":
        outcome = "linked"
    trust = source_trust(channel, (i.kind for i in idents))
    attrs, changed = observe(
        attributes_of(survivor), attributes, source=channel, trust=trust, at=now
    )
    if changed:
        _write_attributes(survivor, attrs)
        survivor.updated_at = now
    survivor.last_seen_at = now
    if outcome == "created":
        session.flush()
        events.append(
            ev.ProfileCreated(
                profile_id=survivor.id,
                channel=channel,
                source_ref=source_ref,
                identifier_kinds=[i.kind for i in idents],
                personal={
                    "identifiers": [{"kind": i.kind, "value": i.value} for i in idents],
                    **{n: attrs[n].value for n in changed},
                },
            )
        )
    elif changed:
        events.append(
            ev.ProfileUpdated(
                profile_id=survivor.id,
                changed=changed,
                channel=channel,
                personal={n: attrs[n].value for n in changed},
            )
        )
    for new_row in new_rows:
        events.append(
            ev.IdentifierLinked(
                profile_id=survivor.id,
                identifier_id=new_row.id,
                kind=new_row.kind,
                channel=channel,
                source_ref=source_ref,
                personal={"value": new_row.value},
            )
        )
    return IdentifyResult(
        profile_id=survivor.id,
        outcome=outcome,
        linked=linked,
        merge_id=merge_id,
        absorbed_ids=absorbed,
        matched_kinds=matched_kinds,
        known=sorted(known),
    )


def _merge(
    uow: UnitOfWork,
    survivor: CustomerProfileRow,
    absorbed: Sequence[CustomerProfileRow],
    *,
    caused_by: list[dict[str, Any]],
    channel: str,
    source_ref: str | None,
    events: list[Event],
) -> str:
    """Folds ``absorbed`` into ``survivor`` (all locked): attributes by survivorship, identifiers
    and consents moved, absorbed profiles kept as pointers, one lineage row, one event."""
    session = uow.session
    now = uow.now()
    absorbed_ids = [p.id for p in absorbed]
    attrs = merge_attributes([attributes_of(survivor), *(attributes_of(p) for p in absorbed)])
    _write_attributes(survivor, attrs)
    survivor.updated_at = now
    session.execute(
        update(CustomerIdentifierRow)
        .where(CustomerIdentifierRow.profile_id.in_(absorbed_ids))
        .values(profile_id=survivor.id)
    )
    _merge_consents(uow, survivor.id, absorbed_ids, events=events)
    # path compression: profiles merged earlier into an absorbed one now point at the survivor
    session.execute(
        update(CustomerProfileRow)
        .where(CustomerProfileRow.merged_into.in_(absorbed_ids))
        .values(merged_into=survivor.id)
    )
    for profile in absorbed:
        profile.status = "merged"
        profile.merged_into = survivor.id
        profile.merged_at = now
        profile.updated_at = now
        # the data lives on the survivor now: no stale copy of personal data stays behind
        profile.attributes = {}
        profile.given_name = None
        profile.family_name = None
    merge = CustomerMergeRow(
        id=new_id("mrg"),
        survivor_id=survivor.id,
        absorbed_ids=absorbed_ids,
        caused_by=caused_by,
        rule=SURVIVOR_RULE,
        source_channel=channel,
        source_ref=source_ref,
        at=now,
    )
    session.add(merge)
    session.flush()
    events.append(
        ev.ProfileMerged(
            merge_id=merge.id,
            survivor_id=survivor.id,
            absorbed_ids=absorbed_ids,
            identifier_kinds=sorted({c["kind"] for c in caused_by}),
            channel=channel,
            source_ref=source_ref,
        )
    )
    return merge.id


@dataclass(frozen=True, slots=True)
class MergeOutcome:
    merge_id: str
    survivor_id: str
    absorbed_ids: list[str]


def merge_profiles(
    uow: UnitOfWork,
    profile_ids: Sequence[str],
    *,
    caused_by: list[dict[str, Any]],
    channel: str,
    source_ref: str | None = None,
) -> MergeOutcome:
    """Merges profiles found to be one person by other means than a shared identifier (a
    reviewed probable duplicate): the same survivor rule, lineage row and event as ``identify``.
    Merged ids resolve to their survivor; an erased one is ``Gone``."""
    live: dict[str, CustomerProfileRow] = {}
    for profile_id in sorted(set(profile_ids)):
        row = resolve_live(uow.session, profile_id, lock=True)
        live[row.id] = row
    if len(live) < 2:
        raise Conflict(
            f"{', '.join(sorted(set(profile_ids)))} are already one profile; nothing to merge.",
            code="already-merged",
        )
    survivor = live[choose_survivor([ProfileRef(p.id, p.created_at) for p in live.values()]).id]
    others = [p for pid, p in sorted(live.items()) if pid != survivor.id]
    events: list[Event] = []
    merge_id = _merge(
        uow,
        survivor,
        others,
        caused_by=caused_by,
        channel=channel,
        source_ref=source_ref,
        events=events,
    )
    for event in events:
        uow.emit(event)
    return MergeOutcome(merge_id, survivor.id, [p.id for p in others])


def _state(row: CustomerConsentRow) -> ConsentState:
    return ConsentState(
        purpose=Purpose(row.purpose),
        scope=row.scope,
        status=ConsentStatus(row.status),
        legal_basis=LegalBasis(row.legal_basis),
        captured_at=row.captured_at,
        expires_at=row.expires_at,
        id=row.id,
    )


def record_history(
    uow: UnitOfWork, row: CustomerConsentRow, *, note: str | None = None
) -> CustomerConsentHistoryRow:
    entry = CustomerConsentHistoryRow(
        consent_id=row.id,
        profile_id=row.profile_id,
        purpose=row.purpose,
        scope=row.scope,
        status=row.status,
        legal_basis=row.legal_basis,
        source_channel=row.source_channel,
        source_ref=row.source_ref,
        captured_at=row.captured_at,
        expires_at=row.expires_at,
        recorded_at=uow.now(),
        note=note,
    )
    uow.session.add(entry)
    return entry


def consent_event(row: CustomerConsentRow, note: str | None = None) -> ev.ConsentChanged:
    return ev.ConsentChanged(
        profile_id=row.profile_id,
        consent_id=row.id,
        purpose=row.purpose,
        scope=row.scope,
        status=row.status,
        legal_basis=row.legal_basis,
        source_channel=row.source_channel,
        captured_at=row.captured_at.isoformat(),
        expires_at=row.expires_at.isoformat() if row.expires_at else None,
        note=note,
    )


def _copy_consent(target: CustomerConsentRow, source: CustomerConsentRow) -> None:
    for name in (
        "status",
        "legal_basis",
        "source_channel",
        "source_ref",
        "captured_at",
        "expires_at",
    ):
        setattr(target, name, getattr(source, name))


def _merge_consents(
    uow: UnitOfWork, survivor_id: str, absorbed_ids: Sequence[str], *, events: list[Event]
) -> None:
    """Consents follow the survivor; where both hold the same (purpose, scope), the latest
    expression of will wins (a refusal on a tie). History rows stay as captured."""
    session = uow.session
    now = uow.now()
    kept = {
        (c.purpose, c.scope): c
        for c in session.scalars(
            select(CustomerConsentRow).where(CustomerConsentRow.profile_id == survivor_id)
        )
    }
    moving = session.scalars(
        select(CustomerConsentRow)
        .where(CustomerConsentRow.profile_id.in_(absorbed_ids))
        .order_by(CustomerConsentRow.captured_at, CustomerConsentRow.id)
    )
    for row in list(moving):
        key = (row.purpose, row.scope)
        note = f"merged from {row.profile_id}"
        current = kept.get(key)
        if current is None:
            row.profile_id = survivor_id
            row.updated_at = now
            kept[key] = row
            record_history(uow, row, note=note)
            continue
        winner = merge_consent(_state(current), _state(row))
        if winner.id == row.id:
            _copy_consent(current, row)
            current.updated_at = now
            record_history(uow, current, note=note)
            events.append(consent_event(current, note))
        session.delete(row)
    session.flush()


# ---------------------------------------------------------------------------------------------
# Profile changes
# ---------------------------------------------------------------------------------------------


def update_profile(
    uow: UnitOfWork,
    profile_id: str,
    *,
    set_values: Mapping[str, str | None],
    channel: str,
) -> CustomerProfileRow:
    """A person's correction (associate, customer): it outranks every automatic source;
    ``None`` removes the field."""
    profile = resolve_live(uow.session, profile_id, lock=True)
    now = uow.now()
    attrs, changed = observe(
        attributes_of(profile),
        {k: v for k, v in set_values.items() if v is not None},
        source=channel,
        trust=Trust.MANUAL,
        at=now,
    )
    for name, value in set_values.items():
        if (value is None or not value.strip()) and name in attrs:
            del attrs[name]
            changed.append(name)
    if changed:
        _write_attributes(profile, attrs)
        profile.updated_at = now
        profile.last_seen_at = now
        uow.emit(
            ev.ProfileUpdated(
                profile_id=profile.id,
                changed=sorted(set(changed)),
                channel=channel,
                personal={n: (attrs[n].value if n in attrs else None) for n in changed},
            )
        )
    return profile


# ---------------------------------------------------------------------------------------------
# Consents
# ---------------------------------------------------------------------------------------------

_UNSET: Any = object()


@dataclass(frozen=True, slots=True)
class ConsentChange:
    consent: CustomerConsentRow
    applied: bool  # False when an older capture arrived after a newer one (kept in history)
    cascaded: list[str]  # scoped consents withdrawn by a global withdrawal


def check_source(source_channel: str) -> str:
    source = source_channel.strip().lower()
    if source not in CONSENT_SOURCES:
        raise InvalidInput(
            f"Unknown source channel '{source_channel}'; use one of {', '.join(CONSENT_SOURCES)}.",
            field="source_channel",
        )
    return source


def set_consent(
    uow: UnitOfWork,
    profile_id: str,
    *,
    purpose: Purpose,
    status: ConsentStatus,
    source_channel: str,
    scope: str | None = None,
    legal_basis: LegalBasis = LegalBasis.CONSENT,
    source_ref: str | None = None,
    captured_at: datetime | None = None,
    expires_at: datetime | None = _UNSET,
) -> ConsentChange:
    """Records a grant, denial or withdrawal. A refusal with scope '*' (the default) applies to
    every channel at once: scoped grants of the purpose are withdrawn with it."""
    if status is ConsentStatus.LAPSED:
        raise InvalidInput(
            "'lapsed' is set by the retention sweeper; use granted, denied or withdrawn.",
            field="status",
        )
    scope = parse_scope(scope)
    source = check_source(source_channel)
    now = uow.now()
    captured = captured_at or now
    if captured > now + _CLOCK_SKEW:
        raise InvalidInput("captured_at is in the future.", field="captured_at")
    if expires_at is _UNSET:
        granted = status is ConsentStatus.GRANTED
        expires_at = captured + DEFAULT_CONSENT_VALIDITY if granted else None
    if expires_at is not None and expires_at <= captured:
        raise InvalidInput("expires_at must be after captured_at.", field="expires_at")
    profile = resolve_live(uow.session, profile_id, lock=True)
    session = uow.session
    row = session.scalars(
        select(CustomerConsentRow).where(
            CustomerConsentRow.profile_id == profile.id,
            CustomerConsentRow.purpose == purpose.value,
            CustomerConsentRow.scope == scope,
        )
    ).first()
    incoming = CustomerConsentRow(
        id=row.id if row else new_id("cns"),
        profile_id=profile.id,
        purpose=purpose.value,
        scope=scope,
        status=status.value,
        legal_basis=legal_basis.value,
        source_channel=source,
        source_ref=source_ref,
        captured_at=captured,
        expires_at=expires_at,
        updated_at=now,
    )
    if row is not None and captured < row.captured_at:
        record_history(
            uow, incoming, note="captured before the current state: recorded, not applied"
        )
        return ConsentChange(row, applied=False, cascaded=[])
    if row is None:
        row = incoming
        session.add(row)
    else:
        _copy_consent(row, incoming)
        row.updated_at = now
    session.flush()
    record_history(uow, row)
    uow.emit(consent_event(row))
    profile.last_seen_at = now
    cascaded: list[str] = []
    if scope == ALL_CHANNELS and status is not ConsentStatus.GRANTED:
        scoped = session.scalars(
            select(CustomerConsentRow)
            .where(
                CustomerConsentRow.profile_id == profile.id,
                CustomerConsentRow.purpose == purpose.value,
                CustomerConsentRow.scope != ALL_CHANNELS,
                CustomerConsentRow.status == ConsentStatus.GRANTED.value,
                CustomerConsentRow.captured_at <= captured,
            )
            .order_by(CustomerConsentRow.scope)
        )
        note = f"global {status.value} via {source}"
        for other in scoped:
            other.status = ConsentStatus.WITHDRAWN.value
            other.source_channel = source
            other.source_ref = source_ref
            other.captured_at = captured
            other.updated_at = now
            record_history(uow, other, note=note)
            uow.emit(consent_event(other, note))
            cascaded.append(other.id)
    return ConsentChange(row, applied=True, cascaded=cascaded)


def unsubscribe(
    uow: UnitOfWork,
    profile_id: str,
    *,
    source_channel: str,
    purposes: Sequence[Purpose] = MARKETING_PURPOSES,
    source_ref: str | None = None,
    captured_at: datetime | None = None,
) -> list[ConsentChange]:
    """ "STOP" from any channel (an SMS reply, an email footer, the till): every listed purpose is
    withdrawn for every channel at once."""
    if not purposes:
        raise InvalidInput("Name at least one purpose to unsubscribe from.", field="purposes")
    return [
        set_consent(
            uow,
            profile_id,
            purpose=purpose,
            status=ConsentStatus.WITHDRAWN,
            source_channel=source_channel,
            scope=ALL_CHANNELS,
            source_ref=source_ref,
            captured_at=captured_at,
        )
        for purpose in dict.fromkeys(purposes)
    ]


def may_contact(
    session: Session,
    profile_id: str,
    purpose: Purpose,
    channel: str | None,
    at: datetime,
) -> Decision:
    """What every sender asks before sending: may ``channel`` use ``purpose`` for this customer
    at ``at``? Follows merges; an erased profile is never contacted."""
    if channel is not None and channel != ALL_CHANNELS:
        channel = parse_scope(channel, field_name="channel")
    profile = resolve(session, profile_id)
    if profile.status == "erased":
        return Decision(False, "profile-erased")
    rows = session.scalars(
        select(CustomerConsentRow).where(
            CustomerConsentRow.profile_id == profile.id,
            CustomerConsentRow.purpose == purpose.value,
        )
    )
    decision = decide([_state(r) for r in rows], purpose=purpose, channel=channel, at=at)
    if profile.id != profile_id:
        decision.details["resolved_to"] = profile.id
    return decision


def names_of(attrs: Mapping[str, FieldValue]) -> dict[str, str]:
    return {n: attrs[n].value for n in NAME_FIELDS if n in attrs}
