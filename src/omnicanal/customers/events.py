"""Customer events. Personal data only ever sits under the ``personal`` key of a payload, so
erasure can blank it in every kept event (``customers.erasure.redact_payload``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from omnicanal.events.model import Event

PERSONAL_KEY = "personal"


@dataclass(frozen=True, kw_only=True)
class ProfileCreated(Event):
    type = "customers.profile.created"
    profile_id: str
    channel: str
    source_ref: str | None = None
    identifier_kinds: list[str] = field(default_factory=list)
    personal: dict[str, Any] | None = None  # {"identifiers": [...], "given_name": ...}

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class IdentifierLinked(Event):
    type = "customers.identifier.linked"
    profile_id: str
    identifier_id: str
    kind: str
    channel: str
    source_ref: str | None = None
    personal: dict[str, Any] | None = None  # {"value": "..."} (device ids: the hash)

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class ProfileMerged(Event):
    """Every context holding a profile id (orders, carts, loyalty) re-points absorbed ids to
    the survivor when it sees this."""

    type = "customers.profile.merged"
    merge_id: str
    survivor_id: str
    absorbed_ids: list[str]
    identifier_kinds: list[str]
    channel: str
    source_ref: str | None = None

    @property
    def subject(self) -> str:
        return self.survivor_id


@dataclass(frozen=True, kw_only=True)
class ProfileUpdated(Event):
    type = "customers.profile.updated"
    profile_id: str
    changed: list[str]
    channel: str
    personal: dict[str, Any] | None = None  # the new values of the changed fields

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class ConsentChanged(Event):
    type = "customers.consent.changed"
    profile_id: str
    consent_id: str
    purpose: str
    scope: str
    status: str
    legal_basis: str
    source_channel: str
    captured_at: str
    expires_at: str | None = None
    note: str | None = None

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class ProfileErased(Event):
    """Every context erases or pseudonymises what it holds on these profile ids."""

    type = "customers.profile.erased"
    profile_id: str
    erased_ids: list[str]
    erased_at: str
    reason: str

    @property
    def subject(self) -> str:
        return self.profile_id


# --- timeline, RFM attributes and segments -----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ActivityRecorded(Event):
    """Channel activity with no other home (a session, a product view, a search) recorded on
    the timeline. A search's text is personal: it sits under ``personal``."""

    type = "customers.activity.recorded"
    activity_id: str
    profile_id: str
    kind: str
    action: str
    channel: str | None
    store_id: str | None = None
    session_id: str | None = None
    ref: str | None = None
    occurred_at: str
    personal: dict[str, Any] | None = None

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class AttributesChanged(Event):
    """A profile's RFM attributes moved (a purchase, a return, a merge, time passing). Money as
    a decimal string with its currency; no personal data."""

    type = "customers.attributes.changed"
    profile_id: str
    frequency: int
    last_purchase_at: str | None
    monetary: dict[str, str] | None  # {"amount": "59.90", "currency": "EUR"}, net of refunds
    return_count: int
    r_score: int | None
    f_score: int | None
    m_score: int | None
    cause: str  # purchase | return | correction | cancellation | merge | review | import

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class SegmentDefined(Event):
    type = "customers.segment.defined"
    segment_id: str
    name: str
    rule: dict[str, Any]
    member_count: int
    change: str  # created | updated

    @property
    def subject(self) -> str:
        return self.segment_id


@dataclass(frozen=True, kw_only=True)
class SegmentEntered(Event):
    type = "customers.segment.entered"
    segment_id: str
    profile_id: str
    cause: str  # the attribute change, the segment's (re)definition, a merge

    @property
    def subject(self) -> str:
        return self.profile_id


@dataclass(frozen=True, kw_only=True)
class SegmentLeft(Event):
    type = "customers.segment.left"
    segment_id: str
    profile_id: str
    cause: str

    @property
    def subject(self) -> str:
        return self.profile_id


# --- probable duplicates -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class DuplicateFound(Event):
    """A scan put a new pair of profiles in the review queue (ids and weights, no values)."""

    type = "customers.duplicate.found"
    candidate_id: str
    left_id: str
    right_id: str
    match_weight: float
    match_probability: float

    @property
    def subject(self) -> str:
        return self.candidate_id


@dataclass(frozen=True, kw_only=True)
class DuplicateAccepted(Event):
    """A reviewer confirmed the pair is one person; ``customers.profile.merged`` follows it."""

    type = "customers.duplicate.accepted"
    candidate_id: str
    left_id: str
    right_id: str
    merge_id: str | None  # None when the two were already one profile
    survivor_id: str
    decided_by: str

    @property
    def subject(self) -> str:
        return self.candidate_id


@dataclass(frozen=True, kw_only=True)
class DuplicateRejected(Event):
    """A reviewer said the pair is two people: later scans never propose it again."""

    type = "customers.duplicate.rejected"
    candidate_id: str
    left_id: str
    right_id: str
    decided_by: str

    @property
    def subject(self) -> str:
        return self.candidate_id
