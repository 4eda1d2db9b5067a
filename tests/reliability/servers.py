"""The API in N worker processes as a subprocess: what ``omnicanal serve --workers N`` runs
(uvicorn's process manager on ``create_app``), in its own process group so a kill -9 takes the
master and every worker down at once, as when a container or a machine dies.

uvicorn is started directly for its ``--timeout-worker-healthcheck``: with the default 5 s a
worker still importing the application on a busy machine is killed and respawned for ever
(``serve`` does not pass it yet; see docs/deployment.md). The schema is built by the fixture,
so there is nothing to migrate.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.reliability.brokers import free_port


class Server:
    def __init__(self, database_url: str, workers: int, log: Path, **settings: str) -> None:
        self.database_url = database_url
        self.workers = workers
        self.log = log
        self.settings = settings
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self._previous_starts = 0

    def start(self) -> Server:
        env = {
            **os.environ,
            "OMNICANAL_DATABASE_URL": self.database_url,
            "OMNICANAL_DB_POOL_SIZE": "5",
            "OMNICANAL_API_KEY_CACHE_SECONDS": "0",
            **{f"OMNICANAL_{k.upper()}": v for k, v in self.settings.items()},
        }
        if "nats_url" not in self.settings:
            env.pop("OMNICANAL_NATS_URL", None)  # the in-process bus unless the test asks
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "uvicorn", "omnicanal.api.app:create_app"),
                    *("--factory", "--host", "127.0.0.1", "--port", str(self.port)),
                    *("--workers", str(self.workers), "--timeout-worker-healthcheck", "120"),
                ],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready()
        return self

    def _wait_ready(self, seconds: float = 90.0) -> None:
        """Every worker process has started (each logs its startup), and the API answers."""
        deadline = time.monotonic() + seconds
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            started = self.log.read_text().count("Application startup complete")
            if started >= self._starts_expected:
                try:
                    if httpx2.get(f"{self.base}/health", timeout=2).status_code == 200:
                        return
                except httpx2.HTTPError:
                    pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready: {self.log.read_text()[-3000:]}")

    @property
    def _starts_expected(self) -> int:
        return self._previous_starts + self.workers

    def kill(self) -> None:
        """kill -9 of the master and its workers."""
        assert self.process is not None
        self._previous_starts = self.log.read_text().count("Application startup complete")
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is None:
            return
        self._previous_starts = self.log.read_text().count("Application startup complete")
        os.killpg(self.process.pid, signal.SIGTERM)
        try:  # a graceful stop is not under test here: do not wait long for one
            self.process.wait(3)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.process = None
