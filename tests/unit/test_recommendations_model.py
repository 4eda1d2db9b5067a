"""Co-purchase maths on baskets small enough to count by hand."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from omnicanal.recommendations.model import bought_with, build, build_from_pairs

# 4 baskets: shoes+socks, shoes+socks+laces, shoes alone, laces+polish
BASKETS = [["SHOE", "SOCKS"], ["SHOE", "SOCKS", "LACES"], ["SHOE"], ["LACES", "POLISH"]]


def test_co_occurrence_counts_are_the_baskets_holding_both() -> None:
    model = build(BASKETS)
    assert model.baskets == 4
    assert model.count("SHOE", "SOCKS") == 2
    assert model.count("SHOE", "LACES") == 1
    assert model.count("SHOE", "POLISH") == 0
    assert model.count("LACES", "POLISH") == 1
    assert model.count("SHOE", "SHOE") == 3  # the diagonal: baskets holding the SKU
    assert model.count("SOCKS", "SOCKS") == 2
    assert model.count("SHOE", "UNKNOWN") == 0


def test_scores_are_cosine_and_never_self() -> None:
    model = build(BASKETS)
    assert math.isclose(model.score("SHOE", "SOCKS"), 2 / math.sqrt(3 * 2))
    assert math.isclose(model.score("SHOE", "LACES"), 1 / math.sqrt(3 * 2))
    assert math.isclose(model.score("LACES", "POLISH"), 1 / math.sqrt(2 * 1))
    assert model.score("SHOE", "SHOE") == 0.0


def test_a_sku_twice_in_a_basket_counts_once_and_pairs_give_the_same_matrix() -> None:
    from_lists = build([["A", "B", "B"], ["A"]])
    from_pairs = build_from_pairs([("1", "A"), ("1", "B"), ("1", "B"), ("2", "A")])
    assert from_lists.count("A", "B") == from_pairs.count("A", "B") == 1
    assert from_lists.skus == from_pairs.skus == ("A", "B")
    assert (from_lists.co_counts != from_pairs.co_counts).nnz == 0


def test_bought_with_ranks_best_first_and_honours_exclude_and_limit() -> None:
    model = build(BASKETS)
    ranked = bought_with(model, ["SHOE"])
    assert [sku for sku, _ in ranked] == ["SOCKS", "LACES"]
    assert bought_with(model, ["SHOE"], exclude=["SOCKS"]) == [ranked[1]]
    assert bought_with(model, ["SHOE"], limit=1) == ranked[:1]
    assert bought_with(model, ["NEVER-SOLD"]) == []
    assert bought_with(build([]), ["SHOE"]) == []
    # several SKUs: their scores add up
    both = dict(bought_with(model, ["SOCKS", "POLISH"]))
    assert math.isclose(
        both["LACES"], model.score("SOCKS", "LACES") + model.score("POLISH", "LACES")
    )


SKU = st.sampled_from([f"SKU-{n}" for n in range(8)])
BASKET_SETS = st.lists(st.lists(SKU, min_size=1, max_size=5), min_size=1, max_size=30)


@given(BASKET_SETS)
def test_scores_are_symmetric_and_within_zero_and_one(baskets: list[list[str]]) -> None:
    model = build(baskets)
    if model.skus:
        assert abs(model.scores - model.scores.T).max() < 1e-12
    assert (model.co_counts != model.co_counts.T).nnz == 0
    if model.scores.nnz:
        assert model.scores.data.min() > 0
        assert model.scores.data.max() <= 1 + 1e-12
    assert all(model.scores[i, i] == 0 for i in range(len(model.skus)))


@given(BASKET_SETS, st.lists(SKU, min_size=1, max_size=3), st.lists(SKU, max_size=4))
def test_never_the_given_skus_nor_the_excluded_ones(
    baskets: list[list[str]], given_skus: list[str], exclude: list[str]
) -> None:
    ranked = bought_with(build(baskets), given_skus, limit=10, exclude=exclude)
    returned = [sku for sku, _ in ranked]
    assert not set(returned) & (set(given_skus) | set(exclude))
    assert len(returned) == len(set(returned))
    scores = [score for _, score in ranked]
    assert scores == sorted(scores, reverse=True)
    assert all(score > 0 for score in scores)
    # only SKUs really bought together with one of the given ones
    together = {s for b in baskets if set(b) & set(given_skus) for s in b}
    assert set(returned) <= together
