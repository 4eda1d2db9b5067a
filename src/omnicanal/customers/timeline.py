"""The cross-channel timeline: one list per profile of what the customer did and met in every
channel, with the channel and store of each entry.

It is a read model. The ``customers.timeline`` consumer maps events of other contexts (carts,
orders, returns, tickets, notifications) and identity events to entries; channel activity with
no other home (sessions, product views, searches) arrives through ``record_activities``.
Entries are recorded on the profile the id resolves to at that moment and re-pointed to the
survivor on ``customers.profile.merged``; reads also include absorbed ids, so a survivor's
timeline holds everything even while the consumer catches up.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from omnicanal.customers import events as ev
from omnicanal.customers.activity_tables import TimelineEntryRow
from omnicanal.customers.model import Identifier
from omnicanal.customers.service import IdentifyResult, identify, resolve, resolve_live
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.customers.views import absorbed_ids
from omnicanal.events.model import StoredEvent, to_jsonable
from omnicanal.shared.errors import InvalidInput, NotFound
from omnicanal.shared.ids import new_id
from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor
from omnicanal.storage.uow import UnitOfWork

MAX_ACTIVITIES = 100
MAX_PAYLOAD_BYTES = 2000
_CLOCK_SKEW = timedelta(minutes=5)


class TimelineKind(StrEnum):
    SESSION = "session"  # a visit to the site or app, or a store visit
    VIEW = "view"  # a product page seen
    SEARCH = "search"
    CART = "cart"
    ORDER = "order"
    RETURN = "return"
    TICKET = "ticket"
    MESSAGE = "message"  # an email, SMS or push sent to the customer
    PROFILE = "profile"  # identity: first seen (created), merged with another profile


# What the ingestion API accepts: channel activity that has no other home.
INGESTED_ACTIONS: dict[TimelineKind, tuple[str, ...]] = {
    TimelineKind.SESSION: ("started", "ended"),
    TimelineKind.VIEW: ("viewed",),
    TimelineKind.SEARCH: ("searched",),
}

# Event families the consumer turns into entries: (kind, the payload key naming the thing).
FAMILIES: dict[str, tuple[TimelineKind, str]] = {
    "carts": (TimelineKind.CART, "cart_id"),
    "orders": (TimelineKind.ORDER, "order_id"),
    "returns": (TimelineKind.RETURN, "return_id"),
    "tickets": (TimelineKind.TICKET, "ticket_id"),
    "notifications": (TimelineKind.MESSAGE, "message_id"),
}
# The payload fields worth showing on an entry, per family (anything else is left out).
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "carts": (
        "sku",
        "quantity",
        "line_quantity",
        "previous_quantity",
        "currency",
        "absorbed_cart_id",
        "reason",
        "pickup_location_id",
    ),
    "orders": (
        "status",
        "previous",
        "partial",
        "external_ref",
        "method",
        "location_id",
        "reason",
        "lines",
        "fulfilment",
        "fulfilment_method",
        "total",
        "total_minor",
        "currency",
        "item_count",
        "pickup_location_id",
        "skus",
    ),
    "returns": (
        "order_id",
        "status",
        "resolution",
        "refund",
        "refund_minor",
        "currency",
        "item_count",
        "skus",
    ),
    "tickets": ("status", "from_status", "priority", "category", "score", "order_id"),
    "notifications": ("medium", "purpose", "template", "status", "order_id", "reason"),
}
# Bookkeeping that says nothing new to a person reading the timeline.
SKIPPED_EVENTS = frozenset({"tickets.ticket.reprioritised", "orders.pickup.code_rejected"})
TIMELINE_EVENTS = (
    "customers.profile.created",
    "customers.profile.merged",
    *(f"{family}.*" for family in FAMILIES),
)


# ---------------------------------------------------------------------------------------------
# Pure mapping
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EntryDraft:
    profile_id: str
    kind: TimelineKind
    action: str
    occurred_at: datetime
    channel: str | None = None
    store_id: str | None = None
    session_id: str | None = None
    ref: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def clean(value: Any, *, depth: int = 0) -> Any:
    """A copy safe to keep: text cut to 500 characters, lists to 50 items, three levels deep,
    and floats as decimal strings (money is never stored as a float)."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return value[:500]
    if depth >= 3:
        return None
    if isinstance(value, Mapping):
        return {str(k)[:60]: clean(v, depth=depth + 1) for k, v in list(value.items())[:30]}
    if isinstance(value, list | tuple):
        return [clean(v, depth=depth + 1) for v in list(value)[:50]]
    return str(to_jsonable(value))[:500]


