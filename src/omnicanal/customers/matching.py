"""Probable duplicates: probabilistic record linkage (Fellegi-Sunter, with Splink on DuckDB).

Two profiles that share an identifier are merged by ``identify``; this finds the ones that share
none (a typo in a name or a card number, a new address after a move) and scores every candidate
pair with a match weight: the log2 of how much likelier the observed agreements are between two
records of one person than between two records of different people.

One model definition (``MODEL``) serves every data set, the profile store and the FEBRL benchmark
sets alike. Fields that no record carries are left out of a run. On a small set (fewer than
``MIN_RECORDS_TO_TRAIN`` records) the model scores with the prior m and u probabilities written
below and no term frequencies: a handful of records says nothing reliable about how common a
name is. On a larger set it learns from the data, unsupervised: the chance that two random
records match from deterministic rules, u by random sampling (seeded), m by expectation
maximisation over several blocking rules; and common values (a frequent surname, a big city)
weigh less than rare ones (term frequency adjustments).
"""

from __future__ import annotations

import copy
import itertools
import logging
import re
import time
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_rule_library import CustomRule
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.comparison_creator import ComparisonCreator
from splink.internals.comparison_level_creator import ComparisonLevelCreator

SEED = 20261123
MIN_RECORDS_TO_TRAIN = 400
DEFAULT_THRESHOLD = 0.9  # match probability from which a pair enters the review queue
_log = logging.getLogger(__name__)
U_SAMPLE_PAIRS = 2e6  # pairs sampled to estimate u (Splink warns at its 1e6 default)


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """What the matcher compares of one profile. Values are free text; ``birth_date`` is ISO
    (``1984-03-07``); missing values are ``None``."""

    id: str
    given_name: str | None = None
    family_name: str | None = None
    birth_date: str | None = None
    postal_code: str | None = None
    city: str | None = None
    street_address: str | None = None
    email: str | None = None
    phone: str | None = None
    loyalty_card: str | None = None


MATCH_FIELDS = tuple(f.name for f in fields(MatchRecord) if f.name != "id")
_SPACES = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def _fold(value: str) -> str:
    """Lower case, accents dropped, punctuation to spaces: ``Zoé-Marie`` -> ``zoe marie``."""
    decomposed = unicodedata.normalize("NFKD", value)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return _SPACES.sub(" ", _NOT_ALNUM.sub(" ", ascii_only)).strip()


def _compact(value: str) -> str:
    return _NOT_ALNUM.sub("", _fold(value))


def _clean(field_name: str, value: str | None) -> str | None:
    if value is None:
        return None
    if field_name in {"postal_code", "phone", "loyalty_card"}:
        out = _compact(value)
    elif field_name == "email":
        out = value.strip().lower()
    elif field_name == "birth_date":
        out = value.strip()[:10]
    else:
        out = _fold(value)
    return out or None


def _rows(records: Sequence[MatchRecord]) -> list[dict[str, str | None]]:
    rows = []
    for record in sorted(records, key=lambda r: r.id):
        row: dict[str, str | None] = {"unique_id": record.id}
        for name in MATCH_FIELDS:
            row[name] = _clean(name, getattr(record, name))
        rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Level:
    """One comparison level: its label in explanations, and prior m and u probabilities."""

    label: str
    creator: ComparisonLevelCreator
    m: float
    u: float
    tf: bool = False  # term frequency adjusted (exact match levels only)


