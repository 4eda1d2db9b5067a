"""The price consistency audit: at an instant, every SKU whose price differs between channels,
stores or territories, each difference with whether a justification covers it.

Unjustified means one of two things (docs/pricing.md):
- an override imported from a legacy system without a reason and an owner (it applies: it is
  what is charged, until someone approves or ends it);
- a price a channel reported charging (``POST /v1/pricing/observations``) that is not what the
  rules gave its context at that instant: a till selling at another price without any rule.
  The latest observation per (SKU, currency, channel, store) within ``OBSERVATION_LOOKBACK``
  counts; one made before the base price last changed is stale and ignored.

``audit`` only reads. ``run_audit`` also emits ``pricing.difference.unjustified`` once per
difference (again only when it changes) and ``pricing.difference.cleared`` when one is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, tuple_
from sqlalchemy.orm import Session

from omnicanal.catalog.tables import BasePriceRow
from omnicanal.locations.tables import LocationRow
from omnicanal.pricing import events as ev
from omnicanal.pricing.model import (
    Difference,
    Observation,
    PriceOverride,
    observation_difference,
    override_differences,
)
from omnicanal.pricing.service import amount_text, in_force, overrides_of
from omnicanal.pricing.tables import PriceObservationRow, PriceOverrideRow, PricingFlagRow
from omnicanal.shared.money import Money
from omnicanal.shared.pagination import check_limit, decode_cursor, encode_cursor
from omnicanal.storage.uow import UnitOfWork

OBSERVATION_LOOKBACK = timedelta(days=30)

Pair = tuple[str, str]  # (sku, currency)


@dataclass(frozen=True, slots=True)
class SkuAudit:
    sku: str
    currency: str
    base: Money
    differences: list[Difference]


@dataclass(frozen=True, slots=True)
class AuditReport:
    at: datetime
    entries: list[SkuAudit]
    next_cursor: str | None

    @property
    def unjustified(self) -> list[Difference]:
        return [d for e in self.entries for d in e.differences if not d.justified]


def _candidates(
    session: Session, *, at: datetime, currency: str | None, sku: str | None
) -> set[Pair]:
    """SKUs that may differ: an override in force or a recent observation."""
    overridden = select(PriceOverrideRow.sku, PriceOverrideRow.currency).where(in_force(at))
    observed = select(PriceObservationRow.sku, PriceObservationRow.currency).where(
        PriceObservationRow.observed_at <= at,
        PriceObservationRow.observed_at > at - OBSERVATION_LOOKBACK,
    )
    if currency is not None:
        overridden = overridden.where(PriceOverrideRow.currency == currency)
        observed = observed.where(PriceObservationRow.currency == currency)
    if sku is not None:
        overridden = overridden.where(PriceOverrideRow.sku == sku)
        observed = observed.where(PriceObservationRow.sku == sku)
    pairs: set[Pair] = set()
    for stmt in (overridden.distinct(), observed.distinct()):
        pairs.update((row[0], row[1]) for row in session.execute(stmt))
    return pairs


def _latest_observations(session: Session, pairs: list[Pair], at: datetime) -> list[Observation]:
    o = PriceObservationRow
    window = and_(
        tuple_(o.sku, o.currency).in_(pairs),
        o.observed_at <= at,
        o.observed_at > at - OBSERVATION_LOOKBACK,
    )
    latest = (
        select(o.sku, o.currency, o.channel, o.store_id, func.max(o.observed_at).label("last"))
        .where(window)
        .group_by(o.sku, o.currency, o.channel, o.store_id)
        .subquery()
    )
    rows = session.scalars(
        select(o)
        .join(
            latest,
            and_(
                o.sku == latest.c.sku,
                o.currency == latest.c.currency,
                o.channel == latest.c.channel,
                o.store_id.is_not_distinct_from(latest.c.store_id),
                o.observed_at == latest.c.last,
            ),
        )
        .order_by(o.id)
    ).all()
    chosen: dict[tuple[str, str, str, str | None], PriceObservationRow] = {}
    for row in rows:  # two reports at the same instant: the last recorded
        chosen[(row.sku, row.currency, row.channel, row.store_id)] = row
    return [
        Observation(
            id=row.id,
            sku=row.sku,
            price=Money(row.amount_minor, row.currency),
            channel=row.channel,
            store_id=row.store_id,
            territory=None,
            observed_at=row.observed_at,
        )
        for row in chosen.values()
    ]


def audit(
    session: Session,
    *,
    at: datetime,
    currency: str | None = None,
    sku: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> AuditReport:
    """One page of SKUs (ordered by SKU, currency) with their differences at ``at``; SKUs whose
    price is the same everywhere are left out. A bounded number of queries per page."""
    check_limit(limit)
    pairs = sorted(_candidates(session, at=at, currency=currency, sku=sku))
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2:
            decode_cursor("!")
        after = (str(values[0]), str(values[1]))
        pairs = [p for p in pairs if p > after]
    entries: list[SkuAudit] = []
    next_cursor: str | None = None
    # SKUs without any difference are skipped, so read candidates until the page is full
    while pairs and len(entries) < limit:
        batch, pairs = pairs[: limit * 2], pairs[limit * 2 :]
        for entry in _audit_pairs(session, batch, at=at):
            if len(entries) == limit:
                next_cursor = encode_cursor([entries[-1].sku, entries[-1].currency])
                break
            entries.append(entry)
    if next_cursor is None and pairs and entries:
        next_cursor = encode_cursor([entries[-1].sku, entries[-1].currency])
    return AuditReport(at=at, entries=entries, next_cursor=next_cursor)


def _audit_pairs(session: Session, pairs: list[Pair], *, at: datetime) -> list[SkuAudit]:
    skus = {sku for sku, _ in pairs}
    bases = {
        (row.sku, row.currency): row
        for row in session.scalars(
            select(BasePriceRow).where(tuple_(BasePriceRow.sku, BasePriceRow.currency).in_(pairs))
        )
    }
    overrides: dict[Pair, list[PriceOverride]] = {}
    for o in overrides_of(session, skus):
        overrides.setdefault((o.sku, o.price.currency), []).append(o)
    observations = _latest_observations(session, pairs, at)
    stores = {o.scope.store_id for group in overrides.values() for o in group if o.scope.store_id}
    stores |= {obs.store_id for obs in observations if obs.store_id}
    territories: dict[str, str | None] = {
        row[0]: row[1]
        for row in session.execute(
            select(LocationRow.id, LocationRow.territory).where(LocationRow.id.in_(sorted(stores)))
        )
    }
    observed: dict[Pair, list[Observation]] = {}
    for obs in observations:
        observed.setdefault((obs.sku, obs.price.currency), []).append(obs)
    entries = []
    for pair in pairs:
        base_row = bases.get(pair)
        if base_row is None:
            continue  # no base price: nothing sells in this currency, nothing to compare
        base = Money(base_row.amount_minor, base_row.currency)
        found = override_differences(
            pair[0], base, overrides.get(pair, []), at=at, store_territories=territories
        )
        for obs in sorted(observed.get(pair, []), key=lambda o: (o.channel, o.store_id or "")):
            if obs.observed_at < base_row.updated_at:
                continue  # charged before the base price changed: says nothing of today
            located = Observation(
                id=obs.id,
                sku=obs.sku,
                price=obs.price,
                channel=obs.channel,
                store_id=obs.store_id,
                territory=territories.get(obs.store_id) if obs.store_id else None,
                observed_at=obs.observed_at,
            )
            difference = observation_difference(located, base, overrides.get(pair, []))
            if difference is not None:
                found.append(difference)
        if found:
            entries.append(SkuAudit(sku=pair[0], currency=pair[1], base=base, differences=found))
    return entries


@dataclass(frozen=True, slots=True)
class AuditRun:
    at: datetime
    skus: int  # SKUs with at least one difference
    differences: int
    unjustified: int
    flagged: int  # pricing.difference.unjustified events emitted by this run
    cleared: int  # pricing.difference.cleared events emitted by this run


def run_audit(uow: UnitOfWork, *, at: datetime | None = None) -> AuditRun:
    """Audit every SKU at ``at`` (default now) and flag the unjustified differences as events,
    each once until it changes; a flagged difference that is gone is cleared."""
    session = uow.session
    when = at or uow.now()
    entries: list[SkuAudit] = []
    cursor: str | None = None
    while True:
        page = audit(session, at=when, cursor=cursor, limit=200)
        entries += page.entries
        cursor = page.next_cursor
        if cursor is None:
            break
    unjustified = {d.key: d for e in entries for d in e.differences if not d.justified}
    flags = {
        row.key: row
        for row in session.scalars(
            select(PricingFlagRow).where(PricingFlagRow.cleared_at.is_(None)).with_for_update()
        )
    }
    flagged = 0
    for key, difference in sorted(unjustified.items()):
        row = flags.get(key) or session.get(PricingFlagRow, key)
        if row is not None and row.cleared_at is None and row.signature == difference.signature:
            continue
        if row is None:
            row = PricingFlagRow(key=key, sku=difference.sku, currency=difference.currency)
            session.add(row)
        row.signature = difference.signature
        row.flagged_at = uow.now()
        row.cleared_at = None
        uow.emit(_unjustified_event(difference, when))
        flagged += 1
    cleared = 0
    for key, row in sorted(flags.items()):
        if key not in unjustified:
            row.cleared_at = uow.now()
            uow.emit(
                ev.DifferenceCleared(
                    key=key, sku=row.sku, currency=row.currency, audited_at=when.isoformat()
                )
            )
            cleared += 1
    session.flush()
    return AuditRun(
        at=when,
        skus=len(entries),
        differences=sum(len(e.differences) for e in entries),
        unjustified=len(unjustified),
        flagged=flagged,
        cleared=cleared,
    )


def _unjustified_event(d: Difference, at: datetime) -> ev.DifferenceUnjustified:
    return ev.DifferenceUnjustified(
        key=d.key,
        sku=d.sku,
        currency=d.currency,
        source=d.source.value,
        base_amount=amount_text(d.base),
        amount=amount_text(d.price),
        expected_amount=amount_text(d.expected),
        channels=list(d.channels),
        store_id=d.store_id,
        territory=d.territory,
        override_id=d.override.id if d.override else None,
        observation_id=d.observation_id,
        problem=d.problem or "",
        audited_at=at.isoformat(),
    )
