"""The background workers a server runs, gathered from the contexts.

Every API worker process runs them all (``omnicanal serve --workers N``): the event relay and
consumers, the webhook and notification senders claim their work with locks; the sweepers that
do not are ``one_at_a_time`` across processes (docs/deployment.md).
"""

from __future__ import annotations

from datetime import timedelta

import httpx2

from omnicanal.runtime import Periodic, one_at_a_time
from omnicanal.settings import Settings
from omnicanal.storage.database import Database


def background_workers(db: Database, settings: Settings) -> list[Periodic]:
    sweepers = [
        reservation_sweeper(db, settings),
        no_show_sweeper(db, settings),
        segment_review(db, settings),
        ticket_priority(db, settings),
        points_expiry(db, settings),
        abandoned_carts(db, settings),
    ]
    return [
        event_dispatcher(db, settings),
        webhook_sender(db, settings),  # leases due deliveries (SKIP LOCKED)
        notification_sender(db, settings),  # claims due messages (SKIP LOCKED)
        recommendations_refresh(db, settings),  # warms this process's own model cache
        *(one_at_a_time(db, worker) for worker in sweepers),
    ]


def event_dispatcher(db: Database, settings: Settings) -> Periodic:
    """Publishes committed events and feeds the consumers; woken by each commit. In process by
    default; with ``OMNICANAL_NATS_URL``, relays them to NATS JetStream, whose durable consumers
    apply them (docs/events.md)."""
    from omnicanal.consumers import all_consumers
    from omnicanal.events.consumers import ConsumerPolicy
    from omnicanal.events.dispatch import Dispatcher

    policy = ConsumerPolicy(max_attempts=settings.consumer_max_attempts)
    if settings.nats_url:
        from omnicanal.events.nats_transport import NatsConfig, NatsTransport

        config = NatsConfig(url=settings.nats_url, stream=settings.nats_stream)
        transport = NatsTransport(db, all_consumers(), policy, config)
        worker = Periodic(
            "event-relay",
            transport.run_once,
            settings.dispatcher_poll_seconds,
            close=transport.close,
        )
    else:
        dispatcher = Dispatcher(db, policy=policy)
        worker = Periodic("event-dispatcher", dispatcher.run_once, settings.dispatcher_poll_seconds)
    db.add_commit_listener(worker.wake.set)
    return worker


def webhook_sender(db: Database, settings: Settings) -> Periodic:
    """Signs and POSTs due webhook deliveries, with retries and backoff."""
    from omnicanal.events.webhooks import SenderPolicy, send_due

    policy = SenderPolicy(
        timeout=settings.webhook_timeout_seconds,
        max_attempts=settings.webhook_max_attempts,
        backoff_base=timedelta(seconds=settings.webhook_backoff_base_seconds),
    )
    client = httpx2.Client(follow_redirects=False)
    return Periodic("webhook-sender", lambda: send_due(db, client, policy), 1.0)


def reservation_sweeper(db: Database, settings: Settings) -> Periodic:
    """Gives expired cart and try-in-store holds back to sale."""
    from omnicanal.inventory.service import sweep_expired

    def run_once() -> int:
        with db.uow() as uow:
            return sweep_expired(uow)

    return Periodic("reservation-sweeper", run_once, settings.sweeper_interval_seconds)


def no_show_sweeper(db: Database, settings: Settings) -> Periodic:
    """Releases click & collect orders not collected by their no-show deadline."""
    from omnicanal.orders.fulfilment import sweep_no_shows

    def run_once() -> int:
        with db.uow() as uow:
            return sweep_no_shows(uow)

    return Periodic("no-show-sweeper", run_once, settings.sweeper_interval_seconds)


def segment_review(db: Database, settings: Settings) -> Periodic:
    """Segment memberships that drift with recency alone (no purchase, yet 91 days ago)."""
    from omnicanal.customers.attributes import review_due

    def run_once() -> int:
        with db.uow() as uow:
            return review_due(uow)

    return Periodic("segment-review", run_once, settings.sweeper_interval_seconds * 4)


def ticket_priority(db: Database, settings: Settings) -> Periodic:
    """Ticket priorities that rise with the ticket's age."""
    from omnicanal.service_desk.service import reprioritise_due

    def run_once() -> int:
        with db.uow() as uow:
            return reprioritise_due(uow)

    return Periodic("ticket-priority", run_once, settings.sweeper_interval_seconds * 4)


def points_expiry(db: Database, settings: Settings) -> Periodic:
    """Loyalty points past their expiry date leave the balance (nearest expiry first)."""
    from omnicanal.loyalty.service import expire_due

    def run_once() -> int:
        with db.uow() as uow:
            return expire_due(uow)

    return Periodic("points-expiry", run_once, settings.sweeper_interval_seconds * 4)


def recommendations_refresh(db: Database, settings: Settings) -> Periodic:
    """Keeps the co-purchase model warm (reads rebuild it anyway when baskets changed)."""
    from omnicanal.recommendations.service import refresh

    return Periodic(
        "recommendations-refresh", lambda: refresh(db), settings.sweeper_interval_seconds
    )


def notification_sender(db: Database, settings: Settings) -> Periodic:
    """Sends due messages after checking them against the state at send time."""
    from omnicanal.notifications.providers import providers_from_settings
    from omnicanal.notifications.sender import send_due

    providers = providers_from_settings(settings)
    return Periodic(
        "notification-sender",
        lambda: send_due(db, providers),
        settings.notifications_sender_interval_seconds,
    )


def abandoned_carts(db: Database, settings: Settings) -> Periodic:
    """Schedules cart reminders (consent permitting) for carts left untouched."""
    from omnicanal.notifications.service import schedule_abandoned_carts

    idle = timedelta(hours=settings.notifications_abandoned_cart_hours)
    return Periodic(
        "abandoned-carts",
        lambda: schedule_abandoned_carts(db, idle=idle),
        settings.sweeper_interval_seconds * 4,
    )
