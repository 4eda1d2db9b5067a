"""NATS JetStream as the event transport: the outbox relayed, durable consumers exactly once."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import nats
from sqlalchemy import func, select

from omnicanal.events.consumers import Consumer, ConsumerPolicy
from omnicanal.events.model import Event, StoredEvent
from omnicanal.events.nats_transport import NatsConfig, NatsTransport
from omnicanal.events.publisher import head_position
from omnicanal.events.tables import ConsumerCursorRow, OutboxEventRow, ProcessedEventRow
from omnicanal.runtime import BackgroundRunner, Periodic
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork
from tests.event_helpers import Echoed, Pinged, ping
from tests.reliability.conftest import run_async


@dataclass(frozen=True, kw_only=True)
class Greeted(Event):
    """A test event carrying personal data."""

    type = "tests.greeted"
    personal: dict[str, str]
    store: str


FAST = ConsumerPolicy(backoff_base=timedelta(milliseconds=200))


def echo(calls: list[int]) -> Consumer:
    def handle(uow: UnitOfWork, event: StoredEvent) -> None:
        calls.append(event.data["n"])
        uow.emit(Echoed(n=event.data["n"]))

    return Consumer("tests.echo", (Pinged.type,), handle)


def count(db: Database, event_type: str) -> int:
    with db.read() as session:
        found = session.scalar(select(func.count()).where(OutboxEventRow.type == event_type))
        return found or 0


def processed(db: Database, consumer: str) -> int:
    with db.read() as session:
        found = session.scalar(select(func.count()).where(ProcessedEventRow.consumer == consumer))
        return found or 0


def relay_position(db: Database, stream: str) -> int:
    with db.read() as session:
        row = session.get(ConsumerCursorRow, f"relay:{stream}")
        return row.position if row else 0


def wait_for(condition: Callable[[], bool], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@contextmanager
def running(transport: NatsTransport, db: Database) -> Iterator[NatsTransport]:
    """The relay as the server runs it: a background worker woken by each commit."""
    worker = Periodic("event-relay", transport.run_once, 0.2, close=transport.close)
    transport.wake = worker.wake.set
    db.add_commit_listener(worker.wake.set)
    runner = BackgroundRunner([worker])
    runner.start()
    try:
        yield transport
    finally:
        runner.stop()


async def stream_messages(url: str, stream: str) -> list[tuple[str, str | None, bytes]]:
    """(subject, Nats-Msg-Id, body) of every message in the stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(stream)
        found = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(stream, seq)
            found.append((msg.subject, (msg.headers or {}).get("Nats-Msg-Id"), msg.data))
        return found
    finally:
        await nc.close()


def test_config_maps_types_to_subjects_and_patterns_to_one_filter() -> None:
    config = NatsConfig(url="nats://x", stream="OMNICANAL")
    assert config.subject("inventory.stock.reserved") == "omnicanal.inventory.stock.reserved"
    assert config.filter_subject(["orders.order.placed"]) == "omnicanal.orders.order.placed"
    assert config.filter_subject(["orders.*"]) == "omnicanal.orders.>"
    assert config.filter_subject(["*"]) == "omnicanal.>"
    both = ["customers.profile.merged", "customers.profile.erased"]
    assert config.filter_subject(both) == "omnicanal.customers.profile.>"
    assert config.filter_subject(["orders.*", "returns.return.received"]) == "omnicanal.>"
    assert config.durable("carts.follow-merges") == "carts_follow-merges"


def test_committed_events_are_relayed_once_per_id_even_when_republished(
    db: Database, nats_url: str, stream: str
) -> None:
    transport = NatsTransport(db, [], FAST, NatsConfig(url=nats_url, stream=stream))
    try:
        assert transport.wait_connected()
        ping(db, 1, 2, 3)
        assert transport.run_once() == 6  # 3 numbered + 3 relayed
        assert relay_position(db, stream) == 3
        with db.read() as session:
            ids = list(session.scalars(select(OutboxEventRow.id).order_by(OutboxEventRow.position)))

        # a crash between JetStream's ack and the cursor's commit: the relay sends them again
        with db.uow() as uow:
            cursor = uow.session.get(ConsumerCursorRow, f"relay:{stream}")
            assert cursor is not None
            cursor.position = 0
        assert transport.relay() == 3
        assert transport.duplicates_dropped == 3
    finally:
        transport.close()
    prefix = stream.lower()
    assert [m[:2] for m in run_async(stream_messages(nats_url, stream))] == [
        (f"{prefix}.tests.pinged", event_id) for event_id in ids
    ]


