"""A webhook receiver on loopback for the tests: records every request, answers as a script says."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


# What to do with the n-th request (0-based): returns (status, body) or None to hang for good.
Behaviour = Callable[[int], tuple[int, bytes] | None]


def always(status: int = 204, body: bytes = b"") -> Behaviour:
    """Answer every request the same."""
    return lambda n: (status, body)


def script(*answers: tuple[int, bytes] | None, then: tuple[int, bytes] = (204, b"")) -> Behaviour:
    """Answer the first requests as listed (None: hang), every later one with ``then``."""
    return lambda n: answers[n] if n < len(answers) else then


@dataclass
class Receiver:
    """The running receiver: its URL and what it received."""

    url: str
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """Wait until at least ``count`` requests arrived; all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {len(self.received)}")


@contextlib.contextmanager
def receiver(behaviour: Behaviour | None = None) -> Iterator[Receiver]:
    """A threaded HTTP server on 127.0.0.1 that records requests and answers per ``behaviour``."""
    behaviour = behaviour or always()
    released = threading.Event()
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec = state["receiver"]
            with rec.lock:
                n = len(rec.received)
                rec.received.append(Received(self.path, dict(self.headers.items()), body, time.monotonic()))
            answer = behaviour(n)
            if answer is None:  # hang until the test ends (the client's timeout must cut in)
                released.wait(120)
                return
            status, payload = answer
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://127.0.0.1:1/elsewhere")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/hooks")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["receiver"]
    finally:
        released.set()
        server.shutdown()
        server.server_close()
