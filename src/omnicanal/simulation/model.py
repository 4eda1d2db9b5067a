"""The simulated retailer's model: parameters, customers and the distributions they follow.

Pure: no I/O. Every draw takes the caller's ``random.Random`` so a run is a function of its seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

CHANNELS = ("web", "app", "pos", "callcenter", "marketplace")
DEFAULT_MIX: dict[str, float] = {
    "web": 0.45,
    "app": 0.25,
    "pos": 0.2,
    "callcenter": 0.05,
    "marketplace": 0.05,
}
PARIS = ZoneInfo("Europe/Paris")

# what a shopper of each channel ends up doing, besides click & collect (its share is a parameter)
ONLINE_METHODS: dict[str, float] = {
    "home_delivery": 0.45,
    "relay_point": 0.2,
    "ship_from_store": 0.15,
    "reserve_and_try": 0.2,
}
CALLCENTER_METHODS: dict[str, float] = {"home_delivery": 0.7, "relay_point": 0.3}
MARKETPLACE_METHODS: dict[str, float] = {"home_delivery": 0.75, "relay_point": 0.25}
POS_METHODS: dict[str, float] = {"till_sale": 0.88, "endless_aisle": 0.12}

# local hour-of-day weights (Europe/Paris): where in the day each channel's visits fall
_WEB_HOURS = [1, 1, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 8, 8, 6, 5, 5, 6, 7, 9, 10, 10, 7, 3]
_APP_HOURS = [1, 1, 0, 0, 0, 0, 2, 5, 6, 4, 4, 5, 7, 7, 5, 4, 5, 7, 8, 9, 9, 8, 6, 3]
_STORE_HOURS = [0] * 10 + [4, 6, 9, 9, 6, 5, 6, 8, 9, 6] + [0] * 4  # 10:00 to 19:59
_CALL_HOURS = [0] * 9 + [6, 9, 9, 7, 6, 8, 8, 7, 6, 4] + [0] * 5  # 9:00 to 18:59
HOUR_WEIGHTS: dict[str, list[int]] = {
    "web": _WEB_HOURS,
    "app": _APP_HOURS,
    "pos": _STORE_HOURS,
    "callcenter": _CALL_HOURS,
    "marketplace": _WEB_HOURS,
}
STORE_OPENS = time(10, 0)
STORE_CLOSES = time(19, 30)

# the share of finished orders that come back, per channel (click & collect has its own)
RETURN_RATE: dict[str, float] = {
    "web": 0.14,
    "app": 0.12,
    "callcenter": 0.08,
    "marketplace": 0.1,
    "pos": 0.06,
}
CLICK_COLLECT_RETURN_RATE = 0.1
EXCHANGE_SHARE = 0.35  # of returns: an exchange (another size) rather than a refund
NO_SHOW_RATE = 0.07  # click & collect never collected
TRY_OUTCOMES: dict[str, float] = {"bought": 0.55, "declined": 0.35, "no_show": 0.1}
CROSS_DEVICE_SHARE = 0.35  # web/app orders started on the other device
ABANDON_SHARE = 0.2  # web/app sessions that leave their cart
ASSOCIATE_ADDS_SHARE = 0.5  # identified store visits whose open web cart gets an accessory
TICKET_RATE = 0.05  # orders that bring a customer service ticket
TICKET_AFTER_NO_SHOW = 0.3
CSAT_ANSWER_RATE = 0.6
CSAT_SCORES: dict[int, float] = {1: 0.06, 2: 0.06, 3: 0.13, 4: 0.35, 5: 0.4}

FIRST_NAMES = [
    "Léa",
    "Emma",
    "Chloé",
    "Camille",
    "Manon",
    "Inès",
    "Jade",
    "Louise",
    "Alice",
    "Lina",
    "Hugo",
    "Lucas",
    "Louis",
    "Gabriel",
    "Arthur",
    "Jules",
    "Adam",
    "Raphaël",
    "Paul",
    "Nathan",
    "Sarah",
    "Zoé",
    "Anna",
    "Rose",
    "Noah",
    "Tom",
    "Théo",
    "Maël",
    "Sacha",
    "Nina",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Thomas",
    "Petit",
    "Robert",
    "Richard",
    "Durand",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Lefebvre",
    "Leroy",
    "Roux",
    "David",
    "Bertrand",
    "Morel",
    "Fournier",
    "Girard",
    "Bonnet",
    "Dupont",
    "Lambert",
    "Fontaine",
    "Rousseau",
    "Vincent",
    "Muller",
    "Lefèvre",
    "Faure",
    "André",
]
STREETS = ("rue de la Paix", "avenue Jean-Jaurès", "rue Victor-Hugo", "boulevard Pasteur")


def parse_mix(text: str, *, known: Sequence[str] = CHANNELS) -> dict[str, float]:
    """``web=0.45,app=0.25`` -> shares summing to 1 (channels left out get none)."""
    shares: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or name not in known:
            raise ValueError(
                f"'{part.strip()}' is not channel=share; channels: {', '.join(known)}."
            )
        try:
            share = float(value)
        except ValueError:
            raise ValueError(f"the share of {name} is not a number: {value!r}.") from None
        if not math.isfinite(share) or share < 0:
            raise ValueError(f"the share of {name} must be a number ≥ 0.")
        shares[name] = share
    total = sum(shares.values())
    if total <= 0:
        raise ValueError("give at least one channel a share above 0, e.g. web=1.")
    return {name: shares[name] / total for name in known if shares.get(name)}


def method_shares(channel: str, click_collect_share: float) -> dict[str, float]:
    """The fulfilment methods a channel's orders use, click & collect at its given share."""
    if channel == "pos":
        return dict(POS_METHODS)
    if channel == "marketplace":
        return dict(MARKETPLACE_METHODS)
    rest = CALLCENTER_METHODS if channel == "callcenter" else ONLINE_METHODS
    shares = {"click_and_collect": click_collect_share}
    shares.update({m: s * (1 - click_collect_share) for m, s in rest.items()})
    return {m: s for m, s in shares.items() if s > 0}


