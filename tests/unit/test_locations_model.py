"""Locations pure model: validation, opening hours, is_open_at in the location's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from omnicanal.locations.model import (
    Location,
    LocationStatus,
    check_opening_hours,
    format_hours,
    is_open_at,
    parse_hours_text,
)
from omnicanal.shared.errors import InvalidInput

WEEKDAYS = {d: [["09:00", "19:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat")}


def paris(**extra: object) -> Location:
    values: dict[str, object] = {
        "code": "PAR-RIVOLI",
        "name": "Paris Rivoli",
        "kind": "store",
        "latitude": 48.86,
        "longitude": 2.34,
        "timezone": "Europe/Paris",
        "opening_hours": WEEKDAYS,
        "capabilities": ["pickup", "ship_from_store"],
    } | extra
    return Location.parse(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latitude", 91.0),
        ("latitude", float("nan")),
        ("longitude", -180.5),
        ("code", "par-rivoli"),
        ("code", "PAR RIVOLI"),
        ("kind", "shop"),
        ("country", "FRA"),
        ("timezone", "Europe/Lutece"),
        ("capabilities", ["teleport"]),
        ("daily_order_capacity", -1),
        ("status", "open"),
        ("name", " "),
    ],
)
def test_bad_values_are_refused_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        paris(**{field: value})
    assert err.value.field == field


@pytest.mark.parametrize(
    "hours",
    [
        {"mon": [["19:00", "09:00"]]},  # closes before it opens
        {"mon": [["09:00", "09:00"]]},
        {"mon": [["09:00", "13:00"], ["12:00", "19:00"]]},  # overlap
        {"mon": [["9:00", "19:00"]]},  # not HH:MM
        {"mon": [["09:00", "25:00"]]},
        {"mon": [["09:00"]]},
        {"monday": [["09:00", "19:00"]]},
        {"mon": "09:00-19:00"},
    ],
)
def test_bad_opening_hours(hours: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as err:
        check_opening_hours(hours)
    assert (err.value.field or "").startswith("opening_hours")


def test_opening_hours_are_normalised_and_may_close_at_midnight() -> None:
    hours = check_opening_hours(
        {"tue": [["14:00", "19:00"], ["09:00", "12:00"]], "mon": [["18:00", "24:00"]]}
    )
    assert list(hours) == ["mon", "tue"]
    assert hours["tue"] == [("09:00", "12:00"), ("14:00", "19:00")]


def test_hours_text_round_trips() -> None:
    text = "mon=09:00-19:00;tue=09:00-12:00,14:00-19:00"
    assert format_hours(parse_hours_text(text)) == text
    with pytest.raises(InvalidInput):
        parse_hours_text("mon=09:00")
    with pytest.raises(InvalidInput):
        parse_hours_text("mon=09:00-19:00;mon=10:00-11:00")


def test_is_open_at_uses_the_location_time_zone_across_dst() -> None:
    store = paris()
    # Winter (CET, UTC+1): 09:00 local is 08:00 UTC.
    assert not is_open_at(store, datetime(2026, 1, 12, 7, 59, tzinfo=UTC))  # a Monday
    assert is_open_at(store, datetime(2026, 1, 12, 8, 0, tzinfo=UTC))
    assert is_open_at(store, datetime(2026, 1, 12, 17, 59, tzinfo=UTC))
    assert not is_open_at(store, datetime(2026, 1, 12, 18, 0, tzinfo=UTC))
    # Summer (CEST, UTC+2): 09:00 local is 07:00 UTC.
    assert is_open_at(store, datetime(2026, 7, 13, 7, 0, tzinfo=UTC))
    assert not is_open_at(store, datetime(2026, 7, 13, 17, 0, tzinfo=UTC))
    # The DST switch day (Sunday 29 March 2026) is closed; Monday 30 opens at 07:00 UTC.
    assert not is_open_at(store, datetime(2026, 3, 29, 10, 0, tzinfo=UTC))
    assert is_open_at(store, datetime(2026, 3, 30, 7, 0, tzinfo=UTC))
    assert not is_open_at(store, datetime(2026, 3, 30, 6, 59, tzinfo=UTC))


def test_the_local_day_decides_not_the_utc_day() -> None:
    # New York: Saturday 20:00 local is Sunday 01:00 UTC; the store is open Saturday till 21:00.
    store = paris(timezone="America/New_York", opening_hours={"sat": [["10:00", "21:00"]]})
    assert is_open_at(store, datetime(2026, 1, 18, 1, 0, tzinfo=UTC))
    assert not is_open_at(store, datetime(2026, 1, 18, 2, 0, tzinfo=UTC))


def test_a_closed_location_is_never_open() -> None:
    store = paris(status="closed")
    assert store.status is LocationStatus.CLOSED
    assert not is_open_at(store, datetime(2026, 1, 12, 10, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="aware"):
        is_open_at(paris(), datetime(2026, 1, 12, 10, 0))


def test_the_code_is_immutable_but_other_fields_change() -> None:
    store = paris()
    assert store.with_changes({"name": "Rivoli"}).name == "Rivoli"
    with pytest.raises(InvalidInput) as err:
        store.with_changes({"code": "PAR-OTHER"})
    assert err.value.field == "code"
    with pytest.raises(InvalidInput) as err:
        store.with_changes({"latitude": 100})
    assert err.value.field == "latitude"
