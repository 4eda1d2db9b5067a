"""Location events."""

from __future__ import annotations

from dataclasses import dataclass

from omnicanal.events.model import Event


@dataclass(frozen=True, kw_only=True)
class LocationCreated(Event):
    type = "locations.location.created"
    location_id: str
    code: str
    name: str
    kind: str
    status: str
    capabilities: list[str]

    @property
    def subject(self) -> str | None:
        return self.location_id


@dataclass(frozen=True, kw_only=True)
class LocationUpdated(Event):
    type = "locations.location.updated"
    location_id: str
    code: str
    changed: list[str]
    status: str
    capabilities: list[str]

    @property
    def subject(self) -> str | None:
        return self.location_id
