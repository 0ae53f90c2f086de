"""The edge, with real processes: nginx (deploy/nginx/nginx.conf, as shipped) in front of Gunicorn.

nginx buffers requests, so clients that send slowly cost nginx a connection and never a sync worker;
it passes X-Forwarded-For, X-Forwarded-Proto, Host and X-Request-ID through; and its own errors, like
Gunicorn's (core_project.gunicorn_worker), are problem+json. Gunicorn runs with gunicorn.conf.py and the
production settings against the test's PostgreSQL and Redis, as in test_processes.py. Tests that need
nginx skip when it is not installed; CI installs Debian's package (.ci/run).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import math
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from parcel_service.tests.processes import ROOT, GunicornServer, free_port, gunicorn

# django_db: so that the test database exists (pytest-django creates it only for a session that has such a
# test); the tests themselves write nothing.
pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

NGINX_CONF = ROOT / "deploy" / "nginx" / "nginx.conf"
NGINX = shutil.which("nginx", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"]))
needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (CI installs Debian's nginx package; see .ci/run)"
)
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}
TRACKING_NUMBER = "CP123456785NL"  # well-formed, and no such parcel: 404 unless throttled

# The attack of the security finding, scaled up: 50 connections, one header line each every 5 s, 60 s long.
SLOW_CLIENTS = 50
HEADER_EVERY_S = 5.0
ATTACK_S = 60.0
CLIENT_HEADER_TIMEOUT_S = 10.0  # nginx.conf's client_header_timeout


# --- nginx -------------------------------------------------------------------------------------------------


@dataclass
class Nginx:
    """A running nginx master with its worker."""

    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def url(self) -> str:
        """Base URL of the server."""
        return f"http://127.0.0.1:{self.port}"

    def access_log(self) -> list[dict[str, Any]]:
        """The JSON access lines written so far (nginx's error lines, plain text, are skipped)."""
        lines = self.log_path.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


def render_nginx_conf(directory: Path, port: int, upstream_port: int) -> Path:
    """deploy/nginx/nginx.conf with only its listen port, upstream port and ``/tmp/`` prefix changed."""
    text = NGINX_CONF.read_text()
    for old, new, expected in (
        ("listen 8080 ", f"listen 127.0.0.1:{port} ", 1),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{upstream_port};", 1),
        ("/tmp/", f"{directory}/", None),  # noqa: S108 - the text replaced, not a path used
    ):
        found = text.count(old)
        assert found == expected if expected else found, f"nginx.conf no longer has {old!r}: update this rendering"
        text = text.replace(old, new)
    path = directory / "nginx.conf"
    path.write_text(text)
    return path


@contextlib.contextmanager
def nginx(upstream_port: int) -> Iterator[Nginx]:
    """Run the shipped nginx configuration on a free port in front of ``upstream_port``; stop it afterwards."""
    assert NGINX is not None, "mark the test with needs_nginx"
    directory = Path(tempfile.mkdtemp(prefix="nginx-"))
    directory.chmod(0o755)  # run as root, nginx's worker is `nobody` and writes its temporary files here
    port = free_port()
    conf = render_nginx_conf(directory, port, upstream_port)
    log_path = directory / "nginx.log"
    # Append mode: nginx opens /dev/stdout again for its access log, and both must write at the end.
    with log_path.open("ab") as log:
        process = subprocess.Popen(  # noqa: S603 - fixed argv
            [NGINX, "-e", "stderr", "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nginx did not start:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.05)
        yield Nginx(process, port, log_path)
    finally:
        process.send_signal(signal.SIGQUIT)  # graceful, as the image's STOPSIGNAL
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)


def log_lines_after(proxy: Nginx, count: int, new: int = 1) -> list[dict[str, Any]]:
    """The access lines after the first ``count``, once there are ``new`` of them (nginx logs as it finishes)."""
    deadline = time.monotonic() + 5
    while len(lines := proxy.access_log()) < count + new:
        assert time.monotonic() < deadline, "no new access log line"
        time.sleep(0.02)
    return lines[count:]


@pytest.fixture(scope="module")
def server(django_db_setup) -> Iterator[GunicornServer]:
    """Gunicorn as the pod runs it: one proxy (the ingress) counted, TLS redirect on, a low anonymous rate."""
    with gunicorn(workers=2, NUM_PROXIES="1", SECURE_SSL_REDIRECT="true", THROTTLE_ANON="3/min") as running:
        yield running


@pytest.fixture(scope="module")
def proxy(server: GunicornServer) -> Iterator[Nginx]:
    """The shipped nginx configuration in front of ``server``."""
    with nginx(server.port) as running:
        yield running


# --- raw HTTP ----------------------------------------------------------------------------------------------


@dataclass
class RawResponse:
    """What came back for a hand-written request."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def problem(self) -> dict[str, Any]:
        """The body as a problem document, after checking the headers that go with one."""
        assert self.headers.get_content_type() == "application/problem+json", (self.status, self.body[:200])
        assert len(self.headers.get_all("X-Request-ID") or []) == 1, self.headers
        problem = json.loads(self.body)
        assert set(problem) == PROBLEM_FIELDS, problem
        assert problem["type"] == "about:blank"
        assert problem["status"] == self.status
        assert problem["request_id"] == self.headers["X-Request-ID"]
        return problem


def exchange(port: int, request: bytes) -> RawResponse:
    """Send bytes exactly as given on a new connection and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return RawResponse(response.status, response.headers, response.read())


def get(target: bytes, *headers: bytes) -> bytes:
    """A GET request with these header lines."""
    lines = [b"GET " + target + b" HTTP/1.1", b"Host: 127.0.0.1", *headers, b"Connection: close", b"", b""]
    return b"\r\n".join(lines)


LONG_LINE_5000 = get(b"/api/v1/health/?q=" + b"a" * 5000)
HEADER_9000 = get(b"/api/v1/health/", b"X-Large: " + b"a" * 9000)
HEADERS_101 = get(b"/api/v1/health/", *(b"X-Header-%d: 1" % i for i in range(101)))
GARBAGE_LINES = [
    b"hello world\r\n\r\n",
    b"GET /api/v1/health/ HTTP/9.9\r\nHost: 127.0.0.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",  # a TLS ClientHello on the plain-HTTP port
]


# --- Gunicorn's own answers (core_project.gunicorn_worker) -------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (LONG_LINE_5000, 414, "uri_too_long"),
        (HEADER_9000, 431, "request_header_fields_too_large"),
        (HEADERS_101, 431, "request_header_fields_too_large"),
        *((garbage, 400, "bad_request") for garbage in GARBAGE_LINES),
    ],
    ids=["request-line-5000", "header-9000", "101-headers", "not-http", "http-9.9", "tls-hello"],
)
def test_gunicorn_answers_requests_it_cannot_parse_with_problem_details(server, request_bytes, status, code):
    response = exchange(server.port, request_bytes)
    assert response.status == status
    problem = response.problem()
    assert problem["code"] == code
    assert uuid.UUID(problem["request_id"]).version == 4
    assert b"<html" not in response.body


