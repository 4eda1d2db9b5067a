"""NATS stopped for a while under a steady flow of events: nothing lost, nothing applied twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from omnicanal.events.consumers import Consumer, ConsumerPolicy
from omnicanal.events.model import StoredEvent
from omnicanal.events.nats_transport import NatsConfig, NatsTransport
from omnicanal.events.publisher import head_position
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork
from tests.event_helpers import Echoed, Pinged, ping
from tests.reliability.brokers import Broker, broker
from tests.reliability.test_nats_transport import (
    count,
    processed,
    relay_position,
    running,
    wait_for,
)


@pytest.fixture
def outage_broker(tmp_path: Path, nats_url: str) -> Iterator[Broker]:
    found = broker(tmp_path / "jetstream", nats_url)
    found.start()
    yield found
    found.stop()


@pytest.mark.slow
def test_nats_stopped_during_load_loses_no_event_and_applies_none_twice(
    db: Database, outage_broker: Broker, stream: str
) -> None:
    echoed: Counter[int] = Counter()
    counted: Counter[int] = Counter()

    def echo(uow: UnitOfWork, event: StoredEvent) -> None:
        echoed[event.data["n"]] += 1
        uow.emit(Echoed(n=event.data["n"]))

    def tally(uow: UnitOfWork, event: StoredEvent) -> None:
        counted[event.data["n"]] += 1

    consumers = [
        Consumer("tests.echo", (Pinged.type,), echo),
        Consumer("tests.tally", (Echoed.type,), tally),  # fed by the first one, through NATS
    ]
    # a short ack wait: a message in flight when the broker died comes back within the test
    config = NatsConfig(url=outage_broker.url, stream=stream, ack_wait=3.0, fetch_timeout=0.5)
    transport = NatsTransport(db, consumers, ConsumerPolicy(), config)
    sent: list[int] = []
    stop = threading.Event()

    def shop_floor() -> None:  # ~40 changes a second, each with its event
        n = 0
        while not stop.is_set():
            n += 1
            ping(db, n)
            sent.append(n)
            time.sleep(0.025)

    with running(transport, db):
        assert transport.wait_connected()
        load = threading.Thread(target=shop_floor)
        load.start()
        try:
            time.sleep(1.5)
            outage_broker.stop()  # NATS goes away in the middle of the flow
            time.sleep(1.0)
            relayed_then, head_then = relay_position(db, stream), head_position(db)
            time.sleep(2.5)
            relayed_now, head_now = relay_position(db, stream), head_position(db)
            outage_broker.start()  # and comes back
            time.sleep(1.5)
        finally:
            stop.set()
            load.join()
        wait_for(lambda: processed(db, "tests.tally") == len(sent), seconds=60)

    # during the outage the feed went on while nothing was relayed
    assert head_now > head_then
    assert relayed_now == relayed_then
    # once it returned: every event applied exactly once, by both consumers
    assert echoed == Counter(sent)
    assert counted == Counter(sent)
    assert count(db, Echoed.type) == len(sent)
    assert processed(db, "tests.echo") == len(sent)
    assert relay_position(db, stream) == head_position(db) == 2 * len(sent)
