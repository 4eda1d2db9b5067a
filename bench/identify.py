"""``identify``: customer identification throughput and time to unification.

8 client threads call ``customers.service.identify`` in closed loops (normalising the raw
identifiers first, as the API does, then identify in ``db.uow()``), on a database of its own
(``omnicanal_bench_identify``), emptied at the start. The calls follow a small life cycle of
people, so every outcome occurs:

- 30 %: a new visitor on the web: email + cookie (``created``);
- 20 %: someone already known by email uses the app: phone + device id, a second profile
  (``created``), since nothing links them yet;
- 10 %: that person then checks out with email + phone + loyalty card: the two profiles are
  unified (``merged``);
- 40 %: a known person comes back: email + a new cookie on the web (``linked``), or loyalty
  card + phone at a till once unified (``matched``).

Two phases: flat out (every client calls again as soon as its call returns), which gives the
throughput, identifiers per second (and calls per second) completed in the measured window;
then paced at half that rate, a sustained load below saturation, where time to unification is
not mostly queueing. Time to unification is reported for both, twice: as omnicanal records it
(``identity_metrics``: from the call's ``occurred_at`` to the identity being resolved, before
commit) and as the client sees it (normalise + identify + commit).
"""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import run_threads, scratch
from omnicanal.customers import service
from omnicanal.customers.model import normalise_identifiers
from omnicanal.customers.views import identity_metrics
from omnicanal.storage.database import Database

CLIENTS = 8
HALF = 0.5  # the paced phase offers half the calls per second the flat-out phase completed
TABLES = [
    "customer_identity_metrics",
    "customer_consent_history",
    "customer_consents",
    "customer_merges",
    "customer_identifiers",
    "customer_profiles",
    "outbox_events",
]


@dataclass
class Person:
    n: int

    @property
    def email(self) -> str:
        return f"Person.{self.n}@Example.org"  # normalised to lower case

    @property
    def phone(self) -> str:
        return f"061{self.n:07d}"  # a French mobile number, normalised to +3361…

    @property
    def card(self) -> str:
        return f"FID-{self.n:010d}"


class People:
    """Who exists so far, by stage of their life cycle (list.pop/append are atomic)."""

    def __init__(self) -> None:
        self.counter = itertools.count(1)
        self.email_only: list[Person] = []
        self.two_profiles: list[Person] = []
        self.unified: set[int] = set()
        self.everyone: list[Person] = []


def next_call(rng: random.Random, people: People) -> tuple[str, Person, list[tuple[str, str]]]:
    r = rng.random()
    token = f"{rng.getrandbits(64):016x}"
    if r < 0.2 and people.email_only:
        person = people.email_only.pop(rng.randrange(len(people.email_only)))
        return "app", person, [("phone", person.phone), ("device_id", f"dev-{token}")]
    if r < 0.3 and people.two_profiles:
        person = people.two_profiles.pop(rng.randrange(len(people.two_profiles)))
        raw = [("email", person.email), ("phone", person.phone), ("loyalty_card", person.card)]
        return "web-checkout", person, raw
    if r < 0.7 and people.everyone:
        person = people.everyone[rng.randrange(len(people.everyone))]
        if person.n in people.unified and rng.random() < 0.5:
            return "pos", person, [("loyalty_card", person.card), ("phone", person.phone)]
        return "web-return", person, [("email", person.email), ("cookie", f"ck-{token}")]
    person = Person(next(people.counter))
    return "web-new", person, [("email", person.email), ("cookie", f"ck-{token}")]


def advance(kind: str, person: Person, people: People) -> None:
    if kind == "web-new":
        people.email_only.append(person)
        people.everyone.append(person)
    elif kind == "app":
        people.two_profiles.append(person)
    elif kind == "web-checkout":
        people.unified.add(person.n)


CHANNEL = {"app": "app", "web-checkout": "web", "pos": "pos", "web-return": "web", "web-new": "web"}


def run(backend: str, *, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    url = scratch(backend, "identify", TABLES)
    seconds, warmup = (4.0, 1.0) if quick else (20.0, 3.0)
    db = Database(url, pool_size=CLIENTS + 2)
    people = People()
    lock = threading.Lock()
    outcomes: Counter[str] = Counter()
    identifiers_done: list[tuple[float, int, float]] = []  # (finished at, count, recorded ms)

    def work(rng: random.Random, index: int) -> None:
        kind, person, raw = next_call(rng, people)
        identifiers = normalise_identifiers(raw)
        attributes = {"given_name": "Camille", "family_name": f"N{person.n}"}
        with db.uow() as uow:
            result = service.identify(
                uow,
                identifiers=identifiers,
                channel=CHANNEL[kind],
                attributes=attributes if kind == "web-new" else None,
                occurred_at=datetime.now(UTC),
            )
        advance(kind, person, people)
        with lock:
            outcomes[result.outcome] += 1
            identifiers_done.append((time.perf_counter(), len(raw), result.time_to_unification_ms))

    perf0, wall0 = time.perf_counter(), datetime.now(UTC)

    def phase(interval: float) -> dict[str, Any]:
        load, _ = run_threads(
            work, threads=CLIENTS, seconds=seconds, warmup=warmup, interval=interval
        )
        since, until = (wall0 + timedelta(seconds=t - perf0) for t in load.window)
        with db.read() as session:
            ttu = identity_metrics(session, since=since, until=until)["time_to_unification_ms"]
        with lock:
            done = sum(c for t, c, _ in identifiers_done if load.window[0] <= t <= load.window[1])
        summary = load.summary()
        return {
            "calls": summary,
            "identifiers": done,
            "identifiers_per_second": round(done / seconds, 1),
            "calls_per_second": summary["per_second"],
            "time_to_unification_recorded": {
                "count": ttu["count"],
                "p50_ms": _round(ttu["p50"]),
                "p99_ms": _round(ttu["p99"]),
                "max_ms": _round(ttu["max"]),
            },
            "time_to_unification_client": summary.get("latency"),
        }

    try:
        log(f"  identify/{backend}: {CLIENTS} clients flat out for {seconds:.0f} s")
        saturated = phase(0.0)
        rate = saturated["calls_per_second"] * HALF
        log(f"  identify/{backend}: {CLIENTS} clients paced at {rate:.0f} calls/s")
        paced = phase(CLIENTS / rate if rate else 0.0)
    finally:
        db.dispose()
    return {
        "clients": CLIENTS,
        "saturated": saturated,
        "half_load": paced,
        "outcomes_whole_run": dict(sorted(outcomes.items())),
        "people": len(people.everyone),
    }


def _round(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)
