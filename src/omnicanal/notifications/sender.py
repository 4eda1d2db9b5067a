"""The sender: due messages are decided at send time against the state as it is now.

For each due message, in its own transaction: re-read the order (or cart, stock, promotion),
ask the rules (``model.decide``), then render and hand it to the channel's provider, or record
the suppression with its reason, or postpone it to the end of quiet hours. A provider failure
is retried with backoff, then the message is ``failed``.

A crash between the provider accepting a message and the commit can send it twice: providers
receive the message id (``Message-ID`` / ``message_id``) to drop a repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from omnicanal.carts.tables import CartLineRow, CartRow
from omnicanal.catalog.tables import VariantRow
from omnicanal.customers import model as customers_model
from omnicanal.customers.model import SALES_CHANNELS
from omnicanal.customers.service import may_contact, resolve
from omnicanal.customers.tables import CustomerIdentifierRow, CustomerProfileRow
from omnicanal.events.consumers import backoff
from omnicanal.inventory.service import to_domain
from omnicanal.inventory.tables import StockLevelRow
from omnicanal.locations.tables import LocationRow
from omnicanal.notifications import model
from omnicanal.notifications.events import MessageSent, MessageSuppressed
from omnicanal.notifications.model import (
    DEFAULT_RULES,
    Channel,
    Consent,
    Facts,
    History,
    Purpose,
    Rules,
    Status,
    Template,
)
from omnicanal.notifications.providers import Outgoing, ProviderError, Providers
from omnicanal.notifications.render import render
from omnicanal.notifications.tables import NotificationMessageRow, NotificationReturnedItemRow
from omnicanal.orders.tables import FulfilmentGroupRow, OrderLineRow, OrderRow
from omnicanal.orders.views import order_views
from omnicanal.promotions.tables import PromotionRow
from omnicanal.shared.errors import NotFound
from omnicanal.shared.money import Money
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork

MAX_ATTEMPTS = 5
RETRY_BASE = timedelta(minutes=1)
DEFAULT_TIMEZONE = "Europe/Paris"

_CONSENT_PURPOSE = {
    Channel.EMAIL: customers_model.Purpose.MARKETING_EMAIL,
    Channel.SMS: customers_model.Purpose.SMS,
    Channel.PUSH: customers_model.Purpose.PUSH,
}


def send_due(
    db: Database,
    providers: Providers,
    *,
    now: datetime | None = None,
    limit: int = 100,
    rules: Rules = DEFAULT_RULES,
    timezone: str = DEFAULT_TIMEZONE,
) -> int:
    """Decide every message due at ``now`` (the database clock by default); returns how many
    were decided (sent, suppressed, postponed or retried). Safe to run in several processes."""
    at = now or db.clock.now()
    with db.read() as session:
        due = session.scalars(
            select(NotificationMessageRow.id)
            .where(
                NotificationMessageRow.status == Status.SCHEDULED.value,
                NotificationMessageRow.not_before <= at,
            )
            .order_by(NotificationMessageRow.not_before, NotificationMessageRow.id)
            .limit(limit)
        ).all()
    done = 0
    for message_id in due:
        with db.uow() as uow:
            done += _decide_one(uow, message_id, providers, at, rules, ZoneInfo(timezone))
    return done


def _lock(uow: UnitOfWork, message_id: str) -> NotificationMessageRow | None:
    stmt = select(NotificationMessageRow).where(NotificationMessageRow.id == message_id)
    if uow.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    return uow.session.scalars(stmt).one_or_none()


def _decide_one(
    uow: UnitOfWork,
    message_id: str,
    providers: Providers,
    at: datetime,
    rules: Rules,
    default_tz: ZoneInfo,
) -> int:
    row = _lock(uow, message_id)
    if row is None or row.status != Status.SCHEDULED.value or row.not_before > at:
        return 0  # another sender has it, or it was decided meanwhile
    session = uow.session
    template, channel = Template(row.template), Channel(row.channel)
    state = _State.read(session, row, at, rules)
    recipient = _recipient(session, row, channel, state.order)
    facts = state.facts(has_recipient=recipient is not None)
    verdict = model.decide(
        template,
        channel,
        facts=facts,
        consent=_consent(session, row, channel, state.order, at),
        history=_history(session, row, at, rules),
        at=at,
        tz=_timezone(session, state, default_tz),
        rules=rules,
    )
    row.updated_at = at
    if verdict.action == "suppress":
        _suppress(uow, row, verdict.reason or "suppressed", at)
        return 1
    if verdict.action == "postpone":
        assert verdict.not_before is not None
        row.not_before = verdict.not_before
        row.reason = verdict.reason
        return 1
    assert recipient is not None
    rendered = render(row.template, state.locale(session, row), state.values(session, row, at))
    provider = providers[channel]
    outgoing = Outgoing(
        message_id=row.id,
        channel=channel,
        to=recipient,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html if channel is Channel.EMAIL else None,
        template=row.template,
        locale=rendered.locale,
    )
    row.attempts += 1
    try:
        reference = provider.send(outgoing)
    except ProviderError as exc:
        row.last_error = str(exc)[:2000]
        if row.attempts >= MAX_ATTEMPTS:
            row.status = Status.FAILED.value
            row.reason = "provider-failed"
        else:
            row.not_before = at + backoff(RETRY_BASE, row.attempts)
        return 1
    row.status = Status.SENT.value
    row.reason = None
    row.sent_at = at
    row.recipient = recipient
    row.title = rendered.subject[:300]
    row.locale = rendered.locale
    row.provider = provider.name
    row.provider_ref = reference[:200]
    uow.emit(
        MessageSent(
            message_id=row.id,
            customer_id=row.customer_id,
            order_id=row.order_id,
            template=row.template,
            channel=row.channel,
        )
    )
    return 1


def _suppress(uow: UnitOfWork, row: NotificationMessageRow, reason: str, at: datetime) -> None:
    row.status = Status.SUPPRESSED.value
    row.reason = reason[:200]
    row.updated_at = at
    uow.emit(
        MessageSuppressed(
            message_id=row.id,
            customer_id=row.customer_id,
            order_id=row.order_id,
            template=row.template,
            channel=row.channel,
            reason=row.reason,
        )
    )


# ---------------------------------------------------------------------------------------------
# The state at send time
# ---------------------------------------------------------------------------------------------


@dataclass
class _State:
    order: OrderRow | None
    group: FulfilmentGroupRow | None
    base: Facts

    @classmethod
    def read(
        cls, session: Session, row: NotificationMessageRow, at: datetime, rules: Rules
    ) -> _State:
        template = Template(row.template)
        order = session.get(OrderRow, row.order_id) if row.order_id else None
        group = session.get(FulfilmentGroupRow, row.group_id) if row.group_id else None
        missing = (row.order_id is not None and order is None) or (
            row.group_id is not None and group is None
        )
        facts: dict[str, Any] = {"subject_missing": missing}
        if order is not None:
            facts["order_status"] = order.status
            facts["returned_skus"] = frozenset(
                session.scalars(
                    select(NotificationReturnedItemRow.sku).where(
                        NotificationReturnedItemRow.order_id == order.id
                    )
                )
            )
        if group is not None:
            facts["group_status"] = group.status
            facts["group_skus"] = frozenset(
                session.scalars(
                    select(OrderLineRow.sku).where(
                        OrderLineRow.group_id == group.id,
                        OrderLineRow.quantity > OrderLineRow.quantity_cancelled,
                    )
                )
            )
        if template in model.SELLS_PRODUCTS and row.customer_id:
            facts["recently_returned_skus"] = frozenset(
                session.scalars(
                    select(NotificationReturnedItemRow.sku).where(
                        NotificationReturnedItemRow.customer_id == row.customer_id,
                        NotificationReturnedItemRow.returned_at > at - rules.just_returned,
                    )
                )
            )
        data = row.data
        if template is Template.BACK_IN_STOCK:
            level = session.get(StockLevelRow, (data.get("sku"), data.get("location_id")))
            facts["in_stock"] = level is not None and to_domain(level).available_to_promise > 0
            facts["message_skus"] = frozenset({str(data.get("sku"))})
        if template is Template.ABANDONED_CART:
            cart = session.get(CartRow, data.get("cart_id"))
            facts["cart_open"] = cart is not None and cart.status == "open"
            facts["cart_unchanged"] = cart is not None and cart.version == data.get("version")
        if template is Template.LOCAL_PROMOTION:
            promotion = session.get(PromotionRow, data.get("promotion_id"))
            facts["promotion_active"] = promotion is not None and promotion.status == "active"
        return cls(order, group, Facts(**facts))

    def facts(self, *, has_recipient: bool) -> Facts:
        from dataclasses import replace

        return replace(self.base, has_recipient=has_recipient)

    def locale(self, session: Session, row: NotificationMessageRow) -> str | None:
        if self.order is not None:
            return self.order.locale
        if row.customer_id:
            profile = session.get(CustomerProfileRow, row.customer_id)
            language = (profile.attributes or {}).get("language") if profile else None
            if isinstance(language, dict) and language.get("value"):
                return str(language["value"])
        return row.locale

    def values(self, session: Session, row: NotificationMessageRow, at: datetime) -> dict[str, Any]:
        """What the templates show, read now: the status words are the API's (``describe``)."""
        values: dict[str, Any] = {"name": None}
        data = row.data
        if self.order is not None:
            order = self.order
            (view,) = order_views(session, [order], locale=order.locale, with_codes=True)
            groups = [g for g in view["groups"] if self.group is None or g["id"] == self.group.id]
            group = groups[0] if self.group is not None and groups else None
            values.update(
                name=order.contact.get("name"),
                order_ref=order.external_ref or order.id,
                status_text=view["status_text"],
                total=f"{view['total']['amount']} {view['total']['currency']}",
                lines=[
                    {
                        "title": line["title"],
                        "quantity": line["quantity"] - line["quantity_cancelled"],
                    }
                    for g in groups
                    for line in g["lines"]
                    if line["quantity"] > line["quantity_cancelled"]
                ],
                store=(group or {}).get("location_name"),
                pickup_code=(group or {}).get("pickup_code"),
                carrier=(group or {}).get("carrier"),
                tracking=(group or {}).get("tracking_number"),
                reason=(group or {}).get("cancel_reason"),
            )
        if data.get("currency") and (data.get("refund_minor") or data.get("amount_minor")):
            minor = int(data.get("refund_minor") or data.get("amount_minor") or 0)
            currency = str(data["currency"])
            values["refund"] = f"{Money(minor, currency).amount} {currency}"
        else:
            values["refund"] = None
        if row.template == Template.BACK_IN_STOCK.value:
            location = session.get(LocationRow, data.get("location_id"))
            title = session.scalar(
                select(VariantRow.title).where(VariantRow.sku == data.get("sku"))
            )
            values.update(
                product=title or data.get("sku"),
                store=location.name if location else data.get("location_id"),
                distance_km=data.get("distance_km"),
            )
        if row.template == Template.ABANDONED_CART.value:
            values["items"] = session.scalar(
                select(func.coalesce(func.sum(CartLineRow.quantity), 0)).where(
                    CartLineRow.cart_id == data.get("cart_id")
                )
            )
        values["offers"] = (
            _next_best_offer(session, row.customer_id, at)
            if row.template == Template.REVIEW_REQUEST.value and row.customer_id
            else []
        )
        if row.template == Template.LOCAL_PROMOTION.value:
            location = session.get(LocationRow, data.get("store_id"))
            values.update(
                promotion=data.get("name"),
                store=location.name if location else data.get("store_id"),
            )
        if values.get("name") is None and row.customer_id:
            profile = session.get(CustomerProfileRow, row.customer_id)
            values["name"] = profile.given_name if profile else None
        return values


