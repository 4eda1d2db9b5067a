"""Notification events: a message went out, or was suppressed (with the reason). No contact
details: the delivery log holds them, erasable."""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class _MessageEvent(Event):
    message_id: str
    customer_id: str | None
    order_id: str | None
    template: str
    channel: str

    @property
    def subject(self) -> str:
        return self.message_id  # not the order: its timeline stays the order's own story


@dataclass(frozen=True, kw_only=True)
class MessageSent(_MessageEvent):
    type = "notifications.message.sent"


@dataclass(frozen=True, kw_only=True)
class MessageSuppressed(_MessageEvent):
    """Not sent because its premise no longer held, consent, a cap or a duplicate."""

    type = "notifications.message.suppressed"
    reason: str