def _text(data: Mapping[str, Any], *keys: str, limit: int = 100) -> str | None:
    for key in keys:
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()[:limit]
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


def action_of(event_type: str, kind: TimelineKind) -> str:
    """``orders.order.placed`` -> ``placed``; ``carts.line.added`` -> ``line_added``."""
    parts = event_type.split(".")[1:]
    if len(parts) > 1 and parts[0] == kind.value:
        parts = parts[1:]
    return "_".join(parts)[:40] or "event"


def _profile_entry(event: StoredEvent) -> EntryDraft | None:
    """First seen, and merges. Identifiers linked one by one are left out: a new cookie each
    visit says nothing to a person reading the timeline."""
    data = event.data
    if event.type == "customers.profile.merged":
        survivor = _text(data, "survivor_id", limit=40)
        if survivor is None:
            return None
        return EntryDraft(
            profile_id=survivor,
            kind=TimelineKind.PROFILE,
            action="merged",
            occurred_at=event.occurred_at,
            channel=_text(data, "channel", limit=30),
            ref=_text(data, "merge_id"),
            payload={
                "absorbed_ids": clean(data.get("absorbed_ids") or []),
                "identifier_kinds": clean(data.get("identifier_kinds") or []),
            },
        )
    profile_id = _text(data, "profile_id", limit=40)
    if profile_id is None:
        return None
    return EntryDraft(
        profile_id=profile_id,
        kind=TimelineKind.PROFILE,
        action="created",
        occurred_at=event.occurred_at,
        channel=_text(data, "channel", limit=30),
        payload={"identifier_kinds": clean(data.get("identifier_kinds") or [])},
    )


def entry_from_event(event: StoredEvent) -> EntryDraft | None:
    """The timeline entry an event makes, or None (not about a known customer, or not shown).

    Other contexts' payloads are read defensively: ``profile_id`` (or ``customer_id``),
    ``channel`` (tickets: ``source_channel``, the medium going to the payload), ``store_id`` (or
    ``store``), ``session_id``, ``occurred_at`` (ISO, defaults to the event's time), the id of
    the thing (``cart_id``, ``order_id``, …) and a few fields per family (``KEPT_FIELDS``).
    """
    if event.type.startswith("customers."):
        return _profile_entry(event)
    family = event.type.split(".", 1)[0]
    if family not in FAMILIES or event.type in SKIPPED_EVENTS:
        return None
    kind, ref_key = FAMILIES[family]
    data = event.data
    profile_id = _text(data, "profile_id", "customer_id", limit=40)
    if profile_id is None:
        return None  # an anonymous cart, a message to an unknown address
    payload = {k: clean(data[k]) for k in KEPT_FIELDS[family] if data.get(k) is not None}
    channel = _text(data, "channel", limit=30)
    if family == "tickets":
        if channel is not None:
            payload["medium"] = channel
        channel = _text(data, "source_channel", limit=30)
        personal = data.get("personal")
        if isinstance(personal, Mapping) and isinstance(personal.get("subject"), str):
            payload["subject"] = personal["subject"][:200]
    return EntryDraft(
        profile_id=profile_id,
        kind=kind,
        action=action_of(event.type, kind),
        occurred_at=_when(data, event.occurred_at),
        channel=channel,
        store_id=_text(data, "store_id", "store", limit=40),
        session_id=_text(data, "session_id"),
        ref=_text(data, ref_key) or event.subject,
        payload=payload,
    )


# ---------------------------------------------------------------------------------------------
# Ingestion: sessions, product views, searches
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ActivityInput:
    kind: TimelineKind
    action: str
    channel: str
    occurred_at: datetime | None = None  # defaults to now
    store_id: str | None = None
    session_id: str | None = None
    ref: str | None = None  # the SKU seen, the session's own id in the channel, …
    payload: Mapping[str, Any] = field(default_factory=dict)