def _recipient(
    session: Session, row: NotificationMessageRow, channel: Channel, order: OrderRow | None
) -> str | None:
    """Where it goes, read now: the order's contact, else the profile's freshest identifier;
    a push goes to the customer (the push gateway knows their devices)."""
    if channel is Channel.PUSH:
        return row.customer_id
    kind = "email" if channel is Channel.EMAIL else "phone"
    if order is not None and order.contact.get(kind):
        return str(order.contact[kind])
    if not row.customer_id:
        return None
    try:
        profile = resolve(session, row.customer_id)
    except NotFound:
        return None
    value = session.scalar(
        select(CustomerIdentifierRow.value)
        .where(CustomerIdentifierRow.profile_id == profile.id, CustomerIdentifierRow.kind == kind)
        .order_by(CustomerIdentifierRow.last_seen.desc())
        .limit(1)
    )
    return str(value) if value else None


def _consent(
    session: Session,
    row: NotificationMessageRow,
    channel: Channel,
    order: OrderRow | None,
    at: datetime,
) -> Consent | None:
    if not row.customer_id:
        return None  # a guest order: the contact given for this order, transactional only
    scope = order.channel if order is not None and order.channel in SALES_CHANNELS else None
    try:
        decision = may_contact(session, row.customer_id, _CONSENT_PURPOSE[channel], scope, at)
    except NotFound:
        if row.purpose == Purpose.MARKETING.value:
            return Consent(False, "profile-not-found")
        return None
    return Consent(decision.allowed, decision.reason)


