"""Associate: the click & collect queue of the associate's store, from picking to hand-over.

Every action passes the associate's store as ``acting_store``: the orders context refuses a
group served by another store (403), whatever the page showed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.console.queries import group_status_text, location_names
from omnicanal.console.web import NotAllowed, PostedForm, StorePage, url
from omnicanal.orders import fulfilment
from omnicanal.orders.model import Method
from omnicanal.orders.tables import FulfilmentGroupRow, OrderRow
from omnicanal.orders.views import order_views, pick_list, pickup_queue
from omnicanal.shared.errors import DomainError, NotFound
from omnicanal.storage.uow import UnitOfWork

router = APIRouter()


def _worded(groups: list[dict[str, Any]], lang: str, place: str) -> list[dict[str, Any]]:
    return [
        {**g, "status_text": group_status_text(g["status"], g["method"], lang=lang, place=place)}
        for g in groups
        if Method(g["method"]).is_pickup
    ]


@router.get("/pickups")
def queue(page: StorePage) -> Response:
    store = page.store_id
    with page.db.read() as session:
        name = location_names(session, [store]).get(store, store)
        to_prepare = _worded(pick_list(session, store), page.lang, name)
        waiting = _worded(pickup_queue(session, store), page.lang, name)
    return page.render(
        "store/pickups.html", store_name=name, to_prepare=to_prepare, waiting=waiting
    )


@router.get("/pickups/{group_id}")
def pickup(page: StorePage, group_id: str) -> Response:
    """One pickup of this store: its order, lines and the hand-over form."""
    with page.db.read() as session:
        group = session.get(FulfilmentGroupRow, group_id)
        if group is None:
            raise NotFound(f"No pickup {group_id}.")
        if group.location_id != page.store_id:
            raise NotAllowed()
        order = session.get(OrderRow, group.order_id)
        assert order is not None
        view = order_views(session, [order], locale=page.lang)[0]
        place = location_names(session, [page.store_id]).get(page.store_id)
    current = next(g for g in view["groups"] if g["id"] == group_id)
    text = group_status_text(group.status, group.method, lang=page.lang, place=place)
    return page.render("store/pickup.html", order=view, group=current, status_text=text)


Action = Callable[[UnitOfWork, str], OrderRow]


def _act(page: StorePage, group_id: str, action: Action) -> Response:
    try:
        with page.db.uow() as uow:
            order = action(uow, page.store_id)
            order_id = order.id
            uow.session.flush()
            status = order_views(uow.session, [order], locale=page.lang)[0]["status_text"]
    except DomainError as exc:
        if exc.kind.value == "forbidden":
            raise
        return page.redirect(url("/pickups"), error=exc.detail)
    return page.redirect(
        url("/pickups"), flash=page.t("pickups.moved", order=order_id, status=status)
    )


@router.post("/pickups/{group_id}/picking")
def start_picking(page: StorePage, form: PostedForm, group_id: str) -> Response:
    return _act(
        page,
        group_id,
        lambda uow, store: fulfilment.start_picking(uow, group_id, acting_store=store),
    )


@router.post("/pickups/{group_id}/ready")
def mark_ready(page: StorePage, form: PostedForm, group_id: str) -> Response:
    return _act(
        page, group_id, lambda uow, store: fulfilment.mark_ready(uow, group_id, acting_store=store)
    )


@router.post("/pickups/{group_id}/no-show")
def no_show(page: StorePage, form: PostedForm, group_id: str) -> Response:
    return _act(
        page, group_id, lambda uow, store: fulfilment.no_show(uow, group_id, acting_store=store)
    )


@router.post("/pickups/{group_id}/hand-over")
def hand_over(page: StorePage, form: PostedForm, group_id: str) -> Response:
    """The customer shows the code; a wrong code counts as an attempt (as at the till)."""
    code = form.get("pickup_code")
    try:
        with page.db.uow() as uow:
            order = fulfilment.hand_over(
                uow, group_id, pickup_code=code, acting_store=page.store_id
            )
            order_id = order.id
    except fulfilment.WrongPickupCode:
        with page.db.uow() as uow:
            left = fulfilment.count_wrong_code(uow, group_id)
        return page.redirect(
            url(f"/pickups/{group_id}"),
            error=fulfilment.WrongPickupCode(group_id, left).detail,
        )
    except DomainError as exc:
        if exc.kind.value == "forbidden":
            raise
        return page.redirect(url(f"/pickups/{group_id}"), error=exc.detail)
    return page.redirect(url("/pickups"), flash=page.t("pickups.collected", order=order_id))
