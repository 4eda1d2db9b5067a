"""Notifications against the real database: triggers schedule, the sender decides at send time
(re-reading the order), a real SMTP server receives, and every suppression is logged with why."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx2
import pytest
from sqlalchemy import select

from omnicanal.customers import personal_data
from omnicanal.customers.model import ConsentStatus, Identifier, Purpose
from omnicanal.customers.service import identify, set_consent, unsubscribe
from omnicanal.events.dispatch import drain
from omnicanal.events.webhooks import verify
from omnicanal.inventory import service as inventory
from omnicanal.inventory.service import Line
from omnicanal.notifications import service
from omnicanal.notifications.model import Channel, Template
from omnicanal.notifications.providers import (
    LogProvider,
    Outgoing,
    ProviderError,
    SmtpProvider,
    WebhookProvider,
)
from omnicanal.notifications.sender import MAX_ATTEMPTS, send_due
from omnicanal.notifications.tables import BackInStockSubscriptionRow, NotificationMessageRow
from omnicanal.orders import fulfilment
from omnicanal.orders.model import Method
from omnicanal.orders.service import GroupRequest, LineRequest, OrderRequest, place_order
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from tests.notification_helpers import Inbox, smtp  # noqa: F401
from tests.order_factories import Network, make_network


class Providers(dict[Channel, LogProvider]):
    def __init__(self) -> None:
        super().__init__({c: LogProvider() for c in Channel})


@pytest.fixture
def net(db: Database) -> Network:
    return make_network(db)


def customer(db: Database, email: str, *, marketing: bool = False) -> str:
    with db.uow() as uow:
        found = identify(uow, identifiers=[Identifier("email", email)], channel="web")
        if marketing:
            set_consent(
                uow,
                found.profile_id,
                purpose=Purpose.MARKETING_EMAIL,
                status=ConsentStatus.GRANTED,
                source_channel="web",
            )
    return found.profile_id


def click_and_collect(
    db: Database,
    net: Network,
    customer_id: str | None,
    *,
    sku: str = "SHOE-42",
    locale: str = "en",
    phone: str | None = None,
) -> tuple[str, str]:
    contact = {"email": "lea@example.com", **({"phone": phone} if phone else {})}
    with db.uow() as uow:
        placed = place_order(
            uow,
            OrderRequest(
                channel="web",
                currency="EUR",
                groups=[
                    GroupRequest(
                        Method.CLICK_AND_COLLECT, [LineRequest(sku, 1)], location_id=net.rivoli
                    )
                ],
                customer_id=customer_id,
                contact=contact,
                locale=locale,
            ),
        )
        order_id = placed.order.id
    with db.read() as session:
        from omnicanal.orders.tables import FulfilmentGroupRow

        group_id = session.scalars(
            select(FulfilmentGroupRow.id).where(FulfilmentGroupRow.order_id == order_id)
        ).one()
    return order_id, group_id


def collect(db: Database, group_id: str) -> None:
    with db.uow() as uow:
        order = fulfilment.mark_ready(uow, group_id)
    from omnicanal.orders.tables import FulfilmentGroupRow

    with db.read() as session:
        group = session.get(FulfilmentGroupRow, group_id)
        assert group is not None
        assert group.pickup_code is not None
        code = group.pickup_code
    with db.uow() as uow:
        fulfilment.hand_over(uow, group_id, pickup_code=code)
    assert order.id


def messages(db: Database, **where: str) -> list[tuple[str, str, str, str | None]]:
    with db.read() as session:
        stmt = select(NotificationMessageRow).order_by(NotificationMessageRow.id)
        for name, value in where.items():
            stmt = stmt.where(getattr(NotificationMessageRow, name) == value)
        return [(m.template, m.channel, m.status, m.reason) for m in session.scalars(stmt)]


def test_an_order_in_french_reaches_a_real_smtp_server_in_french(
    db: Database,
    net: Network,
    smtp: tuple[Inbox, int],  # noqa: F811
) -> None:
    inbox, port = smtp
    click_and_collect(db, net, None, locale="fr")
    drain(db)
    providers = {**Providers(), Channel.EMAIL: SmtpProvider("127.0.0.1", port, "shop@example.com")}
    assert send_due(db, providers) == 1
    (mail,) = inbox.messages
    assert mail["Subject"].endswith(": Confirmée")  # wording.describe, French
    assert mail["Content-Language"] == "fr"
    assert "Statut : Confirmée" in inbox.text(mail)
    html = mail.get_body(preferencelist=("html",))
    assert html is not None
    assert '<html lang="fr">' in html.get_content()
    (logged,) = messages(db)
    assert logged == ("order_placed", "email", "sent", None)


def test_an_unreachable_smtp_server_is_retried_then_failed(db: Database, net: Network) -> None:
    click_and_collect(db, net, None)
    drain(db)
    port = 9  # discard: nothing listens
    providers = {**Providers(), Channel.EMAIL: SmtpProvider("127.0.0.1", port, "s@example.com")}
    clock = db.clock
    assert isinstance(clock, FrozenClock)
    for _ in range(MAX_ATTEMPTS):
        assert send_due(db, providers) == 1
        clock.advance(hours=2)
    assert messages(db) == [("order_placed", "email", "failed", "provider-failed")]


def test_review_request_goes_a_week_after_collection_unless_the_item_came_back(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    kept = customer(db, "kept@example.com", marketing=True)
    returned = customer(db, "returned@example.com", marketing=True)
    silent = customer(db, "silent@example.com")  # no marketing consent
    orders = {}
    for who in (kept, returned, silent):
        order_id, group_id = click_and_collect(db, net, who, sku="SOCKS")
        collect(db, group_id)
        orders[who] = order_id
    drain(db)
    providers = Providers()
    send_due(db, providers)  # placed + collected go now; the reviews wait a week
    assert all(t != "review_request" for t in (m.template for m in providers[Channel.EMAIL].sent))

    with db.uow() as uow:  # the returns context's event, as the brief specifies it
        service.return_received(
            uow,
            {
                "return_id": "ret_1",
                "order_id": orders[returned],
                "customer_id": returned,
                "refund_minor": 990,
                "currency": "EUR",
                "lines": [{"sku": "SOCKS", "quantity": 1, "condition": "resellable"}],
            },
            trigger="returns.return.received",
        )
    clock.advance(days=8)
    send_due(db, providers)
    assert messages(db, customer_id=kept, template="review_request") == [
        ("review_request", "email", "sent", None)
    ]
    assert messages(db, customer_id=returned, template="review_request") == [
        ("review_request", "email", "suppressed", "item-returned")
    ]
    assert messages(db, customer_id=silent, template="review_request") == [
        ("review_request", "email", "suppressed", "no-consent:no-consent-recorded")
    ]
    assert messages(db, customer_id=returned, template="return_received") == [
        ("return_received", "email", "sent", None)
    ]
    refund_mail = next(m for m in providers[Channel.EMAIL].sent if m.template == "return_received")
    assert "9.90 EUR" in refund_mail.text


def test_sms_in_quiet_hours_waits_for_the_morning_email_goes_at_once(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    clock.advance(hours=12, minutes=30)  # 21:30 UTC = 22:30 in Paris
    _, group_id = click_and_collect(db, net, None, phone="+33612345678")
    with db.uow() as uow:
        fulfilment.mark_ready(uow, group_id)
    drain(db)
    providers = Providers()
    send_due(db, providers)
    assert [m.template for m in providers[Channel.EMAIL].sent] == [
        "order_placed",
        "ready_for_pickup",
    ]
    assert providers[Channel.SMS].sent == []
    with db.read() as session:
        sms = session.scalars(
            select(NotificationMessageRow).where(NotificationMessageRow.channel == "sms")
        ).one()
        assert (sms.status, sms.reason) == ("scheduled", "quiet-hours")
        assert sms.not_before == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    clock.advance(hours=9, minutes=31)
    send_due(db, providers)
    (sms_sent,) = providers[Channel.SMS].sent
    assert sms_sent.to == "+33612345678"
    assert "Pickup code:" in sms_sent.text


def test_a_stop_on_sms_is_honoured_even_for_order_messages_email_still_goes(
    db: Database, net: Network
) -> None:
    lea = customer(db, "lea@example.com")
    with db.uow() as uow:
        unsubscribe(uow, lea, source_channel="sms")
    _, group_id = click_and_collect(db, net, lea, phone="+33612345678")
    with db.uow() as uow:
        fulfilment.mark_ready(uow, group_id)
    drain(db)
    send_due(db, Providers())
    assert sorted(messages(db, template="ready_for_pickup")) == [
        ("ready_for_pickup", "email", "sent", None),
        ("ready_for_pickup", "sms", "suppressed", "unsubscribed:withdrawn-everywhere"),
    ]


def test_an_erased_customer_is_never_contacted(db: Database, net: Network) -> None:
    lea = customer(db, "lea@example.com")
    click_and_collect(db, net, lea)
    drain(db)
    with db.uow() as uow:
        personal_data.erase(uow, lea, reason="customer request", channel="web")
    assert send_due(db, Providers()) == 0  # the waiting message went with the erasure
    assert messages(db) == [("order_placed", "email", "suppressed", "profile-erased")]


def test_back_in_stock_at_a_store_within_the_circle(db: Database, net: Network) -> None:
    near = customer(db, "near@example.com", marketing=True)
    far = customer(db, "far@example.com", marketing=True)
    with db.uow() as uow:  # CAP: none in Paris stores
        service.subscribe_back_in_stock(
            uow, customer_id=near, sku="CAP", latitude=48.857, longitude=2.352, radius_km=3
        )
        service.subscribe_back_in_stock(
            uow, customer_id=far, sku="CAP", latitude=45.76, longitude=4.85, radius_km=5
        )
    drain(db)
    with db.uow() as uow:
        inventory.receive(uow, location_id=net.rivoli, lines=[Line("CAP", 3)])
    drain(db)
    providers = Providers()
    send_due(db, providers)
    (alert,) = providers[Channel.EMAIL].sent
    assert alert.to == "near@example.com"
    assert "PAR-RIVOLI" in alert.subject
    with db.read() as session:
        statuses = dict(
            session.execute(
                select(BackInStockSubscriptionRow.customer_id, BackInStockSubscriptionRow.status)
            ).all()
        )
    assert statuses == {near: "fulfilled", far: "active"}


def test_marketing_is_capped_per_customer_per_day(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    lea = customer(db, "lea@example.com", marketing=True)

    def alert(sku: str) -> None:
        with db.uow() as uow:
            service.schedule(
                uow,
                template=Template.BACK_IN_STOCK,
                channel=Channel.EMAIL,
                subject_id=f"{sku}@{net.rivoli}",
                customer_id=lea,
                data={"sku": sku, "location_id": net.rivoli, "distance_km": 1.2},
            )

    alert("SHOE-42")
    send_due(db, Providers())
    clock.advance(hours=3)
    alert("SOCKS")
    send_due(db, Providers())
    clock.advance(hours=22)
    alert("SOCKS")  # a day after the first: the cap allows it again
    send_due(db, Providers())
    assert sorted(m[2:] for m in messages(db)) == [
        ("sent", None),
        ("sent", None),
        ("suppressed", "frequency-cap:1-per-day"),
    ]


def test_a_trigger_seen_twice_schedules_one_message_and_a_resend_is_a_duplicate(
    db: Database, net: Network
) -> None:
    order_id, _ = click_and_collect(db, net, None)
    with db.uow() as uow:
        assert service.schedule(
            uow,
            template=Template.ORDER_PLACED,
            channel=Channel.EMAIL,
            subject_id=order_id,
            order_id=order_id,
        )
        assert (
            service.schedule(
                uow,
                template=Template.ORDER_PLACED,
                channel=Channel.EMAIL,
                subject_id=order_id,
                order_id=order_id,
            )
            is None
        )
    send_due(db, Providers())
    drain(db)  # the order.placed consumer schedules it again after it was sent
    send_due(db, Providers())
    assert sorted(messages(db)) == [
        ("order_placed", "email", "sent", None),
        ("order_placed", "email", "suppressed", "duplicate"),
    ]


def test_the_webhook_provider_posts_a_signed_body() -> None:
    seen: list[httpx2.Request] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(202 if len(seen) == 1 else 500)

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    provider = WebhookProvider("https://sms.example.com/send", "s3cret", client=client)
    message = Outgoing(
        message_id="msg_1",
        channel=Channel.SMS,
        to="+33612345678",
        subject="Ready",
        text="Pickup code: 123456",
        html=None,
        template="ready_for_pickup",
        locale="en",
    )
    assert provider.send(message) == "msg_1"
    (request,) = seen
    assert verify("s3cret", request.headers["Omnicanal-Signature"], request.content)
    assert json.loads(request.content)["to"] == "+33612345678"
    with pytest.raises(ProviderError):
        provider.send(message)


def test_abandoned_cart_reminder_once_per_cart_version(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    from omnicanal.carts import service as carts

    lea = customer(db, "lea@example.com", marketing=True)
    with db.uow() as uow:
        web = carts.Actor(channel="web")
        cart = carts.open_cart(uow, actor=web, customer_id=lea).cart
        carts.add_line(uow, cart.id, sku="SOCKS", quantity=2, actor=web, customer_id=lea)
    clock.advance(hours=25)
    assert service.schedule_abandoned_carts(db, idle=timedelta(hours=24)) == 1
    assert service.schedule_abandoned_carts(db, idle=timedelta(hours=24)) == 0
    providers = Providers()
    send_due(db, providers)
    (reminder,) = providers[Channel.EMAIL].sent
    assert "2 item(s)" in reminder.text


def test_a_review_request_carries_a_next_best_offer_from_every_channels_purchases(
    db: Database, net: Network, clock: FrozenClock
) -> None:
    # others bought socks with a cap, at the till and on the web
    for buyer in ("a@example.com", "b@example.com"):
        someone = customer(db, buyer)
        with db.uow() as uow:
            place_order(
                uow,
                OrderRequest(
                    channel="pos",
                    currency="EUR",
                    customer_id=someone,
                    store_id=net.rivoli,
                    groups=[
                        GroupRequest(
                            method=Method.HOME_DELIVERY,
                            lines=[LineRequest("SOCKS", 1), LineRequest("CAP", 1)],
                        )
                    ],
                    shipping_address={
                        "name": "x",
                        "line1": "y",
                        "postcode": "1",
                        "city": "c",
                        "country": "FR",
                    },
                ),
            )
    kept = customer(db, "kept@example.com", marketing=True)
    _, group_id = click_and_collect(db, net, kept, sku="SOCKS")
    collect(db, group_id)
    drain(db)
    providers = Providers()
    send_due(db, providers)
    clock.advance(days=8)
    send_due(db, providers)
    review = next(m for m in providers[Channel.EMAIL].sent if m.template == "review_request")
    assert "You may also like:" in review.text
    assert "CAP" in review.text.upper()
