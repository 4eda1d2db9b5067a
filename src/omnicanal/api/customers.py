"""/v1/customers: identify, find, profile, consents, may-contact, export, erasure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from omnicanal.api.deps import DbDep, Write, require, writer
from omnicanal.api.schemas import Page
from omnicanal.auth.model import Principal
from omnicanal.customers import personal_data, service, views
from omnicanal.customers.model import (
    MARKETING_PURPOSES,
    ConsentStatus,
    LegalBasis,
    Purpose,
    normalise_identifiers,
    parse_purpose,
)
from omnicanal.customers.tables import (
    CustomerConsentRow,
    CustomerIdentifierRow,
    CustomerMergeRow,
    CustomerProfileRow,
)
from omnicanal.shared.errors import Gone, InvalidInput
from omnicanal.shared.pagination import DEFAULT_LIMIT
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(prefix="/customers", tags=["customers"])

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class IdentifierIn(BaseModel):
    kind: str = Field(
        max_length=60,
        description="email, phone, loyalty_card, login_id, cookie, device_id or external:<channel>",
        examples=["email"],
    )
    value: str = Field(
        min_length=1,
        max_length=320,
        description="Normalised by the server: emails lower-cased, phones to E.164, device ids "
        "hashed (SHA-256) before storage.",
        examples=["Zoe.Martin@example.fr"],
    )


class ProfileAttributes(BaseModel):
    model_config = ConfigDict(extra="forbid")

    given_name: str | None = Field(default=None, max_length=200)
    family_name: str | None = Field(default=None, max_length=200)
    birth_date: date | None = None
    postal_code: str | None = Field(default=None, max_length=20)
    city: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$", description="ISO 3166-1")
    language: str | None = Field(default=None, max_length=20, examples=["fr-FR"])
    preferred_store_id: str | None = Field(default=None, max_length=40)

    def values(self, *, only_set: bool) -> dict[str, str | None]:
        data = self.model_dump(exclude_unset=only_set)
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in data.items()}


class IdentifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    identifiers: list[IdentifierIn] = Field(min_length=1, max_length=service.MAX_IDENTIFIERS)
    attributes: ProfileAttributes | None = None
    source_ref: str | None = Field(
        default=None,
        max_length=200,
        description="The channel's reference of what triggered this (a sale, an order, a "
        "session); kept in the merge lineage. Must not contain personal data.",
        examples=["pos:sale:PD-3-000123"],
    )
    occurred_at: AwareDatetime | None = Field(
        default=None,
        description="When the channel saw the customer (for time to unification); defaults to "
        "the time the call is received.",
    )
    phone_region: str = Field(
        default="FR",
        pattern=r"^[A-Z]{2}$",
        description="Region for phone numbers given without an international prefix.",
    )


class AttributePublic(BaseModel):
    value: str
    source: str
    at: datetime


class IdentifierPublic(BaseModel):
    id: str
    kind: str
    value: str = Field(description="Normalised; device ids are their SHA-256 hash.")
    source_channel: str
    first_seen: datetime
    last_seen: datetime


class ConsentPublic(BaseModel):
    id: str
    purpose: Purpose
    scope: str = Field(description="'*' for every channel, or one channel")
    status: ConsentStatus
    legal_basis: LegalBasis
    source_channel: str
    source_ref: str | None
    captured_at: datetime
    expires_at: datetime | None


class MergePublic(BaseModel):
    id: str
    survivor_id: str
    absorbed_ids: list[str]
    caused_by: list[dict[str, Any]] = Field(
        description="The identifiers (id, kind, owner before the merge) that linked them."
    )
    rule: str
    source_channel: str
    source_ref: str | None
    at: datetime


class CustomerPublic(BaseModel):
    id: str
    status: str
    resolved_from: str | None = Field(
        default=None, description="The merged id that was asked for, when it is not this one."
    )
    given_name: str | None
    family_name: str | None
    attributes: dict[str, AttributePublic]
    identifiers: list[IdentifierPublic]
    consents: list[ConsentPublic]
    absorbed_ids: list[str]
    lineage: list[MergePublic]
    created_channel: str
    created_at: datetime
    updated_at: datetime
    last_seen_at: datetime


class CustomerSummary(BaseModel):
    id: str
    given_name: str | None
    family_name: str | None
    identifiers: list[IdentifierPublic]
    last_seen_at: datetime


class LinkedPublic(BaseModel):
    id: str
    kind: str


class MergeOutcome(BaseModel):
    id: str
    absorbed_ids: list[str]


class IdentifyResponse(BaseModel):
    profile_id: str
    outcome: Literal["created", "matched", "linked", "merged"]
    linked: list[LinkedPublic]
    merge: MergeOutcome | None
    time_to_unification_ms: float
    profile: CustomerPublic | None = Field(
        default=None, description="The whole profile, for keys with customers:read."
    )


class ConsentChangeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["granted", "denied", "withdrawn"]
    source_channel: str = Field(
        description="Where it was expressed: web, app, pos, callcenter, marketplace, admin, or a "
        "reply/link in an email, sms or push message."
    )
    scope: str = Field(
        default="*",
        description="'*' (default): every channel; or one of web, app, pos, callcenter, "
        "marketplace. A refusal with '*' withdraws the purpose everywhere at once.",
    )
    legal_basis: LegalBasis = LegalBasis.CONSENT
    source_ref: str | None = Field(default=None, max_length=200)
    captured_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = Field(
        default=None,
        description="Grants default to 3 years after capture; refusals never expire.",
    )


class ConsentChangeOut(BaseModel):
    consent: ConsentPublic
    applied: bool = Field(
        description="False when this capture is older than the current state: it is kept in "
        "the history but the newer will stands."
    )
    cascaded_consent_ids: list[str]


class UnsubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source_channel: str
    purposes: list[str] = Field(
        default_factory=lambda: [p.value for p in MARKETING_PURPOSES],
        description="Defaults to every marketing purpose: marketing_email, sms, push.",
    )
    source_ref: str | None = Field(default=None, max_length=200)
    captured_at: AwareDatetime | None = None


class DecisionOut(BaseModel):
    allowed: bool
    reason: str = Field(
        description="granted, legitimate_interest, contract, legal_obligation, "
        "no-consent-recorded, denied[-everywhere], withdrawn[-everywhere], expired, "
        "profile-erased"
    )
    profile_id: str
    purpose: Purpose
    channel: str | None
    consent_id: str | None
    legal_basis: str | None
    scope: str | None


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        default="erasure requested by the data subject", min_length=1, max_length=200
    )


class EraseOut(BaseModel):
    profile_id: str
    erased_ids: list[str]
    erased_at: datetime
    already_erased: bool
    identifiers_removed: int
    consents_removed: int
    events_redacted: int
    stored_responses_redacted: int


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _identifier(row: CustomerIdentifierRow) -> IdentifierPublic:
    return IdentifierPublic(
        id=row.id,
        kind=row.kind,
        value=row.value,
        source_channel=row.source_channel,
        first_seen=row.first_seen,
        last_seen=row.last_seen,
    )


def _consent(row: CustomerConsentRow) -> ConsentPublic:
    return ConsentPublic(
        id=row.id,
        purpose=Purpose(row.purpose),
        scope=row.scope,
        status=ConsentStatus(row.status),
        legal_basis=LegalBasis(row.legal_basis),
        source_channel=row.source_channel,
        source_ref=row.source_ref,
        captured_at=row.captured_at,
        expires_at=row.expires_at,
    )


def _merge(row: CustomerMergeRow) -> MergePublic:
    return MergePublic(
        id=row.id,
        survivor_id=row.survivor_id,
        absorbed_ids=row.absorbed_ids,
        caused_by=row.caused_by,
        rule=row.rule,
        source_channel=row.source_channel,
        source_ref=row.source_ref,
        at=row.at,
    )


def _gone(row: CustomerProfileRow, requested: str) -> Gone:
    return Gone(
        f"Customer {requested} was erased; no personal data is held any more.",
        code="customer-erased",
        customer_id=requested,
        erased_at=row.erased_at.isoformat() if row.erased_at else None,
    )


def _public(view: views.ProfileView) -> CustomerPublic:
    p = view.profile
    if p.status == "erased":
        raise _gone(p, view.requested_id)
    return CustomerPublic(
        id=p.id,
        status=p.status,
        resolved_from=view.requested_id if view.requested_id != p.id else None,
        given_name=p.given_name,
        family_name=p.family_name,
        attributes={
            name: AttributePublic(value=data["value"], source=data["source"], at=data["at"])
            for name, data in (p.attributes or {}).items()
        },
        identifiers=[_identifier(i) for i in view.identifiers],
        consents=[_consent(c) for c in view.consents],
        absorbed_ids=view.absorbed_ids,
        lineage=[_merge(m) for m in view.lineage],
        created_channel=p.created_channel,
        created_at=p.created_at,
        updated_at=p.updated_at,
        last_seen_at=p.last_seen_at,
    )


def _profile_in(uow: UnitOfWork, profile_id: str) -> CustomerPublic:
    uow.session.flush()
    return _public(views.profile_view(uow.session, profile_id))


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------


@router.post("/identify", response_model=IdentifyResponse)
def identify(
    body: IdentifyRequest, write: Annotated[Write, Depends(writer("customers:write"))]
) -> object:
    """Resolve what a channel knows about a customer to one profile: creates it, links new
    identifiers, merges the profiles they pointed to (oldest survives) with lineage."""
    identifiers = normalise_identifiers(
        [(i.kind, i.value) for i in body.identifiers], region=body.phone_region
    )
    attributes = body.attributes.values(only_set=True) if body.attributes else None
    may_read = write.principal.has_scope("customers:read")

    def use_case(uow: UnitOfWork) -> IdentifyResponse:
        result = service.identify(
            uow,
            identifiers=identifiers,
            channel=write.principal.channel.value,
            attributes=attributes,
            source_ref=body.source_ref,
            occurred_at=body.occurred_at,
        )
        return IdentifyResponse(
            profile_id=result.profile_id,
            outcome=result.outcome,
            linked=[LinkedPublic(id=li.id, kind=li.kind) for li in result.linked],
            merge=MergeOutcome(id=result.merge_id, absorbed_ids=result.absorbed_ids)
            if result.merge_id
            else None,
            time_to_unification_ms=result.time_to_unification_ms,
            profile=_profile_in(uow, result.profile_id) if may_read else None,
        )

    return write.run(use_case)


@router.get("", response_model=Page[CustomerSummary])
def find_customers(
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    email: Annotated[str | None, Query(description="Exact email (any case).")] = None,
    phone: Annotated[str | None, Query(description="Any form; French national by default.")] = None,
    card: Annotated[str | None, Query(description="Loyalty card number.")] = None,
    q: Annotated[
        str | None, Query(description="A name (contains), or an email, phone or card number.")
    ] = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> object:
    """What a store associate types: find a customer by phone, email, card or name."""
    if email is None and phone is None and card is None and q is None:
        raise InvalidInput(
            "Give email, phone, card or q: the customer base is not listed whole.", field="q"
        )
    with db.read() as session:
        rows, next_cursor = views.find_profiles(
            session, email=email, phone=phone, card=card, q=q, cursor=cursor, limit=limit
        )
        idents = views.identifiers_of(session, [r.id for r in rows])
        by_profile: dict[str, list[IdentifierPublic]] = {}
        for ident in idents:
            by_profile.setdefault(ident.profile_id, []).append(_identifier(ident))
        return Page[CustomerSummary](
            data=[
                CustomerSummary(
                    id=r.id,
                    given_name=r.given_name,
                    family_name=r.family_name,
                    identifiers=by_profile.get(r.id, []),
                    last_seen_at=r.last_seen_at,
                )
                for r in rows
            ],
            next_cursor=next_cursor,
        )


@router.get("/identity-metrics")
def identity_metrics(
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """Identity match counts per identifier-kind pair (email↔loyalty_card, phone↔…), matches
    per channel (phone at the till), recognition rate, and time to unification p50/p99 (ms)."""
    with db.read() as session:
        return views.identity_metrics(session, since=since, until=until, channel=channel)


@router.get("/{customer_id}", response_model=CustomerPublic)
def get_customer(
    customer_id: str, db: DbDep, _: Annotated[Principal, Depends(require("customers:read"))]
) -> object:
    """The profile with identifiers, consents and merge lineage. A merged id answers with its
    survivor (``resolved_from`` says so); an erased one is 410."""
    with db.read() as session:
        return _public(views.profile_view(session, customer_id))


@router.patch("/{customer_id}", response_model=CustomerPublic)
def update_customer(
    customer_id: str,
    body: ProfileAttributes,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """A person's correction: it outranks automatic sources; ``null`` removes a field."""
    values = body.values(only_set=True)
    if not values:
        raise InvalidInput("Give at least one attribute to change.", field="body")

    def use_case(uow: UnitOfWork) -> CustomerPublic:
        row = service.update_profile(
            uow, customer_id, set_values=values, channel=write.principal.channel.value
        )
        return _profile_in(uow, row.id)

    return write.run(use_case)


