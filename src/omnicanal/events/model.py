"""Domain events. Each context declares its own as frozen dataclasses with a dotted ``type``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar

EVENT_TYPES: dict[str, type[Event]] = {}


def to_jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_jsonable(dataclasses.asdict(value))
    return value


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all domain events. ``type`` is public: channels subscribe to it."""

    type: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type:
            if cls.type in EVENT_TYPES and EVENT_TYPES[cls.type] is not cls:
                raise TypeError(f"event type {cls.type!r} declared twice")
            EVENT_TYPES[cls.type] = cls

    @property
    def subject(self) -> str | None:
        """The id of the thing the event is about (a SKU, a location, an order), if any."""
        return None

    def payload(self) -> dict[str, Any]:
        # field by field (no deep copy as dataclasses.asdict makes): events are immutable
        return {f.name: to_jsonable(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as read back from the outbox, what consumers, the feed and webhooks receive."""

    id: str
    type: str
    subject: str | None
    data: dict[str, Any]
    occurred_at: datetime
    position: int | None

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "subject": self.subject,
            "occurred_at": self.occurred_at.isoformat(),
            "position": self.position,
            "data": self.data,
        }