@dataclass(frozen=True, slots=True)
class FieldModel:
    field: str
    levels: tuple[Level, ...]  # most specific first; the "different" level is implicit

    def comparison(self, *, trained: bool) -> ComparisonCreator:
        levels: list[ComparisonLevelCreator | dict[str, Any]] = [cll.NullLevel(self.field)]
        for level in self.levels:
            options: dict[str, Any] = {
                "label_for_charts": level.label,
                "m_probability": level.m,
                "u_probability": level.u,
            }
            if level.tf and trained:
                options["tf_adjustment_column"] = self.field
                options["tf_minimum_u_value"] = 0.001
            # configure() changes the creator in place: the shared definition stays untouched
            levels.append(copy.deepcopy(level.creator).configure(**options))
        m_rest = max(1e-4, 1 - sum(lv.m for lv in self.levels))
        u_rest = max(1e-4, 1 - sum(lv.u for lv in self.levels))
        levels.append(
            cll.ElseLevel().configure(
                label_for_charts="different", m_probability=m_rest, u_probability=u_rest
            )
        )
        return cl.CustomComparison(
            comparison_levels=levels, output_column_name=self.field, comparison_description=""
        )

    @property
    def labels_by_gamma(self) -> dict[int, str]:
        """Splink numbers levels from the top: the last non-null level is 0 ("different")."""
        out = {-1: "missing", 0: "different"}
        for i, level in enumerate(self.levels):
            out[len(self.levels) - i] = level.label
        return out


def _name(field_name: str, other: str) -> FieldModel:
    return FieldModel(
        field_name,
        (
            Level("exact", cll.ExactMatchLevel(field_name), m=0.80, u=0.005, tf=True),
            Level("swapped", cll.ColumnsReversedLevel(field_name, other), m=0.02, u=0.0005),
            Level("close", cll.JaroWinklerLevel(field_name, 0.92), m=0.10, u=0.004),
            Level("similar", cll.JaroWinklerLevel(field_name, 0.80), m=0.04, u=0.04),
        ),
    )


def _code(field_name: str, *, m_exact: float, u_exact: float, tf: bool) -> FieldModel:
    """Identifiers typed by a person (a card, a phone number, a postcode): a typo is one edit."""
    return FieldModel(
        field_name,
        (
            Level("exact", cll.ExactMatchLevel(field_name), m=m_exact, u=u_exact, tf=tf),
            Level("one typo", cll.DamerauLevenshteinLevel(field_name, 1), m=0.07, u=0.001),
            Level("two typos", cll.DamerauLevenshteinLevel(field_name, 2), m=0.02, u=0.01),
        ),
    )


MODEL: tuple[FieldModel, ...] = (
    _name("given_name", "family_name"),
    _name("family_name", "given_name"),
    FieldModel(
        "birth_date",
        (
            Level("exact", cll.ExactMatchLevel("birth_date"), m=0.85, u=0.0003),
            Level("one typo", cll.DamerauLevenshteinLevel("birth_date", 1), m=0.08, u=0.003),
            Level("two typos", cll.DamerauLevenshteinLevel("birth_date", 2), m=0.03, u=0.03),
        ),
    ),
    _code("postal_code", m_exact=0.85, u_exact=0.01, tf=True),
    FieldModel(
        "city",
        (
            Level("exact", cll.ExactMatchLevel("city"), m=0.85, u=0.01, tf=True),
            Level("close", cll.JaroWinklerLevel("city", 0.90), m=0.07, u=0.005),
            Level("similar", cll.JaroWinklerLevel("city", 0.75), m=0.03, u=0.05),
        ),
    ),
    FieldModel(
        "street_address",
        (
            Level("exact", cll.ExactMatchLevel("street_address"), m=0.80, u=0.0005),
            Level("close", cll.JaroWinklerLevel("street_address", 0.90), m=0.10, u=0.003),
            Level("similar", cll.JaroWinklerLevel("street_address", 0.75), m=0.04, u=0.05),
        ),
    ),
    _code("email", m_exact=0.9, u_exact=0.00001, tf=False),
    _code("phone", m_exact=0.9, u_exact=0.00001, tf=False),
    _code("loyalty_card", m_exact=0.9, u_exact=0.00001, tf=False),
)
_BY_FIELD = {fm.field: fm for fm in MODEL}

