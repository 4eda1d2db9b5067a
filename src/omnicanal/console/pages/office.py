"""Head office: the price audit, routing rules, review queues and pilot stores vs control."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.analytics.definitions import DASHBOARD, KPIS
from omnicanal.analytics.pilots import PilotComparison, list_pilots
from omnicanal.analytics.service import compare_pilot
from omnicanal.console.charts import Point, build
from omnicanal.console.pages.dashboard import amount_text, day_param, kpi_title, midnight
from omnicanal.console.queries import location_names
from omnicanal.console.web import OfficePage, PostedForm, url
from omnicanal.customers import duplicates
from omnicanal.orders import config as routing
from omnicanal.pricing.audit import audit
from omnicanal.returns import service as returns
from omnicanal.returns import views as return_views
from omnicanal.shared.errors import DomainError, InvalidInput

router = APIRouter()
OFFICE_CHANNEL = "admin"  # head office decides as the retailer's back office does


# -- price audit -------------------------------------------------------------------------------
@router.get("/prices")
def price_audit(
    page: OfficePage, sku: str = "", unjustified: str = "", cursor: str = ""
) -> Response:
    with page.db.read() as session:
        report = audit(
            session,
            at=page.db.clock.now(),
            sku=sku.strip() or None,
            cursor=cursor or None,
            limit=50,
        )
        store_ids = sorted(
            {d.store_id for e in report.entries for d in e.differences if d.store_id}
        )
        names = location_names(session, store_ids)
    rows = [
        (entry, difference)
        for entry in report.entries
        for difference in entry.differences
        if not (unjustified and difference.justified)
    ]
    return page.render(
        "office/prices.html",
        rows=rows,
        names=names,
        sku=sku,
        unjustified=bool(unjustified),
        next_cursor=report.next_cursor,
    )


# -- routing rules -----------------------------------------------------------------------------
_NUMBERS = (
    "cost_per_km_minor",
    "split_penalty_minor",
    "max_groups",
    "no_show_after_hours",
    "try_in_store_hours",
)
_SWITCHES = ("allow_split", "allow_backorder", "use_optimizer")


@router.get("/routing")
def routing_rules(page: OfficePage) -> Response:
    with page.db.read() as session:
        config, version = routing.current(session)
    return page.render(
        "office/routing.html",
        settings=config.as_dict(),
        version=version,
        numbers=_NUMBERS,
        switches=_SWITCHES,
    )


def _whole(form: PostedForm, name: str) -> int:
    raw = form.get(name)
    try:
        return int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a whole number (got {raw!r}).", field=name) from None


@router.post("/routing")
def change_routing(page: OfficePage, form: PostedForm) -> Response:
    try:
        settings: dict[str, Any] = {name: _whole(form, name) for name in _NUMBERS}
        settings["handling_cost_minor"] = {
            "warehouse": _whole(form, "handling_warehouse"),
            "store": _whole(form, "handling_store"),
        }
        distance = form.get("max_distance_km")
        try:
            settings["max_distance_km"] = float(distance) if distance else None
        except ValueError:
            raise InvalidInput("max_distance_km must be a number of km.") from None
        for name in _SWITCHES:
            settings[name] = form.get(name) == "on"
        with page.db.uow() as uow:
            _, version = routing.replace_config(uow, settings)
    except DomainError as exc:
        return page.redirect(url("/routing"), error=exc.detail)
    return page.redirect(url("/routing"), flash=page.t("routing.saved", version=version))


# -- review queues -----------------------------------------------------------------------------
@router.get("/reviews")
def review_queues(page: OfficePage) -> Response:
    with page.db.read() as session:
        candidates, _ = duplicates.list_candidates(session, status="open", cursor=None, limit=50)
        profiles = duplicates.profiles_by_id(
            session, [c.left_id for c in candidates] + [c.right_id for c in candidates]
        )
        waiting, _ = return_views.page(
            session,
            status="in_review",
            order_id=None,
            location_id=None,
            customer_id=None,
            cursor=None,
            limit=50,
        )
        names = location_names(session, sorted({r["location_id"] for r in waiting}))
    return page.render(
        "office/reviews.html",
        candidates=candidates,
        profiles=profiles,
        waiting=waiting,
        names=names,
    )


def _decide(page: OfficePage, action: Any) -> Response:
    try:
        with page.db.uow() as uow:
            action(uow)
    except DomainError as exc:
        return page.redirect(url("/reviews"), error=exc.detail)
    return page.redirect(url("/reviews"), flash=page.t("reviews.done"))


@router.post("/reviews/duplicates/{candidate_id}/accept")
def merge_duplicates(page: OfficePage, form: PostedForm, candidate_id: str) -> Response:
    assert page.user is not None
    by = page.user.id
    return _decide(
        page,
        lambda uow: duplicates.accept(uow, candidate_id, decided_by=by, channel=OFFICE_CHANNEL),
    )


@router.post("/reviews/duplicates/{candidate_id}/reject")
def keep_apart(page: OfficePage, form: PostedForm, candidate_id: str) -> Response:
    assert page.user is not None
    by = page.user.id
    return _decide(
        page,
        lambda uow: duplicates.reject(uow, candidate_id, decided_by=by, channel=OFFICE_CHANNEL),
    )


@router.post("/reviews/returns/{return_id}/approve")
def approve_return(page: OfficePage, form: PostedForm, return_id: str) -> Response:
    assert page.user is not None
    by = page.user.id
    return _decide(page, lambda uow: returns.approve(uow, return_id, reviewer=by))


@router.post("/reviews/returns/{return_id}/reject")
def reject_return(page: OfficePage, form: PostedForm, return_id: str) -> Response:
    assert page.user is not None
    by, reason = page.user.id, form.get("reason")
    return _decide(page, lambda uow: returns.reject(uow, return_id, reviewer=by, reason=reason))


# -- pilots ------------------------------------------------------------------------------------
@router.get("/pilots")
def pilots(
    page: OfficePage, pilot: str = "", kpi: str = "revenue", start: str = "", end: str = ""
) -> Response:
    today = page.db.clock.now().astimezone(UTC).date()
    first = day_param(start, today - timedelta(days=29))
    last = day_param(end, today + timedelta(days=1))
    kpi = kpi if kpi in KPIS else "revenue"
    comparison: PilotComparison | None = None
    error = None
    with page.db.read() as session:
        found = list_pilots(session)
        names = location_names(
            session, sorted({s for p in found for s in (*p.pilot_stores, *p.control_stores)})
        )
        if pilot:
            try:
                comparison = compare_pilot(
                    session, pilot_id=pilot, kpi=kpi, start=midnight(first), end=midnight(last)
                )
            except DomainError as exc:
                error = exc.detail
    chart = None
    texts: dict[str, str] = {}
    if comparison is not None:
        unit, currency = comparison.unit, comparison.currency
        texts = {
            name: amount_text(value, unit, currency)
            for name, value in (
                ("pilot", comparison.pilot.mean),
                ("control", comparison.control.mean),
                ("difference", comparison.difference),
                ("low", comparison.ci_low),
                ("high", comparison.ci_high),
            )
        }
        sides = [
            Point(page.t("pilots.pilot"), comparison.pilot.mean, texts["pilot"]),
            Point(page.t("pilots.control"), comparison.control.mean, texts["control"]),
        ]
        chart = build(
            "bars",
            kpi_title(KPIS[kpi], page.lang),
            "; ".join(f"{p.label}: {p.text}" for p in sides),
            sides,
            scale=100.0 if unit == "ratio" else 1.0,
        )
    return page.render(
        "office/pilots.html",
        pilots=found,
        names=names,
        kpis=[(code, kpi_title(KPIS[code], page.lang)) for code in (*DASHBOARD,)],
        chosen={"pilot": pilot, "kpi": kpi, "start": first.isoformat(), "end": last.isoformat()},
        comparison=comparison,
        texts=texts,
        chart=chart,
        error=error,
    )
