"""Routing rules and the optimiser, on hand-made candidates."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from omnicanal.orders.model import Method
from omnicanal.orders.routing import Candidate, Demand, RoutingConfig, route
from omnicanal.orders.solver import solve
from omnicanal.shared.errors import InvalidInput

SHIP = frozenset({"ship"})
STORE = frozenset({"pickup", "ship_from_store"})


def cand(
    code: str,
    stock: dict[str, int],
    *,
    km: float | None = 10,
    kind: str = "store",
    caps: frozenset[str] = SHIP,
    capacity: int | None = None,
    territory: str | None = None,
) -> Candidate:
    return Candidate(code.lower(), code, kind, caps, territory, km, stock, capacity)


def test_one_location_with_the_whole_basket_wins_over_a_split() -> None:
    decision = route(
        [
            cand("NEAR", {"A": 1}, km=2),
            cand("WH", {"A": 5, "B": 5}, km=300, kind="warehouse"),
            cand("MID", {"B": 5}, km=20),
        ],
        Demand(Method.HOME_DELIVERY, {"A": 1, "B": 1}),
        RoutingConfig(),
        solver=solve,
    )
    assert decision.rule == "single_location"
    assert [a.location_id for a in decision.assignments] == ["wh"]
    assert "WH has the whole basket" in decision.reason


def test_the_cheapest_complete_location_wins_and_the_runner_up_is_named() -> None:
    decision = route(
        [cand("FAR", {"A": 3}, km=400), cand("CLOSE", {"A": 3}, km=5)],
        Demand(Method.HOME_DELIVERY, {"A": 2}),
        RoutingConfig(),
        solver=solve,
    )
    assert decision.assignments[0].location_id == "close"
    assert "next was FAR" in decision.reason
    notes = {n.code: n for n in decision.candidates}
    assert notes["CLOSE"].score_minor == 450 + 10
    assert notes["FAR"].score_minor == 450 + 800


@pytest.mark.parametrize(
    ("candidate", "dropped_by"),
    [
        (cand("NOSHIP", {"A": 9}, caps=frozenset({"pickup"})), "eligibility"),
        (cand("FULL", {"A": 9}, capacity=0), "capacity"),
        (cand("EMPTY", {"B": 9}), "stock"),
        (cand("ABROAD", {"A": 9}, territory="BE"), "eligibility"),
        (cand("MOON", {"A": 9}, km=5000), "distance"),
    ],
)
def test_each_filter_rule_drops_and_explains(candidate: Candidate, dropped_by: str) -> None:
    decision = route(
        [candidate],
        Demand(Method.HOME_DELIVERY, {"A": 1}, territory="FR"),
        RoutingConfig(max_distance_km=1000),
        solver=solve,
    )
    assert decision.rule == "unroutable"
    (note,) = decision.candidates
    assert note.dropped_by == dropped_by
    assert note.why


def test_without_a_complete_location_the_optimiser_splits_at_least_cost() -> None:
    decision = route(
        [
            cand("A1", {"A": 2}, km=5),
            cand("B1", {"B": 2}, km=5),
            cand("AB", {"A": 1, "B": 2}, km=5),
        ],
        Demand(Method.HOME_DELIVERY, {"A": 2, "B": 2}),
        RoutingConfig(),
        solver=solve,
    )
    assert decision.rule == "optimizer"
    assert decision.split
    assert {a.location_id: dict(a.lines) for a in decision.assignments} in (
        {"a1": {"A": 2}, "b1": {"B": 2}},
        {"a1": {"A": 2}, "ab": {"B": 2}},
        {"a1": {"A": 1}, "ab": {"A": 1, "B": 2}},
    )


def test_no_split_no_backorder_is_unroutable_with_the_shortfall() -> None:
    demand = Demand(Method.HOME_DELIVERY, {"A": 5})
    decision = route(
        [cand("X", {"A": 2}), cand("Y", {"A": 1})], demand, RoutingConfig(), solver=solve
    )
    assert decision.rule == "unroutable"
    assert decision.short == {"A": 2}
    backorder = route(
        [cand("X", {"A": 2})], demand, RoutingConfig(allow_backorder=True), solver=solve
    )
    assert backorder.rule == "backorder"
    assert not backorder.assignments


@settings(max_examples=60, deadline=None)
@given(
    stock=st.lists(
        st.dictionaries(st.sampled_from("ABC"), st.integers(0, 4), min_size=1),
        min_size=1,
        max_size=6,
    ),
    wanted=st.dictionaries(st.sampled_from("ABC"), st.integers(1, 4), min_size=1),
    km=st.lists(st.floats(0, 800), min_size=6, max_size=6),
)
def test_a_routed_basket_is_served_exactly_within_stock(
    stock: list[dict[str, int]], wanted: dict[str, int], km: list[float]
) -> None:
    candidates = [cand(f"L{i}", s, km=km[i]) for i, s in enumerate(stock)]
    config = RoutingConfig(max_groups=6)
    decision = route(candidates, Demand(Method.HOME_DELIVERY, wanted), config, solver=solve)
    available = {sku: sum(s.get(sku, 0) for s in stock) for sku in wanted}
    feasible = all(available[sku] >= qty for sku, qty in wanted.items())
    assert decision.routed == feasible
    if decision.routed:
        served: dict[str, int] = {}
        by_id = {c.location_id: c for c in candidates}
        for a in decision.assignments:
            for sku, qty in a.lines.items():
                assert 0 < qty <= by_id[a.location_id].stock.get(sku, 0)
                served[sku] = served.get(sku, 0) + qty
        assert served == wanted


def test_settings_are_validated_by_name() -> None:
    with pytest.raises(InvalidInput) as caught:
        RoutingConfig.parse({"split_penalty_minor": -1})
    assert caught.value.field == "split_penalty_minor"
    with pytest.raises(InvalidInput) as caught:
        RoutingConfig.parse({"teleport": True})
    assert caught.value.field == "teleport"
    assert RoutingConfig.parse({"allow_backorder": True}).allow_backorder