@router.put("/{customer_id}/consents/{purpose}", response_model=ConsentChangeOut)
def put_consent(
    customer_id: str,
    purpose: str,
    body: ConsentChangeIn,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """Grant, deny or withdraw one purpose. Withdrawal/denial with scope '*' (the default) holds
    for every channel at once."""
    parsed = parse_purpose(purpose)
    given = body.model_fields_set

    def use_case(uow: UnitOfWork) -> ConsentChangeOut:
        kwargs: dict[str, Any] = {}
        if "expires_at" in given:
            kwargs["expires_at"] = body.expires_at
        change = service.set_consent(
            uow,
            customer_id,
            purpose=parsed,
            status=ConsentStatus(body.status),
            source_channel=body.source_channel,
            scope=body.scope,
            legal_basis=body.legal_basis,
            source_ref=body.source_ref,
            captured_at=body.captured_at,
            **kwargs,
        )
        return ConsentChangeOut(
            consent=_consent(change.consent),
            applied=change.applied,
            cascaded_consent_ids=change.cascaded,
        )

    return write.run(use_case)


@router.post("/{customer_id}/unsubscribe", response_model=list[ConsentChangeOut])
def unsubscribe(
    customer_id: str,
    body: UnsubscribeIn,
    write: Annotated[Write, Depends(writer("customers:write"))],
) -> object:
    """ "STOP" from any channel: the purposes (all marketing by default) are withdrawn for every
    channel at once."""
    purposes = [parse_purpose(p, field_name=f"purposes[{i}]") for i, p in enumerate(body.purposes)]

    def use_case(uow: UnitOfWork) -> list[ConsentChangeOut]:
        changes = service.unsubscribe(
            uow,
            customer_id,
            source_channel=body.source_channel,
            purposes=purposes,
            source_ref=body.source_ref,
            captured_at=body.captured_at,
        )
        return [
            ConsentChangeOut(
                consent=_consent(c.consent), applied=c.applied, cascaded_consent_ids=c.cascaded
            )
            for c in changes
        ]

    return write.run(use_case)


@router.get("/{customer_id}/may-contact", response_model=DecisionOut)
def may_contact(
    customer_id: str,
    db: DbDep,
    _: Annotated[Principal, Depends(require("customers:read"))],
    purpose: str,
    channel: str | None = None,
    at: AwareDatetime | None = None,
) -> object:
    """May I send/process ``purpose`` for this customer from ``channel`` now? Every sender asks."""
    parsed = parse_purpose(purpose)
    with db.read() as session:
        when = at or db.clock.now()
        decision = service.may_contact(session, customer_id, parsed, channel, when)
        resolved = decision.details.get("resolved_to", customer_id)
    return DecisionOut(
        allowed=decision.allowed,
        reason=decision.reason,
        profile_id=resolved,
        purpose=parsed,
        channel=channel,
        consent_id=decision.consent_id,
        legal_basis=decision.legal_basis,
        scope=decision.scope,
    )


@router.get("/{customer_id}/export")
def export_customer(
    customer_id: str, db: DbDep, _: Annotated[Principal, Depends(require("customers:read"))]
) -> dict[str, Any]:
    """Everything held on the customer (right of access), as one JSON document."""
    with db.read() as session:
        data = personal_data.export(session, customer_id)
    if data["profile"]["status"] == "erased":
        raise Gone(
            f"Customer {customer_id} was erased; nothing is held any more.",
            code="customer-erased",
            customer_id=customer_id,
        )
    data["exported_at"] = db.clock.now().isoformat()
    return data


@router.post("/{customer_id}/erase", response_model=EraseOut)
def erase_customer(
    customer_id: str,
    write: Annotated[Write, Depends(writer("customers:erase"))],
    body: EraseIn | None = None,
) -> object:
    """Right to erasure: personal fields go from every table and from kept event payloads; a
    tombstone stays so the person is never resurrected. Idempotent."""
    reason = (body or EraseIn()).reason

    def use_case(uow: UnitOfWork) -> EraseOut:
        report = personal_data.erase(
            uow, customer_id, reason=reason, channel=write.principal.channel.value
        )
        return EraseOut(
            profile_id=report.profile_id,
            erased_ids=report.erased_ids,
            erased_at=datetime.fromisoformat(report.erased_at),
            already_erased=report.already_erased,
            identifiers_removed=report.identifiers_removed,
            consents_removed=report.consents_removed,
            events_redacted=report.events_redacted,
            stored_responses_redacted=report.stored_responses_redacted,
        )

    return write.run(use_case)
