"""Service desk events. What the customer wrote (subject, comments, notes) only ever sits
under ``personal``, so erasure can blank it in every kept event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _TicketEvent(Event):
    ticket_id: str
    profile_id: str
    channel: str  # phone | email | chat | store
    source_channel: str
    store_id: str | None = None

    @property
    def subject(self) -> str:
        return self.ticket_id


@dataclass(frozen=True, kw_only=True)
class TicketOpened(_TicketEvent):
    type = "tickets.ticket.opened"
    status: str
    priority: str
    order_id: str | None = None
    personal: dict[str, Any] | None = None  # {"subject": ...}


@dataclass(frozen=True, kw_only=True)
class TicketStatusChanged(_TicketEvent):
    type = "tickets.ticket.status_changed"
    from_status: str
    status: str
    priority: str
    reopened: bool = False
    personal: dict[str, Any] | None = None  # {"note": ...}


@dataclass(frozen=True, kw_only=True)
class TicketReprioritised(_TicketEvent):
    type = "tickets.ticket.reprioritised"
    from_priority: str
    priority: str
    points: int
    cause: str  # age | customer-value


@dataclass(frozen=True, kw_only=True)
class CsatRecorded(_TicketEvent):
    type = "tickets.csat.recorded"
    score: int
    resolution: int
    personal: dict[str, Any] | None = None  # {"comment": ...}
