"""RFM attributes and rule-defined segments, pure: no I/O, no SQLAlchemy.

- ``RfmState`` is what a profile's purchase history adds up to; ``add_purchase`` and
  ``add_return`` update it incrementally and ``fold`` rebuilds it from a whole ledger (both give
  the same state: a property test proves it).
- ``rfm_scores`` turns a state into 1-5 scores with **fixed thresholds**, not quantiles, so one
  customer's purchase never re-scores anybody else and a score can be kept per profile.
- A segment rule is a small JSON condition tree (``parse_rule``) over named attributes
  (``facts``); ``evaluate`` is total and side-effect free; ``time_boundaries`` says when a rule's
  answer can change with the mere passing of time (recency), so a profile is reviewed then.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money

# ---------------------------------------------------------------------------------------------
# RFM state
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One purchase or return as the attributes see it (the ledger row, without I/O)."""

    kind: str  # "purchase" | "return"
    occurred_at: datetime
    channel: str
    amount: Money | None  # a purchase's total, a return's refund; None when not given
    cancelled: bool = False


@dataclass(frozen=True, slots=True)
class RfmState:
    """A profile's purchase history, summed. Amounts are kept in ``currency`` (the currency of
    the first priced purchase recorded); amounts in any other currency are summed apart in
    ``other_currencies`` and never converted: there is no exchange rate in the core."""

    frequency: int = 0
    first_purchase_at: datetime | None = None
    last_purchase_at: datetime | None = None
    currency: str | None = None
    spent_minor: int = 0
    refunded_minor: int = 0
    return_count: int = 0
    channels: tuple[str, ...] = ()
    other_currencies: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def net_minor(self) -> int:
        return self.spent_minor - self.refunded_minor

    @property
    def monetary(self) -> Money | None:
        return Money(self.net_minor, self.currency) if self.currency else None


def _add_amount(state: RfmState, amount: Money | None, key: str) -> RfmState:
    if amount is None:
        return state
    currency = state.currency or amount.currency
    if amount.currency == currency:
        if key == "spent":
            return replace(state, currency=currency, spent_minor=state.spent_minor + amount.minor)
        return replace(state, currency=currency, refunded_minor=state.refunded_minor + amount.minor)
    others = {c: dict(v) for c, v in state.other_currencies.items()}
    bucket = others.setdefault(amount.currency, {"spent": 0, "refunded": 0})
    bucket[key] += amount.minor
    return replace(state, other_currencies=others)


def add_purchase(state: RfmState, entry: LedgerEntry) -> RfmState:
    """The state once ``entry`` (a purchase) is counted: order-independent except for which
    currency is primary (the first priced purchase recorded)."""
    if entry.cancelled:
        return state
    first = state.first_purchase_at
    last = state.last_purchase_at
    state = replace(
        state,
        frequency=state.frequency + 1,
        first_purchase_at=entry.occurred_at if first is None else min(first, entry.occurred_at),
        last_purchase_at=entry.occurred_at if last is None else max(last, entry.occurred_at),
        channels=tuple(sorted({*state.channels, entry.channel})),
    )
    return _add_amount(state, entry.amount, "spent")


def add_return(state: RfmState, entry: LedgerEntry) -> RfmState:
    if entry.cancelled:
        return state
    state = replace(state, return_count=state.return_count + 1)
    return _add_amount(state, entry.amount, "refunded")


def apply(state: RfmState, entry: LedgerEntry) -> RfmState:
    return add_purchase(state, entry) if entry.kind == "purchase" else add_return(state, entry)


def fold(entries: Iterable[LedgerEntry]) -> RfmState:
    """The state of a whole ledger, in recording order (used after a merge or a cancellation)."""
    state = RfmState()
    for entry in entries:
        state = apply(state, entry)
    return state


# ---------------------------------------------------------------------------------------------
# Scores
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RfmThresholds:
    """Score cut points. Recency: days since the last purchase, at most ``recency_days[i]`` for
    score 5 - i. Frequency: purchases, at least ``frequency[i]`` for score i + 2. Monetary: net
    spent in major units of the profile's currency, at least ``monetary[i]`` for score i + 2."""

    recency_days: tuple[int, int, int, int] = (30, 90, 180, 365)
    frequency: tuple[int, int, int, int] = (2, 3, 5, 10)
    monetary: tuple[Decimal, Decimal, Decimal, Decimal] = (
        Decimal(100),
        Decimal(300),
        Decimal(800),
        Decimal(2000),
    )


