"""The service desk domain, pure: ticket statuses and their transitions, CSAT, and the priority
a ticket gets from the customer's value and its age. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from omnicanal.shared.errors import Conflict, InvalidInput


class TicketStatus(StrEnum):
    OPEN = "open"  # waiting on the retailer
    PENDING = "pending"  # waiting on the customer (or a carrier, a store)
    RESOLVED = "resolved"  # answered; the customer may rate it, or reopen it
    CLOSED = "closed"  # done; a new message reopens it


class TicketChannel(StrEnum):
    """How the customer reached the service desk."""

    PHONE = "phone"
    EMAIL = "email"
    CHAT = "chat"
    STORE = "store"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


TRANSITIONS: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.PENDING, TicketStatus.RESOLVED}),
    TicketStatus.PENDING: frozenset({TicketStatus.OPEN, TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.CLOSED, TicketStatus.OPEN}),
    TicketStatus.CLOSED: frozenset({TicketStatus.OPEN}),
}
ACTIVE = frozenset({TicketStatus.OPEN, TicketStatus.PENDING})
RATEABLE = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})
MAX_SUBJECT = 200
MAX_DESCRIPTION = 5000
MAX_COMMENT = 1000


def check_transition(current: TicketStatus, target: TicketStatus) -> None:
    if target is current:
        raise Conflict(
            f"The ticket is already {current.value}.",
            code="ticket-status-unchanged",
            field="status",
            status=current.value,
        )
    allowed = TRANSITIONS[current]
    if target not in allowed:
        raise Conflict(
            f"A {current.value} ticket cannot become {target.value}; it can become "
            f"{' or '.join(sorted(s.value for s in allowed))}.",
            code="ticket-transition-not-allowed",
            field="status",
            status=current.value,
            allowed=sorted(s.value for s in allowed),
        )


def is_reopening(current: TicketStatus, target: TicketStatus) -> bool:
    return current in RATEABLE and target is TicketStatus.OPEN


def check_text(value: str, *, field: str, limit: int, required: bool = True) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be empty.", field=field)
    if len(text) > limit:
        raise InvalidInput(f"{field} has at most {limit} characters.", field=field)
    return text


def check_csat(
    score: int, *, status: TicketStatus, resolutions: int, rated_resolution: int | None
) -> None:
    """CSAT is 1 (very unhappy) to 5 (very happy), once per resolution: after a reopening and a
    new resolution the customer may rate again."""
    if isinstance(score, bool) or not 1 <= score <= 5:
        raise InvalidInput("A CSAT score is a whole number from 1 to 5.", field="score")
    if status not in RATEABLE:
        raise Conflict(
            f"The ticket is {status.value}; satisfaction is recorded once it is resolved.",
            code="ticket-not-resolved",
            status=status.value,
        )
    if rated_resolution is not None and rated_resolution >= resolutions:
        raise Conflict(
            "This resolution was already rated; a new rating needs the ticket reopened and "
            "resolved again.",
            code="csat-already-recorded",
        )


# ---------------------------------------------------------------------------------------------
# Priority
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CustomerValue:
    """The customer's RFM scores (1-5), None for someone who never bought."""

    recency: int | None = None
    frequency: int | None = None
    monetary: int | None = None


# (open for at least, points): the longer a customer waits, the higher the ticket climbs
AGE_STEPS: tuple[tuple[timedelta, int], ...] = (
    (timedelta(hours=4), 1),
    (timedelta(hours=24), 2),
    (timedelta(hours=72), 3),
)
# (at least these points, priority), first match wins
PRIORITY_CUTS: tuple[tuple[int, Priority], ...] = (
    (8, Priority.URGENT),
    (5, Priority.HIGH),
    (2, Priority.NORMAL),
)


def value_points(value: CustomerValue) -> int:
    """0 for a non-buyer; else the monetary score (1-5), +1 for a frequent buyer (F ≥ 4),
    +1 for a recent one (R ≥ 4): 0..7."""
    if value.monetary is None:
        return 0
    points = value.monetary
    if (value.frequency or 0) >= 4:
        points += 1
    if (value.recency or 0) >= 4:
        points += 1
    return points


def age_points(age: timedelta) -> int:
    points = 0
    for step, step_points in AGE_STEPS:
        if age >= step:
            points = step_points
    return points


@dataclass(frozen=True, slots=True)
class PriorityDecision:
    priority: Priority
    points: int
    value_points: int
    age_points: int
    review_at: datetime | None  # when age alone raises it next (None: it no longer moves)


def priority_of(
    value: CustomerValue, *, opened_at: datetime, now: datetime, status: TicketStatus
) -> PriorityDecision:
    """points = value points (0..7) + age points (0..3, since the ticket was last (re)opened,
    counted while it is open or pending); ≥ 8 urgent, ≥ 5 high, ≥ 2 normal, else low."""
    vp = value_points(value)
    age = max(now - opened_at, timedelta(0))
    ap = age_points(age)
    points = vp + ap
    chosen = next((p for cut, p in PRIORITY_CUTS if points >= cut), Priority.LOW)
    review_at = None
    if status in ACTIVE:
        ahead = [opened_at + step for step, _ in AGE_STEPS if opened_at + step > now]
        review_at = min(ahead) if ahead else None
    return PriorityDecision(chosen, points, vp, ap, review_at)
