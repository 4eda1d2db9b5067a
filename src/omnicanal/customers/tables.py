"""Customer tables: profiles, identifiers, merge lineage, consents and their history, metrics."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from omnicanal.storage.base import Base, JsonType

BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class CustomerProfileRow(Base):
    """One person. ``merged`` profiles point at their survivor; ``erased`` ones are tombstones
    (id and dates only) so an erased person is never resurrected from old data."""

    __tablename__ = "customer_profiles"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default="active")  # active | merged | erased
    merged_into: Mapped[str | None] = mapped_column(ForeignKey("customer_profiles.id"))
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    # field -> {"value", "source", "trust", "at"}: survivorship needs every value's provenance
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_channel: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]  # last identify or change: drives the retention sweeper
    merged_at: Mapped[datetime | None]
    erased_at: Mapped[datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('active', 'merged', 'erased')", name="status"),
        CheckConstraint(
            "(status = 'merged') = (merged_into IS NOT NULL)", name="merged_has_survivor"
        ),
        Index("ix_customer_profiles_merged_into", "merged_into"),
        Index("ix_customer_profiles_status_last_seen", "status", "last_seen_at"),
        Index("ix_customer_profiles_family_name", "family_name"),
    )


class CustomerIdentifierRow(Base):
    """An identifier belongs to at most one profile: the unique (kind, value) enforces it even
    under concurrent identify calls."""

    __tablename__ = "customer_identifiers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(320))
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    source_channel: Mapped[str] = mapped_column(String(30))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("kind", "value", name="uq_customer_identifiers_kind_value"),
        Index("ix_customer_identifiers_profile", "profile_id"),
    )


class CustomerMergeRow(Base):
    """Lineage: one row per merge, never updated. Holds ids and kinds only, no personal data."""

    __tablename__ = "customer_merges"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    survivor_id: Mapped[str] = mapped_column(String(40))
    absorbed_ids: Mapped[list[str]] = mapped_column(JsonType)
    # [{"identifier_id": "idn_…", "kind": "email", "profile_id": "cus_…"}]: what linked them
    caused_by: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    rule: Mapped[str] = mapped_column(String(60))
    source_channel: Mapped[str] = mapped_column(String(30))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    at: Mapped[datetime]

    __table_args__ = (Index("ix_customer_merges_survivor", "survivor_id", "at"),)


class CustomerConsentRow(Base):
    """The current state of one purpose in one channel scope ('*' = every channel)."""

    __tablename__ = "customer_consents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    profile_id: Mapped[str] = mapped_column(ForeignKey("customer_profiles.id"))
    purpose: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))
    legal_basis: Mapped[str] = mapped_column(String(30))
    source_channel: Mapped[str] = mapped_column(String(30))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    captured_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("profile_id", "purpose", "scope", name="uq_customer_consents_key"),
        CheckConstraint(
            "status IN ('granted', 'denied', 'withdrawn', 'lapsed')", name="consent_status"
        ),
        CheckConstraint(
            "purpose IN ('marketing_email', 'sms', 'push', 'personalisation', 'analytics')",
            name="consent_purpose",
        ),
        Index("ix_customer_consents_expiry", "status", "expires_at"),
    )


class CustomerConsentHistoryRow(Base):
    """Append-only: every consent change as it was captured (proof of consent)."""

    __tablename__ = "customer_consent_history"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    consent_id: Mapped[str] = mapped_column(String(40))
    profile_id: Mapped[str] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(30))
    scope: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(12))
    legal_basis: Mapped[str] = mapped_column(String(30))
    source_channel: Mapped[str] = mapped_column(String(30))
    source_ref: Mapped[str | None] = mapped_column(String(200))
    captured_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(String(200))  # "global withdrawal", "merged from …"

    __table_args__ = (Index("ix_customer_consent_history_profile", "profile_id", "seq"),)


class IdentityMetricRow(Base):
    """One row per identify call: kinds matched and time to unification (no personal data)."""

    __tablename__ = "customer_identity_metrics"

    seq: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))  # created | matched | linked | merged
    kinds: Mapped[list[str]] = mapped_column(JsonType)  # kinds carried by the call
    matched_kinds: Mapped[list[str]] = mapped_column(JsonType)  # kinds already known
    pairs: Mapped[list[str]] = mapped_column(JsonType)  # "email↔loyalty_card", …
    occurred_at: Mapped[datetime]  # when the channel saw the event (defaults to received_at)
    received_at: Mapped[datetime]
    unified_at: Mapped[datetime]
    time_to_unification_ms: Mapped[float]

    __table_args__ = (Index("ix_customer_identity_metrics_received", "received_at"),)
