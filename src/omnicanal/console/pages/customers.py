"""Associate: find a customer by phone, email or card; the profile, history, cart, suggestions."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from omnicanal.carts import service as carts
from omnicanal.carts.views import cart_views, open_carts_of_profiles, pending_handoffs
from omnicanal.console.queries import customer_orders, loyalty_of
from omnicanal.console.web import PostedForm, StorePage, url
from omnicanal.customers.service import resolve_live
from omnicanal.customers.tables import CustomerProfileRow
from omnicanal.customers.timeline import timeline_page
from omnicanal.customers.views import absorbed_ids, find_profiles, profile_view
from omnicanal.recommendations import views as recommendations
from omnicanal.returns import views as returns
from omnicanal.shared.errors import DomainError, InvalidInput

router = APIRouter()
STORE_CHANNEL = "pos"  # an associate acts for the store, as its till does


def _actor(page: StorePage) -> carts.Actor:
    assert page.user is not None
    return carts.Actor(channel=STORE_CHANNEL, store_id=page.store_id, key_id=page.user.id)


@router.get("/customers")
def lookup(page: StorePage, q: str = "") -> Response:
    query = q.strip()
    found: list[CustomerProfileRow] = []
    error = None
    if query:
        try:
            with page.db.read() as session:
                found, _ = find_profiles(session, q=query, cursor=None, limit=20)
        except InvalidInput as exc:
            error = exc.detail
    return page.render("store/customers.html", q=query, found=found, error=error)


@router.get("/customers/{customer_id}")
def profile(page: StorePage, customer_id: str) -> Response:
    now = page.db.clock.now()
    with page.db.read() as session:
        view = profile_view(session, customer_id)
        live = resolve_live(session, view.profile.id)
        ids = [live.id, *absorbed_ids(session, live.id)]
        orders = customer_orders(session, ids, lang=page.lang)
        returned, _ = returns.page(
            session,
            status=None,
            order_id=None,
            location_id=None,
            customer_id=live.id,
            cursor=None,
            limit=20,
        )
        timeline = timeline_page(session, live.id, limit=15).entries
        loyalty = loyalty_of(session, live.id, now)
        open_carts = open_carts_of_profiles(session, [live.id], currency="EUR")
        cart = None
        handoffs = []
        if open_carts:
            cart = cart_views(
                session, open_carts, now=now, channel=STORE_CHANNEL, store_bound=True
            )[0]
            handoffs = pending_handoffs(session, cart.cart.id)
        suggestions = recommendations.for_customer(session, live.id, now=now, limit=5)
    return page.render(
        "store/customer.html",
        view=view,
        orders=orders,
        returned=returned,
        timeline=timeline,
        loyalty=loyalty,
        cart=cart,
        handoff=handoffs[-1] if handoffs else None,
        suggestions=suggestions,
    )


@router.post("/customers/{customer_id}/cart/lines")
def add_to_cart(page: StorePage, form: PostedForm, customer_id: str) -> Response:
    """The associate adds an item to the customer's web cart (opened if there is none)."""
    back = url(f"/customers/{customer_id}")
    actor = _actor(page)
    try:
        with page.db.uow() as uow:
            live = resolve_live(uow.session, customer_id)
            opened = carts.open_cart(uow, actor=actor, currency="EUR", customer_id=live.id)
            carts.add_line(
                uow,
                opened.cart.id,
                sku=form.get("sku"),
                quantity=form.number("quantity", 1),
                actor=actor,
                customer_id=live.id,
            )
    except DomainError as exc:
        return page.redirect(back, error=exc.detail)
    return page.redirect(back, flash=page.t("customers.line_added"))


@router.post("/customers/{customer_id}/cart/handoff")
def hand_off(page: StorePage, form: PostedForm, customer_id: str) -> Response:
    """A code that opens this cart on the customer's phone."""
    back = url(f"/customers/{customer_id}")
    try:
        with page.db.uow() as uow:
            live = resolve_live(uow.session, customer_id)
            cart = carts.open_cart_of(uow.session, currency="EUR", profile_id=live.id)
            if cart is None:
                raise InvalidInput(page.t("customers.no_cart"))
            handoff = carts.hand_off(uow, cart.id, actor=_actor(page))
            code = handoff.code
    except DomainError as exc:
        return page.redirect(back, error=exc.detail)
    return page.redirect(back, flash=page.t("customers.handoff_done", code=code))
