"""The customer domain, pure: identifiers, survivorship, consent decisions. No I/O.

Everything here is deterministic and order-independent so that the same inputs give the same
profile whichever channel spoke first, and so that it can be proven by unit and property tests.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

import phonenumbers

from omnicanal.shared.errors import InvalidInput

# ---------------------------------------------------------------------------------------------
# Identifiers
# ---------------------------------------------------------------------------------------------


class IdentifierKind(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    LOYALTY_CARD = "loyalty_card"
    LOGIN_ID = "login_id"
    COOKIE = "cookie"  # first-party cookie id
    DEVICE_ID = "device_id"  # stored as a SHA-256 hash, never raw
    EXTERNAL = "external"  # written "external:<channel>", an id in one channel's own system


DEFAULT_PHONE_REGION = "FR"
EXTERNAL_PREFIX = "external:"
DEVICE_HASH_PREFIX = "sha256:"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)+$")
_CARD = re.compile(r"^[A-Z0-9]{4,40}$")
_TOKEN = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no whitespace
_CHANNEL_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,29}$")
_HASHED_DEVICE = re.compile(r"^sha256:[0-9a-f]{64}$")

# Kinds that carry a person's data in clear (erasure scrubs their values everywhere).
CLEAR_TEXT_KINDS = frozenset({"email", "phone", "loyalty_card", "login_id"})


@dataclass(frozen=True, slots=True, order=True)
class Identifier:
    """A normalised identifier; ``kind`` is an ``IdentifierKind`` value or ``external:<chan>``."""

    kind: str
    value: str

    @property
    def base_kind(self) -> IdentifierKind:
        return IdentifierKind(self.kind.split(":", 1)[0])


def hash_device_id(raw: str) -> str:
    return DEVICE_HASH_PREFIX + hashlib.sha256(raw.encode()).hexdigest()


def normalise_kind(kind: str, *, field_name: str = "kind") -> str:
    kind = kind.strip().lower()
    if kind.startswith(EXTERNAL_PREFIX):
        channel = kind[len(EXTERNAL_PREFIX) :]
        if not _CHANNEL_SLUG.match(channel):
            raise InvalidInput(
                f"'{kind}' is not a valid external identifier kind; write external:<channel> with "
                "a lower-case channel name such as external:marketplace.",
                field=field_name,
            )
        return kind
    try:
        parsed = IdentifierKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in IdentifierKind if k is not IdentifierKind.EXTERNAL)
        raise InvalidInput(
            f"Unknown identifier kind '{kind}'; use one of {known} or external:<channel>.",
            field=field_name,
        ) from None
    if parsed is IdentifierKind.EXTERNAL:
        raise InvalidInput(
            "An external identifier names its channel: external:<channel>.", field=field_name
        )
    return parsed.value


def normalise_email(value: str, *, field_name: str = "email") -> str:
    email = value.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise InvalidInput(
            "This is not a valid email address (expected name@domain.tld).", field=field_name
        )
    return email


def normalise_phone(
    value: str, *, region: str = DEFAULT_PHONE_REGION, field_name: str = "phone"
) -> str:
    """E.164 (``+33612345678``); national numbers are read in ``region`` (FR by default)."""
    try:
        parsed = phonenumbers.parse(value.strip(), region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_valid_number(parsed):
        raise InvalidInput(
            "This is not a valid phone number; give it in international form (+33 6 12 34 56 78) "
            f"or as a national number of region {region}.",
            field=field_name,
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_card(value: str, *, field_name: str = "loyalty_card") -> str:
    card = re.sub(r"[\s-]", "", value).upper()
    if not _CARD.match(card):
        raise InvalidInput(
            "A loyalty card number has 4 to 40 letters or digits (spaces and dashes ignored).",
            field=field_name,
        )
    return card


def _normalise_token(value: str, *, what: str, field_name: str) -> str:
    token = value.strip()
    if not _TOKEN.match(token):
        raise InvalidInput(
            f"A {what} is 1 to 200 printable characters without spaces.", field=field_name
        )
    return token


def normalise_identifier(
    kind: str, value: str, *, region: str = DEFAULT_PHONE_REGION, field_prefix: str = ""
) -> Identifier:
    """Validates and normalises one identifier; raises ``InvalidInput`` naming the field."""
    kind_field = f"{field_prefix}kind" if field_prefix else "kind"
    value_field = f"{field_prefix}value" if field_prefix else "value"
    norm_kind = normalise_kind(kind, field_name=kind_field)
    base = IdentifierKind(norm_kind.split(":", 1)[0])
    if base is IdentifierKind.EMAIL:
        return Identifier(norm_kind, normalise_email(value, field_name=value_field))
    if base is IdentifierKind.PHONE:
        return Identifier(norm_kind, normalise_phone(value, region=region, field_name=value_field))
    if base is IdentifierKind.LOYALTY_CARD:
        return Identifier(norm_kind, normalise_card(value, field_name=value_field))
    if base is IdentifierKind.DEVICE_ID:
        raw = value.strip()
        if _HASHED_DEVICE.match(raw):  # already hashed by the channel
            return Identifier(norm_kind, raw)
        _normalise_token(raw, what="device id", field_name=value_field)
        return Identifier(norm_kind, hash_device_id(raw))
    what = {
        IdentifierKind.LOGIN_ID: "login id",
        IdentifierKind.COOKIE: "cookie id",
        IdentifierKind.EXTERNAL: "external id",
    }[base]
    return Identifier(norm_kind, _normalise_token(value, what=what, field_name=value_field))


def normalise_identifiers(
    raw: Sequence[tuple[str, str]], *, region: str = DEFAULT_PHONE_REGION
) -> list[Identifier]:
    """Normalises a list, naming the offending item (``identifiers[2].value``); sorted, unique."""
    out: set[Identifier] = set()
    for i, (kind, value) in enumerate(raw):
        out.add(normalise_identifier(kind, value, region=region, field_prefix=f"identifiers[{i}]."))
    return sorted(out)


# ---------------------------------------------------------------------------------------------
# Profile attributes and survivorship
# ---------------------------------------------------------------------------------------------

NAME_FIELDS = ("given_name", "family_name")
PROFILE_FIELDS = (
    *NAME_FIELDS,
    "birth_date",
    "postal_code",
    "city",
    "country",
    "language",
    "preferred_store_id",
)


class Trust:
    """How much a source is trusted for names (higher wins).

    A person correcting the profile (PATCH by an associate or the customer) > a source that
    authenticated the customer (loyalty card or login) > a till > anything else (web cookie,
    device, marketplace).
    """

    OTHER = 1
    TILL = 2
    AUTHENTICATED = 3
    MANUAL = 4


def source_trust(channel: str, identifier_kinds: Iterable[str]) -> int:
    kinds = {k.split(":", 1)[0] for k in identifier_kinds}
    if kinds & {IdentifierKind.LOYALTY_CARD.value, IdentifierKind.LOGIN_ID.value}:
        return Trust.AUTHENTICATED
    if channel == "pos":
        return Trust.TILL
    return Trust.OTHER


@dataclass(frozen=True, slots=True)
class FieldValue:
    """One attribute's value with its provenance."""

    value: str
    source: str  # channel that gave it
    trust: int
    at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "source": self.source,
            "trust": self.trust,
            "at": self.at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FieldValue:
        return cls(
            value=str(data["value"]),
            source=str(data["source"]),
            trust=int(data["trust"]),
            at=datetime.fromisoformat(str(data["at"])),
        )