def _history(session: Session, row: NotificationMessageRow, at: datetime, rules: Rules) -> History:
    last = session.scalar(
        select(func.max(NotificationMessageRow.sent_at)).where(
            NotificationMessageRow.dedupe_key == row.dedupe_key,
            NotificationMessageRow.status == Status.SENT.value,
        )
    )
    marketing: list[datetime] = []
    if row.purpose == Purpose.MARKETING.value and row.customer_id:
        marketing = list(
            session.scalars(
                select(NotificationMessageRow.sent_at).where(
                    NotificationMessageRow.customer_id == row.customer_id,
                    NotificationMessageRow.purpose == Purpose.MARKETING.value,
                    NotificationMessageRow.status == Status.SENT.value,
                    NotificationMessageRow.sent_at > at - timedelta(days=7),
                )
            )
        )
    return History(duplicate_sent_at=last, marketing_sent=[t for t in marketing if t is not None])


def _timezone(session: Session, state: _State, default: ZoneInfo) -> ZoneInfo:
    """Quiet hours are the customer's: the serving store's time zone when there is one."""
    location_id = state.group.location_id if state.group is not None else None
    if location_id is None and state.order is not None:
        location_id = state.order.store_id
    if location_id:
        tz = session.scalar(select(LocationRow.timezone).where(LocationRow.id == location_id))
        if tz:
            return ZoneInfo(tz)
    return default


def _next_best_offer(session: Session, customer_id: str, at: datetime) -> list[str]:
    """Up to three products for this customer from the recommendations context (read at send
    time: never what they returned or just bought)."""
    from omnicanal.recommendations.views import for_customer

    suggestions = for_customer(session, customer_id, now=at, limit=3)
    return [s.title or s.sku for s in suggestions.items]