def check_activities(activities: Sequence[ActivityInput], *, now: datetime) -> None:
    if not activities:
        raise InvalidInput("Give at least one activity.", field="activities")
    if len(activities) > MAX_ACTIVITIES:
        raise InvalidInput(
            f"At most {MAX_ACTIVITIES} activities per call; send the rest in another call.",
            field="activities",
        )
    for i, activity in enumerate(activities):
        where = f"activities[{i}]"
        actions = INGESTED_ACTIONS.get(activity.kind)
        if actions is None:
            raise InvalidInput(
                f"'{activity.kind.value}' entries come from their own context's events; the "
                f"API records {', '.join(k.value for k in INGESTED_ACTIONS)}.",
                field=f"{where}.kind",
            )
        if activity.action not in actions:
            raise InvalidInput(
                f"A {activity.kind.value} is {' or '.join(actions)}, not '{activity.action}'.",
                field=f"{where}.action",
            )
        if activity.occurred_at is not None and activity.occurred_at > now + _CLOCK_SKEW:
            raise InvalidInput("occurred_at is in the future.", field=f"{where}.occurred_at")
        size = len(json.dumps(to_jsonable(dict(activity.payload))))
        if size > MAX_PAYLOAD_BYTES:
            raise InvalidInput(
                f"The payload is {size} bytes; at most {MAX_PAYLOAD_BYTES}.",
                field=f"{where}.payload",
            )


def record_activities(
    uow: UnitOfWork, profile_id: str, activities: Sequence[ActivityInput]
) -> list[TimelineEntryRow]:
    """Records channel activity on the profile ``profile_id`` resolves to (a merged id lands on
    its survivor), one ``customers.activity.recorded`` event each."""
    now = uow.now()
    check_activities(activities, now=now)
    profile = resolve_live(uow.session, profile_id)
    rows: list[TimelineEntryRow] = []
    for activity in activities:
        row = TimelineEntryRow(
            id=new_id("act"),
            profile_id=profile.id,
            kind=activity.kind.value,
            action=activity.action,
            channel=activity.channel,
            store_id=activity.store_id,
            session_id=activity.session_id,
            ref=activity.ref,
            payload=clean(dict(activity.payload)),
            occurred_at=activity.occurred_at or now,
            recorded_at=now,
            source="api",
        )
        uow.session.add(row)
        rows.append(row)
        uow.emit(
            ev.ActivityRecorded(
                activity_id=row.id,
                profile_id=profile.id,
                kind=row.kind,
                action=row.action,
                channel=row.channel,
                store_id=row.store_id,
                session_id=row.session_id,
                ref=row.ref,
                occurred_at=row.occurred_at.isoformat(),
                personal={"payload": row.payload} if row.payload else None,
            )
        )
    uow.session.flush()
    return rows


def record_entry(uow: UnitOfWork, draft: EntryDraft, *, source: str = "api") -> TimelineEntryRow:
    """An entry another module of this context writes itself (imported purchase history)."""
    row = TimelineEntryRow(
        id=new_id("act"),
        profile_id=draft.profile_id,
        kind=draft.kind.value,
        action=draft.action,
        channel=draft.channel,
        store_id=draft.store_id,
        session_id=draft.session_id,
        ref=draft.ref,
        payload=clean(draft.payload),
        occurred_at=draft.occurred_at,
        recorded_at=uow.now(),
        source=source,
    )
    uow.session.add(row)
    return row


def record_for_identifiers(
    uow: UnitOfWork,
    identifiers: Sequence[Identifier],
    activities: Sequence[ActivityInput],
    *,
    channel: str,
    source_ref: str | None = None,
) -> tuple[IdentifyResult, list[TimelineEntryRow]]:
    """Activity carrying identifiers instead of a profile id (an app session by device id, a
    visit by first-party cookie): resolved through ``identify``, which links them (a login
    with the device id joins both) and creates a profile for a first-time visitor."""
    check_activities(activities, now=uow.now())
    result = identify(uow, identifiers=identifiers, channel=channel, source_ref=source_ref)
    return result, record_activities(uow, result.profile_id, activities)


# ---------------------------------------------------------------------------------------------
# The consumer
# ---------------------------------------------------------------------------------------------


def _repoint(uow: UnitOfWork, event: StoredEvent) -> None:
    survivor = event.data.get("survivor_id")
    absorbed = [i for i in event.data.get("absorbed_ids") or [] if isinstance(i, str)]
    if isinstance(survivor, str) and absorbed:
        uow.session.execute(
            update(TimelineEntryRow)
            .where(TimelineEntryRow.profile_id.in_(absorbed))
            .values(profile_id=survivor)
        )


