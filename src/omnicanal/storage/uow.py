"""Unit of work: one transaction, the state changes and the events they emit, together."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from omnicanal.shared.clock import Clock

if TYPE_CHECKING:
    from omnicanal.events.model import Event


class UnitOfWork:
    """``with db.uow() as uow:`` — use cases write through ``uow.session`` and ``uow.emit``.

    The transaction commits when the block exits cleanly and rolls back on any exception, so a
    use case that raises a domain error changes nothing. Events go to the outbox table in the same
    transaction (see ``omnicanal.events.outbox``).
    """

    session: Session

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        clock: Clock,
        on_commit: Callable[[int], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self.clock = clock
        self._on_commit = on_commit
        self.emitted: list[Event] = []

    def __enter__(self) -> UnitOfWork:
        self.session = self._session_factory()
        self.session.begin()
        self.emitted = []
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                self.session.commit()
                if self._on_commit:
                    self._on_commit(len(self.emitted))
            else:
                self.session.rollback()
        finally:
            self.session.close()

    def now(self) -> datetime:
        return self.clock.now()

    def emit(self, event: Event) -> None:
        from omnicanal.events.outbox import write_to_outbox

        write_to_outbox(self.session, event, now=self.now())
        self.emitted.append(event)

    def emit_many(self, events: Sequence[Event]) -> None:
        """Several events in one statement (hot paths), in the order given."""
        from omnicanal.events.outbox import write_many_to_outbox

        if events:
            write_many_to_outbox(self.session, events, now=self.now())
            self.emitted.extend(events)
