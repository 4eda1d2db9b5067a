"""KPIs and pilots: /v1/kpis (definitions, values as JSON or CSV, marketing spend) and
/v1/pilots (features flagged per store, pilot vs control comparison)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from omnicanal.analytics import pilots, service
from omnicanal.analytics.definitions import KPIS, Kpi
from omnicanal.analytics.model import KpiValue, period_of
from omnicanal.api.deps import DbDep, Write, check_store, require, writer
from omnicanal.auth.model import Principal
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money
from omnicanal.shared.tabular import write_csv
from omnicanal.storage.uow import UnitOfWork

router = APIRouter(tags=["analytics"])

KpiRead = Annotated[Principal, Depends(require("kpis:read"))]
PilotWrite = Annotated[Write, Depends(writer("pilots:manage"))]
SpendWrite = Annotated[Write, Depends(writer("kpis:write"))]  # head-office marketing spend
DEFAULT_DAYS = 30

# ---------------------------------------------------------------------------------------------
# Schemas
# ---------------------------------------------------------------------------------------------


class KpiDefinition(BaseModel):
    code: str
    title_en: str
    title_fr: str
    unit: str
    formula: str
    description: str
    filters: list[str]
    channels: list[str] | None = Field(description="The channels the KPI exists on (null: all).")
    sources: list[str] = Field(description="The event types its metrics are built from.")
    limitations: str


class KpiValuePublic(BaseModel):
    kpi: str
    group: str | None = Field(description="The channel, store id or day; null when ungrouped.")
    value: str | None = Field(description="A decimal string; null when nothing was measured.")
    numerator: str | None
    denominator: str | None
    unit: str
    currency: str | None


class KpiValues(BaseModel):
    data: list[KpiValuePublic]
    from_: str = Field(alias="from", description="First UTC day included.")
    to: str = Field(description="First UTC day excluded.")
    channel: str | None
    store: str | None
    group_by: str | None


class SpendCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    channel: str = Field(max_length=20, examples=["web"])
    first_day: date
    last_day: date = Field(description="Inclusive.")
    amount: str = Field(pattern=r"^\d{1,12}(\.\d{1,3})?$", examples=["12000.00"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])
    store_id: str | None = Field(default=None, max_length=40, description="Local marketing.")
    note: str = Field(default="", max_length=300)


class SpendPublic(BaseModel):
    id: int
    channel: str
    store_id: str | None
    first_day: date
    last_day: date
    amount: str
    currency: str
    note: str


class PilotCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, examples=["Express pickup in 1 h"])
    feature: str = Field(min_length=1, max_length=80, examples=["express_pickup"])
    description: str = Field(default="", max_length=2000)
    pilot_stores: list[str] = Field(min_length=1, max_length=500)
    control_stores: list[str] = Field(min_length=1, max_length=500)
    starts_at: datetime
    ends_at: datetime | None = None


class PilotPublic(BaseModel):
    id: str
    name: str
    feature: str
    description: str
    starts_at: datetime
    ends_at: datetime | None
    pilot_stores: list[str]
    control_stores: list[str]
    created_at: datetime


class SidePublic(BaseModel):
    stores: list[str]
    store_days: int
    mean: str | None = Field(description="Mean of the per-store-day values.")
    value: str | None = Field(description="The KPI over all the stores of the side (pooled).")


class ComparisonPublic(BaseModel):
    pilot_id: str
    feature: str
    kpi: str
    unit: str
    currency: str | None
    from_: str = Field(alias="from")
    to: str
    pilot: SidePublic
    control: SidePublic
    difference: str | None = Field(description="mean(pilot) - mean(control)")
    ci_low: str | None
    ci_high: str | None
    confidence: float
    degrees_of_freedom: float | None
    method: str


# ---------------------------------------------------------------------------------------------
# Mapping
# ---------------------------------------------------------------------------------------------


def _dec(value: object) -> str | None:
    return None if value is None else str(value)


def definition_public(kpi: Kpi) -> KpiDefinition:
    return KpiDefinition(
        code=kpi.code,
        title_en=kpi.title_en,
        title_fr=kpi.title_fr,
        unit=kpi.unit.value,
        formula=kpi.formula,
        description=kpi.description,
        filters=list(kpi.filters),
        channels=list(kpi.channels) if kpi.channels is not None else None,
        sources=list(kpi.sources),
        limitations=kpi.limitations,
    )


def value_public(found: KpiValue) -> KpiValuePublic:
    return KpiValuePublic(
        kpi=found.kpi,
        group=found.group,
        value=_dec(found.value),
        numerator=_dec(found.numerator),
        denominator=_dec(found.denominator),
        unit=found.unit,
        currency=found.currency,
    )


def pilot_public(found: pilots.Pilot) -> PilotPublic:
    return PilotPublic(
        id=found.id,
        name=found.name,
        feature=found.feature,
        description=found.description,
        starts_at=found.starts_at,
        ends_at=found.ends_at,
        pilot_stores=list(found.pilot_stores),
        control_stores=list(found.control_stores),
        created_at=found.created_at,
    )


def _side(side: pilots.Side) -> SidePublic:
    return SidePublic(
        stores=list(side.stores),
        store_days=side.store_days,
        mean=_dec(side.mean),
        value=_dec(side.value),
    )


# ---------------------------------------------------------------------------------------------
# Parameters
# ---------------------------------------------------------------------------------------------


def parse_moment(raw: str, *, field: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time with an offset."""
    text = raw.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"{raw!r} is not a date (2026-11-01) or a time (2026-11-01T00:00:00Z).", field=field
        ) from None
    if moment.tzinfo is None:
        raise InvalidInput(f"{raw!r} has no time zone; add Z or +01:00.", field=field)
    return moment