def on_event(uow: UnitOfWork, event: StoredEvent) -> None:
    """``customers.timeline``: one entry per event about a known, live customer."""
    if event.type == "customers.profile.merged":
        _repoint(uow, event)
    draft = entry_from_event(event)
    if draft is None:
        return
    try:
        profile = resolve(uow.session, draft.profile_id)
    except NotFound:
        return  # an id this context never issued: nothing to attach it to
    if profile.status == "erased":
        return  # never write a new trace of an erased person
    uow.session.add(
        TimelineEntryRow(
            id=new_id("act"),
            profile_id=profile.id,
            kind=draft.kind.value,
            action=draft.action,
            channel=draft.channel,
            store_id=draft.store_id,
            session_id=draft.session_id,
            ref=draft.ref,
            payload=draft.payload,
            occurred_at=draft.occurred_at,
            recorded_at=uow.now(),
            source="event",
            source_event_id=event.id,
            source_event_type=event.type,
        )
    )


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def parse_kinds(raw: Iterable[str]) -> list[TimelineKind]:
    out: list[TimelineKind] = []
    for value in raw:
        for part in value.split(","):
            name = part.strip().lower()
            if not name:
                continue
            try:
                out.append(TimelineKind(name))
            except ValueError:
                known = ", ".join(k.value for k in TimelineKind)
                raise InvalidInput(
                    f"Unknown timeline kind '{name}'; use one of {known}.", field="kind"
                ) from None
    return sorted(set(out))


@dataclass(frozen=True, slots=True)
class TimelinePage:
    profile: CustomerProfileRow
    entries: list[TimelineEntryRow]
    next_cursor: str | None


def _after(cursor: str) -> Any:
    values = decode_cursor(cursor)
    try:
        at = datetime.fromisoformat(str(values[0]))
        last_seq = int(values[1])
    except (ValueError, IndexError, TypeError):
        decode_cursor("!")  # raises the same actionable error as a garbled cursor
        raise
    if at.tzinfo is None:
        decode_cursor("!")
    return or_(
        TimelineEntryRow.occurred_at < at,
        and_(TimelineEntryRow.occurred_at == at, TimelineEntryRow.seq < last_seq),
    )


def timeline_page(
    session: Session,
    profile_id: str,
    *,
    kinds: Sequence[TimelineKind] = (),
    cursor: str | None = None,
    limit: int = 50,
) -> TimelinePage:
    """Newest first. A merged id reads its survivor's timeline, which includes every profile
    merged into it."""
    check_limit(limit)
    profile = resolve_live(session, profile_id)
    ids = [profile.id, *absorbed_ids(session, profile.id)]
    stmt = select(TimelineEntryRow).where(TimelineEntryRow.profile_id.in_(ids))
    if kinds:
        stmt = stmt.where(TimelineEntryRow.kind.in_([k.value for k in kinds]))
    if cursor:
        stmt = stmt.where(_after(cursor))
    stmt = stmt.order_by(TimelineEntryRow.occurred_at.desc(), TimelineEntryRow.seq.desc())
    rows = list(session.scalars(stmt.limit(limit + 1)))
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1].occurred_at.isoformat(), rows[-1].seq])
    return TimelinePage(profile=profile, entries=rows, next_cursor=next_cursor)


# ---------------------------------------------------------------------------------------------
# Personal data
# ---------------------------------------------------------------------------------------------

_EXPORTED = (
    "id",
    "kind",
    "action",
    "channel",
    "store_id",
    "session_id",
    "ref",
    "payload",
    "occurred_at",
    "source",
    "source_event_type",
)


def export_entries(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(TimelineEntryRow)
        .where(TimelineEntryRow.profile_id.in_(ids))
        .order_by(TimelineEntryRow.occurred_at, TimelineEntryRow.seq)
    )
    return [{n: to_jsonable(getattr(r, n)) for n in _EXPORTED} for r in rows]


def erase_entries(uow: UnitOfWork, ids: Sequence[str]) -> int:
    """The timeline of an erased person goes entirely (searches and pages seen are personal)."""
    result = uow.session.execute(
        delete(TimelineEntryRow).where(TimelineEntryRow.profile_id.in_(ids))
    )
    return int(getattr(result, "rowcount", 0) or 0)
