"""Catalogue pure model: identifiers, GTIN check digits, assortment per channel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.catalog.model import (
    ProductDraft,
    VariantDraft,
    check_attributes,
    check_gtin,
    check_image,
    check_product_changes,
    check_sku,
    check_variant_changes,
    gtin_check_digit,
    is_valid_gtin,
    sellable_in_channel,
)
from omnicanal.shared.errors import InvalidInput


@pytest.mark.parametrize(
    "gtin", ["4006381333931", "73513537", "036000291452", "10614141000415", "5901234123457"]
)
def test_real_gtins_are_valid(gtin: str) -> None:
    assert check_gtin(gtin) == gtin
    assert is_valid_gtin(gtin)


@pytest.mark.parametrize(
    ("gtin", "message"),
    [
        ("4006381333932", "expected 1"),  # wrong check digit
        ("400638133393", "wrong check digit"),  # 12 digits, not a valid UPC
        ("1234567", "8, 12, 13 or 14 digits"),
        ("40063813339311", "wrong check digit"),
        ("40063813339a1", "8, 12, 13 or 14 digits"),
        (
            "\uff14\uff10\uff10\uff16\uff13\uff18\uff11\uff13\uff13\uff13\uff19\uff13\uff11",
            "8, 12, 13 or 14 digits",
        ),  # full-width digits
    ],
)
def test_bad_gtins_are_refused_naming_the_field(gtin: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        check_gtin(gtin, field="variants[0].gtin")
    assert err.value.field == "variants[0].gtin"


def test_empty_gtin_is_none() -> None:
    assert check_gtin("") is None
    assert check_gtin(None) is None


@given(
    st.text(alphabet="0123456789", min_size=7, max_size=13).filter(
        lambda s: len(s) + 1 in {8, 12, 13, 14}
    )
)
def test_a_computed_check_digit_makes_a_valid_gtin_and_any_other_digit_does_not(body: str) -> None:
    digit = gtin_check_digit(body)
    assert is_valid_gtin(body + str(digit))
    for other in set(range(10)) - {digit}:
        assert not is_valid_gtin(body + str(other))


@pytest.mark.parametrize("sku", ["A", "RUN2-42_BLK.v2", "x" * 64])
def test_good_skus(sku: str) -> None:
    assert check_sku(sku) == sku


@pytest.mark.parametrize("sku", ["", "has space", "é", "x" * 65, "a/b"])
def test_bad_skus(sku: str) -> None:
    with pytest.raises(InvalidInput) as err:
        check_sku(sku)
    assert err.value.field == "sku"


def test_images_must_be_http_urls() -> None:
    assert check_image("https://cdn.example.com/a.jpg") == "https://cdn.example.com/a.jpg"
    for bad in ["ftp://x.example/a.jpg", "/local.jpg", "javascript:alert(1)", "https://"]:
        with pytest.raises(InvalidInput):
            check_image(bad)


def test_attributes_are_a_flat_text_map() -> None:
    assert check_attributes({"size": "42", " colour ": "black "}) == {
        "size": "42",
        "colour": "black",
    }
    with pytest.raises(InvalidInput) as err:
        check_attributes({"size": 42})
    assert err.value.field == "attributes.size"
    with pytest.raises(InvalidInput):
        check_attributes({"dims": {"w": "1"}})


def test_drafts_refuse_an_empty_title_and_repeated_skus_or_gtins() -> None:
    with pytest.raises(InvalidInput) as err:
        ProductDraft.parse(title="  ")
    assert err.value.field == "title"
    a = VariantDraft.parse(sku="A", gtin="73513537")
    with pytest.raises(InvalidInput) as err:
        ProductDraft.parse(title="T", variants=(a, VariantDraft.parse(sku="A")))
    assert err.value.field == "variants[1].sku"
    with pytest.raises(InvalidInput) as err:
        ProductDraft.parse(title="T", variants=(a, VariantDraft.parse(sku="B", gtin="73513537")))
    assert err.value.field == "variants[1].gtin"
    with pytest.raises(InvalidInput) as err:
        ProductDraft.parse(title="T", assortment="everywhere")
    assert err.value.field == "assortment"


def test_sku_is_immutable_in_variant_changes() -> None:
    with pytest.raises(InvalidInput, match="immutable") as err:
        check_variant_changes({"sku": "OTHER"})
    assert err.value.field == "sku"
    assert check_product_changes({"brand": None, "title": " New "}) == {
        "brand": None,
        "title": "New",
    }


@pytest.mark.parametrize(
    ("assortment", "channel", "store_bound", "expected"),
    [
        ("omnichannel", "web", False, True),
        ("omnichannel", "pos", False, True),
        ("store_only", "pos", False, True),
        ("store_only", "web", False, False),
        ("store_only", "app", False, False),
        ("store_only", "app", True, True),  # an associate's tablet in the store
        ("store_only", "marketplace", False, False),
        ("store_only", "callcenter", False, False),
        ("online_only", "web", False, True),
        ("online_only", "app", False, True),
        ("online_only", "marketplace", False, True),
        ("online_only", "callcenter", False, True),
        ("online_only", "pos", False, False),
        ("online_only", "pos", True, False),
        ("store_only", "admin", False, True),
        ("online_only", "admin", False, True),
    ],
)
def test_sellable_in_channel(
    assortment: str, channel: str, store_bound: bool, expected: bool
) -> None:
    assert sellable_in_channel(assortment, channel, store_bound=store_bound) is expected
