"""The order state machine, derived status, pickup codes and the words people read."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.orders.model import (
    FINAL,
    GroupStatus,
    Method,
    OrderStatus,
    allowed_next,
    check_transition,
    derive_status,
    new_pickup_code,
    pickup_code_matches,
)
from omnicanal.orders.wording import describe, pick_locale
from omnicanal.shared.errors import Conflict

S = GroupStatus


def test_click_and_collect_path_and_illegal_moves_say_what_is_possible() -> None:
    path = [S.PLACED, S.ALLOCATED, S.PICKING, S.READY_FOR_PICKUP, S.COLLECTED]
    for current, target in itertools.pairwise(path):
        check_transition(Method.CLICK_AND_COLLECT, current, target)
    with pytest.raises(Conflict) as caught:
        check_transition(Method.CLICK_AND_COLLECT, S.COLLECTED, S.CANCELLED)
    assert "collected is final" in caught.value.detail
    with pytest.raises(Conflict) as caught:
        check_transition(Method.HOME_DELIVERY, S.PICKING, S.READY_FOR_PICKUP)
    assert caught.value.extensions["allowed"] == ["shipped", "cancelled"]


def test_shipped_methods_never_wait_at_a_counter_and_pickups_never_ship() -> None:
    for method in Method:
        reachable = {t for s in GroupStatus for t in allowed_next(method, s)}
        if method.is_pickup:
            assert S.SHIPPED not in reachable
        else:
            assert S.READY_FOR_PICKUP not in reachable
            assert S.NO_SHOW not in reachable
    assert S.DECLINED in allowed_next(Method.RESERVE_AND_TRY, S.READY_FOR_PICKUP)
    assert S.DECLINED not in allowed_next(Method.CLICK_AND_COLLECT, S.READY_FOR_PICKUP)


def test_final_statuses_have_no_way_out() -> None:
    for method in Method:
        for status in FINAL:
            assert allowed_next(method, status) == []


@pytest.mark.parametrize(
    ("groups", "expected", "partial"),
    [
        ([S.ALLOCATED], OrderStatus.ALLOCATED, False),
        ([S.READY_FOR_PICKUP, S.SHIPPED], OrderStatus.READY_FOR_PICKUP, True),
        ([S.COLLECTED, S.DELIVERED], OrderStatus.COMPLETED, False),
        ([S.COLLECTED, S.CANCELLED], OrderStatus.COMPLETED, True),
        ([S.CANCELLED, S.CANCELLED], OrderStatus.CANCELLED, False),
        ([S.NO_SHOW], OrderStatus.NO_SHOW, False),
        ([S.PICKING, S.PICKING], OrderStatus.PICKING, False),
        ([S.BACKORDERED, S.ALLOCATED], OrderStatus.BACKORDERED, True),
    ],
)
def test_the_order_status_is_its_least_advanced_live_group(
    groups: list[GroupStatus], expected: OrderStatus, partial: bool
) -> None:
    derived = derive_status(groups)
    assert (derived.status, derived.partial) == (expected, partial)


@given(st.lists(st.sampled_from(list(GroupStatus)), min_size=1, max_size=6))
def test_derived_status_is_defined_for_any_mix_of_groups(groups: list[GroupStatus]) -> None:
    derived = derive_status(groups)
    live = [g for g in groups if g not in {S.CANCELLED, S.NO_SHOW, S.DECLINED}]
    if all(g is S.CANCELLED for g in groups):
        assert derived.status is OrderStatus.CANCELLED
    if derived.status is OrderStatus.NO_SHOW:
        assert not live
        assert S.NO_SHOW in groups
    if derived.status is OrderStatus.COMPLETED:
        assert live
        assert all(g in {S.COLLECTED, S.DELIVERED} for g in live)


def test_pickup_codes_are_six_digits_and_compared_forgivingly() -> None:
    codes = {new_pickup_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150
    assert pickup_code_matches("042917", "042 917")
    assert not pickup_code_matches("042917", "042918")
    assert not pickup_code_matches("042917", "")


def test_status_words_in_english_and_french() -> None:
    assert pick_locale("fr-CA,en;q=0.5") == "fr"
    assert pick_locale("de-DE") == "en"
    ready = describe(OrderStatus.READY_FOR_PICKUP, locale="fr", place="Paris Rivoli")
    assert ready.text == "Prête à être retirée à Paris Rivoli"
    assert describe(OrderStatus.COMPLETED, methods=frozenset({Method.HOME_DELIVERY})).text == (
        "Delivered"
    )
    mixed = frozenset({Method.HOME_DELIVERY, Method.CLICK_AND_COLLECT})
    assert describe(OrderStatus.COMPLETED, methods=mixed).text == "Completed"
    assert describe(OrderStatus.SHIPPED, locale="fr", partial=True).text == "Expédiée (en partie)"
    for status in OrderStatus:
        assert describe(status, locale="fr").text != describe(status, locale="en").text
