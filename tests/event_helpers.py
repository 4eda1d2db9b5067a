"""Test events and a local webhook receiver (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from omnicanal.events.model import Event
from omnicanal.storage.database import Database


@dataclass(frozen=True, kw_only=True)
class Pinged(Event):
    """A test event."""

    type = "tests.pinged"
    n: int

    @property
    def subject(self) -> str:
        return f"ping-{self.n}"


@dataclass(frozen=True, kw_only=True)
class Echoed(Event):
    """Emitted by a test consumer: its committed count proves exactly-once effects."""

    type = "tests.echoed"
    n: int


def ping(db: Database, *numbers: int) -> None:
    with db.uow() as uow:
        for n in numbers:
            uow.emit(Pinged(n=n))


@dataclass
class Receiver:
    """Answers each POST with the next status in ``statuses`` (then 200) and keeps the requests."""

    statuses: list[int] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def record(self, headers: dict[str, str], body: bytes) -> int:
        self.requests.append({"headers": headers, "body": body, "json": json.loads(body)})
        return self.statuses.pop(0) if self.statuses else 200


@contextmanager
def webhook_receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(statuses=list(statuses or []))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = receiver.record({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
