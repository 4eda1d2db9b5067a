"""``availability``: "near me" and basket ATP on 1M stock levels (5,000 SKUs x 200 locations).

Three queries, each timed at the service layer (the functions of ``inventory/views.py``, called
the way the API route calls them: the cached location directory, one read session) and over
HTTP (the real server as a subprocess, one keep-alive client):

- ``near_me``: one SKU, the stores/warehouses within 30 km of a random French city;
- ``basket_near``: 5 random SKUs, per location within 30 km (partial availability included);
- ``basket_all``: 5 random SKUs at every one of the 200 stocked locations (endless aisle).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
from sqlalchemy import select

from bench.common import DataSet, RssSampler, ensure_key, percentiles, prepare, server
from omnicanal.catalog.tables import VariantRow
from omnicanal.demo.places import STORES
from omnicanal.inventory import views
from omnicanal.storage.database import Database

FULL = DataSet(skus=5000, locations=200)
RADIUS_KM = 30.0
BASKET_LINES = 5
CHANNEL = "web"
# one point per French city of the demo (the first store's coordinates)
CITIES: list[tuple[str, float, float]] = list(
    {city: (city, lat, lon) for _c, _n, city, _p, lat, lon in reversed(STORES)}.values()
)


@dataclass(frozen=True)
class Ask:
    lat: float
    lon: float
    lines: list[tuple[str, int]]


def asks(skus: list[str], n: int, lines: int, seed: int) -> list[Ask]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        _city, lat, lon = rng.choice(CITIES)
        out.append(Ask(lat, lon, [(sku, 1) for sku in rng.sample(skus, lines)]))
    return out


def time_each(fn: Callable[[Ask], Any], inputs: list[Ask], warmup: int) -> dict[str, Any]:
    for ask in inputs[:warmup]:
        fn(ask)
    samples = []
    for ask in inputs[warmup:]:
        t = time.perf_counter()
        fn(ask)
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def all_skus(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(VariantRow.sku).order_by(VariantRow.sku)))


def service_layer(url: str, n: int, warmup: int) -> dict[str, Any]:
    db = Database(url)
    try:
        skus = all_skus(db)
        stocked = [p for p in views.directory(db).places() if p.kind in views.STOCKED_KINDS]
        found: dict[str, list[int]] = {"near_me": [], "basket_near": [], "basket_all": []}

        def near_me(ask: Ask) -> None:
            places = views.directory(db).places()
            with db.read() as session:
                result = views.availability_near(
                    session,
                    places,
                    lat=ask.lat,
                    lon=ask.lon,
                    radius_km=RADIUS_KM,
                    lines=ask.lines,
                    channel=CHANNEL,
                )
            found["near_me"].append(len(result))

        def basket_near(ask: Ask) -> None:
            places = views.directory(db).places()
            with db.read() as session:
                result = views.availability_near(
                    session,
                    places,
                    lat=ask.lat,
                    lon=ask.lon,
                    radius_km=RADIUS_KM,
                    lines=ask.lines,
                    channel=CHANNEL,
                    include_partial=True,
                )
            found["basket_near"].append(len(result))

        def basket_all(ask: Ask) -> None:
            with db.read() as session:
                result = views.basket_availability(session, stocked, ask.lines, channel=CHANNEL)
            found["basket_all"].append(sum(1 for r in result if r.can_supply_all))

        out: dict[str, Any] = {}
        for name, fn, lines in (
            ("near_me", near_me, 1),
            ("basket_near", basket_near, BASKET_LINES),
            ("basket_all", basket_all, BASKET_LINES),
        ):
            out[name] = time_each(fn, asks(skus, n + warmup, lines, seed=len(name)), warmup)
            out[name]["mean_locations_returned"] = round(
                sum(found[name][warmup:]) / max(1, len(found[name]) - warmup), 1
            )
        out["candidates_within_radius_mean"] = round(mean_candidates(stocked), 1)
        return out
    finally:
        db.dispose()


def mean_candidates(stocked: list[views.Place]) -> float:
    from omnicanal.shared.geo import haversine_km

    counts = [
        sum(1 for p in stocked if haversine_km(lat, lon, p.latitude, p.longitude) <= RADIUS_KM)
        for _city, lat, lon in CITIES
    ]
    return sum(counts) / len(counts)


def http_requests(
    client: httpx2.Client, location_ids: list[str]
) -> dict[str, Callable[[Ask], None]]:
    def check(response: httpx2.Response) -> None:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code}: {response.text[:300]}")

    def near_me(ask: Ask) -> None:
        sku = ask.lines[0][0]
        check(
            client.get(
                "/v1/availability",
                params={"sku": sku, "lat": ask.lat, "lon": ask.lon, "radius_km": RADIUS_KM},
            )
        )

    def basket_near(ask: Ask) -> None:
        lines = [{"sku": s, "quantity": q} for s, q in ask.lines]
        body = {"lines": lines, "lat": ask.lat, "lon": ask.lon, "radius_km": RADIUS_KM}
        check(client.post("/v1/availability/basket", json=body))

    def basket_all(ask: Ask) -> None:
        lines = [{"sku": s, "quantity": q} for s, q in ask.lines]
        body = {"lines": lines, "location_ids": location_ids, "include_partial": True}
        check(client.post("/v1/availability/basket", json=body))

    return {"near_me": near_me, "basket_near": basket_near, "basket_all": basket_all}


def over_http(url: str, n: int, warmup: int) -> dict[str, Any]:
    secret = ensure_key(url)
    db = Database(url)
    try:
        skus = all_skus(db)
        location_ids = [p.id for p in views.directory(db).places() if p.kind in views.STOCKED_KINDS]
    finally:
        db.dispose()
    out: dict[str, Any] = {}
    with server(url) as (base, proc), RssSampler(proc.pid) as rss:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx2.Client(base_url=base, headers=headers, timeout=30) as client:
            for name, fn in http_requests(client, location_ids).items():
                lines = 1 if name == "near_me" else BASKET_LINES
                out[name] = time_each(fn, asks(skus, n + warmup, lines, seed=len(name)), warmup)
    out["server_peak_rss_mb"] = rss.peak_mb
    return out


def run(backend: str, *, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    url = prepare(backend, FULL, log)
    n_service, n_http = (300, 200) if quick else (3000, 1500)
    log(f"  availability/{backend}: service layer, {n_service} samples per query")
    service = service_layer(url, n_service, warmup=100)
    log(f"  availability/{backend}: HTTP, {n_http} samples per query")
    http = over_http(url, n_http, warmup=100)
    return {
        "data_set": FULL.name,
        "radius_km": RADIUS_KM,
        "channel": CHANNEL,
        "service": service,
        "http": http,
        "target_service_p99_ms": 5.0,
    }
