"""NATS JetStream as the event transport (``OMNICANAL_NATS_URL``); see docs/events.md.

The outbox stays the source of truth. The **relay** numbers committed events (``publish``, as
the in-process bus does) then publishes each positioned event to the stream, subject
``<stream in lower case>.<event type>`` (``omnicanal.inventory.stock.reserved``), with the event
id as ``Nats-Msg-Id`` so JetStream drops a republication after a crash. Its cursor (the last
position JetStream acknowledged) is a row of ``event_consumer_cursors`` named ``relay:<stream>``
and only moves once JetStream has acknowledged: NATS down means events wait in the outbox.

Each in-process consumer is a **durable pull consumer** (explicit acks, one message in flight,
so a consumer sees events in position order and a failing one holds the later ones back as on
the in-process bus). The handler's effect, its processed record and the cursor commit together;
the ack follows the commit, and a redelivery (lost ack, crash, broker restart) finds the
processed record and changes nothing (``redelivery.apply_delivered``).

Personal data stays in the database: the message carries the envelope without
``data.personal``, and consumers read the event from the outbox, where erasure blanks it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    PubAck,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NoStreamResponseError, NotFoundError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from omnicanal.events.consumers import Consumer, ConsumerPolicy, _lock_cursor, ensure_cursor
from omnicanal.events.outbox import stored
from omnicanal.events.publisher import publish
from omnicanal.events.redelivery import apply_delivered
from omnicanal.events.tables import ConsumerCursorRow, OutboxEventRow
from omnicanal.storage.database import Database

log = structlog.get_logger(__name__)
T = TypeVar("T")
RELAY_LOCK = 0x72656C79  # "rely": the advisory lock key of the relay (one process at a time)


@dataclass(frozen=True)
class NatsConfig:
    url: str
    stream: str = "OMNICANAL"
    ack_wait: float = 30.0  # seconds before JetStream redelivers an unacknowledged message
    duplicate_window: float = 600.0  # seconds JetStream remembers a Nats-Msg-Id
    max_age: float = 7 * 24 * 3600.0  # seconds a message stays in the stream
    replicas: int = 1  # 3 on a NATS cluster: an acknowledged publish survives a node
    relay_batch: int = 500
    publish_timeout: float = 5.0
    fetch_timeout: float = 2.0  # a pull waits this long for a message before asking again

    @property
    def prefix(self) -> str:
        return self.stream.lower()

    def subject(self, event_type: str) -> str:
        return f"{self.prefix}.{event_type}"

    def filter_subject(self, patterns: Sequence[str]) -> str:
        """One subject covering every pattern (NATS 2.9 takes one filter per consumer); events
        it lets through that the consumer does not want are acknowledged without effect."""
        tokens = [
            [">"] if p == "*" else [*p[:-2].split("."), ">"] if p.endswith(".*") else p.split(".")
            for p in sorted(set(patterns))
        ]
        if len(tokens) == 1:
            return ".".join([self.prefix, *tokens[0]])
        common: list[str] = []
        for parts in zip(*tokens, strict=False):
            if len(set(parts)) != 1 or parts[0] == ">":
                break
            common.append(parts[0])
        return ".".join([self.prefix, *common, ">"])

    def durable(self, consumer_name: str) -> str:
        return consumer_name.replace(".", "_")

    @property
    def relay_name(self) -> str:
        return f"relay:{self.stream}"


def message_body(row: OutboxEventRow) -> bytes:
    envelope = stored(row).envelope()
    envelope["data"] = {k: v for k, v in envelope["data"].items() if k != "personal"}
    return json.dumps(envelope, separators=(",", ":")).encode()


class _LoopThread:
    """An asyncio loop in a thread of its own, for the worker threads' synchronous calls."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


