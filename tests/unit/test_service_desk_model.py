"""Pure service desk: status transitions, CSAT rules, priority from customer value and age."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.service_desk.model import (
    TRANSITIONS,
    CustomerValue,
    Priority,
    TicketStatus,
    age_points,
    check_csat,
    check_text,
    check_transition,
    is_reopening,
    priority_of,
    value_points,
)
from omnicanal.shared.errors import Conflict, InvalidInput

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
S = TicketStatus
TOP = CustomerValue(recency=5, frequency=5, monetary=5)
MIDDLE = CustomerValue(recency=4, frequency=2, monetary=3)
NOBODY = CustomerValue()


# --- transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.OPEN, S.PENDING),
        (S.OPEN, S.RESOLVED),
        (S.PENDING, S.OPEN),
        (S.PENDING, S.RESOLVED),
        (S.RESOLVED, S.CLOSED),
        (S.RESOLVED, S.OPEN),
        (S.CLOSED, S.OPEN),
    ],
)
def test_allowed_transitions(current: TicketStatus, target: TicketStatus) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [(S.OPEN, S.CLOSED), (S.PENDING, S.CLOSED), (S.CLOSED, S.RESOLVED), (S.CLOSED, S.PENDING)],
)
def test_refused_transitions_say_what_is_allowed(
    current: TicketStatus, target: TicketStatus
) -> None:
    with pytest.raises(Conflict) as info:
        check_transition(current, target)
    assert info.value.code == "ticket-transition-not-allowed"
    assert info.value.extensions["allowed"] == sorted(s.value for s in TRANSITIONS[current])


def test_same_status_is_a_conflict_and_reopening_is_recognised() -> None:
    with pytest.raises(Conflict, match="already open"):
        check_transition(S.OPEN, S.OPEN)
    assert is_reopening(S.RESOLVED, S.OPEN)
    assert is_reopening(S.CLOSED, S.OPEN)
    assert not is_reopening(S.PENDING, S.OPEN)


# --- CSAT --------------------------------------------------------------------------------------


def test_csat_once_per_resolution_after_resolution() -> None:
    check_csat(5, status=S.RESOLVED, resolutions=1, rated_resolution=None)
    check_csat(1, status=S.CLOSED, resolutions=2, rated_resolution=1)  # reopened, resolved again
    with pytest.raises(Conflict, match="already rated"):
        check_csat(4, status=S.CLOSED, resolutions=1, rated_resolution=1)
    with pytest.raises(Conflict) as info:
        check_csat(4, status=S.PENDING, resolutions=0, rated_resolution=None)
    assert info.value.code == "ticket-not-resolved"
    for bad in (0, 6, True):
        with pytest.raises(InvalidInput):
            check_csat(bad, status=S.RESOLVED, resolutions=1, rated_resolution=None)


def test_text_checks() -> None:
    assert check_text("  Parcel lost ", field="subject", limit=200) == "Parcel lost"
    with pytest.raises(InvalidInput, match="must not be empty"):
        check_text("   ", field="subject", limit=200)
    with pytest.raises(InvalidInput, match="at most 5"):
        check_text("toolong", field="note", limit=5)


# --- priority ----------------------------------------------------------------------------------


def test_value_points() -> None:
    assert value_points(NOBODY) == 0
    assert value_points(CustomerValue(recency=1, frequency=1, monetary=1)) == 1
    assert value_points(MIDDLE) == 4  # m3 + recent
    assert value_points(TOP) == 7


@pytest.mark.parametrize(
    ("hours", "points"), [(0, 0), (3.9, 0), (4, 1), (23, 1), (24, 2), (71, 2), (72, 3), (500, 3)]
)
def test_age_points(hours: float, points: int) -> None:
    assert age_points(timedelta(hours=hours)) == points


@pytest.mark.parametrize(
    ("value", "hours", "expected"),
    [
        (TOP, 0, Priority.HIGH),
        (TOP, 4, Priority.URGENT),
        (MIDDLE, 0, Priority.NORMAL),
        (MIDDLE, 4, Priority.HIGH),
        (NOBODY, 0, Priority.LOW),
        (NOBODY, 4, Priority.LOW),
        (NOBODY, 24, Priority.NORMAL),
        (NOBODY, 100, Priority.NORMAL),
    ],
)
def test_priority_by_value_and_age(value: CustomerValue, hours: int, expected: Priority) -> None:
    decision = priority_of(value, opened_at=T0, now=T0 + timedelta(hours=hours), status=S.OPEN)
    assert decision.priority is expected
    assert decision.points == decision.value_points + decision.age_points


def test_the_next_review_is_the_next_age_step_while_active() -> None:
    first = priority_of(MIDDLE, opened_at=T0, now=T0, status=S.OPEN)
    assert first.review_at == T0 + timedelta(hours=4)
    later = priority_of(MIDDLE, opened_at=T0, now=T0 + timedelta(hours=30), status=S.PENDING)
    assert later.review_at == T0 + timedelta(hours=72)
    assert (
        priority_of(MIDDLE, opened_at=T0, now=T0 + timedelta(days=4), status=S.OPEN).review_at
        is None
    )
    assert priority_of(MIDDLE, opened_at=T0, now=T0, status=S.RESOLVED).review_at is None


ORDER = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]
scores = st.one_of(st.none(), st.integers(1, 5))


@given(scores, scores, scores, st.integers(0, 200), st.integers(0, 200))
def test_priority_never_falls_as_a_ticket_waits(
    r: int | None, f: int | None, m: int | None, a: int, b: int
) -> None:
    value = CustomerValue(r, f, m)
    early, late = sorted((a, b))
    p1 = priority_of(value, opened_at=T0, now=T0 + timedelta(hours=early), status=S.OPEN)
    p2 = priority_of(value, opened_at=T0, now=T0 + timedelta(hours=late), status=S.OPEN)
    assert ORDER.index(p1.priority) <= ORDER.index(p2.priority)


@given(st.integers(1, 5), st.integers(1, 5), st.integers(1, 4), st.integers(0, 200))
def test_a_more_valuable_customer_never_ranks_lower(r: int, f: int, m: int, hours: int) -> None:
    now = T0 + timedelta(hours=hours)
    less = priority_of(CustomerValue(r, f, m), opened_at=T0, now=now, status=S.OPEN)
    more = priority_of(CustomerValue(r, f, m + 1), opened_at=T0, now=now, status=S.OPEN)
    assert ORDER.index(less.priority) <= ORDER.index(more.priority)
