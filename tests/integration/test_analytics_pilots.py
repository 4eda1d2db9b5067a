"""Pilots against the real database: the flag follows the pilot's dates, the comparison is cut
to them, and a money KPI compares store-days in the currency's major units."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from omnicanal.analytics import pilots
from omnicanal.analytics.service import compare_pilot
from omnicanal.events.dispatch import drain
from omnicanal.shared.errors import InvalidInput
from omnicanal.storage.database import Database
from tests.api.test_kpis_api import sell
from tests.inventory_factories import make_location


def test_a_pilot_that_ended_is_off_and_compared_over_its_own_days(db: Database) -> None:
    p1, c1, c2 = (make_location(db, code) for code in ("END-P1", "END-C1", "END-C2"))
    # the pilot runs on the 2nd and 3rd only; the 4th (after it) must not count
    for n, (store, day, amount) in enumerate(
        [
            (p1, 2, 4000),
            (p1, 3, 6000),
            (p1, 4, 90000),
            (c1, 2, 1000),
            (c1, 3, 3000),
            (c2, 2, 2000),
            (c2, 4, 90000),
        ]
    ):
        sell(db, store, 100 + n, amount, day, None)
    drain(db)
    with db.uow() as uow:
        pilot = pilots.create_pilot(
            uow,
            name="Till suggestions",
            feature="till_suggestions",
            pilot_stores=[p1],
            control_stores=[c1, c2],
            starts_at=datetime(2026, 11, 2, tzinfo=UTC),
            ends_at=datetime(2026, 11, 4, tzinfo=UTC),
        )
    with db.read() as session:
        assert pilots.is_enabled(
            session, "till_suggestions", p1, at=datetime(2026, 11, 3, 12, tzinfo=UTC)
        )
        assert not pilots.is_enabled(
            session, "till_suggestions", p1, at=datetime(2026, 11, 4, tzinfo=UTC)
        )
        found = compare_pilot(
            session,
            pilot_id=pilot.id,
            kpi="average_basket",
            start=datetime(2026, 11, 1, tzinfo=UTC),
            end=datetime(2026, 11, 30, tzinfo=UTC),
        )
        # pilot store-days 40, 60 -> 50; control 10, 30, 20 (C2 has no sale on the 3rd) -> 20
        assert (found.first_day.day, found.end_day.day) == (2, 4)
        assert (found.pilot.store_days, found.control.store_days) == (2, 3)
        assert (found.pilot.mean, found.control.mean) == (Decimal("50.0000"), Decimal("20.0000"))
        assert found.difference == Decimal("30.0000")
        assert found.currency == "EUR"
        assert found.ci_low is not None
        assert found.ci_high is not None
        assert found.ci_low < found.difference < found.ci_high
        with pytest.raises(InvalidInput) as caught:
            compare_pilot(
                session,
                pilot_id=pilot.id,
                kpi="revenue",
                start=datetime(2026, 11, 5, tzinfo=UTC),
                end=datetime(2026, 11, 30, tzinfo=UTC),
            )
        assert caught.value.field == "from"
