"""Shared benchmark plumbing: data sets, timing statistics, a server subprocess."""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from omnicanal.demo.seed import seed_retailer
from omnicanal.storage.database import Database
from omnicanal.storage.migrate import upgrade
from omnicanal.storage.registry import load_all_tables

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ADMIN_URL = os.environ.get(
    "OMNICANAL_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@dataclass(frozen=True)
class DataSet:
    skus: int
    locations: int  # stocked locations (stores + warehouses)

    @property
    def name(self) -> str:
        return f"{self.skus}x{self.locations}"

    @property
    def extra_stores(self) -> int:
        return max(0, self.locations - 26)  # the demo has 24 stores + 2 warehouses


def database_url(backend: str, data: DataSet) -> str:
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / f"bench-{data.name}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    name = f"omnicanal_bench_{data.name}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists.first() is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def _marker(db: Database) -> str | None:
    with db.engine.connect() as conn:
        try:
            row = conn.execute(text("SELECT value FROM bench_marker")).first()
        except Exception:
            return None
    return row[0] if row else None


def prepare(backend: str, data: DataSet, log: Callable[[str], None]) -> str:
    """Create (once, then reuse) a database holding the data set; returns its URL."""
    url = database_url(backend, data)
    db = Database(url)
    if _marker(db) == data.name:
        log(f"  reusing {backend} data set {data.name}")
        db.dispose()
        return url
    log(f"  loading {backend} data set {data.name} (once)…")
    started = time.perf_counter()
    load_all_tables().drop_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        conn.execute(text("DROP TABLE IF EXISTS bench_marker"))
    upgrade(url)
    report = seed_retailer(db, skus=data.skus, extra_stores=data.extra_stores, density=1.0)
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
        conn.execute(text("CREATE TABLE bench_marker (value VARCHAR(40))"))
        conn.execute(text("INSERT INTO bench_marker VALUES (:v)"), {"v": data.name})
    log(f"  loaded {report.levels} levels in {time.perf_counter() - started:.0f}s")
    db.dispose()
    return url


def percentiles(samples: list[float]) -> dict[str, float]:
    """Median and p99 in milliseconds."""
    ms = sorted(s * 1000 for s in samples)
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": round(statistics.median(ms), 3), "p99_ms": round(cuts[98], 3), "n": len(ms)}


def timed(fn: Callable[[], Any], n: int, warmup: int = 50) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
    return percentiles(samples)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def server(url: str, *, workers: int = 1) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run `omnicanal serve` on the data set; yields (base URL, process)."""
    port = free_port()
    env = {
        **os.environ,
        "OMNICANAL_DATABASE_URL": url,
        "OMNICANAL_RUN_BACKGROUND_WORKERS": "false",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "omnicanal.cli",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    import httpx2

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("server did not start")
    try:
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(10)


def save(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2))
    return path
