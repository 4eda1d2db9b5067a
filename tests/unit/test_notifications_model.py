"""The send-time rules, pure: premise (no contradiction, nothing unfair), consent, dedupe,
quiet hours (postpone, never drop) and frequency caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from omnicanal.notifications.model import (
    PURPOSE,
    Channel,
    Consent,
    Facts,
    History,
    Purpose,
    Template,
    Verdict,
    consent_violation,
    decide,
    premise_violation,
    quiet_until,
)

PARIS = ZoneInfo("Europe/Paris")
NOON = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)  # 12:00 in Paris


def verdict(
    template: Template,
    channel: Channel = Channel.EMAIL,
    *,
    facts: Facts | None = None,
    consent: Consent | None = None,
    history: History | None = None,
    at: datetime = NOON,
) -> Verdict:
    return decide(
        template,
        channel,
        facts=facts or Facts(),
        consent=consent,
        history=history or History(),
        at=at,
        tz=PARIS,
    )


def test_every_template_has_a_purpose() -> None:
    assert set(PURPOSE) == set(Template)


@pytest.mark.parametrize(
    ("template", "facts", "reason"),
    [
        # no "ready for pickup" after a cancellation, or once the group moved on
        (
            Template.READY_FOR_PICKUP,
            Facts(order_status="cancelled", group_status="cancelled"),
            "order-cancelled",
        ),
        (Template.READY_FOR_PICKUP, Facts(group_status="collected"), "group-now-collected"),
        (Template.READY_FOR_PICKUP, Facts(group_status="no_show"), "group-now-no_show"),
        (Template.ORDER_PLACED, Facts(order_status="cancelled"), "order-cancelled"),
        (Template.SHIPPED, Facts(group_status="delivered"), "group-now-delivered"),
        # no review request for a returned or cancelled item
        (
            Template.REVIEW_REQUEST,
            Facts(
                group_status="collected",
                group_skus=frozenset({"SHOE-42"}),
                returned_skus=frozenset({"SHOE-42"}),
            ),
            "item-returned",
        ),
        (
            Template.REVIEW_REQUEST,
            Facts(group_status="collected", group_skus=frozenset()),
            "item-cancelled",
        ),
        (Template.REVIEW_REQUEST, Facts(group_status="cancelled"), "order-cancelled"),
        # no promotion for a product just returned
        (
            Template.BACK_IN_STOCK,
            Facts(
                message_skus=frozenset({"SHOE-42"}),
                recently_returned_skus=frozenset({"SHOE-42"}),
            ),
            "product-just-returned",
        ),
        (Template.BACK_IN_STOCK, Facts(in_stock=False), "no-longer-in-stock"),
        (Template.ABANDONED_CART, Facts(cart_open=False), "cart-closed"),
        (Template.ABANDONED_CART, Facts(cart_open=True, cart_unchanged=False), "cart-changed"),
        (Template.LOCAL_PROMOTION, Facts(promotion_active=False), "promotion-ended"),
        (Template.COLLECTED, Facts(subject_missing=True), "subject-not-found"),
    ],
)
def test_a_message_whose_premise_no_longer_holds_is_suppressed_with_its_reason(
    template: Template, facts: Facts, reason: str
) -> None:
    assert premise_violation(template, facts) == reason
    assert verdict(template, facts=facts) == Verdict("suppress", reason)


@pytest.mark.parametrize(
    ("template", "facts"),
    [
        (
            Template.READY_FOR_PICKUP,
            Facts(order_status="ready_for_pickup", group_status="ready_for_pickup"),
        ),
        (Template.CANCELLED, Facts(order_status="cancelled", group_status="cancelled")),
        (Template.ORDER_PLACED, Facts(order_status="allocated")),
        (
            Template.REVIEW_REQUEST,
            Facts(
                group_status="delivered",
                group_skus=frozenset({"CAP"}),
                returned_skus=frozenset({"SOCKS"}),  # another group's item came back
            ),
        ),
        (Template.RETURN_RECEIVED, Facts(order_status="completed")),
    ],
)
def test_a_message_true_now_goes(template: Template, facts: Facts) -> None:
    assert verdict(template, facts=facts) == Verdict.send()


def test_the_cancellation_itself_is_never_suppressed_as_contradicting_a_cancellation() -> None:
    facts = Facts(order_status="cancelled", group_status="cancelled")
    assert premise_violation(Template.CANCELLED, facts) is None


def test_marketing_needs_the_channel_consent() -> None:
    assert consent_violation(Purpose.MARKETING, Channel.EMAIL, Consent(True, "granted")) is None
    assert (
        consent_violation(Purpose.MARKETING, Channel.EMAIL, Consent(False, "no-consent-recorded"))
        == "no-consent:no-consent-recorded"
    )
    assert verdict(
        Template.BACK_IN_STOCK, consent=Consent(False, "withdrawn-everywhere")
    ) == Verdict.suppress("no-consent:withdrawn-everywhere")


def test_transactional_needs_no_marketing_consent_but_honours_stop_on_sms_and_erasure() -> None:
    none = Consent(False, "no-consent-recorded")
    stop = Consent(False, "withdrawn-everywhere")
    assert consent_violation(Purpose.TRANSACTIONAL, Channel.EMAIL, none) is None
    assert consent_violation(Purpose.TRANSACTIONAL, Channel.EMAIL, stop) is None
    assert consent_violation(Purpose.TRANSACTIONAL, Channel.SMS, none) is None
    assert (
        consent_violation(Purpose.TRANSACTIONAL, Channel.SMS, stop)
        == "unsubscribed:withdrawn-everywhere"
    )
    erased = Consent(False, "profile-erased")
    for purpose in Purpose:
        for channel in Channel:
            assert consent_violation(purpose, channel, erased) == "profile-erased"
    assert consent_violation(Purpose.TRANSACTIONAL, Channel.EMAIL, None) is None  # a guest


def test_no_address_no_message() -> None:
    assert verdict(Template.ORDER_PLACED, facts=Facts(has_recipient=False)) == Verdict.suppress(
        "no-email-address"
    )


def test_the_same_message_twice_within_the_window_is_a_duplicate() -> None:
    recent = History(duplicate_sent_at=NOON - timedelta(hours=2))
    old = History(duplicate_sent_at=NOON - timedelta(hours=25))
    assert verdict(Template.ORDER_PLACED, history=recent) == Verdict.suppress("duplicate")
    assert verdict(Template.ORDER_PLACED, history=old) == Verdict.send()
    granted = Consent(True, "granted")
    week_old = History(duplicate_sent_at=NOON - timedelta(days=6))
    assert verdict(Template.BACK_IN_STOCK, consent=granted, history=week_old) == Verdict.suppress(
        "duplicate"
    )


def test_sms_and_push_wait_for_the_end_of_quiet_hours_email_does_not() -> None:
    late = datetime(2026, 11, 23, 21, 30, tzinfo=UTC)  # 22:30 in Paris
    resume = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert verdict(Template.READY_FOR_PICKUP, Channel.SMS, at=late) == Verdict(
        "postpone", "quiet-hours", resume
    )
    assert verdict(Template.READY_FOR_PICKUP, Channel.EMAIL, at=late) == Verdict.send()
    early = datetime(2026, 11, 24, 5, 0, tzinfo=UTC)  # 06:00 in Paris: same morning
    assert quiet_until(Channel.PUSH, early, PARIS) == resume
    assert quiet_until(Channel.SMS, NOON, PARIS) is None


@given(st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)))
def test_quiet_hours_postpone_to_a_time_that_is_not_quiet_within_a_day(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    resume = quiet_until(Channel.SMS, at, PARIS)
    if resume is not None:
        assert at < resume <= at + timedelta(hours=11, minutes=1)
        assert quiet_until(Channel.SMS, resume, PARIS) is None
        assert resume.astimezone(PARIS).hour == 8


def test_marketing_is_capped_per_day_and_per_week_transactional_never() -> None:
    granted = Consent(True, "granted")
    today = History(marketing_sent=[NOON - timedelta(hours=3)])
    week = History(marketing_sent=[NOON - timedelta(days=d) for d in (2, 3, 4)])
    assert verdict(Template.LOCAL_PROMOTION, consent=granted, history=today) == Verdict.suppress(
        "frequency-cap:1-per-day"
    )
    assert verdict(Template.LOCAL_PROMOTION, consent=granted, history=week) == Verdict.suppress(
        "frequency-cap:3-per-week"
    )
    assert verdict(Template.ORDER_PLACED, history=week) == Verdict.send()


def test_a_contradiction_wins_over_every_other_reason() -> None:
    facts = Facts(order_status="cancelled", group_status="cancelled", has_recipient=False)
    late = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    assert verdict(Template.READY_FOR_PICKUP, Channel.SMS, facts=facts, at=late) == (
        Verdict.suppress("order-cancelled")
    )
