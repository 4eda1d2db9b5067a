"""Price resolution: the most specific override in force wins, else the base price."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.pricing.model import (
    SALES_CHANNELS,
    DifferenceSource,
    Justification,
    Observation,
    PriceContext,
    PriceOverride,
    PriceScope,
    Reason,
    Window,
    check_window,
    observation_difference,
    override_differences,
    resolve,
)
from omnicanal.shared.errors import InvalidInput
from omnicanal.shared.money import Money

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
BASE = Money(8990, "EUR")
WHY = Justification(reason=Reason.LOCAL_COMPETITION, owner="Pricing team")


def override(
    id: str,
    minor: int,
    *,
    channel: str | None = None,
    store_id: str | None = None,
    territory: str | None = None,
    start: datetime = T0 - timedelta(days=1),
    end: datetime | None = None,
    justified: bool = True,
) -> PriceOverride:
    return PriceOverride(
        id=id,
        sku="RUN2-42",
        price=Money(minor, "EUR"),
        scope=PriceScope(channel=channel, store_id=store_id, territory=territory),
        window=Window(start, end),
        justification=WHY if justified else None,
    )


def price(overrides: list[PriceOverride], **context: str | None) -> int:
    ctx = PriceContext(
        channel=context.get("channel") or "web",
        at=T0,
        store_id=context.get("store_id"),
        territory=context.get("territory"),
    )
    return resolve("RUN2-42", BASE, overrides, ctx).price.minor


def test_without_overrides_every_channel_pays_the_base_price() -> None:
    for channel in SALES_CHANNELS:
        quote = resolve("RUN2-42", BASE, [], PriceContext(channel=channel, at=T0))
        assert quote.price == BASE
        assert quote.override is None
        assert not quote.differs


def test_most_specific_scope_wins_store_over_territory_over_channel() -> None:
    rules = [
        override("pov_1", 8500, channel="pos"),
        override("pov_2", 8000, territory="FR-COR"),
        override("pov_3", 7900, territory="FR-COR", channel="pos"),
        override("pov_4", 7500, store_id="loc_A"),
        override("pov_5", 7000, store_id="loc_A", channel="pos"),
    ]
    assert price(rules, channel="web") == 8990
    assert price(rules, channel="pos") == 8500
    assert price(rules, channel="web", territory="FR-COR") == 8000
    assert price(rules, channel="pos", territory="FR-COR") == 7900
    assert price(rules, channel="web", store_id="loc_A", territory="FR-COR") == 7500
    assert price(rules, channel="pos", store_id="loc_A", territory="FR-COR") == 7000
    assert price(rules, channel="pos", store_id="loc_B", territory="FR-COR") == 7900


def test_ties_go_to_the_latest_valid_from_then_the_latest_id() -> None:
    older = override("pov_9", 8000, channel="web", start=T0 - timedelta(days=5))
    newer = override("pov_1", 8200, channel="web", start=T0 - timedelta(days=2))
    assert price([older, newer]) == 8200
    twin = override("pov_2", 8300, channel="web", start=T0 - timedelta(days=2))
    assert price([older, newer, twin]) == 8300


def test_an_override_applies_only_inside_its_window() -> None:
    rule = override("pov_1", 7000, channel="web", start=T0, end=T0 + timedelta(hours=1))
    at = [T0 - timedelta(seconds=1), T0, T0 + timedelta(minutes=59), T0 + timedelta(hours=1)]
    got = [resolve("RUN2-42", BASE, [rule], PriceContext("web", t)).price.minor for t in at]
    assert got == [8990, 7000, 7000, 8990]


def test_episodic_reasons_must_end_structural_ones_may_stay_open() -> None:
    with pytest.raises(InvalidInput) as err:
        check_window(Window(T0, None), Reason.CLEARANCE)
    assert err.value.field == "valid_until"
    check_window(Window(T0, None), Reason.MARKETPLACE_FEE)
    with pytest.raises(InvalidInput) as err:
        check_window(Window(T0, T0), Reason.CLEARANCE)
    assert err.value.field == "valid_until"


@pytest.mark.parametrize(
    ("reason", "owner", "field"),
    [(None, "Ann", "reason"), ("cheaper", "Ann", "reason"), ("clearance", " ", "owner")],
)
def test_a_justification_names_reason_and_owner(reason: str | None, owner: str, field: str) -> None:
    with pytest.raises(InvalidInput) as err:
        Justification.parse(reason=reason, owner=owner, note=None)
    assert err.value.field == field


def test_a_scope_needs_at_least_one_dimension_and_a_known_channel() -> None:
    with pytest.raises(InvalidInput) as err:
        PriceScope.parse(channel=None, store_id=None, territory=None)
    assert err.value.field == "channel"
    with pytest.raises(InvalidInput):
        PriceScope.parse(channel="fax", store_id=None, territory=None)
    scope = PriceScope.parse(channel="web", store_id=None, territory="fr-cor")
    assert scope.territory == "FR-COR"
    assert scope.label == "territory=FR-COR+channel=web"


def test_audit_lists_each_differing_context_once_with_its_channels() -> None:
    store = override("pov_1", 7990, store_id="loc_A")
    legacy = override("pov_2", 9490, channel="marketplace", justified=False)
    found = override_differences(
        "RUN2-42", BASE, [store, legacy], at=T0, store_territories={"loc_A": "FR-IDF"}
    )
    by_override = {d.override.id: d for d in found if d.override}
    assert set(by_override) == {"pov_1", "pov_2"}
    assert by_override["pov_1"].justified
    assert by_override["pov_1"].channels == SALES_CHANNELS  # the store beats the marketplace
    assert by_override["pov_1"].territory == "FR-IDF"
    assert not by_override["pov_2"].justified
    assert by_override["pov_2"].channels == ("marketplace",)
    assert by_override["pov_2"].problem
    # an override that makes no difference is not a difference
    same = override("pov_3", 8990, channel="app")
    assert override_differences("RUN2-42", BASE, [same], at=T0, store_territories={}) == []


def test_a_till_charging_what_no_rule_gives_is_an_unjustified_difference() -> None:
    store = override("pov_1", 7990, store_id="loc_A")
    seen = Observation(
        id="pob_1",
        sku="RUN2-42",
        price=Money(7990, "EUR"),
        channel="pos",
        store_id="loc_A",
        territory=None,
        observed_at=T0,
    )
    assert observation_difference(seen, BASE, [store]) is None
    wrong = replace(seen, store_id="loc_B")
    difference = observation_difference(wrong, BASE, [store])
    assert difference is not None
    assert difference.source is DifferenceSource.OBSERVATION
    assert (difference.price.minor, difference.expected.minor) == (7990, 8990)
    assert not difference.justified


scopes = st.builds(
    PriceScope,
    channel=st.one_of(st.none(), st.sampled_from(SALES_CHANNELS)),
    store_id=st.one_of(st.none(), st.sampled_from(["loc_A", "loc_B"])),
    territory=st.one_of(st.none(), st.sampled_from(["FR-COR", "FR-IDF"])),
)
overrides = st.lists(
    st.builds(
        PriceOverride,
        id=st.from_regex(r"pov_[0-9]{3}", fullmatch=True),
        sku=st.just("RUN2-42"),
        price=st.builds(Money, st.integers(0, 20_000), st.just("EUR")),
        scope=scopes,
        window=st.builds(
            lambda start, hours: Window(
                T0 + timedelta(hours=start),
                None if hours is None else T0 + timedelta(hours=start + hours),
            ),
            st.integers(-48, 48),
            st.one_of(st.none(), st.integers(1, 72)),
        ),
        justification=st.one_of(st.none(), st.just(WHY)),
    ),
    max_size=8,
    unique_by=lambda o: o.id,
)
contexts = st.builds(
    PriceContext,
    channel=st.sampled_from(SALES_CHANNELS),
    at=st.integers(-72, 72).map(lambda h: T0 + timedelta(hours=h)),
    store_id=st.one_of(st.none(), st.sampled_from(["loc_A", "loc_B"])),
    territory=st.one_of(st.none(), st.sampled_from(["FR-COR", "FR-IDF"])),
)


@given(overrides, contexts)
def test_the_price_is_the_base_or_an_override_in_force_that_matches(
    rules: list[PriceOverride], context: PriceContext
) -> None:
    quote = resolve("RUN2-42", BASE, rules, context)
    in_force = [r for r in rules if r.window.contains(context.at) and r.scope.matches(context)]
    if not in_force:
        assert quote.price == BASE
        assert quote.override is None
        return
    assert quote.override is not None
    winner = next(r for r in in_force if r.id == quote.override.id)
    assert quote.price == winner.price
    # nothing in force is more specific than the winner
    assert all(r.scope.specificity <= winner.scope.specificity for r in in_force)
