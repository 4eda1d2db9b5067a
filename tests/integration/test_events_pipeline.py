"""The outbox pipeline: publishing positions, exactly-once consumers, retries and parking."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from omnicanal.events.consumers import Consumer, ConsumerPolicy, consumer_statuses, replay_parked
from omnicanal.events.dispatch import Dispatcher, drain
from omnicanal.events.model import StoredEvent
from omnicanal.events.publisher import publish
from omnicanal.events.tables import (
    ConsumerFailureRow,
    OutboxEventRow,
    ProcessedEventRow,
)
from omnicanal.shared.clock import FrozenClock
from omnicanal.storage.database import Database
from omnicanal.storage.uow import UnitOfWork
from tests.event_helpers import Echoed, Pinged, ping


def positions(db: Database) -> list[tuple[str | None, int | None]]:
    with db.read() as session:
        rows = session.execute(
            select(OutboxEventRow.subject, OutboxEventRow.position).order_by(OutboxEventRow.seq)
        ).all()
    return [(r[0], r[1]) for r in rows]


def echo_consumer(calls: list[int] | None = None) -> Consumer:
    def handle(uow: UnitOfWork, event: StoredEvent) -> None:
        if calls is not None:
            calls.append(event.data["n"])
        uow.emit(Echoed(n=event.data["n"]))

    return Consumer("tests.echo", (Pinged.type,), handle)


def count(db: Database, event_type: str) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).where(OutboxEventRow.type == event_type)) or 0


def test_given_committed_events_when_published_then_positions_are_contiguous_in_commit_order(
    db: Database,
) -> None:
    ping(db, 1, 2)
    ping(db, 3)
    assert positions(db) == [("ping-1", None), ("ping-2", None), ("ping-3", None)]

    assert publish(db) == 3
    assert positions(db) == [("ping-1", 1), ("ping-2", 2), ("ping-3", 3)]
    ping(db, 4)
    assert publish(db) == 1
    assert publish(db) == 0
    assert positions(db)[-1] == ("ping-4", 4)


def test_a_rolled_back_change_leaves_no_event(db: Database) -> None:
    def failing_use_case() -> None:
        with db.uow() as uow:
            uow.emit(Pinged(n=1))
            raise RuntimeError("the use case failed")

    with pytest.raises(RuntimeError):
        failing_use_case()
    assert positions(db) == []


def test_an_event_committed_late_gets_a_later_position_and_is_never_skipped(db: Database) -> None:
    if not db.is_postgres:
        pytest.skip("SQLite has one writer at a time: no transaction can commit 'late'")
    slow = db.uow().__enter__()
    slow.emit(Pinged(n=1))  # inserted first (lower seq), not committed yet
    slow.session.flush()
    ping(db, 2)
    publish(db)
    assert dict(positions(db)) == {"ping-2": 1}
    slow.__exit__(None, None, None)
    publish(db)
    assert dict(positions(db)) == {"ping-2": 1, "ping-1": 2}


def test_given_a_consumer_when_drained_twice_then_each_event_is_applied_once(db: Database) -> None:
    calls: list[int] = []
    consumer = echo_consumer(calls)
    ping(db, 1, 2, 3)
    drain(db, [consumer])
    drain(db, [consumer])
    assert calls == [1, 2, 3]
    assert count(db, Echoed.type) == 3
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcessedEventRow)) == 3
    status = consumer_statuses(db, [consumer])[0]
    assert status.lag == 0
    assert status.position == 6  # three pings and the three echoes it emitted (skipped)


def test_two_dispatchers_racing_apply_every_event_exactly_once(db: Database) -> None:
    consumer = echo_consumer()
    ping(db, *range(60))
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work() -> None:
        try:
            barrier.wait()
            dispatcher = Dispatcher(db, [consumer], ConsumerPolicy(batch_size=7))
            while dispatcher.run_once():
                pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    drain(db, [consumer])
    assert errors == []
    assert count(db, Echoed.type) == 60
    with db.read() as session:
        echoed = session.scalars(
            select(OutboxEventRow.data).where(OutboxEventRow.type == Echoed.type)
        ).all()
    assert sorted(e["n"] for e in echoed) == list(range(60))


def failing_consumer(fail_times: dict[int, int], calls: list[int]) -> Consumer:
    def handle(uow: UnitOfWork, event: StoredEvent) -> None:
        n = event.data["n"]
        calls.append(n)
        if fail_times.get(n, 0) > 0:
            fail_times[n] -= 1
            raise ValueError(f"cannot handle ping {n} yet")
        uow.emit(Echoed(n=n))

    return Consumer("tests.flaky", (Pinged.type,), handle)


def test_a_failing_event_is_retried_with_backoff_and_holds_back_later_ones(
    db: Database, clock: FrozenClock
) -> None:
    calls: list[int] = []
    consumer = failing_consumer({1: 1}, calls)
    policy = ConsumerPolicy(max_attempts=3)
    ping(db, 1, 2)
    drain(db, [consumer], policy=policy)
    assert calls == [1]  # ping 2 waits behind ping 1: order is kept
    assert count(db, Echoed.type) == 0
    with db.read() as session:
        failure = session.scalars(select(ConsumerFailureRow)).one()
    assert (failure.status, failure.attempts) == ("retrying", 1)
    assert "cannot handle ping 1 yet" in failure.last_error

    clock.advance(seconds=1)
    drain(db, [consumer], policy=policy)
    assert calls == [1]  # backoff (2 s) not over yet

    clock.advance(seconds=2)
    drain(db, [consumer], policy=policy)
    assert calls == [1, 1, 2]
    assert count(db, Echoed.type) == 2
    with db.read() as session:
        assert session.scalars(select(ConsumerFailureRow.status)).one() == "resolved"


def test_a_poison_event_is_parked_the_others_go_on_and_a_replay_applies_it_once(
    db: Database, clock: FrozenClock
) -> None:
    calls: list[int] = []
    fail_times = {1: 100}
    consumer = failing_consumer(fail_times, calls)
    policy = ConsumerPolicy(max_attempts=3)
    ping(db, 1, 2)
    for _ in range(4):
        drain(db, [consumer], policy=policy)
        clock.advance(minutes=5)
    assert calls == [1, 1, 1, 2]
    status = consumer_statuses(db, [consumer])[0]
    assert (status.parked, status.retrying) == (1, 0)

    fail_times[1] = 0  # the cause is fixed
    with db.read() as session:
        parked_id = session.scalars(select(ConsumerFailureRow.event_id)).one()
    assert replay_parked(db, consumer, parked_id) is True
    assert replay_parked(db, consumer, parked_id) is False
    assert count(db, Echoed.type) == 2


def test_drain_refuses_to_loop_forever(db: Database) -> None:
    def feedback(uow: UnitOfWork, event: StoredEvent) -> None:
        uow.emit(Pinged(n=event.data["n"] + 1))

    ping(db, 0)
    loop: Callable[..., int] = drain
    with pytest.raises(RuntimeError, match="a consumer loops"):
        loop(db, [Consumer("tests.loop", (Pinged.type,), feedback)], max_rounds=20)