def _rank(name: str, fv: FieldValue) -> tuple[Any, ...]:
    """Total order per field: names favour trust, then recency; others recency, then trust.

    The value and source break the last ties so the choice never depends on the input order.
    """
    if name in NAME_FIELDS:
        return (fv.trust, fv.at, fv.value, fv.source)
    return (fv.at, fv.trust, fv.value, fv.source)


def pick(name: str, a: FieldValue | None, b: FieldValue | None) -> FieldValue | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if _rank(name, a) >= _rank(name, b) else b


def merge_attributes(sets: Iterable[Mapping[str, FieldValue]]) -> dict[str, FieldValue]:
    """Survivorship over several profiles' attributes: per field the best value by ``_rank``.

    Commutative and associative: the result does not depend on which profile came first.
    """
    out: dict[str, FieldValue] = {}
    for attrs in sets:
        for name, fv in attrs.items():
            best = pick(name, out.get(name), fv)
            assert best is not None
            out[name] = best
    return out


def observe(
    current: Mapping[str, FieldValue],
    observed: Mapping[str, str | None],
    *,
    source: str,
    trust: int,
    at: datetime,
) -> tuple[dict[str, FieldValue], list[str]]:
    """Applies values seen by a channel; empty values never erase. Returns (attrs, changed)."""
    incoming: dict[str, FieldValue] = {}
    for name, raw in observed.items():
        if name not in PROFILE_FIELDS:
            raise InvalidInput(
                f"Unknown profile attribute '{name}'; known: {', '.join(PROFILE_FIELDS)}.",
                field=f"attributes.{name}",
            )
        value = (raw or "").strip()
        if value:
            incoming[name] = FieldValue(value=value, source=source, trust=trust, at=at)
    merged = merge_attributes([current, incoming])
    changed = sorted(
        n for n, fv in merged.items() if n not in current or current[n].value != fv.value
    )
    return merged, changed


@dataclass(frozen=True, slots=True)
class ProfileRef:
    id: str
    created_at: datetime


def choose_survivor(profiles: Sequence[ProfileRef]) -> ProfileRef:
    """The oldest profile survives (it is the one other systems have known longest); ties by id."""
    if not profiles:
        raise ValueError("no profile to choose from")
    return min(profiles, key=lambda p: (p.created_at, p.id))