@dataclass(frozen=True)
class SimulationParams:
    stores: int = 24
    customers: int = 1000
    days: int = 1
    seed: int = 42
    channel_mix: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    click_collect_share: float = 0.3
    visits_per_customer: float = 0.1  # shopping visits per customer per day, all channels
    skus: int = 600  # catalogue size when the simulation sets the retailer up itself
    start: datetime | None = None  # first simulated midnight (UTC-aware); None: chosen for you
    settle_days: int = 12  # after the last day: pickups, deliveries and returns still due

    def check(self) -> SimulationParams:
        for name in ("stores", "customers", "days", "skus"):
            if getattr(self, name) < 1:
                raise ValueError(f"--{name} must be at least 1.")
        if not 0 <= self.click_collect_share <= 1:
            raise ValueError("--click-collect-share is a share between 0 and 1.")
        if self.visits_per_customer <= 0:
            raise ValueError("--visits-per-customer must be above 0.")
        if self.start is not None and self.start.tzinfo is None:
            raise ValueError("start needs a time zone.")
        return self


class QuotaSampler:
    """Draws keys so that the counts track the target shares (the key furthest behind its
    share goes next, ties broken at random): a small run shows every key in proportion."""

    def __init__(self, shares: Mapping[str, float]) -> None:
        self.shares = {k: v for k, v in shares.items() if v > 0}
        self.counts = dict.fromkeys(self.shares, 0)
        self.total = 0

    def draw(self, rng: random.Random) -> str:
        self.total += 1
        deficits = {k: s * self.total - self.counts[k] for k, s in self.shares.items()}
        best = max(deficits.values())
        tied = [k for k, d in deficits.items() if d >= best - 1e-9]
        chosen = tied[0] if len(tied) == 1 else rng.choice(tied)
        self.counts[chosen] += 1
        return chosen


@dataclass(frozen=True)
class HomeStore:
    code: str
    city: str
    postcode: str
    latitude: float
    longitude: float


@dataclass
class Persona:
    """One customer of the retailer: identifiers on several devices, a home near a store."""

    index: int
    given_name: str
    family_name: str
    email: str
    phone: str | None
    card: str | None
    cookies: list[str]
    devices: list[str]
    home: HomeStore
    latitude: float
    longitude: float
    activity: float  # relative propensity to shop
    profile_id: str | None = None  # set once a channel identified them
    open_cart_id: str | None = None  # a web/app cart waiting to be finished

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def address(self) -> dict[str, object]:
        return {
            "name": self.name,
            "line1": f"{1 + self.index % 120} {STREETS[self.index % len(STREETS)]}",
            "postcode": self.home.postcode,
            "city": self.home.city,
            "country": "FR",
            "latitude": round(self.latitude, 5),
            "longitude": round(self.longitude, 5),
        }