DEFAULT_THRESHOLDS = RfmThresholds()


@dataclass(frozen=True, slots=True)
class RfmScores:
    """1 (weakest) to 5 (best); None for a profile that never bought."""

    recency: int | None
    frequency: int | None
    monetary: int | None

    @property
    def code(self) -> str | None:
        """The classic three-digit cell, ``"545"``."""
        if self.recency is None or self.frequency is None or self.monetary is None:
            return None
        return f"{self.recency}{self.frequency}{self.monetary}"


def days_between(earlier: datetime, later: datetime) -> int:
    """Whole days elapsed (0 on the day itself); never negative."""
    return max(0, (later - earlier) // timedelta(days=1))


def rfm_scores(
    state: RfmState, *, now: datetime, thresholds: RfmThresholds = DEFAULT_THRESHOLDS
) -> RfmScores:
    if state.frequency == 0 or state.last_purchase_at is None:
        return RfmScores(None, None, None)
    days = days_between(state.last_purchase_at, now)
    recency = 5 - sum(1 for cut in thresholds.recency_days if days > cut)
    frequency = 1 + sum(1 for cut in thresholds.frequency if state.frequency >= cut)
    net = state.monetary.amount if state.monetary is not None else Decimal(0)
    monetary = 1 + sum(1 for cut in thresholds.monetary if net >= cut)
    return RfmScores(recency, frequency, monetary)


# ---------------------------------------------------------------------------------------------
# Facts: the attributes a rule can name
# ---------------------------------------------------------------------------------------------


class AttrType(StrEnum):
    INT = "int"
    MONEY = "money"  # a decimal amount in the profile's currency, written "150.00" or 150
    TEXT = "text"
    SET = "set"


ATTRIBUTES: dict[str, tuple[AttrType, str]] = {
    "recency_days": (AttrType.INT, "days since the last purchase (absent for non-buyers)"),
    "frequency": (AttrType.INT, "number of purchases (cancelled orders excluded)"),
    "monetary": (AttrType.MONEY, "net spent (purchases minus refunds) in the profile currency"),
    "currency": (AttrType.TEXT, "the profile's currency (of its first priced purchase)"),
    "return_count": (AttrType.INT, "number of returns"),
    "r_score": (AttrType.INT, "recency score 1-5 (absent for non-buyers)"),
    "f_score": (AttrType.INT, "frequency score 1-5 (absent for non-buyers)"),
    "m_score": (AttrType.INT, "monetary score 1-5 (absent for non-buyers)"),
    "channels": (AttrType.SET, "channels the customer bought in: web, app, pos, ..."),
    "channel_count": (AttrType.INT, "how many channels the customer bought in"),
}
TIME_DEPENDENT = frozenset({"recency_days", "r_score"})

Facts = Mapping[str, Any]


def facts(
    state: RfmState, *, now: datetime, thresholds: RfmThresholds = DEFAULT_THRESHOLDS
) -> dict[str, Any]:
    scores = rfm_scores(state, now=now, thresholds=thresholds)
    monetary = state.monetary
    return {
        "recency_days": (
            days_between(state.last_purchase_at, now) if state.last_purchase_at else None
        ),
        "frequency": state.frequency,
        "monetary": monetary.amount if monetary is not None else Decimal(0),
        "currency": state.currency,
        "return_count": state.return_count,
        "r_score": scores.recency,
        "f_score": scores.frequency,
        "m_score": scores.monetary,
        "channels": frozenset(state.channels),
        "channel_count": len(state.channels),
    }


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------

MAX_DEPTH = 6
MAX_CONDITIONS = 50
MAX_LIST = 50
_COMPARE = ("=", "!=", "<", "<=", ">", ">=")
OPS: dict[AttrType, tuple[str, ...]] = {
    AttrType.INT: (*_COMPARE, "in", "not_in", "exists"),
    AttrType.MONEY: _COMPARE,
    AttrType.TEXT: ("=", "!=", "in", "not_in", "exists"),
    AttrType.SET: ("contains", "not_contains", "contains_any"),
}


@dataclass(frozen=True, slots=True)
class Condition:
    attr: str
    op: str
    value: Any  # int, Decimal, str, bool, or a tuple of those


@dataclass(frozen=True, slots=True)
class AllOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    rules: tuple[Rule, ...]


@dataclass(frozen=True, slots=True)
class Not:
    rule: Rule


Rule = Condition | AllOf | AnyOf | Not


def _bad(detail: str, path: str) -> InvalidInput:
    return InvalidInput(
        f"{detail} A rule is {{'all': [...]}}, {{'any': [...]}}, {{'not': rule}} or "
        "{'attr': name, 'op': op, 'value': v}.",
        field=path,
        code="invalid-segment-rule",
    )


def _int_value(raw: Any, path: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise _bad(f"Expected a whole number, got {raw!r}.", path)
    return raw


def _money_value(raw: Any, path: str) -> Decimal:
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise _bad(
            f'Expected an amount as a decimal string such as "150.00" (or a whole number), '
            f"got {raw!r}; floats are refused.",
            path,
        )
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise _bad(f"{raw!r} is not a decimal amount.", path) from None
    exponent = value.as_tuple().exponent
    if not value.is_finite() or not isinstance(exponent, int) or exponent < -3:
        raise _bad(f"{raw!r} is not an amount with at most 3 decimals.", path)
    return value


def _text_value(raw: Any, path: str) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 100:
        raise _bad(f"Expected a non-empty text of at most 100 characters, got {raw!r}.", path)
    return raw.strip()


def _scalar(kind: AttrType, raw: Any, path: str) -> Any:
    if kind is AttrType.INT:
        return _int_value(raw, path)
    if kind is AttrType.MONEY:
        return _money_value(raw, path)
    return _text_value(raw, path)


def _condition(data: Mapping[str, Any], path: str) -> Condition:
    unknown = set(data) - {"attr", "op", "value"}
    if unknown:
        raise _bad(f"Unknown key(s) {', '.join(sorted(unknown))} in a condition.", path)
    attr = data.get("attr")
    if not isinstance(attr, str) or attr not in ATTRIBUTES:
        raise _bad(f"Unknown attribute {attr!r}; known: {', '.join(ATTRIBUTES)}.", f"{path}.attr")
    kind = ATTRIBUTES[attr][0]
    op = data.get("op")
    if op not in OPS[kind]:
        raise _bad(
            f"Operator {op!r} does not apply to {attr} ({kind.value}); use one of "
            f"{', '.join(OPS[kind])}.",
            f"{path}.op",
        )
    assert isinstance(op, str)
    if "value" not in data:
        raise _bad(f"The condition on {attr} has no value.", f"{path}.value")
    raw = data["value"]
    vpath = f"{path}.value"
    value: Any
    if op == "exists":
        if not isinstance(raw, bool):
            raise _bad("'exists' takes true or false.", vpath)
        value = raw
    elif op in ("in", "not_in", "contains_any"):
        if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_LIST:
            raise _bad(f"'{op}' takes a list of 1 to {MAX_LIST} values.", vpath)
        item_kind = AttrType.TEXT if kind is AttrType.SET else kind
        value = tuple(_scalar(item_kind, v, f"{vpath}[{i}]") for i, v in enumerate(raw))
    elif kind is AttrType.SET:
        value = _text_value(raw, vpath)
    else:
        value = _scalar(kind, raw, vpath)
    return Condition(attr, op, value)


def parse_rule(data: Any, *, path: str = "rule") -> Rule:
    """Validates a JSON condition tree into a ``Rule``; raises ``InvalidInput`` naming the
    offending node (``rule.all[1].value``)."""
    count = [0]

    def walk(node: Any, where: str, depth: int) -> Rule:
        if depth > MAX_DEPTH:
            raise _bad(f"Rules nest at most {MAX_DEPTH} levels.", where)
        if not isinstance(node, dict):
            raise _bad(f"Expected an object, got {node!r}.", where)
        for key in ("all", "any"):
            if key in node:
                if len(node) != 1:
                    raise _bad(f"'{key}' stands alone in its object.", where)
                items = node[key]
                if not isinstance(items, list) or not items:
                    raise _bad(f"'{key}' takes a non-empty list of rules.", f"{where}.{key}")
                children = tuple(
                    walk(item, f"{where}.{key}[{i}]", depth + 1) for i, item in enumerate(items)
                )
                return AllOf(children) if key == "all" else AnyOf(children)
        if "not" in node:
            if len(node) != 1:
                raise _bad("'not' stands alone in its object.", where)
            return Not(walk(node["not"], f"{where}.not", depth + 1))
        count[0] += 1
        if count[0] > MAX_CONDITIONS:
            raise _bad(f"A rule holds at most {MAX_CONDITIONS} conditions.", where)
        return _condition(node, where)

    return walk(data, path, 1)


def _json_scalar(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """The canonical JSON of a parsed rule (amounts as decimal strings)."""
    if isinstance(rule, AllOf):
        return {"all": [rule_to_json(r) for r in rule.rules]}
    if isinstance(rule, AnyOf):
        return {"any": [rule_to_json(r) for r in rule.rules]}
    if isinstance(rule, Not):
        return {"not": rule_to_json(rule.rule)}
    value = rule.value
    if isinstance(value, tuple):
        return {"attr": rule.attr, "op": rule.op, "value": [_json_scalar(v) for v in value]}
    return {"attr": rule.attr, "op": rule.op, "value": _json_scalar(value)}


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _holds(cond: Condition, values: Facts) -> bool:
    actual = values.get(cond.attr)
    if cond.op == "exists":
        return (actual is not None) is cond.value
    if actual is None:
        return False  # an absent attribute (a non-buyer's recency) matches no comparison
    if cond.op == "in":
        return actual in cond.value
    if cond.op == "not_in":
        return actual not in cond.value
    if cond.op == "contains":
        return cond.value in actual
    if cond.op == "not_contains":
        return cond.value not in actual
    if cond.op == "contains_any":
        return any(v in actual for v in cond.value)
    return _compare(cond.op, actual, cond.value)


def evaluate(rule: Rule, values: Facts) -> bool:
    if isinstance(rule, AllOf):
        return all(evaluate(r, values) for r in rule.rules)
    if isinstance(rule, AnyOf):
        return any(evaluate(r, values) for r in rule.rules)
    if isinstance(rule, Not):
        return not evaluate(rule.rule, values)
    return _holds(rule, values)


def _conditions(rule: Rule) -> Iterable[Condition]:
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.rules:
            yield from _conditions(child)
    elif isinstance(rule, Not):
        yield from _conditions(rule.rule)
    else:
        yield rule


def time_boundaries(
    rules: Iterable[Rule], thresholds: RfmThresholds = DEFAULT_THRESHOLDS
) -> frozenset[int]:
    """Days after the last purchase at which a rule's answer, or the recency score, may change
    without any new event: reviewing a profile at each of them keeps memberships exact."""
    days = {cut + 1 for cut in thresholds.recency_days}
    for rule in rules:
        for cond in _conditions(rule):
            if cond.attr != "recency_days" or cond.op == "exists":
                continue
            values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
            for v in values:
                days.update(d for d in (v, v + 1) if d > 0)
    return frozenset(days)


def next_review(
    last_purchase_at: datetime | None, *, now: datetime, boundaries: Iterable[int]
) -> datetime | None:
    """The first boundary still ahead of ``now``; None when nothing will change by itself."""
    if last_purchase_at is None:
        return None
    ahead = [
        last_purchase_at + timedelta(days=d)
        for d in boundaries
        if last_purchase_at + timedelta(days=d) > now
    ]
    return min(ahead) if ahead else None


def membership_changes(
    current: Iterable[str], matching: Iterable[str]
) -> tuple[list[str], list[str]]:
    """(entered, left), each sorted."""
    now_in = set(matching)
    before = set(current)
    return sorted(now_in - before), sorted(before - now_in)


def describe_attributes() -> Sequence[dict[str, str]]:
    return [
        {"attr": name, "type": kind.value, "ops": ", ".join(OPS[kind]), "about": about}
        for name, (kind, about) in ATTRIBUTES.items()
    ]