def kind_pairs(known: Iterable[Identifier], call: Iterable[Identifier]) -> list[str]:
    """Identity-match pairs of one identify call: each identifier that was already known, against
    every other identifier of the call (``email↔loyalty_card``); externals count by base kind."""
    call_list = list(call)
    pairs = {
        "↔".join(sorted((k.base_kind.value, o.base_kind.value)))
        for k in known
        for o in call_list
        if o != k
    }
    return sorted(pairs)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


# ---------------------------------------------------------------------------------------------
# Consents
# ---------------------------------------------------------------------------------------------


class Purpose(StrEnum):
    MARKETING_EMAIL = "marketing_email"
    SMS = "sms"
    PUSH = "push"
    PERSONALISATION = "personalisation"
    ANALYTICS = "analytics"


MARKETING_PURPOSES = (Purpose.MARKETING_EMAIL, Purpose.SMS, Purpose.PUSH)


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"
    WITHDRAWN = "withdrawn"
    LAPSED = "lapsed"  # expired: set by the retention sweeper


class LegalBasis(StrEnum):
    CONSENT = "consent"
    LEGITIMATE_INTEREST = "legitimate_interest"
    CONTRACT = "contract"
    LEGAL_OBLIGATION = "legal_obligation"


ALL_CHANNELS = "*"
SALES_CHANNELS = ("web", "app", "pos", "callcenter", "marketplace")
# where a consent may be captured: a sales channel, head office, or a reply/link in a message
CONSENT_SOURCES = (*SALES_CHANNELS, "admin", "email", "sms", "push")
DEFAULT_CONSENT_VALIDITY = timedelta(days=3 * 365)  # CNIL: 3 years for commercial prospection
DEFAULT_INACTIVE_RETENTION = timedelta(days=3 * 365)


def parse_purpose(value: str, *, field_name: str = "purpose") -> Purpose:
    try:
        return Purpose(value)
    except ValueError:
        raise InvalidInput(
            f"Unknown consent purpose '{value}'; use one of {', '.join(p.value for p in Purpose)}.",
            field=field_name,
        ) from None


def parse_scope(value: str | None, *, field_name: str = "scope") -> str:
    scope = (value or ALL_CHANNELS).strip().lower()
    if scope != ALL_CHANNELS and scope not in SALES_CHANNELS:
        raise InvalidInput(
            f"Unknown channel scope '{scope}'; use '*' (every channel) or one of "
            f"{', '.join(SALES_CHANNELS)}.",
            field=field_name,
        )
    return scope


@dataclass(frozen=True, slots=True)
class ConsentState:
    purpose: Purpose
    scope: str  # "*" or a sales channel
    status: ConsentStatus
    legal_basis: LegalBasis
    captured_at: datetime
    expires_at: datetime | None = None
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str
    consent_id: str | None = None
    legal_basis: str | None = None
    scope: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:  # ``if may_contact(...):`` reads as it should
        return self.allowed


_REFUSALS = {
    ConsentStatus.DENIED: "denied",
    ConsentStatus.WITHDRAWN: "withdrawn",
    ConsentStatus.LAPSED: "expired",
}


def _precedence(c: ConsentState) -> tuple[datetime, int, int]:
    # the latest expression of will wins; on a tie a refusal beats a grant, then the global
    # record (which a cascade copies) speaks for the scoped ones
    return (c.captured_at, 0 if c.status is ConsentStatus.GRANTED else 1, c.scope == ALL_CHANNELS)


def decide(
    consents: Iterable[ConsentState], *, purpose: Purpose, channel: str | None, at: datetime
) -> Decision:
    """May ``channel`` contact/process for ``purpose`` at ``at``?

    Applicable records are the purpose's global one (scope ``*``) and the one scoped to the
    channel. The most recent decides, so a global withdrawal from any channel overrides every
    earlier grant, while a later opt-in on one channel reopens that channel only. No record
    means no (opt-in); an expired grant means no.
    """
    applicable = [
        c
        for c in consents
        if c.purpose is purpose and (c.scope == ALL_CHANNELS or c.scope == channel)
    ]
    if not applicable:
        return Decision(False, "no-consent-recorded")
    top = max(applicable, key=_precedence)
    common: dict[str, Any] = {
        "consent_id": top.id,
        "legal_basis": top.legal_basis.value,
        "scope": top.scope,
    }
    if top.status is ConsentStatus.GRANTED:
        if top.expires_at is not None and top.expires_at <= at:
            return Decision(False, "expired", **common)
        reason = "granted" if top.legal_basis is LegalBasis.CONSENT else top.legal_basis.value
        return Decision(True, reason, **common)
    reason = _REFUSALS[top.status]
    if top.scope == ALL_CHANNELS and top.status is not ConsentStatus.LAPSED:
        reason += "-everywhere"
    return Decision(False, reason, **common)


def merge_consent(a: ConsentState, b: ConsentState) -> ConsentState:
    """Two profiles merged hold the same (purpose, scope): the latest will wins; on a tie the
    refusal."""
    return a if _precedence(a) >= _precedence(b) else b
