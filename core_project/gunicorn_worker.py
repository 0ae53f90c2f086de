"""Gunicorn's sync worker, answering its own errors as RFC 9457 problem details instead of HTML.

Gunicorn answers by itself, before Django sees anything, when it cannot parse a request: a request line
over ``limit_request_line``, too many or too large header fields, a malformed request line. API.md
("Errors at the edge") wants those as problem+json too. :class:`ProblemSyncWorker` keeps Gunicorn's
status for each error (``gunicorn.workers.base.Worker.handle_error`` in Gunicorn 27) and changes only
the body: ``uri_too_long`` (414), ``request_header_fields_too_large`` (431), ``bad_request`` (400) and
so on, with a fresh ``X-Request-ID``.

Gunicorn imports this module in the master, before the application: nothing here imports Django.
"""

from __future__ import annotations

import json
import socket
import uuid
from datetime import datetime
from http import HTTPStatus
from ssl import SSLError
from typing import Any

# Gunicorn ships no type information (no stubs, no py.typed).
from gunicorn import util  # type: ignore[import-untyped]
from gunicorn.http import errors  # type: ignore[import-untyped]
from gunicorn.http.wsgi import Response, default_environ  # type: ignore[import-untyped]
from gunicorn.workers.sync import SyncWorker  # type: ignore[import-untyped]

# Gunicorn 27's mapping, most specific first: (exception classes, status, problem code, detail).
# A response header the application got wrong is the application's fault, not the client's: 500.
_PROBLEMS: tuple[tuple[tuple[type[BaseException], ...], int, str, str], ...] = (
    (
        (errors.InvalidResponseHeader, errors.InvalidResponseHeaderName, errors.ConfigurationProblem),
        500,
        "server_error",
        "The server failed to handle the request.",
    ),
    ((errors.LimitRequestLine,), 414, "uri_too_long", "The request line is longer than the server accepts."),
    (
        (errors.LimitRequestHeaders,),
        431,
        "request_header_fields_too_large",
        "The request has too many header fields, or one that is too large.",
    ),
    ((errors.ExpectationFailed,), 417, "expectation_failed", "The server does not support the Expect header sent."),
    ((errors.UnsupportedTransferCoding,), 501, "not_implemented", "The request's transfer coding is not supported."),
    ((errors.ForbiddenProxyRequest, SSLError), 403, "forbidden", "The request was refused."),
    (
        (
            errors.InvalidRequestLine,
            errors.InvalidRequestMethod,
            errors.InvalidHTTPVersion,
            errors.InvalidHeader,
            errors.InvalidHeaderName,
            errors.ObsoleteFolding,
            errors.InvalidProxyLine,
            errors.InvalidSchemeHeaders,
            errors.InvalidChunkSize,
            errors.ChunkMissingTerminator,
            errors.InvalidChunkExtension,
            errors.InvalidH2CPreface,
        ),
        400,
        "bad_request",
        "The request is not valid HTTP.",
    ),
)
_SERVER_ERROR = (500, "server_error", "The server failed to handle the request.")


def edge_problem(exc: BaseException) -> tuple[int, str, str]:
    """The status, problem code and detail Gunicorn's error ``exc`` is answered with (500 when not the client's)."""
    for classes, status, code, detail in _PROBLEMS:
        if isinstance(exc, classes):
            return status, code, detail
    return _SERVER_ERROR


def problem_response(status: int, code: str, detail: str, request_id: str) -> bytes:
    """A complete HTTP/1.1 response carrying a problem document, closing the connection as Gunicorn does."""
    title = HTTPStatus(status).phrase  # the same titles the application writes
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "detail": detail,
            "code": code,
            "request_id": request_id,
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"HTTP/1.1 {status} {title}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/problem+json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "\r\n"
    )
    return head.encode("latin-1") + body


class ProblemSyncWorker(SyncWorker):
    """Gunicorn's sync worker whose own error answers are problem+json (API.md "Errors at the edge")."""

    def handle_error(self, req: Any, client: socket.socket, addr: Any, exc: BaseException) -> None:
        """Log the error as Gunicorn does, then answer it with a problem document instead of an HTML page."""
        started = datetime.now()
        addr = addr or ("", -1)  # a unix socket has no peer address
        status, code, detail = edge_problem(exc)
        request_id = str(uuid.uuid4())
        if status == 500:
            uri = getattr(req, "uri", "(no URI read)")
            self.log.exception("Error handling request %s", uri, extra={"request_id": request_id})
        else:  # Gunicorn's own wording, so anything that matches its log lines keeps working
            self.log.warning("Invalid request from ip=%s: %s", addr[0], exc, extra={"request_id": request_id})
        if req is None and isinstance(exc, errors.InvalidHeader | errors.InvalidHeaderName):
            req = getattr(exc, "req", None)  # parsed far enough for an access line, as Gunicorn does
        if req is not None:
            environ = default_environ(req, client, self.cfg)
            environ.update(REMOTE_ADDR=addr[0], REMOTE_PORT=str(addr[1]))
            response = Response(req, client, self.cfg)
            response.status = f"{status} {HTTPStatus(status).phrase}"
            self.log.access(response, req, environ, datetime.now() - started)
        try:
            util.write_nonblock(client, problem_response(status, code, detail, request_id))
        except Exception:  # the client may be gone already; Gunicorn ignores that too
            self.log.debug("Failed to send error message.")