# Pairs are scored only when they agree exactly on one of these (any one is enough): each rule
# catches duplicates the others miss, so a typo in any one field never hides a pair.
_BLOCKING: tuple[tuple[str, ...], ...] = (
    ("loyalty_card",),
    ("email",),
    ("phone",),
    ("given_name", "family_name"),
    ("family_name", "birth_date"),
    ("given_name", "birth_date"),
    ("birth_date", "postal_code"),
    ("family_name", "postal_code"),
    ("given_name", "postal_code"),
    ("family_name", "city"),
    ("given_name", "city"),
    ("birth_date", "city"),
    ("street_address",),
)
_SWAPPED_NAMES = "l.given_name = r.family_name AND l.family_name = r.given_name"
# Deterministic rules that admit (almost) no false pair: they estimate how often two random
# records are one person; their recall is an assumption.
_DETERMINISTIC: tuple[tuple[str, ...], ...] = (
    ("given_name", "family_name", "birth_date"),
    ("family_name", "birth_date", "postal_code"),
)
_DETERMINISTIC_RECALL = 0.7
# EM runs once per rule; each rule leaves its own fields' m values to the others.
_TRAINING: tuple[tuple[str, ...], ...] = (
    ("given_name", "family_name"),
    ("birth_date",),
    ("postal_code",),
)
_PRIOR_MATCH_PROBABILITY = 1e-4
_MIN_EM_PAIRS = 20


def _present(fields_: Iterable[str], carried: set[str]) -> bool:
    return all(f in carried for f in fields_)


def _blocking_rules(carried: set[str]) -> list[BlockingRuleCreator | dict[str, Any]]:
    rules: list[BlockingRuleCreator | dict[str, Any]] = [
        block_on(*rule) for rule in _BLOCKING if _present(rule, carried)
    ]
    if _present(("given_name", "family_name"), carried):
        rules.append(CustomRule(_SWAPPED_NAMES))
    return rules


def settings(
    carried: set[str], *, trained: bool, match_probability: float = _PRIOR_MATCH_PROBABILITY
) -> SettingsCreator:
    """The model for records carrying ``carried`` fields (the others are left out)."""
    comparisons: list[ComparisonCreator | dict[str, Any]] = [
        fm.comparison(trained=trained) for fm in MODEL if fm.field in carried
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=_blocking_rules(carried),
        probability_two_random_records_match=match_probability,
        retain_matching_columns=True,  # for the gamma (level) columns; values stay in memory
        retain_intermediate_calculation_columns=True,
        additional_columns_to_retain=[],
    )


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldAgreement:
    field: str
    level: str  # exact, swapped, close, similar, one typo, two typos, different, missing
    match_weight: float  # this field's contribution (log2 Bayes factor, with term frequency)


@dataclass(frozen=True, slots=True)
class ScoredPair:
    left_id: str  # left_id < right_id
    right_id: str
    match_weight: float
    match_probability: float
    agreements: tuple[FieldAgreement, ...]

    @property
    def agreeing(self) -> list[str]:
        return [a.field for a in self.agreements if a.level not in {"different", "missing"}]


@dataclass(frozen=True, slots=True)
class MatchRun:
    pairs: list[ScoredPair]  # strongest first
    records: int
    fields: tuple[str, ...]  # the fields compared
    trained: bool
    threshold: float
    seconds: float


def _carried(rows: Sequence[dict[str, str | None]]) -> set[str]:
    """Fields that at least two records carry: a field nobody has cannot tell anything."""
    return {name for name in MATCH_FIELDS if sum(1 for r in rows if r[name] is not None) >= 2}


def _groups(rows: Sequence[dict[str, str | None]], rule: Sequence[str]) -> list[list[str]]:
    """Ids of the records that agree exactly on every field of ``rule`` (none missing)."""
    groups: dict[tuple[str | None, ...], list[str]] = defaultdict(list)
    for row in rows:
        key = tuple(row[f] for f in rule)
        if None not in key:
            groups[key].append(str(row["unique_id"]))
    return [ids for ids in groups.values() if len(ids) > 1]


