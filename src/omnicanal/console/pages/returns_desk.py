"""Associate: the returns desk. Any channel's order comes back at this store: lines, reason,
condition, then a refund, a credit note or an exchange (with ideas from this store's stock)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.console.web import PostedForm, StorePage, url
from omnicanal.orders import service as orders
from omnicanal.orders.views import order_views
from omnicanal.returns import service as returns
from omnicanal.returns import views
from omnicanal.returns.model import Condition, Outcome, Reason
from omnicanal.shared.errors import DomainError, InvalidInput, NotFound

router = APIRouter()
STORE_CHANNEL = "pos"


@router.get("/returns")
def desk(page: StorePage, order: str = "") -> Response:
    order_id = order.strip()
    found = None
    ideas = None
    error = None
    with page.db.read() as session:
        recent, _ = views.page(
            session,
            status=None,
            order_id=None,
            location_id=page.store_id,
            customer_id=None,
            cursor=None,
            limit=10,
        )
        if order_id:
            try:
                row = orders.get_order(session, order_id)
                found = order_views(session, [row], locale=page.lang)[0]
                skus = sorted({line["sku"] for g in found["groups"] for line in g["lines"]})
                ideas = views.suggest_for(session, page.store_id, skus)
            except NotFound as exc:
                error = exc.detail
    return page.render(
        "store/returns.html",
        order_id=order_id,
        order=found,
        ideas=ideas,
        error=error,
        recent=recent,
        reasons=[r.value for r in Reason],
        conditions=[c.value for c in Condition],
        outcomes=[o.value for o in Outcome],
    )


@router.post("/returns")
def take_return(page: StorePage, form: PostedForm) -> Response:
    assert page.user is not None
    order_id = form.get("order_id")
    back = url("/returns", order=order_id)
    lines = []
    for line_id in form.all("line_id"):
        quantity = form.number(f"quantity_{line_id}")
        if quantity > 0:
            lines.append(
                returns.ReturnLineRequest(
                    quantity=quantity,
                    reason=form.get(f"reason_{line_id}", Reason.OTHER.value),
                    condition=form.get(f"condition_{line_id}", Condition.SELLABLE.value),
                    order_line_id=line_id,
                )
            )
    exchange = []
    if form.get("outcome") == Outcome.EXCHANGE.value and form.get("exchange_sku"):
        exchange.append(
            returns.ExchangeLine(form.get("exchange_sku"), form.number("exchange_quantity", 1))
        )
    try:
        if not lines:
            raise InvalidInput(page.t("returns.nothing"))
        with page.db.uow() as uow:
            row = returns.request_return(
                uow,
                returns.ReturnRequest(
                    order_id=order_id,
                    location_id=page.store_id,
                    lines=lines,
                    outcome=form.get("outcome", Outcome.REFUND.value),
                    channel=STORE_CHANNEL,
                    exchange_lines=exchange,
                    actor=page.user.id,
                ),
            )
            return_id, status = row.id, row.status
    except DomainError as exc:
        return page.redirect(back, error=exc.detail)
    status_text = page.t(f"returns.status_{status}")
    return page.redirect(
        url(f"/returns/{return_id}"),
        flash=page.t("returns.done", ret=return_id, status=status_text),
    )


@router.get("/returns/{return_id}")
def one_return(page: StorePage, return_id: str) -> Response:
    with page.db.read() as session:
        view = views.one(session, return_id)
    return page.render("store/return.html", ret=view)