class NatsTransport:
    """The relay (``run_once``, a background worker woken by commits) and the durable
    consumers (tasks on the transport's own event loop, started on the first ``run_once``)."""

    def __init__(
        self,
        db: Database,
        consumers: Sequence[Consumer],
        policy: ConsumerPolicy,
        config: NatsConfig,
    ) -> None:
        names = [c.name for c in consumers]
        if len(set(names)) != len(names):
            raise ValueError(f"two consumers share a name: {sorted(names)}")
        self.db = db
        self.consumers = list(consumers)
        self.policy = policy
        self.config = config
        self.outcomes: Counter[str] = Counter()  # "<consumer> <outcome>" -> deliveries
        self.relayed = 0
        self.duplicates_dropped = 0  # republished events JetStream recognised by Nats-Msg-Id
        self._loop: _LoopThread | None = None
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._ready: asyncio.Event | None = None
        self._connector: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._executor = ThreadPoolExecutor(
            max_workers=max(1, min(len(self.consumers), 8)), thread_name_prefix="omnicanal-nats"
        )
        self._starting = threading.Lock()
        self._closed = False
        self._warned = False
        self.wake: Callable[[], None] = lambda: None  # wakes the relay (set by its worker)

    # -- life cycle ----------------------------------------------------------------------------
    def start(self) -> None:
        with self._starting:
            if self._loop is not None:
                return
            self._ensure_relay_cursor()
            for consumer in self.consumers:
                ensure_cursor(self.db, consumer.name)
            loop = _LoopThread("omnicanal-nats")
            loop.run(self._start_tasks(), timeout=5)
            self._loop = loop

    def wait_connected(self, seconds: float = 10.0) -> bool:
        """Start, then wait until NATS is connected and the stream exists."""
        self.start()
        deadline = time.monotonic() + seconds
        while not self.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.connected

    async def _start_tasks(self) -> None:
        self._ready = asyncio.Event()
        self._connector = asyncio.create_task(self._connect())
        self._tasks = [asyncio.create_task(self._consume(c)) for c in self.consumers]

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._loop is not None:
            try:
                self._loop.run(self._shutdown(), timeout=15)
            finally:
                self._loop.close()
        self._executor.shutdown(wait=True)

    async def _shutdown(self) -> None:
        tasks = [*self._tasks, *([self._connector] if self._connector else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._nc is not None and not self._nc.is_closed:
            await self._nc.close()

    # -- connection ----------------------------------------------------------------------------
    async def _connect(self) -> None:
        """Connect (retrying for as long as it takes: the outbox keeps the events meanwhile),
        make sure the stream exists, then let the relay and the consumers go."""
        ready = self._ready
        assert ready is not None
        while True:
            try:
                if self._nc is None:
                    self._nc = await nats.connect(
                        [url.strip() for url in self.config.url.split(",")],  # a cluster
                        name="omnicanal",
                        allow_reconnect=True,
                        max_reconnect_attempts=-1,  # the client reconnects by itself for ever
                        reconnect_time_wait=1,
                        connect_timeout=2,
                        error_cb=self._on_error,
                        disconnected_cb=self._on_disconnected,
                        reconnected_cb=self._on_reconnected,
                    )
                    self._js = self._nc.jetstream(timeout=self.config.publish_timeout)
                assert self._js is not None
                await self._ensure_stream(self._js)
                ready.set()
                self.wake()  # events may have waited for the connection
                return
            except Exception as exc:
                log.warning("nats not ready: events wait in the outbox", error=repr(exc))
                await asyncio.sleep(1.0)

    async def _jetstream(self) -> JetStreamContext:
        assert self._ready is not None
        await self._ready.wait()
        assert self._js is not None
        return self._js

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats connection error", error=str(exc))

    async def _on_disconnected(self) -> None:
        if not self._closed:
            log.warning("nats disconnected: events wait in the outbox", url=self.config.url)

    async def _on_reconnected(self) -> None:
        log.info("nats reconnected", url=self.config.url)
        if self._js is not None:  # a server that lost its state gets the stream back
            await _quietly(self._ensure_stream(self._js))
        self.wake()

    async def _ensure_stream(self, js: JetStreamContext) -> None:
        try:
            await js.stream_info(self.config.stream)
        except NotFoundError:
            await js.add_stream(
                StreamConfig(
                    name=self.config.stream,
                    subjects=[f"{self.config.prefix}.>"],
                    storage=StorageType.FILE,
                    max_age=self.config.max_age,
                    duplicate_window=self.config.duplicate_window,
                    num_replicas=self.config.replicas,
                )
            )

    @property
    def connected(self) -> bool:
        ready = self._ready is not None and self._ready.is_set()
        return ready and self._nc is not None and self._nc.is_connected

    # -- relay ---------------------------------------------------------------------------------
    def run_once(self) -> int:
        """One round of the ``event-relay`` worker: number committed events, relay a batch."""
        self.start()
        return publish(self.db) + self.relay()

    def relay(self) -> int:
        """Publish the next batch of positioned events to JetStream; returns how many were
        acknowledged (0 while NATS is unreachable: they stay in the outbox)."""
        if not self._reachable():
            return 0
        if self.db.is_postgres:
            with self.db.uow() as uow:
                locked = uow.session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK}
                )
                if not locked:
                    return 0  # another process relays
                cursor = _lock_cursor(uow, self.config.relay_name)
                rows = self._next_rows(uow.session, cursor.position)
                sent_to = self._send(rows)
                if sent_to > cursor.position:
                    cursor.position = sent_to
                    cursor.updated_at = uow.now()
        else:  # SQLite: no write lock held while talking to NATS; Nats-Msg-Id drops repeats
            with self.db.read() as session:
                found = session.get(ConsumerCursorRow, self.config.relay_name)
                rows = self._next_rows(session, found.position if found else 0)
            sent_to = self._send(rows)
            with self.db.uow() as uow:
                cursor = _lock_cursor(uow, self.config.relay_name)
                if sent_to > cursor.position:
                    cursor.position = sent_to
                    cursor.updated_at = uow.now()
        return sum(1 for row in rows if row.position is not None and row.position <= sent_to)

    def _reachable(self) -> bool:
        if self.connected:
            self._warned = False
            return True
        if not self._warned:
            log.warning("nats unreachable: events wait in the outbox", url=self.config.url)
            self._warned = True
        return False

    def _next_rows(self, session: Session, after: int) -> list[OutboxEventRow]:
        return list(
            session.scalars(
                select(OutboxEventRow)
                .where(OutboxEventRow.position > after)
                .order_by(OutboxEventRow.position)
                .limit(self.config.relay_batch)
            )
        )

    def _send(self, rows: Sequence[OutboxEventRow]) -> int:
        """Publish ``rows`` in position order; returns the position up to which every one was
        acknowledged (the cursor never passes an event JetStream may not hold)."""
        if not rows:
            return 0
        assert self._loop is not None
        try:
            acks = self._loop.run(self._publish_all(rows), timeout=self.config.publish_timeout + 5)
        except Exception as exc:
            log.warning("nats publish failed: events wait in the outbox", error=str(exc))
            return 0
        sent_to = 0
        for row, ack in zip(rows, acks, strict=True):
            if isinstance(ack, BaseException):
                break
            assert row.position is not None
            sent_to = row.position
            self.relayed += 1
            self.duplicates_dropped += bool(getattr(ack, "duplicate", False))
        return sent_to

    async def _publish_all(self, rows: Sequence[OutboxEventRow]) -> list[object]:
        js = await self._jetstream()
        futures: list[asyncio.Future[PubAck]] = []
        for row in rows:  # sent one after the other: the stream keeps position order
            futures.append(
                await js.publish_async(
                    self.config.subject(row.type),
                    message_body(row),
                    headers={"Nats-Msg-Id": row.id},
                    wait_stall=self.config.publish_timeout,
                )
            )
        # wait for the acks, but give up at once if the connection drops (NATS went away):
        # the relay must not hold the feed's numbering back while it waits
        deadline = time.monotonic() + self.config.publish_timeout
        pending: set[asyncio.Future[PubAck]] = set(futures)
        while pending and time.monotonic() < deadline and self.connected:
            _, pending = await asyncio.wait(pending, timeout=0.05)
        done = [f for f in futures if f.done()]
        for future in pending:
            future.cancel()  # frees its slot; the event is published again next round
        if any(isinstance(f.exception(), NoStreamResponseError) for f in done):
            await _quietly(self._ensure_stream(js))  # a server that lost its state
        return [
            (f.exception() or f.result())
            if f.done() and not f.cancelled()
            else TimeoutError("no ack from JetStream")
            for f in futures
        ]

    def _ensure_relay_cursor(self) -> None:
        """The relay starts where the slowest consumer stands (0 on a new database), so turning
        NATS on for a running system does not republish its whole history."""
        name = self.config.relay_name
        with self.db.read() as session:
            if session.get(ConsumerCursorRow, name) is not None:
                return
            positions: dict[str, int] = {
                row.consumer: row.position for row in session.scalars(select(ConsumerCursorRow))
            }
        start = min((positions.get(c.name, 0) for c in self.consumers), default=0)
        try:
            with self.db.uow() as uow:
                uow.session.add(
                    ConsumerCursorRow(consumer=name, position=start, updated_at=uow.now())
                )
        except IntegrityError:
            pass  # another process created it

    # -- consumers -----------------------------------------------------------------------------
    async def _consume(self, consumer: Consumer) -> None:
        sub: JetStreamContext.PullSubscription | None = None
        failures = 0
        while True:
            try:
                if sub is None:
                    sub = await self._subscribe(consumer)
                try:
                    messages = await sub.fetch(1, timeout=self.config.fetch_timeout)
                except TimeoutError:
                    continue  # nothing yet (or NATS away: the client reconnects by itself)
                for message in messages:
                    await self._deliver(consumer, message)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                log.warning(
                    "nats consumer failed",
                    consumer=consumer.name,
                    error=repr(exc),
                    closed=self._nc is not None and self._nc.is_closed,
                    reconnecting=self._nc is not None and self._nc.is_reconnecting,
                )
                if sub is not None and failures > 2:
                    await _quietly(sub.unsubscribe())
                    sub = None
                await asyncio.sleep(min(0.2 * 2**failures, 5.0))

    async def _subscribe(self, consumer: Consumer) -> JetStreamContext.PullSubscription:
        js = await self._jetstream()
        durable = self.config.durable(consumer.name)
        wanted = ConsumerConfig(
            durable_name=durable,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=self.config.ack_wait,
            max_deliver=-1,
            max_ack_pending=1,  # in position order; a retried event holds the later ones
            filter_subject=self.config.filter_subject(consumer.handles),
        )
        try:
            info = await js.consumer_info(self.config.stream, durable)
            if info.config.filter_subject != wanted.filter_subject:
                await js.delete_consumer(self.config.stream, durable)  # handles changed
                raise NotFoundError
        except NotFoundError:
            await js.add_consumer(self.config.stream, wanted)
        return await js.pull_subscribe_bind(durable=durable, stream=self.config.stream)

    async def _deliver(self, consumer: Consumer, message: Msg) -> None:
        event_id = json.loads(message.data)["id"]
        loop = asyncio.get_running_loop()
        try:
            delivery = await loop.run_in_executor(
                self._executor, apply_delivered, self.db, consumer, event_id, self.policy
            )
        except Exception:
            await message.nak(delay=1.0)  # the database is away: ask again, nothing recorded
            raise
        self.outcomes[f"{consumer.name} {delivery.outcome}"] += 1
        if delivery.acknowledge:
            await message.ack()
        else:
            delay = max(delivery.delay, timedelta(milliseconds=100))
            await message.nak(delay=delay.total_seconds())


async def _quietly(awaitable: Awaitable[object]) -> None:
    try:
        await awaitable
    except Exception as exc:
        log.debug("nats clean-up failed", error=repr(exc))
