"""Shared benchmark plumbing: data sets, timing statistics, a server subprocess."""

from __future__ import annotations

import json
import os
import platform
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from omnicanal.auth.service import create_key, hash_secret
from omnicanal.auth.tables import ApiKeyRow
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


def database_url(backend: str, data: DataSet | str) -> str:
    suffix = data.name if isinstance(data, DataSet) else data
    if backend == "sqlite":
        path = ROOT / "var" / "bench" / f"bench-{suffix}.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    name = f"omnicanal_bench_{suffix}"
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


def scratch(backend: str, name: str, tables: list[str]) -> str:
    """A small database of our own (``omnicanal_bench_<name>``), migrated, ``tables`` emptied."""
    url = database_url(backend, name)
    upgrade(url)
    db = Database(url)
    try:
        with db.engine.begin() as conn:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))
    finally:
        db.dispose()
    return url


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
    log = ROOT / "var" / "bench" / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
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
            stderr=out,
        )
    base = f"http://127.0.0.1:{port}"
    import httpx2

    deadline = time.monotonic() + 180  # a loaded machine imports slowly
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log}")
        try:
            if httpx2.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx2.HTTPError:
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError(f"server did not start; see {log}")
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


# -- additions for the scenarios -----------------------------------------------------------------
def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def pg_reachable() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception:
        return False
    return True


def ensure_key(url: str, *, channel: str = "web") -> str:
    """A well-known API key for the benchmarks in the data set's database; returns the secret."""
    secret = f"ock_bench_{channel}"
    db = Database(url)
    try:
        with db.uow() as uow:
            found = uow.session.scalar(
                select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == hash_secret(secret))
            )
            if found is None:
                create_key(uow, name=f"Benchmarks ({channel})", channel=channel, secret=secret)
    finally:
        db.dispose()
    return secret


class RssSampler:
    """Samples the resident set size of a process (and its children) in a background thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self._process = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.samples: list[int] = []

    def rss(self) -> int:
        total = 0
        for proc in [self._process, *self._process.children(recursive=True)]:
            with suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.rss())
            self._stop.wait(self._interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append(self.rss())

    @property
    def peak_mb(self) -> float:
        return round(max(self.samples) / 2**20, 1)


@dataclass
class Load:
    """Outcome of a closed-loop load: operations completed inside the measured window."""

    seconds: float
    window: tuple[float, float] = (0.0, 0.0)  # perf_counter() bounds of the measured window
    ok: int = 0
    refused: int = 0
    errors: int = 0
    first_error: str | None = None
    latencies: list[float] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "refused": self.refused,
            "errors": self.errors,
            "per_second": round(self.rate, 1),
        }
        if self.latencies:
            out["latency"] = percentiles(self.latencies)
        if self.first_error:
            out["first_error"] = self.first_error
        out.update(self.extra)
        return out


class Refused(Exception):
    """An operation the system rightly declined (e.g. not enough stock): counted, not an error."""


Work = Callable[[random.Random, int], Any]  # (rng, thread index) -> anything; raise Refused


def _loop(
    fn: Work,
    index: int,
    seed: int,
    start: float,
    window: tuple[float, float],
    interval: float,
    out: Load,
) -> None:
    rng = random.Random(seed * 1000 + index)
    next_at = start + rng.random() * interval  # paced loops start staggered
    while True:
        if (pause := next_at - time.perf_counter()) > 0:
            time.sleep(pause)
        if (t0 := time.perf_counter()) >= window[1]:
            return
        next_at = max(next_at + interval, t0)  # late: go on at once, no backlog
        status = "ok"
        try:
            fn(rng, index)
        except Refused:
            status = "refused"
        except Exception as exc:
            status = "error"
            out.first_error = out.first_error or f"{type(exc).__name__}: {exc}"[:300]
        t1 = time.perf_counter()
        if window[0] <= t0 and t1 <= window[1]:
            if status == "ok":
                out.ok += 1
                out.latencies.append(t1 - t0)
            elif status == "refused":
                out.refused += 1
            else:
                out.errors += 1


def run_threads(
    work: Work,
    *,
    threads: int,
    seconds: float,
    warmup: float = 1.0,
    seed: int = 1,
    extra: dict[str, tuple[Work, int]] | None = None,
    interval: float = 0.0,
) -> tuple[Load, dict[str, Load]]:
    """Run ``work`` in ``threads`` closed loops for ``warmup + seconds``; count what completes
    in the last ``seconds``. ``extra`` names other loops run alongside (work, thread count).
    With ``interval``, each loop starts a call at most every ``interval`` seconds (a paced load
    below saturation) instead of as soon as the previous one returns."""
    start = time.perf_counter() + 0.2
    window = (start + warmup, start + warmup + seconds)
    loops: list[tuple[str | None, Work]] = [(None, work)] * threads
    for extra_name, (fn, count) in (extra or {}).items():
        loops += [(extra_name, fn)] * count
    # every thread counts into its own Load (no shared counters), merged at the end
    parts = [(name, Load(seconds)) for name, _ in loops]
    pool = [
        threading.Thread(target=_loop, args=(fn, i, seed, start, window, interval, parts[i][1]))
        for i, (_, fn) in enumerate(loops)
    ]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    totals: dict[str | None, Load] = {name: Load(seconds) for name, _ in loops}
    for name, part in parts:
        merged = totals[name]
        merged.ok += part.ok
        merged.refused += part.refused
        merged.errors += part.errors
        merged.latencies.extend(part.latencies)
        merged.first_error = merged.first_error or part.first_error
    main = totals.pop(None)
    main.window = window
    return main, {str(name): load for name, load in totals.items()}


def machine() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def postgres_version() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL)
        with engine.connect() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
        engine.dispose()
    except Exception:
        return None
    return str(version)


def cpu_busy(seconds: float = 5.0) -> float:
    """Share of all CPUs busy over ``seconds`` (0 to 1), whoever is using them."""
    return round(float(psutil.cpu_percent(interval=seconds)) / 100, 2)


def wait_for_quiet(max_wait: float, threshold: float = 0.25) -> float:
    """Wait (at most ``max_wait`` seconds) until the machine is at most ``threshold`` busy;
    returns the last measured share. Other people's work shares these cores."""
    started = time.monotonic()
    busy = cpu_busy()
    if busy > threshold:
        log(f"  machine {busy:.0%} busy; waiting up to {max_wait:.0f} s for it to quieten")
    while busy > threshold and time.monotonic() - started < max_wait:
        busy = cpu_busy()
    if busy > threshold:
        log(f"  still {busy:.0%} busy after {max_wait:.0f} s; measuring anyway")
    return busy


def code_under_test() -> dict[str, Any]:
    """Which omnicanal is measured: its path and, when it sits in a git checkout, the commit."""
    import omnicanal

    source = Path(omnicanal.__file__).resolve().parent.parent
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {"omnicanal_source": str(source), "repository_head": commit or None}