def _ascii(text: str) -> str:
    table = str.maketrans("éèëêàâïîôöùûüç", "eeeeaaiioouuuc")
    return text.lower().translate(table)


def _mobile(rng: random.Random) -> str:
    """A French mobile number in an allocated range (06 1x to 06 8x, 06 3x excepted)."""
    return f"+336{rng.choice('124578')}{rng.randrange(10**7):07d}"


def make_population(rng: random.Random, count: int, homes: Sequence[HomeStore]) -> list[Persona]:
    """``count`` customers, each living near one of ``homes``; identifiers unique per index."""
    people = []
    for i in range(count):
        given, family = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        home = homes[i % len(homes)] if i < len(homes) else rng.choice(homes)
        token = f"{rng.getrandbits(64):016x}"
        people.append(
            Persona(
                index=i,
                given_name=given,
                family_name=family,
                email=f"{_ascii(given)}.{_ascii(family)}.{i}@example.com",
                phone=_mobile(rng) if rng.random() < 0.85 else None,
                card=f"OC{i:08d}" if rng.random() < 0.55 else None,
                cookies=[f"ck-{token}-{n}" for n in range(1 + (rng.random() < 0.4))],
                devices=[f"dv-{token}-{n}" for n in range(rng.choice((0, 1, 1, 2)))],
                home=home,
                latitude=home.latitude + rng.uniform(-0.05, 0.05),
                longitude=home.longitude + rng.uniform(-0.05, 0.05),
                activity=rng.lognormvariate(0, 0.8),
            )
        )
    return people


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def weighted(rng: random.Random, shares: Mapping[str, float]) -> str:
    keys = list(shares)
    return rng.choices(keys, weights=[shares[k] for k in keys])[0]


def visit_time(rng: random.Random, day_start: datetime, channel: str) -> datetime:
    """A moment of the local day starting at ``day_start`` that fits the channel's habits."""
    hours = HOUR_WEIGHTS[channel]
    hour = rng.choices(range(24), weights=hours)[0]
    local_day = day_start.astimezone(PARIS).date()
    local = datetime.combine(local_day, time(hour), tzinfo=PARIS)
    local += timedelta(seconds=rng.randrange(3600))
    if channel == "pos":
        closing = datetime.combine(local_day, STORE_CLOSES, tzinfo=PARIS)
        local = min(local, closing - timedelta(minutes=5))
    return local.astimezone(day_start.tzinfo)


def store_open_at(moment: datetime) -> datetime:
    """``moment`` if the stores are open then (Monday to Saturday, 10:00-19:30 local), else
    the next opening."""
    local = moment.astimezone(PARIS)
    opens = datetime.combine(local.date(), STORE_OPENS, tzinfo=PARIS)
    closes = datetime.combine(local.date(), STORE_CLOSES, tzinfo=PARIS)
    if local >= closes:
        opens += timedelta(days=1)
    elif local >= opens and local.weekday() != 6:
        return moment
    while opens.weekday() == 6:
        opens += timedelta(days=1)
    return opens.astimezone(moment.tzinfo)


def hours(rng: random.Random, median: float, spread: float, *, cap: float) -> timedelta:
    """A log-normal delay: most near ``median`` hours, a long tail, never past ``cap``."""
    return timedelta(hours=min(cap, rng.lognormvariate(math.log(median), spread)))


def basket_size(rng: random.Random) -> int:
    size = 1
    while size < 4 and rng.random() < 0.35:
        size += 1
    return size


def csat_score(rng: random.Random) -> int:
    return int(weighted(rng, {str(k): v for k, v in CSAT_SCORES.items()}))


def zipf_weights(count: int, exponent: float = 1.05) -> list[float]:
    """Cumulative popularity weights of ranked items: a few best-sellers, a long tail."""
    total, out = 0.0, []
    for rank in range(1, count + 1):
        total += 1 / rank**exponent
        out.append(total)
    return out
