"""Pure customer domain: normalisation, survivorship, consent decisions."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.customers.model import (
    ConsentState,
    ConsentStatus,
    FieldValue,
    Identifier,
    LegalBasis,
    ProfileRef,
    Purpose,
    Trust,
    choose_survivor,
    decide,
    kind_pairs,
    merge_attributes,
    merge_consent,
    normalise_identifier,
    normalise_identifiers,
    observe,
    parse_purpose,
    parse_scope,
    percentile,
    source_trust,
)
from omnicanal.shared.errors import InvalidInput

T0 = datetime(2026, 1, 1, tzinfo=UTC)


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Zoe.Martin@Example.FR ", "zoe.martin@example.fr"),
        ("a+tag@sub.example.com", "a+tag@sub.example.com"),
    ],
)
def test_email_is_trimmed_and_lower_cased(raw: str, expected: str) -> None:
    assert normalise_identifier("email", raw) == Identifier("email", expected)


@pytest.mark.parametrize("raw", ["zoe", "zoe@", "@example.fr", "zoe@example", "z oe@example.fr"])
def test_malformed_email_is_rejected_naming_the_field(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_identifier("email", raw, field_prefix="identifiers[0].")
    assert err.value.field == "identifiers[0].value"


@pytest.mark.parametrize(
    "raw", ["06 12 34 56 78", "0612345678", "+33 6 12 34 56 78", "+33612345678", "06.12.34.56.78"]
)
def test_french_phone_forms_give_one_e164(raw: str) -> None:
    assert normalise_identifier("phone", raw).value == "+33612345678"


def test_phone_region_reads_national_numbers() -> None:
    assert normalise_identifier("phone", "030 1234567", region="DE").value == "+49301234567"
    assert normalise_identifier("phone", "+44 20 7946 0958").value == "+442079460958"


@pytest.mark.parametrize("raw", ["12", "06 12", "not a phone", "+33 1", "0000000000"])
def test_invalid_phone_is_rejected(raw: str) -> None:
    with pytest.raises(InvalidInput) as err:
        normalise_identifier("phone", raw)
    assert err.value.field == "value"


def test_loyalty_card_ignores_spaces_and_dashes() -> None:
    assert normalise_identifier("loyalty_card", " fid-0042 1337 ").value == "FID00421337"
    with pytest.raises(InvalidInput):
        normalise_identifier("loyalty_card", "ab")


def test_device_id_is_stored_as_its_hash_never_raw() -> None:
    ident = normalise_identifier("device_id", " ios-ABC-123 ")
    assert ident.value == "sha256:" + hashlib.sha256(b"ios-ABC-123").hexdigest()
    assert "ABC" not in ident.value
    # a channel that already hashed it gives the same identifier
    assert normalise_identifier("device_id", ident.value) == ident


def test_external_ids_are_per_channel() -> None:
    assert normalise_identifier("external:marketplace", "amz-991") == Identifier(
        "external:marketplace", "amz-991"
    )
    assert normalise_identifier("External:Web", "x1").kind == "external:web"
    assert normalise_identifier("external:pos", "x").base_kind.value == "external"
    for bad in ("external", "external:", "external:Bad Channel"):
        with pytest.raises(InvalidInput) as err:
            normalise_identifier(bad, "x")
        assert err.value.field == "kind"


def test_unknown_kind_and_blank_tokens_are_rejected() -> None:
    with pytest.raises(InvalidInput, match="Unknown identifier kind"):
        normalise_identifier("fax", "1")
    with pytest.raises(InvalidInput):
        normalise_identifier("cookie", "  ")
    with pytest.raises(InvalidInput):
        normalise_identifier("login_id", "two words")


def test_identifier_lists_are_sorted_unique_and_name_the_bad_item() -> None:
    idents = normalise_identifiers(
        [("phone", "0612345678"), ("email", "A@B.fr"), ("phone", "+33612345678")]
    )
    assert idents == [Identifier("email", "a@b.fr"), Identifier("phone", "+33612345678")]
    with pytest.raises(InvalidInput) as err:
        normalise_identifiers([("email", "a@b.fr"), ("phone", "12")])
    assert err.value.field == "identifiers[1].value"


# --- survivorship ------------------------------------------------------------------------------


def fv(
    value: str, *, trust: int = Trust.OTHER, at: datetime = T0, source: str = "web"
) -> FieldValue:
    return FieldValue(value=value, source=source, trust=trust, at=at)


def test_survivor_is_the_oldest_profile_ties_by_id() -> None:
    old = ProfileRef("cus_B", T0)
    young = ProfileRef("cus_A", T0 + timedelta(days=1))
    assert choose_survivor([young, old]) == old
    twin = ProfileRef("cus_A", T0)
    assert choose_survivor([old, twin]) == twin
    with pytest.raises(ValueError, match="no profile"):
        choose_survivor([])


def test_names_come_from_the_most_trusted_source_even_if_older() -> None:
    loyalty = {"given_name": fv("Zoé", trust=Trust.AUTHENTICATED, at=T0, source="pos")}
    web = {"given_name": fv("Zozo", trust=Trust.OTHER, at=T0 + timedelta(days=30))}
    till = {"given_name": fv("Zoe", trust=Trust.TILL, at=T0 + timedelta(days=10), source="pos")}
    merged = merge_attributes([web, till, loyalty])
    assert merged["given_name"].value == "Zoé"
    assert merge_attributes([web, till])["given_name"].value == "Zoe"


def test_other_fields_take_the_most_recent_value_with_its_source() -> None:
    old = {"city": fv("Lyon", trust=Trust.AUTHENTICATED, at=T0, source="pos")}
    new = {"city": fv("Paris", trust=Trust.OTHER, at=T0 + timedelta(days=1), source="app")}
    merged = merge_attributes([old, new])
    assert merged["city"].value == "Paris"
    assert merged["city"].source == "app"


def test_observe_never_erases_with_empty_values_and_reports_changes() -> None:
    current = {"city": fv("Lyon"), "given_name": fv("Zoé", trust=Trust.AUTHENTICATED)}
    later = T0 + timedelta(hours=1)
    attrs, changed = observe(
        current,
        {"city": "", "given_name": "Zozo", "postal_code": "69003", "family_name": None},
        source="web",
        trust=Trust.OTHER,
        at=later,
    )
    assert attrs["city"].value == "Lyon"
    assert attrs["given_name"].value == "Zoé"  # a web cookie does not rename a card holder
    assert attrs["postal_code"] == fv("69003", at=later)
    assert changed == ["postal_code"]
    with pytest.raises(InvalidInput) as err:
        observe({}, {"shoe_size": "42"}, source="web", trust=1, at=T0)
    assert err.value.field == "attributes.shoe_size"


def test_source_trust_ranks_authenticated_over_till_over_web() -> None:
    assert source_trust("web", ["cookie", "loyalty_card"]) == Trust.AUTHENTICATED
    assert source_trust("app", ["login_id"]) == Trust.AUTHENTICATED
    assert source_trust("pos", ["phone"]) == Trust.TILL
    assert source_trust("web", ["cookie", "email"]) == Trust.OTHER


field_values = st.builds(
    FieldValue,
    value=st.sampled_from(["a", "b", "c"]),
    source=st.sampled_from(["web", "pos", "app"]),
    trust=st.integers(1, 4),
    at=st.sampled_from([T0, T0 + timedelta(days=1), T0 + timedelta(days=2)]),
)
attr_sets = st.dictionaries(st.sampled_from(["given_name", "city", "country"]), field_values)


@given(st.lists(attr_sets, min_size=1, max_size=5), st.randoms())
def test_survivorship_does_not_depend_on_the_order_of_profiles(
    sets: list[dict[str, FieldValue]], rnd: object
) -> None:
    shuffled = list(sets)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    assert merge_attributes(sets) == merge_attributes(shuffled)
    # merging in steps gives the same result as merging at once (associative)
    step = merge_attributes([merge_attributes(sets[:1]), merge_attributes(sets[1:])])
    assert step == merge_attributes(sets)


def test_kind_pairs_and_percentiles() -> None:
    email = Identifier("email", "a@b.fr")
    card = Identifier("loyalty_card", "C1234")
    cookie = Identifier("cookie", "ck1")
    ext = Identifier("external:web", "w1")
    assert kind_pairs([email], [email, card, cookie]) == ["cookie↔email", "email↔loyalty_card"]
    assert kind_pairs([], [email, card]) == []
    assert kind_pairs([email], [email, ext]) == ["email↔external"]
    assert percentile([], 50) is None
    assert percentile([5.0, 1.0, 3.0], 50) == 3.0
    assert percentile(list(map(float, range(1, 101))), 99) == 99.0


# --- consents ----------------------------------------------------------------------------------


def consent(
    purpose: Purpose,
    status: ConsentStatus,
    *,
    scope: str = "*",
    at: datetime = T0,
    expires: datetime | None = None,
    basis: LegalBasis = LegalBasis.CONSENT,
) -> ConsentState:
    return ConsentState(purpose, scope, status, basis, at, expires, id=f"cns_{scope}_{status}")


def test_no_record_means_no() -> None:
    decision = decide([], purpose=Purpose.SMS, channel="web", at=T0)
    assert not decision.allowed
    assert decision.reason == "no-consent-recorded"


def test_grant_allows_until_it_expires() -> None:
    grant = consent(Purpose.MARKETING_EMAIL, ConsentStatus.GRANTED, expires=T0 + timedelta(days=1))
    assert decide([grant], purpose=Purpose.MARKETING_EMAIL, channel="web", at=T0).allowed
    late = decide([grant], purpose=Purpose.MARKETING_EMAIL, channel="web", at=T0 + timedelta(2))
    assert (late.allowed, late.reason) == (False, "expired")


def test_global_withdrawal_overrides_earlier_scoped_grants() -> None:
    grants = [
        consent(Purpose.SMS, ConsentStatus.GRANTED, scope="pos"),
        consent(Purpose.SMS, ConsentStatus.GRANTED, scope="web"),
    ]
    stop = consent(Purpose.SMS, ConsentStatus.WITHDRAWN, at=T0 + timedelta(hours=1))
    for channel in ("pos", "web", "app"):
        decision = decide([*grants, stop], purpose=Purpose.SMS, channel=channel, at=T0)
        assert (decision.allowed, decision.reason) == (False, "withdrawn-everywhere")


def test_scoped_withdrawal_stays_in_its_channel_and_a_later_scoped_grant_reopens_one() -> None:
    everywhere = consent(Purpose.PUSH, ConsentStatus.GRANTED)
    app_off = consent(Purpose.PUSH, ConsentStatus.WITHDRAWN, scope="app", at=T0 + timedelta(1))
    assert decide([everywhere, app_off], purpose=Purpose.PUSH, channel="web", at=T0).allowed
    app = decide([everywhere, app_off], purpose=Purpose.PUSH, channel="app", at=T0)
    assert (app.allowed, app.reason) == (False, "withdrawn")
    global_off = consent(Purpose.PUSH, ConsentStatus.WITHDRAWN, at=T0 + timedelta(2))
    web_on = consent(Purpose.PUSH, ConsentStatus.GRANTED, scope="web", at=T0 + timedelta(3))
    assert decide([global_off, web_on], purpose=Purpose.PUSH, channel="web", at=T0).allowed
    assert not decide([global_off, web_on], purpose=Purpose.PUSH, channel="pos", at=T0).allowed


def test_other_purposes_and_legal_bases() -> None:
    analytics = consent(
        Purpose.ANALYTICS, ConsentStatus.GRANTED, basis=LegalBasis.LEGITIMATE_INTEREST
    )
    decision = decide([analytics], purpose=Purpose.ANALYTICS, channel=None, at=T0)
    assert (decision.allowed, decision.reason) == (True, "legitimate_interest")
    assert not decide([analytics], purpose=Purpose.SMS, channel=None, at=T0).allowed
    denied = consent(Purpose.SMS, ConsentStatus.DENIED, scope="pos")
    assert decide([denied], purpose=Purpose.SMS, channel="pos", at=T0).reason == "denied"


def test_merged_consents_keep_the_latest_will_and_refusal_on_a_tie() -> None:
    grant = consent(Purpose.SMS, ConsentStatus.GRANTED, at=T0)
    later_stop = consent(Purpose.SMS, ConsentStatus.WITHDRAWN, at=T0 + timedelta(1))
    assert merge_consent(grant, later_stop) is later_stop
    assert merge_consent(later_stop, grant) is later_stop
    same_time_stop = consent(Purpose.SMS, ConsentStatus.WITHDRAWN, at=T0)
    assert merge_consent(grant, same_time_stop) is same_time_stop


def test_purpose_and_scope_parsing_name_the_field() -> None:
    assert parse_purpose("sms") is Purpose.SMS
    with pytest.raises(InvalidInput) as err:
        parse_purpose("telepathy")
    assert err.value.field == "purpose"
    assert parse_scope(None) == "*"
    assert parse_scope("POS") == "pos"
    with pytest.raises(InvalidInput) as err:
        parse_scope("fax")
    assert err.value.field == "scope"