def test_personal_data_never_leaves_the_database(db: Database, nats_url: str, stream: str) -> None:
    with db.uow() as uow:
        uow.emit(Greeted(personal={"email": "lea@example.com"}, store="PAR-RIVOLI"))
    transport = NatsTransport(db, [], FAST, NatsConfig(url=nats_url, stream=stream))
    try:
        assert transport.wait_connected()
        transport.run_once()
    finally:
        transport.close()
    ((subject, _, body),) = run_async(stream_messages(nats_url, stream))
    envelope = json.loads(body)
    assert subject == f"{stream.lower()}.tests.greeted"
    assert envelope["data"] == {"store": "PAR-RIVOLI"}
    assert b"lea@example.com" not in body


def test_durable_consumers_apply_each_event_once_in_order_and_redeliveries_change_nothing(
    db: Database, nats_url: str, stream: str
) -> None:
    calls: list[int] = []
    consumer = echo(calls)
    config = NatsConfig(url=nats_url, stream=stream, fetch_timeout=0.5)
    with running(NatsTransport(db, [consumer], FAST, config), db):
        ping(db, 1, 2, 3)
        ping(db, 4)
        wait_for(lambda: processed(db, "tests.echo") == 4)
    assert calls == [1, 2, 3, 4]
    assert count(db, Echoed.type) == 4

    # JetStream delivers everything again (the durable recreated from the stream's start)
    async def forget_acks() -> None:
        nc = await nats.connect(nats_url)
        await nc.jetstream().delete_consumer(stream, "tests_echo")
        await nc.close()

    run_async(forget_acks())
    transport = NatsTransport(db, [consumer], FAST, config)
    with running(transport, db):
        wait_for(lambda: transport.outcomes["tests.echo duplicate"] == 4)
    assert calls == [1, 2, 3, 4]  # the handler never ran again
    assert count(db, Echoed.type) == 4
    with db.read() as session:
        cursor = session.get(ConsumerCursorRow, "tests.echo")
        assert cursor is not None
        assert cursor.position == 4  # pinged 1-4 hold positions 1-4, the echoes 5-8


def test_a_failing_handler_is_retried_with_backoff_and_holds_later_events_back(
    db: Database, clock: FrozenClock, nats_url: str, stream: str
) -> None:
    calls: list[int] = []

    def flaky(uow: UnitOfWork, event: StoredEvent) -> None:
        calls.append(event.data["n"])
        if event.data["n"] == 2 and calls.count(2) < 3:
            raise RuntimeError("the loyalty service is down")

    consumer = Consumer("tests.flaky", (Pinged.type,), flaky)
    config = NatsConfig(url=nats_url, stream=stream, fetch_timeout=0.5)
    transport = NatsTransport(db, [consumer], FAST, config)
    with running(transport, db):
        ping(db, 1, 2, 3)
        # the test's clock moves 1 s per check: the backoffs (0.2 s, 0.4 s) elapse
        wait_for(lambda: bool(clock.advance(seconds=1)) and processed(db, "tests.flaky") == 3)
    assert calls == [1, 2, 2, 2, 3]  # 3 waited for 2, applied once 2 succeeded
    assert transport.outcomes["tests.flaky wait"] == 2


def test_with_nats_unreachable_events_stay_in_the_outbox(db: Database, stream: str) -> None:
    config = NatsConfig(url="nats://127.0.0.1:1", stream=stream)
    transport = NatsTransport(db, [echo([])], FAST, config)
    try:
        ping(db, 1, 2)
        assert transport.run_once() == 2  # numbered for the feed, not relayed
        assert head_position(db) == 2
        assert relay_position(db, stream) == 0
    finally:
        transport.close()