def estimated_match_probability(rows: Sequence[dict[str, str | None]]) -> float:
    """How likely two random records are one person: the pairs that agree exactly on one of the
    deterministic rules, scaled up by their assumed recall, over all pairs. The prior when no
    pair agrees (no evidence either way)."""
    agreeing: set[tuple[str, ...]] = set()
    for rule in _DETERMINISTIC:
        for ids in _groups(rows, rule):
            agreeing.update(itertools.combinations(sorted(ids), 2))
    total = len(rows) * (len(rows) - 1) / 2
    if not agreeing or not total:
        return _PRIOR_MATCH_PROBABILITY
    return min(0.5, len(agreeing) / _DETERMINISTIC_RECALL / total)


def _train(linker: Linker, rows: Sequence[dict[str, str | None]], *, seed: int) -> None:
    linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed)
    for rule in _TRAINING:
        pairs = sum(len(ids) * (len(ids) - 1) // 2 for ids in _groups(rows, rule))
        if pairs < _MIN_EM_PAIRS:  # too little to learn from: those m values stay the priors
            _log.info("%d pairs agree on %s: not enough to train on", pairs, " + ".join(rule))
            continue
        linker.training.estimate_parameters_using_expectation_maximisation(
            block_on(*rule), estimate_without_term_frequencies=True
        )


def _pair(row: dict[str, Any], carried_models: Sequence[FieldModel]) -> ScoredPair:
    agreements = []
    for fm in carried_models:
        gamma = int(row[f"gamma_{fm.field}"])
        weight = float(row[f"mw_{fm.field}"]) + float(row.get(f"mw_tf_adj_{fm.field}") or 0.0)
        agreements.append(
            FieldAgreement(fm.field, fm.labels_by_gamma.get(gamma, str(gamma)), round(weight, 3))
        )
    left, right = sorted((str(row["unique_id_l"]), str(row["unique_id_r"])))
    return ScoredPair(
        left_id=left,
        right_id=right,
        match_weight=round(float(row["match_weight"]), 4),
        match_probability=round(float(row["match_probability"]), 6),
        agreements=tuple(agreements),
    )


def find_probable_duplicates(
    records: Sequence[MatchRecord],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    seed: int = SEED,
    train: bool | None = None,
) -> MatchRun:
    """Scores the pairs of ``records`` that may be one person; returns those whose match
    probability is at least ``threshold``, strongest first. ``train`` defaults to learning from
    the data when there are at least ``MIN_RECORDS_TO_TRAIN`` records."""
    started = time.perf_counter()
    if not 0 < threshold < 1:
        raise ValueError("threshold is a probability strictly between 0 and 1")
    ids = [r.id for r in records]
    if len(set(ids)) != len(ids):
        raise ValueError("record ids must be unique")
    rows = _rows(records)
    carried = _carried(rows)
    trained = len(rows) >= MIN_RECORDS_TO_TRAIN if train is None else train
    carried_models = [fm for fm in MODEL if fm.field in carried]
    if len(rows) < 2 or not carried_models or not _blocking_rules(carried):
        # no rule to pick pairs with: never fall back to comparing everybody with everybody
        return MatchRun([], len(rows), (), trained, threshold, time.perf_counter() - started)
    db_api = DuckDBAPI()
    try:
        db_api.duckdb_con.execute("SET threads TO 1")  # same float sums, same answers
        table = db_api.register(rows)
        prior = estimated_match_probability(rows) if trained else _PRIOR_MATCH_PROBABILITY
        model = settings(carried, trained=trained, match_probability=prior)
        linker = Linker(table, model, log_level=None)
        if trained:
            _train(linker, rows, seed=seed)
        predictions = linker.inference.predict(threshold_match_probability=threshold)
        scored = [_pair(row, carried_models) for row in predictions.as_record_list()]
    finally:
        db_api.duckdb_con.close()
    scored.sort(key=lambda p: (-p.match_weight, p.left_id, p.right_id))
    return MatchRun(
        pairs=scored,
        records=len(rows),
        fields=tuple(fm.field for fm in carried_models),
        trained=trained,
        threshold=threshold,
        seconds=round(time.perf_counter() - started, 3),
    )
