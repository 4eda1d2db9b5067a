"""``memory``: peak RSS of the server process while it serves the availability load on the
1M-level data set.

One ``omnicanal serve`` process (one worker); its RSS (with any children) is sampled every 50 ms
by psutil from start-up, through a load of 8 concurrent keep-alive clients sending the three
availability requests of ``bench/availability.py`` in turn (near me, basket near me, basket at
all 200 locations), to the end.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

import httpx2

from bench.availability import BASKET_LINES, FULL, Ask, all_skus, asks, http_requests
from bench.common import RssSampler, ensure_key, prepare, run_threads, server
from omnicanal.inventory import views
from omnicanal.storage.database import Database

CLIENTS = 8
TARGET_MB = 500.0


def run(backend: str, *, quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    url = prepare(backend, FULL, log)
    seconds = 5.0 if quick else 30.0
    secret = ensure_key(url)
    db = Database(url)
    try:
        skus = all_skus(db)
        location_ids = [p.id for p in views.directory(db).places() if p.kind in views.STOCKED_KINDS]
    finally:
        db.dispose()
    inputs = asks(skus, 5000, BASKET_LINES, seed=7)
    log(f"  memory/{backend}: {CLIENTS} clients for {seconds:.0f} s")
    with server(url) as (base, proc), RssSampler(proc.pid) as rss:
        time.sleep(0.5)
        idle_mb = round(rss.rss() / 2**20, 1)
        clients: dict[int, httpx2.Client] = {}
        kinds: dict[int, list[Callable[[Ask], None]]] = {}

        def work(rng: random.Random, index: int) -> None:
            if index not in clients:
                client = clients[index] = httpx2.Client(
                    base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60
                )
                kinds[index] = list(http_requests(client, location_ids).values())
            ask = inputs[rng.randrange(len(inputs))]
            request = kinds[index][rng.randrange(3)]
            if request is kinds[index][0]:
                ask = Ask(ask.lat, ask.lon, ask.lines[:1])
            request(ask)

        load, _ = run_threads(work, threads=CLIENTS, seconds=seconds, warmup=1.0)
        for client in clients.values():
            client.close()
    return {
        "data_set": FULL.name,
        "clients": CLIENTS,
        "requests": load.summary(),
        "idle_rss_mb": idle_mb,
        "peak_rss_mb": rss.peak_mb,
        "target_mb": TARGET_MB,
    }
