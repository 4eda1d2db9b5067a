"""Routing (sourcing): which location serves a fulfilment group. Pure: no I/O.

A pipeline of small rules narrows the candidates (eligibility, distance, capacity, stock); then
the fewest-splits rule picks the best single location that has the whole basket; when none has
it, the optimiser (``orders.solver``) splits the basket at least cost. Every decision keeps its
explanation: each candidate, why it was dropped or how it scored, and why the winner won.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from omnicanal.orders.model import Method
from omnicanal.shared.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Candidate:
    location_id: str
    code: str
    kind: str  # store | warehouse
    capabilities: frozenset[str]
    territory: str | None
    distance_km: float | None  # None when the destination has no coordinates
    stock: Mapping[str, int]  # sku -> units this channel may promise here
    capacity_left: int | None  # orders it can still take today; None: unlimited


@dataclass(frozen=True, slots=True)
class Demand:
    method: Method
    lines: Mapping[str, int]  # sku -> units
    territory: str | None = None


@dataclass(frozen=True)
class RoutingConfig:
    """The retailer's routing settings (``PUT /v1/routing/config``)."""

    cost_per_km_minor: int = 2  # transport cost per km, in minor units
    handling_cost_minor: Mapping[str, int] = field(
        default_factory=lambda: {"warehouse": 250, "store": 450}
    )
    split_penalty_minor: int = 600  # each extra parcel
    max_distance_km: float | None = None
    allow_split: bool = True
    max_groups: int = 3
    allow_backorder: bool = False
    use_optimizer: bool = True
    no_show_after_hours: int = 72  # a ready pickup not collected by then is released
    try_in_store_hours: int = 48  # how long a reserve-and-try hold lasts

    def handling(self, kind: str) -> int:
        return int(self.handling_cost_minor.get(kind, 0))

    def as_dict(self) -> dict[str, Any]:
        return {
            "cost_per_km_minor": self.cost_per_km_minor,
            "handling_cost_minor": dict(self.handling_cost_minor),
            "split_penalty_minor": self.split_penalty_minor,
            "max_distance_km": self.max_distance_km,
            "allow_split": self.allow_split,
            "max_groups": self.max_groups,
            "allow_backorder": self.allow_backorder,
            "use_optimizer": self.use_optimizer,
            "no_show_after_hours": self.no_show_after_hours,
            "try_in_store_hours": self.try_in_store_hours,
        }

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> RoutingConfig:
        known = set(cls().as_dict())
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(
                f"Unknown routing setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}.",
                field=unknown[0],
            )
        merged = {**cls().as_dict(), **data}
        whole_numbers = (
            "cost_per_km_minor",
            "split_penalty_minor",
            "max_groups",
            "no_show_after_hours",
            "try_in_store_hours",
        )
        for name in whole_numbers:
            value = merged[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidInput(f"{name} must be a whole number ≥ 0.", field=name)
        for name in ("max_groups", "no_show_after_hours", "try_in_store_hours"):
            if merged[name] < 1:
                raise InvalidInput(f"{name} must be at least 1.", field=name)
        handling = merged["handling_cost_minor"]
        if not isinstance(handling, Mapping) or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in handling.values()
        ):
            raise InvalidInput(
                "handling_cost_minor maps a location kind to a whole cost ≥ 0.",
                field="handling_cost_minor",
            )
        distance = merged["max_distance_km"]
        if distance is not None and (not isinstance(distance, int | float) or distance <= 0):
            raise InvalidInput("max_distance_km must be positive or null.", field="max_distance_km")
        for name in ("allow_split", "allow_backorder", "use_optimizer"):
            if not isinstance(merged[name], bool):
                raise InvalidInput(f"{name} must be true or false.", field=name)
        return cls(**merged)


@dataclass(frozen=True, slots=True)
class Assignment:
    location_id: str
    lines: Mapping[str, int]


@dataclass(frozen=True)
class CandidateNote:
    location_id: str
    code: str
    kind: str
    distance_km: float | None
    score_minor: int | None
    whole_basket: bool
    dropped_by: str | None = None
    why: str | None = None


@dataclass(frozen=True)
class Decision:
    assignments: tuple[Assignment, ...]
    rule: str  # single_location | optimizer | backorder | unroutable
    reason: str
    candidates: tuple[CandidateNote, ...]
    short: Mapping[str, int] = field(default_factory=dict)  # sku -> units nobody can supply

    @property
    def routed(self) -> bool:
        return bool(self.assignments)

    @property
    def split(self) -> bool:
        return len(self.assignments) > 1

    def explanation(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "reason": self.reason,
            "short": dict(self.short),
            "assignments": [
                {"location_id": a.location_id, "lines": dict(a.lines)} for a in self.assignments
            ],
            "candidates": [
                {
                    "location_id": c.location_id,
                    "code": c.code,
                    "kind": c.kind,
                    "distance_km": None if c.distance_km is None else round(c.distance_km, 1),
                    "score_minor": c.score_minor,
                    "whole_basket": c.whole_basket,
                    "dropped_by": c.dropped_by,
                    "why": c.why,
                }
                for c in self.candidates
            ],
        }


