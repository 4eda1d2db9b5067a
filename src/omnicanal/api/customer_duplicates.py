"""/v1/customers/duplicates: the review queue of probable duplicate profiles.

Mounted before the customers router: ``GET /v1/customers/duplicates`` would otherwise be read as
``GET /v1/customers/{customer_id}`` with the id "duplicates".
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Channel, Principal
from omnicanal.customers import duplicates
from omnicanal.customers.duplicate_tables import DuplicateCandidateRow
from omnicanal.customers.matching import DEFAULT_THRESHOLD
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.shared.errors import Forbidden
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/customers/duplicates", tags=["customers"])

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    threshold: float = Field(
        default=DEFAULT_THRESHOLD,
        ge=duplicates.MIN_THRESHOLD,
        lt=1,
        description="Match probability from which a pair is queued for review.",
    )


class ScanOut(BaseModel):
    profiles: int = Field(description="Live profiles compared (neither merged nor erased).")
    fields: list[str] = Field(description="The fields compared: those at least two carry.")
    trained: bool = Field(
        description="Whether the model learnt its parameters from these profiles (a large "
        "enough base) or used its priors."
    )
    threshold: float
    seconds: float = Field(description="Time the matcher took.")
    found: int = Field(description="Pairs at or above the threshold.")
    opened: int = Field(description="New pairs in the queue.")
    rescored: int = Field(description="Pairs already open, with refreshed weights.")
    still_rejected: int = Field(description="Pairs found again but rejected before: not queued.")
    withdrawn: int = Field(description="Open pairs not found again: removed from the queue.")


class FieldAgreementOut(BaseModel):
    field: str
    level: str = Field(
        description="exact, swapped (given and family names), close, similar, one typo, "
        "two typos, different, missing"
    )
    match_weight: float = Field(description="This field's contribution to the match weight.")


class ProfileSide(BaseModel):
    id: str
    status: str = Field(description="active, merged (then see merged_into) or erased")
    merged_into: str | None
    given_name: str | None
    family_name: str | None
    attributes: dict[str, str] = Field(description="Current values, without provenance.")
    created_at: datetime


class CandidatePublic(BaseModel):
    id: str
    status: Literal["open", "accepted", "rejected"]
    match_weight: float = Field(
        description="log2 of how much likelier these agreements are for one person than two."
    )
    match_probability: float
    explanation: list[FieldAgreementOut]
    left: ProfileSide
    right: ProfileSide
    found_at: datetime
    scored_at: datetime
    decided_by: str | None
    decided_channel: str | None
    decided_at: datetime | None
    note: str | None
    merge_id: str | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(
        default=None,
        max_length=200,
        description="Why (kept with the decision). Must not contain personal data.",
    )


class MergeOut(BaseModel):
    id: str
    survivor_id: str
    absorbed_ids: list[str]


class AcceptOut(BaseModel):
    candidate: CandidatePublic
    merge: MergeOut | None = Field(
        description="The merge made; null when the two were already one profile or on a retry."
    )


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _side(profile: CustomerProfileRow) -> ProfileSide:
    return ProfileSide(
        id=profile.id,
        status=profile.status,
        merged_into=profile.merged_into,
        given_name=profile.given_name,
        family_name=profile.family_name,
        attributes={n: str(v.get("value")) for n, v in (profile.attributes or {}).items()},
        created_at=profile.created_at,
    )


def _public(row: DuplicateCandidateRow, profiles: dict[str, CustomerProfileRow]) -> CandidatePublic:
    return CandidatePublic(
        id=row.id,
        status=duplicates.parse_status(row.status),
        match_weight=row.match_weight,
        match_probability=row.match_probability,
        explanation=[FieldAgreementOut.model_validate(e) for e in row.explanation],
        left=_side(profiles[row.left_id]),
        right=_side(profiles[row.right_id]),
        found_at=row.found_at,
        scored_at=row.scored_at,
        decided_by=row.decided_by,
        decided_channel=row.decided_channel,
        decided_at=row.decided_at,
        note=row.note,
        merge_id=row.merge_id,
    )


def _public_in(uow: UnitOfWork, row: DuplicateCandidateRow) -> CandidatePublic:
    uow.session.flush()
    profiles = duplicates.profiles_by_id(uow.session, [row.left_id, row.right_id])
    return _public(row, profiles)


def _require_admin(principal: Principal) -> None:
    if principal.channel is not Channel.ADMIN:
        raise Forbidden(
            "Scanning the whole customer base is a head-office job: use an admin key.",
            code="admin-only",
        )


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("/scan", response_model=ScanOut)
def scan(
    db: DbDep,
    write: Annotated[Write, Depends(writer("customers:write"))],
    body: ScanIn | None = None,
) -> object:
    """Run the probabilistic matcher over every live profile and refresh the review queue.
    Rejected pairs stay rejected. Admin keys only."""
    _require_admin(write.principal)
    threshold = (body or ScanIn()).threshold
    # scored in a read session: the matcher runs without holding the write lock
    with db.read() as session:
        run = duplicates.score_live_profiles(session, threshold=threshold)

    def use_case(uow: UnitOfWork) -> ScanOut:
        report = duplicates.record_scan(uow, run)
        return ScanOut(
            profiles=report.profiles,
            fields=report.fields,
            trained=report.trained,
            threshold=report.threshold,
            seconds=report.seconds,
            found=report.found,
            opened=report.opened,
            rescored=report.rescored,
            still_rejected=report.still_rejected,
            withdrawn=report.withdrawn,
        )

    return write.run(use_case)


@router.get("", response_model=Page[CandidatePublic])
def list_candidates(
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    status: Annotated[
        str, Query(description="open (the queue, default), accepted or rejected")
    ] = "open",
    customer_id: Annotated[
        str | None, Query(description="Only pairs involving this profile.")
    ] = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """The review queue, strongest match first, with both profiles side by side."""
    parsed = duplicates.parse_status(status)
    with db.read() as session:
        rows, next_cursor = duplicates.list_candidates(
            session, status=parsed, customer_id=customer_id, cursor=cursor, limit=limit
        )
        profiles = duplicates.profiles_by_id(
            session, [i for r in rows for i in (r.left_id, r.right_id)]
        )
        return Page[CandidatePublic](
            data=[_public(r, profiles) for r in rows], next_cursor=next_cursor
        )


@router.get("/{candidate_id}", response_model=CandidatePublic)
def get_candidate(
    candidate_id: str, db: DbDep, _: Annotated[Principal, Depends(require("customers:read"))]
) -> object:
    with db.read() as session:
        row = duplicates.get_candidate(session, candidate_id)
        return _public(row, duplicates.profiles_by_id(session, [row.left_id, row.right_id]))


def _reviewer(write: Write) -> None:
    if not write.principal.has_scope("customers:read"):
        raise Forbidden(
            "Reviewing duplicates means reading both profiles: the key also needs customers:read.",
            code="missing-scope",
            required_scope="customers:read",
        )


@router.post("/{candidate_id}/accept", response_model=AcceptOut)
def accept(
    candidate_id: str,
    write: Annotated[Write, Depends(writer("customers:write"))],
    body: DecisionIn | None = None,
) -> object:
    """They are one person: merge the two profiles (the oldest survives) with lineage naming
    this candidate; ``customers.profile.merged`` tells the other contexts."""
    _reviewer(write)
    note = (body or DecisionIn()).note

    def use_case(uow: UnitOfWork) -> AcceptOut:
        result = duplicates.accept(
            uow,
            candidate_id,
            decided_by=write.principal.key_id,
            channel=write.principal.channel.value,
            note=note,
        )
        merge = result.merge
        return AcceptOut(
            candidate=_public_in(uow, result.candidate),
            merge=MergeOut(
                id=merge.merge_id, survivor_id=merge.survivor_id, absorbed_ids=merge.absorbed_ids
            )
            if merge
            else None,
        )

    return write.run(use_case)


@router.post("/{candidate_id}/reject", response_model=CandidatePublic)
def reject(
    candidate_id: str,
    write: Annotated[Write, Depends(writer("customers:write"))],
    body: DecisionIn | None = None,
) -> object:
    """They are two people: the pair leaves the queue and later scans never propose it again."""
    _reviewer(write)
    note = (body or DecisionIn()).note

    def use_case(uow: UnitOfWork) -> CandidatePublic:
        row = duplicates.reject(
            uow,
            candidate_id,
            decided_by=write.principal.key_id,
            channel=write.principal.channel.value,
            note=note,
        )
        return _public_in(uow, row)

    return write.run(use_case)