def test_gunicorn_keeps_serving_after_answering_garbage(server):
    for garbage in GARBAGE_LINES:
        exchange(server.port, garbage)
    assert requests.get(f"{server.url}/api/v1/health/", timeout=10).json() == {"status": "ok"}


def test_a_worker_that_times_out_on_a_slow_client_answers_it_with_a_problem_too():
    # Gunicorn kills a worker stuck past `timeout` (3 s here) with SIGABRT; the worker's last act is to
    # answer the client it was reading, a 500 that is problem+json like every other.
    with gunicorn(workers=1, GUNICORN_CMD_ARGS="--timeout 3") as short_timeout:
        with socket.create_connection(("127.0.0.1", short_timeout.port), timeout=15) as sock:
            sock.sendall(b"GET /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # and never the end of it
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = RawResponse(response.status, response.headers, response.read())
        assert answer.status == 500
        assert answer.problem()["code"] == "server_error"
        assert requests.get(f"{short_timeout.url}/api/v1/health/", timeout=10).status_code == 200  # a new worker


# --- nginx's own answers and what it passes through --------------------------------------------------------


@needs_nginx
@pytest.mark.parametrize(
    ("request_bytes", "status", "code", "answered_by"),
    [
        (LONG_LINE_5000, 414, "uri_too_long", "gunicorn"),  # under nginx's 8 KiB, over Gunicorn's 4094 bytes
        (get(b"/api/v1/health/?q=" + b"a" * 10000), 414, "uri_too_long", "nginx"),
        (HEADER_9000, 431, "request_header_fields_too_large", "nginx"),
        (HEADERS_101, 431, "request_header_fields_too_large", "gunicorn"),
        (GARBAGE_LINES[0], 400, "bad_request", "nginx"),
        (GARBAGE_LINES[2], 400, "bad_request", "nginx"),
        (
            b"POST /api/v1/parcels/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 3000000\r\n\r\n",
            413,
            "request_too_large",
            "nginx",
        ),
        (
            b"POST /api/v1/parcels/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"X-Forwarded-Proto: https\r\nContent-Length: 1500000\r\n\r\n" + b"a" * 1_500_000,
            413,
            "request_too_large",
            "application",  # over the app's 1 MiB, under nginx's 2m: the app answers as always
        ),
        (get(b"/metrics"), 404, "not_found", "nginx"),  # Prometheus scrapes Gunicorn on the metrics port
        (
            b"POST /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
            "not_implemented",
            "nginx",
        ),
    ],
    ids=[
        "request-line-5000",
        "request-line-10000",
        "header-9000",
        "101-headers",
        "not-http",
        "tls-hello",
        "body-3MB",
        "body-1.5MB",
        "metrics",
        "transfer-coding",
    ],
)
def test_every_error_at_the_edge_is_problem_json(proxy, request_bytes, status, code, answered_by):
    logged = len(proxy.access_log())
    response = exchange(proxy.port, request_bytes)
    assert response.status == status
    assert response.problem()["code"] == code
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Server"] == "nginx"  # always through nginx, whoever wrote the problem
    (line,) = log_lines_after(proxy, logged)
    assert line["status"] == status
    method = request_bytes.split(b" ", 1)[0]
    if method in {b"GET", b"POST"}:  # the method sent, also when nginx answered with an error page
        assert line["method"] == method.decode()
    assert line["upstream_status"] == ("" if answered_by == "nginx" else str(status))


@needs_nginx
def test_nginx_keeps_a_valid_client_request_id_in_its_own_answers(proxy):
    response = exchange(
        proxy.port,
        b"POST /api/v1/parcels/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: trace-413.a_b\r\n"
        b"Content-Length: 3000000\r\n\r\n",
    )
    assert response.problem()["request_id"] == "trace-413.a_b"
    injected = exchange(proxy.port, b'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: a"}, {"x\r\n\r\n')
    assert uuid.UUID(injected.problem()["request_id"])  # replaced, never written into the JSON


@needs_nginx
def test_nginx_answers_502_problem_when_gunicorn_is_not_listening():
    with nginx(free_port()) as lonely:
        response = requests.get(f"{lonely.url}/api/v1/health/", timeout=10)
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "bad_gateway"
    assert response.json()["request_id"] == response.headers["X-Request-ID"]


@needs_nginx
def test_x_forwarded_for_reaches_the_application_unchanged(proxy):
    # NUM_PROXIES=1: the application throttles on the last X-Forwarded-For entry, the one the ingress
    # controller appends. Had nginx appended its own peer, every client would share that last entry
    # (one bucket for all), and the second client below would be throttled along with the first.
    url = f"{proxy.url}/api/v1/track/{TRACKING_NUMBER}/"

    def status(forwarded_for: str) -> int:
        headers = {"X-Forwarded-For": forwarded_for, "X-Forwarded-Proto": "https"}
        return requests.get(url, headers=headers, timeout=10).status_code

    first_client = [status(f"203.0.113.{i}, 198.51.100.1") for i in range(4)]  # the client's own entries vary
    second_client = status("198.51.100.2")
    assert first_client[:3] == [404, 404, 404]
    assert first_client[3] == 429
    assert second_client == 404


@needs_nginx
def test_x_forwarded_proto_and_host_reach_the_application_unchanged(proxy):
    url = f"{proxy.url}/api/v1/track/{TRACKING_NUMBER}/"
    plain = requests.get(url, timeout=10, allow_redirects=False)
    assert plain.status_code in {301, 308, 403}  # SECURE_SSL_REDIRECT: plain HTTP is sent to HTTPS or refused
    assert requests.get(url, headers={"X-Forwarded-Proto": "https"}, timeout=10).status_code == 404
    health = f"{proxy.url}/api/v1/health/"
    assert requests.get(health, headers={"Host": "localhost"}, timeout=10).status_code == 200
    assert requests.get(health, headers={"Host": "parcels.example.com"}, timeout=10).status_code == 400


@needs_nginx
def test_one_request_id_for_nginx_and_the_application_and_no_query_string_in_the_log(proxy):
    logged = len(proxy.access_log())
    kept = requests.get(f"{proxy.url}/api/v1/health/?name=Alice+Secret", headers={"X-Request-ID": "edge-1"}, timeout=10)
    new = requests.get(f"{proxy.url}/api/v1/health/", headers={"X-Request-ID": "not valid!"}, timeout=10)
    assert kept.headers["X-Request-ID"] == "edge-1"
    generated = new.headers["X-Request-ID"]
    assert str(uuid.UUID(generated)) == generated  # nginx's id, in the shape API.md promises
    lines = {line["request_id"]: line for line in log_lines_after(proxy, logged, new=2)}
    assert lines["edge-1"]["path"] == "/api/v1/health/"
    assert lines["edge-1"]["status"] == 200 and lines["edge-1"]["upstream_status"] == "200"
    assert lines[generated]["logger"] == "nginx.access"
    assert "Secret" not in proxy.log_path.read_text(errors="replace")


@needs_nginx
def test_headers_with_underscores_never_reach_gunicorn(server, proxy):
    # Gunicorn lets its loopback peer (forwarded_allow_ips) set SCRIPT_NAME: straight to Gunicorn this
    # request gets the metrics. Through nginx the header is dropped and the path is just unknown.
    headers = {"SCRIPT_NAME": "/x", "X-Forwarded-Proto": "https"}
    direct = requests.get(f"{server.url}/x/metrics", headers=headers, timeout=10)
    assert direct.status_code == 200 and "django_http_requests" in direct.text, "precondition"
    through_nginx = requests.get(f"{proxy.url}/x/metrics", headers=headers, timeout=10)
    assert through_nginx.status_code == 404
    assert "django_http_requests" not in through_nginx.text


@needs_nginx
def test_a_body_trickling_in_costs_nginx_a_connection_not_a_gunicorn_worker(proxy):
    body = b'{"username": "nobody", "password": "' + b"x" * 200 + b'"}'
    head = (
        b"POST /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    )
    uploads = [socket.create_connection(("127.0.0.1", proxy.port), timeout=10) for _ in range(3)]  # > 2 workers
    latencies = []
    for upload in uploads:
        upload.sendall(head + body[:10])
    for offset in range(10, len(body), len(body) // 4):
        time.sleep(1)
        started = time.monotonic()
        assert requests.get(f"{proxy.url}/api/v1/health/", timeout=5).status_code == 200
        latencies.append(time.monotonic() - started)
        for upload in uploads:
            upload.sendall(body[offset : offset + len(body) // 4])
    for upload in uploads:
        with upload:
            response = http.client.HTTPResponse(upload)
            response.begin()
            assert response.status == 405  # health is GET only: the application saw the whole request
    assert max(latencies) < 1.0, latencies


# --- slow clients ------------------------------------------------------------------------------------------


class SlowClients:
    """``count`` connections that never finish their headers: one more header line every ``interval`` s.

    A connection the server drops is opened again at once, as an attacker would, so ``count`` of them
    are open all the time. ``lifetimes`` records how long the server let each dropped one live.
    """

    def __init__(self, port: int, count: int, interval: float) -> None:
        self.port = port
        self.count = count
        self.interval = interval
        self.lifetimes: list[float] = []
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowClients:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _open(self, selector: selectors.BaseSelector) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(b"GET /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        sock.setblocking(False)
        now = time.monotonic()
        selector.register(sock, selectors.EVENT_READ, {"opened": now, "next": now + self.interval, "lines": 0})
        self.opened += 1

    def _dropped(self, selector: selectors.BaseSelector, sock: socket.socket, state: dict[str, float]) -> None:
        self.lifetimes.append(time.monotonic() - state["opened"])
        selector.unregister(sock)
        sock.close()

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        try:
            while not self._stop.is_set():
                while len(selector.get_map()) < self.count and not self._stop.is_set():
                    self._open(selector)
                for key, _ in selector.select(timeout=0.1):
                    # Anything from the server (an answer, EOF, a reset) means it gave up on this client.
                    try:
                        key.fileobj.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError:
                        pass
                    self._dropped(selector, key.fileobj, key.data)
                now = time.monotonic()
                for key in list(selector.get_map().values()):
                    if now >= key.data["next"]:
                        key.data["next"] += self.interval
                        key.data["lines"] += 1
                        try:
                            key.fileobj.send(b"X-Slow-%d: still sending\r\n" % key.data["lines"])
                        except OSError:
                            self._dropped(selector, key.fileobj, key.data)
        finally:
            for key in list(selector.get_map().values()):
                key.fileobj.close()
            selector.close()


@dataclass
class Traffic:
    """Normal requests sent while the attack ran: (succeeded, seconds) each."""

    results: list[tuple[bool, float]]

    @property
    def failed(self) -> int:
        """Requests that got no 200 within the client's timeout."""
        return sum(1 for ok, _ in self.results if not ok)

    def percentile(self, fraction: float) -> float:
        """Latency at this fraction (nearest rank), failures counted at the time they took."""
        ordered = sorted(seconds for _, seconds in self.results)
        return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]

    def summary(self) -> str:
        """One line of figures."""
        return (
            f"{len(self.results)} requests, {self.failed} failed, p50 {self.percentile(0.5) * 1000:.0f} ms, "
            f"p99 {self.percentile(0.99) * 1000:.0f} ms, max {max(s for _, s in self.results) * 1000:.0f} ms"
        )


def steady_requests(url: str, until: float, every: float = 0.05, timeout: float = 5.0) -> Traffic:
    """GET ``url`` on a new connection every ``every`` seconds until ``until``."""
    results: list[tuple[bool, float]] = []
    while (started := time.monotonic()) < until:
        try:
            ok = requests.get(url, timeout=timeout).status_code == 200
        except requests.RequestException:
            ok = False
        elapsed = time.monotonic() - started
        results.append((ok, elapsed))
        time.sleep(max(0.0, every - elapsed))
    return Traffic(results)


@needs_nginx
def test_fifty_slow_clients_cannot_starve_gunicorn_behind_nginx_and_do_starve_it_alone():
    """The security finding, against nginx + Gunicorn and, at the same time, against Gunicorn alone."""
    with gunicorn(workers=2) as behind_nginx, nginx(behind_nginx.port) as edge, gunicorn(workers=2) as alone:
        with (
            SlowClients(edge.port, SLOW_CLIENTS, HEADER_EVERY_S) as at_nginx,
            SlowClients(alone.port, SLOW_CLIENTS, HEADER_EVERY_S) as at_gunicorn,
        ):
            time.sleep(1)  # every slow connection is open (and Gunicorn's workers are reading two of them)
            until = time.monotonic() + ATTACK_S - 1
            with ThreadPoolExecutor(max_workers=2) as pool:
                protected = pool.submit(steady_requests, f"{edge.url}/api/v1/health/", until)
                exposed = pool.submit(steady_requests, f"{alone.url}/api/v1/health/", until)
                with_nginx, without_nginx = protected.result(), exposed.result()
        edge_log = edge.access_log()
    print(f"\nwith nginx:    {with_nginx.summary()}")
    print(
        f"               {at_nginx.opened} slow connections, {len(at_nginx.lifetimes)} dropped by nginx after "
        f"{statistics.median(at_nginx.lifetimes):.1f} s (median), {max(at_nginx.lifetimes):.1f} s (max)"
    )
    print(f"without nginx: {without_nginx.summary()}")
    dropped = at_gunicorn.lifetimes
    print(
        f"               {at_gunicorn.opened} slow connections, {len(dropped)} dropped by Gunicorn"
        + (f" after {statistics.median(dropped):.1f} s (median)" if dropped else "")
    )

    assert len(with_nginx.results) > 500
    assert with_nginx.failed == 0, with_nginx.summary()
    assert with_nginx.percentile(0.99) < 1.0, with_nginx.summary()
    # nginx dropped every slow client at its header deadline (408 in its log) and told Gunicorn nothing of
    # them: what reached Gunicorn is the normal requests, all answered.
    assert at_nginx.lifetimes and max(at_nginx.lifetimes) < CLIENT_HEADER_TIMEOUT_S + 3
    assert sum(line["status"] == 408 for line in edge_log) >= len(at_nginx.lifetimes)
    assert {line["status"] for line in edge_log if line["upstream_status"]} == {200}
    # Alone, the same attack holds Gunicorn's workers: normal requests wait or fail.
    assert without_nginx.failed > 0 or without_nginx.percentile(0.99) >= 1.0, without_nginx.summary()