def period_params(start: str | None, end: str | None) -> tuple[datetime, datetime]:
    to = parse_moment(end, field="to") if end else _tomorrow()
    since = parse_moment(start, field="from") if start else to - timedelta(days=DEFAULT_DAYS)
    return since, to


def _tomorrow() -> datetime:
    today = datetime.now(UTC).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _joined(d: KpiDefinition) -> list[str]:
    return [" ".join(d.filters), " ".join(d.sources)]


def _wants_csv(request: Request, fmt: str | None) -> bool:
    if fmt is not None:
        return fmt == "csv"
    return "text/csv" in request.headers.get("accept", "")


def _csv(header: list[str], rows: Sequence[list[str]], name: str) -> Response:
    return Response(
        "".join(write_csv(header, rows)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


def _store_scope(principal: Principal, store: str | None) -> str | None:
    """A store-bound key reads its own store's KPIs only."""
    if principal.store_id is None:
        return store
    if store is None:
        return principal.store_id
    check_store(principal, store)
    return store


# ---------------------------------------------------------------------------------------------
# KPIs
# ---------------------------------------------------------------------------------------------

Format = Annotated[
    Literal["json", "csv"] | None,
    Query(alias="format", description="csv, or send Accept: text/csv."),
]


@router.get(
    "/kpis",
    response_model=None,
    responses={
        200: {
            "description": "Definitions (no kpi=) or values (kpi=…), as JSON or CSV.",
            "content": {"text/csv": {}},
        }
    },
)
def get_kpis(
    request: Request,
    db: DbDep,
    principal: KpiRead,
    kpi: Annotated[
        list[str] | None,
        Query(description="KPI codes (repeatable); without it, the list of definitions."),
    ] = None,
    start: Annotated[str | None, Query(alias="from", description="Date or time, UTC.")] = None,
    end: Annotated[str | None, Query(alias="to", description="Excluded; default tomorrow.")] = None,
    channel: Annotated[str | None, Query(max_length=20)] = None,
    store: Annotated[str | None, Query(max_length=40, description="A store id.")] = None,
    group_by: Annotated[Literal["channel", "store", "day"] | None, Query()] = None,
    fmt: Format = None,
) -> Response:
    """Every KPI of the brief defined once: its titles, unit, formula, filters and sources; with
    ``kpi=``, its values over ``from`` ≤ t < ``to`` (whole UTC days), for a channel and a store,
    grouped by channel, store or day."""
    csv_out = _wants_csv(request, fmt)
    if not kpi:
        definitions = [definition_public(k) for k in KPIS.values()]
        if csv_out:
            header = ["code", "title_en", "title_fr", "unit", "formula", "filters", "sources"]
            rows = [
                [d.code, d.title_en, d.title_fr, d.unit, d.formula, *_joined(d)]
                for d in definitions
            ]
            return _csv(header, rows, "kpis")
        return JSONResponse({"data": [d.model_dump() for d in definitions]})
    since, until = period_params(start, end)
    store = _store_scope(principal, store)
    values: list[KpiValue] = []
    with db.read() as session:
        for code in kpi:
            values.extend(
                service.kpi_values(
                    session,
                    kpi=code,
                    start=since,
                    end=until,
                    channel=channel,
                    store_id=store,
                    group_by=group_by,
                )
            )
    period = period_of(since, until)
    public = [value_public(v) for v in values]
    if csv_out:
        header = ["kpi", "group", "value", "numerator", "denominator", "unit", "currency"]
        header += ["from", "to"]
        rows = [
            [
                v.kpi,
                v.group or "",
                v.value or "",
                v.numerator or "",
                v.denominator or "",
                v.unit,
                v.currency or "",
                period.first.isoformat(),
                period.end.isoformat(),
            ]
            for v in public
        ]
        return _csv(header, rows, "kpi-values")
    body = KpiValues.model_validate(
        {
            "data": public,
            "from": period.first.isoformat(),
            "to": period.end.isoformat(),
            "channel": channel,
            "store": store,
            "group_by": group_by,
        }
    )
    return JSONResponse(body.model_dump(mode="json", by_alias=True))


@router.get("/kpis/{code}", response_model=KpiDefinition)
def get_kpi(code: str, principal: KpiRead) -> KpiDefinition:
    """One KPI's definition."""
    return definition_public(service.get_kpi(code, field="code"))


@router.post("/kpis/spend", status_code=201, response_model=SpendPublic)
def record_spend(body: SpendCreate, write: SpendWrite) -> JSONResponse:
    """Record marketing spend for a channel (and store) over a period: the acquisition_cost
    KPI divides it by the new customers of that channel."""

    def use_case(uow: UnitOfWork) -> SpendPublic:
        row = service.record_spend(
            uow,
            channel=body.channel,
            first_day=body.first_day,
            last_day=body.last_day,
            amount=Money.of(body.amount, body.currency),
            store_id=body.store_id,
            note=body.note,
        )
        return SpendPublic(
            id=row.id,
            channel=row.channel,
            store_id=row.store_id or None,
            first_day=row.first_day,
            last_day=row.last_day,
            amount=str(Money(row.amount_minor, row.currency).amount),
            currency=row.currency,
            note=row.note,
        )

    return write.run(use_case, status_code=201)


# ---------------------------------------------------------------------------------------------
# Pilots
# ---------------------------------------------------------------------------------------------


@router.post("/pilots", status_code=201, response_model=PilotPublic)
def create_pilot(body: PilotCreate, write: PilotWrite) -> JSONResponse:
    """Turn a feature on for pilot stores from ``starts_at``, with control stores to compare."""
    return write.run(
        lambda uow: pilot_public(
            pilots.create_pilot(
                uow,
                name=body.name,
                feature=body.feature,
                description=body.description,
                pilot_stores=body.pilot_stores,
                control_stores=body.control_stores,
                starts_at=body.starts_at,
                ends_at=body.ends_at,
            )
        ),
        status_code=201,
    )


@router.get("/pilots", response_model=dict[str, list[PilotPublic]])
def list_pilots(
    db: DbDep, principal: KpiRead, feature: Annotated[str | None, Query(max_length=80)] = None
) -> dict[str, list[PilotPublic]]:
    with db.read() as session:
        return {"data": [pilot_public(p) for p in pilots.list_pilots(session, feature=feature)]}


@router.get("/pilots/enabled", response_model=dict[str, Any])
def feature_enabled(
    db: DbDep,
    principal: KpiRead,
    feature: Annotated[str, Query(max_length=80)],
    store: Annotated[str, Query(max_length=40)],
) -> dict[str, Any]:
    """Is ``feature`` on at ``store`` now (a running pilot lists it as a pilot store)?"""
    with db.read() as session:
        service.check_stores(session, [store])
        enabled = pilots.is_enabled(session, feature, store)
    return {"feature": feature, "store": store, "enabled": enabled}


@router.get("/pilots/{pilot_id}", response_model=PilotPublic)
def get_pilot(pilot_id: str, db: DbDep, principal: KpiRead) -> PilotPublic:
    with db.read() as session:
        return pilot_public(pilots.get_pilot(session, pilot_id))


@router.get("/pilots/{pilot_id}/comparison", response_model=ComparisonPublic)
def compare_pilot(
    pilot_id: str,
    db: DbDep,
    principal: KpiRead,
    kpi: Annotated[str, Query(description="A KPI code.")],
    start: Annotated[str | None, Query(alias="from")] = None,
    end: Annotated[str | None, Query(alias="to")] = None,
) -> JSONResponse:
    """The KPI in pilot stores against control stores since the pilot started: both values, the
    difference of their per-store-day means and its 95 % confidence interval (Welch)."""
    since, until = period_params(start, end)
    with db.read() as session:
        found = pilots.compare(session, pilot_id=pilot_id, kpi=kpi, start=since, end=until)
    body = ComparisonPublic.model_validate(
        {
            "pilot_id": found.pilot_id,
            "feature": found.feature,
            "kpi": found.kpi,
            "unit": found.unit,
            "currency": found.currency,
            "from": found.first_day.isoformat(),
            "to": found.end_day.isoformat(),
            "pilot": _side(found.pilot),
            "control": _side(found.control),
            "difference": _dec(found.difference),
            "ci_low": _dec(found.ci_low),
            "ci_high": _dec(found.ci_high),
            "confidence": found.confidence,
            "degrees_of_freedom": found.degrees_of_freedom,
            "method": found.method,
        }
    )
    return JSONResponse(body.model_dump(mode="json", by_alias=True))
