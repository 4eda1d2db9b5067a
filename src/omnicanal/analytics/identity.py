"""Identity match rates and time to unification from the customers context's events.

Each live profile counts once in ``identity.<flag>`` for each identity flag it holds (and in
``identity.<a>+<b>`` for each pair it holds both of), on the day and channel it was created: a
cohort kept current. A merge moves the absorbed profiles' flags to the survivor, so a customer
is counted once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from omnicanal.analytics.definitions import IDENTITY_FLAGS, IDENTITY_PAIRS
from omnicanal.analytics.model import day_of
from omnicanal.analytics.rollup import bump
from omnicanal.analytics.sales import claim
from omnicanal.analytics.tables import ProfileFactRow
from omnicanal.events.model import StoredEvent

TILL_CHANNEL = "pos"


def counted(flags: Iterable[str]) -> set[str]:
    """The identity metrics a profile holding ``flags`` counts in."""
    held = set(flags) & set(IDENTITY_FLAGS)
    pairs = {f"{a}+{b}" for a, b in IDENTITY_PAIRS if a in held and b in held}
    return held | pairs


def _profile(session: Session, profile_id: str, *, channel: str, at: datetime) -> ProfileFactRow:
    found = session.get(ProfileFactRow, profile_id)
    if found is None:
        found = ProfileFactRow(
            profile_id=profile_id, channel=channel, created_at=at, flags=[], merged_into=None
        )
        session.add(found)
        session.flush()
    return found


def _set_flags(session: Session, profile: ProfileFactRow, flags: Iterable[str]) -> None:
    before = counted(profile.flags or [])
    after = counted(flags)
    day = day_of(profile.created_at)
    for metric in sorted(after - before):
        bump(session, f"identity.{metric}", day, channel=profile.channel)
    for metric in sorted(before - after):
        bump(session, f"identity.{metric}", day, channel=profile.channel, n=-1)
    profile.flags = sorted(set(flags) & set(IDENTITY_FLAGS))


def add_flags(
    session: Session, profile_id: str, flags: Iterable[str], *, channel: str, at: datetime
) -> None:
    profile = _profile(session, profile_id, channel=channel, at=at)
    if profile.merged_into is not None:
        return
    _set_flags(session, profile, {*(profile.flags or []), *flags})


def _flags_of(kinds: Iterable[str], channel: str) -> set[str]:
    flags = {str(k) for k in kinds}
    if channel == TILL_CHANNEL:
        flags.add("till")
    return flags


def profile_created(session: Session, event: StoredEvent) -> None:
    data = event.data
    channel = str(data.get("channel") or "unknown")
    add_flags(
        session,
        str(data["profile_id"]),
        _flags_of(data.get("identifier_kinds") or [], channel),
        channel=channel,
        at=event.occurred_at,
    )


def identifier_linked(session: Session, event: StoredEvent) -> None:
    data = event.data
    channel = str(data.get("channel") or "unknown")
    add_flags(
        session,
        str(data["profile_id"]),
        _flags_of([str(data.get("kind") or "")], channel),
        channel=channel,
        at=event.occurred_at,
    )


def profile_merged(session: Session, event: StoredEvent) -> None:
    data = event.data
    if not claim(session, f"merge:{data['merge_id']}"):
        return
    at = event.occurred_at
    channel = str(data.get("channel") or "unknown")
    survivor = _profile(session, str(data["survivor_id"]), channel=channel, at=at)
    flags = set(survivor.flags or [])
    newest = survivor.created_at
    for absorbed_id in data.get("absorbed_ids") or []:
        absorbed = _profile(session, str(absorbed_id), channel=channel, at=at)
        if absorbed.merged_into is not None:
            continue
        flags.update(absorbed.flags or [])
        newest = max(newest, absorbed.created_at)
        _set_flags(session, absorbed, [])
        absorbed.merged_into = survivor.profile_id
    _set_flags(session, survivor, flags)
    seconds = max(0, round((at - newest).total_seconds()))
    bump(session, "profile.unified", day_of(at), channel=channel, total=seconds)


def attributes_changed(session: Session, event: StoredEvent) -> None:
    data = event.data
    last = data.get("last_purchase_at")
    if data.get("cause") != "purchase" or not isinstance(last, str):
        return
    if not claim(session, f"update:{event.id}"):
        return
    purchased = datetime.fromisoformat(last)
    seconds = max(0, round((event.occurred_at - purchased).total_seconds()))
    bump(session, "profile.updated", day_of(event.occurred_at), channel="all", total=seconds)
