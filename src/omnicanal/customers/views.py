"""Read side: lookups a store associate makes, the full profile, identity metrics."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from omnicanal.customers.model import (
    Identifier,
    IdentifierKind,
    normalise_card,
    normalise_email,
    normalise_phone,
    percentile,
)
from omnicanal.customers.service import resolve
from omnicanal.customers.tables import (
    CustomerConsentHistoryRow,
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerMergeRow,
    CustomerProfileRow,
    IdentityMetricRow,
)
from omnicanal.shared.errors import InvalidInput
from omnicanal.storage.paging import keyset_page


def lookup_identifiers(
    *, email: str | None, phone: str | None, card: str | None
) -> list[Identifier]:
    out: list[Identifier] = []
    if email is not None:
        out.append(Identifier(IdentifierKind.EMAIL.value, normalise_email(email)))
    if phone is not None:
        out.append(Identifier(IdentifierKind.PHONE.value, normalise_phone(phone)))
    if card is not None:
        out.append(Identifier(IdentifierKind.LOYALTY_CARD.value, normalise_card(card)))
    return out


def _q_identifiers(q: str) -> list[Identifier]:
    """What a free-text query may also be: an email, a phone number, a card number."""
    out: list[Identifier] = []
    for kind, parse in (
        (IdentifierKind.EMAIL, normalise_email),
        (IdentifierKind.PHONE, normalise_phone),
        (IdentifierKind.LOYALTY_CARD, normalise_card),
    ):
        try:
            out.append(Identifier(kind.value, parse(q)))
        except InvalidInput:
            continue
    return out


def find_profiles(
    session: Session,
    *,
    email: str | None = None,
    phone: str | None = None,
    card: str | None = None,
    q: str | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[CustomerProfileRow], str | None]:
    """Active profiles matching every given identifier, and ``q`` (a name, an email, a phone or
    a card number). Merged profiles never show: their identifiers live on the survivor."""
    stmt = select(CustomerProfileRow).where(CustomerProfileRow.status == "active")
    for ident in lookup_identifiers(email=email, phone=phone, card=card):
        stmt = stmt.where(
            exists().where(
                CustomerIdentifierRow.profile_id == CustomerProfileRow.id,
                CustomerIdentifierRow.kind == ident.kind,
                CustomerIdentifierRow.value == ident.value,
            )
        )
    if q is not None:
        text = q.strip()
        if len(text) < 2:
            raise InvalidInput("q needs at least 2 characters.", field="q")
        pattern = "%" + text.replace("\\", "").replace("%", "").replace("_", "") + "%"
        conditions: list[Any] = [
            CustomerProfileRow.family_name.ilike(pattern),
            CustomerProfileRow.given_name.ilike(pattern),
        ]
        conditions += [
            exists().where(
                CustomerIdentifierRow.profile_id == CustomerProfileRow.id,
                CustomerIdentifierRow.kind == ident.kind,
                CustomerIdentifierRow.value == ident.value,
            )
            for ident in _q_identifiers(text)
        ]
        stmt = stmt.where(or_(*conditions))
    return keyset_page(session, stmt, order_by=[CustomerProfileRow.id], cursor=cursor, limit=limit)


def identifiers_of(session: Session, profile_ids: Sequence[str]) -> list[CustomerIdentifierRow]:
    return list(
        session.scalars(
            select(CustomerIdentifierRow)
            .where(CustomerIdentifierRow.profile_id.in_(profile_ids))
            .order_by(CustomerIdentifierRow.kind, CustomerIdentifierRow.first_seen)
        )
    )


def absorbed_ids(session: Session, profile_id: str) -> list[str]:
    return list(
        session.scalars(
            select(CustomerProfileRow.id)
            .where(CustomerProfileRow.merged_into == profile_id)
            .order_by(CustomerProfileRow.id)
        )
    )


def lineage(session: Session, ids: Sequence[str]) -> list[CustomerMergeRow]:
    return list(
        session.scalars(
            select(CustomerMergeRow)
            .where(CustomerMergeRow.survivor_id.in_(ids))
            .order_by(CustomerMergeRow.at, CustomerMergeRow.id)
        )
    )


def consents_of(session: Session, profile_id: str) -> list[CustomerConsentRow]:
    return list(
        session.scalars(
            select(CustomerConsentRow)
            .where(CustomerConsentRow.profile_id == profile_id)
            .order_by(CustomerConsentRow.purpose, CustomerConsentRow.scope)
        )
    )


def consent_history(session: Session, ids: Sequence[str]) -> list[CustomerConsentHistoryRow]:
    return list(
        session.scalars(
            select(CustomerConsentHistoryRow)
            .where(CustomerConsentHistoryRow.profile_id.in_(ids))
            .order_by(CustomerConsentHistoryRow.seq)
        )
    )


@dataclass(frozen=True, slots=True)
class ProfileView:
    profile: CustomerProfileRow
    requested_id: str
    absorbed_ids: list[str]
    identifiers: list[CustomerIdentifierRow]
    consents: list[CustomerConsentRow]
    lineage: list[CustomerMergeRow]


def profile_view(session: Session, profile_id: str) -> ProfileView:
    """The profile ``profile_id`` resolves to (a merged id gives its survivor), with everything
    attached. An erased profile comes back as its tombstone: callers answer 410."""
    profile = resolve(session, profile_id)
    absorbed = absorbed_ids(session, profile.id)
    return ProfileView(
        profile=profile,
        requested_id=profile_id,
        absorbed_ids=absorbed,
        identifiers=identifiers_of(session, [profile.id]),
        consents=consents_of(session, profile.id),
        lineage=lineage(session, [profile.id, *absorbed]),
    )


def identity_metrics(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """Match counts per identifier-kind pair and per channel, and time-to-unification p50/p99."""
    stmt = select(
        IdentityMetricRow.channel,
        IdentityMetricRow.outcome,
        IdentityMetricRow.matched_kinds,
        IdentityMetricRow.pairs,
        IdentityMetricRow.time_to_unification_ms,
    )
    if since is not None:
        stmt = stmt.where(IdentityMetricRow.received_at >= since)
    if until is not None:
        stmt = stmt.where(IdentityMetricRow.received_at < until)
    if channel is not None:
        stmt = stmt.where(IdentityMetricRow.channel == channel)
    pairs: Counter[str] = Counter()
    by_channel: Counter[tuple[str, str]] = Counter()
    outcomes: Counter[str] = Counter()
    calls_by_channel: Counter[str] = Counter()
    recognised_by_channel: Counter[str] = Counter()
    ttu: list[float] = []
    for ch, outcome, matched, call_pairs, ms in session.execute(stmt):
        outcomes[outcome] += 1
        calls_by_channel[ch] += 1
        if matched:
            recognised_by_channel[ch] += 1
        pairs.update(call_pairs or [])
        by_channel.update((ch, kind) for kind in matched or [])
        ttu.append(float(ms))
    calls = sum(outcomes.values())
    return {
        "calls": calls,
        "outcomes": dict(sorted(outcomes.items())),
        "pairs": [{"pair": p, "count": n} for p, n in sorted(pairs.items())],
        "matched_by_channel": [
            {"channel": ch, "kind": kind, "count": n}
            for (ch, kind), n in sorted(by_channel.items())
        ],
        "recognition_rate_by_channel": [
            {
                "channel": ch,
                "calls": n,
                "recognised": recognised_by_channel[ch],
                "rate": round(recognised_by_channel[ch] / n, 4),
            }
            for ch, n in sorted(calls_by_channel.items())
        ],
        "time_to_unification_ms": {
            "count": len(ttu),
            "p50": percentile(ttu, 50),
            "p99": percentile(ttu, 99),
            "max": max(ttu) if ttu else None,
        },
    }
