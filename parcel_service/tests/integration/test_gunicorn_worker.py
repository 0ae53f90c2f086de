"""core_project.gunicorn_worker in-process: the status of each error is Gunicorn's own, the body a problem.

The worker's answers against a running Gunicorn are in test_slow_clients.py; these run anywhere, with no
server: the worker's ``handle_error`` writes to one end of a socket pair and the test reads the other.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from gunicorn import http as gunicorn_http
from gunicorn.config import Config
from gunicorn.http import errors
from gunicorn.workers.sync import SyncWorker

from core_project.gunicorn_worker import ProblemSyncWorker, edge_problem

PEER = ("192.0.2.7", 50123)


class RecordingLog:
    """Stands in for Gunicorn's logger and keeps what the worker logged."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str, dict[str, Any]]] = []

    def _record(self, level: str, msg: str, *args: object, **kwargs: Any) -> None:
        self.records.append((level, msg % args, kwargs.get("extra", {})))

    def warning(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Record a warning."""
        self._record("warning", msg, *args, **kwargs)

    def exception(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Record an error with its traceback."""
        self._record("exception", msg, *args, **kwargs)

    def debug(self, msg: str, *args: object, **kwargs: Any) -> None:
        """Record a debug line."""
        self._record("debug", msg, *args, **kwargs)

    def access(self, *args: object) -> None:
        """Record an access line."""
        self.records.append(("access", "", {}))


def make_worker(worker_class: type[SyncWorker]) -> SyncWorker:
    """A worker as the arbiter builds it before forking (no process is started)."""
    return worker_class(0, os.getppid(), [], None, 30, Config(), RecordingLog())


@pytest.fixture
def worker() -> Iterator[ProblemSyncWorker]:
    problem_worker = make_worker(ProblemSyncWorker)
    yield problem_worker
    problem_worker.tmp.close()


def answer_of(worker: SyncWorker, exc: BaseException) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body that ``worker.handle_error`` writes for ``exc``."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(None, ours, PEER, exc)
        ours.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: theirs.recv(65536), b""))
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return int(status_line.split()[1]), headers, body


def every_parse_error() -> list[BaseException]:
    """One instance of every error class Gunicorn's parser can raise, and an SSL error."""
    classes, pending = [], [errors.ParseException]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    instances: list[BaseException] = []
    for cls in sorted(classes, key=lambda c: c.__name__):
        try:
            instances.append(cls("x"))
        except TypeError:
            instances.append(cls())
    return [*instances, ssl.SSLError("x")]


@pytest.mark.parametrize("exc", every_parse_error(), ids=lambda exc: type(exc).__name__)
def test_every_parse_error_keeps_the_status_gunicorn_gives_it(exc):
    stock = make_worker(SyncWorker)
    try:
        gunicorn_status, gunicorn_headers, _ = answer_of(stock, exc)
    finally:
        stock.tmp.close()
    assert gunicorn_headers["Content-Type"] == "text/html"  # what the subclass replaces
    assert edge_problem(exc)[0] == gunicorn_status


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.LimitRequestLine(5014, 4094), 414, "uri_too_long"),
        (errors.LimitRequestHeaders("limit request headers fields size"), 431, "request_header_fields_too_large"),
        (errors.InvalidRequestLine("hello world"), 400, "bad_request"),
        (errors.InvalidHTTPVersion((9, 9)), 400, "bad_request"),
        (errors.InvalidResponseHeader("X-Bad"), 500, "server_error"),  # a subclass of InvalidHeader (400)
        (SystemExit(1), 500, "server_error"),  # the worker timed out while reading a request
    ],
    ids=["414", "431", "request-line", "http-version", "response-header", "timeout"],
)
def test_the_answer_is_a_complete_problem_response(worker, exc, status, code):
    answered, headers, body = answer_of(worker, exc)
    assert answered == status
    assert headers["Content-Type"] == "application/problem+json"
    assert headers["Connection"] == "close"
    assert headers["X-Content-Type-Options"] == "nosniff"
    problem = json.loads(body)
    assert problem == {
        "type": "about:blank",
        "title": problem["title"],
        "status": status,
        "detail": problem["detail"],
        "code": code,
        "request_id": headers["X-Request-ID"],
    }
    assert problem["title"] and problem["detail"]
    assert uuid.UUID(problem["request_id"]).version == 4
    level, message, extra = worker.log.records[0]
    if status < 500:  # Gunicorn's own wording, with the id the client got
        assert (level, message) == ("warning", f"Invalid request from ip={PEER[0]}: {exc}")
    else:
        assert level == "exception"
    assert extra == {"request_id": problem["request_id"]}


def test_each_answer_has_its_own_request_id(worker):
    ids = {answer_of(worker, errors.InvalidRequestLine("x"))[1]["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_a_client_already_gone_is_not_an_error(worker):
    ours, theirs = socket.socketpair()
    theirs.close()
    with ours:
        ours.close()  # writing now fails, as when the client hung up
        worker.handle_error(None, ours, PEER, errors.InvalidRequestLine("x"))
    assert worker.log.records[-1][0] == "debug"


def test_an_error_after_the_request_was_read_also_gets_an_access_line(worker):
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(b"GET /api/v1/health/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        request = next(gunicorn_http.get_parser(worker.cfg, ours, PEER))
        worker.handle_error(request, ours, PEER, RuntimeError("the application raised"))
        ours.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: theirs.recv(65536), b""))
    assert raw.startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert [level for level, *_ in worker.log.records] == ["exception", "access"]
    assert "/api/v1/health/" in worker.log.records[0][1]
