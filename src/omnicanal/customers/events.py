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