Rule = Callable[[Candidate, Demand, RoutingConfig], str | None]
"""A filter rule: None keeps the candidate, a string says why it is dropped."""


def rule_eligible(c: Candidate, d: Demand, _: RoutingConfig) -> str | None:
    if d.method.capability not in c.capabilities:
        return f"no '{d.method.capability}' capability"
    if d.territory and c.territory and d.territory != c.territory:
        return f"serves territory {c.territory}, not {d.territory}"
    return None


def rule_distance(c: Candidate, _: Demand, config: RoutingConfig) -> str | None:
    limit = config.max_distance_km
    if limit is not None and c.distance_km is not None and c.distance_km > limit:
        return f"{c.distance_km:.0f} km away, beyond {limit:.0f} km"
    return None


def rule_capacity(c: Candidate, _: Demand, __: RoutingConfig) -> str | None:
    if c.capacity_left is not None and c.capacity_left <= 0:
        return "daily order capacity reached"
    return None


def rule_stock(c: Candidate, d: Demand, _: RoutingConfig) -> str | None:
    if not any(c.stock.get(sku, 0) > 0 for sku in d.lines):
        return "none of the items in stock"
    return None


FILTERS: tuple[tuple[str, Rule], ...] = (
    ("eligibility", rule_eligible),
    ("distance", rule_distance),
    ("capacity", rule_capacity),
    ("stock", rule_stock),
)


def score(c: Candidate, config: RoutingConfig) -> int:
    """Cost of serving from ``c`` as one parcel: handling + transport (minor units)."""
    transport = 0 if c.distance_km is None else round(c.distance_km * config.cost_per_km_minor)
    return config.handling(c.kind) + transport


def has_whole_basket(c: Candidate, d: Demand) -> bool:
    return all(c.stock.get(sku, 0) >= qty for sku, qty in d.lines.items())


Solver = Callable[[Sequence[Candidate], Demand, RoutingConfig], Sequence[Assignment] | None]


def route(
    candidates: Sequence[Candidate],
    demand: Demand,
    config: RoutingConfig,
    *,
    solver: Solver | None = None,
) -> Decision:
    notes: dict[str, CandidateNote] = {}
    kept: list[Candidate] = []
    for c in candidates:
        whole = has_whole_basket(c, demand)
        dropped = next(
            ((name, why) for name, rule in FILTERS if (why := rule(c, demand, config))), None
        )
        notes[c.location_id] = CandidateNote(
            c.location_id,
            c.code,
            c.kind,
            c.distance_km,
            None if dropped else score(c, config),
            whole,
            dropped_by=dropped[0] if dropped else None,
            why=dropped[1] if dropped else None,
        )
        if dropped is None:
            kept.append(c)

    def ordered() -> tuple[CandidateNote, ...]:
        return tuple(
            sorted(
                notes.values(),
                key=lambda n: (
                    n.dropped_by is not None,
                    n.score_minor if n.score_minor is not None else 1 << 62,
                    n.code,
                ),
            )
        )

    complete = sorted(
        (c for c in kept if has_whole_basket(c, demand)),
        key=lambda c: (score(c, config), c.code),
    )
    if complete:
        winner = complete[0]
        runner = complete[1] if len(complete) > 1 else None
        why = f"{winner.code} has the whole basket at the lowest cost ({score(winner, config)})"
        if runner is not None:
            why += f"; next was {runner.code} ({score(runner, config)})"
        notes[winner.location_id] = replace(notes[winner.location_id], why="winner")
        return Decision(
            (Assignment(winner.location_id, dict(demand.lines)),),
            "single_location",
            why,
            ordered(),
        )

    if config.allow_split and config.use_optimizer and solver is not None and kept:
        split = solver(kept, demand, config)
        if split:
            codes = {c.location_id: c.code for c in kept}
            for a in split:
                notes[a.location_id] = replace(notes[a.location_id], why="part of the split")
            return Decision(
                tuple(split),
                "optimizer",
                "no location has the whole basket; the optimiser split it over "
                + ", ".join(codes[a.location_id] for a in split)
                + " at the least cost (handling + distance + split penalty)",
                ordered(),
            )

    supply = {sku: sum(c.stock.get(sku, 0) for c in kept) for sku in demand.lines}
    short = {sku: qty - supply[sku] for sku, qty in demand.lines.items() if supply[sku] < qty}
    if config.allow_backorder:
        return Decision(
            (),
            "backorder",
            "no eligible location can serve the basket now; the group waits for stock",
            ordered(),
            short or dict(demand.lines),
        )
    reason = (
        "no eligible location has enough stock"
        if short
        else "the basket would need a split, and splitting is off for this method"
    )
    return Decision((), "unroutable", reason, ordered(), short)
