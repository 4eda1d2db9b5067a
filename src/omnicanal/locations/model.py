"""Locations domain: stores, warehouses, relay points. Pure: no I/O.

Opening hours are local wall-clock times in the location's own time zone, per weekday:
``{"mon": [["09:00", "12:00"], ["14:00", "19:00"]], ...}``; a missing day is closed. ``"24:00"``
may close a day; a span crossing midnight is written as two days (``22:00-24:00`` and
``00:00-02:00``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from omnicanal.shared.errors import InvalidInput

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CODE_PATTERN = re.compile(r"[A-Z0-9-]{1,40}")
TIME_PATTERN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)|24:00")
COUNTRY_PATTERN = re.compile(r"[A-Z]{2}")

Hours = dict[str, list[tuple[str, str]]]


class LocationKind(StrEnum):
    STORE = "store"
    WAREHOUSE = "warehouse"
    RELAY_POINT = "relay_point"


class LocationStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class Capability(StrEnum):
    SHIP = "ship"  # ships parcels (warehouses)
    PICKUP = "pickup"  # click & collect counter
    SHIP_FROM_STORE = "ship_from_store"
    RESERVE_AND_TRY = "reserve_and_try"
    CURBSIDE = "curbside"  # drive / curbside pickup


def check_code(value: str, *, field: str = "code") -> str:
    code = value.strip()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidInput(
            f"Location code {value!r} is invalid: use 1 to 40 capital letters, digits and '-' "
            "(e.g. PAR-RIVOLI).",
            field=field,
        )
    return code


def check_name(value: str, *, field: str = "name") -> str:
    name = value.strip()
    if not name or len(name) > 200:
        raise InvalidInput("The name must be 1 to 200 characters.", field=field)
    return name


def check_kind(value: str, *, field: str = "kind") -> LocationKind:
    try:
        return LocationKind(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Unknown kind {value!r}; use one of {', '.join(k.value for k in LocationKind)}.",
            field=field,
        ) from None


def check_status(value: str, *, field: str = "status") -> LocationStatus:
    try:
        return LocationStatus(value.strip())
    except ValueError:
        raise InvalidInput(
            f"Unknown status {value!r}; use active or closed.", field=field
        ) from None


def check_latitude(value: float, *, field: str = "latitude") -> float:
    if isinstance(value, bool) or not math.isfinite(value) or not -90 <= value <= 90:
        raise InvalidInput(f"Latitude {value} is outside -90..90.", field=field)
    return float(value)


def check_longitude(value: float, *, field: str = "longitude") -> float:
    if isinstance(value, bool) or not math.isfinite(value) or not -180 <= value <= 180:
        raise InvalidInput(f"Longitude {value} is outside -180..180.", field=field)
    return float(value)


def check_country(value: str, *, field: str = "country") -> str:
    country = value.strip().upper()
    if not COUNTRY_PATTERN.fullmatch(country):
        raise InvalidInput(
            f"Country {value!r} is not an ISO 3166-1 alpha-2 code such as FR.", field=field
        )
    return country


_ZONES: frozenset[str] | None = None


def check_timezone(value: str, *, field: str = "timezone") -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    zone = value.strip()
    if zone not in _ZONES:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(
                f"Unknown time zone {value!r}; use an IANA name such as Europe/Paris.",
                field=field,
            ) from None
    return zone


def check_capabilities(values: list[str], *, field: str = "capabilities") -> list[str]:
    known = {c.value for c in Capability}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise InvalidInput(
            f"Unknown capability {', '.join(map(repr, unknown))}; use any of "
            f"{', '.join(sorted(known))}.",
            field=field,
        )
    return sorted(set(values))


def check_capacity(value: int | None, *, field: str = "daily_order_capacity") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or value < 0:
        raise InvalidInput("daily_order_capacity must be 0 or more (null: no limit).", field=field)
    return int(value)


def _minutes(value: str) -> int:
    hours, minutes = value.split(":")
    return int(hours) * 60 + int(minutes)


def check_opening_hours(value: Mapping[str, object], *, field: str = "opening_hours") -> Hours:
    """Validate and normalise (spans sorted per day, days in week order)."""
    out: Hours = {}
    for day in value:
        if day not in DAYS:
            raise InvalidInput(
                f"Unknown day {day!r} in opening hours; use {', '.join(DAYS)}.", field=field
            )
    for day in DAYS:
        if day not in value:
            continue
        spans = value[day]
        where = f"{field}.{day}"
        if not isinstance(spans, list | tuple):
            raise InvalidInput(
                f'Opening hours for {day} must be a list of ["HH:MM", "HH:MM"] pairs.',
                field=where,
            )
        parsed: list[tuple[str, str]] = []
        for span in spans:
            if (
                not isinstance(span, list | tuple)
                or len(span) != 2
                or not all(isinstance(t, str) and TIME_PATTERN.fullmatch(t) for t in span)
            ):
                raise InvalidInput(
                    f'Opening hours for {day}: {span!r} is not a ["HH:MM", "HH:MM"] pair.',
                    field=where,
                )
            opens, closes = str(span[0]), str(span[1])
            if opens == "24:00" or _minutes(opens) >= _minutes(closes):
                raise InvalidInput(
                    f"Opening hours for {day}: {opens}-{closes} must open before it closes "
                    "(split a span across midnight over two days).",
                    field=where,
                )
            parsed.append((opens, closes))
        parsed.sort(key=lambda s: _minutes(s[0]))
        for before, after in pairwise(parsed):
            if _minutes(after[0]) < _minutes(before[1]):
                raise InvalidInput(
                    f"Opening hours for {day}: {before[0]}-{before[1]} and "
                    f"{after[0]}-{after[1]} overlap.",
                    field=where,
                )
        if parsed:
            out[day] = parsed
    return out


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    name: str
    kind: LocationKind
    latitude: float
    longitude: float
    timezone: str = "Europe/Paris"
    address_line1: str = ""
    postcode: str = ""
    city: str = ""
    country: str = "FR"
    territory: str | None = None
    opening_hours: Hours = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    daily_order_capacity: int | None = None
    status: LocationStatus = LocationStatus.ACTIVE

    @classmethod
    def parse(
        cls,
        *,
        code: str,
        name: str,
        kind: str,
        latitude: float,
        longitude: float,
        timezone: str = "Europe/Paris",
        address_line1: str = "",
        postcode: str = "",
        city: str = "",
        country: str = "FR",
        territory: str | None = None,
        opening_hours: Mapping[str, object] | None = None,
        capabilities: list[str] | None = None,
        daily_order_capacity: int | None = None,
        status: str = "active",
    ) -> Location:
        return cls(
            code=check_code(code),
            name=check_name(name),
            kind=check_kind(kind),
            latitude=check_latitude(latitude),
            longitude=check_longitude(longitude),
            timezone=check_timezone(timezone),
            address_line1=address_line1.strip(),
            postcode=postcode.strip(),
            city=city.strip(),
            country=check_country(country),
            territory=(territory or "").strip() or None,
            opening_hours=check_opening_hours(opening_hours or {}),
            capabilities=check_capabilities(capabilities or []),
            daily_order_capacity=check_capacity(daily_order_capacity),
            status=check_status(status),
        )

    def with_changes(self, changes: Mapping[str, object]) -> Location:
        """A copy with ``changes`` applied and everything validated again."""
        values: dict[str, object] = {
            "code": self.code,
            "name": self.name,
            "kind": self.kind.value,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "timezone": self.timezone,
            "address_line1": self.address_line1,
            "postcode": self.postcode,
            "city": self.city,
            "country": self.country,
            "territory": self.territory,
            "opening_hours": self.opening_hours,
            "capabilities": self.capabilities,
            "daily_order_capacity": self.daily_order_capacity,
            "status": self.status.value,
        }
        for name, value in changes.items():
            if name not in values:
                raise InvalidInput(f"{name} cannot be changed on a location.", field=name)
            if name == "code" and value != self.code:
                raise InvalidInput(
                    "A location code is immutable: channels and files refer to it. Close this "
                    "location and create a new one.",
                    field="code",
                )
            if value is None and name not in {"territory", "daily_order_capacity"}:
                raise InvalidInput(f"{name} cannot be null.", field=name)
            values[name] = value
        return Location.parse(**values)  # type: ignore[arg-type]


def is_open_at(location: Location, when_utc: datetime) -> bool:
    """Is the location open at this instant? Hours are read in the location's own time zone, so
    a store opening at 09:00 opens at 08:00 UTC in winter and 07:00 UTC in summer in Paris."""
    if when_utc.tzinfo is None:
        raise ValueError("is_open_at needs an aware datetime")
    if location.status is LocationStatus.CLOSED:
        return False
    local = when_utc.astimezone(ZoneInfo(location.timezone))
    day = DAYS[local.weekday()]
    now = local.hour * 60 + local.minute
    return any(
        _minutes(opens) <= now < _minutes(closes)
        for opens, closes in location.opening_hours.get(day, [])
    )


def format_hours(hours: Hours) -> str:
    """{"mon": [("09:00","12:00"), ("14:00","19:00")]} -> 'mon=09:00-12:00,14:00-19:00'."""
    return ";".join(
        f"{day}={','.join(f'{o}-{c}' for o, c in hours[day])}" for day in DAYS if hours.get(day)
    )


def parse_hours_text(text: str, *, field: str = "opening_hours") -> Hours:
    """'mon=09:00-19:00;tue=09:00-12:00,14:00-19:00' -> validated hours."""
    raw: dict[str, object] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        day, sep, spans = part.partition("=")
        day = day.strip().lower()
        if not sep:
            raise InvalidInput(
                f"{part!r} is not day=HH:MM-HH:MM (e.g. mon=09:00-19:00).", field=field
            )
        if day in raw:
            raise InvalidInput(f"Day {day} appears twice.", field=field)
        pairs: list[list[str]] = []
        for span in filter(None, (s.strip() for s in spans.split(","))):
            opens, dash, closes = span.partition("-")
            if not dash:
                raise InvalidInput(f"{span!r} is not HH:MM-HH:MM.", field=field)
            pairs.append([opens.strip(), closes.strip()])
        raw[day] = pairs
    return check_opening_hours(raw, field=field)
