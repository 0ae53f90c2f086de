"""Gunicorn's own answers, with real processes: errors it raises before Django sees a request are problem+json.

Gunicorn runs with gunicorn.conf.py (core_project.gunicorn_worker) and the production settings against
the test's PostgreSQL and Redis, as in test_processes.py.
"""

from __future__ import annotations

import http.client
import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from parcel_service.tests.processes import GunicornServer, gunicorn

# django_db: so that the test database exists (pytest-django creates it only for a session that has such a
# test); the tests themselves write nothing.
pytestmark = [pytest.mark.process, pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db]

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}


@pytest.fixture(scope="module")
def server(django_db_setup) -> Iterator[GunicornServer]:
    """Gunicorn as the pod runs it."""
    with gunicorn(workers=2, NUM_PROXIES="1", SECURE_SSL_REDIRECT="true") as running:
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
